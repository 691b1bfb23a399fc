//! The `cogrid` command-line tool: deploy the contracts to any RPC URL or a local devnet,
//! administer participants and meters, settle residual volumes, the prosumer's wallet (deposit,
//! withdraw, standing orders, balances, bills, carbon retirement, swaps and liquidity in the
//! pool), measure gas, and run the metering demo.

pub mod bill;
mod carbon;
pub mod cli;
pub mod demo;
pub mod error;
mod explain;
pub mod gas;
mod keys;
pub mod openadr;
mod pool;
pub mod time;
pub mod units;
mod wallet;
