// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {VppDispatch} from "../../src/VppDispatch.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {IVppDispatch} from "../../src/interfaces/IVppDispatch.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {ReadingSigning} from "../utils/ReadingSigning.sol";
import {TransactionGas, VmCool} from "../utils/TransactionGas.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice Gas of VppDispatch's hot paths, each as its own transaction (`snapshots/VppDispatchGasTest.json`):
/// - `vpp_enroll` / `vpp_enroll_whole_tx`: a battery owner enrolls in an event that already has 20
///   enrolments (its first slot non-zero, as in every enrolment);
/// - `vpp_settle_20_participants` / `vpp_settle_per_participant`: a keeper settles 20 enrolments (full,
///   partial and no delivery) with 60 signed readings in one non-closing `settle`; the per-participant
///   figure is the whole transaction (21,000 + calldata + execution) over 20.
/// Everything the measured call touches is cold but the VppDispatch account, which is the transaction's
/// `to`; the caller is pranked before the measured window opens.
contract VppDispatchGasTest is Test {
    uint256 internal constant PARTICIPANTS = 20;
    uint32 internal constant INTERVAL = 900;
    uint40 internal constant T0 = 1_767_225_600;
    uint40 internal constant START = T0 + 8 * INTERVAL;
    uint40 internal constant END = START + 4 * INTERVAL;
    uint32 internal constant COMMITTED_W = 5000;
    uint64 internal constant PRICE = 300_000;
    /// @dev Goals of issue 5.
    uint256 internal constant ENROLL_TX_TARGET = 60_000;
    uint256 internal constant SETTLE_PER_PARTICIPANT_TARGET = 25_000;

    EnergyMarket internal market;
    VppDispatch internal vpp;
    address internal keeper = makeAddr("keeper");
    address[] internal owners;
    address[] internal meters;
    uint256 internal id;
    bytes internal settleCall;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address operator = makeAddr("grid operator");
        MockStablecoin stablecoin = new MockStablecoin(admin);
        market = new EnergyMarket(
            admin, stablecoin, new EnergyCredit(admin), new CarbonCredit(admin), INTERVAL, 2 days, 400
        );
        vpp = new VppDispatch(market, stablecoin);
        uint32 targetW = uint32(PARTICIPANTS + 1) * COMMITTED_W;
        uint256 budget = uint256(targetW) * (END - START) * PRICE / 3_600_000;

        vm.startPrank(admin);
        market.grantRole(market.GRID_OPERATOR_ROLE(), operator);
        stablecoin.mint(operator, budget);
        vm.stopPrank();
        vm.startPrank(operator);
        stablecoin.approve(address(vpp), budget);
        id = vpp.create(1, START, END, targetW, PRICE, budget, 0, "evening-peak");
        vm.stopPrank();

        uint256[] memory keys = new uint256[](PARTICIPANTS + 1);
        for (uint256 i; i <= PARTICIPANTS; ++i) {
            address owner = makeAddr(string.concat("owner-", vm.toString(i)));
            keys[i] = uint256(keccak256(abi.encode("gas vpp meter", i)));
            address meter = vm.addr(keys[i]);
            owners.push(owner);
            meters.push(meter);
            vm.startPrank(admin);
            market.registerParticipant(owner);
            market.registerMeter(meter, owner, 1, MeterKinds.SOLAR | MeterKinds.BATTERY, 10_000);
            vm.stopPrank();
            // The last one enrolls in the measured transaction.
            if (i < PARTICIPANTS) {
                vm.prank(owner);
                vpp.enroll(id, meter, COMMITTED_W);
            }
        }

        IVppDispatch.Proof[] memory proofs = new IVppDispatch.Proof[](PARTICIPANTS);
        for (uint256 i; i < PARTICIPANTS; ++i) {
            // Full delivery (5,000 Wh over a 400 Wh solar baseline), partial, none, in turn.
            uint48 eventExport = i % 3 == 0 ? 5400 : i % 3 == 1 ? 2600 : 400;
            proofs[i] = _proof(keys[i], meters[i], 1000 + uint32(i) * 96, 400, eventExport);
        }
        settleCall = abi.encodeCall(IVppDispatch.settle, (id, proofs, false));
    }

    function test_GasEnroll() public {
        address meter = meters[PARTICIPANTS];
        bytes memory data = abi.encodeCall(IVppDispatch.enroll, (id, meter, COMMITTED_W));
        _coolAll();

        vm.startPrank(owners[PARTICIPANTS]);
        vm.startSnapshotGas("vpp_enroll");
        (bool ok,) = address(vpp).call(data);
        uint256 gasUsed = vm.stopSnapshotGas();
        vm.stopPrank();

        assertTrue(ok, "enroll reverted");
        assertEq(vpp.enrolmentOf(id, meter).committedW, COMMITTED_W, "enrolled");
        uint256 txGas = TransactionGas.wholeTransaction(data, gasUsed);
        vm.snapshotValue("vpp_enroll_whole_tx", txGas);
        console.log("vpp_enroll: execution gas", gasUsed);
        console.log("vpp_enroll: whole transaction gas", txGas);
        assertLe(txGas, ENROLL_TX_TARGET, "enroll above the goal");
    }

    function test_GasSettle20Participants() public {
        bytes memory data = settleCall;
        vm.warp(END + vpp.GRACE_SECONDS());
        _coolAll();

        vm.startPrank(keeper);
        vm.startSnapshotGas("vpp_settle_20_participants");
        (bool ok, bytes memory result) = address(vpp).call(data);
        uint256 gasUsed = vm.stopSnapshotGas();
        vm.stopPrank();

        assertTrue(ok, "settle reverted");
        // 7 full (1.5 $), 7 partial (0.66 $), 6 none.
        assertEq(abi.decode(result, (uint256)), 7 * 1.5e6 + 7 * 0.66e6, "paid");
        for (uint256 i; i < PARTICIPANTS; ++i) {
            assertEq(
                uint8(vpp.enrolmentOf(id, meters[i]).status), uint8(IVppDispatch.EnrolmentStatus.Settled)
            );
        }
        uint256 txGas = TransactionGas.wholeTransaction(data, gasUsed);
        uint256 perParticipant = txGas / PARTICIPANTS;
        vm.snapshotValue("vpp_settle_per_participant", perParticipant);
        console.log("vpp_settle 20: execution gas", gasUsed);
        console.log("vpp_settle 20: calldata bytes", data.length);
        console.log("vpp_settle 20: whole transaction gas", txGas);
        console.log("vpp_settle 20: whole transaction gas per participant", perParticipant);
        assertLe(perParticipant, SETTLE_PER_PARTICIPANT_TARGET, "settle above the goal");
    }

    /// @dev `meter`'s three readings, from registers at `exportAt0`, signed by its key for the market.
    function _proof(uint256 key, address meter, uint32 firstSeq, uint48 baseExport, uint48 eventExport)
        internal
        view
        returns (IVppDispatch.Proof memory proof)
    {
        proof.meter = meter;
        uint40[3] memory ends = [START - (END - START), START, END];
        uint48 importWh = 2_345_678;
        uint48 exportWh = 1_234_567;
        for (uint256 i; i < 3; ++i) {
            if (i == 1) exportWh += baseExport;
            if (i == 2) exportWh += eventExport;
            uint32 seq = firstSeq + uint32(i) * 4;
            IMeterRegistry.Reading memory reading =
                IMeterRegistry.Reading(meter, seq, ends[i], importWh, exportWh, 0, 0);
            reading = ReadingSigning.sign(address(market), key, reading);
            proof.readings[i] = IVppDispatch.SignedReading({
                registers: (uint128(seq) << 96) | (uint128(importWh) << 48) | uint128(exportWh),
                r: reading.r,
                vs: reading.vs
            });
        }
    }

    /// @dev The set-up ran in this test's transaction: make everything it touched cold again; the
    /// VppDispatch account is `tx.to`, hence warm (an immutable getter reads no storage).
    function _coolAll() internal {
        VmCool(address(vm)).cool(address(vpp));
        VmCool(address(vm)).cool(address(market));
        vpp.MARKET();
    }
}
