// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MeterRegistry} from "./MeterRegistry.sol";
import {ICarbonCredit} from "./interfaces/ICarbonCredit.sol";
import {IEnergyCredit} from "./interfaces/IEnergyCredit.sol";
import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {IOracleHub} from "./interfaces/IOracleHub.sol";
import {Feeds} from "./libraries/Feeds.sol";
import {Fills} from "./libraries/Fills.sol";
import {SettlementRecords} from "./libraries/SettlementRecords.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title EnergyMarket
/// @notice The vault, the standing orders and the interval settlement of cogrid, on top of the meter
/// registry whose attested volumes it settles.
/// @dev Gas layout of a fill: the meter's `MeterState` slot (pending volumes, read and cleared), its
/// `Order` slot (limits and the owner's participant id) and the owner's `Account` slot (status, sides
/// traded and balances, read and written): three cold slots, two of them written. The settlement path
/// reads and writes these slots as raw words, unpacked with the bit offsets declared next to each struct
/// (they follow Solidity's packing, first member in the lowest bits; the views read the same slots
/// through the structs and the tests cross-check both). A batch keeps its parameters, totals and records
/// in memory allocated once, so memory does not grow per fill, and reports its meters in one
/// `MetersSettled` event of packed records. Tokens move once per batch: the credits and carbon a batch
/// earns are minted to the market in one call each, and the fees are paid out in one transfer each;
/// participants hold vault balances. Every token the market holds is owed to a participant: token
/// balance == sum of vault balances.
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
        /// @dev Every interval before this one may overlap an island (all of them while a feeder is
        /// islanded): a settlement of a later interval skips the island check.
        uint32 islandedBefore;
    }

    /// @dev A feeder's latest island (unix s): from `since`, until `until` (`_ISLANDED` while it lasts; both
    /// zero for a feeder never islanded, which no interval's start is before).
    struct Island {
        uint40 since;
        uint40 until;
    }

    /// @dev Everything one `settle` or `finalize` works with, allocated once per call: what each fill reads
    /// (interval, price, fees, carbon intensity), what each settled meter adds to (totals), and the records
    /// of the `MetersSettled` event. `t`, the interval bounds, the price and the fees are zero in
    /// `finalize`.
    struct Batch {
        uint256 t;
        uint256 intervalStart;
        uint256 intervalEnd;
        uint256 price;
        uint256 networkFee;
        uint256 keeperFeeBps;
        uint256 intensity;
        uint256 soldWh;
        uint256 boughtWh;
        uint256 paid;
        uint256 sellersEarned;
        uint256 creditsMinted;
        uint256 creditsBurned;
        uint256 carbonMinted;
        /// @dev Meters settled so far: the next record's index.
        uint256 settled;
        bytes32[] records;
        /// @dev Whether the carbon intensity feed is stale: the batch holds the carbon of what it settles.
        bool carbonHeld;
    }

    /// @inheritdoc IEnergyMarket
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @inheritdoc IEnergyMarket
    bytes32 public constant GRID_OPERATOR_ROLE = keccak256("GRID_OPERATOR_ROLE");
    /// @notice The highest keeper fee the co-op may set: 10 % of the traded value.
    uint16 public constant MAX_KEEPER_FEE_BPS = 1000;

    /// @dev Order flags; `_SELLS` and `_BUYS` are also the side marks of `Account.sides`.
    uint256 internal constant _SELLS = 1;
    uint256 internal constant _BUYS = 2;
    uint256 internal constant _COVER_FROM_CREDITS = 4;
    /// @dev `Island.until` of a feeder islanded now: after every interval.
    uint40 private constant _ISLANDED = type(uint40).max;

    // Bit offsets of the `Order` members in its storage word (`ownerId` at 0), for the settlement path,
    // which reads the word raw. They follow Solidity's packing of `Order` (first member in the lowest
    // bits); `orderOf` reads the same slot through the struct, and the tests cross-check the two.
    uint256 internal constant _ORDER_SELL_FLOOR_SHIFT = 32;
    uint256 internal constant _ORDER_BUY_CEILING_SHIFT = 80;
    uint256 internal constant _ORDER_CAP_SHIFT = 128;
    uint256 internal constant _ORDER_VALID_FROM_SHIFT = 160;
    uint256 internal constant _ORDER_VALID_UNTIL_SHIFT = 200;
    uint256 internal constant _ORDER_FLAGS_SHIFT = 240;

    /// @dev `Account.stablecoin` and `Account.creditsWh`: the 152 bits from `_ACCOUNT_STABLECOIN_SHIFT` (48).
    uint256 internal constant _ACCOUNT_BALANCES_MASK = 0xffffffffffffffffffffffffffffffffffffff000000000000;
    /// @dev The widths of `Account.stablecoin` and of `Account.creditsWh`, as literals for the assembly.
    uint256 internal constant _UINT96_MAX = 0xffffffffffffffffffffffff;
    uint256 internal constant _UINT56_MAX = 0xffffffffffffff;
    /// @dev `Account.sides` and `Account.sidesInterval`: the 40 bits from `_ACCOUNT_SIDES_SHIFT` (8).
    uint256 internal constant _ACCOUNT_SIDES_MASK = 0xffffffffff00;
    /// @dev Every `Account` member below `creditsWh` (status, sides, sides interval, stablecoin): the low
    /// 144 bits.
    uint256 internal constant _ACCOUNT_BELOW_CREDITS_MASK = 0xffffffffffffffffffffffffffffffffffff;

    // Byte offsets of the `Batch` members in memory, for the assembly of the settlement path. Solidity lays
    // a struct out in memory as one 32-byte word per member, in declaration order; the harness tests
    // cross-check these against the struct.
    uint256 internal constant _BATCH_T = 0x00;
    uint256 internal constant _BATCH_INTERVAL_START = 0x20;
    uint256 internal constant _BATCH_INTERVAL_END = 0x40;
    uint256 internal constant _BATCH_PRICE = 0x60;
    uint256 internal constant _BATCH_NETWORK_FEE = 0x80;
    uint256 internal constant _BATCH_KEEPER_FEE_BPS = 0xa0;
    uint256 internal constant _BATCH_INTENSITY = 0xc0;
    uint256 internal constant _BATCH_SOLD_WH = 0xe0;
    uint256 internal constant _BATCH_BOUGHT_WH = 0x100;
    uint256 internal constant _BATCH_PAID = 0x120;
    uint256 internal constant _BATCH_SELLERS_EARNED = 0x140;
    uint256 internal constant _BATCH_CREDITS_MINTED = 0x160;
    uint256 internal constant _BATCH_CREDITS_BURNED = 0x180;
    uint256 internal constant _BATCH_CARBON_MINTED = 0x1a0;
    uint256 internal constant _BATCH_SETTLED = 0x1c0;
    uint256 internal constant _BATCH_RECORDS = 0x1e0;

    // `SettlementRecords`' bit offsets, as literals: inline assembly reads only literal constants. The
    // harness tests cross-check them against the library.
    uint256 internal constant _RECORD_INTERVAL_SHIFT = 160;
    uint256 internal constant _RECORD_CARBON_SHIFT = 200;
    uint256 internal constant _RECORD_CREDITED_SHIFT = 32;
    uint256 internal constant _RECORD_COVERED_SHIFT = 64;
    uint256 internal constant _RECORD_GRID_SUPPLIED_SHIFT = 96;
    uint256 internal constant _RECORD_AMOUNT_SHIFT = 128;
    uint256 internal constant _RECORD_FLAGS_SHIFT = 224;

    /// @dev `Fills.USED_BITS` as a literal, for the assembly of `_applyFills` (the harness tests compare them).
    uint256 internal constant _FILL_USED_BITS = 0x1ffffffffffffffffffffffffffffffffffffffffffffffff;

    /// @dev The `MeterState` members `_applyFill` compares at once: the pending kind and the last reading's
    /// interval end.
    uint256 internal constant _STATE_KIND_AND_INTERVAL_END_MASK =
        0xff0000000000000000000000000000000000000000ffffffffff0000000000;

    /// @inheritdoc IEnergyMarket
    address public immutable STABLECOIN;
    /// @inheritdoc IEnergyMarket
    address public immutable ENERGY_CREDIT;
    /// @inheritdoc IEnergyMarket
    address public immutable CARBON_CREDIT;

    MarketConfig private _marketConfig;
    mapping(address meter => Order order) internal _orders;
    mapping(uint64 t => IntervalRecord record) private _intervals;
    /// @dev Export (Wh) per participant id whose carbon waits for a fresh carbon intensity.
    mapping(uint32 id => uint256 wh) private _heldCarbonExportWh;
    /// @dev The pool (`setAmm`) in the low 160 bits and its participant id in the next 32: `ammTransfer`
    /// checks its caller and finds the pool's account with one SLOAD.
    uint256 private _amm;
    mapping(uint32 feeder => Island island) private _islands;
    /// @dev Feeders islanded now.
    uint256 private _islandedFeeders;

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
            uint56 balance = asset == Asset.EnergyCredit ? account.creditsWh : account.carbonGrams;
            if (amount > type(uint56).max - balance) revert MarketBalanceOverflow(msg.sender, asset);
            // Cannot truncate: checked against the uint56 headroom above.
            // forge-lint: disable-next-line(unsafe-typecast)
            balance += uint56(amount);
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
            else if (asset == Asset.EnergyCredit) account.creditsWh = uint56(balance - amount);
            else account.carbonGrams = uint56(balance - amount);
        }
        IERC20(_token(asset)).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, asset, amount);
    }

    /// @inheritdoc IEnergyMarket
    function placeOrder(address meter, OrderParams calldata params) external {
        if (_meterInfos[meter].owner != msg.sender) revert MarketNotMeterOwner(meter, msg.sender);
        if (!isParticipant(msg.sender)) revert MarketParticipantNotActive(meter);
        if (!params.sells && !params.buys) revert MarketOrderEmpty(meter);
        // The limit of a side the order does not trade is neither checked nor kept.
        OrderParams memory stored = params;
        if (!stored.sells) stored.sellFloor = 0;
        if (!stored.buys) stored.buyCeiling = 0;
        uint48 sellFloor = _toPrice(stored.sellFloor);
        uint48 buyCeiling = _toPrice(stored.buyCeiling);
        if (stored.validUntil != 0 && stored.validUntil < stored.validFrom) {
            revert MarketValidityReversed(meter, stored.validFrom, stored.validUntil);
        }
        uint256 flags = (stored.sells ? _SELLS : 0) | (stored.buys ? _BUYS : 0)
            | (stored.coverFromCredits ? _COVER_FROM_CREDITS : 0);
        Order storage order = _orders[meter];
        order.sellFloor = sellFloor;
        order.buyCeiling = buyCeiling;
        order.capWh = stored.capWh;
        order.validFrom = stored.validFrom;
        order.validUntil = stored.validUntil;
        // Cannot truncate: three one-bit flags.
        // forge-lint: disable-next-line(unsafe-typecast)
        order.flags = uint8(flags);
        emit OrderPlaced(meter, msg.sender, stored);
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
    function settle(uint64 t, uint64 clearingPrice, uint256[] calldata fills, bool closing)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
    {
        uint48 price = _toPrice(clearingPrice);
        Batch memory batch = _newBatch(fills.length);
        _openBatch(batch, t, price, closing);
        MarketConfig memory config = _marketConfig;
        batch.networkFee = config.networkFee;
        batch.keeperFeeBps = config.keeperFeeBps;
        _applyFills(batch, fills);
        if (batch.boughtWh != batch.soldWh) revert MarketUnbalanced(t, batch.boughtWh, batch.soldWh);

        // The grid operator's share is rounded down over the batch; the keeper takes the rest, which
        // is never negative: each buyer paid at least its exact share of `price + networkFee`, each
        // seller was paid at most its exact share of `price`.
        uint256 networkFeePaid = batch.soldWh * batch.networkFee / 1000;
        uint256 keeperPaid = batch.paid - batch.sellersEarned - networkFeePaid;
        if (batch.t < config.islandedBefore) _markUnserved(batch.records, config.islandedBefore);
        _emitMetersSettled(batch.records);
        emit IntervalSettled(t, msg.sender, price, batch.soldWh, networkFeePaid, keeperPaid, closing);
        _moveBatchTokens(batch, config.gridOperator, networkFeePaid, keeperPaid);
    }

    /// @inheritdoc IEnergyMarket
    function finalize(address[] calldata meters) external nonReentrant returns (uint256 settled) {
        uint40 window = _config.acceptanceWindow;
        Batch memory batch = _newBatch(meters.length);
        uint256 length = meters.length;
        for (uint256 i; i < length; ++i) {
            address meter = meters[i];
            (uint256 stateSlot, uint256 state) = _loadMeterState(meter);
            if (!_isFinal(state, window)) continue;
            uint256 order = _loadOrder(meter);
            (uint256 accountSlot, uint256 account) = _loadAccount(order);
            account = _settlePending(batch, meter, _intervalOf(state), state, order, account, 0);
            _store(accountSlot, account);
            _store(stateSlot, state & _READING_MASK);
        }
        settled = batch.settled;
        SettlementRecords.trim(batch.records, settled);
        uint256 islandedBefore = _marketConfig.islandedBefore;
        if (islandedBefore != 0) _markUnserved(batch.records, islandedBefore);
        _emitMetersSettled(batch.records);
        _moveBatchTokens(batch, address(0), 0, 0);
    }

    /// @inheritdoc IEnergyMarket
    function releaseHeldCarbon(address[] calldata accounts) external nonReentrant returns (uint256 grams) {
        (uint256 intensity, bool fresh) = _carbonIntensityNow();
        if (!fresh) revert MarketCarbonIntensityStale(_config.carbonIntensityHub);
        uint256 length = accounts.length;
        for (uint256 i; i < length; ++i) {
            address account = accounts[i];
            uint32 id = _participantIds[account];
            if (id == 0) revert MarketUnknownParticipant(account);
            uint256 exportWh = _heldCarbonExportWh[id];
            if (exportWh == 0) continue;
            delete _heldCarbonExportWh[id];
            uint256 released = exportWh * intensity / 1000;
            Account storage stored = _accounts[id];
            stored.carbonGrams = SafeCast.toUint56(stored.carbonGrams + released);
            grams += released;
            emit CarbonReleased(account, exportWh, intensity, released);
        }
        if (grams != 0) ICarbonCredit(CARBON_CREDIT).mint(address(this), grams);
    }

    /// @inheritdoc IEnergyMarket
    function setNetworkFee(uint64 feePerKwh) external onlyRole(GRID_OPERATOR_ROLE) {
        _marketConfig.networkFee = _toPrice(feePerKwh);
        _marketConfig.gridOperator = msg.sender;
        emit NetworkFeeSet(msg.sender, feePerKwh);
    }

    /// @inheritdoc IEnergyMarket
    function setIslanded(uint32 feeder, bool islanded) external onlyRole(GRID_OPERATOR_ROLE) {
        Island storage island = _islands[feeder];
        if ((island.until == _ISLANDED) == islanded) revert MarketIslandUnchanged(feeder, islanded);
        // Cannot truncate before the year 36812 (40 bits of seconds) and 4 billion intervals (32 bits).
        // forge-lint: disable-next-item(unsafe-typecast)
        if (islanded) {
            (island.since, island.until) = (uint40(block.timestamp), _ISLANDED);
            ++_islandedFeeders;
            _marketConfig.islandedBefore = type(uint32).max;
        } else {
            island.until = uint40(block.timestamp);
            // The last island ended: intervals from the next one on never overlap one.
            if (--_islandedFeeders == 0) {
                _marketConfig.islandedBefore = uint32(block.timestamp / INTERVAL_SECONDS + 1);
            }
        }
        emit FeederIslanded(feeder, islanded, block.timestamp);
    }

    /// @inheritdoc IEnergyMarket
    function setKeeperFee(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bps > MAX_KEEPER_FEE_BPS) revert MarketKeeperFeeTooHigh(bps, MAX_KEEPER_FEE_BPS);
        _marketConfig.keeperFeeBps = bps;
        emit KeeperFeeSet(bps);
    }

    /// @inheritdoc IEnergyMarket
    function setAmm(address pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint32 id = _participantIds[pool];
        if (id == 0) revert MarketUnknownParticipant(pool);
        if (_amm != 0) revert MarketAmmAlreadySet(amm());
        _amm = uint160(pool) | (uint256(id) << 160);
        emit AmmSet(pool, id);
    }

    /// @inheritdoc IEnergyMarket
    /// @dev No external call, so no reentrancy guard: every other path that calls out (deposit, withdraw,
    /// settle, finalize) has written its balances before it does, so a call made from inside one of those
    /// sees settled balances. One SLOAD for the pool, one for the account's id, one read and one write of
    /// each account word, done on the raw words: a balance that would leave its width (including one that
    /// went below zero and wrapped) is caught by one comparison, and `_revertAmmTransfer` names it.
    function ammTransfer(address account, int256 stablecoinDelta, int256 creditsDeltaWh) external {
        uint256 pool = _amm;
        // Truncating is the point: the pool's address is the low 160 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (msg.sender != address(uint160(pool))) revert MarketNotAmm(msg.sender);
        uint32 id = _participantIds[account];
        if (id == 0) revert MarketUnknownParticipant(account);
        // Cannot truncate: `setAmm` stored a uint32 id there.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 poolId = uint32(pool >> 160);
        // One account on both sides would have its second write undo its first.
        if (id == poolId) revert MarketAmmOwnAccount();
        Account storage accountRef = _accounts[id];
        Account storage poolRef = _accounts[poolId];
        uint256 accountWord;
        uint256 poolWord;
        uint256 broken;
        // Cannot go wrong silently: the balances are below 2^96 and the deltas within +-2^255, so each sum
        // or difference taken mod 2^256 is the true result when that is in [0, 2^96), and at least 2^96
        // otherwise (a true result below zero wraps to 2^255 or more); `broken` then stops the writes.
        assembly ("memory-safe") {
            accountWord := sload(accountRef.slot)
            poolWord := sload(poolRef.slot)
            let stable := add(and(shr(_ACCOUNT_STABLECOIN_SHIFT, accountWord), _UINT96_MAX), stablecoinDelta)
            let credits := add(and(shr(_ACCOUNT_CREDITS_SHIFT, accountWord), _UINT56_MAX), creditsDeltaWh)
            let poolStable := sub(and(shr(_ACCOUNT_STABLECOIN_SHIFT, poolWord), _UINT96_MAX), stablecoinDelta)
            let poolCredits := sub(and(shr(_ACCOUNT_CREDITS_SHIFT, poolWord), _UINT56_MAX), creditsDeltaWh)
            broken := or(
                or(gt(stable, _UINT96_MAX), gt(credits, _UINT56_MAX)),
                or(gt(poolStable, _UINT96_MAX), gt(poolCredits, _UINT56_MAX))
            )
            if iszero(broken) {
                sstore(
                    accountRef.slot,
                    or(
                        and(accountWord, not(_ACCOUNT_BALANCES_MASK)),
                        or(shl(_ACCOUNT_STABLECOIN_SHIFT, stable), shl(_ACCOUNT_CREDITS_SHIFT, credits))
                    )
                )
                sstore(
                    poolRef.slot,
                    or(
                        and(poolWord, not(_ACCOUNT_BALANCES_MASK)),
                        or(
                            shl(_ACCOUNT_STABLECOIN_SHIFT, poolStable),
                            shl(_ACCOUNT_CREDITS_SHIFT, poolCredits)
                        )
                    )
                )
            }
        }
        if (broken != 0) _revertAmmTransfer(account, accountWord, poolWord, stablecoinDelta, creditsDeltaWh);
        emit AmmTransferred(account, stablecoinDelta, creditsDeltaWh);
    }

    /// @inheritdoc IEnergyMarket
    function amm() public view returns (address) {
        // Truncating is the point: the pool's address is the low 160 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(_amm));
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
    function heldCarbonExportWh(address account) external view returns (uint256) {
        return _heldCarbonExportWh[_participantIds[account]];
    }

    /// @inheritdoc IEnergyMarket
    function keeperFeeBps() external view returns (uint16) {
        return _marketConfig.keeperFeeBps;
    }

    /// @dev Every meter's order slot starts with its owner's id, so that placing an order writes a
    /// non-zero slot and a fill never needs `MeterInfo`.
    function _meterRegistered(address meter, uint32 ownerId) internal override {
        // The pool's vault balances are its reserves: a meter's settlements must never move them. Without a
        // pool the id is 0, which no participant has. Cannot truncate: `setAmm` stored a uint32 id there.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (ownerId == uint32(_amm >> 160)) revert MarketAmmOwnsNoMeter(meter);
        _orders[meter].ownerId = ownerId;
    }

    // ---------------------------------------------------------------- batches

    /// @dev A batch that will settle at most `meters` meters, with the current carbon intensity (or
    /// holding carbon, when the intensity feed is stale).
    function _newBatch(uint256 meters) private view returns (Batch memory batch) {
        (uint256 intensity, bool fresh) = _carbonIntensityNow();
        batch.intensity = intensity;
        batch.carbonHeld = !fresh;
        batch.records = SettlementRecords.allocate(meters);
    }

    /// @dev The carbon intensity export settled now earns carbon at: the admin's fixed one, or the
    /// hub's `CARBON_INTENSITY` answer when a hub is set, which is not fresh while the feed is stale or
    /// answers outside the uint16 the settlement multiplies by.
    function _carbonIntensityNow() private view returns (uint256 intensity, bool fresh) {
        Config memory config = _config;
        if (config.carbonIntensityHub == address(0)) return (config.carbonIntensity, true);
        IOracleHub hub = IOracleHub(config.carbonIntensityHub);
        if (hub.isStale(Feeds.CARBON_INTENSITY)) return (0, false);
        (, int256 answer,,) = hub.latestRound(Feeds.CARBON_INTENSITY);
        if (answer < 0 || answer > int256(uint256(type(uint16).max))) return (0, false);
        return (uint256(answer), true);
    }

    /// @dev Checks that a batch of interval `t` may be settled by the caller at `price`, records it, and
    /// sets the batch's interval and price. An interval in progress takes batches from the keeper that
    /// settled its last batch, or, once `INTERVAL_SECONDS` passed since then, from any keeper, which takes
    /// it over (a keeper that stopped must not block the interval forever).
    function _openBatch(Batch memory batch, uint64 t, uint48 price, bool closing) private {
        uint256 intervalEnd;
        // Cannot overflow: a uint64 plus one, times a uint32, fits in 97 bits.
        unchecked {
            intervalEnd = (uint256(t) + 1) * INTERVAL_SECONDS;
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < intervalEnd) revert MarketIntervalNotClosed(t, intervalEnd);
        IntervalRecord memory record = _intervals[t];
        if (record.status == IntervalStatus.Settled) revert MarketIntervalAlreadySettled(t);
        if (record.status == IntervalStatus.InProgress) {
            // forge-lint: disable-next-line(block-timestamp)
            bool stalled = block.timestamp >= uint256(record.lastBatchAt) + INTERVAL_SECONDS;
            if (record.keeper != msg.sender && !stalled) revert MarketIntervalClaimed(t, record.keeper);
            if (record.price != price) revert MarketPriceChanged(t, record.price, price);
        }
        _intervals[t] = IntervalRecord({
            keeper: msg.sender,
            price: price,
            status: closing ? IntervalStatus.Settled : IntervalStatus.InProgress,
            lastBatchAt: SafeCast.toUint40(block.timestamp)
        });
        // The side marks keep the interval in 32 bits: `t` has closed, so it is below the timestamp.
        batch.t = SafeCast.toUint32(t);
        // Cannot underflow: `intervalEnd` is a positive multiple of `INTERVAL_SECONDS`.
        unchecked {
            batch.intervalStart = intervalEnd - INTERVAL_SECONDS;
        }
        batch.intervalEnd = intervalEnd;
        batch.price = price;
    }

    /// @dev Applies the fills of a batch in order; they must be well formed and sorted by meter, strictly
    /// ascending, so that a meter appears at most once.
    function _applyFills(Batch memory batch, uint256[] calldata fills) private {
        uint256 previousMeter;
        uint256 length = fills.length;
        for (uint256 i; i < length; ++i) {
            uint256 fill;
            bool outOfOrder;
            // Cannot read past the array: `i < fills.length`, and the ABI decoder checked that the array
            // fits the calldata.
            assembly ("memory-safe") {
                fill := calldataload(add(fills.offset, shl(5, i)))
                let meter := and(fill, 0xffffffffffffffffffffffffffffffffffffffff)
                outOfOrder := or(and(fill, not(_FILL_USED_BITS)), iszero(gt(meter, previousMeter)))
                previousMeter := meter
            }
            if (outOfOrder) {
                if (!Fills.isWellFormed(fill)) revert MarketFillMalformed(i);
                revert MarketFillsNotSorted(i, Fills.meterOf(fill));
            }
            _applyFill(batch, fill);
        }
    }

    /// @dev Re-validates one fill against the meter's attested volumes, its order and its owner's account,
    /// pays it, and settles the meter's pending volumes (`_settlePending`): one read of each of the three
    /// slots, one write of the state and the account. The rules are those `_revertFill` states one by one;
    /// this hot path is assembly over the raw words that folds every check into one flag and branches once
    /// (the Solidity version spent ~1,500 gas more per fill on branches, stack shuffling and memory
    /// accessors). A fill that breaks any rule goes to `_revertFill`, which finds the first rule it breaks
    /// and raises that rule's error; nothing of the fill has been written by then.
    function _applyFill(Batch memory batch, uint256 fill) private {
        uint256 broken;
        uint256 stateSlot;
        uint256 state;
        uint256 order;
        uint256 accountSlot;
        uint256 account;
        uint256 trade;
        // Cannot overflow: two uint48 prices sum to 49 bits, times a uint32 volume to 81 bits, times at most
        // 1,000 bps to 91 bits; the batch totals are sums of uint32 volumes and 81-bit amounts over fewer
        // than 2^64 fills. A cost above the buyer's balance or a seller's balance above uint96 wraps the
        // account word, but sets `broken` first, and a broken fill is never written. The fill is well formed
        // (`_applyFills` checked it): its meter is the low 160 bits, its volume the next 32, and its top bit
        // is its buy bit.
        assembly ("memory-safe") {
            mstore(0x00, and(fill, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(0x20, _meterStates.slot)
            stateSlot := keccak256(0x00, 0x40)
            state := sload(stateSlot)
            mstore(0x20, _orders.slot)
            order := sload(keccak256(0x00, 0x40))
            // `ownerId` is the order's lowest member.
            mstore(0x00, and(order, 0xffffffff))
            mstore(0x20, _accounts.slot)
            accountSlot := keccak256(0x00, 0x40)
            account := sload(accountSlot)

            let wh := and(shr(160, fill), 0xffffffff)
            // 1 (`_SELLS`) or 2 (`_BUYS`): the buy bit plus one.
            let side := add(shr(192, fill), 1)
            {
                let intervalEnd := mload(add(batch, _BATCH_INTERVAL_END))
                // `x - 1` wraps to the maximum for zero, which turns a comparison into `x != 0 && ...`.
                broken := or(
                    or(
                        // A volume; marketable volumes of this interval: the pending kind is
                        // `Marketable` and the last reading ends the interval.
                        iszero(wh),
                        xor(
                            and(state, _STATE_KIND_AND_INTERVAL_END_MASK),
                            or(shl(_PENDING_SHIFT, 1), shl(_INTERVAL_END_SHIFT, intervalEnd))
                        )
                    ),
                    or(
                        // A live order on the fill's side whose validity window holds the whole interval
                        // (`validUntil` zero: open-ended).
                        iszero(and(shr(_ORDER_FLAGS_SHIFT, order), side)),
                        or(
                            lt(
                                mload(add(batch, _BATCH_INTERVAL_START)),
                                and(shr(_ORDER_VALID_FROM_SHIFT, order), 0xffffffffff)
                            ),
                            lt(
                                sub(and(shr(_ORDER_VALID_UNTIL_SHIFT, order), 0xffffffffff), 1),
                                sub(intervalEnd, 1)
                            )
                        )
                    )
                )
            }
            // An active owner; a volume within the cap (zero: none).
            broken := or(
                broken,
                or(
                    xor(and(account, 0xff), _STATUS_ACTIVE),
                    lt(sub(and(shr(_ORDER_CAP_SHIFT, order), 0xffffffff), 1), sub(wh, 1))
                )
            )
            // The side marks (see `Account.sides`): the account keeps the sides of the latest interval its
            // owner traded in; the other side of that interval is a self trade, an earlier interval is
            // refused (the account no longer holds its sides).
            {
                let t := mload(add(batch, _BATCH_T))
                let markedInterval := and(shr(_ACCOUNT_SIDES_INTERVAL_SHIFT, account), 0xffffffff)
                broken := or(
                    broken,
                    or(
                        gt(markedInterval, t),
                        and(
                            eq(markedInterval, t),
                            iszero(iszero(and(shr(_ACCOUNT_SIDES_SHIFT, account), xor(side, 3))))
                        )
                    )
                )
                account := or(
                    and(account, not(_ACCOUNT_SIDES_MASK)),
                    or(shl(_ACCOUNT_SIDES_SHIFT, side), shl(_ACCOUNT_SIDES_INTERVAL_SHIFT, t))
                )
            }
            switch side
            case 2 {
                // Within the ceiling, which includes the network fee; within the attested import; paid,
                // price plus network fee rounded up, from the owner's balance.
                let price := add(mload(add(batch, _BATCH_PRICE)), mload(add(batch, _BATCH_NETWORK_FEE)))
                broken := or(broken, gt(price, and(shr(_ORDER_BUY_CEILING_SHIFT, order), 0xffffffffffff)))
                broken := or(broken, gt(wh, and(shr(_PENDING_IMPORT_SHIFT, state), 0xffffffff)))
                let cost := div(add(mul(wh, price), 999), 1000)
                broken := or(
                    broken,
                    gt(cost, and(shr(_ACCOUNT_STABLECOIN_SHIFT, account), 0xffffffffffffffffffffffff))
                )
                account := sub(account, shl(_ACCOUNT_STABLECOIN_SHIFT, cost))
                let total := add(batch, _BATCH_BOUGHT_WH)
                mstore(total, add(mload(total), wh))
                total := add(batch, _BATCH_PAID)
                mstore(total, add(mload(total), cost))
                trade := or(or(wh, shl(_RECORD_AMOUNT_SHIFT, cost)), shl(_RECORD_FLAGS_SHIFT, 1))
            }
            default {
                // At or above the floor; within the attested export; paid the price rounded down, less
                // the keeper fee, into a balance that stays within uint96.
                let price := mload(add(batch, _BATCH_PRICE))
                let earned := div(mul(wh, price), 1000)
                earned := sub(earned, div(mul(earned, mload(add(batch, _BATCH_KEEPER_FEE_BPS))), 10000))
                broken := or(
                    or(broken, lt(price, and(shr(_ORDER_SELL_FLOOR_SHIFT, order), 0xffffffffffff))),
                    or(
                        gt(wh, and(shr(_PENDING_EXPORT_SHIFT, state), 0xffffffff)),
                        gt(
                            add(
                                and(shr(_ACCOUNT_STABLECOIN_SHIFT, account), 0xffffffffffffffffffffffff),
                                earned
                            ),
                            0xffffffffffffffffffffffff
                        )
                    )
                )
                account := add(account, shl(_ACCOUNT_STABLECOIN_SHIFT, earned))
                let total := add(batch, _BATCH_SOLD_WH)
                mstore(total, add(mload(total), wh))
                total := add(batch, _BATCH_SELLERS_EARNED)
                mstore(total, add(mload(total), earned))
                trade := or(wh, shl(_RECORD_AMOUNT_SHIFT, earned))
            }
        }
        if (broken != 0) _revertFill(batch, fill);
        account = _settlePending(batch, Fills.meterOf(fill), batch.t, state, order, account, trade);
        assembly ("memory-safe") {
            sstore(accountSlot, account)
            sstore(stateSlot, and(state, _READING_MASK))
        }
    }

    /// @dev The rules a fill must keep, in the order their errors are documented: those every fill keeps,
    /// then the self-trade marks, then those of the fill's side. Raises the error of the first rule `fill`
    /// breaks; `_applyFill` calls it only for a fill that breaks one.
    function _revertFill(Batch memory batch, uint256 fill) private view {
        address meter = Fills.meterOf(fill);
        uint64 t = _t(batch);
        uint256 wh = Fills.whOf(fill);
        if (wh == 0) revert MarketZeroFill(meter);
        (, uint256 state) = _loadMeterState(meter);
        if (_pendingKind(state) != Pending.Marketable || _lastIntervalEnd(state) != batch.intervalEnd) {
            revert MarketNoAttestedVolume(meter, t);
        }
        uint256 order = _loadOrder(meter);
        {
            uint256 flags = (order >> _ORDER_FLAGS_SHIFT) & type(uint8).max;
            uint256 validFrom = (order >> _ORDER_VALID_FROM_SHIFT) & type(uint40).max;
            uint256 validUntil = (order >> _ORDER_VALID_UNTIL_SHIFT) & type(uint40).max;
            if (
                flags & (_SELLS | _BUYS) == 0 || batch.intervalStart < validFrom
                    || (validUntil != 0 && batch.intervalEnd > validUntil)
            ) revert MarketOrderNotLive(meter, t);
        }
        (, uint256 account) = _loadAccount(order);
        if (account & type(uint8).max != _STATUS_ACTIVE) revert MarketParticipantNotActive(meter);
        uint256 capWh = (order >> _ORDER_CAP_SHIFT) & type(uint32).max;
        if (capWh != 0 && wh > capWh) revert MarketFillAboveCap(meter, wh, capWh);
        bool buys = Fills.isBuy(fill);
        {
            uint256 markedInterval = (account >> _ACCOUNT_SIDES_INTERVAL_SHIFT) & type(uint32).max;
            uint256 otherSide = buys ? _SELLS : _BUYS;
            if (markedInterval == t && (account >> _ACCOUNT_SIDES_SHIFT) & otherSide != 0) {
                revert MarketSelfTrade(meter, t);
            }
            // Cannot truncate: the marked interval is a uint32 member.
            // forge-lint: disable-next-line(unsafe-typecast)
            if (markedInterval > t) revert MarketOwnerTradedLaterInterval(meter, t, uint64(markedInterval));
        }
        uint256 balance = (account >> _ACCOUNT_STABLECOIN_SHIFT) & type(uint96).max;
        if (buys) {
            if ((order >> _ORDER_FLAGS_SHIFT) & _BUYS == 0) revert MarketOrderDoesNotBuy(meter);
            uint256 ceiling = (order >> _ORDER_BUY_CEILING_SHIFT) & type(uint48).max;
            if (batch.price + batch.networkFee > ceiling) {
                revert MarketPriceAboveCeiling(meter, batch.price, batch.networkFee, ceiling);
            }
            uint256 attested = (state >> _PENDING_IMPORT_SHIFT) & type(uint32).max;
            if (wh > attested) revert MarketFillAboveAttested(meter, wh, attested);
            uint256 cost = (wh * (batch.price + batch.networkFee) + 999) / 1000;
            if (cost > balance) revert MarketInsufficientBalance(meter, cost, balance);
        } else {
            if ((order >> _ORDER_FLAGS_SHIFT) & _SELLS == 0) revert MarketOrderDoesNotSell(meter);
            uint256 floor = (order >> _ORDER_SELL_FLOOR_SHIFT) & type(uint48).max;
            if (batch.price < floor) revert MarketPriceBelowFloor(meter, batch.price, floor);
            uint256 attested = (state >> _PENDING_EXPORT_SHIFT) & type(uint32).max;
            if (wh > attested) revert MarketFillAboveAttested(meter, wh, attested);
            uint256 value = wh * batch.price / 1000;
            balance += value - value * batch.keeperFeeBps / 10_000;
            if (balance > type(uint96).max) revert SafeCast.SafeCastOverflowedUintDowncast(96, balance);
        }
        // `_applyFill` found a broken rule: one of the above.
        assert(false);
    }

    /// @dev Settles everything pending on a meter after it sold or bought (or neither, `trade` zero):
    /// credits the unsold export, covers the unbought import from credits when the order opted in, leaves
    /// the rest to grid supply, accrues carbon on the export, and writes the meter's record into the batch.
    /// @param lastInterval The last interval the volumes cover (the interval of the meter's last reading).
    /// @param trade The trade part of the meter's record (`SettlementRecords.tradeWord`), zero for none.
    /// @return The owner's account word with its new credits and carbon.
    function _settlePending(
        Batch memory batch,
        address meter,
        uint256 lastInterval,
        uint256 state,
        uint256 order,
        uint256 account,
        uint256 trade
    ) private pure returns (uint256) {
        uint256 overflow;
        // Cannot overflow: the intensity is a uint16, the export a uint32; the traded Wh are at most the
        // pending volume of their side (`_applyFill` checked it); a uint56 balance plus a uint32 volume fits
        // (and is then checked to fit 56 bits); the cover is at most both the credits and the unbought
        // import; the totals are sums of uint32 volumes and 48-bit amounts over fewer than 2^64 meters. The
        // record lands in the room `_newBatch` made, one per meter given to the call, and a call settles
        // each meter at most once.
        assembly ("memory-safe") {
            let creditedWh := and(shr(_PENDING_EXPORT_SHIFT, state), 0xffffffff)
            let unboughtWh := and(shr(_PENDING_IMPORT_SHIFT, state), 0xffffffff)
            let carbonGrams := div(mul(creditedWh, mload(add(batch, _BATCH_INTENSITY))), 1000)
            switch shr(_RECORD_FLAGS_SHIFT, trade)
            case 0 { creditedWh := sub(creditedWh, and(trade, 0xffffffff)) }
            default { unboughtWh := sub(unboughtWh, and(trade, 0xffffffff)) }
            let credits := add(and(shr(_ACCOUNT_CREDITS_SHIFT, account), 0xffffffffffffff), creditedWh)
            let coveredWh := 0
            if and(shr(_ORDER_FLAGS_SHIFT, order), _COVER_FROM_CREDITS) {
                coveredWh := unboughtWh
                if lt(credits, unboughtWh) { coveredWh := credits }
                credits := sub(credits, coveredWh)
            }
            let carbon := add(shr(_ACCOUNT_CARBON_SHIFT, account), carbonGrams)
            // Either above 56 bits: report the first, as the balances are checked in that order.
            if gt(or(credits, carbon), 0xffffffffffffff) {
                overflow := credits
                if iszero(gt(credits, 0xffffffffffffff)) { overflow := carbon }
            }
            account := or(
                and(account, _ACCOUNT_BELOW_CREDITS_MASK),
                or(shl(_ACCOUNT_CREDITS_SHIFT, credits), shl(_ACCOUNT_CARBON_SHIFT, carbon))
            )
            trade := or(
                or(trade, shl(_RECORD_CREDITED_SHIFT, creditedWh)),
                or(
                    shl(_RECORD_COVERED_SHIFT, coveredWh),
                    shl(_RECORD_GRID_SUPPLIED_SHIFT, sub(unboughtWh, coveredWh))
                )
            )
            let total := add(batch, _BATCH_CREDITS_MINTED)
            mstore(total, add(mload(total), creditedWh))
            total := add(batch, _BATCH_CREDITS_BURNED)
            mstore(total, add(mload(total), coveredWh))
            total := add(batch, _BATCH_CARBON_MINTED)
            mstore(total, add(mload(total), carbonGrams))
            // The meter's record: its meter, interval and carbon (word 0), its volumes and money (word 1).
            let index := mload(add(batch, _BATCH_SETTLED))
            let at := add(mload(add(batch, _BATCH_RECORDS)), add(0x20, shl(6, index)))
            mstore(
                at,
                or(
                    meter,
                    or(shl(_RECORD_INTERVAL_SHIFT, lastInterval), shl(_RECORD_CARBON_SHIFT, carbonGrams))
                )
            )
            mstore(add(at, 0x20), trade)
            mstore(add(batch, _BATCH_SETTLED), add(index, 1))
        }
        if (overflow != 0) revert SafeCast.SafeCastOverflowedUintDowncast(56, overflow);
        return account;
    }

    /// @dev Flags `FLAG_UNSERVED` on each record whose import left to the grid falls in its interval (the
    /// last one it covers) before `islandedBefore` and in the latest island of the meter's feeder: the
    /// grid supplied nothing then. An interval that overlaps an island at all counts as islanded, as the
    /// keepers clear it.
    function _markUnserved(bytes32[] memory records, uint256 islandedBefore) private view {
        uint256 length = records.length;
        for (uint256 i; i < length; i += 2) {
            uint256 meterWord;
            uint256 volumesWord;
            // Cannot read past the array: records come in pairs, so `i + 1 < length`.
            assembly ("memory-safe") {
                let at := add(add(records, 0x20), shl(5, i))
                meterWord := mload(at)
                volumesWord := mload(add(at, 0x20))
            }
            // Truncating is the point: each cast keeps exactly the bits of one field.
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 t = uint40(meterWord >> _RECORD_INTERVAL_SHIFT);
            // forge-lint: disable-next-line(unsafe-typecast)
            if (uint32(volumesWord >> _RECORD_GRID_SUPPLIED_SHIFT) == 0 || t >= islandedBefore) continue;
            // forge-lint: disable-next-line(unsafe-typecast)
            Island memory latest = _islands[_meterInfos[address(uint160(meterWord))].feeder];
            // Cannot overflow: `t` is below 2^32 (`islandedBefore`), the interval length a uint32.
            uint256 start = t * INTERVAL_SECONDS;
            if (latest.since < start + INTERVAL_SECONDS && latest.until > start) {
                uint256 marked = volumesWord | (SettlementRecords.FLAG_UNSERVED << _RECORD_FLAGS_SHIFT);
                assembly ("memory-safe") {
                    mstore(add(add(records, 0x40), shl(5, i)), marked)
                }
            }
        }
    }

    /// @dev Emits `MetersSettled` straight from the records' memory, unless the batch settled no meter.
    /// `SettlementRecords.allocate` put the ABI head in the word before the array, so the event data is
    /// already encoded: no copy of the records (the copy `emit` makes would double the memory of a
    /// 500-meter batch).
    function _emitMetersSettled(bytes32[] memory records) private {
        if (records.length == 0) return;
        bytes32 topic = MetersSettled.selector;
        assembly ("memory-safe") {
            log1(sub(records, 0x20), add(0x40, shl(5, mload(records))), topic)
        }
    }

    /// @dev Mints the credits and carbon a batch earned to the market, burns the credits it used to
    /// cover import, and pays the fees.
    function _moveBatchTokens(
        Batch memory batch,
        address gridOperator,
        uint256 networkFeePaid,
        uint256 keeperPaid
    ) private {
        uint256 minted = batch.creditsMinted;
        uint256 burned = batch.creditsBurned;
        if (minted > burned) IEnergyCredit(ENERGY_CREDIT).mint(address(this), minted - burned);
        else if (burned > minted) IEnergyCredit(ENERGY_CREDIT).burn(burned - minted);
        if (batch.carbonMinted != 0) ICarbonCredit(CARBON_CREDIT).mint(address(this), batch.carbonMinted);
        if (batch.carbonHeld) _holdCarbon(batch.records, batch.settled);
        if (networkFeePaid != 0) IERC20(STABLECOIN).safeTransfer(gridOperator, networkFeePaid);
        if (keeperPaid != 0) IERC20(STABLECOIN).safeTransfer(msg.sender, keeperPaid);
    }

    /// @dev Holds the carbon of the export a batch settled while the intensity feed was stale: each
    /// meter's export (its credited Wh, plus its traded Wh when it sold) waits in its owner's held total
    /// for `releaseHeldCarbon`. Off the hot path: only a batch with a stale feed comes here, and the
    /// order slots it reads are warm.
    function _holdCarbon(bytes32[] memory records, uint256 settled) private {
        uint256 heldWh;
        for (uint256 i; i < settled; ++i) {
            SettlementRecords.Record memory record =
                SettlementRecords.decode(records[2 * i], records[2 * i + 1]);
            uint256 exportWh = record.creditedWh + (record.bought ? 0 : record.tradedWh);
            if (exportWh == 0) continue;
            _heldCarbonExportWh[_orders[record.meter].ownerId] += exportWh;
            heldWh += exportWh;
        }
        if (heldWh != 0) emit CarbonHeld(heldWh);
    }

    // ---------------------------------------------------------------- rules

    /// @dev Raises the error of the first balance `ammTransfer` found out of range, in the documented order:
    /// `account`'s stablecoin and credits, then the pool's (the caller's).
    function _revertAmmTransfer(
        address account,
        uint256 accountWord,
        uint256 poolWord,
        int256 stablecoinDelta,
        int256 creditsDeltaWh
    ) private view {
        uint256 stable = (accountWord >> _ACCOUNT_STABLECOIN_SHIFT) & _UINT96_MAX;
        uint256 credits = (accountWord >> _ACCOUNT_CREDITS_SHIFT) & _UINT56_MAX;
        _checkAmmDelta(account, Asset.Stablecoin, stable, stablecoinDelta, _UINT96_MAX);
        _checkAmmDelta(account, Asset.EnergyCredit, credits, creditsDeltaWh, _UINT56_MAX);
        stable = (poolWord >> _ACCOUNT_STABLECOIN_SHIFT) & _UINT96_MAX;
        credits = (poolWord >> _ACCOUNT_CREDITS_SHIFT) & _UINT56_MAX;
        // Cannot overflow: a delta of -2^255, the one value whose negation wraps, failed the account's check.
        unchecked {
            _checkAmmDelta(msg.sender, Asset.Stablecoin, stable, -stablecoinDelta, _UINT96_MAX);
            _checkAmmDelta(msg.sender, Asset.EnergyCredit, credits, -creditsDeltaWh, _UINT56_MAX);
        }
        // `ammTransfer` found a balance out of range: one of the above.
        assert(false);
    }

    /// @dev Reverts unless `balance` of `who`'s `asset` can take `delta` and stay within `max`.
    function _checkAmmDelta(address who, Asset asset, uint256 balance, int256 delta, uint256 max)
        private
        pure
    {
        // Reinterpreting is the point: a non-negative delta is its own magnitude, and the wrapping subtraction
        // below turns a negative one's two's complement into its magnitude (2^255 included).
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 magnitude = uint256(delta);
        if (delta < 0) {
            // Wraps on purpose: 2^256 minus the two's complement of a negative delta is its magnitude.
            unchecked {
                magnitude = 0 - magnitude;
            }
            if (magnitude > balance) revert MarketInsufficientVaultBalance(who, asset, magnitude, balance);
        } else if (magnitude > max - balance) {
            revert MarketBalanceOverflow(who, asset);
        }
    }

    /// @dev Whether pending volumes may be settled as residuals: residual only, or marketable in an
    /// interval that is settled or older than the acceptance window.
    function _isFinal(uint256 state, uint40 window) private view returns (bool) {
        Pending kind = _pendingKind(state);
        if (kind == Pending.ResidualOnly) return true;
        if (kind == Pending.None) return false;
        // forge-lint: disable-next-line(block-timestamp)
        if (_lastIntervalEnd(state) + window < block.timestamp) return true;
        // Cannot truncate: a uint40 timestamp over a positive interval length.
        // forge-lint: disable-next-line(unsafe-typecast)
        return _intervals[uint64(_intervalOf(state))].status == IntervalStatus.Settled;
    }

    // ---------------------------------------------------------------- words

    /// @dev The slot and the raw word of `meter`'s `MeterState`.
    function _loadMeterState(address meter) internal view returns (uint256 slot, uint256 word) {
        MeterState storage state = _meterStates[meter];
        assembly ("memory-safe") {
            slot := state.slot
            word := sload(slot)
        }
    }

    /// @dev The raw word of `meter`'s `Order`.
    function _loadOrder(address meter) internal view returns (uint256 word) {
        Order storage order = _orders[meter];
        assembly ("memory-safe") {
            word := sload(order.slot)
        }
    }

    /// @dev The slot and the raw word of the `Account` of the owner named in `order` (its `ownerId`).
    function _loadAccount(uint256 order) internal view returns (uint256 slot, uint256 word) {
        // Truncating is the point: `ownerId` is the lowest member.
        // forge-lint: disable-next-line(unsafe-typecast)
        Account storage account = _accounts[uint32(order)];
        assembly ("memory-safe") {
            slot := account.slot
            word := sload(slot)
        }
    }

    function _store(uint256 slot, uint256 word) private {
        assembly ("memory-safe") {
            sstore(slot, word)
        }
    }

    /// @dev The batch's interval, as the errors report it (`_openBatch` narrowed it to 32 bits).
    // forge-lint: disable-next-item(unsafe-typecast)
    function _t(Batch memory batch) private pure returns (uint64) {
        return uint64(batch.t);
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

    // The readers below take one member out of a `MeterState` word: truncating is the point.

    /// @dev What the pending volumes of `word` may be used for.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _pendingKind(uint256 word) private pure returns (Pending) {
        return Pending(uint8(word >> _PENDING_SHIFT));
    }

    /// @dev The pending import of `word`, Wh.
    function _pendingImport(uint256 word) private pure returns (uint256) {
        return (word >> _PENDING_IMPORT_SHIFT) & type(uint32).max;
    }

    /// @dev The pending export of `word`, Wh.
    function _pendingExport(uint256 word) private pure returns (uint256) {
        return (word >> _PENDING_EXPORT_SHIFT) & type(uint32).max;
    }

    /// @dev The `intervalEnd` of the last reading in `word`.
    function _lastIntervalEnd(uint256 word) private pure returns (uint256) {
        return (word >> _INTERVAL_END_SHIFT) & type(uint40).max;
    }

    /// @dev The interval the last reading in `word` closed, for a meter with a reading. Without the checks
    /// Solidity adds: the constructor rejects a zero interval length, and a reading's `intervalEnd` is a
    /// positive multiple of it, so the subtraction cannot underflow.
    function _intervalOf(uint256 word) private view returns (uint256 t) {
        uint256 intervalEnd = _lastIntervalEnd(word);
        uint256 length = INTERVAL_SECONDS;
        assembly ("memory-safe") {
            t := sub(div(intervalEnd, length), 1)
        }
    }
}
