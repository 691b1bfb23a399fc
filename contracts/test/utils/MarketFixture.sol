// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {Fills} from "../../src/libraries/Fills.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "./ReadingSigning.sol";
import {SettlementAssertions} from "./SettlementAssertions.sol";

/// @notice A deployed market with five participants, six meters, funded vaults and standing orders:
/// - alice (meter `alicePv`) sells at 0.20 $/kWh or more;
/// - bob (meter `bobPv`) sells at 0.22 $/kWh or more, at most 3,000 Wh an interval;
/// - carol (meter `carolHome`) buys up to 0.32 $/kWh (network fee included);
/// - dave (meter `daveHome`) buys up to 0.30 $/kWh and covers unbought import from his energy credits;
/// - erin owns two meters: `erinPv` sells at 0.15 $/kWh or more, `erinEv` buys up to 0.40 $/kWh.
/// Every meter got its baseline reading (seq 1, interval ending at `T0`) in `setUp`, which runs as its own
/// transaction: tests start at `T1`, one interval later, with cold storage and empty transient storage.
/// The grid operator charges `FEE` per kWh bought and the keeper fee is `KEEPER_BPS`.
abstract contract MarketFixture is SettlementAssertions {
    uint32 internal constant INTERVAL = 900;
    uint40 internal constant WINDOW = 2 days;
    uint16 internal constant INTENSITY = 400;
    /// @dev 2026-01-01T00:00:00Z, a multiple of 900 s: the end of the baseline interval.
    uint40 internal constant T0 = 1_767_225_600;
    /// @dev The end of the first trading interval, `T` (which covers `[T0, T1)`).
    uint40 internal constant T1 = T0 + INTERVAL;
    uint40 internal constant T2 = T1 + INTERVAL;
    uint64 internal constant T = T0 / INTERVAL;
    /// @dev 20 kW connections: up to 5,000 Wh per 15-minute interval.
    uint32 internal constant CAPACITY_W = 20_000;
    uint48 internal constant MAX_WH_PER_INTERVAL = 5000;

    /// @dev Prices in stablecoin base units (6 decimals) per kWh.
    uint64 internal constant PRICE = 250_000;
    uint64 internal constant FEE = 30_000;
    uint16 internal constant KEEPER_BPS = 50;
    uint64 internal constant ALICE_FLOOR = 200_000;
    uint64 internal constant BOB_FLOOR = 220_000;
    uint32 internal constant BOB_CAP = 3000;
    uint64 internal constant CAROL_CEILING = 320_000;
    uint64 internal constant DAVE_CEILING = 300_000;
    uint64 internal constant ERIN_FLOOR = 150_000;
    uint64 internal constant ERIN_CEILING = 400_000;
    /// @dev What each participant holds in its vault after `setUp`.
    uint256 internal constant FUNDS = 1000e6;
    /// @dev Energy credits dave holds in his vault after `setUp` (Wh).
    uint256 internal constant DAVE_CREDITS = 400;

    EnergyCredit internal energy;
    CarbonCredit internal carbon;
    MockStablecoin internal stablecoin;
    EnergyMarket internal market;

    address internal admin = makeAddr("admin");
    address internal keeper = makeAddr("keeper");
    address internal rivalKeeper = makeAddr("rival keeper");
    address internal gridOperator = makeAddr("grid operator");
    /// @dev Holds `MINTER_ROLE` on both credit tokens, to hand participants tokens to deposit.
    address internal minter = makeAddr("minter");
    address internal stranger = makeAddr("stranger");

    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal dave = makeAddr("dave");
    address internal erin = makeAddr("erin");

    address internal alicePv;
    address internal bobPv;
    address internal carolHome;
    address internal daveHome;
    address internal erinPv;
    address internal erinEv;

    /// @dev What the tests know about a meter's last accepted reading, to sign the next one.
    struct MeterTrack {
        uint256 key;
        uint32 seq;
        uint48 importWh;
        uint48 exportWh;
    }

    mapping(address meter => MeterTrack track) internal tracks;
    address[] internal allMeters;

    function setUp() public virtual {
        vm.warp(T0);
        energy = new EnergyCredit(admin);
        carbon = new CarbonCredit(admin);
        stablecoin = new MockStablecoin(admin);
        market = _deployMarket();

        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), address(market));
        carbon.grantRole(carbon.MINTER_ROLE(), address(market));
        energy.grantRole(energy.MINTER_ROLE(), minter);
        carbon.grantRole(carbon.MINTER_ROLE(), minter);
        market.grantRole(market.KEEPER_ROLE(), keeper);
        market.grantRole(market.KEEPER_ROLE(), rivalKeeper);
        market.grantRole(market.GRID_OPERATOR_ROLE(), gridOperator);
        market.setKeeperFee(KEEPER_BPS);
        vm.stopPrank();
        vm.prank(gridOperator);
        market.setNetworkFee(FEE);

        alicePv = _addMeter(alice, "alice-pv", MeterKinds.SOLAR);
        bobPv = _addMeter(bob, "bob-pv", MeterKinds.SOLAR | MeterKinds.BATTERY);
        carolHome = _addMeter(carol, "carol-home", 0);
        daveHome = _addMeter(dave, "dave-home", MeterKinds.EV);
        erinPv = _addMeter(erin, "erin-pv", MeterKinds.SOLAR);
        erinEv = _addMeter(erin, "erin-ev", MeterKinds.EV);

        address[5] memory participants = [alice, bob, carol, dave, erin];
        for (uint256 i; i < participants.length; ++i) {
            _fund(participants[i], FUNDS);
        }
        _mintCredits(dave, DAVE_CREDITS);
        vm.startPrank(dave);
        energy.approve(address(market), DAVE_CREDITS);
        market.deposit(IEnergyMarket.Asset.EnergyCredit, DAVE_CREDITS);
        vm.stopPrank();

        _placeOrder(alicePv, _sellOrder(ALICE_FLOOR));
        IEnergyMarket.OrderParams memory bobOrder = _sellOrder(BOB_FLOOR);
        bobOrder.capWh = BOB_CAP;
        _placeOrder(bobPv, bobOrder);
        _placeOrder(carolHome, _buyOrder(CAROL_CEILING));
        IEnergyMarket.OrderParams memory daveOrder = _buyOrder(DAVE_CEILING);
        daveOrder.coverFromCredits = true;
        _placeOrder(daveHome, daveOrder);
        _placeOrder(erinPv, _sellOrder(ERIN_FLOOR));
        _placeOrder(erinEv, _buyOrder(ERIN_CEILING));

        IMeterRegistry.Reading[] memory baselines = new IMeterRegistry.Reading[](allMeters.length);
        for (uint256 i; i < allMeters.length; ++i) {
            baselines[i] = _nextReading(allMeters[i], T0, 0, 0);
        }
        require(market.submitReadings(baselines) == allMeters.length, "fixture: baselines");
        vm.warp(T1);
    }

    /// @dev The market under test; a test suite may deploy a harness of it instead.
    function _deployMarket() internal virtual returns (EnergyMarket) {
        return new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
    }

    // ---------------------------------------------------------------- participants, meters, orders

    /// @dev Registers `owner` (unless it is already) and a meter named `name` it owns.
    function _addMeter(address owner, string memory name, uint8 kinds) internal returns (address meter) {
        uint256 key;
        (meter, key) = makeAddrAndKey(name);
        vm.startPrank(admin);
        if (market.participantId(owner) == 0) market.registerParticipant(owner);
        market.registerMeter(meter, owner, 1, kinds, CAPACITY_W);
        vm.stopPrank();
        // Registers start high, as a meter's do after years of service.
        tracks[meter] = MeterTrack({key: key, seq: 0, importWh: 3_000_000, exportWh: 1_000_000});
        allMeters.push(meter);
    }

    /// @dev Mints `amount` stablecoin to `account` and deposits it into its vault (nothing for zero).
    function _fund(address account, uint256 amount) internal {
        if (amount == 0) return;
        vm.prank(admin);
        stablecoin.mint(account, amount);
        vm.startPrank(account);
        stablecoin.approve(address(market), amount);
        market.deposit(IEnergyMarket.Asset.Stablecoin, amount);
        vm.stopPrank();
    }

    function _mintCredits(address account, uint256 wh) internal {
        vm.prank(minter);
        energy.mint(account, wh);
    }

    function _mintCarbon(address account, uint256 grams) internal {
        vm.prank(minter);
        carbon.mint(account, grams);
    }

    function _sellOrder(uint64 floor) internal pure returns (IEnergyMarket.OrderParams memory params) {
        params.sells = true;
        params.sellFloor = floor;
    }

    function _buyOrder(uint64 ceiling) internal pure returns (IEnergyMarket.OrderParams memory params) {
        params.buys = true;
        params.buyCeiling = ceiling;
    }

    function _placeOrder(address meter, IEnergyMarket.OrderParams memory params) internal {
        vm.prank(market.meterInfo(meter).owner);
        market.placeOrder(meter, params);
    }

    // ---------------------------------------------------------------- readings

    /// @dev The next reading of `meter` for the interval ending at `intervalEnd`, with its registers grown
    /// by the given volumes, signed by the meter's key. Advances the tracked seq and registers: submit it.
    function _nextReading(address meter, uint40 intervalEnd, uint48 importWh, uint48 exportWh)
        internal
        returns (IMeterRegistry.Reading memory reading)
    {
        MeterTrack storage track = tracks[meter];
        require(track.key != 0, "fixture: unknown meter");
        track.seq += 1;
        track.importWh += importWh;
        track.exportWh += exportWh;
        reading = IMeterRegistry.Reading({
            meter: meter,
            seq: track.seq,
            intervalEnd: intervalEnd,
            importWh: track.importWh,
            exportWh: track.exportWh,
            r: bytes32(0),
            vs: bytes32(0)
        });
        reading = ReadingSigning.sign(address(market), track.key, reading);
    }

    /// @dev Submits (and requires accepted) `meter`'s reading for the interval ending at `intervalEnd`.
    function _attest(address meter, uint40 intervalEnd, uint48 importWh, uint48 exportWh) internal {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](1);
        batch[0] = _nextReading(meter, intervalEnd, importWh, exportWh);
        require(market.submitReadings(batch) == 1, "fixture: reading rejected");
    }

    /// @dev Every meter's reading for the interval ending at `intervalEnd`, in one batch; volumes in the
    /// order of `allMeters` (alicePv, bobPv, carolHome, daveHome, erinPv, erinEv).
    function _attestAll(uint40 intervalEnd, uint48[6] memory importWh, uint48[6] memory exportWh) internal {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](allMeters.length);
        for (uint256 i; i < allMeters.length; ++i) {
            batch[i] = _nextReading(allMeters[i], intervalEnd, importWh[i], exportWh[i]);
        }
        require(market.submitReadings(batch) == allMeters.length, "fixture: readings rejected");
    }

    /// @dev The interval that ends at `intervalEnd`.
    function _intervalOf(uint40 intervalEnd) internal pure returns (uint64) {
        return uint64(intervalEnd / INTERVAL - 1);
    }

    // ---------------------------------------------------------------- fills and settlement

    function _sell(address meter, uint32 wh) internal pure returns (uint256) {
        return Fills.pack(meter, false, wh);
    }

    function _buy(address meter, uint32 wh) internal pure returns (uint256) {
        return Fills.pack(meter, true, wh);
    }

    /// @dev `fills` sorted by meter address, ascending, as `settle` requires (insertion sort, in place).
    function _sorted(uint256[] memory fills) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < fills.length; ++i) {
            uint256 current = fills[i];
            uint256 j = i;
            while (j > 0 && Fills.meterOf(fills[j - 1]) > Fills.meterOf(current)) {
                fills[j] = fills[j - 1];
                --j;
            }
            fills[j] = current;
        }
        return fills;
    }

    function _fills(uint256 a) internal pure returns (uint256[] memory fills) {
        fills = new uint256[](1);
        fills[0] = a;
    }

    function _fills(uint256 a, uint256 b) internal pure returns (uint256[] memory fills) {
        fills = new uint256[](2);
        fills[0] = a;
        fills[1] = b;
        return _sorted(fills);
    }

    function _fills(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory fills) {
        fills = new uint256[](3);
        fills[0] = a;
        fills[1] = b;
        fills[2] = c;
        return _sorted(fills);
    }

    function _fills(uint256 a, uint256 b, uint256 c, uint256 d)
        internal
        pure
        returns (uint256[] memory fills)
    {
        fills = new uint256[](4);
        fills[0] = a;
        fills[1] = b;
        fills[2] = c;
        fills[3] = d;
        return _sorted(fills);
    }

    function _noFills() internal pure returns (uint256[] memory) {
        return new uint256[](0);
    }

    function _settle(uint64 t, uint64 price, uint256[] memory fills, bool closing) internal {
        vm.prank(keeper);
        market.settle(t, price, fills, closing);
    }

    function _meters(address a) internal pure returns (address[] memory meters) {
        meters = new address[](1);
        meters[0] = a;
    }

    function _meters(address a, address b) internal pure returns (address[] memory meters) {
        meters = new address[](2);
        meters[0] = a;
        meters[1] = b;
    }

    // ---------------------------------------------------------------- money

    /// @dev What a buyer pays for `wh` at `price` plus `fee`: rounded up.
    function _cost(uint256 wh, uint256 price, uint256 fee) internal pure returns (uint256) {
        return (wh * (price + fee) + 999) / 1000;
    }

    /// @dev What a seller earns for `wh` at `price` after a keeper fee of `bps`: both rounded down.
    function _earned(uint256 wh, uint256 price, uint256 bps) internal pure returns (uint256) {
        uint256 value = wh * price / 1000;
        return value - value * bps / 10_000;
    }

    function _vault(address account) internal view returns (uint256) {
        return market.balancesOf(account).stablecoin;
    }

    function _credits(address account) internal view returns (uint256) {
        return market.balancesOf(account).creditsWh;
    }

    function _carbonOf(address account) internal view returns (uint256) {
        return market.balancesOf(account).carbonGrams;
    }
}
