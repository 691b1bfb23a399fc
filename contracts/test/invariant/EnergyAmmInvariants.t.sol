// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyAmm} from "../../src/EnergyAmm.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {EnergyAmmHandler} from "./handlers/EnergyAmmHandler.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice The pool's and the vault's accounting under random sequences of swaps (both ways, exact in and
/// exact out), liquidity changes, share transfers, vault deposits and withdrawals and time warps by three
/// participants.
contract EnergyAmmInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint256 internal constant FUNDS = 2 ** 50;
    address internal constant LOCKED_SHARES_HOLDER = address(0xdEaD);

    EnergyMarket internal market;
    EnergyAmm internal amm;
    EnergyCredit internal energy;
    MockStablecoin internal stablecoin;
    EnergyAmmHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        stablecoin = new MockStablecoin(admin);
        energy = new EnergyCredit(admin);
        market = new EnergyMarket(admin, stablecoin, energy, new CarbonCredit(admin), 900, 2 days, 400);
        amm = new EnergyAmm(market, 30);
        address[3] memory actors = [makeAddr("alice"), makeAddr("bob"), makeAddr("carol")];
        handler = new EnergyAmmHandler(amm, market, actors);

        bytes32 minterRole = energy.MINTER_ROLE();
        vm.startPrank(admin);
        energy.grantRole(minterRole, admin);
        market.registerParticipant(address(amm));
        market.setAmm(address(amm));
        for (uint256 i; i < actors.length; ++i) {
            market.registerParticipant(actors[i]);
            energy.mint(actors[i], FUNDS);
            stablecoin.mint(actors[i], FUNDS);
        }
        vm.stopPrank();
        // Half of each actor's tokens start in its vault, the rest in its wallet for the handler's deposits.
        for (uint256 i; i < actors.length; ++i) {
            vm.startPrank(actors[i]);
            energy.approve(address(market), FUNDS / 2);
            stablecoin.approve(address(market), FUNDS / 2);
            market.deposit(IEnergyMarket.Asset.EnergyCredit, FUNDS / 2);
            market.deposit(IEnergyMarket.Asset.Stablecoin, FUNDS / 2);
            vm.stopPrank();
        }
        targetContract(address(handler));
    }

    function invariant_KNeverDecreasesAcrossSwap() public view {
        assertEq(handler.kDecreases(), 0, "a swap lowered k");
    }

    function invariant_ShareValueNeverDecreases() public view {
        assertEq(handler.shareValueDecreases(), 0, "k per squared share fell");
    }

    /// @dev The pool's own record of its reserves is its vault balances in the market.
    function invariant_ReservesMirrorPoolVault() public view {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        IEnergyMarket.Balances memory vault = market.balancesOf(address(amm));
        assertEq(vault.creditsWh, reserveCredits, "credits");
        assertEq(vault.stablecoin, reserveStable, "stablecoin");
        assertEq(energy.balanceOf(address(amm)), 0, "the pool holds credit tokens");
        assertEq(stablecoin.balanceOf(address(amm)), 0, "the pool holds stablecoin tokens");
    }

    /// @dev Swaps and liquidity changes move no token: the market holds exactly the vault balances, the
    /// pool's included, and exactly what was deposited less what was withdrawn.
    function invariant_MarketTokensEqualVaults() public view {
        IEnergyMarket.Balances memory vaults = market.balancesOf(address(amm));
        for (uint256 i; i < handler.ACTORS(); ++i) {
            IEnergyMarket.Balances memory vault = market.balancesOf(handler.actor(i));
            vaults.creditsWh += vault.creditsWh;
            vaults.stablecoin += vault.stablecoin;
        }
        assertEq(energy.balanceOf(address(market)), vaults.creditsWh, "credits held vs vaults");
        assertEq(stablecoin.balanceOf(address(market)), vaults.stablecoin, "stablecoin held vs vaults");
        uint256 initial = FUNDS / 2 * handler.ACTORS();
        assertEq(
            vaults.creditsWh,
            initial + handler.ghostCreditsDeposited() - handler.ghostCreditsWithdrawn(),
            "credits vs ghosts"
        );
        assertEq(
            vaults.stablecoin,
            initial + handler.ghostStableDeposited() - handler.ghostStableWithdrawn(),
            "stablecoin vs ghosts"
        );
    }

    function invariant_ShareSupplyConsistent() public view {
        uint256 supply = amm.totalSupply();
        assertEq(supply, handler.ghostSharesMinted() - handler.ghostSharesBurnt(), "supply vs ghosts");
        uint256 held = amm.balanceOf(LOCKED_SHARES_HOLDER);
        for (uint256 i; i < handler.ACTORS(); ++i) {
            held += amm.balanceOf(handler.actor(i));
        }
        assertEq(held, supply, "supply vs holders");
    }

    function invariant_LockedSharesKeepReservesPositive() public view {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        if (amm.totalSupply() == 0) {
            assertEq(reserveCredits, 0);
            assertEq(reserveStable, 0);
        } else {
            assertEq(amm.balanceOf(LOCKED_SHARES_HOLDER), amm.MINIMUM_LIQUIDITY());
            assertGt(reserveCredits, 0);
            assertGt(reserveStable, 0);
        }
    }

    /// @dev How much of each run the pool actually did (`-vv`): a run that never swapped proves nothing.
    function afterInvariant() public view {
        console.log("swaps", handler.swaps());
        console.log("shares minted", handler.ghostSharesMinted());
        console.log("shares burnt", handler.ghostSharesBurnt());
    }
}
