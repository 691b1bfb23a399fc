// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyAmm} from "./interfaces/IEnergyAmm.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title EnergyAmm
/// @notice cogrid's pool of last resort: energy credits against the stablecoin, constant product.
/// @dev Storage is two words, both touched by a swap: `_slot0` packs the reserves and the timestamp of the
/// last change (read and written by every swap), `_priceCumulative` packs the two TWAP accumulators
/// (read and written only by the first change in a block).
contract EnergyAmm is IEnergyAmm, ERC20, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IEnergyAmm
    address public immutable ENERGY_CREDIT;
    /// @inheritdoc IEnergyAmm
    address public immutable STABLECOIN;
    /// @inheritdoc IEnergyAmm
    uint256 public immutable FEE_BPS;
    /// @inheritdoc IEnergyAmm
    uint256 public constant MAX_FEE_BPS = 1000;
    /// @inheritdoc IEnergyAmm
    uint256 public constant MINIMUM_LIQUIDITY = 1000;

    uint256 private constant BPS = 10_000;
    /// @dev A reserve is stored in 112 bits.
    uint256 private constant MAX_RESERVE = type(uint112).max;
    /// @dev Holder of the shares the first deposit locks (OpenZeppelin's ERC-20 refuses to mint to zero).
    address private constant LOCKED_SHARES_HOLDER = address(0xdEaD);

    /// @dev `FEE_BPS` subtracted from `BPS`: the part of an amount in that moves the price.
    uint256 private immutable _AFTER_FEE_BPS;

    /// @dev reserveCredits (bits 0-111) | reserveStable (112-223) | block timestamp mod 2^32 (224-255).
    uint256 private _slot0;
    /// @dev creditPriceCumulative (bits 0-127) | stablePriceCumulative (128-255), Q64.64 sums mod 2^128.
    uint256 private _priceCumulative;

    /// @param energyCredit The EnergyCredit token (3 decimals).
    /// @param stablecoin The stablecoin (6 decimals); it must move exactly the amounts asked.
    /// @param feeBps The swap fee in basis points of the amount in, at most `MAX_FEE_BPS`. Fixed for the
    /// pool's life, so a quote never changes under a caller except by trades.
    constructor(address energyCredit, address stablecoin, uint256 feeBps)
        ERC20("cogrid Energy AMM LP", "cgLP")
    {
        if (energyCredit == address(0) || stablecoin == address(0) || energyCredit == stablecoin) {
            revert EnergyAmmInvalidTokens(energyCredit, stablecoin);
        }
        if (feeBps > MAX_FEE_BPS) revert EnergyAmmFeeTooHigh(feeBps, MAX_FEE_BPS);
        ENERGY_CREDIT = energyCredit;
        STABLECOIN = stablecoin;
        FEE_BPS = feeBps;
        _AFTER_FEE_BPS = BPS - feeBps;
    }

    /// @inheritdoc IEnergyAmm
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minOut, address to, uint256 deadline)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        _checkDeadline(deadline);
        bool creditsIn = _isCredits(tokenIn);
        uint256 slot0 = _slot0;
        {
            (uint256 reserveIn, uint256 reserveOut) = _oriented(slot0, creditsIn);
            amountOut = _amountOut(amountIn, reserveIn, reserveOut);
        }
        if (amountOut == 0 || amountOut < minOut) revert EnergyAmmInsufficientOutput(amountOut, minOut);
        _swap(creditsIn, slot0, amountIn, amountOut, to);
    }

    /// @inheritdoc IEnergyAmm
    function swapExactOut(address tokenIn, uint256 amountOut, uint256 maxIn, address to, uint256 deadline)
        external
        nonReentrant
        returns (uint256 amountIn)
    {
        _checkDeadline(deadline);
        bool creditsIn = _isCredits(tokenIn);
        uint256 slot0 = _slot0;
        {
            (uint256 reserveIn, uint256 reserveOut) = _oriented(slot0, creditsIn);
            amountIn = _amountIn(amountOut, reserveIn, reserveOut);
        }
        if (amountIn > maxIn) revert EnergyAmmExcessiveInput(amountIn, maxIn);
        _swap(creditsIn, slot0, amountIn, amountOut, to);
    }

    /// @inheritdoc IEnergyAmm
    function addLiquidity(
        uint256 amountCreditsDesired,
        uint256 amountStableDesired,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        address to,
        uint256 deadline
    ) external nonReentrant returns (uint256 amountCredits, uint256 amountStable, uint256 shares) {
        _checkDeadline(deadline);
        uint256 slot0 = _slot0;
        (amountCredits, amountStable, shares) = _deposit(amountCreditsDesired, amountStableDesired, slot0);
        if (amountCredits < amountCreditsMin) {
            revert EnergyAmmBelowMinimum(ENERGY_CREDIT, amountCredits, amountCreditsMin);
        }
        if (amountStable < amountStableMin) {
            revert EnergyAmmBelowMinimum(STABLECOIN, amountStable, amountStableMin);
        }

        {
            (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
            // _deposit checked both amounts against the reserves' headroom.
            _update(reserveCredits + amountCredits, reserveStable + amountStable, slot0);
        }
        if (totalSupply() == 0) _mint(LOCKED_SHARES_HOLDER, MINIMUM_LIQUIDITY);
        _mint(to, shares);
        emit LiquidityAdded(msg.sender, to, amountCredits, amountStable, shares);
        IERC20(ENERGY_CREDIT).safeTransferFrom(msg.sender, address(this), amountCredits);
        IERC20(STABLECOIN).safeTransferFrom(msg.sender, address(this), amountStable);
    }

    /// @inheritdoc IEnergyAmm
    function removeLiquidity(
        uint256 shares,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        address to,
        uint256 deadline
    ) external nonReentrant returns (uint256 amountCredits, uint256 amountStable) {
        _checkDeadline(deadline);
        if (shares == 0) revert EnergyAmmZeroAmount();
        uint256 supply = totalSupply();
        // Reverts unless the caller holds `shares`, so shares <= supply - MINIMUM_LIQUIDITY below.
        _burn(msg.sender, shares);
        uint256 slot0 = _slot0;
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        // Rounded down, and the locked shares keep at least one base unit of each reserve in the pool.
        amountCredits = Math.mulDiv(shares, reserveCredits, supply);
        amountStable = Math.mulDiv(shares, reserveStable, supply);
        if (amountCredits == 0 || amountStable == 0) {
            revert EnergyAmmInsufficientLiquidityBurned(shares, amountCredits, amountStable);
        }
        if (amountCredits < amountCreditsMin) {
            revert EnergyAmmBelowMinimum(ENERGY_CREDIT, amountCredits, amountCreditsMin);
        }
        if (amountStable < amountStableMin) {
            revert EnergyAmmBelowMinimum(STABLECOIN, amountStable, amountStableMin);
        }

        _update(reserveCredits - amountCredits, reserveStable - amountStable, slot0);
        emit LiquidityRemoved(msg.sender, to, amountCredits, amountStable, shares);
        IERC20(ENERGY_CREDIT).safeTransfer(to, amountCredits);
        IERC20(STABLECOIN).safeTransfer(to, amountStable);
    }

    /// @inheritdoc IEnergyAmm
    function skim(address to) external nonReentrant {
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(_slot0);
        // The reserves never exceed the balances: the pool only pays out what it took in.
        uint256 excessCredits = IERC20(ENERGY_CREDIT).balanceOf(address(this)) - reserveCredits;
        uint256 excessStable = IERC20(STABLECOIN).balanceOf(address(this)) - reserveStable;
        emit Skimmed(msg.sender, to, excessCredits, excessStable);
        if (excessCredits != 0) IERC20(ENERGY_CREDIT).safeTransfer(to, excessCredits);
        if (excessStable != 0) IERC20(STABLECOIN).safeTransfer(to, excessStable);
    }

    /// @inheritdoc IEnergyAmm
    function getReserves()
        external
        view
        returns (uint256 reserveCredits, uint256 reserveStable, uint32 blockTimestampLast)
    {
        return _unpackSlot0(_slot0);
    }

    /// @inheritdoc IEnergyAmm
    function priceCumulativeLast()
        external
        view
        returns (uint128 creditPriceCumulative, uint128 stablePriceCumulative, uint32 blockTimestampLast)
    {
        (,, blockTimestampLast) = _unpackSlot0(_slot0);
        (creditPriceCumulative, stablePriceCumulative) = _unpackCumulative(_priceCumulative);
    }

    /// @inheritdoc IEnergyAmm
    function currentCumulativePrices()
        external
        view
        returns (uint128 creditPriceCumulative, uint128 stablePriceCumulative, uint32 blockTimestamp)
    {
        (uint256 reserveCredits, uint256 reserveStable, uint32 timestampLast) = _unpackSlot0(_slot0);
        blockTimestamp = uint32(block.timestamp);
        (creditPriceCumulative, stablePriceCumulative) =
            _unpackCumulative(_accumulated(reserveCredits, reserveStable, timestampLast));
    }

    /// @inheritdoc IEnergyAmm
    function spotPrice() external view returns (uint256 stablePerKwh) {
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(_slot0);
        if (reserveCredits == 0) revert EnergyAmmInsufficientLiquidity(0, 0);
        return reserveStable * 1000 / reserveCredits;
    }

    /// @inheritdoc IEnergyAmm
    function getAmountOut(address tokenIn, uint256 amountIn) external view returns (uint256 amountOut) {
        (uint256 reserveIn, uint256 reserveOut) = _reservesFor(tokenIn);
        return _amountOut(amountIn, reserveIn, reserveOut);
    }

    /// @inheritdoc IEnergyAmm
    function getAmountIn(address tokenIn, uint256 amountOut) external view returns (uint256 amountIn) {
        (uint256 reserveIn, uint256 reserveOut) = _reservesFor(tokenIn);
        return _amountIn(amountOut, reserveIn, reserveOut);
    }

    /// @dev Moves the reserves, then the tokens: `amountIn` of the input from the caller, `amountOut` of
    /// the other token to `to`.
    function _swap(bool creditsIn, uint256 slot0, uint256 amountIn, uint256 amountOut, address to) private {
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        address tokenIn = ENERGY_CREDIT;
        address tokenOut = STABLECOIN;
        // _amountOut/_amountIn checked amountIn against the input reserve's headroom and kept amountOut
        // below the output reserve, so nothing here wraps.
        unchecked {
            if (creditsIn) {
                (reserveCredits, reserveStable) = (reserveCredits + amountIn, reserveStable - amountOut);
            } else {
                (reserveCredits, reserveStable) = (reserveCredits - amountOut, reserveStable + amountIn);
                (tokenIn, tokenOut) = (tokenOut, tokenIn);
            }
        }
        _update(reserveCredits, reserveStable, slot0);
        emit Swapped(msg.sender, to, tokenIn, amountIn, amountOut);
        IERC20(tokenIn).safeTransferFrom(msg.sender, address(this), amountIn);
        IERC20(tokenOut).safeTransfer(to, amountOut);
    }

    /// @dev Stores the new reserves and the block's timestamp over `slot0` (the stored word); on the first
    /// change in a block, first adds the price that held since the last change to the accumulators.
    function _update(uint256 reserveCredits, uint256 reserveStable, uint256 slot0) private {
        (uint256 oldReserveCredits, uint256 oldReserveStable, uint32 timestampLast) = _unpackSlot0(slot0);
        uint32 timestamp = uint32(block.timestamp);
        // Both reserves are zero before the first deposit and non-zero ever after. The timestamps wrap every
        // ~136 years, as in Uniswap v2; only their difference mod 2^32 is used.
        if (timestamp != timestampLast && oldReserveCredits != 0) {
            _priceCumulative = _accumulated(oldReserveCredits, oldReserveStable, timestampLast);
        }
        _slot0 = reserveCredits | (reserveStable << 112) | (uint256(timestamp) << 224);
    }

    /// @dev The amounts a deposit of at most the desired amounts takes at the ratio of the reserves in
    /// `slot0` (the first deposit sets the ratio), and the shares it is worth.
    function _deposit(uint256 amountCreditsDesired, uint256 amountStableDesired, uint256 slot0)
        private
        view
        returns (uint256 amountCredits, uint256 amountStable, uint256 shares)
    {
        if (amountCreditsDesired == 0 || amountStableDesired == 0) revert EnergyAmmZeroAmount();
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        // Bounding the desired amounts keeps every product below 2^224.
        _checkHeadroom(reserveCredits, amountCreditsDesired);
        _checkHeadroom(reserveStable, amountStableDesired);

        uint256 supply = totalSupply();
        if (supply == 0) {
            // The first deposit sets the price; its shares are the geometric mean, less the locked part.
            uint256 liquidity = Math.sqrt(amountCreditsDesired * amountStableDesired);
            if (liquidity <= MINIMUM_LIQUIDITY) {
                revert EnergyAmmInsufficientInitialLiquidity(liquidity, MINIMUM_LIQUIDITY);
            }
            return (amountCreditsDesired, amountStableDesired, liquidity - MINIMUM_LIQUIDITY);
        }
        // The counterpart of the binding side rounds up, the shares down: a depositor never dilutes the
        // others.
        amountStable = Math.mulDiv(amountCreditsDesired, reserveStable, reserveCredits, Math.Rounding.Ceil);
        if (amountStable <= amountStableDesired) {
            amountCredits = amountCreditsDesired;
        } else {
            // More credits than the stablecoin's worth were offered, so the rounded-up credits for all the
            // stablecoin are at most amountCreditsDesired.
            amountCredits =
                Math.mulDiv(amountStableDesired, reserveCredits, reserveStable, Math.Rounding.Ceil);
            amountStable = amountStableDesired;
        }
        shares = Math.min(
            Math.mulDiv(amountCredits, supply, reserveCredits),
            Math.mulDiv(amountStable, supply, reserveStable)
        );
        if (shares == 0) revert EnergyAmmZeroShares(amountCredits, amountStable);
    }

    /// @dev Reverts unless `deadline` has not passed.
    function _checkDeadline(uint256 deadline) private view {
        // A deadline is about minutes; a proposer's few seconds of leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert EnergyAmmExpired(deadline, block.timestamp);
    }

    /// @dev Whether `token` is the credit (else the stablecoin); reverts on any other token.
    function _isCredits(address token) private view returns (bool) {
        if (token == ENERGY_CREDIT) return true;
        if (token != STABLECOIN) revert EnergyAmmUnknownToken(token);
        return false;
    }

    /// @dev The reserves of `tokenIn` and of the other token.
    function _reservesFor(address tokenIn) private view returns (uint256 reserveIn, uint256 reserveOut) {
        return _oriented(_slot0, _isCredits(tokenIn));
    }

    /// @dev The reserves in `slot0`, the input's first.
    function _oriented(uint256 slot0, bool creditsIn)
        private
        pure
        returns (uint256 reserveIn, uint256 reserveOut)
    {
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        return creditsIn ? (reserveCredits, reserveStable) : (reserveStable, reserveCredits);
    }

    function _unpackSlot0(uint256 slot0)
        private
        pure
        returns (uint256 reserveCredits, uint256 reserveStable, uint32 blockTimestampLast)
    {
        // The top 32 bits are the timestamp field.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (slot0 & MAX_RESERVE, (slot0 >> 112) & MAX_RESERVE, uint32(slot0 >> 224));
    }

    /// @dev The packed accumulators brought forward to this block from a change at `timestampLast`.
    function _accumulated(uint256 reserveCredits, uint256 reserveStable, uint32 timestampLast)
        private
        view
        returns (uint256 packed)
    {
        packed = _priceCumulative;
        if (reserveCredits == 0) return packed;
        unchecked {
            // Wrapping by design (see _update); consumers take differences.
            uint256 elapsed = uint32(uint32(block.timestamp) - timestampLast);
            (uint128 creditCumulative, uint128 stableCumulative) = _unpackCumulative(packed);
            // A Q64.64 price of reserves below 2^112 is below 2^176, times elapsed < 2^32 below 2^208: the
            // products never overflow; the uint128 casts and sums wrap on purpose (sums mod 2^128). The
            // price is divided first on purpose: the accumulator sums the Q64.64 price, not a product.
            // forge-lint: disable-next-item(unsafe-typecast, divide-before-multiply)
            creditCumulative += uint128(((reserveStable << 64) / reserveCredits) * elapsed);
            // forge-lint: disable-next-item(unsafe-typecast, divide-before-multiply)
            stableCumulative += uint128(((reserveCredits << 64) / reserveStable) * elapsed);
            packed = uint256(creditCumulative) | (uint256(stableCumulative) << 128);
        }
    }

    function _unpackCumulative(uint256 packed) private pure returns (uint128 credit, uint128 stable) {
        // The two halves of the word.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint128(packed), uint128(packed >> 128));
    }

    /// @dev Reverts unless `amount` fits on top of `reserve` in 112 bits.
    function _checkHeadroom(uint256 reserve, uint256 amount) private pure {
        if (amount > MAX_RESERVE - reserve) revert EnergyAmmReserveOverflow(reserve, amount);
    }

    /// @dev Output for `amountIn` after the fee, rounded down. Reserves below 2^112, amountIn below 2^112
    /// (checked) and a factor below 2^14 keep every product below 2^238.
    function _amountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        private
        view
        returns (uint256)
    {
        if (amountIn == 0) revert EnergyAmmZeroAmount();
        if (reserveIn == 0) revert EnergyAmmInsufficientLiquidity(reserveOut, 0);
        _checkHeadroom(reserveIn, amountIn);
        uint256 amountInAfterFee = amountIn * _AFTER_FEE_BPS;
        return amountInAfterFee * reserveOut / (reserveIn * BPS + amountInAfterFee);
    }

    /// @dev Input needed for `amountOut` after the fee, rounded up. Products stay below 2^238 as above.
    function _amountIn(uint256 amountOut, uint256 reserveIn, uint256 reserveOut)
        private
        view
        returns (uint256)
    {
        if (amountOut == 0) revert EnergyAmmZeroAmount();
        if (amountOut >= reserveOut) revert EnergyAmmInsufficientLiquidity(reserveOut, amountOut);
        uint256 amountIn =
            Math.ceilDiv(reserveIn * amountOut * BPS, (reserveOut - amountOut) * _AFTER_FEE_BPS);
        _checkHeadroom(reserveIn, amountIn);
        return amountIn;
    }
}
