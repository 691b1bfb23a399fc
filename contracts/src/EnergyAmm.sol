// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyAmm} from "./interfaces/IEnergyAmm.sol";
import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "./interfaces/IMeterRegistry.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title EnergyAmm
/// @notice cogrid's pool of last resort: energy credits against the stablecoin, constant product, trading
/// the vault balances of the EnergyMarket it is a participant of.
/// @dev Storage is two words, both touched by a swap: `_slot0` packs the reserves and the timestamp of the
/// last change (read and written by every swap), `_priceCumulative` packs the two TWAP accumulators (read
/// and written only by the first change in a block). The reserves mirror the pool's vault balances in the
/// market, which only this contract changes (`ammTransfer`, called once per swap or liquidity change, after
/// the pool's own state is written).
contract EnergyAmm is IEnergyAmm, ERC20, ReentrancyGuardTransient {
    /// @inheritdoc IEnergyAmm
    IEnergyMarket public immutable MARKET;
    /// @inheritdoc IEnergyAmm
    uint256 public immutable FEE_BPS;
    /// @inheritdoc IEnergyAmm
    uint256 public constant MAX_FEE_BPS = 1000;
    /// @inheritdoc IEnergyAmm
    uint256 public constant MINIMUM_LIQUIDITY = 1000;

    uint256 private constant BPS = 10_000;
    /// @dev The widths of the market's vault balances, which the reserves are.
    uint256 private constant MAX_CREDITS = type(uint56).max;
    uint256 private constant MAX_STABLE = type(uint96).max;
    /// @dev Bit offsets in `_slot0`: reserveCredits at 0 (56 bits), reserveStable (96 bits), the timestamp
    /// (32 bits).
    uint256 private constant STABLE_SHIFT = 56;
    uint256 private constant TIMESTAMP_SHIFT = 152;
    /// @dev Holder of the shares the first deposit locks (OpenZeppelin's ERC-20 refuses to mint to zero).
    address private constant LOCKED_SHARES_HOLDER = address(0xdEaD);

    /// @dev `FEE_BPS` subtracted from `BPS`: the part of an amount in that moves the price.
    uint256 private immutable _AFTER_FEE_BPS;

    /// @dev reserveCredits (bits 0-55) | reserveStable (56-151) | block timestamp mod 2^32 (152-183).
    uint256 private _slot0;
    /// @dev creditPriceCumulative (bits 0-127) | stablePriceCumulative (128-255), Q64.64 sums mod 2^128.
    uint256 private _priceCumulative;

    /// @param market The EnergyMarket; its admin registers this pool as a participant and `setAmm`s it.
    /// @param feeBps The swap fee in basis points of the amount in, at most `MAX_FEE_BPS`. Fixed for the
    /// pool's life, so a quote never changes under a caller except by trades.
    constructor(IEnergyMarket market, uint256 feeBps) ERC20("cogrid Energy AMM LP", "cgLP") {
        if (address(market) == address(0)) revert EnergyAmmZeroMarket();
        if (feeBps > MAX_FEE_BPS) revert EnergyAmmFeeTooHigh(feeBps, MAX_FEE_BPS);
        MARKET = market;
        FEE_BPS = feeBps;
        _AFTER_FEE_BPS = BPS - feeBps;
    }

    /// @inheritdoc IEnergyAmm
    function swapExactIn(bool creditsIn, uint256 amountIn, uint256 minOut, uint256 deadline)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        _checkDeadline(deadline);
        uint256 slot0 = _slot0;
        {
            (uint256 reserveIn, uint256 reserveOut) = _oriented(slot0, creditsIn);
            amountOut = _amountOut(amountIn, reserveIn, reserveOut, creditsIn);
        }
        if (amountOut == 0 || amountOut < minOut) revert EnergyAmmInsufficientOutput(amountOut, minOut);
        _swap(msg.sender, creditsIn, slot0, amountIn, amountOut);
    }

    /// @inheritdoc IEnergyAmm
    function swapExactOut(bool creditsIn, uint256 amountOut, uint256 maxIn, uint256 deadline)
        external
        nonReentrant
        returns (uint256 amountIn)
    {
        _checkDeadline(deadline);
        uint256 slot0 = _slot0;
        {
            (uint256 reserveIn, uint256 reserveOut) = _oriented(slot0, creditsIn);
            amountIn = _amountIn(amountOut, reserveIn, reserveOut, creditsIn);
        }
        if (amountIn > maxIn) revert EnergyAmmExcessiveInput(amountIn, maxIn);
        _swap(msg.sender, creditsIn, slot0, amountIn, amountOut);
    }

    /// @inheritdoc IEnergyAmm
    function coverShortfalls(uint64 t, Shortfall[] calldata shortfalls, uint256 deadline)
        external
        nonReentrant
        returns (uint256 boughtWh, uint256 paid)
    {
        _checkDeadline(deadline);
        IEnergyMarket market = MARKET;
        if (!IAccessControl(address(market)).hasRole(market.KEEPER_ROLE(), msg.sender)) {
            revert EnergyAmmNotKeeper(msg.sender);
        }
        uint256 intervalSeconds = IMeterRegistry(address(market)).INTERVAL_SECONDS();
        uint256 start = uint256(t) * intervalSeconds;
        uint256 slot0 = _slot0;
        for (uint256 i; i < shortfalls.length; ++i) {
            address meter = shortfalls[i].meter;
            (bool covered, ShortfallSkip skip, address owner, uint256 wh, uint256 cost) =
                _quoteShortfall(meter, shortfalls[i].wh, start, start + intervalSeconds, slot0);
            if (covered && cost > shortfalls[i].maxCost) {
                (covered, skip) = (false, ShortfallSkip.AboveMaxCost);
            }
            if (!covered) {
                emit ShortfallSkipped(t, meter, skip);
                continue;
            }
            _swap(owner, false, slot0, cost, wh);
            slot0 = _slot0;
            // Sums of amounts below the reserves' widths (2^96), over fewer than 2^64 shortfalls.
            unchecked {
                boughtWh += wh;
                paid += cost;
            }
            emit ShortfallCovered(t, meter, owner, wh, cost);
        }
    }

    /// @inheritdoc IEnergyAmm
    function addLiquidity(
        uint256 amountCreditsDesired,
        uint256 amountStableDesired,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
        uint256 deadline
    ) external nonReentrant returns (uint256 amountCredits, uint256 amountStable, uint256 shares) {
        _checkDeadline(deadline);
        uint256 slot0 = _slot0;
        (amountCredits, amountStable, shares) = _deposit(amountCreditsDesired, amountStableDesired, slot0);
        if (amountCredits < amountCreditsMin) {
            revert EnergyAmmBelowMinimum(IEnergyMarket.Asset.EnergyCredit, amountCredits, amountCreditsMin);
        }
        if (amountStable < amountStableMin) {
            revert EnergyAmmBelowMinimum(IEnergyMarket.Asset.Stablecoin, amountStable, amountStableMin);
        }

        {
            (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
            // _deposit checked both amounts against the reserves' headroom.
            _update(reserveCredits + amountCredits, reserveStable + amountStable, slot0);
        }
        if (totalSupply() == 0) _mint(LOCKED_SHARES_HOLDER, MINIMUM_LIQUIDITY);
        _mint(msg.sender, shares);
        // Both amounts are within the reserves' widths (below 2^96): the casts and negations are exact.
        // forge-lint: disable-next-line(unsafe-typecast)
        _transfer(-int256(amountStable), -int256(amountCredits));
        emit LiquidityAdded(msg.sender, amountCredits, amountStable, shares);
    }

    /// @inheritdoc IEnergyAmm
    function removeLiquidity(
        uint256 shares,
        uint256 amountCreditsMin,
        uint256 amountStableMin,
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
            revert EnergyAmmBelowMinimum(IEnergyMarket.Asset.EnergyCredit, amountCredits, amountCreditsMin);
        }
        if (amountStable < amountStableMin) {
            revert EnergyAmmBelowMinimum(IEnergyMarket.Asset.Stablecoin, amountStable, amountStableMin);
        }

        _update(reserveCredits - amountCredits, reserveStable - amountStable, slot0);
        // Both amounts are parts of the reserves (below 2^96): the casts are exact.
        // forge-lint: disable-next-line(unsafe-typecast)
        _transfer(int256(amountStable), int256(amountCredits));
        emit LiquidityRemoved(msg.sender, amountCredits, amountStable, shares);
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
        // The timestamp mod 2^32, as stored (see _update).
        // forge-lint: disable-next-line(unsafe-typecast)
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
    function getAmountOut(bool creditsIn, uint256 amountIn) external view returns (uint256 amountOut) {
        (uint256 reserveIn, uint256 reserveOut) = _oriented(_slot0, creditsIn);
        return _amountOut(amountIn, reserveIn, reserveOut, creditsIn);
    }

    /// @inheritdoc IEnergyAmm
    function getAmountIn(bool creditsIn, uint256 amountOut) external view returns (uint256 amountIn) {
        (uint256 reserveIn, uint256 reserveOut) = _oriented(_slot0, creditsIn);
        return _amountIn(amountOut, reserveIn, reserveOut, creditsIn);
    }

    /// @dev Whether the pool covers `meter`'s shortfall of `shortfallWh` in the interval `[start, end)` at
    /// the reserves in `slot0`, and if so for which owner, how many Wh and at what cost; else the first
    /// rule `coverShortfalls` documents that it breaks.
    function _quoteShortfall(address meter, uint256 shortfallWh, uint256 start, uint256 end, uint256 slot0)
        private
        view
        returns (bool covered, ShortfallSkip skip, address owner, uint256 wh, uint256 cost)
    {
        IEnergyMarket market = MARKET;
        IMeterRegistry registry = IMeterRegistry(address(market));
        owner = registry.meterInfo(meter).owner;
        IEnergyMarket.OrderParams memory order = market.orderOf(meter);
        if (
            !registry.isParticipant(owner) || !order.buys || !order.coverFromCredits
                || start < order.validFrom || (order.validUntil != 0 && end > order.validUntil)
        ) return (false, ShortfallSkip.NotCovering, owner, 0, 0);
        IMeterRegistry.MeterState memory state = registry.meterState(meter);
        if (
            state.pending != IMeterRegistry.Pending.Marketable || state.lastIntervalEnd != end
                || state.pendingImportWh == 0
        ) return (false, ShortfallSkip.NoPendingImport, owner, 0, 0);
        IEnergyMarket.Balances memory vault = market.balancesOf(owner);
        wh = Math.min(shortfallWh, state.pendingImportWh);
        if (wh <= vault.creditsWh) return (false, ShortfallSkip.CoveredByCredits, owner, 0, 0);
        wh -= vault.creditsWh;
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        if (wh >= reserveCredits) return (false, ShortfallSkip.InsufficientLiquidity, owner, 0, 0);
        cost = _amountIn(wh, reserveStable, reserveCredits, false);
        // The cost is below 2^96 and the ceiling a uint64: neither product overflows.
        if (cost * 1000 > wh * order.buyCeiling) return (false, ShortfallSkip.AboveCeiling, owner, 0, 0);
        if (cost > vault.stablecoin) return (false, ShortfallSkip.InsufficientBalance, owner, 0, 0);
        return (true, skip, owner, wh, cost);
    }

    /// @dev Moves the reserves, then the vault balances: `amountIn` from `account` to the pool, `amountOut`
    /// of the other asset back.
    function _swap(address account, bool creditsIn, uint256 slot0, uint256 amountIn, uint256 amountOut)
        private
    {
        (uint256 reserveCredits, uint256 reserveStable,) = _unpackSlot0(slot0);
        int256 stablecoinDelta;
        int256 creditsDelta;
        // _amountOut/_amountIn checked amountIn against the input reserve's headroom and kept amountOut
        // below the output reserve, so nothing here wraps, and both amounts are below 2^96, so the casts
        // and negations are exact.
        unchecked {
            if (creditsIn) {
                (reserveCredits, reserveStable) = (reserveCredits + amountIn, reserveStable - amountOut);
                // forge-lint: disable-next-line(unsafe-typecast)
                (stablecoinDelta, creditsDelta) = (int256(amountOut), -int256(amountIn));
            } else {
                (reserveCredits, reserveStable) = (reserveCredits - amountOut, reserveStable + amountIn);
                // forge-lint: disable-next-line(unsafe-typecast)
                (stablecoinDelta, creditsDelta) = (-int256(amountIn), int256(amountOut));
            }
        }
        _update(reserveCredits, reserveStable, slot0);
        MARKET.ammTransfer(account, stablecoinDelta, creditsDelta);
        emit Swapped(account, creditsIn, amountIn, amountOut);
    }

    /// @dev Moves vault balances between the caller and the pool in the market (positive deltas to the
    /// caller); the market reverts when a balance does not cover its side.
    function _transfer(int256 stablecoinDelta, int256 creditsDelta) private {
        MARKET.ammTransfer(msg.sender, stablecoinDelta, creditsDelta);
    }

    /// @dev Stores the new reserves and the block's timestamp over `slot0` (the stored word); on the first
    /// change in a block, first adds the price that held since the last change to the accumulators.
    function _update(uint256 reserveCredits, uint256 reserveStable, uint256 slot0) private {
        (uint256 oldReserveCredits, uint256 oldReserveStable, uint32 timestampLast) = _unpackSlot0(slot0);
        // The timestamps wrap every ~136 years, as in Uniswap v2; only their difference mod 2^32 is used.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 timestamp = uint32(block.timestamp);
        // Both reserves are zero before the first deposit and non-zero ever after.
        if (timestamp != timestampLast && oldReserveCredits != 0) {
            _priceCumulative = _accumulated(oldReserveCredits, oldReserveStable, timestampLast);
        }
        _slot0 = reserveCredits | (reserveStable << STABLE_SHIFT) | (uint256(timestamp) << TIMESTAMP_SHIFT);
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
        // Bounding the desired amounts keeps every product below 2^152.
        _checkHeadroom(reserveCredits, amountCreditsDesired, MAX_CREDITS);
        _checkHeadroom(reserveStable, amountStableDesired, MAX_STABLE);

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
        // Truncating is the point: the cast keeps the 32 bits of the timestamp field.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (slot0 & MAX_CREDITS, (slot0 >> STABLE_SHIFT) & MAX_STABLE, uint32(slot0 >> TIMESTAMP_SHIFT));
    }

    /// @dev The packed accumulators brought forward to this block from a change at `timestampLast`.
    function _accumulated(uint256 reserveCredits, uint256 reserveStable, uint32 timestampLast)
        private
        view
        returns (uint256 packed)
    {
        packed = _priceCumulative;
        if (reserveCredits == 0) return packed;
        // Wrapping by design (see _update); consumers take differences. A Q64.64 price of reserves below
        // 2^96 is below 2^160, times elapsed < 2^32 below 2^192: the products never overflow; the uint128
        // casts and sums wrap on purpose (sums mod 2^128).
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 elapsed = uint32(uint32(block.timestamp) - timestampLast);
            (uint128 creditCumulative, uint128 stableCumulative) = _unpackCumulative(packed);
            // The price is divided first on purpose: the accumulator sums the Q64.64 price, not a product.
            // forge-lint: disable-next-item(unsafe-typecast, divide-before-multiply)
            creditCumulative += uint128(((reserveStable << 64) / reserveCredits) * elapsed);
            // forge-lint: disable-next-item(unsafe-typecast, divide-before-multiply)
            stableCumulative += uint128(((reserveCredits << 64) / reserveStable) * elapsed);
            packed = uint256(creditCumulative) | (uint256(stableCumulative) << 128);
        }
    }

    function _unpackCumulative(uint256 packed) private pure returns (uint128 credit, uint128 stable) {
        // Truncating is the point: the two halves of the word.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint128(packed), uint128(packed >> 128));
    }

    /// @dev Reverts unless `amount` fits on top of `reserve` within `max`.
    function _checkHeadroom(uint256 reserve, uint256 amount, uint256 max) private pure {
        if (amount > max - reserve) revert EnergyAmmReserveOverflow(reserve, amount);
    }

    /// @dev The width of the reserve an input of credits (else stablecoin) goes to.
    function _maxIn(bool creditsIn) private pure returns (uint256) {
        return creditsIn ? MAX_CREDITS : MAX_STABLE;
    }

    /// @dev Output for `amountIn` after the fee, rounded down. Reserves below 2^96, amountIn below 2^96
    /// (checked) and a factor below 2^14 keep every product below 2^206.
    function _amountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut, bool creditsIn)
        private
        view
        returns (uint256)
    {
        if (amountIn == 0) revert EnergyAmmZeroAmount();
        if (reserveIn == 0) revert EnergyAmmInsufficientLiquidity(reserveOut, 0);
        _checkHeadroom(reserveIn, amountIn, _maxIn(creditsIn));
        uint256 amountInAfterFee = amountIn * _AFTER_FEE_BPS;
        return amountInAfterFee * reserveOut / (reserveIn * BPS + amountInAfterFee);
    }

    /// @dev Input needed for `amountOut` after the fee, rounded up. Products stay below 2^206 as above.
    function _amountIn(uint256 amountOut, uint256 reserveIn, uint256 reserveOut, bool creditsIn)
        private
        view
        returns (uint256)
    {
        if (amountOut == 0) revert EnergyAmmZeroAmount();
        if (amountOut >= reserveOut) revert EnergyAmmInsufficientLiquidity(reserveOut, amountOut);
        uint256 amountIn =
            Math.ceilDiv(reserveIn * amountOut * BPS, (reserveOut - amountOut) * _AFTER_FEE_BPS);
        _checkHeadroom(reserveIn, amountIn, _maxIn(creditsIn));
        return amountIn;
    }
}
