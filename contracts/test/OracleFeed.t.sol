// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleFeed} from "../src/OracleFeed.sol";
import {IOracleFeed} from "../src/interfaces/IOracleFeed.sol";
import {IOracleHub} from "../src/interfaces/IOracleHub.sol";
import {Feeds} from "../src/libraries/Feeds.sol";
import {ChainlinkConsumer} from "./utils/ChainlinkConsumer.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";
import {
    AggregatorV3Interface
} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @notice The hub's feeds read through Chainlink's own `AggregatorV3Interface` (npm package
/// chainlink/contracts 1.5.0), by a consumer that knows nothing of cogrid.
contract OracleFeedTest is OracleFixture {
    OracleFeed internal carbonFeed;
    ChainlinkConsumer internal consumer;

    function setUp() public override {
        super.setUp();
        carbonFeed = new OracleFeed(hub, Feeds.CARBON_INTENSITY);
        consumer = new ChainlinkConsumer(AggregatorV3Interface(address(carbonFeed)), HEARTBEAT);
    }

    /// @dev The adapter's ABI is Chainlink's: same selectors for all five functions.
    function test_SelectorsMatchChainlink() public pure {
        assertEq(IOracleFeed.decimals.selector, AggregatorV3Interface.decimals.selector);
        assertEq(IOracleFeed.description.selector, AggregatorV3Interface.description.selector);
        assertEq(IOracleFeed.version.selector, AggregatorV3Interface.version.selector);
        assertEq(IOracleFeed.getRoundData.selector, AggregatorV3Interface.getRoundData.selector);
        assertEq(IOracleFeed.latestRoundData.selector, AggregatorV3Interface.latestRoundData.selector);
    }

    function test_MetadataPerFeed() public {
        uint8[4] memory decimals = [6, 0, 2, 0];
        string[4] memory descriptions = [
            "cogrid SPOT_PRICE (stablecoin/MWh)",
            "cogrid SOLAR_IRRADIANCE (W/m2)",
            "cogrid TEMPERATURE (degC)",
            "cogrid CARBON_INTENSITY (gCO2e/kWh)"
        ];
        for (uint8 feed; feed < 4; ++feed) {
            AggregatorV3Interface aggregator = AggregatorV3Interface(address(new OracleFeed(hub, feed)));
            assertEq(aggregator.decimals(), decimals[feed]);
            assertEq(aggregator.description(), descriptions[feed]);
            assertEq(aggregator.version(), 1);
        }
    }

    function test_ConsumerReadsFreshAnswer() public {
        hub.submitRound(Feeds.CARBON_INTENSITY, _round(Feeds.CARBON_INTENSITY, _answers(380, 420, 401)));
        vm.warp(T0 + HEARTBEAT);
        assertEq(consumer.latestScaled(), 401e18);

        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            AggregatorV3Interface(address(carbonFeed)).latestRoundData();
        assertEq(roundId, 1);
        assertEq(answer, 401);
        assertEq(startedAt, T0 - 1 minutes);
        assertEq(updatedAt, T0);
        assertEq(answeredInRound, 1);
    }

    function test_ConsumerReadsHistory() public {
        hub.submitRound(Feeds.CARBON_INTENSITY, _round(Feeds.CARBON_INTENSITY, _answers(380, 390)));
        vm.warp(T0 + 15 minutes);
        hub.submitRound(Feeds.CARBON_INTENSITY, _round(Feeds.CARBON_INTENSITY, _answers(410, 420)));
        (int256 first, uint256 firstUpdatedAt) = consumer.answerAt(1);
        (int256 second, uint256 secondUpdatedAt) = consumer.answerAt(2);
        assertEq(first, 385);
        assertEq(firstUpdatedAt, T0);
        assertEq(second, 415);
        assertEq(secondUpdatedAt, T0 + 15 minutes);
    }

    /// @dev Two of three reporters down: no new round, and past the heartbeat the consumer refuses the
    /// last answer.
    function test_ConsumerRejectsStaleAnswer() public {
        hub.submitRound(Feeds.CARBON_INTENSITY, _round(Feeds.CARBON_INTENSITY, _answers(380, 420, 401)));
        vm.warp(T0 + HEARTBEAT + 1);
        uint256[] memory reporters = new uint256[](1);
        int256[] memory answers = new int256[](1);
        answers[0] = 450;
        IOracleHub.SignedObservation[] memory lone =
            _observations(Feeds.CARBON_INTENSITY, reporters, answers, uint64(block.timestamp));
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubBelowQuorum.selector, Feeds.CARBON_INTENSITY, 1, 2)
        );
        hub.submitRound(Feeds.CARBON_INTENSITY, lone);

        vm.expectRevert(
            abi.encodeWithSelector(
                ChainlinkConsumer.ChainlinkConsumerStaleAnswer.selector, T0, HEARTBEAT, T0 + HEARTBEAT + 1
            )
        );
        consumer.latestScaled();
    }

    function test_ConsumerRejectsFeedWithoutRounds() public {
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            carbonFeed.latestRoundData();
        assertEq(roundId, 0);
        assertEq(answer, 0);
        assertEq(startedAt, 0);
        assertEq(updatedAt, 0);
        assertEq(answeredInRound, 0);
        vm.expectRevert(ChainlinkConsumer.ChainlinkConsumerNoAnswer.selector);
        consumer.latestScaled();
    }

    function test_RevertWhen_UnknownRound() public {
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubUnknownRound.selector, Feeds.CARBON_INTENSITY, 7)
        );
        consumer.answerAt(7);
    }

    function test_RevertWhen_FeedIdUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownFeed.selector, 4));
        new OracleFeed(hub, 4);
        vm.expectRevert(IOracleHub.OracleHubZeroAddress.selector);
        new OracleFeed(IOracleHub(address(0)), 0);
    }
}
