use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ChainError;

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
    fn a_missing_file_names_the_path() {
        let error = load_toml::<Sample>(Path::new("/nonexistent/cogrid.toml")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/cogrid.toml"),
            "{error}"
        );
    }
}
