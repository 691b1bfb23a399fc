// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "../src/interfaces/IEnergyMarket.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice The market's side of the pool: `setAmm` and `ammTransfer`, driven by a plain address standing in
/// for the pool (the market trusts the pool's pricing, so any registered address the co-op sets will do).
/// The pool starts with `POOL_STABLE` and `POOL_CREDITS` in its vault; dave holds `DAVE_CREDITS`.
contract EnergyMarketAmmTest is MarketFixture {
    uint256 internal constant POOL_STABLE = 100e6;
    uint256 internal constant POOL_CREDITS = 50_000;
    address internal pool = makeAddr("pool");

    function setUp() public override {
        super.setUp();
        vm.prank(admin);
        market.registerParticipant(pool);
        vm.expectEmit(address(market));
        emit IEnergyMarket.AmmSet(pool, market.participantId(pool));
        vm.prank(admin);
        market.setAmm(pool);
        _fund(pool, POOL_STABLE);
        _mintCredits(pool, POOL_CREDITS);
        vm.startPrank(pool);
        energy.approve(address(market), POOL_CREDITS);
        market.deposit(IEnergyMarket.Asset.EnergyCredit, POOL_CREDITS);
        vm.stopPrank();
    }

    function test_SetAmmRecordsThePool() public view {
        assertEq(market.amm(), pool);
    }

    /// @dev A purchase of credits, then a sale of credits: balances move both ways, tokens do not.
    function test_AmmTransferMovesBalancesBothWays() public {
        uint256 tokensStable = stablecoin.balanceOf(address(market));
        uint256 tokensCredits = energy.balanceOf(address(market));

        vm.expectEmit(address(market));
        emit IEnergyMarket.AmmTransferred(carol, -2e6, 8000);
        vm.prank(pool);
        market.ammTransfer(carol, -2e6, 8000);
        assertEq(_vault(carol), FUNDS - 2e6);
        assertEq(_credits(carol), 8000);
        assertEq(_vault(pool), POOL_STABLE + 2e6);
        assertEq(_credits(pool), POOL_CREDITS - 8000);

        vm.prank(pool);
        market.ammTransfer(carol, 1e6, -5000);
        assertEq(_vault(carol), FUNDS - 1e6);
        assertEq(_credits(carol), 3000);
        assertEq(_vault(pool), POOL_STABLE + 1e6);
        assertEq(_credits(pool), POOL_CREDITS - 3000);

        assertEq(stablecoin.balanceOf(address(market)), tokensStable, "stablecoin tokens moved");
        assertEq(energy.balanceOf(address(market)), tokensCredits, "credit tokens moved");
    }

    /// @dev Adding and removing liquidity move both balances the same way.
    function test_AmmTransferMovesBothBalancesOneWay() public {
        vm.prank(pool);
        market.ammTransfer(dave, -1e6, -SafeCast.toInt256(DAVE_CREDITS));
        assertEq(_vault(dave), FUNDS - 1e6);
        assertEq(_credits(dave), 0);
        assertEq(_credits(pool), POOL_CREDITS + DAVE_CREDITS);

        vm.prank(pool);
        market.ammTransfer(dave, 1e6, SafeCast.toInt256(DAVE_CREDITS));
        assertEq(_vault(dave), FUNDS);
        assertEq(_credits(dave), DAVE_CREDITS);
        assertEq(_vault(pool), POOL_STABLE);
    }

    /// @dev Like `withdraw`, a deactivated participant still trades its vault with the pool; its carbon and
    /// its status stay as they were.
    function test_AmmTransferForDeactivatedParticipant() public {
        _mintCarbon(erin, 70);
        vm.startPrank(erin);
        carbon.approve(address(market), 70);
        market.deposit(IEnergyMarket.Asset.CarbonCredit, 70);
        vm.stopPrank();
        vm.prank(admin);
        market.deactivateParticipant(erin);

        vm.prank(pool);
        market.ammTransfer(erin, -1e6, 4000);

        assertEq(_credits(erin), 4000);
        assertEq(_carbonOf(erin), 70);
        assertFalse(market.isParticipant(erin));
    }

    /// @dev Random deltas around what each side holds: a transfer goes through exactly when both sides cover
    /// what they pay, and never creates or destroys a unit.
    function testFuzz_AmmTransferConservesBalances(int256 stablecoinDelta, int256 creditsDelta) public {
        int256 daveStable = SafeCast.toInt256(FUNDS);
        int256 daveCredits = SafeCast.toInt256(DAVE_CREDITS);
        stablecoinDelta = bound(stablecoinDelta, -2 * daveStable, 2 * SafeCast.toInt256(POOL_STABLE));
        creditsDelta = bound(creditsDelta, -2 * daveCredits, 2 * SafeCast.toInt256(POOL_CREDITS));
        bool covered = stablecoinDelta >= -daveStable && stablecoinDelta <= SafeCast.toInt256(POOL_STABLE)
            && creditsDelta >= -daveCredits && creditsDelta <= SafeCast.toInt256(POOL_CREDITS);
        uint256 sumStable = _vault(dave) + _vault(pool);
        uint256 sumCredits = _credits(dave) + _credits(pool);

        vm.prank(pool);
        (bool ok,) = address(market)
            .call(abi.encodeCall(IEnergyMarket.ammTransfer, (dave, stablecoinDelta, creditsDelta)));

        assertEq(ok, covered, "went through exactly when covered");
        if (ok) assertEq(int256(_vault(dave)), daveStable + stablecoinDelta, "dave's stablecoin");
        assertEq(_vault(dave) + _vault(pool), sumStable, "stablecoin created or lost");
        assertEq(_credits(dave) + _credits(pool), sumCredits, "credits created or lost");
        assertEq(stablecoin.balanceOf(address(market)), _sumVaults(), "tokens vs vaults");
    }

    function test_RevertWhen_SetAmmTwice() public {
        address other = makeAddr("other pool");
        vm.startPrank(admin);
        market.registerParticipant(other);
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketAmmAlreadySet.selector, pool));
        market.setAmm(other);
        vm.stopPrank();
    }

    function test_RevertWhen_SetAmmNotAdmin() public {
        bytes32 role = market.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        market.setAmm(stranger);
    }

    function test_RevertWhen_SetAmmUnregistered() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, stranger));
        vm.prank(admin);
        market.setAmm(stranger);
    }

    function test_RevertWhen_AmmTransferNotPool() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketNotAmm.selector, carol));
        vm.prank(carol);
        market.ammTransfer(carol, 1e6, 0);
    }

    function test_RevertWhen_AmmTransferUnknownAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IEnergyMarket.MarketUnknownParticipant.selector, stranger));
        vm.prank(pool);
        market.ammTransfer(stranger, 1, 0);
    }

    /// @dev Both sides on one account would let its second write undo the first.
    function test_RevertWhen_AmmTransferToOwnAccount() public {
        vm.expectRevert(IEnergyMarket.MarketAmmOwnAccount.selector);
        vm.prank(pool);
        market.ammTransfer(pool, 1e6, -1000);
    }

    function test_RevertWhen_AmmTransferAccountShort() public {
        vm.startPrank(pool);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                carol,
                IEnergyMarket.Asset.Stablecoin,
                FUNDS + 1,
                FUNDS
            )
        );
        market.ammTransfer(carol, -SafeCast.toInt256(FUNDS + 1), 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                dave,
                IEnergyMarket.Asset.EnergyCredit,
                DAVE_CREDITS + 1,
                DAVE_CREDITS
            )
        );
        market.ammTransfer(dave, 1, -SafeCast.toInt256(DAVE_CREDITS + 1));
        // The most negative delta, whose negation wraps, is reported as such.
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                carol,
                IEnergyMarket.Asset.Stablecoin,
                uint256(1) << 255,
                FUNDS
            )
        );
        market.ammTransfer(carol, type(int256).min, 0);
        vm.stopPrank();
    }

    function test_RevertWhen_AmmTransferPoolShort() public {
        vm.startPrank(pool);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                pool,
                IEnergyMarket.Asset.Stablecoin,
                POOL_STABLE + 1,
                POOL_STABLE
            )
        );
        market.ammTransfer(carol, SafeCast.toInt256(POOL_STABLE + 1), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketInsufficientVaultBalance.selector,
                pool,
                IEnergyMarket.Asset.EnergyCredit,
                POOL_CREDITS + 1,
                POOL_CREDITS
            )
        );
        market.ammTransfer(carol, -1, SafeCast.toInt256(POOL_CREDITS + 1));
        vm.stopPrank();
    }

    function test_RevertWhen_AmmTransferOverflows() public {
        // carol's stablecoin is one unit short of the vault's width.
        _fund(carol, type(uint96).max - FUNDS - 1);
        vm.startPrank(pool);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketBalanceOverflow.selector, carol, IEnergyMarket.Asset.Stablecoin
            )
        );
        market.ammTransfer(carol, 2, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketBalanceOverflow.selector, carol, IEnergyMarket.Asset.Stablecoin
            )
        );
        market.ammTransfer(carol, type(int256).max, 0);
        // Paid into the pool, the same balance passes the pool's width.
        vm.expectRevert(
            abi.encodeWithSelector(
                IEnergyMarket.MarketBalanceOverflow.selector, pool, IEnergyMarket.Asset.Stablecoin
            )
        );
        market.ammTransfer(carol, -SafeCast.toInt256(uint256(type(uint96).max - 1)), 0);
        vm.stopPrank();
    }

    function _sumVaults() internal view returns (uint256 sum) {
        address[6] memory accounts = [alice, bob, carol, dave, erin, pool];
        for (uint256 i; i < accounts.length; ++i) {
            sum += _vault(accounts[i]);
        }
    }
}
