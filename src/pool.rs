//! The pool (EnergyAmm): `cogrid pool` shows it, `cogrid swap` trades energy credits against the
//! stablecoin with it, `cogrid liquidity add|remove` provides its liquidity.
//!
//! The pool trades market vault balances: deposit first (`cogrid deposit`), swap vault to vault,
//! withdraw afterwards. Every transaction carries a limit and a deadline: the limit given on the
//! command line, or the pool's quote widened by `--slippage-bps`; the deadline counted from the
//! chain's latest block, not the local clock. What was traded is read back from the receipt's
//! events, not taken from the quote.

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
    sol_types::SolEvent,
};
use cogrid_bindings::EnergyAmm;
use eyre::{bail, eyre};

use crate::{
    cli::Asset,
    explain::{explain_pool, other_side},
    time::rfc3339,
    units::{self, Unit},
    wallet::{Session, done},
};

/// Basis points in a whole.
const BPS: u16 = 10_000;
/// A cold zero-to-non-zero storage write (22,100 gas) with some to spare.
const ACCUMULATOR_WRITE_GAS: u64 = 25_000;

/// What to do about a pool without liquidity.
const EMPTY_POOL: &str = "the pool holds no liquidity yet: add some from your vault with \
                          `cogrid liquidity add --kwh X --amount Y` (the first deposit sets the \
                          price)";

/// How far a transaction may stray from its quote, and how long it may wait to be mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guard {
    /// The price movement against the caller tolerated, in basis points of the quote; used for
    /// the limits not given on the command line.
    pub(crate) slippage_bps: u16,
    /// Seconds after the chain's latest block the transaction may still be mined.
    pub(crate) deadline_seconds: u64,
}

/// Whether a swap's amount is what it sells or what it buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exact {
    /// Sell exactly the amount, for at least the limit.
    In,
    /// Buy exactly the amount, for at most the limit.
    Out,
}

/// A swap with its amounts in base units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Swap {
    /// What the swap sells: energy credits (for stablecoin) or the stablecoin (for credits).
    pub(crate) sold: Asset,
    /// Whether `amount` is sold or bought.
    pub(crate) exact: Exact,
    /// Base units of the sold asset (exact in) or of the bought one (exact out); not zero.
    pub(crate) amount: u128,
    /// The least received (exact in) or the most paid (exact out), in base units of that asset;
    /// the quote widened by the guard's slippage when `None`.
    pub(crate) limit: Option<u128>,
    /// Slippage and deadline.
    pub(crate) guard: Guard,
}

/// How many of the caller's LP shares to burn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharesToBurn {
    /// This many (share token base units).
    Count(u128),
    /// This part of what the caller holds, in basis points, rounded down to whole shares.
    Percent(u16),
}

/// The least to accept from a quote of `quote`: the quote less `bps` of it, rounded down.
fn at_least(quote: u128, bps: u16) -> u128 {
    // Quotes are vault amounts, below 2^96, so the product stays below 2^110.
    quote * u128::from(BPS - bps.min(BPS)) / u128::from(BPS)
}

/// The most to pay against a quote of `quote`: the quote plus `bps` of it, rounded up.
fn at_most(quote: u128, bps: u16) -> u128 {
    (quote * u128::from(BPS + bps)).div_ceil(u128::from(BPS))
}

/// `a * b / c` rounded down (`ceil == false`) or up, over 256 bits as the pool computes it.
fn mul_div(a: u128, b: u128, c: u128, ceil: bool) -> u128 {
    let product = U256::from(a) * U256::from(b);
    let divisor = U256::from(c);
    let quotient = product / divisor;
    let rounded = if ceil && !(product % divisor).is_zero() {
        quotient + U256::from(1)
    } else {
        quotient
    };
    rounded.saturating_to()
}

/// What the pool takes of a deposit offering `desired` (credits Wh, stablecoin base units)
/// against `reserves`, as `EnergyAmm.addLiquidity` computes it: all of an empty pool's first
/// deposit, else the most at the reserves' ratio with the counterpart rounded up.
fn deposit_amounts(desired: (u128, u128), reserves: (u128, u128)) -> (u128, u128) {
    let ((credits, stable), (reserve_credits, reserve_stable)) = (desired, reserves);
    if reserve_credits == 0 {
        return desired;
    }
    let stable_needed = mul_div(credits, reserve_stable, reserve_credits, true);
    if stable_needed <= stable {
        (credits, stable_needed)
    } else {
        (
            mul_div(stable, reserve_credits, reserve_stable, true),
            stable,
        )
    }
}

/// `value` base units of `asset`, with its unit: `0.5 kWh`.
fn show(value: u128, asset: Asset) -> String {
    units::show(value, asset.unit())
}

/// `part` of `whole` as a percentage with two decimals (rounded down): `99.29 %`.
fn percent(part: u128, whole: u128) -> String {
    let bps = if whole == 0 {
        0
    } else {
        mul_div(part, u128::from(BPS), whole, false)
    };
    format!("{} %", units::format_fixed(bps, Unit::Percent))
}

/// The mean credit price in stablecoin base units per kWh, rounded down, of a window `elapsed`
/// seconds long whose ends read the pool's credit-price accumulator as `then` and `now`.
///
/// The accumulator sums, each second, the price in stablecoin base units per Wh as unsigned
/// Q64.64, modulo 2^128; its difference over the window divided by the window's length is the
/// time-weighted mean (exact while the price times the window stays below 2^64 Q64.64 units,
/// years at any real price). `None` for an empty window.
fn mean_price_per_kwh(then: u128, now: u128, elapsed: u32) -> Option<u128> {
    if elapsed == 0 {
        return None;
    }
    let sum = U256::from(now.wrapping_sub(then)) * U256::from(1_000);
    Some((sum / (U256::from(elapsed) << 64_usize)).saturating_to())
}

/// What the pool's price history says about a window ending at the latest block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Twap {
    /// The time-weighted mean price over the window from `since` (a block's timestamp).
    Mean {
        /// Stablecoin base units per kWh.
        per_kwh: u128,
        /// The window's length in seconds (from the last block at or before its asked start).
        seconds: u32,
        /// The block the window starts at.
        block: u64,
    },
    /// The pool had no liquidity when the window starts, so it has no price for all of it.
    Younger,
    /// The node did not answer for the state at the window's start (a pruned node).
    Unavailable {
        /// The block asked for.
        block: u64,
        /// What the node said.
        message: String,
    },
}

/// The reserves, credits first.
#[derive(Debug, Clone, Copy)]
struct Reserves {
    credits: u128,
    stable: u128,
    /// Block timestamp (mod 2^32) of the last change.
    changed_at: u32,
}

impl Reserves {
    /// Before the first deposit; a pool never returns to empty (the locked shares keep a part).
    fn is_empty(self) -> bool {
        self.credits == 0
    }
}

impl Session {
    fn pool(&self) -> EnergyAmm::EnergyAmmInstance<DynProvider> {
        EnergyAmm::new(self.deployment.energy_amm, self.provider.clone())
    }

    /// Maps a failed pool call to its explanation; `sold` is what a swap sells.
    fn pool_explained(
        &self,
        sold: Option<Asset>,
    ) -> impl Fn(alloy::contract::Error) -> eyre::Report {
        let url = self.rpc_url.clone();
        move |error| explain_pool(error, &url, sold)
    }

    async fn reserves(&self) -> eyre::Result<Reserves> {
        let reserves = self
            .pool()
            .getReserves()
            .call()
            .await
            .map_err(self.pool_explained(None))?;
        // The pool stores them in 56 and 96 bits.
        Ok(Reserves {
            credits: reserves.reserveCredits.saturating_to(),
            stable: reserves.reserveStable.saturating_to(),
            changed_at: reserves.blockTimestampLast,
        })
    }

    async fn shares_of(&self, account: Address) -> eyre::Result<(u128, u128)> {
        let pool = self.pool();
        let held = pool
            .balanceOf(account)
            .call()
            .await
            .map_err(self.pool_explained(None))?;
        let supply = pool
            .totalSupply()
            .call()
            .await
            .map_err(self.pool_explained(None))?;
        Ok((held.saturating_to(), supply.saturating_to()))
    }

    /// The deadline `guard` allows, from the chain's clock.
    async fn deadline(&self, guard: Guard) -> eyre::Result<U256> {
        Ok(U256::from(
            self.chain_time().await? + guard.deadline_seconds,
        ))
    }

    /// Fails, naming the deposit that makes up for it, when the sender's vault holds less than
    /// one of the `needed` amounts; `what` says what takes them ("the swap takes").
    async fn require_in_vault(&self, needed: &[(Asset, u128)], what: &str) -> eyre::Result<()> {
        let vault = self.vault(self.sender).await?;
        for &(asset, needed) in needed {
            let held = vault[asset.index()];
            if held < needed {
                let flag = match asset {
                    Asset::Usd => "",
                    Asset::Credits => " --asset credits",
                    Asset::Carbon => " --asset carbon",
                };
                bail!(
                    "not sent: your vault holds {} of {}, less than the {} {what}: deposit first \
                     with `cogrid deposit{flag} {}` (`cogrid balance` shows what you hold)",
                    show(held, asset),
                    asset.name(),
                    show(needed, asset),
                    units::format(needed - held, asset.unit())
                );
            }
        }
        Ok(())
    }

    /// The pool's event `E` in `receipt`.
    fn pool_event<E: SolEvent>(&self, receipt: &TransactionReceipt) -> eyre::Result<E> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.deployment.energy_amm)
            .find_map(|log| log.log_decode::<E>().ok())
            .map(|log| log.inner.data)
            .ok_or_else(|| {
                eyre!(
                    "transaction {} has no {} event of the pool",
                    receipt.transaction_hash,
                    E::SIGNATURE
                )
            })
    }

    /// The number of the last block at or before `time` since the deployment, given the latest
    /// block's number and timestamp; `None` when the deployment is younger. Bisects on block
    /// timestamps, which never decrease.
    async fn block_at(&self, time: u64, latest: (u64, u64)) -> eyre::Result<Option<u64>> {
        let timestamp = |number: u64| async move {
            let block = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
                .map_err(|error| eyre!("reading block {number} from {}: {error}", self.rpc_url))?
                .ok_or_else(|| eyre!("{} has no block {number}", self.rpc_url))?;
            eyre::Ok(block.header.timestamp)
        };
        let (mut low, mut high) = (self.deployment.deployed_at_block, latest.0);
        if latest.1 <= time {
            return Ok(Some(latest.0));
        }
        if low >= high || timestamp(low).await? > time {
            return Ok(None);
        }
        // timestamp(low) <= time < timestamp(high).
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if timestamp(middle).await? <= time {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(Some(low))
    }

    /// The pool's time-weighted mean price over (at least) the last `window` seconds: the
    /// credit-price accumulator read at the latest block and at the last block at or before the
    /// window's start, over the seconds between the two as the pool counted them.
    async fn twap(&self, window: u64) -> eyre::Result<Twap> {
        let latest = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|error| eyre!("reading the latest block from {}: {error}", self.rpc_url))?
            .ok_or_else(|| eyre!("{} has no latest block", self.rpc_url))?;
        let latest = (latest.header.number, latest.header.timestamp);
        let Some(block) = self
            .block_at(latest.1.saturating_sub(window), latest)
            .await?
        else {
            return Ok(Twap::Younger);
        };
        let pool = self.pool();
        let at = BlockId::number(block);
        let reserves = match pool.getReserves().call().block(at).await {
            Ok(reserves) => reserves,
            // No code there yet: the pool was deployed after the suite's first block.
            Err(alloy::contract::Error::ZeroData(..)) => return Ok(Twap::Younger),
            Err(error) => {
                return Ok(Twap::Unavailable {
                    block,
                    message: error.to_string(),
                });
            }
        };
        if reserves.reserveCredits.is_zero() {
            return Ok(Twap::Younger);
        }
        let then = match pool.currentCumulativePrices().call().block(at).await {
            Ok(then) => then,
            Err(error) => {
                return Ok(Twap::Unavailable {
                    block,
                    message: error.to_string(),
                });
            }
        };
        let now = pool
            .currentCumulativePrices()
            .call()
            .block(BlockId::number(latest.0))
            .await
            .map_err(self.pool_explained(None))?;
        // The pool counts time in 32 bits, wrapping; only differences matter.
        let seconds = now.blockTimestamp.wrapping_sub(then.blockTimestamp);
        Ok(
            match mean_price_per_kwh(
                then.creditPriceCumulative,
                now.creditPriceCumulative,
                seconds,
            ) {
                Some(per_kwh) => Twap::Mean {
                    per_kwh,
                    seconds,
                    block,
                },
                None => Twap::Younger,
            },
        )
    }

    /// Prints the pool and `account`'s part of it, with the mean price over the last
    /// `twap_seconds`.
    pub(crate) async fn show_pool(&self, account: Address, twap_seconds: u64) -> eyre::Result<()> {
        let pool = self.pool();
        let explained = self.pool_explained(None);
        let fee: u128 = pool
            .FEE_BPS()
            .call()
            .await
            .map_err(&explained)?
            .saturating_to();
        println!(
            "pool {} (EnergyAmm: energy credits against the stablecoin, vault to vault)",
            self.deployment.energy_amm
        );
        println!(
            "  fee          {} of the amount in, kept in the pool for its LP shares",
            units::format(fee, Unit::Percent) + " %"
        );
        let reserves = self.reserves().await?;
        if reserves.is_empty() {
            println!("  reserves     none: {EMPTY_POOL}");
            return Ok(());
        }
        let spot: u128 = pool
            .spotPrice()
            .call()
            .await
            .map_err(&explained)?
            .saturating_to();
        let locked: u128 = pool
            .MINIMUM_LIQUIDITY()
            .call()
            .await
            .map_err(&explained)?
            .saturating_to();
        let (held, supply) = self.shares_of(account).await?;
        println!(
            "  reserves     {} of energy credits, {} of stablecoin",
            show(reserves.credits, Asset::Credits),
            show(reserves.stable, Asset::Usd)
        );
        println!(
            "  spot price   {} (mid price, before the fee and the price impact a swap quotes)",
            units::show(spot, Unit::UsdPerKwh)
        );
        println!(
            "  LP shares    {} ({locked} locked forever by the first deposit)",
            units::show(supply, Unit::Shares)
        );
        println!("  last change  {}", rfc3339(u64::from(reserves.changed_at)));
        match self.twap(twap_seconds).await? {
            Twap::Mean {
                per_kwh,
                seconds,
                block,
            } => println!(
                "  TWAP         {} over the last {seconds} s (since block {block})",
                units::show(per_kwh, Unit::UsdPerKwh)
            ),
            Twap::Younger => println!(
                "  TWAP         none over the last {twap_seconds} s: the pool had no liquidity \
                 then (--twap-seconds sets the window)"
            ),
            Twap::Unavailable { block, message } => println!(
                "  TWAP         not available: {} did not serve the pool's state at block {block} \
                 (an archive node does, or shorten --twap-seconds): {message}",
                self.rpc_url
            ),
        }
        println!(
            "account {account}: {}, {} of the pool",
            units::show(held, Unit::Shares),
            percent(held, supply)
        );
        println!(
            "  its part     {} of energy credits, {} of stablecoin (what removing them pays)",
            show(
                mul_div(held, reserves.credits, supply, false),
                Asset::Credits
            ),
            show(mul_div(held, reserves.stable, supply, false), Asset::Usd)
        );
        Ok(())
    }

    /// Quotes a swap, sends it with its limit and deadline, and prints what was traded.
    pub(crate) async fn swap(&self, swap: &Swap) -> eyre::Result<()> {
        self.require_participant().await?;
        if self.reserves().await?.is_empty() {
            bail!("not sent: {EMPTY_POOL}");
        }
        let pool = self.pool();
        let explained = self.pool_explained(Some(swap.sold));
        let credits_in = swap.sold == Asset::Credits;
        let bought = other_side(swap.sold);
        let amount = U256::from(swap.amount);
        // A limit given on the command line is taken as it is; without one, the quote's slippage.
        let slippage_note = match swap.limit {
            Some(_) => String::new(),
            None => format!(
                " ({} % slippage)",
                units::format(swap.guard.slippage_bps.into(), Unit::Percent)
            ),
        };
        let (limit, takes) = match swap.exact {
            Exact::In => {
                let quote: u128 = pool
                    .getAmountOut(credits_in, amount)
                    .call()
                    .await
                    .map_err(&explained)?
                    .saturating_to();
                let limit = swap
                    .limit
                    .unwrap_or_else(|| at_least(quote, swap.guard.slippage_bps));
                println!(
                    "quote: {} of {} pays {} of {}; accepting at least {}{}",
                    show(swap.amount, swap.sold),
                    swap.sold.name(),
                    show(quote, bought),
                    bought.name(),
                    show(limit, bought),
                    slippage_note,
                );
                (limit, swap.amount)
            }
            Exact::Out => {
                let quote: u128 = pool
                    .getAmountIn(credits_in, amount)
                    .call()
                    .await
                    .map_err(&explained)?
                    .saturating_to();
                let limit = swap
                    .limit
                    .unwrap_or_else(|| at_most(quote, swap.guard.slippage_bps));
                println!(
                    "quote: {} of {} costs {} of {}; paying at most {}{}",
                    show(swap.amount, bought),
                    bought.name(),
                    show(quote, swap.sold),
                    swap.sold.name(),
                    show(limit, swap.sold),
                    slippage_note,
                );
                (limit, quote)
            }
        };
        self.require_in_vault(&[(swap.sold, takes)], "the swap takes")
            .await?;
        let deadline = self.deadline(swap.guard).await?;
        let limit = U256::from(limit);
        let sent = match swap.exact {
            Exact::In => {
                send_with_headroom(
                    self.sender,
                    pool.swapExactIn(credits_in, amount, limit, deadline),
                )
                .await
            }
            Exact::Out => {
                send_with_headroom(
                    self.sender,
                    pool.swapExactOut(credits_in, amount, limit, deadline),
                )
                .await
            }
        };
        let receipt = self.wait(sent.map_err(&explained)?).await?;
        let swapped: EnergyAmm::Swapped = self.pool_event(&receipt)?;
        let (amount_in, amount_out) = (
            swapped.amountIn.saturating_to::<u128>(),
            swapped.amountOut.saturating_to::<u128>(),
        );
        let (wh, stable) = if swapped.creditsIn {
            (amount_in, amount_out)
        } else {
            (amount_out, amount_in)
        };
        println!(
            "{} {} of energy credits for {} of stablecoin ({}, fee included) {}",
            if swapped.creditsIn { "sold" } else { "bought" },
            show(wh, Asset::Credits),
            show(stable, Asset::Usd),
            units::show(mul_div(stable, 1_000, wh, false), Unit::UsdPerKwh),
            done(&receipt)
        );
        self.print_vault().await
    }

    /// Adds liquidity at the pool's price, at most the amounts offered, and prints what it took.
    pub(crate) async fn add_liquidity(
        &self,
        wh: u128,
        amount: u128,
        guard: Guard,
    ) -> eyre::Result<()> {
        self.require_participant().await?;
        let reserves = self.reserves().await?;
        let (credits, stable) = deposit_amounts((wh, amount), (reserves.credits, reserves.stable));
        if reserves.is_empty() {
            println!(
                "the pool is empty: this first deposit sets its price, {}",
                units::show(mul_div(amount, 1_000, wh, false), Unit::UsdPerKwh)
            );
        } else if (credits, stable) != (wh, amount) {
            println!(
                "at the pool's price it takes {} of energy credits and {} of stablecoin; the rest \
                 stays in your vault",
                show(credits, Asset::Credits),
                show(stable, Asset::Usd)
            );
        }
        self.require_in_vault(
            &[(Asset::Credits, credits), (Asset::Usd, stable)],
            "the deposit takes",
        )
        .await?;
        let deadline = self.deadline(guard).await?;
        let pool = self.pool();
        let sent = send_with_headroom(
            self.sender,
            pool.addLiquidity(
                U256::from(wh),
                U256::from(amount),
                U256::from(at_least(credits, guard.slippage_bps)),
                U256::from(at_least(stable, guard.slippage_bps)),
                deadline,
            ),
        )
        .await;
        let receipt = self.wait(sent.map_err(self.pool_explained(None))?).await?;
        let added: EnergyAmm::LiquidityAdded = self.pool_event(&receipt)?;
        println!(
            "added {} of energy credits and {} of stablecoin to the pool for {} {}",
            show(added.amountCredits.saturating_to(), Asset::Credits),
            show(added.amountStable.saturating_to(), Asset::Usd),
            units::show(added.shares.saturating_to(), Unit::Shares),
            done(&receipt)
        );
        self.print_shares().await
    }

    /// Burns LP shares and prints what they paid into the vault.
    pub(crate) async fn remove_liquidity(
        &self,
        to_burn: SharesToBurn,
        guard: Guard,
    ) -> eyre::Result<()> {
        let (held, supply) = self.shares_of(self.sender).await?;
        if held == 0 {
            bail!(
                "not sent: {} holds no LP shares of the pool (`cogrid pool` shows the pool)",
                self.sender
            );
        }
        let shares = match to_burn {
            SharesToBurn::Count(shares) => shares,
            SharesToBurn::Percent(bps) => mul_div(held, bps.into(), BPS.into(), false),
        };
        if shares == 0 {
            bail!("not sent: that part of your {held} shares is less than one share: remove more");
        }
        if shares > held {
            bail!(
                "not sent: you hold {}, fewer than the {shares} to burn (`cogrid liquidity remove \
                 --percent 100` burns them all)",
                units::show(held, Unit::Shares)
            );
        }
        let reserves = self.reserves().await?;
        let credits = mul_div(shares, reserves.credits, supply, false);
        let stable = mul_div(shares, reserves.stable, supply, false);
        let deadline = self.deadline(guard).await?;
        let pool = self.pool();
        let sent = send_with_headroom(
            self.sender,
            pool.removeLiquidity(
                U256::from(shares),
                U256::from(at_least(credits, guard.slippage_bps)),
                U256::from(at_least(stable, guard.slippage_bps)),
                deadline,
            ),
        )
        .await;
        let receipt = self.wait(sent.map_err(self.pool_explained(None))?).await?;
        let removed: EnergyAmm::LiquidityRemoved = self.pool_event(&receipt)?;
        println!(
            "removed {} for {} of energy credits and {} of stablecoin, paid into your vault {}",
            units::show(removed.shares.saturating_to(), Unit::Shares),
            show(removed.amountCredits.saturating_to(), Asset::Credits),
            show(removed.amountStable.saturating_to(), Asset::Usd),
            done(&receipt)
        );
        self.print_shares().await
    }

    async fn print_vault(&self) -> eyre::Result<()> {
        let vault = self.vault(self.sender).await?;
        println!(
            "your vault now holds {} of stablecoin and {} of energy credits",
            show(vault[Asset::Usd.index()], Asset::Usd),
            show(vault[Asset::Credits.index()], Asset::Credits)
        );
        Ok(())
    }

    async fn print_shares(&self) -> eyre::Result<()> {
        let (held, supply) = self.shares_of(self.sender).await?;
        println!(
            "you hold {}, {} of the pool",
            units::show(held, Unit::Shares),
            percent(held, supply)
        );
        self.print_vault().await
    }
}

/// Sends `call` from `sender` with room for the pool's price accumulator over the node's
/// estimate. The pool writes the accumulator only in a block whose time differs from its last
/// update's, so a transaction estimated in the same second as the last trade and mined in the next
/// needs one more storage write than the estimate (a zero-to-non-zero one the first time), and with
/// the estimate alone it would run out of gas (seen under load).
async fn send_with_headroom<P, D>(
    sender: Address,
    call: alloy::contract::CallBuilder<P, D>,
) -> Result<
    alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    alloy::contract::Error,
>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    let call = call.from(sender);
    let gas = call.estimate_gas().await?;
    call.gas(gas + ACCUMULATOR_WRITE_GAS).send().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_widens_a_quote_against_the_caller() {
        assert_eq!(at_least(1_000_000, 50), 995_000);
        assert_eq!(at_least(999, 50), 994, "rounded down");
        assert_eq!(at_least(1_000, 0), 1_000);
        assert_eq!(at_least(1_000, BPS), 0);
        assert_eq!(
            at_most(222_891, 50),
            224_006,
            "222891 * 1.005 = 224005.455, rounded up"
        );
        assert_eq!(at_most(1_000, 0), 1_000);
    }

    #[test]
    fn a_deposit_is_taken_at_the_reserves_ratio_rounding_the_counterpart_up() {
        // An empty pool takes everything: the first deposit sets the price.
        assert_eq!(
            deposit_amounts((10_000, 2_000_000), (0, 0)),
            (10_000, 2_000_000)
        );
        // Credits bind: 1 kWh needs 0.20 USD at 10 kWh : 2 USD.
        assert_eq!(
            deposit_amounts((1_000, 5_000_000), (10_000, 2_000_000)),
            (1_000, 200_000)
        );
        // Stablecoin binds: 0.10 USD buys in 0.5 kWh.
        assert_eq!(
            deposit_amounts((9_000, 100_000), (10_000, 2_000_000)),
            (500, 100_000)
        );
        // 1 Wh against 3 : 7 needs 7/3 = 2.33 base units, rounded up.
        assert_eq!(deposit_amounts((1, 100), (3, 7)), (1, 3));
    }

    #[test]
    fn the_mean_price_is_the_accumulators_growth_per_second() {
        // 0.20 USD/kWh is 0.2 base units per Wh: 0.2 * 2^64 in Q64.64, held for 100 s, then
        // 0.30 USD/kWh for 300 s: a mean of 0.275 USD/kWh, 274 base units once the Q64.64
        // prices are truncated.
        let q = |base_per_wh_times_10: u128| (base_per_wh_times_10 << 64) / 10;
        let then = 7u128 << 64;
        let now = then + q(2) * 100 + q(3) * 300;
        assert_eq!(mean_price_per_kwh(then, now, 400), Some(274));
        // The accumulator wraps modulo 2^128; the difference still counts.
        let then = u128::MAX - q(2) * 50 + 1;
        let now = then.wrapping_add(q(2) * 100);
        assert_eq!(mean_price_per_kwh(then, now, 100), Some(199));
        assert_eq!(mean_price_per_kwh(then, then, 0), None);
    }

    #[test]
    fn shares_of_the_pool_read_as_percent() {
        assert_eq!(percent(140_421, 141_421), "99.29 %");
        assert_eq!(percent(0, 141_421), "0.00 %");
        assert_eq!(percent(0, 0), "0.00 %");
    }
}
