//! Where register samples come from: a DSMR P1 port (serial or TCP), a simulated meter, or
//! pushes to the HTTP endpoint. Every source sends [`SampleMessage`]s to the pipeline.

mod p1;
mod simulated;

pub use p1::{run_p1_serial, run_p1_tcp, telegram_sample};
pub use simulated::run_simulated;

use alloy::primitives::Address;
use tokio::sync::oneshot;

use crate::{pipeline::PipelineError, sampler::Sample};

/// A sample for one meter, with an optional channel for the pipeline's verdict (HTTP pushes
/// answer their caller with it).
#[derive(Debug)]
pub struct SampleMessage {
    /// The meter the sample belongs to.
    pub meter: Address,
    /// The registers.
    pub sample: Sample,
    /// Where to send the verdict, if anyone waits for it.
    pub reply: Option<oneshot::Sender<Result<(), PipelineError>>>,
}
