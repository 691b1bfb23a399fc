// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEnergyMarket} from "./IEnergyMarket.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title IEnergyAmm
/// @notice A constant-product pool (x * y = k, Uniswap-v2-like) of energy credits (1 unit = 1 Wh) against
/// the stablecoin (6 decimals) that trades **vault balances** of the EnergyMarket: the pool is a
/// participant of the market, its reserves are its own vault balances there, and every swap or liquidity
/// change moves balances between the caller's vault and the pool's with the market's `ammTransfer`. No
/// token moves: deposit into the market first (`IEnergyMarket.deposit`), withdraw afterwards. The caller
/// must be a registered participant of the market. The pool is itself the ERC-20 of its LP shares.
///
/// The pool keeps its reserves in its own storage too, to price a trade before it moves balances; only the
/// pool moves its vault balances, so the two never differ. Nobody can add to them from outside (the
/// market credits no account but through deposits, settlements and `ammTransfer`), so there are no
/// donations to price or skim; the first deposit still locks `MINIMUM_LIQUIDITY` shares forever, as in
/// Uniswap v2, so the share supply never returns to zero.
///
/// Rounding is in the pool's favour: an amount paid in rounds up, an amount paid out rounds down, shares
/// minted round down; so `reserveCredits * reserveStable` never decreases across a swap.
///
/// The swap fee (in basis points of the amount in) is fixed at construction and stays in the pool: it
/// accrues to the LP shares.
///
/// The reserves are as wide as the market's vault balances: stablecoin 96 bits, credits 56 bits (72 TWh).
/// There are no callbacks and no flash swaps; the market is the only contract the pool calls.
interface IEnergyAmm is IERC20Metadata {
    /// @notice Import of one meter that an interval's market left unbought, which a keeper asks the pool
    /// to cover (`coverShortfalls`).
    /// @param meter The buying meter.
    /// @param wh The Wh it imported and did not buy in the interval market.
    /// @param maxCost The most stablecoin the keeper's quote lets the purchase cost: a trade between the
    /// quote and the call that moved the price costs a skip, never the buyer.
    struct Shortfall {
        address meter;
        uint256 wh;
        uint256 maxCost;
    }

    /// @notice Why `coverShortfalls` bought nothing for a meter.
    enum ShortfallSkip {
        /// The meter's owner is not an active participant, or its order does not buy in the interval or
        /// has not opted in to cover import from credits (credits bought for it would cover nothing).
        NotCovering,
        /// The meter has no import pending for the interval: its reading for it is missing or was not the
        /// last, or its volumes were settled already.
        NoPendingImport,
        /// The owner's credits already cover the shortfall.
        CoveredByCredits,
        /// The pool holds too few credits for the shortfall.
        InsufficientLiquidity,
        /// The credits would cost more per kWh, fee and price impact included, than the order's ceiling.
        AboveCeiling,
        /// The owner's vault stablecoin does not pay for them.
        InsufficientBalance,
        /// They would cost more than the shortfall's `maxCost`: the price moved since the keeper's quote.
        AboveMaxCost
    }

    /// @notice `account` sold `amountIn` of one asset for `amountOut` of the other, vault to vault.
    /// @param creditsIn Whether credits were sold (for stablecoin); else stablecoin was sold for credits.
    event Swapped(address indexed account, bool creditsIn, uint256 amountIn, uint256 amountOut);

    /// @notice A keeper bought `creditsWh` for `stablecoin` from `owner`'s vault to cover `meter`'s import
    /// in interval `t` that the interval market left unbought (also reported as a `Swapped` of `owner`).
    event ShortfallCovered(
        uint64 indexed t, address indexed meter, address indexed owner, uint256 creditsWh, uint256 stablecoin
    );

    /// @notice `coverShortfalls` bought nothing for `meter` in interval `t`, for `reason`.
    event ShortfallSkipped(uint64 indexed t, address indexed meter, ShortfallSkip reason);

    /// @notice `provider` moved `amountCredits` and `amountStable` from its vault into the pool and was
    /// minted `shares`.
    event LiquidityAdded(
        address indexed provider, uint256 amountCredits, uint256 amountStable, uint256 shares
    );

    /// @notice `provider` burnt `shares` for `amountCredits` and `amountStable`, paid into its vault.
    event LiquidityRemoved(
        address indexed provider, uint256 amountCredits, uint256 amountStable, uint256 shares
    );

    /// @notice The call was mined after its `deadline` (a unix time in seconds): sign it again.
    error EnergyAmmExpired(uint256 deadline, uint256 timestamp);

    /// @notice An amount (a swap's input or output, a deposit or a share count) is zero.
    error EnergyAmmZeroAmount();

    /// @notice The swap would pay out `amountOut`, less than the caller's `minOut` (or nothing at all):
    /// the price moved; quote again or accept a lower minimum.
    error EnergyAmmInsufficientOutput(uint256 amountOut, uint256 minOut);

    /// @notice The swap would take `amountIn`, more than the caller's `maxIn`: the price moved; quote
    /// again or accept a higher maximum.
    error EnergyAmmExcessiveInput(uint256 amountIn, uint256 maxIn);

    /// @notice The pool holds `reserveOut` of the asset asked for, not more than the `amountOut` asked
    /// (or it holds no liquidity yet): ask for less, or add liquidity first.
    error EnergyAmmInsufficientLiquidity(uint256 reserveOut, uint256 amountOut);

    /// @notice Adding `amount` to the reserve `reserve` would pass what the vault stores (stablecoin
    /// 2^96 - 1 base units, credits 2^56 - 1 Wh): swap or deposit less.
    error EnergyAmmReserveOverflow(uint256 reserve, uint256 amount);

    /// @notice A deposit or withdrawal of `asset` came to `amount`, below the caller's `minimum`: the pool
    /// price moved; quote again or widen the minimum.
    error EnergyAmmBelowMinimum(IEnergyMarket.Asset asset, uint256 amount, uint256 minimum);

    /// @notice The first deposit is worth `liquidity` shares, not more than the `minimum` locked forever:
    /// deposit more.
    error EnergyAmmInsufficientInitialLiquidity(uint256 liquidity, uint256 minimum);

    /// @notice A deposit of `amountCredits` and `amountStable` is worth no share: deposit more.
    error EnergyAmmZeroShares(uint256 amountCredits, uint256 amountStable);

    /// @notice Burning `shares` would pay out `amountCredits` and `amountStable`, one of them zero: burn
    /// more shares.
    error EnergyAmmInsufficientLiquidityBurned(uint256 shares, uint256 amountCredits, uint256 amountStable);

    /// @notice `caller` does not hold the market's `KEEPER_ROLE`: only a keeper buys for other accounts.
    error EnergyAmmNotKeeper(address caller);

    /// @notice The constructor's `feeBps` is above `maximum`.
    error EnergyAmmFeeTooHigh(uint256 feeBps, uint256 maximum);

    /// @notice The constructor's market is the zero address.
    error EnergyAmmZeroMarket();

    /// @notice The EnergyMarket whose vault balances the pool trades.
    function MARKET() external view returns (IEnergyMarket);

    /// @notice The swap fee, in basis points of the amount in.
    function FEE_BPS() external view returns (uint256);

    /// @notice The largest fee the constructor accepts (10 %).
    function MAX_FEE_BPS() external view returns (uint256);

    /// @notice Shares locked forever by the first deposit.
    function MINIMUM_LIQUIDITY() external view returns (uint256);

    /// @notice The reserves (the pool's vault balances in the market) and the block timestamp (mod 2^32)
    /// of the last change.
    function getReserves()
        external
        view
        returns (uint256 reserveCredits, uint256 reserveStable, uint32 blockTimestampLast);

    /// @notice The price accumulators as last stored, and the block timestamp (mod 2^32) they were stored
    /// at. Each adds, once per block on the pool's first change, the price before that block times the
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

    /// @notice What `swapExactIn(creditsIn, amountIn, ...)` would pay out now (rounded down).
    function getAmountOut(bool creditsIn, uint256 amountIn) external view returns (uint256 amountOut);

    /// @notice What `swapExactOut(creditsIn, amountOut, ...)` would take now (rounded up).
    function getAmountIn(bool creditsIn, uint256 amountOut) external view returns (uint256 amountIn);

    /// @notice Sells exactly `amountIn` from the caller's vault for at least `minOut` of the other asset,
    /// paid into the caller's vault.
    /// @param creditsIn Whether the caller sells credits (Wh) for stablecoin; else stablecoin for credits.
    /// @param deadline The latest block timestamp the swap may be mined at.
    /// @return amountOut What the caller received.
    function swapExactIn(bool creditsIn, uint256 amountIn, uint256 minOut, uint256 deadline)
        external
        returns (uint256 amountOut);

    /// @notice Buys exactly `amountOut` of the asset the caller does not sell, paid into its vault, for at
    /// most `maxIn` from its vault.
    /// @param creditsIn Whether the caller sells credits (Wh) for stablecoin; else stablecoin for credits.
    /// @param deadline The latest block timestamp the swap may be mined at.
    /// @return amountIn What the caller paid.
    function swapExactOut(bool creditsIn, uint256 amountOut, uint256 maxIn, uint256 deadline)
        external
        returns (uint256 amountIn);

    /// @notice Buys credits for buyers whose import an interval's market left short (a cloud passed), paid
    /// from each owner's vault stablecoin, so that the market covers that import from credits instead of
    /// grid supply; only a holder of the market's `KEEPER_ROLE`. Send it before the interval's settlement:
    /// a settled fill settles its meter's import at once.
    /// @dev For each shortfall in turn, at the pool's price after the ones before it, the pool buys
    /// `min(wh, pending import) - the owner's credits` Wh, and only when the meter's owner is an active
    /// participant whose order buys in interval `t` with `coverFromCredits`, the meter's last reading is
    /// `t`'s and its import is pending (marketable), the pool holds more credits than that, the cost per
    /// kWh (fee and price impact included) is at most the order's `buyCeiling`, the owner's vault
    /// stablecoin pays it, and it is at most the shortfall's `maxCost`. Otherwise it emits `ShortfallSkipped` with the first unmet rule and goes on: a
    /// trade between the keeper's quote and this call moves the price, and the shortfalls after it still
    /// get what they can. So the pool never buys more than a meter imported, nor at a price its owner did
    /// not accept. A keeper is trusted as it is with `settle`: it chooses which shortfalls to cover.
    /// @param t The interval.
    /// @param shortfalls The meters and their unbought Wh, in the order to serve them (a keeper serves the
    /// highest ceilings first).
    /// @param deadline The latest block timestamp the call may be mined at.
    /// @return boughtWh Credits bought in all.
    /// @return paid Stablecoin paid in all.
    function coverShortfalls(uint64 t, Shortfall[] calldata shortfalls, uint256 deadline)
        external
        returns (uint256 boughtWh, uint256 paid);

    /// @notice Moves credits and stablecoin from the caller's vault into the pool at the pool's ratio (the
    /// first deposit sets it): at most the desired amounts, at least the minimums; mints shares to the
    /// caller.
    /// @return amountCredits The credits deposited.
    /// @return amountStable The stablecoin deposited.
    /// @return shares The shares minted.
    function addLiquidity(
        uint256 amountCreditsDesired,
        uint256 amountStableDesired,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        uint256 deadline
    ) external returns (uint256 amountCredits, uint256 amountStable, uint256 shares);

    /// @notice Burns `shares` of the caller and pays their part of both reserves (rounded down) into its
    /// vault.
    /// @return amountCredits The credits paid out.
    /// @return amountStable The stablecoin paid out.
    function removeLiquidity(
        uint256 shares,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        uint256 deadline
    ) external returns (uint256 amountCredits, uint256 amountStable);
}
