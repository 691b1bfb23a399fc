// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOracleFeed} from "./interfaces/IOracleFeed.sol";
import {IOracleHub} from "./interfaces/IOracleHub.sol";
import {Feeds} from "./libraries/Feeds.sol";

/// @title OracleFeed
/// @notice Chainlink's `AggregatorV3Interface` over one feed of an `OracleHub`; it stores nothing, so its
/// answers are always the hub's.
contract OracleFeed is IOracleFeed {
    /// @inheritdoc IOracleFeed
    IOracleHub public immutable HUB;
    /// @inheritdoc IOracleFeed
    uint8 public immutable FEED;

    /// @dev The adapter's version, bumped when what its functions return changes.
    uint256 private constant _VERSION = 1;

    /// @param hub The hub to read.
    /// @param feed One of the hub's feed ids (`Feeds`).
    constructor(IOracleHub hub, uint8 feed) {
        if (address(hub) == address(0)) revert IOracleHub.OracleHubZeroAddress();
        if (feed >= hub.FEED_COUNT()) revert IOracleHub.OracleHubUnknownFeed(feed);
        HUB = hub;
        FEED = feed;
    }

    /// @inheritdoc IOracleFeed
    function decimals() external view returns (uint8) {
        return Feeds.decimals(FEED);
    }

    /// @inheritdoc IOracleFeed
    function description() external view returns (string memory) {
        return Feeds.description(FEED);
    }

    /// @inheritdoc IOracleFeed
    function version() external pure returns (uint256) {
        return _VERSION;
    }

    /// @inheritdoc IOracleFeed
    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (answer, startedAt, updatedAt) = HUB.getRound(FEED, _roundId);
        return (_roundId, answer, startedAt, updatedAt, _roundId);
    }

    /// @inheritdoc IOracleFeed
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt) = HUB.latestRound(FEED);
        return (roundId, answer, startedAt, updatedAt, roundId);
    }
}
