// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Vm} from "forge-std/Test.sol";

contract MeterRegistryFuzzTest is RegistryFixture {
    uint256 internal constant STEPS = 6;

    /// @dev Cumulative registers from random steps: credits = exported Wh exactly, carbon = sum of the
    /// per-reading floors, whatever the baseline and the intensity.
    function testFuzz_AccrualsAreExact(
        uint48 baseImport,
        uint48 baseExport,
        uint64[STEPS] memory importSteps,
        uint64[STEPS] memory exportSteps,
        uint16 intensity
    ) public {
        baseImport = uint48(bound(baseImport, 0, type(uint48).max / 2));
        baseExport = uint48(bound(baseExport, 0, type(uint48).max / 2));
        intensity = uint16(bound(intensity, 0, 1500));
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);
        vm.warp(T0 + (STEPS + 1) * INTERVAL);

        assertEq(_submit(_sign(meterDKey, meterD, 1, T0, baseImport, baseExport)), 1, "baseline");
        uint48 importWh = baseImport;
        uint48 exportWh = baseExport;
        uint256 expectedCarbon;
        for (uint256 k; k < STEPS; ++k) {
            uint48 importStep = uint48(bound(importSteps[k], 0, 50_000_000_000));
            uint48 exportStep = uint48(bound(exportSteps[k], 0, 50_000_000_000));
            importWh += importStep;
            exportWh += exportStep;
            expectedCarbon += uint256(exportStep) * intensity / 1000;
            uint32 seq = SafeCast.toUint32(k + 2);
            uint40 end = SafeCast.toUint40(T0 + (k + 1) * INTERVAL);

            vm.expectEmit(address(registry));
            emit IMeterRegistry.ReadingAccepted(meterD, seq, end, importStep, exportStep);
            assertEq(_submit(_sign(meterDKey, meterD, seq, end, importWh, exportWh)), 1);
        }

        IMeterRegistry.MeterState memory state = registry.meterState(meterD);
        assertEq(state.unclaimedCreditsWh, exportWh - baseExport, "credits");
        assertEq(state.unclaimedCarbonGrams, expectedCarbon, "carbon");
        assertEq(state.importWh, importWh, "import register");

        registry.claim(_meters(meterD));
        assertEq(energy.balanceOf(bob), exportWh - baseExport, "minted credits");
        assertEq(carbon.balanceOf(bob), expectedCarbon, "minted carbon");
    }

    function testFuzz_CarbonIsFlooredPerReading(uint48 exportDelta, uint16 intensity) public {
        exportDelta = uint48(bound(exportDelta, 0, type(uint40).max));
        intensity = uint16(bound(intensity, 0, 1000));
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);

        _submit(_sign(meterCKey, meterC, 2, T0 + INTERVAL, C_IMPORT, C_EXPORT + exportDelta));

        assertEq(registry.meterState(meterC).unclaimedCreditsWh, exportDelta);
        assertEq(registry.meterState(meterC).unclaimedCarbonGrams, uint256(exportDelta) * intensity / 1000);
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
            exportWh += uint48(uint256(keccak256(abi.encode(seed, "export", k))) % 10_000);
            importWh += uint48(uint256(keccak256(abi.encode(seed, "import", k))) % 10_000);
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
}
