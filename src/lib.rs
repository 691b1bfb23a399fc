//! The `cogrid` command-line tool: deploy the contracts to any RPC URL or a local devnet,
//! administer participants and meters, claim credits, measure gas, and run the metering demo.

pub mod cli;
pub mod demo;
pub mod gas;
mod keys;
