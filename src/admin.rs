//! The co-op admin's and the grid operator's commands: participants, meters and roles; islanding
//! a feeder; the network and keeper fees.
//!
//! Each command checks first that the sending key holds the role the contract demands, and names
//! the role when it does not, so a wrong key costs no transaction.

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use cogrid_bindings::OracleHub;
use eyre::bail;

use crate::{
    cli::{MeterKind, price_arg},
    units::{self, Unit},
    wallet::{Session, done},
};

/// Co-op admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Registers an account as a participant: it gets a vault, may own meters and trade
    /// (REGISTRAR_ROLE). Registering a deactivated participant again reactivates it.
    RegisterParticipant {
        /// The account.
        account: Address,
    },
    /// Registers a meter by its signing-key address (`meter-signer keygen` prints it)
    /// (REGISTRAR_ROLE).
    RegisterMeter(RegisterMeterArgs),
    /// Deactivates a participant (it stops trading; its vault stays withdrawable) or a meter
    /// (its readings are refused) (REGISTRAR_ROLE).
    Deactivate {
        /// The participant's account or the meter's address.
        account: Address,
    },
    /// Grants a role (DEFAULT_ADMIN_ROLE of the contract holding the role).
    Grant {
        /// The role.
        role: Role,
        /// The account that gets it.
        account: Address,
    },
}

/// `admin register-meter` arguments.
#[derive(Debug, Clone, Args)]
pub struct RegisterMeterArgs {
    /// The meter's signing-key address.
    #[arg(long)]
    pub address: Address,
    /// The participant who owns it.
    #[arg(long)]
    pub owner: Address,
    /// The feeder (low-voltage line) it is connected to; fixed for the meter's life.
    #[arg(long)]
    pub feeder: u32,
    /// What is behind the meter (comma separated): solar, battery, ev.
    #[arg(long, value_delimiter = ',', required = true)]
    pub kind: Vec<MeterKind>,
    /// Medical devices or refrigeration behind the meter: served first when the feeder is
    /// islanded.
    #[arg(long)]
    pub critical: bool,
    /// Connection capacity in W.
    #[arg(long)]
    pub capacity_w: u32,
}

/// A role `cogrid admin grant` hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Settles intervals (the market's KEEPER_ROLE).
    Keeper,
    /// Signs oracle observations (the OracleHub's REPORTER_ROLE).
    Oracle,
    /// Sets the network fee, islands feeders and calls VPP events (the market's
    /// GRID_OPERATOR_ROLE).
    GridOperator,
    /// Registers and deactivates participants and meters (the market's REGISTRAR_ROLE).
    Registrar,
}

impl Role {
    /// The role's name in the contract.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Keeper => "KEEPER_ROLE",
            Self::Oracle => "REPORTER_ROLE",
            Self::GridOperator => "GRID_OPERATOR_ROLE",
            Self::Registrar => "REGISTRAR_ROLE",
        }
    }

    /// The contract holding the role, by name.
    const fn holder(self) -> &'static str {
        match self {
            Self::Oracle => "the OracleHub",
            Self::Keeper | Self::GridOperator | Self::Registrar => "the market",
        }
    }

    /// The `cogrid admin grant` argument that grants it.
    fn argument(self) -> String {
        self.to_possible_value()
            .expect("no variant is skipped")
            .get_name()
            .to_owned()
    }
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Islanded: no grid supply on the feeder.
    On,
    /// Back on the grid.
    Off,
}

/// Fee commands.
#[derive(Debug, Subcommand)]
pub enum FeeAction {
    /// Sets the network fee per kWh bought, paid to the grid operator that sets it
    /// (GRID_OPERATOR_ROLE), and/or the keeper fee in basis points of each sale's value
    /// (DEFAULT_ADMIN_ROLE).
    Set(FeeSetArgs),
    /// Shows the fees.
    Show,
}

/// `fee set` arguments.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("fee").required(true).multiple(true).args(["network", "keeper_bps"])))]
pub struct FeeSetArgs {
    /// The network fee, USD per kWh bought (e.g. 0.04).
    #[arg(long, value_name = "USD/kWh", value_parser = price_arg, allow_hyphen_values = true)]
    pub network: Option<u64>,
    /// The keeper fee, basis points of each sale's value (at most 1000).
    #[arg(long, value_parser = clap::value_parser!(u16).range(..=1_000))]
    pub keeper_bps: Option<u16>,
}

/// Runs a co-op admin command.
pub(crate) async fn run(action: AdminAction, session: &Session) -> eyre::Result<()> {
    let market = session.market();
    match action {
        AdminAction::RegisterParticipant { account } => {
            session.require_role(Role::Registrar).await?;
            let sent = market.registerParticipant(account).send().await;
            let receipt = session.confirm(sent, None).await?;
            println!("participant {account} registered {}", done(&receipt));
        }
        AdminAction::RegisterMeter(args) => {
            session.require_role(Role::Registrar).await?;
            let critical = args.critical.then_some(MeterKind::CriticalLoad);
            let kinds = args
                .kind
                .iter()
                .copied()
                .chain(critical)
                .fold(0u8, |flags, kind| flags | kind.flag());
            let sent = market
                .registerMeter(
                    args.address,
                    args.owner,
                    args.feeder,
                    kinds,
                    args.capacity_w,
                )
                .send()
                .await;
            let receipt = session.confirm(sent, None).await?;
            println!(
                "meter {} registered to {} on feeder {} {}",
                args.address,
                args.owner,
                args.feeder,
                done(&receipt)
            );
        }
        AdminAction::Deactivate { account } => {
            session.require_role(Role::Registrar).await?;
            let explained = session.explained(None);
            let state = market
                .meterState(account)
                .call()
                .await
                .map_err(&explained)?;
            let (sent, what) = if state.status != 0 {
                (market.deactivateMeter(account).send().await, "meter")
            } else if market
                .isParticipant(account)
                .call()
                .await
                .map_err(&explained)?
            {
                (
                    market.deactivateParticipant(account).send().await,
                    "participant",
                )
            } else {
                bail!(
                    "{account} is neither a registered meter nor an active participant: check \
                     the address (`cogrid meter show ADDR` shows a meter)"
                );
            };
            let receipt = session.confirm(sent, None).await?;
            println!("{what} {account} deactivated {}", done(&receipt));
        }
        AdminAction::Grant { role, account } => session.grant(role, account).await?,
    }
    Ok(())
}

impl Session {
    fn oracle_hub(&self) -> OracleHub::OracleHubInstance<DynProvider> {
        OracleHub::new(self.deployment.oracle_hub, self.provider.clone())
    }

    /// The role's id in its contract and whether `account` holds it.
    async fn holds(&self, role: Role, account: Address) -> eyre::Result<(B256, bool)> {
        let explained = self.explained(None);
        let (market, hub) = (self.market(), self.oracle_hub());
        let id = match role {
            Role::Oracle => hub.REPORTER_ROLE().call().await,
            Role::Keeper => market.KEEPER_ROLE().call().await,
            Role::GridOperator => market.GRID_OPERATOR_ROLE().call().await,
            Role::Registrar => market.REGISTRAR_ROLE().call().await,
        }
        .map_err(&explained)?;
        let held = match role {
            Role::Oracle => hub.hasRole(id, account).call().await,
            Role::Keeper | Role::GridOperator | Role::Registrar => {
                market.hasRole(id, account).call().await
            }
        }
        .map_err(&explained)?;
        Ok((id, held))
    }

    /// Fails, naming the role and who grants it, unless the sender holds `role`.
    pub(crate) async fn require_role(&self, role: Role) -> eyre::Result<()> {
        let sender = self.sender;
        if self.holds(role, sender).await?.1 {
            return Ok(());
        }
        bail!(
            "not sent: {sender} lacks {} of {}, which this command needs: send from a key that \
             holds it, or ask the co-op admin to run `cogrid admin grant {} {sender}`",
            role.name(),
            role.holder(),
            role.argument()
        )
    }

    /// Fails, naming the role, unless the sender is an admin of the market.
    async fn require_admin(&self, what: &str) -> eyre::Result<()> {
        let sender = self.sender;
        let admin = self
            .market()
            .hasRole(B256::ZERO, sender)
            .call()
            .await
            .map_err(self.explained(None))?;
        if !admin {
            bail!(
                "not sent: {sender} lacks DEFAULT_ADMIN_ROLE of the market, which {what} needs: \
                 send from the co-op admin's key"
            );
        }
        Ok(())
    }

    async fn grant(&self, role: Role, account: Address) -> eyre::Result<()> {
        let sender = self.sender;
        let (id, held) = self.holds(role, account).await?;
        if held {
            println!(
                "{account} already holds {} of {}",
                role.name(),
                role.holder()
            );
            return Ok(());
        }
        let explained = self.explained(None);
        let sent = if role == Role::Oracle {
            let hub = self.oracle_hub();
            if !hub
                .hasRole(B256::ZERO, sender)
                .call()
                .await
                .map_err(&explained)?
            {
                bail!(
                    "not sent: {sender} lacks DEFAULT_ADMIN_ROLE of the OracleHub, which granting \
                     REPORTER_ROLE needs: send from the co-op admin's key"
                );
            }
            hub.grantRole(id, account).send().await
        } else {
            self.require_admin(&format!("granting {}", role.name()))
                .await?;
            self.market().grantRole(id, account).send().await
        };
        let receipt = self.confirm(sent, None).await?;
        println!(
            "{account} now holds {} of {} {}",
            role.name(),
            role.holder(),
            done(&receipt)
        );
        Ok(())
    }

    /// Islands `feeder` or brings it back.
    pub(crate) async fn island(&self, feeder: u32, switch: Switch) -> eyre::Result<()> {
        self.require_role(Role::GridOperator).await?;
        let islanded = switch == Switch::On;
        let sent = self.market().setIslanded(feeder, islanded).send().await;
        let receipt = self.confirm(sent, None).await?;
        if islanded {
            println!(
                "feeder {feeder} islanded {}: no grid supply; its import the market does not \
                 serve is recorded as unserved, critical loads are cleared first",
                done(&receipt)
            );
        } else {
            println!("feeder {feeder} back on the grid {}", done(&receipt));
        }
        Ok(())
    }

    /// Sets the fees given.
    pub(crate) async fn set_fees(&self, args: &FeeSetArgs) -> eyre::Result<()> {
        // Both checks before either transaction, so that a key lacking one role sends nothing.
        if args.network.is_some() {
            self.require_role(Role::GridOperator).await?;
        }
        if args.keeper_bps.is_some() {
            self.require_admin("setting the keeper fee").await?;
        }
        if let Some(fee) = args.network {
            let sent = self.market().setNetworkFee(fee).send().await;
            let receipt = self.confirm(sent, None).await?;
            println!(
                "network fee set to {} bought, paid to {} {}",
                units::show(u128::from(fee), Unit::UsdPerKwh),
                self.sender,
                done(&receipt)
            );
        }
        if let Some(bps) = args.keeper_bps {
            let sent = self.market().setKeeperFee(bps).send().await;
            let receipt = self.confirm(sent, None).await?;
            println!(
                "keeper fee set to {} of each sale's value {}",
                units::show(u128::from(bps), Unit::Percent),
                done(&receipt)
            );
        }
        Ok(())
    }

    /// Prints the fees.
    pub(crate) async fn show_fees(&self) -> eyre::Result<()> {
        let explained = self.explained(None);
        let network = self
            .market()
            .networkFee()
            .call()
            .await
            .map_err(&explained)?;
        let keeper = self
            .market()
            .keeperFeeBps()
            .call()
            .await
            .map_err(&explained)?;
        println!(
            "network fee {} bought, paid to {}\nkeeper fee {} of each sale's value",
            units::show(u128::from(network.feePerKwh), Unit::UsdPerKwh),
            network.operator,
            units::show(u128::from(keeper), Unit::Percent)
        );
        Ok(())
    }
}
