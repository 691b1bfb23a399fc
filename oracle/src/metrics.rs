//! Counters and gauges served at `/metrics` in the Prometheus text format: per source (failures,
//! last success), per feed (last value observed, last round reported and who reported it), per
//! peer (failures, last success).

use std::{
    fmt::Write,
    sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed},
};

use crate::config::{Config, FeedKind, SourceKind};

/// One source of one feed.
#[derive(Debug)]
pub struct SourceMetrics {
    /// The feed it supplies.
    pub feed: FeedKind,
    /// Its API.
    pub kind: SourceKind,
    /// Its URL.
    pub url: String,
    /// Fetches that gave no value (timeout, HTTP error, bad or null body).
    pub failures: AtomicU64,
    /// Unix time of the last fetch that gave a value (0: never).
    pub last_success: AtomicU64,
    /// The last value it gave, in the feed's unit.
    pub last_value: AtomicI64,
}

/// One feed.
#[derive(Debug)]
pub struct FeedMetrics {
    /// The feed.
    pub feed: FeedKind,
    /// The last value this reporter observed and signed.
    pub observed: AtomicI64,
    /// Unix time of that observation (0: none yet).
    pub observed_at: AtomicU64,
    /// Polls that gave no value (too few sources, or too few agreeing).
    pub no_value: AtomicU64,
    /// The latest round's id on chain, as last read.
    pub round: AtomicU64,
    /// The latest round's answer on chain, as last read.
    pub answer: AtomicI64,
    /// Rounds this reporter submitted.
    pub rounds_submitted: AtomicU64,
    /// Rounds this reporter meant to submit but a peer's round landed first.
    pub rounds_by_peer: AtomicU64,
    /// Rounds not submitted for want of a quorum of fresh peer observations.
    pub no_quorum: AtomicU64,
    /// Rounds not submitted because their median lay outside the hub's bounds for the feed.
    pub out_of_bounds: AtomicU64,
}

/// One peer reporter.
#[derive(Debug)]
pub struct PeerMetrics {
    /// Its base URL.
    pub url: String,
    /// Asks that gave no usable observation.
    pub failures: AtomicU64,
    /// Unix time of the last usable observation it served (0: never).
    pub last_success: AtomicU64,
}

/// The reporter's figures; cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    sources: Vec<SourceMetrics>,
    feeds: Vec<FeedMetrics>,
    peers: Vec<PeerMetrics>,
    /// Failed rounds (RPC down, a transaction that reverted for another reason than a peer's
    /// round); the reporter retries at the next poll.
    pub errors: AtomicU64,
}

impl Metrics {
    /// Figures for every source, feed and peer of `config`, all zero.
    pub fn new(config: &Config) -> Self {
        Self {
            sources: config
                .feeds
                .iter()
                .flat_map(|feed| {
                    feed.sources.iter().map(|source| SourceMetrics {
                        feed: feed.kind,
                        kind: source.kind,
                        url: source.url.to_string(),
                        failures: AtomicU64::new(0),
                        last_success: AtomicU64::new(0),
                        last_value: AtomicI64::new(0),
                    })
                })
                .collect(),
            feeds: config
                .feeds
                .iter()
                .map(|feed| FeedMetrics {
                    feed: feed.kind,
                    observed: AtomicI64::new(0),
                    observed_at: AtomicU64::new(0),
                    no_value: AtomicU64::new(0),
                    round: AtomicU64::new(0),
                    answer: AtomicI64::new(0),
                    rounds_submitted: AtomicU64::new(0),
                    rounds_by_peer: AtomicU64::new(0),
                    no_quorum: AtomicU64::new(0),
                    out_of_bounds: AtomicU64::new(0),
                })
                .collect(),
            peers: config
                .exchange
                .peers
                .iter()
                .map(|url| PeerMetrics {
                    url: url.to_string(),
                    failures: AtomicU64::new(0),
                    last_success: AtomicU64::new(0),
                })
                .collect(),
            errors: AtomicU64::new(0),
        }
    }

    /// The `index`-th source of `feed`, in config order.
    pub fn source(&self, feed: FeedKind, index: usize) -> &SourceMetrics {
        self.sources
            .iter()
            .filter(|source| source.feed == feed)
            .nth(index)
            .expect("metrics are built from the same config")
    }

    /// The figures of `feed`.
    pub fn feed(&self, feed: FeedKind) -> &FeedMetrics {
        self.feeds
            .iter()
            .find(|figures| figures.feed == feed)
            .expect("metrics are built from the same config")
    }

    /// The `index`-th peer, in config order.
    pub fn peer(&self, index: usize) -> &PeerMetrics {
        &self.peers[index]
    }

    /// Adds one to `counter`.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The Prometheus exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP cogrid_oracle_{name} {help}");
            let _ = writeln!(out, "# TYPE cogrid_oracle_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "cogrid_oracle_{name}{labels} {value}");
            }
        };
        let source_labels = |source: &SourceMetrics| {
            format!(
                "{{feed=\"{}\",source=\"{}\",url=\"{}\"}}",
                source.feed,
                source.kind,
                escape(&source.url)
            )
        };
        let per_source = |read: fn(&SourceMetrics) -> String| {
            self.sources
                .iter()
                .map(|source| (source_labels(source), read(source)))
                .collect()
        };
        family(
            "source_failures_total",
            "counter",
            "Fetches of a source that gave no value (timeout, HTTP error, bad or null body).",
            per_source(|source| source.failures.load(Relaxed).to_string()),
        );
        family(
            "source_last_success_timestamp_seconds",
            "gauge",
            "Unix time a source last gave a value (0: never).",
            per_source(|source| source.last_success.load(Relaxed).to_string()),
        );
        family(
            "source_last_value",
            "gauge",
            "The last value a source gave, in the feed's on-chain unit.",
            per_source(|source| source.last_value.load(Relaxed).to_string()),
        );
        let per_feed = |read: fn(&FeedMetrics) -> String| {
            self.feeds
                .iter()
                .map(|feed| (format!("{{feed=\"{}\"}}", feed.feed), read(feed)))
                .collect()
        };
        for (name, kind, help, read) in [
            (
                "observed_value",
                "gauge",
                "The last value this reporter observed and signed.",
                (|feed: &FeedMetrics| feed.observed.load(Relaxed).to_string())
                    as fn(&FeedMetrics) -> String,
            ),
            (
                "observed_timestamp_seconds",
                "gauge",
                "Unix time of the last observation (0: none).",
                |feed| feed.observed_at.load(Relaxed).to_string(),
            ),
            (
                "no_value_total",
                "counter",
                "Polls that gave no value: too few sources answered or agreed.",
                |feed| feed.no_value.load(Relaxed).to_string(),
            ),
            (
                "round",
                "gauge",
                "The feed's latest round id on chain, as last read.",
                |feed| feed.round.load(Relaxed).to_string(),
            ),
            (
                "reported_answer",
                "gauge",
                "The feed's latest answer on chain, as last read.",
                |feed| feed.answer.load(Relaxed).to_string(),
            ),
            (
                "rounds_submitted_total",
                "counter",
                "Rounds this reporter submitted.",
                |feed| feed.rounds_submitted.load(Relaxed).to_string(),
            ),
            (
                "rounds_by_peer_total",
                "counter",
                "Rounds already reported by a peer when this reporter was about to.",
                |feed| feed.rounds_by_peer.load(Relaxed).to_string(),
            ),
            (
                "no_quorum_total",
                "counter",
                "Rounds not submitted for want of a quorum of fresh observations.",
                |feed| feed.no_quorum.load(Relaxed).to_string(),
            ),
            (
                "out_of_bounds_total",
                "counter",
                "Rounds whose median lay outside the hub's bounds; nothing was reported.",
                |feed| feed.out_of_bounds.load(Relaxed).to_string(),
            ),
        ] {
            family(name, kind, help, per_feed(read));
        }
        let per_peer = |read: fn(&PeerMetrics) -> String| {
            self.peers
                .iter()
                .map(|peer| (format!("{{peer=\"{}\"}}", escape(&peer.url)), read(peer)))
                .collect()
        };
        family(
            "peer_failures_total",
            "counter",
            "Asks of a peer that gave no usable observation.",
            per_peer(|peer| peer.failures.load(Relaxed).to_string()),
        );
        family(
            "peer_last_success_timestamp_seconds",
            "gauge",
            "Unix time a peer last served a usable observation (0: never).",
            per_peer(|peer| peer.last_success.load(Relaxed).to_string()),
        );
        family(
            "errors_total",
            "counter",
            "Failed rounds (RPC down, an unexpected revert); retried at the next poll.",
            vec![(String::new(), self.errors.load(Relaxed).to_string())],
        );
        out
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            escape("https://x.example/p?a=1&b=2"),
            "https://x.example/p?a=1&b=2"
        );
    }
}
