//! The gateway's integration tests on anvil: one binary. Each test starts its own devnet; a
//! missing anvil fails the test with what to install.

mod agent;
mod daemon;
mod grid;
