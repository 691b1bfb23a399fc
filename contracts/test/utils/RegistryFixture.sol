// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "./ReadingSigning.sol";
import {SettlementAssertions} from "./SettlementAssertions.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice A deployed market, seen as the meter registry it is, with two owners and four meters. Meters
/// A, B (alice) and C (bob) got their baseline reading (seq 1, interval ending at T0) in `setUp`, which
/// runs as its own transaction, so tests start one interval later with cold storage and empty transient
/// storage. Meter D (bob) is registered but has no reading yet. A meter's capacity bounds each delta:
/// one interval allows `capacityW / 4` Wh (A 1,250, B 750, C 2,750, D 1,437).
abstract contract RegistryFixture is SettlementAssertions {
    uint32 internal constant INTERVAL = 900;
    uint40 internal constant WINDOW = 2 days;
    uint16 internal constant INTENSITY = 400;
    /// @dev 2026-01-01T00:00:00Z, a multiple of 900 s.
    uint40 internal constant T0 = 1_767_225_600;

    uint48 internal constant A_IMPORT = 1_000_000;
    uint48 internal constant A_EXPORT = 5_000_000;
    uint48 internal constant B_IMPORT = 20_000;
    uint48 internal constant B_EXPORT = 30_000;
    uint48 internal constant C_IMPORT = 777_777;
    uint48 internal constant C_EXPORT = 0;

    uint32 internal constant A_CAPACITY_W = 5000;
    uint32 internal constant B_CAPACITY_W = 3000;
    uint32 internal constant C_CAPACITY_W = 11_000;
    uint32 internal constant D_CAPACITY_W = 5750;

    IMeterRegistry.Pending internal constant NONE = IMeterRegistry.Pending.None;
    IMeterRegistry.Pending internal constant MARKETABLE = IMeterRegistry.Pending.Marketable;
    IMeterRegistry.Pending internal constant RESIDUAL = IMeterRegistry.Pending.ResidualOnly;

    EnergyCredit internal energy;
    CarbonCredit internal carbon;
    MockStablecoin internal stablecoin;
    /// @dev The market is the registry: readings, meters and participants live in it, and `finalize`
    /// settles what the readings left pending.
    EnergyMarket internal registry;

    address internal admin = makeAddr("admin");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    address internal meterA;
    uint256 internal meterAKey;
    address internal meterB;
    uint256 internal meterBKey;
    address internal meterC;
    uint256 internal meterCKey;
    address internal meterD;
    uint256 internal meterDKey;

    function setUp() public virtual {
        vm.warp(T0);
        (meterA, meterAKey) = makeAddrAndKey("meter-A");
        (meterB, meterBKey) = makeAddrAndKey("meter-B");
        (meterC, meterCKey) = makeAddrAndKey("meter-C");
        (meterD, meterDKey) = makeAddrAndKey("meter-D");

        energy = new EnergyCredit(admin);
        carbon = new CarbonCredit(admin);
        stablecoin = new MockStablecoin(admin);
        registry = new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);

        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), address(registry));
        carbon.grantRole(carbon.MINTER_ROLE(), address(registry));
        registry.registerParticipant(alice);
        registry.registerParticipant(bob);
        registry.registerMeter(meterA, alice, 7, MeterKinds.SOLAR | MeterKinds.BATTERY, A_CAPACITY_W);
        registry.registerMeter(meterB, alice, 7, MeterKinds.SOLAR, B_CAPACITY_W);
        registry.registerMeter(meterC, bob, 8, MeterKinds.EV, C_CAPACITY_W);
        registry.registerMeter(meterD, bob, 8, 0, D_CAPACITY_W);
        vm.stopPrank();

        IMeterRegistry.Reading[] memory baselines = new IMeterRegistry.Reading[](3);
        baselines[0] = _sign(meterAKey, meterA, 1, T0, A_IMPORT, A_EXPORT);
        baselines[1] = _sign(meterBKey, meterB, 1, T0, B_IMPORT, B_EXPORT);
        baselines[2] = _sign(meterCKey, meterC, 1, T0, C_IMPORT, C_EXPORT);
        require(registry.submitReadings(baselines) == 3, "fixture: baselines not accepted");

        vm.warp(T0 + INTERVAL);
    }

    /// @dev A reading signed with `key` (normally the meter's own).
    function _sign(
        uint256 key,
        address meter,
        uint32 seq,
        uint40 intervalEnd,
        uint48 importWh,
        uint48 exportWh
    ) internal view returns (IMeterRegistry.Reading memory) {
        IMeterRegistry.Reading memory reading = IMeterRegistry.Reading({
            meter: meter,
            seq: seq,
            intervalEnd: intervalEnd,
            importWh: importWh,
            exportWh: exportWh,
            r: bytes32(0),
            vs: bytes32(0)
        });
        return ReadingSigning.sign(address(registry), key, reading);
    }

    /// @dev The largest delta (Wh) a meter of `capacityW` may report over `seconds`: the capacity bound,
    /// rounded down.
    function _maxDeltaWh(uint32 capacityW, uint256 seconds_) internal pure returns (uint48) {
        return SafeCast.toUint48(uint256(capacityW) * seconds_ / 3600);
    }

    function _one(IMeterRegistry.Reading memory reading)
        internal
        pure
        returns (IMeterRegistry.Reading[] memory batch)
    {
        batch = new IMeterRegistry.Reading[](1);
        batch[0] = reading;
    }

    function _two(IMeterRegistry.Reading memory first, IMeterRegistry.Reading memory second)
        internal
        pure
        returns (IMeterRegistry.Reading[] memory batch)
    {
        batch = new IMeterRegistry.Reading[](2);
        batch[0] = first;
        batch[1] = second;
    }

    function _submit(IMeterRegistry.Reading memory reading) internal returns (uint256) {
        return registry.submitReadings(_one(reading));
    }

    function _meters(address meter) internal pure returns (address[] memory meters) {
        meters = new address[](1);
        meters[0] = meter;
    }

    /// @dev Settles `meter`'s pending volumes as residuals; returns how many meters were settled (0 or 1).
    function _finalize(address meter) internal returns (uint256) {
        return registry.finalize(_meters(meter));
    }

    /// @dev The interval that ends at `intervalEnd`.
    function _intervalOf(uint40 intervalEnd) internal pure returns (uint64) {
        return uint64(intervalEnd / INTERVAL - 1);
    }

    /// @dev Asserts that `reading`, submitted alone, is rejected for `reason` and changes nothing: same
    /// meter state, no credit minted, exactly one log (the rejection).
    function _assertRejected(IMeterRegistry.Reading memory reading, IMeterRegistry.RejectReason reason)
        internal
    {
        bytes memory stateBefore = abi.encode(registry.meterState(reading.meter));
        uint256 energySupply = energy.totalSupply();
        uint256 carbonSupply = carbon.totalSupply();

        vm.recordLogs();
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(reading.meter, reading.seq, reason);
        assertEq(_submit(reading), 0, "accepted count");

        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 registryLogs;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(registry)) continue;
            ++registryLogs;
            assertEq(logs[i].topics[0], IMeterRegistry.ReadingRejected.selector, "not a rejection");
        }
        assertEq(registryLogs, 1, "one registry log");
        assertEq(abi.encode(registry.meterState(reading.meter)), stateBefore, "state changed");
        assertEq(energy.totalSupply(), energySupply, "energy minted");
        assertEq(carbon.totalSupply(), carbonSupply, "carbon minted");
    }

    /// @dev Asserts every member of `meter`'s state, pending volumes and their kind included.
    function _assertState(
        address meter,
        uint8 status,
        uint32 seq,
        uint40 lastIntervalEnd,
        uint48 importWh,
        uint48 exportWh,
        uint32 pendingImportWh,
        uint32 pendingExportWh,
        IMeterRegistry.Pending pending
    ) internal view {
        IMeterRegistry.MeterState memory state = registry.meterState(meter);
        assertEq(state.status, status, "status");
        assertEq(state.seq, seq, "seq");
        assertEq(state.lastIntervalEnd, lastIntervalEnd, "lastIntervalEnd");
        assertEq(state.importWh, importWh, "importWh");
        assertEq(state.exportWh, exportWh, "exportWh");
        _assertPending(meter, pendingImportWh, pendingExportWh, pending);
    }

    /// @dev Asserts `meter`'s pending volumes and what they may be used for.
    function _assertPending(
        address meter,
        uint32 pendingImportWh,
        uint32 pendingExportWh,
        IMeterRegistry.Pending pending
    ) internal view {
        IMeterRegistry.MeterState memory state = registry.meterState(meter);
        assertEq(state.pendingImportWh, pendingImportWh, "pendingImportWh");
        assertEq(state.pendingExportWh, pendingExportWh, "pendingExportWh");
        assertEq(uint8(state.pending), uint8(pending), "pending kind");
    }

    /// @dev Asserts `account`'s vault credits and carbon.
    function _assertVault(address account, uint256 creditsWh, uint256 carbonGrams) internal view {
        IEnergyMarket.Balances memory balances = registry.balancesOf(account);
        assertEq(balances.creditsWh, creditsWh, "vault creditsWh");
        assertEq(balances.carbonGrams, carbonGrams, "vault carbonGrams");
    }
}
