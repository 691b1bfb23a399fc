// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleHub} from "../../../src/OracleHub.sol";
import {IOracleHub} from "../../../src/interfaces/IOracleHub.sol";
import {ObservationSigning} from "../../utils/ObservationSigning.sol";
import {ReferenceMedian} from "../../utils/ReferenceMedian.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Drives an OracleHub with rounds from random subsets of its reporters (some values wild, some
/// rounds below quorum, some observations too old or not newer), time warps and reconfigurations. It
/// predicts each round's outcome independently and keeps, per feed, the ghost record of every accepted
/// round: its expected median, the bounds it was accepted under and its block time.
contract OracleHubHandler is CommonBase, StdUtils {
    struct AcceptedRound {
        int256 median;
        int256 minAnswer;
        int256 maxAnswer;
        uint256 updatedAt;
    }

    OracleHub public immutable HUB;
    address public immutable ADMIN;
    /// @dev Reporter keys sorted by address.
    uint256[] internal _keys;
    /// @dev Whether reporter i holds `REPORTER_ROLE` now.
    mapping(uint256 index => bool active) internal _active;

    mapping(uint8 feed => AcceptedRound[] rounds) internal _accepted;
    /// @notice Rounds the handler predicted and the hub decided otherwise (must stay 0).
    uint256 public mispredictions;
    /// @notice Calls that reached `submitRound`, and how many of them the hub accepted.
    uint256 public submitted;
    uint256 public acceptedCount;

    constructor(OracleHub hub, address admin, uint256[] memory keys) {
        HUB = hub;
        ADMIN = admin;
        _keys = keys;
        for (uint256 i; i < keys.length; ++i) {
            _active[i] = hub.isReporter(vm.addr(keys[i]));
        }
    }

    /// @notice A round from the reporters in `subset` (bit i = reporter i), each with its own value: in
    /// bounds, or (bit i of `wild`) anywhere in int256.
    function submit(uint8 feedSeed, uint256 subset, int256[5] memory values, uint256 wild, uint256 ageSeed)
        external
    {
        uint8 feed = uint8(feedSeed % HUB.FEED_COUNT());
        IOracleHub.FeedConfig memory config = HUB.feedConfig(feed);
        (,,, uint256 latestUpdatedAt) = HUB.latestRound(feed);
        // Mostly fresh observations; sometimes older than the heartbeat or than the latest round.
        uint256 age = _bound(ageSeed, 0, uint256(config.heartbeat) + 120);
        uint64 observedAt = uint64(block.timestamp > age ? block.timestamp - age : 0);

        uint256 count;
        bool allReporters = true;
        for (uint256 i; i < _keys.length; ++i) {
            if (subset >> i & 1 == 0) continue;
            ++count;
            allReporters = allReporters && _active[i];
        }
        IOracleHub.SignedObservation[] memory round = new IOracleHub.SignedObservation[](count);
        int256[] memory answers = new int256[](count);
        uint256 next;
        for (uint256 i; i < _keys.length; ++i) {
            if (subset >> i & 1 == 0) continue;
            answers[next] =
                wild >> i & 1 == 1 ? values[i] : _bound(values[i], config.minAnswer, config.maxAnswer);
            round[next] = ObservationSigning.sign(address(HUB), _keys[i], feed, answers[next], observedAt);
            ++next;
        }

        bool fresh = observedAt > latestUpdatedAt && uint256(observedAt) + config.heartbeat >= block.timestamp;
        int256 median = count == 0 ? int256(0) : ReferenceMedian.median(answers);
        bool expected = fresh && allReporters && count >= config.quorum && median >= config.minAnswer
            && median <= config.maxAnswer;

        ++submitted;
        try HUB.submitRound(feed, round) returns (uint80 roundId) {
            _accepted[feed].push(AcceptedRound(median, config.minAnswer, config.maxAnswer, block.timestamp));
            ++acceptedCount;
            if (!expected || roundId != _accepted[feed].length) ++mispredictions;
        } catch {
            if (expected) ++mispredictions;
        }
    }

    /// @notice Time passes: up to two heartbeats of an hour.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 1, 2 hours));
    }

    /// @notice The admin revokes reporter `index`'s role, or grants it back; or the reporter renounces it.
    function toggleReporter(uint256 index, bool renounce) external {
        index = _bound(index, 0, _keys.length - 1);
        address reporter = vm.addr(_keys[index]);
        bytes32 role = HUB.REPORTER_ROLE();
        if (!_active[index]) {
            vm.prank(ADMIN);
            HUB.grantRole(role, reporter);
        } else if (renounce) {
            vm.prank(reporter);
            HUB.renounceRole(role, reporter);
        } else {
            vm.prank(ADMIN);
            HUB.revokeRole(role, reporter);
        }
        _active[index] = !_active[index];
    }

    /// @notice The admin changes a feed's rules.
    function reconfigure(uint8 feedSeed, uint8 quorumSeed, uint32 heartbeatSeed, int64 a, int64 b) external {
        uint8 feed = uint8(feedSeed % HUB.FEED_COUNT());
        uint8 quorum = uint8(_bound(quorumSeed, 1, _keys.length));
        uint32 heartbeat = uint32(_bound(heartbeatSeed, 1 minutes, 2 hours));
        (int256 low, int256 high) = a <= b ? (int256(a), int256(b)) : (int256(b), int256(a));
        vm.prank(ADMIN);
        HUB.setFeedConfig(feed, quorum, heartbeat, low, high);
    }

    function isActive(uint256 index) external view returns (bool) {
        return _active[index];
    }

    function acceptedRounds(uint8 feed) external view returns (AcceptedRound[] memory) {
        return _accepted[feed];
    }
}
