// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice Island mode: a grid operator islands a feeder; import neither the market nor credits cover in an
/// interval that overlaps the island is recorded as unserved (`MetersSettled` flag bit 1), never as grid
/// supply; the market goes on trading. The fixture's meters are on feeder 1; `farHome` (frank's) is on
/// feeder 2, which stays connected.
contract EnergyMarketIslandTest is MarketFixture {
    uint32 internal constant FEEDER = 1;
    uint32 internal constant OTHER_FEEDER = 2;
    uint40 internal constant T3 = T2 + INTERVAL;
    uint40 internal constant T4 = T3 + INTERVAL;

    address internal frank = makeAddr("frank");
    address internal farHome;

    function setUp() public override {
        super.setUp();
        uint256 key;
        (farHome, key) = makeAddrAndKey("frank-home");
        vm.startPrank(admin);
        market.registerParticipant(frank);
        market.registerMeter(farHome, frank, OTHER_FEEDER, 0, CAPACITY_W);
        vm.stopPrank();
        tracks[farHome] = MeterTrack({key: key, seq: 0, importWh: 0, exportWh: 0});
        _attest(farHome, T1, 0, 0);
    }

    function _island(uint32 feeder, bool islanded) internal {
        vm.prank(gridOperator);
        market.setIslanded(feeder, islanded);
    }

    /// @dev Finalizes `meter` and returns its one record.
    function _finalizeRecord(address meter) internal returns (SettlementRecords.Record memory record) {
        vm.recordLogs();
        require(market.finalize(_meters(meter)) == 1, "finalized");
        SettlementRecords.Record[] memory records = _decodeRecords(vm.getRecordedLogs(), address(market));
        return records[0];
    }

    function test_SetIslandedEmitsEachChange() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.FeederIslanded(FEEDER, true, block.timestamp);
        _island(FEEDER, true);
        vm.warp(T2);
        vm.expectEmit(address(market));
        emit IEnergyMarket.FeederIslanded(FEEDER, false, T2);
        _island(FEEDER, false);
    }

    function test_RevertWhen_IslandUnchanged() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIslandUnchanged.selector, FEEDER, false));
        _island(FEEDER, false);
        _island(FEEDER, true);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIslandUnchanged.selector, FEEDER, true));
        _island(FEEDER, true);
    }

    function test_RevertWhen_SetIslandedNotGridOperator() public {
        bytes32 role = market.GRID_OPERATOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        market.setIslanded(FEEDER, true);
    }

    /// @dev An island from T1 on: interval T (before it) was grid-supplied, interval T + 1 was not.
    function test_ResidualImportInAnIslandIsUnserved() public {
        _attest(carolHome, T1, 1500, 0);
        _island(FEEDER, true);
        vm.warp(T2);
        // Carol's reading for T2 follows one whose volumes were never settled: all of it is residual only.
        _attest(carolHome, T2, 2000, 0);
        _settle(T, PRICE, _noFills(), true);
        _settle(T + 1, PRICE, _noFills(), true);

        SettlementRecords.Record memory record = _finalizeRecord(carolHome);
        assertEq(record.interval, T + 1, "the residuals of both intervals settle at the last one");
        assertEq(record.gridSuppliedWh, 3500);
        assertTrue(record.unserved, "the last interval was islanded");
    }

    /// @dev A buyer the market filled in part: its residual import in the island is unserved; a buyer on
    /// a connected feeder is grid-supplied as ever.
    function test_SettlementMarksTheIslandsResidualsOnly() public {
        // Their readings for T (nothing metered) make their T + 1 volumes marketable.
        _attest(alicePv, T1, 0, 0);
        _attest(carolHome, T1, 0, 0);
        _island(FEEDER, true);
        vm.warp(T2);
        _attest(alicePv, T2, 0, 1000);
        _attest(carolHome, T2, 1600, 0);
        _attest(farHome, T2, 700, 0);
        vm.recordLogs();
        _settle(T + 1, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
        SettlementRecords.Record[] memory records = _decodeRecords(vm.getRecordedLogs(), address(market));
        (SettlementRecords.Record memory carol,) = _recordOf(records, carolHome);
        assertEq(carol.bought ? carol.tradedWh : 0, 1000, "the island still trades");
        assertEq(carol.gridSuppliedWh, 600);
        assertTrue(carol.unserved, "no grid supply in the island");
        (SettlementRecords.Record memory alice,) = _recordOf(records, alicePv);
        assertFalse(alice.unserved, "nothing left to the grid");

        SettlementRecords.Record memory far = _finalizeRecord(farHome);
        assertEq(far.gridSuppliedWh, 700);
        assertFalse(far.unserved, "feeder 2 is connected");
    }

    /// @dev An interval of the island settled after the island ended is still unserved; an interval that
    /// starts after it ended is grid-supplied.
    function test_IslandEndsAtReconnection() public {
        _island(FEEDER, true);
        vm.warp(T2 + 60);
        _attest(carolHome, T2, 400, 0);
        _island(FEEDER, false);
        _settle(T + 1, PRICE, _noFills(), true);
        assertTrue(_finalizeRecord(carolHome).unserved, "interval T + 1 was islanded");

        // Interval T + 2 overlaps the island's last minute; T + 3 starts after it.
        vm.warp(T3);
        _attest(carolHome, T3, 300, 0);
        _settle(T + 2, PRICE, _noFills(), true);
        assertTrue(_finalizeRecord(carolHome).unserved, "T + 2 overlaps the island");
        vm.warp(T4);
        _attest(carolHome, T4, 200, 0);
        _settle(T + 3, PRICE, _noFills(), true);
        SettlementRecords.Record memory record = _finalizeRecord(carolHome);
        assertEq(record.gridSuppliedWh, 200);
        assertFalse(record.unserved, "reconnected before T + 3");
    }

    /// @dev Credits still cover import in an island: only what they do not cover is unserved.
    function test_CreditsCoverImportInAnIsland() public {
        _island(FEEDER, true);
        vm.warp(T2);
        _attest(daveHome, T2, 1000, 0);
        _settle(T + 1, PRICE, _noFills(), true);
        SettlementRecords.Record memory record = _finalizeRecord(daveHome);
        assertEq(record.coveredWh, DAVE_CREDITS);
        assertEq(record.gridSuppliedWh, 1000 - DAVE_CREDITS);
        assertTrue(record.unserved);
    }

    /// @dev A meter with nothing left to the grid is never marked, islanded or not.
    function test_NoResidualImportNoMark() public {
        _island(FEEDER, true);
        vm.warp(T2);
        _attest(alicePv, T2, 0, 500);
        _settle(T + 1, PRICE, _noFills(), true);
        SettlementRecords.Record memory record = _finalizeRecord(alicePv);
        assertEq(record.creditedWh, 500);
        assertFalse(record.unserved);
    }
}
