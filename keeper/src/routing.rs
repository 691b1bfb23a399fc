//! Routing through the pool: when an interval's market leaves buyers short (a cloud passed and
//! the neighbours' export did not meet their import), the keeper buys energy credits from the
//! EnergyAmm for the buyers whose order covers unbought import from credits and whose ceiling is
//! above what the pool asks, before it settles the interval; the settlement then covers their
//! import from those credits instead of leaving it to grid supply.
//!
//! [`plan_cover`] picks the shortfalls worth sending by replaying `EnergyAmm.coverShortfalls`'s
//! rules on the keeper's view (the index's orders and volumes, the vaults and the pool's reserves
//! read from the chain), so that a shortfall the pool would skip is not sent at all. The contract
//! checks every rule again: a price moved by a trade in between costs a skip, never a buyer.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::Address;

use crate::{
    batch::BatchFill,
    book::IntervalInputs,
    clearing::{Side, buyer_cost},
};

const BPS: u128 = 10_000;
/// `IEnergyAmm.ShortfallSkip`, in the contract's order (a JSON ABI carries an enum as a bare
/// `uint8`).
const SKIP_REASONS: [&str; 7] = [
    "the order does not cover import from credits in the interval, or its owner is inactive",
    "no import pending for the interval",
    "the owner's credits already cover it",
    "the pool holds too few credits",
    "the pool's price is above the order's ceiling",
    "the owner's vault cannot pay",
    "the pool's price moved above the keeper's quote",
];
/// The widest stablecoin reserve the pool holds (a market vault balance is 96 bits).
const MAX_STABLE: u128 = (1 << 96) - 1;

/// The text of a `ShortfallSkipped` reason.
pub fn skip_reason(reason: u8) -> &'static str {
    SKIP_REASONS
        .get(usize::from(reason))
        .copied()
        .unwrap_or("a reason this keeper does not know (a newer pool)")
}

/// The pool's state, as `EnergyAmm.getReserves` and `FEE_BPS` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolQuote {
    /// Energy credits in the pool, Wh.
    pub reserve_credits: u128,
    /// Stablecoin in the pool, base units.
    pub reserve_stable: u128,
    /// The swap fee in basis points of the amount in.
    pub fee_bps: u128,
}

impl PoolQuote {
    /// The stablecoin that buys exactly `credits_wh` credits, rounded up, as
    /// `EnergyAmm.getAmountIn(false, credits_wh)`; `None` when the pool holds no more credits
    /// than that or the payment would not fit its reserve.
    pub fn cost_of(&self, credits_wh: u128) -> Option<u128> {
        if credits_wh == 0 || credits_wh >= self.reserve_credits {
            return None;
        }
        let numerator = self
            .reserve_stable
            .checked_mul(credits_wh)?
            .checked_mul(BPS)?;
        let denominator = (self.reserve_credits - credits_wh) * (BPS - self.fee_bps);
        let cost = numerator.div_ceil(denominator);
        (cost <= MAX_STABLE - self.reserve_stable).then_some(cost)
    }

    /// The pool after selling `credits_wh` for `cost`.
    fn after_sale(self, credits_wh: u128, cost: u128) -> Self {
        Self {
            reserve_credits: self.reserve_credits - credits_wh,
            reserve_stable: self.reserve_stable + cost,
            ..self
        }
    }
}

/// What is left of a buyer's vault as the plan spends it.
#[derive(Debug, Clone, Copy, Default)]
struct Vault {
    stablecoin: u128,
    credits_wh: u128,
}

/// A meter's import the interval's market left unbought, which the pool is asked to cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// The buying meter.
    pub meter: Address,
    /// Its owner, who pays.
    pub owner: Address,
    /// The import it did not buy in the market, Wh: what the keeper sends.
    pub unbought_wh: u64,
    /// The credits the pool should sell for it (the unbought import less the owner's credits).
    pub expected_wh: u64,
    /// What they should cost, stablecoin base units.
    pub expected_cost: u128,
}

/// The shortfalls of the interval `[start, end)` the pool would cover, in the order to send them:
/// the highest ceiling first, then time priority. `fills` are the interval's settlement at
/// `price` (buyers also pay `inputs.network_fee`), paid from the vaults in `inputs` before the
/// pool is, and `excluded` the meters the settlement left out.
pub fn plan_cover(
    inputs: &IntervalInputs,
    (start, end): (u64, u64),
    excluded: &BTreeSet<Address>,
    (price, fills): (u64, &[BatchFill]),
    mut pool: PoolQuote,
) -> Vec<Shortfall> {
    let active: BTreeSet<Address> = inputs
        .participants
        .iter()
        .map(|participant| participant.account)
        .collect();
    let bought: BTreeMap<Address, u64> = fills
        .iter()
        .filter(|fill| fill.side == Side::Buy)
        .map(|fill| (fill.meter, fill.wh))
        .collect();
    let imported: BTreeMap<Address, u64> = inputs
        .volumes
        .iter()
        .map(|volume| (volume.meter, volume.import_wh))
        .collect();
    let mut candidates: Vec<_> = inputs
        .orders
        .iter()
        .filter(|order| order.cover_from_credits && !excluded.contains(&order.meter))
        .filter(|order| active.contains(&order.owner))
        .filter(|order| {
            order.valid_from <= start && order.valid_until.is_none_or(|until| end <= until)
        })
        .filter_map(|order| {
            let ceiling = order.buy_ceiling?;
            let import = imported.get(&order.meter).copied().unwrap_or(0);
            let unbought = import.saturating_sub(bought.get(&order.meter).copied().unwrap_or(0));
            (unbought > 0).then_some((ceiling, order.priority, order.meter, order.owner, unbought))
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut vaults: BTreeMap<Address, Vault> = inputs
        .balances
        .iter()
        .map(|(&owner, &stablecoin)| {
            let credits_wh = inputs.credits_wh.get(&owner).copied().unwrap_or(0);
            (
                owner,
                Vault {
                    stablecoin,
                    credits_wh,
                },
            )
        })
        .collect();
    // What each buyer's fills will take from its vault, so that the pool never takes it first.
    let owners: BTreeMap<Address, Address> = inputs
        .orders
        .iter()
        .map(|order| (order.meter, order.owner))
        .collect();
    for fill in fills.iter().filter(|fill| fill.side == Side::Buy) {
        if let Some(vault) = owners
            .get(&fill.meter)
            .and_then(|owner| vaults.get_mut(owner))
        {
            let cost = buyer_cost(price.saturating_add(inputs.network_fee), fill.wh);
            vault.stablecoin = vault.stablecoin.saturating_sub(cost);
        }
    }

    let mut planned = Vec::new();
    for (ceiling, _, meter, owner, unbought) in candidates {
        let vault = vaults.entry(owner).or_default();
        let Some(need) = u128::from(unbought).checked_sub(vault.credits_wh) else {
            continue;
        };
        let Some(cost) = pool.cost_of(need) else {
            continue;
        };
        if cost * 1000 > need * u128::from(ceiling) || cost > vault.stablecoin {
            continue;
        }
        let Ok(expected_wh) = u64::try_from(need) else {
            continue;
        };
        pool = pool.after_sale(need, cost);
        vault.stablecoin -= cost;
        vault.credits_wh += need;
        planned.push(Shortfall {
            meter,
            owner,
            unbought_wh: unbought,
            expected_wh,
            expected_cost: cost,
        });
    }
    planned
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::{LiveOrder, LogPosition, MeterVolume, Participant};

    const START: u64 = 900;
    const END: u64 = 1_800;
    /// 100 kWh against 25 $: 0.25 $/kWh, 0.30 % fee.
    const POOL: PoolQuote = PoolQuote {
        reserve_credits: 100_000,
        reserve_stable: 25_000_000,
        fee_bps: 30,
    };
    const RICH: u128 = 1_000_000_000;

    fn address(byte: u8) -> Address {
        Address::with_last_byte(byte)
    }

    /// Meter `byte` owned by `byte + 100`, buying at `ceiling` and covering from credits.
    fn buyer(byte: u8, ceiling: u64, block: u64) -> LiveOrder {
        LiveOrder {
            meter: address(byte),
            owner: address(byte + 100),
            sell_floor: None,
            buy_ceiling: Some(ceiling),
            cap_wh: None,
            valid_from: 0,
            valid_until: None,
            cover_from_credits: true,
            priority: LogPosition {
                block_number: block,
                log_index: 0,
            },
        }
    }

    /// The orders' owners active, the meters' imports, no vault yet.
    fn inputs(orders: Vec<LiveOrder>, imports: &[(u8, u64)]) -> IntervalInputs {
        IntervalInputs {
            participants: orders
                .iter()
                .map(|order| Participant {
                    account: order.owner,
                    id: 1,
                })
                .collect(),
            orders,
            volumes: imports
                .iter()
                .map(|&(byte, import_wh)| MeterVolume {
                    meter: address(byte),
                    import_wh,
                    export_wh: 0,
                })
                .collect(),
            network_fee: 30_000,
            ..IntervalInputs::default()
        }
    }

    /// Gives the owner of meter `byte` a vault.
    fn fund(inputs: &mut IntervalInputs, byte: u8, stablecoin: u128, credits_wh: u128) {
        inputs.balances.insert(address(byte + 100), stablecoin);
        inputs.credits_wh.insert(address(byte + 100), credits_wh);
    }

    fn plan(inputs: &IntervalInputs, fills: &[BatchFill]) -> Vec<Shortfall> {
        plan_cover(
            inputs,
            (START, END),
            &BTreeSet::new(),
            (250_000, fills),
            POOL,
        )
    }

    fn bought(byte: u8, wh: u64) -> BatchFill {
        BatchFill {
            meter: address(byte),
            side: Side::Buy,
            wh,
        }
    }

    #[test]
    fn the_cost_is_the_pools_exact_out_price_rounded_up() {
        // 25e6 * 1,600 * 10,000 / (98,400 * 9,970) = 407,727.4, rounded up.
        assert_eq!(POOL.cost_of(1_600), Some(407_728));
        assert_eq!(POOL.cost_of(0), None);
        assert_eq!(
            POOL.cost_of(100_000),
            None,
            "the pool keeps at least one Wh"
        );
    }

    #[test]
    fn an_unfilled_buyer_gets_its_import_less_its_credits() {
        let mut inputs = inputs(vec![buyer(1, 300_000, 1)], &[(1, 2_000)]);
        fund(&mut inputs, 1, RICH, 400);
        let planned = plan(&inputs, &[]);
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].owner, address(101));
        assert_eq!(planned[0].unbought_wh, 2_000);
        assert_eq!(planned[0].expected_wh, 1_600);
        assert_eq!(planned[0].expected_cost, POOL.cost_of(1_600).unwrap());
    }

    #[test]
    fn a_partly_filled_buyer_is_asked_for_the_rest() {
        let mut inputs = inputs(vec![buyer(1, 300_000, 1)], &[(1, 3_000)]);
        fund(&mut inputs, 1, RICH, 0);
        let planned = plan(&inputs, &[bought(1, 1_000)]);
        assert_eq!(planned[0].unbought_wh, 2_000);
        assert_eq!(planned[0].expected_wh, 2_000);
        assert!(plan(&inputs, &[bought(1, 3_000)]).is_empty(), "a full fill");
    }

    #[test]
    fn higher_ceilings_are_served_first_at_the_lower_price() {
        let mut inputs = inputs(
            vec![buyer(1, 300_000, 1), buyer(2, 400_000, 2)],
            &[(1, 3_000), (2, 3_000)],
        );
        fund(&mut inputs, 1, RICH, 0);
        fund(&mut inputs, 2, RICH, 0);
        let planned = plan(&inputs, &[]);
        assert_eq!(planned[0].meter, address(2));
        assert_eq!(planned[0].expected_cost, POOL.cost_of(3_000).unwrap());
        let after = POOL.after_sale(3_000, planned[0].expected_cost);
        assert_eq!(planned[1].expected_cost, after.cost_of(3_000).unwrap());
    }

    #[test]
    fn buyers_the_pool_would_skip_are_not_sent() {
        let mut not_covering = buyer(3, 400_000, 3);
        not_covering.cover_from_credits = false;
        let mut expired = buyer(4, 400_000, 4);
        expired.valid_until = Some(START + 1);
        let mut inputs = inputs(
            vec![
                // The mid price is 0.25 $/kWh: a 0.24 ceiling is below it.
                buyer(1, 240_000, 1),
                // Covered by its own credits.
                buyer(2, 400_000, 2),
                not_covering,
                expired,
                // Imported nothing.
                buyer(5, 400_000, 5),
                // Holds no stablecoin.
                buyer(6, 400_000, 6),
            ],
            &[(1, 1_000), (2, 1_000), (3, 1_000), (4, 1_000), (6, 1_000)],
        );
        for byte in [1, 3, 4, 5] {
            fund(&mut inputs, byte, RICH, 0);
        }
        fund(&mut inputs, 2, RICH, 1_000);
        assert!(plan(&inputs, &[]).is_empty());
        inputs
            .participants
            .retain(|participant| participant.account != address(106));
        fund(&mut inputs, 6, RICH, 0);
        assert!(plan(&inputs, &[]).is_empty(), "an inactive owner");
    }

    #[test]
    fn the_fill_is_paid_before_the_pool() {
        let mut inputs = inputs(vec![buyer(1, 300_000, 1)], &[(1, 2_000)]);
        // The fill costs 280,000 (1,000 Wh at 0.25 $/kWh plus the 0.03 fee); the pool wants
        // 253,286 for the other 1,000 Wh.
        fund(&mut inputs, 1, 280_000 + 253_285, 0);
        assert!(plan(&inputs, &[bought(1, 1_000)]).is_empty());
        fund(&mut inputs, 1, 280_000 + 253_286, 0);
        assert_eq!(plan(&inputs, &[bought(1, 1_000)]).len(), 1);
    }

    proptest! {
        /// Whatever the book: nothing is bought above a ceiling, beyond an import, or beyond
        /// what a vault holds, and the pool's product never falls.
        #[test]
        fn the_plan_respects_every_limit(
            buyers in proptest::collection::vec(
                (150_000u64..450_000, 1u64..5_000, 0u128..2_000, 0u128..3_000_000),
                1..12,
            ),
        ) {
            let orders: Vec<LiveOrder> = (1..)
                .zip(&buyers)
                .map(|(byte, &(ceiling, ..))| buyer(byte, ceiling, u64::from(byte)))
                .collect();
            let imports: Vec<(u8, u64)> = (1..)
                .zip(&buyers)
                .map(|(byte, &(_, import, ..))| (byte, import))
                .collect();
            let mut inputs = inputs(orders, &imports);
            for (byte, &(_, _, credits_wh, stablecoin)) in (1..).zip(&buyers) {
                fund(&mut inputs, byte, stablecoin, credits_wh);
            }
            let mut pool = POOL;
            for shortfall in plan(&inputs, &[]) {
                let (ceiling, import, credits_wh, stablecoin) =
                    buyers[usize::from(shortfall.meter.0[19]) - 1];
                let wh = u128::from(shortfall.expected_wh);
                prop_assert_eq!(wh, u128::from(import) - credits_wh);
                prop_assert!(shortfall.expected_cost * 1000 <= wh * u128::from(ceiling));
                prop_assert!(shortfall.expected_cost <= stablecoin);
                prop_assert_eq!(Some(shortfall.expected_cost), pool.cost_of(wh));
                let before = pool.reserve_credits * pool.reserve_stable;
                pool = pool.after_sale(wh, shortfall.expected_cost);
                prop_assert!(pool.reserve_credits * pool.reserve_stable >= before);
            }
        }
    }
}
