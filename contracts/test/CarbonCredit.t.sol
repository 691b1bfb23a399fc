// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../src/CarbonCredit.sol";
import {ICarbonCredit} from "../src/interfaces/ICarbonCredit.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Test} from "forge-std/Test.sol";

contract CarbonCreditTest is Test {
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");
    uint40 internal constant YEAR_START = 1_767_225_600; // 2026-01-01
    uint40 internal constant YEAR_END = 1_798_761_600; // 2027-01-01

    CarbonCredit internal token;
    address internal admin = makeAddr("admin");
    address internal minter = makeAddr("minter");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public {
        token = new CarbonCredit(admin);
        vm.prank(admin);
        token.grantRole(MINTER_ROLE, minter);
        vm.startPrank(minter);
        token.mint(alice, 10_000);
        token.mint(bob, 3000);
        vm.stopPrank();
        vm.warp(YEAR_END + 1 days);
    }

    function test_Metadata() public view {
        assertEq(token.name(), "cogrid Carbon Credit");
        assertEq(token.symbol(), "gCO2e");
        assertEq(token.decimals(), 0, "1 unit = 1 gram");
        assertEq(token.MINTER_ROLE(), MINTER_ROLE);
    }

    function test_MintCountsTotalMinted() public view {
        assertEq(token.totalMinted(), 13_000);
        assertEq(token.totalSupply(), 13_000);
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

    function test_RetireBurnsAndRecords() public {
        vm.expectEmit(address(token));
        emit ICarbonCredit.Retired(1, alice, "Alice Bakery Ltd", 4000, YEAR_START, YEAR_END, "2026 scope 2");
        vm.prank(alice);
        uint256 id = token.retire(4000, "Alice Bakery Ltd", YEAR_START, YEAR_END, "2026 scope 2");

        assertEq(id, 1);
        ICarbonCredit.Retirement memory record = token.retirement(id);
        assertEq(record.account, alice);
        assertEq(record.beneficiary, "Alice Bakery Ltd");
        assertEq(record.amount, 4000);
        assertEq(record.periodStart, YEAR_START);
        assertEq(record.periodEnd, YEAR_END);
        assertEq(record.purpose, "2026 scope 2");
        assertEq(record.retiredAt, block.timestamp);

        assertEq(token.balanceOf(alice), 6000);
        assertEq(token.totalSupply(), 9000);
        assertEq(token.totalRetired(), 4000);
        assertEq(token.retiredBy(alice), 4000);
        assertEq(token.totalSupply() + token.totalRetired(), token.totalMinted());
    }

    function test_RetirementIdsIncreaseAndTotalsAccumulate() public {
        vm.prank(alice);
        token.retire(100, "", YEAR_START, YEAR_END, "");
        vm.prank(bob);
        uint256 second = token.retire(3000, "Bob", YEAR_START, YEAR_END, "all of it");
        vm.prank(alice);
        uint256 third = token.retire(900, "Carol", YEAR_START, YEAR_START + 1, "gift");

        assertEq(second, 2);
        assertEq(third, 3);
        assertEq(token.retiredBy(alice), 1000);
        assertEq(token.retiredBy(bob), 3000);
        assertEq(token.totalRetired(), 4000);
        assertEq(token.retirement(2).account, bob);
        assertEq(token.retirement(3).beneficiary, "Carol");
    }

    function test_RevertWhen_RetireZero() public {
        vm.prank(alice);
        vm.expectRevert(ICarbonCredit.CarbonCreditZeroAmount.selector);
        token.retire(0, "x", YEAR_START, YEAR_END, "x");
    }

    function test_RevertWhen_RetirePeriodReversed() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredit.CarbonCreditInvalidPeriod.selector, YEAR_END, YEAR_START)
        );
        token.retire(1, "x", YEAR_END, YEAR_START, "x");
    }

    function test_RevertWhen_RetirePeriodEmpty() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredit.CarbonCreditInvalidPeriod.selector, YEAR_START, YEAR_START)
        );
        token.retire(1, "x", YEAR_START, YEAR_START, "x");
    }

    function test_RevertWhen_RetireMoreThanBalance() public {
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, bob, 3000, 3001)
        );
        token.retire(3001, "x", YEAR_START, YEAR_END, "x");
    }

    function test_RevertWhen_RetirementUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredit.CarbonCreditUnknownRetirement.selector, 0));
        token.retirement(0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredit.CarbonCreditUnknownRetirement.selector, 1));
        token.retirement(1);
    }

    function test_HasNoGeneralBurn() public {
        vm.prank(alice);
        (bool burned,) = address(token).call(abi.encodeWithSignature("burn(uint256)", 1));
        assertFalse(burned, "burn(uint256) exists");
        assertEq(token.balanceOf(alice), 10_000);
    }

    function testFuzz_RetireKeepsSupplyIdentity(uint256 minted, uint256 retired) public {
        minted = bound(minted, 1, type(uint128).max);
        retired = bound(retired, 1, minted);
        address holder = makeAddr("holder");
        vm.prank(minter);
        token.mint(holder, minted);
        vm.prank(holder);
        token.retire(retired, "fuzz", YEAR_START, YEAR_END, "fuzz");

        assertEq(token.totalSupply() + token.totalRetired(), token.totalMinted());
        assertEq(token.retiredBy(holder), retired);
        assertEq(token.balanceOf(holder), minted - retired);
    }
}
