// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyAmm} from "../src/interfaces/IEnergyAmm.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {AmmFixture} from "./utils/AmmFixture.sol";

/// @notice Rounding favours the pool for every pool size and amount: a swap's output is the exact
/// rational output rounded down, its input the exact rational input rounded up, k never decreases, the
/// vault balances move by exactly the amounts the pool reports, and no round trip or
/// deposit-and-withdrawal gives back more than was put in.
contract EnergyAmmFuzzTest is AmmFixture {
    /// @dev The largest reserve or amount of each asset the tests use: a quarter of a vault's width, so a
    /// reserve plus an amount stays within it and below what bob holds.
    uint256 internal constant MAX_CREDITS = 2 ** 54;
    uint256 internal constant MAX_STABLE = 2 ** 94;

    function testFuzz_SwapExactInRoundsOutputDown(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountIn,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        amountIn = bound(amountIn, 1, _max(creditsIn));
        uint256 kBefore = _k();
        uint256 amountOut = amm.getAmountOut(creditsIn, amountIn);
        // The exact output is amountIn * 9970 * reserveOut / (reserveIn * 10000 + amountIn * 9970).
        uint256 scaledIn = amountIn * (10_000 - FEE_BPS);
        uint256 denominator = reserveIn * 10_000 + scaledIn;
        assertLe(amountOut * denominator, scaledIn * reserveOut, "output above the exact value");
        assertGt((amountOut + 1) * denominator, scaledIn * reserveOut, "output more than one unit short");

        IEnergyMarket.Balances memory before = _vault(bob);
        vm.prank(bob);
        if (amountOut == 0) {
            // Paying something for nothing is refused, whatever the minimum.
            vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, 0, 0));
            amm.swapExactIn(creditsIn, amountIn, 0, block.timestamp);
            return;
        }
        assertEq(amm.swapExactIn(creditsIn, amountIn, amountOut, block.timestamp), amountOut);
        assertGe(_k(), kBefore, "k decreased");
        _assertVaultMoved(before, creditsIn, amountIn, amountOut);
    }

    function testFuzz_SwapExactOutRoundsInputUp(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountOut,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        // Up to half the reserve: the input stays within what bob holds and a reserve can take.
        amountOut = bound(amountOut, 1, reserveOut / 2);
        uint256 kBefore = _k();
        uint256 amountIn = amm.getAmountIn(creditsIn, amountOut);
        // The exact input is reserveIn * amountOut * 10000 / ((reserveOut - amountOut) * 9970).
        uint256 numerator = reserveIn * amountOut * 10_000;
        uint256 denominator = (reserveOut - amountOut) * (10_000 - FEE_BPS);
        assertGe(amountIn * denominator, numerator, "input below the exact value");
        assertLt((amountIn - 1) * denominator, numerator, "input more than one unit over");

        IEnergyMarket.Balances memory before = _vault(bob);
        vm.prank(bob);
        assertEq(amm.swapExactOut(creditsIn, amountOut, amountIn, block.timestamp), amountIn);
        assertGe(_k(), kBefore, "k decreased");
        _assertVaultMoved(before, creditsIn, amountIn, amountOut);
    }

    function testFuzz_RoundTripNeverProfits(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountIn,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        // At least what buys one base unit: amountIn * 9970 * (reserveOut - 1) >= reserveIn * 10000.
        amountIn = bound(
            amountIn, reserveIn * 10_000 / ((10_000 - FEE_BPS) * (reserveOut - 1)) + 1, _max(creditsIn)
        );
        uint256 amountOut = amm.getAmountOut(creditsIn, amountIn);
        vm.prank(bob);
        amm.swapExactIn(creditsIn, amountIn, 0, block.timestamp);
        uint256 back = amm.getAmountOut(!creditsIn, amountOut);
        assertLe(back, amountIn, "round trip gained");
    }

    function testFuzz_DepositThenWithdrawNeverProfits(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 creditsDesired,
        uint256 stableDesired
    ) public {
        _seedFuzzed(reserveCredits, reserveStable, true);
        creditsDesired = bound(creditsDesired, 1, MAX_CREDITS);
        stableDesired = bound(stableDesired, 1, MAX_STABLE);
        IEnergyMarket.Balances memory before = _vault(bob);
        vm.startPrank(bob);
        try amm.addLiquidity(creditsDesired, stableDesired, 0, 0, block.timestamp) returns (
            uint256 credits, uint256 stable, uint256 shares
        ) {
            assertLe(credits, creditsDesired);
            assertLe(stable, stableDesired);
            assertEq(_vault(bob).creditsWh, before.creditsWh - credits, "credits taken");
            assertEq(_vault(bob).stablecoin, before.stablecoin - stable, "stablecoin taken");
            try amm.removeLiquidity(shares, 0, 0, block.timestamp) returns (
                uint256 creditsBack, uint256 stableBack
            ) {
                assertLe(creditsBack, credits, "credits gained");
                assertLe(stableBack, stable, "stablecoin gained");
                assertEq(_vault(bob).creditsWh, before.creditsWh - credits + creditsBack, "credits paid");
                assertEq(_vault(bob).stablecoin, before.stablecoin - stable + stableBack, "stablecoin paid");
            } catch {
                // The shares are worth a zero amount of one asset: burning them pays nothing back.
            }
        } catch {
            // Worth no share: nothing was taken.
            assertEq(_vault(bob).creditsWh, before.creditsWh, "credits taken by a refused deposit");
        }
        vm.stopPrank();
    }

    /// @dev Seeds the pool with bounded reserves; returns them oriented for a swap of `creditsIn`.
    function _seedFuzzed(uint256 reserveCredits, uint256 reserveStable, bool creditsIn)
        internal
        returns (uint256 reserveIn, uint256 reserveOut)
    {
        reserveCredits = bound(reserveCredits, 1100, MAX_CREDITS);
        reserveStable = bound(reserveStable, 1100, MAX_STABLE);
        _seed(reserveCredits, reserveStable);
        return creditsIn ? (reserveCredits, reserveStable) : (reserveStable, reserveCredits);
    }

    /// @dev bob's vault moved by exactly the swap's amounts, and the pool's vault still mirrors its
    /// reserves.
    function _assertVaultMoved(
        IEnergyMarket.Balances memory before,
        bool creditsIn,
        uint256 amountIn,
        uint256 amountOut
    ) internal view {
        IEnergyMarket.Balances memory afterSwap = _vault(bob);
        if (creditsIn) {
            assertEq(afterSwap.creditsWh, before.creditsWh - amountIn, "credits paid");
            assertEq(afterSwap.stablecoin, before.stablecoin + amountOut, "stablecoin received");
        } else {
            assertEq(afterSwap.stablecoin, before.stablecoin - amountIn, "stablecoin paid");
            assertEq(afterSwap.creditsWh, before.creditsWh + amountOut, "credits received");
        }
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(_vault(address(amm)).creditsWh, reserveCredits, "pool credits");
        assertEq(_vault(address(amm)).stablecoin, reserveStable, "pool stablecoin");
    }

    function _max(bool credits) internal pure returns (uint256) {
        return credits ? MAX_CREDITS : MAX_STABLE;
    }
}
