// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../src/CarbonCredit.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";
import {MeterRegistry} from "../src/MeterRegistry.sol";
import {MockStablecoin} from "../src/MockStablecoin.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Script, console} from "forge-std/Script.sol";

/// @notice Deploys cogrid's tokens and MeterRegistry and wires the registry as minter of both credits.
/// Parameters come from the environment, with defaults:
/// - `INTERVAL_SECONDS` (900), `ACCEPTANCE_WINDOW` (2 days), `CARBON_INTENSITY` (400 g CO2e/kWh);
/// - `ADMIN` (the broadcaster): the co-op admin; when it is not the broadcaster, every role is handed
///   over to it and the broadcaster renounces its own;
/// - `STABLECOIN` (unset): an existing stablecoin; when unset a MockStablecoin is deployed (devnets).
/// Usage: `forge script script/Deploy.s.sol --rpc-url $RPC_URL --private-key $KEY --broadcast`.
contract Deploy is Script {
    struct Config {
        uint32 intervalSeconds;
        uint40 acceptanceWindow;
        uint16 carbonIntensity;
        address admin;
        address stablecoin;
    }

    struct Deployment {
        EnergyCredit energyCredit;
        CarbonCredit carbonCredit;
        address stablecoin;
        MeterRegistry meterRegistry;
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
        d.meterRegistry = new MeterRegistry(
            deployer,
            d.energyCredit,
            d.carbonCredit,
            config.intervalSeconds,
            config.acceptanceWindow,
            config.carbonIntensity
        );
        d.energyCredit.grantRole(d.energyCredit.MINTER_ROLE(), address(d.meterRegistry));
        d.carbonCredit.grantRole(d.carbonCredit.MINTER_ROLE(), address(d.meterRegistry));

        if (d.admin != deployer) {
            _handOver(d, mock, deployer);
        }
        vm.stopBroadcast();
        _log(d, config);
    }

    /// @dev Gives every role the broadcaster holds to the admin, then renounces them (admin role last).
    function _handOver(Deployment memory d, MockStablecoin mock, address deployer) internal {
        bytes32 registrarRole = d.meterRegistry.REGISTRAR_ROLE();
        d.meterRegistry.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.meterRegistry.grantRole(registrarRole, d.admin);
        d.meterRegistry.renounceRole(registrarRole, deployer);
        d.meterRegistry.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        d.energyCredit.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.energyCredit.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        d.carbonCredit.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
        d.carbonCredit.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        if (address(mock) != address(0)) {
            bytes32 minterRole = mock.MINTER_ROLE();
            mock.grantRole(DEFAULT_ADMIN_ROLE, d.admin);
            mock.grantRole(minterRole, d.admin);
            mock.renounceRole(minterRole, deployer);
            mock.renounceRole(DEFAULT_ADMIN_ROLE, deployer);
        }
    }

    function _log(Deployment memory d, Config memory config) internal pure {
        console.log("EnergyCredit  ", address(d.energyCredit));
        console.log("CarbonCredit  ", address(d.carbonCredit));
        console.log("Stablecoin    ", d.stablecoin);
        console.log("MeterRegistry ", address(d.meterRegistry));
        console.log("admin         ", d.admin);
        console.log("deployer      ", d.deployer);
        console.log("interval (s)  ", config.intervalSeconds);
        console.log("window (s)    ", config.acceptanceWindow);
        console.log("gCO2e/kWh     ", config.carbonIntensity);
    }
}
