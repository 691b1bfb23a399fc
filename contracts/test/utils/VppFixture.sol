// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VppDispatch} from "../../src/VppDispatch.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {IVppDispatch} from "../../src/interfaces/IVppDispatch.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {MarketFixture} from "./MarketFixture.sol";
import {ReadingSigning} from "./ReadingSigning.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The market fixture plus a VppDispatch and a funded grid operator. The dispatchable meters on
/// feeder 1 are `bobPv` (solar and battery), `daveHome` (EV) and `erinEv` (EV); `alicePv` (solar) and
/// `carolHome` (plain consumer) are not dispatchable; `frankBattery` is a battery on feeder 2. The
/// standard event (`_createEvent`) asks `TARGET_W` on feeder 1 over the hour `[START, END)` at `VPP_PRICE`,
/// with exactly the full-delivery budget `BUDGET`; its baseline window is the hour before, from
/// `BASELINE_START`.
abstract contract VppFixture is MarketFixture {
    uint40 internal constant START = T1 + 8 * INTERVAL;
    uint40 internal constant DURATION = 4 * INTERVAL;
    uint40 internal constant END = START + DURATION;
    uint40 internal constant BASELINE_START = START - DURATION;
    uint32 internal constant FEEDER = 1;
    uint32 internal constant TARGET_W = 20_000;
    /// @dev 0.30 $/kWh.
    uint64 internal constant VPP_PRICE = 300_000;
    /// @dev 20 kW for an hour at 0.30 $/kWh.
    uint256 internal constant BUDGET = 6e6;
    uint8 internal constant PRIORITY = 1;
    string internal constant PROGRAM = "evening-peak";
    uint256 internal constant OPERATOR_FUNDS = 1000e6;

    VppDispatch internal vpp;
    address internal frank = makeAddr("frank");
    address internal frankBattery;
    mapping(address meter => address owner) internal _owners;

    function setUp() public virtual override {
        super.setUp();
        vpp = new VppDispatch(market, stablecoin);
        uint256 key;
        (frankBattery, key) = makeAddrAndKey("frank-battery");
        vm.startPrank(admin);
        market.registerParticipant(frank);
        market.registerMeter(frankBattery, frank, 2, MeterKinds.BATTERY, CAPACITY_W);
        stablecoin.mint(gridOperator, OPERATOR_FUNDS);
        vm.stopPrank();
        tracks[frankBattery] = MeterTrack({key: key, seq: 0, importWh: 500_000, exportWh: 200_000});
        vm.prank(gridOperator);
        stablecoin.approve(address(vpp), type(uint256).max);
        _owners[frankBattery] = frank;
        for (uint256 i; i < allMeters.length; ++i) {
            _owners[allMeters[i]] = market.meterInfo(allMeters[i]).owner;
        }
    }

    /// @dev The standard event, created by the grid operator.
    function _createEvent() internal returns (uint256 id) {
        vm.prank(gridOperator);
        id = vpp.create(FEEDER, START, END, TARGET_W, VPP_PRICE, BUDGET, PRIORITY, PROGRAM);
    }

    /// @dev Enrolls `meter` as its owner. The owner is known without a call for the fixture's meters, so
    /// an `expectRevert` before this helper applies to the `enroll` itself.
    function _enroll(uint256 id, address meter, uint32 committedW) internal {
        address owner = _owners[meter];
        if (owner == address(0)) owner = market.meterInfo(meter).owner;
        vm.prank(owner);
        vpp.enroll(id, meter, committedW);
    }

    /// @dev `meter`'s proof for the standard window: readings at `BASELINE_START`, `START` and `END` whose
    /// registers grow by the given Wh over the baseline window and over the event, signed by the meter's
    /// key for the market's domain. Advances the tracked seq and registers.
    function _proof(
        address meter,
        uint48 baseImport,
        uint48 baseExport,
        uint48 eventImport,
        uint48 eventExport
    ) internal returns (IVppDispatch.Proof memory proof) {
        return _proofAt(meter, [BASELINE_START, START, END], baseImport, baseExport, eventImport, eventExport);
    }

    /// @dev As `_proof`, with the readings signed for the interval ends `ends`.
    function _proofAt(
        address meter,
        uint40[3] memory ends,
        uint48 baseImport,
        uint48 baseExport,
        uint48 eventImport,
        uint48 eventExport
    ) internal returns (IVppDispatch.Proof memory proof) {
        proof.meter = meter;
        uint48[3] memory importGrowth = [uint48(0), baseImport, eventImport];
        uint48[3] memory exportGrowth = [uint48(0), baseExport, eventExport];
        for (uint256 i; i < 3; ++i) {
            IMeterRegistry.Reading memory reading =
                _nextReading(meter, ends[i], importGrowth[i], exportGrowth[i]);
            proof.readings[i] = _signed(reading);
        }
    }

    /// @dev `reading` (already signed) in the proof's packed form.
    function _signed(IMeterRegistry.Reading memory reading)
        internal
        pure
        returns (IVppDispatch.SignedReading memory)
    {
        return IVppDispatch.SignedReading({
            registers: _registers(reading.seq, reading.importWh, reading.exportWh),
            r: reading.r,
            vs: reading.vs
        });
    }

    function _registers(uint32 seq, uint48 importWh, uint48 exportWh) internal pure returns (uint128) {
        return (uint128(seq) << 96) | (uint128(importWh) << 48) | uint128(exportWh);
    }

    function _proofs(IVppDispatch.Proof memory a) internal pure returns (IVppDispatch.Proof[] memory proofs) {
        proofs = new IVppDispatch.Proof[](1);
        proofs[0] = a;
    }

    function _proofs(IVppDispatch.Proof memory a, IVppDispatch.Proof memory b)
        internal
        pure
        returns (IVppDispatch.Proof[] memory proofs)
    {
        proofs = new IVppDispatch.Proof[](2);
        proofs[0] = a;
        proofs[1] = b;
    }

    function _noProofs() internal pure returns (IVppDispatch.Proof[] memory) {
        return new IVppDispatch.Proof[](0);
    }

    function _key(uint256 id, address meter) internal pure returns (IVppDispatch.EnrolmentKey[] memory keys) {
        keys = new IVppDispatch.EnrolmentKey[](1);
        keys[0] = IVppDispatch.EnrolmentKey({id: id, meter: meter});
    }

    /// @dev When proofs of the standard event are accepted, and when it may be closed.
    function _opensAt() internal view returns (uint256) {
        return END + vpp.GRACE_SECONDS();
    }

    function _closesAt() internal view returns (uint256) {
        return _opensAt() + vpp.PROOF_WINDOW();
    }

    /// @dev What `committedW` earns for `deliveredWh` over the standard window: the formula of
    /// `IVppDispatch`, written out independently of the contract.
    function _pay(uint256 deliveredWh, uint256 committedW) internal pure returns (uint256) {
        uint256 capWs = committedW * DURATION;
        uint256 ws = deliveredWh * 3600 < capWs ? deliveredWh * 3600 : capWs;
        return ws * VPP_PRICE / 3_600_000;
    }

    function _vppBalance() internal view returns (uint256) {
        return IERC20(address(stablecoin)).balanceOf(address(vpp));
    }
}
