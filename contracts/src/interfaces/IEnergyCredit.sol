// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title IEnergyCredit
/// @notice Banked surplus energy: an ERC-20 with 3 decimals, so 1 base unit = 1 Wh and 1 token = 1 kWh.
/// Minted only for attested export (by the MeterRegistry, later the EnergyMarket); holders may burn.
interface IEnergyCredit is IERC20Metadata {
    /// @notice The role allowed to mint.
    function MINTER_ROLE() external view returns (bytes32);

    /// @notice Mints `amount` Wh of credits to `to`. Only `MINTER_ROLE`.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's credits.
    function burn(uint256 amount) external;

    /// @notice Burns `amount` of `account`'s credits, spending the caller's allowance.
    function burnFrom(address account, uint256 amount) external;
}
