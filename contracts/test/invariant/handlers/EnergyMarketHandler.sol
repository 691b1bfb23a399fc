// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../../src/interfaces/IMeterRegistry.sol";
import {Fills} from "../../../src/libraries/Fills.sol";
import {SettlementRecords} from "../../../src/libraries/SettlementRecords.sol";
import {ReadingSigning} from "../../utils/ReadingSigning.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Drives the market like its users would: owners deposit, withdraw and change their orders,
/// meters report every interval (some skip one), two keepers settle random balanced batches at random
/// prices (sometimes deliberately broken ones, which must revert), anyone finalizes, the co-op and the
/// grid operator change the fees and the carbon intensity, and time passes. (`_bound` is forge-std's
/// `bound` without its console log.) It keeps ghost totals from the events and counts every breach of a
/// rule the market must keep; the invariant test asserts the counts stay zero.
contract EnergyMarketHandler is CommonBase, StdCheats, StdUtils {
    uint256 public constant METERS = 5;
    uint256 public constant OWNERS = 4;
    uint32 internal constant INTERVAL = 900;
    uint256 internal constant MAX_PRICE = 600_000;

    /// @dev What the handler knows about a meter's last accepted reading, to sign the next one.
    struct Track {
        uint32 seq;
        uint40 lastEnd;
        uint48 importWh;
        uint48 exportWh;
    }

    /// @dev The state of the batch being built.
    struct Draft {
        uint64 t;
        uint256 end;
        uint64 price;
        uint64 fee;
        bool ignoreLimits;
        uint256 count;
        uint256 soldWh;
        uint256 boughtWh;
    }

    /// @dev A fill the handler plans, before it is packed (`Fills`).
    struct Planned {
        address meter;
        bool buy;
        uint32 wh;
    }

    /// @dev Everything a batch must leave unchanged in total, read before it.
    struct Before {
        IEnergyMarket.IntervalStatus status;
        uint256 operatorWallet;
        uint256 keeperWallet;
        uint256 vaults;
        uint16 intensity;
    }

    EnergyMarket public immutable MARKET;
    MockStablecoin public immutable STABLECOIN;
    EnergyCredit public immutable ENERGY;
    CarbonCredit public immutable CARBON;
    address public immutable ADMIN;
    address public immutable OPERATOR;

    address[METERS] public meters;
    /// @dev Owner index of each meter: owner 3 has two meters.
    uint256[METERS] public meterOwner = [uint256(0), 1, 2, 3, 3];
    address[OWNERS] public owners;
    address[2] public keepers;
    uint256[METERS] internal _keys;
    Track[METERS] internal _tracks;
    uint256 public currentTime;

    // Ghost totals, per meter, from the market's events.
    mapping(address meter => uint256 wh) public ghostAttestedImport;
    mapping(address meter => uint256 wh) public ghostAttestedExport;
    mapping(address meter => uint256 wh) public ghostSold;
    mapping(address meter => uint256 wh) public ghostBought;
    mapping(address meter => uint256 wh) public ghostCredited;
    mapping(address meter => uint256 wh) public ghostCovered;
    mapping(address meter => uint256 wh) public ghostGridSupplied;
    // Ghost token totals.
    uint256 public ghostCreditsMinted;
    uint256 public ghostCreditsBurned;
    /// @dev Sum over settled meters of (sold + credited export) x intensity / 1000, computed here.
    uint256 public ghostCarbonExpected;
    /// @dev Sum of the `carbonGrams` of the `MetersSettled` records.
    uint256 public ghostCarbonEmitted;
    // Breaches: each must stay zero.
    uint256 public ghostSettledTwice;
    uint256 public ghostLimitBreaches;
    uint256 public ghostMoneyLeaks;
    uint256 public ghostBothSides;
    /// @dev Refusals (`MarketSelfTrade`, `MarketOwnerTradedLaterInterval`, `MarketIntervalClaimed`) that
    /// the handler's own record of the past batches does not justify.
    uint256 public ghostUnjustifiedRefusals;
    uint256 public ghostFinalizeMismatches;
    // Counters, to see that the run did something.
    uint256 public ghostReadingsAccepted;
    uint256 public ghostSettleAttempts;
    uint256 public ghostSettleSucceeded;
    uint256 public ghostBrokenBatchesAttempted;
    uint256 public ghostFillsSettled;
    uint256 public ghostMetersFinalized;
    uint256 public ghostIntervalsClosed;
    uint256 public ghostSelfTradesRefused;
    uint256 public ghostLaterIntervalsRefused;
    uint256 public ghostClaimsRefused;
    uint256 public ghostTakeOvers;

    mapping(uint64 t => mapping(uint256 owner => uint256 sides)) internal _sides;
    /// @dev The latest interval each owner traded in, by the successful batches.
    mapping(uint256 owner => uint64 t) internal _latestTraded;
    mapping(address meter => IEnergyMarket.OrderParams order) internal _ordersBefore;
    Planned[] internal _fills;

    /// @dev Re-applies the handler's clock: every call is its own transaction.
    modifier useTime() {
        vm.warp(currentTime);
        _;
    }

    constructor(
        EnergyMarket market,
        MockStablecoin stablecoin,
        address admin,
        address operator,
        address[2] memory keepers_,
        address[OWNERS] memory owners_,
        uint256[METERS] memory keys,
        uint256 startTime
    ) {
        MARKET = market;
        STABLECOIN = stablecoin;
        ENERGY = EnergyCredit(market.ENERGY_CREDIT());
        CARBON = CarbonCredit(market.CARBON_CREDIT());
        ADMIN = admin;
        OPERATOR = operator;
        keepers = keepers_;
        owners = owners_;
        _keys = keys;
        for (uint256 i; i < METERS; ++i) {
            meters[i] = vm.addr(keys[i]);
        }
        currentTime = startTime;
    }

    // ---------------------------------------------------------------- actions

    /// @dev The meters' readings for the interval that ended last; each meter reports with probability
    /// 7/8 (a meter that skips one makes its next reading residual only).
    function submitReadings(uint256 seed) external useTime {
        uint40 end = uint40(currentTime - currentTime % INTERVAL);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](METERS);
        uint256 count;
        for (uint256 i; i < METERS; ++i) {
            uint256 entropy = uint256(keccak256(abi.encode(seed, i)));
            Track storage track = _tracks[i];
            if (track.lastEnd >= end || (track.seq != 0 && entropy % 8 == 0)) continue;
            // A 20 kW connection: 5,000 Wh per interval at most.
            uint256 maxWh = track.seq == 0 ? 0 : uint256(20_000) * (end - track.lastEnd) / 3600;
            uint48 importWh = uint48(_bound(entropy >> 8, 0, maxWh));
            uint48 exportWh = uint48(_bound(entropy >> 80, 0, maxWh));
            // Most meters mostly export or mostly import.
            if ((entropy >> 160) % 3 == 0) importWh /= 8;
            else if ((entropy >> 160) % 3 == 1) exportWh /= 8;
            track.seq += 1;
            track.lastEnd = end;
            track.importWh += importWh;
            track.exportWh += exportWh;
            batch[count++] = ReadingSigning.sign(
                address(MARKET),
                _keys[i],
                IMeterRegistry.Reading({
                    meter: meters[i],
                    seq: track.seq,
                    intervalEnd: end,
                    importWh: track.importWh,
                    exportWh: track.exportWh,
                    r: bytes32(0),
                    vs: bytes32(0)
                })
            );
        }
        assembly ("memory-safe") {
            mstore(batch, count)
        }
        vm.recordLogs();
        uint256 accepted = MARKET.submitReadings(batch);
        require(accepted == count, "handler: a reading it signed was rejected");
        ghostReadingsAccepted += accepted;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(MARKET)) continue;
            if (logs[i].topics[0] != IMeterRegistry.ReadingAccepted.selector) continue;
            address meter = address(uint160(uint256(logs[i].topics[1])));
            (,, uint48 importDeltaWh, uint48 exportDeltaWh,) =
                abi.decode(logs[i].data, (uint32, uint40, uint48, uint48, bool));
            ghostAttestedImport[meter] += importDeltaWh;
            ghostAttestedExport[meter] += exportDeltaWh;
        }
    }

    /// @dev A keeper settles a batch of the interval that ended last (or one or two before it): a
    /// random price, random volumes within each meter's attested volume, cap and the buyer's money,
    /// balanced. One batch in eight ignores the orders' limits, which the market must refuse.
    function settle(uint256 priceSeed, uint256 seed) external useTime {
        seed = _spread(seed);
        _settle(priceSeed, seed, (seed >> 7) % 3 == 0);
    }

    /// @dev A keeper stopped: the other keeper sends a batch of an interval the first left in progress
    /// (the latest of the last three), at its price, either one second before the interval is free to take
    /// over (the market must refuse it) or from then on.
    function takeOver(uint256 seed, bool early) external {
        seed = _spread(seed);
        uint256 latestEnd = currentTime - currentTime % INTERVAL;
        for (uint256 age; age < 3; ++age) {
            Draft memory draft = _draft(0, 0);
            draft.end = latestEnd - age * INTERVAL;
            draft.t = uint64(draft.end / INTERVAL - 1);
            IEnergyMarket.IntervalRecord memory record = MARKET.interval(draft.t);
            if (record.status != IEnergyMarket.IntervalStatus.InProgress) continue;
            uint256 freeAt = uint256(record.lastBatchAt) + INTERVAL;
            if (early && currentTime < freeAt - 1) currentTime = freeAt - 1;
            else if (!early && currentTime < freeAt) currentTime = freeAt + _bound(seed >> 8, 0, 120);
            vm.warp(currentTime);
            draft.price = uint64(record.price);
            address other = record.keeper == keepers[0] ? keepers[1] : keepers[0];
            _settleAs(draft, record, other, seed, (seed >> 2) & 1 == 1);
            return;
        }
    }

    /// @dev One interval the way the system runs it: time passes to the next boundary, the meters
    /// report, a keeper settles one or two batches (the last one closing, mostly), and (mostly) everything
    /// left pending is finalized. The batches share this transaction, as in a keeper's multicall.
    function runInterval(uint256 seed, uint256 priceSeed) external {
        seed = _spread(seed);
        currentTime += INTERVAL - currentTime % INTERVAL + _bound(seed >> 200, 0, 120);
        vm.warp(currentTime);
        this.submitReadings(seed);
        bool twoBatches = (seed >> 40) % 3 == 0;
        // A third of the intervals stay open for a later batch, in a transaction of its own (`settle`).
        bool closing = (seed >> 44) % 3 != 0;
        _settle(priceSeed, seed >> 16, !twoBatches && closing);
        if (twoBatches) _settle(priceSeed, seed >> 48, closing);
        if (seed % 8 != 0) this.finalize(0);
    }

    function _settle(uint256 priceSeed, uint256 seed, bool closing) internal {
        Draft memory draft = _draft(priceSeed, seed);
        IEnergyMarket.IntervalRecord memory record = MARKET.interval(draft.t);
        address keeper = keepers[(seed >> 4) & 1];
        if (record.status == IEnergyMarket.IntervalStatus.InProgress && (seed >> 5) % 4 != 0) {
            // Mostly the claiming keeper adding a batch at the interval's price.
            keeper = record.keeper;
            draft.price = uint64(record.price);
        }
        _settleAs(draft, record, keeper, seed, closing);
    }

    /// @dev `keeper` settles a batch of `draft.t`, whose record before the batch is `record`; a batch that
    /// reverts must have broken a rule (see `_checkRefusal`).
    function _settleAs(
        Draft memory draft,
        IEnergyMarket.IntervalRecord memory record,
        address keeper,
        uint256 seed,
        bool closing
    ) internal {
        _buildFills(draft, seed);
        Planned[] memory fills = _sortedFills();

        Before memory before = _before(keeper, record.status);
        for (uint256 i; i < fills.length; ++i) {
            _ordersBefore[fills[i].meter] = MARKET.orderOf(fills[i].meter);
        }
        ++ghostSettleAttempts;
        if (draft.ignoreLimits) ++ghostBrokenBatchesAttempted;
        vm.recordLogs();
        vm.prank(keeper);
        try MARKET.settle(draft.t, draft.price, _packed(fills), closing) {
            ++ghostSettleSucceeded;
            if (record.status == IEnergyMarket.IntervalStatus.InProgress && keeper != record.keeper) {
                ++ghostTakeOvers;
            }
            if (before.status == IEnergyMarket.IntervalStatus.Settled) ++ghostSettledTwice;
            if (closing) ++ghostIntervalsClosed;
            _collect(vm.getRecordedLogs(), before.intensity);
            _checkBatch(draft, fills, keeper, before);
        } catch (bytes memory reason) {
            vm.getRecordedLogs();
            _checkRefusal(reason, draft.t, fills, keeper, record);
        }
    }

    /// @dev Whether a refusal for one of the rules that span batches is justified by what the handler saw
    /// succeed before: the other side traded in `t`, a later interval traded, the interval claimed by
    /// another keeper within `INTERVAL` of its last batch.
    function _checkRefusal(
        bytes memory reason,
        uint64 t,
        Planned[] memory fills,
        address keeper,
        IEnergyMarket.IntervalRecord memory record
    ) internal {
        if (reason.length < 4) return;
        bytes4 selector = bytes4(reason);
        if (selector == IEnergyMarket.MarketSelfTrade.selector) {
            ++ghostSelfTradesRefused;
            (address meter, uint64 refusedT) = abi.decode(_arguments(reason), (address, uint64));
            uint256 other = _sideOf(fills, meter) == 2 ? 1 : 2;
            if (refusedT != t || _sides[t][_ownerOf(meter)] & other == 0) ++ghostUnjustifiedRefusals;
        } else if (selector == IEnergyMarket.MarketOwnerTradedLaterInterval.selector) {
            ++ghostLaterIntervalsRefused;
            (address meter, uint64 refusedT, uint64 later) =
                abi.decode(_arguments(reason), (address, uint64, uint64));
            if (refusedT != t || later <= t || _latestTraded[_ownerOf(meter)] != later) {
                ++ghostUnjustifiedRefusals;
            }
        } else if (selector == IEnergyMarket.MarketIntervalClaimed.selector) {
            ++ghostClaimsRefused;
            if (keeper == record.keeper || currentTime >= uint256(record.lastBatchAt) + INTERVAL) {
                ++ghostUnjustifiedRefusals;
            }
        }
    }

    function _arguments(bytes memory reason) internal pure returns (bytes memory arguments) {
        arguments = new bytes(reason.length - 4);
        for (uint256 i; i < arguments.length; ++i) {
            arguments[i] = reason[i + 4];
        }
    }

    function _sideOf(Planned[] memory fills, address meter) internal pure returns (uint256) {
        for (uint256 k; k < fills.length; ++k) {
            if (fills[k].meter == meter) return fills[k].buy ? 2 : 1;
        }
        return 0;
    }

    function _ownerOf(address meter) internal view returns (uint256 owner) {
        for (uint256 i; i < METERS; ++i) {
            if (meters[i] == meter) return meterOwner[i];
        }
    }

    /// @dev Anyone finalizes a random subset of the meters. Exactly the meters whose pending volumes are
    /// final by the rules must be settled: residual only, or marketable in an interval that is settled or
    /// older than the acceptance window.
    function finalize(uint256 seed) external useTime {
        seed = seed == 0 ? 0 : _spread(seed);
        address[] memory batch = new address[](METERS);
        bool[] memory isFinal = new bool[](METERS);
        uint256 count;
        uint256 finalCount;
        for (uint256 i; i < METERS; ++i) {
            if ((seed >> i) & 1 == 0 && seed % 4 != 0) continue;
            isFinal[count] = _isFinal(meters[i]);
            if (isFinal[count]) ++finalCount;
            batch[count++] = meters[i];
        }
        assembly ("memory-safe") {
            mstore(batch, count)
        }
        uint16 intensity = MARKET.carbonIntensity();
        vm.recordLogs();
        uint256 settled = MARKET.finalize(batch);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        ghostMetersFinalized += settled;
        if (settled != finalCount) ++ghostFinalizeMismatches;
        for (uint256 k; k < count; ++k) {
            if (_settledIn(logs, batch[k]) != isFinal[k]) ++ghostFinalizeMismatches;
        }
        _collect(logs, intensity);
    }

    function deposit(uint256 ownerSeed, uint256 assetSeed, uint256 amount) external useTime {
        address owner = owners[ownerSeed % OWNERS];
        IEnergyMarket.Asset asset = IEnergyMarket.Asset(assetSeed % 3);
        if (asset == IEnergyMarket.Asset.Stablecoin) {
            amount = _bound(amount, 1, 200e6);
            vm.prank(ADMIN);
            STABLECOIN.mint(owner, amount);
        } else {
            // Credits come only from the market: deposit back what was withdrawn.
            uint256 wallet = _token(asset).balanceOf(owner);
            if (wallet == 0) return;
            amount = _bound(amount, 1, wallet);
        }
        vm.startPrank(owner);
        _token(asset).approve(address(MARKET), amount);
        MARKET.deposit(asset, amount);
        vm.stopPrank();
    }

    function withdraw(uint256 ownerSeed, uint256 assetSeed, uint256 amount) external useTime {
        address owner = owners[ownerSeed % OWNERS];
        IEnergyMarket.Asset asset = IEnergyMarket.Asset(assetSeed % 3);
        IEnergyMarket.Balances memory balances = MARKET.balancesOf(owner);
        uint256 balance = asset == IEnergyMarket.Asset.Stablecoin
            ? balances.stablecoin
            : asset == IEnergyMarket.Asset.EnergyCredit ? balances.creditsWh : balances.carbonGrams;
        if (balance == 0) return;
        vm.prank(owner);
        MARKET.withdraw(asset, _bound(amount, 1, balance));
    }

    /// @dev The owner of a random meter places or replaces its order; one in eight has a validity window
    /// that starts around now (and half of those an end).
    function placeOrder(uint256 meterSeed, uint256 seed, uint64 floor, uint64 ceiling, uint32 capWh)
        external
        useTime
    {
        seed = _spread(seed);
        address meter = meters[meterSeed % METERS];
        IEnergyMarket.OrderParams memory params;
        params.sells = seed & 1 == 1 || seed & 3 == 0;
        params.buys = seed & 2 == 2;
        params.sellFloor = uint64(_bound(floor, 0, MAX_PRICE * 2 / 3));
        params.buyCeiling = uint64(_bound(ceiling, MAX_PRICE / 3, MAX_PRICE + 100_000));
        params.capWh = (seed >> 2) % 3 == 0 ? uint32(_bound(capWh, 1, 5000)) : 0;
        params.coverFromCredits = (seed >> 4) & 1 == 1;
        if ((seed >> 5) % 8 == 0) {
            params.validFrom =
                uint40(_bound(seed >> 8, currentTime - 2 * INTERVAL, currentTime + 2 * INTERVAL));
            if ((seed >> 48) & 1 == 1) {
                params.validUntil =
                    uint40(_bound(seed >> 56, params.validFrom, params.validFrom + 8 * INTERVAL));
            }
        }
        vm.prank(owners[meterOwner[meterSeed % METERS]]);
        MARKET.placeOrder(meter, params);
    }

    /// @dev One call in four cancels a meter's order (the owner places a new one later).
    function cancelOrder(uint256 meterSeed) external useTime {
        if (meterSeed % 4 != 0) return;
        address meter = meters[(meterSeed >> 2) % METERS];
        if (!MARKET.orderOf(meter).sells && !MARKET.orderOf(meter).buys) return;
        vm.prank(owners[meterOwner[(meterSeed >> 2) % METERS]]);
        MARKET.cancelOrder(meter);
    }

    function setFees(uint64 networkFee, uint16 keeperBps) external {
        vm.prank(OPERATOR);
        MARKET.setNetworkFee(uint64(_bound(networkFee, 0, 100_000)));
        vm.prank(ADMIN);
        MARKET.setKeeperFee(uint16(_bound(keeperBps, 0, 1000)));
    }

    function setCarbonIntensity(uint16 gramsPerKwh) external {
        vm.prank(ADMIN);
        MARKET.setCarbonIntensity(uint16(_bound(gramsPerKwh, 0, 1200)));
    }

    /// @dev Mostly to just after the next interval boundary, as the clock of a keeper that settles each
    /// interval once its readings are in; sometimes a few minutes to half an hour; one call in sixteen
    /// jumps past the acceptance window.
    function warp(uint256 seed) external {
        seed = _spread(seed);
        if (seed % 16 == 0) currentTime += MARKET.acceptanceWindow() + INTERVAL;
        else if (seed % 4 == 0) currentTime += _bound(seed >> 8, 60, 2 * INTERVAL);
        else currentTime += INTERVAL - currentTime % INTERVAL + _bound(seed >> 8, 0, 120);
    }

    // ---------------------------------------------------------------- views for the invariants

    function sumVaults() external view returns (uint256 stablecoin, uint256 creditsWh, uint256 carbonGrams) {
        for (uint256 i; i < OWNERS; ++i) {
            IEnergyMarket.Balances memory balances = MARKET.balancesOf(owners[i]);
            stablecoin += balances.stablecoin;
            creditsWh += balances.creditsWh;
            carbonGrams += balances.carbonGrams;
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev Which interval the batch settles, at what price, and whether it ignores the orders' limits.
    function _draft(uint256 priceSeed, uint256 seed) internal view returns (Draft memory draft) {
        uint256 latestEnd = currentTime - currentTime % INTERVAL;
        // Mostly the interval that just ended; one batch in four is for one or two intervals before (a
        // late batch, a take-over of an interval a keeper left open, an owner's later interval traded).
        uint256 age = seed % 4 == 0 ? (seed >> 3) % 3 : 0;
        uint256 end = latestEnd - age * INTERVAL;
        draft.end = end;
        draft.t = uint64(end / INTERVAL - 1);
        draft.price = uint64(_bound(priceSeed, 0, MAX_PRICE));
        (draft.fee,) = MARKET.networkFee();
        draft.ignoreLimits = (seed >> 9) % 8 == 0;
    }

    /// @dev Picks each meter's side and volume, then trims the longer side until bought equals sold.
    function _buildFills(Draft memory draft, uint256 seed) internal {
        delete _fills;
        uint256[OWNERS] memory side; // 0 none, 1 sells, 2 buys in this batch
        uint256[OWNERS] memory money;
        for (uint256 o; o < OWNERS; ++o) {
            money[o] = MARKET.balancesOf(owners[o]).stablecoin;
        }
        // Start at a random meter, so that either of erin's meters may take her side of the batch.
        for (uint256 k; k < METERS; ++k) {
            uint256 i = (k + seed) % METERS;
            uint256 entropy = uint256(keccak256(abi.encode(seed, "fill", i)));
            // Half of the batches take each meter with probability 7/8, the other half 1/2, so that later
            // batches of an interval find meters left to trade (and owners with a side already taken).
            if (entropy % ((seed >> 100) & 1 == 0 ? 8 : 2) == 0) continue;
            (bool buy, uint256 wh) = _pick(draft, i, side[meterOwner[i]], money[meterOwner[i]], entropy);
            if (wh == 0) continue;
            side[meterOwner[i]] = buy ? 2 : 1;
            if (buy) {
                money[meterOwner[i]] -= _cost(wh, draft.price, draft.fee);
                draft.boughtWh += wh;
            } else {
                draft.soldWh += wh;
            }
            _fills.push(Planned({meter: meters[i], buy: buy, wh: uint32(wh)}));
        }
        // Trim the longer side, last fills first.
        uint256 target = draft.soldWh < draft.boughtWh ? draft.soldWh : draft.boughtWh;
        uint256 keptSold;
        uint256 keptBought;
        for (uint256 k; k < _fills.length; ++k) {
            Planned storage fill = _fills[k];
            uint256 kept = fill.buy ? keptBought : keptSold;
            uint256 wh = fill.wh < target - kept ? fill.wh : target - kept;
            fill.wh = uint32(wh);
            if (fill.buy) keptBought += wh;
            else keptSold += wh;
        }
    }

    /// @dev The side and volume of meter `i`, or zero Wh when it cannot trade in this batch.
    function _pick(Draft memory draft, uint256 i, uint256 ownerSide, uint256 money, uint256 entropy)
        internal
        view
        returns (bool buy, uint256 wh)
    {
        IMeterRegistry.MeterState memory state = MARKET.meterState(meters[i]);
        if (state.pending != IMeterRegistry.Pending.Marketable || state.lastIntervalEnd != draft.end) {
            return (false, 0);
        }
        IEnergyMarket.OrderParams memory order = MARKET.orderOf(meters[i]);
        if (!_isLive(order, draft.end)) return (false, 0);
        bool canSell = order.sells && state.pendingExportWh != 0
            && (draft.ignoreLimits || draft.price >= order.sellFloor);
        bool canBuy = order.buys && state.pendingImportWh != 0
            && (draft.ignoreLimits || uint256(draft.price) + draft.fee <= order.buyCeiling);
        if (ownerSide == 1) canBuy = false;
        if (ownerSide == 2) canSell = false;
        if (canSell && canBuy) canSell = (entropy >> 8) & 1 == 1;
        if (!canSell && !canBuy) return (false, 0);
        buy = !canSell;
        uint256 limit = buy ? state.pendingImportWh : state.pendingExportWh;
        if (order.capWh != 0 && order.capWh < limit) limit = order.capWh;
        if (buy) {
            uint256 unitPrice = uint256(draft.price) + draft.fee;
            // Rounded up per fill, so keep one unit of headroom.
            uint256 affordable = unitPrice == 0 ? limit : (money == 0 ? 0 : (money - 1) * 1000 / unitPrice);
            if (affordable < limit) limit = affordable;
        }
        if (limit == 0) return (false, 0);
        wh = _bound(entropy >> 16, 1, limit);
    }

    function _isLive(IEnergyMarket.OrderParams memory order, uint256 end) internal pure returns (bool) {
        if (!order.sells && !order.buys) return false;
        if (end - INTERVAL < order.validFrom) return false;
        return order.validUntil == 0 || end <= order.validUntil;
    }

    /// @dev The non-zero fills, sorted by meter.
    function _sortedFills() internal view returns (Planned[] memory fills) {
        uint256 count;
        for (uint256 k; k < _fills.length; ++k) {
            if (_fills[k].wh != 0) ++count;
        }
        fills = new Planned[](count);
        count = 0;
        for (uint256 k; k < _fills.length; ++k) {
            if (_fills[k].wh == 0) continue;
            Planned memory current = _fills[k];
            uint256 j = count++;
            while (j > 0 && fills[j - 1].meter > current.meter) {
                fills[j] = fills[j - 1];
                --j;
            }
            fills[j] = current;
        }
    }

    function _packed(Planned[] memory fills) internal pure returns (uint256[] memory packed) {
        packed = new uint256[](fills.length);
        for (uint256 k; k < fills.length; ++k) {
            packed[k] = Fills.pack(fills[k].meter, fills[k].buy, fills[k].wh);
        }
    }

    function _before(address keeper, IEnergyMarket.IntervalStatus status)
        internal
        view
        returns (Before memory before)
    {
        before.status = status;
        before.operatorWallet = STABLECOIN.balanceOf(OPERATOR);
        before.keeperWallet = STABLECOIN.balanceOf(keeper);
        (before.vaults,,) = this.sumVaults();
        before.intensity = MARKET.carbonIntensity();
    }

    /// @dev After a successful batch: limits kept, money conserved, no owner on both sides of `t`.
    function _checkBatch(Draft memory draft, Planned[] memory fills, address keeper, Before memory before)
        internal
    {
        (uint64 fee,) = MARKET.networkFee();
        for (uint256 k; k < fills.length; ++k) {
            IEnergyMarket.OrderParams memory order = _ordersBefore[fills[k].meter];
            if (fills[k].buy) {
                if (!order.buys || uint256(draft.price) + fee > order.buyCeiling) ++ghostLimitBreaches;
            } else {
                if (!order.sells || draft.price < order.sellFloor) ++ghostLimitBreaches;
            }
            uint256 owner;
            for (uint256 i; i < METERS; ++i) {
                if (meters[i] == fills[k].meter) owner = meterOwner[i];
            }
            _sides[draft.t][owner] |= fills[k].buy ? 2 : 1;
            if (_sides[draft.t][owner] == 3) ++ghostBothSides;
            if (draft.t > _latestTraded[owner]) _latestTraded[owner] = draft.t;
        }
        ghostFillsSettled += fills.length;
        (uint256 vaults,,) = this.sumVaults();
        uint256 feesPaid = STABLECOIN.balanceOf(OPERATOR) - before.operatorWallet
            + STABLECOIN.balanceOf(keeper) - before.keeperWallet;
        if (vaults + feesPaid != before.vaults) ++ghostMoneyLeaks;
    }

    /// @dev Adds the records of the market's `MetersSettled` events in `logs` to the ghost totals.
    function _collect(Vm.Log[] memory logs, uint16 intensity) internal {
        SettlementRecords.Record[] memory records = _records(logs);
        for (uint256 i; i < records.length; ++i) {
            SettlementRecords.Record memory r = records[i];
            uint256 sold = r.bought ? 0 : r.tradedWh;
            if (r.bought) ghostBought[r.meter] += r.tradedWh;
            else ghostSold[r.meter] += sold;
            ghostCredited[r.meter] += r.creditedWh;
            ghostCovered[r.meter] += r.coveredWh;
            ghostGridSupplied[r.meter] += r.gridSuppliedWh;
            ghostCreditsMinted += r.creditedWh;
            ghostCreditsBurned += r.coveredWh;
            ghostCarbonExpected += (sold + r.creditedWh) * intensity / 1000;
            ghostCarbonEmitted += r.carbonGrams;
        }
    }

    /// @dev Every record of the market's `MetersSettled` events in `logs`, in order.
    function _records(Vm.Log[] memory logs) internal view returns (SettlementRecords.Record[] memory all) {
        bytes32[] memory words = new bytes32[](0);
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(MARKET)
                    || logs[i].topics[0] != IEnergyMarket.MetersSettled.selector
            ) {
                continue;
            }
            bytes32[] memory more = abi.decode(logs[i].data, (bytes32[]));
            bytes32[] memory joined = new bytes32[](words.length + more.length);
            for (uint256 k; k < words.length; ++k) {
                joined[k] = words[k];
            }
            for (uint256 k; k < more.length; ++k) {
                joined[words.length + k] = more[k];
            }
            words = joined;
        }
        return SettlementRecords.decodeAll(words);
    }

    /// @dev Whether `meter`'s pending volumes may be settled as residuals now, by the rules of `finalize`.
    function _isFinal(address meter) internal view returns (bool) {
        IMeterRegistry.MeterState memory state = MARKET.meterState(meter);
        if (state.pending == IMeterRegistry.Pending.ResidualOnly) return true;
        if (state.pending == IMeterRegistry.Pending.None) return false;
        if (uint256(state.lastIntervalEnd) + MARKET.acceptanceWindow() < currentTime) return true;
        uint64 t = uint64(state.lastIntervalEnd / INTERVAL - 1);
        return MARKET.interval(t).status == IEnergyMarket.IntervalStatus.Settled;
    }

    function _settledIn(Vm.Log[] memory logs, address meter) internal view returns (bool) {
        SettlementRecords.Record[] memory records = _records(logs);
        for (uint256 i; i < records.length; ++i) {
            if (records[i].meter == meter) return true;
        }
        return false;
    }

    /// @dev Spreads a fuzzed seed over all 256 bits: the fuzzer favours small and edge values, whose high
    /// bits (which pick the branches here) would always be zero.
    function _spread(uint256 seed) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed)));
    }

    function _cost(uint256 wh, uint256 price, uint256 fee) internal pure returns (uint256) {
        return (wh * (price + fee) + 999) / 1000;
    }

    function _token(IEnergyMarket.Asset asset) internal view returns (IERC20) {
        if (asset == IEnergyMarket.Asset.Stablecoin) return STABLECOIN;
        return asset == IEnergyMarket.Asset.EnergyCredit ? IERC20(address(ENERGY)) : IERC20(address(CARBON));
    }
}
