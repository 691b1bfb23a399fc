//! The prosumer's wallet commands: deposit and withdraw, standing orders, balances and bills;
//! the requests of the carbon and pool commands, which `carbon.rs` and `pool.rs` run.
//!
//! Every amount was parsed and checked before a request exists (see [`Request`]), so a typo
//! never costs a transaction; what the chain refuses is explained by the contract's error name.

use alloy::{
    network::Ethereum,
    primitives::{Address, U256, aliases::U40},
    providers::{DynProvider, PendingTransactionBuilder, Provider},
    rpc::types::{Filter, Log, TransactionReceipt},
    sol_types::SolEvent,
};
use cogrid_bindings::{EnergyMarket, IEnergyMarket::OrderParams};
use cogrid_chain::{Deployment, SettlementRecord};
use eyre::{WrapErr, bail, eyre};

use crate::{
    bill::{self, MeterEvent},
    cli::Asset,
    explain::{Erc20, explain, market_hint},
    pool::{Guard, SharesToBurn, Swap},
    time::{intervals_within, rfc3339},
    units::{self, Unit},
};

/// A wallet command with its amounts already in base units.
#[derive(Debug, Clone)]
pub(crate) enum Request {
    /// Move `amount` of `asset` from the wallet into the vault.
    Deposit {
        /// What to move.
        asset: Asset,
        /// Base units of the asset; not zero.
        amount: u128,
    },
    /// Move `amount` of `asset` (everything when `None`) from the vault to the wallet.
    Withdraw {
        /// What to move.
        asset: Asset,
        /// Base units of the asset; not zero.
        amount: Option<u128>,
    },
    /// Place or replace a meter's standing order.
    OrderSet {
        /// The meter; the sender's only meter when `None`.
        meter: Option<Address>,
        /// The order, checked for what the contract would refuse.
        params: OrderParams,
    },
    /// Cancel a meter's standing order.
    OrderCancel {
        /// The meter; the sender's only meter when `None`.
        meter: Option<Address>,
    },
    /// Print a meter's standing order.
    OrderShow {
        /// The meter; the sender's only meter when `None`.
        meter: Option<Address>,
    },
    /// Print an account's wallet and vault balances.
    Balance {
        /// The account; the sender when `None`.
        account: Option<Address>,
    },
    /// Print a meter's bill.
    Bill {
        /// The meter; the sender's only meter when `None`.
        meter: Option<Address>,
        /// Start of the period, unix seconds.
        from: u64,
        /// End of the period (exclusive), unix seconds.
        to: u64,
        /// Print JSON (base units) instead of a table.
        json: bool,
    },
    /// Retire carbon credits with a certificate.
    CarbonRetire {
        /// Grams CO2e; not zero.
        grams: u128,
        /// Who the retirement is for; the sender when empty.
        beneficiary: String,
        /// Why.
        purpose: String,
        /// Start of the period claimed, unix seconds; a year before its end when `None`.
        from: Option<u64>,
        /// End of the period claimed, unix seconds; the chain's time when `None`.
        to: Option<u64>,
    },
    /// Print retirement certificates.
    CarbonShow {
        /// Whose; the sender when `None` (ignored when `id` is given).
        account: Option<Address>,
        /// One certificate.
        id: Option<u64>,
    },
    /// Print the pool and an account's part of it.
    PoolShow {
        /// Whose part; the sender when `None`.
        account: Option<Address>,
        /// The window of the time-weighted mean price, seconds.
        twap_seconds: u64,
    },
    /// Swap with the pool.
    Swap(Swap),
    /// Add liquidity to the pool.
    LiquidityAdd {
        /// Wh of energy credits offered; not zero.
        wh: u128,
        /// Stablecoin base units offered; not zero.
        amount: u128,
        /// How far the pool's price may move before the transaction is mined.
        guard: Guard,
    },
    /// Remove liquidity from the pool.
    LiquidityRemove {
        /// How many of the sender's shares to burn.
        shares: SharesToBurn,
        /// How far the pool's price may move before the transaction is mined.
        guard: Guard,
    },
}

impl Request {
    /// Whether the request only reads the chain and names what it reads, so that it needs no key.
    pub(crate) fn reads_without_key(&self) -> bool {
        match self {
            Self::OrderShow { meter } | Self::Bill { meter, .. } => meter.is_some(),
            Self::Balance { account } => account.is_some(),
            Self::CarbonShow { account, id } => account.is_some() || id.is_some(),
            Self::PoolShow { account, .. } => account.is_some(),
            Self::CarbonRetire { .. }
            | Self::Deposit { .. }
            | Self::Withdraw { .. }
            | Self::OrderSet { .. }
            | Self::OrderCancel { .. }
            | Self::Swap(_)
            | Self::LiquidityAdd { .. }
            | Self::LiquidityRemove { .. } => false,
        }
    }
}

/// A connection to a deployment, from one sending account.
#[derive(Debug)]
pub(crate) struct Session {
    /// The provider, whose wallet signs.
    pub(crate) provider: DynProvider,
    /// The RPC URL, for error messages.
    pub(crate) rpc_url: String,
    /// Where the contracts are.
    pub(crate) deployment: Deployment,
    /// The sending account.
    pub(crate) sender: Address,
}

/// Runs a wallet request.
pub(crate) async fn run(request: Request, session: &Session) -> eyre::Result<()> {
    match request {
        Request::Deposit { asset, amount } => session.deposit(asset, amount).await,
        Request::Withdraw { asset, amount } => session.withdraw(asset, amount).await,
        Request::OrderSet { meter, params } => {
            let meter = session.meter_or_only(meter).await?;
            let sent = session.market().placeOrder(meter, params).send().await;
            let receipt = session.confirm(sent, None).await?;
            println!("order placed {}", done(&receipt));
            session.show_order(meter).await
        }
        Request::OrderCancel { meter } => {
            let meter = session.meter_or_only(meter).await?;
            let sent = session.market().cancelOrder(meter).send().await;
            let receipt = session.confirm(sent, None).await?;
            println!("order of meter {meter} cancelled {}", done(&receipt));
            Ok(())
        }
        Request::OrderShow { meter } => {
            let meter = session.meter_or_only(meter).await?;
            session.show_order(meter).await
        }
        Request::Balance { account } => session.balance(account.unwrap_or(session.sender)).await,
        Request::Bill {
            meter,
            from,
            to,
            json,
        } => {
            let meter = session.meter_or_only(meter).await?;
            session.bill(meter, from, to, json).await
        }
        Request::CarbonRetire {
            grams,
            beneficiary,
            purpose,
            from,
            to,
        } => {
            session
                .retire_carbon(grams, &beneficiary, &purpose, from, to)
                .await
        }
        Request::CarbonShow { account, id } => session.show_carbon(account, id).await,
        Request::PoolShow {
            account,
            twap_seconds,
        } => {
            session
                .show_pool(account.unwrap_or(session.sender), twap_seconds)
                .await
        }
        Request::Swap(swap) => session.swap(&swap).await,
        Request::LiquidityAdd { wh, amount, guard } => {
            session.add_liquidity(wh, amount, guard).await
        }
        Request::LiquidityRemove { shares, guard } => session.remove_liquidity(shares, guard).await,
    }
}

impl Session {
    pub(crate) fn market(&self) -> EnergyMarket::EnergyMarketInstance<DynProvider> {
        EnergyMarket::new(self.deployment.market, self.provider.clone())
    }

    fn token(&self, asset: Asset) -> Erc20::Erc20Instance<DynProvider> {
        let address = match asset {
            Asset::Usd => self.deployment.stablecoin,
            Asset::Credits => self.deployment.energy_credit,
            Asset::Carbon => self.deployment.carbon_credit,
        };
        Erc20::new(address, self.provider.clone())
    }

    /// Maps a failed call to its explanation.
    pub(crate) fn explained(
        &self,
        asset: Option<Asset>,
    ) -> impl Fn(alloy::contract::Error) -> eyre::Report {
        let url = self.rpc_url.clone();
        move |error| explain(error, &url, asset)
    }

    /// Waits for a sent transaction; a revert at estimation is explained by name.
    pub(crate) async fn confirm(
        &self,
        sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
        asset: Option<Asset>,
    ) -> eyre::Result<TransactionReceipt> {
        self.wait(sent.map_err(self.explained(asset))?).await
    }

    /// Waits for a sent transaction's receipt and fails when it reverted.
    pub(crate) async fn wait(
        &self,
        pending: PendingTransactionBuilder<Ethereum>,
    ) -> eyre::Result<TransactionReceipt> {
        let receipt = pending.get_receipt().await.wrap_err_with(|| {
            format!(
                "waiting for the transaction's receipt from {}",
                self.rpc_url
            )
        })?;
        eyre::ensure!(
            receipt.status(),
            "transaction {} reverted",
            receipt.transaction_hash
        );
        Ok(receipt)
    }

    pub(crate) async fn vault(&self, account: Address) -> eyre::Result<[u128; 3]> {
        let balances = self
            .market()
            .balancesOf(account)
            .call()
            .await
            .map_err(self.explained(None))?;
        // The vault stores them in 96 and 64 bits.
        Ok([
            balances.stablecoin.to(),
            balances.creditsWh.to(),
            balances.carbonGrams.to(),
        ])
    }

    /// Fails, saying who registers it, unless the sender has a vault in the market.
    pub(crate) async fn require_participant(&self) -> eyre::Result<()> {
        let sender = self.sender;
        let id = self
            .market()
            .participantId(sender)
            .call()
            .await
            .map_err(self.explained(None))?;
        if id == 0 {
            let error = EnergyMarket::EnergyMarketErrors::MarketUnknownParticipant(
                EnergyMarket::MarketUnknownParticipant { account: sender },
            );
            bail!(
                "not sent: the market would refuse with {error:?}\n  hint: {}",
                market_hint(&error).unwrap_or_default()
            );
        }
        Ok(())
    }

    async fn deposit(&self, asset: Asset, amount: u128) -> eyre::Result<()> {
        let sender = self.sender;
        let market = self.market();
        self.require_participant().await?;
        let token = self.token(asset);
        let wanted = U256::from(amount);
        let held = token
            .balanceOf(sender)
            .call()
            .await
            .map_err(self.explained(Some(asset)))?;
        if held < wanted {
            bail!(
                "not sent: wallet {sender} holds {} of {}, less than the {} to deposit",
                show_u256(held, asset.unit()),
                asset.name(),
                units::show(amount, asset.unit())
            );
        }
        let allowance = token
            .allowance(sender, self.deployment.market)
            .call()
            .await
            .map_err(self.explained(Some(asset)))?;
        if allowance < wanted {
            let sent = token.approve(self.deployment.market, wanted).send().await;
            let receipt = self.confirm(sent, Some(asset)).await?;
            println!(
                "approved the market to take {} of {} {}",
                units::show(amount, asset.unit()),
                asset.name(),
                done(&receipt)
            );
        }
        let sent = market.deposit(asset.abi(), wanted).send().await;
        let receipt = self.confirm(sent, Some(asset)).await?;
        let vault = self.vault(sender).await?[asset.index()];
        println!(
            "deposited {} of {} {}; the vault now holds {}",
            units::show(amount, asset.unit()),
            asset.name(),
            done(&receipt),
            units::show(vault, asset.unit())
        );
        Ok(())
    }

    pub(crate) async fn withdraw(&self, asset: Asset, amount: Option<u128>) -> eyre::Result<()> {
        let amount = match amount {
            Some(amount) => amount,
            None => match self.vault(self.sender).await?[asset.index()] {
                0 => bail!("the vault holds no {} to withdraw", asset.name()),
                all => all,
            },
        };
        let sent = self
            .market()
            .withdraw(asset.abi(), U256::from(amount))
            .send()
            .await;
        let receipt = self.confirm(sent, Some(asset)).await?;
        let vault = self.vault(self.sender).await?[asset.index()];
        println!(
            "withdrew {} of {} {}; the vault now holds {}",
            units::show(amount, asset.unit()),
            asset.name(),
            done(&receipt),
            units::show(vault, asset.unit())
        );
        Ok(())
    }

    async fn show_order(&self, meter: Address) -> eyre::Result<()> {
        let market = self.market();
        let order = market
            .orderOf(meter)
            .call()
            .await
            .map_err(self.explained(None))?;
        if !order.sells && !order.buys {
            println!("meter {meter} has no standing order");
            return Ok(());
        }
        let fee = market
            .networkFee()
            .call()
            .await
            .map_err(self.explained(None))?
            .feePerKwh;
        let price = |value: u64| units::show(value.into(), Unit::UsdPerKwh);
        println!("standing order of meter {meter}");
        if order.sells {
            println!(
                "  sells its export at a clearing price of at least {}",
                price(order.sellFloor)
            );
        } else {
            println!("  does not sell");
        }
        if order.buys {
            println!(
                "  buys its import when the clearing price plus the network fee (now {}) is at most {}",
                price(fee),
                price(order.buyCeiling)
            );
        } else {
            println!("  does not buy");
        }
        match order.capWh {
            0 => println!("  no cap per interval"),
            cap => println!(
                "  trades at most {} per interval",
                units::show(cap.into(), Unit::Kwh)
            ),
        }
        let from: u64 = order.validFrom.to();
        let until: u64 = order.validUntil.to();
        println!(
            "  valid from {} until {}",
            if from == 0 {
                "now".into()
            } else {
                rfc3339(from)
            },
            if until == 0 {
                "cancelled".into()
            } else {
                rfc3339(until)
            }
        );
        println!(
            "  import it does not buy is {}",
            if order.coverFromCredits {
                "covered from energy credits first, then supplied by the grid"
            } else {
                "supplied by the grid"
            }
        );
        Ok(())
    }

    async fn balance(&self, account: Address) -> eyre::Result<()> {
        let market = self.market();
        let id = market
            .participantId(account)
            .call()
            .await
            .map_err(self.explained(None))?;
        let active = market
            .isParticipant(account)
            .call()
            .await
            .map_err(self.explained(None))?;
        let status = match (id, active) {
            (0, _) => "not a participant (no vault)".to_owned(),
            (id, true) => format!("participant #{id}, active"),
            (id, false) => format!("participant #{id}, deactivated (may only withdraw)"),
        };
        let vault = self.vault(account).await?;
        let eth = self
            .provider
            .get_balance(account)
            .await
            .map_err(|error| explain(error.into(), &self.rpc_url, None))?;
        println!("account {account}: {status}");
        let mut rows = vec![["asset".to_owned(), "wallet".to_owned(), "vault".to_owned()]];
        for asset in [Asset::Usd, Asset::Credits, Asset::Carbon] {
            let wallet = self
                .token(asset)
                .balanceOf(account)
                .call()
                .await
                .map_err(self.explained(Some(asset)))?;
            rows.push([
                asset.name().to_owned(),
                show_u256(wallet, asset.unit()),
                units::show(vault[asset.index()], asset.unit()),
            ]);
        }
        rows.push(["gas".to_owned(), show_u256(eth, Unit::Eth), "-".to_owned()]);
        let widths: Vec<usize> = (0..3)
            .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
            .collect();
        for [name, wallet, vault] in rows {
            println!(
                "  {name:<w0$}  {wallet:>w1$}  {vault:>w2$}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
        }
        Ok(())
    }

    async fn bill(&self, meter: Address, from: u64, to: u64, json: bool) -> eyre::Result<()> {
        let market = self.market();
        let interval_seconds = market
            .INTERVAL_SECONDS()
            .call()
            .await
            .map_err(self.explained(None))?;
        let intervals = intervals_within(from, to, interval_seconds);
        if intervals.is_empty() {
            bail!(
                "the period {} to {} holds no whole trading interval of {interval_seconds} s: \
                 --to must be after --from",
                rfc3339(from),
                rfc3339(to)
            );
        }
        let owner = market
            .meterInfo(meter)
            .call()
            .await
            .map_err(self.explained(None))?
            .owner;
        if owner == Address::ZERO {
            bail!("meter {meter} is not registered with this deployment");
        }
        let readings = Filter::new()
            .address(self.deployment.market)
            .event_signature(EnergyMarket::ReadingAccepted::SIGNATURE_HASH)
            .topic1(meter.into_word());
        // A batch settles many meters in one event: its records are filtered here, not by topic.
        let settlements = Filter::new()
            .address(self.deployment.market)
            .event_signature(EnergyMarket::MetersSettled::SIGNATURE_HASH);
        let mut events: Vec<MeterEvent> = self
            .logs(readings)
            .await?
            .iter()
            .filter_map(reading_event)
            .collect();
        for log in self.logs(settlements).await? {
            events.extend(settlement_events(&log, meter));
        }
        let bill = bill::bill(&events, interval_seconds, intervals);
        if json {
            println!("{}", serde_json::to_string_pretty(&bill)?);
        } else {
            println!("bill of meter {meter} (owner {owner})");
            print!("{}", bill::render(&bill));
        }
        Ok(())
    }

    /// The meters registered to the sender.
    pub(crate) async fn owned_meters(&self) -> eyre::Result<Vec<Address>> {
        let filter = Filter::new()
            .address(self.deployment.market)
            .event_signature(EnergyMarket::MeterRegistered::SIGNATURE_HASH)
            .topic2(self.sender.into_word());
        let mut meters: Vec<Address> = self
            .logs(filter)
            .await?
            .iter()
            .filter_map(|log| log.log_decode::<EnergyMarket::MeterRegistered>().ok())
            .map(|log| log.inner.data.meter)
            .collect();
        meters.dedup();
        Ok(meters)
    }

    /// The meter given, or the sender's only meter.
    pub(crate) async fn meter_or_only(&self, meter: Option<Address>) -> eyre::Result<Address> {
        if let Some(meter) = meter {
            return Ok(meter);
        }
        let owner = self.sender;
        let meters = self.owned_meters().await?;
        match meters.as_slice() {
            [meter] => Ok(*meter),
            [] => bail!(
                "{owner} owns no meter in this deployment: pass --meter ADDR (the co-op admin \
                 registers meters with `cogrid admin register-meter`)"
            ),
            several => bail!(
                "{owner} owns {} meters ({}): pick one with --meter",
                several.len(),
                several
                    .iter()
                    .map(Address::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The logs matching `filter` from the deployment block to the latest.
    pub(crate) async fn logs(&self, filter: Filter) -> eyre::Result<Vec<Log>> {
        Ok(cogrid_chain::logs_since(
            &self.provider,
            &self.rpc_url,
            &filter,
            self.deployment.deployed_at_block,
        )
        .await?)
    }
}

/// A `ReadingAccepted` log as a bill event.
fn reading_event(log: &Log) -> Option<MeterEvent> {
    let reading = log
        .log_decode::<EnergyMarket::ReadingAccepted>()
        .ok()?
        .inner
        .data;
    Some(MeterEvent::Reading {
        interval_end: reading.intervalEnd.to(),
        import_wh: reading.importDeltaWh.to(),
        export_wh: reading.exportDeltaWh.to(),
    })
}

/// `meter`'s records in a `MetersSettled` log, as bill events.
fn settlement_events(log: &Log, meter: Address) -> Vec<MeterEvent> {
    let Ok(settled) = log.log_decode::<EnergyMarket::MetersSettled>() else {
        return Vec::new();
    };
    SettlementRecord::decode_all(&settled.inner.data.records)
        .into_iter()
        .filter(|record| record.meter == meter)
        .map(|record| MeterEvent::Settled {
            interval: record.interval,
            sold_wh: record.sold_wh().into(),
            bought_wh: record.bought_wh().into(),
            amount: record.amount,
            credited_wh: record.credited_wh.into(),
            covered_wh: record.covered_wh.into(),
            // An islanded feeder's import left to the grid was never supplied.
            grid_supplied_wh: if record.unserved {
                0
            } else {
                record.grid_supplied_wh.into()
            },
            unserved_wh: if record.unserved {
                record.grid_supplied_wh.into()
            } else {
                0
            },
            carbon_grams: record.carbon_grams.into(),
        })
        .collect()
}

/// Builds an order from the command line's values; refuses what the contract would refuse.
pub(crate) fn order_params(
    sell_floor: Option<u64>,
    buy_ceiling: Option<u64>,
    cap_wh: Option<u32>,
    valid_from: Option<u64>,
    valid_until: Option<u64>,
    cover_from_credits: bool,
) -> eyre::Result<OrderParams> {
    if sell_floor.is_none() && buy_ceiling.is_none() {
        bail!("give --sell-floor, --buy-ceiling or both, e.g. --sell-floor 0.12");
    }
    let from = valid_from.unwrap_or(0);
    let until = valid_until.unwrap_or(0);
    if until != 0 && until < from {
        bail!(
            "--valid-until (ending {}) is before --valid-from (starting {})",
            rfc3339(until),
            rfc3339(from)
        );
    }
    // Both were checked to fit 40 bits when parsed.
    let narrow =
        |seconds: u64| U40::try_from(seconds).map_err(|_| eyre!("{seconds} s is too late"));
    Ok(OrderParams {
        sells: sell_floor.is_some(),
        sellFloor: sell_floor.unwrap_or(0),
        buys: buy_ceiling.is_some(),
        buyCeiling: buy_ceiling.unwrap_or(0),
        capWh: cap_wh.unwrap_or(0),
        validFrom: narrow(from)?,
        validUntil: narrow(until)?,
        coverFromCredits: cover_from_credits,
    })
}

fn show_u256(value: U256, unit: Unit) -> String {
    format!("{} {}", units::format_u256(value, unit), unit.symbol())
}

/// `(transaction 0x… in block N)`.
pub(crate) fn done(receipt: &TransactionReceipt) -> String {
    format!(
        "(transaction {} in block {})",
        receipt.transaction_hash,
        receipt.block_number.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_needs_a_side_and_an_ordered_window() {
        let error = order_params(None, None, None, None, None, false).unwrap_err();
        assert!(error.to_string().contains("--sell-floor"), "{error}");
        let error = order_params(Some(1), None, None, Some(2_000), Some(1_000), false).unwrap_err();
        assert!(
            error.to_string().contains("is before --valid-from"),
            "{error}"
        );
        let order = order_params(None, Some(80_000), Some(5_000), None, Some(1_000), true).unwrap();
        assert!(!order.sells && order.buys && order.coverFromCredits);
        assert_eq!(order.buyCeiling, 80_000);
        assert_eq!(order.capWh, 5_000);
        assert_eq!(order.validUntil, U40::from(1_000u64));
    }
}
