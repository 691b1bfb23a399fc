// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICarbonCredit} from "./interfaces/ICarbonCredit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title CarbonCredit
/// @notice cogrid's carbon credits, "gCO2e": 1 unit = 1 gram CO2e avoided by attested export. There is
/// no general burn: tokens leave circulation only through `retire`, which keeps a public record.
contract CarbonCredit is ICarbonCredit, ERC20, AccessControl {
    /// @inheritdoc ICarbonCredit
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @inheritdoc ICarbonCredit
    uint256 public totalMinted;
    /// @inheritdoc ICarbonCredit
    uint256 public totalRetired;
    /// @inheritdoc ICarbonCredit
    mapping(address account => uint256 grams) public retiredBy;

    /// @dev The last retirement id handed out; ids start at 1 so that 0 is never a valid id.
    uint256 private _lastRetirementId;
    mapping(uint256 id => Retirement record) private _retirements;

    /// @param admin Gets `DEFAULT_ADMIN_ROLE` (grants `MINTER_ROLE` to the registry).
    constructor(address admin) ERC20("cogrid Carbon Credit", "gCO2e") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ICarbonCredit
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        totalMinted += amount;
        _mint(to, amount);
    }

    /// @inheritdoc ICarbonCredit
    function retire(
        uint256 amount,
        string calldata beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        string calldata purpose
    ) external returns (uint256 id) {
        if (amount == 0) revert CarbonCreditZeroAmount();
        if (periodEnd <= periodStart) revert CarbonCreditInvalidPeriod(periodStart, periodEnd);
        _burn(msg.sender, amount);
        // Neither can overflow: both are bounded by `totalMinted`, a checked uint256 sum.
        unchecked {
            totalRetired += amount;
            retiredBy[msg.sender] += amount;
        }
        id = ++_lastRetirementId;
        _retirements[id] = Retirement({
            account: msg.sender,
            beneficiary: beneficiary,
            amount: amount,
            periodStart: periodStart,
            periodEnd: periodEnd,
            purpose: purpose,
            retiredAt: uint40(block.timestamp)
        });
        emit Retired(id, msg.sender, beneficiary, amount, periodStart, periodEnd, purpose);
    }

    /// @inheritdoc ICarbonCredit
    function retirement(uint256 id) external view returns (Retirement memory) {
        if (id == 0 || id > _lastRetirementId) revert CarbonCreditUnknownRetirement(id);
        return _retirements[id];
    }

    /// @notice 0 decimals: 1 unit = 1 gram CO2e.
    function decimals() public pure override(ERC20, IERC20Metadata) returns (uint8) {
        return 0;
    }
}
