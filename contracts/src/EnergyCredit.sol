// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyCredit} from "./interfaces/IEnergyCredit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title EnergyCredit
/// @notice cogrid's banked surplus energy, "ECR": 1 base unit = 1 Wh of attested export.
contract EnergyCredit is IEnergyCredit, ERC20Burnable, AccessControl {
    /// @inheritdoc IEnergyCredit
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin Gets `DEFAULT_ADMIN_ROLE` (grants `MINTER_ROLE` to the registry and the market).
    constructor(address admin) ERC20("cogrid Energy Credit", "ECR") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IEnergyCredit
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @inheritdoc IEnergyCredit
    function burn(uint256 amount) public override(ERC20Burnable, IEnergyCredit) {
        super.burn(amount);
    }

    /// @inheritdoc IEnergyCredit
    function burnFrom(address account, uint256 amount) public override(ERC20Burnable, IEnergyCredit) {
        super.burnFrom(account, amount);
    }

    /// @notice 3 decimals: 1 base unit = 1 Wh, 1 token = 1 kWh.
    function decimals() public pure override(ERC20, IERC20Metadata) returns (uint8) {
        return 3;
    }
}
