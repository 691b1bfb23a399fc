//! A devnet with the suite deployed, a grid operator that creates VPP events, and homes whose
//! battery meters are registered on a feeder: the fixture of the gateway's tests.

use alloy::{
    primitives::{Address, U256, aliases::U40},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::{EnergyMarket, MockStablecoin, VppDispatch};
use cogrid_chain::{Deployment, Devnet, SuiteParams, connect_lazily, deploy_suite};
use cogrid_gateway::{
    agent::{Agent, AgentSettings},
    battery::{BatteryParams, NormalMode, SimulatedBattery},
    policy::Policy,
};

pub(crate) const INTERVAL: u64 = 900;
/// The gateways' feeder.
pub(crate) const FEEDER: u32 = 7;
/// A feeder none of the gateways is on.
pub(crate) const OTHER_FEEDER: u32 = 8;
/// `MeterKinds.BATTERY`.
const BATTERY: u8 = 2;
/// Every meter's registered connection capacity, W.
pub(crate) const METER_CAPACITY_W: u32 = 10_000;
/// The operator's stablecoin: 1,000 $.
const OPERATOR_FUNDS: u64 = 1_000_000_000;

/// The owners' policy: at least 0.20 $/kWh, at most 4 kW, 20 % reserve.
pub(crate) const POLICY: Policy = Policy {
    min_price_per_kwh: 200_000,
    max_w: 4_000,
    reserve_percent: 20,
};

/// A 13.5 kWh battery with a 5 kW inverter holding `stored_wh`.
pub(crate) fn battery(stored_wh: u64) -> SimulatedBattery {
    SimulatedBattery::new(BatteryParams {
        capacity_wh: 13_500,
        stored_wh,
        max_charge_w: 5_000,
        max_discharge_w: 5_000,
        round_trip_efficiency: 0.9,
        normal: NormalMode::Hold,
    })
}

/// A registered home: its owner's key and its battery meter.
pub(crate) struct Home {
    pub(crate) owner: PrivateKeySigner,
    pub(crate) meter: Address,
}

pub(crate) struct Grid {
    pub(crate) devnet: Devnet,
    pub(crate) deployment: Deployment,
    /// VppDispatch as the grid operator (anvil account 1).
    pub(crate) operator: VppDispatch::VppDispatchInstance<DynProvider>,
}

impl Grid {
    /// Starts anvil, deploys the suite, makes account 1 a funded grid operator.
    pub(crate) async fn start() -> Self {
        // The error says what to install when anvil is missing.
        let devnet = Devnet::start().unwrap_or_else(|error| panic!("{error}"));
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let admin = EnergyMarket::new(deployment.market, devnet.admin.clone());
        let operator_key = devnet.funded_key(1);
        let role = admin.GRID_OPERATOR_ROLE().call().await.unwrap();
        confirm(admin.grantRole(role, operator_key.address()).send().await).await;
        let coin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
        confirm(
            coin.mint(operator_key.address(), U256::from(OPERATOR_FUNDS))
                .send()
                .await,
        )
        .await;
        let as_operator = connect_lazily(&devnet.rpc_url(), operator_key).unwrap();
        let coin = MockStablecoin::new(deployment.stablecoin, as_operator.clone());
        confirm(
            coin.approve(deployment.vpp_dispatch, U256::MAX)
                .send()
                .await,
        )
        .await;
        let operator = VppDispatch::new(deployment.vpp_dispatch, as_operator);
        Self {
            devnet,
            deployment,
            operator,
        }
    }

    /// Registers anvil account `account` as a participant owning a new battery meter on `feeder`.
    pub(crate) async fn home(&self, account: usize, feeder: u32) -> Home {
        let admin = EnergyMarket::new(self.deployment.market, self.devnet.admin.clone());
        let owner = self.devnet.funded_key(account);
        let meter = PrivateKeySigner::random().address();
        confirm(admin.registerParticipant(owner.address()).send().await).await;
        confirm(
            admin
                .registerMeter(meter, owner.address(), feeder, BATTERY, METER_CAPACITY_W)
                .send()
                .await,
        )
        .await;
        Home { owner, meter }
    }

    /// An agent for `home` with a battery holding `stored_wh`, reading every block (no
    /// confirmations) a few blocks per `eth_getLogs`, so that a test crosses several ranges.
    pub(crate) async fn agent(&self, home: &Home, stored_wh: u64) -> Agent<SimulatedBattery> {
        Agent::start(
            self.as_owner(home),
            AgentSettings {
                market: self.deployment.market,
                dispatch: self.deployment.vpp_dispatch,
                meter: home.meter,
                owner: home.owner.address(),
                policy: POLICY,
                start_block: self.deployment.deployed_at_block,
                max_block_range: 4,
                confirmations: 0,
            },
            battery(stored_wh),
        )
        .await
        .unwrap()
    }

    /// VppDispatch as `home`'s owner.
    pub(crate) fn as_owner(&self, home: &Home) -> DynProvider {
        connect_lazily(&self.devnet.rpc_url(), home.owner.clone()).unwrap()
    }

    /// Creates an event for `[start, start + hours h)` with the smallest budget that covers it
    /// and returns its id.
    pub(crate) async fn create_event(
        &self,
        feeder: u32,
        start: u64,
        hours: u64,
        target_w: u32,
        price_per_kwh: u64,
    ) -> U256 {
        let end = start + hours * 3_600;
        let budget = (u128::from(target_w) * u128::from(end - start) * u128::from(price_per_kwh))
            .div_ceil(3_600_000);
        confirm(
            self.operator
                .create(
                    feeder,
                    U40::from(start),
                    U40::from(end),
                    target_w,
                    price_per_kwh,
                    U256::from(budget),
                    1,
                    "cogrid-evening-peak".into(),
                )
                .send()
                .await,
        )
        .await;
        self.operator.eventCount().call().await.unwrap()
    }

    /// The latest block's timestamp.
    pub(crate) async fn chain_time(&self) -> u64 {
        self.devnet
            .admin
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// The first interval boundary at least one interval ahead of the chain's clock.
    pub(crate) async fn next_boundary(&self) -> u64 {
        (self.chain_time().await / INTERVAL + 2) * INTERVAL
    }

    /// Moves the chain's clock to `at` (unix s), unless it is already past.
    pub(crate) async fn clock_to(&self, at: u64) {
        let now = self.chain_time().await;
        if at > now {
            self.devnet.advance_time(at - now).await.unwrap();
        }
    }

    /// `meter`'s enrolment in event `id`: (status, committed W).
    pub(crate) async fn enrolment(&self, id: U256, meter: Address) -> (u8, u32) {
        let enrolment = self.operator.enrolmentOf(id, meter).call().await.unwrap();
        (enrolment.status, enrolment.committedW)
    }
}

pub(crate) async fn confirm(
    sent: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) {
    let receipt = sent.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "setup transaction reverted");
}
