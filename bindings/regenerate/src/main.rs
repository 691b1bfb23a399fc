//! Regenerates `bindings/artifacts/*.json` (abi + bytecode of the deployable contracts) by
//! compiling `contracts/` with foundry-compilers and the offline `contracts/bin/solc`.
//!
//! `regenerate-bindings` rewrites the artifacts; `regenerate-bindings --check` only compares and
//! exits non-zero when a committed artifact differs from what the sources compile to.
//! Compiler settings come from `contracts/foundry.toml`, so forge and the bindings agree.

use std::path::{Path, PathBuf};

use eyre::{WrapErr, bail, eyre};
use foundry_compilers::{
    ProjectBuilder, ProjectPathsConfig,
    artifacts::{
        BytecodeHash, EvmVersion, Remapping, Settings, SettingsMetadata,
        solc::{BytecodeObject, ConfigurableContractArtifact},
    },
    solc::{Solc, SolcCompiler, SolcLanguage, SolcSettings},
};
use serde::Deserialize;

/// The contracts a deployment needs; their artifacts are what the bindings are generated from.
const DEPLOYABLE: &[&str] = &[
    "EnergyMarket",
    "EnergyCredit",
    "CarbonCredit",
    "MockStablecoin",
    "OracleHub",
    "OracleFeed",
    "EnergyAmm",
    "VppDispatch",
];

#[derive(Deserialize)]
struct FoundryToml {
    profile: Profiles,
}

#[derive(Deserialize)]
struct Profiles {
    default: Profile,
}

#[derive(Deserialize)]
struct Profile {
    src: String,
    evm_version: String,
    optimizer: bool,
    optimizer_runs: usize,
    #[serde(default)]
    via_ir: bool,
    bytecode_hash: String,
    remappings: Vec<String>,
}

fn main() -> eyre::Result<()> {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("unknown argument `{other}`; usage: regenerate-bindings [--check]"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("bindings/regenerate is two levels deep");
    let contracts = root.join("contracts");
    let out_dir = root.join("bindings/artifacts");

    let artifacts = compile(&contracts)?;
    let mut drifted = Vec::new();
    for name in DEPLOYABLE {
        let artifact = artifacts
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, artifact)| artifact)
            .ok_or_else(|| eyre!("contract {name} was not found in contracts/src"))?;
        let rendered = render(name, artifact)?;
        let path = out_dir.join(format!("{name}.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == rendered {
            continue;
        }
        if check {
            drifted.push(path);
        } else {
            std::fs::create_dir_all(&out_dir)?;
            std::fs::write(&path, rendered)
                .wrap_err_with(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if !drifted.is_empty() {
        let list: Vec<String> = drifted
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        bail!(
            "bindings drifted from contracts/src: {}\nrun `make bindings` and commit the result",
            list.join(", ")
        );
    }
    if check {
        println!(
            "bindings match contracts/src ({} artifacts)",
            DEPLOYABLE.len()
        );
    }
    Ok(())
}

fn compile(contracts: &Path) -> eyre::Result<Vec<(String, ConfigurableContractArtifact)>> {
    let foundry_toml = contracts.join("foundry.toml");
    let text = std::fs::read_to_string(&foundry_toml)
        .wrap_err_with(|| format!("reading {}", foundry_toml.display()))?;
    let profile = toml::from_str::<FoundryToml>(&text)
        .wrap_err_with(|| format!("parsing {}", foundry_toml.display()))?
        .profile
        .default;

    let remappings = profile
        .remappings
        .iter()
        .map(|text| {
            text.parse::<Remapping>()
                .map_err(|error| eyre!("remapping `{text}`: {error}"))
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    let paths = ProjectPathsConfig::builder()
        .sources(contracts.join(&profile.src))
        .remappings(remappings)
        .build_with_root::<SolcLanguage>(contracts);

    let mut settings = Settings::default();
    settings.optimizer.enabled = Some(profile.optimizer);
    settings.optimizer.runs = Some(profile.optimizer_runs);
    settings.via_ir = Some(profile.via_ir);
    settings.evm_version = Some(
        profile
            .evm_version
            .parse::<EvmVersion>()
            .map_err(|error| eyre!("evm_version: {error}"))?,
    );
    let bytecode_hash = profile
        .bytecode_hash
        .parse::<BytecodeHash>()
        .map_err(|error| eyre!("bytecode_hash: {error}"))?;
    settings.metadata = Some(SettingsMetadata::new(bytecode_hash, true));

    let solc_path: PathBuf = std::env::var_os("SOLC")
        .map(PathBuf::from)
        .unwrap_or_else(|| contracts.join("bin/solc"));
    let solc = Solc::new(&solc_path)
        .wrap_err_with(|| format!("running {} (run `make install` first)", solc_path.display()))?;
    let project = ProjectBuilder::<SolcCompiler>::default()
        .paths(paths)
        .settings(SolcSettings {
            settings,
            ..Default::default()
        })
        .ephemeral()
        .offline()
        .no_artifacts()
        .build(SolcCompiler::Specific(solc))?;
    let output = project.compile()?;
    if output.has_compiler_errors() {
        bail!("contracts do not compile:\n{output}");
    }
    Ok(output
        .into_artifacts()
        .map(|(id, artifact)| (id.name, artifact))
        .collect())
}

/// The committed form: abi, creation and runtime bytecode, pretty-printed with a trailing newline
/// so diffs stay readable.
fn render(name: &str, artifact: &ConfigurableContractArtifact) -> eyre::Result<String> {
    let abi = artifact
        .abi
        .as_ref()
        .ok_or_else(|| eyre!("{name} has no abi"))?;
    let hex = |object: Option<&BytecodeObject>| -> eyre::Result<String> {
        match object {
            Some(BytecodeObject::Bytecode(bytes)) => Ok(bytes.to_string()),
            Some(BytecodeObject::Unlinked(_)) => bail!("{name} needs library linking"),
            None => bail!("{name} has no bytecode"),
        }
    };
    let creation = hex(artifact.bytecode.as_ref().map(|code| &code.object))?;
    let runtime = hex(artifact
        .deployed_bytecode
        .as_ref()
        .and_then(|code| code.bytecode.as_ref())
        .map(|code| &code.object))?;
    let json = serde_json::json!({ "abi": abi, "bytecode": creation, "deployedBytecode": runtime });
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}
