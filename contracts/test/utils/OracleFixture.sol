// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleHub} from "../../src/OracleHub.sol";
import {IOracleHub} from "../../src/interfaces/IOracleHub.sol";
import {Feeds} from "../../src/libraries/Feeds.sol";
import {ObservationSigning} from "./ObservationSigning.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A hub with five reporters (sorted by address) and the four feeds configured as a co-op would:
/// quorum 3 for the spot price, 2 for the others, an hour's heartbeat.
abstract contract OracleFixture is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint32 internal constant HEARTBEAT = 1 hours;
    uint256 internal constant REPORTERS = 5;

    OracleHub internal hub;
    address internal admin = makeAddr("oracle admin");
    /// @dev Reporter keys, sorted by their addresses.
    uint256[] internal keys;

    function setUp() public virtual {
        vm.warp(T0);
        hub = new OracleHub(admin);
        for (uint256 i; i < REPORTERS; ++i) {
            keys.push(uint256(keccak256(abi.encode("oracle reporter", i))));
        }
        _sortKeys(keys);
        vm.startPrank(admin);
        for (uint256 i; i < REPORTERS; ++i) {
            hub.grantRole(hub.REPORTER_ROLE(), vm.addr(keys[i]));
        }
        // Spot price: -500 to 10,000 stablecoin/MWh (negative prices happen on sunny, windy days).
        hub.setFeedConfig(Feeds.SPOT_PRICE, 3, HEARTBEAT, -500e6, 10_000e6);
        hub.setFeedConfig(Feeds.SOLAR_IRRADIANCE, 2, HEARTBEAT, 0, 1500);
        hub.setFeedConfig(Feeds.TEMPERATURE, 2, HEARTBEAT, -6000, 6000);
        hub.setFeedConfig(Feeds.CARBON_INTENSITY, 2, HEARTBEAT, 0, 2000);
        vm.stopPrank();
    }

    /// @dev Observations of `answers[i]` by reporter `reporters[i]` (indices into `keys`, ascending), all
    /// made at `observedAt`.
    function _observations(uint8 feed, uint256[] memory reporters, int256[] memory answers, uint64 observedAt)
        internal
        view
        returns (IOracleHub.SignedObservation[] memory observations)
    {
        observations = new IOracleHub.SignedObservation[](reporters.length);
        for (uint256 i; i < reporters.length; ++i) {
            observations[i] =
                ObservationSigning.sign(address(hub), keys[reporters[i]], feed, answers[i], observedAt);
        }
    }

    /// @dev The first `answers.length` reporters observe `answers` one minute before now.
    function _round(uint8 feed, int256[] memory answers)
        internal
        view
        returns (IOracleHub.SignedObservation[] memory)
    {
        uint256[] memory reporters = new uint256[](answers.length);
        for (uint256 i; i < answers.length; ++i) {
            reporters[i] = i;
        }
        return _observations(feed, reporters, answers, uint64(block.timestamp - 1 minutes));
    }

    function _answers(int256 a, int256 b) internal pure returns (int256[] memory list) {
        list = new int256[](2);
        (list[0], list[1]) = (a, b);
    }

    function _answers(int256 a, int256 b, int256 c) internal pure returns (int256[] memory list) {
        list = new int256[](3);
        (list[0], list[1], list[2]) = (a, b, c);
    }

    function _sortKeys(uint256[] storage list) private {
        for (uint256 i = 1; i < list.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(list[j - 1]) > vm.addr(list[j]); --j) {
                (list[j - 1], list[j]) = (list[j], list[j - 1]);
            }
        }
    }
}
