// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 that, once armed, makes one call to a target on its next transfer: a hostile
/// token to prove the pool's reentrancy lock.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _call;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice On the next transfer, calls `target` with `call` and bubbles up its revert.
    function arm(address target, bytes calldata call) external {
        _target = target;
        _call = call;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _target;
        if (target != address(0)) {
            _target = address(0);
            (bool ok, bytes memory reason) = target.call(_call);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
        }
    }
}
