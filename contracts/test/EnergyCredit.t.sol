// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EnergyCredit} from "../src/EnergyCredit.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Test} from "forge-std/Test.sol";

contract EnergyCreditTest is Test {
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");

    EnergyCredit internal token;
    address internal admin = makeAddr("admin");
    address internal minter = makeAddr("minter");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public {
        token = new EnergyCredit(admin);
        vm.prank(admin);
        token.grantRole(MINTER_ROLE, minter);
    }

    function test_Metadata() public view {
        assertEq(token.name(), "cogrid Energy Credit");
        assertEq(token.symbol(), "ECR");
        assertEq(token.decimals(), 3, "1 unit = 1 Wh");
        assertEq(token.MINTER_ROLE(), MINTER_ROLE);
        assertTrue(token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin));
        assertFalse(token.hasRole(MINTER_ROLE, admin), "admin only grants");
    }

    function test_MinterMints() public {
        vm.prank(minter);
        token.mint(alice, 1500);
        assertEq(token.balanceOf(alice), 1500);
        assertEq(token.totalSupply(), 1500);
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

    function test_HolderBurns() public {
        vm.prank(minter);
        token.mint(alice, 1500);
        vm.prank(alice);
        token.burn(500);
        assertEq(token.balanceOf(alice), 1000);
        assertEq(token.totalSupply(), 1000);
    }

    function test_BurnFromSpendsAllowance() public {
        vm.prank(minter);
        token.mint(alice, 1500);
        vm.prank(alice);
        token.approve(bob, 600);
        vm.prank(bob);
        token.burnFrom(alice, 600);
        assertEq(token.balanceOf(alice), 900);
        assertEq(token.allowance(alice, bob), 0);
    }

    function test_RevertWhen_BurnFromWithoutAllowance() public {
        vm.prank(minter);
        token.mint(alice, 1500);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 0, 1));
        token.burnFrom(alice, 1);
    }
}
