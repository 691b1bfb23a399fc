//! Chain plumbing shared by every cogrid daemon and the `cogrid` tool: loading TOML config with
//! errors that name the key, keystores, providers, the EIP-712 meter reading, OracleHub's domain,
//! deploying the suite and locating anvil.

mod anvil;
mod config;
mod devnet;
mod error;
mod keys;
mod market;
mod oracle;
mod provider;
mod reading;
mod telemetry;
mod vpp;

pub use anvil::{anvil_binary, workspace_root};
pub use config::{BrokenRule, KeyConfig, http_url, load_toml, rule};
pub use devnet::{Deployment, Devnet, SuiteParams, deploy_suite};
pub use error::ChainError;
pub use keys::{create_keystore, load_keystore, password_from_env};
pub use market::{Fill, SettlementRecord};
pub use oracle::{FEED_RULES, FeedRules, grant_reporters, hub_domain};
pub use provider::{
    check_chain, connect, connect_lazily, first_block_at_or_after, logs_since,
    poll_quickly_when_local,
};
pub use reading::{Reading, SignedReading, reading_domain, sign_reading};
pub use telemetry::{init_tracing, run_until_shutdown, shutdown_signal};
pub use vpp::{
    PROOFS_PER_SETTLE, VppEnrolmentStatus, VppEventStatus, VppProofs, vpp_boundaries,
    vpp_enrolments, vpp_proofs, vpp_settle_calls,
};
