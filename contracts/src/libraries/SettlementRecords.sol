// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title SettlementRecords
/// @notice The records of `IEnergyMarket.MetersSettled`: two words per settled meter. Bit 0 is the lowest
/// bit of a word.
///
/// Word 0: bits 0-159 `meter` | 160-199 `interval` (uint40) | 200-255 `carbonGrams` (uint56).
///
/// Word 1: bits 0-31 `tradedWh` | 32-63 `creditedWh` | 64-95 `coveredWh` | 96-127 `gridSuppliedWh` (each
/// uint32) | 128-223 `amount` (uint96) | 224-231 `flags` (bit 0: bought; bit 1: unserved) | 232-255 zero.
///
/// The market writes the words of a batch into one array allocated up front (`allocate`, `store`) and
/// logs that memory as the event's data; off chain, `decode` is the reference for decoders.
library SettlementRecords {
    /// @notice One meter's settlement, unpacked. `tradedWh` was bought when `bought`, else sold (or zero).
    /// `gridSuppliedWh` was not supplied at all when `unserved` (the meter's feeder was islanded).
    struct Record {
        address meter;
        uint64 interval;
        uint256 carbonGrams;
        uint256 tradedWh;
        bool bought;
        uint256 amount;
        uint256 creditedWh;
        uint256 coveredWh;
        uint256 gridSuppliedWh;
        bool unserved;
    }

    // Word 0.
    /// @notice Offset of `interval` in word 0.
    uint256 internal constant INTERVAL_SHIFT = 160;
    /// @notice Offset of `carbonGrams` in word 0.
    uint256 internal constant CARBON_SHIFT = 200;
    // Word 1 (`tradedWh` at offset 0).
    /// @notice Offset of `creditedWh` in word 1.
    uint256 internal constant CREDITED_SHIFT = 32;
    /// @notice Offset of `coveredWh` in word 1.
    uint256 internal constant COVERED_SHIFT = 64;
    /// @notice Offset of `gridSuppliedWh` in word 1.
    uint256 internal constant GRID_SUPPLIED_SHIFT = 96;
    /// @notice Offset of `amount` in word 1.
    uint256 internal constant AMOUNT_SHIFT = 128;
    /// @notice Offset of `flags` in word 1.
    uint256 internal constant FLAGS_SHIFT = 224;
    /// @notice The flag of a meter that bought `tradedWh`.
    uint256 internal constant FLAG_BOUGHT = 1;
    /// @notice The flag of a meter whose `gridSuppliedWh` fell in an island of its feeder: unserved.
    uint256 internal constant FLAG_UNSERVED = 2;

    // ---------------------------------------------------------------- packing (market hot path)

    /// @notice Word 0 of a record. Unchecked: the caller passes an interval below 2^40 and carbon below 2^56.
    function meterWord(address meter, uint256 interval, uint256 carbonGrams) internal pure returns (uint256) {
        return uint256(uint160(meter)) | (interval << INTERVAL_SHIFT) | (carbonGrams << CARBON_SHIFT);
    }

    /// @notice The trade part of word 1. Unchecked: the caller passes Wh below 2^32 and an amount below 2^96.
    function tradeWord(uint256 tradedWh, uint256 amount, bool bought) internal pure returns (uint256) {
        return tradedWh | (amount << AMOUNT_SHIFT) | (bought ? FLAG_BOUGHT << FLAGS_SHIFT : 0);
    }

    /// @notice Word 1 of a record: `trade` (from `tradeWord`) with the residual volumes, each below 2^32.
    function volumesWord(uint256 trade, uint256 creditedWh, uint256 coveredWh, uint256 gridSuppliedWh)
        internal
        pure
        returns (uint256)
    {
        return trade | (creditedWh << CREDITED_SHIFT) | (coveredWh << COVERED_SHIFT)
            | (gridSuppliedWh << GRID_SUPPLIED_SHIFT);
    }

    /// @notice Whether word 1 (or a `tradeWord`) says the meter bought.
    function isBought(uint256 word1) internal pure returns (bool) {
        return (word1 >> FLAGS_SHIFT) & FLAG_BOUGHT != 0;
    }

    // ---------------------------------------------------------------- the batch's array

    /// @notice A records array for `meters` settled meters (length `2 * meters`), allocated once per batch,
    /// with the ABI head of the event data (offset `0x20`) in the word before it: the array's memory is
    /// then exactly `abi.encode(records)` from one word earlier, and is logged without a copy.
    function allocate(uint256 meters) internal pure returns (bytes32[] memory records) {
        assembly ("memory-safe") {
            let head := mload(0x40)
            mstore(head, 0x20)
            records := add(head, 0x20)
            let length := shl(1, meters)
            mstore(records, length)
            mstore(0x40, add(add(records, 0x20), shl(5, length)))
        }
    }

    /// @notice Writes the record of the `index`-th settled meter. Unchecked: the caller keeps `index` below
    /// the `meters` it allocated for.
    function store(bytes32[] memory records, uint256 index, uint256 word0, uint256 word1) internal pure {
        assembly ("memory-safe") {
            let at := add(records, add(0x20, shl(6, index)))
            mstore(at, word0)
            mstore(add(at, 0x20), word1)
        }
    }

    /// @notice Shortens `records` to its first `meters` records (`meters` no more than it holds).
    function trim(bytes32[] memory records, uint256 meters) internal pure {
        assembly ("memory-safe") {
            mstore(records, shl(1, meters))
        }
    }

    // ---------------------------------------------------------------- decoding (tests, reference)

    /// @notice The record in `word0` and `word1`.
    // forge-lint: disable-next-item(unsafe-typecast)
    function decode(bytes32 word0, bytes32 word1) internal pure returns (Record memory record) {
        uint256 a = uint256(word0);
        uint256 b = uint256(word1);
        // Truncating is the point: each cast keeps exactly the bits of one field.
        record.meter = address(uint160(a));
        record.interval = uint40(a >> INTERVAL_SHIFT);
        record.carbonGrams = a >> CARBON_SHIFT;
        record.tradedWh = uint32(b);
        record.creditedWh = uint32(b >> CREDITED_SHIFT);
        record.coveredWh = uint32(b >> COVERED_SHIFT);
        record.gridSuppliedWh = uint32(b >> GRID_SUPPLIED_SHIFT);
        record.amount = uint96(b >> AMOUNT_SHIFT);
        record.bought = isBought(b);
        record.unserved = (b >> FLAGS_SHIFT) & FLAG_UNSERVED != 0;
    }

    /// @notice Every record of a `MetersSettled` event.
    function decodeAll(bytes32[] memory records) internal pure returns (Record[] memory decoded) {
        decoded = new Record[](records.length / 2);
        for (uint256 i; i < decoded.length; ++i) {
            decoded[i] = decode(records[2 * i], records[2 * i + 1]);
        }
    }

    /// @notice The two words of `record`; reverts (`SafeCast`) when a field does not fit its width.
    function encode(Record memory record) internal pure returns (bytes32 word0, bytes32 word1) {
        word0 = bytes32(
            meterWord(record.meter, SafeCast.toUint40(record.interval), SafeCast.toUint56(record.carbonGrams))
        );
        uint256 trade =
            tradeWord(SafeCast.toUint32(record.tradedWh), SafeCast.toUint96(record.amount), record.bought);
        word1 = bytes32(
            volumesWord(
                trade,
                SafeCast.toUint32(record.creditedWh),
                SafeCast.toUint32(record.coveredWh),
                SafeCast.toUint32(record.gridSuppliedWh)
            ) | (record.unserved ? FLAG_UNSERVED << FLAGS_SHIFT : 0)
        );
    }
}
