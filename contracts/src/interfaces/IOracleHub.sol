// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOracleHub
/// @notice Outside data for cogrid: four feeds, each a sequence of rounds whose answer is the median of
/// EIP-712-signed observations from authorized reporters (the co-ops' oracle daemons).
///
/// Feeds (`uint8` ids, units as DESIGN.md fixes them; the `OracleFeed` of each reports the decimals):
/// - `0` SPOT_PRICE: stablecoin base units (6 decimals) per MWh;
/// - `1` SOLAR_IRRADIANCE: W/m2;
/// - `2` TEMPERATURE: centi-degC (2 decimals);
/// - `3` CARBON_INTENSITY: g CO2e/kWh.
///
/// A reporter signs `Observation(uint8 feed,int256 answer,uint64 observedAt)` under the domain
/// `cogrid OracleHub` / `1` / chain id / this hub. Anyone submits a round of such observations in one call;
/// the round is accepted as a whole or the call reverts with the first failed check:
/// 1. the feed exists and is configured;
/// 2. there are at least `quorum` observations;
/// 3. each observation is newer than the feed's latest round (`observedAt > updatedAt`), not from the future
///    (`observedAt <= block.timestamp`) and not older than the heartbeat (`observedAt + heartbeat >=
///    block.timestamp`);
/// 4. each signature is a valid low-s EIP-2098 signature;
/// 5. the signers are strictly ascending (so no reporter counts twice);
/// 6. each signer holds `REPORTER_ROLE`;
/// 7. the median of the answers (odd count: the middle one; even count: the mean of the two middle ones,
///    rounded toward zero) lies within the feed's `[minAnswer, maxAnswer]`. A single wild observation
///    never fails a round on its own: it only moves the median within the honest values.
///
/// Staleness: a feed is stale when it has no round yet or its latest round's `updatedAt + heartbeat` is
/// before `block.timestamp` (the rule a Chainlink consumer applies to `latestRoundData`).
///
/// Ranges: bounds (hence answers) fit `int64`, round ids `uint48` (the `uint80` of Chainlink's interface
/// holds them), timestamps `uint40`.
interface IOracleHub {
    /// @notice A reporter's signed observation. The signature is EIP-2098 compact (64 bytes).
    /// @param answer The observed value in the feed's unit.
    /// @param observedAt Unix time of the observation (when the reporter read its sources).
    /// @param r The `r` half of the signature over `observationDigest(feed, answer, observedAt)`.
    /// @param vs `yParity << 255 | s`.
    struct SignedObservation {
        int256 answer;
        uint64 observedAt;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A feed's configuration and its latest round id.
    /// @param quorum The fewest observations a round needs; 0 while the feed is not configured.
    /// @param heartbeat Seconds after which an answer is stale and an observation too old.
    /// @param minAnswer The lowest median a round may have.
    /// @param maxAnswer The highest median a round may have.
    /// @param latestRoundId The id of the feed's latest round; 0 before the first one.
    struct FeedConfig {
        uint8 quorum;
        uint32 heartbeat;
        int256 minAnswer;
        int256 maxAnswer;
        uint80 latestRoundId;
    }

    /// @notice The admin (re)configured `feed`; rounds submitted from now on follow these rules.
    event FeedConfigured(
        uint8 indexed feed, uint8 quorum, uint32 heartbeat, int256 minAnswer, int256 maxAnswer
    );
    /// @notice Round `roundId` of `feed` was accepted with the median `answer` of `observations`
    /// observations.
    event RoundSubmitted(uint8 indexed feed, uint80 indexed roundId, int256 answer, uint256 observations);

    /// @notice A zero address was given for the admin.
    error OracleHubZeroAddress();
    /// @notice `feed` is not one of the four feed ids.
    error OracleHubUnknownFeed(uint8 feed);
    /// @notice `feed` has no configuration yet: the admin calls `setFeedConfig` first.
    error OracleHubFeedNotConfigured(uint8 feed);
    /// @notice A configuration with a zero quorum.
    error OracleHubZeroQuorum(uint8 feed);
    /// @notice A configuration with a zero heartbeat.
    error OracleHubZeroHeartbeat(uint8 feed);
    /// @notice A configuration whose lower bound is above its upper bound.
    error OracleHubInvalidBounds(uint8 feed, int256 minAnswer, int256 maxAnswer);
    /// @notice A configuration bound outside what the feed slot stores (`int64`).
    error OracleHubBoundOutOfRange(uint8 feed, int256 bound);
    /// @notice A round of `count` observations for `feed`, which needs `quorum`.
    error OracleHubBelowQuorum(uint8 feed, uint256 count, uint8 quorum);
    /// @notice Observation `index` was made after the current block's timestamp `now_`.
    error OracleHubObservationFromFuture(uint256 index, uint64 observedAt, uint256 now_);
    /// @notice Observation `index` is not newer than the feed's latest round, updated at `latestUpdatedAt`.
    error OracleHubObservationNotNewer(uint256 index, uint64 observedAt, uint256 latestUpdatedAt);
    /// @notice Observation `index` is older than the heartbeat allows: the oldest accepted time is
    /// `oldestAccepted`.
    error OracleHubObservationTooOld(uint256 index, uint64 observedAt, uint256 oldestAccepted);
    /// @notice Observation `index`'s signature does not recover (malformed, or a high `s`).
    error OracleHubInvalidSignature(uint256 index);
    /// @notice Observation `index` was signed by `signer`, which does not hold `REPORTER_ROLE`.
    error OracleHubUnauthorizedSigner(uint256 index, address signer);
    /// @notice Observation `index`'s signer is not above the previous observation's: observations must be
    /// sorted by signer, strictly ascending, so a reporter counts once.
    error OracleHubSignersNotSorted(uint256 index, address signer, address previousSigner);
    /// @notice The round's median `answer` is outside `feed`'s bounds.
    error OracleHubAnswerOutOfBounds(uint8 feed, int256 answer, int256 minAnswer, int256 maxAnswer);
    /// @notice Granting `REPORTER_ROLE` to one more account would pass the hub's limit of `max` reporters.
    error OracleHubTooManyReporters(uint256 max);
    /// @notice The data contract holding the reporter set could not be deployed (out of gas).
    error OracleHubReporterSetNotDeployed();
    /// @notice `feed` has no round `roundId`.
    error OracleHubUnknownRound(uint8 feed, uint80 roundId);
    /// @notice `feed`'s latest answer, updated at `updatedAt` (0: never), is older than its `heartbeat`.
    error OracleHubStaleAnswer(uint8 feed, uint256 updatedAt, uint32 heartbeat);

    /// @notice The role whose holders' signed observations count in rounds.
    function REPORTER_ROLE() external view returns (bytes32);

    /// @notice The most accounts `REPORTER_ROLE` may hold at once.
    function MAX_REPORTERS() external view returns (uint256);

    /// @notice The number of feeds; ids are `0 .. FEED_COUNT - 1`.
    function FEED_COUNT() external view returns (uint8);

    /// @notice Sets `feed`'s rules for the rounds submitted from now on. Only the admin
    /// (`DEFAULT_ADMIN_ROLE`).
    /// @param quorum The fewest observations a round needs; not 0.
    /// @param heartbeat Seconds after which an answer is stale and an observation too old; not 0.
    /// @param minAnswer The lowest median accepted; within `int64`.
    /// @param maxAnswer The highest median accepted; within `int64`, not below `minAnswer`.
    function setFeedConfig(uint8 feed, uint8 quorum, uint32 heartbeat, int256 minAnswer, int256 maxAnswer)
        external;

    /// @notice Accepts a round of signed observations for `feed` (rules in the contract notice). Anyone may
    /// submit it; the signatures are what count.
    /// @param observations Sorted by signer address, strictly ascending.
    /// @return roundId The new round's id (the feed's rounds are numbered from 1).
    function submitRound(uint8 feed, SignedObservation[] calldata observations)
        external
        returns (uint80 roundId);

    /// @notice `feed`'s configuration and latest round id.
    function feedConfig(uint8 feed) external view returns (FeedConfig memory);

    /// @notice `feed`'s latest round; all zero before the first one.
    /// @return roundId The round's id.
    /// @return answer The round's median.
    /// @return startedAt The oldest observation's `observedAt`.
    /// @return updatedAt The timestamp of the block that accepted the round.
    function latestRound(uint8 feed)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt);

    /// @notice Round `roundId` of `feed`; reverts with `OracleHubUnknownRound` when there is none.
    function getRound(uint8 feed, uint80 roundId)
        external
        view
        returns (int256 answer, uint256 startedAt, uint256 updatedAt);

    /// @notice Whether `feed`'s latest answer is stale: no round yet, or `updatedAt + heartbeat` is before
    /// `block.timestamp`.
    function isStale(uint8 feed) external view returns (bool);

    /// @notice `feed`'s latest answer if it is fresh; reverts with `OracleHubStaleAnswer` otherwise.
    function latestFreshAnswer(uint8 feed) external view returns (int256 answer, uint256 updatedAt);

    /// @notice Whether `account` holds `REPORTER_ROLE`.
    function isReporter(address account) external view returns (bool);

    /// @notice The EIP-712 domain separator of this hub on this chain.
    function domainSeparator() external view returns (bytes32);

    /// @notice The EIP-712 digest a reporter signs for an observation.
    function observationDigest(uint8 feed, int256 answer, uint64 observedAt) external view returns (bytes32);
}
