// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {MeterRegistryHandler} from "./handlers/MeterRegistryHandler.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice The conservation laws of readings, pending volumes and their residual settlement (DESIGN.md,
/// "Invariants") under random sequences of batches, time warps, closed intervals, finalizations, vault
/// moves, retirements and admin changes.
/// forge-config: default.invariant.fail-on-revert = true
contract MeterRegistryInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;

    EnergyMarket internal registry;
    EnergyCredit internal energy;
    CarbonCredit internal carbon;
    MockStablecoin internal stablecoin;
    MeterRegistryHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address keeper = makeAddr("keeper");
        address[2] memory owners = [makeAddr("alice"), makeAddr("bob")];
        uint256[4] memory keys;
        for (uint256 i; i < keys.length; ++i) {
            keys[i] = uint256(keccak256(abi.encode("invariant meter", i)));
        }

        energy = new EnergyCredit(admin);
        carbon = new CarbonCredit(admin);
        stablecoin = new MockStablecoin(admin);
        registry = new EnergyMarket(admin, stablecoin, energy, carbon, 900, 2 days, 400);
        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), address(registry));
        carbon.grantRole(carbon.MINTER_ROLE(), address(registry));
        registry.grantRole(registry.KEEPER_ROLE(), keeper);
        registry.registerParticipant(owners[0]);
        registry.registerParticipant(owners[1]);
        // Home connections, and one as large as a uint32 allows, whose deltas take the pending volumes
        // towards uint32 within a few readings.
        uint32[4] memory capacities = [uint32(5000), 11_000, 17_250, type(uint32).max];
        for (uint256 i; i < keys.length; ++i) {
            registry.registerMeter(vm.addr(keys[i]), owners[i % 2], 1, MeterKinds.SOLAR, capacities[i]);
        }
        vm.stopPrank();

        handler = new MeterRegistryHandler(registry, stablecoin, admin, keeper, owners, keys, T0 + 7 days);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](13);
        selectors[0] = MeterRegistryHandler.submitBatch.selector;
        selectors[1] = MeterRegistryHandler.submitBatch.selector; // three times: readings are the main event
        selectors[2] = MeterRegistryHandler.submitBatch.selector;
        selectors[3] = MeterRegistryHandler.warp.selector;
        selectors[4] = MeterRegistryHandler.warpPastWindow.selector;
        selectors[5] = MeterRegistryHandler.closeInterval.selector;
        selectors[6] = MeterRegistryHandler.finalize.selector;
        selectors[7] = MeterRegistryHandler.setCover.selector;
        selectors[8] = MeterRegistryHandler.withdraw.selector;
        selectors[9] = MeterRegistryHandler.deposit.selector;
        selectors[10] = MeterRegistryHandler.retire.selector;
        selectors[11] = MeterRegistryHandler.setCarbonIntensity.selector;
        selectors[12] = MeterRegistryHandler.toggleMeter.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_ReadingCountedAtMostOnce() public view {
        assertEq(handler.ghostDoubleCounted(), 0);
    }

    /// @dev Every reading got exactly the outcome, deltas and kind the independent model of the rules
    /// predicts, and every `finalize` settled exactly the meters and volumes the model predicts.
    function invariant_RegistryFollowsTheRules() public view {
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
            assertEq(state.pendingImportWh, m.pendingImportWh, "pendingImportWh");
            assertEq(state.pendingExportWh, m.pendingExportWh, "pendingExportWh");
            assertEq(uint8(state.pending), uint8(m.pending), "pending kind");
        }
    }

    /// @dev Every attested Wh is either still pending or settled, exactly once.
    function invariant_AttestedEnergyIsPendingOrSettled() public view {
        (uint256 pendingImport, uint256 pendingExport) = handler.sumPending();
        assertEq(pendingExport + handler.ghostSettledExport(), handler.ghostExportDeltaSum(), "export");
        assertEq(pendingImport + handler.ghostSettledImport(), handler.ghostImportDeltaSum(), "import");
    }

    /// @dev Energy of the settled volumes (no trades here): export == credited; import == covered +
    /// grid-supplied.
    function invariant_SettledEnergyBalances() public view {
        assertEq(handler.ghostSettledExport(), handler.ghostCredited(), "export");
        assertEq(handler.ghostSettledImport(), handler.ghostCovered() + handler.ghostGridSupplied(), "import");
    }

    /// @dev No credit exists without attested export: supply == credited - covered from credits.
    function invariant_CreditSupplyEqualsCreditedMinusCovered() public view {
        assertEq(energy.totalSupply(), handler.ghostCredited() - handler.ghostCovered());
    }

    /// @dev Every token the market holds is owed to a participant: token balance == sum of vault balances.
    function invariant_MarketHoldsExactlyTheVaults() public view {
        IEnergyMarket.Balances memory a = registry.balancesOf(handler.owners(0));
        IEnergyMarket.Balances memory b = registry.balancesOf(handler.owners(1));
        assertEq(energy.balanceOf(address(registry)), a.creditsWh + b.creditsWh, "credits");
        assertEq(carbon.balanceOf(address(registry)), a.carbonGrams + b.carbonGrams, "carbon");
        assertEq(stablecoin.balanceOf(address(registry)), a.stablecoin + b.stablecoin, "stablecoin");
    }

    function invariant_VaultsMatchModel() public view {
        for (uint256 o; o < 2; ++o) {
            IEnergyMarket.Balances memory balances = registry.balancesOf(handler.owners(o));
            MeterRegistryHandler.Vault memory v = handler.vault(o);
            assertEq(balances.stablecoin, v.stablecoin, "stablecoin");
            assertEq(balances.creditsWh, v.creditsWh, "creditsWh");
            assertEq(balances.carbonGrams, v.carbonGrams, "carbonGrams");
        }
    }

    /// @dev Also checks the packed per-account balances against the packed supply: carbon is held only by
    /// the market's vault and the two owners, who withdraw it and retire it.
    function invariant_CarbonSupplyPlusRetiredEqualsMinted() public view {
        assertEq(carbon.totalSupply() + carbon.totalRetired(), carbon.totalMinted());
        assertEq(carbon.totalRetired(), handler.ghostRetired());
        assertEq(
            carbon.balanceOf(address(registry)) + carbon.balanceOf(handler.owners(0))
                + carbon.balanceOf(handler.owners(1)),
            carbon.totalSupply(),
            "holders"
        );
    }

    /// @dev Minted == sum over settlements of floor(settled export x intensity / 1000), per meter.
    function invariant_CarbonEqualsSettledExportTimesIntensity() public view {
        assertEq(carbon.totalMinted(), handler.ghostCarbonSettled(), "events");
        assertEq(carbon.totalMinted(), handler.ghostCarbonExpected(), "model");
    }

    function invariant_RetiredPerAccountAddsUp() public view {
        assertEq(
            carbon.retiredBy(handler.owners(0)) + carbon.retiredBy(handler.owners(1)), carbon.totalRetired()
        );
    }

    function afterInvariant() public view {
        console.log(
            "accepted readings", handler.ghostAccepted(), "of which marketable", handler.ghostMarketable()
        );
        console.log("rejected readings", handler.ghostRejected());
        for (uint256 reason; reason <= uint256(type(IMeterRegistry.RejectReason).max); ++reason) {
            console.log("  rejected for reason", reason, handler.ghostRejectedBy(reason));
        }
        console.log("  of which pending overflows", handler.ghostPendingOverflows());
        console.log("intervals closed", handler.ghostIntervalsClosed());
        console.log(
            "finalize calls", handler.ghostFinalizeCalls(), "meters settled", handler.ghostMetersSettled()
        );
        console.log("  of which marketable", handler.ghostMarketableSettledAfterClose());
        console.log("credited (Wh)", handler.ghostCredited(), "covered (Wh)", handler.ghostCovered());
        console.log("carbon minted (g)", carbon.totalMinted(), "retired (g)", carbon.totalRetired());
    }
}
