// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title IEnergyAmm
/// @notice A constant-product pool (x * y = k, Uniswap-v2-like) of energy credits (3 decimals, 1 base
/// unit = 1 Wh) against the stablecoin (6 decimals). The pool is itself the ERC-20 of its LP shares.
///
/// Accounting: the reserves are what the pool has taken in and paid out, not `balanceOf`. Tokens sent
/// to the pool directly (donations) are never priced and never raise the value of a share, so the
/// first-depositor "donation" (share inflation) attack has nothing to work with; `skim` hands such
/// excess out. This assumes tokens that move exactly the amount asked (no fee on transfer, no
/// rebasing), which holds for EnergyCredit and USDC-like stablecoins. The first deposit also locks
/// `MINIMUM_LIQUIDITY` shares forever, as in Uniswap v2, so the share supply never returns to zero.
///
/// Rounding is in the pool's favour: an amount paid in rounds up, an amount paid out rounds down, shares
/// minted round down; so `reserveCredits * reserveStable` never decreases across a swap.
///
/// The swap fee (in basis points of the amount in) is fixed at construction and stays in the pool: it
/// accrues to the LP shares.
///
/// Swaps pull the input from `msg.sender` (which must have approved the pool) and send the output to
/// `to`, so a contract holding the stablecoin (the EnergyMarket buying for its buyers) swaps as any
/// wallet does. There are no callbacks and no flash swaps.
interface IEnergyAmm is IERC20Metadata {
    /// @notice A swap: `amountIn` of `tokenIn` came from `sender`, `amountOut` of the other token went
    /// to `to`.
    event Swapped(
        address indexed sender,
        address indexed to,
        address indexed tokenIn,
        uint256 amountIn,
        uint256 amountOut
    );

    /// @notice `provider` deposited `amountCredits` and `amountStable`; `shares` were minted to `to`.
    event LiquidityAdded(
        address indexed provider,
        address indexed to,
        uint256 amountCredits,
        uint256 amountStable,
        uint256 shares
    );

    /// @notice `provider` burnt `shares`; `amountCredits` and `amountStable` were sent to `to`.
    event LiquidityRemoved(
        address indexed provider,
        address indexed to,
        uint256 amountCredits,
        uint256 amountStable,
        uint256 shares
    );

    /// @notice Tokens held beyond the reserves (sent to the pool directly) were sent to `to`.
    event Skimmed(address indexed caller, address indexed to, uint256 amountCredits, uint256 amountStable);

    /// @notice The call was mined after its `deadline` (a unix time in seconds): sign it again.
    error EnergyAmmExpired(uint256 deadline, uint256 timestamp);

    /// @notice An amount (a swap's input or output, or a deposit) is zero.
    error EnergyAmmZeroAmount();

    /// @notice `token` is neither the energy credit nor the stablecoin of this pool.
    error EnergyAmmUnknownToken(address token);

    /// @notice The swap would pay out `amountOut`, less than the caller's `minOut` (or nothing at all):
    /// the price moved; quote again or accept a lower minimum.
    error EnergyAmmInsufficientOutput(uint256 amountOut, uint256 minOut);

    /// @notice The swap would take `amountIn`, more than the caller's `maxIn`: the price moved; quote
    /// again or accept a higher maximum.
    error EnergyAmmExcessiveInput(uint256 amountIn, uint256 maxIn);

    /// @notice The pool holds `reserveOut` of the token asked for, not more than the `amountOut` asked
    /// (or it holds no liquidity yet): ask for less, or add liquidity first.
    error EnergyAmmInsufficientLiquidity(uint256 reserveOut, uint256 amountOut);

    /// @notice Adding `amount` to the reserve `reserve` would pass what the pool stores (2^112 - 1 base
    /// units): swap or deposit less.
    error EnergyAmmReserveOverflow(uint256 reserve, uint256 amount);

    /// @notice A deposit or withdrawal of `token` came to `amount`, below the caller's `minimum`: the pool
    /// price moved; quote again or widen the minimum.
    error EnergyAmmBelowMinimum(address token, uint256 amount, uint256 minimum);

    /// @notice The first deposit is worth `liquidity` shares, not more than the `minimum` locked forever:
    /// deposit more.
    error EnergyAmmInsufficientInitialLiquidity(uint256 liquidity, uint256 minimum);

    /// @notice A deposit of `amountCredits` and `amountStable` is worth no share: deposit more.
    error EnergyAmmZeroShares(uint256 amountCredits, uint256 amountStable);

    /// @notice Burning `shares` would pay out `amountCredits` and `amountStable`, one of them zero: burn
    /// more shares.
    error EnergyAmmInsufficientLiquidityBurned(uint256 shares, uint256 amountCredits, uint256 amountStable);

    /// @notice The constructor's `feeBps` is above `maximum`.
    error EnergyAmmFeeTooHigh(uint256 feeBps, uint256 maximum);

    /// @notice The constructor's tokens are zero or the same address.
    error EnergyAmmInvalidTokens(address credits, address stable);

    /// @notice The energy credit (token 0 of the pool).
    function ENERGY_CREDIT() external view returns (address);

    /// @notice The stablecoin (token 1 of the pool).
    function STABLECOIN() external view returns (address);

    /// @notice The swap fee, in basis points of the amount in.
    function FEE_BPS() external view returns (uint256);

    /// @notice The largest fee the constructor accepts (10 %).
    function MAX_FEE_BPS() external view returns (uint256);

    /// @notice Shares locked forever by the first deposit.
    function MINIMUM_LIQUIDITY() external view returns (uint256);

    /// @notice The reserves and the block timestamp (mod 2^32) of the last change.
    function getReserves()
        external
        view
        returns (uint256 reserveCredits, uint256 reserveStable, uint32 blockTimestampLast);

    /// @notice The price accumulators as last stored, and the block timestamp (mod 2^32) they were stored
    /// at. Each adds, once per block on the pool's first touch, the price before that block times the
    /// seconds it held: `creditPrice` is stablecoin per credit base unit and `stablePrice` credits per
    /// stablecoin base unit, both unsigned Q64.64 fixed point, summed modulo 2^128. A TWAP over a window
    /// is the difference of two readings (mod 2^128) over the seconds between them; it is exact while the
    /// price times the window stays below 2^64 (a price of 250 base units per Wh over ten years is ~2^37).
    function priceCumulativeLast()
        external
        view
        returns (uint128 creditPriceCumulative, uint128 stablePriceCumulative, uint32 blockTimestampLast);

    /// @notice The accumulators as they would read if updated now (what a TWAP consumer samples).
    function currentCumulativePrices()
        external
        view
        returns (uint128 creditPriceCumulative, uint128 stablePriceCumulative, uint32 blockTimestamp);

    /// @notice The pool's mid price in stablecoin base units per kWh (1000 credit base units), rounded
    /// down, before the fee and any price impact: what a keeper compares with a buyer's ceiling. The
    /// cost of an actual purchase is `getAmountIn`.
    function spotPrice() external view returns (uint256 stablePerKwh);

    /// @notice What `swapExactIn(tokenIn, amountIn, ...)` would pay out now (rounded down).
    function getAmountOut(address tokenIn, uint256 amountIn) external view returns (uint256 amountOut);

    /// @notice What `swapExactOut(tokenIn, amountOut, ...)` would take now (rounded up).
    function getAmountIn(address tokenIn, uint256 amountOut) external view returns (uint256 amountIn);

    /// @notice Sells exactly `amountIn` of `tokenIn` (pulled from the caller) for at least `minOut` of
    /// the other token, sent to `to`.
    /// @return amountOut What `to` received.
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minOut, address to, uint256 deadline)
        external
        returns (uint256 amountOut);

    /// @notice Buys exactly `amountOut` of the token other than `tokenIn`, sent to `to`, for at most
    /// `maxIn` of `tokenIn` (pulled from the caller).
    /// @return amountIn What the caller paid.
    function swapExactOut(address tokenIn, uint256 amountOut, uint256 maxIn, address to, uint256 deadline)
        external
        returns (uint256 amountIn);

    /// @notice Deposits credits and stablecoin at the pool's ratio (the first deposit sets it): at most
    /// the desired amounts, at least the minimums, pulled from the caller; mints shares to `to`.
    /// @return amountCredits The credits deposited.
    /// @return amountStable The stablecoin deposited.
    /// @return shares The shares minted.
    function addLiquidity(
        uint256 amountCreditsDesired,
        uint256 amountStableDesired,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        address to,
        uint256 deadline
    ) external returns (uint256 amountCredits, uint256 amountStable, uint256 shares);

    /// @notice Burns `shares` of the caller and sends their part of both reserves (rounded down) to `to`.
    /// @return amountCredits The credits paid out.
    /// @return amountStable The stablecoin paid out.
    function removeLiquidity(
        uint256 shares,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        address to,
        uint256 deadline
    ) external returns (uint256 amountCredits, uint256 amountStable);

    /// @notice Sends the tokens the pool holds beyond its reserves (sent to it directly) to `to`.
    function skim(address to) external;
}
