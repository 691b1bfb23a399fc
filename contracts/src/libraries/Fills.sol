// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Fills
/// @notice One fill of `IEnergyMarket.settle`, packed into one word so that a keeper's batch carries one
/// calldata word per fill. Bit 0 is the lowest bit of the word:
/// - bits   0-159 `meter`: the meter whose attested volume trades (its standing order sets the limits);
/// - bits 160-191 `wh` (uint32): the energy traded, Wh; not zero;
/// - bit  192     `buy`: 1 buys for the meter's import, 0 sells its export;
/// - bits 193-255: zero. A fill with any of them set is malformed (`MarketFillMalformed`).
library Fills {
    /// @notice Offset of the `wh` field.
    uint256 internal constant WH_SHIFT = 160;
    /// @notice Offset of the `buy` bit.
    uint256 internal constant BUY_SHIFT = 192;
    /// @notice The bits a well-formed fill may set: the three fields above (bits 0-192).
    uint256 internal constant USED_BITS = (1 << 193) - 1;

    /// @notice The fill that trades `wh` of `meter`'s attested import (`buy`) or export.
    function pack(address meter, bool buy, uint32 wh) internal pure returns (uint256) {
        return uint256(uint160(meter)) | (uint256(wh) << WH_SHIFT) | (buy ? uint256(1) << BUY_SHIFT : 0);
    }

    /// @notice Whether `fill` sets no bit outside its fields.
    function isWellFormed(uint256 fill) internal pure returns (bool) {
        return fill & ~USED_BITS == 0;
    }

    // The readers take one field out of the word: truncating is the point.

    /// @notice The meter of `fill`.
    // forge-lint: disable-next-item(unsafe-typecast)
    function meterOf(uint256 fill) internal pure returns (address) {
        return address(uint160(fill));
    }

    /// @notice The Wh of `fill`.
    // forge-lint: disable-next-item(unsafe-typecast)
    function whOf(uint256 fill) internal pure returns (uint256) {
        return uint32(fill >> WH_SHIFT);
    }

    /// @notice Whether `fill` buys (else it sells).
    function isBuy(uint256 fill) internal pure returns (bool) {
        return (fill >> BUY_SHIFT) & 1 == 1;
    }
}
