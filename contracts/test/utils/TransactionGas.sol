// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @dev Cheatcodes forge 1.7 has that the bundled forge-std 1.9.3 `Vm` does not declare.
interface VmCool {
    /// @notice Marks `target`'s account and every storage slot of it cold again.
    function cool(address target) external;
}

/// @notice What the gas tests report as a `*_whole_tx` figure.
library TransactionGas {
    /// @dev Gas of a call with calldata `data` sent as its own transaction (Prague): 21,000 + max(4 gas
    /// per calldata token + execution, 10 per token) with tokens = zero bytes + 4 x nonzero bytes
    /// (EIP-2028, EIP-7623).
    function wholeTransaction(bytes memory data, uint256 executionGas) internal pure returns (uint256) {
        uint256 tokens;
        for (uint256 i; i < data.length; ++i) {
            tokens += data[i] == 0 ? 1 : 4;
        }
        uint256 standard = 4 * tokens + executionGas;
        uint256 floor = 10 * tokens;
        return 21_000 + (standard > floor ? standard : floor);
    }
}
