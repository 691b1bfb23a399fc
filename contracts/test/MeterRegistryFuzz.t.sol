// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
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

    /// @dev What `testFuzz_PendingVolumesAndSettlementsAreExact` expects, kept in one struct for the stack.
    struct Expectation {
        uint48 importWh;
        uint48 exportWh;
        uint256 pendingImportWh;
        uint256 pendingExportWh;
        IMeterRegistry.Pending kind;
        uint256 creditsWh;
        uint256 carbonGrams;
    }

    address internal _fuzzMeter;
    uint256 internal _fuzzKey;

    /// @dev Cumulative registers from random steps within a random capacity, one reading per interval,
    /// with the interval randomly closed by a keeper and the meter randomly finalized after each reading:
    /// the pending volumes and their kind follow the rules step by step, the credits are the exported Wh
    /// exactly and the carbon the sum of the per-settlement floors, whatever the baseline and intensity.
    function testFuzz_PendingVolumesAndSettlementsAreExact(
        uint48 baseImport,
        uint48 baseExport,
        uint64[STEPS] memory importSteps,
        uint64[STEPS] memory exportSteps,
        uint8[STEPS] memory actions,
        uint16 intensity,
        uint32 capacityW
    ) public {
        baseImport = uint48(bound(baseImport, 0, type(uint48).max / 2));
        baseExport = uint48(bound(baseExport, 0, type(uint48).max / 2));
        intensity = uint16(bound(intensity, 0, 1500));
        capacityW = uint32(bound(capacityW, 1, type(uint32).max));
        // Up to 4.29 GW allows 1.07 GWh per interval; steps stay below uint32 / STEPS so that even all of
        // them left pending fit (the overflow has its own fuzz test).
        uint48 maxStep = _maxDeltaWh(capacityW, INTERVAL);
        if (maxStep > type(uint32).max / STEPS) maxStep = SafeCast.toUint48(type(uint32).max / STEPS);
        _registerFuzzMeter(capacityW);
        address keeper = _grantKeeper();
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);

        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 1, T0, baseImport, baseExport)), 1, "baseline");
        Expectation memory e = Expectation(baseImport, baseExport, 0, 0, NONE, 0, 0);
        for (uint256 k; k < STEPS; ++k) {
            uint40 end = SafeCast.toUint40(T0 + (k + 1) * INTERVAL);
            vm.warp(end);
            uint48 importStep = uint48(bound(importSteps[k], 0, maxStep));
            uint48 exportStep = uint48(bound(exportSteps[k], 0, maxStep));
            e.importWh += importStep;
            e.exportWh += exportStep;
            // Every reading directly follows the previous one: marketable exactly when nothing is pending.
            bool marketable = e.pendingImportWh == 0 && e.pendingExportWh == 0;
            e.pendingImportWh += importStep;
            e.pendingExportWh += exportStep;
            e.kind = marketable ? MARKETABLE : RESIDUAL;

            uint32 seq = SafeCast.toUint32(k + 2);
            vm.expectEmit(address(registry));
            emit IMeterRegistry.ReadingAccepted(_fuzzMeter, seq, end, importStep, exportStep, marketable);
            assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, seq, end, e.importWh, e.exportWh)), 1);
            _assertState(
                _fuzzMeter,
                1,
                seq,
                end,
                e.importWh,
                e.exportWh,
                SafeCast.toUint32(e.pendingImportWh),
                SafeCast.toUint32(e.pendingExportWh),
                e.kind
            );

            if (actions[k] & 1 != 0) {
                vm.prank(keeper);
                registry.settle(uint64(end / INTERVAL - 1), 50_000, new uint256[](0), true);
            }
            if (actions[k] & 2 != 0) {
                // Marketable volumes are final once their interval is closed; residual ones at once.
                bool final_ = e.kind == RESIDUAL || actions[k] & 1 != 0;
                assertEq(_finalize(_fuzzMeter), final_ ? 1 : 0, "settled count");
                if (final_) {
                    e.creditsWh += e.pendingExportWh;
                    e.carbonGrams += e.pendingExportWh * intensity / 1000;
                    e.pendingImportWh = 0;
                    e.pendingExportWh = 0;
                    e.kind = NONE;
                }
                _assertPending(
                    _fuzzMeter,
                    SafeCast.toUint32(e.pendingImportWh),
                    SafeCast.toUint32(e.pendingExportWh),
                    e.kind
                );
            }
        }

        // Whatever is left is settled once the window has passed.
        vm.warp(T0 + STEPS * INTERVAL + WINDOW + 1);
        _finalize(_fuzzMeter);
        _assertVault(
            bob, e.creditsWh + e.pendingExportWh, e.carbonGrams + e.pendingExportWh * intensity / 1000
        );
        assertEq(energy.balanceOf(address(registry)), e.exportWh - baseExport, "credits are the export");
        assertEq(energy.totalSupply(), e.exportWh - baseExport, "credit supply");
        assertEq(carbon.balanceOf(address(registry)), registry.balancesOf(bob).carbonGrams, "carbon held");
        _assertPending(_fuzzMeter, 0, 0, NONE);
    }

    /// @dev A reading after a gap of up to 1,000 intervals (meter C reports up to 2.75 MWh in it): residual
    /// only after a gap, marketable right after the baseline, and settled with one floor of the carbon.
    function testFuzz_CarbonIsFlooredPerSettlement(uint48 exportDelta, uint16 intensity, uint256 gap) public {
        gap = bound(gap, 1, 1000);
        uint40 end = SafeCast.toUint40(T0 + gap * INTERVAL);
        exportDelta = uint48(bound(exportDelta, 0, _maxDeltaWh(C_CAPACITY_W, gap * INTERVAL)));
        intensity = uint16(bound(intensity, 0, 1000));
        vm.prank(admin);
        registry.setCarbonIntensity(intensity);
        vm.warp(end);

        assertEq(_submit(_sign(meterCKey, meterC, 2, end, C_IMPORT, C_EXPORT + exportDelta)), 1);
        _assertPending(meterC, 0, SafeCast.toUint32(exportDelta), gap == 1 ? MARKETABLE : RESIDUAL);

        vm.warp(end + WINDOW + 1);
        assertEq(_finalize(meterC), 1);
        _assertVault(bob, exportDelta, uint256(exportDelta) * intensity / 1000);
        assertEq(carbon.totalMinted(), uint256(exportDelta) * intensity / 1000);
    }

    /// @dev Check 9 against its specification, for any capacity, gap and deltas: a reading counts exactly
    /// when both deltas fit the capacity over the gap and the pending volumes fit uint32; otherwise it is
    /// rejected as `ImplausibleDelta` (never a revert) and changes nothing.
    function testFuzz_PlausibilityBoundIsExact(
        uint32 capacityW,
        uint256 gap,
        uint48 importDelta,
        uint48 exportDelta
    ) public {
        capacityW = uint32(bound(capacityW, 1, type(uint32).max));
        gap = bound(gap, 1, 2000);
        uint256 allowance = uint256(capacityW) * gap * INTERVAL;
        // Around the bound: up to twice the largest plausible delta (and past uint32 for large ones).
        uint256 range = allowance / 3600 * 2 + 1;
        importDelta = uint48(bound(importDelta, 0, range < type(uint48).max ? range : type(uint48).max));
        exportDelta = uint48(bound(exportDelta, 0, range < type(uint48).max ? range : type(uint48).max));
        _registerFuzzMeter(capacityW);
        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 1, T0 + INTERVAL, 0, 0)), 1, "baseline");
        uint40 end = SafeCast.toUint40(T0 + (gap + 1) * INTERVAL);
        vm.warp(end);

        bool plausible = uint256(importDelta) * 3600 <= allowance && uint256(exportDelta) * 3600 <= allowance
            && importDelta <= type(uint32).max && exportDelta <= type(uint32).max;
        IMeterRegistry.Reading memory reading = _sign(_fuzzKey, _fuzzMeter, 2, end, importDelta, exportDelta);
        if (plausible) {
            assertEq(_submit(reading), 1, "plausible reading rejected");
            _assertPending(
                _fuzzMeter,
                SafeCast.toUint32(importDelta),
                SafeCast.toUint32(exportDelta),
                gap == 1 ? MARKETABLE : RESIDUAL
            );
        } else {
            _assertRejected(reading, IMeterRegistry.RejectReason.ImplausibleDelta);
        }
    }

    /// @dev The pending half of check 9, on a meter whose capacity never binds: with volumes already
    /// pending, a reading counts exactly when the sums fit uint32, and settling first always makes room.
    function testFuzz_PendingOverflowBoundIsExact(
        uint32 pendingImport,
        uint32 pendingExport,
        uint48 importDelta,
        uint48 exportDelta
    ) public {
        _registerFuzzMeter(type(uint32).max);
        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 1, T0, 0, 0)), 1, "baseline");
        // Five intervals later: residual only, and 1.07 GWh per interval allows any uint32 volume.
        uint40 first = T0 + 5 * INTERVAL;
        vm.warp(first);
        assertEq(_submit(_sign(_fuzzKey, _fuzzMeter, 2, first, pendingImport, pendingExport)), 1, "first");
        _assertPending(_fuzzMeter, pendingImport, pendingExport, RESIDUAL);

        // One interval allows 1.07 GWh: the deltas range over it, the sums over both sides of uint32.
        uint48 maxStep = _maxDeltaWh(type(uint32).max, INTERVAL);
        importDelta = uint48(bound(importDelta, 0, maxStep));
        exportDelta = uint48(bound(exportDelta, 0, maxStep));
        uint40 end = first + INTERVAL;
        vm.warp(end);
        IMeterRegistry.Reading memory reading = _sign(
            _fuzzKey,
            _fuzzMeter,
            3,
            end,
            uint48(pendingImport) + importDelta,
            uint48(pendingExport) + exportDelta
        );
        uint256 importSum = uint256(pendingImport) + importDelta;
        uint256 exportSum = uint256(pendingExport) + exportDelta;
        if (importSum <= type(uint32).max && exportSum <= type(uint32).max) {
            assertEq(_submit(reading), 1, "fitting reading rejected");
            // It directly follows the first: marketable when that one left nothing pending.
            bool marketable = pendingImport == 0 && pendingExport == 0;
            _assertPending(
                _fuzzMeter,
                SafeCast.toUint32(importSum),
                SafeCast.toUint32(exportSum),
                marketable ? MARKETABLE : RESIDUAL
            );
        } else {
            _assertRejected(reading, IMeterRegistry.RejectReason.ImplausibleDelta);
            assertEq(_finalize(_fuzzMeter), 1);
            assertEq(_submit(reading), 1, "rejected after settling");
            // It directly follows and nothing is pending any more.
            _assertPending(
                _fuzzMeter, SafeCast.toUint32(importDelta), SafeCast.toUint32(exportDelta), MARKETABLE
            );
        }
    }

    /// @dev Readings seq 2..9 of one meter, submitted in a random order with repeats, split into random
    /// batches of one transaction: each seq is counted at most once, exactly the readings that move seq
    /// forward are counted, each with the right kind, and the pending volumes telescope to last register -
    /// baseline.
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

        // The expected outcome: a reading counts exactly when its seq is above the last counted one; it is
        // marketable when it ends one interval after the last counted one and nothing non-zero is pending.
        uint256[] memory picks = new uint256[](submissions);
        IMeterRegistry.Reading memory last = _sign(meterAKey, meterA, 1, T0, A_IMPORT, A_EXPORT);
        bool[] memory marketable = new bool[](count + 2);
        uint256 expectedAccepted;
        for (uint256 j; j < submissions; ++j) {
            picks[j] = uint256(keccak256(abi.encode(seed, "pick", j))) % count;
            IMeterRegistry.Reading memory reading = readings[picks[j]];
            if (reading.seq > last.seq) {
                marketable[reading.seq] = reading.intervalEnd == last.intervalEnd + INTERVAL
                    && last.importWh == A_IMPORT && last.exportWh == A_EXPORT;
                last = reading;
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
            (uint32 seq,,, uint48 exportDelta, bool isMarketable) =
                abi.decode(logs[i].data, (uint32, uint40, uint48, uint48, bool));
            ++timesCounted[seq];
            exportDeltaSum += exportDelta;
            assertEq(isMarketable, marketable[seq], "marketable flag");
        }
        for (uint256 seq; seq < timesCounted.length; ++seq) {
            assertLe(timesCounted[seq], 1, "seq counted twice");
        }
        assertEq(accepted, expectedAccepted, "accepted count");
        assertEq(registry.meterState(meterA).seq, last.seq, "last seq");
        // Nothing was settled: whatever the kinds, everything since the baseline is pending exactly once.
        _assertPending(
            meterA,
            SafeCast.toUint32(last.importWh - A_IMPORT),
            SafeCast.toUint32(last.exportWh - A_EXPORT),
            expectedAccepted == 0 ? NONE : marketable[last.seq] ? MARKETABLE : RESIDUAL
        );
        assertEq(exportDeltaSum, last.exportWh - A_EXPORT, "event deltas");
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
        _assertPending(meterA, 0, 0, NONE);
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

    /// @dev Gives a fresh account `KEEPER_ROLE` and returns it.
    function _grantKeeper() internal returns (address keeper) {
        keeper = makeAddr("keeper");
        bytes32 role = registry.KEEPER_ROLE();
        vm.prank(admin);
        registry.grantRole(role, keeper);
    }

    /// @dev Registers a fresh meter of bob's with `capacityW`, as `_fuzzMeter` / `_fuzzKey`.
    function _registerFuzzMeter(uint32 capacityW) internal {
        (_fuzzMeter, _fuzzKey) = makeAddrAndKey("fuzz meter");
        vm.prank(admin);
        registry.registerMeter(_fuzzMeter, bob, 9, MeterKinds.SOLAR, capacityW);
    }
}
