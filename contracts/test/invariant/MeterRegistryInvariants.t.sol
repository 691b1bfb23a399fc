// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {MeterRegistryHandler} from "./handlers/MeterRegistryHandler.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice The conservation laws of readings and credits (DESIGN.md, "Invariants") under random
/// sequences of batches, time warps, claims, retirements and admin changes.
/// forge-config: default.invariant.fail-on-revert = true
contract MeterRegistryInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;

    MeterRegistry internal registry;
    EnergyCredit internal energy;
    CarbonCredit internal carbon;
    MeterRegistryHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address[2] memory owners = [makeAddr("alice"), makeAddr("bob")];
        uint256[4] memory keys;
        for (uint256 i; i < keys.length; ++i) {
            keys[i] = uint256(keccak256(abi.encode("invariant meter", i)));
        }

        energy = new EnergyCredit(admin);
        carbon = new CarbonCredit(admin);
        registry = new MeterRegistry(admin, energy, carbon, 900, 2 days, 400);
        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), address(registry));
        carbon.grantRole(carbon.MINTER_ROLE(), address(registry));
        registry.registerParticipant(owners[0]);
        registry.registerParticipant(owners[1]);
        // Home connections, and one as large as a uint32 allows, whose deltas can take the accruals
        // towards uint40.
        uint32[4] memory capacities = [uint32(5000), 11_000, 17_250, type(uint32).max];
        for (uint256 i; i < keys.length; ++i) {
            registry.registerMeter(vm.addr(keys[i]), owners[i % 2], 1, MeterKinds.SOLAR, capacities[i]);
        }
        vm.stopPrank();

        handler = new MeterRegistryHandler(registry, energy, carbon, admin, owners, keys, T0 + 7 days);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = MeterRegistryHandler.submitBatch.selector;
        selectors[1] = MeterRegistryHandler.submitBatch.selector; // twice: readings are the main event
        selectors[2] = MeterRegistryHandler.warp.selector;
        selectors[3] = MeterRegistryHandler.warpPastWindow.selector;
        selectors[4] = MeterRegistryHandler.claim.selector;
        selectors[5] = MeterRegistryHandler.retire.selector;
        selectors[6] = MeterRegistryHandler.setCarbonIntensity.selector;
        selectors[7] = MeterRegistryHandler.toggleMeter.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev No credit exists without attested export: minted + still claimable == sum of export deltas.
    function invariant_CreditsEqualAttestedExport() public view {
        (uint256 unclaimedCredits,) = handler.sumUnclaimed();
        assertEq(energy.totalSupply() + unclaimedCredits, handler.ghostExportDeltaSum());
    }

    function invariant_CarbonSupplyPlusRetiredEqualsMinted() public view {
        assertEq(carbon.totalSupply() + carbon.totalRetired(), carbon.totalMinted());
        assertEq(carbon.totalRetired(), handler.ghostRetired());
    }

    /// @dev Minted == sum over accepted readings of floor(exportDelta x intensity / 1000), once the part
    /// not claimed yet is added.
    function invariant_CarbonEqualsAttestedExportTimesIntensity() public view {
        (, uint256 unclaimedCarbon) = handler.sumUnclaimed();
        assertEq(carbon.totalMinted() + unclaimedCarbon, handler.ghostCarbonSum());
    }

    function invariant_ReadingCountedAtMostOnce() public view {
        assertEq(handler.ghostDoubleCounted(), 0);
    }

    /// @dev Every reading got exactly the outcome (and deltas) the independent model of the rules predicts.
    function invariant_RegistryFollowsTheBatchRules() public view {
        assertEq(handler.ghostMismatches(), 0);
    }

    function invariant_MeterStateMatchesModel() public view {
        for (uint256 i; i < handler.METERS(); ++i) {
            IMeterRegistry.MeterState memory state = registry.meterState(handler.meters(i));
            MeterRegistryHandler.Model memory m = handler.model(i);
            assertEq(state.status, m.status, "status");
            assertEq(state.seq, m.seq, "seq");
            assertEq(state.lastIntervalEnd, m.lastIntervalEnd, "lastIntervalEnd");
            assertEq(state.importWh, m.importWh, "importWh");
            assertEq(state.exportWh, m.exportWh, "exportWh");
            assertEq(state.unclaimedCreditsWh, m.unclaimedCreditsWh, "unclaimedCreditsWh");
            assertEq(state.unclaimedCarbonGrams, m.unclaimedCarbonGrams, "unclaimedCarbonGrams");
        }
    }

    function invariant_RetiredPerAccountAddsUp() public view {
        assertEq(
            carbon.retiredBy(handler.owners(0)) + carbon.retiredBy(handler.owners(1)), carbon.totalRetired()
        );
    }

    function afterInvariant() public view {
        console.log("accepted readings", handler.ghostAccepted());
        console.log("rejected readings", handler.ghostRejected());
        for (uint256 reason; reason <= uint256(type(IMeterRegistry.RejectReason).max); ++reason) {
            console.log("  rejected for reason", reason, handler.ghostRejectedBy(reason));
        }
        console.log("  of which accrual overflows", handler.ghostAccrualOverflows());
        console.log("credits minted (Wh)", energy.totalSupply());
        console.log("carbon minted (g)", carbon.totalMinted(), "retired (g)", carbon.totalRetired());
    }
}
