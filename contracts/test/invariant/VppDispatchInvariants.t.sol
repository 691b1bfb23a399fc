// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {VppDispatch} from "../../src/VppDispatch.sol";
import {IVppDispatch} from "../../src/interfaces/IVppDispatch.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {VppDispatchHandler} from "./handlers/VppDispatchHandler.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice The escrow of VppDispatch under random sequences of events created, enrolled in, cancelled,
/// settled, closed and claimed: no unit is created or lost. Runs are deeper than the project's default so
/// that each one takes several events through their whole life.
/// forge-config: default.invariant.depth = 200
contract VppDispatchInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;

    MockStablecoin internal stablecoin;
    VppDispatch internal vpp;
    VppDispatchHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address operator = makeAddr("grid operator");
        stablecoin = new MockStablecoin(admin);
        EnergyMarket market = new EnergyMarket(
            admin, stablecoin, new EnergyCredit(admin), new CarbonCredit(admin), 900, 2 days, 400
        );
        vpp = new VppDispatch(market, stablecoin);

        address[4] memory meters;
        uint256[4] memory keys;
        address[4] memory owners;
        vm.startPrank(admin);
        market.grantRole(market.GRID_OPERATOR_ROLE(), operator);
        stablecoin.mint(operator, 2 ** 80);
        for (uint256 i; i < 4; ++i) {
            owners[i] = makeAddr(string.concat("owner-", vm.toString(i)));
            (meters[i], keys[i]) = makeAddrAndKey(string.concat("battery-", vm.toString(i)));
            market.registerParticipant(owners[i]);
            market.registerMeter(
                meters[i], owners[i], 1, i % 2 == 0 ? MeterKinds.BATTERY : MeterKinds.EV, 20_000
            );
        }
        vm.stopPrank();
        vm.prank(operator);
        stablecoin.approve(address(vpp), type(uint256).max);

        handler = new VppDispatchHandler(vpp, operator, meters, keys, owners);
        targetContract(address(handler));
    }

    /// @dev Every token the contract holds came in as a budget and has not gone out as a refund or a claim.
    function invariant_BalanceIsBudgetsLessRefundsAndClaims() public view {
        assertEq(
            stablecoin.balanceOf(address(vpp)),
            handler.ghostBudgets() - handler.ghostRefunded() - handler.ghostClaimed(),
            "token balance"
        );
    }

    /// @dev Per event, budget = paid + refunded + escrowed, with `paid` as the handler summed it from the
    /// settlements; nothing stays escrowed for a cancelled or closed event.
    function invariant_BudgetIsPaidPlusRefundedPlusEscrowed() public view {
        uint256[] memory ids = handler.eventIds();
        uint256 paid;
        for (uint256 i; i < ids.length; ++i) {
            IVppDispatch.EventView memory ev = vpp.eventOf(ids[i]);
            assertEq(ev.paid, handler.ghostPaid(ids[i]), "paid");
            assertEq(ev.budget, handler.ghostPaid(ids[i]) + ev.refunded + ev.escrowed, "budget");
            if (ev.status != IVppDispatch.EventStatus.Open) assertEq(ev.escrowed, 0, "escrow left");
            paid += ev.paid;
        }
        assertEq(paid, handler.ghostOwed(), "paid in all");
    }

    /// @dev The contract holds exactly the open escrows and what settled enrolments have not claimed.
    function invariant_BalanceIsEscrowPlusUnclaimed() public view {
        uint256[] memory ids = handler.eventIds();
        uint256 owed;
        for (uint256 i; i < ids.length; ++i) {
            owed += vpp.eventOf(ids[i]).escrowed;
            for (uint256 m; m < handler.METERS(); ++m) {
                IVppDispatch.Enrolment memory enrolment = vpp.enrolmentOf(ids[i], handler.meter(m));
                if (enrolment.status == IVppDispatch.EnrolmentStatus.Settled) owed += enrolment.owed;
            }
        }
        assertEq(stablecoin.balanceOf(address(vpp)), owed, "escrow + unclaimed");
    }

    /// @dev The events of the feeder that are not cancelled never overlap, so no meter's export is proved to
    /// two events. Events are created in time order on the feeder (each starts at or after the latest end), so
    /// comparing each live event with the live one created before it is enough.
    function invariant_FeederEventsNeverOverlap() public view {
        uint256[] memory ids = handler.eventIds();
        uint256 previousEnd;
        for (uint256 i; i < ids.length; ++i) {
            IVppDispatch.EventView memory ev = vpp.eventOf(ids[i]);
            if (ev.status == IVppDispatch.EventStatus.Cancelled) continue;
            assertGe(ev.start, previousEnd, "overlapping events");
            previousEnd = ev.end;
        }
    }

    /// @dev Each run must exercise the whole life of an event, or the invariants above prove little.
    function afterInvariant() external view {
        console.log("events", handler.eventIds().length);
        console.log("overlaps refused", handler.overlapsRefused());
        console.log("settlements", handler.settlements());
        console.log("closes", handler.closes());
        console.log("claims", handler.claims());
        assertGt(handler.eventIds().length, 0, "no event was created");
        assertGt(handler.settlements() + handler.closes(), 0, "no event was settled or closed");
    }
}
