//! Errors of the shared chain plumbing.

use std::path::PathBuf;

/// Errors from loading config, keys and connecting to a chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or a key has a bad value.
    #[error("bad config in {path}: key `{key}`: {message}")]
    ConfigValue {
        /// The file holding the bad value.
        path: PathBuf,
        /// The dotted path of the offending key (`.` for the whole document).
        key: String,
        /// What is wrong with the value.
        message: String,
    },
    /// The keystore could not be decrypted or created.
    #[error("keystore {path}: {message} (check the path and the password)")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The password variable is not set.
    #[error("environment variable {0} is not set: it must hold the keystore password")]
    PasswordMissing(String),
    /// The RPC endpoint could not be reached or answered badly.
    #[error("RPC {url} is unreachable: {message} (is the node running and the URL right?)")]
    RpcUnreachable {
        /// The URL that was tried.
        url: String,
        /// The transport's error.
        message: String,
    },
    /// The RPC URL does not parse.
    #[error("RPC URL `{url}` is not a valid URL: {message}")]
    BadRpcUrl {
        /// The URL as given.
        url: String,
        /// The parser's complaint.
        message: String,
    },
    /// The node serves another chain than the config expects.
    #[error("RPC {url} serves chain id {actual}, but the config expects {expected}")]
    WrongChain {
        /// The URL that was tried.
        url: String,
        /// The chain id in the config.
        expected: u64,
        /// The chain id the node reported.
        actual: u64,
    },
    /// A reading value does not fit the width the contract stores it in.
    #[error("reading field {field} = {value} is out of range")]
    ReadingOutOfRange {
        /// The field's name in the EIP-712 type.
        field: &'static str,
        /// The value given.
        value: u64,
    },
    /// Deploying a contract failed.
    #[error("deploying {what} failed: {message}")]
    Deploy {
        /// The contract or call.
        what: &'static str,
        /// The node's answer.
        message: String,
    },
    /// A read from the chain failed (the node refused it or did not answer).
    #[error("reading {what} from the chain failed: {message}")]
    Read {
        /// The call or the RPC method.
        what: &'static str,
        /// The node's answer.
        message: String,
    },
    /// anvil did not start.
    #[error("anvil did not start: {message}")]
    AnvilStart {
        /// What the node bindings reported.
        message: String,
    },
    /// No anvil binary was found.
    #[error(
        "anvil not found (looked at $COGRID_ANVIL, {looked_at} and $PATH): run `make install` \
         (npm ci in contracts/) or set COGRID_ANVIL to an anvil binary"
    )]
    AnvilMissing {
        /// The bundled location that was checked.
        looked_at: PathBuf,
    },
}
