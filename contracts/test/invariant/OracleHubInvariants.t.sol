// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleFixture} from "../utils/OracleFixture.sol";
import {OracleHubHandler} from "./handlers/OracleHubHandler.sol";
import {console} from "forge-std/Test.sol";

/// @notice The hub's rounds under random sequences of rounds, time and reconfiguration: every accepted
/// round is exactly the one the handler predicted, its answer is the median of its observations within the
/// bounds it was accepted under, round ids count up from 1 and rounds' times strictly increase.
/// forge-config: default.invariant.fail-on-revert = true
contract OracleHubInvariantsTest is OracleFixture {
    OracleHubHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new OracleHubHandler(hub, admin, keys);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = OracleHubHandler.submit.selector;
        selectors[1] = OracleHubHandler.submit.selector; // three times: rounds are the main event
        selectors[2] = OracleHubHandler.submit.selector;
        selectors[3] = OracleHubHandler.warp.selector;
        selectors[4] = OracleHubHandler.reconfigure.selector;
        selectors[5] = OracleHubHandler.toggleReporter.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_HubDecidesAsPredicted() public view {
        assertEq(handler.mispredictions(), 0);
    }

    function invariant_LatestAnswerIsMedianOfAcceptedRoundWithinBounds() public view {
        for (uint8 feed; feed < hub.FEED_COUNT(); ++feed) {
            OracleHubHandler.AcceptedRound[] memory rounds = handler.acceptedRounds(feed);
            (uint80 roundId, int256 answer,, uint256 updatedAt) = hub.latestRound(feed);
            assertEq(roundId, rounds.length, "latest round id = rounds accepted");
            if (roundId == 0) continue;
            OracleHubHandler.AcceptedRound memory latest = rounds[rounds.length - 1];
            assertEq(answer, latest.median, "median");
            assertGe(answer, latest.minAnswer, "above min");
            assertLe(answer, latest.maxAnswer, "below max");
            assertEq(updatedAt, latest.updatedAt, "updatedAt");
        }
    }

    function invariant_RoundsStrictlyIncreaseAndStayReadable() public view {
        for (uint8 feed; feed < hub.FEED_COUNT(); ++feed) {
            OracleHubHandler.AcceptedRound[] memory rounds = handler.acceptedRounds(feed);
            uint256 previousUpdatedAt;
            for (uint256 i; i < rounds.length; ++i) {
                (int256 answer,, uint256 updatedAt) = hub.getRound(feed, uint80(i + 1));
                assertEq(answer, rounds[i].median, "stored median");
                assertGt(updatedAt, previousUpdatedAt, "updatedAt strictly increases");
                previousUpdatedAt = updatedAt;
            }
        }
    }

    function invariant_ReporterSetMatchesRole() public view {
        for (uint256 i; i < keys.length; ++i) {
            assertEq(hub.isReporter(vm.addr(keys[i])), handler.isActive(i));
        }
    }

    function invariant_StaleFollowsHeartbeat() public view {
        for (uint8 feed; feed < hub.FEED_COUNT(); ++feed) {
            (uint80 roundId,,, uint256 updatedAt) = hub.latestRound(feed);
            uint256 heartbeat = hub.feedConfig(feed).heartbeat;
            assertEq(hub.isStale(feed), roundId == 0 || updatedAt + heartbeat < block.timestamp);
        }
    }

    function afterInvariant() external view {
        console.log("rounds submitted", handler.submitted(), "accepted", handler.acceptedCount());
    }
}
