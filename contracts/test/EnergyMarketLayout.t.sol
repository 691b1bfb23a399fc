// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyMarket} from "../src/EnergyMarket.sol";
import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {EnergyMarketHarness} from "./utils/EnergyMarketHarness.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice The settlement path reads the `Order` and `Account` slots as raw words with its own bit offsets
/// and writes the account back as one word; everything else (the views, deposits, orders) goes through
/// Solidity's packing of the structs. These tests hold the two readings equal, on random contents.
contract EnergyMarketLayoutTest is MarketFixture {
    EnergyMarketHarness internal harness;

    function _deployMarket() internal override returns (EnergyMarket) {
        harness = new EnergyMarketHarness(admin, stablecoin, energy, carbon, INTERVAL, WINDOW, INTENSITY);
        return harness;
    }

    function testFuzz_OrderWordMatchesTheStruct(
        uint64 floor,
        uint64 ceiling,
        uint32 capWh,
        uint40 validFrom,
        uint40 validUntil,
        uint8 sides,
        bool cover
    ) public {
        IEnergyMarket.OrderParams memory params;
        params.sells = sides % 3 != 1;
        params.buys = sides % 3 != 0;
        params.sellFloor = uint64(bound(floor, 0, type(uint48).max));
        params.buyCeiling = uint64(bound(ceiling, 0, type(uint48).max));
        params.capWh = capWh;
        params.validFrom = validFrom;
        params.validUntil = validUntil == 0 ? 0 : uint40(bound(validUntil, validFrom, type(uint40).max));
        params.coverFromCredits = cover;
        _placeOrder(erinEv, params);

        (EnergyMarket.Order memory fromWord, EnergyMarket.Order memory fromStruct) =
            harness.orderBothWays(erinEv);
        assertEq(abi.encode(fromWord), abi.encode(fromStruct), "raw word == struct");
        assertEq(fromWord.ownerId, market.participantId(erin), "owner id");
        assertEq(fromWord.sellFloor, params.sells ? params.sellFloor : 0, "floor");
        assertEq(fromWord.buyCeiling, params.buys ? params.buyCeiling : 0, "ceiling");
        assertEq(fromWord.capWh, capWh, "cap");
        assertEq(fromWord.validFrom, validFrom, "from");
        assertEq(fromWord.validUntil, params.validUntil, "until");
        assertEq(fromWord.flags, (params.sells ? 1 : 0) | (params.buys ? 2 : 0) | (cover ? 4 : 0), "flags");
    }

    /// @dev Random balances, then a settlement (written by the raw-word path) that marks a side and moves
    /// every balance: both readings agree, and the views report what the settlement computed.
    function testFuzz_AccountWordMatchesTheStruct(uint96 stable, uint56 credits, uint56 grams, bool sell)
        public
    {
        stable = uint96(bound(stable, 0, type(uint96).max - FUNDS - 1e9));
        credits = uint56(bound(credits, 0, type(uint56).max - 5000));
        grams = uint56(bound(grams, 0, type(uint56).max - 5000));
        _fund(erin, stable);
        _depositCredits(credits);
        _depositCarbon(grams);
        _attest(erinPv, T1, 0, 1200);
        _attest(erinEv, T1, 700, 0);
        _attest(carolHome, T1, 1000, 0);
        _attest(alicePv, T1, 0, 700);
        address meter = sell ? erinPv : erinEv;
        _settle(
            T,
            PRICE,
            sell
                ? _fills(_sell(erinPv, 1000), _buy(carolHome, 1000))
                : _fills(_sell(alicePv, 700), _buy(erinEv, 700)),
            true
        );

        (EnergyMarket.Account memory fromWord, EnergyMarket.Account memory fromStruct) =
            harness.accountBothWays(meter);
        assertEq(abi.encode(fromWord), abi.encode(fromStruct), "raw word == struct");
        assertEq(fromWord.status, 1, "active");
        assertEq(fromWord.sides, sell ? 1 : 2, "side marked");
        assertEq(fromWord.sidesInterval, T, "for interval T");
        uint256 expectedStable = sell
            ? FUNDS + stable + _earned(1000, PRICE, KEEPER_BPS)
            : FUNDS + stable - _cost(700, PRICE, FEE);
        assertEq(fromWord.stablecoin, expectedStable, "stablecoin");
        // Selling: 200 Wh unsold credited, carbon on 1,200 Wh. Buying: nothing credited, no carbon.
        assertEq(fromWord.creditsWh, uint256(credits) + (sell ? 200 : 0), "credits");
        assertEq(fromWord.carbonGrams, uint256(grams) + (sell ? 480 : 0), "carbon");
        IEnergyMarket.Balances memory view_ = market.balancesOf(erin);
        assertEq(view_.stablecoin, fromWord.stablecoin, "balancesOf stablecoin");
        assertEq(view_.creditsWh, fromWord.creditsWh, "balancesOf credits");
        assertEq(view_.carbonGrams, fromWord.carbonGrams, "balancesOf carbon");
    }

    /// @dev The masks the settlement path and `ammTransfer` rewrite the account with cover exactly the
    /// members they name.
    function test_AccountMasks() public view {
        (uint256 sidesMask, uint256 belowCredits, uint256 balances) = harness.accountMasks();
        assertEq(
            sidesMask, uint256(type(uint8).max) << 8 | uint256(type(uint32).max) << 16, "sides, interval"
        );
        assertEq(belowCredits, type(uint144).max, "status, sides, interval, stablecoin");
        assertEq(
            balances,
            uint256(type(uint96).max) << 48 | uint256(type(uint56).max) << 144,
            "stablecoin, credits"
        );
    }

    /// @dev `ammTransfer` (raw-word path) moves random balances of an account that has traded (side marks
    /// set) and holds carbon: the struct reads the moved balances and every other member unchanged.
    function testFuzz_AmmTransferRewritesOnlyTheBalances(
        uint96 stable,
        uint56 credits,
        uint56 grams,
        bool sell
    ) public {
        stable = uint96(bound(stable, 1, type(uint96).max - FUNDS - 1e9));
        credits = uint56(bound(credits, 1, type(uint56).max - 5000));
        grams = uint56(bound(grams, 0, type(uint56).max - 5000));
        _fund(erin, stable);
        _depositCredits(credits);
        _depositCarbon(grams);
        _attest(erinPv, T1, 0, 1200);
        _attest(erinEv, T1, 700, 0);
        _attest(carolHome, T1, 1000, 0);
        _attest(alicePv, T1, 0, 700);
        address meter = sell ? erinPv : erinEv;
        _settle(
            T,
            PRICE,
            sell
                ? _fills(_sell(erinPv, 1000), _buy(carolHome, 1000))
                : _fills(_sell(alicePv, 700), _buy(erinEv, 700)),
            true
        );
        (EnergyMarket.Account memory before,) = harness.accountBothWays(meter);
        address pool = makeAddr("pool");
        vm.startPrank(admin);
        market.registerParticipant(pool);
        market.setAmm(pool);
        vm.stopPrank();
        _fund(pool, 1e6);

        // erin pays all her credits but one Wh for stablecoin she does not need to hold.
        vm.prank(pool);
        market.ammTransfer(erin, 1e6, -SafeCast.toInt256(uint256(before.creditsWh) - 1));

        (EnergyMarket.Account memory fromWord, EnergyMarket.Account memory fromStruct) =
            harness.accountBothWays(meter);
        assertEq(abi.encode(fromWord), abi.encode(fromStruct), "raw word == struct");
        assertEq(fromWord.stablecoin, before.stablecoin + 1e6, "stablecoin");
        assertEq(fromWord.creditsWh, 1, "credits");
        assertEq(fromWord.status, before.status, "status");
        assertEq(fromWord.sides, before.sides, "sides");
        assertEq(fromWord.sidesInterval, before.sidesInterval, "interval");
        assertEq(fromWord.carbonGrams, before.carbonGrams, "carbon");
        IEnergyMarket.Balances memory poolVault = market.balancesOf(pool);
        assertEq(poolVault.stablecoin, 0, "pool stablecoin");
        assertEq(poolVault.creditsWh, uint256(before.creditsWh) - 1, "pool credits");
    }

    /// @dev The settlement path's assembly reads each `Batch` member at the offset Solidity gives it.
    function test_BatchOffsets() public view {
        (uint256[15] memory members, bool recordsMatch) = harness.batchMembersByOffset();
        for (uint256 i; i < 15; ++i) {
            assertEq(members[i], i + 1, "member in declaration order");
        }
        assertTrue(recordsMatch, "records pointer");
    }

    /// @dev The settlement path's assembly writes records with `SettlementRecords`' layout.
    function test_RecordShifts() public view {
        uint256[7] memory shifts = harness.recordShifts();
        assertEq(shifts[0], SettlementRecords.INTERVAL_SHIFT, "interval");
        assertEq(shifts[1], SettlementRecords.CARBON_SHIFT, "carbon");
        assertEq(shifts[2], SettlementRecords.CREDITED_SHIFT, "credited");
        assertEq(shifts[3], SettlementRecords.COVERED_SHIFT, "covered");
        assertEq(shifts[4], SettlementRecords.GRID_SUPPLIED_SHIFT, "grid supplied");
        assertEq(shifts[5], SettlementRecords.AMOUNT_SHIFT, "amount");
        assertEq(shifts[6], SettlementRecords.FLAGS_SHIFT, "flags");
        assertEq(SettlementRecords.FLAG_BOUGHT, 1, "the bought flag is the flags' lowest bit");
    }

    function _depositCredits(uint256 wh) internal {
        if (wh == 0) return;
        _mintCredits(erin, wh);
        vm.startPrank(erin);
        energy.approve(address(market), wh);
        market.deposit(IEnergyMarket.Asset.EnergyCredit, wh);
        vm.stopPrank();
    }

    function _depositCarbon(uint256 grams) internal {
        if (grams == 0) return;
        _mintCarbon(erin, grams);
        vm.startPrank(erin);
        carbon.approve(address(market), grams);
        market.deposit(IEnergyMarket.Asset.CarbonCredit, grams);
        vm.stopPrank();
    }
}
