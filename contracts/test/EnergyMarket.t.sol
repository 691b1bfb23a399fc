// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../src/interfaces/IMeterRegistry.sol";
import {Fills} from "../src/libraries/Fills.sol";
import {SettlementRecords} from "../src/libraries/SettlementRecords.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice The vault, the standing orders, `settle` (money, residuals, every revert) and `finalize`.
contract EnergyMarketTest is MarketFixture {
    IEnergyMarket.Asset internal constant STABLE = IEnergyMarket.Asset.Stablecoin;
    IEnergyMarket.Asset internal constant ENERGY = IEnergyMarket.Asset.EnergyCredit;
    IEnergyMarket.Asset internal constant CARBON = IEnergyMarket.Asset.CarbonCredit;

    // ================================================================ vault

    function test_Deposit_Stablecoin() public {
        vm.prank(admin);
        stablecoin.mint(alice, 5e6);
        vm.startPrank(alice);
        stablecoin.approve(address(market), 5e6);
        vm.expectEmit(address(market));
        emit IEnergyMarket.Deposited(alice, STABLE, 5e6);
        market.deposit(STABLE, 5e6);
        vm.stopPrank();

        assertEq(_vault(alice), FUNDS + 5e6, "vault");
        assertEq(stablecoin.balanceOf(alice), 0, "wallet");
        assertEq(stablecoin.balanceOf(address(market)), 5 * FUNDS + 5e6, "market holds");
    }

    function test_Deposit_EnergyCredit() public {
        _mintCredits(alice, 1234);
        vm.startPrank(alice);
        energy.approve(address(market), 1234);
        vm.expectEmit(address(market));
        emit IEnergyMarket.Deposited(alice, ENERGY, 1234);
        market.deposit(ENERGY, 1234);
        vm.stopPrank();

        assertEq(_credits(alice), 1234, "vault");
        assertEq(_vault(alice), FUNDS, "stablecoin untouched");
        assertEq(energy.balanceOf(address(market)), DAVE_CREDITS + 1234, "market holds");
    }

    function test_Deposit_CarbonCredit() public {
        _mintCarbon(alice, 77);
        vm.startPrank(alice);
        carbon.approve(address(market), 77);
        vm.expectEmit(address(market));
        emit IEnergyMarket.Deposited(alice, CARBON, 77);
        market.deposit(CARBON, 77);
        vm.stopPrank();

        assertEq(_carbonOf(alice), 77, "vault");
        assertEq(_credits(alice), 0, "credits untouched");
        assertEq(carbon.balanceOf(address(market)), 77, "market holds");
    }

    function test_Withdraw_Stablecoin() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.Withdrawn(alice, STABLE, 400e6);
        vm.prank(alice);
        market.withdraw(STABLE, 400e6);

        assertEq(_vault(alice), FUNDS - 400e6, "vault");
        assertEq(stablecoin.balanceOf(alice), 400e6, "wallet");
        assertEq(stablecoin.balanceOf(address(market)), 5 * FUNDS - 400e6, "market holds");
    }

    function test_Withdraw_EnergyCredit() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.Withdrawn(dave, ENERGY, DAVE_CREDITS);
        vm.prank(dave);
        market.withdraw(ENERGY, DAVE_CREDITS);

        assertEq(_credits(dave), 0, "vault");
        assertEq(energy.balanceOf(dave), DAVE_CREDITS, "wallet");
        assertEq(energy.balanceOf(address(market)), 0, "market holds");
    }

    function test_Withdraw_CarbonCredit() public {
        _mintCarbon(bob, 500);
        vm.startPrank(bob);
        carbon.approve(address(market), 500);
        market.deposit(CARBON, 500);
        vm.expectEmit(address(market));
        emit IEnergyMarket.Withdrawn(bob, CARBON, 120);
        market.withdraw(CARBON, 120);
        vm.stopPrank();

        assertEq(_carbonOf(bob), 380, "vault");
        assertEq(carbon.balanceOf(bob), 120, "wallet");
    }

    function test_Withdraw_DeactivatedParticipantMayWithdrawEverything() public {
        vm.prank(admin);
        market.deactivateParticipant(dave);

        vm.startPrank(dave);
        market.withdraw(STABLE, FUNDS);
        market.withdraw(ENERGY, DAVE_CREDITS);
        vm.stopPrank();

        assertEq(stablecoin.balanceOf(dave), FUNDS, "stablecoin back");
        assertEq(energy.balanceOf(dave), DAVE_CREDITS, "credits back");
        assertEq(_vault(dave), 0, "vault empty");
    }

    function test_Deposit_DeactivatedParticipantMayDeposit() public {
        vm.prank(admin);
        market.deactivateParticipant(alice);
        _fund(alice, 1e6);
        assertEq(_vault(alice), FUNDS + 1e6);
    }

    function test_RevertWhen_DepositZero() public {
        vm.prank(alice);
        vm.expectRevert(IEnergyMarket.MarketZeroAmount.selector);
        market.deposit(STABLE, 0);
    }

    function test_RevertWhen_WithdrawZero() public {
        vm.prank(alice);
        vm.expectRevert(IEnergyMarket.MarketZeroAmount.selector);
        market.withdraw(ENERGY, 0);
    }

    function test_RevertWhen_DepositByUnknownParticipant() public {
        vm.prank(admin);
        stablecoin.mint(stranger, 1e6);
        vm.startPrank(stranger);
        stablecoin.approve(address(market), 1e6);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, stranger));
        market.deposit(STABLE, 1e6);
        vm.stopPrank();
    }

    function test_RevertWhen_WithdrawByUnknownParticipant() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, stranger));
        market.withdraw(STABLE, 1);
    }

    function test_RevertWhen_WithdrawMoreStablecoinThanHeld() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector, alice, STABLE, FUNDS + 1, FUNDS
            )
        );
        market.withdraw(STABLE, FUNDS + 1);
    }

    function test_RevertWhen_WithdrawMoreCreditsThanHeld() public {
        vm.prank(dave);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                dave,
                ENERGY,
                DAVE_CREDITS + 1,
                DAVE_CREDITS
            )
        );
        market.withdraw(ENERGY, DAVE_CREDITS + 1);
    }

    function test_RevertWhen_WithdrawMoreCarbonThanHeld() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketInsufficientVaultBalance.selector, alice, CARBON, 1, 0)
        );
        market.withdraw(CARBON, 1);
    }

    function test_RevertWhen_DepositOverflowsStablecoinBalance() public {
        uint256 headroom = type(uint96).max - FUNDS;
        vm.prank(admin);
        stablecoin.mint(alice, headroom + 1);
        vm.startPrank(alice);
        stablecoin.approve(address(market), headroom + 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketBalanceOverflow.selector, alice, STABLE));
        market.deposit(STABLE, headroom + 1);
        market.deposit(STABLE, headroom);
        vm.stopPrank();
        assertEq(_vault(alice), type(uint96).max, "filled to the brim");
    }

    function test_RevertWhen_DepositOverflowsCreditBalance() public {
        uint256 headroom = type(uint56).max - DAVE_CREDITS;
        _mintCredits(dave, headroom + 1);
        vm.startPrank(dave);
        energy.approve(address(market), headroom + 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketBalanceOverflow.selector, dave, ENERGY));
        market.deposit(ENERGY, headroom + 1);
        market.deposit(ENERGY, headroom);
        vm.stopPrank();
        assertEq(_credits(dave), type(uint56).max, "filled to the brim");
        assertEq(_vault(dave), FUNDS, "stablecoin untouched");
    }

    function test_RevertWhen_DepositOverflowsCarbonBalance() public {
        uint256 full = type(uint56).max;
        _mintCarbon(bob, full + 1);
        vm.startPrank(bob);
        carbon.approve(address(market), full + 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketBalanceOverflow.selector, bob, CARBON));
        market.deposit(CARBON, full + 1);
        market.deposit(CARBON, full);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketBalanceOverflow.selector, bob, CARBON));
        market.deposit(CARBON, 1);
        vm.stopPrank();
        assertEq(_carbonOf(bob), full, "filled to the brim");
        assertEq(_credits(bob), 0, "credits untouched");
    }

    // ================================================================ orders

    function test_PlaceOrder_StoresAndEmits() public {
        IEnergyMarket.OrderParams memory params = IEnergyMarket.OrderParams({
            sells: true,
            sellFloor: 180_000,
            buys: true,
            buyCeiling: 350_000,
            capWh: 2500,
            validFrom: T1,
            validUntil: T1 + 1 days,
            coverFromCredits: true
        });
        vm.expectEmit(address(market));
        emit IEnergyMarket.OrderPlaced(alicePv, alice, params);
        vm.prank(alice);
        market.placeOrder(alicePv, params);

        assertEq(abi.encode(market.orderOf(alicePv)), abi.encode(params));
    }

    function test_PlaceOrder_ReplacesTheStandingOrder() public {
        IEnergyMarket.OrderParams memory params = _buyOrder(260_000);
        params.capWh = 100;
        vm.prank(alice);
        market.placeOrder(alicePv, params);

        IEnergyMarket.OrderParams memory stored = market.orderOf(alicePv);
        assertFalse(stored.sells, "no longer sells");
        assertEq(stored.sellFloor, 0, "old floor gone");
        assertTrue(stored.buys, "buys");
        assertEq(stored.buyCeiling, 260_000, "ceiling");
        assertEq(stored.capWh, 100, "cap");
    }

    /// @dev The limit of the side an order does not trade is not range-checked, not stored, and the event
    /// reports the order as stored.
    function test_PlaceOrder_IgnoresTheLimitOfASideItDoesNotTrade() public {
        IEnergyMarket.OrderParams memory params = _buyOrder(260_000);
        params.sellFloor = type(uint64).max; // out of range, but unused: not checked, not stored
        IEnergyMarket.OrderParams memory stored = _buyOrder(260_000);
        vm.expectEmit(address(market));
        emit IEnergyMarket.OrderPlaced(alicePv, alice, stored);
        vm.prank(alice);
        market.placeOrder(alicePv, params);
        assertEq(abi.encode(market.orderOf(alicePv)), abi.encode(stored));

        params = _sellOrder(190_000);
        params.buyCeiling = type(uint64).max;
        stored = _sellOrder(190_000);
        vm.expectEmit(address(market));
        emit IEnergyMarket.OrderPlaced(alicePv, alice, stored);
        vm.prank(alice);
        market.placeOrder(alicePv, params);
        assertEq(abi.encode(market.orderOf(alicePv)), abi.encode(stored));
    }

    function test_PlaceOrder_OpenEndedAndOneSecondValidity() public {
        IEnergyMarket.OrderParams memory params = _sellOrder(1);
        params.validFrom = T2;
        params.validUntil = 0; // no end
        _placeOrder(alicePv, params);
        params.validUntil = T2; // from == until is not reversed
        _placeOrder(alicePv, params);
        assertEq(market.orderOf(alicePv).validUntil, T2);
    }

    function test_PlaceOrder_LargestPrices() public {
        IEnergyMarket.OrderParams memory params = _sellOrder(type(uint48).max);
        params.buys = true;
        params.buyCeiling = type(uint48).max;
        _placeOrder(alicePv, params);
        assertEq(market.orderOf(alicePv).buyCeiling, type(uint48).max);
    }

    function test_CancelOrder() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.OrderCancelled(carolHome);
        vm.prank(carol);
        market.cancelOrder(carolHome);

        IEnergyMarket.OrderParams memory empty;
        assertEq(abi.encode(market.orderOf(carolHome)), abi.encode(empty));

        // The meter can get a new order and trade with it: the owner link survived the cancel.
        _placeOrder(carolHome, _buyOrder(CAROL_CEILING));
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
        assertEq(_vault(carol), FUNDS - _cost(1000, PRICE, FEE));
    }

    function test_CancelOrder_ByDeactivatedParticipant() public {
        vm.prank(admin);
        market.deactivateParticipant(alice);
        vm.prank(alice);
        market.cancelOrder(alicePv);
        assertFalse(market.orderOf(alicePv).sells);
    }

    function test_RevertWhen_PlaceOrderByNonOwner() public {
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNotMeterOwner.selector, alicePv, bob));
        market.placeOrder(alicePv, _sellOrder(1));
    }

    function test_RevertWhen_PlaceOrderOnUnknownMeter() public {
        address ghost = makeAddr("ghost meter");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNotMeterOwner.selector, ghost, alice));
        market.placeOrder(ghost, _sellOrder(1));
    }

    function test_RevertWhen_CancelOrderByNonOwner() public {
        vm.prank(erin);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNotMeterOwner.selector, carolHome, erin));
        market.cancelOrder(carolHome);
    }

    function test_RevertWhen_PlaceOrderByInactiveParticipant() public {
        vm.prank(admin);
        market.deactivateParticipant(alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketParticipantNotActive.selector, alicePv));
        market.placeOrder(alicePv, _sellOrder(1));
    }

    function test_RevertWhen_PlaceEmptyOrder() public {
        IEnergyMarket.OrderParams memory params;
        params.sellFloor = 1;
        params.buyCeiling = 1;
        params.coverFromCredits = true;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderEmpty.selector, alicePv));
        market.placeOrder(alicePv, params);
    }

    function test_RevertWhen_SellFloorOutOfRange() public {
        uint64 tooHigh = uint64(type(uint48).max) + 1;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketPriceOutOfRange.selector, tooHigh));
        market.placeOrder(alicePv, _sellOrder(tooHigh));
    }

    function test_RevertWhen_BuyCeilingOutOfRange() public {
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketPriceOutOfRange.selector, type(uint64).max)
        );
        market.placeOrder(carolHome, _buyOrder(type(uint64).max));
    }

    function test_RevertWhen_ValidityReversed() public {
        IEnergyMarket.OrderParams memory params = _sellOrder(1);
        params.validFrom = T2;
        params.validUntil = T2 - 1;
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketValidityReversed.selector, alicePv, T2, T2 - 1)
        );
        market.placeOrder(alicePv, params);
    }

    function test_RevertWhen_CancelWithoutOrder() public {
        vm.startPrank(alice);
        market.cancelOrder(alicePv);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoOrder.selector, alicePv));
        market.cancelOrder(alicePv);
        vm.stopPrank();
    }

    // ================================================================ admin parameters

    function test_SetNetworkFee_PaysTheCaller() public {
        address otherOperator = makeAddr("other operator");
        bytes32 role = market.GRID_OPERATOR_ROLE();
        vm.prank(admin);
        market.grantRole(role, otherOperator);
        vm.expectEmit(address(market));
        emit IEnergyMarket.NetworkFeeSet(otherOperator, 12_345);
        vm.prank(otherOperator);
        market.setNetworkFee(12_345);

        (uint64 fee, address operator) = market.networkFee();
        assertEq(fee, 12_345, "fee");
        assertEq(operator, otherOperator, "operator");
    }

    function test_RevertWhen_SetNetworkFeeWithoutRole() public {
        bytes32 role = market.GRID_OPERATOR_ROLE();
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, keeper, role)
        );
        market.setNetworkFee(1);
    }

    function test_RevertWhen_NetworkFeeOutOfRange() public {
        uint64 tooHigh = uint64(type(uint48).max) + 1;
        vm.prank(gridOperator);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketPriceOutOfRange.selector, tooHigh));
        market.setNetworkFee(tooHigh);
    }

    function test_SetKeeperFee_UpToTenPercent() public {
        vm.expectEmit(address(market));
        emit IEnergyMarket.KeeperFeeSet(1000);
        vm.prank(admin);
        market.setKeeperFee(1000);
        assertEq(market.keeperFeeBps(), 1000);
    }

    function test_RevertWhen_KeeperFeeTooHigh() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketKeeperFeeTooHigh.selector, 1001, 1000));
        market.setKeeperFee(1001);
    }

    function test_RevertWhen_SetKeeperFeeWithoutRole() public {
        bytes32 role = market.DEFAULT_ADMIN_ROLE();
        vm.prank(gridOperator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, gridOperator, role
            )
        );
        market.setKeeperFee(1);
    }

    // ================================================================ settle: money

    /// @dev alice exports 2,000 Wh (and imports 100), carol imports 1,500; alice sells carol 1,500 Wh.
    function test_Settle_PaysSellerBuyerOperatorAndKeeperExactly() public {
        _attest(alicePv, T1, 100, 2000);
        _attest(carolHome, T1, 1500, 0);
        uint256 marketBefore = stablecoin.balanceOf(address(market));

        _settle(T, PRICE, _fills(_sell(alicePv, 1500), _buy(carolHome, 1500)), true);

        // 1,500 Wh x 0.25 $/kWh = 375,000, less 0.5 % = 1,875 for the keeper.
        assertEq(_vault(alice), FUNDS + 373_125, "seller");
        // 1,500 Wh x (0.25 + 0.03) $/kWh.
        assertEq(_vault(carol), FUNDS - 420_000, "buyer");
        assertEq(stablecoin.balanceOf(gridOperator), 45_000, "grid operator");
        assertEq(stablecoin.balanceOf(keeper), 1875, "keeper");
        assertEq(stablecoin.balanceOf(address(market)), marketBefore - 45_000 - 1875, "market holds");

        IEnergyMarket.IntervalRecord memory record = market.interval(T);
        assertEq(record.keeper, keeper, "record keeper");
        assertEq(record.price, PRICE, "record price");
        assertEq(uint8(record.status), uint8(IEnergyMarket.IntervalStatus.Settled), "record status");
        assertEq(record.lastBatchAt, T1, "record time");
        // Both meters are settled in full and may trade the next interval.
        assertEq(uint8(market.meterState(alicePv).pending), uint8(IMeterRegistry.Pending.None), "alice");
        assertEq(uint8(market.meterState(carolHome).pending), uint8(IMeterRegistry.Pending.None), "carol");
    }

    /// @dev Two sellers and two buyers at odd volumes and prices: every party is rounded against it by
    /// less than a unit, and the keeper collects exactly the dust.
    function test_Settle_RoundingDustGoesToTheKeeper() public {
        vm.prank(gridOperator);
        market.setNetworkFee(30_003);
        _attest(alicePv, T1, 0, 1237);
        _attest(bobPv, T1, 0, 763);
        _attest(carolHome, T1, 999, 0);
        _attest(daveHome, T1, 1001, 0);

        vm.expectEmit(address(market));
        emit IEnergyMarket.IntervalSettled(T, keeper, 250_001, 2000, 60_006, 2501, true);
        _settle(
            T,
            250_001,
            _fills(_sell(alicePv, 1237), _sell(bobPv, 763), _buy(carolHome, 999), _buy(daveHome, 1001)),
            true
        );

        // value floor(1237 x 250.001) = 309,251, keeper fee floor(1,546.255) = 1,546.
        assertEq(_vault(alice), FUNDS + 307_705, "alice");
        // value floor(763 x 250.001) = 190,750, keeper fee floor(953.75) = 953.
        assertEq(_vault(bob), FUNDS + 189_797, "bob");
        // ceil(999 x 280.004) = ceil(279,723.996).
        assertEq(_vault(carol), FUNDS - 279_724, "carol");
        // ceil(1001 x 280.004) = ceil(280,284.004).
        assertEq(_vault(dave), FUNDS - 280_285, "dave");
        // floor(2000 x 30.003).
        assertEq(stablecoin.balanceOf(gridOperator), 60_006, "grid operator");
        // 1,546 + 953 of fees and 2 units of rounding dust: 560,009 paid = 497,502 + 60,006 + 2,501.
        assertEq(stablecoin.balanceOf(keeper), 2501, "keeper");
        assertEq(
            stablecoin.balanceOf(address(market)),
            5 * FUNDS + 560_009 - 560_009 - 60_006 - 2501 + 497_502 - 497_502
        );
    }

    function test_Settle_ZeroFeesAndZeroPrice() public {
        vm.prank(admin);
        market.setKeeperFee(0);
        vm.prank(gridOperator);
        market.setNetworkFee(0);
        _placeOrder(alicePv, _sellOrder(0));
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);

        _settle(T, 0, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);

        assertEq(_vault(alice), FUNDS, "nothing earned");
        assertEq(_vault(carol), FUNDS, "nothing paid");
        assertEq(stablecoin.balanceOf(keeper), 0, "keeper");
        assertEq(stablecoin.balanceOf(gridOperator), 0, "operator");
        assertEq(energy.totalSupply(), DAVE_CREDITS, "the sold export is not credited");
        assertEq(_carbonOf(alice), 400, "carbon still accrues on the export");
    }

    /// @dev One `MetersSettled` with both meters' records, in meter order, then `IntervalSettled`.
    function test_Settle_EmitsMetersSettledAndIntervalSettled() public {
        _attest(alicePv, T1, 100, 2000);
        _attest(carolHome, T1, 1500, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1500), _buy(carolHome, 1500));

        _expectMetersSettled(
            address(market),
            _settledRecord(alicePv, T, 1500, 0, 373_125, 500, 0, 100, 800),
            _settledRecord(carolHome, T, 0, 1500, 420_000, 0, 0, 0, 0)
        );
        vm.expectEmit(address(market));
        emit IEnergyMarket.IntervalSettled(T, keeper, PRICE, 1500, 45_000, 1875, true);
        _settle(T, PRICE, fills, true);
    }

    /// @dev The event's data is the ABI encoding of `bytes32[]`, two words per meter, laid out bit for bit
    /// as `IEnergyMarket.MetersSettled` documents (checked here against literal offsets, not the library's
    /// constants), and `SettlementRecords.decode` reads them back.
    function test_Settle_RecordsLayout() public {
        _attest(alicePv, T1, 100, 2000);
        _attest(carolHome, T1, 1500, 0);

        vm.recordLogs();
        _settle(T, PRICE, _fills(_sell(alicePv, 1500), _buy(carolHome, 1500)), true);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        uint256 found;
        bytes memory data;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != IEnergyMarket.MetersSettled.selector) continue;
            assertEq(logs[i].emitter, address(market), "emitter");
            assertEq(logs[i].topics.length, 1, "no indexed topics");
            data = logs[i].data;
            ++found;
        }
        assertEq(found, 1, "one MetersSettled per batch");
        // alice sold 1,500 of 2,000 Wh (500 credited) and imported 100 (grid-supplied); carbon on all
        // 2,000 Wh; she earned 375,000 less 0.5 %.
        uint256 alice0 = uint256(uint160(alicePv)) | (uint256(T) << 160) | (uint256(800) << 200);
        uint256 alice1 = 1500 | (uint256(500) << 32) | (uint256(100) << 96) | (uint256(373_125) << 128);
        // carol bought 1,500 Wh for 420,000 (network fee included): flag bit 0 at bit 224.
        uint256 carol0 = uint256(uint160(carolHome)) | (uint256(T) << 160);
        uint256 carol1 = 1500 | (uint256(420_000) << 128) | (uint256(1) << 224);
        bytes32[] memory expected = new bytes32[](4);
        (expected[0], expected[1], expected[2], expected[3]) = alicePv < carolHome
            ? (bytes32(alice0), bytes32(alice1), bytes32(carol0), bytes32(carol1))
            : (bytes32(carol0), bytes32(carol1), bytes32(alice0), bytes32(alice1));
        assertEq(data, abi.encode(expected), "ABI-encoded bytes32[]");
        assertEq(data.length, 32 * (2 + 4), "offset, length, four words");

        SettlementRecords.Record[] memory records = SettlementRecords.decodeAll(abi.decode(data, (bytes32[])));
        (SettlementRecords.Record memory a,) = _recordOf(records, alicePv);
        (SettlementRecords.Record memory c,) = _recordOf(records, carolHome);
        assertEq(a.interval, T, "interval");
        assertEq(a.carbonGrams, 800, "carbon");
        assertEq(a.tradedWh, 1500, "sold");
        assertFalse(a.bought, "alice sold");
        assertEq(a.amount, 373_125, "earned");
        assertEq(a.creditedWh, 500, "credited");
        assertEq(a.coveredWh, 0, "covered");
        assertEq(a.gridSuppliedWh, 100, "grid-supplied");
        assertTrue(c.bought, "carol bought");
        assertEq(c.tradedWh, 1500, "bought");
        assertEq(c.amount, 420_000, "paid");
        assertEq(c.creditedWh + c.coveredWh + c.gridSuppliedWh + c.carbonGrams, 0, "nothing else");
    }

    function test_Settle_EmptyClosingBatchClosesTheInterval() public {
        vm.recordLogs();
        _settle(T, PRICE, _noFills(), true);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one log, no token moved");
        assertEq(logs[0].emitter, address(market), "emitter");
        assertEq(logs[0].topics[0], IEnergyMarket.IntervalSettled.selector, "IntervalSettled");
        assertEq(logs[0].data, abi.encode(PRICE, 0, 0, 0, true), "nothing traded");
        assertEq(uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.Settled));
    }

    // ================================================================ settle: residuals

    function test_Settle_UnsoldExportIsCreditedWithCarbon() public {
        _attest(alicePv, T1, 0, 2000);
        _attest(carolHome, T1, 1500, 0);
        uint256 supplyBefore = energy.totalSupply();

        _settle(T, PRICE, _fills(_sell(alicePv, 1500), _buy(carolHome, 1500)), true);

        assertEq(_credits(alice), 500, "unsold export credited");
        assertEq(energy.totalSupply(), supplyBefore + 500, "credits minted");
        assertEq(energy.balanceOf(address(market)), supplyBefore + 500, "minted to the vault");
        // All 2,000 Wh exported earn carbon at 400 g/kWh, sold or not.
        assertEq(_carbonOf(alice), 800, "carbon");
        assertEq(carbon.totalSupply(), 800, "carbon minted");
        assertEq(carbon.balanceOf(address(market)), 800, "carbon held by the vault");
    }

    function test_Settle_CarbonRoundsDownPerMeter() public {
        _attest(alicePv, T1, 0, 1234);
        _attest(carolHome, T1, 1000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
        assertEq(_carbonOf(alice), 493, "1,234 Wh x 0.4 g/Wh = 493.6 g");
    }

    function test_Settle_UnboughtImportIsCoveredFromCreditsWhenOptedIn() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(daveHome, T1, 1300, 0);
        uint256 supplyBefore = energy.totalSupply();

        _expectMetersSettled(
            address(market),
            _settledRecord(alicePv, T, 1000, 0, _earned(1000, PRICE, KEEPER_BPS), 0, 0, 0, 400),
            _settledRecord(daveHome, T, 0, 1000, _cost(1000, PRICE, FEE), 0, 300, 0, 0)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(daveHome, 1000)), true);

        assertEq(_credits(dave), DAVE_CREDITS - 300, "credits spent");
        assertEq(energy.totalSupply(), supplyBefore - 300, "credits burned");
        assertEq(energy.balanceOf(address(market)), DAVE_CREDITS - 300, "vault holds the rest");
    }

    function test_Settle_CoverFallsBackToGridWhenCreditsRunOut() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(daveHome, T1, 2000, 0);

        _expectMetersSettled(
            address(market),
            _settledRecord(alicePv, T, 1000, 0, _earned(1000, PRICE, KEEPER_BPS), 0, 0, 0, 400),
            _settledRecord(daveHome, T, 0, 1000, _cost(1000, PRICE, FEE), 0, 400, 600, 0)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(daveHome, 1000)), true);
        assertEq(_credits(dave), 0, "all credits spent");
    }

    function test_Settle_UnboughtImportIsGridSuppliedWithoutOptIn() public {
        // carol holds credits but did not opt in: they stay untouched.
        _mintCredits(carol, 1000);
        vm.startPrank(carol);
        energy.approve(address(market), 1000);
        market.deposit(ENERGY, 1000);
        vm.stopPrank();
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1500, 0);

        _expectMetersSettled(
            address(market),
            _settledRecord(alicePv, T, 1000, 0, _earned(1000, PRICE, KEEPER_BPS), 0, 0, 0, 400),
            _settledRecord(carolHome, T, 0, 1000, _cost(1000, PRICE, FEE), 0, 0, 500, 0)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
        assertEq(_credits(carol), 1000, "credits untouched");
    }

    /// @dev A seller that also imported, with cover opted in: its own unsold export covers its import.
    function test_Settle_SellerImportCoveredByItsOwnUnsoldExport() public {
        IEnergyMarket.OrderParams memory params = _sellOrder(ALICE_FLOOR);
        params.coverFromCredits = true;
        _placeOrder(alicePv, params);
        _attest(alicePv, T1, 300, 2000);
        _attest(carolHome, T1, 1500, 0);
        uint256 supplyBefore = energy.totalSupply();

        _expectMetersSettled(
            address(market),
            _settledRecord(alicePv, T, 1500, 0, _earned(1500, PRICE, KEEPER_BPS), 500, 300, 0, 800),
            _settledRecord(carolHome, T, 0, 1500, _cost(1500, PRICE, FEE), 0, 0, 0, 0)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1500), _buy(carolHome, 1500)), true);

        assertEq(_credits(alice), 200, "500 credited, 300 used");
        assertEq(energy.totalSupply(), supplyBefore + 200, "net mint");
    }

    // ================================================================ settle: reverts

    function test_RevertWhen_SettleWithoutKeeperRole() public {
        bytes32 role = market.KEEPER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        market.settle(T, PRICE, _noFills(), true);
    }

    function test_RevertWhen_IntervalNotClosed() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalNotClosed.selector, T + 1, T2));
        _settle(T + 1, PRICE, _noFills(), true);

        vm.warp(T2 - 1);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalNotClosed.selector, T + 1, T2));
        _settle(T + 1, PRICE, _noFills(), true);

        vm.warp(T2);
        _settle(T + 1, PRICE, _noFills(), true);
    }

    function test_RevertWhen_IntervalAlreadySettled() public {
        _settle(T, PRICE, _noFills(), true);

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalAlreadySettled.selector, T));
        _settle(T, PRICE, _noFills(), false);

        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalAlreadySettled.selector, T));
        market.settle(T, PRICE, _noFills(), true);
    }

    function test_RevertWhen_IntervalClaimedByAnotherKeeper() public {
        _settle(T, PRICE, _noFills(), false);

        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalClaimed.selector, T, keeper));
        market.settle(T, PRICE, _noFills(), true);
    }

    /// @dev A keeper that stopped does not block its interval: from `INTERVAL_SECONDS` after its last
    /// batch, another keeper continues it at the same price (and takes it over), not a second earlier.
    function test_Settle_AnotherKeeperTakesOverAStalledInterval() public {
        _attestAll(T1, [uint48(0), 0, 1000, 800, 0, 0], [uint48(1000), 800, 0, 0, 0, 0]);
        uint256 firstBatchAt = T1 + 60;
        vm.warp(firstBatchAt);
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), false);
        assertEq(market.interval(T).lastBatchAt, firstBatchAt, "last batch time");
        uint256[] memory rest = _fills(_sell(bobPv, 800), _buy(daveHome, 800));

        vm.warp(firstBatchAt + INTERVAL - 1);
        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalClaimed.selector, T, keeper));
        market.settle(T, PRICE, rest, false);

        vm.warp(firstBatchAt + INTERVAL);
        vm.prank(rivalKeeper);
        market.settle(T, PRICE, rest, false);
        IEnergyMarket.IntervalRecord memory record = market.interval(T);
        assertEq(record.keeper, rivalKeeper, "taken over");
        assertEq(record.lastBatchAt, firstBatchAt + INTERVAL, "clock restarted");
        assertEq(uint8(record.status), uint8(IEnergyMarket.IntervalStatus.InProgress), "still open");
        assertEq(record.price, PRICE, "same price");
        assertEq(_vault(bob), FUNDS + _earned(800, PRICE, KEEPER_BPS), "second batch paid");

        // Now the first keeper is the other one: it waits for the rival to stall in turn.
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalClaimed.selector, T, rivalKeeper));
        _settle(T, PRICE, _noFills(), true);
        vm.prank(rivalKeeper);
        market.settle(T, PRICE, _noFills(), true);
        assertEq(uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.Settled), "closed");
    }

    /// @dev The keeper that takes over may close the interval without a batch of its own, at the same
    /// price only; each batch of the claiming keeper restarts the clock.
    function test_Settle_TakeOverClosesAtTheSamePriceOnly() public {
        _settle(T, PRICE, _noFills(), false);
        vm.warp(T1 + 600);
        _settle(T, PRICE, _noFills(), false);

        vm.warp(T1 + 600 + INTERVAL - 1);
        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalClaimed.selector, T, keeper));
        market.settle(T, PRICE, _noFills(), true);

        vm.warp(T1 + 600 + INTERVAL);
        vm.prank(rivalKeeper);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketPriceChanged.selector, T, PRICE, PRICE + 1)
        );
        market.settle(T, PRICE + 1, _noFills(), true);
        vm.prank(rivalKeeper);
        market.settle(T, PRICE, _noFills(), true);
        IEnergyMarket.IntervalRecord memory record = market.interval(T);
        assertEq(uint8(record.status), uint8(IEnergyMarket.IntervalStatus.Settled), "closed");
        assertEq(record.keeper, rivalKeeper, "by the keeper that took over");
    }

    function test_RevertWhen_PriceChangedBetweenBatches() public {
        _settle(T, PRICE, _noFills(), false);

        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketPriceChanged.selector, T, PRICE, PRICE + 1)
        );
        _settle(T, PRICE + 1, _noFills(), true);
    }

    function test_RevertWhen_ClearingPriceOutOfRange() public {
        uint64 tooHigh = uint64(type(uint48).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketPriceOutOfRange.selector, tooHigh));
        _settle(T, tooHigh, _noFills(), true);
    }

    function test_RevertWhen_FillsNotSorted() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
        (fills[0], fills[1]) = (fills[1], fills[0]);

        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketFillsNotSorted.selector, 1, Fills.meterOf(fills[1]))
        );
        _settle(T, PRICE, fills, true);
    }

    /// @dev A fill with a bit set outside its meter, Wh and buy fields reverts with its index, whichever
    /// bit it is, before anything else is checked about it.
    function test_RevertWhen_FillMalformed() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
        uint256[3] memory strayBits = [uint256(1) << 193, uint256(1) << 224, uint256(1) << 255];
        for (uint256 k; k < strayBits.length; ++k) {
            uint256[] memory broken = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
            broken[1] |= strayBits[k];
            vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketFillMalformed.selector, 1));
            _settle(T, PRICE, broken, true);
        }
        // Even a fill that would fail every other check reports the stray bit first.
        uint256[] memory garbage = new uint256[](1);
        garbage[0] = type(uint256).max;
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketFillMalformed.selector, 0));
        _settle(T, PRICE, garbage, true);

        _settle(T, PRICE, fills, true);
        assertEq(_vault(carol), FUNDS - _cost(1000, PRICE, FEE), "the well-formed batch settles");
    }

    function test_RevertWhen_MeterTwiceInABatch() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = new uint256[](3);
        fills[0] = _sell(alicePv, 500);
        fills[1] = _sell(alicePv, 500);
        fills[2] = _buy(carolHome, 1000);
        fills = _sorted(fills);
        uint256 second = Fills.meterOf(fills[0]) == alicePv ? 1 : 2;

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketFillsNotSorted.selector, second, alicePv));
        _settle(T, PRICE, fills, true);
    }

    function test_RevertWhen_FillForTheZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketFillsNotSorted.selector, 0, address(0)));
        _settle(T, PRICE, _fills(_sell(address(0), 1)), true);
    }

    function test_RevertWhen_ZeroFill() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketZeroFill.selector, carolHome));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 0)), true);
    }

    function test_RevertWhen_NoAttestedVolume_ReadingMissing() public {
        _attest(carolHome, T1, 1000, 0);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, T));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
    }

    function test_RevertWhen_NoAttestedVolume_ReadingForAnotherInterval() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint64 earlier = T - 1;
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, earlier)
        );
        _settle(earlier, PRICE, _fills(_sell(alicePv, 1000)), true);
    }

    /// @dev alice skipped interval T: her reading for T+1 spans two intervals and is residual only.
    function test_RevertWhen_NoAttestedVolume_ReadingAfterAGap() public {
        vm.warp(T2);
        _attest(alicePv, T2, 0, 1000);
        _attest(carolHome, T1, 0, 0);
        _attest(carolHome, T2, 1000, 0);
        assertEq(uint8(market.meterState(alicePv).pending), uint8(IMeterRegistry.Pending.ResidualOnly));

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, T + 1));
        _settle(T + 1, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
    }

    /// @dev Interval T was not settled before alice's next reading arrived: everything she has pending is
    /// residual only, so neither T nor T+1 can trade it.
    function test_RevertWhen_NoAttestedVolume_NotSettledBeforeTheNextReading() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        vm.warp(T2);
        _attest(alicePv, T2, 0, 1000);

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, T));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, T + 1));
        _settle(T + 1, PRICE, _fills(_sell(alicePv, 1000)), true);
    }

    function test_RevertWhen_NoAttestedVolume_AlreadySettledInAnEarlierBatch() public {
        _attest(alicePv, T1, 0, 2000);
        _attest(carolHome, T1, 1000, 0);
        _attest(daveHome, T1, 1000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), false);

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNoAttestedVolume.selector, alicePv, T));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(daveHome, 1000)), true);
    }

    function test_RevertWhen_SellAboveAttestedExport() public {
        _attest(alicePv, T1, 5000, 2000);
        _attest(carolHome, T1, 3000, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketFillAboveAttested.selector, alicePv, 2001, 2000)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 2001), _buy(carolHome, 2001)), true);
    }

    function test_RevertWhen_BuyAboveAttestedImport() public {
        _attest(alicePv, T1, 0, 3000);
        _attest(carolHome, T1, 1500, 4000);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketFillAboveAttested.selector, carolHome, 1501, 1500)
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1501), _buy(carolHome, 1501)), true);
    }

    function test_RevertWhen_FillAboveCap() public {
        _attest(bobPv, T1, 0, 4000);
        _attest(carolHome, T1, 4000, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketFillAboveCap.selector, bobPv, BOB_CAP + 1, BOB_CAP)
        );
        _settle(T, PRICE, _fills(_sell(bobPv, BOB_CAP + 1), _buy(carolHome, BOB_CAP + 1)), true);

        // The cap itself trades; the rest of the export is credited.
        _settle(T, PRICE, _fills(_sell(bobPv, BOB_CAP), _buy(carolHome, BOB_CAP)), true);
        assertEq(_credits(bob), 1000);
    }

    function test_RevertWhen_OrderCancelled() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        vm.prank(carol);
        market.cancelOrder(carolHome);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderNotLive.selector, carolHome, T));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
    }

    /// @dev An order valid from a second after `T0` does not trade interval T, which started at `T0`.
    function test_RevertWhen_OrderNotYetValid() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        IEnergyMarket.OrderParams memory params = _sellOrder(ALICE_FLOOR);
        params.validFrom = T0 + 1;
        _placeOrder(alicePv, params);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderNotLive.selector, alicePv, T));
        _settle(T, PRICE, fills, true);

        params.validFrom = T0;
        _placeOrder(alicePv, params);
        _settle(T, PRICE, fills, true);
    }

    /// @dev An order valid until just before `T1` does not trade interval T, which ends at `T1`.
    function test_RevertWhen_OrderExpired() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        IEnergyMarket.OrderParams memory params = _buyOrder(CAROL_CEILING);
        params.validUntil = T1 - 1;
        _placeOrder(carolHome, params);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderNotLive.selector, carolHome, T));
        _settle(T, PRICE, fills, true);

        params.validUntil = T1;
        _placeOrder(carolHome, params);
        _settle(T, PRICE, fills, true);
    }

    function test_RevertWhen_OrderDoesNotSell() public {
        _attest(carolHome, T1, 0, 1000);
        _attest(daveHome, T1, 1000, 0);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderDoesNotSell.selector, carolHome));
        _settle(T, PRICE, _fills(_sell(carolHome, 1000), _buy(daveHome, 1000)), true);
    }

    function test_RevertWhen_OrderDoesNotBuy() public {
        _attest(alicePv, T1, 1000, 0);
        _attest(bobPv, T1, 0, 1000);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketOrderDoesNotBuy.selector, alicePv));
        _settle(T, PRICE, _fills(_sell(bobPv, 1000), _buy(alicePv, 1000)), true);
    }

    function test_RevertWhen_PriceBelowFloor() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketPriceBelowFloor.selector, alicePv, ALICE_FLOOR - 1, ALICE_FLOOR
            )
        );
        _settle(T, ALICE_FLOOR - 1, fills, true);

        _settle(T, ALICE_FLOOR, fills, true);
    }

    function test_RevertWhen_PriceAboveCeiling() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketPriceAboveCeiling.selector,
                carolHome,
                CAROL_CEILING + 1,
                FEE,
                CAROL_CEILING
            )
        );
        _settle(T, CAROL_CEILING + 1, fills, true);
    }

    /// @dev The clearing price is below carol's ceiling, but the network fee on top takes it past.
    function test_RevertWhen_NetworkFeeTakesThePriceAboveTheCeiling() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));
        uint64 price = CAROL_CEILING - FEE + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketPriceAboveCeiling.selector, carolHome, price, FEE, CAROL_CEILING
            )
        );
        _settle(T, price, fills, true);

        _settle(T, price - 1, fills, true);
        assertEq(_vault(carol), FUNDS - CAROL_CEILING, "paid exactly the ceiling for one kWh");
    }

    function test_RevertWhen_BuyerCannotPay() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        uint256 cost = _cost(1000, PRICE, FEE);
        vm.prank(carol);
        market.withdraw(STABLE, FUNDS - cost + 1);
        uint256[] memory fills = _fills(_sell(alicePv, 1000), _buy(carolHome, 1000));

        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientBalance.selector, carolHome, cost, cost - 1
            )
        );
        _settle(T, PRICE, fills, true);

        _fund(carol, 1);
        _settle(T, PRICE, fills, true);
        assertEq(_vault(carol), 0, "spent to the last unit");
    }

    function test_RevertWhen_ParticipantDeactivated() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        vm.prank(admin);
        market.deactivateParticipant(alice);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketParticipantNotActive.selector, alicePv));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);
    }

    /// @dev erin sells from her PV meter and buys for her EV meter in the same batch.
    function test_RevertWhen_SelfTrade() public {
        _attest(erinPv, T1, 0, 2000);
        _attest(erinEv, T1, 1000, 0);
        _attest(carolHome, T1, 1000, 0);
        uint256[] memory fills = _fills(_sell(erinPv, 2000), _buy(erinEv, 1000), _buy(carolHome, 1000));
        // The second of erin's meters in address order is the one that trips the check.
        address second = erinPv > erinEv ? erinPv : erinEv;

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketSelfTrade.selector, second, T));
        _settle(T, PRICE, fills, true);
    }

    /// @dev Both of erin's meters on the same side is not a self trade.
    function test_Settle_TwoMetersOfOneOwnerOnTheSameSide() public {
        _placeOrder(erinEv, _sellOrder(ERIN_FLOOR));
        _attest(erinPv, T1, 0, 1000);
        _attest(erinEv, T1, 0, 500);
        _attest(carolHome, T1, 1500, 0);

        _settle(T, PRICE, _fills(_sell(erinPv, 1000), _sell(erinEv, 500), _buy(carolHome, 1500)), true);
        assertEq(_vault(erin), FUNDS + _earned(1000, PRICE, KEEPER_BPS) + _earned(500, PRICE, KEEPER_BPS));
    }

    /// @dev A participant may not sell in one batch of an interval and buy in another: "no participant on
    /// both sides" holds for the interval, not only for one transaction. Each settle runs as its own
    /// transaction here (`isolate`), as keepers send them.
    /// forge-config: default.isolate = true
    function test_RevertWhen_SelfTradeAcrossBatches() public {
        _attest(erinPv, T1, 0, 1000);
        _attest(erinEv, T1, 1000, 0);
        _attest(carolHome, T1, 1000, 0);
        _attest(alicePv, T1, 0, 1000);
        _settle(T, PRICE, _fills(_sell(erinPv, 1000), _buy(carolHome, 1000)), false);

        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketSelfTrade.selector, erinEv, T));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(erinEv, 1000)), true);
    }

    /// @dev Selling in interval T and buying in interval T+1 is not a self trade, even when a keeper
    /// catches up on both intervals in one transaction (this test function is one transaction).
    function test_Settle_TwoIntervalsInOneTransactionWithAParticipantOnBothSides() public {
        _attest(erinPv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        vm.warp(T2);
        _settle(T, PRICE, _fills(_sell(erinPv, 1000), _buy(carolHome, 1000)), true);
        _attest(erinEv, T1, 0, 0);
        _attest(erinEv, T2, 1000, 0);
        _attest(alicePv, T1, 0, 0);
        _attest(alicePv, T2, 0, 1000);

        _settle(T + 1, PRICE, _fills(_sell(alicePv, 1000), _buy(erinEv, 1000)), true);
        assertEq(
            market.balancesOf(erin).stablecoin,
            FUNDS + _earned(1000, PRICE, KEEPER_BPS) - _cost(1000, PRICE, FEE)
        );
    }

    /// @dev The side marks hold the latest interval an owner traded in. Once erin traded in T+1, interval
    /// T (still in progress) takes no more of her fills: the marks of T are gone, so a buy there could not
    /// be told from a self trade.
    function test_RevertWhen_OwnerTradedALaterInterval() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 500), _buy(carolHome, 500)), false);
        vm.warp(T2);
        _attest(erinPv, T1, 0, 0);
        _attest(erinPv, T2, 0, 1000);
        _attest(daveHome, T1, 0, 0);
        _attest(daveHome, T2, 1000, 0);
        _settle(T + 1, PRICE, _fills(_sell(erinPv, 1000), _buy(daveHome, 1000)), true);
        _attest(erinEv, T1, 1000, 0);
        _attest(bobPv, T1, 0, 1000);

        vm.expectRevert(
            abi.encodeWithSelector(IEnergyMarket.MarketOwnerTradedLaterInterval.selector, erinEv, T, T + 1)
        );
        _settle(T, PRICE, _fills(_sell(bobPv, 1000), _buy(erinEv, 1000)), true);
    }

    /// @dev An owner may trade the same side of an interval in several batches, with several meters.
    function test_Settle_SameSideInTwoBatchesOfAnInterval() public {
        _placeOrder(erinEv, _sellOrder(ERIN_FLOOR));
        _attest(erinPv, T1, 0, 1000);
        _attest(erinEv, T1, 0, 500);
        _attest(carolHome, T1, 1000, 0);
        _attest(daveHome, T1, 500, 0);
        _settle(T, PRICE, _fills(_sell(erinPv, 1000), _buy(carolHome, 1000)), false);
        _settle(T, PRICE, _fills(_sell(erinEv, 500), _buy(daveHome, 500)), true);
        assertEq(_vault(erin), FUNDS + _earned(1000, PRICE, KEEPER_BPS) + _earned(500, PRICE, KEEPER_BPS));
    }

    function test_RevertWhen_Unbalanced() public {
        _attest(alicePv, T1, 0, 1500);
        _attest(carolHome, T1, 1500, 0);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnbalanced.selector, T, 1000, 1500));
        _settle(T, PRICE, _fills(_sell(alicePv, 1500), _buy(carolHome, 1000)), true);
    }

    function test_RevertWhen_OnlyOneSide() public {
        _attest(alicePv, T1, 0, 1500);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnbalanced.selector, T, 0, 1500));
        _settle(T, PRICE, _fills(_sell(alicePv, 1500)), true);
    }

    // ================================================================ settle: batches and keepers

    function test_Settle_InBatchesThenClose() public {
        _attestAll(T1, [uint48(0), 0, 1000, 800, 0, 0], [uint48(1000), 800, 0, 0, 0, 0]);

        vm.expectEmit(address(market));
        emit IEnergyMarket.IntervalSettled(
            T,
            keeper,
            PRICE,
            1000,
            30_000,
            _cost(1000, PRICE, FEE) - _earned(1000, PRICE, KEEPER_BPS) - 30_000,
            false
        );
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), false);
        IEnergyMarket.IntervalRecord memory record = market.interval(T);
        assertEq(uint8(record.status), uint8(IEnergyMarket.IntervalStatus.InProgress), "in progress");
        assertEq(record.keeper, keeper, "claimed");
        assertEq(record.price, PRICE, "price fixed");

        // A rival keeper cannot add a batch, at the same price or another.
        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalClaimed.selector, T, keeper));
        market.settle(T, PRICE, _fills(_sell(bobPv, 800), _buy(daveHome, 800)), true);

        _settle(T, PRICE, _fills(_sell(bobPv, 800), _buy(daveHome, 800)), false);
        assertEq(
            uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.InProgress), "still open"
        );
        _settle(T, PRICE, _noFills(), true);
        assertEq(uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.Settled), "closed");

        assertEq(_vault(bob), FUNDS + _earned(800, PRICE, KEEPER_BPS), "second batch paid");
        assertEq(_vault(dave), FUNDS - _cost(800, PRICE, FEE), "second batch charged");
        assertEq(stablecoin.balanceOf(gridOperator), 54_000, "1.8 kWh x 0.03");

        vm.prank(rivalKeeper);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalAlreadySettled.selector, T));
        market.settle(T, PRICE, _noFills(), true);
    }

    /// @dev Two keepers race for the same interval: the first transaction claims it, the second reverts
    /// and changes nothing.
    function test_Settle_SecondKeeperLosesTheRace() public {
        _attestAll(T1, [uint48(0), 0, 1000, 800, 0, 0], [uint48(1000), 800, 0, 0, 0, 0]);
        uint256[] memory fills =
            _fills(_sell(alicePv, 1000), _sell(bobPv, 800), _buy(carolHome, 1000), _buy(daveHome, 800));

        vm.prank(rivalKeeper);
        market.settle(T, PRICE, fills, true);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketIntervalAlreadySettled.selector, T));
        _settle(T, PRICE, fills, true);

        assertEq(market.interval(T).keeper, rivalKeeper, "winner recorded");
        assertEq(stablecoin.balanceOf(keeper), 0, "loser paid nothing");
        assertGt(stablecoin.balanceOf(rivalKeeper), 0, "winner paid");
    }

    /// @dev A reverted batch leaves no trace: the interval stays open for any keeper.
    function test_Settle_RevertedBatchDoesNotClaimTheInterval() public {
        _attest(alicePv, T1, 0, 1000);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnbalanced.selector, T, 0, 1000));
        _settle(T, PRICE, _fills(_sell(alicePv, 1000)), false);

        assertEq(uint8(market.interval(T).status), uint8(IEnergyMarket.IntervalStatus.Open));
        vm.prank(rivalKeeper);
        market.settle(T, PRICE + 7, _noFills(), true);
    }

    // ================================================================ finalize

    /// @dev alice skipped T: her reading for T+1 is residual only and finalizes at once.
    function test_Finalize_ResidualOnlyAtOnce() public {
        vm.warp(T2);
        _attest(alicePv, T2, 250, 1234);

        _expectMetersSettled(address(market), _settledRecord(alicePv, T + 1, 0, 0, 0, 1234, 0, 250, 493));
        assertEq(market.finalize(_meters(alicePv)), 1, "settled");

        assertEq(_credits(alice), 1234, "credited");
        assertEq(_carbonOf(alice), 493, "carbon");
        assertEq(energy.balanceOf(address(market)), DAVE_CREDITS + 1234, "credits minted to the vault");
        assertEq(carbon.balanceOf(address(market)), 493, "carbon minted to the vault");
        IMeterRegistry.MeterState memory state = market.meterState(alicePv);
        assertEq(uint8(state.pending), uint8(IMeterRegistry.Pending.None), "nothing pending");
        assertEq(state.pendingExportWh, 0, "export cleared");
        assertEq(state.pendingImportWh, 0, "import cleared");
    }

    function test_Finalize_CoversImportFromCredits() public {
        vm.warp(T2);
        _attest(daveHome, T2, 700, 100);
        uint256 supplyBefore = energy.totalSupply();

        // Credits cover 400 + the 100 just credited; 200 left to the grid.
        _expectMetersSettled(address(market), _settledRecord(daveHome, T + 1, 0, 0, 0, 100, 500, 200, 40));
        market.finalize(_meters(daveHome));

        assertEq(_credits(dave), 0, "all spent");
        assertEq(energy.totalSupply(), supplyBefore - 400, "net burn");
    }

    function test_Finalize_SkipsMarketableVolumesOfAnOpenInterval() public {
        _attest(alicePv, T1, 0, 1000);
        bytes memory before = abi.encode(market.meterState(alicePv));

        vm.recordLogs();
        assertEq(market.finalize(_meters(alicePv)), 0, "skipped");
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        assertEq(abi.encode(market.meterState(alicePv)), before, "unchanged");
    }

    function test_Finalize_SkipsMarketableVolumesOfAnIntervalInProgress() public {
        _attest(alicePv, T1, 0, 1000);
        _settle(T, PRICE, _noFills(), false);
        assertEq(market.finalize(_meters(alicePv)), 0);
    }

    function test_Finalize_MarketableVolumesOnceTheIntervalIsSettled() public {
        _attest(alicePv, T1, 0, 1000);
        _attest(bobPv, T1, 0, 1000);
        _attest(carolHome, T1, 1000, 0);
        _settle(T, PRICE, _fills(_sell(alicePv, 1000), _buy(carolHome, 1000)), true);

        // alice and carol were settled by their fills; bob's volume was not traded.
        _expectMetersSettled(address(market), _settledRecord(bobPv, T, 0, 0, 0, 1000, 0, 0, 400));
        address[] memory meters = new address[](4);
        meters[0] = alicePv;
        meters[1] = bobPv;
        meters[2] = carolHome;
        meters[3] = stranger; // not a meter
        assertEq(market.finalize(meters), 1, "only bob");
        assertEq(_credits(bob), 1000);
        assertEq(market.finalize(meters), 0, "nothing left");
    }

    function test_Finalize_MarketableVolumesAfterTheAcceptanceWindow() public {
        _attest(alicePv, T1, 0, 1000);
        vm.warp(uint256(T1) + WINDOW);
        assertEq(market.finalize(_meters(alicePv)), 0, "at the window's last second, still tradable");
        vm.warp(uint256(T1) + WINDOW + 1);
        assertEq(market.finalize(_meters(alicePv)), 1, "past the window");
        assertEq(_credits(alice), 1000);
    }

    function test_Finalize_ReturnsHowManyWereSettled() public {
        vm.warp(T2);
        _attest(alicePv, T2, 0, 100); // residual: skipped T
        _attest(bobPv, T2, 0, 200); // residual
        _attest(carolHome, T1, 0, 0);
        _attest(carolHome, T2, 300, 0); // marketable in T+1, not settled: skipped
        address[] memory meters = new address[](5);
        meters[0] = alicePv;
        meters[1] = carolHome;
        meters[2] = bobPv;
        meters[3] = daveHome; // nothing pending
        meters[4] = alicePv; // already settled earlier in this call
        assertEq(market.finalize(meters), 2);
        assertEq(market.finalize(new address[](0)), 0, "empty");
    }

    /// @dev One `MetersSettled` for the call, with the settled meters in the order they were given and
    /// the skipped ones left out (its length trimmed to what was settled).
    function test_Finalize_OneEventInCallOrder() public {
        vm.warp(T2);
        _attest(alicePv, T2, 0, 100); // residual: skipped T
        _attest(bobPv, T2, 7, 200); // residual
        _attest(carolHome, T1, 0, 0);
        _attest(carolHome, T2, 300, 0); // marketable in T+1, not settled: skipped
        address[] memory meters = new address[](4);
        meters[0] = bobPv;
        meters[1] = carolHome;
        meters[2] = stranger;
        meters[3] = alicePv;

        vm.recordLogs();
        assertEq(market.finalize(meters), 2);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 events;
        for (uint256 i; i < logs.length; ++i) {
            if (_isMetersSettled(logs[i], address(market))) ++events;
        }
        assertEq(events, 1, "one event");
        SettlementRecords.Record[] memory records = _decodeRecords(logs, address(market));
        assertEq(records.length, 2, "two records");
        _assertRecord(records[0], _settledRecord(bobPv, T + 1, 0, 0, 0, 200, 0, 7, 80), "bob first");
        _assertRecord(records[1], _settledRecord(alicePv, T + 1, 0, 0, 0, 100, 0, 0, 40), "then alice");
    }

    /// @dev After finalize, the meter's next reading is marketable again.
    function test_Finalize_LetsTheNextIntervalTrade() public {
        _attest(alicePv, T1, 0, 1000);
        _settle(T, PRICE, _noFills(), true);
        market.finalize(_meters(alicePv));
        vm.warp(T2);
        _attest(alicePv, T2, 0, 700);
        assertEq(uint8(market.meterState(alicePv).pending), uint8(IMeterRegistry.Pending.Marketable));
    }

    function test_Finalize_DeactivatedOwnerStillGetsCredits() public {
        vm.warp(T2);
        _attest(alicePv, T2, 0, 600);
        vm.prank(admin);
        market.deactivateParticipant(alice);
        assertEq(market.finalize(_meters(alicePv)), 1);
        assertEq(_credits(alice), 600);
    }

    // ================================================================ tokens

    function test_TokensHeldMatchVaultBalances() public {
        _attestAll(T1, [uint48(100), 0, 1000, 1300, 0, 0], [uint48(2000), 900, 0, 0, 0, 0]);
        _settle(
            T,
            PRICE,
            _fills(_sell(alicePv, 1500), _sell(bobPv, 500), _buy(carolHome, 1000), _buy(daveHome, 1000)),
            true
        );
        market.finalize(allMeters);

        address[5] memory people = [alice, bob, carol, dave, erin];
        uint256 stable;
        uint256 credits;
        uint256 grams;
        for (uint256 i; i < people.length; ++i) {
            IEnergyMarket.Balances memory b = market.balancesOf(people[i]);
            stable += b.stablecoin;
            credits += b.creditsWh;
            grams += b.carbonGrams;
        }
        assertEq(IERC20(address(stablecoin)).balanceOf(address(market)), stable, "stablecoin");
        assertEq(energy.balanceOf(address(market)), credits, "credits");
        assertEq(carbon.balanceOf(address(market)), grams, "carbon");
        // 500 + 400 credited, dave's 300 unbought covered from his 400.
        assertEq(credits, DAVE_CREDITS + 900 - 300, "credit total");
        assertEq(grams, 800 + 360, "carbon total");
    }
}
