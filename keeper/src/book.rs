//! The clearing's input for one interval, from the index (orders, volumes, meters, participants)
//! and the chain (vault balances, the network fee).

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::Address;

use crate::{
    clearing::{self, Book},
    store::{LiveOrder, Meter, MeterVolume, Participant},
};

/// `MeterKinds.CRITICAL_LOAD`.
const CRITICAL_LOAD: u8 = 8;

/// What the index and the chain say about one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalInputs {
    /// Standing orders that are neither replaced nor cancelled.
    pub orders: Vec<LiveOrder>,
    /// Marketable volumes of the interval, per meter.
    pub volumes: Vec<MeterVolume>,
    /// Registered meters.
    pub meters: Vec<Meter>,
    /// Active participants.
    pub participants: Vec<Participant>,
    /// Vault stablecoin per participant, base units.
    pub balances: BTreeMap<Address, u128>,
    /// Vault energy credits per participant, Wh: they cover unbought import before the pool does.
    pub credits_wh: BTreeMap<Address, u128>,
    /// Network fee per kWh, base units.
    pub network_fee: u64,
    /// Islanded feeders.
    pub islanded: BTreeSet<u32>,
}

/// A grid operator islanded a feeder or connected it back (`FeederIslanded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IslandChange {
    /// The feeder.
    pub feeder: u32,
    /// Islanded (else connected back).
    pub islanded: bool,
    /// When, unix seconds.
    pub at: u64,
}

/// The feeders islanded at any moment of `[start, end)`, from every change in chain order: an
/// interval that overlaps an island at all is cleared as islanded, as the market records it.
pub fn islanded_feeders(changes: &[IslandChange], start: u64, end: u64) -> BTreeSet<u32> {
    let mut since: BTreeMap<u32, u64> = BTreeMap::new();
    let mut islanded = BTreeSet::new();
    for change in changes {
        if change.islanded {
            since.entry(change.feeder).or_insert(change.at);
        } else if let Some(from) = since.remove(&change.feeder)
            && from < end
            && change.at > start
        {
            islanded.insert(change.feeder);
        }
    }
    islanded.extend(
        since
            .into_iter()
            .filter(|&(_, from)| from < end)
            .map(|(feeder, _)| feeder),
    );
    islanded
}

/// The clearing book of the interval `[start, end)`, leaving out the meters in `excluded` (those
/// whose fills the settlement simulation showed would revert).
pub fn book(inputs: &IntervalInputs, start: u64, end: u64, excluded: &BTreeSet<Address>) -> Book {
    let meters: BTreeMap<Address, &Meter> = inputs
        .meters
        .iter()
        .map(|meter| (meter.meter, meter))
        .collect();
    let active: BTreeSet<Address> = inputs
        .participants
        .iter()
        .map(|participant| participant.account)
        .collect();
    let orders = inputs
        .orders
        .iter()
        .filter(|order| !excluded.contains(&order.meter))
        .filter(|order| active.contains(&order.owner))
        .filter(|order| {
            order.valid_from <= start && order.valid_until.is_none_or(|until| end <= until)
        })
        .filter_map(|order| {
            let meter = meters.get(&order.meter)?;
            // The event's chain position orders placements and names the order uniquely.
            let placed = (order.priority.block_number << 20) | order.priority.log_index;
            Some(clearing::Order {
                id: placed,
                participant: order.owner,
                meter: order.meter,
                sell_floor: order.sell_floor,
                buy_ceiling: order.buy_ceiling,
                cap_wh: order.cap_wh,
                placed_at: placed,
                critical: meter.kinds & CRITICAL_LOAD != 0,
                feeder: meter.feeder,
            })
        })
        .collect();
    let volumes = inputs
        .volumes
        .iter()
        .filter(|volume| !excluded.contains(&volume.meter))
        .map(|volume| {
            (
                volume.meter,
                clearing::Volumes {
                    export_wh: volume.export_wh,
                    import_wh: volume.import_wh,
                },
            )
        })
        .collect();
    Book {
        orders,
        volumes,
        balances: inputs.balances.clone(),
        network_fee: inputs.network_fee,
        islanded: inputs.islanded.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        clearing::{Outcome, Side, clear},
        store::LogPosition,
    };

    use super::*;

    fn meter(index: u8, owner: u8, kinds: u8) -> Meter {
        Meter {
            meter: Address::with_last_byte(index),
            owner: Address::with_last_byte(owner),
            feeder: 1,
            kinds,
            capacity_w: 5_000,
            active: true,
        }
    }

    fn order(meter: u8, owner: u8, sell: Option<u64>, buy: Option<u64>, block: u64) -> LiveOrder {
        LiveOrder {
            meter: Address::with_last_byte(meter),
            owner: Address::with_last_byte(owner),
            sell_floor: sell,
            buy_ceiling: buy,
            cap_wh: None,
            valid_from: 0,
            valid_until: None,
            cover_from_credits: false,
            priority: LogPosition {
                block_number: block,
                log_index: 0,
            },
        }
    }

    fn inputs() -> IntervalInputs {
        IntervalInputs {
            orders: vec![
                order(1, 101, Some(100_000), None, 5),
                order(2, 102, None, Some(200_000), 6),
            ],
            volumes: vec![
                MeterVolume {
                    meter: Address::with_last_byte(1),
                    import_wh: 0,
                    export_wh: 500,
                },
                MeterVolume {
                    meter: Address::with_last_byte(2),
                    import_wh: 400,
                    export_wh: 0,
                },
            ],
            meters: vec![meter(1, 101, 1), meter(2, 102, CRITICAL_LOAD)],
            participants: vec![
                Participant {
                    account: Address::with_last_byte(101),
                    id: 1,
                },
                Participant {
                    account: Address::with_last_byte(102),
                    id: 2,
                },
            ],
            balances: BTreeMap::from([(Address::with_last_byte(102), 1_000_000)]),
            credits_wh: BTreeMap::new(),
            network_fee: 20_000,
            islanded: BTreeSet::new(),
        }
    }

    #[test]
    fn an_interval_that_overlaps_an_island_is_islanded() {
        let change = |feeder, islanded, at| IslandChange {
            feeder,
            islanded,
            at,
        };
        let changes = [
            change(3, true, 1_000),
            change(3, false, 1_950),
            change(4, true, 2_000),
            change(5, true, 500),
            change(5, false, 800),
        ];
        assert_eq!(islanded_feeders(&changes, 900, 1_800), BTreeSet::from([3]));
        assert_eq!(
            islanded_feeders(&changes, 1_800, 2_700),
            BTreeSet::from([3, 4])
        );
        assert_eq!(
            islanded_feeders(&changes, 2_700, 3_600),
            BTreeSet::from([4])
        );
        assert_eq!(islanded_feeders(&changes, 0, 900), BTreeSet::from([5]));
        assert!(
            islanded_feeders(&changes, 1_950, 2_000).is_empty(),
            "between islands"
        );
    }

    #[test]
    fn orders_meet_their_meters_volumes() {
        let book = book(&inputs(), 900, 1_800, &BTreeSet::new());
        assert_eq!(book.orders.len(), 2);
        assert!(book.orders[1].critical);
        let Outcome::Traded(trade) = clear(&book).grid else {
            panic!("the bid crosses the ask")
        };
        assert_eq!(trade.fills.len(), 2);
        assert!(trade.fills.iter().all(|fill| fill.wh == 400));
        assert!(trade.fills.iter().any(|fill| fill.side == Side::Sell));
    }

    #[test]
    fn excluded_inactive_and_expired_orders_do_not_trade() {
        let mut inputs = inputs();
        let excluded = BTreeSet::from([Address::with_last_byte(1)]);
        assert!(matches!(
            clear(&book(&inputs, 900, 1_800, &excluded)).grid,
            Outcome::NoTrade
        ));
        inputs.participants.remove(0);
        assert_eq!(book(&inputs, 900, 1_800, &BTreeSet::new()).orders.len(), 1);
        let mut inputs = self::inputs();
        inputs.orders[0].valid_until = Some(1_700);
        assert_eq!(book(&inputs, 900, 1_800, &BTreeSet::new()).orders.len(), 1);
        inputs.orders[0].valid_until = None;
        inputs.orders[0].valid_from = 901;
        assert_eq!(book(&inputs, 900, 1_800, &BTreeSet::new()).orders.len(), 1);
    }
}
