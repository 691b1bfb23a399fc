//! Counters and gauges served at `/metrics` in the Prometheus text format.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// Process-wide figures; cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Intervals this keeper closed.
    pub intervals_settled: AtomicU64,
    /// Intervals another keeper settled first.
    pub intervals_lost_race: AtomicU64,
    /// Fills in the batches this keeper settled.
    pub fills_settled: AtomicU64,
    /// Fills dropped because the simulation showed they would revert.
    pub fills_dropped: AtomicU64,
    /// Settlement and finalize transactions sent (resends included).
    pub transactions_sent: AtomicU64,
    /// Resends of a stuck transaction with bumped fees.
    pub fee_bumps: AtomicU64,
    /// Gas used by this keeper's mined transactions.
    pub gas_used: AtomicU64,
    /// Meters whose residual volumes this keeper finalized.
    pub meters_finalized: AtomicU64,
    /// Short buyers the pool sold credits to.
    pub shortfalls_covered: AtomicU64,
    /// Energy credits bought from the pool for short buyers, Wh.
    pub pool_credits_bought_wh: AtomicU64,
    /// `coverShortfalls` transactions that failed (the interval settled without them).
    pub shortfall_cover_failures: AtomicU64,
    /// VPP enrolments this keeper settled from their meters' readings.
    pub vpp_enrolments_settled: AtomicU64,
    /// VPP events this keeper closed.
    pub vpp_events_closed: AtomicU64,
    /// Failed rounds (RPC down, database error); the keeper retries.
    pub errors: AtomicU64,
    /// The chain head at the last poll.
    pub chain_head: AtomicU64,
    /// The last block indexed.
    pub indexed_block: AtomicU64,
    /// The last interval this keeper saw settled (by itself or another keeper).
    pub last_settled_interval: AtomicU64,
}

impl Metrics {
    /// Adds `amount` to `counter`.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Relaxed);
    }

    /// Sets `gauge`.
    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Relaxed);
    }

    /// Blocks between the chain head and the index.
    pub fn lag_blocks(&self) -> u64 {
        self.chain_head
            .load(Relaxed)
            .saturating_sub(self.indexed_block.load(Relaxed))
    }

    /// The Prometheus exposition.
    pub fn render(&self) -> String {
        let counters = [
            (
                "intervals_settled_total",
                "Intervals this keeper closed.",
                &self.intervals_settled,
            ),
            (
                "intervals_lost_race_total",
                "Intervals another keeper settled first.",
                &self.intervals_lost_race,
            ),
            (
                "fills_settled_total",
                "Fills settled by this keeper.",
                &self.fills_settled,
            ),
            (
                "fills_dropped_total",
                "Fills dropped because the simulation showed they would revert.",
                &self.fills_dropped,
            ),
            (
                "transactions_sent_total",
                "Transactions sent, resends included.",
                &self.transactions_sent,
            ),
            (
                "fee_bumps_total",
                "Stuck transactions resent with bumped fees.",
                &self.fee_bumps,
            ),
            (
                "gas_used_total",
                "Gas used by mined transactions.",
                &self.gas_used,
            ),
            (
                "meters_finalized_total",
                "Meters whose residual volumes were finalized.",
                &self.meters_finalized,
            ),
            (
                "shortfalls_covered_total",
                "Short buyers the pool sold credits to.",
                &self.shortfalls_covered,
            ),
            (
                "pool_credits_bought_wh_total",
                "Energy credits bought from the pool for short buyers, Wh.",
                &self.pool_credits_bought_wh,
            ),
            (
                "shortfall_cover_failures_total",
                "Pool purchases for short buyers that failed; the interval settled without them.",
                &self.shortfall_cover_failures,
            ),
            (
                "vpp_enrolments_settled_total",
                "VPP enrolments settled from their meters' readings.",
                &self.vpp_enrolments_settled,
            ),
            (
                "vpp_events_closed_total",
                "VPP events closed, the rest of their budgets refunded.",
                &self.vpp_events_closed,
            ),
            (
                "errors_total",
                "Failed rounds; the keeper retries.",
                &self.errors,
            ),
        ];
        let mut out = String::new();
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP cogrid_keeper_{name} {help}");
            let _ = writeln!(out, "# TYPE cogrid_keeper_{name} counter");
            let _ = writeln!(out, "cogrid_keeper_{name} {}", counter.load(Relaxed));
        }
        let gauges = [
            (
                "chain_head_block",
                "The chain head at the last poll.",
                self.chain_head.load(Relaxed),
            ),
            (
                "indexed_block",
                "The last block indexed.",
                self.indexed_block.load(Relaxed),
            ),
            (
                "lag_blocks",
                "Blocks between the chain head and the index.",
                self.lag_blocks(),
            ),
            (
                "last_settled_interval",
                "The last interval seen settled.",
                self.last_settled_interval.load(Relaxed),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP cogrid_keeper_{name} {help}");
            let _ = writeln!(out, "# TYPE cogrid_keeper_{name} gauge");
            let _ = writeln!(out, "cogrid_keeper_{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_the_lag() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.fills_settled, 3);
        Metrics::set(&metrics.chain_head, 120);
        Metrics::set(&metrics.indexed_block, 118);
        let text = metrics.render();
        assert!(
            text.contains("cogrid_keeper_fills_settled_total 3\n"),
            "{text}"
        );
        assert!(text.contains("cogrid_keeper_lag_blocks 2\n"), "{text}");
        assert!(
            text.contains("# TYPE cogrid_keeper_gas_used_total counter"),
            "{text}"
        );
    }
}
