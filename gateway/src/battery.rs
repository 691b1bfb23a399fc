//! The battery the gateway drives, behind the [`Battery`] trait, and [`SimulatedBattery`], a model
//! of one for the demo, the tests and a gateway without an inverter link.
//!
//! A real gateway implements [`Battery`] for its inverter or EV charger (over Modbus/SunSpec,
//! OCPP, a vendor API); that is out of this crate's scope.

use std::future::Future;

/// What the gateway asks of the battery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatteryMode {
    /// The owner's normal operation (self-consumption, a charging schedule): whatever the
    /// battery does when no VPP event needs it.
    Normal,
    /// Export `watts` to the grid until `until`, never going below `floor_wh` stored; then back to
    /// [`BatteryMode::Normal`] by itself, so a gateway that stops polling cannot leave the
    /// battery discharging (SunSpec inverter controls have the same reversion timeout).
    Discharge {
        /// The setpoint, W (clamped to the battery's maximum discharge power).
        watts: u32,
        /// The energy that must stay stored: the owner's reserve, Wh.
        floor_wh: u64,
        /// Unix time the command expires: the event's end.
        until: u64,
    },
}

/// What the battery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatteryStatus {
    /// Usable capacity, Wh.
    pub capacity_wh: u64,
    /// Energy stored now, Wh, as the battery can deliver it to its AC side (conversion losses
    /// already taken), rounded down.
    pub stored_wh: u64,
    /// Most charging power, W.
    pub max_charge_w: u32,
    /// Most discharging power, W.
    pub max_discharge_w: u32,
}

/// A battery the gateway can read and command. `now` is the gateway's clock, the chain's latest
/// block time: a simulated battery integrates its power up to it, a real inverter, which lives in
/// physical time, may ignore it.
pub trait Battery {
    /// Why the battery could not be read or commanded (a dropped link, a refused setpoint).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads the battery at `now`.
    fn status(
        &mut self,
        now: u64,
    ) -> impl Future<Output = Result<BatteryStatus, Self::Error>> + Send;

    /// Puts the battery in `mode` from `now` on; commanding the mode it is in is harmless (it
    /// refreshes a real inverter's reversion timer).
    fn command(
        &mut self,
        mode: BatteryMode,
        now: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What the simulated battery does in [`BatteryMode::Normal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalMode {
    /// Neither charges nor discharges (a household the model does not see uses the inverter).
    Hold,
    /// Charges at full power from the grid up to `percent` of the capacity, then holds.
    ChargeTo {
        /// The target state of charge, 0..=100.
        percent: u8,
    },
}

/// The physical parameters of a [`SimulatedBattery`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryParams {
    /// Usable capacity, Wh.
    pub capacity_wh: u64,
    /// Energy stored at the start, Wh (at most the capacity).
    pub stored_wh: u64,
    /// Most charging power, W.
    pub max_charge_w: u32,
    /// Most discharging power, W.
    pub max_discharge_w: u32,
    /// AC energy out per AC energy in over a full cycle, in (0, 1].
    pub round_trip_efficiency: f64,
    /// What it does when no event needs it.
    pub normal: NormalMode,
}

/// A battery model: it integrates its power over time whenever it is read or commanded at a later
/// time, and counts the energy it exported and imported so that a simulated meter can fold them
/// into its registers.
///
/// The whole round-trip loss is taken when charging (importing 1 Wh stores `efficiency` Wh) and
/// discharging is lossless, so the stored energy is exactly what the battery can still export:
/// the quantity the enrolment decision and the owner's reserve are about.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedBattery {
    params: BatteryParams,
    stored_wh: f64,
    mode: BatteryMode,
    /// The time the state is integrated up to; `None` until the first read or command.
    clock: Option<u64>,
    exported_wh: f64,
    imported_wh: f64,
}

impl SimulatedBattery {
    /// A battery at `params.stored_wh` (clamped to the capacity), in normal mode.
    pub fn new(params: BatteryParams) -> Self {
        Self {
            stored_wh: params.stored_wh.min(params.capacity_wh) as f64,
            params,
            mode: BatteryMode::Normal,
            clock: None,
            exported_wh: 0.0,
            imported_wh: 0.0,
        }
    }

    /// The mode it is in (an expired discharge shows as normal once time has been advanced).
    pub fn mode(&self) -> BatteryMode {
        self.mode
    }

    /// Energy stored, Wh.
    pub fn stored_wh(&self) -> f64 {
        self.stored_wh
    }

    /// Energy exported to the grid since it was created, Wh (the meter's export register grows by
    /// it).
    pub fn exported_wh(&self) -> f64 {
        self.exported_wh
    }

    /// Energy imported from the grid since it was created, Wh (the meter's import register grows
    /// by it).
    pub fn imported_wh(&self) -> f64 {
        self.imported_wh
    }

    /// Power flowing now, W: positive when exporting, negative when importing.
    pub fn power_w(&self) -> f64 {
        match self.mode {
            BatteryMode::Discharge {
                watts, floor_wh, ..
            } if self.stored_wh > floor_wh as f64 => {
                f64::from(watts.min(self.params.max_discharge_w))
            }
            BatteryMode::Discharge { .. } => 0.0,
            BatteryMode::Normal => match self.params.normal {
                NormalMode::ChargeTo { percent }
                    if self.stored_wh < self.charge_target_wh(percent) =>
                {
                    -f64::from(self.params.max_charge_w)
                }
                _ => 0.0,
            },
        }
    }

    /// Integrates the battery's power from its clock up to `now`; a time before the clock changes
    /// nothing (the chain's clock does not go back, but a reorg may show an older block).
    pub fn advance_to(&mut self, now: u64) {
        let Some(clock) = self.clock.replace(now) else {
            return;
        };
        if now <= clock {
            self.clock = Some(clock);
            return;
        }
        let mut from = clock;
        if let BatteryMode::Discharge {
            watts,
            floor_wh,
            until,
        } = self.mode
        {
            let to = now.min(until);
            if to > from {
                let watts = f64::from(watts.min(self.params.max_discharge_w));
                let wanted = watts * (to - from) as f64 / 3_600.0;
                let energy = wanted.min((self.stored_wh - floor_wh as f64).max(0.0));
                self.stored_wh -= energy;
                self.exported_wh += energy;
                from = to;
            }
            if now >= until {
                self.mode = BatteryMode::Normal;
            }
        }
        if self.mode == BatteryMode::Normal
            && let NormalMode::ChargeTo { percent } = self.params.normal
            && now > from
        {
            let efficiency = self.params.round_trip_efficiency;
            let drawn = f64::from(self.params.max_charge_w) * (now - from) as f64 / 3_600.0;
            let room = (self.charge_target_wh(percent) - self.stored_wh).max(0.0);
            let stored = (drawn * efficiency).min(room);
            self.stored_wh += stored;
            self.imported_wh += stored / efficiency;
        }
    }

    /// The status at the current clock.
    pub fn snapshot(&self) -> BatteryStatus {
        BatteryStatus {
            capacity_wh: self.params.capacity_wh,
            stored_wh: self.stored_wh.floor() as u64,
            max_charge_w: self.params.max_charge_w,
            max_discharge_w: self.params.max_discharge_w,
        }
    }

    /// Switches to `mode` at `now`, after integrating the old mode up to it.
    pub fn set_mode(&mut self, mode: BatteryMode, now: u64) {
        self.advance_to(now);
        self.mode = mode;
    }

    fn charge_target_wh(&self, percent: u8) -> f64 {
        self.params.capacity_wh as f64 * f64::from(percent.min(100)) / 100.0
    }
}

impl Battery for SimulatedBattery {
    type Error = std::convert::Infallible;

    fn status(
        &mut self,
        now: u64,
    ) -> impl Future<Output = Result<BatteryStatus, Self::Error>> + Send {
        self.advance_to(now);
        std::future::ready(Ok(self.snapshot()))
    }

    fn command(
        &mut self,
        mode: BatteryMode,
        now: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.set_mode(mode, now);
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PARAMS: BatteryParams = BatteryParams {
        capacity_wh: 13_500,
        stored_wh: 10_000,
        max_charge_w: 5_000,
        max_discharge_w: 5_000,
        round_trip_efficiency: 0.9,
        normal: NormalMode::Hold,
    };

    fn at(params: BatteryParams, now: u64) -> SimulatedBattery {
        let mut battery = SimulatedBattery::new(params);
        battery.advance_to(now);
        battery
    }

    #[test]
    fn it_discharges_at_the_setpoint_and_counts_the_export() {
        let mut battery = at(PARAMS, 1_000);
        battery.set_mode(
            BatteryMode::Discharge {
                watts: 4_000,
                floor_wh: 2_700,
                until: 10_000,
            },
            1_000,
        );
        assert_eq!(battery.power_w(), 4_000.0);
        battery.advance_to(1_000 + 1_800);
        assert!((battery.exported_wh() - 2_000.0).abs() < 1e-9);
        assert!((battery.stored_wh() - 8_000.0).abs() < 1e-9);
        assert_eq!(battery.imported_wh(), 0.0);
    }

    #[test]
    fn it_stops_at_the_floor() {
        let mut battery = at(PARAMS, 0);
        battery.set_mode(
            BatteryMode::Discharge {
                watts: 5_000,
                floor_wh: 2_700,
                until: 100_000,
            },
            0,
        );
        battery.advance_to(3 * 3_600);
        assert!((battery.stored_wh() - 2_700.0).abs() < 1e-9);
        assert!((battery.exported_wh() - 7_300.0).abs() < 1e-9);
        assert_eq!(battery.power_w(), 0.0);
    }

    #[test]
    fn a_discharge_expires_at_until_and_returns_to_normal() {
        let mut battery = at(PARAMS, 0);
        battery.set_mode(
            BatteryMode::Discharge {
                watts: 3_600,
                floor_wh: 0,
                until: 1_000,
            },
            0,
        );
        battery.advance_to(5_000);
        assert_eq!(battery.mode(), BatteryMode::Normal);
        assert!((battery.exported_wh() - 1_000.0).abs() < 1e-9);
    }

    #[test]
    fn the_setpoint_is_clamped_to_the_inverter() {
        let mut battery = at(PARAMS, 0);
        battery.set_mode(
            BatteryMode::Discharge {
                watts: 9_000,
                floor_wh: 0,
                until: 3_600,
            },
            0,
        );
        battery.advance_to(3_600);
        assert!((battery.exported_wh() - 5_000.0).abs() < 1e-9);
    }

    #[test]
    fn normal_charging_loses_the_round_trip_and_stops_at_its_target() {
        let params = BatteryParams {
            stored_wh: 0,
            normal: NormalMode::ChargeTo { percent: 50 },
            ..PARAMS
        };
        let mut battery = at(params, 0);
        assert_eq!(battery.power_w(), -5_000.0);
        // One hour at 5 kW draws 5,000 Wh and stores 4,500.
        battery.advance_to(3_600);
        assert!((battery.stored_wh() - 4_500.0).abs() < 1e-9);
        assert!((battery.imported_wh() - 5_000.0).abs() < 1e-9);
        // The target is 6,750 Wh: 2,250 more stored for 2,500 drawn, then it holds.
        battery.advance_to(4 * 3_600);
        assert!((battery.stored_wh() - 6_750.0).abs() < 1e-9);
        assert!((battery.imported_wh() - 7_500.0).abs() < 1e-9);
        assert_eq!(battery.power_w(), 0.0);
    }

    #[test]
    fn time_before_the_clock_changes_nothing() {
        let mut battery = at(PARAMS, 1_000);
        battery.set_mode(
            BatteryMode::Discharge {
                watts: 1_000,
                floor_wh: 0,
                until: 10_000,
            },
            1_000,
        );
        battery.advance_to(500);
        assert_eq!(battery.exported_wh(), 0.0);
        battery.advance_to(1_000 + 3_600);
        assert!((battery.exported_wh() - 1_000.0).abs() < 1e-9);
    }

    fn modes() -> impl Strategy<Value = BatteryMode> {
        prop_oneof![
            Just(BatteryMode::Normal),
            (0..10_000u32, 0..20_000u64, 0..20_000u64).prop_map(|(watts, floor_wh, until)| {
                BatteryMode::Discharge {
                    watts,
                    floor_wh,
                    until,
                }
            }),
        ]
    }

    proptest! {
        /// Energy is conserved (stored = start + imported x efficiency - exported), the stored
        /// energy stays within the capacity, a discharge never goes below its floor, and no step
        /// moves more than full power for its duration.
        #[test]
        fn energy_is_conserved_and_bounded(
            capacity_wh in 1..50_000u64,
            soc in 0..=100u64,
            max_charge_w in 0..10_000u32,
            max_discharge_w in 0..10_000u32,
            efficiency in 0.5..=1.0f64,
            target in proptest::option::of(0..=100u8),
            steps in proptest::collection::vec((modes(), 0..7_200u64), 1..20),
        ) {
            let params = BatteryParams {
                capacity_wh,
                stored_wh: capacity_wh * soc / 100,
                max_charge_w,
                max_discharge_w,
                round_trip_efficiency: efficiency,
                normal: target.map_or(NormalMode::Hold, |percent| NormalMode::ChargeTo { percent }),
            };
            let start = params.stored_wh as f64;
            let mut battery = at(params, 0);
            let mut now = 0;
            for (mode, seconds) in steps {
                let before = battery.clone();
                battery.set_mode(mode, now);
                now += seconds;
                battery.advance_to(now);
                let exported = battery.exported_wh() - before.exported_wh();
                let imported = battery.imported_wh() - before.imported_wh();
                prop_assert!(exported >= 0.0 && imported >= 0.0);
                prop_assert!(exported <= f64::from(max_discharge_w) * seconds as f64 / 3_600.0 + 1e-6);
                prop_assert!(imported <= f64::from(max_charge_w) * seconds as f64 / 3_600.0 + 1e-6);
                if let BatteryMode::Discharge { floor_wh, .. } = mode
                    && exported > 0.0
                {
                    prop_assert!(battery.stored_wh() >= floor_wh as f64 - 1e-6);
                }
                prop_assert!(battery.stored_wh() >= -1e-6);
                prop_assert!(battery.stored_wh() <= capacity_wh as f64 + 1e-6);
                let balance = start + battery.imported_wh() * efficiency - battery.exported_wh();
                prop_assert!((battery.stored_wh() - balance).abs() < 1e-6 * (1.0 + start + battery.imported_wh()));
            }
        }
    }
}
