// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../src/CarbonCredit.sol";
import {ICarbonCredit} from "../src/interfaces/ICarbonCredit.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
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
    address internal carol = makeAddr("carol");

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
        emit IERC20.Transfer(alice, address(0), 4000);
        vm.expectEmit(address(token));
        emit ICarbonCredit.Retired(
            1, alice, 4000, YEAR_START, YEAR_END, uint40(block.timestamp), "Alice Bakery Ltd", "2026 scope 2"
        );
        vm.prank(alice);
        uint256 id = token.retire(4000, "Alice Bakery Ltd", YEAR_START, YEAR_END, "2026 scope 2");

        assertEq(id, 1);
        assertEq(token.retirementCount(), 1);
        assertTrue(token.verifyRetirement(id, _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 2")));
        assertEq(token.balanceOf(alice), 6000);
        assertEq(token.totalSupply(), 9000);
        assertEq(token.totalRetired(), 4000);
        assertEq(token.retiredBy(alice), 4000);
        assertEq(token.totalSupply() + token.totalRetired(), token.totalMinted());
    }

    /// @dev The stored commitment is the EIP-712 struct hash a verifier computes from the event's fields.
    function test_RetirementHashIsTheStructHashOfTheRecord() public {
        vm.prank(alice);
        uint256 id = token.retire(4000, "Alice Bakery Ltd", YEAR_START, YEAR_END, "2026 scope 2");

        bytes32 typeHash = keccak256(
            "Retirement(uint256 id,address account,uint256 amount,uint40 periodStart,uint40 periodEnd,uint40 retiredAt,string beneficiary,string purpose)"
        );
        assertEq(token.RETIREMENT_TYPEHASH(), typeHash);
        bytes32 expected = keccak256(
            abi.encode(
                typeHash,
                id,
                alice,
                uint256(4000),
                YEAR_START,
                YEAR_END,
                uint40(block.timestamp),
                keccak256("Alice Bakery Ltd"),
                keccak256("2026 scope 2")
            )
        );
        assertEq(token.retirementHash(id), expected);
    }

    /// @dev Changing any field of a genuine record makes it fail verification.
    function test_VerifyRetirementRejectsAlteredRecords() public {
        vm.prank(alice);
        uint256 id = token.retire(4000, "Alice Bakery Ltd", YEAR_START, YEAR_END, "2026 scope 2");
        ICarbonCredit.Retirement memory genuine = _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 2");
        assertTrue(token.verifyRetirement(id, genuine));

        ICarbonCredit.Retirement memory altered = _record(bob, 4000, "Alice Bakery Ltd", "2026 scope 2");
        assertFalse(token.verifyRetirement(id, altered), "account");
        altered = _record(alice, 4001, "Alice Bakery Ltd", "2026 scope 2");
        assertFalse(token.verifyRetirement(id, altered), "amount");
        altered = _record(alice, 4000, "Alice Bakery Ltd.", "2026 scope 2");
        assertFalse(token.verifyRetirement(id, altered), "beneficiary");
        altered = _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 3");
        assertFalse(token.verifyRetirement(id, altered), "purpose");
        altered = _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 2");
        altered.periodStart = YEAR_START - 1;
        assertFalse(token.verifyRetirement(id, altered), "periodStart");
        altered = _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 2");
        altered.periodEnd = YEAR_END + 1;
        assertFalse(token.verifyRetirement(id, altered), "periodEnd");
        altered = _record(alice, 4000, "Alice Bakery Ltd", "2026 scope 2");
        altered.retiredAt = uint40(block.timestamp) - 1;
        assertFalse(token.verifyRetirement(id, altered), "retiredAt");
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
        assertEq(token.retirementCount(), 3);
        assertEq(token.retiredBy(alice), 1000);
        assertEq(token.retiredBy(bob), 3000);
        assertEq(token.balanceOf(bob), 0);
        assertEq(token.totalRetired(), 4000);
        assertTrue(token.verifyRetirement(2, _record(bob, 3000, "Bob", "all of it")));
        ICarbonCredit.Retirement memory gift = _record(alice, 900, "Carol", "gift");
        gift.periodEnd = YEAR_START + 1;
        assertTrue(token.verifyRetirement(3, gift));
    }

    /// @dev Transfers move balances without touching the retired totals that share their slots.
    function test_TransfersKeepRetiredTotals() public {
        vm.prank(alice);
        token.retire(1000, "Alice", YEAR_START, YEAR_END, "");
        vm.prank(alice);
        assertTrue(token.transfer(bob, 2500));
        vm.prank(bob);
        token.approve(carol, 5500);
        vm.prank(carol);
        assertTrue(token.transferFrom(bob, alice, 5500));

        assertEq(token.balanceOf(alice), 12_000);
        assertEq(token.balanceOf(bob), 0);
        assertEq(token.retiredBy(alice), 1000);
        assertEq(token.retiredBy(bob), 0);
        assertEq(token.totalSupply(), 12_000);
        assertEq(token.totalSupply() + token.totalRetired(), token.totalMinted());
    }

    function test_RetireAtTheTextBounds() public {
        string memory beneficiary = string(new bytes(token.MAX_BENEFICIARY_BYTES()));
        string memory purpose = string(new bytes(token.MAX_PURPOSE_BYTES()));
        vm.prank(alice);
        uint256 id = token.retire(1, beneficiary, YEAR_START, YEAR_END, purpose);
        assertTrue(token.verifyRetirement(id, _record(alice, 1, beneficiary, purpose)));
    }

    function test_RevertWhen_RetireBeneficiaryTooLong() public {
        uint256 max = token.MAX_BENEFICIARY_BYTES();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredit.CarbonCreditBeneficiaryTooLong.selector, max + 1, max)
        );
        token.retire(1, string(new bytes(max + 1)), YEAR_START, YEAR_END, "x");
    }

    function test_RevertWhen_RetirePurposeTooLong() public {
        uint256 max = token.MAX_PURPOSE_BYTES();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredit.CarbonCreditPurposeTooLong.selector, max + 1, max)
        );
        token.retire(1, "x", YEAR_START, YEAR_END, string(new bytes(max + 1)));
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
        token.retirementHash(0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredit.CarbonCreditUnknownRetirement.selector, 1));
        token.retirementHash(1);
        ICarbonCredit.Retirement memory record = _record(alice, 1, "x", "x");
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredit.CarbonCreditUnknownRetirement.selector, 1));
        token.verifyRetirement(1, record);
    }

    function test_RevertWhen_MintPastTheCap() public {
        uint256 room = token.MAX_MINTED() - token.totalMinted();
        vm.startPrank(minter);
        token.mint(alice, room);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredit.CarbonCreditMintCapExceeded.selector, 1, token.MAX_MINTED())
        );
        token.mint(alice, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ICarbonCredit.CarbonCreditMintCapExceeded.selector, type(uint256).max, token.MAX_MINTED()
            )
        );
        token.mint(bob, type(uint256).max);
        vm.stopPrank();
        assertEq(token.totalSupply(), token.MAX_MINTED());
    }

    function test_HasNoGeneralBurn() public {
        vm.prank(alice);
        (bool burned,) = address(token).call(abi.encodeWithSignature("burn(uint256)", 1));
        assertFalse(burned, "burn(uint256) exists");
        assertEq(token.balanceOf(alice), 10_000);
    }

    function testFuzz_RetireKeepsSupplyIdentity(uint256 minted, uint256 retired, uint256 moved) public {
        minted = bound(minted, 1, token.MAX_MINTED() - token.totalMinted());
        retired = bound(retired, 1, minted);
        moved = bound(moved, 0, minted - retired);
        address holder = makeAddr("holder");
        vm.prank(minter);
        token.mint(holder, minted);
        vm.startPrank(holder);
        uint256 id = token.retire(retired, "fuzz", YEAR_START, YEAR_END, "fuzz");
        assertTrue(token.transfer(alice, moved));
        vm.stopPrank();

        assertEq(token.totalSupply() + token.totalRetired(), token.totalMinted());
        assertEq(token.retiredBy(holder), retired);
        assertEq(token.balanceOf(holder), minted - retired - moved);
        assertEq(token.balanceOf(alice), 10_000 + moved);
        assertTrue(token.verifyRetirement(id, _record(holder, retired, "fuzz", "fuzz")));
    }

    /// @dev The record of a retirement made now for 2026 (`YEAR_START` to `YEAR_END`).
    function _record(address account, uint256 amount, string memory beneficiary, string memory purpose)
        internal
        view
        returns (ICarbonCredit.Retirement memory)
    {
        return ICarbonCredit.Retirement({
            account: account,
            amount: amount,
            periodStart: YEAR_START,
            periodEnd: YEAR_END,
            retiredAt: uint40(block.timestamp),
            beneficiary: beneficiary,
            purpose: purpose
        });
    }
}
