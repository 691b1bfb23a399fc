// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {SettlementRecords} from "../../src/libraries/SettlementRecords.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @notice Builds, expects and decodes the records of `MetersSettled` for the market's tests.
abstract contract SettlementAssertions is Test {
    /// @dev The record of one settled meter, its fields given in the order a retailer reads them: what it
    /// sold or bought (at most one of them non-zero) and for how much, then its residuals and its carbon.
    function _settledRecord(
        address meter,
        uint64 t,
        uint256 soldWh,
        uint256 boughtWh,
        uint256 amount,
        uint256 creditedWh,
        uint256 coveredWh,
        uint256 gridSuppliedWh,
        uint256 carbonGrams
    ) internal pure returns (SettlementRecords.Record memory record) {
        require(soldWh == 0 || boughtWh == 0, "a meter trades one side");
        record = SettlementRecords.Record({
            meter: meter,
            interval: t,
            carbonGrams: carbonGrams,
            tradedWh: soldWh + boughtWh,
            bought: boughtWh != 0,
            amount: amount,
            creditedWh: creditedWh,
            coveredWh: coveredWh,
            gridSuppliedWh: gridSuppliedWh,
            unserved: false
        });
    }

    /// @dev The event words of `records`, in their order.
    function _encodeRecords(SettlementRecords.Record[] memory records)
        internal
        pure
        returns (bytes32[] memory words)
    {
        words = new bytes32[](2 * records.length);
        for (uint256 i; i < records.length; ++i) {
            (words[2 * i], words[2 * i + 1]) = SettlementRecords.encode(records[i]);
        }
    }

    /// @dev Expects `emitter` to emit `MetersSettled` with exactly the record `a`.
    function _expectMetersSettled(address emitter, SettlementRecords.Record memory a) internal {
        SettlementRecords.Record[] memory records = new SettlementRecords.Record[](1);
        records[0] = a;
        vm.expectEmit(emitter);
        emit IEnergyMarket.MetersSettled(_encodeRecords(records));
    }

    /// @dev Expects `emitter` to emit `MetersSettled` with exactly the records `a` and `b`, in meter order
    /// (the order of a settlement's fills).
    function _expectMetersSettled(
        address emitter,
        SettlementRecords.Record memory a,
        SettlementRecords.Record memory b
    ) internal {
        SettlementRecords.Record[] memory records = new SettlementRecords.Record[](2);
        (records[0], records[1]) = a.meter < b.meter ? (a, b) : (b, a);
        vm.expectEmit(emitter);
        emit IEnergyMarket.MetersSettled(_encodeRecords(records));
    }

    /// @dev Every record of the `MetersSettled` events `emitter` logged in `logs`, decoded, in order.
    function _decodeRecords(Vm.Log[] memory logs, address emitter)
        internal
        pure
        returns (SettlementRecords.Record[] memory all)
    {
        uint256 count;
        for (uint256 l; l < logs.length; ++l) {
            if (_isMetersSettled(logs[l], emitter)) {
                count += abi.decode(logs[l].data, (bytes32[])).length / 2;
            }
        }
        all = new SettlementRecords.Record[](count);
        count = 0;
        for (uint256 l; l < logs.length; ++l) {
            if (!_isMetersSettled(logs[l], emitter)) continue;
            bytes32[] memory words = abi.decode(logs[l].data, (bytes32[]));
            require(words.length % 2 == 0, "records come in pairs of words");
            SettlementRecords.Record[] memory decoded = SettlementRecords.decodeAll(words);
            for (uint256 i; i < decoded.length; ++i) {
                all[count++] = decoded[i];
            }
        }
    }

    /// @dev How many of `records` are `meter`'s, and the last of them.
    function _recordOf(SettlementRecords.Record[] memory records, address meter)
        internal
        pure
        returns (SettlementRecords.Record memory record, uint256 count)
    {
        for (uint256 i; i < records.length; ++i) {
            if (records[i].meter != meter) continue;
            record = records[i];
            ++count;
        }
    }

    function _assertRecord(
        SettlementRecords.Record memory actual,
        SettlementRecords.Record memory expected,
        string memory label
    ) internal pure {
        assertEq(abi.encode(actual), abi.encode(expected), label);
    }

    function _isMetersSettled(Vm.Log memory log, address emitter) internal pure returns (bool) {
        return log.emitter == emitter && log.topics.length == 1
            && log.topics[0] == IEnergyMarket.MetersSettled.selector;
    }
}
