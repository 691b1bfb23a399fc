// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyMarket} from "../src/EnergyMarket.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {Fills} from "../src/libraries/Fills.sol";
import {MeterKinds} from "../src/libraries/MeterKinds.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice Readings, their rejections (one test per reason), the pending volumes they leave and the
/// residual settlement of those volumes (`finalize`).
contract MeterRegistryReadingsTest is RegistryFixture {
    uint40 internal constant T1 = T0 + INTERVAL;
    uint40 internal constant T2 = T1 + INTERVAL;

    /// @dev A meter registered by `_registerHugeMeter` in the tests that need pending volumes near uint32.
    address internal meterE;
    uint256 internal meterEKey;

    // ---------------------------------------------------------------- accepted readings

    function test_FirstReadingIsBaseline() public {
        IMeterRegistry.Reading memory reading = _sign(meterDKey, meterD, 1, T1, 4321, 98_765);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterD, 1, T1, 0, 0, false);
        assertEq(_submit(reading), 1);

        _assertState(meterD, 1, 1, T1, 4321, 98_765, 0, 0, NONE);
    }

    function test_DirectlyFollowingReadingIsMarketable() public {
        IMeterRegistry.Reading memory reading =
            _sign(meterAKey, meterA, 2, T1, A_IMPORT + 567, A_EXPORT + 1234);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 567, 1234, true);
        assertEq(_submit(reading), 1);

        _assertState(meterA, 1, 2, T1, A_IMPORT + 567, A_EXPORT + 1234, 567, 1234, MARKETABLE);
        assertEq(energy.totalSupply(), 0, "nothing minted before settlement");
        assertEq(carbon.totalSupply(), 0, "no carbon before settlement");
        _assertVault(alice, 0, 0);
    }

    function test_PendingVolumesAddUpAcrossReadingsAndSeqGaps() public {
        vm.warp(T0 + 4 * INTERVAL);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](3);
        batch[0] = _sign(meterAKey, meterA, 2, T1, A_IMPORT + 10, A_EXPORT + 999);
        batch[1] = _sign(meterAKey, meterA, 5, T0 + 3 * INTERVAL, A_IMPORT + 10, A_EXPORT + 999);
        batch[2] = _sign(meterAKey, meterA, 6, T0 + 4 * INTERVAL, A_IMPORT + 30, A_EXPORT + 2000);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 10, 999, true);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 5, T0 + 3 * INTERVAL, 0, 0, false);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 6, T0 + 4 * INTERVAL, 20, 1001, false);
        assertEq(registry.submitReadings(batch), 3);
        _assertState(meterA, 1, 6, T0 + 4 * INTERVAL, A_IMPORT + 30, A_EXPORT + 2000, 30, 2000, RESIDUAL);

        // Carbon is floored once per settlement: floor(2000 * 0.4), not floor(999 * 0.4) + floor(1001 * 0.4).
        assertEq(_finalize(meterA), 1);
        _assertVault(alice, 2000, 800);
    }

    function test_CarbonUsesIntensityAtSettlement() public {
        vm.warp(T2);
        // A gap, then a reading on top of it: residual only, settleable at once.
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 1000));
        vm.prank(admin);
        registry.setCarbonIntensity(900);
        vm.warp(T2 + INTERVAL);
        _submit(_sign(meterAKey, meterA, 3, T2 + INTERVAL, A_IMPORT, A_EXPORT + 2000));
        vm.prank(admin);
        registry.setCarbonIntensity(150);

        _finalize(meterA);
        _assertVault(alice, 2000, 300);
    }

    function test_ImportOnlyReadingPendsImport() public {
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterC, 2, T1, 2500, 0, true);
        _submit(_sign(meterCKey, meterC, 2, T1, C_IMPORT + 2500, C_EXPORT));
        _assertState(meterC, 1, 2, T1, C_IMPORT + 2500, C_EXPORT, 2500, 0, MARKETABLE);

        // Unsold, uncovered import is grid supply: no credit, no carbon, nothing minted.
        vm.warp(T1 + WINDOW + 1);
        _expectMetersSettled(
            address(registry), _settledRecord(meterC, _intervalOf(T1), 0, 0, 0, 0, 0, 2500, 0)
        );
        assertEq(_finalize(meterC), 1);
        _assertVault(bob, 0, 0);
        assertEq(energy.totalSupply(), 0);
        assertEq(carbon.totalMinted(), 0);
    }

    function test_ReadingAtEdgesOfAcceptanceWindow() public {
        // Exactly `block.timestamp` is not from the future, and exactly `window` old is not too old.
        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT)), 1);
        vm.warp(T1 + INTERVAL + WINDOW);
        assertEq(_submit(_sign(meterAKey, meterA, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT)), 1);
    }

    function test_BadReadingInBatchDoesNotBlockGoodOnes() public {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](3);
        batch[0] = _sign(meterAKey, meterA, 2, T1, A_IMPORT + 1, A_EXPORT + 100);
        batch[1] = _sign(meterAKey, meterB, 2, T1, B_IMPORT + 1, B_EXPORT + 100); // signed by A's key
        batch[2] = _sign(meterCKey, meterC, 2, T1, C_IMPORT + 1, C_EXPORT + 300);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 1, 100, true);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterB, 2, IMeterRegistry.RejectReason.WrongSigner);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterC, 2, T1, 1, 300, true);
        assertEq(registry.submitReadings(batch), 2);

        _assertPending(meterA, 1, 100, MARKETABLE);
        _assertState(meterB, 1, 1, T0, B_IMPORT, B_EXPORT, 0, 0, NONE);
        _assertPending(meterC, 1, 300, MARKETABLE);
    }

    function test_EveryKindOfBadReadingInOneBatch() public {
        IMeterRegistry.Reading memory good = _sign(meterCKey, meterC, 2, T1, C_IMPORT, C_EXPORT + 50);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](6);
        batch[0] = _sign(meterAKey, meterA, 2, T1 + 1, A_IMPORT, A_EXPORT); // misaligned
        batch[1] = good;
        batch[2] = _sign(meterBKey, meterB, 2, T1, B_IMPORT - 1, B_EXPORT); // backwards
        batch[3] = good; // duplicate
        batch[4] = _sign(meterAKey, meterA, 2, T1 + INTERVAL, A_IMPORT, A_EXPORT); // future
        batch[5] = _sign(meterBKey, meterB, 3, T1, B_IMPORT, B_EXPORT + 7);

        assertEq(registry.submitReadings(batch), 2);
        _assertPending(meterC, 0, 50, MARKETABLE);
        _assertPending(meterB, 0, 7, MARKETABLE);
        assertEq(registry.meterState(meterA).seq, 1);
    }

    function test_MeterCanSubmitConsecutiveReadingsInOneBatch() public {
        vm.warp(T2);
        IMeterRegistry.Reading[] memory batch = _two(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 10),
            _sign(meterAKey, meterA, 3, T2, A_IMPORT, A_EXPORT + 30)
        );
        // The second lands on the first's unsettled volumes: both become residual only.
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 0, 10, true);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2, 0, 20, false);
        assertEq(registry.submitReadings(batch), 2);
        _assertState(meterA, 1, 3, T2, A_IMPORT, A_EXPORT + 30, 0, 30, RESIDUAL);
    }

    function test_ReactivatedMeterContinuesFromLastReading() public {
        vm.startPrank(admin);
        registry.deactivateMeter(meterA);
        registry.reactivateMeter(meterA);
        vm.stopPrank();

        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 80)), 1);
        _assertPending(meterA, 0, 80, MARKETABLE);
    }

    function test_EmptyBatchAcceptsNothing() public {
        assertEq(registry.submitReadings(new IMeterRegistry.Reading[](0)), 0);
    }

    // ---------------------------------------------------------------- marketable or residual only

    function test_ReadingAfterGapIsResidualOnly() public {
        // The previous reading ended at T0; this one ends two intervals later.
        vm.warp(T2);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T2, 40, 600, false);
        assertEq(_submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT + 40, A_EXPORT + 600)), 1);
        _assertPending(meterA, 40, 600, RESIDUAL);
    }

    function test_ReadingOnTopOfUnsettledVolumesIsResidualOnly() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + 5, A_EXPORT + 100));
        _assertPending(meterA, 5, 100, MARKETABLE);

        // It directly follows, but interval T1's volumes were never settled: nobody may hold them back
        // and sell them together with the next interval's.
        vm.warp(T2);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2, 7, 200, false);
        _submit(_sign(meterAKey, meterA, 3, T2, A_IMPORT + 12, A_EXPORT + 300));
        _assertPending(meterA, 12, 300, RESIDUAL);
    }

    function test_ReadingOnTopOfResidualVolumesStaysResidualOnly() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 100));
        vm.warp(T2 + INTERVAL);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2 + INTERVAL, 0, 50, false);
        _submit(_sign(meterAKey, meterA, 3, T2 + INTERVAL, A_IMPORT, A_EXPORT + 150));
        _assertPending(meterA, 0, 150, RESIDUAL);
    }

    function test_ZeroPendingDoesNotBlockMarketability() public {
        // A marketable reading with nothing to trade leaves nothing that could be hoarded.
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT));
        _assertPending(meterA, 0, 0, MARKETABLE);

        vm.warp(T2);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2, 3, 4, true);
        _submit(_sign(meterAKey, meterA, 3, T2, A_IMPORT + 3, A_EXPORT + 4));
        _assertPending(meterA, 3, 4, MARKETABLE);
    }

    function test_ZeroResidualDoesNotBlockMarketability() public {
        // A gap with no energy: residual only, but empty.
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT));
        _assertPending(meterA, 0, 0, RESIDUAL);

        vm.warp(T2 + INTERVAL);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2 + INTERVAL, 0, 9, true);
        _submit(_sign(meterAKey, meterA, 3, T2 + INTERVAL, A_IMPORT, A_EXPORT + 9));
        _assertPending(meterA, 0, 9, MARKETABLE);
    }

    function test_ImportAloneBlocksMarketability() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + 1, A_EXPORT));
        vm.warp(T2);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2, 0, 500, false);
        _submit(_sign(meterAKey, meterA, 3, T2, A_IMPORT + 1, A_EXPORT + 500));
        _assertPending(meterA, 1, 500, RESIDUAL);
    }

    function test_SettledVolumesNoLongerBlockMarketability() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT + 8, A_EXPORT + 100));
        assertEq(_finalize(meterA), 1);
        _assertPending(meterA, 0, 0, NONE);

        vm.warp(T2 + INTERVAL);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 3, T2 + INTERVAL, 2, 20, true);
        _submit(_sign(meterAKey, meterA, 3, T2 + INTERVAL, A_IMPORT + 10, A_EXPORT + 120));
        _assertPending(meterA, 2, 20, MARKETABLE);
    }

    function test_BaselineAfterRegistrationLeavesNothingPending() public {
        // A meter's first reading, even one interval after another meter's, attests nothing.
        assertEq(_submit(_sign(meterDKey, meterD, 1, T1, 10, 20)), 1);
        vm.warp(T2);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterD, 2, T2, 5, 6, true);
        _submit(_sign(meterDKey, meterD, 2, T2, 15, 26));
        _assertPending(meterD, 5, 6, MARKETABLE);
    }

    /// @dev The point of the rule: export held back past its interval can never reach the market.
    function test_RevertWhen_KeeperFillsVolumesMadeResidual() public {
        address keeper = _grantKeeper();
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100));
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 3, T2, A_IMPORT, A_EXPORT + 150));

        uint256[] memory fills = new uint256[](1);
        fills[0] = Fills.pack(meterA, false, 100);
        for (uint40 end = T1; end <= T2; end += INTERVAL) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IEnergyMarket.MarketNoAttestedVolume.selector, meterA, _intervalOf(end)
                )
            );
            vm.prank(keeper);
            registry.settle(_intervalOf(end), 100_000, fills, true);
        }
    }

    // ---------------------------------------------------------------- one test per reject reason

    function test_RejectsUnknownMeter() public {
        (address stranger, uint256 strangerKey) = makeAddrAndKey("stranger");
        _assertRejected(_sign(strangerKey, stranger, 1, T1, 0, 0), IMeterRegistry.RejectReason.UnknownMeter);
    }

    function test_RejectsDeactivatedMeter() public {
        vm.prank(admin);
        registry.deactivateMeter(meterA);
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1),
            IMeterRegistry.RejectReason.MeterDeactivated
        );
    }

    function test_RejectsMisalignedInterval() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1 - 1, A_IMPORT, A_EXPORT + 1),
            IMeterRegistry.RejectReason.IntervalMisaligned
        );
    }

    function test_RejectsReadingFromFuture() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1 + INTERVAL, A_IMPORT, A_EXPORT + 1),
            IMeterRegistry.RejectReason.FromFuture
        );
    }

    function test_RejectsReadingOlderThanWindow() public {
        vm.warp(T1 + WINDOW + 1);
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1), IMeterRegistry.RejectReason.TooOld
        );
    }

    function test_RejectsDuplicateInBatch() public {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 0, 100, true);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterA, 2, IMeterRegistry.RejectReason.DuplicateInBatch);
        assertEq(registry.submitReadings(_two(reading, reading)), 1);

        // A second call in the same transaction is the same batch for this rule.
        _assertRejected(reading, IMeterRegistry.RejectReason.DuplicateInBatch);
        _assertPending(meterA, 0, 100, MARKETABLE);
    }

    function test_RejectsExactReplayAsAlreadyCounted() public {
        // The baseline was accepted in setUp, an earlier transaction.
        _assertRejected(
            _sign(meterAKey, meterA, 1, T0, A_IMPORT, A_EXPORT), IMeterRegistry.RejectReason.AlreadyCounted
        );
    }

    function test_RejectsSeqNotIncreasing() public {
        // Same seq as the last counted reading, but different content: not a replay.
        _assertRejected(
            _sign(meterAKey, meterA, 1, T1, A_IMPORT, A_EXPORT + 5),
            IMeterRegistry.RejectReason.SeqNotIncreasing
        );
    }

    function test_RejectsSeqZeroOnFreshMeter() public {
        _assertRejected(_sign(meterDKey, meterD, 0, T1, 1, 1), IMeterRegistry.RejectReason.SeqNotIncreasing);
    }

    function test_RejectsMalformedSignature() public {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1);
        reading.r = bytes32(0);
        reading.vs = bytes32(0);
        _assertRejected(reading, IMeterRegistry.RejectReason.MalformedSignature);
    }

    function test_RejectsHighSSignatureAsMalformed() public {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1);
        _assertRejected(
            ReadingSigning.withHighS(reading, (1 << 255) - 1), IMeterRegistry.RejectReason.MalformedSignature
        );
    }

    function test_RejectsWrongSigner() public {
        _assertRejected(
            _sign(meterBKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1), IMeterRegistry.RejectReason.WrongSigner
        );
    }

    function test_RejectsTamperedReadingAsWrongSigner() public {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1);
        reading.exportWh += 1000;
        _assertRejected(reading, IMeterRegistry.RejectReason.WrongSigner);
    }

    function test_RejectsIntervalNotAfterPrevious() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T0, A_IMPORT, A_EXPORT + 1),
            IMeterRegistry.RejectReason.IntervalNotAfterPrevious
        );
    }

    function test_RejectsImportRegisterGoingBackwards() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT - 1, A_EXPORT + 1),
            IMeterRegistry.RejectReason.RegisterWentBackwards
        );
    }

    function test_RejectsExportRegisterGoingBackwards() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT + 1, A_EXPORT - 1),
            IMeterRegistry.RejectReason.RegisterWentBackwards
        );
    }

    function test_FirstFailingCheckWins() public {
        // From the future AND wrong signer AND registers backwards: the earliest check (3) is reported.
        _assertRejected(
            _sign(meterBKey, meterA, 2, T1 + INTERVAL, 0, 0), IMeterRegistry.RejectReason.FromFuture
        );
        // Stale seq AND wrong signer: seq (5) comes before the signature (6).
        _assertRejected(_sign(meterBKey, meterA, 1, T1, 0, 0), IMeterRegistry.RejectReason.SeqNotIncreasing);
    }

    // ---------------------------------------------------------------- plausibility (check 9)

    function test_AcceptsDeltasExactlyAtCapacity() public {
        // 5,000 W for 900 s is 1,250 Wh, on either register.
        uint48 bound = _maxDeltaWh(A_CAPACITY_W, INTERVAL);
        assertEq(bound, 1250);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, bound, bound, true);
        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + bound, A_EXPORT + bound)), 1);
        _assertState(meterA, 1, 2, T1, A_IMPORT + bound, A_EXPORT + bound, 1250, 1250, MARKETABLE);
    }

    function test_RejectsExportOverCapacity() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1251),
            IMeterRegistry.RejectReason.ImplausibleDelta
        );
    }

    function test_RejectsImportOverCapacity() public {
        _assertRejected(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT + 1251, A_EXPORT),
            IMeterRegistry.RejectReason.ImplausibleDelta
        );
    }

    function test_LongGapAllowsProportionallyMore() public {
        // Ten intervals since the baseline: ten times the single-interval bound, and not a Wh more.
        uint40 end = T0 + 10 * INTERVAL;
        vm.warp(end);
        uint48 bound = _maxDeltaWh(A_CAPACITY_W, 10 * INTERVAL);
        assertEq(bound, 12_500);

        _assertRejected(
            _sign(meterAKey, meterA, 2, end, A_IMPORT, A_EXPORT + bound + 1),
            IMeterRegistry.RejectReason.ImplausibleDelta
        );
        assertEq(_submit(_sign(meterAKey, meterA, 2, end, A_IMPORT, A_EXPORT + bound)), 1);
        _assertPending(meterA, 0, 12_500, RESIDUAL);
    }

    function test_CapacityBoundCountsFromPreviousReadingNotBaseline() public {
        vm.warp(T1 + INTERVAL);
        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1250)), 1);
        // One interval after seq 2, even though two have passed since the baseline.
        _assertRejected(
            _sign(meterAKey, meterA, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT + 2500 + 1),
            IMeterRegistry.RejectReason.ImplausibleDelta
        );
        assertEq(_submit(_sign(meterAKey, meterA, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT + 2500)), 1);
    }

    function test_CapacityBoundIsPerReadingNotPerPendingTotal() public {
        // Two full intervals of export stay pending together: each delta was within its own bound.
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1250));
        vm.warp(T2);
        assertEq(_submit(_sign(meterAKey, meterA, 3, T2, A_IMPORT, A_EXPORT + 2500)), 1);
        _assertPending(meterA, 0, 2500, RESIDUAL);
    }

    function test_BaselineIsNotBoundByCapacity() public {
        // A first reading has no previous one: its registers are where the meter's life so far left them.
        uint48 lifetimeWh = 50_000_000_000;
        assertEq(_submit(_sign(meterDKey, meterD, 1, T1, lifetimeWh, lifetimeWh)), 1);
        _assertState(meterD, 1, 1, T1, lifetimeWh, lifetimeWh, 0, 0, NONE);
    }

    function test_RejectsPendingOverflowInsteadOfReverting() public {
        uint40 end = _fillHugeMeterPending();

        // One more Wh on either register would take a pending volume past uint32, well within capacity.
        vm.warp(end + INTERVAL);
        uint48 full = type(uint32).max;
        _assertRejected(
            _sign(meterEKey, meterE, 3, end + INTERVAL, full + 1, full),
            IMeterRegistry.RejectReason.ImplausibleDelta
        );
        IMeterRegistry.Reading memory next = _sign(meterEKey, meterE, 3, end + INTERVAL, full, full + 1);
        _assertRejected(next, IMeterRegistry.RejectReason.ImplausibleDelta);

        // Settling first makes room: the same reading then counts, and it follows with nothing pending.
        assertEq(_finalize(meterE), 1);
        _assertVault(bob, type(uint32).max, uint256(type(uint32).max) * INTENSITY / 1000);
        assertEq(energy.balanceOf(address(registry)), type(uint32).max);
        assertEq(_submit(next), 1);
        _assertPending(meterE, 0, 1, MARKETABLE);
    }

    function test_RejectsGapDeltaPastUint32WithinCapacity() public {
        _registerHugeMeter();
        // Five intervals of 4.29 GW allow 5.37 GWh, but a pending volume holds at most 4.29 GWh.
        uint40 end = T1 + 5 * INTERVAL;
        vm.warp(end);
        uint48 over = uint48(type(uint32).max) + 1;
        assertGe(_maxDeltaWh(type(uint32).max, end - T1), over);

        _assertRejected(
            _sign(meterEKey, meterE, 2, end, over, 0), IMeterRegistry.RejectReason.ImplausibleDelta
        );
        _assertRejected(
            _sign(meterEKey, meterE, 2, end, 0, over), IMeterRegistry.RejectReason.ImplausibleDelta
        );
        assertEq(_submit(_sign(meterEKey, meterE, 2, end, over - 1, over - 1)), 1);
        _assertPending(meterE, type(uint32).max, type(uint32).max, RESIDUAL);
    }

    function test_CarbonOfLargestPendingExportAtLargestIntensityFits() public {
        _fillHugeMeterPending();
        vm.prank(admin);
        registry.setCarbonIntensity(type(uint16).max);

        assertEq(_finalize(meterE), 1);
        uint256 expected = uint256(type(uint32).max) * type(uint16).max / 1000;
        _assertVault(bob, type(uint32).max, expected);
        assertEq(carbon.balanceOf(address(registry)), expected);
    }

    /// @dev The review's case: a meter key signs `exportWh = last + 2^40`. It is skipped and the readings
    /// around it count.
    function test_ImplausibleReadingBetweenGoodOnesDoesNotBlockThem() public {
        uint40 end = _fillHugeMeterPending();
        vm.warp(end + INTERVAL);
        uint40 now_ = end + INTERVAL;
        uint48 jump = uint48(1) << 40;

        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](5);
        batch[0] = _sign(meterAKey, meterA, 2, now_, A_IMPORT + 10, A_EXPORT + 100);
        batch[1] = _sign(meterCKey, meterC, 2, now_, C_IMPORT, C_EXPORT + jump); // over capacity
        batch[2] = _sign(meterBKey, meterB, 2, now_, B_IMPORT, B_EXPORT + 200);
        batch[3] = _sign(meterEKey, meterE, 3, now_, type(uint32).max, uint48(type(uint32).max) + 1); // overflow
        batch[4] = _sign(meterDKey, meterD, 1, now_, 5, 6);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, now_, 10, 100, false);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterC, 2, IMeterRegistry.RejectReason.ImplausibleDelta);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterB, 2, now_, 0, 200, false);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterE, 3, IMeterRegistry.RejectReason.ImplausibleDelta);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterD, 1, now_, 0, 0, false);
        assertEq(registry.submitReadings(batch), 3);

        _assertState(meterC, 1, 1, T0, C_IMPORT, C_EXPORT, 0, 0, NONE);
        assertEq(registry.meterState(meterE).seq, 2);
        _assertPending(meterA, 10, 100, RESIDUAL);
        _assertPending(meterB, 0, 200, RESIDUAL);
    }

    // ---------------------------------------------------------------- EIP-712 digest

    function test_ReadingDigestMatchesHandBuiltEip712() public view {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 42, T1, 123_456, 654_321);

        bytes32 readingTypehash =
            keccak256("Reading(address meter,uint32 seq,uint40 intervalEnd,uint48 importWh,uint48 exportWh)");
        bytes32 domainTypehash =
            keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
        bytes32 domain = keccak256(
            abi.encode(
                domainTypehash,
                keccak256("cogrid MeterRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(readingTypehash, meterA, uint32(42), T1, uint48(123_456), uint48(654_321)));
        bytes32 expected = keccak256(abi.encodePacked("\x19\x01", domain, structHash));

        assertEq(registry.readingDigest(reading), expected);
    }

    function test_ReadingDigestIgnoresSignature() public view {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, 1, 2);
        bytes32 digest = registry.readingDigest(reading);
        reading.r = keccak256("r");
        reading.vs = keccak256("vs");
        assertEq(registry.readingDigest(reading), digest);
    }

    function test_ReadingDigestFollowsChainId() public {
        IMeterRegistry.Reading memory reading = _sign(meterAKey, meterA, 2, T1, 1, 2);
        bytes32 before = registry.readingDigest(reading);
        vm.chainId(10);
        bytes32 onOptimism = registry.readingDigest(reading);
        assertTrue(onOptimism != before, "digest ignores chain id");
        assertEq(onOptimism, ReadingSigning.digest(address(registry), reading));
    }

    function test_Eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            registry.eip712Domain();
        assertEq(name, "cogrid MeterRegistry");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(registry));
    }

    // ---------------------------------------------------------------- residual settlement (finalize)

    function test_FinalizeCreditsOwnerVaultAndMintsToMarket() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT + 5, A_EXPORT + 1250));

        _expectMetersSettled(
            address(registry), _settledRecord(meterA, _intervalOf(T2), 0, 0, 0, 1250, 0, 5, 500)
        );
        assertEq(_finalize(meterA), 1);

        _assertVault(alice, 1250, 500);
        assertEq(energy.balanceOf(address(registry)), 1250, "credits held by the market");
        assertEq(carbon.balanceOf(address(registry)), 500, "carbon held by the market");
        assertEq(energy.balanceOf(alice), 0, "nothing in the wallet before a withdrawal");
        assertEq(carbon.totalMinted(), 500);
        _assertState(meterA, 1, 2, T2, A_IMPORT + 5, A_EXPORT + 1250, 0, 0, NONE);
    }

    function test_FinalizedCreditsAndCarbonCanBeWithdrawn() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 1000));
        _finalize(meterA);

        vm.startPrank(alice);
        registry.withdraw(IEnergyMarket.Asset.EnergyCredit, 1000);
        registry.withdraw(IEnergyMarket.Asset.CarbonCredit, 400);
        vm.stopPrank();
        assertEq(energy.balanceOf(alice), 1000);
        assertEq(carbon.balanceOf(alice), 400);
        assertEq(energy.balanceOf(address(registry)), 0);
        _assertVault(alice, 0, 0);
    }

    function test_FinalizeSkipsMarketableVolumesOfOpenInterval() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100));
        // Until the interval is settled or the window has passed, the keeper may still sell them.
        vm.warp(T1 + WINDOW);
        vm.recordLogs();
        assertEq(_finalize(meterA), 0);
        assertEq(vm.getRecordedLogs().length, 0, "skipped meter emitted");
        _assertPending(meterA, 0, 100, MARKETABLE);
        _assertVault(alice, 0, 0);
    }

    function test_FinalizeSettlesMarketableVolumesOlderThanWindow() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100));
        vm.warp(T1 + WINDOW + 1);
        assertEq(_finalize(meterA), 1);
        _assertPending(meterA, 0, 0, NONE);
        _assertVault(alice, 100, 40);
    }

    function test_FinalizeSettlesMarketableVolumesOfClosedInterval() public {
        address keeper = _grantKeeper();
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + 3, A_EXPORT + 100));

        // A batch that does not close the interval leaves the volumes to the keeper.
        vm.prank(keeper);
        registry.settle(_intervalOf(T1), 100_000, new uint256[](0), false);
        assertEq(_finalize(meterA), 0);

        vm.prank(keeper);
        registry.settle(_intervalOf(T1), 100_000, new uint256[](0), true);
        _expectMetersSettled(
            address(registry), _settledRecord(meterA, _intervalOf(T1), 0, 0, 0, 100, 0, 3, 40)
        );
        assertEq(_finalize(meterA), 1);
        _assertVault(alice, 100, 40);
    }

    function test_FinalizeTwiceSettlesOnce() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 1250));
        _finalize(meterA);

        vm.recordLogs();
        assertEq(_finalize(meterA), 0);
        assertEq(vm.getRecordedLogs().length, 0, "second finalize emitted");
        _assertVault(alice, 1250, 500);
        assertEq(energy.totalSupply(), 1250);
        assertEq(carbon.totalSupply(), 500);
    }

    function test_FinalizeSameMeterTwiceInOneCallSettlesOnce() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 1250));
        address[] memory meters = new address[](2);
        meters[0] = meterA;
        meters[1] = meterA;
        assertEq(registry.finalize(meters), 1);
        _assertVault(alice, 1250, 500);
        assertEq(energy.totalSupply(), 1250);
    }

    function test_FinalizeSeveralMetersOfSeveralOwnersByAnyone() public {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](3);
        batch[0] = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100);
        batch[1] = _sign(meterBKey, meterB, 2, T1, B_IMPORT, B_EXPORT + 200);
        batch[2] = _sign(meterCKey, meterC, 2, T1, C_IMPORT, C_EXPORT + 2500);
        registry.submitReadings(batch);
        vm.warp(T1 + WINDOW + 1);

        address[] memory meters = new address[](5);
        meters[0] = meterA;
        meters[1] = meterB;
        meters[2] = meterC;
        meters[3] = meterD; // registered, nothing pending: skipped
        meters[4] = makeAddr("stranger"); // unknown: skipped
        vm.prank(makeAddr("anyone"));
        assertEq(registry.finalize(meters), 3);

        // Carbon is floored per meter: 40 + 80, not floor(300 * 0.4) by chance alone.
        _assertVault(alice, 300, 40 + 80);
        _assertVault(bob, 2500, 1000);
        assertEq(energy.totalSupply(), 2800);
        assertEq(energy.balanceOf(address(registry)), 2800);
        assertEq(carbon.balanceOf(address(registry)), 1120);
    }

    function test_FinalizeFloorsCarbonPerMeter() public {
        vm.warp(T2);
        // 1 Wh at 400 g/kWh is 0.4 g on each of two meters: nothing, not 0.8 g rounded.
        IMeterRegistry.Reading[] memory batch = _two(
            _sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 1),
            _sign(meterBKey, meterB, 2, T2, B_IMPORT, B_EXPORT + 1)
        );
        registry.submitReadings(batch);
        address[] memory meters = new address[](2);
        meters[0] = meterA;
        meters[1] = meterB;
        registry.finalize(meters);
        _assertVault(alice, 2, 0);
        assertEq(carbon.totalMinted(), 0);
    }

    function test_FinalizeCreditsWithoutCarbonWhenIntensityZero() public {
        vm.prank(admin);
        registry.setCarbonIntensity(0);
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 100));

        _expectMetersSettled(
            address(registry), _settledRecord(meterA, _intervalOf(T2), 0, 0, 0, 100, 0, 0, 0)
        );
        _finalize(meterA);
        _assertVault(alice, 100, 0);
        assertEq(carbon.totalMinted(), 0);
    }

    function test_FinalizeOfEmptyResidualMintsNothing() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT));

        vm.recordLogs();
        assertEq(_finalize(meterA), 1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only MetersSettled");
        assertEq(logs[0].topics[0], IEnergyMarket.MetersSettled.selector);
        SettlementRecords.Record[] memory records = _decodeRecords(logs, address(registry));
        assertEq(records.length, 1, "one record");
        _assertRecord(records[0], _settledRecord(meterA, _intervalOf(T2), 0, 0, 0, 0, 0, 0, 0), "all zero");
        _assertPending(meterA, 0, 0, NONE);
    }

    function test_FinalizeDeactivatedMeter() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 100));
        vm.prank(admin);
        registry.deactivateMeter(meterA);

        assertEq(_finalize(meterA), 1);
        _assertVault(alice, 100, 40);
        _assertState(meterA, 2, 2, T2, A_IMPORT, A_EXPORT + 100, 0, 0, NONE);
    }

    function test_FinalizeMeterOfDeactivatedOwner() public {
        vm.warp(T2);
        _submit(_sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 100));
        vm.prank(admin);
        registry.deactivateParticipant(alice);

        assertEq(_finalize(meterA), 1);
        _assertVault(alice, 100, 40);
    }

    function test_FinalizeUnknownMeterSettlesNothing() public {
        vm.recordLogs();
        assertEq(_finalize(makeAddr("stranger")), 0);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_RevertWhen_FinalizeWithoutMinterRole() public {
        EnergyMarket unwired =
            new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
        vm.startPrank(admin);
        unwired.registerParticipant(alice);
        unwired.registerMeter(meterA, alice, 1, 0, A_CAPACITY_W);
        vm.stopPrank();
        vm.warp(T2);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](2);
        batch[0] = ReadingSigning.sign(address(unwired), meterAKey, _unsigned(meterA, 1, T0, 0, 0));
        batch[1] = ReadingSigning.sign(address(unwired), meterAKey, _unsigned(meterA, 2, T2, 0, 10));
        assertEq(unwired.submitReadings(batch), 2);

        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                address(unwired),
                energy.MINTER_ROLE()
            )
        );
        unwired.finalize(_meters(meterA));
    }

    /// @dev Registers meter E (bob's) with the largest capacity a `uint32` holds, with its baseline at T1
    /// (all registers zero).
    function _registerHugeMeter() private {
        (meterE, meterEKey) = makeAddrAndKey("meter-E");
        vm.prank(admin);
        registry.registerMeter(meterE, bob, 9, MeterKinds.SOLAR, type(uint32).max);
        assertEq(_submit(_sign(meterEKey, meterE, 1, T1, 0, 0)), 1);
    }

    /// @dev Registers meter E and leaves exactly `type(uint32).max` Wh pending on both registers with its
    /// seq 2, after a gap long enough for the capacity to allow that (4 intervals of 4.29 GW).
    /// @return end The `intervalEnd` of seq 2, which is also the current time.
    function _fillHugeMeterPending() private returns (uint40 end) {
        _registerHugeMeter();
        end = T1 + 4 * INTERVAL;
        vm.warp(end);
        uint48 full = type(uint32).max;
        assertGe(_maxDeltaWh(type(uint32).max, end - T1), full);
        assertEq(_submit(_sign(meterEKey, meterE, 2, end, full, full)), 1);
        _assertState(meterE, 1, 2, end, full, full, type(uint32).max, type(uint32).max, RESIDUAL);
    }

    /// @dev Gives a fresh account `KEEPER_ROLE` and returns it.
    function _grantKeeper() private returns (address keeper) {
        keeper = makeAddr("keeper");
        bytes32 role = registry.KEEPER_ROLE();
        vm.prank(admin);
        registry.grantRole(role, keeper);
    }

    function _unsigned(address meter, uint32 seq, uint40 intervalEnd, uint48 importWh, uint48 exportWh)
        private
        pure
        returns (IMeterRegistry.Reading memory)
    {
        return IMeterRegistry.Reading(meter, seq, intervalEnd, importWh, exportWh, bytes32(0), bytes32(0));
    }
}

/// @notice A reading whose volumes were settled, replayed in a later transaction: settling clears the
/// pending volumes, never the reading they came from.
contract MeterRegistrySettledReplayTest is RegistryFixture {
    uint40 internal constant T2 = T0 + 2 * INTERVAL;

    IMeterRegistry.Reading internal _settled;

    /// @dev Meter A's second reading, after a gap (residual only), is settled here, in its own
    /// transaction, so the test's replay cannot be caught by the duplicate-in-batch check.
    function setUp() public override {
        super.setUp();
        vm.warp(T2);
        _settled = _sign(meterAKey, meterA, 2, T2, A_IMPORT, A_EXPORT + 100);
        require(_submit(_settled) == 1, "reading not accepted");
        require(_finalize(meterA) == 1, "reading not settled");
    }

    function test_RejectsReplayOfSettledReadingAsAlreadyCounted() public {
        _assertRejected(_settled, IMeterRegistry.RejectReason.AlreadyCounted);
        _assertVault(alice, 100, 40);
        _assertState(meterA, 1, 2, T2, A_IMPORT, A_EXPORT + 100, 0, 0, NONE);
    }
}
