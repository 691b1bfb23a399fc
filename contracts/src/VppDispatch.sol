// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "./interfaces/IMeterRegistry.sol";
import {IVppDispatch} from "./interfaces/IVppDispatch.sol";
import {MeterKinds} from "./libraries/MeterKinds.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title VppDispatch
/// @notice Virtual power plant dispatch events of one EnergyMarket, paid from escrowed stablecoin for the
/// delivery the meters' own signed readings prove.
/// @dev Gas layout. An event's first slot holds everything `enroll` and `settle` read (feeder, window,
/// target, committed watts, price, priority, status), so `enroll` reads and writes one event slot and
/// `settle` reads it once per call; the second slot (operator, escrowed) is written once per `settle`
/// call; the third (budget, refunded) only by `create`, `cancel` and a closing `settle`. An enrolment is
/// one slot (owner, committed watts, status, owed): `enroll` creates it, `settle` rewrites it whole, so a
/// settled participant costs one cold slot read and one write besides its three signature recoveries and
/// its calldata. Every amount fits 56 bits: the budget is capped at 2^56 - 1 and nothing paid from it
/// exceeds it.
contract VppDispatch is IVppDispatch, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev One dispatch event, three slots.
    struct Event {
        // Slot 0: what `enroll` and `settle` read.
        uint32 feeder;
        uint40 start;
        uint40 end;
        uint32 targetW;
        uint32 committedW;
        uint64 pricePerKwh;
        uint8 priority;
        EventStatus status;
        // Slot 1: written once per `settle` call.
        address operator;
        uint56 escrowed;
        // Slot 2: written when the budget is escrowed or refunded.
        uint56 budget;
        uint56 refunded;
        /// @dev The feeder's `feederBusyUntil` before this event took it over, restored when it is cancelled.
        uint40 feederBusyBefore;
    }

    /// @dev What every proof of one `settle` call is checked against, in memory once per call.
    struct Window {
        uint256 id;
        uint256 baselineStart;
        uint256 start;
        uint256 end;
        uint256 duration;
        uint256 pricePerKwh;
        bytes32 domainSeparator;
    }

    /// @inheritdoc IVppDispatch
    uint256 public constant GRACE_INTERVALS = 2;
    /// @inheritdoc IVppDispatch
    uint256 public constant PROOF_WINDOW = 1 days;
    /// @inheritdoc IVppDispatch
    uint256 public constant MAX_DURATION = 1 days;
    /// @inheritdoc IVppDispatch
    uint256 public constant MAX_LEAD = 7 days;

    /// @dev OpenZeppelin's `DEFAULT_ADMIN_ROLE` of the market: the co-op admin.
    bytes32 private constant _DEFAULT_ADMIN_ROLE = 0x00;
    /// @dev The MeterRegistry's reading type: the readings a meter signs for the market are the proofs.
    bytes32 private constant _READING_TYPEHASH =
        keccak256("Reading(address meter,uint32 seq,uint40 intervalEnd,uint48 importWh,uint48 exportWh)");
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// @dev Seconds per hour times Wh per kWh: W x s x (base units / kWh) / 3,600,000 = base units.
    uint256 private constant _W_SECONDS_PER_KWH = 3_600_000;
    uint256 private constant _MAX_AMOUNT = type(uint56).max;
    /// @dev Largest `s` of a low-s (EIP-2) signature: secp256k1 n / 2. A higher one is the malleable twin
    /// of another signature and recovers nothing here, as in OpenZeppelin's ECDSA.
    uint256 private constant _HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    // Bit offsets of the `Event` members of its first slot, which `enroll` and `settle` read and write as
    // a raw word. They follow Solidity's packing (first member in the lowest bits); `eventOf` reads the
    // same slot through the struct, and the tests cross-check the two.
    uint256 private constant _EVENT_START_SHIFT = 32;
    uint256 private constant _EVENT_END_SHIFT = 72;
    uint256 private constant _EVENT_TARGET_SHIFT = 112;
    uint256 private constant _EVENT_COMMITTED_SHIFT = 144;
    uint256 private constant _EVENT_PRICE_SHIFT = 176;
    uint256 private constant _EVENT_STATUS_SHIFT = 248;
    // Bit offsets of the `Enrolment` members (owner at 0), for `settle`, which rewrites the slot raw.
    uint256 private constant _ENROLMENT_COMMITTED_SHIFT = 160;
    uint256 private constant _ENROLMENT_STATUS_SHIFT = 192;
    uint256 private constant _ENROLMENT_OWED_SHIFT = 200;
    /// @dev Owner and committed watts: the low 192 bits of an enrolment word, which `settle` keeps.
    uint256 private constant _ENROLMENT_KEPT_MASK = (1 << 192) - 1;
    /// @dev Calldata size of one `Proof`: the meter and three readings of three words.
    uint256 private constant _PROOF_SIZE = 0x140;
    uint256 private constant _READING_SIZE = 0x60;

    /// @inheritdoc IVppDispatch
    address public immutable MARKET;
    /// @inheritdoc IVppDispatch
    address public immutable STABLECOIN;
    /// @inheritdoc IVppDispatch
    uint32 public immutable INTERVAL_SECONDS;
    /// @inheritdoc IVppDispatch
    uint256 public immutable GRACE_SECONDS;

    /// @dev The market's `GRID_OPERATOR_ROLE`, read once.
    bytes32 private immutable _GRID_OPERATOR_ROLE;
    /// @dev The market's EIP-712 name and version hashes and the separator for the deployment's chain.
    bytes32 private immutable _HASHED_NAME;
    bytes32 private immutable _HASHED_VERSION;
    uint256 private immutable _CACHED_CHAIN_ID;
    bytes32 private immutable _CACHED_DOMAIN_SEPARATOR;

    uint256 private _eventCount;
    mapping(uint256 id => Event) private _events;
    mapping(uint256 id => mapping(address meter => Enrolment)) private _enrolments;
    /// @dev The end of the latest event created on each feeder that is not cancelled (or was cancelled after
    /// a later one took the feeder): events of one feeder never overlap.
    mapping(uint32 feeder => uint40 busyUntil) private _feederBusyUntil;

    /// @param market The EnergyMarket: its grid operators create events, it is the meter registry, and its
    /// EIP-712 domain (ERC-5267 `eip712Domain`) is the readings'.
    /// @param stablecoin The stablecoin budgets are escrowed in (the market's; no fee on transfer).
    constructor(IEnergyMarket market, IERC20 stablecoin) {
        if (address(market) == address(0) || address(stablecoin) == address(0)) revert VppZeroAddress();
        MARKET = address(market);
        STABLECOIN = address(stablecoin);
        uint32 intervalSeconds = IMeterRegistry(address(market)).INTERVAL_SECONDS();
        INTERVAL_SECONDS = intervalSeconds;
        GRACE_SECONDS = GRACE_INTERVALS * intervalSeconds;
        _GRID_OPERATOR_ROLE = market.GRID_OPERATOR_ROLE();
        (, string memory name, string memory version,,,,) = IERC5267(address(market)).eip712Domain();
        bytes32 hashedName = keccak256(bytes(name));
        bytes32 hashedVersion = keccak256(bytes(version));
        _HASHED_NAME = hashedName;
        _HASHED_VERSION = hashedVersion;
        _CACHED_CHAIN_ID = block.chainid;
        _CACHED_DOMAIN_SEPARATOR = _buildDomainSeparator(hashedName, hashedVersion, address(market));
    }

    /// @inheritdoc IVppDispatch
    function create(
        uint32 feeder,
        uint40 start,
        uint40 end,
        uint32 targetW,
        uint64 pricePerKwh,
        uint256 budget,
        uint8 priority,
        string calldata programName
    ) external nonReentrant returns (uint256 id) {
        if (!IAccessControl(MARKET).hasRole(_GRID_OPERATOR_ROLE, msg.sender)) {
            revert VppNotGridOperator(msg.sender);
        }
        if (start % INTERVAL_SECONDS != 0 || end % INTERVAL_SECONDS != 0) {
            revert VppWindowMisaligned(start, end, INTERVAL_SECONDS);
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (start <= block.timestamp) revert VppStartNotInFuture(start, block.timestamp);
        if (end <= start) revert VppEmptyWindow(start, end);
        // The first bound keeps the baseline window `[start - (end - start), start)` after time zero;
        // the second and the lead keep a typo from holding a feeder (one event at a time) for years.
        if (end - start > start || end - start > MAX_DURATION) revert VppWindowTooLong(start, end);
        // forge-lint: disable-next-line(block-timestamp)
        if (start > block.timestamp + MAX_LEAD) revert VppStartTooFar(start, block.timestamp + MAX_LEAD);
        if (targetW == 0) revert VppZeroTarget();
        if (pricePerKwh == 0) revert VppZeroPrice();
        // At most 2^32 x 2^40 x 2^64: no overflow in 256 bits.
        uint256 required = Math.ceilDiv(uint256(targetW) * (end - start) * pricePerKwh, _W_SECONDS_PER_KWH);
        if (budget < required) revert VppBudgetTooSmall(budget, required);
        if (budget > _MAX_AMOUNT) revert VppBudgetTooLarge(budget, _MAX_AMOUNT);
        // A meter belongs to one feeder for good, so one event at a time per feeder is what stops a meter from
        // being paid twice, by two overlapping events, for the same delivered energy.
        uint40 busyUntil = _feederBusyUntil[feeder];
        if (start < busyUntil) revert VppFeederBusy(feeder, start, busyUntil);
        _feederBusyUntil[feeder] = end;

        id = ++_eventCount;
        // Cannot truncate: `budget <= type(uint56).max` was checked above.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint56 amount = uint56(budget);
        _events[id] = Event({
            feeder: feeder,
            start: start,
            end: end,
            targetW: targetW,
            committedW: 0,
            pricePerKwh: pricePerKwh,
            priority: priority,
            status: EventStatus.Open,
            operator: msg.sender,
            escrowed: amount,
            budget: amount,
            refunded: 0,
            feederBusyBefore: busyUntil
        });
        IERC20(STABLECOIN).safeTransferFrom(msg.sender, address(this), budget);
        emit EventCreated(
            id, msg.sender, feeder, start, end, targetW, pricePerKwh, budget, priority, programName
        );
    }

    /// @inheritdoc IVppDispatch
    function enroll(uint256 id, address meter, uint32 committedW) external {
        Event storage stored = _events[id];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stored.slot)
        }
        (uint32 feeder, uint40 start,, uint32 targetW, uint32 eventCommittedW,, EventStatus status) =
            _unpackEvent(word);
        _requireOpen(id, status);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp >= start) revert VppEventStarted(id, start, block.timestamp);

        IMeterRegistry.MeterInfo memory info = IMeterRegistry(MARKET).meterInfo(meter);
        if (info.owner != msg.sender) revert VppNotMeterOwner(meter, msg.sender, info.owner);
        if (info.kinds & (MeterKinds.BATTERY | MeterKinds.EV) == 0) {
            revert VppMeterNotDispatchable(meter, info.kinds);
        }
        if (info.feeder != feeder) revert VppWrongFeeder(meter, info.feeder, feeder);
        if (committedW == 0 || committedW > info.capacityW) {
            revert VppCommitmentOutOfRange(meter, committedW, info.capacityW);
        }
        Enrolment storage enrolment = _enrolments[id][meter];
        uint256 enrolmentWord;
        assembly ("memory-safe") {
            enrolmentWord := sload(enrolment.slot)
        }
        // Every enrolment ever made has a non-zero owner.
        if (enrolmentWord != 0) revert VppAlreadyEnrolled(id, meter);
        uint32 remainingW;
        // Cannot underflow: the commitments never pass the target (checked here on every enrolment).
        unchecked {
            remainingW = targetW - eventCommittedW;
        }
        if (committedW > remainingW) revert VppTargetExceeded(id, committedW, remainingW);

        // The enrolment `{owner: msg.sender, committedW, status: Enrolled, owed: 0}`, packed; and the event's
        // committed watts grown in place, which cannot carry out of the member: the new total is at most
        // `targetW`.
        uint256 enrolled = uint256(EnrolmentStatus.Enrolled) << _ENROLMENT_STATUS_SHIFT;
        assembly ("memory-safe") {
            sstore(enrolment.slot, or(caller(), or(shl(_ENROLMENT_COMMITTED_SHIFT, committedW), enrolled)))
            sstore(stored.slot, add(word, shl(_EVENT_COMMITTED_SHIFT, committedW)))
        }
        emit Enrolled(id, meter, committedW);
    }

    /// @inheritdoc IVppDispatch
    function cancel(uint256 id) external nonReentrant {
        Event storage stored = _events[id];
        _requireOpen(id, stored.status);
        address operator = stored.operator;
        // The co-op admin may cancel too, so that an event called by mistake does not hold its feeder
        // against every other operator; the refund still goes to the operator that paid.
        if (msg.sender != operator && !IAccessControl(MARKET).hasRole(_DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert VppNotEventOperator(id, msg.sender, operator);
        }
        uint40 start = stored.start;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp >= start) revert VppEventStarted(id, start, block.timestamp);

        // The feeder is free again for this window unless a later event was created after this one.
        uint32 feeder = stored.feeder;
        if (_feederBusyUntil[feeder] == stored.end) _feederBusyUntil[feeder] = stored.feederBusyBefore;
        // Nothing can be paid before the end: the escrow is the whole budget.
        uint56 refund = stored.escrowed;
        stored.status = EventStatus.Cancelled;
        stored.escrowed = 0;
        stored.refunded = refund;
        emit EventCancelled(id, refund);
        IERC20(STABLECOIN).safeTransfer(operator, refund);
    }

    /// @inheritdoc IVppDispatch
    function settle(uint256 id, Proof[] calldata proofs, bool closing)
        external
        nonReentrant
        returns (uint256 paid)
    {
        Event storage stored = _events[id];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stored.slot)
        }
        (, uint40 start, uint40 end,,, uint64 pricePerKwh, EventStatus status) = _unpackEvent(word);
        _requireOpen(id, status);
        // Cannot overflow: a uint40 plus a small multiple of the interval and a day.
        uint256 opensAt;
        unchecked {
            opensAt = end + GRACE_SECONDS;
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < opensAt) revert VppSettlementNotOpen(id, opensAt, block.timestamp);
        if (closing) {
            uint256 closesAt;
            // Cannot overflow: as `opensAt`.
            unchecked {
                closesAt = opensAt + PROOF_WINDOW;
            }
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp < closesAt) revert VppClosingTooEarly(id, closesAt, block.timestamp);
        }

        Window memory window;
        // Cannot underflow: `create` made `end > start >= end - start`.
        unchecked {
            window = Window({
                id: id,
                baselineStart: 2 * uint256(start) - end,
                start: start,
                end: end,
                duration: end - start,
                pricePerKwh: pricePerKwh,
                domainSeparator: _domainSeparator()
            });
        }
        mapping(address meter => Enrolment) storage enrolments = _enrolments[id];
        uint256 proof;
        uint256 proofsEnd;
        // The ABI decoder checked that the whole array lies within the calldata.
        assembly ("memory-safe") {
            proof := proofs.offset
            proofsEnd := add(proof, mul(proofs.length, _PROOF_SIZE))
        }
        for (; proof < proofsEnd;) {
            uint256 owed = _settleProof(window, proof, enrolments);
            // Cannot overflow: each `owed` is at most its committed share of the budget (below 2^56), and
            // `proof` stays within the calldata.
            unchecked {
                paid += owed;
                proof += _PROOF_SIZE;
            }
        }

        // Cannot underflow: the enrolments' pay adds up to at most the full-delivery cost of the target,
        // which the budget covers (`create`), and only the escrow pays it.
        uint256 escrowed;
        unchecked {
            escrowed = stored.escrowed - paid;
        }
        if (!closing) {
            // Cannot truncate: `escrowed` is at most the uint56 escrow it was computed from.
            // forge-lint: disable-next-line(unsafe-typecast)
            if (paid != 0) stored.escrowed = uint56(escrowed);
            return paid;
        }
        address operator = stored.operator;
        stored.status = EventStatus.Closed;
        stored.escrowed = 0;
        // Cannot truncate: as above.
        // forge-lint: disable-next-line(unsafe-typecast)
        stored.refunded = uint56(escrowed);
        emit EventClosed(id, uint256(stored.budget) - escrowed, escrowed);
        if (escrowed != 0) IERC20(STABLECOIN).safeTransfer(operator, escrowed);
    }

    /// @inheritdoc IVppDispatch
    function claim(EnrolmentKey[] calldata keys) external nonReentrant returns (uint256 amount) {
        for (uint256 i; i < keys.length; ++i) {
            uint256 id = keys[i].id;
            address meter = keys[i].meter;
            Enrolment storage enrolment = _enrolments[id][meter];
            address owner = enrolment.owner;
            if (owner != msg.sender) revert VppNotEnrolmentOwner(id, meter, msg.sender, owner);
            if (enrolment.status != EnrolmentStatus.Settled) revert VppNothingToClaim(id, meter);
            uint256 owed = enrolment.owed;
            enrolment.status = EnrolmentStatus.Claimed;
            // Cannot overflow: each amount is below 2^56 and the contract holds them all.
            unchecked {
                amount += owed;
            }
            emit Claimed(id, meter, owner, owed);
        }
        if (amount != 0) IERC20(STABLECOIN).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IVppDispatch
    function eventOf(uint256 id) external view returns (EventView memory view_) {
        Event storage stored = _events[id];
        view_.operator = stored.operator;
        view_.feeder = stored.feeder;
        view_.start = stored.start;
        view_.end = stored.end;
        view_.targetW = stored.targetW;
        view_.committedW = stored.committedW;
        view_.pricePerKwh = stored.pricePerKwh;
        view_.priority = stored.priority;
        view_.status = stored.status;
        view_.budget = stored.budget;
        view_.refunded = stored.refunded;
        view_.escrowed = stored.escrowed;
        view_.paid = view_.budget - view_.refunded - view_.escrowed;
    }

    /// @inheritdoc IVppDispatch
    function enrolmentOf(uint256 id, address meter) external view returns (Enrolment memory) {
        return _enrolments[id][meter];
    }

    /// @inheritdoc IVppDispatch
    function eventCount() external view returns (uint256) {
        return _eventCount;
    }

    /// @inheritdoc IVppDispatch
    function feederBusyUntil(uint32 feeder) external view returns (uint40) {
        return _feederBusyUntil[feeder];
    }

    /// @dev Settles the enrolment of the proof at calldata offset `proof` and returns what it is owed. The
    /// proof is read straight from calldata (the meter word, then three readings of `registers`, `r`,
    /// `vs`), each word checked to fit its type as the ABI decoder would.
    function _settleProof(
        Window memory window,
        uint256 proof,
        mapping(address meter => Enrolment) storage enrolments
    ) private returns (uint256 owed) {
        address meter;
        assembly ("memory-safe") {
            meter := calldataload(proof)
            if shr(160, meter) { revert(0, 0) }
        }
        Enrolment storage stored = enrolments[meter];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stored.slot)
        }
        uint256 status = (word >> _ENROLMENT_STATUS_SHIFT) & type(uint8).max;
        if (status != uint256(EnrolmentStatus.Enrolled)) {
            if (status == uint256(EnrolmentStatus.None)) revert VppNotEnrolled(window.id, meter);
            revert VppAlreadySettled(window.id, meter);
        }
        uint256 deliveredWh = _deliveredWh(window, meter, proof);
        // Pay the delivered Wh up to the committed W x duration, compared exactly as Wh x 3600 against W x s;
        // rounded down once. Cannot overflow: 2^51 x 3600 and 2^32 x 2^40 are far below 2^192, times a
        // uint64 price below 2^256.
        unchecked {
            uint256 deliveredWs = deliveredWh * 3600;
            uint256 committedWs = ((word >> _ENROLMENT_COMMITTED_SHIFT) & type(uint32).max) * window.duration;
            owed = (deliveredWs < committedWs ? deliveredWs : committedWs) * window.pricePerKwh
                / _W_SECONDS_PER_KWH;
        }
        // One SSTORE: the owner and the commitment stay, the status becomes `Settled` and `owed` (at most the
        // committed share of the full-delivery cost, which the budget below 2^56 covers) fills its 56 bits.
        word = (word & _ENROLMENT_KEPT_MASK) | (uint256(EnrolmentStatus.Settled) << _ENROLMENT_STATUS_SHIFT)
            | (owed << _ENROLMENT_OWED_SHIFT);
        assembly ("memory-safe") {
            sstore(stored.slot, word)
        }
        emit DeliverySettled(window.id, meter, deliveredWh, owed);
    }

    /// @dev The Wh the proof at calldata offset `proof` shows `meter` delivered over the baseline.
    function _deliveredWh(Window memory window, address meter, uint256 proof) private view returns (uint256) {
        (uint256 seq0, uint256 import0, uint256 export0) =
            _verifiedReading(window, meter, 0, proof + 0x20, window.baselineStart);
        (uint256 seq1, uint256 import1, uint256 export1) =
            _verifiedReading(window, meter, 1, proof + 0x20 + _READING_SIZE, window.start);
        (uint256 seq2, uint256 import2, uint256 export2) =
            _verifiedReading(window, meter, 2, proof + 0x20 + 2 * _READING_SIZE, window.end);
        if (seq0 >= seq1 || seq1 >= seq2) revert VppSeqNotIncreasing(window.id, meter);
        if (import1 < import0 || import2 < import1 || export1 < export0 || export2 < export1) {
            revert VppRegisterWentBackwards(window.id, meter);
        }
        // Event net export minus the baseline, the baseline window's net export counted as zero when the
        // meter imported on balance (a battery charged from the grid then would be paid for idling).
        // Both are differences of register sums, so no signed arithmetic is needed: baseline =
        // max(0, (e1 + i0) - (e0 + i1)), delivered = max(0, (e2 + i1) - (e1 + i2 + baseline)). Each sum
        // is below 2^51: no overflow.
        unchecked {
            uint256 baselineOut = export1 + import0;
            uint256 baselineIn = export0 + import1;
            uint256 baseline = baselineOut > baselineIn ? baselineOut - baselineIn : 0;
            uint256 gained = export2 + import1;
            uint256 lost = export1 + import2 + baseline;
            return gained > lost ? gained - lost : 0;
        }
    }

    /// @dev Checks that the reading at calldata offset `reading` is `meter`'s EIP-712 signature of its
    /// registers at `intervalEnd`, and returns its `seq` and registers. The digest is built and the
    /// signature recovered (the ecrecover precompile) in scratch memory past the free pointer: nothing is
    /// allocated. A high `s` (EIP-2) or an unrecoverable signature recovers zero.
    function _verifiedReading(
        Window memory window,
        address meter,
        uint256 index,
        uint256 reading,
        uint256 intervalEnd
    ) private view returns (uint256 seq, uint256 importWh, uint256 exportWh) {
        bytes32 typehash = _READING_TYPEHASH;
        bytes32 domainSeparator = window.domainSeparator;
        address signer;
        assembly ("memory-safe") {
            let registers := calldataload(reading)
            if shr(128, registers) { revert(0, 0) }
            seq := shr(96, registers)
            importWh := and(shr(48, registers), 0xffffffffffff)
            exportWh := and(registers, 0xffffffffffff)
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), meter)
            mstore(add(ptr, 0x40), seq)
            mstore(add(ptr, 0x60), intervalEnd)
            mstore(add(ptr, 0x80), importWh)
            mstore(add(ptr, 0xa0), exportWh)
            let structHash := keccak256(ptr, 0xc0)
            // "\x19\x01" || domainSeparator || structHash
            mstore(ptr, shl(240, 0x1901))
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            let digest := keccak256(ptr, 0x42)
            let vs := calldataload(add(reading, 0x40))
            let s := and(vs, sub(shl(255, 1), 1))
            mstore(0x00, 0)
            if iszero(gt(s, _HALF_N)) {
                mstore(ptr, digest)
                mstore(add(ptr, 0x20), add(27, shr(255, vs)))
                mstore(add(ptr, 0x40), calldataload(add(reading, 0x20)))
                mstore(add(ptr, 0x60), s)
                // An invalid signature returns nothing and leaves the zero in place.
                pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
            }
            signer := mload(0x00)
        }
        if (signer != meter) revert VppWrongSigner(window.id, meter, index, signer);
    }

    /// @dev The members of an event's first slot.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _unpackEvent(uint256 word)
        private
        pure
        returns (
            uint32 feeder,
            uint40 start,
            uint40 end,
            uint32 targetW,
            uint32 committedW,
            uint64 pricePerKwh,
            EventStatus status
        )
    {
        // Truncating is the point: each cast keeps exactly the bits of one member. The status byte holds
        // only values this contract wrote.
        feeder = uint32(word);
        start = uint40(word >> _EVENT_START_SHIFT);
        end = uint40(word >> _EVENT_END_SHIFT);
        targetW = uint32(word >> _EVENT_TARGET_SHIFT);
        committedW = uint32(word >> _EVENT_COMMITTED_SHIFT);
        pricePerKwh = uint64(word >> _EVENT_PRICE_SHIFT);
        status = EventStatus(word >> _EVENT_STATUS_SHIFT);
    }

    /// @dev Reverts unless the event exists and is open.
    function _requireOpen(uint256 id, EventStatus status) private pure {
        if (status == EventStatus.Open) return;
        if (status == EventStatus.None) revert VppUnknownEvent(id);
        revert VppEventNotOpen(id, status);
    }

    /// @dev The market's EIP-712 domain separator on the current chain (rebuilt after a fork changes the
    /// chain id, as the market's own is).
    function _domainSeparator() private view returns (bytes32) {
        if (block.chainid == _CACHED_CHAIN_ID) return _CACHED_DOMAIN_SEPARATOR;
        return _buildDomainSeparator(_HASHED_NAME, _HASHED_VERSION, MARKET);
    }

    function _buildDomainSeparator(bytes32 hashedName, bytes32 hashedVersion, address market)
        private
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, hashedName, hashedVersion, block.chainid, market));
    }
}
