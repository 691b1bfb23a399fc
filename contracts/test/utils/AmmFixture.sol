// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../../src/EnergyAmm.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {Test} from "forge-std/Test.sol";

/// @notice An empty pool with a 0.30 % fee, and `alice` and `bob` holding plenty of both tokens, each
/// having approved the pool for all of it.
abstract contract AmmFixture is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint256 internal constant FEE_BPS = 30;
    /// @dev 1 MWh against 250 $: 0.25 $/kWh (250,000 stablecoin base units per kWh).
    uint256 internal constant POOL_CREDITS = 1_000_000;
    uint256 internal constant POOL_STABLE = 250e6;
    /// @dev Beyond what a reserve can hold (2^112), so no fuzzed amount runs out of balance.
    uint256 internal constant HOLDINGS = 2 ** 120;

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
        amm = new EnergyAmm(address(energy), address(stablecoin), FEE_BPS);
        bytes32 minterRole = energy.MINTER_ROLE();
        vm.prank(admin);
        energy.grantRole(minterRole, admin);
        _fund(alice);
        _fund(bob);
    }

    /// @dev Gives `who` `HOLDINGS` of both tokens, approved to the pool.
    function _fund(address who) internal {
        vm.startPrank(admin);
        energy.mint(who, HOLDINGS);
        stablecoin.mint(who, HOLDINGS);
        vm.stopPrank();
        vm.startPrank(who);
        energy.approve(address(amm), type(uint256).max);
        stablecoin.approve(address(amm), type(uint256).max);
        vm.stopPrank();
    }

    /// @dev alice seeds the pool with `credits` and `stable`.
    function _seed(uint256 credits, uint256 stable) internal returns (uint256 shares) {
        vm.prank(alice);
        (,, shares) = amm.addLiquidity(credits, stable, 0, 0, alice, block.timestamp);
    }

    function _k() internal view returns (uint256) {
        (uint256 reserveCredits, uint256 reserveStable,) = amm.getReserves();
        return reserveCredits * reserveStable;
    }
}
