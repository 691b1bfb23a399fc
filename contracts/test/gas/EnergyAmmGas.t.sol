// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyAmm} from "../../src/EnergyAmm.sol";
import {EnergyCredit} from "../../src/EnergyCredit.sol";
import {MockStablecoin} from "../../src/MockStablecoin.sol";
import {IEnergyAmm} from "../../src/interfaces/IEnergyAmm.sol";
import {TransactionGas, VmCool} from "../utils/TransactionGas.sol";
import {Test, console} from "forge-std/Test.sol";

/// @notice Gas of a swap on the pool as its own transaction (`snapshots/EnergyAmmGasTest.json`). `amm_swap`:
/// a user who already holds both tokens and has approved the pool for a finite amount (which the swap
/// spends) buys ~10 kWh with 2.5 $ in the first pool transaction of its block, so the accumulators move
/// too (their slot already non-zero, as in a running pool). Everything the swap touches is cold but the
/// pool's account, which is the transaction's `to`. Of its execution gas (~51,000), the two token calls
/// take ~36,600: the tokens' cold accounts (5,200), the user's stablecoin balance and allowance and
/// credit balance (15,000: cold read and write of each; a recipient without credits pays 17,100 more),
/// the pool's two balances (10,000) and the two Transfer events. The pool's own part is ~13,300: its two
/// words (10,000), the Swapped event and ~1,000 of logic. Two variants show what a user can save:
/// `amm_swap_unlimited_allowance` (OpenZeppelin's ERC-20 does not write an unlimited allowance) and
/// `amm_swap_later_in_block` (the block's accumulators are already up to date).
abstract contract EnergyAmmGasBase is Test {
    uint40 internal constant T0 = 1_767_225_600;
    uint40 internal constant T_SWAP = T0 + 24;
    /// @dev Whole-transaction goal of issue 4 (Uniswap v2 spends about 95,000). Not met: the intrinsic
    /// 21,000 and the calldata (~1,300) plus the token moves alone (~36,600) leave ~1,100 for the pool.
    uint256 internal constant SWAP_TX_TARGET = 60_000;
    /// @dev Regression guard for the whole transaction: today's figure plus a little room.
    uint256 internal constant SWAP_TX_CEILING = 74_000;
    uint256 internal constant STABLE_IN = 2.5e6;

    EnergyAmm internal amm;
    EnergyCredit internal energy;
    MockStablecoin internal stablecoin;
    address internal user = makeAddr("user");
    address internal provider = makeAddr("provider");

    function setUp() public {
        vm.warp(T0);
        address admin = makeAddr("admin");
        stablecoin = new MockStablecoin(admin);
        energy = new EnergyCredit(admin);
        amm = new EnergyAmm(address(energy), address(stablecoin), 30);

        vm.startPrank(admin);
        energy.grantRole(energy.MINTER_ROLE(), admin);
        energy.mint(provider, 1_001_000); // 1 MWh in the pool, 1 kWh to trade
        energy.mint(user, 1000);
        stablecoin.mint(provider, 251e6); // 0.25 $/kWh
        stablecoin.mint(user, 1000e6);
        vm.stopPrank();

        vm.startPrank(provider);
        energy.approve(address(amm), type(uint256).max);
        stablecoin.approve(address(amm), type(uint256).max);
        amm.addLiquidity(1_000_000, 250e6, 0, 0, provider, T0);
        // A trade in a later block: the accumulators are non-zero, as in a pool that has been running.
        vm.warp(T0 + 12);
        amm.swapExactIn(address(energy), 100, 0, provider, T0 + 12);
        vm.stopPrank();
        vm.prank(user);
        stablecoin.approve(address(amm), 1000e6);
        // The swap is in a later block.
        vm.warp(T_SWAP);
        vm.roll(block.number + 2);
        _beforeSwap();
    }

    /// @dev What a variant changes in `setUp`, an earlier transaction than the measured swap.
    function _beforeSwap() internal virtual;

    /// @dev The user's swap of `STABLE_IN` for credits as its own transaction, snapshotted as `name` (the
    /// execution gas) and `name_whole_tx`; returns the whole-transaction gas.
    function _measureSwap(string memory name) internal returns (uint256 txGas) {
        uint256 expected = amm.getAmountOut(address(stablecoin), STABLE_IN);
        bytes memory data = abi.encodeCall(
            IEnergyAmm.swapExactIn, (address(stablecoin), STABLE_IN, expected, user, T_SWAP + 60)
        );
        uint256 creditsBefore = energy.balanceOf(user);
        // The set-up ran in this test's transaction: make everything it touched cold again.
        VmCool(address(vm)).cool(address(amm));
        VmCool(address(vm)).cool(address(energy));
        VmCool(address(vm)).cool(address(stablecoin));
        // In a real transaction the pool is `tx.to`, hence warm; its storage stays cold.
        amm.FEE_BPS();

        vm.startSnapshotGas(name);
        vm.prank(user);
        (bool ok,) = address(amm).call(data);
        uint256 gasUsed = vm.stopSnapshotGas();

        assertTrue(ok, "swap reverted");
        assertEq(energy.balanceOf(user) - creditsBefore, expected, "credits bought");
        txGas = TransactionGas.wholeTransaction(data, gasUsed);
        vm.snapshotValue(string.concat(name, "_whole_tx"), txGas);
        console.log(string.concat(name, ": execution gas"), gasUsed);
        console.log(string.concat(name, ": whole transaction gas"), txGas);
    }
}

/// @notice `amm_swap` and `amm_swap_whole_tx` (`snapshots/EnergyAmmGasTest.json`).
contract EnergyAmmGasTest is EnergyAmmGasBase {
    function test_GasSwapStableForCredits() public {
        uint256 txGas = _measureSwap("amm_swap");
        if (txGas > SWAP_TX_TARGET) {
            console.log("amm_swap: whole transaction above the goal of", SWAP_TX_TARGET);
        }
        assertLe(txGas, SWAP_TX_CEILING, "swap gas regressed");
    }

    function _beforeSwap() internal override {}
}

/// @notice The same swap by a user who approved the pool for an unlimited amount, which OpenZeppelin's
/// ERC-20 does not write down (`snapshots/EnergyAmmUnlimitedAllowanceGasTest.json`).
contract EnergyAmmUnlimitedAllowanceGasTest is EnergyAmmGasBase {
    function test_GasSwapStableForCredits() public {
        _measureSwap("amm_swap_unlimited_allowance");
    }

    function _beforeSwap() internal override {
        vm.prank(user);
        stablecoin.approve(address(amm), type(uint256).max);
    }
}

/// @notice The same swap after another in the same block, whose accumulators are then up to date
/// (`snapshots/EnergyAmmLaterInBlockGasTest.json`).
contract EnergyAmmLaterInBlockGasTest is EnergyAmmGasBase {
    function test_GasSwapStableForCredits() public {
        _measureSwap("amm_swap_later_in_block");
    }

    function _beforeSwap() internal override {
        vm.prank(provider);
        amm.swapExactIn(address(stablecoin), 1e6, 0, provider, T_SWAP);
    }
}
