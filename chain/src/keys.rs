use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;

use crate::ChainError;

/// Reads a keystore password from the environment variable `var`.
pub fn password_from_env(var: &str) -> Result<String, ChainError> {
    std::env::var(var).map_err(|_| ChainError::PasswordMissing(var.to_owned()))
}

/// Decrypts an Ethereum v3 keystore file.
pub fn load_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner, ChainError> {
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|error| ChainError::Keystore {
        path: path.to_owned(),
        message: error.to_string(),
    })
}

/// Creates a new random key in a v3 keystore file at `path` (its parent directory is created).
/// Refuses to overwrite an existing file, which may hold the only copy of a meter's key.
pub fn create_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner, ChainError> {
    let keystore_error = |message: String| ChainError::Keystore {
        path: path.to_owned(),
        message,
    };
    if path.exists() {
        return Err(keystore_error(
            "already exists; refusing to overwrite a key".into(),
        ));
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|error| keystore_error(error.to_string()))?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| keystore_error("the file name is not valid UTF-8".into()))?;
    let (signer, _uuid) =
        PrivateKeySigner::new_keystore(&dir, &mut rand::thread_rng(), password, Some(name))
            .map_err(|error| keystore_error(error.to_string()))?;
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_keystore_decrypts_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/meter.json");
        let created = create_keystore(&path, "correct horse").unwrap();
        let loaded = load_keystore(&path, "correct horse").unwrap();
        assert_eq!(created.address(), loaded.address());
    }

    #[test]
    fn a_wrong_password_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.json");
        create_keystore(&path, "right").unwrap();
        let error = load_keystore(&path, "wrong").unwrap_err();
        assert!(error.to_string().contains("meter.json"), "{error}");
    }

    #[test]
    fn an_existing_keystore_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.json");
        let first = create_keystore(&path, "pw").unwrap();
        assert!(create_keystore(&path, "pw").is_err());
        assert_eq!(
            load_keystore(&path, "pw").unwrap().address(),
            first.address()
        );
    }
}
