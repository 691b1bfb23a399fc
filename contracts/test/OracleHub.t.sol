// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleHub} from "../src/OracleHub.sol";
import {IOracleHub} from "../src/interfaces/IOracleHub.sol";
import {Feeds} from "../src/libraries/Feeds.sol";
import {ObservationSigning} from "./utils/ObservationSigning.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";
import {ReferenceMedian} from "./utils/ReferenceMedian.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract OracleHubTest is OracleFixture {
    uint8 internal constant CARBON = Feeds.CARBON_INTENSITY;
    uint8 internal constant PRICE = Feeds.SPOT_PRICE;

    function test_SubmitRoundStoresMedianOfFive() public {
        uint256[] memory reporters = new uint256[](5);
        int256[] memory answers = new int256[](5);
        int256[5] memory values = [int256(91e6), 88e6, 90e6, 120e6, 89e6];
        for (uint256 i; i < 5; ++i) {
            reporters[i] = i;
            answers[i] = values[i];
        }
        IOracleHub.SignedObservation[] memory round = _observations(PRICE, reporters, answers, T0 - 30);
        // One reporter read its sources earlier: the round started then.
        round[3] = ObservationSigning.sign(address(hub), keys[3], PRICE, 120e6, T0 - 50);

        vm.expectEmit(address(hub));
        emit IOracleHub.RoundSubmitted(PRICE, 1, 90e6, 5);
        assertEq(hub.submitRound(PRICE, round), 1);

        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt) = hub.latestRound(PRICE);
        assertEq(roundId, 1);
        assertEq(answer, 90e6);
        assertEq(startedAt, T0 - 50);
        assertEq(updatedAt, T0);
        (answer, startedAt, updatedAt) = hub.getRound(PRICE, 1);
        assertEq(answer, 90e6);
        assertEq(startedAt, T0 - 50);
        assertEq(updatedAt, T0);
        assertEq(hub.feedConfig(PRICE).latestRoundId, 1);
        assertFalse(hub.isStale(PRICE));
        // The other feeds are untouched.
        assertEq(hub.feedConfig(CARBON).latestRoundId, 0);
        assertTrue(hub.isStale(CARBON));
    }

    function test_EvenCountTakesMeanRoundedTowardZero() public {
        hub.submitRound(Feeds.TEMPERATURE, _round(Feeds.TEMPERATURE, _answers(-251, -250)));
        (, int256 answer,,) = hub.latestRound(Feeds.TEMPERATURE);
        assertEq(answer, -250, "-250.5 rounds toward zero");

        vm.warp(T0 + 10 minutes);
        hub.submitRound(Feeds.TEMPERATURE, _round(Feeds.TEMPERATURE, _answers(1250, 1251)));
        (, answer,,) = hub.latestRound(Feeds.TEMPERATURE);
        assertEq(answer, 1250, "1250.5 rounds toward zero");
    }

    /// @dev One reporter's source went haywire; the two honest ones decide the median.
    function test_WildValueDoesNotMoveMedian() public {
        hub.submitRound(CARBON, _round(CARBON, _answers(402, type(int256).max, 398)));
        (, int256 answer,,) = hub.latestRound(CARBON);
        assertEq(answer, 402);

        vm.warp(T0 + 10 minutes);
        hub.submitRound(CARBON, _round(CARBON, _answers(type(int256).min, 390, 395)));
        (, answer,,) = hub.latestRound(CARBON);
        assertEq(answer, 390);
    }

    /// @dev Three reporters, quorum 2: one down still updates the feed.
    function test_OneOfThreeDownStillMeetsQuorum() public {
        uint256[] memory reporters = new uint256[](2);
        (reporters[0], reporters[1]) = (0, 2);
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(410, 420), T0 - 60));
        (uint80 roundId, int256 answer,,) = hub.latestRound(CARBON);
        assertEq(roundId, 1);
        assertEq(answer, 415);
        assertFalse(hub.isStale(CARBON));
    }

    /// @dev Three reporters, quorum 2: with two down there is no round, and once the heartbeat runs out
    /// the feed reads as stale.
    function test_TwoOfThreeDownNoRoundAndStale() public {
        hub.submitRound(CARBON, _round(CARBON, _answers(400, 401, 402)));
        vm.warp(T0 + HEARTBEAT);
        assertFalse(hub.isStale(CARBON), "fresh up to the heartbeat");

        uint256[] memory reporters = new uint256[](1);
        int256[] memory answers = new int256[](1);
        answers[0] = 500;
        IOracleHub.SignedObservation[] memory lone = _observations(CARBON, reporters, answers, T0 + HEARTBEAT);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubBelowQuorum.selector, CARBON, 1, 2));
        hub.submitRound(CARBON, lone);

        vm.warp(T0 + HEARTBEAT + 1);
        assertTrue(hub.isStale(CARBON));
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubStaleAnswer.selector, CARBON, uint256(T0), HEARTBEAT)
        );
        hub.latestFreshAnswer(CARBON);
        (, int256 answer,,) = hub.latestRound(CARBON);
        assertEq(answer, 401, "the last answer stays readable");
    }

    function test_LatestFreshAnswer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubStaleAnswer.selector, CARBON, 0, HEARTBEAT)
        );
        hub.latestFreshAnswer(CARBON);

        hub.submitRound(CARBON, _round(CARBON, _answers(300, 310)));
        (int256 answer, uint256 updatedAt) = hub.latestFreshAnswer(CARBON);
        assertEq(answer, 305);
        assertEq(updatedAt, T0);
    }

    function test_RoundIdsIncreasePerFeed() public {
        assertEq(hub.submitRound(CARBON, _round(CARBON, _answers(300, 310))), 1);
        assertEq(hub.submitRound(PRICE, _round(PRICE, _answers(80e6, 81e6, 82e6))), 1);
        vm.warp(T0 + 5 minutes);
        assertEq(hub.submitRound(CARBON, _round(CARBON, _answers(320, 330))), 2);
        (int256 first,,) = hub.getRound(CARBON, 1);
        (int256 second,,) = hub.getRound(CARBON, 2);
        assertEq(first, 305);
        assertEq(second, 325);
    }

    function test_DigestHelpersMatchEip712() public view {
        assertEq(hub.domainSeparator(), ObservationSigning.domainSeparator(address(hub)));
        assertEq(
            hub.observationDigest(PRICE, -7, 123), ObservationSigning.digest(address(hub), PRICE, -7, 123)
        );
        assertTrue(hub.isReporter(vm.addr(keys[0])));
        assertFalse(hub.isReporter(admin));
    }

    function test_SetFeedConfig() public {
        vm.expectEmit(address(hub));
        emit IOracleHub.FeedConfigured(CARBON, 3, 2 hours, 10, 900);
        vm.prank(admin);
        hub.setFeedConfig(CARBON, 3, 2 hours, 10, 900);
        IOracleHub.FeedConfig memory config = hub.feedConfig(CARBON);
        assertEq(config.quorum, 3);
        assertEq(config.heartbeat, 2 hours);
        assertEq(config.minAnswer, 10);
        assertEq(config.maxAnswer, 900);
        assertEq(config.latestRoundId, 0);
    }

    function test_RevertWhen_UnknownFeed() public {
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownFeed.selector, 4));
        hub.submitRound(4, _round(CARBON, _answers(1, 2)));
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownFeed.selector, 4));
        hub.latestRound(4);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownFeed.selector, 9));
        vm.prank(admin);
        hub.setFeedConfig(9, 1, 1, 0, 0);
    }

    function test_RevertWhen_FeedNotConfigured() public {
        OracleHub fresh = new OracleHub(admin);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubFeedNotConfigured.selector, CARBON));
        fresh.submitRound(CARBON, _round(CARBON, _answers(1, 2)));
    }

    function test_RevertWhen_BelowQuorum() public {
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubBelowQuorum.selector, PRICE, 2, 3));
        hub.submitRound(PRICE, _round(PRICE, _answers(80e6, 81e6)));
    }

    function test_RevertWhen_ObservationFromFuture() public {
        uint256[] memory reporters = new uint256[](2);
        reporters[1] = 1;
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubObservationFromFuture.selector, 0, T0 + 1, uint256(T0))
        );
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(1, 2), T0 + 1));
    }

    function test_RevertWhen_ObservationNotNewerThanLatestRound() public {
        hub.submitRound(CARBON, _round(CARBON, _answers(300, 310)));
        uint256[] memory reporters = new uint256[](2);
        reporters[1] = 1;
        // Observed in the block of the latest round: not newer than it.
        vm.warp(T0 + 60);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubObservationNotNewer.selector, 0, T0, uint256(T0))
        );
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(300, 310), T0));
    }

    function test_RevertWhen_ObservationTooOld() public {
        uint256[] memory reporters = new uint256[](2);
        reporters[1] = 1;
        uint64 observedAt = T0 - HEARTBEAT - 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleHub.OracleHubObservationTooOld.selector, 0, observedAt, uint256(T0 - HEARTBEAT)
            )
        );
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(300, 310), observedAt));
    }

    function test_RevertWhen_SignatureMalformed() public {
        IOracleHub.SignedObservation[] memory round = _round(CARBON, _answers(300, 310));
        // A high s (EIP-2): the malleable twin of a valid signature.
        round[1].vs = bytes32(
            uint256(round[1].vs) | 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A1
        );
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubInvalidSignature.selector, 1));
        hub.submitRound(CARBON, round);
    }

    function test_RevertWhen_SignerNotReporter() public {
        (address outsider, uint256 outsiderKey) = makeAddrAndKey("outsider");
        IOracleHub.SignedObservation[] memory round = _round(CARBON, _answers(300, 310));
        round[0] = ObservationSigning.sign(address(hub), outsiderKey, CARBON, 300, T0 - 60);
        // Sorted or not, the outsider comes first: the sort check passes against the zero address.
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnauthorizedSigner.selector, 0, outsider));
        hub.submitRound(CARBON, round);
    }

    function test_RevertWhen_ObservationSignedForAnotherFeed() public {
        IOracleHub.SignedObservation[] memory round = _round(Feeds.SOLAR_IRRADIANCE, _answers(300, 310));
        address wrong = ecrecover(
            ObservationSigning.digest(address(hub), CARBON, 300, T0 - 60),
            uint8(27 + (uint256(round[0].vs) >> 255)),
            round[0].r,
            bytes32(uint256(round[0].vs) & ((1 << 255) - 1))
        );
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnauthorizedSigner.selector, 0, wrong));
        hub.submitRound(CARBON, round);
    }

    function test_RevertWhen_RevokedReporterSigns() public {
        vm.startPrank(admin);
        hub.revokeRole(hub.REPORTER_ROLE(), vm.addr(keys[1]));
        vm.stopPrank();
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubUnauthorizedSigner.selector, 1, vm.addr(keys[1]))
        );
        hub.submitRound(CARBON, _round(CARBON, _answers(300, 310)));
    }

    /// @dev The reporter set follows the role through revocations, renunciations and grants.
    function test_ReporterSetFollowsRole() public {
        bytes32 role = hub.REPORTER_ROLE();
        address second = vm.addr(keys[1]);
        address fourth = vm.addr(keys[3]);
        vm.prank(admin);
        hub.revokeRole(role, second);
        vm.prank(fourth);
        hub.renounceRole(role, fourth);
        assertFalse(hub.isReporter(second));

        uint256[] memory reporters = new uint256[](3);
        (reporters[0], reporters[1], reporters[2]) = (0, 2, 4);
        hub.submitRound(PRICE, _observations(PRICE, reporters, _answers(80e6, 81e6, 82e6), T0 - 60));
        (reporters[0], reporters[1], reporters[2]) = (0, 2, 3);
        vm.warp(T0 + 5 minutes);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnauthorizedSigner.selector, 2, fourth));
        hub.submitRound(PRICE, _observations(PRICE, reporters, _answers(80e6, 81e6, 82e6), T0 + 1));

        vm.prank(admin);
        hub.grantRole(role, fourth);
        assertEq(
            hub.submitRound(PRICE, _observations(PRICE, reporters, _answers(80e6, 81e6, 82e6), T0 + 1)), 2
        );
    }

    function test_RevertWhen_TooManyReporters() public {
        uint256 limit = hub.MAX_REPORTERS();
        vm.startPrank(admin);
        for (uint256 i = REPORTERS; i < limit; ++i) {
            hub.grantRole(hub.REPORTER_ROLE(), makeAddr(string.concat("reporter ", vm.toString(i))));
        }
        bytes32 role = hub.REPORTER_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubTooManyReporters.selector, limit));
        hub.grantRole(role, makeAddr("one too many"));
        vm.stopPrank();
        // A full set still checks a round.
        hub.submitRound(CARBON, _round(CARBON, _answers(300, 310)));
    }

    function test_RevertWhen_SignersNotSorted() public {
        uint256[] memory reporters = new uint256[](2);
        (reporters[0], reporters[1]) = (3, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleHub.OracleHubSignersNotSorted.selector, 1, vm.addr(keys[1]), vm.addr(keys[3])
            )
        );
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(300, 310), T0 - 60));
    }

    /// @dev One reporter signing twice (even two different values) counts once: the round is refused.
    function test_RevertWhen_ReporterTwice() public {
        IOracleHub.SignedObservation[] memory round = new IOracleHub.SignedObservation[](2);
        round[0] = ObservationSigning.sign(address(hub), keys[2], CARBON, 300, T0 - 60);
        round[1] = ObservationSigning.sign(address(hub), keys[2], CARBON, 310, T0 - 50);
        address signer = vm.addr(keys[2]);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubSignersNotSorted.selector, 1, signer, signer)
        );
        hub.submitRound(CARBON, round);
    }

    function test_RevertWhen_MedianOutOfBounds() public {
        // Two of three reporters agree on a value above the bound: the median is out of bounds.
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubAnswerOutOfBounds.selector, CARBON, 2500, 0, 2000)
        );
        hub.submitRound(CARBON, _round(CARBON, _answers(2500, 2600, 400)));
        vm.expectRevert(
            abi.encodeWithSelector(IOracleHub.OracleHubAnswerOutOfBounds.selector, CARBON, -1, 0, 2000)
        );
        hub.submitRound(CARBON, _round(CARBON, _answers(-1, -2)));
    }

    function test_RevertWhen_ConfigInvalid() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubZeroQuorum.selector, CARBON));
        hub.setFeedConfig(CARBON, 0, HEARTBEAT, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubZeroHeartbeat.selector, CARBON));
        hub.setFeedConfig(CARBON, 1, 0, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubInvalidBounds.selector, CARBON, 5, 4));
        hub.setFeedConfig(CARBON, 1, HEARTBEAT, 5, 4);
        int256 tooLow = int256(type(int64).min) - 1;
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubBoundOutOfRange.selector, CARBON, tooLow));
        hub.setFeedConfig(CARBON, 1, HEARTBEAT, tooLow, 0);
        int256 tooHigh = int256(type(int64).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubBoundOutOfRange.selector, CARBON, tooHigh));
        hub.setFeedConfig(CARBON, 1, HEARTBEAT, 0, tooHigh);
        vm.stopPrank();
    }

    function test_RevertWhen_ConfigByNonAdmin() public {
        address reporter = vm.addr(keys[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, reporter, hub.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(reporter);
        hub.setFeedConfig(CARBON, 1, HEARTBEAT, 0, 1);
    }

    function test_RevertWhen_UnknownRound() public {
        hub.submitRound(CARBON, _round(CARBON, _answers(300, 310)));
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownRound.selector, CARBON, 0));
        hub.getRound(CARBON, 0);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownRound.selector, CARBON, 2));
        hub.getRound(CARBON, 2);
        // An id past uint48 whose low bits name round 1 is not round 1.
        uint80 aliased = uint80(1) << 48 | 1;
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownRound.selector, CARBON, aliased));
        hub.getRound(CARBON, aliased);
        vm.expectRevert(abi.encodeWithSelector(IOracleHub.OracleHubUnknownRound.selector, PRICE, 1));
        hub.getRound(PRICE, 1);
    }

    function test_RevertWhen_ZeroAdmin() public {
        vm.expectRevert(IOracleHub.OracleHubZeroAddress.selector);
        new OracleHub(address(0));
    }

    /// @dev Any 1 to 5 reporters with any answers within bounds: the round's answer is the reference median.
    function testFuzz_AnswerIsMedian(uint256 count, int256[5] memory values, uint256 age) public {
        vm.prank(admin);
        hub.setFeedConfig(PRICE, 1, HEARTBEAT, -500e6, 10_000e6);
        count = bound(count, 1, REPORTERS);
        age = bound(age, 0, HEARTBEAT);
        int256[] memory answers = new int256[](count);
        uint256[] memory reporters = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            answers[i] = bound(values[i], -500e6, 10_000e6);
            reporters[i] = i;
        }
        vm.warp(T0 + 1 days);
        uint64 observedAt = uint64(block.timestamp - age);
        hub.submitRound(PRICE, _observations(PRICE, reporters, answers, observedAt));

        (, int256 answer, uint256 startedAt,) = hub.latestRound(PRICE);
        assertEq(answer, ReferenceMedian.median(answers));
        assertEq(startedAt, observedAt);
    }

    /// @dev A feed is fresh for exactly `heartbeat` seconds after its round.
    function testFuzz_StaleExactlyAfterHeartbeat(uint32 heartbeat, uint256 elapsed) public {
        heartbeat = uint32(bound(heartbeat, 1, 30 days));
        elapsed = bound(elapsed, 0, 60 days);
        vm.prank(admin);
        hub.setFeedConfig(CARBON, 2, heartbeat, 0, 2000);
        uint256[] memory reporters = new uint256[](2);
        reporters[1] = 1;
        hub.submitRound(CARBON, _observations(CARBON, reporters, _answers(300, 310), T0));

        vm.warp(T0 + elapsed);
        assertEq(hub.isStale(CARBON), elapsed > heartbeat);
    }

    /// @dev The mean of two middle values never overflows, whatever the outliers.
    function testFuzz_EvenMedianNeverOverflows(int256 a, int256 b) public {
        vm.prank(admin);
        hub.setFeedConfig(CARBON, 2, HEARTBEAT, type(int64).min, type(int64).max);
        int256 expected = ReferenceMedian.median(_answers(a, b));
        IOracleHub.SignedObservation[] memory round = _round(CARBON, _answers(a, b));
        if (expected < type(int64).min || expected > type(int64).max) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IOracleHub.OracleHubAnswerOutOfBounds.selector,
                    CARBON,
                    expected,
                    type(int64).min,
                    type(int64).max
                )
            );
        }
        hub.submitRound(CARBON, round);
    }
}
