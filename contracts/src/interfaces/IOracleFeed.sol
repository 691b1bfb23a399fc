// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOracleHub} from "./IOracleHub.sol";

/// @title IOracleFeed
/// @notice One OracleHub feed behind Chainlink's `AggregatorV3Interface`: the five functions below have the
/// signatures of the interface in npm `chainlink/contracts` 1.5.0 (`src/v0.8/shared/interfaces/`), so a
/// contract written for a Chainlink price feed reads a cogrid feed unchanged. Consumers reject an answer whose
/// `updatedAt + heartbeat` is before `block.timestamp` (the heartbeat is in `HUB().feedConfig(FEED())`).
/// Round ids are the hub's per-feed ids (from 1); `answeredInRound` equals `roundId`.
interface IOracleFeed {
    /// @notice The hub this feed reads.
    function HUB() external view returns (IOracleHub);

    /// @notice The hub's feed id this feed reads.
    function FEED() external view returns (uint8);

    /// @notice The decimals of the answers: 6 (spot price), 0 (irradiance), 2 (temperature), 0 (carbon).
    function decimals() external view returns (uint8);

    /// @notice The feed and the unit of `answer / 10 ** decimals()`, e.g. `cogrid SPOT_PRICE (stablecoin/MWh)`.
    function description() external view returns (string memory);

    /// @notice The version of this adapter.
    function version() external view returns (uint256);

    /// @notice Round `_roundId`; reverts with `IOracleHub.OracleHubUnknownRound` when the feed has none.
    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The latest round; all zero before the first one (so `updatedAt` 0 reads as stale).
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
