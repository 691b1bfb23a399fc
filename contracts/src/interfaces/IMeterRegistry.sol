// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IMeterRegistry
/// @notice Participants, meters and the signed meter readings that attest the energy the market trades.
/// A meter signs cumulative register readings (import Wh, export Wh) with the secp256k1 key in its secure
/// element (EIP-712, domain `cogrid MeterRegistry` / `1`); any relayer may submit them in batches. Each
/// accepted reading attests the meter's import and export since its previous reading and adds them to
/// the meter's pending volumes, which the market settles (`IEnergyMarket`):
/// - a reading that directly follows the previous one (its interval starts where the previous one ended)
///   while nothing else is pending makes its volumes **marketable** in its interval: the keeper may match
///   them in that interval's settlement;
/// - any other reading (after a gap, or on top of volumes not yet settled) makes everything pending
///   **residual only**: settled as energy credits (export) or grid supply (import), never traded, so
///   nobody can hoard export for a high-price interval.
///
/// Batch rule: one bad reading never blocks the good ones. `submitReadings` does not revert for a bad
/// reading; it skips it, emits `ReadingRejected` with the first failed check and goes on.
///
/// Plausibility: a reading's import and export deltas are bounded by the meter's registered connection
/// capacity over the time since its previous reading, so a compromised meter key can mint at most what
/// the connection could physically have exported.
interface IMeterRegistry {
    /// @notice Why `submitReadings` skipped a reading; checked in this order, the first failure wins.
    enum RejectReason {
        /// The meter was never registered.
        UnknownMeter,
        /// The meter is registered but deactivated.
        MeterDeactivated,
        /// `intervalEnd` is not a multiple of `INTERVAL_SECONDS`.
        IntervalMisaligned,
        /// `intervalEnd` is after the current block timestamp.
        FromFuture,
        /// `intervalEnd + acceptanceWindow` is before the current block timestamp.
        TooOld,
        /// The same meter and `seq` were already accepted earlier in this transaction.
        DuplicateInBatch,
        /// An exact replay of the meter's last counted reading: the relayer may treat it as delivered.
        AlreadyCounted,
        /// `seq` is not above the meter's last accepted `seq` (and the reading is not an exact replay).
        SeqNotIncreasing,
        /// The signature does not recover (zero address, high `s`).
        MalformedSignature,
        /// The signature is valid but was made by another key than the meter's.
        WrongSigner,
        /// `intervalEnd` is not after the meter's previous reading.
        IntervalNotAfterPrevious,
        /// The import or export register is below the meter's previous reading.
        RegisterWentBackwards,
        /// The import or export delta exceeds what the meter's `capacityW` allows since its previous
        /// reading, or would take the meter's pending volumes past `uint32` (settle first).
        ImplausibleDelta
    }

    /// @notice A meter's signed cumulative register reading at the end of an interval.
    /// @param meter The meter's signing-key address (its identity in the registry).
    /// @param seq The meter's reading counter; strictly increasing, starting at 1.
    /// @param intervalEnd Unix time of the end of the interval the reading closes; a multiple of
    /// `INTERVAL_SECONDS`.
    /// @param importWh Cumulative import register in Wh (DSMR 1.8.x).
    /// @param exportWh Cumulative export register in Wh (DSMR 2.8.x).
    /// @param r The `r` half of the EIP-2098 compact signature over `readingDigest`.
    /// @param vs The `yParity << 255 | s` half of the EIP-2098 compact signature.
    struct Reading {
        address meter;
        uint32 seq;
        uint40 intervalEnd;
        uint48 importWh;
        uint48 exportWh;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice What the co-op registered about a meter.
    /// @param owner The participant the meter trades and is settled for.
    /// @param feeder The distribution feeder the meter hangs off.
    /// @param kinds `MeterKinds` flags (solar, battery, EV, critical load).
    /// @param capacityW Connection capacity in W, never zero: the most power the meter can import or
    /// export, which bounds each reading's deltas (`ImplausibleDelta`).
    struct MeterInfo {
        address owner;
        uint32 feeder;
        uint8 kinds;
        uint32 capacityW;
    }

    /// @notice What the meter's pending volumes may be used for.
    enum Pending {
        /// Nothing is pending: the last reading's volumes were settled (or were zero).
        None,
        /// The volumes were attested by the last reading alone, which directly followed the one before:
        /// they may be traded in the interval that ends at `lastIntervalEnd`.
        Marketable,
        /// The volumes span a gap or several readings: they are settled as residuals only.
        ResidualOnly
    }

    /// @notice Everything a reading or a settlement touches, packed into exactly one storage slot.
    /// @param status 0 = unknown, 1 = active, 2 = deactivated.
    /// @param seq The last accepted `seq` (0 before the first reading).
    /// @param lastIntervalEnd `intervalEnd` of the last accepted reading.
    /// @param importWh Import register of the last accepted reading.
    /// @param exportWh Export register of the last accepted reading.
    /// @param pendingImportWh Attested import not yet settled, Wh.
    /// @param pendingExportWh Attested export not yet settled, Wh.
    /// @param pending What the pending volumes may be used for.
    struct MeterState {
        uint8 status;
        uint32 seq;
        uint40 lastIntervalEnd;
        uint48 importWh;
        uint48 exportWh;
        uint32 pendingImportWh;
        uint32 pendingExportWh;
        Pending pending;
    }

    /// @notice `account` became an active participant (again), with its permanent participant `id`.
    event ParticipantRegistered(address indexed account, uint32 id);
    /// @notice `account` is no longer an active participant.
    event ParticipantDeactivated(address indexed account);
    /// @notice A meter was registered to `owner`.
    event MeterRegistered(
        address indexed meter, address indexed owner, uint32 feeder, uint8 kinds, uint32 capacityW
    );
    /// @notice `meter`'s readings are rejected from now on.
    event MeterDeactivated(address indexed meter);
    /// @notice `meter`'s readings are accepted again.
    event MeterReactivated(address indexed meter);
    /// @notice A reading was counted. The meter's first reading is its baseline: both deltas are zero.
    /// @param importDeltaWh Import since the meter's previous reading, in Wh.
    /// @param exportDeltaWh Export since the meter's previous reading, in Wh.
    /// @param marketable Whether the deltas may be traded in the interval ending at `intervalEnd`; when
    /// false they (and anything pending before them) are settled as residuals only.
    event ReadingAccepted(
        address indexed meter,
        uint32 seq,
        uint40 intervalEnd,
        uint48 importDeltaWh,
        uint48 exportDeltaWh,
        bool marketable
    );
    /// @notice A reading was skipped for `reason`; the rest of its batch went on.
    event ReadingRejected(address indexed meter, uint32 seq, RejectReason reason);
    /// @notice The grid carbon intensity used for export settled from now on.
    event CarbonIntensitySet(uint16 gramsPerKwh);
    /// @notice The acceptance window for readings submitted from now on.
    event AcceptanceWindowSet(uint40 seconds_);
    /// @notice Export settled from now on takes its carbon intensity from `hub`'s `CARBON_INTENSITY` feed
    /// (the admin's fixed intensity when `hub` is zero).
    event CarbonIntensityHubSet(address hub);

    /// @notice A zero address was given where an account or contract is required.
    error MeterRegistryZeroAddress();
    /// @notice The interval length is zero.
    error MeterRegistryIntervalZero();
    /// @notice The acceptance window is shorter than one interval.
    error MeterRegistryWindowTooShort(uint40 window, uint32 interval);
    /// @notice `account` is already an active participant.
    error MeterRegistryParticipantAlreadyRegistered(address account);
    /// @notice `account` is not an active participant.
    error MeterRegistryNotParticipant(address account);
    /// @notice `meter` is already registered (active or deactivated).
    error MeterRegistryMeterAlreadyRegistered(address meter);
    /// @notice `meter` was never registered.
    error MeterRegistryUnknownMeter(address meter);
    /// @notice The meter's owner `owner` is not an active participant.
    error MeterRegistryOwnerNotParticipant(address owner);
    /// @notice `kinds` sets a bit that `MeterKinds` does not define.
    error MeterRegistryInvalidKinds(uint8 kinds);
    /// @notice `meter` was given a zero connection capacity: every reading with energy would be rejected.
    error MeterRegistryZeroCapacity(address meter);
    /// @notice `meter` is already deactivated.
    error MeterRegistryMeterNotActive(address meter);
    /// @notice `meter` is active, so it cannot be reactivated.
    error MeterRegistryMeterNotDeactivated(address meter);

    /// @notice Counts a batch of signed readings; anyone may relay them.
    /// @dev One bad reading never blocks the good ones: a reading that fails a check is skipped with
    /// `ReadingRejected(meter, seq, reason)` and the batch goes on. Checks, in order, first failure wins:
    /// 1. meter unknown -> `UnknownMeter`; deactivated -> `MeterDeactivated`;
    /// 2. `intervalEnd % INTERVAL_SECONDS != 0` -> `IntervalMisaligned`;
    /// 3. `intervalEnd > block.timestamp` -> `FromFuture`;
    ///    `intervalEnd + acceptanceWindow < block.timestamp` -> `TooOld`;
    /// 4. the same meter and `seq` already accepted in this transaction -> `DuplicateInBatch`;
    /// 5. `seq`, `intervalEnd` and both registers equal the last counted reading -> `AlreadyCounted`;
    ///    otherwise `seq <= ` the last accepted `seq` -> `SeqNotIncreasing` (so `seq` 0 never counts);
    /// 6. the signature does not recover -> `MalformedSignature`; recovers to another key -> `WrongSigner`;
    /// 7. `intervalEnd` not after the previous reading's -> `IntervalNotAfterPrevious`;
    /// 8. either register below the previous reading's -> `RegisterWentBackwards`;
    /// 9. `importDelta * 3600 > capacityW * (intervalEnd - previous intervalEnd)`, the same for the export
    ///    delta (Wh against W x s), or the pending import or export would pass `uint32` (4.29 GWh;
    ///    settle first) -> `ImplausibleDelta`.
    /// The meter's first accepted reading is its baseline (registers stored, zero deltas): checks 7-9 do
    /// not apply to it. A later reading adds its deltas to the meter's pending volumes: marketable when it
    /// starts where the previous reading ended and nothing else is pending, residual only otherwise (see
    /// `Pending`). Reverts only for malformed ABI encoding (a word with bits outside its type).
    /// @param readings The readings, in any order of meters; a meter's readings in ascending `seq`.
    /// @return accepted How many readings were counted.
    function submitReadings(Reading[] calldata readings) external returns (uint256 accepted);

    /// @notice Makes `account` an active participant (again); its participant id, assigned the first
    /// time, never changes. Only `REGISTRAR_ROLE`.
    /// @param account The participant's wallet.
    function registerParticipant(address account) external;

    /// @notice Deactivates a participant: no new meter can be registered or reactivated for it and its
    /// orders stop trading; its balances stay withdrawable. Its meters are not deactivated by this; the
    /// registrar deactivates them separately. Only `REGISTRAR_ROLE`.
    /// @param account The participant's wallet.
    function deactivateParticipant(address account) external;

    /// @notice Registers a meter. Only `REGISTRAR_ROLE`.
    /// @dev Reverts with `MeterRegistryZeroCapacity` for a zero `capacityW`: such a meter could never
    /// report any energy. The capacity cannot be changed later.
    /// @param meter The address of the meter's signing key.
    /// @param owner The active participant the meter trades and is settled for.
    /// @param feeder The distribution feeder the meter hangs off.
    /// @param kinds `MeterKinds` flags.
    /// @param capacityW Connection capacity in W (the most it can import or export); not zero.
    function registerMeter(address meter, address owner, uint32 feeder, uint8 kinds, uint32 capacityW)
        external;

    /// @notice Stops accepting `meter`'s readings; its pending volumes can still be settled. Only
    /// `REGISTRAR_ROLE`.
    /// @param meter The meter's signing-key address.
    function deactivateMeter(address meter) external;

    /// @notice Accepts `meter`'s readings again, continuing from its last accepted reading. The owner must
    /// still be an active participant. Only `REGISTRAR_ROLE`.
    /// @param meter The meter's signing-key address.
    function reactivateMeter(address meter) external;

    /// @notice Sets the grid carbon intensity applied to export settled from now on. Only
    /// `DEFAULT_ADMIN_ROLE` (the co-op admin) until the oracle takes over.
    /// @param gramsPerKwh Grams CO2e per kWh.
    function setCarbonIntensity(uint16 gramsPerKwh) external;

    /// @notice Makes export settled from now on take its carbon intensity from `hub`'s `CARBON_INTENSITY`
    /// feed (an OracleHub), or from `setCarbonIntensity` again when `hub` is zero. Only `DEFAULT_ADMIN_ROLE`.
    /// While the feed is stale (no round within its heartbeat) or answers outside 0..65,535, settlement
    /// goes on but the carbon of the export it settles is held: the exported Wh wait per participant
    /// until `releaseHeldCarbon` credits them at the first fresh intensity.
    /// @param hub The OracleHub, or zero.
    function setCarbonIntensityHub(address hub) external;

    /// @notice Sets how long after its interval ends a reading is still accepted. Only
    /// `DEFAULT_ADMIN_ROLE`.
    /// @param seconds_ The window in seconds; at least one interval.
    function setAcceptanceWindow(uint40 seconds_) external;

    /// @notice The meter's packed reading state (all zero for an unknown meter).
    function meterState(address meter) external view returns (MeterState memory);

    /// @notice What the co-op registered about the meter (all zero for an unknown meter).
    function meterInfo(address meter) external view returns (MeterInfo memory);

    /// @notice Whether `account` is an active participant.
    function isParticipant(address account) external view returns (bool);

    /// @notice The EIP-712 digest the meter signs for `reading` (its `r` and `vs` are ignored), for
    /// off-chain cross-checks.
    function readingDigest(Reading calldata reading) external view returns (bytes32);

    /// @notice The trading interval length in seconds; every `intervalEnd` is a multiple of it.
    function INTERVAL_SECONDS() external view returns (uint32);

    /// @notice The grid carbon intensity (g CO2e/kWh) applied to newly settled export.
    function carbonIntensity() external view returns (uint16);

    /// @notice The OracleHub whose `CARBON_INTENSITY` feed settles carbon; zero when the admin's fixed
    /// intensity does.
    function carbonIntensityHub() external view returns (address);

    /// @notice How long (s) after its interval ends a reading is still accepted.
    function acceptanceWindow() external view returns (uint40);

    /// @notice `account`'s participant id (0 if it was never registered).
    function participantId(address account) external view returns (uint32);

    /// @notice The role that registers and (de)activates participants and meters.
    function REGISTRAR_ROLE() external view returns (bytes32);
}
