// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyAmm} from "../src/interfaces/IEnergyAmm.sol";
import {AmmFixture} from "./utils/AmmFixture.sol";

/// @notice Rounding favours the pool for every pool size and amount: a swap's output is the exact
/// rational output rounded down, its input the exact rational input rounded up, k never decreases, and
/// no round trip or deposit-and-withdrawal gives back more than was put in.
contract EnergyAmmFuzzTest is AmmFixture {
    uint256 internal constant MAX_AMOUNT = 2 ** 96;

    function testFuzz_SwapExactInRoundsOutputDown(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountIn,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        amountIn = bound(amountIn, 1, MAX_AMOUNT);
        uint256 kBefore = _k();
        uint256 amountOut = amm.getAmountOut(_token(creditsIn), amountIn);
        // The exact output is amountIn * 9970 * reserveOut / (reserveIn * 10000 + amountIn * 9970).
        uint256 scaledIn = amountIn * (10_000 - FEE_BPS);
        uint256 denominator = reserveIn * 10_000 + scaledIn;
        assertLe(amountOut * denominator, scaledIn * reserveOut, "output above the exact value");
        assertGt((amountOut + 1) * denominator, scaledIn * reserveOut, "output more than one unit short");

        vm.prank(bob);
        if (amountOut == 0) {
            // Paying something for nothing is refused, whatever the minimum.
            vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, 0, 0));
            amm.swapExactIn(_token(creditsIn), amountIn, 0, bob, block.timestamp);
            return;
        }
        assertEq(amm.swapExactIn(_token(creditsIn), amountIn, amountOut, bob, block.timestamp), amountOut);
        assertGe(_k(), kBefore, "k decreased");
    }

    function testFuzz_SwapExactOutRoundsInputUp(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountOut,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        // Up to half the reserve: the input stays far below the 2^112 a reserve can hold.
        amountOut = bound(amountOut, 1, reserveOut / 2);
        uint256 kBefore = _k();
        uint256 amountIn = amm.getAmountIn(_token(creditsIn), amountOut);
        // The exact input is reserveIn * amountOut * 10000 / ((reserveOut - amountOut) * 9970).
        uint256 numerator = reserveIn * amountOut * 10_000;
        uint256 denominator = (reserveOut - amountOut) * (10_000 - FEE_BPS);
        assertGe(amountIn * denominator, numerator, "input below the exact value");
        assertLt((amountIn - 1) * denominator, numerator, "input more than one unit over");

        vm.prank(bob);
        assertEq(amm.swapExactOut(_token(creditsIn), amountOut, amountIn, bob, block.timestamp), amountIn);
        assertGe(_k(), kBefore, "k decreased");
    }

    function testFuzz_RoundTripNeverProfits(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 amountIn,
        bool creditsIn
    ) public {
        (uint256 reserveIn, uint256 reserveOut) = _seedFuzzed(reserveCredits, reserveStable, creditsIn);
        // At least what buys one base unit: amountIn * 9970 * (reserveOut - 1) >= reserveIn * 10000.
        amountIn =
            bound(amountIn, reserveIn * 10_000 / ((10_000 - FEE_BPS) * (reserveOut - 1)) + 1, MAX_AMOUNT);
        address tokenIn = _token(creditsIn);
        uint256 amountOut = amm.getAmountOut(tokenIn, amountIn);
        vm.startPrank(bob);
        amm.swapExactIn(tokenIn, amountIn, 0, bob, block.timestamp);
        uint256 back = amm.getAmountOut(_token(!creditsIn), amountOut);
        vm.stopPrank();
        assertLe(back, amountIn, "round trip gained");
    }

    function testFuzz_DepositThenWithdrawNeverProfits(
        uint256 reserveCredits,
        uint256 reserveStable,
        uint256 creditsDesired,
        uint256 stableDesired
    ) public {
        _seedFuzzed(reserveCredits, reserveStable, true);
        creditsDesired = bound(creditsDesired, 1, MAX_AMOUNT);
        stableDesired = bound(stableDesired, 1, MAX_AMOUNT);
        vm.startPrank(bob);
        try amm.addLiquidity(creditsDesired, stableDesired, 0, 0, bob, block.timestamp) returns (
            uint256 credits, uint256 stable, uint256 shares
        ) {
            assertLe(credits, creditsDesired);
            assertLe(stable, stableDesired);
            try amm.removeLiquidity(shares, 0, 0, bob, block.timestamp) returns (
                uint256 creditsBack, uint256 stableBack
            ) {
                assertLe(creditsBack, credits, "credits gained");
                assertLe(stableBack, stable, "stablecoin gained");
            } catch {
                // The shares are worth a zero amount of one token: burning them pays nothing back.
            }
        } catch {
            // Worth no share: nothing was taken.
        }
        vm.stopPrank();
    }

    /// @dev Seeds the pool with bounded reserves; returns them oriented for a swap of `creditsIn`.
    function _seedFuzzed(uint256 reserveCredits, uint256 reserveStable, bool creditsIn)
        internal
        returns (uint256 reserveIn, uint256 reserveOut)
    {
        reserveCredits = bound(reserveCredits, 1100, MAX_AMOUNT);
        reserveStable = bound(reserveStable, 1100, MAX_AMOUNT);
        _seed(reserveCredits, reserveStable);
        return creditsIn ? (reserveCredits, reserveStable) : (reserveStable, reserveCredits);
    }

    function _token(bool credits) internal view returns (address) {
        return credits ? address(energy) : address(stablecoin);
    }
}
