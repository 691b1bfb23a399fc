// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../src/CarbonCredit.sol";
import {EnergyAmm} from "../../src/EnergyAmm.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../src/interfaces/IEnergyMarket.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A market with an empty pool (0.30 % fee) registered as its participant and set as its pool, and
/// `alice` and `bob`, participants holding `HOLDINGS_STABLE` and `HOLDINGS_CREDITS` in their vaults.
abstract contract AmmFixture is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint256 internal constant FEE_BPS = 30;
    /// @dev 1 MWh against 250 $: 0.25 $/kWh (250,000 stablecoin base units per kWh).
    uint256 internal constant POOL_CREDITS = 1_000_000;
    uint256 internal constant POOL_STABLE = 250e6;
    /// @dev Half of what a vault balance can hold (stablecoin 2^96, credits 2^56), so that what one actor
    /// holds always fits the pool's reserve on top of what another put there.
    uint256 internal constant HOLDINGS_STABLE = 2 ** 95;
    uint256 internal constant HOLDINGS_CREDITS = 2 ** 55;

    EnergyMarket internal market;
    EnergyAmm internal amm;
    EnergyCredit internal energy;
    MockStablecoin internal stablecoin;
    address internal admin = makeAddr("admin");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public virtual {
        vm.warp(T0);
        stablecoin = new MockStablecoin(admin);
        energy = new EnergyCredit(admin);
        market = new EnergyMarket(admin, stablecoin, energy, new CarbonCredit(admin), 900, 2 days, 400);
        amm = new EnergyAmm(market, FEE_BPS);
        bytes32 minterRole = energy.MINTER_ROLE();
        vm.startPrank(admin);
        energy.grantRole(minterRole, admin);
        market.registerParticipant(address(amm));
        market.setAmm(address(amm));
        vm.stopPrank();
        _fund(alice, HOLDINGS_CREDITS, HOLDINGS_STABLE);
        _fund(bob, HOLDINGS_CREDITS, HOLDINGS_STABLE);
    }

    /// @dev Registers `who` (unless it is already) and deposits `credits` and `stable` into its vault.
    function _fund(address who, uint256 credits, uint256 stable) internal {
        vm.startPrank(admin);
        if (market.participantId(who) == 0) market.registerParticipant(who);
        energy.mint(who, credits);
        stablecoin.mint(who, stable);
        vm.stopPrank();
        vm.startPrank(who);
        energy.approve(address(market), credits);
        stablecoin.approve(address(market), stable);
        if (credits != 0) market.deposit(IEnergyMarket.Asset.EnergyCredit, credits);
        if (stable != 0) market.deposit(IEnergyMarket.Asset.Stablecoin, stable);
        vm.stopPrank();
    }

    /// @dev alice seeds the pool with `credits` and `stable`.
    function _seed(uint256 credits, uint256 stable) internal returns (uint256 shares) {
        vm.prank(alice);
        (,, shares) = amm.addLiquidity(credits, stable, 0, 0, block.timestamp);
    }

    function _k() internal view returns (uint256) {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        return reserveCredits * reserveStable;
    }

    function _vault(address who) internal view returns (IEnergyMarket.Balances memory) {
        return market.balancesOf(who);
    }
}
