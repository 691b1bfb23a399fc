// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VppDispatch} from "../../../src/VppDispatch.sol";
import {IMeterRegistry} from "../../../src/interfaces/IMeterRegistry.sol";
import {IVppDispatch} from "../../../src/interfaces/IVppDispatch.sol";
import {ReadingSigning} from "../../utils/ReadingSigning.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Drives VppDispatch like its users would: a grid operator creates events on feeder 1 (any window,
/// mostly after the latest one, any target, price and a budget at or above full delivery) and cancels some;
/// four battery owners enroll; anyone settles signed proofs of any delivery and closes events; owners claim;
/// time passes. Calls that the
/// contract refuses (too early, too late, over target...) are part of the run and change nothing. Ghost
/// totals follow every token the contract received or sent and what each event's settlements paid.
contract VppDispatchHandler is CommonBase, StdCheats, StdUtils {
    uint256 public constant METERS = 4;
    uint32 internal constant CAPACITY_W = 20_000;

    VppDispatch internal immutable _VPP;
    address internal immutable _MARKET;
    address internal immutable _OPERATOR;
    uint32 internal immutable _INTERVAL;
    address[METERS] internal _meters;
    uint256[METERS] internal _keys;
    address[METERS] internal _owners;
    uint256[] internal _ids;

    uint256 public ghostBudgets;
    uint256 public ghostRefunded;
    uint256 public ghostOwed;
    uint256 public ghostClaimed;
    mapping(uint256 id => uint256 paid) public ghostPaid;
    uint256 public settlements;
    uint256 public closes;
    uint256 public claims;
    uint256 public overlapsRefused;

    constructor(
        VppDispatch vpp,
        address operator,
        address[METERS] memory meters,
        uint256[METERS] memory keys,
        address[METERS] memory owners
    ) {
        _VPP = vpp;
        _MARKET = vpp.MARKET();
        _OPERATOR = operator;
        _INTERVAL = vpp.INTERVAL_SECONDS();
        _meters = meters;
        _keys = keys;
        _owners = owners;
    }

    function create(uint256 startSeed, uint256 intervals, uint32 targetW, uint64 price, uint256 extra)
        external
    {
        uint256 interval = _INTERVAL;
        uint40 start = uint40((block.timestamp / interval + _bound(startSeed, 1, 16)) * interval);
        // Mostly after the feeder's latest event, sometimes overlapping it (refused).
        uint40 busyUntil = _VPP.feederBusyUntil(1);
        if (start < busyUntil && startSeed % 8 != 0) start = busyUntil;
        uint40 end = start + uint40(_bound(intervals, 1, 4) * interval);
        targetW = uint32(_bound(targetW, 1, 4 * CAPACITY_W));
        price = uint64(_bound(price, 1, 1e6));
        uint256 required = (uint256(targetW) * (end - start) * price + 3_599_999) / 3_600_000;
        uint256 budget = required + _bound(extra, 0, 1e6);
        vm.prank(_OPERATOR);
        try _VPP.create(1, start, end, targetW, price, budget, 0, "invariant") returns (uint256 id) {
            _ids.push(id);
            ghostBudgets += budget;
        } catch (bytes memory reason) {
            // Only an overlap with the feeder's latest event may be refused; anything else is a bug.
            require(bytes4(reason) == IVppDispatch.VppFeederBusy.selector, "create refused");
            ++overlapsRefused;
        }
    }

    /// @dev Enrolls in an event that has not started when there is one (the first from `eventSeed` on).
    function enroll(uint256 eventSeed, uint256 meterSeed, uint32 committedW) external {
        if (_ids.length == 0) return;
        uint256 id = _event(eventSeed);
        for (uint256 i; i < _ids.length; ++i) {
            uint256 candidate = _ids[(_bound(eventSeed, 0, _ids.length - 1) + i) % _ids.length];
            if (_VPP.eventOf(candidate).start > block.timestamp) {
                id = candidate;
                break;
            }
        }
        uint256 m = _bound(meterSeed, 0, METERS - 1);
        // Mostly within what the target has left, sometimes past it (refused).
        IVppDispatch.EventView memory ev = _VPP.eventOf(id);
        uint256 maxW = committedW % 8 == 0 ? CAPACITY_W : ev.targetW - ev.committedW;
        if (maxW == 0 || maxW > CAPACITY_W) maxW = CAPACITY_W;
        vm.prank(_owners[m]);
        try _VPP.enroll(id, _meters[m], uint32(_bound(committedW, 1, maxW))) {} catch {}
    }

    function cancel(uint256 eventSeed) external {
        if (_ids.length == 0) return;
        uint256 id = _event(eventSeed);
        uint256 escrowed = _VPP.eventOf(id).escrowed;
        vm.prank(_OPERATOR);
        try _VPP.cancel(id) {
            ghostRefunded += escrowed;
        } catch {}
    }

    /// @dev A proof of `meterSeed`'s meter: baseline net export `baseExport - baseImport`, event net export
    /// `eventExport`.
    function settle(
        uint256 eventSeed,
        uint256 meterSeed,
        uint48 baseImport,
        uint48 baseExport,
        uint48 eventExport
    ) external {
        if (_ids.length == 0) return;
        (uint256 id, uint256 m) = _enrolled(eventSeed, meterSeed);
        IVppDispatch.EventView memory ev = _VPP.eventOf(id);
        IVppDispatch.Proof[] memory proofs = new IVppDispatch.Proof[](1);
        proofs[0] = _proof(
            m,
            [ev.start - (ev.end - ev.start), ev.start, ev.end],
            [uint48(0), uint48(_bound(baseImport, 0, 50_000)), 0],
            [uint48(0), uint48(_bound(baseExport, 0, 50_000)), uint48(_bound(eventExport, 0, 100_000))]
        );
        try _VPP.settle(id, proofs, false) returns (uint256 paid) {
            ghostOwed += paid;
            ghostPaid[id] += paid;
            ++settlements;
        } catch {}
    }

    function close(uint256 eventSeed) external {
        if (_ids.length == 0) return;
        uint256 id = _event(eventSeed);
        uint256 escrowed = _VPP.eventOf(id).escrowed;
        try _VPP.settle(id, new IVppDispatch.Proof[](0), true) {
            ghostRefunded += escrowed;
            ++closes;
        } catch {}
    }

    function claim(uint256 eventSeed, uint256 meterSeed) external {
        if (_ids.length == 0) return;
        uint256 m = _bound(meterSeed, 0, METERS - 1);
        IVppDispatch.EnrolmentKey[] memory keys = new IVppDispatch.EnrolmentKey[](1);
        keys[0] = IVppDispatch.EnrolmentKey({id: _event(eventSeed), meter: _meters[m]});
        vm.prank(_owners[m]);
        try _VPP.claim(keys) returns (uint256 amount) {
            ghostClaimed += amount;
            ++claims;
        } catch {}
    }

    function warp(uint256 seconds_) external {
        // Mostly short steps, so that events are enrolled in before they start and settled in their proof
        // window; now and then a day, so that they are closed.
        uint256 step = seconds_ % 8 == 0 ? 1 days : _bound(seconds_, 1, 2 hours);
        vm.warp(block.timestamp + step);
    }

    function eventIds() external view returns (uint256[] memory) {
        return _ids;
    }

    function meter(uint256 i) external view returns (address) {
        return _meters[i];
    }

    /// @dev An open event past its grace with a meter enrolled and not settled, when there is one (the
    /// first from the seeds on); otherwise the seeds' own pick, which the contract will refuse.
    function _enrolled(uint256 eventSeed, uint256 meterSeed) internal view returns (uint256 id, uint256 m) {
        id = _event(eventSeed);
        m = _bound(meterSeed, 0, METERS - 1);
        for (uint256 i; i < _ids.length; ++i) {
            uint256 candidate = _ids[(_bound(eventSeed, 0, _ids.length - 1) + i) % _ids.length];
            IVppDispatch.EventView memory ev = _VPP.eventOf(candidate);
            if (ev.status != IVppDispatch.EventStatus.Open || block.timestamp < ev.end + _VPP.GRACE_SECONDS())
            {
                continue;
            }
            for (uint256 j; j < METERS; ++j) {
                uint256 k = (m + j) % METERS;
                if (_VPP.enrolmentOf(candidate, _meters[k]).status == IVppDispatch.EnrolmentStatus.Enrolled) {
                    return (candidate, k);
                }
            }
        }
    }

    function _event(uint256 seed) internal view returns (uint256) {
        return _ids[_bound(seed, 0, _ids.length - 1)];
    }

    function _proof(uint256 m, uint40[3] memory ends, uint48[3] memory imports, uint48[3] memory exports)
        internal
        view
        returns (IVppDispatch.Proof memory proof)
    {
        proof.meter = _meters[m];
        uint48 importWh = 1_000_000;
        uint48 exportWh = 1_000_000;
        for (uint256 i; i < 3; ++i) {
            importWh += imports[i];
            exportWh += exports[i];
            IMeterRegistry.Reading memory reading =
                IMeterRegistry.Reading(_meters[m], uint32(i + 1), ends[i], importWh, exportWh, 0, 0);
            reading = ReadingSigning.sign(_MARKET, _keys[m], reading);
            proof.readings[i] = IVppDispatch.SignedReading({
                registers: (uint128(i + 1) << 96) | (uint128(importWh) << 48) | uint128(exportWh),
                r: reading.r,
                vs: reading.vs
            });
        }
    }
}
