// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../../../src/EnergyAmm.sol";
import {EnergyMarket} from "../../../src/EnergyMarket.sol";
import {IEnergyMarket} from "../../../src/interfaces/IEnergyMarket.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Drives the pool and the market's vault like their users would: three participants swap both
/// ways (exact in and exact out) from their vault balances, add and remove liquidity, pass shares to each
/// other, deposit into and withdraw from the vault, and time passes. Ghost totals follow the shares minted
/// and burnt and the tokens deposited and withdrawn; every swap that lowered k and every action that
/// lowered the value of a share (k over the squared share supply) is counted. The invariant test asserts
/// the counts stay zero. Amounts stay below 2^40 so k times a squared supply fits 256 bits.
contract EnergyAmmHandler is CommonBase, StdCheats, StdUtils {
    uint256 public constant ACTORS = 3;
    uint256 internal constant MAX_AMOUNT = 2 ** 40;

    EnergyAmm internal immutable _AMM;
    EnergyMarket internal immutable _MARKET;
    IERC20 internal immutable _CREDITS;
    IERC20 internal immutable _STABLE;
    address[ACTORS] internal _actors;

    uint256 public ghostSharesMinted;
    uint256 public ghostSharesBurnt;
    uint256 public ghostCreditsDeposited;
    uint256 public ghostCreditsWithdrawn;
    uint256 public ghostStableDeposited;
    uint256 public ghostStableWithdrawn;
    uint256 public swaps;
    uint256 public kDecreases;
    uint256 public shareValueDecreases;

    /// @dev k and the share supply after the last action that changed them.
    uint256 internal _lastK;
    uint256 internal _lastSupply;

    constructor(EnergyAmm amm, EnergyMarket market, address[ACTORS] memory actors) {
        _AMM = amm;
        _MARKET = market;
        _CREDITS = IERC20(market.ENERGY_CREDIT());
        _STABLE = IERC20(market.STABLECOIN());
        _actors = actors;
    }

    function actor(uint256 i) external view returns (address) {
        return _actors[i];
    }

    function swapExactIn(uint256 actorSeed, bool creditsIn, uint256 amountIn) external {
        address who = _actor(actorSeed);
        amountIn = _bound(amountIn, 1, MAX_AMOUNT);
        uint256 kBefore = _k();
        vm.prank(who);
        try _AMM.swapExactIn(creditsIn, amountIn, 0, block.timestamp) {
            _afterSwap(kBefore);
        } catch {
            // Nothing to buy (empty pool), an output that rounds to zero, or a vault that does not cover
            // the input: refused, nothing moved.
        }
    }

    function swapExactOut(uint256 actorSeed, bool creditsIn, uint256 amountOut) external {
        address who = _actor(actorSeed);
        (uint256 reserveCredits, uint256 reserveStable,) = _AMM.getReserves();
        uint256 reserveOut = creditsIn ? reserveStable : reserveCredits;
        if (reserveOut < 2) return;
        amountOut = _bound(amountOut, 1, reserveOut * 9 / 10 + 1);
        if (amountOut >= reserveOut) return;
        uint256 kBefore = _k();
        vm.prank(who);
        try _AMM.swapExactOut(creditsIn, amountOut, type(uint256).max, block.timestamp) {
            _afterSwap(kBefore);
        } catch {
            // An input beyond the actor's vault balance: refused, nothing moved.
        }
    }

    function addLiquidity(uint256 actorSeed, uint256 credits, uint256 stable) external {
        address who = _actor(actorSeed);
        credits = _bound(credits, 1, MAX_AMOUNT);
        stable = _bound(stable, 1, MAX_AMOUNT);
        bool first = _AMM.totalSupply() == 0;
        vm.prank(who);
        try _AMM.addLiquidity(credits, stable, 0, 0, block.timestamp) returns (
            uint256, uint256, uint256 shares
        ) {
            ghostSharesMinted += shares + (first ? _AMM.MINIMUM_LIQUIDITY() : 0);
            _checkShareValue(first);
        } catch {
            // A deposit worth no share, a first deposit below the locked minimum, or a vault that does not
            // cover it.
        }
    }

    function removeLiquidity(uint256 actorSeed, uint256 sharesSeed) external {
        address who = _actor(actorSeed);
        uint256 held = _AMM.balanceOf(who);
        if (held == 0) return;
        uint256 shares = _bound(sharesSeed, 1, held);
        vm.prank(who);
        try _AMM.removeLiquidity(shares, 0, 0, block.timestamp) {
            ghostSharesBurnt += shares;
            _checkShareValue(false);
        } catch {
            // Shares worth nothing of one asset.
        }
    }

    function transferShares(uint256 fromSeed, uint256 toSeed, uint256 sharesSeed) external {
        address from = _actor(fromSeed);
        uint256 held = _AMM.balanceOf(from);
        if (held == 0) return;
        vm.prank(from);
        require(_AMM.transfer(_actor(toSeed), _bound(sharesSeed, 1, held)), "share transfer refused");
    }

    function deposit(uint256 actorSeed, bool credits, uint256 amount) external {
        address who = _actor(actorSeed);
        IERC20 token = credits ? _CREDITS : _STABLE;
        amount = _bound(amount, 1, MAX_AMOUNT);
        if (token.balanceOf(who) < amount) return;
        vm.startPrank(who);
        token.approve(address(_MARKET), amount);
        _MARKET.deposit(credits ? IEnergyMarket.Asset.EnergyCredit : IEnergyMarket.Asset.Stablecoin, amount);
        vm.stopPrank();
        if (credits) ghostCreditsDeposited += amount;
        else ghostStableDeposited += amount;
    }

    function withdraw(uint256 actorSeed, bool credits, uint256 amount) external {
        address who = _actor(actorSeed);
        IEnergyMarket.Balances memory vault = _MARKET.balancesOf(who);
        uint256 balance = credits ? vault.creditsWh : vault.stablecoin;
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        vm.prank(who);
        _MARKET.withdraw(credits ? IEnergyMarket.Asset.EnergyCredit : IEnergyMarket.Asset.Stablecoin, amount);
        if (credits) ghostCreditsWithdrawn += amount;
        else ghostStableWithdrawn += amount;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + _bound(secondsAhead, 1, 1 days));
        vm.roll(block.number + 1);
    }

    function _afterSwap(uint256 kBefore) internal {
        ++swaps;
        if (_k() < kBefore) ++kDecreases;
        _checkShareValue(false);
    }

    /// @dev Counts a fall of k / supply^2 since the last action (compared cross-multiplied).
    function _checkShareValue(bool first) internal {
        uint256 k = _k();
        uint256 supply = _AMM.totalSupply();
        if (!first && k * _lastSupply * _lastSupply < _lastK * supply * supply) ++shareValueDecreases;
        (_lastK, _lastSupply) = (k, supply);
    }

    function _k() internal view returns (uint256) {
        (uint256 reserveCredits, uint256 reserveStable,) = _AMM.getReserves();
        return reserveCredits * reserveStable;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return _actors[seed % ACTORS];
    }
}
