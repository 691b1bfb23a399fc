// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IVppDispatch} from "../src/interfaces/IVppDispatch.sol";
import {VppFixture} from "./utils/VppFixture.sol";

/// @notice The pay of every delivery profile is the documented formula, computed here with signed
/// arithmetic, and the budget is conserved to the unit whatever the deliveries and the price.
contract VppDispatchFuzzTest is VppFixture {
    /// @dev Most a register grows over one window in these tests (20 kW for an hour is 20,000 Wh).
    uint48 internal constant MAX_GROWTH = 40_000;

    function testFuzz_PayIsCappedDeliveryOverBaseline(
        uint48 baseImport,
        uint48 baseExport,
        uint48 eventImport,
        uint48 eventExport,
        uint32 committedW
    ) public {
        baseImport = uint48(bound(baseImport, 0, MAX_GROWTH));
        baseExport = uint48(bound(baseExport, 0, MAX_GROWTH));
        eventImport = uint48(bound(eventImport, 0, MAX_GROWTH));
        eventExport = uint48(bound(eventExport, 0, MAX_GROWTH));
        committedW = uint32(bound(committedW, 1, TARGET_W));
        uint256 id = _createEvent();
        _enroll(id, bobPv, committedW);
        IVppDispatch.Proof memory proof = _proof(bobPv, baseImport, baseExport, eventImport, eventExport);
        vm.warp(_opensAt());
        uint256 paid = vpp.settle(id, _proofs(proof), false);

        int256 baseNet = int256(uint256(baseExport)) - int256(uint256(baseImport));
        // A baseline window that imported on balance counts as zero.
        int256 baseline = baseNet > 0 ? baseNet : int256(0);
        int256 eventNet = int256(uint256(eventExport)) - int256(uint256(eventImport));
        uint256 delivered = eventNet > baseline ? uint256(eventNet - baseline) : 0;
        assertEq(paid, _pay(delivered, committedW), "pay");
        assertEq(vpp.enrolmentOf(id, bobPv).owed, paid, "owed");
        assertLe(paid, BUDGET * committedW / TARGET_W, "more than the committed share of the budget");
    }

    /// @dev Three enrolments that together commit at most the target, any deliveries, any price and
    /// window length, the minimum budget: what is paid, refunded and left in the contract adds up.
    function testFuzz_BudgetIsConserved(
        uint64 price,
        uint8 intervals,
        uint32[3] memory committed,
        uint48[3] memory delivered,
        bool[3] memory proved
    ) public {
        price = uint64(bound(price, 1, 10e6));
        uint40 duration = uint40(bound(intervals, 1, 8)) * INTERVAL;
        uint256 required = (uint256(TARGET_W) * duration * price + 3_599_999) / 3_600_000;
        vm.prank(gridOperator);
        uint256 id = vpp.create(FEEDER, START, START + duration, TARGET_W, price, required, PRIORITY, PROGRAM);
        address[3] memory meters = [bobPv, daveHome, erinEv];
        uint256 remaining = TARGET_W;
        for (uint256 i; i < 3; ++i) {
            committed[i] = uint32(bound(committed[i], 1, remaining - (2 - i)));
            remaining -= committed[i];
            _enroll(id, meters[i], committed[i]);
        }
        IVppDispatch.Proof[] memory proofs = new IVppDispatch.Proof[](3);
        uint256 count;
        for (uint256 i; i < 3; ++i) {
            if (!proved[i]) continue;
            uint48 wh = uint48(bound(delivered[i], 0, 2 * MAX_GROWTH));
            proofs[count++] = _proofAt(meters[i], [START - duration, START, START + duration], 0, 0, 0, wh);
        }
        assembly ("memory-safe") {
            mstore(proofs, count)
        }
        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        vm.warp(START + duration + vpp.GRACE_SECONDS() + vpp.PROOF_WINDOW());
        uint256 paid = vpp.settle(id, proofs, true);

        IVppDispatch.EventView memory ev = vpp.eventOf(id);
        assertEq(ev.budget, required);
        assertEq(ev.paid, paid);
        assertEq(ev.budget, ev.paid + ev.refunded, "budget = paid + refunded");
        assertEq(stablecoin.balanceOf(gridOperator) - operatorBefore, ev.refunded, "refund sent");
        assertEq(_vppBalance(), paid, "the contract holds exactly what is owed");
    }

    function testFuzz_CreateRequiresFullDeliveryBudget(uint32 targetW, uint8 intervals, uint64 price) public {
        price = uint64(bound(price, 1, 100e6));
        uint40 duration = uint40(bound(intervals, 1, 96)) * INTERVAL;
        // Up to what the operator can pay for (at least 416 W at the highest price over a day).
        uint256 maxTargetW = OPERATOR_FUNDS * 3_600_000 / (uint256(duration) * price);
        if (maxTargetW > type(uint32).max) maxTargetW = type(uint32).max;
        targetW = uint32(bound(targetW, 1, maxTargetW));
        // Rounded up: the operator never escrows less than full delivery could earn.
        uint256 required = (uint256(targetW) * duration * price + 3_599_999) / 3_600_000;
        vm.prank(gridOperator);
        vm.expectRevert(
            abi.encodeWithSelector(IVppDispatch.VppBudgetTooSmall.selector, required - 1, required)
        );
        vpp.create(FEEDER, START, START + duration, targetW, price, required - 1, PRIORITY, PROGRAM);
        vm.prank(gridOperator);
        uint256 id = vpp.create(FEEDER, START, START + duration, targetW, price, required, PRIORITY, PROGRAM);
        assertEq(vpp.eventOf(id).budget, required);
    }
}
