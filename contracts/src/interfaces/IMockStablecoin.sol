// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title IMockStablecoin
/// @notice A USDC-like 6-decimal stablecoin for local devnets and tests ONLY: anyone holding
/// `MINTER_ROLE` prints it at will, so it has no value. Real deployments use a real stablecoin.
interface IMockStablecoin is IERC20Metadata {
    /// @notice The role allowed to mint.
    function MINTER_ROLE() external view returns (bytes32);

    /// @notice Mints `amount` base units (6 decimals) to `to`. Only `MINTER_ROLE`.
    function mint(address to, uint256 amount) external;
}
