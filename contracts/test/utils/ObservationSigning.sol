// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOracleHub} from "../../src/interfaces/IOracleHub.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Signs observations the way an oracle reporter does: EIP-712 over a digest built here from the
/// type strings of `notes/oracle-interface.md` (not from the hub), then `vm.sign` and EIP-2098 compaction.
/// A hub that hashed differently would reject every observation the tests sign.
library ObservationSigning {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant OBSERVATION_TYPEHASH =
        keccak256("Observation(uint8 feed,int256 answer,uint64 observedAt)");

    function domainSeparator(address hub) internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("cogrid OracleHub"), keccak256("1"), block.chainid, hub)
        );
    }

    function digest(address hub, uint8 feed, int256 answer, uint64 observedAt)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(OBSERVATION_TYPEHASH, feed, answer, observedAt));
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(hub), structHash));
    }

    /// @notice `key`'s signed observation of `answer` at `observedAt` for `feed` of `hub`.
    function sign(address hub, uint256 key, uint8 feed, int256 answer, uint64 observedAt)
        internal
        view
        returns (IOracleHub.SignedObservation memory observation)
    {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, digest(hub, feed, answer, observedAt));
        observation = IOracleHub.SignedObservation({
            answer: answer, observedAt: observedAt, r: r, vs: bytes32(uint256(s) | (uint256(v - 27) << 255))
        });
    }
}
