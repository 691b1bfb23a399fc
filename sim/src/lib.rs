//! The neighbourhood simulator behind `cogrid simulate`: a seeded mix of homes (PV, batteries,
//! EVs, consumers, critical loads) lives through a bundled day on a local L2, with the meter
//! signer's, the oracle's and the keeper's own code doing their jobs against the chain; the
//! outcome is a report (Markdown, JSON, an SVG chart) and conservation checks computed from the
//! chain alone.

pub mod chart;
pub mod checks;
pub mod day;
pub mod error;
pub mod homes;
pub mod outcome;
pub mod report;

pub use error::SimError;
pub use outcome::{
    GasFigures, HomeOutcome, IntervalOutcome, OracleOutcome, Outcome, Tariffs, Timings, VppOutcome,
};
