//! Integration tests of the meter signer: its P1 source, HTTP endpoint and command line on
//! loopback, and end-to-end runs of the binary against a local L2 devnet (anvil).

mod cli;
mod gas;
mod harness;
mod outage;
mod p1;
mod push;
mod reasons;
mod reorg;
mod restart;
