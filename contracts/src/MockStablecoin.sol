// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMockStablecoin} from "./interfaces/IMockStablecoin.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title MockStablecoin
/// @notice "mUSDC", a 6-decimal USDC stand-in for local devnets and tests ONLY. Whoever holds
/// `MINTER_ROLE` prints it for free; never deploy it where real money is expected.
contract MockStablecoin is IMockStablecoin, ERC20, AccessControl {
    /// @inheritdoc IMockStablecoin
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin Gets `DEFAULT_ADMIN_ROLE` and `MINTER_ROLE` (the devnet faucet).
    constructor(address admin) ERC20("Mock USD Coin", "mUSDC") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @inheritdoc IMockStablecoin
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice 6 decimals, like USDC.
    function decimals() public pure override(ERC20, IERC20Metadata) returns (uint8) {
        return 6;
    }
}
