// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MeterRegistry} from "../src/MeterRegistry.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice Readings, their rejections (one test per reason) and claims.
contract MeterRegistryReadingsTest is RegistryFixture {
    uint40 internal constant T1 = T0 + INTERVAL;

    /// @dev A meter registered by `_registerHugeMeter` in the tests that need accruals near uint40.
    address internal meterE;
    uint256 internal meterEKey;

    // ---------------------------------------------------------------- accepted readings

    function test_FirstReadingIsBaseline() public {
        IMeterRegistry.Reading memory reading = _sign(meterDKey, meterD, 1, T1, 4321, 98_765);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterD, 1, T1, 0, 0);
        assertEq(_submit(reading), 1);

        _assertState(meterD, 1, 1, T1, 4321, 98_765, 0, 0);
    }

    function test_ReadingAccruesExportDeltaAsCreditsAndCarbon() public {
        IMeterRegistry.Reading memory reading =
            _sign(meterAKey, meterA, 2, T1, A_IMPORT + 567, A_EXPORT + 1234);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 567, 1234);
        assertEq(_submit(reading), 1);

        // 1234 Wh x 400 g/kWh / 1000 = 493.6 g, rounded down.
        _assertState(meterA, 1, 2, T1, A_IMPORT + 567, A_EXPORT + 1234, 1234, 493);
        assertEq(energy.totalSupply(), 0, "nothing minted before claim");
    }

    function test_AccrualsAddUpAcrossReadingsAndSeqGaps() public {
        vm.warp(T0 + 4 * INTERVAL);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](3);
        batch[0] = _sign(meterAKey, meterA, 2, T0 + INTERVAL, A_IMPORT + 10, A_EXPORT + 999);
        batch[1] = _sign(meterAKey, meterA, 5, T0 + 3 * INTERVAL, A_IMPORT + 10, A_EXPORT + 999);
        batch[2] = _sign(meterAKey, meterA, 6, T0 + 4 * INTERVAL, A_IMPORT + 30, A_EXPORT + 2000);

        assertEq(registry.submitReadings(batch), 3);

        // Carbon is floored per reading: floor(999 * 0.4) + floor(0) + floor(1001 * 0.4) = 399 + 400, not
        // floor(2000 * 0.4) = 800.
        _assertState(meterA, 1, 6, T0 + 4 * INTERVAL, A_IMPORT + 30, A_EXPORT + 2000, 2000, 799);
    }

    function test_CarbonUsesIntensityAtAcceptance() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1000));
        vm.prank(admin);
        registry.setCarbonIntensity(150);
        vm.warp(T1 + INTERVAL);
        _submit(_sign(meterAKey, meterA, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT + 2000));

        assertEq(registry.meterState(meterA).unclaimedCarbonGrams, 400 + 150);
    }

    function test_ImportOnlyReadingAccruesNothing() public {
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterC, 2, T1, 2500, 0);
        _submit(_sign(meterCKey, meterC, 2, T1, C_IMPORT + 2500, C_EXPORT));

        _assertState(meterC, 1, 2, T1, C_IMPORT + 2500, C_EXPORT, 0, 0);
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
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 1, 100);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterB, 2, IMeterRegistry.RejectReason.WrongSigner);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterC, 2, T1, 1, 300);
        assertEq(registry.submitReadings(batch), 2);

        assertEq(registry.meterState(meterA).unclaimedCreditsWh, 100);
        _assertState(meterB, 1, 1, T0, B_IMPORT, B_EXPORT, 0, 0);
        assertEq(registry.meterState(meterC).unclaimedCreditsWh, 300);
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
        assertEq(registry.meterState(meterC).unclaimedCreditsWh, 50);
        assertEq(registry.meterState(meterB).unclaimedCreditsWh, 7);
        assertEq(registry.meterState(meterA).seq, 1);
    }

    function test_MeterCanSubmitConsecutiveReadingsInOneBatch() public {
        vm.warp(T1 + INTERVAL);
        IMeterRegistry.Reading[] memory batch = _two(
            _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 10),
            _sign(meterAKey, meterA, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT + 30)
        );
        assertEq(registry.submitReadings(batch), 2);
        _assertState(meterA, 1, 3, T1 + INTERVAL, A_IMPORT, A_EXPORT + 30, 30, 12);
    }

    function test_ReactivatedMeterContinuesFromLastReading() public {
        vm.startPrank(admin);
        registry.deactivateMeter(meterA);
        registry.reactivateMeter(meterA);
        vm.stopPrank();

        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 80)), 1);
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, 80);
    }

    function test_EmptyBatchAcceptsNothing() public {
        assertEq(registry.submitReadings(new IMeterRegistry.Reading[](0)), 0);
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
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, 0, 100);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterA, 2, IMeterRegistry.RejectReason.DuplicateInBatch);
        assertEq(registry.submitReadings(_two(reading, reading)), 1);

        // A second call in the same transaction is the same batch for this rule.
        _assertRejected(reading, IMeterRegistry.RejectReason.DuplicateInBatch);
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, 100, "counted once");
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
        emit IMeterRegistry.ReadingAccepted(meterA, 2, T1, bound, bound);
        assertEq(_submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + bound, A_EXPORT + bound)), 1);
        _assertState(meterA, 1, 2, T1, A_IMPORT + bound, A_EXPORT + bound, 1250, 500);
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
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, bound);
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

    function test_BaselineIsNotBoundByCapacity() public {
        // A first reading has no previous one: its registers are where the meter's life so far left them.
        uint48 lifetimeWh = 50_000_000_000;
        assertEq(_submit(_sign(meterDKey, meterD, 1, T1, lifetimeWh, lifetimeWh)), 1);
        _assertState(meterD, 1, 1, T1, lifetimeWh, lifetimeWh, 0, 0);
    }

    function test_RejectsCreditsOverflowInsteadOfReverting() public {
        uint40 end = _fillHugeMeterCredits();

        // One more Wh would take the unclaimed credits past uint40, well within the capacity.
        vm.warp(end + INTERVAL);
        IMeterRegistry.Reading memory next =
            _sign(meterEKey, meterE, 3, end + INTERVAL, 0, uint48(type(uint40).max) + 1);
        _assertRejected(next, IMeterRegistry.RejectReason.ImplausibleDelta);

        // Claiming first makes room: the same reading then counts.
        registry.claim(_meters(meterE));
        assertEq(energy.balanceOf(bob), type(uint40).max);
        assertEq(_submit(next), 1);
        assertEq(registry.meterState(meterE).unclaimedCreditsWh, 1);
    }

    function test_RejectsCarbonOverflowInsteadOfReverting() public {
        _registerHugeMeter();
        vm.prank(admin);
        registry.setCarbonIntensity(type(uint16).max);
        // 16 intervals let a 4.29 GW meter export 17.2 GWh: far below uint40 credits, but at 65,535
        // g/kWh the carbon of the first delta below passes uint40 and the second just fits.
        uint40 end = T1 + 16 * INTERVAL;
        vm.warp(end);
        uint48 fits = uint48(uint256(type(uint40).max) * 1000 / type(uint16).max);
        assertLe(uint256(fits) * type(uint16).max / 1000, type(uint40).max);
        assertGt(uint256(fits + 1) * type(uint16).max / 1000, type(uint40).max);

        _assertRejected(
            _sign(meterEKey, meterE, 2, end, 0, fits + 1), IMeterRegistry.RejectReason.ImplausibleDelta
        );
        assertEq(_submit(_sign(meterEKey, meterE, 2, end, 0, fits)), 1);
        assertEq(registry.meterState(meterE).unclaimedCarbonGrams, uint256(fits) * type(uint16).max / 1000);
    }

    /// @dev The review's case: a meter key signs `exportWh = last + 2^40`. It used to revert the whole
    /// batch; now it is skipped and the readings around it count.
    function test_ImplausibleReadingBetweenGoodOnesDoesNotBlockThem() public {
        uint40 end = _fillHugeMeterCredits();
        vm.warp(end + INTERVAL);
        uint40 now_ = end + INTERVAL;
        uint48 jump = uint48(1) << 40;

        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](5);
        batch[0] = _sign(meterAKey, meterA, 2, now_, A_IMPORT + 10, A_EXPORT + 100);
        batch[1] = _sign(meterCKey, meterC, 2, now_, C_IMPORT, C_EXPORT + jump); // over capacity
        batch[2] = _sign(meterBKey, meterB, 2, now_, B_IMPORT, B_EXPORT + 200);
        batch[3] = _sign(meterEKey, meterE, 3, now_, 0, uint48(type(uint40).max) + 1); // overflow
        batch[4] = _sign(meterDKey, meterD, 1, now_, 5, 6);

        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterA, 2, now_, 10, 100);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterC, 2, IMeterRegistry.RejectReason.ImplausibleDelta);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterB, 2, now_, 0, 200);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingRejected(meterE, 3, IMeterRegistry.RejectReason.ImplausibleDelta);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ReadingAccepted(meterD, 1, now_, 0, 0);
        assertEq(registry.submitReadings(batch), 3);

        _assertState(meterC, 1, 1, T0, C_IMPORT, C_EXPORT, 0, 0);
        assertEq(registry.meterState(meterE).seq, 2);
        assertEq(registry.meterState(meterA).unclaimedCreditsWh, 100);
        assertEq(registry.meterState(meterB).unclaimedCreditsWh, 200);
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

    // ---------------------------------------------------------------- claims

    function test_ClaimMintsToOwnerAndZeroes() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT + 5, A_EXPORT + 1250));

        vm.expectEmit(address(registry));
        emit IMeterRegistry.Claimed(meterA, alice, 1250, 500);
        registry.claim(_meters(meterA));

        assertEq(energy.balanceOf(alice), 1250);
        assertEq(carbon.balanceOf(alice), 500);
        assertEq(carbon.totalMinted(), 500);
        _assertState(meterA, 1, 2, T1, A_IMPORT + 5, A_EXPORT + 1250, 0, 0);
    }

    function test_ClaimTwiceMintsNothing() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1250));
        registry.claim(_meters(meterA));

        vm.recordLogs();
        registry.claim(_meters(meterA));
        assertEq(vm.getRecordedLogs().length, 0, "second claim emitted");
        assertEq(energy.balanceOf(alice), 1250);
        assertEq(carbon.balanceOf(alice), 500);
    }

    function test_ClaimSameMeterTwiceInOneCallMintsOnce() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 1250));
        address[] memory meters = new address[](2);
        meters[0] = meterA;
        meters[1] = meterA;
        registry.claim(meters);
        assertEq(energy.balanceOf(alice), 1250);
    }

    function test_ClaimSeveralMetersOfSeveralOwnersByAnyone() public {
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](3);
        batch[0] = _sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100);
        batch[1] = _sign(meterBKey, meterB, 2, T1, B_IMPORT, B_EXPORT + 200);
        batch[2] = _sign(meterCKey, meterC, 2, T1, C_IMPORT, C_EXPORT + 2500);
        registry.submitReadings(batch);

        address[] memory meters = new address[](4);
        meters[0] = meterA;
        meters[1] = meterB;
        meters[2] = meterC;
        meters[3] = meterD; // registered, nothing to claim: skipped
        vm.prank(makeAddr("anyone"));
        registry.claim(meters);

        assertEq(energy.balanceOf(alice), 300);
        assertEq(carbon.balanceOf(alice), 40 + 80);
        assertEq(energy.balanceOf(bob), 2500);
        assertEq(carbon.balanceOf(bob), 1000);
        assertEq(energy.totalSupply(), 2800);
    }

    function test_ClaimCreditsWithoutCarbonWhenIntensityZero() public {
        vm.prank(admin);
        registry.setCarbonIntensity(0);
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100));

        vm.expectEmit(address(registry));
        emit IMeterRegistry.Claimed(meterA, alice, 100, 0);
        registry.claim(_meters(meterA));
        assertEq(carbon.totalMinted(), 0);
    }

    function test_ClaimDeactivatedMeter() public {
        _submit(_sign(meterAKey, meterA, 2, T1, A_IMPORT, A_EXPORT + 100));
        vm.prank(admin);
        registry.deactivateMeter(meterA);

        registry.claim(_meters(meterA));
        assertEq(energy.balanceOf(alice), 100);
    }

    function test_RevertWhen_ClaimUnknownMeter() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryUnknownMeter.selector, stranger));
        registry.claim(_meters(stranger));
    }

    function test_RevertWhen_ClaimWithoutMinterRole() public {
        MeterRegistry unwired = new MeterRegistry(admin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
        vm.startPrank(admin);
        unwired.registerParticipant(alice);
        unwired.registerMeter(meterA, alice, 1, 0, A_CAPACITY_W);
        vm.stopPrank();
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](2);
        batch[0] = ReadingSigning.sign(address(unwired), meterAKey, _unsigned(meterA, 1, T0, 0, 0));
        batch[1] = ReadingSigning.sign(address(unwired), meterAKey, _unsigned(meterA, 2, T1, 0, 10));
        assertEq(unwired.submitReadings(batch), 2);

        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                address(unwired),
                energy.MINTER_ROLE()
            )
        );
        unwired.claim(_meters(meterA));
    }

    /// @dev Registers meter E (bob's) with the largest capacity a `uint32` holds, with its baseline at T1
    /// (all registers zero).
    function _registerHugeMeter() private {
        (meterE, meterEKey) = makeAddrAndKey("meter-E");
        vm.prank(admin);
        registry.registerMeter(meterE, bob, 9, MeterKinds.SOLAR, type(uint32).max);
        assertEq(_submit(_sign(meterEKey, meterE, 1, T1, 0, 0)), 1);
    }

    /// @dev Registers meter E and accrues exactly `type(uint40).max` unclaimed credits with its seq 2,
    /// after a gap long enough for the capacity to allow that (1,025 intervals of 4.29 GW).
    /// @return end The `intervalEnd` of seq 2, which is also the current time.
    function _fillHugeMeterCredits() private returns (uint40 end) {
        _registerHugeMeter();
        end = T1 + 1025 * INTERVAL;
        vm.warp(end);
        uint48 full = type(uint40).max;
        assertGe(_maxDeltaWh(type(uint32).max, end - T1), full);
        assertEq(_submit(_sign(meterEKey, meterE, 2, end, 0, full)), 1);
        _assertState(
            meterE, 1, 2, end, 0, full, type(uint40).max, SafeCast.toUint40(uint256(full) * INTENSITY / 1000)
        );
    }

    function _unsigned(address meter, uint32 seq, uint40 intervalEnd, uint48 importWh, uint48 exportWh)
        private
        pure
        returns (IMeterRegistry.Reading memory)
    {
        return IMeterRegistry.Reading(meter, seq, intervalEnd, importWh, exportWh, bytes32(0), bytes32(0));
    }
}
