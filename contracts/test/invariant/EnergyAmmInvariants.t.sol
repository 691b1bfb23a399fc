// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../../src/EnergyAmm.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {EnergyAmmHandler} from "./handlers/EnergyAmmHandler.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The pool's accounting under random sequences of swaps (both ways, exact in and exact out),
/// deposits, withdrawals, donations, skims and time warps by three actors.
contract EnergyAmmInvariantsTest is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint256 internal constant FUNDS = 2 ** 50;
    address internal constant LOCKED_SHARES_HOLDER = address(0xdEaD);

    EnergyAmm internal amm;
    EnergyCredit internal energy;
    MockStablecoin internal stablecoin;
    EnergyAmmHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        stablecoin = new MockStablecoin(admin);
        energy = new EnergyCredit(admin);
        amm = new EnergyAmm(address(energy), address(stablecoin), 30);
        address[3] memory actors = [makeAddr("alice"), makeAddr("bob"), makeAddr("carol")];
        handler = new EnergyAmmHandler(amm, actors);

        bytes32 minterRole = energy.MINTER_ROLE();
        vm.prank(admin);
        energy.grantRole(minterRole, admin);
        for (uint256 i; i < actors.length; ++i) {
            vm.startPrank(admin);
            energy.mint(actors[i], FUNDS);
            stablecoin.mint(actors[i], FUNDS);
            vm.stopPrank();
            vm.startPrank(actors[i]);
            energy.approve(address(amm), type(uint256).max);
            stablecoin.approve(address(amm), type(uint256).max);
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

    function invariant_ReservesMatchBalances() public view {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(energy.balanceOf(address(amm)), reserveCredits + handler.ghostDonatedCredits(), "credits");
        assertEq(
            stablecoin.balanceOf(address(amm)), reserveStable + handler.ghostDonatedStable(), "stablecoin"
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
}
