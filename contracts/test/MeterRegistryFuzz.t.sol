// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Vm} from "forge-std/Test.sol";

contract MeterRegistryFuzzTest is RegistryFixture {
    uint256 internal constant STEPS = 6;
    /// @dev Steps below this are within meter A's one-interval bound (1,250 Wh), so whichever earlier
    /// reading counted last, the delta since it stays within the capacity over the intervals between.
    uint256 internal constant A_STEP_RANGE = uint256(A_CAPACITY_W) * INTERVAL / 3600 + 1;

    address internal _fuzzMeter;
    uint256 internal _fuzzKey;

    /// @dev Cumulative registers from random steps within a random capacity: credits = exported Wh
    /// exactly, carbon = sum of the per-reading floors, whatever the baseline and the intensity.
    function testFuzz_AccrualsAreExact(
        uint48 baseImport,
        uint48 baseExport,
        uint64[STEPS] memory importSteps,
        uint64[STEPS] memory exportSteps,
        uint16 intensity,
        uint32 capacityW
    ) public {
        baseImport = uint48(bound(baseImport, 0, type(uint48).max / 2));
        baseExport = uint48(bound(baseExport, 0, type(uint48).max / 2));
        intensity = uint16(bound(intensity, 0, 1500));
        // Up to 4.29 GW, so steps up to 1.07 GWh: six of them cannot overflow the uint40 accruals.
        capacityW = uint32(bound(capacityW, 1, type(uint32).max));
        uint48 maxStep = _maxDeltaWh(capacityW, INTERVAL);
        _registerFuzzMeter(capacityW);
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);
        vm.warp(T0 + (STEPS + 1) * INTERVAL);

        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 1, T0, baseImport, baseExport)), 1, "baseline");
        uint48 importWh = baseImport;
        uint48 exportWh = baseExport;
        uint256 expectedCarbon;
        for (uint256 k; k < STEPS; ++k) {
            uint48 importStep = uint48(bound(importSteps[k], 0, maxStep));
            uint48 exportStep = uint48(bound(exportSteps[k], 0, maxStep));
            importWh += importStep;
            exportWh += exportStep;
            expectedCarbon += uint256(exportStep) * intensity / 1000;
            uint32 seq = SafeCast.toUint32(k + 2);
            uint40 end = SafeCast.toUint40(T0 + (k + 1) * INTERVAL);

            vm.expectEmit(address(registry));
            emit IMeterRegistry.ReadingAccepted(_fuzzMeter, seq, end, importStep, exportStep);
            assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, seq, end, importWh, exportWh)), 1);
        }

        IMeterRegistry.MeterState memory state = registry.meterState(_fuzzMeter);
        assertEq(state.unclaimedCreditsWh, exportWh - baseExport, "credits");
        assertEq(state.unclaimedCarbonGrams, expectedCarbon, "carbon");
        assertEq(state.importWh, importWh, "import register");

        registry.claim(_meters(_fuzzMeter));
        assertEq(energy.balanceOf(bob), exportWh - baseExport, "minted credits");
        assertEq(carbon.balanceOf(bob), expectedCarbon, "minted carbon");
    }

    /// @dev A gap of up to 1,000 intervals lets meter C report up to 2.75 MWh in one reading.
    function testFuzz_CarbonIsFlooredPerReading(uint48 exportDelta, uint16 intensity, uint256 gap) public {
        gap = bound(gap, 1, 1000);
        uint40 end = SafeCast.toUint40(T0 + gap * INTERVAL);
        exportDelta = uint48(bound(exportDelta, 0, _maxDeltaWh(C_CAPACITY_W, gap * INTERVAL)));
        intensity = uint16(bound(intensity, 0, 1000));
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);
        vm.warp(end);

        assertEq(_submit(_sign(meterCKey, meterC, 2, end, C_IMPORT, C_EXPORT + exportDelta)), 1);

        assertEq(registry.meterState(meterC).unclaimedCreditsWh, exportDelta);
        assertEq(registry.meterState(meterC).unclaimedCarbonGrams, uint256(exportDelta) * intensity / 1000);
    }

    /// @dev Check 9 against its specification, for any capacity, gap, deltas and intensity: a reading
    /// counts exactly when both deltas fit the capacity over the gap and the accruals fit uint40;
    /// otherwise it is rejected as `ImplausibleDelta` (never a revert) and changes nothing.
    function testFuzz_PlausibilityBoundIsExact(
        uint32 capacityW,
        uint256 gap,
        uint48 importDelta,
        uint48 exportDelta,
        uint16 intensity
    ) public {
        capacityW = uint32(bound(capacityW, 1, type(uint32).max));
        gap = bound(gap, 1, 2000);
        uint256 allowance = uint256(capacityW) * gap * INTERVAL;
        // Around the bound: up to twice the largest plausible delta (and past uint40 for large ones).
        uint256 range = allowance / 3600 * 2 + 1;
        importDelta = uint48(bound(importDelta, 0, range < type(uint48).max ? range : type(uint48).max));
        exportDelta = uint48(bound(exportDelta, 0, range < type(uint48).max ? range : type(uint48).max));
        _registerFuzzMeter(capacityW);
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);
        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 1, T0 + INTERVAL, 0, 0)), 1, "baseline");
        uint40 end = SafeCast.toUint40(T0 + (gap + 1) * INTERVAL);
        vm.warp(end);

        bool plausible = uint256(importDelta) * 3600 <= allowance && uint256(exportDelta) * 3600 <= allowance
            && exportDelta <= type(uint40).max && uint256(exportDelta) * intensity / 1000 <= type(uint40).max;
        IMeterRegistry.Reading memory reading = _sign(_fuzzKey, _fuzzMeter, 2, end, importDelta, exportDelta);
        if (plausible) {
            assertEq(_submit(reading), 1, "plausible reading rejected");
            assertEq(registry.meterState(_fuzzMeter).unclaimedCreditsWh, exportDelta);
        } else {
            _assertRejected(reading, IMeterRegistry.RejectReason.ImplausibleDelta);
        }
    }

    /// @dev Readings seq 2..9 of one meter, submitted in a random order with repeats, split into random
    /// batches of one transaction: each seq is counted at most once, exactly the readings that move seq
    /// forward are counted, and the credits telescope to last register - baseline.
    function testFuzz_RandomSeqOrderNeverDoubleCounts(uint256 seed, uint256 submissions, uint256 batches)
        public
    {
        uint256 count = 8;
        submissions = bound(submissions, 1, 24);
        batches = bound(batches, 1, 4);
        vm.warp(T0 + (count + 1) * INTERVAL);

        IMeterRegistry.Reading[] memory readings = new IMeterRegistry.Reading[](count);
        uint48 exportWh = A_EXPORT;
        uint48 importWh = A_IMPORT;
        for (uint256 k; k < count; ++k) {
            exportWh += SafeCast.toUint48(uint256(keccak256(abi.encode(seed, "export", k))) % A_STEP_RANGE);
            importWh += SafeCast.toUint48(uint256(keccak256(abi.encode(seed, "import", k))) % A_STEP_RANGE);
            readings[k] = _sign(
                meterAKey,
                meterA,
                SafeCast.toUint32(k + 2),
                SafeCast.toUint40(T0 + (k + 1) * INTERVAL),
                importWh,
                exportWh
            );
        }

        // The expected outcome: a reading counts exactly when its seq is above the last counted one.
        uint256[] memory picks = new uint256[](submissions);
        uint32 lastSeq = 1;
        uint48 lastExport = A_EXPORT;
        uint256 expectedAccepted;
        for (uint256 j; j < submissions; ++j) {
            picks[j] = uint256(keccak256(abi.encode(seed, "pick", j))) % count;
            if (readings[picks[j]].seq > lastSeq) {
                lastSeq = readings[picks[j]].seq;
                lastExport = readings[picks[j]].exportWh;
                ++expectedAccepted;
            }
        }

        vm.recordLogs();
        uint256 accepted;
        uint256 next;
        for (uint256 b; b < batches; ++b) {
            uint256 end = b + 1 == batches ? submissions : next + (submissions - next) / (batches - b);
            IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](end - next);
            for (uint256 j = next; j < end; ++j) {
                batch[j - next] = readings[picks[j]];
            }
            accepted += registry.submitReadings(batch);
            next = end;
        }

        uint256[] memory timesCounted = new uint256[](count + 2);
        uint256 exportDeltaSum;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != IMeterRegistry.ReadingAccepted.selector) continue;
            (uint32 seq,,, uint48 exportDelta) = abi.decode(logs[i].data, (uint32, uint40, uint48, uint48));
            ++timesCounted[seq];
            exportDeltaSum += exportDelta;
        }
        for (uint256 seq; seq < timesCounted.length; ++seq) {
            assertLe(timesCounted[seq], 1, "seq counted twice");
        }
        assertEq(accepted, expectedAccepted, "accepted count");
        assertEq(registry.meterState(meterA).seq, lastSeq, "last seq");
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, lastExport - A_EXPORT, "credits");
        assertEq(exportDeltaSum, lastExport - A_EXPORT, "event deltas");
    }

    /// @dev The signature covers every signed field: changing any of them after signing never counts.
    function testFuzz_TamperedReadingNeverCounts(uint256 field, uint256 flip) public {
        IMeterRegistry.Reading memory reading =
            _sign(meterAKey, meterA, 2, T0 + INTERVAL, A_IMPORT, A_EXPORT + 10);
        field = bound(field, 0, 4);
        if (field == 0) {
            reading.meter = address(uint160(reading.meter) ^ uint160(bound(flip, 1, type(uint160).max)));
        }
        if (field == 1) reading.seq ^= uint32(bound(flip, 1, type(uint32).max));
        if (field == 2) reading.intervalEnd ^= uint40(bound(flip, 1, type(uint40).max));
        if (field == 3) reading.importWh ^= uint48(bound(flip, 1, type(uint48).max));
        if (field == 4) reading.exportWh ^= uint48(bound(flip, 1, type(uint48).max));

        assertEq(_submit(reading), 0, "tampered reading counted");
        assertEq(registry.meterState(meterA).seq, 1);
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, 0);
    }

    function testFuzz_ReadingDigestMatchesHandBuilt(
        address meter,
        uint32 seq,
        uint40 intervalEnd,
        uint48 importWh,
        uint48 exportWh
    ) public view {
        IMeterRegistry.Reading memory reading = IMeterRegistry.Reading(
            meter, seq, intervalEnd, importWh, exportWh, bytes32(0), bytes32(0)
        );
        assertEq(registry.readingDigest(reading), ReadingSigning.digest(address(registry), reading));
    }

    /// @dev A word with bits outside its ABI type is malformed calldata: the whole call reverts, as the
    /// ABI decoder would, instead of being read as some other reading.
    function testFuzz_RevertWhen_CalldataWordDirty(uint256 field, uint256 dirt) public {
        IMeterRegistry.Reading memory reading =
            _sign(meterAKey, meterA, 2, T0 + INTERVAL, A_IMPORT, A_EXPORT + 10);
        bytes memory data = abi.encodeCall(IMeterRegistry.submitReadings, (_one(reading)));
        // Layout: selector, array offset, length, then the reading's words.
        field = bound(field, 0, 4);
        uint256 typeBits = [uint256(160), 32, 40, 48, 48][field];
        uint256 dirtyBits = bound(dirt, 1, type(uint256).max >> typeBits) << typeBits;
        uint256 position = 4 + 0x40 + field * 0x20;
        assembly {
            let word := add(add(data, 0x20), position)
            mstore(word, or(mload(word), dirtyBits))
        }

        (bool ok,) = address(registry).call(data);
        assertFalse(ok, "dirty calldata accepted");
        assertEq(registry.meterState(meterA).seq, 1);
    }

    /// @dev Registers a fresh meter of bob's with `capacityW`, as `_fuzzMeter` / `_fuzzKey`.
    function _registerFuzzMeter(uint32 capacityW) internal {
        (_fuzzMeter, _fuzzKey) = makeAddrAndKey("fuzz meter");
        vm.prank(admin);
        registry.registerMeter(_fuzzMeter, bob, 9, MeterKinds.SOLAR, capacityW);
    }
}
