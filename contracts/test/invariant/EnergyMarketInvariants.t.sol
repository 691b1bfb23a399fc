// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../src/interfaces/IMeterRegistry.sol";
import {MeterKinds} from "../../src/libraries/MeterKinds.sol";
import {EnergyMarketHandler} from "./handlers/EnergyMarketHandler.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice The market's conservation laws and trading rules (DESIGN.md, "Invariants") under random
/// sequences of deposits, withdrawals, order changes, readings, settlements (some of them by a keeper
/// taking over an interval another left in progress), finalizations, fee and intensity changes and time
/// warps.
/// forge-config: default.invariant.fail-on-revert = true
contract EnergyMarketInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;

    EnergyMarket internal market;
    MockStablecoin internal stablecoin;
    EnergyCredit internal energy;
    CarbonCredit internal carbon;
    EnergyMarketHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        address operator = makeAddr("grid operator");
        address[2] memory keepers = [makeAddr("keeper"), makeAddr("rival keeper")];
        address[4] memory owners = [makeAddr("alice"), makeAddr("bob"), makeAddr("carol"), makeAddr("erin")];
        uint256[5] memory keys;
        for (uint256 i; i < keys.length; ++i) {
            keys[i] = uint256(keccak256(abi.encode("market invariant meter", i)));
        }

        stablecoin = new MockStablecoin(admin);
        energy = new EnergyCredit(admin);
        carbon = new CarbonCredit(admin);
        market = new EnergyMarket(admin, stablecoin, energy, carbon, 900, 2 days, 400);
        handler = new EnergyMarketHandler(market, stablecoin, admin, operator, keepers, owners, keys, T0);

        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), address(market));
        carbon.grantRole(carbon.MINTER_ROLE(), address(market));
        market.grantRole(market.KEEPER_ROLE(), keepers[0]);
        market.grantRole(market.KEEPER_ROLE(), keepers[1]);
        market.grantRole(market.GRID_OPERATOR_ROLE(), operator);
        market.setKeeperFee(50);
        for (uint256 o; o < owners.length; ++o) {
            market.registerParticipant(owners[o]);
        }
        for (uint256 i; i < keys.length; ++i) {
            market.registerMeter(vm.addr(keys[i]), owners[handler.meterOwner(i)], 1, MeterKinds.SOLAR, 20_000);
        }
        vm.stopPrank();
        vm.prank(operator);
        market.setNetworkFee(30_000);
        for (uint256 o; o < owners.length; ++o) {
            vm.prank(admin);
            stablecoin.mint(owners[o], 500e6);
            vm.startPrank(owners[o]);
            stablecoin.approve(address(market), 500e6);
            market.deposit(IEnergyMarket.Asset.Stablecoin, 500e6);
            vm.stopPrank();
        }

        // Initial orders, which the handler then changes at random: sellers, a prosumer on both sides,
        // a consumer covering from credits, and erin with a PV meter and an EV meter.
        _order(owners[0], keys[0], true, 100_000, false, 0, false);
        _order(owners[1], keys[1], true, 200_000, true, 400_000, false);
        _order(owners[2], keys[2], false, 0, true, 450_000, true);
        _order(owners[3], keys[3], true, 150_000, false, 0, false);
        _order(owners[3], keys[4], false, 0, true, 500_000, false);
        handler.submitReadings(0); // every meter's baseline

        targetContract(address(handler));
        // Whole intervals are the main event; the single steps interleave in every other order.
        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = EnergyMarketHandler.runInterval.selector;
        selectors[1] = EnergyMarketHandler.runInterval.selector;
        selectors[2] = EnergyMarketHandler.runInterval.selector;
        selectors[3] = EnergyMarketHandler.runInterval.selector;
        selectors[4] = EnergyMarketHandler.submitReadings.selector;
        selectors[5] = EnergyMarketHandler.settle.selector;
        selectors[6] = EnergyMarketHandler.settle.selector;
        selectors[7] = EnergyMarketHandler.finalize.selector;
        selectors[8] = EnergyMarketHandler.warp.selector;
        selectors[9] = EnergyMarketHandler.deposit.selector;
        selectors[10] = EnergyMarketHandler.withdraw.selector;
        selectors[11] = EnergyMarketHandler.placeOrder.selector;
        selectors[12] = EnergyMarketHandler.cancelOrder.selector;
        selectors[13] = EnergyMarketHandler.setFees.selector;
        selectors[14] = EnergyMarketHandler.setCarbonIntensity.selector;
        selectors[15] = EnergyMarketHandler.placeOrder.selector;
        selectors[16] = EnergyMarketHandler.takeOver.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev Every stablecoin unit the market holds is owed to a participant.
    function invariant_StablecoinHeldEqualsVaults() public view {
        (uint256 vaults,,) = handler.sumVaults();
        assertEq(stablecoin.balanceOf(address(market)), vaults);
    }

    /// @dev The same for both credit tokens.
    function invariant_CreditsHeldEqualVaults() public view {
        (, uint256 creditsWh, uint256 carbonGrams) = handler.sumVaults();
        assertEq(
            energy.balanceOf(address(market)) + _walletCredits(), energy.totalSupply(), "credits elsewhere"
        );
        assertEq(energy.balanceOf(address(market)), creditsWh, "energy credits");
        assertEq(carbon.balanceOf(address(market)), carbonGrams, "carbon credits");
    }

    /// @dev No credit exists without attested export: supply == credited - covered from credits.
    function invariant_CreditSupplyEqualsMintedMinusBurned() public view {
        assertEq(energy.totalSupply(), handler.ghostCreditsMinted() - handler.ghostCreditsBurned());
    }

    /// @dev Carbon supply == sum over settled export x intensity / 1000 (per meter and settlement, at the
    /// intensity in force when it settled); nothing is retired here.
    function invariant_CarbonSupplyMatchesSettledExport() public view {
        assertEq(carbon.totalSupply(), handler.ghostCarbonExpected(), "computed from volumes");
        assertEq(carbon.totalSupply(), handler.ghostCarbonEmitted(), "reported in events");
        assertEq(carbon.totalMinted(), carbon.totalSupply(), "minted");
    }

    /// @dev A settled (closed) interval never accepted another batch.
    function invariant_IntervalSettledAtMostOnce() public view {
        assertEq(handler.ghostSettledTwice(), 0);
    }

    /// @dev No fill was ever below its seller's floor or above its buyer's ceiling (network fee included),
    /// nor on a side its order does not trade (the handler also sends batches that ignore the limits).
    function invariant_FillsRespectLimits() public view {
        assertEq(handler.ghostLimitBreaches(), 0);
    }

    /// @dev `finalize` settled exactly the meters whose pending volumes were final (residual only, or
    /// marketable in a settled interval or one older than the acceptance window), and counted them.
    function invariant_FinalizeSettlesExactlyTheFinalMeters() public view {
        assertEq(handler.ghostFinalizeMismatches(), 0);
    }

    /// @dev Every batch conserved money: vault changes plus fees paid out sum to zero.
    function invariant_BatchesConserveMoney() public view {
        assertEq(handler.ghostMoneyLeaks(), 0);
    }

    /// @dev "No participant on both sides" of an interval, across all of its batches.
    function invariant_NoParticipantOnBothSidesOfAnInterval() public view {
        assertEq(handler.ghostBothSides(), 0);
    }

    /// @dev The rules that span batches refuse only what they must: a self trade only when the owner
    /// traded the other side of the interval before, a fill of an earlier interval only when the owner
    /// traded a later one, a batch of a claimed interval only within `INTERVAL` of its keeper's last batch.
    function invariant_CrossBatchRefusalsAreJustified() public view {
        assertEq(handler.ghostUnjustifiedRefusals(), 0);
    }

    /// @dev Per meter: attested export == sold + credited + still pending; attested import == bought +
    /// covered + grid-supplied + still pending.
    function invariant_EnergyPerMeter() public view {
        for (uint256 i; i < handler.METERS(); ++i) {
            address meter = handler.meters(i);
            IMeterRegistry.MeterState memory state = market.meterState(meter);
            assertEq(
                handler.ghostAttestedExport(meter),
                handler.ghostSold(meter) + handler.ghostCredited(meter) + state.pendingExportWh,
                "export"
            );
            assertEq(
                handler.ghostAttestedImport(meter),
                handler.ghostBought(meter) + handler.ghostCovered(meter) + handler.ghostGridSupplied(meter)
                    + state.pendingImportWh,
                "import"
            );
        }
    }

    function afterInvariant() public view {
        console.log("readings accepted", handler.ghostReadingsAccepted());
        console.log("settle attempts", handler.ghostSettleAttempts());
        console.log("settle succeeded", handler.ghostSettleSucceeded());
        console.log("fills settled", handler.ghostFillsSettled());
        console.log("intervals closed", handler.ghostIntervalsClosed());
        console.log("meters finalized", handler.ghostMetersFinalized());
        console.log("self trades refused", handler.ghostSelfTradesRefused());
        console.log("later intervals refused", handler.ghostLaterIntervalsRefused());
        console.log("claims refused", handler.ghostClaimsRefused());
        console.log("take-overs", handler.ghostTakeOvers());
    }

    function _order(
        address owner,
        uint256 key,
        bool sells,
        uint64 floor,
        bool buys,
        uint64 ceiling,
        bool cover
    ) internal {
        IEnergyMarket.OrderParams memory params;
        params.sells = sells;
        params.sellFloor = floor;
        params.buys = buys;
        params.buyCeiling = ceiling;
        params.coverFromCredits = cover;
        vm.prank(owner);
        market.placeOrder(vm.addr(key), params);
    }

    function _walletCredits() internal view returns (uint256 sum) {
        for (uint256 o; o < 4; ++o) {
            sum += energy.balanceOf(handler.owners(o));
        }
    }
}
