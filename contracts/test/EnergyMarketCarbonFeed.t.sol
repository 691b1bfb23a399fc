// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {OracleHub} from "../src/OracleHub.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {IOracleHub} from "../src/interfaces/IOracleHub.sol";
import {Feeds} from "../src/libraries/Feeds.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {ObservationSigning} from "./utils/ObservationSigning.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice The market takes the carbon intensity from an OracleHub's `CARBON_INTENSITY` feed; while the
/// feed is stale, settlement goes on and the carbon of the settled export is held per participant, then
/// released at the first fresh intensity.
contract EnergyMarketCarbonFeedTest is MarketFixture {
    uint32 internal constant HEARTBEAT = 1 hours;
    uint256 internal constant REPORTER_A = 0xa11ce;
    uint256 internal constant REPORTER_B = 0xb0b;

    OracleHub internal hub;

    function setUp() public override {
        super.setUp();
        hub = new OracleHub(admin);
        vm.startPrank(admin);
        hub.grantRole(hub.REPORTER_ROLE(), vm.addr(REPORTER_A));
        hub.grantRole(hub.REPORTER_ROLE(), vm.addr(REPORTER_B));
        hub.setFeedConfig(Feeds.CARBON_INTENSITY, 2, HEARTBEAT, 0, 2000);
        vm.expectEmit(address(market));
        emit IMeterRegistry.CarbonIntensityHubSet(address(hub));
        market.setCarbonIntensityHub(address(hub));
        vm.stopPrank();
    }

    /// @dev Both reporters observe `answer` a minute before now.
    function _reportIntensity(int256 answer) internal {
        uint64 observedAt = uint64(block.timestamp - 1 minutes);
        IOracleHub.SignedObservation[] memory observations = new IOracleHub.SignedObservation[](2);
        (uint256 first, uint256 second) =
            vm.addr(REPORTER_A) < vm.addr(REPORTER_B) ? (REPORTER_A, REPORTER_B) : (REPORTER_B, REPORTER_A);
        observations[0] =
            ObservationSigning.sign(address(hub), first, Feeds.CARBON_INTENSITY, answer, observedAt);
        observations[1] =
            ObservationSigning.sign(address(hub), second, Feeds.CARBON_INTENSITY, answer, observedAt);
        hub.submitRound(Feeds.CARBON_INTENSITY, observations);
    }

    /// @dev alice sells 1,200 Wh of her 1,500 Wh export to carol in interval T.
    function _settleAliceToCarol() internal {
        _attest(alicePv, T1, 0, 1500);
        _attest(carolHome, T1, 1200, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 1200), _buy(carolHome, 1200)), true);
    }

    function test_SettleTakesTheFeedsIntensity() public {
        vm.warp(T1 + 2 minutes);
        _reportIntensity(250);
        _settleAliceToCarol();
        // 1,500 Wh exported at 250 g/kWh (not the admin's 400).
        assertEq(_carbonOf(alice), 375);
        assertEq(market.heldCarbonExportWh(alice), 0);
    }

    function test_SettleHoldsCarbonWhileTheFeedIsStaleAndReleasesItWhenFresh() public {
        vm.warp(T1 + 2 minutes);
        assertTrue(hub.isStale(Feeds.CARBON_INTENSITY), "no round yet");
        _attest(alicePv, T1, 0, 1500);
        _attest(carolHome, T1, 1200, 0);
        vm.expectEmit(address(market));
        emit IEnergyMarket.CarbonHeld(1500);
        _settle(T, PRICE, _fills(_sell(alicePv, 1200), _buy(carolHome, 1200)), true);
        // Money and energy settled as usual; the carbon waits.
        assertEq(_vault(alice), FUNDS + _earned(1200, PRICE, KEEPER_BPS));
        assertEq(_credits(alice), 300);
        assertEq(_carbonOf(alice), 0);
        assertEq(market.heldCarbonExportWh(alice), 1500);
        assertEq(carbon.totalSupply(), 0);

        address[] memory accounts = new address[](1);
        accounts[0] = alice;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketCarbonIntensityStale.selector, address(hub))
        );
        market.releaseHeldCarbon(accounts);

        _reportIntensity(320);
        vm.expectEmit(address(market));
        emit IEnergyMarket.CarbonReleased(alice, 1500, 320, 480);
        vm.prank(stranger);
        assertEq(market.releaseHeldCarbon(accounts), 480);
        assertEq(_carbonOf(alice), 480);
        assertEq(market.heldCarbonExportWh(alice), 0);
        assertEq(carbon.balanceOf(address(market)), 480, "the market holds the carbon it credits");
        // A second release finds nothing held.
        assertEq(market.releaseHeldCarbon(accounts), 0);
        assertEq(_carbonOf(alice), 480);
    }

    function test_AFeedThatWentStaleHoldsAgain() public {
        vm.warp(T1 + 2 minutes);
        _reportIntensity(250);
        vm.warp(T1 + 2 minutes + HEARTBEAT + 1);
        _settleAliceToCarol();
        assertEq(_carbonOf(alice), 0);
        assertEq(market.heldCarbonExportWh(alice), 1500);
    }

    function test_FinalizeHoldsCarbonToo() public {
        // bob's reading after a gap is residual only: finalize settles it.
        _attest(bobPv, T1, 0, 800);
        vm.warp(T1 + WINDOW + 1);
        market.finalize(_meters(bobPv));
        assertEq(_credits(bob), 800);
        assertEq(market.heldCarbonExportWh(bob), 800);
    }

    function test_WithoutAHubTheAdminsIntensityApplies() public {
        vm.prank(admin);
        market.setCarbonIntensityHub(address(0));
        vm.warp(T1 + 2 minutes);
        _settleAliceToCarol();
        assertEq(_carbonOf(alice), 1500 * uint256(INTENSITY) / 1000);
    }

    function test_RevertWhen_ReleasingForAnUnknownAccount() public {
        vm.warp(T1 + 2 minutes);
        _reportIntensity(250);
        address[] memory accounts = new address[](1);
        accounts[0] = stranger;
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, stranger));
        market.releaseHeldCarbon(accounts);
    }

    function test_RevertWhen_AStrangerSetsTheHub() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                stranger,
                market.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(stranger);
        market.setCarbonIntensityHub(address(0));
    }
}
