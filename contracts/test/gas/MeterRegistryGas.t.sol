// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "../utils/ReadingSigning.sol";
import {TransactionGas} from "../utils/TransactionGas.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice Gas of the reading hot path of the market (which is the meter registry), as named snapshots
/// (`snapshots/MeterRegistryGasTest.json`). Every meter got its baseline in `setUp` (an earlier
/// transaction), so each measured reading does what it does in production: one cold SLOAD and one
/// nonzero-to-nonzero SSTORE of its meter's state slot (registers and pending volumes), and one cold
/// SLOAD of its `MeterInfo` slot for the capacity bound. The measured readings directly follow their
/// baselines, so they take the marketable path, the one every interval of a healthy meter takes.
contract MeterRegistryGasTest is Test {
    uint256 internal constant METERS = 100;
    uint32 internal constant INTERVAL = 900;
    uint40 internal constant T0 = 1_767_225_600;
    uint40 internal constant T1 = T0 + INTERVAL;
    /// @dev A home's grid connection, as `cogrid bench-gas` registers it: 10 kW allows 2,500 Wh per
    /// interval, so the measured 1,750 Wh export runs the whole capacity check and passes it.
    uint32 internal constant CAPACITY_W = 10_000;

    /// @dev Execution-gas targets per reading (the brief's budget; the stretch goal is 12,000).
    uint256 internal constant BATCH_TARGET_PER_READING = 20_000;
    /// @dev Whole-transaction target for one reading: 21,000 intrinsic + calldata + execution.
    uint256 internal constant SINGLE_TX_TARGET = 45_000;

    EnergyMarket internal registry;
    uint256[METERS] internal keys;
    address[METERS] internal meters;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address owner = makeAddr("owner");
        EnergyCredit energy = new EnergyCredit(admin);
        CarbonCredit carbon = new CarbonCredit(admin);
        MockStablecoin stablecoin = new MockStablecoin(admin);
        registry = new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, 2 days, 400);

        vm.startPrank(admin);
        registry.registerParticipant(owner);
        for (uint256 i; i < METERS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("gas-meter", i)));
            meters[i] = vm.addr(keys[i]);
            registry.registerMeter(meters[i], owner, SafeCast.toUint32(i % 4), MeterKinds.SOLAR, CAPACITY_W);
        }
        vm.stopPrank();

        IMeterRegistry.Reading[] memory baselines = new IMeterRegistry.Reading[](METERS);
        for (uint256 i; i < METERS; ++i) {
            baselines[i] = _reading(i, 1, T0, 0);
        }
        require(registry.submitReadings(baselines) == METERS, "baselines");
        vm.warp(T1);
    }

    function test_GasReadingInBatchOf100() public {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](METERS);
        for (uint256 i; i < METERS; ++i) {
            batch[i] = _reading(i, 2, T1, 1);
        }
        bytes memory data = abi.encodeCall(IMeterRegistry.submitReadings, (batch));
        _warmRegistryAccount();

        vm.startSnapshotGas("reading_in_batch_of_100");
        (bool ok, bytes memory result) = address(registry).call(data);
        uint256 gasUsed = vm.stopSnapshotGas();

        assertTrue(ok, "submit reverted");
        assertEq(abi.decode(result, (uint256)), METERS, "accepted");
        IMeterRegistry.MeterState memory state = registry.meterState(meters[METERS - 1]);
        assertEq(state.pendingExportWh, 1750, "no export measured");
        assertEq(uint8(state.pending), uint8(IMeterRegistry.Pending.Marketable), "not the marketable path");
        uint256 perReading = gasUsed / METERS;
        console.log("batch of 100: execution gas", gasUsed);
        console.log("batch of 100: execution gas per reading", perReading);
        console.log("batch of 100: calldata bytes per reading", data.length / METERS);
        assertLe(perReading, BATCH_TARGET_PER_READING, "per-reading gas over budget");
    }

    function test_GasSingleReading() public {
        bytes memory data = abi.encodeCall(IMeterRegistry.submitReadings, (_one(_reading(0, 2, T1, 1))));
        _warmRegistryAccount();

        vm.startSnapshotGas("reading_single");
        (bool ok, bytes memory result) = address(registry).call(data);
        uint256 gasUsed = vm.stopSnapshotGas();

        assertTrue(ok, "submit reverted");
        assertEq(abi.decode(result, (uint256)), 1, "accepted");
        assertEq(registry.meterState(meters[0]).pendingExportWh, 1750, "no export measured");
        uint256 txGas = TransactionGas.wholeTransaction(data, gasUsed);
        console.log("single reading: execution gas", gasUsed);
        console.log("single reading: calldata bytes", data.length);
        console.log("single reading: whole transaction gas (intrinsic + calldata + execution)", txGas);
        assertLe(txGas, SINGLE_TX_TARGET, "single-reading transaction over budget");
    }

    /// @dev Reading `seq` of meter `i`, with both registers grown by `step` kWh-ish per seq.
    function _reading(uint256 i, uint32 seq, uint40 intervalEnd, uint48 step)
        internal
        view
        returns (IMeterRegistry.Reading memory reading)
    {
        uint48 base = SafeCast.toUint48(1_000_000 + i * 1000);
        reading = IMeterRegistry.Reading({
            meter: meters[i],
            seq: seq,
            intervalEnd: intervalEnd,
            importWh: base + step * 250,
            exportWh: base + step * 1750,
            r: bytes32(0),
            vs: bytes32(0)
        });
        return ReadingSigning.sign(address(registry), keys[i], reading);
    }

    function _one(IMeterRegistry.Reading memory reading)
        internal
        pure
        returns (IMeterRegistry.Reading[] memory b)
    {
        b = new IMeterRegistry.Reading[](1);
        b[0] = reading;
    }

    /// @dev In a real transaction the registry is `tx.to`, hence warm; its meter slots stay cold.
    function _warmRegistryAccount() internal view {
        registry.INTERVAL_SECONDS();
    }
}
