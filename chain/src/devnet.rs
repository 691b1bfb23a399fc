//! Deploying the contract suite, and a local L2 devnet (anvil `--network optimism`) for the demo
//! and the end-to-end tests.

use std::path::Path;

use alloy::{
    network::{Ethereum, EthereumWallet},
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256, aliases::U40},
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::{
    CarbonCredit, EnergyAmm, EnergyCredit, EnergyMarket, MockStablecoin, VppDispatch,
};
use serde::{Deserialize, Serialize};

use crate::{ChainError, anvil_binary, oracle::deploy_oracle};

/// Parameters of a new deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuiteParams {
    /// Length of a trading interval in seconds.
    pub interval_seconds: u32,
    /// How old a reading may be when it arrives, in seconds.
    pub acceptance_window: u64,
    /// Grid carbon intensity the co-op sets until the oracle provides it (gCO2e/kWh).
    pub carbon_intensity: u16,
    /// The pool's swap fee in basis points of the amount in (at most 1000), fixed for its life.
    pub amm_fee_bps: u16,
}

impl Default for SuiteParams {
    fn default() -> Self {
        Self {
            interval_seconds: 900,
            acceptance_window: 2 * 86_400,
            carbon_intensity: 400,
            // `script/Deploy.s.sol`'s `AMM_FEE_BPS` default, Uniswap v2's fee.
            amm_fee_bps: 30,
        }
    }
}

/// Where a deployment lives; written to `deployments/<chainId>.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain.
    pub chain_id: u64,
    /// EnergyMarket: the vault, orders and settlement, and the meter registry that readings are
    /// submitted to (one contract).
    pub market: Address,
    /// EnergyCredit (1 unit = 1 Wh).
    pub energy_credit: Address,
    /// CarbonCredit (1 unit = 1 g CO2e).
    pub carbon_credit: Address,
    /// The stablecoin (a mock on devnets).
    pub stablecoin: Address,
    /// OracleHub: the outside data (spot price, irradiance, temperature, carbon intensity) as
    /// rounds of reporters' signed observations.
    pub oracle_hub: Address,
    /// An `OracleFeed` (Chainlink `AggregatorV3Interface`) over each of the hub's feeds, indexed
    /// by feed id: `SPOT_PRICE`, `SOLAR_IRRADIANCE`, `TEMPERATURE`, `CARBON_INTENSITY`.
    pub oracle_feeds: [Address; 4],
    /// EnergyAmm: the constant-product pool of energy credits against the stablecoin, trading
    /// vault balances of the market (a participant of it, and its `amm()`).
    pub energy_amm: Address,
    /// VppDispatch: the market's grid operators' virtual power plant events, paid from escrowed
    /// stablecoin for the delivery meters' signed readings prove.
    pub vpp_dispatch: Address,
    /// Block the suite was deployed in; indexers start here.
    pub deployed_at_block: u64,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, ChainError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChainError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|error| ChainError::ConfigValue {
            path: path.to_owned(),
            key: ".".into(),
            message: error.to_string(),
        })
    }

    /// Writes the deployment file, creating its directory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_string_pretty(self).expect("plain struct") + "\n",
        )
    }
}

/// Deploys MockStablecoin, EnergyCredit, CarbonCredit and EnergyMarket from `provider`'s wallet,
/// which must be `admin`'s (the co-op admin), and lets the market mint both credits; then
/// OracleHub with its feeds configured ([`crate::FEED_RULES`]) and an `OracleFeed` per feed, as
/// `script/Deploy.s.sol` does, and the EnergyAmm pool, registered as a participant of the market
/// and set as its pool, and VppDispatch over the market. The hub has no reporters yet:
/// [`crate::grant_reporters`].
pub async fn deploy_suite(
    provider: &DynProvider,
    admin: Address,
    params: SuiteParams,
) -> Result<Deployment, ChainError> {
    let failed = |what: &'static str| {
        move |error: alloy::contract::Error| ChainError::Deploy {
            what,
            message: error.to_string(),
        }
    };
    let unreachable = |error: alloy::transports::TransportError| ChainError::RpcUnreachable {
        url: "the deployment provider".into(),
        message: error.to_string(),
    };
    let acceptance_window =
        U40::try_from(params.acceptance_window).map_err(|_| ChainError::Deploy {
            what: "EnergyMarket",
            message: format!(
                "an acceptance window of {} s does not fit in uint40",
                params.acceptance_window
            ),
        })?;
    let chain_id = provider.get_chain_id().await.map_err(unreachable)?;
    // Indexers start at the first block that can hold a deployment: the constructors' events
    // (roles, initial parameters) are in it or after it.
    let deployed_at_block = provider.get_block_number().await.map_err(unreachable)? + 1;
    let stablecoin = MockStablecoin::deploy(provider.clone(), admin)
        .await
        .map_err(failed("MockStablecoin"))?;
    let energy = EnergyCredit::deploy(provider.clone(), admin)
        .await
        .map_err(failed("EnergyCredit"))?;
    let carbon = CarbonCredit::deploy(provider.clone(), admin)
        .await
        .map_err(failed("CarbonCredit"))?;
    let market = EnergyMarket::deploy(
        provider.clone(),
        admin,
        *stablecoin.address(),
        *energy.address(),
        *carbon.address(),
        params.interval_seconds,
        acceptance_window,
        params.carbon_intensity,
    )
    .await
    .map_err(failed("EnergyMarket"))?;
    let minter = energy
        .MINTER_ROLE()
        .call()
        .await
        .map_err(failed("EnergyCredit.MINTER_ROLE"))?;
    confirm(
        "EnergyCredit.grantRole",
        energy.grantRole(minter, *market.address()).send().await,
    )
    .await?;
    let minter = carbon
        .MINTER_ROLE()
        .call()
        .await
        .map_err(failed("CarbonCredit.MINTER_ROLE"))?;
    confirm(
        "CarbonCredit.grantRole",
        carbon.grantRole(minter, *market.address()).send().await,
    )
    .await?;
    let pool = EnergyAmm::deploy(
        provider.clone(),
        *market.address(),
        U256::from(params.amm_fee_bps),
    )
    .await
    .map_err(failed("EnergyAmm"))?;
    confirm(
        "EnergyMarket.registerParticipant(pool)",
        market.registerParticipant(*pool.address()).send().await,
    )
    .await?;
    confirm(
        "EnergyMarket.setAmm",
        market.setAmm(*pool.address()).send().await,
    )
    .await?;
    let vpp = VppDispatch::deploy(provider.clone(), *market.address(), *stablecoin.address())
        .await
        .map_err(failed("VppDispatch"))?;
    let (oracle_hub, oracle_feeds) = deploy_oracle(provider, admin).await?;
    Ok(Deployment {
        chain_id,
        market: *market.address(),
        energy_credit: *energy.address(),
        carbon_credit: *carbon.address(),
        stablecoin: *stablecoin.address(),
        oracle_hub,
        oracle_feeds,
        energy_amm: *pool.address(),
        vpp_dispatch: *vpp.address(),
        deployed_at_block,
    })
}

/// Waits for a sent transaction and fails when it reverted.
pub(crate) async fn confirm(
    what: &'static str,
    sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
) -> Result<(), ChainError> {
    let deploy_error = |message: String| ChainError::Deploy { what, message };
    let receipt = sent
        .map_err(|error| deploy_error(error.to_string()))?
        .get_receipt()
        .await
        .map_err(|error| deploy_error(error.to_string()))?;
    if receipt.status() {
        Ok(())
    } else {
        Err(deploy_error(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )))
    }
}

/// A local L2 devnet: anvil with Optimism's network features on a free loopback port.
#[derive(Debug)]
pub struct Devnet {
    /// A provider whose wallet is anvil's first funded account (the co-op admin). Declared
    /// before the node so that it is dropped first: its block poller must not outlive anvil.
    pub admin: DynProvider,
    /// The admin's key.
    pub admin_key: PrivateKeySigner,
    /// The running node; it stops when this is dropped.
    pub anvil: AnvilInstance,
    /// Where anvil writes the states of the blocks it no longer keeps in memory; removed after
    /// the node stops. anvil cleans its default place (`~/.foundry/anvil/tmp`) only when it
    /// exits by itself, and a dropped instance is killed: each run left its states there, some
    /// hundreds of megabytes for a simulated day.
    _state_cache: tempfile::TempDir,
}

impl Devnet {
    /// Starts anvil (`--network optimism`, a block per transaction) on 127.0.0.1 and connects
    /// to it.
    pub fn start() -> Result<Self, ChainError> {
        Self::start_with_args(&[])
    }

    /// Like [`Devnet::start`] with extra anvil arguments.
    pub fn start_with_args(extra: &[&str]) -> Result<Self, ChainError> {
        Self::start_on_port(0, extra)
    }

    /// Like [`Devnet::start_with_args`] on `port` of 127.0.0.1 (0: a free one). The port is not
    /// an extra argument: anvil refuses a second `--port`.
    pub fn start_on_port(port: u16, extra: &[&str]) -> Result<Self, ChainError> {
        let binary = anvil_binary()?;
        let state_cache = tempfile::Builder::new()
            .prefix("cogrid-anvil-states-")
            .tempdir()
            .map_err(|error| ChainError::AnvilStart {
                message: format!("creating a directory for its states: {error}"),
            })?;
        let anvil = Anvil::at(binary)
            .host("127.0.0.1")
            .port(port)
            .args(["--network", "optimism", "--chain-id", "31337"])
            .arg("--cache-path")
            .arg(state_cache.path().as_os_str())
            .args(extra.iter().copied())
            .try_spawn()
            .map_err(|error| ChainError::AnvilStart {
                message: error.to_string(),
            })?;
        let admin_key = PrivateKeySigner::from(anvil.keys()[0].clone());
        let admin = ProviderBuilder::new()
            .wallet(EthereumWallet::from(admin_key.clone()))
            .connect_http(anvil.endpoint_url())
            .erased();
        Ok(Self {
            anvil,
            admin,
            admin_key,
            _state_cache: state_cache,
        })
    }

    /// The i-th funded dev account's key (0 is the admin).
    pub fn funded_key(&self, index: usize) -> PrivateKeySigner {
        PrivateKeySigner::from(self.anvil.keys()[index].clone())
    }

    /// The HTTP endpoint.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// Moves the chain's clock `seconds` ahead and mines a block at the new time, so that what
    /// waits on time (the acceptance window, a closed interval) can happen without waiting.
    pub async fn advance_time(&self, seconds: u64) -> Result<(), ChainError> {
        let failed = |error: alloy::transports::TransportError| ChainError::RpcUnreachable {
            url: self.rpc_url(),
            message: error.to_string(),
        };
        self.admin
            .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
            .await
            .map_err(failed)?;
        self.admin
            .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await
            .map_err(failed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_file_round_trips_and_names_every_contract() {
        let deployment = Deployment {
            chain_id: 10,
            market: Address::repeat_byte(1),
            energy_credit: Address::repeat_byte(2),
            carbon_credit: Address::repeat_byte(3),
            stablecoin: Address::repeat_byte(4),
            oracle_hub: Address::repeat_byte(5),
            oracle_feeds: [6, 7, 8, 9].map(Address::repeat_byte),
            energy_amm: Address::repeat_byte(10),
            vpp_dispatch: Address::repeat_byte(11),
            deployed_at_block: 12,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployments/10.json");
        deployment.save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), deployment);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["oracleHub"], Address::repeat_byte(5).to_string());
        assert_eq!(json["oracleFeeds"][3], Address::repeat_byte(9).to_string());
        assert_eq!(
            json["energyAmm"].as_str().map(str::parse::<Address>),
            Some(Ok(Address::repeat_byte(10)))
        );
        assert_eq!(
            json["vppDispatch"].as_str().map(str::parse::<Address>),
            Some(Ok(Address::repeat_byte(11)))
        );
    }

    /// Writes a deployment file with `fields` (JSON members) and returns what loading it says.
    fn load_error(fields: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("10.json");
        let zero = Address::ZERO;
        std::fs::write(
            &path,
            format!(
                "{{\"chainId\": 10, \"market\": \"{zero}\", \"energyCredit\": \"{zero}\", \
                 \"carbonCredit\": \"{zero}\", \"stablecoin\": \"{zero}\", {fields} \
                 \"deployedAtBlock\": 1}}"
            ),
        )
        .unwrap();
        Deployment::load(&path).unwrap_err().to_string()
    }

    #[test]
    fn a_deployment_file_from_before_the_pool_is_refused_naming_it() {
        let zero = Address::ZERO;
        let error = load_error(&format!(
            "\"oracleHub\": \"{zero}\", \"oracleFeeds\": [\"{zero}\", \"{zero}\", \"{zero}\", \
             \"{zero}\"],"
        ));
        assert!(error.contains("energyAmm"), "{error}");
    }

    #[test]
    fn a_deployment_file_from_before_vpp_dispatch_is_refused_naming_it() {
        let zero = Address::ZERO;
        let error = load_error(&format!(
            "\"oracleHub\": \"{zero}\", \"oracleFeeds\": [\"{zero}\", \"{zero}\", \"{zero}\", \
             \"{zero}\"], \"energyAmm\": \"{zero}\","
        ));
        assert!(error.contains("vppDispatch"), "{error}");
    }

    #[test]
    fn a_deployment_file_from_before_the_oracle_is_refused_naming_the_hub() {
        let error = load_error("");
        assert!(error.contains("oracleHub"), "{error}");
    }
}
