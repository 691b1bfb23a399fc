//! End-to-end tests of the meter-signer binary against a local L2 devnet (anvil).

mod harness;
mod outage;
mod restart;
