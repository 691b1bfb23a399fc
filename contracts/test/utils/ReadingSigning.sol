// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Signs meter readings the way a meter does: EIP-712 over a digest built here from the type
/// strings (not from the registry), then `vm.sign` and EIP-2098 compaction. A registry that hashed
/// differently would reject every reading the tests sign.
library ReadingSigning {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant READING_TYPEHASH =
        keccak256("Reading(address meter,uint32 seq,uint40 intervalEnd,uint48 importWh,uint48 exportWh)");
    string internal constant DOMAIN_NAME = "cogrid MeterRegistry";
    string internal constant DOMAIN_VERSION = "1";

    /// @dev Largest `s` a low-s (EIP-2) signature may have: secp256k1 n / 2.
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    function domainSeparator(address registry) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes(DOMAIN_NAME)),
                keccak256(bytes(DOMAIN_VERSION)),
                block.chainid,
                registry
            )
        );
    }

    function digest(address registry, IMeterRegistry.Reading memory reading) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                READING_TYPEHASH,
                reading.meter,
                reading.seq,
                reading.intervalEnd,
                reading.importWh,
                reading.exportWh
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(registry), structHash));
    }

    /// @notice Fills `reading.r` / `reading.vs` with `key`'s compact signature and returns the reading.
    function sign(address registry, uint256 key, IMeterRegistry.Reading memory reading)
        internal
        view
        returns (IMeterRegistry.Reading memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, digest(registry, reading));
        (reading.r, reading.vs) = compact(v, r, s);
        return reading;
    }

    /// @notice EIP-2098: `vs = yParity << 255 | s`.
    function compact(uint8 v, bytes32 r, bytes32 s) internal pure returns (bytes32, bytes32) {
        return (r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    /// @notice Replaces `s` with `highS`, which must lie in (n/2, 2^255): the only high-s values EIP-2098
    /// can encode (the malleable twin `n - s` of a real signature needs bit 255, the parity bit).
    function withHighS(IMeterRegistry.Reading memory reading, uint256 highS)
        internal
        pure
        returns (IMeterRegistry.Reading memory)
    {
        require(highS > HALF_N && highS < 1 << 255, "ReadingSigning: s not high");
        reading.vs = bytes32((uint256(reading.vs) & (1 << 255)) | highS);
        return reading;
    }
}
