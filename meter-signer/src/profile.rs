//! A simulated meter driven by a real household's load and PV shapes.
//!
//! The shapes are half-hourly average powers (kW) from a CSV like the bundled Ausgrid customer 12
//! year (`timestamp,GC,GG`: general consumption, gross PV generation of a 1.04 kWp system). A home
//! scales them (PV kWp, load factor), may shift them by whole half hours, and starts on a chosen day.
//! Power is constant within a half hour, so the registers are exact integrals: they are kept in
//! watt-seconds and read out as whole Wh, which never decreases and never loses a Wh.

use std::path::Path;

use crate::error::SignerError;

/// Half-hourly slots in the data.
const SLOT_SECONDS: u64 = 1_800;
/// kWp of the PV system the bundled data was measured on.
const DATA_PV_KWP: f64 = 1.04;

/// The measured year: per half hour, load and PV in W for the reference home.
#[derive(Debug, Clone)]
pub struct Shapes {
    load_w: Vec<f64>,
    pv_w: Vec<f64>,
}

impl Shapes {
    /// Reads a `timestamp,GC,GG` CSV of half-hourly kW.
    pub fn from_csv(path: &Path) -> Result<Self, SignerError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignerError::Profile {
            path: path.to_owned(),
            message: source.to_string(),
        })?;
        Self::parse(&text).map_err(|message| SignerError::Profile {
            path: path.to_owned(),
            message,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut load_w = Vec::new();
        let mut pv_w = Vec::new();
        for (index, line) in text.lines().enumerate().skip(1) {
            let mut fields = line.split(',');
            let (_timestamp, load, pv) = match (fields.next(), fields.next(), fields.next()) {
                (Some(timestamp), Some(load), Some(pv)) => (timestamp, load, pv),
                _ => return Err(format!("line {}: expected `timestamp,GC,GG`", index + 1)),
            };
            let kw = |field: &str| -> Result<f64, String> {
                let value: f64 = field
                    .trim()
                    .parse()
                    .map_err(|_| format!("line {}: `{field}` is not a number", index + 1))?;
                if !(0.0..=1_000.0).contains(&value) {
                    return Err(format!("line {}: {value} kW is out of range", index + 1));
                }
                Ok(value * 1_000.0)
            };
            load_w.push(kw(load)?);
            pv_w.push(kw(pv)?);
        }
        if load_w.len() < 48 {
            return Err(format!("{} half hours is less than a day", load_w.len()));
        }
        Ok(Self { load_w, pv_w })
    }
}

/// How one home scales the shapes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HomeProfile {
    /// PV peak power in kWp (0 for a consumer-only home).
    pub pv_kwp: f64,
    /// Multiplies the reference household load.
    pub load_factor: f64,
    /// Shifts both shapes later by this many half hours.
    pub shift_half_hours: u32,
    /// Day of the data year the simulation's first day maps to (0 = first day).
    pub start_day: u32,
}

/// Energy credits and carbon a meter's owner is credited in the market's vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accruals {
    /// Energy credits, Wh.
    pub credits_wh: u64,
    /// Carbon avoided, g CO2e.
    pub carbon_grams: u64,
}

/// A simulated meter: cumulative registers as a pure function of time.
#[derive(Debug, Clone)]
pub struct SimulatedMeter {
    /// Per slot, net power in W: positive imports, negative exports.
    net_w: Vec<i64>,
    /// `cumulative_ws[i]`: import and export in watt-seconds over slots `0..i`, so a register
    /// reading costs O(1) however long the simulation has run.
    cumulative_ws: Vec<(u64, u64)>,
    /// Unix time of the simulation's first slot.
    epoch: u64,
    /// Registers at `epoch`, Wh.
    initial_import_wh: u64,
    initial_export_wh: u64,
}

impl SimulatedMeter {
    /// A meter whose slot 0 starts at `epoch` (unix seconds, a multiple of 1,800).
    pub fn new(
        shapes: &Shapes,
        home: HomeProfile,
        epoch: u64,
        initial_registers_wh: (u64, u64),
    ) -> Self {
        let slots = shapes.load_w.len();
        let offset =
            (home.start_day as usize * 48 + slots - home.shift_half_hours as usize % slots) % slots;
        let net_w = (0..slots)
            .map(|slot| {
                let source = (offset + slot) % slots;
                let load = shapes.load_w[source] * home.load_factor;
                let pv = shapes.pv_w[source] * home.pv_kwp / DATA_PV_KWP;
                (load - pv).round() as i64
            })
            .collect::<Vec<i64>>();
        let mut cumulative_ws = Vec::with_capacity(slots + 1);
        cumulative_ws.push((0, 0));
        for &power in &net_w {
            let (import, export) = *cumulative_ws.last().expect("starts non-empty");
            let ws = power.unsigned_abs() * SLOT_SECONDS;
            cumulative_ws.push(if power >= 0 {
                (import + ws, export)
            } else {
                (import, export + ws)
            });
        }
        Self {
            net_w,
            cumulative_ws,
            epoch,
            initial_import_wh: initial_registers_wh.0,
            initial_export_wh: initial_registers_wh.1,
        }
    }

    /// What the market credits when this meter is read at `boundaries` (in order) and nothing is
    /// traded: the first reading is the baseline, the later ones' volumes pile up as pending, and
    /// one settlement after the last (`finalize`) credits the whole export as energy credits (Wh)
    /// and `export × intensity / 1000` grams of carbon, floored once, as the contract does.
    /// Replays without a keeper (the demo, the meter-signer's end-to-end tests) check the chain
    /// against it.
    pub fn expected_residuals(&self, boundaries: &[u64], carbon_intensity: u16) -> Accruals {
        let (Some(first), Some(last)) = (boundaries.first(), boundaries.last()) else {
            return Accruals::default();
        };
        let exported = self.registers_at(*last).1 - self.registers_at(*first).1;
        Accruals {
            credits_wh: exported,
            carbon_grams: exported * u64::from(carbon_intensity) / 1_000,
        }
    }

    /// The registers at unix time `at` (clamped to the epoch).
    pub fn registers_at(&self, at: u64) -> (u64, u64) {
        let elapsed = at.saturating_sub(self.epoch);
        let full_slots = elapsed / SLOT_SECONDS;
        let partial = elapsed % SLOT_SECONDS;
        let slots = self.net_w.len() as u64;
        // Whole passes over the data year, then the remaining slots, then the partial slot.
        let (year_import, year_export) = self.cumulative_ws[slots as usize];
        let years = full_slots / slots;
        let rest = full_slots % slots;
        let (rest_import, rest_export) = self.cumulative_ws[rest as usize];
        let power = self.net_w[rest as usize];
        let partial_ws = power.unsigned_abs() * partial;
        let (partial_import, partial_export) = if power >= 0 {
            (partial_ws, 0)
        } else {
            (0, partial_ws)
        };
        let import_ws = years * year_import + rest_import + partial_import;
        let export_ws = years * year_export + rest_export + partial_export;
        (
            self.initial_import_wh + import_ws / 3_600,
            self.initial_export_wh + export_ws / 3_600,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Shapes {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/ausgrid-customer12/data_2011-2012.csv");
        Shapes::from_csv(&path).unwrap()
    }

    #[test]
    fn registers_never_decrease_and_match_the_data() {
        let shapes = shapes();
        let home = HomeProfile {
            pv_kwp: 5.0,
            load_factor: 1.0,
            shift_half_hours: 0,
            start_day: 170,
        };
        let meter = SimulatedMeter::new(&shapes, home, 1_800_000_000, (1_000, 7));
        let mut previous = meter.registers_at(0);
        assert_eq!(previous, (1_000, 7));
        for step in 0..(2 * 96) {
            let now = meter.epoch + step * 450;
            let registers = meter.registers_at(now);
            assert!(registers.0 >= previous.0 && registers.1 >= previous.1);
            previous = registers;
        }
        // A summer day in Sydney with 5 kWp exports several kWh and imports some at night.
        let day = meter.registers_at(meter.epoch + 86_400);
        assert!(day.1 - 7 > 5_000, "export {:?}", day);
        assert!(day.0 - 1_000 > 3_000, "import {:?}", day);
    }

    #[test]
    fn a_consumer_only_home_never_exports() {
        let shapes = shapes();
        let home = HomeProfile {
            pv_kwp: 0.0,
            load_factor: 0.8,
            shift_half_hours: 3,
            start_day: 0,
        };
        let meter = SimulatedMeter::new(&shapes, home, 0, (0, 0));
        assert_eq!(meter.registers_at(3 * 86_400).1, 0);
        assert!(meter.registers_at(3 * 86_400).0 > 0);
    }

    #[test]
    fn accruals_follow_the_registry_rule() {
        let shapes = shapes();
        let home = HomeProfile {
            pv_kwp: 5.0,
            load_factor: 1.0,
            shift_half_hours: 0,
            start_day: 170,
        };
        let meter = SimulatedMeter::new(&shapes, home, 0, (0, 0));
        // A baseline alone accrues nothing.
        assert_eq!(
            meter.expected_residuals(&[43_200], 400),
            Accruals::default()
        );
        let boundaries = [43_200, 44_100, 45_000];
        let exports: Vec<u64> = boundaries
            .iter()
            .map(|&at| meter.registers_at(at).1)
            .collect();
        let deltas = [exports[1] - exports[0], exports[2] - exports[1]];
        assert!(
            deltas.iter().all(|&delta| delta > 0),
            "midday exports: {deltas:?}"
        );
        assert_eq!(
            meter.expected_residuals(&boundaries, 333),
            Accruals {
                credits_wh: deltas[0] + deltas[1],
                // Floored once over the settled sum, not per reading.
                carbon_grams: (deltas[0] + deltas[1]) * 333 / 1_000,
            }
        );
    }

    #[test]
    fn a_short_file_is_refused() {
        assert!(Shapes::parse(",GC,GG\n2011-07-01 00:00:00,0.3,0.0\n").is_err());
        assert!(Shapes::parse(",GC,GG\n2011-07-01 00:00:00,abc,0.0\n").is_err());
    }
}
