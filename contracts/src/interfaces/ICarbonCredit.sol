// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title ICarbonCredit
/// @notice Grams of CO2e avoided by attested export: an ERC-20 with 0 decimals (1 unit = 1 g CO2e).
/// Tokens leave circulation only by `retire`, which burns them and records a retirement (like an
/// ERC-1888 claim or a Toucan retirement), so `totalSupply() + totalRetired() == totalMinted()`.
/// @dev A retirement certificate lives in two places: the chain stores a 32-byte commitment to the whole
/// record under its id (`retirementHash`), and the `Retired` event carries every field of it, text
/// included. A reader finds the event by its indexed id (or lists an account's by the indexed account)
/// and proves it genuine with `verifyRetirement`, which any contract can call as well.
interface ICarbonCredit is IERC20Metadata {
    /// @notice A retirement: carbon credits burnt so that `beneficiary` may claim the avoided emissions
    /// of `[periodStart, periodEnd]`.
    /// @param account The account whose tokens were burnt.
    /// @param amount Grams CO2e retired.
    /// @param periodStart Unix time the claimed period starts.
    /// @param periodEnd Unix time the claimed period ends.
    /// @param retiredAt Block timestamp of the retirement.
    /// @param beneficiary Who the retirement is made for (free text; empty = `account` itself).
    /// @param purpose Free text, e.g. "2026 scope 2 offset".
    struct Retirement {
        address account;
        uint256 amount;
        uint40 periodStart;
        uint40 periodEnd;
        uint40 retiredAt;
        string beneficiary;
        string purpose;
    }

    /// @notice `account` retired `amount` grams under retirement `id`: the event holds the whole record,
    /// whose commitment `retirementHash(id)` stores.
    event Retired(
        uint256 indexed id,
        address indexed account,
        uint256 amount,
        uint40 periodStart,
        uint40 periodEnd,
        uint40 retiredAt,
        string beneficiary,
        string purpose
    );

    /// @notice A retirement of zero grams.
    error CarbonCreditZeroAmount();
    /// @notice The retirement period does not end after it starts.
    error CarbonCreditInvalidPeriod(uint40 start, uint40 end);
    /// @notice The beneficiary is longer than `max` bytes (UTF-8); shorten it.
    error CarbonCreditBeneficiaryTooLong(uint256 length, uint256 max);
    /// @notice The purpose is longer than `max` bytes (UTF-8); shorten it.
    error CarbonCreditPurposeTooLong(uint256 length, uint256 max);
    /// @notice No retirement has this id; ids run from 1 to `retirementCount()`.
    error CarbonCreditUnknownRetirement(uint256 id);
    /// @notice Minting `amount` would take the total ever minted past `max` grams.
    error CarbonCreditMintCapExceeded(uint256 amount, uint256 max);

    /// @notice The role allowed to mint.
    function MINTER_ROLE() external view returns (bytes32);

    /// @notice The most grams that can ever be minted in total: the packed supply and retired counters
    /// hold 96 bits each (7.9e22 tonnes).
    function MAX_MINTED() external view returns (uint256);

    /// @notice The longest beneficiary `retire` accepts, in bytes.
    function MAX_BENEFICIARY_BYTES() external view returns (uint256);

    /// @notice The longest purpose `retire` accepts, in bytes.
    function MAX_PURPOSE_BYTES() external view returns (uint256);

    /// @notice The EIP-712 type hash of `Retirement` with its id, which `retirementHash` commits to:
    /// `Retirement(uint256 id,address account,uint256 amount,uint40 periodStart,uint40 periodEnd,uint40 retiredAt,string beneficiary,string purpose)`.
    function RETIREMENT_TYPEHASH() external view returns (bytes32);

    /// @notice Mints `amount` grams to `to`. Only `MINTER_ROLE`.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's grams and records the retirement; emits `Retired` (and the
    /// ERC-20 `Transfer` to the zero address).
    /// @param amount Grams CO2e to retire; not zero.
    /// @param beneficiary Who the retirement is made for; at most `MAX_BENEFICIARY_BYTES`.
    /// @param periodStart Start of the claimed period (Unix time).
    /// @param periodEnd End of the claimed period (Unix time); after `periodStart`.
    /// @param purpose Free text; at most `MAX_PURPOSE_BYTES`.
    /// @return id The retirement's id; ids start at 1 and increase by 1.
    function retire(
        uint256 amount,
        string calldata beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        string calldata purpose
    ) external returns (uint256 id);

    /// @notice The commitment stored for retirement `id`: the EIP-712 struct hash
    /// `keccak256(abi.encode(RETIREMENT_TYPEHASH, id, account, amount, periodStart, periodEnd, retiredAt,
    /// keccak256(bytes(beneficiary)), keccak256(bytes(purpose))))`. Reverts with
    /// `CarbonCreditUnknownRetirement` if there is no such retirement.
    function retirementHash(uint256 id) external view returns (bytes32);

    /// @notice Whether `record` is exactly retirement `id` (as its `Retired` event shows it). Reverts with
    /// `CarbonCreditUnknownRetirement` if there is no such retirement.
    function verifyRetirement(uint256 id, Retirement calldata record) external view returns (bool);

    /// @notice How many retirements there are: the last id handed out.
    function retirementCount() external view returns (uint256);

    /// @notice Total grams `account` has retired.
    function retiredBy(address account) external view returns (uint256);

    /// @notice Total grams retired by everyone.
    function totalRetired() external view returns (uint256);

    /// @notice Total grams ever minted.
    function totalMinted() external view returns (uint256);
}
