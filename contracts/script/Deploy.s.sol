// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../src/CarbonCredit.sol";
import {EnergyAmm} from "../src/EnergyAmm.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";
import {EnergyMarket} from "../src/EnergyMarket.sol";
import {MockStablecoin} from "../src/MockStablecoin.sol";
import {OracleFeed} from "../src/OracleFeed.sol";
import {OracleHub} from "../src/OracleHub.sol";
import {VppDispatch} from "../src/VppDispatch.sol";
import {Feeds} from "../src/libraries/Feeds.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Script, console} from "forge-std/Script.sol";

/// @notice Deploys cogrid's tokens and EnergyMarket, and wires the market as minter of both credits. The
/// market is also the meter registry: participants, meters and readings live in it, at its address. Also
/// deploys the EnergyAmm pool of credits against the stablecoin, registers it as a participant of the market
/// and sets it as the market's pool (its reserves are its vault balances there); it starts empty and has no
/// roles: any participant may add the first liquidity, which sets its price. Then deploys VppDispatch on the
/// market and its stablecoin; it has no roles of its own: the market's grid operators create its events.
/// Parameters come from the environment, with defaults:
/// - `INTERVAL_SECONDS` (900), `ACCEPTANCE_WINDOW` (2 days), `CARBON_INTENSITY` (400 g CO2e/kWh);
/// - `ADMIN` (the broadcaster): the co-op admin; when it is not the broadcaster, every role the
///   broadcaster holds is handed over to it and the broadcaster renounces its own;
/// - `STABLECOIN` (unset): an existing stablecoin; when unset a MockStablecoin is deployed (devnets);
/// - `AMM_FEE_BPS` (30): the pool's swap fee in basis points, fixed for its life (at most 1000).
/// It also deploys the OracleHub with its four feeds configured (`_configureFeeds`: quorum 2, a one-hour
/// heartbeat, physical bounds) and an `OracleFeed` (Chainlink `AggregatorV3Interface`) for each.
/// Keepers, grid operators and oracle reporters are granted their roles by the admin afterwards.
/// Usage: `forge script script/Deploy.s.sol --rpc-url $RPC_URL --private-key $KEY --broadcast`.
contract Deploy is Script {
    struct Config {
        uint32 intervalSeconds;
        uint40 acceptanceWindow;
        uint16 carbonIntensity;
        address admin;
        address stablecoin;
        uint16 ammFeeBps;
    }

    struct Deployment {
        EnergyCredit energyCredit;
        CarbonCredit carbonCredit;
        address stablecoin;
        /// @dev The market, which is also the meter registry.
        EnergyMarket energyMarket;
        EnergyAmm energyAmm;
        VppDispatch vppDispatch;
        OracleHub oracleHub;
        /// @dev Indexed by feed id (`Feeds`).
        OracleFeed[4] oracleFeeds;
        address admin;
        address deployer;
    }

    bytes32 internal constant DEFAULT_ADMIN_ROLE = 0x00;

    function run() external returns (Deployment memory) {
        return deploy(readConfig());
    }

    /// @notice The deployment parameters from the environment, defaults filled in.
    function readConfig() public view returns (Config memory config) {
        config.intervalSeconds = SafeCast.toUint32(vm.envOr("INTERVAL_SECONDS", uint256(900)));
        config.acceptanceWindow = SafeCast.toUint40(vm.envOr("ACCEPTANCE_WINDOW", uint256(2 days)));
        config.carbonIntensity = SafeCast.toUint16(vm.envOr("CARBON_INTENSITY", uint256(400)));
        config.admin = vm.envOr("ADMIN", address(0));
        config.stablecoin = vm.envOr("STABLECOIN", address(0));
        config.ammFeeBps = SafeCast.toUint16(vm.envOr("AMM_FEE_BPS", uint256(30)));
    }

    /// @notice Deploys with `config`, broadcasting from the script's sender.
    function deploy(Config memory config) public returns (Deployment memory d) {
        vm.startBroadcast();
        (, address deployer,) = vm.readCallers();
        d.deployer = deployer;
        d.admin = config.admin == address(0) ? deployer : config.admin;

        d.energyCredit = new EnergyCredit(deployer);
        d.carbonCredit = new CarbonCredit(deployer);
        MockStablecoin mock;
        if (config.stablecoin == address(0)) {
            mock = new MockStablecoin(deployer);
            d.stablecoin = address(mock);
        } else {
            d.stablecoin = config.stablecoin;
        }
        d.energyMarket = new EnergyMarket(
            deployer,
            IERC20(d.stablecoin),
            d.energyCredit,
            d.carbonCredit,
            config.intervalSeconds,
            config.acceptanceWindow,
            config.carbonIntensity
        );
        d.energyAmm = new EnergyAmm(d.energyMarket, config.ammFeeBps);
        d.energyMarket.registerParticipant(address(d.energyAmm));
        d.energyMarket.setAmm(address(d.energyAmm));
        d.vppDispatch = new VppDispatch(d.energyMarket, IERC20(d.stablecoin));
        d.energyCredit.grantRole(d.energyCredit.MINTER_ROLE(), address(d.energyMarket));
        d.carbonCredit.grantRole(d.carbonCredit.MINTER_ROLE(), address(d.energyMarket));
        d.oracleHub = new OracleHub(deployer);
        _configureFeeds(d.oracleHub);
        for (uint8 feed; feed < 4; ++feed) {
            d.oracleFeeds[feed] = new OracleFeed(d.oracleHub, feed);
        }

        if (d.admin != deployer) {
            _handOver(d, mock, deployer);
        }
        vm.stopBroadcast();
        _log(d, config);
    }

    /// @dev Quorum 2 of the co-ops' reporters and an hour's heartbeat for every feed (reporters post more
    /// often: on a deviation or before the heartbeat runs out); bounds are what the quantity can physically
    /// or contractually be, so only a broken majority of reporters is refused.
    function _configureFeeds(OracleHub hub) internal {
        // EU day-ahead and intraday prices are harmonised within -9,999 and 9,999 EUR/MWh.
        hub.setFeedConfig(Feeds.SPOT_PRICE, 2, 1 hours, -10_000e6, 10_000e6);
        // The solar constant is 1,361 W/m2; the ground sees less.
        hub.setFeedConfig(Feeds.SOLAR_IRRADIANCE, 2, 1 hours, 0, 1500);
        // -60 to 60 degC.
        hub.setFeedConfig(Feeds.TEMPERATURE, 2, 1 hours, -6000, 6000);
        // Lignite, the dirtiest grid supply, is about 1,100 g CO2e/kWh.
        hub.setFeedConfig(Feeds.CARBON_INTENSITY, 2, 1 hours, 0, 2000);
    }

    /// @dev Gives every role the broadcaster holds to the admin, then renounces them (admin role last).
    function _handOver(Deployment memory d, MockStablecoin mock, address deployer) internal {
        EnergyMarket market = d.energyMarket;
        bytes32[3] memory marketRoles =
            [market.REGISTRAR_ROLE(), market.KEEPER_ROLE(), market.GRID_OPERATOR_ROLE()];
        market.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        for (uint256 i; i < marketRoles.length; ++i) {
            // The constructor gives the deployer only the admin and registrar roles; the check keeps the
            // hand-over right if it ever gives more.
            if (market.hasRole(marketRoles[i], deployer)) {
                market.grantRole(marketRoles[i], d.admin);
                market.renounceRole(marketRoles[i], deployer);
            }
        }
        market.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        d.energyCredit.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.energyCredit.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        d.carbonCredit.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.carbonCredit.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        d.oracleHub.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.oracleHub.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        if (address(mock) != address(0)) {
            bytes32 minterRole = mock.MINTER_ROLE();
            mock.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
            mock.grantRole(minterRole, d.admin);
            mock.renounceRole(minterRole, deployer);
            mock.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        }
    }

    function _log(Deployment memory d, Config memory config) internal view {
        console.log("EnergyCredit  ", address(d.energyCredit));
        console.log("CarbonCredit  ", address(d.carbonCredit));
        console.log("Stablecoin    ", d.stablecoin);
        console.log("EnergyMarket  ", address(d.energyMarket));
        console.log("MeterRegistry ", address(d.energyMarket), "(the market is the registry: same address)");
        console.log("EnergyAmm     ", address(d.energyAmm));
        console.log("VppDispatch   ", address(d.vppDispatch));
        console.log("OracleHub     ", address(d.oracleHub));
        for (uint256 feed; feed < 4; ++feed) {
            console.log("OracleFeed    ", address(d.oracleFeeds[feed]), d.oracleFeeds[feed].description());
        }
        console.log("admin         ", d.admin);
        console.log("deployer      ", d.deployer);
        console.log("interval (s)  ", config.intervalSeconds);
        console.log("window (s)    ", config.acceptanceWindow);
        console.log("gCO2e/kWh     ", config.carbonIntensity);
        console.log("AMM fee (bps) ", config.ammFeeBps);
    }
}
