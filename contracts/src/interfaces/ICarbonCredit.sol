// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title ICarbonCredit
/// @notice Grams of CO2e avoided by attested export: an ERC-20 with 0 decimals (1 unit = 1 g CO2e).
/// Tokens leave circulation only by `retire`, which burns them and records a retirement (like an
/// ERC-1888 claim or a Toucan retirement), so `totalSupply() + totalRetired() == totalMinted()`.
interface ICarbonCredit is IERC20Metadata {
    /// @notice A retirement: carbon credits burnt so that `beneficiary` may claim the avoided emissions
    /// of `[periodStart, periodEnd]`.
    /// @param account The account whose tokens were burnt.
    /// @param beneficiary Who the retirement is made for (free text; empty = `account` itself).
    /// @param amount Grams CO2e retired.
    /// @param periodStart Unix time the claimed period starts.
    /// @param periodEnd Unix time the claimed period ends.
    /// @param purpose Free text, e.g. "2026 scope 2 offset".
    /// @param retiredAt Block timestamp of the retirement.
    struct Retirement {
        address account;
        string beneficiary;
        uint256 amount;
        uint40 periodStart;
        uint40 periodEnd;
        string purpose;
        uint40 retiredAt;
    }

    /// @notice `account` retired `amount` grams under retirement `id`.
    event Retired(
        uint256 indexed id,
        address indexed account,
        string beneficiary,
        uint256 amount,
        uint40 periodStart,
        uint40 periodEnd,
        string purpose
    );

    /// @notice A retirement of zero grams.
    error CarbonCreditZeroAmount();
    /// @notice The retirement period does not end after it starts.
    error CarbonCreditInvalidPeriod(uint40 start, uint40 end);
    /// @notice No retirement has this id.
    error CarbonCreditUnknownRetirement(uint256 id);

    /// @notice The role allowed to mint.
    function MINTER_ROLE() external view returns (bytes32);

    /// @notice Mints `amount` grams to `to`. Only `MINTER_ROLE`.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's grams and records the retirement.
    /// @param amount Grams CO2e to retire; not zero.
    /// @param beneficiary Who the retirement is made for.
    /// @param periodStart Start of the claimed period (Unix time).
    /// @param periodEnd End of the claimed period (Unix time); after `periodStart`.
    /// @param purpose Free text.
    /// @return id The retirement's id; ids start at 1 and increase by 1.
    function retire(
        uint256 amount,
        string calldata beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        string calldata purpose
    ) external returns (uint256 id);

    /// @notice The retirement with `id`; reverts with `CarbonCreditUnknownRetirement` if there is none.
    function retirement(uint256 id) external view returns (Retirement memory);

    /// @notice Total grams `account` has retired.
    function retiredBy(address account) external view returns (uint256);

    /// @notice Total grams retired by everyone.
    function totalRetired() external view returns (uint256);

    /// @notice Total grams ever minted.
    function totalMinted() external view returns (uint256);
}
