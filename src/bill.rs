//! A meter's bill: what its readings attested and its settlements did, per UTC day and in total.
//!
//! The chain is the ledger: `ReadingAccepted` gives the Wh exported and imported, `MeterSettled`
//! what was sold and bought, earned and paid, credited, covered from credits and supplied by the
//! grid. This module turns those events into a bill; it does no I/O, so the figures are tested
//! here and the command only fetches and prints.

use std::{collections::BTreeMap, fmt::Write as _, ops::Range};

use serde::Serialize;

use crate::{
    time::{day_of, rfc3339},
    units::{Unit, format_fixed},
};

/// One of a meter's events, reduced to what a bill needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterEvent {
    /// A reading was counted (`ReadingAccepted`).
    Reading {
        /// End of the interval the reading closes, unix seconds.
        interval_end: u64,
        /// Import since the previous reading, Wh.
        import_wh: u64,
        /// Export since the previous reading, Wh.
        export_wh: u64,
    },
    /// The meter's pending volumes were settled (`MeterSettled`).
    Settled {
        /// The last interval the volumes cover.
        interval: u64,
        /// Export sold in the market, Wh.
        sold_wh: u64,
        /// Import bought in the market, Wh.
        bought_wh: u64,
        /// Stablecoin base units earned (when sold) or paid (when bought).
        amount: u128,
        /// Export credited as energy credits, Wh.
        credited_wh: u64,
        /// Import covered from energy credits, Wh.
        covered_wh: u64,
        /// Import supplied by the grid, Wh.
        grid_supplied_wh: u64,
        /// Import the grid could not supply: the meter's feeder was islanded, Wh.
        unserved_wh: u64,
        /// Carbon credits earned, g CO2e.
        carbon_grams: u128,
    },
}

/// The figures of a day or of the whole period. Energy in Wh, money in stablecoin base units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BillLine {
    /// Export the meter attested.
    pub exported_wh: u64,
    /// Import the meter attested.
    pub imported_wh: u64,
    /// Export sold to neighbours.
    pub sold_wh: u64,
    /// Import bought from neighbours.
    pub bought_wh: u64,
    /// Earned by the sales, net of the keeper fee.
    pub earned: u128,
    /// Paid for the purchases, network fee included.
    pub paid: u128,
    /// Unsold export banked as energy credits.
    pub credited_wh: u64,
    /// Unbought import paid with energy credits.
    pub credits_used_wh: u64,
    /// Import left to the grid (billed by the retailer).
    pub grid_supplied_wh: u64,
    /// Import nobody supplied: the feeder was islanded (not billed).
    pub unserved_wh: u64,
    /// Carbon credits earned by the export.
    pub carbon_grams: u128,
}

impl BillLine {
    fn add(&mut self, event: &MeterEvent) {
        match *event {
            MeterEvent::Reading {
                import_wh,
                export_wh,
                ..
            } => {
                self.imported_wh += import_wh;
                self.exported_wh += export_wh;
            }
            MeterEvent::Settled {
                sold_wh,
                bought_wh,
                amount,
                credited_wh,
                covered_wh,
                grid_supplied_wh,
                unserved_wh,
                carbon_grams,
                ..
            } => {
                self.sold_wh += sold_wh;
                self.bought_wh += bought_wh;
                // A settlement either sells or buys (a meter is on one side of a fill); its
                // amount is the seller's net earnings or the buyer's cost.
                if sold_wh > 0 {
                    self.earned += amount;
                } else if bought_wh > 0 {
                    self.paid += amount;
                }
                self.credited_wh += credited_wh;
                self.credits_used_wh += covered_wh;
                self.grid_supplied_wh += grid_supplied_wh;
                self.unserved_wh += unserved_wh;
                self.carbon_grams += carbon_grams;
            }
        }
    }

    fn plus(mut self, other: &Self) -> Self {
        self.exported_wh += other.exported_wh;
        self.imported_wh += other.imported_wh;
        self.sold_wh += other.sold_wh;
        self.bought_wh += other.bought_wh;
        self.earned += other.earned;
        self.paid += other.paid;
        self.credited_wh += other.credited_wh;
        self.credits_used_wh += other.credits_used_wh;
        self.grid_supplied_wh += other.grid_supplied_wh;
        self.unserved_wh += other.unserved_wh;
        self.carbon_grams += other.carbon_grams;
        self
    }
}

/// A bill over a run of trading intervals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bill {
    /// Length of a trading interval, seconds.
    pub interval_seconds: u32,
    /// The intervals billed: `t` in `first_interval..end_interval`.
    pub first_interval: u64,
    /// One past the last interval billed.
    pub end_interval: u64,
    /// The figures of each UTC day that has any event, by `YYYY-MM-DD`.
    pub days: BTreeMap<String, BillLine>,
    /// The sum of the days.
    pub total: BillLine,
}

impl Bill {
    /// Export attested in the period but neither sold nor credited yet, and the same for import:
    /// volumes whose settlement is still to come.
    pub fn unsettled_wh(&self) -> (u64, u64) {
        let total = &self.total;
        let export = total
            .exported_wh
            .saturating_sub(total.sold_wh + total.credited_wh);
        let import = total.imported_wh.saturating_sub(
            total.bought_wh + total.credits_used_wh + total.grid_supplied_wh + total.unserved_wh,
        );
        (export, import)
    }
}

/// Bills a meter's `events` over the intervals `intervals`.
///
/// Each event counts for one interval: a reading for the interval it closes (a reading after a
/// gap attests its whole delta there), a settlement for the last interval its volumes cover. The
/// interval counts for the UTC day it starts in.
pub fn bill(events: &[MeterEvent], interval_seconds: u32, intervals: Range<u64>) -> Bill {
    let len = u64::from(interval_seconds.max(1));
    let mut days: BTreeMap<String, BillLine> = BTreeMap::new();
    for event in events {
        let interval = match *event {
            MeterEvent::Reading { interval_end, .. } => (interval_end / len).checked_sub(1),
            MeterEvent::Settled { interval, .. } => Some(interval),
        };
        let Some(interval) = interval.filter(|t| intervals.contains(t)) else {
            continue;
        };
        days.entry(day_of(interval * len)).or_default().add(event);
    }
    let total = days.values().fold(BillLine::default(), BillLine::plus);
    Bill {
        interval_seconds,
        first_interval: intervals.start,
        end_interval: intervals.end,
        days,
        total,
    }
}

/// The bill as a table, one row per day and a total, in kWh, USD and grams.
pub fn render(bill: &Bill) -> String {
    let len = u64::from(bill.interval_seconds);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "period {} to {} ({} intervals of {} s)",
        rfc3339(bill.first_interval * len),
        rfc3339(bill.end_interval * len),
        bill.end_interval.saturating_sub(bill.first_interval),
        bill.interval_seconds,
    );
    let header = [
        "day",
        "exported kWh",
        "imported kWh",
        "sold kWh",
        "bought kWh",
        "earned USD",
        "paid USD",
        "credited kWh",
        "credits used kWh",
        "grid kWh",
        "unserved kWh",
        "carbon g",
    ];
    let mut rows = vec![header.map(str::to_owned)];
    let cells = |label: &str, line: &BillLine| {
        let kwh = |wh: u64| format_fixed(u128::from(wh), Unit::Kwh);
        [
            label.to_owned(),
            kwh(line.exported_wh),
            kwh(line.imported_wh),
            kwh(line.sold_wh),
            kwh(line.bought_wh),
            format_fixed(line.earned, Unit::Usd),
            format_fixed(line.paid, Unit::Usd),
            kwh(line.credited_wh),
            kwh(line.credits_used_wh),
            kwh(line.grid_supplied_wh),
            kwh(line.unserved_wh),
            format_fixed(line.carbon_grams, Unit::Grams),
        ]
    };
    rows.extend(bill.days.iter().map(|(day, line)| cells(day, line)));
    rows.push(cells("total", &bill.total));
    let widths: Vec<usize> = (0..header.len())
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| match column {
                0 => format!("{cell:<width$}"),
                _ => format!("{cell:>width$}"),
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  "));
    }
    if bill.days.is_empty() {
        let _ = writeln!(
            out,
            "no reading or settlement of this meter falls in the period"
        );
    }
    let (export, import) = bill.unsettled_wh();
    if export > 0 || import > 0 {
        let _ = writeln!(
            out,
            "not settled yet: {} kWh exported, {} kWh imported (they settle with the interval's \
             settlement, or run `cogrid finalize METER` once it is settled or expired)",
            format_fixed(u128::from(export), Unit::Kwh),
            format_fixed(u128::from(import), Unit::Kwh),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-15T00:00:00Z, interval 1944384 of 900 s.
    const JUNE_15: u64 = 1_749_945_600;
    const T0: u64 = JUNE_15 / 900;

    fn reading(t: u64, import_wh: u64, export_wh: u64) -> MeterEvent {
        MeterEvent::Reading {
            interval_end: (t + 1) * 900,
            import_wh,
            export_wh,
        }
    }

    /// A settlement of interval `t`: `[sold, bought, credited, covered, grid supplied]` Wh, the
    /// amount earned or paid and the carbon grams.
    fn settled(t: u64, wh: [u64; 5], amount: u128, carbon_grams: u128) -> MeterEvent {
        let [
            sold_wh,
            bought_wh,
            credited_wh,
            covered_wh,
            grid_supplied_wh,
        ] = wh;
        MeterEvent::Settled {
            interval: t,
            sold_wh,
            bought_wh,
            amount,
            credited_wh,
            covered_wh,
            grid_supplied_wh,
            unserved_wh: 0,
            carbon_grams,
        }
    }

    #[test]
    fn readings_and_settlements_add_up_per_day_and_in_total() {
        let events = [
            // Day one, 10:00: a baseline, then a traded interval.
            reading(T0 + 39, 0, 0),
            reading(T0 + 40, 1_200, 0),
            settled(T0 + 40, [0, 1_000, 0, 0, 200], 140_000, 0),
            // Day two: a residual settlement after a gap, and a sale.
            reading(T0 + 96 + 41, 300, 150),
            settled(T0 + 96 + 41, [0, 0, 150, 150, 150], 0, 60),
            reading(T0 + 96 + 50, 0, 2_000),
            settled(T0 + 96 + 50, [1_500, 0, 500, 0, 0], 178_200, 800),
        ];
        let bill = bill(&events, 900, T0..T0 + 2 * 96);
        assert_eq!(bill.days.len(), 2);
        assert_eq!(
            bill.days["2025-06-15"],
            BillLine {
                imported_wh: 1_200,
                bought_wh: 1_000,
                paid: 140_000,
                grid_supplied_wh: 200,
                ..BillLine::default()
            }
        );
        assert_eq!(
            bill.days["2025-06-16"],
            BillLine {
                exported_wh: 2_150,
                imported_wh: 300,
                sold_wh: 1_500,
                earned: 178_200,
                credited_wh: 650,
                credits_used_wh: 150,
                grid_supplied_wh: 150,
                carbon_grams: 860,
                ..BillLine::default()
            }
        );
        assert_eq!(
            bill.total,
            BillLine {
                exported_wh: 2_150,
                imported_wh: 1_500,
                sold_wh: 1_500,
                bought_wh: 1_000,
                earned: 178_200,
                paid: 140_000,
                credited_wh: 650,
                credits_used_wh: 150,
                grid_supplied_wh: 350,
                unserved_wh: 0,
                carbon_grams: 860,
            }
        );
        assert_eq!(bill.unsettled_wh(), (0, 0));
    }

    #[test]
    fn an_islanded_feeders_import_is_unserved_not_grid_supplied() {
        let islanded = MeterEvent::Settled {
            interval: T0 + 40,
            sold_wh: 0,
            bought_wh: 600,
            amount: 84_000,
            credited_wh: 0,
            covered_wh: 0,
            grid_supplied_wh: 0,
            unserved_wh: 400,
            carbon_grams: 0,
        };
        let bill = bill(&[reading(T0 + 40, 1_000, 0), islanded], 900, T0..T0 + 96);
        assert_eq!(bill.total.grid_supplied_wh, 0);
        assert_eq!(bill.total.unserved_wh, 400);
        assert_eq!(bill.unsettled_wh(), (0, 0), "import = bought + unserved");
    }

    #[test]
    fn events_outside_the_period_are_left_out() {
        let events = [
            reading(T0 - 1, 5, 5),
            settled(T0 - 1, [5, 0, 0, 0, 0], 1, 0),
            reading(T0, 7, 0),
            reading(T0 + 2, 11, 0),
            settled(T0 + 2, [0, 11, 0, 0, 0], 3, 0),
        ];
        let bill = bill(&events, 900, T0..T0 + 2);
        assert_eq!(bill.total.imported_wh, 7);
        assert_eq!(bill.total.exported_wh, 0);
        assert_eq!(bill.total.paid, 0);
        assert_eq!(bill.total.earned, 0);
        assert_eq!(bill.unsettled_wh(), (0, 7));
    }

    #[test]
    fn an_interval_counts_for_the_day_it_starts_in() {
        // The last interval of June 15 ends at midnight: its reading is stamped June 16 00:00.
        let events = [reading(T0 + 95, 1, 0)];
        let bill = bill(&events, 900, T0..T0 + 96);
        assert_eq!(bill.days.keys().collect::<Vec<_>>(), ["2025-06-15"]);
    }

    #[test]
    fn the_table_shows_human_units_and_a_total() {
        let events = [
            reading(T0 + 40, 0, 1_500),
            settled(T0 + 40, [1_000, 0, 500, 0, 0], 118_800, 600),
        ];
        let table = render(&bill(&events, 900, T0..T0 + 96));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "period 2025-06-15T00:00:00Z to 2025-06-16T00:00:00Z (96 intervals of 900 s)"
        );
        assert!(lines[1].starts_with("day   "), "{table}");
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let expected = [
            "1.500", "0.000", "1.000", "0.000", "0.118800", "0.000000", "0.500", "0.000", "0.000",
            "0.000", "600",
        ];
        assert_eq!(words(lines[2])[0], "2025-06-15");
        assert_eq!(words(lines[2])[1..], expected);
        assert_eq!(words(lines[3])[0], "total");
        assert_eq!(words(lines[3])[1..], expected);
        assert_eq!(lines.len(), 4, "nothing is left unsettled: {table}");
    }
}
