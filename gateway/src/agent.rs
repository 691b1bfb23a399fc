//! The gateway's agent: each [`Agent::step`] reads the chain's time, picks up new VPP events on
//! its meter's feeder, enrols in those its owner's policy accepts, and puts the battery in the
//! mode the time calls for.
//!
//! The agent keeps no state of its own beyond memory: after a restart it reads the events again
//! from its start block, and the contract (`enrolmentOf`) tells it which it had enrolled in.

use std::collections::BTreeMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
};
use cogrid_bindings::{
    EnergyMarket,
    VppDispatch::{self, VppDispatchErrors, VppDispatchInstance},
};
use cogrid_chain::{VppEnrolmentStatus, VppEventStatus};
use tracing::{debug, info, warn};

use crate::{
    battery::{Battery, BatteryMode, BatteryStatus},
    error::GatewayError,
    listener::{DispatchEvent, EventListener},
    policy::{Capability, Commitment, Decision, Limit, Offer, Policy, Skip, decide},
};

/// How long an enrolment's receipt is waited for; a dropped transaction must not stall the
/// agent, which then decides again at its next step (a second enrolment is refused by the
/// contract).
const ENROL_RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// `MeterKinds.BATTERY | MeterKinds.EV`: the meters VppDispatch lets enrol.
const DISPATCHABLE_KINDS: u8 = 2 | 4;

/// Where the agent works and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSettings {
    /// The EnergyMarket: the meter registry.
    pub market: Address,
    /// The VppDispatch contract.
    pub dispatch: Address,
    /// The battery's meter (its signing-key address).
    pub meter: Address,
    /// The meter's owner: the wallet of the agent's provider, which sends the enrolments.
    pub owner: Address,
    /// What the owner accepts.
    pub policy: Policy,
    /// The first block to read events from.
    pub start_block: u64,
    /// Most blocks per `eth_getLogs`.
    pub max_block_range: u64,
    /// Blocks on top of a block before its events are read.
    pub confirmations: u64,
}

/// What the agent did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It enrolled the meter with `watts`.
    Enrolled {
        /// The committed watts.
        watts: u32,
        /// The limit that set them.
        limited_by: Limit,
    },
    /// The meter was enrolled already (by an earlier run); the agent follows that commitment.
    AlreadyEnrolled {
        /// The committed watts.
        watts: u32,
    },
    /// It will not enrol.
    Skipped(Skipped),
    /// A transient failure (a node error, a transaction that reverted after a race): the agent
    /// decides again at its next step.
    Retry(String),
}

/// Why the agent does not enrol in an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// The window is over.
    Ended,
    /// The window started: the contract takes no more enrolments.
    Started,
    /// The event is not open: cancelled, or closed.
    NotOpen {
        /// The event's status; `None` for a status this build does not know (a newer contract).
        status: Option<VppEventStatus>,
    },
    /// The owner's policy or the battery said no.
    Declined(Skip),
    /// The contract refused the enrolment.
    Refused(VppDispatchErrors),
}

/// What one [`Agent::step`] saw and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The chain time the step acted at (the latest block's timestamp).
    pub now: u64,
    /// The events decided in this step, by id.
    pub decisions: Vec<(U256, Outcome)>,
    /// The mode the battery was commanded into.
    pub mode: BatteryMode,
}

/// The result of sending `enroll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrolResult {
    /// Mined and succeeded.
    Enrolled {
        /// The transaction.
        tx: B256,
    },
    /// Refused before it was sent (the gas estimation ran into the contract's error).
    Refused(VppDispatchErrors),
    /// Mined and reverted: the state changed between the estimation and the block.
    Reverted {
        /// The transaction.
        tx: B256,
    },
}

/// Sends `enroll(id, meter, watts)` from `dispatch`'s provider wallet, which must be the meter's
/// owner, and waits for its receipt. A revert the contract names is decoded, never matched as a
/// string.
pub async fn enroll(
    dispatch: &VppDispatchInstance<DynProvider>,
    id: U256,
    meter: Address,
    watts: u32,
) -> Result<EnrolResult, GatewayError> {
    let pending = match dispatch.enroll(id, meter, watts).send().await {
        Ok(pending) => pending,
        Err(error) => {
            return match error.as_decoded_interface_error::<VppDispatchErrors>() {
                Some(reason) => Ok(EnrolResult::Refused(reason)),
                None => Err(GatewayError::Rpc {
                    call: "enroll",
                    message: match error.as_revert_data() {
                        Some(data) => format!("reverted with unknown data {data}"),
                        None => error.to_string(),
                    },
                }),
            };
        }
    };
    let receipt = pending
        .with_timeout(Some(ENROL_RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .map_err(|error| GatewayError::Rpc {
            call: "enroll receipt",
            message: error.to_string(),
        })?;
    let tx = receipt.transaction_hash;
    Ok(if receipt.status() {
        EnrolResult::Enrolled { tx }
    } else {
        EnrolResult::Reverted { tx }
    })
}

/// An enrolment the agent follows.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    commitment: Commitment,
    /// Whether the event was seen open at or after its start: from then on it cannot be
    /// cancelled, so the agent asks once.
    open_at_start: bool,
}

/// Enrols a battery's meter in VPP events and drives the battery through them.
#[derive(Debug)]
pub struct Agent<B> {
    provider: DynProvider,
    dispatch: VppDispatchInstance<DynProvider>,
    meter: Address,
    meter_capacity_w: u32,
    policy: Policy,
    listener: EventListener,
    pending: BTreeMap<U256, DispatchEvent>,
    tracked: BTreeMap<U256, Tracked>,
    battery: B,
    mode: Option<BatteryMode>,
}

impl<B: Battery> Agent<B> {
    /// Checks the meter with the registry (registered, owned by `settings.owner`, a battery or
    /// EV) and that both contracts exist, and returns an agent for its feeder. `provider`'s wallet
    /// must be the owner's.
    pub async fn start(
        provider: DynProvider,
        settings: AgentSettings,
        battery: B,
    ) -> Result<Self, GatewayError> {
        for (what, address) in [
            ("EnergyMarket", settings.market),
            ("VppDispatch", settings.dispatch),
        ] {
            let code = provider
                .get_code_at(address)
                .await
                .map_err(rpc("eth_getCode"))?;
            if code.is_empty() {
                return Err(GatewayError::NoContract { what, address });
            }
        }
        let market = EnergyMarket::new(settings.market, provider.clone());
        let info = market
            .meterInfo(settings.meter)
            .call()
            .await
            .map_err(rpc("meterInfo"))?;
        if info.owner == Address::ZERO {
            return Err(GatewayError::MeterNotRegistered {
                meter: settings.meter,
                market: settings.market,
            });
        }
        if info.owner != settings.owner {
            return Err(GatewayError::NotMeterOwner {
                meter: settings.meter,
                owner: info.owner,
                key: settings.owner,
            });
        }
        if info.kinds & DISPATCHABLE_KINDS == 0 {
            return Err(GatewayError::MeterNotDispatchable {
                meter: settings.meter,
                kinds: info.kinds,
            });
        }
        info!(meter = %settings.meter, feeder = info.feeder, capacity_w = info.capacityW, from_block = settings.start_block, "VPP agent started");
        Ok(Self {
            listener: EventListener::new(
                provider.clone(),
                settings.dispatch,
                info.feeder,
                settings.start_block,
                settings.max_block_range,
                settings.confirmations,
            ),
            dispatch: VppDispatch::new(settings.dispatch, provider.clone()),
            provider,
            meter: settings.meter,
            meter_capacity_w: info.capacityW,
            policy: settings.policy,
            pending: BTreeMap::new(),
            tracked: BTreeMap::new(),
            battery,
            mode: None,
        })
    }

    /// The battery it drives.
    pub fn battery(&self) -> &B {
        &self.battery
    }

    /// The enrolments it follows (not ended yet), as commitments by event id.
    pub fn commitments(&self) -> BTreeMap<U256, Commitment> {
        self.tracked
            .iter()
            .map(|(id, tracked)| (*id, tracked.commitment))
            .collect()
    }

    /// One round: reads the chain time and new events, decides on every undecided event, and
    /// commands the battery. An event whose decision failed transiently stays for the next step.
    pub async fn step(&mut self) -> Result<StepReport, GatewayError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or(GatewayError::Rpc {
                call: "eth_getBlockByNumber",
                message: "the node has no latest block".into(),
            })?;
        let (head, now) = (block.header.number, block.header.timestamp);
        // A failed read must not keep the battery from following its enrolments: the events wait
        // for the next step, which reads from the same block.
        match self.listener.poll(head).await {
            Ok(events) => {
                for event in events {
                    info!(event = %event.id, start = event.start, end = event.end, target_w = event.target_w, price_per_kwh = event.price_per_kwh, priority = event.priority, program = %event.program, "VPP event on the meter's feeder");
                    self.pending.insert(event.id, event);
                }
            }
            Err(error) => {
                warn!(%error, from_block = self.listener.next_block(), "reading VPP events failed; reading them at the next step");
            }
        }
        let status = self.battery.status(now).await.map_err(battery_error)?;
        let mut decisions = Vec::new();
        for event in self.pending.values().cloned().collect::<Vec<_>>() {
            let outcome = match self.consider(&event, &status, now).await {
                Ok(outcome) => outcome,
                Err(error) => Outcome::Retry(error.to_string()),
            };
            log_outcome(event.id, &outcome);
            if !matches!(outcome, Outcome::Retry(_)) {
                self.pending.remove(&event.id);
            }
            decisions.push((event.id, outcome));
        }
        let mode = self.drive(&status, now).await?;
        Ok(StepReport {
            now,
            decisions,
            mode,
        })
    }

    async fn consider(
        &mut self,
        event: &DispatchEvent,
        battery: &BatteryStatus,
        now: u64,
    ) -> Result<Outcome, GatewayError> {
        if event.end <= now {
            return Ok(Outcome::Skipped(Skipped::Ended));
        }
        let enrolment = self
            .dispatch
            .enrolmentOf(event.id, self.meter)
            .call()
            .await
            .map_err(rpc("enrolmentOf"))?;
        if VppEnrolmentStatus::from_abi(enrolment.status) != Some(VppEnrolmentStatus::None) {
            self.track(event, enrolment.committedW);
            return Ok(Outcome::AlreadyEnrolled {
                watts: enrolment.committedW,
            });
        }
        if event.start <= now {
            return Ok(Outcome::Skipped(Skipped::Started));
        }
        let view = self
            .dispatch
            .eventOf(event.id)
            .call()
            .await
            .map_err(rpc("eventOf"))?;
        let status = VppEventStatus::from_abi(view.status);
        if status != Some(VppEventStatus::Open) {
            return Ok(Outcome::Skipped(Skipped::NotOpen { status }));
        }
        let offer = Offer {
            price_per_kwh: view.pricePerKwh,
            target_w: view.targetW,
            committed_w: view.committedW,
            start: event.start,
            end: event.end,
        };
        let capability = Capability {
            capacity_wh: battery.capacity_wh,
            stored_wh: battery.stored_wh,
            max_discharge_w: battery.max_discharge_w,
            meter_capacity_w: self.meter_capacity_w,
        };
        self.forget_cancelled(now).await?;
        let commitments: Vec<Commitment> = self.commitments().into_values().collect();
        let (watts, limited_by) = match decide(&self.policy, &offer, &capability, &commitments, now)
        {
            Decision::Enrol { watts, limited_by } => (watts, limited_by),
            Decision::Skip(skip) => return Ok(Outcome::Skipped(Skipped::Declined(skip))),
        };
        Ok(
            match enroll(&self.dispatch, event.id, self.meter, watts).await? {
                EnrolResult::Enrolled { tx } => {
                    debug!(event = %event.id, %tx, "enroll mined");
                    self.track(event, watts);
                    Outcome::Enrolled { watts, limited_by }
                }
                // Someone took part of the target between the read and the send: the next step
                // reads what is left and commits to that, or finds the event full.
                EnrolResult::Refused(VppDispatchErrors::VppTargetExceeded(exceeded)) => {
                    Outcome::Retry(format!(
                        "someone filled the event first: {} W left of the {watts} W asked",
                        exceeded.remainingW
                    ))
                }
                EnrolResult::Refused(reason) => Outcome::Skipped(Skipped::Refused(reason)),
                EnrolResult::Reverted { tx } => Outcome::Retry(format!(
                    "enroll transaction {tx} reverted: the event changed after the estimate"
                )),
            },
        )
    }

    /// Drops the enrolments whose event was cancelled (only possible before its start): they
    /// need no energy, and the feeder's next event may take their window.
    async fn forget_cancelled(&mut self, now: u64) -> Result<(), GatewayError> {
        let unstarted: Vec<U256> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| tracked.commitment.start > now)
            .map(|(id, _)| *id)
            .collect();
        for id in unstarted {
            if !self.still_open(id).await? {
                self.tracked.remove(&id);
            }
        }
        Ok(())
    }

    /// Whether event `id` is open; logs it when it is not.
    async fn still_open(&self, id: U256) -> Result<bool, GatewayError> {
        let view = self
            .dispatch
            .eventOf(id)
            .call()
            .await
            .map_err(rpc("eventOf"))?;
        let status = VppEventStatus::from_abi(view.status);
        if status != Some(VppEventStatus::Open) {
            info!(event = %id, ?status, "an enrolled event is no longer open; forgetting it");
        }
        Ok(status == Some(VppEventStatus::Open))
    }

    fn track(&mut self, event: &DispatchEvent, watts: u32) {
        self.tracked.insert(
            event.id,
            Tracked {
                commitment: Commitment {
                    start: event.start,
                    end: event.end,
                    watts,
                },
                open_at_start: false,
            },
        );
    }

    /// Discharges at the committed watts inside an enrolled window, down to the reserve, and
    /// returns the battery to its normal mode outside.
    async fn drive(
        &mut self,
        status: &BatteryStatus,
        now: u64,
    ) -> Result<BatteryMode, GatewayError> {
        self.tracked
            .retain(|_, tracked| tracked.commitment.end > now);
        let mut mode = BatteryMode::Normal;
        let active: Vec<U256> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| tracked.commitment.start <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in active {
            if !self.tracked[&id].open_at_start {
                // A cancel before the start voids the enrolment: never discharge for it. A failed
                // read must not keep the battery from a window it committed to: it follows the
                // enrolment and checks again at the next step.
                match self.still_open(id).await {
                    Ok(false) => {
                        self.tracked.remove(&id);
                        continue;
                    }
                    Ok(true) => {
                        if let Some(tracked) = self.tracked.get_mut(&id) {
                            tracked.open_at_start = true;
                        }
                    }
                    Err(error) => {
                        warn!(event = %id, %error, "cannot check that the event is still open; following the enrolment");
                    }
                }
            }
            let commitment = self.tracked[&id].commitment;
            mode = BatteryMode::Discharge {
                watts: commitment.watts,
                floor_wh: self.policy.reserve_wh(status.capacity_wh),
                until: commitment.end,
            };
            if self.mode != Some(mode) {
                info!(event = %id, watts = commitment.watts, until = commitment.end, "VPP window: discharging");
            }
            // Windows the agent enrols in never overlap (`decide`), so there is one at most.
            break;
        }
        if mode == BatteryMode::Normal && self.mode.is_some_and(|old| old != mode) {
            info!("battery back to the owner's normal mode");
        }
        self.battery
            .command(mode, now)
            .await
            .map_err(battery_error)?;
        self.mode = Some(mode);
        Ok(mode)
    }
}

fn log_outcome(id: U256, outcome: &Outcome) {
    match outcome {
        Outcome::Enrolled { watts, limited_by } => {
            info!(event = %id, watts, ?limited_by, "enrolled");
        }
        Outcome::AlreadyEnrolled { watts } => info!(event = %id, watts, "already enrolled"),
        Outcome::Skipped(Skipped::Refused(reason)) => {
            warn!(event = %id, ?reason, "VppDispatch refused the enrolment; skipping the event");
        }
        Outcome::Skipped(reason) => info!(event = %id, ?reason, "not enrolling"),
        Outcome::Retry(reason) => warn!(event = %id, %reason, "deciding again at the next poll"),
    }
}

fn rpc<E: std::fmt::Display>(call: &'static str) -> impl FnOnce(E) -> GatewayError {
    move |error| GatewayError::Rpc {
        call,
        message: error.to_string(),
    }
}

fn battery_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> GatewayError {
    GatewayError::Battery(Box::new(error))
}
