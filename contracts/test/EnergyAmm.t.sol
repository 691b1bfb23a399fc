// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../src/EnergyAmm.sol";
import {IEnergyAmm} from "../src/interfaces/IEnergyAmm.sol";
import {AmmFixture} from "./utils/AmmFixture.sol";
import {ReentrantToken} from "./utils/ReentrantToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice A contract that holds stablecoin and buys credits for others, as the EnergyMarket will.
contract Buyer {
    function buy(IEnergyAmm amm, uint256 amountIn, address to) external returns (uint256) {
        IERC20(amm.STABLECOIN()).approve(address(amm), amountIn);
        return amm.swapExactIn(amm.STABLECOIN(), amountIn, 1, to, block.timestamp);
    }
}

contract EnergyAmmTest is AmmFixture {
    address internal carol = makeAddr("carol");

    function test_AddLiquidityFirstDepositLocksMinimum() public {
        vm.expectEmit(address(amm));
        emit IEnergyAmm.LiquidityAdded(alice, alice, POOL_CREDITS, POOL_STABLE, 15_811_388 - 1000);
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
        assertEq(energy.balanceOf(address(amm)), POOL_CREDITS);
        assertEq(stablecoin.balanceOf(address(amm)), POOL_STABLE);
    }

    function test_AddLiquidityTakesPoolRatioWhenStableOffered() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 supply = amm.totalSupply();
        uint256 stableBefore = stablecoin.balanceOf(bob);

        vm.prank(bob);
        (uint256 credits, uint256 stable, uint256 shares) =
            amm.addLiquidity(1000, 1e6, 1000, 0, bob, block.timestamp);

        // 1 kWh is worth 0.25 $: only that much stablecoin is pulled.
        assertEq(credits, 1000);
        assertEq(stable, 250_000);
        assertEq(shares, supply * 1000 / POOL_CREDITS);
        assertEq(stableBefore - stablecoin.balanceOf(bob), 250_000);
    }

    function test_AddLiquidityTakesPoolRatioWhenCreditsOffered() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(bob);
        (uint256 credits, uint256 stable,) = amm.addLiquidity(1_000_000, 1e6, 0, 1e6, bob, block.timestamp);

        assertEq(credits, 4000);
        assertEq(stable, 1e6);
    }

    function test_AddLiquidityRoundsCounterpartUp() public {
        // 3 Wh against 1 base unit: 10 Wh are worth 3.33 base units, rounded up to 4.
        _seed(3_000_000, 1_000_000);
        vm.prank(bob);
        (uint256 credits, uint256 stable,) = amm.addLiquidity(10, 100, 0, 0, bob, block.timestamp);
        assertEq(credits, 10);
        assertEq(stable, 4);
    }

    function test_RemoveLiquidityPaysProRataRoundedDown() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 supply = amm.totalSupply();
        uint256 half = shares / 2;

        vm.expectEmit(address(amm));
        emit IEnergyAmm.LiquidityRemoved(
            alice, carol, half * POOL_CREDITS / supply, half * POOL_STABLE / supply, half
        );
        vm.prank(alice);
        (uint256 credits, uint256 stable) = amm.removeLiquidity(half, 0, 0, carol, block.timestamp);

        assertEq(credits, half * POOL_CREDITS / supply);
        assertEq(stable, half * POOL_STABLE / supply);
        assertEq(energy.balanceOf(carol), credits);
        assertEq(stablecoin.balanceOf(carol), stable);
        assertEq(amm.balanceOf(alice), shares - half);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS - credits);
        assertEq(reserveStable, POOL_STABLE - stable);
    }

    function test_RemoveAllSharesLeavesLockedReserves() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        vm.prank(alice);
        amm.removeLiquidity(shares, 0, 0, alice, block.timestamp);

        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertGt(reserveCredits, 0);
        assertGt(reserveStable, 0);
        assertEq(amm.totalSupply(), amm.MINIMUM_LIQUIDITY());
    }

    function test_SwapExactInBuysCreditsWithStable() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        // 2.5 $ buys a little under 10 kWh: fee and price impact.
        uint256 expected = uint256(2.5e6) * 9970 * POOL_CREDITS / (POOL_STABLE * 10_000 + 2.5e6 * 9970);
        assertEq(amm.getAmountOut(address(stablecoin), 2.5e6), expected);

        vm.expectEmit(address(amm));
        emit IEnergyAmm.Swapped(bob, carol, address(stablecoin), 2.5e6, expected);
        vm.prank(bob);
        uint256 out = amm.swapExactIn(address(stablecoin), 2.5e6, expected, carol, block.timestamp);

        assertEq(out, expected);
        assertEq(out, 9871);
        assertEq(energy.balanceOf(carol), expected);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS - out);
        assertEq(reserveStable, POOL_STABLE + 2.5e6);
    }

    function test_SwapExactInSellsCredits() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 stableBefore = stablecoin.balanceOf(bob);
        vm.prank(bob);
        uint256 out = amm.swapExactIn(address(energy), 10_000, 1, bob, block.timestamp);

        assertEq(out, uint256(10_000) * 9970 * POOL_STABLE / (POOL_CREDITS * 10_000 + 10_000 * 9970));
        assertEq(stablecoin.balanceOf(bob) - stableBefore, out);
        assertEq(energy.balanceOf(address(amm)), POOL_CREDITS + 10_000);
    }

    function test_SwapExactOutBuysExactCredits() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 quoted = amm.getAmountIn(address(stablecoin), 10_000);
        uint256 stableBefore = stablecoin.balanceOf(bob);

        vm.prank(bob);
        uint256 paid = amm.swapExactOut(address(stablecoin), 10_000, quoted, carol, block.timestamp);

        assertEq(paid, quoted);
        assertEq(energy.balanceOf(carol), 10_000);
        assertEq(stableBefore - stablecoin.balanceOf(bob), paid);
        assertEq(paid, _ceilDiv(POOL_STABLE * 10_000 * 10_000, (POOL_CREDITS - 10_000) * 9970));
    }

    function test_SwapByContractPaysFromItsOwnBalance() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        Buyer buyer = new Buyer();
        vm.prank(admin);
        stablecoin.mint(address(buyer), 1e6);

        uint256 out = buyer.buy(amm, 1e6, carol);

        assertGt(out, 0);
        assertEq(energy.balanceOf(carol), out);
        assertEq(stablecoin.balanceOf(address(buyer)), 0);
    }

    function test_SpotPriceInStablePerKwh() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        assertEq(amm.spotPrice(), 250_000);
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 10e6, 0, bob, block.timestamp);
        assertGt(amm.spotPrice(), 250_000);
    }

    function test_FeesAccrueToLiquidityProviders() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 kBefore = _k();
        for (uint256 i; i < 5; ++i) {
            vm.startPrank(bob);
            uint256 bought = amm.swapExactIn(address(stablecoin), 20e6, 0, bob, block.timestamp);
            amm.swapExactIn(address(energy), bought, 0, bob, block.timestamp);
            vm.stopPrank();
        }
        assertGt(_k(), kBefore);

        vm.prank(alice);
        (uint256 credits, uint256 stable) = amm.removeLiquidity(shares, 0, 0, alice, block.timestamp);
        uint256 supply = shares + amm.MINIMUM_LIQUIDITY();
        // More value out than alice's part of the deposit: round trips paid fees.
        assertGt(credits * stable, (POOL_CREDITS * shares / supply) * (POOL_STABLE * shares / supply));
    }

    function test_TwapAccumulatesOncePerBlock() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.warp(T0 + 100);
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1e6, 0, bob, block.timestamp);

        (uint128 creditCumulative, uint128 stableCumulative, uint32 timestamp) = amm.priceCumulativeLast();
        // 100 s at 250 base units per Wh, and at 4 Wh per base unit, in Q64.64.
        assertEq(creditCumulative, (POOL_STABLE << 64) / POOL_CREDITS * 100);
        assertEq(stableCumulative, (POOL_CREDITS << 64) / POOL_STABLE * 100);
        assertEq(timestamp, T0 + 100);

        // A second trade in the same block does not accumulate again.
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1e6, 0, bob, block.timestamp);
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

    function test_DonationIsNotPricedAndSkimmed() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 quote = amm.getAmountOut(address(stablecoin), 1e6);
        vm.prank(bob);
        stablecoin.transfer(address(amm), 100e6);

        assertEq(amm.getAmountOut(address(stablecoin), 1e6), quote);
        assertEq(amm.spotPrice(), 250_000);

        vm.expectEmit(address(amm));
        emit IEnergyAmm.Skimmed(carol, carol, 0, 100e6);
        vm.prank(carol);
        amm.skim(carol);
        assertEq(stablecoin.balanceOf(carol), 100e6);
        assertEq(stablecoin.balanceOf(address(amm)), POOL_STABLE);
    }

    function test_DonationBeforeFirstDepositDoesNotInflateShares() public {
        // The classic attack: donate to an empty pool so a later depositor's shares round to nothing.
        vm.prank(bob);
        energy.transfer(address(amm), 1e12);
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        assertEq(shares, 15_811_388 - 1000);
        (uint256 reserveCredits,,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS);
    }

    function test_RevertWhen_DeadlinePassed() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1e6, 0, bob, T0 - 1);

        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, T0 - 1, T0));
        vm.prank(bob);
        amm.addLiquidity(1000, 1e6, 0, 0, bob, T0 - 1);
    }

    function test_RevertWhen_SwapAmountZero() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.startPrank(bob);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.swapExactIn(address(stablecoin), 0, 0, bob, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.swapExactOut(address(stablecoin), 0, type(uint256).max, bob, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.addLiquidity(0, 1e6, 0, 0, bob, block.timestamp);
        vm.expectRevert(IEnergyAmm.EnergyAmmZeroAmount.selector);
        amm.removeLiquidity(0, 0, 0, bob, block.timestamp);
        vm.stopPrank();
    }

    function test_RevertWhen_TokenUnknown() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmUnknownToken.selector, address(amm)));
        vm.prank(bob);
        amm.swapExactIn(address(amm), 1e6, 0, bob, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmUnknownToken.selector, address(0)));
        amm.getAmountIn(address(0), 1);
    }

    function test_RevertWhen_OutputBelowMinimum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 out = amm.getAmountOut(address(stablecoin), 1e6);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, out, out + 1));
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1e6, out + 1, bob, block.timestamp);
    }

    function test_RevertWhen_OutputRoundsToZero() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        // One base unit of stablecoin is worth 1/250 Wh.
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientOutput.selector, 0, 0));
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1, 0, bob, block.timestamp);
    }

    function test_RevertWhen_InputAboveMaximum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 amountIn = amm.getAmountIn(address(stablecoin), 1000);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmExcessiveInput.selector, amountIn, amountIn - 1)
        );
        vm.prank(bob);
        amm.swapExactOut(address(stablecoin), 1000, amountIn - 1, bob, block.timestamp);
    }

    function test_RevertWhen_PoolEmpty() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientLiquidity.selector, 0, 0));
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), 1e6, 0, bob, block.timestamp);
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
        amm.swapExactOut(address(stablecoin), POOL_CREDITS, type(uint256).max, bob, block.timestamp);
    }

    function test_RevertWhen_ReserveWouldOverflow() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        uint256 tooMuch = uint256(type(uint112).max) - POOL_STABLE + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmReserveOverflow.selector, POOL_STABLE, tooMuch)
        );
        vm.prank(bob);
        amm.swapExactIn(address(stablecoin), tooMuch, 0, bob, block.timestamp);
    }

    function test_RevertWhen_FirstDepositTooSmall() public {
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientInitialLiquidity.selector, 1000, 1000)
        );
        vm.prank(alice);
        amm.addLiquidity(1000, 1000, 0, 0, alice, block.timestamp);
    }

    function test_RevertWhen_DepositBelowMinimum() public {
        _seed(POOL_CREDITS, POOL_STABLE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmBelowMinimum.selector, address(stablecoin), 250_000, 300_000
            )
        );
        vm.prank(bob);
        amm.addLiquidity(1000, 1e6, 0, 300_000, bob, block.timestamp);
    }

    function test_RevertWhen_DepositWorthNoShare() public {
        // 1 share is worth 1,000 Wh here; 1 Wh buys none.
        _seed(1e12, 1e6);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmZeroShares.selector, 1, 1));
        vm.prank(bob);
        amm.addLiquidity(1, 1, 0, 0, bob, block.timestamp);
    }

    function test_RevertWhen_WithdrawalBelowMinimum() public {
        uint256 shares = _seed(POOL_CREDITS, POOL_STABLE);
        uint256 credits = shares * POOL_CREDITS / amm.totalSupply();
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmBelowMinimum.selector, address(energy), credits, credits + 1
            )
        );
        vm.prank(alice);
        amm.removeLiquidity(shares, credits + 1, 0, alice, block.timestamp);
    }

    function test_RevertWhen_BurnPaysNothing() public {
        _seed(1e12, 1e6);
        // 1 share of 1e9 is worth 1,000 Wh but 0.001 stablecoin base units.
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmInsufficientLiquidityBurned.selector, 1, 1000, 0)
        );
        vm.prank(alice);
        amm.removeLiquidity(1, 0, 0, alice, block.timestamp);
    }

    function test_RevertWhen_FeeAboveMaximum() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmFeeTooHigh.selector, 1001, 1000));
        new EnergyAmm(address(energy), address(stablecoin), 1001);
    }

    function test_RevertWhen_TokensInvalid() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmInvalidTokens.selector, address(energy), address(energy)
            )
        );
        new EnergyAmm(address(energy), address(energy), 30);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyAmm.EnergyAmmInvalidTokens.selector, address(0), address(stablecoin)
            )
        );
        new EnergyAmm(address(0), address(stablecoin), 30);
    }

    function test_RevertWhen_TokenReentersSwap() public {
        ReentrantToken hooked = new ReentrantToken();
        EnergyAmm pool = new EnergyAmm(address(energy), address(hooked), 30);
        hooked.mint(bob, 1e12);
        vm.prank(admin);
        energy.mint(bob, 1e12);
        vm.startPrank(bob);
        hooked.approve(address(pool), type(uint256).max);
        energy.approve(address(pool), type(uint256).max);
        pool.addLiquidity(1e9, 1e9, 0, 0, bob, block.timestamp);
        vm.stopPrank();

        // On the next transfer the token calls back into the pool's swap.
        hooked.arm(
            address(pool),
            abi.encodeCall(IEnergyAmm.swapExactIn, (address(energy), 1e6, 0, bob, block.timestamp))
        );
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(bob);
        pool.swapExactIn(address(hooked), 1e6, 0, bob, block.timestamp);
    }

    function _ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
    }
}
