// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VppDispatch} from "../src/VppDispatch.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {IVppDispatch} from "../src/interfaces/IVppDispatch.sol";
import {MeterKinds} from "../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {VppFixture} from "./utils/VppFixture.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Creating, enrolling in, cancelling, settling, closing and claiming dispatch events, and every
/// revert with its arguments.
contract VppDispatchTest is VppFixture {
    // ---------------------------------------------------------------- construction

    function test_ConstructorTakesMarketParameters() public view {
        assertEq(vpp.MARKET(), address(market));
        assertEq(vpp.STABLECOIN(), address(stablecoin));
        assertEq(vpp.INTERVAL_SECONDS(), INTERVAL);
        assertEq(vpp.GRACE_SECONDS(), 2 * INTERVAL);
        assertEq(vpp.PROOF_WINDOW(), 1 days);
    }

    function test_RevertWhen_ConstructedWithZeroAddress() public {
        vm.expectRevert(IVppDispatch.VppZeroAddress.selector);
        new VppDispatch(IEnergyMarket(address(0)), stablecoin);
        vm.expectRevert(IVppDispatch.VppZeroAddress.selector);
        new VppDispatch(market, IERC20(address(0)));
    }

    // ---------------------------------------------------------------- create

    function test_CreateEscrowsBudgetAndRecordsEvent() public {
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.EventCreated(
            1, gridOperator, FEEDER, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM
        );
        uint256 id = _createEvent();

        assertEq(id, 1, "ids count from 1");
        assertEq(vpp.eventCount(), 1);
        assertEq(stablecoin.balanceOf(gridOperator), operatorBefore - BUDGET, "operator paid the budget");
        assertEq(_vppBalance(), BUDGET, "budget escrowed");
        IVppDispatch.EventView memory ev = vpp.eventOf(id);
        assertEq(ev.operator, gridOperator);
        assertEq(ev.feeder, FEEDER);
        assertEq(ev.start, START);
        assertEq(ev.end, END);
        assertEq(ev.targetW, TARGET_W);
        assertEq(ev.committedW, 0);
        assertEq(ev.pricePerKwh, VPP_PRICE);
        assertEq(ev.priority, PRIORITY);
        assertEq(uint8(ev.status), uint8(IVppDispatch.EventStatus.Open));
        assertEq(ev.budget, BUDGET);
        assertEq(ev.escrowed, BUDGET);
        assertEq(ev.paid, 0);
        assertEq(ev.refunded, 0);
        vm.prank(gridOperator);
        assertEq(
            vpp.create(FEEDER + 1, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM),
            2,
            "the next id"
        );
    }

    function test_RevertWhen_CreateByNonOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppNotGridOperator.selector, stranger));
        vm.prank(stranger);
        vpp.create(FEEDER, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
    }

    function test_RevertWhen_CreateMisaligned() public {
        vm.startPrank(gridOperator);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppWindowMisaligned.selector, START + 1, END, INTERVAL)
        );
        vpp.create(FEEDER, START + 1, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppWindowMisaligned.selector, START, END - 1, INTERVAL)
        );
        vpp.create(FEEDER, START, END - 1, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.stopPrank();
    }

    function test_RevertWhen_CreateStartNotInFuture() public {
        vm.warp(START);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppStartNotInFuture.selector, START, START));
        vm.prank(gridOperator);
        vpp.create(FEEDER, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
    }

    function test_RevertWhen_CreateEmptyOrTooLongWindow() public {
        vm.startPrank(gridOperator);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppEmptyWindow.selector, START, START));
        vpp.create(FEEDER, START, START, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppEmptyWindow.selector, END, START));
        vpp.create(FEEDER, END, START, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        // A window longer than the time since the epoch has no baseline window before it.
        uint40 tooLate = 2 * START + INTERVAL;
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppWindowTooLong.selector, START, tooLate));
        vpp.create(FEEDER, START, tooLate, 1, 1, type(uint56).max, PRIORITY, PROGRAM);
        vm.stopPrank();
    }

    /// @dev A window longer than a day, or a start more than a week ahead, is refused: with one event at a
    /// time per feeder, either would hold the feeder against every other call.
    function test_RevertWhen_CreateLongerThanADayOrTooFarAhead() public {
        vm.startPrank(gridOperator);
        uint40 dayAndInterval = START + 1 days + INTERVAL;
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppWindowTooLong.selector, START, dayAndInterval));
        vpp.create(FEEDER, START, dayAndInterval, TARGET_W, VPP_PRICE, type(uint56).max, PRIORITY, PROGRAM);
        uint40 far = uint40((block.timestamp + 7 days) / INTERVAL * INTERVAL + INTERVAL);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppStartTooFar.selector, far, block.timestamp + 7 days)
        );
        vpp.create(FEEDER, far, far + INTERVAL, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        // A whole day, starting a week ahead, is fine.
        uint40 latest = uint40((block.timestamp + 7 days) / INTERVAL * INTERVAL);
        uint256 id = vpp.create(FEEDER, latest, latest + 1 days, 1, 1, 1e6, PRIORITY, PROGRAM);
        vm.stopPrank();
        assertEq(vpp.eventOf(id).end, latest + 1 days);
    }

    function test_RevertWhen_CreateZeroTargetOrPrice() public {
        vm.startPrank(gridOperator);
        vm.expectRevert(IVppDispatch.VppZeroTarget.selector);
        vpp.create(FEEDER, START, END, 0, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.expectRevert(IVppDispatch.VppZeroPrice.selector);
        vpp.create(FEEDER, START, END, TARGET_W, 0, BUDGET, PRIORITY, PROGRAM);
        vm.stopPrank();
    }

    /// @dev Full delivery of 1,001 W for 15 minutes at 0.25 $/kWh costs 62,562.5 base units: the budget
    /// must cover it rounded up.
    function test_RevertWhen_CreateBudgetBelowFullDelivery() public {
        vm.startPrank(gridOperator);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppBudgetTooSmall.selector, 62_562, 62_563));
        vpp.create(FEEDER, START, START + INTERVAL, 1001, 250_000, 62_562, PRIORITY, PROGRAM);
        uint256 id = vpp.create(FEEDER, START, START + INTERVAL, 1001, 250_000, 62_563, PRIORITY, PROGRAM);
        vm.stopPrank();
        assertEq(vpp.eventOf(id).budget, 62_563);
    }

    function test_RevertWhen_CreateBudgetTooLarge() public {
        uint256 budget = uint256(type(uint56).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppBudgetTooLarge.selector, budget, type(uint56).max)
        );
        vm.prank(gridOperator);
        vpp.create(FEEDER, START, END, TARGET_W, VPP_PRICE, budget, PRIORITY, PROGRAM);
    }

    // ---------------------------------------------------------------- enroll

    function test_Enroll() public {
        uint256 id = _createEvent();
        vm.expectEmit(address(vpp));
        emit IVppDispatch.Enrolled(id, bobPv, 8000);
        _enroll(id, bobPv, 8000);
        _enroll(id, daveHome, 12_000);

        IVppDispatch.Enrolment memory enrolment = vpp.enrolmentOf(id, bobPv);
        assertEq(enrolment.owner, bob);
        assertEq(enrolment.committedW, 8000);
        assertEq(uint8(enrolment.status), uint8(IVppDispatch.EnrolmentStatus.Enrolled));
        assertEq(enrolment.owed, 0);
        assertEq(vpp.eventOf(id).committedW, TARGET_W, "commitments add up to the target");
    }

    function test_RevertWhen_EnrollAfterStart() public {
        uint256 id = _createEvent();
        vm.warp(START - 1);
        _enroll(id, bobPv, 1000);
        vm.warp(START);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppEventStarted.selector, id, START, START));
        _enroll(id, daveHome, 1000);
    }

    function test_RevertWhen_EnrollWrongFeeder() public {
        uint256 id = _createEvent();
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppWrongFeeder.selector, frankBattery, 2, FEEDER));
        _enroll(id, frankBattery, 1000);
    }

    function test_RevertWhen_EnrollNonBatteryMeter() public {
        uint256 id = _createEvent();
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppMeterNotDispatchable.selector, alicePv, MeterKinds.SOLAR)
        );
        _enroll(id, alicePv, 1000);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppMeterNotDispatchable.selector, carolHome, 0));
        _enroll(id, carolHome, 1000);
    }

    function test_RevertWhen_EnrollNotMeterOwner() public {
        uint256 id = _createEvent();
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppNotMeterOwner.selector, bobPv, erin, bob));
        vm.prank(erin);
        vpp.enroll(id, bobPv, 1000);
        address unknown = makeAddr("unknown meter");
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppNotMeterOwner.selector, unknown, erin, address(0))
        );
        vm.prank(erin);
        vpp.enroll(id, unknown, 1000);
    }

    function test_RevertWhen_EnrollCommitmentOutOfRange() public {
        uint256 id = _createEvent();
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppCommitmentOutOfRange.selector, bobPv, 0, CAPACITY_W)
        );
        _enroll(id, bobPv, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVppDispatch.VppCommitmentOutOfRange.selector, bobPv, CAPACITY_W + 1, CAPACITY_W
            )
        );
        _enroll(id, bobPv, CAPACITY_W + 1);
    }

    function test_RevertWhen_EnrollTwice() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 1000);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppAlreadyEnrolled.selector, id, bobPv));
        _enroll(id, bobPv, 1000);
    }

    function test_RevertWhen_EnrollOverCommitsTarget() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 15_000);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppTargetExceeded.selector, id, 5001, 5000));
        _enroll(id, daveHome, 5001);
        _enroll(id, daveHome, 5000);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppTargetExceeded.selector, id, 1, 0));
        _enroll(id, erinEv, 1);
    }

    function test_RevertWhen_EnrollUnknownOrCancelledEvent() public {
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppUnknownEvent.selector, 1));
        _enroll(1, bobPv, 1000);
        uint256 id = _createEvent();
        vm.prank(gridOperator);
        vpp.cancel(id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVppDispatch.VppEventNotOpen.selector, id, IVppDispatch.EventStatus.Cancelled
            )
        );
        _enroll(id, bobPv, 1000);
    }

    /// @dev One event at a time per feeder: an overlapping event there is refused, one back to back or on
    /// another feeder is not. Without it, a meter enrolled in two overlapping events would prove the same
    /// export to both and be paid twice.
    function test_RevertWhen_CreateOverlapsFeederEvent() public {
        _createEvent();
        assertEq(vpp.feederBusyUntil(FEEDER), END);
        vm.startPrank(gridOperator);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppFeederBusy.selector, FEEDER, END - INTERVAL, END)
        );
        vpp.create(FEEDER, END - INTERVAL, END + INTERVAL, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        uint256 next = vpp.create(FEEDER, END, END + DURATION, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        uint256 elsewhere = vpp.create(FEEDER + 1, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.stopPrank();
        assertEq(vpp.eventOf(next).start, END);
        assertEq(vpp.eventOf(elsewhere).feeder, FEEDER + 1);
        assertEq(vpp.feederBusyUntil(FEEDER), END + DURATION);
        assertEq(vpp.feederBusyUntil(FEEDER + 1), END);
    }

    /// @dev Cancelling the feeder's latest event frees its window; cancelling an earlier one does not free
    /// the feeder past the later event.
    function test_CancelFreesFeederOnlyForTheLatestEvent() public {
        uint256 first = _createEvent();
        vm.startPrank(gridOperator);
        uint256 second =
            vpp.create(FEEDER, END, END + DURATION, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vpp.cancel(first);
        assertEq(vpp.feederBusyUntil(FEEDER), END + DURATION);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppFeederBusy.selector, FEEDER, START, END + DURATION)
        );
        vpp.create(FEEDER, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);

        vpp.cancel(second);
        assertEq(vpp.feederBusyUntil(FEEDER), END);
        uint256 third =
            vpp.create(FEEDER, END, END + DURATION, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        vm.stopPrank();
        assertEq(vpp.eventOf(third).start, END);
    }

    // ---------------------------------------------------------------- cancel

    function test_CancelRefundsWholeBudget() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vm.warp(START - 1);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.EventCancelled(id, BUDGET);
        vm.prank(gridOperator);
        vpp.cancel(id);

        assertEq(stablecoin.balanceOf(gridOperator), operatorBefore + BUDGET);
        assertEq(_vppBalance(), 0);
        IVppDispatch.EventView memory ev = vpp.eventOf(id);
        assertEq(uint8(ev.status), uint8(IVppDispatch.EventStatus.Cancelled));
        assertEq(ev.refunded, BUDGET);
        assertEq(ev.escrowed, 0);
        assertEq(ev.paid, 0);

        // The enrolments are void: nothing settles.
        vm.warp(_closesAt());
        vm.expectRevert(
            abi.encodeWithSelector(
                IVppDispatch.VppEventNotOpen.selector, id, IVppDispatch.EventStatus.Cancelled
            )
        );
        vpp.settle(id, _proofs(_proof(bobPv, 0, 0, 0, 5000)), true);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVppDispatch.VppEventNotOpen.selector, id, IVppDispatch.EventStatus.Cancelled
            )
        );
        vm.prank(gridOperator);
        vpp.cancel(id);
    }

    function test_RevertWhen_CancelAfterStart() public {
        uint256 id = _createEvent();
        vm.warp(START);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppEventStarted.selector, id, START, START));
        vm.prank(gridOperator);
        vpp.cancel(id);
    }

    /// @dev The co-op admin may cancel an event called by mistake; the budget goes back to its operator and
    /// the feeder is free again.
    function test_AdminCancelsAnEventForItsOperator() public {
        uint256 id = _createEvent();
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vm.prank(admin);
        vpp.cancel(id);
        assertEq(stablecoin.balanceOf(gridOperator) - operatorBefore, BUDGET);
        assertEq(uint8(vpp.eventOf(id).status), uint8(IVppDispatch.EventStatus.Cancelled));
        assertEq(vpp.feederBusyUntil(FEEDER), 0);
    }

    /// @dev Another grid operator cannot cancel someone else's event.
    function test_RevertWhen_CancelByNotEventOperator() public {
        uint256 id = _createEvent();
        address otherOperator = makeAddr("other operator");
        vm.startPrank(admin);
        market.grantRole(market.GRID_OPERATOR_ROLE(), otherOperator);
        vm.stopPrank();
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppNotEventOperator.selector, id, otherOperator, gridOperator)
        );
        vm.prank(otherOperator);
        vpp.cancel(id);
    }

    // ---------------------------------------------------------------- settle and close

    /// @dev A 20 kW event with 15 kW enrolled: bob delivers fully (5 kWh on top of a 1 kWh solar baseline),
    /// dave partly, erin over-delivers (capped); the close refunds the rest to the operator.
    function test_SettlePaysDeliveryAndCloseRefundsRest() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        _enroll(id, daveHome, 6000);
        _enroll(id, erinEv, 4000);
        // bob: baseline net export 1,000 Wh (solar), event net 6,000 Wh: delivered 5,000 = his cap.
        IVppDispatch.Proof memory bobProof = _proof(bobPv, 200, 1200, 100, 6100);
        // dave: baseline net -2,000 (his EV charged) counts as 0, event net +1,000: delivered 1,000 of a 6,000
        // cap (charging from the grid before an event earns nothing).
        IVppDispatch.Proof memory daveProof = _proof(daveHome, 2500, 500, 0, 1000);
        // erin: baseline 0, event net 7,000: capped at 4,000.
        IVppDispatch.Proof memory erinProof = _proof(erinEv, 0, 0, 0, 7000);

        vm.warp(_opensAt());
        vm.expectEmit(address(vpp));
        emit IVppDispatch.DeliverySettled(id, bobPv, 5000, 1.5e6);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.DeliverySettled(id, daveHome, 1000, 0.3e6);
        uint256 paid = vpp.settle(id, _proofs(bobProof, daveProof), false);
        assertEq(paid, 1.8e6);
        vm.warp(_closesAt());
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.DeliverySettled(id, erinEv, 7000, 1.2e6);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.EventClosed(id, 3e6, 3e6);
        assertEq(vpp.settle(id, _proofs(erinProof), true), 1.2e6);

        assertEq(stablecoin.balanceOf(gridOperator) - operatorBefore, 3e6, "refund");
        IVppDispatch.EventView memory ev = vpp.eventOf(id);
        assertEq(uint8(ev.status), uint8(IVppDispatch.EventStatus.Closed));
        assertEq(ev.paid, 3e6);
        assertEq(ev.refunded, 3e6);
        assertEq(ev.escrowed, 0);
        assertEq(ev.budget, ev.paid + ev.refunded, "budget = paid + refunded");
        assertEq(_vppBalance(), 3e6, "the contract holds what is owed");
        assertEq(vpp.enrolmentOf(id, bobPv).owed, 1.5e6);
        assertEq(vpp.enrolmentOf(id, daveHome).owed, 0.3e6);
        assertEq(vpp.enrolmentOf(id, erinEv).owed, 1.2e6);

        // No proof after the close.
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppEventNotOpen.selector, id, IVppDispatch.EventStatus.Closed)
        );
        vpp.settle(id, _noProofs(), true);
    }

    /// @dev Delivering exactly the baseline earns nothing; so does exporting less than it (negative
    /// delivery is zero, not a debt).
    function test_SettleNoOrNegativeDeliveryPaysNothing() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        _enroll(id, daveHome, 5000);
        IVppDispatch.Proof memory flat = _proof(bobPv, 100, 2100, 100, 2100);
        IVppDispatch.Proof memory negative = _proof(daveHome, 0, 3000, 1000, 500);
        vm.warp(_opensAt());
        vm.expectEmit(address(vpp));
        emit IVppDispatch.DeliverySettled(id, bobPv, 0, 0);
        vm.expectEmit(address(vpp));
        emit IVppDispatch.DeliverySettled(id, daveHome, 0, 0);
        assertEq(vpp.settle(id, _proofs(flat, negative), false), 0);
        assertEq(uint8(vpp.enrolmentOf(id, daveHome).status), uint8(IVppDispatch.EnrolmentStatus.Settled));
        assertEq(vpp.eventOf(id).escrowed, BUDGET);
    }

    /// @dev A committed fraction of a Wh: 1,001 W for an hour caps at 1,001 Wh; 1,001 W for 15 minutes
    /// would cap at 250.25 Wh, compared exactly and rounded down once.
    function test_SettleCapIsExactAndPayRoundsDown() public {
        vm.prank(gridOperator);
        uint256 id = vpp.create(FEEDER, START, START + INTERVAL, 1001, 333_333, 1e6, PRIORITY, PROGRAM);
        _enroll(id, bobPv, 1001);
        IVppDispatch.Proof memory proof =
            _proofAt(bobPv, [START - INTERVAL, START, START + INTERVAL], 0, 0, 0, 300);
        vm.warp(START + INTERVAL + vpp.GRACE_SECONDS());
        // 250.25 Wh x 0.333333 $/kWh = 83,416.58 base units.
        assertEq(vpp.settle(id, _proofs(proof), false), 83_416);
    }

    function test_SettleMissingProofIsPaidNothing() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        _enroll(id, daveHome, 5000);
        IVppDispatch.Proof memory bobProof = _proof(bobPv, 0, 0, 0, 5000);
        vm.warp(_closesAt());
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vpp.settle(id, _proofs(bobProof), true);
        assertEq(stablecoin.balanceOf(gridOperator) - operatorBefore, BUDGET - 1.5e6);
        assertEq(uint8(vpp.enrolmentOf(id, daveHome).status), uint8(IVppDispatch.EnrolmentStatus.Enrolled));
        assertEq(vpp.enrolmentOf(id, daveHome).owed, 0);
    }

    /// @dev After a fork changes the chain id, readings are checked against the market's domain on the
    /// new chain, as the registry checks them; readings signed for the old chain no longer verify.
    function test_SettleFollowsChainIdChange() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        _enroll(id, daveHome, 5000);
        IVppDispatch.Proof memory oldChain = _proof(daveHome, 0, 0, 0, 5000);
        vm.chainId(4242);
        IVppDispatch.Proof memory newChain = _proof(bobPv, 0, 0, 0, 5000);
        vm.warp(_opensAt());
        assertEq(vpp.settle(id, _proofs(newChain), false), 1.5e6);
        vm.expectPartialRevert(IVppDispatch.VppWrongSigner.selector);
        vpp.settle(id, _proofs(oldChain), false);
    }

    function test_RevertWhen_SettleBeforeEndPlusGrace() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        uint256 opensAt = _opensAt();
        assertEq(opensAt, END + 2 * INTERVAL, "two intervals of grace");
        vm.warp(opensAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppSettlementNotOpen.selector, id, opensAt, opensAt - 1)
        );
        vpp.settle(id, _proofs(proof), false);
        vm.warp(opensAt);
        vpp.settle(id, _proofs(proof), false);
    }

    function test_RevertWhen_CloseBeforeProofWindowEnds() public {
        uint256 id = _createEvent();
        uint256 closesAt = _closesAt();
        vm.warp(closesAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppClosingTooEarly.selector, id, closesAt, closesAt - 1)
        );
        vpp.settle(id, _noProofs(), true);
        vm.warp(closesAt);
        vpp.settle(id, _noProofs(), true);
        assertEq(vpp.eventOf(id).refunded, BUDGET, "nothing proved: everything refunded");
    }

    function test_RevertWhen_SettleUnknownEvent() public {
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppUnknownEvent.selector, 7));
        vpp.settle(7, _noProofs(), false);
    }

    function test_RevertWhen_SettleReplayedProof() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        vm.warp(_opensAt());
        // Twice in one call.
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppAlreadySettled.selector, id, bobPv));
        vpp.settle(id, _proofs(proof, proof), false);
        // Again after it settled.
        vpp.settle(id, _proofs(proof), false);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppAlreadySettled.selector, id, bobPv));
        vpp.settle(id, _proofs(proof), false);
        assertEq(vpp.eventOf(id).paid, 1.5e6, "paid once");
    }

    function test_RevertWhen_SettleNotEnrolledMeter() public {
        uint256 id = _createEvent();
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        vm.warp(_opensAt());
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppNotEnrolled.selector, id, bobPv));
        vpp.settle(id, _proofs(proof), false);
    }

    /// @dev Readings signed by another meter's key (dave's) for bob's meter.
    function test_RevertWhen_SettleWrongSigner() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IMeterRegistry.Reading memory reading = IMeterRegistry.Reading(bobPv, 9, BASELINE_START, 10, 20, 0, 0);
        reading = ReadingSigning.sign(address(market), tracks[daveHome].key, reading);
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        proof.readings[0] = _signed(reading);
        vm.warp(_opensAt());
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppWrongSigner.selector, id, bobPv, 0, daveHome));
        vpp.settle(id, _proofs(proof), false);
    }

    /// @dev A genuine reading of the meter, but for another interval end than the event's `end`: it
    /// recovers to an unrelated address.
    function test_RevertWhen_SettleWrongBoundary() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IVppDispatch.Proof memory proof =
            _proofAt(bobPv, [BASELINE_START, START, END + INTERVAL], 0, 0, 0, 5000);
        (uint8 v, bytes32 r, bytes32 s) = _split(proof.readings[2]);
        IMeterRegistry.Reading memory asRead = IMeterRegistry.Reading(
            bobPv, tracks[bobPv].seq, END, tracks[bobPv].importWh, tracks[bobPv].exportWh, 0, 0
        );
        address recovered = ecrecover(ReadingSigning.digest(address(market), asRead), v, r, s);
        assertTrue(recovered != bobPv && recovered != address(0));
        vm.warp(_opensAt());
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppWrongSigner.selector, id, bobPv, 2, recovered));
        vpp.settle(id, _proofs(proof), false);
    }

    /// @dev A changed register breaks the signature too.
    function test_RevertWhen_SettleTamperedRegister() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        proof.readings[1].registers += 1000;
        vm.warp(_opensAt());
        vm.expectPartialRevert(IVppDispatch.VppWrongSigner.selector);
        vpp.settle(id, _proofs(proof), false);
    }

    /// @dev A high-s signature does not recover: the signer is reported as zero.
    function test_RevertWhen_SettleMalformedSignature() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        IVppDispatch.Proof memory proof = _proof(bobPv, 0, 0, 0, 5000);
        proof.readings[1].vs =
            bytes32((uint256(proof.readings[1].vs) & (1 << 255)) | (ReadingSigning.HALF_N + 1));
        vm.warp(_opensAt());
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppWrongSigner.selector, id, bobPv, 1, address(0))
        );
        vpp.settle(id, _proofs(proof), false);
    }

    function test_RevertWhen_SettleSeqNotIncreasing() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        MeterTrack memory track = tracks[bobPv];
        IVppDispatch.Proof memory proof;
        proof.meter = bobPv;
        // seq 5 at the baseline start, 5 again at the start.
        proof.readings[0] = _signed(_signedReading(bobPv, 5, BASELINE_START, track.importWh, track.exportWh));
        proof.readings[1] = _signed(_signedReading(bobPv, 5, START, track.importWh, track.exportWh));
        proof.readings[2] = _signed(_signedReading(bobPv, 6, END, track.importWh, track.exportWh + 10));
        vm.warp(_opensAt());
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppSeqNotIncreasing.selector, id, bobPv));
        vpp.settle(id, _proofs(proof), false);
    }

    function test_RevertWhen_SettleRegisterWentBackwards() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        MeterTrack memory track = tracks[bobPv];
        IVppDispatch.Proof memory proof;
        proof.meter = bobPv;
        proof.readings[0] = _signed(_signedReading(bobPv, 5, BASELINE_START, track.importWh, track.exportWh));
        proof.readings[1] = _signed(_signedReading(bobPv, 6, START, track.importWh - 1, track.exportWh));
        proof.readings[2] = _signed(_signedReading(bobPv, 7, END, track.importWh, track.exportWh + 10));
        vm.warp(_opensAt());
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppRegisterWentBackwards.selector, id, bobPv));
        vpp.settle(id, _proofs(proof), false);
    }

    // ---------------------------------------------------------------- claim

    function test_ClaimPaysOwnerOnce() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        vm.warp(_opensAt());
        vpp.settle(id, _proofs(_proof(bobPv, 0, 0, 0, 4000)), false);

        vm.expectEmit(address(vpp));
        emit IVppDispatch.Claimed(id, bobPv, bob, 1.2e6);
        vm.prank(bob);
        assertEq(vpp.claim(_key(id, bobPv)), 1.2e6);
        assertEq(stablecoin.balanceOf(bob), 1.2e6);
        assertEq(uint8(vpp.enrolmentOf(id, bobPv).status), uint8(IVppDispatch.EnrolmentStatus.Claimed));
        assertEq(_vppBalance(), BUDGET - 1.2e6);

        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppNothingToClaim.selector, id, bobPv));
        vm.prank(bob);
        vpp.claim(_key(id, bobPv));
    }

    /// @dev erin claims both her meters' pay of two events in one transfer.
    function test_ClaimSeveralEnrolmentsInOneTransfer() public {
        address erinPvBattery = _addMeter(erin, "erin-battery", MeterKinds.BATTERY);
        uint256 first = _createEvent();
        // The feeder's next event, back to back with the first.
        vm.prank(gridOperator);
        uint256 second =
            vpp.create(FEEDER, END, END + DURATION, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
        _enroll(first, erinEv, 5000);
        _enroll(first, erinPvBattery, 5000);
        _enroll(second, erinEv, 5000);
        IVppDispatch.Proof memory a = _proof(erinEv, 0, 0, 0, 1000);
        IVppDispatch.Proof memory b = _proof(erinPvBattery, 0, 0, 0, 2000);
        IVppDispatch.Proof memory c = _proofAt(erinEv, [START, END, END + DURATION], 0, 0, 0, 3000);
        vm.warp(_opensAt() + DURATION);
        vpp.settle(first, _proofs(a, b), false);
        vpp.settle(second, _proofs(c), false);

        IVppDispatch.EnrolmentKey[] memory keys = new IVppDispatch.EnrolmentKey[](3);
        keys[0] = IVppDispatch.EnrolmentKey(first, erinEv);
        keys[1] = IVppDispatch.EnrolmentKey(first, erinPvBattery);
        keys[2] = IVppDispatch.EnrolmentKey(second, erinEv);
        vm.prank(erin);
        assertEq(vpp.claim(keys), 1.8e6);
        assertEq(stablecoin.balanceOf(erin), 1.8e6);
    }

    function test_RevertWhen_ClaimNotOwnerOrNotSettled() public {
        uint256 id = _createEvent();
        _enroll(id, bobPv, 5000);
        vm.expectRevert(abi.encodeWithSelector(IVppDispatch.VppNothingToClaim.selector, id, bobPv));
        vm.prank(bob);
        vpp.claim(_key(id, bobPv));
        vm.warp(_opensAt());
        vpp.settle(id, _proofs(_proof(bobPv, 0, 0, 0, 4000)), false);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppNotEnrolmentOwner.selector, id, bobPv, stranger, bob)
        );
        vm.prank(stranger);
        vpp.claim(_key(id, bobPv));
    }

    // ---------------------------------------------------------------- helpers

    function _signedReading(address meter, uint32 seq, uint40 intervalEnd, uint48 importWh, uint48 exportWh)
        internal
        view
        returns (IMeterRegistry.Reading memory reading)
    {
        reading = IMeterRegistry.Reading(meter, seq, intervalEnd, importWh, exportWh, 0, 0);
        return ReadingSigning.sign(address(market), tracks[meter].key, reading);
    }

    /// @dev The (v, r, s) of a compact signature.
    function _split(IVppDispatch.SignedReading memory reading)
        internal
        pure
        returns (uint8, bytes32, bytes32)
    {
        uint256 vs = uint256(reading.vs);
        return (uint8(27 + (vs >> 255)), reading.r, bytes32(vs & ((1 << 255) - 1)));
    }
}
