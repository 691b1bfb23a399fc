//! The `cogrid` command-line tool: deploy the contracts to any RPC URL or a local devnet,
//! administer participants, meters and roles, settle residual volumes, the prosumer's wallet
//! (deposit, withdraw, standing orders, balances, bills, carbon retirement, swaps and liquidity in
//! the pool, VPP enrolment and pay), the grid operator's commands (VPP events, islanding, the
//! network fee), measure gas, and run the metering demo.

mod admin;
pub mod bill;
mod carbon;
pub mod cli;
pub mod demo;
mod devnet;
pub mod error;
mod explain;
pub mod gas;
mod keys;
pub mod openadr;
mod pool;
mod simulate;
pub mod time;
pub mod units;
mod vpp;
mod wallet;
