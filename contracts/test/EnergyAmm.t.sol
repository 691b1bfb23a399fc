// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../src/EnergyAmm.sol";
import {IEnergyAmm} from "../src/interfaces/IEnergyAmm.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {AmmFixture} from "./utils/AmmFixture.sol";
import {ReentrantMarket} from "./utils/ReentrantMarket.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

contract EnergyAmmTest is AmmFixture {
    address internal carol = makeAddr("carol");

    function test_AddLiquidityFirstDepositLocksMinimum() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.AmmTransferred(
            alice, -SafeCast.toInt256(POOL_STABLE), -SafeCast.toInt256(POOL_CREDITS)
        );
        vm.expectEmit(address(amm));
        emit IEnergyAmm.LiquidityAdded(alice, POOL_CREDITS, POOL_STABLE, 15_811_388 - 1000);
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);

        // sqrt(1e6 * 250e6) = 15,811,388.3
        assertEq(shares, 15_811_388 - 1000);
        assertEq(amm.balanceOf(alice), shares);
        assertEq(amm.balanceOf(address(0xdEaD)), amm.MINIMUM_LIQUIDITY());
        assertEq(amm.totalSupply(), 15_811_388);
        (uint256 reserveCredits, uint256 reserveStable, uint32 timestamp) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS);
        assertEq(reserveStable, POOL_STABLE);
        assertEq(timestamp, T0);
        // The reserves are the pool's vault balances, taken from alice's.
        assertEq(_vault(address(amm)).creditsWh, POOL_CREDITS);
        assertEq(_vault(address(amm)).stablecoin, POOL_STABLE);
        assertEq(_vault(alice).creditsWh, HOLDINGS_CREDITS - POOL_CREDITS);
        assertEq(_vault(alice).stablecoin, HOLDINGS_STABLE - POOL_STABLE);
    }

    function test_AddLiquidityTakesPoolRatioWhenStableOffered() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 supply = amm.totalSupply();

        vm.prank(bob);
        (uint256 credits, uint256 stable, uint256 shares) =
            amm.addLiquidity(1000, 1e6, 1000, 0, block.timestamp);

        // 1 kWh is worth 0.25 $: only that much stablecoin leaves the vault.
        assertEq(credits, 1000);
        assertEq(stable, 250_000);
        assertEq(shares, supply * 1000 / POOL_CREDITS);
        assertEq(_vault(bob).stablecoin, HOLDINGS_STABLE - 250_000);
        assertEq(_vault(bob).creditsWh, HOLDINGS_CREDITS - 1000);
    }

    function test_AddLiquidityTakesPoolRatioWhenCreditsOffered() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(bob);
        (uint256 credits, uint256 stable,) = amm.addLiquidity(1_000_000, 1e6, 0, 1e6, block.timestamp);

        assertEq(credits, 4000);
        assertEq(stable, 1e6);
    }

    function test_AddLiquidityRoundsCounterpartUp() public {
        // 3 Wh against 1 base unit: 10 Wh are worth 3.33 base units, rounded up to 4.
        _seed(3_000_000, 1_000_000);
        vm.prank(bob);
        (uint256 credits, uint256 stable,) = amm.addLiquidity(10, 100, 0, 0, block.timestamp);
        assertEq(credits, 10);
        assertEq(stable, 4);
    }

    function test_RemoveLiquidityPaysProRataRoundedDownIntoVault() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 supply = amm.totalSupply();
        uint256 half = shares / 2;
        uint256 credits = half * POOL_CREDITS / supply;
        uint256 stable = half * POOL_STABLE / supply;

        vm.expectEmit(address(market));
        emit IEnergyMarket.AmmTransferred(alice, SafeCast.toInt256(stable), SafeCast.toInt256(credits));
        vm.expectEmit(address(amm));
        emit IEnergyAmm.LiquidityRemoved(alice, credits, stable, half);
        vm.prank(alice);
        (uint256 creditsOut, uint256 stableOut) = amm.removeLiquidity(half, 0, 0, block.timestamp);

        assertEq(creditsOut, credits);
        assertEq(stableOut, stable);
        assertEq(_vault(alice).creditsWh, HOLDINGS_CREDITS - POOL_CREDITS + credits);
        assertEq(_vault(alice).stablecoin, HOLDINGS_STABLE - POOL_STABLE + stable);
        assertEq(amm.balanceOf(alice), shares - half);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS - credits);
        assertEq(reserveStable, POOL_STABLE - stable);
        assertEq(_vault(address(amm)).creditsWh, reserveCredits);
        assertEq(_vault(address(amm)).stablecoin, reserveStable);
    }

    function test_RemoveAllSharesLeavesLockedReserves() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(alice);
        amm.removeLiquidity(shares, 0, 0, block.timestamp);

        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertGt(reserveCredits, 0);
        assertGt(reserveStable, 0);
        assertEq(amm.totalSupply(), amm.MINIMUM_LIQUIDITY());
    }

    /// @dev Shares are an ERC-20: whoever holds them redeems them, into its own vault.
    function test_TransferredSharesRedeemIntoHoldersVault() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(alice);
        assertTrue(amm.transfer(bob, shares));
        IEnergyMarket.Balances memory before = _vault(bob);

        vm.prank(bob);
        (uint256 credits, uint256 stable) = amm.removeLiquidity(shares, 0, 0, block.timestamp);

        assertEq(_vault(bob).creditsWh, before.creditsWh + credits);
        assertEq(_vault(bob).stablecoin, before.stablecoin + stable);
    }

    function test_SwapExactInBuysCreditsWithStable() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        // 2.5 $ buys a little under 10 kWh: fee and price impact.
        uint256 expected = uint256(2.5e6) * 9970 * POOL_CREDITS / (POOL_STABLE * 10_000 + 2.5e6 * 9970);
        assertEq(amm.getAmountOut(false, 2.5e6), expected);
        uint256 tokensStable = stablecoin.balanceOf(address(market));
        uint256 tokensCredits = energy.balanceOf(address(market));

        vm.expectEmit(address(market));
        emit IEnergyMarket.AmmTransferred(bob, -2.5e6, SafeCast.toInt256(expected));
        vm.expectEmit(address(amm));
        emit IEnergyAmm.Swapped(bob, false, 2.5e6, expected);
        vm.prank(bob);
        uint256 out = amm.swapExactIn(false, 2.5e6, expected, block.timestamp);

        assertEq(out, expected);
        assertEq(out, 9871);
        assertEq(_vault(bob).creditsWh, HOLDINGS_CREDITS + expected);
        assertEq(_vault(bob).stablecoin, HOLDINGS_STABLE - 2.5e6);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS - out);
        assertEq(reserveStable, POOL_STABLE + 2.5e6);
        assertEq(_vault(address(amm)).creditsWh, reserveCredits);
        assertEq(_vault(address(amm)).stablecoin, reserveStable);
        // Vault to vault: no token moved.
        assertEq(stablecoin.balanceOf(address(market)), tokensStable);
        assertEq(energy.balanceOf(address(market)), tokensCredits);
        assertEq(stablecoin.balanceOf(address(amm)), 0);
        assertEq(energy.balanceOf(address(amm)), 0);
    }

    function test_SwapExactInSellsCredits() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(bob);
        uint256 out = amm.swapExactIn(true, 10_000, 1, block.timestamp);

        assertEq(out, uint256(10_000) * 9970 * POOL_STABLE / (POOL_CREDITS * 10_000 + 10_000 * 9970));
        assertEq(_vault(bob).stablecoin, HOLDINGS_STABLE + out);
        assertEq(_vault(bob).creditsWh, HOLDINGS_CREDITS - 10_000);
        assertEq(_vault(address(amm)).creditsWh, POOL_CREDITS + 10_000);
    }

    function test_SwapExactOutBuysExactCredits() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 quoted = amm.getAmountIn(false, 10_000);

        vm.expectEmit(address(amm));
        emit IEnergyAmm.Swapped(bob, false, quoted, 10_000);
        vm.prank(bob);
        uint256 paid = amm.swapExactOut(false, 10_000, quoted, block.timestamp);

        assertEq(paid, quoted);
        assertEq(_vault(bob).creditsWh, HOLDINGS_CREDITS + 10_000);
        assertEq(_vault(bob).stablecoin, HOLDINGS_STABLE - paid);
        assertEq(paid, _ceilDiv(POOL_STABLE * 10_000 * 10_000, (POOL_CREDITS - 10_000) * 9970));
    }

    function test_SwapExactOutSellsCreditsForExactStable() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 quoted = amm.getAmountIn(true, 1e6);
        vm.prank(bob);
        uint256 paid = amm.swapExactOut(true, 1e6, quoted, block.timestamp);

        assertEq(paid, _ceilDiv(POOL_CREDITS * 1e6 * 10_000, (POOL_STABLE - 1e6) * 9970));
        assertEq(_vault(bob).stablecoin, HOLDINGS_STABLE + 1e6);
        assertEq(_vault(bob).creditsWh, HOLDINGS_CREDITS - paid);
    }

    /// @dev A participant who keeps only stablecoin in the vault buys credits, then withdraws them.
    function test_BuyThenWithdrawCredits() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        _fund(carol, 0, 3e6);
        vm.startPrank(carol);
        uint256 out = amm.swapExactIn(false, 3e6, 1, block.timestamp);
        market.withdraw(IEnergyMarket.Asset.EnergyCredit, out);
        vm.stopPrank();

        assertEq(energy.balanceOf(carol), out);
        assertEq(_vault(carol).stablecoin, 0);
        assertEq(_vault(carol).creditsWh, 0);
    }

    function test_SpotPriceInStablePerKwh() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        assertEq(amm.spotPrice(), 250_000);
        vm.prank(bob);
        amm.swapExactIn(false, 10e6, 0, block.timestamp);
        assertGt(amm.spotPrice(), 250_000);
    }

    function test_FeesAccrueToLiquidityProviders() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 kBefore = _k();
        for (uint256 i; i < 5; ++i) {
            vm.startPrank(bob);
            uint256 bought = amm.swapExactIn(false, 20e6, 0, block.timestamp);
            amm.swapExactIn(true, bought, 0, block.timestamp);
            vm.stopPrank();
        }
        assertGt(_k(), kBefore);

        vm.prank(alice);
        (uint256 credits, uint256 stable) = amm.removeLiquidity(shares, 0, 0, block.timestamp);
        uint256 supply = shares + amm.MINIMUM_LIQUIDITY();
        // More value out than alice's part of the deposit (each part rounded down first, as the pool pays
        // it): round trips paid fees.
        // forge-lint: disable-next-line(divide-before-multiply)
        assertGt(credits * stable, (POOL_CREDITS * shares / supply) * (POOL_STABLE * shares / supply));
    }

    function test_TwapAccumulatesOncePerBlock() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.warp(T0 + 100);
        vm.prank(bob);
        amm.swapExactIn(false, 1e6, 0, block.timestamp);

        (uint128 creditCumulative, uint128 stableCumulative, uint32 timestamp) = amm.priceCumulativeLast();
        // 100 s at 250 base units per Wh, and at 4 Wh per base unit, in Q64.64.
        assertEq(creditCumulative, (POOL_STABLE << 64) / POOL_CREDITS * 100);
        assertEq(stableCumulative, (POOL_CREDITS << 64) / POOL_STABLE * 100);
        assertEq(timestamp, T0 + 100);

        // A second trade in the same block does not accumulate again.
        vm.prank(bob);
        amm.swapExactIn(false, 1e6, 0, block.timestamp);
        (uint128 creditAgain, uint128 stableAgain,) = amm.priceCumulativeLast();
        assertEq(creditAgain, creditCumulative);
        assertEq(stableAgain, stableCumulative);

        // A consumer sampling 50 s later sees the current price carried forward.
        vm.warp(T0 + 150);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        (uint128 creditNow, uint128 stableNow, uint32 now32) = amm.currentCumulativePrices();
        assertEq(now32, T0 + 150);
        assertEq(creditNow - creditCumulative, (reserveStable << 64) / reserveCredits * 50);
        assertEq(stableNow - stableCumulative, (reserveCredits << 64) / reserveStable * 50);
        // TWAP over [T0 + 100, T0 + 150], back in base units per kWh.
        assertEq((uint256(creditNow - creditCumulative) / 50 * 1000) >> 64, amm.spotPrice());
    }

    function test_RevertWhen_DeadlinePassed() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        amm.swapExactIn(false, 1e6, 0, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        amm.swapExactOut(false, 1000, type(uint256).max, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        amm.addLiquidity(1000, 1e6, 0, 0, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        amm.removeLiquidity(1, 0, 0, T0 - 1);
        vm.stopPrank();
    }

    function test_RevertWhen_AmountZero() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.startPrank(bob);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.swapExactIn(false, 0, 0, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.swapExactOut(false, 0, type(uint256).max, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.addLiquidity(0, 1e6, 0, 0, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.removeLiquidity(0, 0, 0, block.timestamp);
        vm.stopPrank();
    }

    function test_RevertWhen_OutputBelowMinimum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 out = amm.getAmountOut(false, 1e6);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, out, out + 1));
        vm.prank(bob);
        amm.swapExactIn(false, 1e6, out + 1, block.timestamp);
    }

    function test_RevertWhen_OutputRoundsToZero() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        // One base unit of stablecoin is worth 1/250 Wh.
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, 0, 0));
        vm.prank(bob);
        amm.swapExactIn(false, 1, 0, block.timestamp);
    }

    function test_RevertWhen_InputAboveMaximum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 amountIn = amm.getAmountIn(false, 1000);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmExcessiveInput.selector, amountIn, amountIn - 1)
        );
        vm.prank(bob);
        amm.swapExactOut(false, 1000, amountIn - 1, block.timestamp);
    }

    function test_RevertWhen_PoolEmpty() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientLiquidity.selector, 0, 0));
        vm.prank(bob);
        amm.swapExactIn(false, 1e6, 0, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientLiquidity.selector, 0, 0));
        amm.spotPrice();
    }

    function test_RevertWhen_OutputNotBelowReserve() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmInsufficientLiquidity.selector, POOL_CREDITS, POOL_CREDITS
            )
        );
        vm.prank(bob);
        amm.swapExactOut(false, POOL_CREDITS, type(uint256).max, block.timestamp);
    }

    function test_RevertWhen_ReserveWouldOverflow() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 tooMuchStable = uint256(type(uint96).max) - POOL_STABLE + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmReserveOverflow.selector, POOL_STABLE, tooMuchStable)
        );
        vm.prank(bob);
        amm.swapExactIn(false, tooMuchStable, 0, block.timestamp);

        uint256 tooMuchCredits = uint256(type(uint56).max) - POOL_CREDITS + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmReserveOverflow.selector, POOL_CREDITS, tooMuchCredits)
        );
        vm.prank(bob);
        amm.addLiquidity(tooMuchCredits, 1e6, 0, 0, block.timestamp);
    }

    function test_RevertWhen_FirstDepositTooSmall() public {
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientInitialLiquidity.selector, 1000, 1000)
        );
        vm.prank(alice);
        amm.addLiquidity(1000, 1000, 0, 0, block.timestamp);
    }

    function test_RevertWhen_DepositBelowMinimum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmBelowMinimum.selector, IEnergyMarket.Asset.Stablecoin, 250_000, 300_000
            )
        );
        vm.prank(bob);
        amm.addLiquidity(1000, 1e6, 0, 300_000, block.timestamp);
    }

    function test_RevertWhen_DepositWorthNoShare() public {
        // 1 share is worth 1,000 Wh here; 1 Wh buys none.
        _seed(1e12, 1e6);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmZeroShares.selector, 1, 1));
        vm.prank(bob);
        amm.addLiquidity(1, 1, 0, 0, block.timestamp);
    }

    function test_RevertWhen_WithdrawalBelowMinimum() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 credits = shares * POOL_CREDITS / amm.totalSupply();
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmBelowMinimum.selector,
                IEnergyMarket.Asset.EnergyCredit,
                credits,
                credits + 1
            )
        );
        vm.prank(alice);
        amm.removeLiquidity(shares, credits + 1, 0, block.timestamp);
    }

    function test_RevertWhen_BurnPaysNothing() public {
        _seed(1e12, 1e6);
        // 1 share of 1e9 is worth 1,000 Wh but 0.001 stablecoin base units.
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientLiquidityBurned.selector, 1, 1000, 0)
        );
        vm.prank(alice);
        amm.removeLiquidity(1, 0, 0, block.timestamp);
    }

    /// @dev The market refuses a swap the caller's vault does not cover, and nothing of the pool moves.
    function test_RevertWhen_VaultBalanceShort() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        _fund(carol, 10, 1e6);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();

        vm.startPrank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                carol,
                IEnergyMarket.Asset.Stablecoin,
                2e6,
                1e6
            )
        );
        amm.swapExactIn(false, 2e6, 0, block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                carol,
                IEnergyMarket.Asset.EnergyCredit,
                1000,
                10
            )
        );
        amm.swapExactIn(true, 1000, 0, block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                carol,
                IEnergyMarket.Asset.EnergyCredit,
                1000,
                10
            )
        );
        amm.addLiquidity(1000, 1e6, 0, 0, block.timestamp);
        vm.stopPrank();

        (uint256 creditsAfter, uint256 stableAfter,) = amm.getReserves();
        assertEq(creditsAfter, reserveCredits);
        assertEq(stableAfter, reserveStable);
    }

    function test_RevertWhen_CallerNotParticipant() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, carol));
        vm.prank(carol);
        amm.swapExactIn(false, 1e6, 0, block.timestamp);
    }

    /// @dev A pool the market was not told about (`setAmm`) cannot move balances.
    function test_RevertWhen_PoolNotTheMarketsPool() public {
        EnergyAmm other = new EnergyAmm(market, FEE_BPS);
        vm.prank(admin);
        market.registerParticipant(address(other));
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNotAmm.selector, address(other)));
        vm.prank(alice);
        other.addLiquidity(POOL_CREDITS, POOL_STABLE, 0, 0, block.timestamp);
    }

    function test_RevertWhen_FeeAboveMaximum() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmFeeTooHigh.selector, 1001, 1000));
        new EnergyAmm(market, 1001);
    }

    function test_RevertWhen_MarketZero() public {
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroMarket.selector);
        new EnergyAmm(IEnergyMarket(address(0)), 30);
    }

    /// @dev The pool trusts no market: one that calls back into the pool is stopped by its lock.
    function test_RevertWhen_MarketReentersSwap() public {
        ReentrantMarket hostile = new ReentrantMarket();
        EnergyAmm pool = new EnergyAmm(IEnergyMarket(address(hostile)), 30);
        vm.prank(bob);
        pool.addLiquidity(1e9, 1e9, 0, 0, block.timestamp);

        hostile.arm(address(pool), abi.encodeCall(IEnergyAmm.swapExactIn, (true, 1e6, 0, block.timestamp)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(bob);
        pool.swapExactIn(false, 1e6, 0, block.timestamp);
    }

    function _ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
    }
}
