// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MockStablecoin} from "../src/MockStablecoin.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Test} from "forge-std/Test.sol";

contract MockStablecoinTest is Test {
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");

    MockStablecoin internal token;
    address internal admin = makeAddr("admin");
    address internal alice = makeAddr("alice");

    function setUp() public {
        token = new MockStablecoin(admin);
    }

    function test_Metadata() public view {
        assertEq(token.name(), "Mock USD Coin");
        assertEq(token.symbol(), "mUSDC");
        assertEq(token.decimals(), 6);
        assertTrue(token.hasRole(MINTER_ROLE, admin), "admin is the devnet faucet");
        assertTrue(token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin));
    }

    function test_AdminMints() public {
        vm.prank(admin);
        token.mint(alice, 250e6);
        assertEq(token.balanceOf(alice), 250e6);
    }

    function test_RevertWhen_MintUnauthorized() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, MINTER_ROLE
            )
        );
        token.mint(alice, 1);
    }
}
