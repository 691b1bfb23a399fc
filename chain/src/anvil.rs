use std::path::{Path, PathBuf};

use crate::ChainError;

/// The checkout's root, where `contracts/` lives: `$COGRID_ROOT` when set, else the directory this
/// crate was built from (so tests and `cargo run` find the npm-installed toolchain).
pub fn workspace_root() -> PathBuf {
    std::env::var_os("COGRID_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("chain/ has a parent")
                .to_owned()
        })
}

/// The anvil binary: `$COGRID_ANVIL`, else the one npm installed under `contracts/node_modules`,
/// else `anvil` on `$PATH`. Errs with what to run when there is none.
pub fn anvil_binary() -> Result<PathBuf, ChainError> {
    if let Some(path) = std::env::var_os("COGRID_ANVIL") {
        return Ok(PathBuf::from(path));
    }
    let bundled = workspace_root()
        .join("contracts/node_modules/@foundry-rs")
        .join(format!("anvil-{}", npm_platform()))
        .join("bin/anvil");
    if bundled.is_file() {
        return Ok(bundled);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("anvil"))
            .find(|path| path.is_file())
    });
    on_path.ok_or(ChainError::AnvilMissing { looked_at: bundled })
}

/// The platform suffix of foundry's npm packages (`linux-amd64`, `darwin-arm64`, ...).
fn npm_platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{os}-{arch}")
}
