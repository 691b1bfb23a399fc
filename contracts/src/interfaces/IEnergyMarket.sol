// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IEnergyMarket
/// @notice The neighbourhood energy market: a vault of stablecoin, energy credits and carbon credits per
/// participant, one standing limit order per meter, and the settlement of each trading interval by a
/// keeper that cleared it off chain (a uniform-price double auction). The market is also the meter
/// registry (`IMeterRegistry`): a settlement consumes the volumes the meters' readings attested.
///
/// Units: energy in Wh; money in stablecoin base units (6 decimals); prices and fees in base units per
/// kWh; interval `t` covers `[t * INTERVAL_SECONDS, (t + 1) * INTERVAL_SECONDS)`.
///
/// Money of a settlement batch, conserved to the unit: a buyer pays `ceil(wh * (price + networkFee) /
/// 1000)`; a seller earns `floor(wh * price / 1000)` less the keeper fee (`keeperFeeBps` of it, rounded
/// down); the grid operator gets `floor(soldWh * networkFee / 1000)`; the settling keeper gets the rest
/// (its fees plus the rounding dust), which is never negative.
///
/// Energy of each meter's settled volumes: export = sold + credited; import = bought + covered from
/// credits + grid-supplied. Carbon: every settled exported Wh earns `intensity / 1000` g CO2e (rounded
/// down per meter and settlement).
interface IEnergyMarket {
    /// @notice The tokens the vault holds.
    enum Asset {
        Stablecoin,
        EnergyCredit,
        CarbonCredit
    }

    /// @notice A meter's standing order, as its owner sets it.
    /// @param sells Whether the order sells the meter's export.
    /// @param sellFloor Lowest clearing price it sells at, base units per kWh.
    /// @param buys Whether the order buys for the meter's import.
    /// @param buyCeiling Highest clearing price plus network fee it pays, base units per kWh.
    /// @param capWh Most Wh it trades in one interval; 0 for no cap.
    /// @param validFrom First moment (unix s) of the intervals it trades in: an interval trades when it
    /// starts at or after `validFrom`.
    /// @param validUntil Last moment of the intervals it trades in: an interval trades when it ends at or
    /// before `validUntil`; 0 for no end.
    /// @param coverFromCredits Whether import the market did not match is paid from the owner's energy
    /// credits (Wh for Wh) before it is left to grid supply.
    struct OrderParams {
        bool sells;
        uint64 sellFloor;
        bool buys;
        uint64 buyCeiling;
        uint32 capWh;
        uint40 validFrom;
        uint40 validUntil;
        bool coverFromCredits;
    }

    /// @notice A participant's vault balances.
    struct Balances {
        uint256 stablecoin;
        uint256 creditsWh;
        uint256 carbonGrams;
    }

    /// @notice How far the settlement of an interval got.
    enum IntervalStatus {
        /// No batch was settled yet.
        Open,
        /// A keeper settled one or more batches at `price` and may add more.
        InProgress,
        /// The keeper closed it: no more batches.
        Settled
    }

    /// @notice The settlement record of one interval.
    /// @param keeper The keeper that settled its last batch (zero while `Open`).
    /// @param price The clearing price, base units per kWh.
    /// @param status How far the settlement got.
    /// @param lastBatchAt When its last batch was settled (unix s): from `lastBatchAt + INTERVAL_SECONDS`
    /// on, another keeper may take over an interval left `InProgress`.
    struct IntervalRecord {
        address keeper;
        uint48 price;
        IntervalStatus status;
        uint40 lastBatchAt;
    }

    /// @notice `account` moved `amount` of `asset` into its vault balance.
    event Deposited(address indexed account, Asset indexed asset, uint256 amount);
    /// @notice `account` moved `amount` of `asset` out of its vault balance.
    event Withdrawn(address indexed account, Asset indexed asset, uint256 amount);
    /// @notice `meter`'s standing order was placed or replaced by `owner`; it trades from now on with
    /// the time priority of this event. `params` are the order as stored: the limit of a side the order
    /// does not trade is zero.
    event OrderPlaced(address indexed meter, address indexed owner, OrderParams params);
    /// @notice `meter`'s standing order was cancelled.
    event OrderCancelled(address indexed meter);
    /// @notice A batch of interval `t` was settled by `keeper` at `price`.
    /// @param tradedWh Wh sold (equal to Wh bought) in this batch.
    /// @param networkFee Stablecoin paid to the grid operator by this batch.
    /// @param keeperFee Stablecoin paid to the keeper by this batch, rounding dust included.
    /// @param closing Whether this batch closed the interval.
    event IntervalSettled(
        uint64 indexed t,
        address indexed keeper,
        uint64 price,
        uint256 tradedWh,
        uint256 networkFee,
        uint256 keeperFee,
        bool closing
    );
    /// @notice The pending volumes of one or more meters were settled, by one `settle` or `finalize` call:
    /// what a retailer bills and a prosumer checks. Not emitted when the call settled no meter.
    /// @dev Two words per settled meter, in the order the meters were settled (`records.length` is twice
    /// their number); `SettlementRecords` packs and unpacks them. Bit 0 is the lowest bit of a word.
    ///
    /// Word 0, the meter and its interval:
    /// - bits   0-159 `meter`: the meter's address;
    /// - bits 160-199 `interval` (uint40): the last interval the volumes cover (residual-only volumes may
    ///   span several);
    /// - bits 200-255 `carbonGrams` (uint56): carbon credits earned by the export, g CO2e.
    ///
    /// Word 1, the volumes and the money:
    /// - bits   0- 31 `tradedWh` (uint32): Wh sold (export) or bought (import) in the market;
    /// - bits  32- 63 `creditedWh` (uint32): export not sold, credited to the owner as energy credits;
    /// - bits  64- 95 `coveredWh` (uint32): import not bought, paid from the owner's energy credits;
    /// - bits  96-127 `gridSuppliedWh` (uint32): import not bought nor covered, supplied by the grid and
    ///   billed by the retailer;
    /// - bits 128-223 `amount` (uint96): stablecoin earned net of the keeper fee (sold) or paid including the
    ///   network fee (bought); zero without a trade;
    /// - bits 224-231 `flags`: bit 0 set = `tradedWh` was bought; clear = sold, or no trade (`tradedWh`
    ///   zero); bit 1 set = unserved: the meter's feeder was islanded in `interval` (`setIslanded`), so the
    ///   grid supplied none of `gridSuppliedWh` (the retailer bills none of it; it is the energy the
    ///   island could not serve); the other flag bits are zero;
    /// - bits 232-255: zero.
    ///
    /// Per meter: export = tradedWh (when sold) + creditedWh; import = tradedWh (when bought) + coveredWh +
    /// gridSuppliedWh.
    ///
    /// Why one event of packed records rather than one event per meter: an event with the meter and the
    /// interval as topics and seven data words cost ~1,650-3,900 gas per meter (375 per topic, 8 per data
    /// byte, memory); a record costs its 64 bytes of log data (~512 gas) plus two memory writes, which a
    /// 500-fill settlement needs to stay within its gas budget. Records are not indexed by meter: a
    /// retailer or wallet reads the `MetersSettled` logs of the market and decodes the records off chain.
    event MetersSettled(bytes32[] records);
    /// @notice The grid operator `operator` set the network fee it is paid per kWh bought.
    event NetworkFeeSet(address indexed operator, uint64 feePerKwh);
    /// @notice A grid operator islanded `feeder` (`islanded`) or reconnected it, at `at` (unix s). An
    /// interval that overlaps an island at all counts as islanded.
    event FeederIslanded(uint32 indexed feeder, bool islanded, uint256 at);
    /// @notice The keeper fee, in basis points of the traded value, was set.
    event KeeperFeeSet(uint16 bps);
    /// @notice A settlement or finalization held the carbon of `exportWh` it settled: the carbon
    /// intensity feed was stale (see `IMeterRegistry.setCarbonIntensityHub`).
    event CarbonHeld(uint256 exportWh);
    /// @notice `account`'s held export of `exportWh` earned `grams` carbon credits at `intensity`
    /// (g CO2e/kWh), into its vault.
    event CarbonReleased(address indexed account, uint256 exportWh, uint256 intensity, uint256 grams);
    /// @notice The co-op set `amm`, the participant with id `id`, as the market's pool (`ammTransfer`).
    event AmmSet(address indexed amm, uint32 id);
    /// @notice A pool trade moved vault balances between `account` and the pool: `account`'s stablecoin
    /// and credits changed by the deltas (positive: credited to `account`), the pool's by their opposites.
    event AmmTransferred(address indexed account, int256 stablecoinDelta, int256 creditsDeltaWh);

    /// @notice `feeder` already is islanded (`islanded`) or already is connected (not `islanded`).
    error MarketIslandUnchanged(uint32 feeder, bool islanded);
    /// @notice A zero amount was given.
    error MarketZeroAmount();
    /// @notice Held carbon waits for a fresh intensity: `hub`'s `CARBON_INTENSITY` feed is stale.
    error MarketCarbonIntensityStale(address hub);
    /// @notice `account` is not a registered participant (never registered: no vault).
    error MarketUnknownParticipant(address account);
    /// @notice `account` holds `balance` of `asset`, less than the `needed` amount.
    error MarketInsufficientVaultBalance(address account, Asset asset, uint256 needed, uint256 balance);
    /// @notice A balance would pass the width the vault stores it in.
    error MarketBalanceOverflow(address account, Asset asset);
    /// @notice `caller` does not own `meter`.
    error MarketNotMeterOwner(address meter, address caller);
    /// @notice The meter's owner is not an active participant.
    error MarketParticipantNotActive(address meter);
    /// @notice The order neither sells nor buys.
    error MarketOrderEmpty(address meter);
    /// @notice A price or fee does not fit the 48 bits the market stores it in.
    error MarketPriceOutOfRange(uint64 price);
    /// @notice The validity window ends before it starts.
    error MarketValidityReversed(address meter, uint40 validFrom, uint40 validUntil);
    /// @notice `meter` has no standing order to cancel.
    error MarketNoOrder(address meter);
    /// @notice Interval `t` has not closed yet: it ends at `endsAt`.
    error MarketIntervalNotClosed(uint64 t, uint256 endsAt);
    /// @notice Interval `t` was already settled (closed) by another batch.
    error MarketIntervalAlreadySettled(uint64 t);
    /// @notice Interval `t` is being settled by `keeper`; only it may add batches until `INTERVAL_SECONDS`
    /// after its last batch.
    error MarketIntervalClaimed(uint64 t, address keeper);
    /// @notice A later batch of interval `t` gave `price`, but the interval settles at `settledPrice`.
    error MarketPriceChanged(uint64 t, uint64 settledPrice, uint64 price);
    /// @notice Fill `index` sets a bit outside its meter, Wh and buy fields (see `Fills`).
    error MarketFillMalformed(uint256 index);
    /// @notice Fill `index` is not after the previous one in strictly ascending meter order (a meter
    /// appears at most once per batch).
    error MarketFillsNotSorted(uint256 index, address meter);
    /// @notice A fill of zero Wh.
    error MarketZeroFill(address meter);
    /// @notice The meter has no volume attested for interval `t` that is still matchable: its reading for
    /// `t` is missing, late, after a gap, or already settled.
    error MarketNoAttestedVolume(address meter, uint64 t);
    /// @notice The fill trades `wh`, more than the `attestedWh` the meter attested for the interval.
    error MarketFillAboveAttested(address meter, uint256 wh, uint256 attestedWh);
    /// @notice The fill trades `wh`, more than the order's `capWh` per interval.
    error MarketFillAboveCap(address meter, uint256 wh, uint256 capWh);
    /// @notice The meter's order does not trade interval `t` (cancelled, not yet valid or expired).
    error MarketOrderNotLive(address meter, uint64 t);
    /// @notice The fill sells, but the meter's order does not sell.
    error MarketOrderDoesNotSell(address meter);
    /// @notice The fill buys, but the meter's order does not buy.
    error MarketOrderDoesNotBuy(address meter);
    /// @notice The clearing `price` is below the order's sell `floor`.
    error MarketPriceBelowFloor(address meter, uint256 price, uint256 floor);
    /// @notice The clearing `price` plus the `networkFee` is above the order's buy `ceiling`.
    error MarketPriceAboveCeiling(address meter, uint256 price, uint256 networkFee, uint256 ceiling);
    /// @notice The buyer's stablecoin `balance` does not cover the fill's `cost`.
    error MarketInsufficientBalance(address meter, uint256 cost, uint256 balance);
    /// @notice The meter's owner is on both sides of interval `t`.
    error MarketSelfTrade(address meter, uint64 t);
    /// @notice The meter's owner already traded in the later interval `later`, so interval `t` takes no
    /// more of its fills: the market keeps the sides of one interval per participant.
    error MarketOwnerTradedLaterInterval(address meter, uint64 t, uint64 later);
    /// @notice The batch buys `boughtWh` but sells `soldWh`.
    error MarketUnbalanced(uint64 t, uint256 boughtWh, uint256 soldWh);
    /// @notice The keeper fee is above the most the co-op may set (`max` bps).
    error MarketKeeperFeeTooHigh(uint16 bps, uint16 max);
    /// @notice The pool is already set to `amm`; a new pool is a new market deployment.
    error MarketAmmAlreadySet(address amm);
    /// @notice `caller` is not the market's pool: only the pool moves balances with `ammTransfer`.
    error MarketNotAmm(address caller);
    /// @notice The pool asked to trade with its own account: it has no counterparty.
    error MarketAmmOwnAccount();
    /// @notice `meter` cannot be registered to the pool: its settlements would move the pool's reserves.
    error MarketAmmOwnsNoMeter(address meter);

    /// @notice Moves `amount` of `asset` from the caller's wallet into its vault balance (approve first).
    /// @dev Any registered participant, active or not. Reverts with `MarketUnknownParticipant` otherwise.
    function deposit(Asset asset, uint256 amount) external;

    /// @notice Moves `amount` of `asset` from the caller's vault balance to its wallet.
    /// @dev A deactivated participant may still withdraw everything.
    function withdraw(Asset asset, uint256 amount) external;

    /// @notice Places or replaces the standing order of `meter`; only the meter's owner, an active
    /// participant. A replaced order loses its time priority.
    function placeOrder(address meter, OrderParams calldata params) external;

    /// @notice Cancels the standing order of `meter`; only the meter's owner.
    function cancelOrder(address meter) external;

    /// @notice Settles a batch of interval `t` at the uniform `clearingPrice`; only `KEEPER_ROLE`.
    /// @dev Re-validates every fill and reverts with the first violation's error: the interval has closed
    /// and is not settled (or is in progress at the same price, by this keeper or, from `INTERVAL_SECONDS`
    /// after its last batch, by any keeper, which takes it over); each fill well formed; fills sorted by
    /// meter; each meter's volumes for `t` are marketable and cover the fill; the order is live for `t`, on
    /// the fill's side, within its cap and limits (sell: `price >= sellFloor`; buy: `price + networkFee <=
    /// buyCeiling`); the owner is active, on one side only in `t` (across all of `t`'s batches), has not
    /// traded in a later interval, and a buyer's balance covers its cost; bought Wh equal sold Wh. Each
    /// filled meter's pending volumes are then settled in full: the unmatched export is credited, the
    /// unmatched import covered from credits (when the order opted in) or recorded as grid-supplied, carbon
    /// accrues on the export; one `MetersSettled` reports them, then `IntervalSettled`. A batch may hold
    /// no fills (no trade).
    /// @param t The interval.
    /// @param clearingPrice Base units per kWh; every batch of `t` must give the same price.
    /// @param fills The trades, one word each (`Fills`: meter, Wh, side), by meter address strictly
    /// ascending (a meter at most once per batch).
    /// @param closing Whether this is the interval's last batch.
    function settle(uint64 t, uint64 clearingPrice, uint256[] calldata fills, bool closing) external;

    /// @notice Credits the carbon held for `accounts` (export settled while the carbon intensity feed was
    /// stale) at the feed's current, fresh intensity, into their vaults. Anyone may call it; an account
    /// with nothing held is skipped.
    /// @return grams The carbon credits released in all.
    function releaseHeldCarbon(address[] calldata accounts) external returns (uint256 grams);

    /// @notice The export (Wh) of `account` whose carbon is held until the intensity feed is fresh.
    function heldCarbonExportWh(address account) external view returns (uint256);

    /// @notice Settles the pending volumes of each meter as residuals (credits, cover, grid supply); anyone
    /// may call. A meter is settled when its volumes are residual only, or marketable in an interval that
    /// is settled or older than the acceptance window; any other meter is skipped. One `MetersSettled`
    /// reports the settled meters.
    /// @return settled How many meters were settled.
    function finalize(address[] calldata meters) external returns (uint256 settled);

    /// @notice Sets the network fee per kWh bought, paid to the caller; only `GRID_OPERATOR_ROLE`.
    function setNetworkFee(uint64 feePerKwh) external;

    /// @notice Islands `feeder` (no grid supply: it runs on its own generation and storage) or connects it
    /// back; only `GRID_OPERATOR_ROLE`. While a feeder is islanded, import that neither the market nor
    /// credits cover is recorded as unserved (`MetersSettled` flag bit 1) instead of grid-supplied, for
    /// every interval that overlaps the island at all, and keepers clear its critical loads first; the
    /// market, the pool and the credits keep working.
    /// @dev The market keeps each feeder's latest island only: an interval of an earlier island settled
    /// after the feeder was islanded again counts as grid-supplied. Reverts with `MarketIslandUnchanged`
    /// when the feeder already is in that state.
    function setIslanded(uint32 feeder, bool islanded) external;

    /// @notice Sets the keeper fee in basis points of each sale's value; only `DEFAULT_ADMIN_ROLE`.
    function setKeeperFee(uint16 bps) external;

    /// @notice Sets the market's pool (EnergyAmm), once; only `DEFAULT_ADMIN_ROLE`. The co-op registers the
    /// pool as a participant first (`registerParticipant`): its vault balances are its reserves. From then
    /// on `registerMeter` refuses a meter owned by the pool (`MarketAmmOwnsNoMeter`); register none to it
    /// before either.
    /// @dev Reverts with `MarketUnknownParticipant` for an address that was never registered, then with
    /// `MarketAmmAlreadySet` on a second call.
    function setAmm(address pool) external;

    /// @notice Moves vault balances between `account` and the pool's account, for a swap or a liquidity
    /// change the pool has priced; only the pool (`setAmm`). No token moves: the market's token balances
    /// still equal the sum of the vault balances.
    /// @dev Positive deltas are credited to `account` and debited from the pool, negative ones the other
    /// way. Any registered participant may trade, active or not (as with `withdraw`); reverts with
    /// `MarketNotAmm`, `MarketUnknownParticipant`, `MarketAmmOwnAccount`, `MarketInsufficientVaultBalance`
    /// (the side that pays, `account` or the pool, in the order: account stablecoin, account credits, pool
    /// stablecoin, pool credits) or `MarketBalanceOverflow` (a balance past its width: stablecoin 96 bits,
    /// credits 56 bits).
    /// @param account The pool's counterparty.
    /// @param stablecoinDelta Stablecoin base units credited to `account` (negative: debited).
    /// @param creditsDeltaWh Energy credits (Wh) credited to `account` (negative: debited).
    function ammTransfer(address account, int256 stablecoinDelta, int256 creditsDeltaWh) external;

    /// @notice The market's pool (zero until `setAmm`).
    function amm() external view returns (address);

    /// @notice `account`'s vault balances.
    function balancesOf(address account) external view returns (Balances memory);

    /// @notice The standing order of `meter` (all zero if none).
    function orderOf(address meter) external view returns (OrderParams memory);

    /// @notice The settlement record of interval `t`.
    function interval(uint64 t) external view returns (IntervalRecord memory);

    /// @notice The network fee per kWh and the grid operator it is paid to.
    function networkFee() external view returns (uint64 feePerKwh, address operator);

    /// @notice The keeper fee in basis points.
    function keeperFeeBps() external view returns (uint16);

    /// @notice The stablecoin the vault holds.
    function STABLECOIN() external view returns (address);

    /// @notice The energy credit token (1 unit = 1 Wh) the market mints for unsold export.
    function ENERGY_CREDIT() external view returns (address);

    /// @notice The carbon credit token (1 unit = 1 g CO2e) the market mints for settled export.
    function CARBON_CREDIT() external view returns (address);

    /// @notice The role that settles intervals.
    function KEEPER_ROLE() external view returns (bytes32);

    /// @notice The role that sets the network fee (and, later, islands feeders and calls VPP events).
    function GRID_OPERATOR_ROLE() external view returns (bytes32);
}
