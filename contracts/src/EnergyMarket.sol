// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MeterRegistry} from "./MeterRegistry.sol";
import {ICarbonCredit} from "./interfaces/ICarbonCredit.sol";
import {IEnergyCredit} from "./interfaces/IEnergyCredit.sol";
import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title EnergyMarket
/// @notice The vault, the standing orders and the interval settlement of cogrid, on top of the meter
/// registry whose attested volumes it settles.
/// @dev Gas layout of a fill: the meter's `MeterState` slot (pending volumes, read and cleared), its
/// `Order` slot (limits and the owner's participant id) and the owner's `Account` slot (status and
/// balances, read and written): three cold slots, two of them written. Tokens move once per batch: the
/// credits and carbon a batch earns are minted to the market in one call each, and the fees are paid
/// out in one transfer each; participants hold vault balances. Every token the market holds is owed to a
/// participant: token balance == sum of vault balances.
contract EnergyMarket is MeterRegistry, IEnergyMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev A meter's standing order, one slot. The owner's participant id is set when the meter is
    /// registered, so a fill finds the owner's account without reading `MeterInfo`.
    struct Order {
        uint32 ownerId;
        uint48 sellFloor;
        uint48 buyCeiling;
        uint32 capWh;
        uint40 validFrom;
        uint40 validUntil;
        uint8 flags;
    }

    /// @dev Settlement parameters, read once per batch.
    struct MarketConfig {
        uint48 networkFee;
        uint16 keeperFeeBps;
        address gridOperator;
    }

    /// @dev What one batch moves in total, kept in memory while its fills are applied, and the carbon
    /// intensity its export earns at.
    struct BatchTotals {
        uint256 intensity;
        uint256 soldWh;
        uint256 boughtWh;
        uint256 paid;
        uint256 sellersEarned;
        uint256 creditsMinted;
        uint256 creditsBurned;
        uint256 carbonMinted;
    }

    /// @inheritdoc IEnergyMarket
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @inheritdoc IEnergyMarket
    bytes32 public constant GRID_OPERATOR_ROLE = keccak256("GRID_OPERATOR_ROLE");
    /// @notice The highest keeper fee the co-op may set: 10 % of the traded value.
    uint16 public constant MAX_KEEPER_FEE_BPS = 1000;

    uint8 private constant _SELLS = 1;
    uint8 private constant _BUYS = 2;
    uint8 private constant _COVER_FROM_CREDITS = 4;

    /// @dev One meter's part of a batch: its state word and what it traded.
    struct MeterSettlement {
        address meter;
        uint256 word;
        uint256 soldWh;
        uint256 boughtWh;
        uint256 amount;
    }

    /// @dev Transient marks of the sides a participant traded in the current batch, at key
    /// `_SIDE_KEY_BASE + participant id`. The registry's transient keys (meter << 32 | seq) are at least
    /// 2^32 for any registered meter, so keys below 2^33 never collide with them.
    uint256 private constant _SIDE_KEY_BASE = 1 << 32;

    /// @inheritdoc IEnergyMarket
    address public immutable STABLECOIN;
    /// @inheritdoc IEnergyMarket
    address public immutable ENERGY_CREDIT;
    /// @inheritdoc IEnergyMarket
    address public immutable CARBON_CREDIT;

    MarketConfig private _marketConfig;
    mapping(address meter => Order order) private _orders;
    mapping(uint64 t => IntervalRecord record) private _intervals;

    /// @param admin The co-op admin: `DEFAULT_ADMIN_ROLE` and `REGISTRAR_ROLE`; grants the keeper and
    /// grid-operator roles.
    /// @param stablecoin The vault's stablecoin (6 decimals, no fee on transfer).
    /// @param energyCredit The energy credit token; grant this market its `MINTER_ROLE`.
    /// @param carbonCredit The carbon credit token; grant this market its `MINTER_ROLE`.
    /// @param intervalSeconds The trading interval length (900 s in Europe).
    /// @param acceptanceWindow_ How long after its interval ends a reading is accepted; >= one interval.
    /// @param carbonIntensity_ The initial grid carbon intensity, g CO2e/kWh.
    constructor(
        address admin,
        IERC20 stablecoin,
        IEnergyCredit energyCredit,
        ICarbonCredit carbonCredit,
        uint32 intervalSeconds,
        uint40 acceptanceWindow_,
        uint16 carbonIntensity_
    ) MeterRegistry(admin, intervalSeconds, acceptanceWindow_, carbonIntensity_) {
        if (
            address(stablecoin) == address(0) || address(energyCredit) == address(0)
                || address(carbonCredit) == address(0)
        ) {
            revert MeterRegistryZeroAddress();
        }
        STABLECOIN = address(stablecoin);
        ENERGY_CREDIT = address(energyCredit);
        CARBON_CREDIT = address(carbonCredit);
    }

    /// @inheritdoc IEnergyMarket
    function deposit(Asset asset, uint256 amount) external nonReentrant {
        if (amount == 0) revert MarketZeroAmount();
        uint32 id = _participantIds[msg.sender];
        if (id == 0) revert MarketUnknownParticipant(msg.sender);
        Account storage account = _accounts[id];
        if (asset == Asset.Stablecoin) {
            if (amount > type(uint96).max - account.stablecoin) {
                revert MarketBalanceOverflow(msg.sender, asset);
            }
            // Cannot truncate: checked against the uint96 headroom above.
            // forge-lint: disable-next-line(unsafe-typecast)
            account.stablecoin += uint96(amount);
        } else {
            uint64 balance = asset == Asset.EnergyCredit ? account.creditsWh : account.carbonGrams;
            if (amount > type(uint64).max - balance) revert MarketBalanceOverflow(msg.sender, asset);
            // Cannot truncate: checked against the uint64 headroom above.
            // forge-lint: disable-next-line(unsafe-typecast)
            balance += uint64(amount);
            if (asset == Asset.EnergyCredit) account.creditsWh = balance;
            else account.carbonGrams = balance;
        }
        IERC20(_token(asset)).safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, asset, amount);
    }

    /// @inheritdoc IEnergyMarket
    function withdraw(Asset asset, uint256 amount) external nonReentrant {
        if (amount == 0) revert MarketZeroAmount();
        uint32 id = _participantIds[msg.sender];
        if (id == 0) revert MarketUnknownParticipant(msg.sender);
        Account storage account = _accounts[id];
        uint256 balance = asset == Asset.Stablecoin
            ? account.stablecoin
            : asset == Asset.EnergyCredit ? account.creditsWh : account.carbonGrams;
        if (amount > balance) revert MarketInsufficientVaultBalance(msg.sender, asset, amount, balance);
        // Cannot underflow, and each result fits its member: `amount <= balance`.
        unchecked {
            // forge-lint: disable-next-item(unsafe-typecast)
            if (asset == Asset.Stablecoin) account.stablecoin = uint96(balance - amount);
            else if (asset == Asset.EnergyCredit) account.creditsWh = uint64(balance - amount);
            else account.carbonGrams = uint64(balance - amount);
        }
        IERC20(_token(asset)).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, asset, amount);
    }

    /// @inheritdoc IEnergyMarket
    function placeOrder(address meter, OrderParams calldata params) external {
        if (_meterInfos[meter].owner != msg.sender) revert MarketNotMeterOwner(meter, msg.sender);
        if (!isParticipant(msg.sender)) revert MarketParticipantNotActive(meter);
        if (!params.sells && !params.buys) revert MarketOrderEmpty(meter);
        uint48 sellFloor = _toPrice(params.sells ? params.sellFloor : 0);
        uint48 buyCeiling = _toPrice(params.buys ? params.buyCeiling : 0);
        if (params.validUntil != 0 && params.validUntil < params.validFrom) {
            revert MarketValidityReversed(meter, params.validFrom, params.validUntil);
        }
        uint8 flags = (params.sells ? _SELLS : 0) | (params.buys ? _BUYS : 0)
            | (params.coverFromCredits ? _COVER_FROM_CREDITS : 0);
        Order storage order = _orders[meter];
        order.sellFloor = sellFloor;
        order.buyCeiling = buyCeiling;
        order.capWh = params.capWh;
        order.validFrom = params.validFrom;
        order.validUntil = params.validUntil;
        order.flags = flags;
        emit OrderPlaced(meter, msg.sender, params);
    }

    /// @inheritdoc IEnergyMarket
    function cancelOrder(address meter) external {
        if (_meterInfos[meter].owner != msg.sender) revert MarketNotMeterOwner(meter, msg.sender);
        Order storage order = _orders[meter];
        if (order.flags & (_SELLS | _BUYS) == 0) revert MarketNoOrder(meter);
        // The owner id stays: it belongs to the meter, not to the order.
        order.sellFloor = 0;
        order.buyCeiling = 0;
        order.capWh = 0;
        order.validFrom = 0;
        order.validUntil = 0;
        order.flags = 0;
        emit OrderCancelled(meter);
    }

    /// @inheritdoc IEnergyMarket
    function settle(uint64 t, uint64 clearingPrice, Fill[] calldata fills, bool closing)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
    {
        uint48 price = _toPrice(clearingPrice);
        uint256 intervalEnd = _openBatch(t, price, closing);
        MarketConfig memory config = _marketConfig;
        BatchTotals memory totals = _applyFills(fills, t, intervalEnd, price, config);
        if (totals.boughtWh != totals.soldWh) revert MarketUnbalanced(t, totals.boughtWh, totals.soldWh);

        // The grid operator's share is rounded down over the batch; the keeper takes the rest, which
        // is never negative: each buyer paid at least its exact share of `price + networkFee`, each
        // seller was paid at most its exact share of `price`.
        uint256 networkFeePaid = totals.soldWh * config.networkFee / 1000;
        uint256 keeperPaid = totals.paid - totals.sellersEarned - networkFeePaid;
        emit IntervalSettled(t, msg.sender, price, totals.soldWh, networkFeePaid, keeperPaid, closing);
        _moveBatchTokens(totals, config.gridOperator, networkFeePaid, keeperPaid);
    }

    /// @inheritdoc IEnergyMarket
    function finalize(address[] calldata meters) external nonReentrant returns (uint256 settled) {
        uint40 window = _config.acceptanceWindow;
        BatchTotals memory totals;
        totals.intensity = _config.carbonIntensity;
        uint256 length = meters.length;
        for (uint256 i; i < length; ++i) {
            address meter = meters[i];
            MeterState storage stateRef = _meterStates[meter];
            uint256 word;
            assembly ("memory-safe") {
                word := sload(stateRef.slot)
            }
            if (!_isFinal(word, window)) continue;
            Order memory order = _orders[meter];
            Account memory account = _accounts[order.ownerId];
            MeterSettlement memory settlement;
            settlement.meter = meter;
            settlement.word = word;
            _settlePending(stateRef, settlement, order, account, totals);
            // Cannot overflow: at most one increment per meter.
            unchecked {
                ++settled;
            }
        }
        _moveBatchTokens(totals, address(0), 0, 0);
    }

    /// @inheritdoc IEnergyMarket
    function setNetworkFee(uint64 feePerKwh) external onlyRole(GRID_OPERATOR_ROLE) {
        _marketConfig.networkFee = _toPrice(feePerKwh);
        _marketConfig.gridOperator = msg.sender;
        emit NetworkFeeSet(msg.sender, feePerKwh);
    }

    /// @inheritdoc IEnergyMarket
    function setKeeperFee(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bps > MAX_KEEPER_FEE_BPS) revert MarketKeeperFeeTooHigh(bps, MAX_KEEPER_FEE_BPS);
        _marketConfig.keeperFeeBps = bps;
        emit KeeperFeeSet(bps);
    }

    /// @inheritdoc IEnergyMarket
    function balancesOf(address account) external view returns (Balances memory) {
        Account memory stored = _accounts[_participantIds[account]];
        return Balances({
            stablecoin: stored.stablecoin, creditsWh: stored.creditsWh, carbonGrams: stored.carbonGrams
        });
    }

    /// @inheritdoc IEnergyMarket
    function orderOf(address meter) external view returns (OrderParams memory params) {
        Order memory order = _orders[meter];
        params.sells = order.flags & _SELLS != 0;
        params.sellFloor = order.sellFloor;
        params.buys = order.flags & _BUYS != 0;
        params.buyCeiling = order.buyCeiling;
        params.capWh = order.capWh;
        params.validFrom = order.validFrom;
        params.validUntil = order.validUntil;
        params.coverFromCredits = order.flags & _COVER_FROM_CREDITS != 0;
    }

    /// @inheritdoc IEnergyMarket
    function interval(uint64 t) external view returns (IntervalRecord memory) {
        return _intervals[t];
    }

    /// @inheritdoc IEnergyMarket
    function networkFee() external view returns (uint64 feePerKwh, address operator) {
        return (_marketConfig.networkFee, _marketConfig.gridOperator);
    }

    /// @inheritdoc IEnergyMarket
    function keeperFeeBps() external view returns (uint16) {
        return _marketConfig.keeperFeeBps;
    }

    /// @dev Every meter's order slot starts with its owner's id, so that placing an order writes a
    /// non-zero slot and a fill never needs `MeterInfo`.
    function _meterRegistered(address meter, uint32 ownerId) internal override {
        _orders[meter].ownerId = ownerId;
    }

    /// @dev Checks that a batch of interval `t` may be settled by the caller at `price` and records it.
    /// @return intervalEnd The end of interval `t`, unix s.
    function _openBatch(uint64 t, uint48 price, bool closing) private returns (uint256 intervalEnd) {
        // Cannot overflow: a uint64 plus one, times a uint32, fits in 97 bits.
        unchecked {
            intervalEnd = (uint256(t) + 1) * INTERVAL_SECONDS;
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < intervalEnd) revert MarketIntervalNotClosed(t, intervalEnd);
        IntervalRecord storage record = _intervals[t];
        IntervalStatus status = record.status;
        if (status == IntervalStatus.Settled) revert MarketIntervalAlreadySettled(t);
        if (status == IntervalStatus.InProgress) {
            if (record.keeper != msg.sender) revert MarketIntervalClaimed(t, record.keeper);
            if (record.price != price) revert MarketPriceChanged(t, record.price, price);
        }
        record.keeper = msg.sender;
        record.price = price;
        record.status = closing ? IntervalStatus.Settled : IntervalStatus.InProgress;
    }

    /// @dev Applies the fills of a batch in order; they must be sorted by meter, strictly ascending, so
    /// that a meter appears at most once.
    function _applyFills(
        Fill[] calldata fills,
        uint64 t,
        uint256 intervalEnd,
        uint48 price,
        MarketConfig memory config
    ) private returns (BatchTotals memory totals) {
        totals.intensity = _config.carbonIntensity;
        address previous;
        uint256 length = fills.length;
        for (uint256 i; i < length; ++i) {
            Fill calldata fill = fills[i];
            if (fill.meter <= previous) revert MarketFillsNotSorted(i, fill.meter);
            previous = fill.meter;
            _settleFill(fill, t, intervalEnd, price, config, totals);
        }
    }

    /// @dev Re-validates one fill against the meter's attested volumes, its order and its owner's
    /// account, then settles the meter's pending volumes.
    function _settleFill(
        Fill calldata fill,
        uint64 t,
        uint256 intervalEnd,
        uint48 price,
        MarketConfig memory config,
        BatchTotals memory totals
    ) private {
        (
            MeterState storage stateRef,
            MeterSettlement memory settlement,
            Order memory order,
            Account memory account
        ) = _loadFill(fill, t, intervalEnd);
        if (fill.buy) _buy(fill.meter, fill.wh, price, config, settlement, order, account, totals);
        else _sell(fill.meter, fill.wh, price, config, settlement, order, account, totals);
        _settlePending(stateRef, settlement, order, account, totals);
    }

    /// @dev The checks every fill passes whatever its side: a non-zero volume, marketable volumes attested
    /// for interval `t`, an order live in `t` whose cap allows the volume, an active owner on one side.
    function _loadFill(Fill calldata fill, uint64 t, uint256 intervalEnd)
        private
        returns (
            MeterState storage stateRef,
            MeterSettlement memory settlement,
            Order memory order,
            Account memory account
        )
    {
        address meter = fill.meter;
        if (fill.wh == 0) revert MarketZeroFill(meter);
        stateRef = _meterStates[meter];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stateRef.slot)
        }
        (, uint40 lastIntervalEnd,,) = _unpackLastReading(word);
        if (_pendingKind(word) != Pending.Marketable || lastIntervalEnd != intervalEnd) {
            revert MarketNoAttestedVolume(meter, t);
        }
        settlement.meter = meter;
        settlement.word = word;
        order = _orders[meter];
        if (!_isLive(order, intervalEnd)) revert MarketOrderNotLive(meter, t);
        account = _accounts[order.ownerId];
        if (account.status != _STATUS_ACTIVE) revert MarketParticipantNotActive(meter);
        if (order.capWh != 0 && fill.wh > order.capWh) {
            revert MarketFillAboveCap(meter, fill.wh, order.capWh);
        }
        _markSide(order.ownerId, fill.buy, meter, t);
    }

    /// @dev A buy fill: within the ceiling (price plus network fee) and the attested import, paid from the
    /// owner's balance, rounded up.
    function _buy(
        address meter,
        uint256 wh,
        uint48 price,
        MarketConfig memory config,
        MeterSettlement memory settlement,
        Order memory order,
        Account memory account,
        BatchTotals memory totals
    ) private pure {
        if (order.flags & _BUYS == 0) revert MarketOrderDoesNotBuy(meter);
        uint256 pricePlusFee = uint256(price) + config.networkFee;
        if (pricePlusFee > order.buyCeiling) {
            revert MarketPriceAboveCeiling(meter, price, config.networkFee, order.buyCeiling);
        }
        uint256 attested = _pendingImport(settlement.word);
        if (wh > attested) revert MarketFillAboveAttested(meter, wh, attested);
        uint256 cost = Math.ceilDiv(wh * pricePlusFee, 1000);
        if (cost > account.stablecoin) revert MarketInsufficientBalance(meter, cost, account.stablecoin);
        // Cannot underflow or truncate: `cost <= account.stablecoin`, a uint96.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            account.stablecoin -= uint96(cost);
        }
        settlement.boughtWh = wh;
        settlement.amount = cost;
        totals.boughtWh += wh;
        totals.paid += cost;
    }

    /// @dev A sell fill: at or above the floor and within the attested export, paid to the owner's balance
    /// rounded down, less the keeper fee.
    function _sell(
        address meter,
        uint256 wh,
        uint48 price,
        MarketConfig memory config,
        MeterSettlement memory settlement,
        Order memory order,
        Account memory account,
        BatchTotals memory totals
    ) private pure {
        if (order.flags & _SELLS == 0) revert MarketOrderDoesNotSell(meter);
        if (price < order.sellFloor) revert MarketPriceBelowFloor(meter, price, order.sellFloor);
        uint256 attested = _pendingExport(settlement.word);
        if (wh > attested) revert MarketFillAboveAttested(meter, wh, attested);
        uint256 value = wh * price / 1000;
        uint256 earned = value - value * config.keeperFeeBps / 10_000;
        // Checked: a vault balance past uint96 (7.9e28 base units) cannot be paid for by deposits.
        account.stablecoin += SafeCast.toUint96(earned);
        settlement.soldWh = wh;
        settlement.amount = earned;
        totals.soldWh += wh;
        totals.sellersEarned += earned;
    }

    /// @dev Settles everything pending on a meter after it sold or bought (at most one of them non-zero):
    /// credits the unsold export, covers the unbought import from credits when the order opted in, leaves
    /// the rest to grid supply, accrues carbon on the export, writes the owner's account and clears the
    /// pending volumes.
    function _settlePending(
        MeterState storage stateRef,
        MeterSettlement memory settlement,
        Order memory order,
        Account memory account,
        BatchTotals memory totals
    ) private {
        uint256 word = settlement.word;
        uint256 exportWh = _pendingExport(word);
        uint256 creditedWh = exportWh - settlement.soldWh;
        uint256 unboughtWh = _pendingImport(word) - settlement.boughtWh;
        uint256 credits = uint256(account.creditsWh) + creditedWh;
        uint256 coveredWh = order.flags & _COVER_FROM_CREDITS != 0 ? Math.min(unboughtWh, credits) : 0;
        // Cannot overflow: a uint32 times a uint16.
        uint256 carbonGrams;
        unchecked {
            carbonGrams = exportWh * totals.intensity / 1000;
        }
        account.creditsWh = SafeCast.toUint64(credits - coveredWh);
        account.carbonGrams = SafeCast.toUint64(uint256(account.carbonGrams) + carbonGrams);
        _accounts[order.ownerId] = account;
        word &= _READING_MASK;
        assembly ("memory-safe") {
            sstore(stateRef.slot, word)
        }
        totals.creditsMinted += creditedWh;
        totals.creditsBurned += coveredWh;
        totals.carbonMinted += carbonGrams;
        _emitMeterSettled(settlement, creditedWh, coveredWh, unboughtWh - coveredWh, carbonGrams);
    }

    /// @dev Emits `MeterSettled`; every volume is at most a pending volume, a uint32.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _emitMeterSettled(
        MeterSettlement memory settlement,
        uint256 creditedWh,
        uint256 coveredWh,
        uint256 gridSuppliedWh,
        uint256 carbonGrams
    ) private {
        (, uint40 lastIntervalEnd,,) = _unpackLastReading(settlement.word);
        emit MeterSettled(
            settlement.meter,
            uint64(lastIntervalEnd / INTERVAL_SECONDS - 1),
            uint32(settlement.soldWh),
            uint32(settlement.boughtWh),
            settlement.amount,
            uint32(creditedWh),
            uint32(coveredWh),
            uint32(gridSuppliedWh),
            carbonGrams
        );
    }

    /// @dev Mints the credits and carbon a batch earned to the market, burns the credits it used to
    /// cover import, and pays the fees.
    function _moveBatchTokens(
        BatchTotals memory totals,
        address gridOperator,
        uint256 networkFeePaid,
        uint256 keeperPaid
    ) private {
        if (totals.creditsMinted > totals.creditsBurned) {
            IEnergyCredit(ENERGY_CREDIT).mint(address(this), totals.creditsMinted - totals.creditsBurned);
        } else if (totals.creditsBurned > totals.creditsMinted) {
            IEnergyCredit(ENERGY_CREDIT).burn(totals.creditsBurned - totals.creditsMinted);
        }
        if (totals.carbonMinted != 0) ICarbonCredit(CARBON_CREDIT).mint(address(this), totals.carbonMinted);
        if (networkFeePaid != 0) IERC20(STABLECOIN).safeTransfer(gridOperator, networkFeePaid);
        if (keeperPaid != 0) IERC20(STABLECOIN).safeTransfer(msg.sender, keeperPaid);
    }

    /// @dev Marks the participant's side in this batch; reverts if it already traded the other side.
    function _markSide(uint32 ownerId, bool buy, address meter, uint64 t) private {
        uint256 key = _SIDE_KEY_BASE + ownerId;
        uint256 sides;
        assembly ("memory-safe") {
            sides := tload(key)
        }
        uint256 side = buy ? _BUYS : _SELLS;
        if (sides & ~side != 0) revert MarketSelfTrade(meter, t);
        assembly ("memory-safe") {
            tstore(key, side)
        }
    }

    /// @dev Whether pending volumes may be settled as residuals: residual only, or marketable in an interval
    /// that is settled or older than the acceptance window (no settlement may use them any more).
    function _isFinal(uint256 word, uint40 window) private view returns (bool) {
        Pending kind = _pendingKind(word);
        if (kind == Pending.ResidualOnly) return true;
        if (kind == Pending.None) return false;
        (, uint40 lastIntervalEnd,,) = _unpackLastReading(word);
        // forge-lint: disable-next-line(block-timestamp)
        if (uint256(lastIntervalEnd) + window < block.timestamp) return true;
        uint64 t = uint64(lastIntervalEnd / INTERVAL_SECONDS - 1);
        return _intervals[t].status == IntervalStatus.Settled;
    }

    /// @dev Whether `order` trades in the interval that ends at `intervalEnd`.
    function _isLive(Order memory order, uint256 intervalEnd) private view returns (bool) {
        if (order.flags & (_SELLS | _BUYS) == 0) return false;
        if (intervalEnd - INTERVAL_SECONDS < order.validFrom) return false;
        return order.validUntil == 0 || intervalEnd <= order.validUntil;
    }

    /// @dev The token contract of `asset`.
    function _token(Asset asset) private view returns (address) {
        if (asset == Asset.Stablecoin) return STABLECOIN;
        return asset == Asset.EnergyCredit ? ENERGY_CREDIT : CARBON_CREDIT;
    }

    /// @dev `price` narrowed to the 48 bits the market stores prices and fees in.
    function _toPrice(uint64 price) private pure returns (uint48) {
        if (price > type(uint48).max) revert MarketPriceOutOfRange(price);
        // Cannot truncate: checked above.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint48(price);
    }

    // The three readers below take one member out of a `MeterState` word: truncating is the point.

    /// @dev What the pending volumes of `word` may be used for.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _pendingKind(uint256 word) private pure returns (Pending) {
        return Pending(uint8(word >> _PENDING_SHIFT));
    }

    /// @dev The pending import of `word`, Wh.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _pendingImport(uint256 word) private pure returns (uint256) {
        return uint32(word >> _PENDING_IMPORT_SHIFT);
    }

    /// @dev The pending export of `word`, Wh.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _pendingExport(uint256 word) private pure returns (uint256) {
        return uint32(word >> _PENDING_EXPORT_SHIFT);
    }
}
