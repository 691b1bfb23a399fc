//! Interval clearing: a uniform-price double auction (pay-as-clear) over the standing orders and
//! the volumes the meters attested for one trading interval `t`.
//!
//! [`clear`] is a pure function from a [`Book`] to a [`Clearing`]: no I/O, no floats, no panics,
//! and the same answer whatever the order of [`Book::orders`]. Prices are stablecoin base units
//! (6 decimals) per kWh, energy is Wh, balances are stablecoin base units.
//!
//! # Rules
//!
//! - **Markets.** An islanded feeder cannot exchange energy with the rest of the grid, so each
//!   islanded feeder clears on its own, with its own price ([`Clearing::islands`]); all the other
//!   feeders clear together ([`Clearing::grid`]). An order belongs to the market of its feeder.
//!   Islands clear first, by feeder id, then the grid: a buyer's balance is spent in that order.
//! - **Eligibility.** An order sells when it has a sell floor and its meter has matchable export;
//!   it buys when it has a buy ceiling of at least the network fee and its meter has matchable
//!   import. A cap of 0 Wh, a meter missing from [`Book::volumes`] and an order id that appears
//!   more than once (ambiguous, so every copy is ignored) take the order out of the auction.
//! - **No self-trade.** A participant with eligible orders on both sides keeps only the side on
//!   which it could trade more Wh: the export of its meters that carry a sell order against the
//!   import of its meters that carry a buy order, the latter capped by what its balance buys at
//!   its highest ceiling. A tie keeps the sell side. The choice is made once for the whole interval,
//!   across markets.
//! - **Merit order.** Asks by floor ascending; bids by effective ceiling (ceiling − network fee,
//!   since the buyer pays the fee on top of the price) descending; ties by time placed, then order
//!   id. On an islanded feeder, critical-load bids come before every other bid (then the same
//!   order among themselves), so they are served first.
//! - **Matching.** Bids are taken in merit order; each one buys from the asks in merit order as long
//!   as the ask's floor is at most the lowest effective ceiling among the bids filled so far (itself
//!   included). A bid that crosses no ask is skipped, which matters only for a critical bid on an
//!   island: later, higher bids may still buy at a price its ceiling does not reach. Without
//!   islands the bid curve is decreasing, so this is the plain crossing of the two curves.
//! - **Quantities.** An ask sells at most its cap and its meter's remaining export (orders on one
//!   meter share it, in merit order); a bid buys at most its cap, its meter's remaining import and
//!   what its owner's remaining balance buys **at the bid's own ceiling**. Since the buyer pays
//!   `price + fee <= ceiling`, it can always afford its fills, whatever the price turns out to be:
//!   the balance is charged `ceil(ceiling * wh / 1000)` per fill while clearing (an upper bound of
//!   what settlement charges), so the sum of `ceil((price + fee) * wh / 1000)` over the buyer's fills
//!   never exceeds its balance. Each match moves the same Wh from an ask to a bid, so bought Wh
//!   equal sold Wh in every market.
//! - **Price.** The marginal ask is the last ask filled (the highest floor filled); the marginal bid
//!   is the filled bid with the lowest effective ceiling (the last one filled, unless an island's
//!   critical loads went first). The price is the midpoint of the two, rounded down:
//!   `floor + (effective_ceiling - floor) / 2`. It lies within both, so every filled ask's floor is
//!   at most the price and every filled bid's ceiling is at least the price plus the network fee.
//!   A market with nothing filled is [`Outcome::NoTrade`].

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    hash::{BuildHasher, RandomState},
};

use alloy::primitives::Address;

/// A participant's standing limit order, as the market contract holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order id; unique within a book.
    pub id: u64,
    /// The participant (wallet) that placed the order and pays or is paid.
    pub participant: Address,
    /// The meter whose attested volumes the order trades.
    pub meter: Address,
    /// Lowest price it sells at, base units per kWh; `None` if it does not sell.
    pub sell_floor: Option<u64>,
    /// Highest price plus network fee it buys at, base units per kWh; `None` if it does not buy.
    pub buy_ceiling: Option<u64>,
    /// Most Wh the order trades in one interval; `None` for no cap.
    pub cap_wh: Option<u64>,
    /// When the order was placed (any clock that orders placements, e.g. the block timestamp).
    pub placed_at: u64,
    /// Whether the meter is a critical load (medical devices, refrigeration).
    pub critical: bool,
    /// The feeder the meter is on.
    pub feeder: u32,
}

/// A meter's attested volumes for the interval that are still matchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Volumes {
    /// Export the meter may sell, Wh.
    pub export_wh: u64,
    /// Import the meter may buy, Wh.
    pub import_wh: u64,
}

/// Everything one interval clears from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Book {
    /// The live standing orders of active participants.
    pub orders: Vec<Order>,
    /// Matchable volumes per meter; a meter without an entry has none.
    pub volumes: BTreeMap<Address, Volumes>,
    /// Available stablecoin per participant, base units; a participant without an entry has none.
    pub balances: BTreeMap<Address, u128>,
    /// Network fee per kWh, base units, paid by the buyer on top of the clearing price.
    pub network_fee: u64,
    /// The feeders that are islanded during the interval.
    pub islanded: BTreeSet<u32>,
}

/// The side of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Energy sold from the meter's export.
    Sell,
    /// Energy bought for the meter's import.
    Buy,
}

/// Energy one order trades in the interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The order filled.
    pub order: u64,
    /// The order's meter.
    pub meter: Address,
    /// Whether the order sells or buys.
    pub side: Side,
    /// Energy traded, Wh (never 0).
    pub wh: u64,
}

/// A market that traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// The uniform clearing price, base units per kWh (buyers pay the network fee on top).
    pub price: u64,
    /// One fill per order that traded, by order id.
    pub fills: Vec<Fill>,
}

/// What one market did in the interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No bid crossed an ask.
    NoTrade,
    /// The price and the fills.
    Traded(Trade),
}

/// The result of clearing one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearing {
    /// The grid-connected market: every feeder that is not islanded.
    pub grid: Outcome,
    /// One market per islanded feeder, by feeder id.
    pub islands: BTreeMap<u32, Outcome>,
}

/// What a buyer pays for `wh` at `price_per_kwh`: `ceil(price_per_kwh * wh / 1000)` base units
/// (the buyer rounds up).
pub fn buyer_cost(price_per_kwh: u64, wh: u64) -> u128 {
    // Clearing charges every bid that buys: the 64-bit division, when the product fits, is
    // several times faster than the u128 one.
    match price_per_kwh.checked_mul(wh) {
        Some(product) => u128::from(product.div_ceil(1000)),
        None => (u128::from(price_per_kwh) * u128::from(wh)).div_ceil(1000),
    }
}

/// Clears one interval; see the [module docs](self) for the rules.
///
/// The working memory (about 200 bytes per order) stays with the calling thread for its next
/// call: the keeper clears interval after interval, and memory handed back to the system after
/// each call would be faulted in again, page by page, by the next one.
pub fn clear(book: &Book) -> Clearing {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::default();
    }
    SCRATCH.with_borrow_mut(|scratch| scratch.clear(book))
}

/// The interval's trades at **one** price, as the market settles them (`settle` takes one clearing
/// price per interval): the grid market's price, or, when only islands traded, the price of the
/// first island (by feeder id) that did. The islands that traded are matched again together at
/// that price alone, with their critical loads first: their asks with a floor at or below the
/// price against their bids whose ceiling covers the price and the network fee, each buyer's
/// balance less what its grid fills cost, and no participant on the side opposite to the one it
/// traded on the grid. An island whose own price the one price does not suit trades less, or
/// nothing.
pub fn at_one_price(book: &Book, clearing: &Clearing) -> Outcome {
    let traded = |outcome: &Outcome| match outcome {
        Outcome::Traded(trade) => Some(trade.clone()),
        Outcome::NoTrade => None,
    };
    let Some(price) = traded(&clearing.grid)
        .or_else(|| clearing.islands.values().find_map(traded))
        .map(|trade| trade.price)
    else {
        return Outcome::NoTrade;
    };
    let participants: BTreeMap<u64, Address> = book
        .orders
        .iter()
        .map(|order| (order.id, order.participant))
        .collect();
    let mut fills = Vec::new();
    let mut balances = book.balances.clone();
    let mut grid_sides = BTreeMap::new();
    if let Some(grid) = traded(&clearing.grid) {
        for fill in &grid.fills {
            let Some(&owner) = participants.get(&fill.order) else {
                continue;
            };
            grid_sides.insert(owner, fill.side);
            if let (Side::Buy, Some(balance)) = (fill.side, balances.get_mut(&owner)) {
                let cost = buyer_cost(price.saturating_add(book.network_fee), fill.wh);
                *balance = balance.saturating_sub(cost);
            }
        }
        fills = grid.fills;
    }
    let islands: BTreeSet<u32> = clearing
        .islands
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Traded(_)))
        .map(|(&feeder, _)| feeder)
        .collect();
    if !islands.is_empty() {
        let opposite =
            |owner: &Address, side: Side| grid_sides.get(owner).is_some_and(|s| *s != side);
        let at_price = Book {
            orders: book
                .orders
                .iter()
                .filter(|order| islands.contains(&order.feeder))
                .map(|order| Order {
                    sell_floor: order.sell_floor.filter(|floor| {
                        *floor <= price && !opposite(&order.participant, Side::Sell)
                    }),
                    buy_ceiling: order.buy_ceiling.filter(|ceiling| {
                        *ceiling >= price.saturating_add(book.network_fee)
                            && !opposite(&order.participant, Side::Buy)
                    }),
                    ..order.clone()
                })
                .collect(),
            volumes: book.volumes.clone(),
            balances,
            network_fee: book.network_fee,
            islanded: islands,
        };
        for outcome in clear(&at_price).islands.into_values() {
            if let Outcome::Traded(trade) = outcome {
                fills.extend(trade.fills);
            }
        }
    }
    fills.sort_by_key(|fill| fill.order);
    Outcome::Traded(Trade { price, fills })
}

/// The buffers one clearing works in, emptied at the start of each.
#[derive(Default)]
struct Scratch {
    meters: Interner,
    participants: Interner,
    state: State,
    /// Indices in [`Book::orders`] of the orders whose id appears once, by id.
    unique: Vec<u32>,
    asks: Vec<Candidate>,
    bids: Vec<Candidate>,
    self_trade: SelfTrade,
    merit: MeritOrder,
}

impl Scratch {
    fn clear(&mut self, book: &Book) -> Clearing {
        self.candidates(book);
        exclude_self_trade(
            &mut self.asks,
            &mut self.bids,
            book.network_fee,
            &self.state,
            &mut self.self_trade,
        );

        let mut island_books: BTreeMap<u32, (Vec<Candidate>, Vec<Candidate>)> = book
            .islanded
            .iter()
            .map(|feeder| (*feeder, Default::default()))
            .collect();
        // What no island takes stays in place, in id order, for the grid.
        if !island_books.is_empty() {
            let feeder = |candidate: &Candidate| book.orders[candidate.order as usize].feeder;
            self.asks
                .retain(|ask| match island_books.get_mut(&feeder(ask)) {
                    Some((island_asks, _)) => {
                        island_asks.push(*ask);
                        false
                    }
                    None => true,
                });
            self.bids
                .retain(|bid| match island_books.get_mut(&feeder(bid)) {
                    Some((_, island_bids)) => {
                        island_bids.push(*bid);
                        false
                    }
                    None => true,
                });
        }
        let islands = island_books
            .into_iter()
            .map(|(feeder, (mut asks, mut bids))| {
                let outcome = clear_market(
                    book,
                    &mut asks,
                    &mut bids,
                    true,
                    &mut self.state,
                    &mut self.merit,
                );
                (feeder, outcome)
            })
            .collect();
        let grid = clear_market(
            book,
            &mut self.asks,
            &mut self.bids,
            false,
            &mut self.state,
            &mut self.merit,
        );
        Clearing { grid, islands }
    }

    /// Fills the state of the interval and its eligible asks and bids, each in order id order.
    fn candidates(&mut self, book: &Book) {
        let Self {
            meters,
            participants,
            state,
            unique,
            asks,
            bids,
            ..
        } = self;
        meters.reset(book.volumes.len());
        state.volumes_left.clear();
        for (meter, volumes) in &book.volumes {
            meters.intern(meter);
            state.volumes_left.push(*volumes);
        }
        // Participants with orders and no balance are interned as they come, with a budget of 0.
        participants.reset(book.balances.len());
        state.budget.clear();
        for (participant, balance) in &book.balances {
            participants.intern(participant);
            state.budget.push(*balance);
        }
        unique_orders(&book.orders, unique);
        asks.clear();
        bids.clear();
        for &index in unique.iter() {
            let order = &book.orders[index as usize];
            let Some(meter) = meters.get(&order.meter) else {
                continue;
            };
            if order.cap_wh == Some(0) {
                continue;
            }
            let participant = participants.intern(&order.participant);
            if participant as usize == state.budget.len() {
                state.budget.push(0);
            }
            let volumes = state.volumes_left[meter as usize];
            let candidate = |limit| Candidate {
                limit,
                placed_at: order.placed_at,
                cap_wh: order.cap_wh.unwrap_or(u64::MAX),
                traded: 0,
                order: index,
                meter,
                participant,
            };
            if let Some(floor) = order.sell_floor
                && volumes.export_wh > 0
            {
                asks.push(candidate(floor));
            }
            if let Some(ceiling) = order.buy_ceiling
                && let Some(effective) = ceiling.checked_sub(book.network_fee)
                && volumes.import_wh > 0
                && affordable(state.budget[participant as usize], ceiling) > 0
            {
                bids.push(candidate(effective));
            }
        }
    }
}

/// What is left to trade while the markets of an interval clear one after another.
#[derive(Default)]
struct State {
    /// Matchable export and import per meter index.
    volumes_left: Vec<Volumes>,
    /// Balance per participant index, less what its fills cost at their ceilings.
    budget: Vec<u128>,
}

/// An eligible order on one side, with its meter and participant as indices and what sorting and
/// matching read copied in, so that they seldom read the order itself.
#[derive(Clone, Copy)]
struct Candidate {
    /// Floor of an ask, effective ceiling (ceiling − fee) of a bid.
    limit: u64,
    /// When the order was placed.
    placed_at: u64,
    /// The order's cap, `u64::MAX` for none.
    cap_wh: u64,
    /// Wh traded so far.
    traded: u64,
    /// Index in [`Book::orders`].
    order: u32,
    meter: u32,
    participant: u32,
}

/// Dense indices for addresses, `0, 1, 2, …` in the order they are first interned: a hash table
/// of `u32` slots over a dense array of the addresses, several times cheaper than a general hash
/// map of addresses.
#[derive(Default)]
struct Interner {
    /// Open addressing with linear probing: the key's index plus one in the bits of the slot
    /// mask and, above them, high bits of the key's hash, a tag compared before the key is read;
    /// 0 for a free slot. At most half full, so that probing ends soon.
    slots: Vec<u32>,
    keys: Vec<Address>,
    /// Random for each clearing: participants choose their addresses, and with a known hash they
    /// could pick addresses that all probe the same slots.
    seed: [u64; 3],
}

impl Interner {
    /// Empties the interner, with room for `capacity` addresses before it grows, and draws a new
    /// seed.
    fn reset(&mut self, capacity: usize) {
        self.keys.clear();
        self.slots.clear();
        self.slots.resize(Self::slots_for(capacity), 0);
        let random = RandomState::new();
        self.seed = [0u8, 1, 2].map(|i| random.hash_one(i));
    }

    fn slots_for(keys: usize) -> usize {
        (2 * keys + 1).next_power_of_two()
    }

    /// Two seeded multiply-folds over the 20 bytes, as foldhash does, with no hashing of a length
    /// (every key has 20 bytes).
    fn hash(&self, key: &Address) -> u64 {
        let b = key.0.0;
        let low = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let mid = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
        let high = u64::from(u32::from_le_bytes([b[16], b[17], b[18], b[19]]));
        let [s0, s1, s2] = self.seed;
        folded_multiply(folded_multiply(low ^ s0, mid ^ s1) ^ high, s2)
    }

    /// The slot mask, which also masks the index plus one out of a slot: a book has fewer than
    /// 2^31 addresses (it would not fit in memory otherwise), so there are at most 2^32 slots.
    fn mask(&self) -> u32 {
        (self.slots.len() - 1) as u32
    }

    /// The tag of `hash` in a slot: the high half of the hash, above the mask.
    fn tag(&self, hash: u64) -> u32 {
        (hash >> 32) as u32 & !self.mask()
    }

    /// The slot holding `key` (whose hash is `hash`), or else the free slot where it goes.
    fn slot(&self, key: &Address, hash: u64) -> usize {
        let mask = self.mask();
        let tag = self.tag(hash);
        // Truncating the hash keeps its low bits, which are as well mixed as the rest.
        let mut slot = hash as usize & mask as usize;
        loop {
            let entry = self.slots[slot];
            if entry == 0
                || (entry & !mask == tag && self.keys[(entry & mask) as usize - 1] == *key)
            {
                return slot;
            }
            slot = (slot + 1) & mask as usize;
        }
    }

    /// The index of `key`, if it was interned.
    fn get(&self, key: &Address) -> Option<u32> {
        (self.slots[self.slot(key, self.hash(key))] & self.mask()).checked_sub(1)
    }

    /// The index of `key`, interning it if it is new.
    fn intern(&mut self, key: &Address) -> u32 {
        let hash = self.hash(key);
        let mut slot = self.slot(key, hash);
        if self.slots[slot] == 0 {
            if Self::slots_for(self.keys.len() + 1) > self.slots.len() {
                self.slots = vec![0; 2 * self.slots.len()];
                let mask = self.mask();
                for (index, key) in (1..).zip(&self.keys) {
                    let hash = self.hash(key);
                    let mut free = hash as usize & mask as usize;
                    while self.slots[free] != 0 {
                        free = (free + 1) & mask as usize;
                    }
                    self.slots[free] = self.tag(hash) | index;
                }
                slot = self.slot(key, hash);
            }
            self.keys.push(*key);
            // At most half full, so the index plus one is below the mask.
            self.slots[slot] = self.tag(hash) | self.keys.len() as u32;
        }
        (self.slots[slot] & self.mask()) - 1
    }
}

/// The high and low halves of the 128-bit product, xored.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ (product >> 64) as u64
}

/// Writes to `unique` the indices of the orders whose id appears exactly once, by id. A book has
/// fewer than 2^32 orders (it would not fit in memory otherwise), so the indices fit.
fn unique_orders(orders: &[Order], unique: &mut Vec<u32>) {
    unique.clear();
    // The keeper lists orders by id: strictly increasing ids are unique.
    if orders.is_sorted_by(|a, b| a.id < b.id) {
        unique.extend(0..orders.len() as u32);
        return;
    }
    let mut sorted: Vec<u32> = (0..orders.len() as u32).collect();
    sorted.sort_unstable_by_key(|&index| orders[index as usize].id);
    for group in sorted.chunk_by(|&a, &b| orders[a as usize].id == orders[b as usize].id) {
        if let [index] = group {
            unique.push(*index);
        }
    }
}

/// Most Wh whose cost at `ceiling` per kWh, rounded up, fits in `budget`.
fn affordable(budget: u128, ceiling: u64) -> u64 {
    if ceiling == 0 {
        return u64::MAX;
    }
    // Clearing asks this for every bid: realistic balances take the 64-bit division, which is
    // several times faster than the u128 one.
    if let Ok(budget) = u64::try_from(budget)
        && let Some(scaled) = budget.checked_mul(1000)
    {
        return scaled / ceiling;
    }
    let ceiling = u128::from(ceiling);
    // floor(budget * 1000 / ceiling) without the product overflowing.
    let wh = (budget / ceiling)
        .saturating_mul(1000)
        .saturating_add(budget % ceiling * 1000 / ceiling);
    u64::try_from(wh).unwrap_or(u64::MAX)
}

/// The buffers of [`exclude_self_trade`].
#[derive(Default)]
struct SelfTrade {
    /// The sides each participant keeps.
    sides: Vec<u8>,
    /// (participant, meter) of the asks of two-sided participants.
    sells: Vec<(u32, u32)>,
    /// (participant, meter, effective ceiling) of the bids of two-sided participants.
    buys: Vec<(u32, u32, u64)>,
}

/// Drops, for each participant with eligible orders on both sides, the side it trades less on.
fn exclude_self_trade(
    asks: &mut Vec<Candidate>,
    bids: &mut Vec<Candidate>,
    network_fee: u64,
    state: &State,
    scratch: &mut SelfTrade,
) {
    const SELLS: u8 = 1;
    const BUYS: u8 = 2;
    let SelfTrade { sides, sells, buys } = scratch;
    sides.clear();
    sides.resize(state.budget.len(), 0);
    for ask in asks.iter() {
        sides[ask.participant as usize] |= SELLS;
    }
    for bid in bids.iter() {
        sides[bid.participant as usize] |= BUYS;
    }
    // Only the few participants on both sides have volumes to weigh.
    let two_sided = |candidate: &&Candidate| sides[candidate.participant as usize] == SELLS | BUYS;
    sells.clear();
    sells.extend(
        asks.iter()
            .filter(two_sided)
            .map(|ask| (ask.participant, ask.meter)),
    );
    if sells.is_empty() {
        return;
    }
    buys.clear();
    buys.extend(
        bids.iter()
            .filter(two_sided)
            .map(|bid| (bid.participant, bid.meter, bid.limit)),
    );
    sells.sort_unstable();
    buys.sort_unstable();
    // Both lists hold the same participants, in the same order.
    let sellers = sells.chunk_by(|a, b| a.0 == b.0);
    let buyers = buys.chunk_by(|a, b| a.0 == b.0);
    for (sells, buys) in sellers.zip(buyers) {
        let participant = sells[0].0 as usize;
        // A meter counts once, however many orders it carries.
        let sell_wh: u128 = sells
            .chunk_by(|a, b| a.1 == b.1)
            .map(|meter| u128::from(state.volumes_left[meter[0].1 as usize].export_wh))
            .sum();
        let import_wh: u128 = buys
            .chunk_by(|a, b| a.1 == b.1)
            .map(|meter| u128::from(state.volumes_left[meter[0].1 as usize].import_wh))
            .sum();
        // The fee was taken off eligible ceilings, so adding it back cannot overflow.
        let top_ceiling = buys.iter().map(|buy| buy.2).max().unwrap_or(0) + network_fee;
        let buy_wh = import_wh.min(u128::from(affordable(
            state.budget[participant],
            top_ceiling,
        )));
        sides[participant] = if sell_wh >= buy_wh { SELLS } else { BUYS };
    }
    asks.retain(|ask| sides[ask.participant as usize] == SELLS);
    bids.retain(|bid| sides[bid.participant as usize] == BUYS);
}

/// The buffers of [`merit_order`] for one market.
#[derive(Default)]
struct MeritOrder {
    keys: Vec<u64>,
    asks: Vec<u32>,
    bids: Vec<u32>,
}

/// Writes to `order` the indices of `candidates`, which are in order id order, in merit order:
/// by `rank` (a priority group, then a price rank, each lowest first), then time placed, then
/// order id.
fn merit_order(
    candidates: &[Candidate],
    rank: impl Fn(&Candidate) -> (bool, u64),
    keys: &mut Vec<u64>,
    order: &mut Vec<u32>,
) {
    order.clear();
    let (mut price_min, mut price_max) = (u64::MAX, 0);
    let (mut time_min, mut time_max) = (u64::MAX, 0);
    for candidate in candidates {
        let price = rank(candidate).1;
        (price_min, price_max) = (price_min.min(price), price_max.max(price));
        let time = candidate.placed_at;
        (time_min, time_max) = (time_min.min(time), time_max.max(time));
    }
    // Sorting one u64 per candidate is several times faster than sorting candidates by a tuple.
    // Realistic books spread prices and times over a few dozen bits, so the group, the price rank
    // and the time (as offsets from their minima) and the index fit in one u64, highest bits
    // first; the index breaks the remaining ties as the order id does, since `candidates` are in
    // id order.
    let bits = |span: u64| u64::BITS - span.leading_zeros();
    let time_shift = bits(candidates.len().saturating_sub(1) as u64);
    let price_shift = time_shift + bits(time_max.saturating_sub(time_min));
    let group_shift = price_shift + bits(price_max.saturating_sub(price_min));
    if group_shift < u64::BITS {
        keys.clear();
        keys.extend(candidates.iter().zip(0u64..).map(|(candidate, index)| {
            let (group, price) = rank(candidate);
            u64::from(group) << group_shift
                | (price - price_min) << price_shift
                | (candidate.placed_at - time_min) << time_shift
                | index
        }));
        keys.sort_unstable();
        let index = (1 << time_shift) - 1;
        order.extend(keys.iter().map(|key| (key & index) as u32));
    } else {
        order.extend(0..candidates.len() as u32);
        order.sort_unstable_by_key(|&index| {
            let candidate = &candidates[index as usize];
            (rank(candidate), candidate.placed_at, index)
        });
    }
}

/// Clears one market (the grid or one islanded feeder), spending `state`. `asks` and `bids` are
/// each in order id order.
fn clear_market(
    book: &Book,
    asks: &mut [Candidate],
    bids: &mut [Candidate],
    critical_first: bool,
    state: &mut State,
    merit: &mut MeritOrder,
) -> Outcome {
    let MeritOrder {
        keys,
        asks: ask_order,
        bids: bid_order,
    } = merit;
    merit_order(asks, |ask| (false, ask.limit), keys, ask_order);
    let late = |bid: &Candidate| critical_first && !book.orders[bid.order as usize].critical;
    merit_order(
        bids,
        |bid| (late(bid), u64::MAX - bid.limit),
        keys,
        bid_order,
    );
    // Position in `ask_order` of the ask being filled.
    let mut next_ask = 0;
    let mut fills = 0;
    // Highest floor and lowest effective ceiling filled so far.
    let mut marginal: Option<(u64, u64)> = None;
    for &b in bid_order.iter() {
        // With no ask left nothing more trades.
        let Some(&a) = ask_order.get(next_ask) else {
            break;
        };
        let bid = &mut bids[b as usize];
        let limit = marginal.map_or(bid.limit, |(_, ceiling)| ceiling.min(bid.limit));
        if asks[a as usize].limit > limit {
            // Without critical bids first, the bids that follow have lower limits: none crosses.
            if critical_first {
                continue;
            }
            break;
        }
        // What its balance is charged at while clearing (the fee was taken off it, so adding it
        // back cannot overflow).
        let ceiling = bid.limit + book.network_fee;
        let mut want = bid
            .cap_wh
            .min(state.volumes_left[bid.meter as usize].import_wh)
            .min(affordable(state.budget[bid.participant as usize], ceiling));
        let mut bought = 0u64;
        let mut top_floor = None;
        while want > 0 {
            let Some(&a) = ask_order.get(next_ask) else {
                break;
            };
            let ask = &mut asks[a as usize];
            if ask.limit > limit {
                break;
            }
            // Orders on one meter share its export, in merit order.
            let export = &mut state.volumes_left[ask.meter as usize].export_wh;
            let left = (ask.cap_wh - ask.traded).min(*export);
            let wh = want.min(left);
            want -= wh;
            bought += wh;
            *export -= wh;
            if wh > 0 {
                fills += usize::from(ask.traded == 0);
                ask.traded += wh;
                top_floor = Some(ask.limit);
            }
            if wh == left {
                next_ask += 1;
            }
        }
        if let Some(floor) = top_floor {
            marginal = Some((floor, limit));
            state.volumes_left[bid.meter as usize].import_wh -= bought;
            let budget = &mut state.budget[bid.participant as usize];
            *budget = budget.saturating_sub(buyer_cost(ceiling, bought));
            bid.traded = bought;
            fills += 1;
        }
    }
    match marginal {
        Some((floor, ceiling)) => Outcome::Traded(Trade {
            price: floor + (ceiling - floor) / 2,
            fills: fills_by_id(book, asks, bids, fills),
        }),
        None => Outcome::NoTrade,
    }
}

/// The `count` fills of a market, by order id: merges the asks and the bids that traded, each
/// in id order.
fn fills_by_id(book: &Book, asks: &[Candidate], bids: &[Candidate], count: usize) -> Vec<Fill> {
    let traded = |side| {
        move |candidate: &Candidate| {
            (candidate.traded > 0).then(|| {
                let order = &book.orders[candidate.order as usize];
                Fill {
                    order: order.id,
                    meter: order.meter,
                    side,
                    wh: candidate.traded,
                }
            })
        }
    };
    let mut sells = asks.iter().filter_map(traded(Side::Sell)).peekable();
    let mut buys = bids.iter().filter_map(traded(Side::Buy)).peekable();
    let mut fills = Vec::with_capacity(count);
    loop {
        let next = match (sells.peek(), buys.peek()) {
            (Some(sell), Some(buy)) if sell.order < buy.order => sells.next(),
            (Some(_), Some(_)) | (None, _) => buys.next(),
            (Some(_), None) => sells.next(),
        };
        match next {
            Some(fill) => fills.push(fill),
            None => return fills,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u64) -> Address {
        Address::from(alloy::primitives::U160::from(n))
    }

    /// A meter address for test participant `who`'s meter number `n`.
    fn meter_of(who: u64, n: u64) -> Address {
        addr(1_000 * who + n)
    }

    fn order(id: u64, who: u64) -> Order {
        Order {
            id,
            participant: addr(who),
            meter: meter_of(who, 0),
            sell_floor: None,
            buy_ceiling: None,
            cap_wh: None,
            placed_at: 0,
            critical: false,
            feeder: 1,
        }
    }

    fn sell(id: u64, who: u64, floor: u64) -> Order {
        Order {
            sell_floor: Some(floor),
            ..order(id, who)
        }
    }

    fn buy(id: u64, who: u64, ceiling: u64) -> Order {
        Order {
            buy_ceiling: Some(ceiling),
            ..order(id, who)
        }
    }

    /// A book with every participant's meter 0 exporting/importing what `volumes` says and a
    /// balance far above any cost.
    fn book(orders: Vec<Order>, volumes: &[(u64, u64, u64)]) -> Book {
        let mut book = Book {
            orders,
            ..Book::default()
        };
        for &(who, export_wh, import_wh) in volumes {
            book.volumes.insert(
                meter_of(who, 0),
                Volumes {
                    export_wh,
                    import_wh,
                },
            );
            book.balances.insert(addr(who), 1_000_000_000);
        }
        book
    }

    fn traded(outcome: &Outcome) -> &Trade {
        match outcome {
            Outcome::Traded(trade) => trade,
            Outcome::NoTrade => panic!("expected a trade"),
        }
    }

    /// (order, side, wh) of each fill.
    fn fills(trade: &Trade) -> Vec<(u64, Side, u64)> {
        trade
            .fills
            .iter()
            .map(|f| (f.order, f.side, f.wh))
            .collect()
    }

    #[test]
    fn textbook_crossing() {
        let book = book(
            vec![
                sell(1, 1, 100),
                sell(2, 2, 150),
                sell(3, 3, 300),
                buy(4, 4, 400),
                buy(5, 5, 200),
                buy(6, 6, 120),
            ],
            &[
                (1, 1_000, 0),
                (2, 1_000, 0),
                (3, 1_000, 0),
                (4, 0, 1_500),
                (5, 0, 1_000),
                (6, 0, 1_000),
            ],
        );
        let cleared = clear(&book);
        let trade = traded(&cleared.grid);
        // Marginal ask: order 2 (floor 150); marginal bid: order 5 (ceiling 200).
        assert_eq!(trade.price, 175);
        assert_eq!(
            fills(trade),
            [
                (1, Side::Sell, 1_000),
                (2, Side::Sell, 1_000),
                (4, Side::Buy, 1_500),
                (5, Side::Buy, 500)
            ]
        );
        assert_eq!(trade.fills[0].meter, meter_of(1, 0));
        assert!(cleared.islands.is_empty());
    }

    #[test]
    fn no_crossing_is_no_trade() {
        let book = book(
            vec![sell(1, 1, 200), buy(2, 2, 150)],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        assert_eq!(clear(&book).grid, Outcome::NoTrade);
        assert_eq!(clear(&Book::default()).grid, Outcome::NoTrade);
    }

    #[test]
    fn equal_limits_trade_at_that_price() {
        let book = book(
            vec![sell(1, 1, 150), buy(2, 2, 150)],
            &[(1, 1_000, 0), (2, 0, 400)],
        );
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(trade.price, 150);
        assert_eq!(fills(&trade), [(1, Side::Sell, 400), (2, Side::Buy, 400)]);
    }

    #[test]
    fn midpoint_rounds_down_within_both_limits() {
        let book = book(
            vec![sell(1, 1, 100), buy(2, 2, 103)],
            &[(1, 1_000, 0), (2, 0, 400)],
        );
        assert_eq!(traded(&clear(&book).grid).price, 101);
    }

    #[test]
    fn ties_go_by_time_then_id() {
        let asks = book(
            vec![
                Order {
                    placed_at: 5,
                    ..sell(1, 1, 100)
                },
                Order {
                    placed_at: 3,
                    ..sell(9, 9, 100)
                },
                Order {
                    placed_at: 3,
                    ..sell(2, 2, 100)
                },
                buy(4, 4, 200),
            ],
            &[(1, 1_000, 0), (2, 1_000, 0), (9, 1_000, 0), (4, 0, 1_500)],
        );
        assert_eq!(
            fills(traded(&clear(&asks).grid)),
            [
                (2, Side::Sell, 1_000),
                (4, Side::Buy, 1_500),
                (9, Side::Sell, 500)
            ]
        );
        let bids = book(
            vec![
                Order {
                    placed_at: 7,
                    ..buy(4, 4, 200)
                },
                Order {
                    placed_at: 6,
                    ..buy(5, 5, 200)
                },
                Order {
                    placed_at: 6,
                    ..buy(3, 3, 200)
                },
                sell(1, 1, 100),
            ],
            &[(1, 1_500, 0), (3, 0, 1_000), (4, 0, 1_000), (5, 0, 1_000)],
        );
        assert_eq!(
            fills(traded(&clear(&bids).grid)),
            [
                (1, Side::Sell, 1_500),
                (3, Side::Buy, 1_000),
                (5, Side::Buy, 500)
            ]
        );
    }

    #[test]
    fn caps_bound_fills() {
        let capped_ask = book(
            vec![
                Order {
                    cap_wh: Some(300),
                    ..sell(1, 1, 100)
                },
                buy(2, 2, 200),
            ],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        assert_eq!(
            fills(traded(&clear(&capped_ask).grid)),
            [(1, Side::Sell, 300), (2, Side::Buy, 300)]
        );
        let capped_bid = book(
            vec![
                sell(1, 1, 100),
                Order {
                    cap_wh: Some(250),
                    ..buy(2, 2, 200)
                },
            ],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        assert_eq!(
            fills(traded(&clear(&capped_bid).grid)),
            [(1, Side::Sell, 250), (2, Side::Buy, 250)]
        );
        let zero_cap = book(
            vec![
                Order {
                    cap_wh: Some(0),
                    ..sell(1, 1, 100)
                },
                buy(2, 2, 200),
            ],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        assert_eq!(clear(&zero_cap).grid, Outcome::NoTrade);
    }

    #[test]
    fn meter_volumes_bound_fills_and_are_shared_by_its_orders() {
        // Two sell orders on one meter share its 500 Wh of export; the buyer's meter imports 700.
        let book = book(
            vec![
                sell(1, 1, 100),
                Order {
                    placed_at: 1,
                    ..sell(2, 1, 100)
                },
                buy(3, 2, 200),
                buy(4, 2, 150),
            ],
            &[(1, 500, 9_999), (2, 9_999, 700)],
        );
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(fills(&trade), [(1, Side::Sell, 500), (3, Side::Buy, 500)]);
        let short_import = Book {
            volumes: BTreeMap::from([
                (
                    meter_of(1, 0),
                    Volumes {
                        export_wh: 5_000,
                        import_wh: 0,
                    },
                ),
                (
                    meter_of(2, 0),
                    Volumes {
                        export_wh: 0,
                        import_wh: 700,
                    },
                ),
            ]),
            ..book
        };
        assert_eq!(
            fills(traded(&clear(&short_import).grid)),
            [(1, Side::Sell, 700), (3, Side::Buy, 700)]
        );
    }

    #[test]
    fn unknown_meter_and_duplicate_ids_are_ignored() {
        let mut book = book(
            vec![sell(1, 1, 100), buy(2, 2, 200), buy(2, 3, 300)],
            &[(1, 1_000, 0), (2, 0, 500), (3, 0, 500)],
        );
        assert_eq!(clear(&book).grid, Outcome::NoTrade);
        book.orders[2].id = 3;
        book.volumes.remove(&meter_of(3, 0));
        assert_eq!(
            fills(traded(&clear(&book).grid)),
            [(1, Side::Sell, 500), (2, Side::Buy, 500)]
        );
    }

    #[test]
    fn balance_caps_a_buyer_at_its_ceiling() {
        let mut book = book(
            vec![sell(1, 1, 100), buy(2, 2, 200)],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        // 100 units buy 500 Wh at the ceiling of 200 per kWh, whatever the price turns out to be.
        book.balances.insert(addr(2), 100);
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(
            (trade.price, fills(&trade)),
            (150, vec![(1, Side::Sell, 500), (2, Side::Buy, 500)])
        );
        assert!(buyer_cost(trade.price, 500) <= 100);
        book.balances.remove(&addr(2));
        assert_eq!(clear(&book).grid, Outcome::NoTrade);
    }

    #[test]
    fn balance_is_shared_by_a_buyers_orders() {
        let mut book = book(
            vec![
                sell(1, 1, 100),
                buy(2, 2, 200),
                Order {
                    meter: meter_of(2, 1),
                    ..buy(3, 2, 200)
                },
            ],
            &[(1, 5_000, 0), (2, 0, 1_000)],
        );
        book.volumes.insert(
            meter_of(2, 1),
            Volumes {
                export_wh: 0,
                import_wh: 1_000,
            },
        );
        book.balances.insert(addr(2), 300);
        // 300 units buy 1,500 Wh at 200 per kWh: 1,000 on the first order, 500 on the second.
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(
            fills(&trade),
            [
                (1, Side::Sell, 1_500),
                (2, Side::Buy, 1_000),
                (3, Side::Buy, 500)
            ]
        );
    }

    #[test]
    fn network_fee_comes_off_the_ceiling() {
        let mut book = book(
            vec![sell(1, 1, 150), buy(2, 2, 200)],
            &[(1, 1_000, 0), (2, 0, 1_000)],
        );
        book.network_fee = 60;
        assert_eq!(
            clear(&book).grid,
            Outcome::NoTrade,
            "200 - 60 = 140 is under the floor of 150"
        );
        book.network_fee = 50;
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(trade.price, 150);
        assert!(trade.price + book.network_fee <= 200);
        book.network_fee = 250;
        assert_eq!(
            clear(&book).grid,
            Outcome::NoTrade,
            "a fee above the ceiling leaves no bid"
        );
    }

    #[test]
    fn fee_shifts_merit_order_and_price() {
        // Effective ceilings 170 and 130 with a fee of 30; the marginal bid is the 130 one.
        let mut book = book(
            vec![sell(1, 1, 100), buy(2, 2, 200), buy(3, 3, 160)],
            &[(1, 1_500, 0), (2, 0, 1_000), (3, 0, 1_000)],
        );
        book.network_fee = 30;
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(trade.price, 115);
        assert_eq!(
            fills(&trade),
            [
                (1, Side::Sell, 1_500),
                (2, Side::Buy, 1_000),
                (3, Side::Buy, 500)
            ]
        );
    }

    #[test]
    fn a_participant_keeps_only_its_larger_side() {
        // Participant 1 exports 1,000 Wh and imports 400 Wh (two meters): it only sells.
        let mut orders = vec![
            sell(1, 1, 100),
            Order {
                meter: meter_of(1, 1),
                ..buy(2, 1, 500)
            },
            buy(3, 2, 300),
            sell(4, 3, 200),
        ];
        let mut book = book(
            orders.clone(),
            &[(1, 1_000, 0), (2, 0, 2_000), (3, 1_000, 0)],
        );
        book.volumes.insert(
            meter_of(1, 1),
            Volumes {
                export_wh: 0,
                import_wh: 400,
            },
        );
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(
            fills(&trade),
            [
                (1, Side::Sell, 1_000),
                (3, Side::Buy, 2_000),
                (4, Side::Sell, 1_000)
            ]
        );
        // With 1,400 Wh to import it only buys, from participant 3.
        book.volumes.insert(
            meter_of(1, 1),
            Volumes {
                export_wh: 0,
                import_wh: 1_400,
            },
        );
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(
            fills(&trade),
            [(2, Side::Buy, 1_000), (4, Side::Sell, 1_000)]
        );
        // One order with both limits on a meter that exports and imports: a tie sells.
        orders = vec![
            Order {
                buy_ceiling: Some(500),
                ..sell(1, 1, 100)
            },
            buy(3, 2, 300),
            sell(4, 3, 50),
        ];
        let book = Book { orders, ..book };
        let mut tie = book.clone();
        tie.volumes.insert(
            meter_of(1, 0),
            Volumes {
                export_wh: 700,
                import_wh: 700,
            },
        );
        let trade = traded(&clear(&tie).grid).clone();
        assert!(
            trade
                .fills
                .iter()
                .all(|f| f.order != 1 || f.side == Side::Sell)
        );
        assert_eq!(
            fills(&trade),
            [
                (1, Side::Sell, 700),
                (3, Side::Buy, 1_700),
                (4, Side::Sell, 1_000)
            ]
        );
    }

    #[test]
    fn islanded_feeder_serves_critical_loads_first_and_clears_alone() {
        let island = |o: Order| Order { feeder: 7, ..o };
        let mut book = book(
            vec![
                island(sell(1, 1, 100)),
                island(Order {
                    placed_at: 0,
                    ..buy(2, 2, 400)
                }),
                island(Order {
                    placed_at: 9,
                    critical: true,
                    ..buy(3, 3, 200)
                }),
                // Cheap energy on the grid side cannot reach the island.
                sell(4, 4, 10),
                buy(5, 5, 50),
            ],
            &[
                (1, 500, 0),
                (2, 0, 500),
                (3, 0, 500),
                (4, 2_000, 0),
                (5, 0, 300),
            ],
        );
        book.islanded.insert(7);
        book.islanded.insert(8);
        let cleared = clear(&book);
        let island_trade = traded(&cleared.islands[&7]);
        assert_eq!(
            fills(island_trade),
            [(1, Side::Sell, 500), (3, Side::Buy, 500)]
        );
        assert_eq!(
            island_trade.price, 150,
            "midpoint of the critical bid's 200 and the floor of 100"
        );
        assert_eq!(cleared.islands[&8], Outcome::NoTrade);
        let grid = traded(&cleared.grid);
        assert_eq!(
            (grid.price, fills(grid)),
            (30, vec![(4, Side::Sell, 300), (5, Side::Buy, 300)])
        );
        // Not islanded, the feeder joins the grid: everyone buys the grid's cheapest energy.
        book.islanded.clear();
        let cleared = clear(&book);
        assert!(cleared.islands.is_empty());
        let grid = traded(&cleared.grid);
        assert_eq!(
            fills(grid),
            [
                (2, Side::Buy, 500),
                (3, Side::Buy, 500),
                (4, Side::Sell, 1_300),
                (5, Side::Buy, 300)
            ]
        );
    }

    #[test]
    fn an_island_trades_at_the_grids_price_with_its_critical_loads_first() {
        let island = |o: Order| Order { feeder: 7, ..o };
        let mut book = book(
            vec![
                island(sell(1, 1, 100)),
                island(buy(2, 2, 400)),
                island(Order {
                    placed_at: 9,
                    critical: true,
                    ..buy(3, 3, 200)
                }),
                // Asks only the island's own price suits.
                island(sell(6, 6, 190)),
                sell(4, 4, 150),
                buy(5, 5, 160),
            ],
            &[
                (1, 800, 0),
                (2, 0, 500),
                (3, 0, 600),
                (4, 2_000, 0),
                (5, 0, 300),
                (6, 400, 0),
            ],
        );
        book.islanded.insert(7);
        let cleared = clear(&book);
        assert_eq!(traded(&cleared.grid).price, 155);
        let Outcome::Traded(trade) = at_one_price(&book, &cleared) else {
            panic!("the grid traded")
        };
        assert_eq!(trade.price, 155, "the grid's price");
        assert_eq!(
            fills(&trade),
            [
                // The island's 100 floor suits 155, its 190 floor does not; the critical bid buys
                // all it needs first, the 400 bid the rest.
                (1, Side::Sell, 800),
                (2, Side::Buy, 200),
                (3, Side::Buy, 600),
                (4, Side::Sell, 300),
                (5, Side::Buy, 300),
            ]
        );
    }

    #[test]
    fn only_islands_trading_set_the_one_price() {
        let island = |feeder: u32, o: Order| Order { feeder, ..o };
        let mut book = book(
            vec![
                island(7, sell(1, 1, 100)),
                island(7, buy(2, 2, 200)),
                island(8, sell(3, 3, 120)),
                island(8, buy(4, 4, 300)),
            ],
            &[(1, 500, 0), (2, 0, 500), (3, 500, 0), (4, 0, 200)],
        );
        book.islanded.extend([7, 8]);
        let cleared = clear(&book);
        assert_eq!(cleared.grid, Outcome::NoTrade);
        let Outcome::Traded(trade) = at_one_price(&book, &cleared) else {
            panic!("the islands traded")
        };
        assert_eq!(trade.price, 150, "feeder 7's own price");
        assert_eq!(
            fills(&trade),
            [
                (1, Side::Sell, 500),
                (2, Side::Buy, 500),
                (3, Side::Sell, 200),
                (4, Side::Buy, 200)
            ]
        );
        let empty = Book::default();
        assert_eq!(at_one_price(&empty, &clear(&empty)), Outcome::NoTrade);
    }

    #[test]
    fn a_participant_on_the_grid_keeps_its_side_in_an_island() {
        let island = |o: Order| Order { feeder: 7, ..o };
        // Participant 5 buys 600 Wh on the grid and has 400 Wh of PV on the island (it keeps
        // its larger side, the grid purchase); participant 2 buys on both islands 7 and 8 with a
        // balance for one purchase.
        let mut book = book(
            vec![
                sell(1, 1, 50),
                buy(2, 5, 300),
                island(Order {
                    meter: meter_of(5, 1),
                    ..sell(3, 5, 100)
                }),
                island(buy(4, 6, 400)),
                island(sell(5, 7, 100)),
                island(Order {
                    meter: meter_of(2, 1),
                    ..buy(6, 2, 400)
                }),
                Order {
                    feeder: 8,
                    ..sell(7, 8, 100)
                },
                Order {
                    feeder: 8,
                    ..buy(8, 2, 400)
                },
            ],
            &[
                (1, 1_000, 0),
                (5, 0, 600),
                (6, 0, 200),
                (7, 500, 0),
                (8, 500, 0),
                (2, 0, 500),
            ],
        );
        book.volumes.insert(
            meter_of(5, 1),
            Volumes {
                export_wh: 400,
                import_wh: 0,
            },
        );
        book.volumes.insert(
            meter_of(2, 1),
            Volumes {
                export_wh: 0,
                import_wh: 500,
            },
        );
        // Enough for 500 Wh at its 0.40 ceiling: one island's purchase, not both.
        book.balances.insert(addr(2), 200);
        book.islanded.extend([7, 8]);
        let cleared = clear(&book);
        let Outcome::Traded(trade) = at_one_price(&book, &cleared) else {
            panic!("the grid traded")
        };
        let sides: Vec<(u64, Side)> = fills(&trade).iter().map(|f| (f.0, f.1)).collect();
        assert!(
            !sides.contains(&(3, Side::Sell)),
            "participant 5 bought on the grid, so it does not sell on the island: {trade:?}"
        );
        let bought_by_2: u64 = trade
            .fills
            .iter()
            .filter(|fill| [6, 8].contains(&fill.order))
            .map(|fill| fill.wh)
            .sum();
        assert!(
            buyer_cost(400, bought_by_2) <= 200,
            "participant 2's one balance pays for all it buys on both islands: {trade:?}"
        );
    }

    #[test]
    fn a_critical_bid_below_the_asks_does_not_block_the_island() {
        let island = |o: Order| Order { feeder: 7, ..o };
        let mut book = book(
            vec![
                island(sell(1, 1, 100)),
                island(Order {
                    critical: true,
                    ..buy(2, 2, 50)
                }),
                island(buy(3, 3, 300)),
            ],
            &[(1, 500, 0), (2, 0, 500), (3, 0, 500)],
        );
        book.islanded.insert(7);
        let trade = traded(&clear(&book).islands[&7]).clone();
        assert_eq!(
            (trade.price, fills(&trade)),
            (200, vec![(1, Side::Sell, 500), (3, Side::Buy, 500)])
        );
    }

    #[test]
    fn interned_addresses_keep_their_index_as_the_table_grows() {
        let mut interner = Interner::default();
        interner.reset(0);
        for n in 0..2_000 {
            assert_eq!(interner.intern(&addr(n * 7)), n as u32);
        }
        for n in 0..2_000 {
            assert_eq!(interner.get(&addr(n * 7)), Some(n as u32));
            assert_eq!(interner.intern(&addr(n * 7)), n as u32);
            assert_eq!(interner.get(&addr(n * 7 + 1)), None);
        }
        interner.reset(3);
        assert_eq!(interner.get(&addr(7)), None);
        assert_eq!(interner.intern(&addr(14)), 0);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let max = u64::MAX;
        let mut book = book(
            vec![
                Order {
                    cap_wh: Some(max),
                    placed_at: max,
                    ..sell(max, 1, 0)
                },
                Order {
                    placed_at: max,
                    ..buy(max - 1, 2, max)
                },
                buy(0, 3, max),
                sell(1, 4, max),
            ],
            &[(1, max, max), (2, max, max), (3, max, max), (4, max, max)],
        );
        book.balances.insert(addr(2), u128::MAX);
        book.network_fee = max - 1;
        let trade = traded(&clear(&book).grid).clone();
        assert_eq!(trade.price, 0);
        assert_eq!(
            trade
                .fills
                .iter()
                .filter(|f| f.side == Side::Buy)
                .map(|f| f.wh)
                .sum::<u64>(),
            max
        );
        book.network_fee = 0;
        let _ = clear(&book);
    }
}

#[cfg(test)]
mod props {
    use std::collections::{BTreeMap, BTreeSet};

    use alloy::primitives::U256;
    use proptest::{collection::vec, option::weighted, prelude::*};

    use super::*;

    const PARTICIPANTS: u64 = 60;

    fn addr(n: u64) -> Address {
        Address::from(alloy::primitives::U160::from(n))
    }

    fn meter_of(who: u64, n: u64) -> Address {
        addr(1_000 * (who + 1) + n)
    }

    /// Books of up to 300 orders from 60 participants with two meters each on 4 feeders, prices
    /// around 0.10 USD/kWh, some islanded feeders, ties in time, missing meters and empty volumes.
    fn arb_book() -> impl Strategy<Value = Book> {
        let meter = (
            0u32..4,
            prop::bool::weighted(0.2),
            weighted(
                0.9,
                (weighted(0.6, 1u64..3_000), weighted(0.6, 1u64..3_000)),
            ),
        );
        let order = (
            0..PARTICIPANTS,
            0u64..2,
            weighted(0.55, 0u64..200_000),
            weighted(0.55, 0u64..260_000),
            weighted(0.3, 0u64..2_000),
            0u64..20,
        );
        (
            vec(meter, 2 * PARTICIPANTS as usize),
            vec(weighted(0.9, 0u128..1_000_000), PARTICIPANTS as usize),
            vec(order, 0..300),
            0u64..50_000,
            vec(0u32..4, 0..3),
        )
            .prop_map(|(meters, balances, orders, network_fee, islanded)| {
                let mut book = Book {
                    network_fee,
                    islanded: islanded.into_iter().collect(),
                    ..Book::default()
                };
                for (who, balance) in balances.into_iter().enumerate() {
                    if let Some(balance) = balance {
                        book.balances.insert(addr(who as u64), balance);
                    }
                }
                for (i, &(_, _, volumes)) in meters.iter().enumerate() {
                    if let Some((export, import)) = volumes {
                        book.volumes.insert(
                            meter_of(i as u64 / 2, i as u64 % 2),
                            Volumes {
                                export_wh: export.unwrap_or(0),
                                import_wh: import.unwrap_or(0),
                            },
                        );
                    }
                }
                for (id, (who, n, sell_floor, buy_ceiling, cap_wh, placed_at)) in
                    orders.into_iter().enumerate()
                {
                    let (feeder, critical, _) = meters[(2 * who + n) as usize];
                    book.orders.push(Order {
                        id: id as u64 * 7 + 3,
                        participant: addr(who),
                        meter: meter_of(who, n),
                        sell_floor,
                        buy_ceiling,
                        cap_wh,
                        placed_at,
                        critical,
                        feeder,
                    });
                }
                book
            })
    }

    /// Where an eligible order sits, as the module docs define eligibility.
    fn eligible(book: &Book, order: &Order, side: Side) -> Option<u64> {
        let volumes = book.volumes.get(&order.meter)?;
        if order.cap_wh == Some(0) {
            return None;
        }
        match side {
            Side::Sell => order.sell_floor.filter(|_| volumes.export_wh > 0),
            Side::Buy => {
                let ceiling = order.buy_ceiling?;
                let balance = book.balances.get(&order.participant).copied().unwrap_or(0);
                let effective = ceiling.checked_sub(book.network_fee)?;
                (volumes.import_wh > 0 && affordable(balance, ceiling) > 0).then_some(effective)
            }
        }
    }

    /// The checks the market contract makes, plus the price rule and the maximality of the volume.
    fn check(book: &Book, cleared: &Clearing) -> Result<(), TestCaseError> {
        let orders: BTreeMap<u64, &Order> = book.orders.iter().map(|o| (o.id, o)).collect();
        let fee = book.network_fee;
        prop_assert_eq!(
            cleared.islands.keys().copied().collect::<BTreeSet<_>>(),
            book.islanded.clone()
        );
        let markets: Vec<(Option<u32>, &Outcome)> = std::iter::once((None, &cleared.grid))
            .chain(cleared.islands.iter().map(|(f, o)| (Some(*f), o)))
            .collect();
        let mut filled: BTreeMap<u64, u64> = BTreeMap::new();
        let mut meter_sold: BTreeMap<Address, u64> = BTreeMap::new();
        let mut meter_bought: BTreeMap<Address, u64> = BTreeMap::new();
        let mut paid: BTreeMap<Address, u128> = BTreeMap::new();
        let mut charged_at_ceiling: BTreeMap<Address, u128> = BTreeMap::new();
        let mut sellers = BTreeSet::new();
        let mut buyers = BTreeSet::new();
        for &(island, outcome) in &markets {
            let Outcome::Traded(trade) = outcome else {
                continue;
            };
            let price = trade.price;
            prop_assert!(trade.fills.windows(2).all(|w| w[0].order < w[1].order));
            let (mut sold, mut bought) = (0u128, 0u128);
            let (mut top_floor, mut low_ceiling) = (0u64, u64::MAX);
            for fill in &trade.fills {
                let order = orders[&fill.order];
                prop_assert!(fill.wh > 0);
                prop_assert_eq!(fill.meter, order.meter);
                match island {
                    Some(feeder) => prop_assert_eq!(order.feeder, feeder),
                    None => prop_assert!(!book.islanded.contains(&order.feeder)),
                }
                prop_assert!(order.cap_wh.is_none_or(|cap| fill.wh <= cap));
                *filled.entry(order.id).or_default() += fill.wh;
                match fill.side {
                    Side::Sell => {
                        let floor = order.sell_floor.expect("a sell fill has a floor");
                        prop_assert!(floor <= price);
                        top_floor = top_floor.max(floor);
                        sold += u128::from(fill.wh);
                        *meter_sold.entry(order.meter).or_default() += fill.wh;
                        sellers.insert(order.participant);
                    }
                    Side::Buy => {
                        let ceiling = order.buy_ceiling.expect("a buy fill has a ceiling");
                        prop_assert!(u128::from(price) + u128::from(fee) <= u128::from(ceiling));
                        low_ceiling = low_ceiling.min(ceiling - fee);
                        bought += u128::from(fill.wh);
                        *meter_bought.entry(order.meter).or_default() += fill.wh;
                        *paid.entry(order.participant).or_default() +=
                            buyer_cost(price + fee, fill.wh);
                        *charged_at_ceiling.entry(order.participant).or_default() +=
                            buyer_cost(ceiling, fill.wh);
                        buyers.insert(order.participant);
                    }
                }
            }
            prop_assert!(sold > 0);
            prop_assert_eq!(sold, bought);
            prop_assert_eq!(price, top_floor + (low_ceiling - top_floor) / 2);
        }
        for (meter, wh) in &meter_sold {
            prop_assert!(*wh <= book.volumes[meter].export_wh);
        }
        for (meter, wh) in &meter_bought {
            prop_assert!(*wh <= book.volumes[meter].import_wh);
        }
        for (participant, cost) in &paid {
            prop_assert!(*cost <= book.balances.get(participant).copied().unwrap_or(0));
        }
        prop_assert!(sellers.is_disjoint(&buyers));

        // Maximality: no eligible ask and bid with room left cross in a market ordered by price
        // alone (the grid, or an island without eligible critical bids). A participant with both
        // sides eligible and no fill is left out: the self-trade rule may have dropped either side.
        let two_sided: BTreeSet<Address> = book
            .orders
            .iter()
            .filter(|o| eligible(book, o, Side::Sell).is_some())
            .map(|o| o.participant)
            .filter(|p| {
                book.orders
                    .iter()
                    .any(|o| o.participant == *p && eligible(book, o, Side::Buy).is_some())
            })
            .collect();
        let in_play = |o: &Order, other_side: &BTreeSet<Address>, mine: &BTreeSet<Address>| {
            !other_side.contains(&o.participant)
                && (mine.contains(&o.participant) || !two_sided.contains(&o.participant))
        };
        for &(island, _) in &markets {
            let in_market = |o: &&Order| match island {
                Some(feeder) => o.feeder == feeder,
                None => !book.islanded.contains(&o.feeder),
            };
            if island.is_some()
                && book
                    .orders
                    .iter()
                    .filter(in_market)
                    .any(|o| o.critical && eligible(book, o, Side::Buy).is_some())
            {
                continue;
            }
            let room =
                |o: &Order| o.cap_wh.unwrap_or(u64::MAX) - filled.get(&o.id).copied().unwrap_or(0);
            let asks: Vec<u64> = book
                .orders
                .iter()
                .filter(in_market)
                .filter(|o| in_play(o, &buyers, &sellers))
                .filter_map(|o| {
                    let floor = eligible(book, o, Side::Sell)?;
                    let export_left = book.volumes[&o.meter].export_wh
                        - meter_sold.get(&o.meter).copied().unwrap_or(0);
                    (room(o).min(export_left) > 0).then_some(floor)
                })
                .collect();
            let top_bid = book
                .orders
                .iter()
                .filter(in_market)
                .filter(|o| in_play(o, &sellers, &buyers))
                .filter_map(|o| {
                    let effective = eligible(book, o, Side::Buy)?;
                    let import_left = book.volumes[&o.meter].import_wh
                        - meter_bought.get(&o.meter).copied().unwrap_or(0);
                    let budget = book.balances.get(&o.participant).copied().unwrap_or(0)
                        - charged_at_ceiling.get(&o.participant).copied().unwrap_or(0);
                    let wh = room(o)
                        .min(import_left)
                        .min(affordable(budget, o.buy_ceiling?));
                    (wh > 0).then_some(effective)
                })
                .max();
            if let (Some(top_bid), Some(low_ask)) = (top_bid, asks.iter().min()) {
                prop_assert!(
                    top_bid < *low_ask,
                    "bid {} and ask {} still cross in {:?}",
                    top_bid,
                    low_ask,
                    island
                );
            }
        }
        Ok(())
    }

    /// The rules of the module docs, implemented as plainly as possible (ordered maps keyed by
    /// address and id, whole-key sorts, no shortcuts): [`clear`] must give exactly its answer.
    fn reference_clear(book: &Book) -> Clearing {
        let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
        for order in &book.orders {
            *copies.entry(order.id).or_default() += 1;
        }
        let fee = book.network_fee;
        let mut export: BTreeMap<Address, u64> = book
            .volumes
            .iter()
            .map(|(m, v)| (*m, v.export_wh))
            .collect();
        let mut import: BTreeMap<Address, u64> = book
            .volumes
            .iter()
            .map(|(m, v)| (*m, v.import_wh))
            .collect();
        let mut budget = book.balances.clone();
        fn balance(budget: &BTreeMap<Address, u128>, who: &Address) -> u128 {
            budget.get(who).copied().unwrap_or(0)
        }
        let live = |o: &&Order| {
            copies[&o.id] == 1 && book.volumes.contains_key(&o.meter) && o.cap_wh != Some(0)
        };
        let mut asks: Vec<&Order> = book
            .orders
            .iter()
            .filter(live)
            .filter(|o| o.sell_floor.is_some() && export[&o.meter] > 0)
            .collect();
        let mut bids: Vec<&Order> = book
            .orders
            .iter()
            .filter(live)
            .filter(|o| {
                o.buy_ceiling.is_some_and(|c| {
                    c >= fee
                        && import[&o.meter] > 0
                        && affordable(balance(&budget, &o.participant), c) > 0
                })
            })
            .collect();
        let sellers: BTreeSet<Address> = asks.iter().map(|o| o.participant).collect();
        for who in bids.iter().map(|o| o.participant).collect::<BTreeSet<_>>() {
            if !sellers.contains(&who) {
                continue;
            }
            let meters = |side: &[&Order]| -> BTreeSet<Address> {
                side.iter()
                    .filter(|o| o.participant == who)
                    .map(|o| o.meter)
                    .collect()
            };
            let sell_wh: u128 = meters(&asks).iter().map(|m| u128::from(export[m])).sum();
            let import_wh: u128 = meters(&bids).iter().map(|m| u128::from(import[m])).sum();
            let top = bids
                .iter()
                .filter(|o| o.participant == who)
                .filter_map(|o| o.buy_ceiling)
                .max()
                .unwrap_or(0);
            let buy_wh = import_wh.min(u128::from(affordable(balance(&budget, &who), top)));
            if sell_wh >= buy_wh {
                bids.retain(|o| o.participant != who);
            } else {
                asks.retain(|o| o.participant != who);
            }
        }
        let mut market = |feeder: Option<u32>| {
            let in_market = |o: &&&Order| match feeder {
                Some(f) => o.feeder == f,
                None => !book.islanded.contains(&o.feeder),
            };
            let mut asks: Vec<&Order> = asks.iter().filter(in_market).copied().collect();
            let mut bids: Vec<&Order> = bids.iter().filter(in_market).copied().collect();
            asks.sort_by_key(|o| (o.sell_floor, o.placed_at, o.id));
            bids.sort_by_key(|o| {
                let effective = o.buy_ceiling.map(|c| c - fee);
                (
                    feeder.is_some() && !o.critical,
                    std::cmp::Reverse(effective),
                    o.placed_at,
                    o.id,
                )
            });
            let mut fills: BTreeMap<u64, Fill> = BTreeMap::new();
            let (mut next_ask, mut ask_left) = (0, None);
            let mut marginal: Option<(u64, u64)> = None;
            for bid in bids {
                let ceiling = bid.buy_ceiling.unwrap_or(0);
                let effective = ceiling - fee;
                let mut want = bid
                    .cap_wh
                    .unwrap_or(u64::MAX)
                    .min(import[&bid.meter])
                    .min(affordable(balance(&budget, &bid.participant), ceiling));
                let limit = marginal.map_or(effective, |(_, low)| low.min(effective));
                let (mut bought, mut top_floor) = (0, None);
                while want > 0 && next_ask < asks.len() {
                    let ask = asks[next_ask];
                    let floor = ask.sell_floor.unwrap_or(0);
                    if floor > limit {
                        break;
                    }
                    let left: &mut u64 = ask_left.get_or_insert_with(|| {
                        ask.cap_wh.unwrap_or(u64::MAX).min(export[&ask.meter])
                    });
                    let wh = want.min(*left);
                    (want, bought, *left) = (want - wh, bought + wh, *left - wh);
                    *export.get_mut(&ask.meter).unwrap() -= wh;
                    if wh > 0 {
                        top_floor = Some(floor);
                        let fill = fills.entry(ask.id).or_insert(Fill {
                            order: ask.id,
                            meter: ask.meter,
                            side: Side::Sell,
                            wh: 0,
                        });
                        fill.wh += wh;
                    }
                    if *left == 0 {
                        (next_ask, ask_left) = (next_ask + 1, None);
                    }
                }
                if let Some(floor) = top_floor {
                    marginal = Some((floor, limit));
                    *import.get_mut(&bid.meter).unwrap() -= bought;
                    let left = balance(&budget, &bid.participant)
                        .saturating_sub(buyer_cost(ceiling, bought));
                    budget.insert(bid.participant, left);
                    let fill = Fill {
                        order: bid.id,
                        meter: bid.meter,
                        side: Side::Buy,
                        wh: bought,
                    };
                    fills.insert(bid.id, fill);
                }
            }
            match marginal {
                None => Outcome::NoTrade,
                Some((floor, ceiling)) => Outcome::Traded(Trade {
                    price: floor + (ceiling - floor) / 2,
                    fills: fills.into_values().collect(),
                }),
            }
        };
        let islands = book
            .islanded
            .iter()
            .map(|f| (*f, market(Some(*f))))
            .collect();
        Clearing {
            grid: market(None),
            islands,
        }
    }

    proptest! {
        #[test]
        fn clearing_passes_the_contracts_checks_and_is_maximal(book in arb_book()) {
            check(&book, &clear(&book))?;
        }

        #[test]
        fn clearing_ignores_the_order_of_the_orders(
            (book, shuffled) in arb_book().prop_flat_map(|book| {
                let orders = book.orders.clone();
                (Just(book), Just(orders).prop_shuffle())
            })
        ) {
            let cleared = clear(&book);
            prop_assert_eq!(&cleared, &clear(&book));
            prop_assert_eq!(cleared, clear(&Book { orders: shuffled, ..book }));
        }

        #[test]
        fn duplicated_ids_drop_every_copy(book in arb_book(), copy in any::<prop::sample::Index>()) {
            prop_assume!(!book.orders.is_empty());
            let mut doubled = book.clone();
            let original = copy.get(&book.orders).clone();
            doubled.orders.push(Order { placed_at: 0, ..original.clone() });
            let without = Book { orders: book.orders.iter().filter(|o| o.id != original.id).cloned().collect(), ..book };
            prop_assert_eq!(clear(&doubled), clear(&without));
        }

        #[test]
        fn clearing_matches_the_reference(
            book in arb_book(),
            (shuffle, spread_times, rich, half_broke) in any::<(bool, bool, bool, bool)>(),
        ) {
            let mut book = book;
            // Participants without a balance grow the participant table past its first size.
            if half_broke {
                book.balances = book.balances.into_iter().step_by(2).collect();
            }
            if shuffle {
                book.orders.reverse();
            }
            // Times far apart and balances beyond 64 bits take the slower, general paths.
            if spread_times {
                for order in &mut book.orders {
                    order.placed_at <<= 58;
                }
            }
            if rich {
                for balance in book.balances.values_mut() {
                    *balance <<= 64;
                }
            }
            prop_assert_eq!(clear(&book), reference_clear(&book));
        }

        #[test]
        fn the_arithmetic_is_exact(
            (budget, budget_shift) in (any::<u128>(), 0u32..128),
            (ceiling, ceiling_shift) in (any::<u64>(), 0u32..64),
            (wh, wh_shift) in (any::<u64>(), 0u32..64),
        ) {
            // Magnitudes of every size, so that both the 64-bit and the u128 paths run.
            let (budget, ceiling, wh) =
                (budget >> budget_shift, ceiling >> ceiling_shift, wh >> wh_shift);
            let exact_wh = match ceiling {
                0 => U256::MAX,
                _ => U256::from(budget) * U256::from(1000) / U256::from(ceiling),
            };
            prop_assert_eq!(
                U256::from(affordable(budget, ceiling)),
                exact_wh.min(U256::from(u64::MAX))
            );
            prop_assert_eq!(
                buyer_cost(ceiling, wh),
                (u128::from(ceiling) * u128::from(wh)).div_ceil(1000)
            );
        }
    }
}
