// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../src/EnergyAmm.sol";
import {IEnergyAmm} from "../src/interfaces/IEnergyAmm.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @notice Keeper routing: `coverShortfalls` buys pool credits for buyers an interval's market left short,
/// and the market then covers their import from those credits instead of grid supply. The pool is the real
/// EnergyAmm on the fixture's market, seeded by `lp`. dave (ceiling 0.30 $/kWh, covers from credits, holds
/// 400 Wh of credits) is the buyer the pool serves; carol (ceiling 0.32 $/kWh) does not cover from credits.
contract EnergyAmmShortfallTest is MarketFixture {
    uint256 internal constant FEE_BPS = 30;
    /// @dev 100 kWh against 25 $: 0.25 $/kWh, below dave's ceiling.
    uint256 internal constant POOL_CREDITS = 100_000;
    uint256 internal constant POOL_STABLE = 25e6;

    EnergyAmm internal amm;
    address internal lp = makeAddr("liquidity provider");

    function setUp() public override {
        super.setUp();
        amm = new EnergyAmm(market, FEE_BPS);
        vm.startPrank(admin);
        market.registerParticipant(address(amm));
        market.setAmm(address(amm));
        market.registerParticipant(lp);
        vm.stopPrank();
    }

    /// @dev `lp` puts `credits` and `stable` into the empty pool, setting its price.
    function _seedPool(uint256 credits, uint256 stable) internal {
        _fund(lp, stable);
        _mintCredits(lp, credits);
        vm.startPrank(lp);
        energy.approve(address(market), credits);
        market.deposit(IEnergyMarket.Asset.EnergyCredit, credits);
        amm.addLiquidity(credits, stable, credits, stable, block.timestamp);
        vm.stopPrank();
    }

    function _shortfalls(address meter, uint256 wh)
        internal
        pure
        returns (IEnergyAmm.Shortfall[] memory list)
    {
        list = new IEnergyAmm.Shortfall[](1);
        list[0] = IEnergyAmm.Shortfall({meter: meter, wh: wh, maxCost: type(uint256).max});
    }

    function _cover(IEnergyAmm.Shortfall[] memory list) internal returns (uint256 boughtWh, uint256 paid) {
        vm.prank(keeper);
        return amm.coverShortfalls(T, list, block.timestamp);
    }

    function _expectSkipped(address meter, IEnergyAmm.ShortfallSkip reason) internal {
        vm.expectEmit(address(amm));
        emit IEnergyAmm.ShortfallSkipped(T, meter, reason);
    }

    /// @dev dave imported 2,000 Wh and nobody sold: the pool sells him the 1,600 Wh his 400 Wh of credits do
    /// not cover, and once the interval is settled his whole import is covered from credits.
    function test_CoverShortfallOfAnUnfilledBuyer() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        uint256 cost = amm.getAmountIn(false, 1600);
        uint256 daveBefore = _vault(dave);
        uint256 kBefore = _reservesProduct();

        vm.expectEmit(address(amm));
        emit IEnergyAmm.Swapped(dave, false, cost, 1600);
        vm.expectEmit(address(amm));
        emit IEnergyAmm.ShortfallCovered(T, daveHome, dave, 1600, cost);
        (uint256 boughtWh, uint256 paid) = _cover(_shortfalls(daveHome, 2000));

        assertEq(boughtWh, 1600, "bought");
        assertEq(paid, cost, "paid");
        assertLe(paid * 1000, 1600 * uint256(DAVE_CEILING), "at most the ceiling");
        assertEq(_vault(dave), daveBefore - cost, "dave paid from his vault");
        assertEq(_credits(dave), 2000, "dave's credits cover his import");
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        assertEq(reserveCredits, POOL_CREDITS - 1600, "pool credits");
        assertEq(reserveStable, POOL_STABLE + cost, "pool stablecoin");
        assertEq(_credits(address(amm)), reserveCredits, "reserves mirror the vault");
        assertGe(_reservesProduct(), kBefore, "k never decreases");

        _settle(T, PRICE, _noFills(), true);
        _expectMetersSettled(address(market), _settledRecord(daveHome, T, 0, 0, 0, 0, 2000, 0, 0));
        market.finalize(_meters(daveHome));
        assertEq(_credits(dave), 0, "the credits were spent on the import");
    }

    /// @dev alice sold dave 1,000 of his 3,000 Wh: the keeper asks for the 2,000 Wh left, the pool sells the
    /// 1,600 Wh his credits do not cover, and the settlement covers the rest of his import from them.
    function test_CoverShortfallOfAPartlyFilledBuyer() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(alicePv, T1, 0, 1000);
        _attest(daveHome, T1, 3000, 0);
        uint256 cost = amm.getAmountIn(false, 1600);

        (uint256 boughtWh,) = _cover(_shortfalls(daveHome, 2000));
        assertEq(boughtWh, 1600, "bought");

        _expectMetersSettled(
            address(market),
            _settledRecord(
                alicePv,
                T,
                1000,
                0,
                _earned(1000, PRICE, KEEPER_BPS),
                0,
                0,
                0,
                uint256(1000) * INTENSITY / 1000
            ),
            _settledRecord(daveHome, T, 0, 1000, _cost(1000, PRICE, FEE), 0, 2000, 0, 0)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(daveHome, 1000)), true);
        assertEq(_credits(dave), 0, "the credits covered the import the market did not");
        assertEq(_vault(dave), FUNDS - cost - _cost(1000, PRICE, FEE), "dave paid the pool and alice");
    }

    /// @dev Two shortfalls in one call: the second is priced after the first moved the pool.
    function test_CoverShortfallsInOrderAtTheMovingPrice() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        IEnergyMarket.OrderParams memory erinOrder = _buyOrder(ERIN_CEILING);
        erinOrder.coverFromCredits = true;
        _placeOrder(erinEv, erinOrder);
        _attest(daveHome, T1, 2400, 0);
        _attest(erinEv, T1, 3000, 0);
        IEnergyAmm.Shortfall[] memory list = new IEnergyAmm.Shortfall[](2);
        list[0] = IEnergyAmm.Shortfall({meter: erinEv, wh: 3000, maxCost: type(uint256).max});
        list[1] = IEnergyAmm.Shortfall({meter: daveHome, wh: 2400, maxCost: type(uint256).max});
        // Served as given: erin first at the pool's price, dave (2,000 Wh beyond his credits) after her.
        uint256 erinCost = amm.getAmountIn(false, 3000);
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        uint256 daveCost = _amountIn(2000, reserveStable + erinCost, reserveCredits - 3000);
        (uint256 boughtWh, uint256 paid) = _cover(list);

        assertEq(boughtWh, 5000, "bought");
        assertEq(paid, erinCost + daveCost, "paid");
        assertEq(_vault(erin), FUNDS - erinCost, "erin paid the first price");
        assertEq(_vault(dave), FUNDS - daveCost, "dave paid the price after erin's purchase");
        assertGt(daveCost * 1000 / 2000, erinCost * 1000 / 3000, "the price rose");
    }

    function test_SkipWhen_OrderDoesNotCoverFromCredits() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(carolHome, T1, 2000, 0);
        _expectSkipped(carolHome, IEnergyAmm.ShortfallSkip.NotCovering);
        (uint256 boughtWh,) = _cover(_shortfalls(carolHome, 2000));
        assertEq(boughtWh, 0);
        assertEq(_vault(carol), FUNDS, "carol paid nothing");
    }

    function test_SkipWhen_OrderNotLiveInTheInterval() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        IEnergyMarket.OrderParams memory later = _buyOrder(DAVE_CEILING);
        later.coverFromCredits = true;
        later.validFrom = T1;
        _placeOrder(daveHome, later);
        _attest(daveHome, T1, 2000, 0);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.NotCovering);
        _cover(_shortfalls(daveHome, 2000));
    }

    function test_SkipWhen_OwnerDeactivated() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        vm.prank(admin);
        market.deactivateParticipant(dave);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.NotCovering);
        _cover(_shortfalls(daveHome, 2000));
    }

    function test_SkipWhen_NoReadingForTheInterval() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.NoPendingImport);
        _cover(_shortfalls(daveHome, 2000));
    }

    function test_SkipWhen_ImportAlreadySettled() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(alicePv, T1, 0, 2000);
        _attest(daveHome, T1, 2000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 2000), _buy(daveHome, 2000)), true);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.NoPendingImport);
        _cover(_shortfalls(daveHome, 2000));
    }

    function test_SkipWhen_CreditsAlreadyCover() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 400, 0);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.CoveredByCredits);
        _cover(_shortfalls(daveHome, 400));
    }

    /// @dev The pool never buys more than the meter imported, whatever the keeper asks.
    function test_CoverAtMostThePendingImport() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 1000, 0);
        (uint256 boughtWh,) = _cover(_shortfalls(daveHome, 4000));
        assertEq(boughtWh, 600, "the import less the credits");
        assertEq(_credits(dave), 1000, "credits equal the import");
    }

    function test_SkipWhen_PoolTooShallow() public {
        _seedPool(1500, 375_000);
        _attest(daveHome, T1, 2000, 0);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.InsufficientLiquidity);
        _cover(_shortfalls(daveHome, 2000));
    }

    function test_SkipWhen_PoolPriceAboveCeiling() public {
        // 0.35 $/kWh, above dave's 0.30.
        _seedPool(POOL_CREDITS, 35e6);
        _attest(daveHome, T1, 2000, 0);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.AboveCeiling);
        _cover(_shortfalls(daveHome, 2000));
        assertEq(_credits(dave), DAVE_CREDITS, "nothing bought");
    }

    /// @dev At a mid price just below the ceiling, the fee and the price impact of a large purchase take the
    /// average cost above it.
    function test_SkipWhen_PriceImpactPassesTheCeiling() public {
        _seedPool(POOL_CREDITS, 29_900_000);
        _attest(daveHome, T1, 5000, 0);
        assertLt(amm.spotPrice(), DAVE_CEILING, "the mid price is below the ceiling");
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.AboveCeiling);
        _cover(_shortfalls(daveHome, 5000));
    }

    /// @dev A trade between the keeper's quote and its call moved the price: the buyer is skipped, not charged
    /// up to its ceiling.
    function test_SkipWhen_PriceMovedAboveMaxCost() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        uint256 quoted = amm.getAmountIn(false, 1600);
        _fund(lp, 1e6);
        vm.prank(lp);
        amm.swapExactIn(false, 1e6, 0, block.timestamp);
        IEnergyAmm.Shortfall[] memory list = new IEnergyAmm.Shortfall[](1);
        list[0] = IEnergyAmm.Shortfall({meter: daveHome, wh: 2000, maxCost: quoted});
        assertGt(amm.getAmountIn(false, 1600), quoted, "the price moved");
        assertLe(
            amm.getAmountIn(false, 1600) * 1000, 1600 * uint256(DAVE_CEILING), "still within the ceiling"
        );
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.AboveMaxCost);
        (uint256 boughtWh,) = _cover(list);
        assertEq(boughtWh, 0);
        assertEq(_vault(dave), FUNDS, "dave paid nothing");
    }

    /// @dev At exactly the quote, the purchase goes through.
    function test_CoverAtTheQuotedMaxCost() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        IEnergyAmm.Shortfall[] memory list = new IEnergyAmm.Shortfall[](1);
        list[0] = IEnergyAmm.Shortfall({meter: daveHome, wh: 2000, maxCost: amm.getAmountIn(false, 1600)});
        (uint256 boughtWh,) = _cover(list);
        assertEq(boughtWh, 1600);
    }

    function test_SkipWhen_VaultCannotPay() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        vm.prank(dave);
        market.withdraw(IEnergyMarket.Asset.Stablecoin, FUNDS - 100);
        _expectSkipped(daveHome, IEnergyAmm.ShortfallSkip.InsufficientBalance);
        _cover(_shortfalls(daveHome, 2000));
    }

    /// @dev A skipped shortfall does not stop the ones after it.
    function test_SkipOneCoverTheNext() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(carolHome, T1, 2000, 0);
        _attest(daveHome, T1, 2000, 0);
        IEnergyAmm.Shortfall[] memory list = new IEnergyAmm.Shortfall[](2);
        list[0] = IEnergyAmm.Shortfall({meter: carolHome, wh: 2000, maxCost: type(uint256).max});
        list[1] = IEnergyAmm.Shortfall({meter: daveHome, wh: 2000, maxCost: type(uint256).max});
        _expectSkipped(carolHome, IEnergyAmm.ShortfallSkip.NotCovering);
        (uint256 boughtWh,) = _cover(list);
        assertEq(boughtWh, 1600);
    }

    function test_RevertWhen_CoverShortfallsNotKeeper() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        _attest(daveHome, T1, 2000, 0);
        IEnergyAmm.Shortfall[] memory list = _shortfalls(daveHome, 2000);
        vm.expectRevert(abi.encodeWithSelector(IEnergyAmm.EnergyAmmNotKeeper.selector, stranger));
        vm.prank(stranger);
        amm.coverShortfalls(T, list, block.timestamp);
    }

    function test_RevertWhen_CoverShortfallsExpired() public {
        _seedPool(POOL_CREDITS, POOL_STABLE);
        IEnergyAmm.Shortfall[] memory list = _shortfalls(daveHome, 2000);
        uint256 deadline = block.timestamp - 1;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyAmm.EnergyAmmExpired.selector, deadline, block.timestamp)
        );
        vm.prank(keeper);
        amm.coverShortfalls(T, list, deadline);
    }

    function test_RevertWhen_RegisterMeterToThePool() public {
        address meter = makeAddr("pool meter");
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketAmmOwnsNoMeter.selector, meter));
        vm.prank(admin);
        market.registerMeter(meter, address(amm), 1, 0, CAPACITY_W);
    }

    /// @dev Whatever the pool's price and the import: a covered shortfall costs at most the ceiling per kWh,
    /// tops the credits up to exactly the import, and keeps `k`; a skipped one moves nothing.
    function testFuzz_CoverShortfallWithinTheCeiling(uint256 poolStable, uint256 importWh) public {
        poolStable = bound(poolStable, 5e6, 50e6);
        importWh = bound(importWh, DAVE_CREDITS + 1, MAX_WH_PER_INTERVAL);
        _seedPool(POOL_CREDITS, poolStable);
        // forge-lint: disable-next-line(unsafe-typecast)
        _attest(daveHome, T1, uint48(importWh), 0);
        uint256 kBefore = _reservesProduct();
        uint256 vaultBefore = _vault(dave);

        (uint256 boughtWh, uint256 paid) = _cover(_shortfalls(daveHome, importWh));

        if (boughtWh == 0) {
            assertEq(_vault(dave), vaultBefore, "a skip moves nothing");
            assertGt(
                amm.getAmountIn(false, importWh - DAVE_CREDITS) * 1000,
                (importWh - DAVE_CREDITS) * DAVE_CEILING
            );
        } else {
            assertEq(boughtWh, importWh - DAVE_CREDITS, "tops the credits up to the import");
            assertLe(paid * 1000, boughtWh * DAVE_CEILING, "at most the ceiling");
            assertEq(_vault(dave), vaultBefore - paid, "paid from the vault");
            assertEq(_credits(dave), importWh, "credits equal the import");
        }
        assertGe(_reservesProduct(), kBefore, "k never decreases");
    }

    function _reservesProduct() internal view returns (uint256) {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        return reserveCredits * reserveStable;
    }

    /// @dev The pool's exact-out price, as `IEnergyAmm.getAmountIn` states it: rounded up, fee on the input.
    function _amountIn(uint256 amountOut, uint256 reserveIn, uint256 reserveOut)
        internal
        pure
        returns (uint256)
    {
        uint256 numerator = reserveIn * amountOut * 10_000;
        uint256 denominator = (reserveOut - amountOut) * (10_000 - FEE_BPS);
        return (numerator + denominator - 1) / denominator;
    }
}
