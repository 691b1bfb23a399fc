use std::path::{Path, PathBuf};

use alloy::{signers::local::PrivateKeySigner, transports::http::reqwest::Url};
use serde::{Deserialize, Deserializer, de::DeserializeOwned, de::Error as _};

use crate::{ChainError, load_keystore, password_from_env};

/// An encrypted keystore and the environment variable holding its password (never the password
/// itself: a config file gets copied around).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Ethereum v3 keystore file.
    pub keystore: PathBuf,
    /// Name of the environment variable with the keystore's password.
    pub password_env: String,
}

impl KeyConfig {
    /// Checks that `password_env` can name a variable; `key` is where this section sits.
    pub fn check(&self, key: &str) -> Result<(), BrokenRule> {
        let name = &self.password_env;
        rule(
            !name.is_empty() && !name.contains(['=', '\0']),
            || format!("{key}.password_env"),
            || format!("`{name}` is not an environment variable name"),
        )
    }

    /// Decrypts the keystore (a relative path resolves against `base`) with the password from
    /// the environment.
    pub fn load_signer(&self, base: &Path) -> Result<PrivateKeySigner, ChainError> {
        load_keystore(
            &base.join(&self.keystore),
            &password_from_env(&self.password_env)?,
        )
    }
}

/// A value that parses but breaks a rule between values: the key holding it and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRule {
    /// The dotted key path (`feeds[1].sources[0].divide`).
    pub key: String,
    /// What is wrong and what is expected instead.
    pub message: String,
}

impl BrokenRule {
    /// The error for the config file at `path`.
    pub fn in_file(self, path: &Path) -> ChainError {
        ChainError::ConfigValue {
            path: path.to_owned(),
            key: self.key,
            message: self.message,
        }
    }
}

/// Holds when `holds`; otherwise the broken rule, naming `key`. Both strings are built only when
/// the rule breaks.
pub fn rule(
    holds: bool,
    key: impl FnOnce() -> String,
    message: impl FnOnce() -> String,
) -> Result<(), BrokenRule> {
    if holds {
        Ok(())
    } else {
        Err(BrokenRule {
            key: key(),
            message: message(),
        })
    }
}

/// Deserializes an `http://` or `https://` URL, the transports the daemons' providers speak.
pub fn http_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let text = String::deserialize(deserializer)?;
    let url = Url::parse(&text)
        .map_err(|error| D::Error::custom(format!("`{text}` is not a URL: {error}")))?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err(D::Error::custom(format!(
            "`{text}` is not an http:// or https:// URL"
        )))
    }
}

/// Reads and deserializes a TOML file; a bad value's error names its dotted key path.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ChainError> {
    let text = std::fs::read_to_string(path).map_err(|source| ChainError::ConfigRead {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(path, &text)
}

fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ChainError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|error| ChainError::ConfigValue {
            path: path.to_owned(),
            key: ".".into(),
            message: error.message().to_owned(),
        })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| ChainError::ConfigValue {
        path: path.to_owned(),
        key: error.path().to_string(),
        message: error.inner().message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        rpc_url: String,
        chain: ChainSection,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ChainSection {
        confirmations: u64,
        #[serde(with = "humantime_serde")]
        poll_interval: Duration,
    }

    fn parse(text: &str) -> Result<Sample, ChainError> {
        parse_toml(Path::new("sample.toml"), text)
    }

    #[test]
    fn parses_a_good_file() {
        let sample = parse(
            "rpc_url = \"http://127.0.0.1:8545\"\n[chain]\nconfirmations = 2\npoll_interval = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(sample.rpc_url, "http://127.0.0.1:8545");
        assert_eq!(sample.chain.confirmations, 2);
        assert_eq!(sample.chain.poll_interval, Duration::from_secs(5));
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let error = parse("rpc_url = \"x\"\n[chain]\nconfirmations = -3\npoll_interval = \"5s\"\n")
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("key `chain.confirmations`"), "{text}");
        assert!(text.contains("sample.toml"), "{text}");
    }

    #[test]
    fn a_bad_duration_names_its_key() {
        let error =
            parse("rpc_url = \"x\"\n[chain]\nconfirmations = 1\npoll_interval = \"soon\"\n")
                .unwrap_err();
        assert!(
            error.to_string().contains("key `chain.poll_interval`"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error = parse(
            "rpc_url = \"x\"\nrpc_ulr = \"y\"\n[chain]\nconfirmations = 1\npoll_interval = \"1s\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("rpc_ulr"), "{error}");
    }

    #[test]
    fn broken_toml_is_reported() {
        let error = parse("rpc_url = \n").unwrap_err();
        assert!(matches!(error, ChainError::ConfigValue { .. }), "{error}");
    }

    #[test]
    fn a_key_section_loads_its_keystore_relative_to_the_base() {
        let dir = tempfile::tempdir().unwrap();
        let created = crate::create_keystore(&dir.path().join("keys/meter.json"), "pw").unwrap();
        // SAFETY: no other test reads this variable.
        unsafe { std::env::set_var("COGRID_CONFIG_TEST_PASSWORD", "pw") };
        let key = KeyConfig {
            keystore: "keys/meter.json".into(),
            password_env: "COGRID_CONFIG_TEST_PASSWORD".into(),
        };
        assert!(key.check("meters[0]").is_ok());
        assert_eq!(
            key.load_signer(dir.path()).unwrap().address(),
            created.address()
        );
        let unset = KeyConfig {
            password_env: "COGRID_CONFIG_TEST_UNSET".into(),
            ..key.clone()
        };
        assert!(
            unset
                .load_signer(dir.path())
                .unwrap_err()
                .to_string()
                .contains("COGRID_CONFIG_TEST_UNSET")
        );
        let bad = KeyConfig {
            password_env: "A=B".into(),
            ..key
        };
        let broken = bad.check("meters[0]").unwrap_err();
        assert_eq!(broken.key, "meters[0].password_env");
        assert!(
            broken
                .in_file(Path::new("x.toml"))
                .to_string()
                .contains("key `meters[0].password_env`")
        );
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = load_toml::<Sample>(Path::new("/nonexistent/cogrid.toml")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/cogrid.toml"),
            "{error}"
        );
    }
}
