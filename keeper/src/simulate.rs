//! Simulating a settlement batch on a revm fork of the chain's latest block, before it is sent.
//!
//! The keeper simulates each `EnergyMarket.settle` batch to (a) drop the fills that would revert,
//! with the reason the contract gives ([`SettleSimulation::Reverted`] decodes it into
//! [`EnergyMarket::EnergyMarketErrors`], and [`OffendingMeter::offending_meter`] names the meter to
//! drop before clearing again), and (b) measure its gas, so that each transaction stays under the
//! per-transaction gas cap of [`TX_GAS_CAP`] (EIP-7825).
//!
//! [`Simulator::fork_latest`] pins the latest block (number, hash, timestamp, base fee, gas limit,
//! prevrandao, coinbase) and the chain id, and reads the chain's state at that block through revm's
//! `AlloyDB` under a `CacheDB`: each account and storage slot is fetched over RPC once, the first
//! time a simulation touches it, and served from memory afterwards. A simulation never commits its
//! state changes, so every simulation starts from the forked block. Before the fork's first
//! simulation, the slots the node's `eth_createAccessList` names for the call are fetched a few at
//! a time, so that the EVM does not wait for them one round trip after another.
//!
//! `AlloyDB` answers the EVM's synchronous reads by blocking on async RPC calls, so the EVM runs on
//! tokio's blocking pool ([`tokio::task::spawn_blocking`]) and the async API never blocks a runtime
//! worker. Fork and simulate within the same tokio runtime; the keeper's is multi-threaded, and
//! so are the tests.
//!
//! # Gas
//!
//! The `gas_used` reported is the gas a receipt of the same transaction would show: the intrinsic
//! 21,000, the calldata and the execution, less the refund (capped at a fifth), and at least the
//! EIP-7623 calldata floor. It is what counts against the cap. It is not `eth_estimateGas`, which
//! answers the smallest gas *limit* that succeeds and is a little higher (the 63/64 rule, refunds).
//! An L2's L1 data fee is paid in ETH on top and is not gas.
//!
//! # Fees and nonces
//!
//! The simulated transaction pays no gas price and skips the nonce check, like `eth_call`: it tests
//! what the contract would do, not whether the keeper's account can pay (the sender manages fees
//! and nonces). The block's base fee is still pinned, for any contract that reads `BASEFEE`.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    network::{Ethereum, TransactionBuilder as _},
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolInterface},
    transports::TransportError,
};
use cogrid_bindings::EnergyMarket::{self, EnergyMarketErrors};
use futures::StreamExt as _;
use revm::{
    ExecuteEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv, Context, TxEnv,
        result::{EVMError, ExecutionResult},
    },
    context_interface::block::BlobExcessGasAndPrice,
    database::{AlloyDB, AlloyDBError, CacheDB},
    database_interface::{AsyncError, WrapDatabaseAsync},
    primitives::{eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE, hardfork::SpecId},
};
use tracing::debug;

/// The most gas one transaction may use: 2^24 = 16,777,216 (EIP-7825). A settlement batch whose
/// simulated gas is above it must be split.
pub const TX_GAS_CAP: u64 = 1 << 24;

/// Why a simulation could not run. A transaction that reverts or halts is not an error: it is a
/// [`Simulation`] result.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// A JSON-RPC call made to pin the fork failed.
    #[error("the node did not answer {call} while forking the latest block: {source}")]
    Rpc {
        /// The JSON-RPC method.
        call: &'static str,
        /// What the transport or the node said.
        #[source]
        source: TransportError,
    },
    /// The fork was asked for outside a tokio runtime, which its state reads need.
    #[error("the simulator must be created within a tokio runtime")]
    NoRuntime,
    /// The node answered `eth_getBlockByNumber("latest")` with no block.
    #[error("the node returned no latest block: is it still starting?")]
    NoLatestBlock,
    /// Fetching the forked block's state (an account, its code or a storage slot) from the node
    /// failed during a simulation; the simulation is void, not a revert.
    #[error(
        "fetching the state of block {block} for the simulation failed: {source}; if the node is \
         up, it may have dropped the block (a reorg, pruning): fork again"
    )]
    Database {
        /// The forked block's number.
        block: u64,
        /// The fetch that failed.
        #[source]
        source: AsyncError<AlloyDBError>,
    },
    /// The EVM refused the transaction or the block before running it (for example a gas limit
    /// above the block's gas limit).
    #[error("the EVM refused the simulated transaction: {message}")]
    Invalid {
        /// What the EVM said.
        message: String,
    },
    /// The task running the EVM panicked or was cancelled (the runtime is shutting down); after
    /// a panic the simulator refuses further simulations.
    #[error("the simulation task failed: {message}")]
    Task {
        /// What happened to the task.
        message: String,
    },
}

/// What a simulated transaction did. Its state changes are thrown away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Simulation {
    /// It succeeded and used `gas_used` (what its receipt would show, see the module docs).
    Success {
        /// Gas used, intrinsic and calldata gas included.
        gas_used: u64,
    },
    /// It reverted (`REVERT`) with `output`, the ABI-encoded error.
    Revert {
        /// Gas used up to the revert, intrinsic and calldata gas included.
        gas_used: u64,
        /// The revert data.
        output: Bytes,
    },
    /// It halted (out of gas, an invalid opcode, a stack overflow...) and used all its gas.
    Halt {
        /// revm's halt reason.
        reason: String,
    },
}

/// What a simulated `EnergyMarket.settle` batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleSimulation {
    /// The batch settles; `gas_used` is what its receipt would show. Compare it with
    /// [`TX_GAS_CAP`] before sending.
    Ok {
        /// Gas used, intrinsic and calldata gas included.
        gas_used: u64,
    },
    /// The batch reverts: `error` is the market's error when the revert data decodes as one
    /// (see [`OffendingMeter`] for the fill to drop), `raw` the revert data as returned.
    Reverted {
        /// The decoded error, `None` when the data is not one of the market's errors.
        error: Option<EnergyMarketErrors>,
        /// The revert data.
        raw: Bytes,
    },
    /// The batch halted, which a settle batch only does when it runs out of gas: it was simulated
    /// with the block's gas limit, so it is too big for any transaction and must be split.
    Halted {
        /// revm's halt reason.
        reason: String,
    },
}

/// The meter a fill-level settle error names, so that the keeper can drop its fill and clear the
/// interval again.
pub trait OffendingMeter {
    /// The meter whose fill made the batch revert; `None` for an error about the whole batch
    /// (the interval, the price, the balance of the batch, the keeper's role).
    fn offending_meter(&self) -> Option<Address>;
}

impl OffendingMeter for EnergyMarketErrors {
    fn offending_meter(&self) -> Option<Address> {
        use EnergyMarketErrors as E;
        match self {
            E::MarketNoAttestedVolume(e) => Some(e.meter),
            E::MarketFillAboveAttested(e) => Some(e.meter),
            E::MarketFillAboveCap(e) => Some(e.meter),
            E::MarketOrderNotLive(e) => Some(e.meter),
            E::MarketOrderDoesNotSell(e) => Some(e.meter),
            E::MarketOrderDoesNotBuy(e) => Some(e.meter),
            E::MarketPriceBelowFloor(e) => Some(e.meter),
            E::MarketPriceAboveCeiling(e) => Some(e.meter),
            E::MarketInsufficientBalance(e) => Some(e.meter),
            E::MarketSelfTrade(e) => Some(e.meter),
            E::MarketParticipantNotActive(e) => Some(e.meter),
            E::MarketZeroFill(e) => Some(e.meter),
            E::MarketFillsNotSorted(e) => Some(e.meter),
            _ => None,
        }
    }
}

/// Storage slots read at once by [`Simulator::prefetch`].
const PREFETCH_READS_IN_FLIGHT: usize = 16;

/// The chain's state at the forked block, fetched on demand and cached.
type ForkDb = CacheDB<WrapDatabaseAsync<AlloyDB<Ethereum, DynProvider>>>;

/// A revm fork of one block of the chain, on which transactions are simulated without being sent.
///
/// Cloning is not offered: the fetched state is shared by the simulations of one simulator, and a
/// fork of a later block is a new simulator.
pub struct Simulator {
    /// The fetched state, locked by one simulation at a time on a blocking thread, where an EVM
    /// (which cannot move between threads) is built around it and gives it back. Behind an `Arc`
    /// so that a simulation whose future is dropped finishes on its thread and leaves the fork
    /// intact; `None` only after a simulation panicked.
    db: Arc<Mutex<Option<ForkDb>>>,
    /// The node, asked which storage a simulation will read (see [`Simulator::prefetch`]).
    provider: DynProvider,
    /// Whether a simulation has warmed the cache already: only the first one prefetches.
    prefetched: bool,
    /// The EVM's rules: spec, chain id, and the checks an `eth_call`-like simulation skips.
    cfg: CfgEnv,
    /// The block environment simulations run in; only its timestamp may change.
    block: BlockEnv,
    /// The forked block's hash.
    block_hash: B256,
    /// The forked block's own timestamp.
    forked_timestamp: u64,
    /// The chain id.
    chain_id: u64,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("chain_id", &self.chain_id)
            .field("block_number", &self.block_number())
            .field("block_hash", &self.block_hash)
            .field("timestamp", &self.timestamp())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Forks the chain at its latest block, with the Prague rules (Optimism's Isthmus executes
    /// like Prague; see [`Simulator::with_spec`]). Must be called within a tokio runtime: the
    /// fork's state reads run on it, so the simulator must be used within the same runtime.
    pub async fn fork_latest(provider: DynProvider) -> Result<Self, SimulateError> {
        Self::fork_latest_with_spec(provider, SpecId::PRAGUE).await
    }

    /// Like [`Simulator::fork_latest`] with the EVM rules of `spec`.
    pub async fn fork_latest_with_spec(
        provider: DynProvider,
        spec: SpecId,
    ) -> Result<Self, SimulateError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| SimulateError::NoRuntime)?;
        let rpc = |call: &'static str| move |source| SimulateError::Rpc { call, source };
        let chain_id = provider.get_chain_id().await.map_err(rpc("eth_chainId"))?;
        let latest = provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or(SimulateError::NoLatestBlock)?;
        let header = &latest.header;
        let block = BlockEnv {
            number: U256::from(header.number),
            beneficiary: header.beneficiary,
            timestamp: U256::from(header.timestamp),
            gas_limit: header.gas_limit,
            basefee: header.base_fee_per_gas.unwrap_or_default(),
            difficulty: header.difficulty,
            // After the merge the header's mix hash carries the beacon chain's randomness.
            prevrandao: Some(header.mix_hash),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                header.excess_blob_gas.unwrap_or_default(),
                BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            )),
            ..BlockEnv::default()
        };

        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = chain_id;
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        // The simulator measures; the keeper splits a batch above `TX_GAS_CAP`. Under Osaka rules
        // revm would refuse such a batch outright instead of saying how big it is.
        cfg.tx_gas_limit_cap = Some(u64::MAX);

        // State is read at the block's hash, not its number: after a reorg the reads fail (and
        // the keeper forks again) rather than mixing two chains' states.
        let db = AlloyDB::new(provider.clone(), BlockId::hash(header.hash));
        let db = CacheDB::new(WrapDatabaseAsync::with_handle(db, runtime));
        Ok(Self {
            db: Arc::new(Mutex::new(Some(db))),
            provider,
            prefetched: false,
            cfg,
            block,
            block_hash: header.hash,
            forked_timestamp: header.timestamp,
            chain_id,
        })
    }

    /// Simulates at `timestamp` instead of the forked block's timestamp, for a batch that will be
    /// mined later; the state stays the forked block's.
    pub fn with_timestamp(mut self, timestamp: u64) -> Self {
        self.set_timestamp(timestamp);
        self
    }

    /// Sets the timestamp later simulations run at (see [`Simulator::with_timestamp`]).
    pub fn set_timestamp(&mut self, timestamp: u64) {
        self.block.timestamp = U256::from(timestamp);
    }

    /// Simulates with the EVM rules of `spec` from now on; the default is Prague.
    pub fn with_spec(mut self, spec: SpecId) -> Self {
        self.cfg.set_spec_and_mainnet_gas_params(spec);
        self
    }

    /// The forked block's number.
    pub fn block_number(&self) -> u64 {
        self.block.number.saturating_to()
    }

    /// The forked block's hash.
    pub fn block_hash(&self) -> B256 {
        self.block_hash
    }

    /// The forked block's own timestamp.
    pub fn forked_timestamp(&self) -> u64 {
        self.forked_timestamp
    }

    /// The timestamp simulations run at.
    pub fn timestamp(&self) -> u64 {
        self.block.timestamp.saturating_to()
    }

    /// The forked block's gas limit, which bounds a simulated transaction's gas limit.
    pub fn block_gas_limit(&self) -> u64 {
        self.block.gas_limit
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Simulates a call of `to` with `calldata` sent by `from` with `gas_limit` (at most the
    /// block's gas limit), on the forked state, and throws its state changes away.
    pub async fn simulate(
        &mut self,
        from: Address,
        to: Address,
        calldata: Bytes,
        gas_limit: u64,
    ) -> Result<Simulation, SimulateError> {
        let tx = TxEnv::builder()
            .caller(from)
            .kind(TxKind::Call(to))
            .data(calldata)
            .gas_limit(gas_limit)
            .gas_price(0)
            .chain_id(Some(self.chain_id))
            .build()
            .map_err(|error| SimulateError::Invalid {
                message: format!("{error:?}"),
            })?;
        let prefetched = if self.prefetched {
            Vec::new()
        } else {
            self.prefetched = true;
            self.prefetch(&tx).await
        };
        let db = Arc::clone(&self.db);
        let cfg = self.cfg.clone();
        let block = self.block.clone();
        let block_number = self.block_number();
        let outcome = tokio::task::spawn_blocking(move || {
            let poisoned = || SimulateError::Task {
                message: "an earlier simulation panicked; fork again".into(),
            };
            let mut slot = db.lock().map_err(|_| poisoned())?;
            let mut fork = slot.take().ok_or_else(poisoned)?;
            let mut warmed = Ok(());
            for (address, index, value) in prefetched {
                warmed = fork.insert_account_storage(address, index, value);
                if warmed.is_err() {
                    break;
                }
            }
            if let Err(source) = warmed {
                *slot = Some(fork);
                return Err(SimulateError::Database {
                    block: block_number,
                    source,
                });
            }
            let mut evm = Context::mainnet()
                .with_db(fork)
                .with_cfg(cfg)
                .with_block(block)
                .build_mainnet();
            // `transact` leaves the state changes in its result, which is dropped: the cache
            // keeps only what was fetched.
            let outcome = evm.transact(tx);
            *slot = Some(evm.ctx.journaled_state.database);
            outcome
                .map(|outcome| outcome.result)
                .map_err(|error| match error {
                    EVMError::Database(source) => SimulateError::Database {
                        block: block_number,
                        source,
                    },
                    other => SimulateError::Invalid {
                        message: other.to_string(),
                    },
                })
        })
        .await
        .map_err(|error| SimulateError::Task {
            message: error.to_string(),
        })??;
        Ok(match outcome {
            ExecutionResult::Success { gas, .. } => Simulation::Success {
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Revert { gas, output, .. } => Simulation::Revert {
                gas_used: gas.tx_gas_used(),
                output,
            },
            ExecutionResult::Halt { reason, .. } => Simulation::Halt {
                reason: format!("{reason:?}"),
            },
        })
    }

    /// The storage `tx` will read, fetched from the node a few slots at a time: the node answers
    /// `eth_createAccessList` for the call at the forked block, and the slots it names are read
    /// concurrently. The EVM alone would read them one after another as it reaches each (a
    /// settlement batch of a hundred fills reads several hundred slots, a round trip each). Only a
    /// warm-up, for the fork's first simulation: the simulation runs on revm either way and
    /// fetches whatever is missing itself (a later batch's meters, or everything when the node
    /// lacks the method or says the call reverts).
    async fn prefetch(&self, tx: &TxEnv) -> Vec<(Address, U256, U256)> {
        let TxKind::Call(to) = tx.kind else {
            return Vec::new();
        };
        let request = TransactionRequest::default()
            .with_from(tx.caller)
            .with_to(to)
            .with_input(tx.data.clone())
            .with_gas_limit(tx.gas_limit);
        let at = BlockId::hash(self.block_hash);
        let listed = match self
            .provider
            .create_access_list(&request)
            .block_id(at)
            .await
        {
            Ok(listed) => listed,
            Err(error) => {
                debug!(%error, "no access list from the node; the simulation fetches as it goes");
                return Vec::new();
            }
        };
        let slots = listed.access_list.0.into_iter().flat_map(|item| {
            let address = item.address;
            item.storage_keys
                .into_iter()
                .map(move |key| (address, U256::from_be_bytes(key.0)))
        });
        let provider = &self.provider;
        // A slot whose read fails is left to the simulation, which reads it again itself.
        futures::stream::iter(slots)
            .map(|(address, index)| async move {
                match provider.get_storage_at(address, index).block_id(at).await {
                    Ok(value) => Some((address, index, value)),
                    Err(error) => {
                        debug!(%address, %index, %error, "prefetching a slot failed");
                        None
                    }
                }
            })
            .buffer_unordered(PREFETCH_READS_IN_FLIGHT)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// Simulates `keeper` sending the settle batch `call` to the market at `market`, with the
    /// block's gas limit, and decodes a revert into the market's errors.
    pub async fn simulate_settle(
        &mut self,
        keeper: Address,
        market: Address,
        call: &EnergyMarket::settleCall,
    ) -> Result<SettleSimulation, SimulateError> {
        let gas_limit = self.block.gas_limit;
        let simulation = self
            .simulate(keeper, market, call.abi_encode().into(), gas_limit)
            .await?;
        Ok(match simulation {
            Simulation::Success { gas_used } => SettleSimulation::Ok { gas_used },
            Simulation::Revert { output, .. } => SettleSimulation::Reverted {
                error: EnergyMarketErrors::abi_decode(&output).ok(),
                raw: output,
            },
            Simulation::Halt { reason } => SettleSimulation::Halted { reason },
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        network::EthereumWallet,
        primitives::aliases::{U40, U48},
        providers::{PendingTransactionBuilder, ProviderBuilder},
        rpc::types::TransactionReceipt,
        signers::local::PrivateKeySigner,
    };
    use cogrid_bindings::{IEnergyMarket, IMeterRegistry, MockStablecoin};
    use cogrid_chain::{
        Devnet, Fill, Reading, SuiteParams, deploy_suite, reading_domain, sign_reading,
    };

    use super::*;

    const INTERVAL: u64 = 900;
    const DEPOSIT: u64 = 10_000_000;
    const SELL_FLOOR: u64 = 50_000;
    const MARKETABLE: u8 = 1;

    /// Waits for a sent transaction and checks that it succeeded.
    async fn mined(
        sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
    ) -> TransactionReceipt {
        let receipt = sent.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "{} reverted", receipt.transaction_hash);
        receipt
    }

    fn signed(
        meter: &PrivateKeySigner,
        domain: &alloy::sol_types::Eip712Domain,
        seq: u32,
        interval_end: u64,
        import_wh: u64,
        export_wh: u64,
    ) -> IMeterRegistry::Reading {
        let reading =
            Reading::new(meter.address(), seq, interval_end, import_wh, export_wh).unwrap();
        let signed = sign_reading(meter, domain, &reading).unwrap();
        IMeterRegistry::Reading {
            meter: signed.meter,
            seq: signed.seq,
            intervalEnd: U40::from(signed.interval_end),
            importWh: U48::from(signed.import_wh),
            exportWh: U48::from(signed.export_wh),
            r: signed.r,
            vs: signed.vs,
        }
    }

    async fn latest_timestamp(provider: &DynProvider) -> u64 {
        provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// A deployed market with one seller meter that exported 1,000 Wh and one buyer meter that
    /// imported 1,200 Wh in the closed interval `t`, both marketable, and the admin as keeper.
    struct Fixture {
        devnet: Devnet,
        market: Address,
        seller_meter: Address,
        buyer: Address,
        buyer_meter: Address,
        t: u64,
    }

    impl Fixture {
        async fn start() -> Self {
            let devnet = Devnet::start()
                .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
            let admin = devnet.admin_key.address();
            let deployment = deploy_suite(&devnet.admin, admin, SuiteParams::default())
                .await
                .unwrap();
            let market = EnergyMarket::new(deployment.market, devnet.admin.clone());
            let as_owner = |key: &PrivateKeySigner| {
                ProviderBuilder::new()
                    .wallet(EthereumWallet::from(key.clone()))
                    .connect_http(devnet.anvil.endpoint_url())
                    .erased()
            };
            let (seller, buyer) = (devnet.funded_key(1), devnet.funded_key(2));
            let (seller_meter, buyer_meter) =
                (PrivateKeySigner::random(), PrivateKeySigner::random());
            let order = |sells: bool| IEnergyMarket::OrderParams {
                sells,
                sellFloor: if sells { SELL_FLOOR } else { 0 },
                buys: !sells,
                buyCeiling: if sells { 0 } else { 200_000 },
                capWh: 0,
                validFrom: U40::ZERO,
                validUntil: U40::ZERO,
                coverFromCredits: false,
            };
            for (owner, meter, sells) in [
                (&seller, &seller_meter, true),
                (&buyer, &buyer_meter, false),
            ] {
                mined(market.registerParticipant(owner.address()).send().await).await;
                let register = market.registerMeter(meter.address(), owner.address(), 1, 0, 5_000);
                mined(register.send().await).await;
                let as_owner = EnergyMarket::new(deployment.market, as_owner(owner));
                mined(
                    as_owner
                        .placeOrder(meter.address(), order(sells))
                        .send()
                        .await,
                )
                .await;
            }

            let deposit = U256::from(DEPOSIT);
            let stablecoin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
            mined(stablecoin.mint(buyer.address(), deposit).send().await).await;
            let stablecoin = MockStablecoin::new(deployment.stablecoin, as_owner(&buyer));
            mined(stablecoin.approve(deployment.market, deposit).send().await).await;
            let as_buyer = EnergyMarket::new(deployment.market, as_owner(&buyer));
            mined(as_buyer.deposit(0, deposit).send().await).await;

            // A baseline at the start of the interval that is open now, then, once it has closed,
            // the reading at its end, which makes its volumes marketable in it.
            let domain = reading_domain(deployment.chain_id, deployment.market);
            let now = latest_timestamp(&devnet.admin).await;
            let end = (now / INTERVAL + 1) * INTERVAL;
            let baselines = vec![
                signed(&seller_meter, &domain, 1, end - INTERVAL, 500, 10_000),
                signed(&buyer_meter, &domain, 1, end - INTERVAL, 20_000, 0),
            ];
            mined(market.submitReadings(baselines).send().await).await;
            devnet.advance_time(end - now + 1).await.unwrap();
            let readings = vec![
                signed(&seller_meter, &domain, 2, end, 500, 11_000),
                signed(&buyer_meter, &domain, 2, end, 21_200, 0),
            ];
            mined(market.submitReadings(readings).send().await).await;
            for meter in [&seller_meter, &buyer_meter] {
                let state = market.meterState(meter.address()).call().await.unwrap();
                assert_eq!(state.pending, MARKETABLE, "both readings were accepted");
            }

            let keeper_role = market.KEEPER_ROLE().call().await.unwrap();
            mined(market.grantRole(keeper_role, admin).send().await).await;
            Self {
                market: deployment.market,
                seller_meter: seller_meter.address(),
                buyer: buyer.address(),
                buyer_meter: buyer_meter.address(),
                t: end / INTERVAL - 1,
                devnet,
            }
        }

        fn keeper(&self) -> Address {
            self.devnet.admin_key.address()
        }

        /// A batch selling the seller's 1,000 Wh to the buyer at `price`.
        fn settle(&self, price: u64) -> EnergyMarket::settleCall {
            let mut fills = [
                Fill {
                    meter: self.seller_meter,
                    buy: false,
                    wh: 1_000,
                },
                Fill {
                    meter: self.buyer_meter,
                    buy: true,
                    wh: 1_000,
                },
            ];
            fills.sort_by_key(|fill| fill.meter);
            EnergyMarket::settleCall {
                t: self.t,
                clearingPrice: price,
                fills: fills.iter().map(Fill::pack).collect(),
                closing: true,
            }
        }

        /// What a settlement would change: the interval's status, the meters' pending volumes and
        /// the buyer's balance.
        async fn chain_state(&self) -> (u8, u8, u8, U256) {
            let market = EnergyMarket::new(self.market, self.devnet.admin.clone());
            let status = market.interval(self.t).call().await.unwrap().status;
            let pending = |meter| {
                let market = market.clone();
                async move { market.meterState(meter).call().await.unwrap().pending }
            };
            let balance = market
                .balancesOf(self.buyer)
                .call()
                .await
                .unwrap()
                .stablecoin;
            (
                status,
                pending(self.seller_meter).await,
                pending(self.buyer_meter).await,
                balance,
            )
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_settle_batch_simulates_like_the_chain_runs_it() {
        let fixture = Fixture::start().await;
        let (keeper, market) = (fixture.keeper(), fixture.market);
        let before = fixture.chain_state().await;
        let block_before = fixture.devnet.admin.get_block_number().await.unwrap();

        let mut simulator = Simulator::fork_latest(fixture.devnet.admin.clone())
            .await
            .unwrap();
        assert_eq!(simulator.block_number(), block_before);
        let valid = fixture.settle(100_000);
        let SettleSimulation::Ok { gas_used } = simulator
            .simulate_settle(keeper, market, &valid)
            .await
            .unwrap()
        else {
            panic!("the valid batch must settle");
        };
        // Nothing was committed into the fork: the same batch settles again, at the same cost.
        assert_eq!(
            simulator
                .simulate_settle(keeper, market, &valid)
                .await
                .unwrap(),
            SettleSimulation::Ok { gas_used }
        );

        // A price below the seller's floor names the seller's meter.
        let too_low = fixture.settle(SELL_FLOOR - 1);
        let SettleSimulation::Reverted {
            error: Some(error),
            raw,
        } = simulator
            .simulate_settle(keeper, market, &too_low)
            .await
            .unwrap()
        else {
            panic!("a price below the floor must revert with the market's error");
        };
        assert!(!raw.is_empty());
        assert_eq!(
            error,
            EnergyMarketErrors::MarketPriceBelowFloor(EnergyMarket::MarketPriceBelowFloor {
                meter: fixture.seller_meter,
                price: U256::from(SELL_FLOOR - 1),
                floor: U256::from(SELL_FLOOR),
            })
        );
        assert_eq!(error.offending_meter(), Some(fixture.seller_meter));

        // Errors about the whole batch name no meter: a caller without the role...
        let stranger = Address::repeat_byte(0x5a);
        let SettleSimulation::Reverted {
            error: Some(error), ..
        } = simulator
            .simulate_settle(stranger, market, &valid)
            .await
            .unwrap()
        else {
            panic!("a caller without KEEPER_ROLE must be refused");
        };
        assert!(matches!(
            error,
            EnergyMarketErrors::AccessControlUnauthorizedAccount(_)
        ));
        assert_eq!(error.offending_meter(), None);
        // ...and a simulation timed before the interval's end.
        let interval_end = (fixture.t + 1) * INTERVAL;
        let mut early = Simulator::fork_latest(fixture.devnet.admin.clone())
            .await
            .unwrap()
            .with_timestamp(interval_end - 1);
        assert_eq!(early.timestamp(), interval_end - 1);
        let SettleSimulation::Reverted {
            error: Some(EnergyMarketErrors::MarketIntervalNotClosed(not_closed)),
            ..
        } = early.simulate_settle(keeper, market, &valid).await.unwrap()
        else {
            panic!("a batch simulated before the interval's end must not settle");
        };
        assert_eq!(not_closed.t, fixture.t);

        // Simulating changed nothing on chain.
        assert_eq!(fixture.chain_state().await, before);
        assert_eq!(
            fixture.devnet.admin.get_block_number().await.unwrap(),
            block_before
        );

        // Sent for real, the batch uses the simulated gas: both count the intrinsic 21,000 and
        // the calldata. eth_estimateGas answers a gas limit, a little above.
        let on_chain = EnergyMarket::new(market, fixture.devnet.admin.clone());
        let call = on_chain.settle(valid.t, valid.clearingPrice, valid.fills.clone(), true);
        let estimate = call.estimate_gas().await.unwrap();
        let receipt = mined(call.send().await).await;
        println!(
            "settle of 2 fills: simulated {gas_used} gas, receipt {}, eth_estimateGas {estimate}",
            receipt.gas_used
        );
        let off = gas_used.abs_diff(receipt.gas_used);
        assert!(
            off * 100 <= receipt.gas_used,
            "simulated {gas_used} gas, the receipt says {}",
            receipt.gas_used
        );
        assert!(estimate >= receipt.gas_used);

        // The old fork is pinned to its block; a new one sees the settlement.
        assert_eq!(
            simulator
                .simulate_settle(keeper, market, &valid)
                .await
                .unwrap(),
            SettleSimulation::Ok { gas_used }
        );
        let mut after = Simulator::fork_latest(fixture.devnet.admin.clone())
            .await
            .unwrap();
        assert!(matches!(
            after.simulate_settle(keeper, market, &valid).await.unwrap(),
            SettleSimulation::Reverted {
                error: Some(EnergyMarketErrors::MarketIntervalAlreadySettled(_)),
                ..
            }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_that_goes_away_is_an_error_not_a_revert() {
        let devnet = Devnet::start()
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let provider = devnet.admin.clone();
        let mut simulator = Simulator::fork_latest(provider.clone()).await.unwrap();
        drop(devnet);

        let error = simulator
            .simulate(
                Address::repeat_byte(1),
                Address::repeat_byte(2),
                Bytes::new(),
                100_000,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, SimulateError::Database { .. }), "{error}");
        let error = Simulator::fork_latest(provider).await.unwrap_err();
        assert!(
            matches!(
                error,
                SimulateError::Rpc {
                    call: "eth_chainId",
                    ..
                }
            ),
            "{error}"
        );
    }
}
