// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVppDispatch
/// @notice Virtual power plant dispatch: a grid operator (a holder of the EnergyMarket's
/// `GRID_OPERATOR_ROLE`) calls on the home batteries and EVs of one feeder to export during a window, and
/// pays for the energy they deliver from a budget it escrows in the market's stablecoin.
///
/// An event carries the fields of an OpenADR 3 event, so a gateway can translate it: `programName` (the
/// program, emitted in `EventCreated`), `priority` (OpenADR's: 0 is the highest), one interval whose period
/// is `[start, end)` (`intervalPeriod.start` = `start`, duration = `end - start`), and a
/// `DISPATCH_SETPOINT` payload of `targetW` watts for that interval.
///
/// Life of an event (times in unix seconds, all multiples of the market's `INTERVAL_SECONDS`):
/// 1. `create`: the operator opens it for a feeder and escrows `budget`, at least what full delivery of
///    `targetW` over the window costs at `pricePerKwh`. An event lasts at most `MAX_DURATION` (a day) and
///    starts at most `MAX_LEAD` (a week) ahead. One feeder has one event at a time: an event starts
///    at or after the end of the feeder's latest one (`feederBusyUntil`), since a meter proving the same
///    export to two overlapping events would be paid twice for it.
/// 2. `enroll`, before `start`: the owner of a battery or EV meter on that feeder commits some watts; the
///    commitments of an event add up to at most `targetW`. `cancel`, before `start`, by the operator or the
///    market's `DEFAULT_ADMIN_ROLE` (the co-op admin, for an event called by mistake): the operator gets
///    the whole budget back and the enrolments are void.
/// 3. From `end + GRACE_SECONDS` (`GRACE_INTERVALS` = 2 intervals: 30 minutes with 15-minute intervals)
///    anyone may `settle` enrolments with proofs: the meter's own EIP-712
///    signed cumulative register readings (the `Reading` the MeterRegistry counts, same domain) at the
///    three boundaries `start - (end - start)`, `start` and `end`. The contract checks the signatures; the
///    readings need not have been submitted to the registry. The grace gives the gateways time to sign
///    and hand out the reading at `end`, which exists only once the event's last interval has closed.
/// 4. From `end + GRACE_SECONDS + PROOF_WINDOW` (one day) a `settle` with `closing` set closes the event: it
///    refunds `budget - paid` to the operator; no proof is accepted afterwards. An enrolment without a
///    proof by then delivered nothing it could prove and is paid nothing. The proof window protects the
///    participants from an early close.
/// 5. `claim`: each enrolment's owner collects what its settlement wrote it is owed.
///
/// Delivery and pay of an enrolment (DESIGN.md item 6). With `d = end - start`:
/// - net export over a window = export register delta - import register delta (signed, Wh);
/// - baseline = the meter's net export over `[start - d, start)`: its average net export rate over the
///   same length of time just before the event, times the event's duration (the two windows are equally
///   long, so this is the previous window's net export), counted as zero when it is negative (the meter
///   imported on balance): otherwise a battery that charged from the grid in the baseline window would be
///   paid for its commitment while idling through the event;
/// - delivered Wh = max(0, net export over `[start, end)` - baseline);
/// - pay = min(delivered, committedW x d / 3600) x pricePerKwh / 1000, rounded down once (the cap is
///   compared exactly, as Wh x 3600 against W x s).
///
/// Payment scheme: `settle` writes what an enrolment is owed into the enrolment's own storage slot (which
/// it writes anyway to mark the enrolment settled) and the owner collects it with `claim`, one transfer
/// for many enrolments. Paying in `settle` would add an ERC-20 transfer per participant (a cold balance
/// slot, often zero to non-zero: 5,000-22,000 gas, plus the call and its event) to a path whose three
/// signature recoveries and calldata already take most of its 25,000-gas goal.
///
/// Money, conserved to the unit: per event, budget = paid + refunded + escrowed, where escrowed is what the
/// contract still holds for the event's future settlements (zero once it is cancelled or closed); the
/// contract's token balance = the sum of the events' escrowed amounts + what settled enrolments are owed
/// and have not claimed. The stablecoin must move exactly the amounts asked (no fee on transfer).
interface IVppDispatch {
    /// @notice Where an event is in its life.
    enum EventStatus {
        /// No such event.
        None,
        /// Created and neither cancelled nor closed: open to enrolments before `start`, to proofs from
        /// `end + GRACE_SECONDS`.
        Open,
        /// Cancelled by its operator before `start`; its budget was refunded.
        Cancelled,
        /// Closed by a `settle` with `closing`; `budget - paid` was refunded.
        Closed
    }

    /// @notice Where an enrolment is in its life.
    enum EnrolmentStatus {
        /// The meter is not enrolled in the event.
        None,
        /// Enrolled, not settled yet.
        Enrolled,
        /// Settled: `owed` is what it earned, not claimed yet.
        Settled,
        /// Settled and `owed` paid to its owner.
        Claimed
    }

    /// @notice A dispatch event, as `eventOf` reports it.
    /// @param operator The grid operator that created it; the refunds go to it.
    /// @param feeder The feeder whose meters may enroll.
    /// @param start Start of the window (unix s), included.
    /// @param end End of the window (unix s), excluded.
    /// @param targetW The `DISPATCH_SETPOINT`: watts asked for over the window.
    /// @param committedW The watts enrolments committed so far; at most `targetW`.
    /// @param pricePerKwh Stablecoin base units paid per kWh delivered.
    /// @param priority The OpenADR 3 priority (0 is the highest).
    /// @param status Where the event is in its life.
    /// @param budget What the operator escrowed.
    /// @param paid What settled enrolments earned (owed or claimed).
    /// @param refunded What went back to the operator (cancel or close).
    /// @param escrowed What the contract still holds for the event's future settlements:
    /// `budget - paid - refunded`.
    struct EventView {
        address operator;
        uint32 feeder;
        uint40 start;
        uint40 end;
        uint32 targetW;
        uint32 committedW;
        uint64 pricePerKwh;
        uint8 priority;
        EventStatus status;
        uint256 budget;
        uint256 paid;
        uint256 refunded;
        uint256 escrowed;
    }

    /// @notice A meter's enrolment in an event, one storage slot.
    /// @param owner The meter's owner when it enrolled: it claims the pay.
    /// @param committedW The watts it committed.
    /// @param status Where the enrolment is in its life.
    /// @param owed What its settlement earned, stablecoin base units (zero before it is settled).
    struct Enrolment {
        address owner;
        uint32 committedW;
        EnrolmentStatus status;
        uint56 owed;
    }

    /// @notice One signed cumulative register reading of the meter, without what the contract knows:
    /// the meter comes from the proof, the interval end from the event.
    /// @param registers `seq << 96 | importWh << 48 | exportWh`: the reading's `seq` (uint32) and its
    /// cumulative import and export registers (uint48 each, Wh), as the meter signed them.
    /// @param r The `r` half of the meter's EIP-2098 compact signature.
    /// @param vs The `yParity << 255 | s` half of the signature.
    struct SignedReading {
        uint128 registers;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice What a meter proves about an event: its readings at the boundaries `start - (end - start)`,
    /// `start` and `end`, in that order, with strictly increasing `seq`s.
    /// @param meter The enrolled meter (its signing-key address).
    /// @param readings The three readings.
    struct Proof {
        address meter;
        SignedReading[3] readings;
    }

    /// @notice Names an enrolment, for `claim`.
    struct EnrolmentKey {
        uint256 id;
        address meter;
    }

    /// @notice Grid operator `operator` opened event `id` on `feeder` for `[start, end)`, asking `targetW`
    /// (the `DISPATCH_SETPOINT`) at `pricePerKwh`, and escrowed `budget`. `priority` and `programName` are
    /// the OpenADR 3 event's.
    event EventCreated(
        uint256 indexed id,
        address indexed operator,
        uint32 indexed feeder,
        uint40 start,
        uint40 end,
        uint32 targetW,
        uint64 pricePerKwh,
        uint256 budget,
        uint8 priority,
        string programName
    );
    /// @notice `meter` committed `committedW` to event `id`; its owner (`enrolmentOf`) claims the pay.
    event Enrolled(uint256 indexed id, address indexed meter, uint32 committedW);
    /// @notice Event `id` was cancelled and `refund` (its whole budget) went back to its operator.
    event EventCancelled(uint256 indexed id, uint256 refund);
    /// @notice `meter`'s enrolment in event `id` was settled: it proved `deliveredWh` and is owed `owed`.
    event DeliverySettled(uint256 indexed id, address indexed meter, uint256 deliveredWh, uint256 owed);
    /// @notice Event `id` was closed: enrolments earned `paid` in all and `refund` went back to its operator.
    event EventClosed(uint256 indexed id, uint256 paid, uint256 refund);
    /// @notice `owner` collected `amount` owed for `meter`'s enrolment in event `id`.
    event Claimed(uint256 indexed id, address indexed meter, address indexed owner, uint256 amount);

    /// @notice A zero address was given for the market or the stablecoin.
    error VppZeroAddress();
    /// @notice `caller` does not hold the market's `GRID_OPERATOR_ROLE`; the co-op admin grants it.
    error VppNotGridOperator(address caller);
    /// @notice `start` or `end` is not a multiple of the market's interval length.
    error VppWindowMisaligned(uint40 start, uint40 end, uint32 intervalSeconds);
    /// @notice `start` is not after the current time `timestamp`.
    error VppStartNotInFuture(uint40 start, uint256 timestamp);
    /// @notice `end` is not after `start`.
    error VppEmptyWindow(uint40 start, uint40 end);
    /// @notice The window is longer than `MAX_DURATION`, or than the time since the Unix epoch (its baseline
    /// window would start before it).
    error VppWindowTooLong(uint40 start, uint40 end);
    /// @notice The target is zero watts.
    error VppZeroTarget();
    /// @notice The price is zero.
    error VppZeroPrice();
    /// @notice `budget` is below `required`, what full delivery of the target over the window costs.
    error VppBudgetTooSmall(uint256 budget, uint256 required);
    /// @notice `budget` is above `maximum` (2^56 - 1 base units, 72 billion of a 6-decimal stablecoin), the
    /// width every amount of the contract is packed in.
    error VppBudgetTooLarge(uint256 budget, uint256 maximum);
    /// @notice Event `id` does not exist.
    error VppUnknownEvent(uint256 id);
    /// @notice Event `id` is `status` (cancelled or closed), not open.
    error VppEventNotOpen(uint256 id, EventStatus status);
    /// @notice Event `id` started at `start`: it takes no more enrolments and cannot be cancelled.
    error VppEventStarted(uint256 id, uint40 start, uint256 timestamp);
    /// @notice `caller` is not `owner`, the owner the registry names for `meter` (zero for an unknown
    /// meter).
    error VppNotMeterOwner(address meter, address caller, address owner);
    /// @notice `meter`'s kinds (`kinds`, `MeterKinds` flags) have neither `BATTERY` nor `EV`: it cannot
    /// be dispatched.
    error VppMeterNotDispatchable(address meter, uint8 kinds);
    /// @notice `meter` hangs off `meterFeeder`, not the event's `eventFeeder`.
    error VppWrongFeeder(address meter, uint32 meterFeeder, uint32 eventFeeder);
    /// @notice `committedW` is zero or above `meter`'s connection capacity `capacityW`.
    error VppCommitmentOutOfRange(address meter, uint32 committedW, uint32 capacityW);
    /// @notice An event may start at most `MAX_LEAD` ahead: `start` is after `latest`.
    error VppStartTooFar(uint40 start, uint256 latest);
    /// @notice `feeder` has an event until `busyUntil`, so a new one there may start at `busyUntil` at the
    /// earliest, not at `start`: the events of one feeder never overlap, so that no meter is paid twice for
    /// the same energy.
    error VppFeederBusy(uint32 feeder, uint40 start, uint40 busyUntil);
    /// @notice `meter` is already enrolled in event `id`.
    error VppAlreadyEnrolled(uint256 id, address meter);
    /// @notice Committing `committedW` to event `id` would pass its target: only `remainingW` is left.
    error VppTargetExceeded(uint256 id, uint32 committedW, uint32 remainingW);
    /// @notice `caller` is neither `operator`, the grid operator that created event `id`, nor the co-op admin.
    error VppNotEventOperator(uint256 id, address caller, address operator);
    /// @notice Proofs for event `id` are accepted from `opensAt` on; it is `timestamp`.
    error VppSettlementNotOpen(uint256 id, uint256 opensAt, uint256 timestamp);
    /// @notice Event `id` may be closed from `closesAt` on; it is `timestamp`.
    error VppClosingTooEarly(uint256 id, uint256 closesAt, uint256 timestamp);
    /// @notice `meter` is not enrolled in event `id`.
    error VppNotEnrolled(uint256 id, address meter);
    /// @notice `meter`'s enrolment in event `id` was settled already: an enrolment settles at most once.
    error VppAlreadySettled(uint256 id, address meter);
    /// @notice `meter`'s reading `index` (0 = baseline start, 1 = start, 2 = end) for event `id` was not
    /// signed by the meter for that boundary: it recovers to `signer` (zero when it does not recover). A
    /// reading signed for another interval end, or with any field changed, recovers to another address.
    error VppWrongSigner(uint256 id, address meter, uint256 index, address signer);
    /// @notice `meter`'s readings for event `id` do not have strictly increasing `seq`s.
    error VppSeqNotIncreasing(uint256 id, address meter);
    /// @notice A register in `meter`'s readings for event `id` goes down from one boundary to the next.
    error VppRegisterWentBackwards(uint256 id, address meter);
    /// @notice `meter`'s enrolment in event `id` is not settled and unclaimed: nothing to claim.
    error VppNothingToClaim(uint256 id, address meter);
    /// @notice `caller` is not `owner`, who enrolled `meter` in event `id` and alone claims its pay.
    error VppNotEnrolmentOwner(uint256 id, address meter, address caller, address owner);

    /// @notice Opens a dispatch event and escrows its budget (a `transferFrom` of `budget` from the caller:
    /// approve this contract first). Only a holder of the market's `GRID_OPERATOR_ROLE`.
    /// @dev Reverts unless `start` and `end` are multiples of `INTERVAL_SECONDS`, `start` is after now,
    /// `end > start`, `targetW` and `pricePerKwh` are not zero, and `budget` covers full delivery:
    /// `budget >= ceil(targetW x (end - start) x pricePerKwh / 3,600,000)` (Wh = W x s / 3600, cost = Wh x
    /// price / 1000), and `budget <= 2^56 - 1`.
    /// @param feeder The feeder whose battery and EV meters may enroll (OpenADR: the event's target).
    /// @param start Start of the window (unix s), included; the OpenADR interval period's start.
    /// @param end End of the window (unix s), excluded; `end - start` is the interval period's duration.
    /// @param targetW The `DISPATCH_SETPOINT` payload: watts asked for over the window.
    /// @param pricePerKwh Stablecoin base units paid per kWh delivered.
    /// @param budget Stablecoin base units escrowed; what is not paid is refunded at closing.
    /// @param priority The OpenADR 3 priority (0 is the highest); recorded, not interpreted.
    /// @param programName The OpenADR 3 program the event belongs to; emitted, not stored.
    /// @return id The new event's id; ids count from 1.
    function create(
        uint32 feeder,
        uint40 start,
        uint40 end,
        uint32 targetW,
        uint64 pricePerKwh,
        uint256 budget,
        uint8 priority,
        string calldata programName
    ) external returns (uint256 id);

    /// @notice Enrolls the caller's `meter` in event `id` with `committedW` watts.
    /// @dev Only the meter's owner per the registry; only a meter whose kinds have `BATTERY` or `EV`, on the
    /// event's feeder, before `start`, with `0 < committedW <= capacityW`, once per meter and event, and
    /// while the event's commitments stay within `targetW`. The registry's meter and participant status is
    /// not checked (one more cold read each): a meter the co-op deactivates still signs valid readings.
    function enroll(uint256 id, address meter, uint32 committedW) external;

    /// @notice Cancels event `id` before its start and refunds its whole budget to its operator; its
    /// enrolments are void. Only the event's operator, or the market's `DEFAULT_ADMIN_ROLE`.
    function cancel(uint256 id) external;

    /// @notice Settles enrolments of event `id` from their meters' signed readings, and with `closing`
    /// closes the event and refunds what was not paid to its operator. Anyone may call it.
    /// @dev Proofs are accepted from `end + GRACE_SECONDS` until the event is closed; closing is allowed
    /// from `end + GRACE_SECONDS + PROOF_WINDOW`. Each proof's meter must be enrolled and not settled; its
    /// three readings must be signed by the meter (EIP-712, the MeterRegistry's `Reading` type and domain)
    /// for the interval ends `start - (end - start)`, `start` and `end`, with strictly increasing `seq`s and
    /// registers that never go down. One bad proof reverts the call (a keeper simulates first and drops it);
    /// a proof word with bits outside its type (an address, the 128-bit `registers`) reverts without data,
    /// as the ABI decoder does for malformed calldata.
    /// Each settled enrolment is owed its pay (see the contract's notes), collected with `claim`.
    /// @param id The event.
    /// @param proofs One proof per enrolment to settle, in any order.
    /// @param closing Whether to close the event after these proofs.
    /// @return paid What the proofs of this call earned in all.
    function settle(uint256 id, Proof[] calldata proofs, bool closing) external returns (uint256 paid);

    /// @notice Pays the caller what its settled enrolments are owed, in one transfer.
    /// @dev Each enrolment must be the caller's and settled, not claimed.
    /// @return amount What was paid.
    function claim(EnrolmentKey[] calldata keys) external returns (uint256 amount);

    /// @notice Event `id` (all zero for an unknown id).
    function eventOf(uint256 id) external view returns (EventView memory);

    /// @notice `meter`'s enrolment in event `id` (all zero when it is not enrolled).
    function enrolmentOf(uint256 id, address meter) external view returns (Enrolment memory);

    /// @notice How many events were created; the last id.
    function eventCount() external view returns (uint256);

    /// @notice When the latest event on `feeder` ends (zero when there has been none): a new event there may
    /// start at this time at the earliest. Cancelling the latest event frees its window again.
    function feederBusyUntil(uint32 feeder) external view returns (uint40);

    /// @notice The EnergyMarket: the grid-operator role, the meter registry and the readings' EIP-712
    /// domain are its.
    function MARKET() external view returns (address);

    /// @notice The stablecoin budgets are escrowed and paid in (the market's, in a deployment).
    function STABLECOIN() external view returns (address);

    /// @notice The market's interval length; event boundaries are multiples of it.
    function INTERVAL_SECONDS() external view returns (uint32);

    /// @notice The longest an event may last.
    function MAX_DURATION() external view returns (uint256);

    /// @notice How far ahead of its creation an event may start.
    function MAX_LEAD() external view returns (uint256);

    /// @notice How many intervals after `end` proofs start to be accepted.
    function GRACE_INTERVALS() external view returns (uint256);

    /// @notice How long after `end` proofs start to be accepted: `GRACE_INTERVALS` intervals.
    function GRACE_SECONDS() external view returns (uint256);

    /// @notice How long after the grace proofs are accepted before anyone may close the event.
    function PROOF_WINDOW() external view returns (uint256);
}
