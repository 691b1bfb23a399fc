// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Deploy} from "../script/Deploy.s.sol";
import {MockStablecoin} from "../src/MockStablecoin.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {IOracleHub} from "../src/interfaces/IOracleHub.sol";
import {IVppDispatch} from "../src/interfaces/IVppDispatch.sol";
import {Feeds} from "../src/libraries/Feeds.sol";
import {ObservationSigning} from "./utils/ObservationSigning.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {Test} from "forge-std/Test.sol";

contract DeployTest is Test {
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 internal constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 internal constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    bytes32 internal constant GRID_OPERATOR_ROLE = keccak256("GRID_OPERATOR_ROLE");
    uint40 internal constant T0 = 1_767_225_600;

    Deploy internal script;

    function setUp() public {
        script = new Deploy();
    }

    function test_ReadConfigFromEnvironment() public {
        vm.setEnv("INTERVAL_SECONDS", "600");
        vm.setEnv("ACCEPTANCE_WINDOW", "86400");
        vm.setEnv("CARBON_INTENSITY", "350");
        vm.setEnv("AMM_FEE_BPS", "25");
        Deploy.Config memory config = script.readConfig();
        assertEq(config.ammFeeBps, 25);
        assertEq(config.intervalSeconds, 600);
        assertEq(config.acceptanceWindow, 1 days);
        assertEq(config.carbonIntensity, 350);
    }

    function test_DeployWiresMarketAsMinter() public {
        Deploy.Deployment memory d = script.deploy(_config(address(0), address(0)));

        assertEq(d.energyMarket.INTERVAL_SECONDS(), 900);
        assertEq(d.energyMarket.acceptanceWindow(), 2 days);
        assertEq(d.energyMarket.carbonIntensity(), 400);
        assertEq(d.energyMarket.STABLECOIN(), d.stablecoin);
        assertEq(d.energyMarket.ENERGY_CREDIT(), address(d.energyCredit));
        assertEq(d.energyMarket.CARBON_CREDIT(), address(d.carbonCredit));
        assertTrue(d.energyCredit.hasRole(MINTER_ROLE, address(d.energyMarket)));
        assertTrue(d.carbonCredit.hasRole(MINTER_ROLE, address(d.energyMarket)));
        assertTrue(d.energyMarket.hasRole(REGISTRAR_ROLE, d.admin));
        assertEq(MockStablecoin(d.stablecoin).decimals(), 6);
        assertEq(address(d.energyAmm.MARKET()), address(d.energyMarket));
        assertEq(d.energyAmm.FEE_BPS(), 30);
        assertEq(d.energyMarket.amm(), address(d.energyAmm));
        assertTrue(d.energyMarket.isParticipant(address(d.energyAmm)));
        assertEq(d.vppDispatch.MARKET(), address(d.energyMarket));
        assertEq(d.vppDispatch.STABLECOIN(), d.stablecoin);
        assertEq(d.vppDispatch.INTERVAL_SECONDS(), 900);
        assertEq(d.vppDispatch.GRACE_SECONDS(), 1800);

        // End to end: a signed reading becomes credits in its owner's vault, then wallet.
        _exercise(d);
        _exerciseVpp(d);
    }

    function test_DeployHandsRolesToSeparateAdmin() public {
        address coop = makeAddr("coop admin");
        Deploy.Deployment memory d = script.deploy(_config(coop, address(0)));
        address deployer = d.deployer;
        assertTrue(deployer != coop);

        assertEq(d.admin, coop);
        assertTrue(d.energyMarket.hasRole(0x00, coop));
        assertTrue(d.energyMarket.hasRole(REGISTRAR_ROLE, coop));
        assertTrue(d.energyCredit.hasRole(0x00, coop));
        assertTrue(d.carbonCredit.hasRole(0x00, coop));
        assertTrue(MockStablecoin(d.stablecoin).hasRole(MINTER_ROLE, coop));
        assertFalse(d.energyMarket.hasRole(0x00, deployer), "deployer kept market admin");
        assertFalse(d.energyMarket.hasRole(REGISTRAR_ROLE, deployer), "deployer kept registrar");
        assertFalse(d.energyCredit.hasRole(0x00, deployer), "deployer kept energy admin");
        assertFalse(d.carbonCredit.hasRole(0x00, deployer), "deployer kept carbon admin");
        assertFalse(MockStablecoin(d.stablecoin).hasRole(MINTER_ROLE, deployer), "deployer kept faucet");
        assertTrue(d.oracleHub.hasRole(0x00, coop));
        assertFalse(d.oracleHub.hasRole(0x00, deployer), "deployer kept oracle admin");
        _assertNoOperationalRoles(d, deployer);
        // Nobody held the keeper and grid-operator roles, so nobody was handed them: the admin grants them.
        _assertNoOperationalRoles(d, coop);
        _exercise(d);
        _exerciseVpp(d);
    }

    function test_DeployKeepsNoOperationalRolesForDeployer() public {
        Deploy.Deployment memory d = script.deploy(_config(address(0), address(0)));
        _assertNoOperationalRoles(d, d.deployer);
    }

    /// @dev The hub's feeds are configured and readable through their adapters; once the admin grants
    /// reporters, a round of two is accepted and read through Chainlink's interface.
    function test_DeployConfiguresOracle() public {
        Deploy.Deployment memory d = script.deploy(_config(address(0), address(0)));
        for (uint8 feed; feed < 4; ++feed) {
            IOracleHub.FeedConfig memory config = d.oracleHub.feedConfig(feed);
            assertEq(config.quorum, 2);
            assertEq(config.heartbeat, 1 hours);
            assertEq(address(d.oracleFeeds[feed].HUB()), address(d.oracleHub));
            assertEq(d.oracleFeeds[feed].FEED(), feed);
        }
        assertEq(d.oracleFeeds[Feeds.SPOT_PRICE].decimals(), 6);

        (address first, uint256 firstKey) = makeAddrAndKey("deployed reporter 1");
        (address second, uint256 secondKey) = makeAddrAndKey("deployed reporter 2");
        if (first > second) (first, firstKey, second, secondKey) = (second, secondKey, first, firstKey);
        vm.startPrank(d.admin);
        d.oracleHub.grantRole(d.oracleHub.REPORTER_ROLE(), first);
        d.oracleHub.grantRole(d.oracleHub.REPORTER_ROLE(), second);
        vm.stopPrank();
        vm.warp(T0);
        IOracleHub.SignedObservation[] memory round = new IOracleHub.SignedObservation[](2);
        round[0] =
            ObservationSigning.sign(address(d.oracleHub), firstKey, Feeds.CARBON_INTENSITY, 380, T0 - 10);
        round[1] =
            ObservationSigning.sign(address(d.oracleHub), secondKey, Feeds.CARBON_INTENSITY, 390, T0 - 5);
        d.oracleHub.submitRound(Feeds.CARBON_INTENSITY, round);
        (, int256 answer,,,) = d.oracleFeeds[Feeds.CARBON_INTENSITY].latestRoundData();
        assertEq(answer, 385);
    }

    function test_DeployUsesExistingStablecoin() public {
        address usdc = makeAddr("usdc");
        Deploy.Deployment memory d = script.deploy(_config(address(0), usdc));
        assertEq(d.stablecoin, usdc);
        assertEq(d.energyMarket.STABLECOIN(), usdc);
    }

    function _assertNoOperationalRoles(Deploy.Deployment memory d, address account) internal view {
        assertFalse(d.energyMarket.hasRole(KEEPER_ROLE, account), "keeper role");
        assertFalse(d.energyMarket.hasRole(GRID_OPERATOR_ROLE, account), "grid operator role");
    }

    /// @dev The admin registers a home and a keeper; the meter's second reading is marketable, the keeper
    /// closes its interval without a trade, and anyone finalizes it into the owner's vault; the owner trades
    /// with the pool from its vault and withdraws.
    function _exercise(Deploy.Deployment memory d) internal {
        (address meter, uint256 key) = makeAddrAndKey("deployed meter");
        address owner = makeAddr("deployed owner");
        address keeper = makeAddr("deployed keeper");
        vm.startPrank(d.admin);
        d.energyMarket.registerParticipant(owner);
        d.energyMarket.registerMeter(meter, owner, 1, 1, 4000);
        d.energyMarket.grantRole(KEEPER_ROLE, keeper);
        vm.stopPrank();

        vm.warp(T0 + 900);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](2);
        batch[0] = IMeterRegistry.Reading(meter, 1, T0, 10, 20, 0, 0);
        batch[1] = IMeterRegistry.Reading(meter, 2, T0 + 900, 15, 1020, 0, 0);
        batch[0] = ReadingSigning.sign(address(d.energyMarket), key, batch[0]);
        batch[1] = ReadingSigning.sign(address(d.energyMarket), key, batch[1]);
        assertEq(d.energyMarket.submitReadings(batch), 2);
        assertEq(d.energyMarket.meterState(meter).pendingExportWh, 1000);

        vm.prank(keeper);
        d.energyMarket.settle(T0 / 900, 80_000, new uint256[](0), true);
        address[] memory meters = new address[](1);
        meters[0] = meter;
        assertEq(d.energyMarket.finalize(meters), 1);
        assertEq(d.energyMarket.balancesOf(owner).creditsWh, 1000);
        assertEq(d.energyMarket.balancesOf(owner).carbonGrams, 400);

        // The owner seeds the pool with 600 Wh and 0.15 $ of its vault, then buys some credits back.
        vm.prank(d.admin);
        MockStablecoin(d.stablecoin).mint(owner, 1e6);
        vm.startPrank(owner);
        MockStablecoin(d.stablecoin).approve(address(d.energyMarket), 1e6);
        d.energyMarket.deposit(IEnergyMarket.Asset.Stablecoin, 1e6);
        d.energyAmm.addLiquidity(600, 150_000, 600, 150_000, block.timestamp);
        uint256 bought = d.energyAmm.swapExactIn(false, 100_000, 1, block.timestamp);
        assertEq(bought, 239);
        assertEq(d.energyMarket.balancesOf(owner).creditsWh, 400 + bought);
        assertEq(d.energyMarket.balancesOf(owner).stablecoin, 1e6 - 250_000);

        d.energyMarket.withdraw(IEnergyMarket.Asset.EnergyCredit, 400 + bought);
        d.energyMarket.withdraw(IEnergyMarket.Asset.CarbonCredit, 400);
        vm.stopPrank();
        assertEq(d.energyCredit.balanceOf(owner), 400 + bought);
        assertEq(d.carbonCredit.balanceOf(owner), 400);
    }

    /// @dev The admin makes a grid operator, who funds and opens a dispatch event on the deployed
    /// VppDispatch: the market's role and the market's stablecoin are the ones it uses.
    function _exerciseVpp(Deploy.Deployment memory d) internal {
        address operator = makeAddr("deployed grid operator");
        vm.startPrank(d.admin);
        d.energyMarket.grantRole(GRID_OPERATOR_ROLE, operator);
        MockStablecoin(d.stablecoin).mint(operator, 6e6);
        vm.stopPrank();
        uint40 start = uint40((block.timestamp / 900 + 2) * 900);
        vm.startPrank(operator);
        MockStablecoin(d.stablecoin).approve(address(d.vppDispatch), 6e6);
        uint256 id = d.vppDispatch.create(1, start, start + 3600, 20_000, 300_000, 6e6, 0, "deployed");
        vm.stopPrank();
        assertEq(uint8(d.vppDispatch.eventOf(id).status), uint8(IVppDispatch.EventStatus.Open));
        assertEq(MockStablecoin(d.stablecoin).balanceOf(address(d.vppDispatch)), 6e6);
    }

    function _config(address admin, address stablecoin) internal pure returns (Deploy.Config memory) {
        return Deploy.Config({
            intervalSeconds: 900,
            acceptanceWindow: 2 days,
            carbonIntensity: 400,
            admin: admin,
            stablecoin: stablecoin,
            ammFeeBps: 30
        });
    }
}
