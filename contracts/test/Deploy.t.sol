// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Deploy} from "../script/Deploy.s.sol";
import {MockStablecoin} from "../src/MockStablecoin.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {ReadingSigning} from "./utils/ReadingSigning.sol";
import {Test} from "forge-std/Test.sol";

contract DeployTest is Test {
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 internal constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    Deploy internal script;

    function setUp() public {
        script = new Deploy();
    }

    function test_ReadConfigFromEnvironment() public {
        vm.setEnv("INTERVAL_SECONDS", "600");
        vm.setEnv("ACCEPTANCE_WINDOW", "86400");
        vm.setEnv("CARBON_INTENSITY", "350");
        Deploy.Config memory config = script.readConfig();
        assertEq(config.intervalSeconds, 600);
        assertEq(config.acceptanceWindow, 1 days);
        assertEq(config.carbonIntensity, 350);
    }

    function test_DeployWiresRegistryAsMinter() public {
        Deploy.Deployment memory d = script.deploy(_config(address(0), address(0)));

        assertEq(d.meterRegistry.INTERVAL_SECONDS(), 900);
        assertEq(d.meterRegistry.acceptanceWindow(), 2 days);
        assertEq(d.meterRegistry.carbonIntensity(), 400);
        assertEq(d.meterRegistry.ENERGY_CREDIT(), address(d.energyCredit));
        assertEq(d.meterRegistry.CARBON_CREDIT(), address(d.carbonCredit));
        assertTrue(d.energyCredit.hasRole(MINTER_ROLE, address(d.meterRegistry)));
        assertTrue(d.carbonCredit.hasRole(MINTER_ROLE, address(d.meterRegistry)));
        assertTrue(d.meterRegistry.hasRole(REGISTRAR_ROLE, d.admin));
        assertEq(MockStablecoin(d.stablecoin).decimals(), 6);

        // End to end: a signed reading becomes credits in its owner's wallet.
        _exercise(d);
    }

    function test_DeployHandsRolesToSeparateAdmin() public {
        address coop = makeAddr("coop admin");
        Deploy.Deployment memory d = script.deploy(_config(coop, address(0)));
        address deployer = d.deployer;
        assertTrue(deployer != coop);

        assertEq(d.admin, coop);
        assertTrue(d.meterRegistry.hasRole(0x00, coop));
        assertTrue(d.meterRegistry.hasRole(REGISTRAR_ROLE, coop));
        assertTrue(d.energyCredit.hasRole(0x00, coop));
        assertTrue(d.carbonCredit.hasRole(0x00, coop));
        assertTrue(MockStablecoin(d.stablecoin).hasRole(MINTER_ROLE, coop));
        assertFalse(d.meterRegistry.hasRole(0x00, deployer), "deployer kept registry admin");
        assertFalse(d.meterRegistry.hasRole(REGISTRAR_ROLE, deployer), "deployer kept registrar");
        assertFalse(d.energyCredit.hasRole(0x00, deployer), "deployer kept energy admin");
        assertFalse(MockStablecoin(d.stablecoin).hasRole(MINTER_ROLE, deployer), "deployer kept faucet");
        _exercise(d);
    }

    function test_DeployUsesExistingStablecoin() public {
        address usdc = makeAddr("usdc");
        Deploy.Deployment memory d = script.deploy(_config(address(0), usdc));
        assertEq(d.stablecoin, usdc);
    }

    function _exercise(Deploy.Deployment memory d) internal {
        (address meter, uint256 key) = makeAddrAndKey("deployed meter");
        address owner = makeAddr("deployed owner");
        vm.startPrank(d.admin);
        d.meterRegistry.registerParticipant(owner);
        d.meterRegistry.registerMeter(meter, owner, 1, 1, 4000);
        vm.stopPrank();

        vm.warp(1_767_225_600 + 900);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](2);
        batch[0] = IMeterRegistry.Reading(meter, 1, 1_767_225_600, 10, 20, 0, 0);
        batch[1] = IMeterRegistry.Reading(meter, 2, 1_767_225_600 + 900, 15, 1020, 0, 0);
        batch[0] = ReadingSigning.sign(address(d.meterRegistry), key, batch[0]);
        batch[1] = ReadingSigning.sign(address(d.meterRegistry), key, batch[1]);
        assertEq(d.meterRegistry.submitReadings(batch), 2);

        address[] memory meters = new address[](1);
        meters[0] = meter;
        d.meterRegistry.claim(meters);
        assertEq(d.energyCredit.balanceOf(owner), 1000);
        assertEq(d.carbonCredit.balanceOf(owner), 400);
    }

    function _config(address admin, address stablecoin) internal pure returns (Deploy.Config memory) {
        return Deploy.Config({
            intervalSeconds: 900,
            acceptanceWindow: 2 days,
            carbonIntensity: 400,
            admin: admin,
            stablecoin: stablecoin
        });
    }
}
