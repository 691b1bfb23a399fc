// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {Fills} from "../src/libraries/Fills.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice Money and energy conservation of `settle` and `finalize` over random prices, fees and volumes.
contract EnergyMarketFuzzTest is MarketFixture {
    /// @dev What the `MetersSettled` records reported for a meter (summed, should it be settled twice).
    struct Settled {
        uint256 events;
        uint256 soldWh;
        uint256 boughtWh;
        uint256 amount;
        uint256 creditedWh;
        uint256 coveredWh;
        uint256 gridSuppliedWh;
        uint256 carbonGrams;
    }

    /// @dev `IntervalSettled` of the last batch.
    struct Batch {
        uint256 count;
        uint256 tradedWh;
        uint256 networkFee;
        uint256 keeperFee;
    }

    address[5] internal people;
    mapping(address meter => uint256 wh) internal attestedImport;
    mapping(address meter => uint256 wh) internal attestedExport;
    mapping(address meter => uint256 wh) internal tradedWh;
    mapping(address meter => Settled settled) internal settled;
    mapping(address account => uint256 balance) internal vaultBefore;
    Batch internal batch;

    function setUp() public override {
        super.setUp();
        people = [alice, bob, carol, dave, erin];
    }

    /// @dev Three sellers (alice, bob, erin's PV) and two buyers (carol, dave) trade random volumes at a
    /// random price, network fee and keeper fee; then every meter is finalized.
    function testFuzz_SettleConservesMoneyAndEnergy(
        uint64 price,
        uint64 fee,
        uint16 bps,
        uint256[6] memory imports,
        uint256[6] memory exports,
        uint256[6] memory trades,
        bool sellersCover
    ) public {
        price = uint64(bound(price, 0, 10e6));
        fee = uint64(bound(fee, 0, 2e6));
        bps = uint16(bound(bps, 0, 1000));
        vm.prank(gridOperator);
        market.setNetworkFee(fee);
        vm.prank(admin);
        market.setKeeperFee(bps);
        _permissiveOrders(sellersCover);
        _attestRandom(imports, exports);
        uint256[] memory fills = _balancedFills(trades);

        uint256 operatorBefore = stablecoin.balanceOf(gridOperator);
        uint256 keeperBefore = stablecoin.balanceOf(keeper);
        uint256 creditSupplyBefore = energy.totalSupply();
        for (uint256 i; i < people.length; ++i) {
            vaultBefore[people[i]] = _vault(people[i]);
        }

        vm.recordLogs();
        _settle(T, price, fills, true);
        _collect(vm.getRecordedLogs());

        // Money: what the buyers lost is exactly what the sellers, the grid operator and the keeper got.
        uint256 operatorGot = stablecoin.balanceOf(gridOperator) - operatorBefore;
        uint256 keeperGot = stablecoin.balanceOf(keeper) - keeperBefore;
        int256 vaultChange;
        for (uint256 i; i < people.length; ++i) {
            vaultChange += int256(_vault(people[i])) - int256(vaultBefore[people[i]]);
        }
        assertEq(vaultChange + int256(operatorGot) + int256(keeperGot), 0, "money conserved");
        assertEq(stablecoin.balanceOf(address(market)), _sumVaults(), "market holds the vaults");
        assertEq(batch.count, 1, "one IntervalSettled");
        assertEq(batch.networkFee, operatorGot, "event network fee");
        assertEq(batch.keeperFee, keeperGot, "event keeper fee");
        _assertPerMeterMoney(fills, price, fee, bps);

        // Finalize the meters that did not trade; then every meter has settled all it attested.
        vm.recordLogs();
        market.finalize(allMeters);
        _collect(vm.getRecordedLogs());
        _assertEnergyIdentities();
        _assertTokenBacking(creditSupplyBefore);
    }

    /// @dev The keeper's share is its fees plus less than one unit of rounding dust per fill and one for
    /// the network fee: never negative, never more.
    function testFuzz_RoundingDustIsBounded(uint32 sold, uint64 price, uint64 fee, uint16 bps, uint32 split)
        public
    {
        sold = uint32(bound(sold, 2, MAX_WH_PER_INTERVAL));
        price = uint64(bound(price, 0, type(uint48).max / 2));
        fee = uint64(bound(fee, 0, type(uint48).max / 2));
        bps = uint16(bound(bps, 0, 1000));
        split = uint32(bound(split, 1, sold - 1));
        vm.prank(gridOperator);
        market.setNetworkFee(fee);
        vm.prank(admin);
        market.setKeeperFee(bps);
        _placeOrder(alicePv, _sellOrder(0));
        _placeOrder(carolHome, _buyOrder(type(uint48).max));
        _placeOrder(daveHome, _buyOrder(type(uint48).max));
        _fund(carol, _cost(sold, price, fee));
        _fund(dave, _cost(sold, price, fee));
        _attest(alicePv, T1, 0, uint48(sold));
        _attest(carolHome, T1, split, 0);
        _attest(daveHome, T1, sold - split, 0);

        _settle(
            T, price, _fills(_sell(alicePv, sold), _buy(carolHome, split), _buy(daveHome, sold - split)), true
        );

        uint256 value = uint256(sold) * price / 1000;
        uint256 keeperFee = value * bps / 10_000;
        uint256 kept = stablecoin.balanceOf(keeper);
        assertGe(kept, keeperFee, "keeper got at least its fee");
        // Two buyers round up (< 1 each), the seller and the grid operator round down (< 1 each).
        assertLe(kept, keeperFee + 3, "dust bounded");
        assertEq(stablecoin.balanceOf(gridOperator), uint256(sold) * fee / 1000, "operator share");
    }

    /// @dev A fill trades exactly when the clearing price is at or above the seller's floor and the price
    /// plus the network fee at or below the buyer's ceiling; otherwise the first violation in meter order
    /// reverts with its own error.
    function testFuzz_LimitsDecideWhetherAFillTrades(uint64 price, uint64 floor, uint64 ceiling, uint64 fee)
        public
    {
        uint64 maxPrice = type(uint48).max / 2;
        price = uint64(bound(price, 0, maxPrice));
        floor = uint64(bound(floor, 0, maxPrice));
        ceiling = uint64(bound(ceiling, 0, maxPrice));
        fee = uint64(bound(fee, 0, maxPrice));
        vm.prank(gridOperator);
        market.setNetworkFee(fee);
        _placeOrder(alicePv, _sellOrder(floor));
        _placeOrder(carolHome, _buyOrder(ceiling));
        _fund(carol, _cost(1000, price, fee));
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);

        bool floorOk = price >= floor;
        bool ceilingOk = uint256(price) + fee <= ceiling;
        bytes memory floorError =
            abi.encodeWithSelector(IEnergyMarket.MarketPriceBelowFloor.selector, alicePv, price, floor);
        bytes memory ceilingError = abi.encodeWithSelector(
            IEnergyMarket.MarketPriceAboveCeiling.selector, carolHome, price, fee, ceiling
        );
        if (!floorOk && (!ceilingOk && carolHome < alicePv)) vm.expectRevert(ceilingError);
        else if (!floorOk) vm.expectRevert(floorError);
        else if (!ceilingOk) vm.expectRevert(ceilingError);
        _settle(T, price, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);

        if (floorOk && ceilingOk) {
            assertEq(uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.Settled));
        }
    }

    /// @dev Residual-only volumes: export credited, import covered from credits (when opted in) up to the
    /// credits held plus those just credited, the rest grid-supplied; carbon on all the export.
    function testFuzz_FinalizeSettlesResidualsExactly(
        uint48 importWh,
        uint48 exportWh,
        uint256 creditsHeld,
        bool cover,
        uint16 intensity
    ) public {
        // The reading after a gap spans two intervals: twice the per-interval capacity.
        importWh = uint48(bound(importWh, 0, 2 * MAX_WH_PER_INTERVAL));
        exportWh = uint48(bound(exportWh, 0, 2 * MAX_WH_PER_INTERVAL));
        creditsHeld = bound(creditsHeld, 0, 20_000);
        vm.prank(admin);
        market.setCarbonIntensity(intensity);
        _depositCredits(carol, creditsHeld);
        IEnergyMarket.OrderParams memory params = _buyOrder(CAROL_CEILING);
        params.coverFromCredits = cover;
        _placeOrder(carolHome, params);
        vm.warp(T2);
        _attest(carolHome, T2, importWh, exportWh);
        uint256 supplyBefore = energy.totalSupply();

        uint256 available = creditsHeld + exportWh;
        uint256 covered = cover ? (importWh < available ? importWh : available) : 0;
        uint256 carbonGrams = uint256(exportWh) * intensity / 1000;
        _expectResidualRecord(carolHome, T + 1, exportWh, covered, importWh - covered, carbonGrams);
        assertEq(market.finalize(_meters(carolHome)), 1, "settled");

        assertEq(_credits(carol), available - covered, "credits");
        assertEq(_carbonOf(carol), carbonGrams, "carbon");
        assertEq(energy.totalSupply() + covered, supplyBefore + exportWh, "credit supply");
        assertEq(energy.balanceOf(address(market)), DAVE_CREDITS + available - covered, "credits backed");
        assertEq(carbon.totalSupply(), carbonGrams, "carbon supply");
    }

    // ---------------------------------------------------------------- helpers

    function _depositCredits(address account, uint256 wh) internal {
        if (wh == 0) return;
        _mintCredits(account, wh);
        vm.startPrank(account);
        energy.approve(address(market), wh);
        market.deposit(IEnergyMarket.Asset.EnergyCredit, wh);
        vm.stopPrank();
    }

    /// @dev Expects the `MetersSettled` of a residual-only settlement of one meter (nothing traded).
    function _expectResidualRecord(
        address meter,
        uint64 t,
        uint256 creditedWh,
        uint256 coveredWh,
        uint256 gridSuppliedWh,
        uint256 carbonGrams
    ) internal {
        _expectMetersSettled(
            address(market),
            _settledRecord(meter, t, 0, 0, 0, creditedWh, coveredWh, gridSuppliedWh, carbonGrams)
        );
    }

    /// @dev Sellers sell at any price without cap, buyers buy at any price; dave keeps his cover.
    function _permissiveOrders(bool sellersCover) internal {
        IEnergyMarket.OrderParams memory sell = _sellOrder(0);
        sell.coverFromCredits = sellersCover;
        _placeOrder(alicePv, sell);
        _placeOrder(bobPv, sell);
        _placeOrder(erinPv, sell);
        IEnergyMarket.OrderParams memory buy = _buyOrder(type(uint48).max);
        _placeOrder(carolHome, buy);
        buy.coverFromCredits = true;
        _placeOrder(daveHome, buy);
    }

    function _attestRandom(uint256[6] memory imports, uint256[6] memory exports) internal {
        uint48[6] memory importWh;
        uint48[6] memory exportWh;
        for (uint256 i; i < 6; ++i) {
            importWh[i] = uint48(bound(imports[i], 0, MAX_WH_PER_INTERVAL));
            exportWh[i] = uint48(bound(exports[i], 0, MAX_WH_PER_INTERVAL));
            attestedImport[allMeters[i]] = importWh[i];
            attestedExport[allMeters[i]] = exportWh[i];
        }
        _attestAll(T1, importWh, exportWh);
    }

    /// @dev Random volumes within what each meter attested, trimmed until bought equals sold.
    function _balancedFills(uint256[6] memory trades) internal returns (uint256[] memory fills) {
        // allMeters: alicePv, bobPv, carolHome, daveHome, erinPv, erinEv; erinEv stays out (erin sells).
        bool[6] memory buys = [false, false, true, true, false, false];
        uint256 sold;
        uint256 bought;
        for (uint256 i; i < 5; ++i) {
            address meter = allMeters[i];
            uint256 limit = buys[i] ? attestedImport[meter] : attestedExport[meter];
            uint256 wh = bound(trades[i], 0, limit);
            tradedWh[meter] = wh;
            if (buys[i]) bought += wh;
            else sold += wh;
        }
        uint256 target = sold < bought ? sold : bought;
        uint256 count;
        uint256 keptSold;
        uint256 keptBought;
        for (uint256 i; i < 5; ++i) {
            address meter = allMeters[i];
            uint256 room = target - (buys[i] ? keptBought : keptSold);
            uint256 wh = tradedWh[meter] < room ? tradedWh[meter] : room;
            tradedWh[meter] = wh;
            if (buys[i]) keptBought += wh;
            else keptSold += wh;
            if (wh != 0) ++count;
        }
        fills = new uint256[](count);
        count = 0;
        for (uint256 i; i < 5; ++i) {
            address meter = allMeters[i];
            if (tradedWh[meter] == 0) continue;
            fills[count++] = Fills.pack(meter, buys[i], uint32(tradedWh[meter]));
        }
        fills = _sorted(fills);
    }

    /// @dev Adds up the records of the market's `MetersSettled` events in `logs`, and reads its
    /// `IntervalSettled`.
    function _collect(Vm.Log[] memory logs) internal {
        SettlementRecords.Record[] memory records = _decodeRecords(logs, address(market));
        for (uint256 i; i < records.length; ++i) {
            SettlementRecords.Record memory r = records[i];
            Settled storage s = settled[r.meter];
            s.events += 1;
            if (r.bought) s.boughtWh += r.tradedWh;
            else s.soldWh += r.tradedWh;
            s.amount += r.amount;
            s.creditedWh += r.creditedWh;
            s.coveredWh += r.coveredWh;
            s.gridSuppliedWh += r.gridSuppliedWh;
            s.carbonGrams += r.carbonGrams;
            assertEq(r.interval, T, "record interval");
        }
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(market) || log.topics[0] != IEnergyMarket.IntervalSettled.selector) {
                continue;
            }
            (, uint256 traded, uint256 networkFee, uint256 keeperFee,) =
                abi.decode(log.data, (uint64, uint256, uint256, uint256, bool));
            batch = Batch({
                count: batch.count + 1, tradedWh: traded, networkFee: networkFee, keeperFee: keeperFee
            });
        }
    }

    function _assertPerMeterMoney(uint256[] memory fills, uint64 price, uint64 fee, uint16 bps)
        internal
        view
    {
        uint256 traded;
        uint256 keeperFees;
        for (uint256 i; i < fills.length; ++i) {
            address meter = Fills.meterOf(fills[i]);
            uint256 wh = Fills.whOf(fills[i]);
            address owner = market.meterInfo(meter).owner;
            Settled memory s = settled[meter];
            if (Fills.isBuy(fills[i])) {
                assertEq(s.boughtWh, wh, "bought");
                assertEq(s.amount, _cost(wh, price, fee), "paid");
                assertEq(vaultBefore[owner] - _vault(owner), s.amount, "buyer charged");
            } else {
                traded += wh;
                uint256 value = wh * price / 1000;
                keeperFees += value * bps / 10_000;
                assertEq(s.soldWh, wh, "sold");
                assertEq(s.amount, _earned(wh, price, bps), "earned");
                assertEq(_vault(owner) - vaultBefore[owner], s.amount, "seller paid");
            }
        }
        assertEq(batch.tradedWh, traded, "traded Wh");
        assertGe(batch.keeperFee, keeperFees, "keeper share covers its fees");
        assertLe(batch.keeperFee, keeperFees + fills.length + 1, "dust bounded");
    }

    /// @dev Per meter: attested export == sold + credited; attested import == bought + covered + grid;
    /// settled exactly once; carbon on all the export.
    function _assertEnergyIdentities() internal view {
        for (uint256 i; i < allMeters.length; ++i) {
            address meter = allMeters[i];
            Settled memory s = settled[meter];
            assertEq(s.events, 1, "settled once");
            assertEq(s.soldWh + s.creditedWh, attestedExport[meter], "export identity");
            assertEq(s.boughtWh + s.coveredWh + s.gridSuppliedWh, attestedImport[meter], "import identity");
            assertEq(s.carbonGrams, attestedExport[meter] * INTENSITY / 1000, "carbon");
            assertEq(market.meterState(meter).pendingExportWh, 0, "export left pending");
            assertEq(market.meterState(meter).pendingImportWh, 0, "import left pending");
        }
    }

    /// @dev Every credit token the market holds is a vault balance, and the supply moved by exactly the
    /// credited minus the covered Wh; the same for carbon.
    function _assertTokenBacking(uint256 creditSupplyBefore) internal view {
        uint256 credited;
        uint256 covered;
        uint256 grams;
        for (uint256 i; i < allMeters.length; ++i) {
            Settled memory s = settled[allMeters[i]];
            credited += s.creditedWh;
            covered += s.coveredWh;
            grams += s.carbonGrams;
        }
        uint256 vaultCredits;
        uint256 vaultCarbon;
        for (uint256 i; i < people.length; ++i) {
            vaultCredits += _credits(people[i]);
            vaultCarbon += _carbonOf(people[i]);
        }
        assertEq(energy.totalSupply() + covered, creditSupplyBefore + credited, "credit supply");
        assertEq(energy.balanceOf(address(market)), vaultCredits, "credits backed");
        assertEq(carbon.totalSupply(), grams, "carbon supply");
        assertEq(carbon.balanceOf(address(market)), vaultCarbon, "carbon backed");
    }

    function _sumVaults() internal view returns (uint256 sum) {
        for (uint256 i; i < people.length; ++i) {
            sum += _vault(people[i]);
        }
    }
}
