// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fills} from "../src/libraries/Fills.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The two packed layouts keepers and retailers read: a fill (`Fills`) and a settlement record
/// (`SettlementRecords`), each checked against the documented bit positions written out here.
contract SettlementLibrariesTest is Test {
    function testFuzz_FillLayout(address meter, bool buy, uint32 wh) public pure {
        uint256 fill = Fills.pack(meter, buy, wh);
        assertEq(fill, uint256(uint160(meter)) | (uint256(wh) << 160) | (buy ? uint256(1) << 192 : 0), "bits");
        assertEq(Fills.meterOf(fill), meter, "meter");
        assertEq(Fills.whOf(fill), wh, "wh");
        assertEq(Fills.isBuy(fill), buy, "buy");
        assertTrue(Fills.isWellFormed(fill), "well formed");
        assertEq(Fills.USED_BITS, (uint256(1) << 193) - 1, "used bits");
    }

    function testFuzz_FillWithABitAbove192IsMalformed(uint256 fill, uint8 bit) public pure {
        bit = uint8(bound(bit, 193, 255));
        assertFalse(Fills.isWellFormed(fill | (uint256(1) << bit)));
        assertTrue(Fills.isWellFormed(fill & Fills.USED_BITS));
    }

    function testFuzz_RecordLayout(
        address meter,
        uint40 interval,
        uint56 carbonGrams,
        uint32 tradedWh,
        bool bought,
        uint96 amount,
        uint32 creditedWh,
        uint32 coveredWh,
        uint32 gridSuppliedWh,
        bool unserved
    ) public pure {
        SettlementRecords.Record memory record = SettlementRecords.Record({
            meter: meter,
            interval: interval,
            carbonGrams: carbonGrams,
            tradedWh: tradedWh,
            bought: bought,
            amount: amount,
            creditedWh: creditedWh,
            coveredWh: coveredWh,
            gridSuppliedWh: gridSuppliedWh,
            unserved: unserved
        });
        (bytes32 word0, bytes32 word1) = SettlementRecords.encode(record);
        assertEq(
            uint256(word0),
            uint256(uint160(meter)) | (uint256(interval) << 160) | (uint256(carbonGrams) << 200),
            "word 0"
        );
        assertEq(
            uint256(word1),
            uint256(tradedWh) | (uint256(creditedWh) << 32) | (uint256(coveredWh) << 64)
                | (uint256(gridSuppliedWh) << 96) | (uint256(amount) << 128)
                | (bought ? uint256(1) << 224 : 0) | (unserved ? uint256(1) << 225 : 0),
            "word 1"
        );
        assertEq(uint256(word1) >> 226, 0, "bits 226-255 zero");
        assertEq(abi.encode(SettlementRecords.decode(word0, word1)), abi.encode(record), "round trip");
    }

    function test_RevertWhen_RecordFieldTooWide() public {
        SettlementRecords.Record memory record;
        record.tradedWh = uint256(type(uint32).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 32, record.tradedWh)
        );
        this.encode(record);
        record.tradedWh = 0;
        record.amount = uint256(type(uint96).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 96, record.amount)
        );
        this.encode(record);
    }

    /// @dev The array the market logs: its memory, from the word before it, is the ABI encoding of the
    /// records written so far, at its allocated or trimmed length.
    function test_AllocateStoreTrim() public pure {
        bytes32[] memory records = SettlementRecords.allocate(3);
        assertEq(records.length, 6, "two words per meter");
        bytes32[] memory later = new bytes32[](1);
        later[0] = bytes32(uint256(99));
        SettlementRecords.store(records, 0, 11, 12);
        SettlementRecords.store(records, 2, 31, 32);
        SettlementRecords.store(records, 1, 21, 22);
        assertEq(uint256(later[0]), 99, "the allocation reserved all six words");
        assertEq(_logData(records), abi.encode(records), "ABI head before the array");
        assertEq(uint256(records[2]), 21, "second meter, word 0");
        assertEq(uint256(records[5]), 32, "third meter, word 1");

        SettlementRecords.trim(records, 2);
        assertEq(records.length, 4, "trimmed");
        assertEq(uint256(records[3]), 22, "trimming keeps the records");
        assertEq(_logData(records), abi.encode(records), "still ABI-encoded");
    }

    function encode(SettlementRecords.Record memory record) external pure returns (bytes32, bytes32) {
        return SettlementRecords.encode(record);
    }

    /// @dev The bytes `EnergyMarket` logs for `records`: from the word before the array to its end.
    function _logData(bytes32[] memory records) internal pure returns (bytes memory data) {
        uint256 length = 0x40 + 32 * records.length;
        data = new bytes(length);
        assembly ("memory-safe") {
            mcopy(add(data, 0x20), sub(records, 0x20), length)
        }
    }
}
