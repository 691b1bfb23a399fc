//! Turns a stream of register samples into one reading per interval boundary.
//!
//! A P1 port sends a telegram every 1 s (DSMR 5) or 10 s (DSMR 4); the reading for the boundary
//! `b` is the first sample taken at or after `b`, stamped `intervalEnd = b`: its registers lag the
//! boundary by at most one telegram period, which moves a few Wh between neighbouring intervals but
//! never creates or loses any, because registers are cumulative.
//!
//! A boundary is read only when the crossing was seen: a sample before it, then one at or after
//! it (or a sample exactly on it). The first sample after a start or restart therefore signs
//! nothing unless it sits on a boundary: its registers may be minutes past the last boundary, and
//! stamping them with it would move those minutes into the wrong interval. When the samples skip
//! whole intervals (the meter or the gateway was off), one reading is made for the latest boundary
//! crossed: its delta covers the gap, and the registry treats such a reading as residual only.

use alloy::{primitives::Address, signers::local::PrivateKeySigner, sol_types::Eip712Domain};
use cogrid_chain::{Reading, SignedReading, sign_reading};

use crate::error::SignerError;

/// This machine's clock in unix seconds (the time of a telegram without its own timestamp).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Cumulative registers read from a meter at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds when the registers were read.
    pub at: u64,
    /// Cumulative import register, Wh.
    pub import_wh: u64,
    /// Cumulative export register, Wh.
    pub export_wh: u64,
}

/// A reading due for signing: the registers at an interval boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalReading {
    /// The interval boundary (unix seconds, a multiple of the interval length).
    pub interval_end: u64,
    /// Cumulative import register, Wh.
    pub import_wh: u64,
    /// Cumulative export register, Wh.
    pub export_wh: u64,
}

impl IntervalReading {
    /// This reading as `meter`'s reading number `seq`, signed with the meter's `key` for
    /// `domain`.
    pub fn sign(
        &self,
        meter: Address,
        seq: u32,
        key: &PrivateKeySigner,
        domain: &Eip712Domain,
    ) -> Result<SignedReading, SignerError> {
        let message = Reading::new(
            meter,
            seq,
            self.interval_end,
            self.import_wh,
            self.export_wh,
        )?;
        Ok(sign_reading(key, domain, &message)?)
    }
}

/// Why a sample was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// A register is lower than in an earlier sample: a cumulative register never goes down.
    #[error(
        "register went backwards: import {import_wh} Wh / export {export_wh} Wh after {previous_import_wh} / {previous_export_wh}"
    )]
    RegisterWentBackwards {
        /// Import in the refused sample.
        import_wh: u64,
        /// Export in the refused sample.
        export_wh: u64,
        /// Import in the last accepted sample.
        previous_import_wh: u64,
        /// Export in the last accepted sample.
        previous_export_wh: u64,
    },
    /// The sample is not later than the last accepted one.
    #[error("sample time {at} is not after the previous sample at {previous_at}")]
    TimeNotIncreasing {
        /// Time of the refused sample.
        at: u64,
        /// Time of the last accepted sample.
        previous_at: u64,
    },
}

/// Per-meter state of the boundary detection.
#[derive(Debug, Clone)]
pub struct IntervalSampler {
    interval_seconds: u64,
    last_sample: Option<Sample>,
    last_boundary: Option<u64>,
    /// Registers of the last reading signed before a restart: no sample may go below them.
    floor: Option<(u64, u64)>,
}

impl IntervalSampler {
    /// A sampler for `interval_seconds`-long intervals that already signed `last` (from the
    /// outbox after a restart): it never signs that boundary again, and refuses registers below
    /// that reading's.
    pub fn new(interval_seconds: u64, last: Option<IntervalReading>) -> Self {
        assert!(interval_seconds > 0, "interval length must be positive");
        Self {
            interval_seconds,
            last_sample: None,
            last_boundary: last.map(|reading| reading.interval_end),
            floor: last.map(|reading| (reading.import_wh, reading.export_wh)),
        }
    }

    /// The latest boundary at or before `at`.
    pub fn boundary_at_or_before(&self, at: u64) -> u64 {
        at - at % self.interval_seconds
    }

    /// Feeds one sample; returns the reading it completes, if it is the first at or after a new
    /// boundary.
    pub fn push(&mut self, sample: Sample) -> Result<Option<IntervalReading>, SampleError> {
        let previous = self.last_sample;
        if let Some(previous) = previous
            && sample.at <= previous.at
        {
            return Err(SampleError::TimeNotIncreasing {
                at: sample.at,
                previous_at: previous.at,
            });
        }
        let reference = previous
            .map(|previous| (previous.import_wh, previous.export_wh))
            .or(self.floor);
        if let Some((previous_import_wh, previous_export_wh)) = reference
            && (sample.import_wh < previous_import_wh || sample.export_wh < previous_export_wh)
        {
            return Err(SampleError::RegisterWentBackwards {
                import_wh: sample.import_wh,
                export_wh: sample.export_wh,
                previous_import_wh,
                previous_export_wh,
            });
        }
        self.last_sample = Some(sample);
        let boundary = self.boundary_at_or_before(sample.at);
        if self.last_boundary.is_some_and(|last| boundary <= last) {
            return Ok(None);
        }
        let crossing_seen =
            previous.map_or(sample.at == boundary, |previous| previous.at < boundary);
        if !crossing_seen {
            return Ok(None);
        }
        self.last_boundary = Some(boundary);
        Ok(Some(IntervalReading {
            interval_end: boundary,
            import_wh: sample.import_wh,
            export_wh: sample.export_wh,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: u64, import_wh: u64, export_wh: u64) -> Sample {
        Sample {
            at,
            import_wh,
            export_wh,
        }
    }

    #[test]
    fn the_first_sample_after_a_boundary_makes_the_reading() {
        let mut sampler = IntervalSampler::new(
            900,
            Some(IntervalReading {
                interval_end: 900,
                import_wh: 0,
                export_wh: 0,
            }),
        );
        assert_eq!(sampler.push(sample(1_790, 10, 0)).unwrap(), None);
        let reading = sampler.push(sample(1_801, 12, 3)).unwrap().unwrap();
        assert_eq!(
            reading,
            IntervalReading {
                interval_end: 1_800,
                import_wh: 12,
                export_wh: 3
            }
        );
        assert_eq!(sampler.push(sample(1_811, 13, 3)).unwrap(), None);
    }

    #[test]
    fn a_first_sample_off_the_boundary_signs_nothing() {
        let mut sampler = IntervalSampler::new(900, None);
        assert_eq!(sampler.push(sample(1_207, 10, 2)).unwrap(), None);
        assert_eq!(sampler.push(sample(1_790, 11, 2)).unwrap(), None);
        let reading = sampler.push(sample(1_800, 12, 2)).unwrap().unwrap();
        assert_eq!(reading.interval_end, 1_800);
        // A sample exactly on a boundary is a reading at that boundary.
        let mut sampler = IntervalSampler::new(900, None);
        assert_eq!(
            sampler
                .push(sample(2_700, 5, 5))
                .unwrap()
                .unwrap()
                .interval_end,
            2_700
        );
    }

    #[test]
    fn a_gap_makes_one_reading_for_the_latest_boundary() {
        let mut sampler = IntervalSampler::new(900, None);
        assert!(sampler.push(sample(900, 1, 1)).unwrap().is_some());
        let reading = sampler.push(sample(4_000, 50, 9)).unwrap().unwrap();
        assert_eq!(reading.interval_end, 3_600);
    }

    #[test]
    fn a_restart_never_signs_a_boundary_twice() {
        let last = IntervalReading {
            interval_end: 1_800,
            import_wh: 1,
            export_wh: 1,
        };
        let mut sampler = IntervalSampler::new(900, Some(last));
        assert_eq!(sampler.push(sample(1_805, 1, 1)).unwrap(), None);
        assert_eq!(
            sampler
                .push(sample(2_700, 2, 1))
                .unwrap()
                .unwrap()
                .interval_end,
            2_700
        );
    }

    #[test]
    fn registers_going_backwards_are_refused_and_forgotten() {
        let mut sampler = IntervalSampler::new(900, None);
        sampler.push(sample(100, 500, 20)).unwrap();
        let error = sampler.push(sample(200, 499, 20)).unwrap_err();
        assert!(matches!(error, SampleError::RegisterWentBackwards { .. }));
        // The refused sample does not become the reference.
        assert!(sampler.push(sample(300, 500, 20)).is_ok());
    }

    #[test]
    fn after_a_restart_registers_below_the_last_signed_reading_are_refused() {
        let last = IntervalReading {
            interval_end: 1_800,
            import_wh: 500,
            export_wh: 20,
        };
        let mut sampler = IntervalSampler::new(900, Some(last));
        assert!(matches!(
            sampler.push(sample(2_000, 499, 20)),
            Err(SampleError::RegisterWentBackwards {
                previous_import_wh: 500,
                ..
            })
        ));
        assert!(sampler.push(sample(2_001, 500, 20)).is_ok());
    }

    #[test]
    fn time_must_increase() {
        let mut sampler = IntervalSampler::new(900, None);
        sampler.push(sample(100, 1, 1)).unwrap();
        assert!(matches!(
            sampler.push(sample(100, 1, 1)),
            Err(SampleError::TimeNotIncreasing { .. })
        ));
    }
}
