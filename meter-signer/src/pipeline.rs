//! The single writer: takes samples from every source, turns boundary crossings into readings,
//! signs them with the meter's key and stores them in the outbox before anything is sent.

use std::{collections::HashMap, sync::Arc};

use alloy::{primitives::Address, signers::local::PrivateKeySigner, sol_types::Eip712Domain};
use cogrid_chain::SignedReading;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    metrics::Metrics,
    outbox::Outbox,
    sampler::{IntervalReading, IntervalSampler, Sample, SampleError},
    source::SampleMessage,
};

/// Why a sample was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No meter with that address is configured here.
    #[error("meter {0} is not served by this gateway")]
    UnknownMeter(Address),
    /// The sample contradicts earlier ones.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// Signing or storing failed; the sample was not taken.
    #[error("storing the reading failed: {0}")]
    Store(String),
}

struct MeterSlot {
    signer: PrivateKeySigner,
    sampler: IntervalSampler,
}

/// Turns samples into signed, stored readings.
pub struct Pipeline {
    outbox: Outbox,
    domain: Eip712Domain,
    meters: HashMap<Address, MeterSlot>,
    metrics: Arc<Metrics>,
    wake_delivery: Arc<Notify>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("meters", &self.meters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Pipeline {
    /// A pipeline writing to `outbox`, signing for `domain`.
    pub fn new(
        outbox: Outbox,
        domain: Eip712Domain,
        metrics: Arc<Metrics>,
        wake_delivery: Arc<Notify>,
    ) -> Self {
        Self {
            outbox,
            domain,
            meters: HashMap::new(),
            metrics,
            wake_delivery,
        }
    }

    /// Serves `signer`'s meter; `last` is the last reading already signed for it.
    pub fn add_meter(
        &mut self,
        signer: PrivateKeySigner,
        interval_seconds: u64,
        last: Option<IntervalReading>,
    ) {
        let sampler = IntervalSampler::new(interval_seconds, last);
        self.meters
            .insert(signer.address(), MeterSlot { signer, sampler });
    }

    /// Takes one sample; returns the reading it completed, already stored in the outbox.
    pub async fn accept(
        &mut self,
        meter: Address,
        sample: Sample,
    ) -> Result<Option<SignedReading>, PipelineError> {
        Ok(self.accept_all(&[(meter, sample)]).await?.pop())
    }

    /// Takes several samples (all of a gateway's meters read at a boundary, as the simulator
    /// reads them) and returns the readings they completed, stored in the outbox in one
    /// transaction. A refused sample, or a
    /// failed store, takes none of them: each meter is left as it was before the call.
    pub async fn accept_all(
        &mut self,
        samples: &[(Address, Sample)],
    ) -> Result<Vec<SignedReading>, PipelineError> {
        let mut before = Vec::with_capacity(samples.len());
        let completed = self.push_samples(samples, &mut before);
        let stored = match completed {
            Ok(completed) if completed.is_empty() => return Ok(Vec::new()),
            Ok(completed) => self.store(&completed).await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(signed) => {
                for reading in &signed {
                    Metrics::bump(&self.metrics.readings_signed);
                    info!(meter = %reading.meter, seq = reading.seq, interval_end = reading.interval_end, import_wh = reading.import_wh, export_wh = reading.export_wh, "reading signed and stored");
                }
                self.wake_delivery.notify_one();
                Ok(signed)
            }
            Err(error) => {
                // Not stored: forget the samples so each boundary is taken again from the next
                // one. In reverse, so a meter sampled twice gets its state from before both.
                for (meter, sampler) in before.into_iter().rev() {
                    if let Some(slot) = self.meters.get_mut(&meter) {
                        slot.sampler = sampler;
                    }
                }
                Err(error)
            }
        }
    }

    /// Pushes each sample into its meter's sampler, keeping each sampler's state from before in
    /// `before`; returns the readings the samples completed.
    fn push_samples(
        &mut self,
        samples: &[(Address, Sample)],
        before: &mut Vec<(Address, IntervalSampler)>,
    ) -> Result<Vec<(Address, IntervalReading)>, PipelineError> {
        let mut completed = Vec::new();
        for &(meter, sample) in samples {
            let slot = self
                .meters
                .get_mut(&meter)
                .ok_or(PipelineError::UnknownMeter(meter))?;
            before.push((meter, slot.sampler.clone()));
            if let Some(reading) = slot.sampler.push(sample)? {
                completed.push((meter, reading));
            }
        }
        Ok(completed)
    }

    /// Signs `readings` with their meters' keys and stores them in one outbox transaction.
    async fn store(
        &self,
        readings: &[(Address, IntervalReading)],
    ) -> Result<Vec<SignedReading>, PipelineError> {
        let keys = readings
            .iter()
            .map(|(meter, _)| {
                self.meters
                    .get(meter)
                    .map(|slot| &slot.signer)
                    .ok_or(PipelineError::UnknownMeter(*meter))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.outbox
            .record_all(readings, |index, seq| {
                let (meter, reading) = readings[index];
                reading.sign(meter, seq, keys[index], &self.domain)
            })
            .await
            .map_err(|error| PipelineError::Store(error.to_string()))
    }

    /// Processes samples until every source is done or `cancel` fires.
    pub async fn run(
        mut self,
        mut samples: mpsc::Receiver<SampleMessage>,
        cancel: CancellationToken,
    ) {
        loop {
            let message = tokio::select! {
                () = cancel.cancelled() => return,
                message = samples.recv() => match message { Some(message) => message, None => return },
            };
            let verdict = self.accept(message.meter, message.sample).await.map(|_| ());
            if let Err(error) = &verdict {
                match error {
                    PipelineError::Store(_) => {
                        error!(meter = %message.meter, %error, "reading not stored")
                    }
                    _ => {
                        Metrics::bump(&self.metrics.samples_refused);
                        warn!(meter = %message.meter, %error, "sample refused");
                    }
                }
            }
            if let Some(reply) = message.reply {
                let _ = reply.send(verdict);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;
    use cogrid_chain::reading_domain;

    use super::*;
    use crate::outbox::OutboxCounts;

    async fn two_meter_pipeline() -> (tempfile::TempDir, Outbox, Pipeline, [Address; 2]) {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("outbox.db")).await.unwrap();
        let mut pipeline = Pipeline::new(
            outbox.clone(),
            reading_domain(31_337, Address::repeat_byte(0x5f)),
            Arc::new(Metrics::default()),
            Arc::new(Notify::new()),
        );
        let keys = [PrivateKeySigner::random(), PrivateKeySigner::random()];
        let meters = [keys[0].address(), keys[1].address()];
        for key in keys {
            pipeline.add_meter(key, 900, None);
        }
        (dir, outbox, pipeline, meters)
    }

    fn sample(at: u64, import_wh: u64) -> Sample {
        Sample {
            at,
            import_wh,
            export_wh: 0,
        }
    }

    /// Each reading's meter, seq and import register.
    fn stored(signed: &[SignedReading]) -> Vec<(Address, u32, u64)> {
        signed
            .iter()
            .map(|reading| (reading.meter, reading.seq, reading.import_wh))
            .collect()
    }

    #[tokio::test]
    async fn a_boundarys_samples_are_stored_together_or_not_at_all() {
        let (_dir, outbox, mut pipeline, [first, second]) = two_meter_pipeline().await;
        let signed = pipeline
            .accept_all(&[(first, sample(900, 10)), (second, sample(900, 20))])
            .await
            .unwrap();
        assert_eq!(stored(&signed), vec![(first, 1, 10), (second, 1, 20)]);

        // The second meter's register goes backwards: neither reading is taken.
        let refused = pipeline
            .accept_all(&[(first, sample(1_800, 15)), (second, sample(1_800, 5))])
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                PipelineError::Sample(SampleError::RegisterWentBackwards { .. })
            ),
            "{refused}"
        );
        let unknown = Address::repeat_byte(1);
        assert!(matches!(
            pipeline
                .accept_all(&[(first, sample(1_800, 15)), (unknown, sample(1_800, 5))])
                .await,
            Err(PipelineError::UnknownMeter(meter)) if meter == unknown
        ));
        assert_eq!(
            outbox.counts().await.unwrap(),
            OutboxCounts {
                pending: 2,
                ..OutboxCounts::default()
            }
        );

        // The first meter was left as it was: the same boundary is taken once the samples agree.
        let signed = pipeline
            .accept_all(&[(first, sample(1_800, 15)), (second, sample(1_800, 25))])
            .await
            .unwrap();
        assert_eq!(stored(&signed), vec![(first, 2, 15), (second, 2, 25)]);
        assert_eq!(outbox.counts().await.unwrap().pending, 4);
    }
}
