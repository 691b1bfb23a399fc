//! The single writer: takes samples from every source, turns boundary crossings into readings,
//! signs them with the meter's key and stores them in the outbox before anything is sent.

use std::{collections::HashMap, sync::Arc};

use alloy::{primitives::Address, signers::local::PrivateKeySigner, sol_types::Eip712Domain};
use cogrid_chain::{Reading, SignedReading, sign_reading};
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
        let slot = self
            .meters
            .get_mut(&meter)
            .ok_or(PipelineError::UnknownMeter(meter))?;
        let before = slot.sampler.clone();
        let Some(reading) = slot.sampler.push(sample)? else {
            return Ok(None);
        };
        let signer = &slot.signer;
        let domain = &self.domain;
        let stored = self
            .outbox
            .record(meter, reading, |seq| {
                let message = Reading::new(
                    meter,
                    seq,
                    reading.interval_end,
                    reading.import_wh,
                    reading.export_wh,
                )?;
                Ok(sign_reading(signer, domain, &message)?)
            })
            .await;
        match stored {
            Ok(signed) => {
                Metrics::bump(&self.metrics.readings_signed);
                info!(%meter, seq = signed.seq, interval_end = signed.interval_end, import_wh = signed.import_wh, export_wh = signed.export_wh, "reading signed and stored");
                self.wake_delivery.notify_one();
                Ok(Some(signed))
            }
            Err(error) => {
                // Not stored: forget the sample so the boundary is taken again from the next one.
                slot.sampler = before;
                Err(PipelineError::Store(error.to_string()))
            }
        }
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
