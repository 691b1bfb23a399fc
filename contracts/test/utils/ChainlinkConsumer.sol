// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Imported exactly as a Chainlink user does, from npm @chainlink/contracts (`make install` extracts it).
import {
    AggregatorV3Interface
} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @notice A consumer written for a Chainlink price feed, knowing nothing of cogrid: it reads
/// `latestRoundData` and rejects an answer that is missing or older than the heartbeat it was deployed
/// with, the checks Chainlink's documentation asks of consumers.
contract ChainlinkConsumer {
    AggregatorV3Interface public immutable FEED;
    uint256 public immutable HEARTBEAT;

    /// @notice The feed has no round yet.
    error ChainlinkConsumerNoAnswer();
    /// @notice The latest answer, updated at `updatedAt`, is older than `heartbeat` at `now_`.
    error ChainlinkConsumerStaleAnswer(uint256 updatedAt, uint256 heartbeat, uint256 now_);

    constructor(AggregatorV3Interface feed, uint256 heartbeat) {
        FEED = feed;
        HEARTBEAT = heartbeat;
    }

    /// @notice The feed's latest answer scaled to 18 decimals, if it is fresh.
    function latestScaled() external view returns (int256) {
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = FEED.latestRoundData();
        if (roundId == 0 || updatedAt == 0 || answeredInRound < roundId) revert ChainlinkConsumerNoAnswer();
        if (updatedAt + HEARTBEAT < block.timestamp) {
            revert ChainlinkConsumerStaleAnswer(updatedAt, HEARTBEAT, block.timestamp);
        }
        return answer * int256(10 ** (18 - FEED.decimals()));
    }

    /// @notice Round `roundId`'s answer, as a consumer reading history does.
    function answerAt(uint80 roundId) external view returns (int256 answer, uint256 updatedAt) {
        (, answer,, updatedAt,) = FEED.getRoundData(roundId);
    }
}
