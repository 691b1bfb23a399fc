//! Virtual power plant commands (VppDispatch): grid operators call, cancel, settle and close
//! dispatch events; battery and EV owners enrol their meters and claim their pay.
//!
//! What an enrolment is paid is proved by the meter's own signed readings at the event's three
//! boundaries, which `settle` finds on chain (`cogrid_chain::vpp_proofs`): nobody has to trust the
//! settler, and anyone may settle.

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{Address, U256, aliases::U40},
    providers::DynProvider,
    rpc::types::{Filter, TransactionReceipt},
    sol_types::SolEvent,
};
use clap::{Args, Subcommand};
use cogrid_bindings::{
    IVppDispatch::{EnrolmentKey, EventView},
    VppDispatch::{self, VppDispatchErrors},
};
use cogrid_chain::{VppEnrolmentStatus, VppEventStatus};
use eyre::{WrapErr, bail, eyre};

use crate::{
    admin::Role,
    cli::{Asset, kw_arg, price_arg, stable_arg},
    explain::{Erc20, explain},
    openadr::{self, DispatchEvent},
    time::{Moment, parse_moment, rfc3339},
    units::{self, Unit},
    wallet::{Session, done},
};

/// Watt-seconds per kWh: what turns W x s x (base units per kWh) into base units.
const WATT_SECONDS_PER_KWH: u128 = 3_600_000;
/// The largest budget VppDispatch escrows (its amounts are 56 bits).
const MAX_BUDGET: u128 = (1 << 56) - 1;

/// VPP commands.
#[derive(Debug, Subcommand)]
pub enum VppAction {
    /// Calls a dispatch event on a feeder and escrows its budget (grid operator).
    ///
    /// `cogrid vpp call --feeder 3 --start 2026-12-01T17:00:00Z --duration 1h --kw 50 --price
    /// 0.30` asks the feeder's batteries and EVs for 50 kW from 17:00 to 18:00 UTC at 0.30 USD
    /// per kWh delivered, escrowing the cost of full delivery (15.00 USD).
    Call(VppCallArgs),
    /// Shows an event with its enrolments and what they were paid, or lists every event.
    Status {
        /// The event's id; every event when left out.
        event: Option<u64>,
    },
    /// Enrols your battery or EV meter in an event with the power it commits to export.
    Enroll {
        /// The event's id.
        event: u64,
        /// The meter; your only meter by default.
        #[arg(long)]
        meter: Option<Address>,
        /// The power committed, kW (e.g. 2.5); at most the meter's registered capacity.
        #[arg(long, value_name = "KW", value_parser = kw_arg, allow_hyphen_values = true)]
        kw: u32,
    },
    /// Cancels an event before it starts and takes its budget back (the grid operator that
    /// called it).
    Cancel {
        /// The event's id.
        event: u64,
    },
    /// Settles an event's enrolments from the readings their meters posted (anyone).
    ///
    /// Each enrolled meter is paid for the delivery its signed readings at the baseline start,
    /// the start and the end prove. Settling opens two intervals after the end; --close, a day
    /// after that, also closes the event and refunds what was not paid to its operator.
    Settle {
        /// The event's id.
        event: u64,
        /// Also close the event and refund the rest of the budget.
        #[arg(long)]
        close: bool,
    },
    /// Collects what your settled enrolments earned, in one transfer to your wallet.
    Claim,
    /// Prints an event as an OpenADR 3 event (JSON), for a VTN or a gateway that speaks
    /// OpenADR: its window as `intervalPeriod`, the target as a DISPATCH_SETPOINT payload (kW),
    /// the pay as a PRICE payload (USD per kWh), the feeder as a FEEDER target.
    OpenadrExport {
        /// The event's id.
        event: u64,
    },
    /// Calls an event from an OpenADR 3 event (a JSON file), as `vpp call` does (grid operator).
    OpenadrImport {
        /// The OpenADR 3 event JSON.
        file: PathBuf,
        /// The budget escrowed, USD: at least the cost of full delivery, which is the default.
        #[arg(long, value_name = "USD", value_parser = stable_arg, allow_hyphen_values = true)]
        budget: Option<u128>,
    },
}

/// `vpp call` arguments.
#[derive(Debug, Clone, Args)]
pub struct VppCallArgs {
    /// The feeder whose batteries and EVs are called.
    #[arg(long)]
    pub feeder: u32,
    /// Start of the window: an RFC 3339 time or unix seconds, on an interval boundary.
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub start: Moment,
    /// Length of the window, whole intervals: 15m, 1h, 1h30m, 5400s or ISO-8601 PT1H30M.
    #[arg(long, value_parser = duration_arg)]
    pub duration: u64,
    /// The power asked for, kW (the OpenADR DISPATCH_SETPOINT).
    #[arg(long, value_name = "KW", value_parser = kw_arg, allow_hyphen_values = true)]
    pub kw: u32,
    /// The pay per kWh delivered, USD per kWh.
    #[arg(long, value_name = "USD/kWh", value_parser = price_arg, allow_hyphen_values = true)]
    pub price: u64,
    /// The budget escrowed, USD: at least the cost of full delivery, which is the default.
    #[arg(long, value_name = "USD", value_parser = stable_arg, allow_hyphen_values = true)]
    pub budget: Option<u128>,
    /// The OpenADR 3 priority, 0 the highest.
    #[arg(long, default_value_t = 0)]
    pub priority: u8,
    /// The OpenADR 3 program the event belongs to.
    #[arg(long, default_value = "cogrid-vpp")]
    pub program: String,
}

/// An event to call, in the contract's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventCall {
    /// The feeder.
    pub(crate) feeder: u32,
    /// Start of the window, unix seconds.
    pub(crate) start: u64,
    /// Length of the window, seconds.
    pub(crate) duration: u64,
    /// The power asked for, W.
    pub(crate) target_w: u32,
    /// Stablecoin base units per kWh delivered.
    pub(crate) price_per_kwh: u64,
    /// Stablecoin base units escrowed; the cost of full delivery when `None`.
    pub(crate) budget: Option<u128>,
    /// OpenADR 3 priority.
    pub(crate) priority: u8,
    /// OpenADR 3 program.
    pub(crate) program: String,
}

impl From<VppCallArgs> for EventCall {
    fn from(args: VppCallArgs) -> Self {
        Self {
            feeder: args.feeder,
            start: args.start.start(),
            duration: args.duration,
            target_w: args.kw,
            price_per_kwh: args.price,
            budget: args.budget,
            priority: args.priority,
            program: args.program,
        }
    }
}

/// What VppDispatch's `create` checks an event against, read from the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// The market's interval: the window's boundaries are multiples of it.
    pub(crate) interval_seconds: u64,
    /// `MAX_DURATION`.
    pub(crate) max_duration: u64,
    /// `MAX_LEAD`.
    pub(crate) max_lead: u64,
    /// The chain's time.
    pub(crate) now: u64,
    /// `feederBusyUntil` of the event's feeder.
    pub(crate) busy_until: u64,
}

impl EventCall {
    /// What delivering the whole target over the whole window costs, rounded up as the contract
    /// does: the least budget it escrows.
    pub(crate) fn full_delivery_cost(&self) -> u128 {
        (u128::from(self.target_w) * u128::from(self.duration) * u128::from(self.price_per_kwh))
            .div_ceil(WATT_SECONDS_PER_KWH)
    }

    /// The budget to escrow, or the error `create` would revert with, checked in its order.
    pub(crate) fn preflight(&self, rules: &Rules) -> Result<u128, VppDispatchErrors> {
        let (start, end) = (self.start, self.start.saturating_add(self.duration));
        let as_u40 = |seconds: u64| U40::saturating_from(seconds);
        let interval = rules.interval_seconds.max(1);
        if start % interval != 0 || end % interval != 0 {
            return Err(VppDispatchErrors::VppWindowMisaligned(
                VppDispatch::VppWindowMisaligned {
                    start: as_u40(start),
                    end: as_u40(end),
                    intervalSeconds: u32::try_from(interval).unwrap_or(u32::MAX),
                },
            ));
        }
        if start <= rules.now {
            return Err(VppDispatchErrors::VppStartNotInFuture(
                VppDispatch::VppStartNotInFuture {
                    start: as_u40(start),
                    timestamp: U256::from(rules.now),
                },
            ));
        }
        if self.duration > start || self.duration > rules.max_duration {
            return Err(VppDispatchErrors::VppWindowTooLong(
                VppDispatch::VppWindowTooLong {
                    start: as_u40(start),
                    end: as_u40(end),
                },
            ));
        }
        if start > rules.now + rules.max_lead {
            return Err(VppDispatchErrors::VppStartTooFar(
                VppDispatch::VppStartTooFar {
                    start: as_u40(start),
                    latest: U256::from(rules.now + rules.max_lead),
                },
            ));
        }
        if self.target_w == 0 {
            return Err(VppDispatchErrors::VppZeroTarget(
                VppDispatch::VppZeroTarget {},
            ));
        }
        if self.price_per_kwh == 0 {
            return Err(VppDispatchErrors::VppZeroPrice(
                VppDispatch::VppZeroPrice {},
            ));
        }
        let required = self.full_delivery_cost();
        let budget = self.budget.unwrap_or(required);
        if budget < required {
            return Err(VppDispatchErrors::VppBudgetTooSmall(
                VppDispatch::VppBudgetTooSmall {
                    budget: U256::from(budget),
                    required: U256::from(required),
                },
            ));
        }
        if budget > MAX_BUDGET {
            return Err(VppDispatchErrors::VppBudgetTooLarge(
                VppDispatch::VppBudgetTooLarge {
                    budget: U256::from(budget),
                    maximum: U256::from(MAX_BUDGET),
                },
            ));
        }
        if start < rules.busy_until {
            return Err(VppDispatchErrors::VppFeederBusy(
                VppDispatch::VppFeederBusy {
                    feeder: self.feeder,
                    start: as_u40(start),
                    busyUntil: as_u40(rules.busy_until),
                },
            ));
        }
        Ok(budget)
    }
}

/// A window length: `15m`, `1h`, `1h30m`, `5400s` (the time part of an ISO-8601 duration) or a
/// whole ISO-8601 duration (`PT1H30M`).
fn duration_arg(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let iso = if upper.starts_with('P') {
        upper
    } else {
        format!("PT{upper}")
    };
    match openadr::parse_duration(&iso) {
        Ok(0) => Err("the window must last more than zero seconds, e.g. 1h".to_owned()),
        Ok(seconds) => Ok(seconds),
        Err(error) => Err(format!(
            "`{text}` is not a duration ({error}): write 15m, 1h, 1h30m, 5400s or ISO-8601 \
             PT1H30M"
        )),
    }
}

/// Runs a VPP command.
pub(crate) async fn run(action: VppAction, session: &Session) -> eyre::Result<()> {
    match action {
        VppAction::Call(args) => session.call_event(&EventCall::from(args)).await,
        VppAction::Status { event: Some(id) } => session.show_event(id).await,
        VppAction::Status { event: None } => session.list_events().await,
        VppAction::Enroll { event, meter, kw } => session.enroll(event, meter, kw).await,
        VppAction::Cancel { event } => session.cancel_event(event).await,
        VppAction::Settle { event, close } => session.settle_event(event, close).await,
        VppAction::Claim => session.claim_vpp_pay().await,
        VppAction::OpenadrExport { event } => session.export_openadr(event).await,
        VppAction::OpenadrImport { file, budget } => session.import_openadr(&file, budget).await,
    }
}

impl Session {
    fn vpp(&self) -> VppDispatch::VppDispatchInstance<DynProvider> {
        VppDispatch::new(self.deployment.vpp_dispatch, self.provider.clone())
    }

    /// Maps a failed VppDispatch call to its explanation.
    fn vpp_explained(&self) -> impl Fn(alloy::contract::Error) -> eyre::Report {
        let url = self.rpc_url.clone();
        move |error| match error.as_decoded_interface_error::<VppDispatchErrors>() {
            Some(decoded) => match vpp_hint(&decoded) {
                Some(hint) => eyre!("VppDispatch refused: {decoded:?}\n  hint: {hint}"),
                None => eyre!("VppDispatch refused: {decoded:?}"),
            },
            None => explain(error, &url, Some(Asset::Usd)),
        }
    }

    /// Fails before anything is sent with what VppDispatch would refuse.
    fn refuse(error: VppDispatchErrors) -> eyre::Report {
        match vpp_hint(&error) {
            Some(hint) => {
                eyre!("not sent: VppDispatch would refuse with {error:?}\n  hint: {hint}")
            }
            None => eyre!("not sent: VppDispatch would refuse with {error:?}"),
        }
    }

    /// Calls `call` as a new event: checks what the contract would refuse, approves the budget
    /// when the allowance is short, creates the event and prints it.
    pub(crate) async fn call_event(&self, call: &EventCall) -> eyre::Result<()> {
        let sender = self.sender;
        let vpp = self.vpp();
        self.require_role(Role::GridOperator).await?;
        let explained = self.vpp_explained();
        let rules = Rules {
            interval_seconds: u64::from(vpp.INTERVAL_SECONDS().call().await.map_err(&explained)?),
            max_duration: vpp
                .MAX_DURATION()
                .call()
                .await
                .map_err(&explained)?
                .saturating_to(),
            max_lead: vpp
                .MAX_LEAD()
                .call()
                .await
                .map_err(&explained)?
                .saturating_to(),
            now: self.chain_time().await?,
            busy_until: vpp
                .feederBusyUntil(call.feeder)
                .call()
                .await
                .map_err(&explained)?
                .to(),
        };
        // Everything `create` checks, before the budget's approval is sent for nothing.
        let budget = call.preflight(&rules).map_err(Self::refuse)?;
        let (start, end) = (call.start, call.start + call.duration);
        let (start40, end40) = (U40::from(start), U40::from(end));
        let token = Erc20::new(self.deployment.stablecoin, self.provider.clone());
        let held = token
            .balanceOf(sender)
            .call()
            .await
            .map_err(self.explained(Some(Asset::Usd)))?;
        if held < U256::from(budget) {
            bail!(
                "not sent: wallet {sender} holds {} USD, less than the budget of {}: top the \
                 wallet up or call a smaller event",
                units::format_u256(held, Unit::Usd),
                units::show(budget, Unit::Usd)
            );
        }
        // The contract's own alignment and window checks are refused at estimation, before the
        // approval would be sent for nothing.
        let create = vpp.create(
            call.feeder,
            start40,
            end40,
            call.target_w,
            call.price_per_kwh,
            U256::from(budget),
            call.priority,
            call.program.clone(),
        );
        let allowance = token
            .allowance(sender, self.deployment.vpp_dispatch)
            .call()
            .await
            .map_err(self.explained(Some(Asset::Usd)))?;
        if allowance < U256::from(budget) {
            let approve = token.approve(self.deployment.vpp_dispatch, U256::from(budget));
            let receipt = self.confirm(approve.send().await, Some(Asset::Usd)).await?;
            println!(
                "approved VppDispatch to take {} {}",
                units::show(budget, Unit::Usd),
                done(&receipt)
            );
        }
        let receipt = self
            .wait(create.send().await.map_err(self.vpp_explained())?)
            .await?;
        let created = receipt
            .decoded_log::<VppDispatch::EventCreated>()
            .ok_or_else(|| {
                eyre!(
                    "the receipt of {} has no EventCreated",
                    receipt.transaction_hash
                )
            })?;
        println!(
            "called event {} on feeder {} {}: {} from {} to {} at {} per kWh; {} escrowed",
            created.id,
            call.feeder,
            done(&receipt),
            show_kw(call.target_w),
            rfc3339(start),
            rfc3339(end),
            units::show(u128::from(call.price_per_kwh), Unit::UsdPerKwh),
            units::show(budget, Unit::Usd),
        );
        Ok(())
    }

    async fn event(&self, id: u64) -> eyre::Result<EventView> {
        let event = self
            .vpp()
            .eventOf(U256::from(id))
            .call()
            .await
            .map_err(self.vpp_explained())?;
        if VppEventStatus::from_abi(event.status) == Some(VppEventStatus::None) {
            return Err(Self::refuse(VppDispatchErrors::VppUnknownEvent(
                VppDispatch::VppUnknownEvent { id: U256::from(id) },
            )));
        }
        Ok(event)
    }

    async fn show_event(&self, id: u64) -> eyre::Result<()> {
        let event = self.event(id).await?;
        let grace = self
            .vpp()
            .GRACE_SECONDS()
            .call()
            .await
            .map_err(self.vpp_explained())?;
        let window = self
            .vpp()
            .PROOF_WINDOW()
            .call()
            .await
            .map_err(self.vpp_explained())?;
        let (start, end): (u64, u64) = (event.start.to(), event.end.to());
        let opens = end + grace.to::<u64>();
        println!(
            "event {id}: {}\n  operator {}\n  feeder {}\n  window {} to {}\n  target {}, \
             committed {}\n  price {} per kWh delivered\n  priority {}\n  budget {}, paid {}, \
             refunded {}, escrowed {}\n  settlement opens {}, closing allowed from {}",
            status_name(event.status),
            event.operator,
            event.feeder,
            rfc3339(start),
            rfc3339(end),
            show_kw(event.targetW),
            show_kw(event.committedW),
            units::show(u128::from(event.pricePerKwh), Unit::UsdPerKwh),
            event.priority,
            units::format_u256(event.budget, Unit::Usd),
            units::format_u256(event.paid, Unit::Usd),
            units::format_u256(event.refunded, Unit::Usd),
            units::format_u256(event.escrowed, Unit::Usd),
            rfc3339(opens),
            rfc3339(opens + window.to::<u64>()),
        );
        let enrolments = cogrid_chain::vpp_enrolments(
            &self.provider,
            &self.rpc_url,
            &self.deployment,
            U256::from(id),
        )
        .await?;
        if enrolments.is_empty() {
            println!("  no enrolments");
            return Ok(());
        }
        println!(
            "  {:<42} {:>10} {:>9} {:>12}",
            "meter", "committed", "status", "paid USD"
        );
        for (meter, _) in enrolments {
            let enrolment = self
                .vpp()
                .enrolmentOf(U256::from(id), meter)
                .call()
                .await
                .map_err(self.vpp_explained())?;
            println!(
                "  {meter:<42} {:>10} {:>9} {:>12}",
                show_kw(enrolment.committedW),
                enrolment_status_name(enrolment.status),
                units::format(enrolment.owed.to::<u128>(), Unit::Usd),
            );
        }
        Ok(())
    }

    async fn list_events(&self) -> eyre::Result<()> {
        let count: u64 = self
            .vpp()
            .eventCount()
            .call()
            .await
            .map_err(self.vpp_explained())?
            .saturating_to();
        if count == 0 {
            println!("no events yet");
            return Ok(());
        }
        for id in 1..=count {
            let event = self.event(id).await?;
            println!(
                "event {id}: {:<9} feeder {} from {} to {}, {} of {} committed, {} per kWh, \
                 paid {} of {}",
                status_name(event.status),
                event.feeder,
                rfc3339(event.start.to()),
                rfc3339(event.end.to()),
                show_kw(event.committedW),
                show_kw(event.targetW),
                units::show(u128::from(event.pricePerKwh), Unit::UsdPerKwh),
                units::format_u256(event.paid, Unit::Usd),
                units::format_u256(event.budget, Unit::Usd),
            );
        }
        Ok(())
    }

    async fn enroll(&self, id: u64, meter: Option<Address>, watts: u32) -> eyre::Result<()> {
        let meter = self.meter_or_only(meter).await?;
        let sent = self.vpp().enroll(U256::from(id), meter, watts).send().await;
        let receipt = self.wait(sent.map_err(self.vpp_explained())?).await?;
        println!(
            "meter {meter} enrolled in event {id} with {} {}",
            show_kw(watts),
            done(&receipt)
        );
        Ok(())
    }

    async fn cancel_event(&self, id: u64) -> eyre::Result<()> {
        let sent = self.vpp().cancel(U256::from(id)).send().await;
        let receipt = self.wait(sent.map_err(self.vpp_explained())?).await?;
        let refund = receipt
            .decoded_log::<VppDispatch::EventCancelled>()
            .map(|log| log.refund)
            .unwrap_or_default();
        println!(
            "event {id} cancelled {}; {} USD refunded",
            done(&receipt),
            units::format_u256(refund, Unit::Usd)
        );
        Ok(())
    }

    async fn settle_event(&self, id: u64, close: bool) -> eyre::Result<()> {
        self.event(id).await?;
        let found = cogrid_chain::vpp_proofs(
            &self.provider,
            &self.rpc_url,
            &self.deployment,
            U256::from(id),
        )
        .await?;
        for (meter, boundaries) in &found.missing {
            let at = boundaries
                .iter()
                .map(|boundary| rfc3339(*boundary))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "meter {meter}: no accepted reading at {at} yet, so it cannot be settled until \
                 its gateway posts it (within the registry's acceptance window); it is paid \
                 nothing if the event closes first"
            );
        }
        if found.proofs.is_empty() && !close {
            println!("event {id}: nothing to settle");
            return Ok(());
        }
        let mut paid = 0u128;
        for settle in cogrid_chain::vpp_settle_calls(U256::from(id), &found.proofs, close) {
            let sent = self
                .vpp()
                .settle(settle.id, settle.proofs, settle.closing)
                .send()
                .await;
            let receipt = self.wait(sent.map_err(self.vpp_explained())?).await?;
            paid += print_settlements(&receipt);
            if let Some(closed) = receipt.decoded_log::<VppDispatch::EventClosed>() {
                println!(
                    "event {id} closed {}: {} USD paid in all, {} USD refunded to the operator",
                    done(&receipt),
                    units::format_u256(closed.paid, Unit::Usd),
                    units::format_u256(closed.refund, Unit::Usd)
                );
            }
        }
        println!(
            "event {id}: {} enrolments settled, {} USD owed to their owners (`cogrid vpp claim`)",
            found.proofs.len(),
            units::format(paid, Unit::Usd)
        );
        Ok(())
    }

    /// The OpenADR 3 program event `id` was created for (`EventCreated` records it).
    async fn program_of(&self, id: u64) -> eyre::Result<String> {
        let filter = Filter::new()
            .address(self.deployment.vpp_dispatch)
            .event_signature(VppDispatch::EventCreated::SIGNATURE_HASH)
            .topic1(U256::from(id));
        self.logs(filter)
            .await?
            .iter()
            .find_map(|log| log.log_decode::<VppDispatch::EventCreated>().ok())
            .map(|log| log.inner.data.programName)
            .ok_or_else(|| {
                eyre!(
                    "no EventCreated log of event {id} since block {}: is the deployment file's \
                     deployedAtBlock right?",
                    self.deployment.deployed_at_block
                )
            })
    }

    async fn export_openadr(&self, id: u64) -> eyre::Result<()> {
        let event = self.event(id).await?;
        let dispatch = DispatchEvent {
            program_name: self.program_of(id).await?,
            event_name: Some(format!("cogrid-vpp-{id}")),
            feeder: event.feeder,
            start: event.start.to(),
            end: event.end.to(),
            target_w: event.targetW,
            price_per_kwh: event.pricePerKwh,
            priority: event.priority,
        };
        let json = openadr::to_openadr(&dispatch)
            .wrap_err_with(|| format!("event {id} has no OpenADR 3 form"))?;
        println!("{}", serde_json::to_string_pretty(&json)?);
        Ok(())
    }

    async fn import_openadr(&self, file: &Path, budget: Option<u128>) -> eyre::Result<()> {
        let text = std::fs::read_to_string(file)
            .wrap_err_with(|| format!("cannot read {}", file.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .wrap_err_with(|| format!("{} is not JSON", file.display()))?;
        let event = openadr::from_openadr(&json).wrap_err_with(|| {
            format!(
                "{} is not an OpenADR 3 event cogrid can call",
                file.display()
            )
        })?;
        self.call_event(&EventCall {
            feeder: event.feeder,
            start: event.start,
            duration: event.end - event.start,
            target_w: event.target_w,
            price_per_kwh: event.price_per_kwh,
            budget,
            priority: event.priority,
            program: event.program_name,
        })
        .await
    }

    /// Claims every settled, unclaimed enrolment the sender owns.
    async fn claim_vpp_pay(&self) -> eyre::Result<()> {
        let meters = self.owned_meters().await?;
        if meters.is_empty() {
            println!("{} owns no meter, so it has nothing to claim", self.sender);
            return Ok(());
        }
        let filter = Filter::new()
            .address(self.deployment.vpp_dispatch)
            .event_signature(VppDispatch::Enrolled::SIGNATURE_HASH)
            .topic2(
                meters
                    .iter()
                    .map(|meter| meter.into_word())
                    .collect::<Vec<_>>(),
            );
        let mut keys = Vec::new();
        for log in self.logs(filter).await? {
            let Ok(enrolled) = log.log_decode::<VppDispatch::Enrolled>() else {
                continue;
            };
            let (id, meter) = (enrolled.inner.data.id, enrolled.inner.data.meter);
            let enrolment = self
                .vpp()
                .enrolmentOf(id, meter)
                .call()
                .await
                .map_err(self.vpp_explained())?;
            let status = VppEnrolmentStatus::from_abi(enrolment.status);
            if enrolment.owner == self.sender && status == Some(VppEnrolmentStatus::Settled) {
                keys.push(EnrolmentKey { id, meter });
            }
        }
        if keys.is_empty() {
            println!(
                "{} has nothing to claim: no enrolment of its meters is settled and unclaimed",
                self.sender
            );
            return Ok(());
        }
        let count = keys.len();
        let sent = self.vpp().claim(keys).send().await;
        let receipt = self.wait(sent.map_err(self.vpp_explained())?).await?;
        let amount: U256 = receipt
            .logs()
            .iter()
            .filter_map(|log| log.log_decode::<VppDispatch::Claimed>().ok())
            .map(|log| log.inner.data.amount)
            .sum();
        println!(
            "claimed {} USD for {count} enrolments {}",
            units::format_u256(amount, Unit::Usd),
            done(&receipt)
        );
        Ok(())
    }
}

/// Prints each enrolment a settlement paid and returns what they are owed in all.
fn print_settlements(receipt: &TransactionReceipt) -> u128 {
    let mut owed = 0u128;
    for log in receipt.logs() {
        if let Ok(settled) = log.log_decode::<VppDispatch::DeliverySettled>() {
            let settled = settled.inner.data;
            println!(
                "meter {}: delivered {} kWh over its baseline, owed {} USD",
                settled.meter,
                units::format(settled.deliveredWh.to(), Unit::Kwh),
                units::format_u256(settled.owed, Unit::Usd)
            );
            owed += settled.owed.to::<u128>();
        }
    }
    owed
}

/// Watts as kW with up to three decimals.
fn show_kw(watts: u32) -> String {
    units::show(u128::from(watts), Unit::Kw)
}

fn status_name(status: u8) -> &'static str {
    match VppEventStatus::from_abi(status) {
        Some(VppEventStatus::Open) => "open",
        Some(VppEventStatus::Cancelled) => "cancelled",
        Some(VppEventStatus::Closed) => "closed",
        Some(VppEventStatus::None) | None => "unknown",
    }
}

fn enrolment_status_name(status: u8) -> &'static str {
    match VppEnrolmentStatus::from_abi(status) {
        Some(VppEnrolmentStatus::Enrolled) => "enrolled",
        Some(VppEnrolmentStatus::Settled) => "settled",
        Some(VppEnrolmentStatus::Claimed) => "claimed",
        Some(VppEnrolmentStatus::None) | None => "none",
    }
}

/// What to do about VppDispatch's errors.
fn vpp_hint(error: &VppDispatchErrors) -> Option<String> {
    Some(match error {
        VppDispatchErrors::VppNotGridOperator(e) => format!(
            "{} lacks GRID_OPERATOR_ROLE of the market: send from a grid operator's key, or ask \
             the co-op admin to run `cogrid admin grant grid-operator {}`",
            e.caller, e.caller
        ),
        VppDispatchErrors::VppWindowMisaligned(e) => format!(
            "the window must start and end on {}-second interval boundaries (e.g. :00, :15, :30, \
             :45 for 15-minute intervals)",
            e.intervalSeconds
        ),
        VppDispatchErrors::VppStartNotInFuture(e) => format!(
            "the start {} is not after the chain's time {}: call the event for a later start",
            rfc3339(e.start.to()),
            rfc3339(e.timestamp.saturating_to())
        ),
        VppDispatchErrors::VppFeederBusy(e) => format!(
            "feeder {} has an event until {}, and a feeder has one event at a time: start at {} \
             or later (`cogrid vpp status` lists the events)",
            e.feeder,
            rfc3339(e.busyUntil.to()),
            rfc3339(e.busyUntil.to())
        ),
        VppDispatchErrors::VppBudgetTooSmall(e) => format!(
            "full delivery costs {} USD; escrow at least that (leave --budget out to escrow \
             exactly it)",
            units::format_u256(e.required, Unit::Usd)
        ),
        VppDispatchErrors::VppEmptyWindow(e) => format!(
            "the window ends ({}) no later than it starts ({}): give a --duration above zero",
            rfc3339(e.end.to()),
            rfc3339(e.start.to())
        ),
        VppDispatchErrors::VppWindowTooLong(e) => format!(
            "the window {} to {} is longer than a day, the longest an event may last: call \
             several shorter events one after another",
            rfc3339(e.start.to()),
            rfc3339(e.end.to())
        ),
        VppDispatchErrors::VppStartTooFar(e) => format!(
            "an event may start at most a week ahead, by {}: call it later",
            rfc3339(e.latest.saturating_to())
        ),
        VppDispatchErrors::VppZeroTarget(_) => "ask for more than 0 kW (--kw)".to_owned(),
        VppDispatchErrors::VppZeroPrice(_) => {
            "pay more than 0 USD per kWh delivered (--price)".to_owned()
        }
        VppDispatchErrors::VppBudgetTooLarge(e) => format!(
            "escrow at most {} USD per event",
            units::format_u256(e.maximum, Unit::Usd)
        ),
        VppDispatchErrors::VppUnknownEvent(e) => format!(
            "there is no event {}: `cogrid vpp status` lists the events",
            e.id
        ),
        VppDispatchErrors::VppEventNotOpen(e) => format!(
            "event {} is {}: nothing more can be done with it",
            e.id,
            status_name(e.status)
        ),
        VppDispatchErrors::VppEventStarted(e) => format!(
            "event {} started at {}; enrolments and cancellations end at its start",
            e.id,
            rfc3339(e.start.to())
        ),
        VppDispatchErrors::VppNotMeterOwner(e) => format!(
            "meter {} belongs to {}: send from its owner's key",
            e.meter, e.owner
        ),
        VppDispatchErrors::VppMeterNotDispatchable(e) => format!(
            "meter {} is registered without a battery or an EV, so it has nothing to dispatch",
            e.meter
        ),
        VppDispatchErrors::VppWrongFeeder(e) => format!(
            "meter {} is on feeder {}, the event calls feeder {}",
            e.meter, e.meterFeeder, e.eventFeeder
        ),
        VppDispatchErrors::VppCommitmentOutOfRange(e) => format!(
            "commit more than 0 and at most the meter's capacity, {}",
            show_kw(e.capacityW)
        ),
        VppDispatchErrors::VppAlreadyEnrolled(e) => {
            format!("meter {} is already enrolled in event {}", e.meter, e.id)
        }
        VppDispatchErrors::VppTargetExceeded(e) => format!(
            "the event needs only {} more: commit at most that",
            show_kw(e.remainingW)
        ),
        VppDispatchErrors::VppNotEventOperator(e) => format!(
            "only {}, the grid operator that called event {}, or the co-op admin may cancel it",
            e.operator, e.id
        ),
        VppDispatchErrors::VppSettlementNotOpen(e) => format!(
            "event {} can be settled from {}, two intervals after its end, when every meter's \
             reading at the end can be in",
            e.id,
            rfc3339(e.opensAt.saturating_to())
        ),
        VppDispatchErrors::VppClosingTooEarly(e) => format!(
            "event {} may be closed from {}: the participants have a day to prove their \
             delivery; settle without --close until then",
            e.id,
            rfc3339(e.closesAt.saturating_to())
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_and_openadr_write_them() {
        assert_eq!(duration_arg("15m"), Ok(900));
        assert_eq!(duration_arg("1h"), Ok(3_600));
        assert_eq!(duration_arg("1h30m"), Ok(5_400));
        assert_eq!(duration_arg("5400s"), Ok(5_400));
        assert_eq!(duration_arg("PT1H30M"), Ok(5_400));
        assert_eq!(duration_arg("P1D"), Ok(86_400));
        for bad in ["", "90", "1x", "h", "0m", "P1M", "-1h"] {
            assert!(duration_arg(bad).is_err(), "{bad}");
        }
    }

    /// `preflight` refuses what `create` would, in its order, so that no approval is sent for an
    /// event the contract refuses.
    #[test]
    fn preflight_refuses_what_create_would() {
        let rules = Rules {
            interval_seconds: 900,
            max_duration: 86_400,
            max_lead: 7 * 86_400,
            now: 1_800_000_000,
            busy_until: 1_800_003_600,
        };
        let call = EventCall {
            feeder: 1,
            start: 1_800_003_600,
            duration: 3_600,
            target_w: 10_000,
            price_per_kwh: 300_000,
            budget: None,
            priority: 0,
            program: "p".into(),
        };
        assert_eq!(call.preflight(&rules), Ok(3_000_000));
        let refused = |change: &dyn Fn(&mut EventCall)| {
            let mut call = call.clone();
            change(&mut call);
            format!("{:?}", call.preflight(&rules).unwrap_err())
        };
        assert!(refused(&|call| call.start += 60).contains("VppWindowMisaligned"));
        assert!(refused(&|call| call.start = 1_799_999_100).contains("VppStartNotInFuture"));
        assert!(refused(&|call| call.duration = 86_400 + 900).contains("VppWindowTooLong"));
        assert!(refused(&|call| call.start += 7 * 86_400).contains("VppStartTooFar"));
        assert!(refused(&|call| call.price_per_kwh = 0).contains("VppZeroPrice"));
        assert!(refused(&|call| call.budget = Some(2_999_999)).contains("VppBudgetTooSmall"));
        assert!(refused(&|call| call.budget = Some(1 << 56)).contains("VppBudgetTooLarge"));
        assert!(refused(&|call| call.start -= 900).contains("VppFeederBusy"));
    }

    #[test]
    fn full_delivery_cost_rounds_up_as_the_contract_does() {
        // 1,001 W for 15 minutes at 0.25 USD/kWh: 62,562.5 base units, escrowed as 62,563.
        let call = EventCall {
            feeder: 1,
            start: 0,
            duration: 900,
            target_w: 1_001,
            price_per_kwh: 250_000,
            budget: None,
            priority: 0,
            program: String::new(),
        };
        assert_eq!(call.full_delivery_cost(), 62_563);
    }
}
