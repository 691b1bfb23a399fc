// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A hostile stand-in for the EnergyMarket that, once armed, calls back into a target when the
/// pool moves balances through it: a market the pool must not trust to prove the pool's reentrancy lock.
/// It moves no balances (a test of the lock needs none).
contract ReentrantMarket {
    address private _target;
    bytes private _call;

    /// @notice On the next `ammTransfer`, calls `target` with `call` and bubbles up its revert.
    function arm(address target, bytes calldata call) external {
        _target = target;
        _call = call;
    }

    function ammTransfer(address, int256, int256) external {
        address target = _target;
        if (target == address(0)) return;
        _target = address(0);
        (bool ok, bytes memory reason) = target.call(_call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }
}
