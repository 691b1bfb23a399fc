//! Counters served at `/metrics` in the Prometheus text format.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

use crate::outbox::OutboxCounts;

/// Process-wide counters; cheap to bump from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Readings signed and stored in the outbox.
    pub readings_signed: AtomicU64,
    /// Readings the chain counted (including ones it had counted already).
    pub readings_delivered: AtomicU64,
    /// Readings the chain refused for good.
    pub readings_rejected: AtomicU64,
    /// Readings removed from the outbox after their confirmations.
    pub readings_final: AtomicU64,
    /// Batches sent.
    pub batches_sent: AtomicU64,
    /// Sends or receipt fetches that failed (RPC down, timeout, revert).
    pub send_failures: AtomicU64,
    /// Readings put back in line because a reorg dropped their transaction.
    pub readings_requeued: AtomicU64,
    /// P1 telegrams parsed.
    pub telegrams_ok: AtomicU64,
    /// P1 telegrams dropped for a CRC mismatch.
    pub telegrams_crc_errors: AtomicU64,
    /// P1 telegrams dropped as malformed.
    pub telegrams_malformed: AtomicU64,
    /// Samples refused (registers backwards, time not increasing).
    pub samples_refused: AtomicU64,
    /// Pushes refused by the HTTP endpoint.
    pub pushes_refused: AtomicU64,
    /// Gas used by the sent batches.
    pub gas_used: AtomicU64,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The Prometheus exposition of the counters and the outbox gauges.
    pub fn render(&self, outbox: OutboxCounts) -> String {
        let counters = [
            (
                "readings_signed_total",
                "Readings signed and stored in the outbox.",
                &self.readings_signed,
            ),
            (
                "readings_delivered_total",
                "Readings counted on chain.",
                &self.readings_delivered,
            ),
            (
                "readings_rejected_total",
                "Readings refused by the chain for good.",
                &self.readings_rejected,
            ),
            (
                "readings_final_total",
                "Readings removed after their confirmations.",
                &self.readings_final,
            ),
            (
                "readings_requeued_total",
                "Readings resent after a reorg.",
                &self.readings_requeued,
            ),
            (
                "batches_sent_total",
                "Transactions sent.",
                &self.batches_sent,
            ),
            (
                "send_failures_total",
                "Failed sends or receipt fetches.",
                &self.send_failures,
            ),
            (
                "telegrams_ok_total",
                "P1 telegrams parsed.",
                &self.telegrams_ok,
            ),
            (
                "telegrams_crc_errors_total",
                "P1 telegrams dropped for a bad CRC.",
                &self.telegrams_crc_errors,
            ),
            (
                "telegrams_malformed_total",
                "P1 telegrams dropped as malformed.",
                &self.telegrams_malformed,
            ),
            (
                "samples_refused_total",
                "Register samples refused.",
                &self.samples_refused,
            ),
            (
                "pushes_refused_total",
                "HTTP pushes refused.",
                &self.pushes_refused,
            ),
            (
                "gas_used_total",
                "Gas used by sent batches.",
                &self.gas_used,
            ),
        ];
        let mut text = String::new();
        for (name, help, value) in counters {
            let _ = writeln!(
                text,
                "# HELP meter_signer_{name} {help}\n# TYPE meter_signer_{name} counter\nmeter_signer_{name} {}",
                value.load(Relaxed)
            );
        }
        let _ = writeln!(
            text,
            "# HELP meter_signer_outbox_readings Readings in the outbox by state."
        );
        let _ = writeln!(text, "# TYPE meter_signer_outbox_readings gauge");
        for (state, count) in [
            ("pending", outbox.pending),
            ("included", outbox.included),
            ("rejected", outbox.rejected),
        ] {
            let _ = writeln!(
                text,
                "meter_signer_outbox_readings{{state=\"{state}\"}} {count}"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let metrics = Metrics::default();
        Metrics::bump(&metrics.readings_signed);
        Metrics::bump(&metrics.readings_signed);
        let text = metrics.render(OutboxCounts {
            pending: 3,
            included: 1,
            rejected: 0,
        });
        assert!(
            text.contains("meter_signer_readings_signed_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("meter_signer_outbox_readings{state=\"pending\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE meter_signer_gas_used_total counter\n"),
            "{text}"
        );
    }
}
