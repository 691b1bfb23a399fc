// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {ICarbonCredit} from "../../src/interfaces/ICarbonCredit.sol";
import {IEnergyCredit} from "../../src/interfaces/IEnergyCredit.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The market with its storage words exposed, to check that the settlement path's raw-word reading
/// (the bit offsets of `Order` and `Account`) agrees with Solidity's packing of the structs, which the views
/// and every other function use.
contract EnergyMarketHarness is EnergyMarket {
    constructor(
        address admin,
        IERC20 stablecoin,
        IEnergyCredit energyCredit,
        ICarbonCredit carbonCredit,
        uint32 intervalSeconds,
        uint40 acceptanceWindow_,
        uint16 carbonIntensity_
    )
        EnergyMarket(
            admin,
            stablecoin,
            energyCredit,
            carbonCredit,
            intervalSeconds,
            acceptanceWindow_,
            carbonIntensity_
        )
    {}

    /// @notice `meter`'s order as the settlement path reads it (the raw word through the `_ORDER_*`
    /// offsets) and as Solidity reads it (the struct).
    function orderBothWays(address meter)
        external
        view
        returns (Order memory fromWord, Order memory fromStruct)
    {
        uint256 word = _loadOrder(meter);
        fromWord = Order({
            ownerId: uint32(word),
            sellFloor: uint48(word >> _ORDER_SELL_FLOOR_SHIFT),
            buyCeiling: uint48(word >> _ORDER_BUY_CEILING_SHIFT),
            capWh: uint32(word >> _ORDER_CAP_SHIFT),
            validFrom: uint40(word >> _ORDER_VALID_FROM_SHIFT),
            validUntil: uint40(word >> _ORDER_VALID_UNTIL_SHIFT),
            flags: uint8(word >> _ORDER_FLAGS_SHIFT)
        });
        fromStruct = _orders[meter];
    }

    /// @notice The account of `meter`'s owner as the settlement path reads it (the raw word through the
    /// `_ACCOUNT_*` offsets) and as Solidity reads it (the struct).
    function accountBothWays(address meter)
        external
        view
        returns (Account memory fromWord, Account memory fromStruct)
    {
        uint256 order = _loadOrder(meter);
        (, uint256 word) = _loadAccount(order);
        fromWord = Account({
            status: uint8(word),
            sides: uint8(word >> _ACCOUNT_SIDES_SHIFT),
            sidesInterval: uint32(word >> _ACCOUNT_SIDES_INTERVAL_SHIFT),
            stablecoin: uint96(word >> _ACCOUNT_STABLECOIN_SHIFT),
            creditsWh: uint56(word >> _ACCOUNT_CREDITS_SHIFT),
            carbonGrams: uint56(word >> _ACCOUNT_CARBON_SHIFT)
        });
        fromStruct = _accounts[uint32(order)];
    }

    /// @notice The masks the settlement path and `ammTransfer` rewrite the account word with.
    function accountMasks() external pure returns (uint256 sides, uint256 belowCredits, uint256 balances) {
        return (_ACCOUNT_SIDES_MASK, _ACCOUNT_BELOW_CREDITS_MASK, _ACCOUNT_BALANCES_MASK);
    }

    /// @notice Each `Batch` member read through its `_BATCH_*` offset from a batch whose members are 1, 2, 3...
    /// in declaration order (the records pointer aside, which is whatever the allocation returned; the
    /// assembly reads no member after it).
    function batchMembersByOffset() external pure returns (uint256[15] memory members, bool recordsMatch) {
        Batch memory batch = Batch({
            t: 1,
            intervalStart: 2,
            intervalEnd: 3,
            price: 4,
            networkFee: 5,
            keeperFeeBps: 6,
            intensity: 7,
            soldWh: 8,
            boughtWh: 9,
            paid: 10,
            sellersEarned: 11,
            creditsMinted: 12,
            creditsBurned: 13,
            carbonMinted: 14,
            settled: 15,
            records: new bytes32[](1),
            carbonHeld: false
        });
        uint256[16] memory offsets = [
            _BATCH_T,
            _BATCH_INTERVAL_START,
            _BATCH_INTERVAL_END,
            _BATCH_PRICE,
            _BATCH_NETWORK_FEE,
            _BATCH_KEEPER_FEE_BPS,
            _BATCH_INTENSITY,
            _BATCH_SOLD_WH,
            _BATCH_BOUGHT_WH,
            _BATCH_PAID,
            _BATCH_SELLERS_EARNED,
            _BATCH_CREDITS_MINTED,
            _BATCH_CREDITS_BURNED,
            _BATCH_CARBON_MINTED,
            _BATCH_SETTLED,
            _BATCH_RECORDS
        ];
        for (uint256 i; i < 15; ++i) {
            uint256 offset = offsets[i];
            uint256 member;
            assembly ("memory-safe") {
                member := mload(add(batch, offset))
            }
            members[i] = member;
        }
        uint256 recordsOffset = offsets[15];
        bytes32[] memory records = batch.records;
        uint256 pointer;
        assembly ("memory-safe") {
            pointer := mload(add(batch, recordsOffset))
        }
        uint256 expected;
        assembly ("memory-safe") {
            expected := records
        }
        recordsMatch = pointer == expected;
    }

    /// @notice The record bit offsets the settlement path's assembly writes with, in `SettlementRecords`'
    /// order: interval, carbon, credited, covered, grid supplied, amount, flags.
    function recordShifts() external pure returns (uint256[7] memory) {
        return [
            _RECORD_INTERVAL_SHIFT,
            _RECORD_CARBON_SHIFT,
            _RECORD_CREDITED_SHIFT,
            _RECORD_COVERED_SHIFT,
            _RECORD_GRID_SUPPLIED_SHIFT,
            _RECORD_AMOUNT_SHIFT,
            _RECORD_FLAGS_SHIFT
        ];
    }

    /// @notice The raw `MeterState` word of `meter`, as the settlement path reads it.
    function stateWord(address meter) external view returns (uint256 word) {
        (, word) = _loadMeterState(meter);
    }
}
