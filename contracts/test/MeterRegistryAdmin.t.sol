// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyMarket} from "../src/EnergyMarket.sol";
import {ICarbonCredit} from "../src/interfaces/ICarbonCredit.sol";
import {IEnergyCredit} from "../src/interfaces/IEnergyCredit.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../src/libraries/MeterKinds.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Construction, roles, participants, meters and parameters.
contract MeterRegistryAdminTest is RegistryFixture {
    bytes32 internal constant DEFAULT_ADMIN_ROLE = 0x00;
    bytes32 internal constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    address internal registrar = makeAddr("registrar");
    address internal carol = makeAddr("carol");
    address internal newMeter = makeAddr("new-meter");

    /// @dev 1 x 40 A at 230 V: a valid capacity for the tests about other arguments.
    uint32 internal constant CAPACITY_W = 9200;

    function setUp() public override {
        super.setUp();
        vm.startPrank(admin);
        registry.grantRole(registry.REGISTRAR_ROLE(), registrar);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- construction

    function test_ConstructorSetsParametersAndRoles() public view {
        assertEq(registry.INTERVAL_SECONDS(), INTERVAL);
        assertEq(registry.acceptanceWindow(), WINDOW);
        assertEq(registry.carbonIntensity(), INTENSITY);
        assertEq(registry.STABLECOIN(), address(stablecoin));
        assertEq(registry.ENERGY_CREDIT(), address(energy));
        assertEq(registry.CARBON_CREDIT(), address(carbon));
        assertEq(registry.REGISTRAR_ROLE(), keccak256("REGISTRAR_ROLE"));
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(registry.hasRole(registry.REGISTRAR_ROLE(), admin));
        assertFalse(registry.hasRole(registry.KEEPER_ROLE(), admin), "admin is no keeper");
        assertFalse(registry.hasRole(registry.GRID_OPERATOR_ROLE(), admin), "admin is no grid operator");
    }

    function test_ConstructorEmitsParameters() public {
        vm.expectEmit();
        emit IMeterRegistry.AcceptanceWindowSet(WINDOW);
        vm.expectEmit();
        emit IMeterRegistry.CarbonIntensitySet(INTENSITY);
        new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
    }

    function test_RevertWhen_ConstructorAdminZero() public {
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        new EnergyMarket(address(0), stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
    }

    function test_RevertWhen_ConstructorTokenZero() public {
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        new EnergyMarket(admin, IERC20(address(0)), energy, carbon, INTERVAL, WINDOW, INTENSITY);
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        new EnergyMarket(admin, stablecoin, IEnergyCredit(address(0)), carbon, INTERVAL, WINDOW, INTENSITY);
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        new EnergyMarket(admin, stablecoin, energy, ICarbonCredit(address(0)), INTERVAL, WINDOW, INTENSITY);
    }

    function test_RevertWhen_ConstructorIntervalZero() public {
        vm.expectRevert(IMeterRegistry.MeterRegistryIntervalZero.selector);
        new EnergyMarket(admin, stablecoin, energy, carbon, 0, WINDOW, INTENSITY);
    }

    function test_RevertWhen_ConstructorWindowShorterThanInterval() public {
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryWindowTooShort.selector, 899, INTERVAL)
        );
        new EnergyMarket(admin, stablecoin, energy, carbon, INTERVAL, 899, INTENSITY);
    }

    // ---------------------------------------------------------------- participants

    function test_RegisterParticipant() public {
        // alice and bob got ids 1 and 2 in the fixture.
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ParticipantRegistered(carol, 3);
        vm.prank(registrar);
        registry.registerParticipant(carol);
        assertTrue(registry.isParticipant(carol));
        assertEq(registry.participantId(carol), 3);
    }

    function test_ParticipantIdsFollowRegistrationOrder() public {
        assertEq(registry.participantId(alice), 1);
        assertEq(registry.participantId(bob), 2);
        vm.startPrank(registrar);
        registry.registerParticipant(carol);
        registry.registerParticipant(newMeter);
        vm.stopPrank();
        assertEq(registry.participantId(carol), 3);
        assertEq(registry.participantId(newMeter), 4);
    }

    function test_UnregisteredAccountHasIdZero() public {
        assertEq(registry.participantId(carol), 0);
        assertEq(registry.participantId(address(0)), 0);
        assertFalse(registry.isParticipant(carol));
    }

    function test_DeactivateAndReregisterParticipant() public {
        vm.startPrank(registrar);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ParticipantDeactivated(alice);
        registry.deactivateParticipant(alice);
        assertFalse(registry.isParticipant(alice));
        assertEq(registry.participantId(alice), 1, "id kept while deactivated");

        // Re-registering gives the same id back, and no new one is used up.
        vm.expectEmit(address(registry));
        emit IMeterRegistry.ParticipantRegistered(alice, 1);
        registry.registerParticipant(alice);
        assertTrue(registry.isParticipant(alice));
        assertEq(registry.participantId(alice), 1);

        registry.registerParticipant(carol);
        assertEq(registry.participantId(carol), 3);
        vm.stopPrank();
    }

    function test_ReregisteredParticipantKeepsItsVault() public {
        vm.warp(T0 + 2 * INTERVAL);
        _submit(_sign(meterAKey, meterA, 2, T0 + 2 * INTERVAL, A_IMPORT, A_EXPORT + 10));
        _finalize(meterA);
        vm.startPrank(registrar);
        registry.deactivateParticipant(alice);
        registry.registerParticipant(alice);
        vm.stopPrank();
        _assertVault(alice, 10, 4);
    }

    function test_DeactivatedParticipantsMetersKeepCounting() public {
        vm.prank(registrar);
        registry.deactivateParticipant(alice);
        vm.warp(T0 + 2 * INTERVAL);
        assertEq(_submit(_sign(meterAKey, meterA, 2, T0 + 2 * INTERVAL, A_IMPORT, A_EXPORT + 10)), 1);
        assertEq(_finalize(meterA), 1);
        _assertVault(alice, 10, 4);

        // Its vault stays withdrawable.
        vm.prank(alice);
        registry.withdraw(IEnergyMarket.Asset.EnergyCredit, 10);
        assertEq(energy.balanceOf(alice), 10);
    }

    function test_RevertWhen_RegisterParticipantZero() public {
        vm.prank(registrar);
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        registry.registerParticipant(address(0));
    }

    function test_RevertWhen_RegisterParticipantTwice() public {
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryParticipantAlreadyRegistered.selector, alice)
        );
        registry.registerParticipant(alice);
    }

    function test_RevertWhen_DeactivateNonParticipant() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryNotParticipant.selector, carol));
        registry.deactivateParticipant(carol);
    }

    function test_RevertWhen_RegisterParticipantUnauthorized() public {
        vm.prank(carol);
        _expectUnauthorized(carol, REGISTRAR_ROLE);
        registry.registerParticipant(carol);
    }

    function test_RevertWhen_DeactivateParticipantUnauthorized() public {
        vm.prank(carol);
        _expectUnauthorized(carol, REGISTRAR_ROLE);
        registry.deactivateParticipant(alice);
    }

    // ---------------------------------------------------------------- meters

    function test_RegisterMeter() public {
        uint8 kinds = MeterKinds.SOLAR | MeterKinds.CRITICAL_LOAD;
        vm.expectEmit(address(registry));
        emit IMeterRegistry.MeterRegistered(newMeter, bob, 12, kinds, 6600);
        vm.prank(registrar);
        registry.registerMeter(newMeter, bob, 12, kinds, 6600);

        IMeterRegistry.MeterInfo memory info = registry.meterInfo(newMeter);
        assertEq(info.owner, bob);
        assertEq(info.feeder, 12);
        assertEq(info.kinds, kinds);
        assertEq(info.capacityW, 6600);
        assertTrue(MeterKinds.has(info.kinds, MeterKinds.CRITICAL_LOAD));
        assertFalse(MeterKinds.has(info.kinds, MeterKinds.BATTERY));
        _assertState(newMeter, 1, 0, 0, 0, 0, 0, 0, NONE);
    }

    function test_UnknownMeterHasZeroInfoAndState() public {
        assertEq(registry.meterInfo(newMeter).owner, address(0));
        assertEq(registry.meterState(newMeter).status, 0);
    }

    function test_RevertWhen_RegisterMeterTwice() public {
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryMeterAlreadyRegistered.selector, meterA)
        );
        registry.registerMeter(meterA, bob, 1, 0, CAPACITY_W);
    }

    function test_RevertWhen_RegisterDeactivatedMeterAgain() public {
        vm.startPrank(registrar);
        registry.deactivateMeter(meterA);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryMeterAlreadyRegistered.selector, meterA)
        );
        registry.registerMeter(meterA, bob, 1, 0, CAPACITY_W);
        vm.stopPrank();
    }

    function test_RevertWhen_RegisterMeterZeroAddress() public {
        vm.startPrank(registrar);
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        registry.registerMeter(address(0), bob, 1, 0, CAPACITY_W);
        vm.expectRevert(IMeterRegistry.MeterRegistryZeroAddress.selector);
        registry.registerMeter(newMeter, address(0), 1, 0, CAPACITY_W);
        vm.stopPrank();
    }

    function test_RevertWhen_RegisterMeterOwnerNotParticipant() public {
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryOwnerNotParticipant.selector, carol)
        );
        registry.registerMeter(newMeter, carol, 1, 0, CAPACITY_W);
    }

    function test_RevertWhen_RegisterMeterOwnerDeactivated() public {
        vm.startPrank(registrar);
        registry.deactivateParticipant(bob);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryOwnerNotParticipant.selector, bob));
        registry.registerMeter(newMeter, bob, 1, 0, CAPACITY_W);
        vm.stopPrank();
    }

    function test_RevertWhen_RegisterMeterInvalidKinds() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryInvalidKinds.selector, 16));
        registry.registerMeter(newMeter, bob, 1, 16, CAPACITY_W);
    }

    function test_RevertWhen_RegisterMeterZeroCapacity() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryZeroCapacity.selector, newMeter));
        registry.registerMeter(newMeter, bob, 1, MeterKinds.SOLAR, 0);
        assertEq(registry.meterState(newMeter).status, 0, "registered anyway");
    }

    function test_RevertWhen_RegisterMeterUnauthorized() public {
        vm.prank(alice);
        _expectUnauthorized(alice, REGISTRAR_ROLE);
        registry.registerMeter(newMeter, alice, 1, 0, CAPACITY_W);
    }

    function test_DeactivateMeterKeepsItsReadingState() public {
        vm.expectEmit(address(registry));
        emit IMeterRegistry.MeterDeactivated(meterA);
        vm.prank(registrar);
        registry.deactivateMeter(meterA);
        _assertState(meterA, 2, 1, T0, A_IMPORT, A_EXPORT, 0, 0, NONE);
    }

    function test_ReactivateMeter() public {
        vm.startPrank(registrar);
        registry.deactivateMeter(meterA);
        vm.expectEmit(address(registry));
        emit IMeterRegistry.MeterReactivated(meterA);
        registry.reactivateMeter(meterA);
        vm.stopPrank();
        _assertState(meterA, 1, 1, T0, A_IMPORT, A_EXPORT, 0, 0, NONE);
    }

    function test_RevertWhen_DeactivateUnknownMeter() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryUnknownMeter.selector, newMeter));
        registry.deactivateMeter(newMeter);
    }

    function test_RevertWhen_DeactivateMeterTwice() public {
        vm.startPrank(registrar);
        registry.deactivateMeter(meterA);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryMeterNotActive.selector, meterA));
        registry.deactivateMeter(meterA);
        vm.stopPrank();
    }

    function test_RevertWhen_ReactivateUnknownMeter() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRegistryUnknownMeter.selector, newMeter));
        registry.reactivateMeter(newMeter);
    }

    function test_RevertWhen_ReactivateActiveMeter() public {
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryMeterNotDeactivated.selector, meterA)
        );
        registry.reactivateMeter(meterA);
    }

    function test_RevertWhen_ReactivateMeterOfDeactivatedOwner() public {
        vm.startPrank(registrar);
        registry.deactivateMeter(meterA);
        registry.deactivateParticipant(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IMeterRegistry.MeterRegistryOwnerNotParticipant.selector, alice)
        );
        registry.reactivateMeter(meterA);
        vm.stopPrank();
    }

    function test_RevertWhen_DeactivateMeterUnauthorized() public {
        vm.prank(alice);
        _expectUnauthorized(alice, REGISTRAR_ROLE);
        registry.deactivateMeter(meterA);
    }

    function test_RevertWhen_ReactivateMeterUnauthorized() public {
        vm.prank(registrar);
        registry.deactivateMeter(meterA);
        vm.prank(alice);
        _expectUnauthorized(alice, REGISTRAR_ROLE);
        registry.reactivateMeter(meterA);
    }

    // ---------------------------------------------------------------- parameters

    function test_SetCarbonIntensity() public {
        vm.expectEmit(address(registry));
        emit IMeterRegistry.CarbonIntensitySet(650);
        vm.prank(admin);
        registry.setCarbonIntensity(650);
        assertEq(registry.carbonIntensity(), 650);
        assertEq(registry.acceptanceWindow(), WINDOW, "shares the slot with the window");
    }

    function test_SetAcceptanceWindow() public {
        vm.expectEmit(address(registry));
        emit IMeterRegistry.AcceptanceWindowSet(INTERVAL);
        vm.prank(admin);
        registry.setAcceptanceWindow(INTERVAL);
        assertEq(registry.acceptanceWindow(), INTERVAL);
        assertEq(registry.carbonIntensity(), INTENSITY, "shares the slot with the intensity");
    }

    function test_ShorterWindowRejectsOlderReadings() public {
        vm.prank(admin);
        registry.setAcceptanceWindow(INTERVAL);
        vm.warp(T0 + 3 * INTERVAL);
        _assertRejected(
            _sign(meterAKey, meterA, 2, T0 + INTERVAL, A_IMPORT, A_EXPORT), IMeterRegistry.RejectReason.TooOld
        );
    }

    function test_RevertWhen_SetAcceptanceWindowTooShort() public {
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMeterRegistry.MeterRegistryWindowTooShort.selector, INTERVAL - 1, INTERVAL
            )
        );
        registry.setAcceptanceWindow(INTERVAL - 1);
    }

    function test_RevertWhen_RegistrarSetsCarbonIntensity() public {
        vm.prank(registrar);
        _expectUnauthorized(registrar, DEFAULT_ADMIN_ROLE);
        registry.setCarbonIntensity(1);
    }

    function test_RevertWhen_RegistrarSetsAcceptanceWindow() public {
        vm.prank(registrar);
        _expectUnauthorized(registrar, DEFAULT_ADMIN_ROLE);
        registry.setAcceptanceWindow(1 days);
    }

    function test_SupportsAccessControlInterface() public view {
        assertTrue(registry.supportsInterface(type(IAccessControl).interfaceId));
    }

    /// @dev Builds the expected revert without an external call, so it cannot eat a pending `vm.prank`.
    function _expectUnauthorized(address account, bytes32 role) private {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role)
        );
    }
}
