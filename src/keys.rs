//! Where the CLI's sending key comes from: an encrypted keystore, or an environment variable
//! holding a hex private key (for CI and devnets). Never a literal.

use std::path::PathBuf;

use alloy::signers::local::PrivateKeySigner;
use clap::Args;
use eyre::{WrapErr, bail};

/// The key that signs the CLI's transactions.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// Encrypted keystore (Ethereum v3) of the sending account.
    #[arg(long, global = true)]
    pub keystore: Option<PathBuf>,
    /// Environment variable holding the keystore's password.
    #[arg(long, global = true, default_value = "COGRID_PASSWORD")]
    pub password_env: String,
    /// Environment variable holding a hex private key, instead of a keystore.
    #[arg(long, global = true)]
    pub private_key_env: Option<String>,
}

impl KeyArgs {
    /// Whether a key was given (a keystore or a key variable).
    pub fn is_given(&self) -> bool {
        self.keystore.is_some() || self.private_key_env.is_some()
    }

    /// Loads the key.
    pub fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        match (&self.keystore, &self.private_key_env) {
            (Some(path), None) => {
                let password = cogrid_chain::password_from_env(&self.password_env)?;
                Ok(cogrid_chain::load_keystore(path, &password)?)
            }
            (None, Some(var)) => {
                let hex = std::env::var(var)
                    .wrap_err_with(|| format!("environment variable {var} is not set"))?;
                hex.trim()
                    .parse()
                    .wrap_err_with(|| format!("{var} does not hold a hex private key"))
            }
            (Some(_), Some(_)) => bail!("give either --keystore or --private-key-env, not both"),
            (None, None) => bail!(
                "no sending key: pass --keystore FILE (password in $COGRID_PASSWORD) or --private-key-env VAR"
            ),
        }
    }
}
