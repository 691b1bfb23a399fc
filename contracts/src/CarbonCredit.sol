// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICarbonCredit} from "./interfaces/ICarbonCredit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title CarbonCredit
/// @notice cogrid's carbon credits, "gCO2e": 1 unit = 1 gram CO2e avoided by attested export. There is
/// no general burn: tokens leave circulation only through `retire`, which keeps a public record.
/// @dev Storage is laid out so that a retirement, even an account's first, writes one new slot: the
/// account's balance and retired grams share a slot (a retiring account holds a balance, so that slot is
/// already non-zero), supply, retired total and retirement count share another, and the record is a
/// 32-byte commitment whose text travels in the `Retired` event. OpenZeppelin's `ERC20` keeps its
/// allowances, checks, events and errors; its own balance and supply slots stay unused, because
/// `_update`, `balanceOf` and `totalSupply` are overridden to use the packed ones.
contract CarbonCredit is ICarbonCredit, ERC20, AccessControl {
    /// @dev One slot per holder. Both fields stay below `MAX_MINTED` (< 2^96).
    struct Account {
        uint128 balance;
        uint128 retired;
    }

    /// @dev One slot: `supply + retired == totalMinted <= MAX_MINTED`, so both fit their 96 bits.
    struct Totals {
        uint96 supply;
        uint96 retired;
        uint64 retirements;
    }

    /// @inheritdoc ICarbonCredit
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @inheritdoc ICarbonCredit
    uint256 public constant MAX_MINTED = type(uint96).max;
    /// @inheritdoc ICarbonCredit
    uint256 public constant MAX_BENEFICIARY_BYTES = 128;
    /// @inheritdoc ICarbonCredit
    uint256 public constant MAX_PURPOSE_BYTES = 256;
    /// @inheritdoc ICarbonCredit
    bytes32 public constant RETIREMENT_TYPEHASH = keccak256(
        "Retirement(uint256 id,address account,uint256 amount,uint40 periodStart,uint40 periodEnd,uint40 retiredAt,string beneficiary,string purpose)"
    );

    /// @inheritdoc ICarbonCredit
    /// @dev A slot of its own, counted apart from `_totals`, so that `supply + retired == minted` is a
    /// check of two independent records rather than true by construction.
    uint256 public totalMinted;
    Totals private _totals;
    mapping(address account => Account) private _accounts;
    mapping(uint256 id => bytes32 commitment) private _retirementHashes;

    /// @param admin Gets `DEFAULT_ADMIN_ROLE` (grants `MINTER_ROLE` to the registry).
    constructor(address admin) ERC20("cogrid Carbon Credit", "gCO2e") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ICarbonCredit
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        uint256 minted = totalMinted;
        if (amount > MAX_MINTED - minted) revert CarbonCreditMintCapExceeded(amount, MAX_MINTED);
        // Cannot overflow: bounded by MAX_MINTED just above.
        unchecked {
            totalMinted = minted + amount;
        }
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
        if (bytes(beneficiary).length > MAX_BENEFICIARY_BYTES) {
            revert CarbonCreditBeneficiaryTooLong(bytes(beneficiary).length, MAX_BENEFICIARY_BYTES);
        }
        if (bytes(purpose).length > MAX_PURPOSE_BYTES) {
            revert CarbonCreditPurposeTooLong(bytes(purpose).length, MAX_PURPOSE_BYTES);
        }
        id = _burnForRetirement(amount);
        // uint40 seconds last until the year 36812.
        _retirementHashes[id] = _hashRetirement(
            id,
            msg.sender,
            amount,
            periodStart,
            periodEnd,
            uint40(block.timestamp),
            keccak256(bytes(beneficiary)),
            keccak256(bytes(purpose))
        );
        emit Transfer(msg.sender, address(0), amount);
        emit Retired(
            id, msg.sender, amount, periodStart, periodEnd, uint40(block.timestamp), beneficiary, purpose
        );
    }

    /// @inheritdoc ICarbonCredit
    function retirementHash(uint256 id) external view returns (bytes32) {
        return _storedHash(id);
    }

    /// @inheritdoc ICarbonCredit
    function verifyRetirement(uint256 id, Retirement calldata record) external view returns (bool) {
        return _storedHash(id)
            == _hashRetirement(
            id,
            record.account,
            record.amount,
            record.periodStart,
            record.periodEnd,
            record.retiredAt,
            keccak256(bytes(record.beneficiary)),
            keccak256(bytes(record.purpose))
        );
    }

    /// @inheritdoc ICarbonCredit
    function retirementCount() external view returns (uint256) {
        return _totals.retirements;
    }

    /// @inheritdoc ICarbonCredit
    function retiredBy(address account) external view returns (uint256) {
        return _accounts[account].retired;
    }

    /// @inheritdoc ICarbonCredit
    function totalRetired() external view returns (uint256) {
        return _totals.retired;
    }

    /// @notice 0 decimals: 1 unit = 1 gram CO2e.
    function decimals() public pure override(ERC20, IERC20Metadata) returns (uint8) {
        return 0;
    }

    /// @inheritdoc IERC20
    function totalSupply() public view override(ERC20, IERC20) returns (uint256) {
        return _totals.supply;
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) public view override(ERC20, IERC20) returns (uint256) {
        return _accounts[account].balance;
    }

    /// @dev Mints and transfers on the packed slots. `to` is never the zero address: `_mint` and
    /// `_transfer` reject it, and `retire` burns without coming here.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0)) {
            // Cannot overflow: `mint` keeps every total ever minted within MAX_MINTED < 2^96.
            unchecked {
                // forge-lint: disable-next-line(unsafe-typecast)
                _totals.supply += uint96(value);
            }
        } else {
            uint256 fromBalance = _accounts[from].balance;
            if (fromBalance < value) revert ERC20InsufficientBalance(from, fromBalance, value);
            // Cannot underflow: checked just above.
            unchecked {
                // forge-lint: disable-next-line(unsafe-typecast)
                _accounts[from].balance = uint128(fromBalance - value);
            }
        }
        // Cannot overflow: a balance is at most the supply, which stays within MAX_MINTED < 2^96.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            _accounts[to].balance += uint128(value);
        }
        emit Transfer(from, to, value);
    }

    /// @dev Burns `amount` of the caller's grams into its retired total and hands out the next id, in
    /// one write of the caller's slot and one of the totals.
    function _burnForRetirement(uint256 amount) private returns (uint256 id) {
        Account memory account = _accounts[msg.sender];
        if (account.balance < amount) revert ERC20InsufficientBalance(msg.sender, account.balance, amount);
        Totals memory totals = _totals;
        // None can overflow or underflow: amount <= balance <= supply, every retired total stays within
        // totalMinted <= MAX_MINTED < 2^96, and 2^64 retirements would take longer than the chain lives.
        // forge-lint: disable-next-item(unsafe-typecast)
        unchecked {
            _accounts[msg.sender] = Account({
                balance: account.balance - uint128(amount), retired: account.retired + uint128(amount)
            });
            id = totals.retirements + 1;
            _totals = Totals({
                supply: totals.supply - uint96(amount),
                retired: totals.retired + uint96(amount),
                retirements: uint64(id)
            });
        }
    }

    /// @dev The stored commitment of retirement `id`, which must exist (a keccak digest is never zero).
    function _storedHash(uint256 id) private view returns (bytes32 commitment) {
        commitment = _retirementHashes[id];
        if (commitment == bytes32(0)) revert CarbonCreditUnknownRetirement(id);
    }

    /// @dev The EIP-712 struct hash of a retirement (see `retirementHash`).
    function _hashRetirement(
        uint256 id,
        address account,
        uint256 amount,
        uint40 periodStart,
        uint40 periodEnd,
        uint40 retiredAt,
        bytes32 beneficiaryHash,
        bytes32 purposeHash
    ) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RETIREMENT_TYPEHASH,
                id,
                account,
                amount,
                periodStart,
                periodEnd,
                retiredAt,
                beneficiaryHash,
                purposeHash
            )
        );
    }
}
