//! The simulation's VPP event: the grid operator calls the batteries of one feeder for the most
//! expensive evening hour of the run, each battery's gateway decides with the gateway's own policy
//! code whether and with how many watts to enrol, the homes discharge through the window, and the
//! keeper settles and closes the event from the meters' readings.

use alloy::primitives::{Address, U256, aliases::U40};
use cogrid_bindings::{MockStablecoin, VppDispatch};
use cogrid_gateway::policy::{Capability, Decision, Offer, Policy, decide};
use cogrid_sim::{
    VppOutcome,
    day::Day,
    homes::{Home, HomeSpec},
};
use eyre::{WrapErr, eyre};

use super::{Chain, OnChainHome};

/// What the grid operator pays per kWh delivered, base units (0.50 USD): above retail, as a
/// peak-shaving program pays.
const PRICE_PER_KWH: u64 = 500_000;
/// The owners' policy: enrol at 0.30 USD/kWh or more, keep a fifth of the battery.
const POLICY_MIN_PRICE_PER_KWH: u64 = 300_000;
const POLICY_RESERVE_PERCENT: u8 = 20;
/// The evening the event is looked for in: 16:00 to 22:00 UTC, the day's clock.
const EVENING: std::ops::Range<u64> = 16 * 3_600..22 * 3_600;

/// A called event and who enrolled.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    id: U256,
    feeder: u32,
    start: u64,
    end: u64,
    target_w: u32,
    /// Home index and committed watts.
    enrolled: Vec<(usize, u32)>,
}

/// The hour the event takes: the most expensive whole hour of the evening within the run, or the
/// run's last hour when the run ends before the evening. `None` when the run is too short to
/// have a baseline hour before it.
pub(crate) fn evening_peak(day: &Day, run_start: u64, hours: u64) -> Option<(u64, u64)> {
    let mut hour_starts = (1..hours).map(|hour| run_start + hour * 3_600);
    let evening: Vec<u64> = hour_starts
        .clone()
        .filter(|start| EVENING.contains(&(start % 86_400)))
        .collect();
    let start = if evening.is_empty() {
        hour_starts.next_back()?
    } else {
        *evening
            .iter()
            .max_by_key(|start| day.spot_price_per_mwh_at(**start))?
    };
    Some((start, start + 3_600))
}

impl Call {
    /// Calls the event for `window` on the feeder with the most battery power, as the co-op
    /// admin (who holds the grid operator's role in the simulation), and enrols every battery of
    /// it whose gateway's policy says so.
    pub(crate) async fn open(
        chain: &Chain,
        homes: &[Home],
        on_chain: &[OnChainHome],
        window: (u64, u64),
        now: u64,
    ) -> eyre::Result<Self> {
        let feeder = busiest_feeder(homes).ok_or_else(|| eyre!("no home has a battery"))?;
        let batteries: Vec<usize> = homes
            .iter()
            .enumerate()
            .filter(|(_, home)| home.spec().feeder == feeder && home.spec().battery.is_some())
            .map(|(index, _)| index)
            .collect();
        let target_w = batteries
            .iter()
            .map(|index| battery_power_w(homes[*index].spec()))
            .sum::<u32>();
        let (start, end) = window;
        let budget = (u128::from(target_w) * u128::from(end - start) * u128::from(PRICE_PER_KWH))
            .div_ceil(3_600_000);
        let admin = chain.pipelined(&chain.admin_key)?;
        let coin = MockStablecoin::new(chain.deployment.stablecoin, admin.clone());
        let operator = chain.admin_key.address();
        coin.mint(operator, U256::from(budget))
            .send()
            .await?
            .watch()
            .await?;
        coin.approve(chain.deployment.vpp_dispatch, U256::from(budget))
            .send()
            .await?
            .watch()
            .await?;
        let vpp = VppDispatch::new(chain.deployment.vpp_dispatch, admin);
        let receipt = vpp
            .create(
                feeder,
                U40::from(start),
                U40::from(end),
                target_w,
                PRICE_PER_KWH,
                U256::from(budget),
                0,
                "cogrid-simulate-evening-peak".into(),
            )
            .send()
            .await
            .wrap_err("calling the VPP event")?
            .get_receipt()
            .await?;
        let created = receipt
            .decoded_log::<VppDispatch::EventCreated>()
            .ok_or_else(|| eyre!("the VPP event was not created"))?;
        let mut call = Self {
            id: created.id,
            feeder,
            start,
            end,
            target_w,
            enrolled: Vec::new(),
        };
        let mut committed_w = 0;
        for index in batteries {
            let home = &homes[index];
            let spec = home.spec();
            let power_w = battery_power_w(spec);
            let capacity_wh = spec.battery.map_or(0.0, |battery| battery.capacity_wh);
            let decision = decide(
                &Policy {
                    min_price_per_kwh: POLICY_MIN_PRICE_PER_KWH,
                    max_w: power_w,
                    reserve_percent: POLICY_RESERVE_PERCENT,
                },
                &Offer {
                    price_per_kwh: PRICE_PER_KWH,
                    target_w,
                    committed_w,
                    start,
                    end,
                },
                &Capability {
                    capacity_wh: capacity_wh as u64,
                    stored_wh: home.battery_soc_wh() as u64,
                    max_discharge_w: power_w,
                    meter_capacity_w: on_chain[index].capacity_w,
                },
                &[],
                now,
            );
            let Decision::Enrol { watts, .. } = decision else {
                continue;
            };
            let owner = chain.pipelined(&on_chain[index].owner)?;
            VppDispatch::new(chain.deployment.vpp_dispatch, owner)
                .enroll(call.id, on_chain[index].meter.address(), watts)
                .send()
                .await?
                .watch()
                .await?;
            committed_w += watts;
            call.enrolled.push((index, watts));
        }
        Ok(call)
    }

    /// The watts home `index` is called to discharge in the interval starting at `from`.
    pub(crate) fn dispatch_w(&self, index: usize, from: u64) -> Option<u32> {
        if !(self.start..self.end).contains(&from) {
            return None;
        }
        self.enrolled
            .iter()
            .find(|(home, _)| *home == index)
            .map(|(_, watts)| *watts)
    }

    /// When the keeper may settle the event, and when it may close it.
    pub(crate) async fn due(&self, chain: &Chain) -> eyre::Result<(u64, u64)> {
        let vpp = VppDispatch::new(chain.deployment.vpp_dispatch, chain.admin.clone());
        let grace: u64 = vpp.GRACE_SECONDS().call().await?.saturating_to();
        let window: u64 = vpp.PROOF_WINDOW().call().await?.saturating_to();
        Ok((self.end + grace, self.end + grace + window))
    }

    /// What the event did, read back from the chain, and what each enrolled meter is owed.
    pub(crate) async fn outcome(
        &self,
        chain: &Chain,
        on_chain: &[OnChainHome],
    ) -> eyre::Result<(VppOutcome, Vec<(Address, u64)>)> {
        let vpp = VppDispatch::new(chain.deployment.vpp_dispatch, chain.admin.clone());
        let event = vpp.eventOf(self.id).call().await?;
        let mut owed = Vec::new();
        for (index, _) in &self.enrolled {
            let meter = on_chain[*index].meter.address();
            let enrolment = vpp.enrolmentOf(self.id, meter).call().await?;
            owed.push((meter, enrolment.owed.to::<u64>()));
        }
        use alloy::sol_types::SolEvent as _;
        let filter = alloy::rpc::types::Filter::new()
            .address(chain.deployment.vpp_dispatch)
            .event_signature(VppDispatch::DeliverySettled::SIGNATURE_HASH)
            .topic1(self.id);
        let delivered_wh = cogrid_chain::logs_since(
            &chain.admin,
            &chain.rpc_url,
            &filter,
            chain.deployment.deployed_at_block,
        )
        .await?
        .iter()
        .filter_map(|log| log.log_decode::<VppDispatch::DeliverySettled>().ok())
        .map(|log| log.inner.data.deliveredWh.saturating_to::<u64>())
        .sum();
        Ok((
            VppOutcome {
                event: self.id.saturating_to(),
                feeder: self.feeder,
                start: self.start,
                end: self.end,
                target_w: self.target_w,
                enrolled: u32::try_from(self.enrolled.len())?,
                committed_w: event.committedW,
                delivered_wh,
                paid: event.paid.saturating_to(),
                refunded: event.refunded.saturating_to(),
            },
            owed,
        ))
    }
}

/// The feeder whose batteries have the most power.
fn busiest_feeder(homes: &[Home]) -> Option<u32> {
    let mut power: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
    for home in homes {
        if home.spec().battery.is_some() {
            *power.entry(home.spec().feeder).or_default() += battery_power_w(home.spec());
        }
    }
    power
        .into_iter()
        .max_by_key(|(_, watts)| *watts)
        .map(|(feeder, _)| feeder)
}

/// A home battery's inverter power, whole watts.
fn battery_power_w(spec: &HomeSpec) -> u32 {
    spec.battery.map_or(0, |battery| battery.power_w as u32)
}
