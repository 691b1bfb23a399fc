// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMeterRegistry} from "./interfaces/IMeterRegistry.sol";
import {MeterKinds} from "./libraries/MeterKinds.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title MeterRegistry
/// @notice Participants, meters and signed meter readings: the metering half of `EnergyMarket`, which
/// settles the volumes the readings attest. It is abstract because the pending volumes it keeps mean
/// nothing without a market that settles them; the two share one contract so that a settlement reads
/// and clears a meter's pending volumes in the same storage slot a reading writes.
/// @dev Gas layout: everything a reading touches lives in one `MeterState` slot (one cold SLOAD, one
/// SSTORE per reading), the two admin parameters share one slot read once per batch, and the
/// duplicate-in-batch check uses transient storage. A reading after the baseline also reads its meter's
/// `MeterInfo` slot (one more cold SLOAD) for the capacity bound of check 9. The hot path reads and
/// writes the `MeterState` slot as a raw word; the bit offsets below follow Solidity's packing of
/// `MeterState` (first member in the lowest bits), which the `meterState` getter decodes and the tests
/// cross-check.
abstract contract MeterRegistry is IMeterRegistry, AccessControl, EIP712 {
    /// @dev Admin parameters packed in one slot so a batch reads them with a single SLOAD.
    struct Config {
        uint40 acceptanceWindow;
        uint16 carbonIntensity;
        address carbonIntensityHub;
    }

    /// @dev A participant's status, the sides it traded in its latest interval and its balances in the
    /// market's vault, in exactly one slot so that a fill reads and writes one slot per participant. Keyed
    /// by the participant's id, which orders carry.
    /// @param status 0 = never registered, 1 = active, 2 = deactivated.
    /// @param sides The sides (1 = sold, 2 = bought) the participant traded in interval `sidesInterval`.
    /// @param sidesInterval The latest interval the participant traded in.
    /// @param stablecoin Stablecoin base units.
    /// @param creditsWh Energy credits, Wh (uint56: 72 TWh).
    /// @param carbonGrams Carbon credits, g CO2e (uint56: 72 Gt).
    struct Account {
        uint8 status;
        uint8 sides;
        uint32 sidesInterval;
        uint96 stablecoin;
        uint56 creditsWh;
        uint56 carbonGrams;
    }

    /// @inheritdoc IMeterRegistry
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @dev EIP-712 type of a reading; `r` and `vs` are the signature, not signed.
    bytes32 private constant _READING_TYPEHASH =
        keccak256("Reading(address meter,uint32 seq,uint40 intervalEnd,uint48 importWh,uint48 exportWh)");

    uint8 internal constant _STATUS_UNKNOWN = 0;
    uint8 internal constant _STATUS_ACTIVE = 1;
    uint8 internal constant _STATUS_DEACTIVATED = 2;

    // Bit offsets of the `MeterState` members in its storage word.
    uint256 internal constant _SEQ_SHIFT = 8;
    uint256 internal constant _INTERVAL_END_SHIFT = 40;
    uint256 internal constant _IMPORT_SHIFT = 80;
    uint256 internal constant _EXPORT_SHIFT = 128;
    uint256 internal constant _PENDING_IMPORT_SHIFT = 176;
    uint256 internal constant _PENDING_EXPORT_SHIFT = 208;
    uint256 internal constant _PENDING_SHIFT = 240;
    /// @dev The low 176 bits of a `MeterState` word: status, seq, interval end and both registers.
    uint256 internal constant _READING_MASK = 0xffffffffffffffffffffffffffffffffffffffffffff;

    // Bit offsets of the `Account` members in its storage word (status at 0), for the market's hot path,
    // which reads and writes the word raw. They follow Solidity's packing of `Account` (first member in the
    // lowest bits); the market's `balancesOf` reads the same slot through the struct, and the tests
    // cross-check the two.
    uint256 internal constant _ACCOUNT_SIDES_SHIFT = 8;
    uint256 internal constant _ACCOUNT_SIDES_INTERVAL_SHIFT = 16;
    uint256 internal constant _ACCOUNT_STABLECOIN_SHIFT = 48;
    uint256 internal constant _ACCOUNT_CREDITS_SHIFT = 144;
    uint256 internal constant _ACCOUNT_CARBON_SHIFT = 200;

    /// @inheritdoc IMeterRegistry
    uint32 public immutable INTERVAL_SECONDS;

    Config internal _config;
    uint32 private _participantCount;
    mapping(address account => uint32 id) internal _participantIds;
    mapping(uint32 id => Account account) internal _accounts;
    mapping(address meter => MeterInfo info) internal _meterInfos;
    mapping(address meter => MeterState state) internal _meterStates;

    /// @param admin The co-op admin: gets `DEFAULT_ADMIN_ROLE` and `REGISTRAR_ROLE`.
    /// @param intervalSeconds The trading interval length (900 s in Europe).
    /// @param acceptanceWindow_ How long after its interval ends a reading is accepted; >= one interval.
    /// @param carbonIntensity_ The initial grid carbon intensity, g CO2e/kWh.
    constructor(address admin, uint32 intervalSeconds, uint40 acceptanceWindow_, uint16 carbonIntensity_)
        EIP712("cogrid MeterRegistry", "1")
    {
        if (admin == address(0)) revert MeterRegistryZeroAddress();
        if (intervalSeconds == 0) revert MeterRegistryIntervalZero();
        if (acceptanceWindow_ < intervalSeconds) {
            revert MeterRegistryWindowTooShort(acceptanceWindow_, intervalSeconds);
        }
        INTERVAL_SECONDS = intervalSeconds;
        _config = Config({
            acceptanceWindow: acceptanceWindow_,
            carbonIntensity: carbonIntensity_,
            carbonIntensityHub: address(0)
        });
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        emit AcceptanceWindowSet(acceptanceWindow_);
        emit CarbonIntensitySet(carbonIntensity_);
    }

    /// @inheritdoc IMeterRegistry
    /// @dev Batch rule: a bad reading is skipped with `ReadingRejected`, never a revert, so one broken or
    /// malicious reading cannot hold back the rest of a relayer's batch.
    function submitReadings(Reading[] calldata readings) external returns (uint256 accepted) {
        Config memory config = _config;
        bytes32 domainSeparator = _domainSeparatorV4();
        // One memory slot for every reading of the batch: memory does not grow with the batch, and each
        // field is read with an MLOAD instead of a bounds-checked calldata access.
        Reading memory reading;
        uint256 length = readings.length;
        for (uint256 i; i < length; ++i) {
            _loadReading(readings[i], reading);
            if (_processReading(reading, config, domainSeparator)) {
                // Cannot overflow: at most one increment per reading, and `readings.length` fits calldata.
                unchecked {
                    ++accepted;
                }
            }
        }
    }

    /// @inheritdoc IMeterRegistry
    function registerParticipant(address account) external onlyRole(REGISTRAR_ROLE) {
        if (account == address(0)) revert MeterRegistryZeroAddress();
        uint32 id = _participantIds[account];
        if (id == 0) {
            id = ++_participantCount;
            _participantIds[account] = id;
        }
        Account storage stored = _accounts[id];
        if (stored.status == _STATUS_ACTIVE) revert MeterRegistryParticipantAlreadyRegistered(account);
        stored.status = _STATUS_ACTIVE;
        emit ParticipantRegistered(account, id);
    }

    /// @inheritdoc IMeterRegistry
    function deactivateParticipant(address account) external onlyRole(REGISTRAR_ROLE) {
        Account storage stored = _accounts[_participantIds[account]];
        if (stored.status != _STATUS_ACTIVE) revert MeterRegistryNotParticipant(account);
        stored.status = _STATUS_DEACTIVATED;
        emit ParticipantDeactivated(account);
    }

    /// @inheritdoc IMeterRegistry
    function registerMeter(address meter, address owner, uint32 feeder, uint8 kinds, uint32 capacityW)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (meter == address(0) || owner == address(0)) revert MeterRegistryZeroAddress();
        MeterState storage state = _meterStates[meter];
        if (state.status != _STATUS_UNKNOWN) revert MeterRegistryMeterAlreadyRegistered(meter);
        uint32 ownerId = _participantIds[owner];
        if (_accounts[ownerId].status != _STATUS_ACTIVE) revert MeterRegistryOwnerNotParticipant(owner);
        if (!MeterKinds.isValid(kinds)) revert MeterRegistryInvalidKinds(kinds);
        if (capacityW == 0) revert MeterRegistryZeroCapacity(meter);
        _meterInfos[meter] = MeterInfo({owner: owner, feeder: feeder, kinds: kinds, capacityW: capacityW});
        state.status = _STATUS_ACTIVE;
        _meterRegistered(meter, ownerId);
        emit MeterRegistered(meter, owner, feeder, kinds, capacityW);
    }

    /// @inheritdoc IMeterRegistry
    function deactivateMeter(address meter) external onlyRole(REGISTRAR_ROLE) {
        MeterState storage state = _meterStates[meter];
        uint8 status = state.status;
        if (status == _STATUS_UNKNOWN) revert MeterRegistryUnknownMeter(meter);
        if (status != _STATUS_ACTIVE) revert MeterRegistryMeterNotActive(meter);
        state.status = _STATUS_DEACTIVATED;
        emit MeterDeactivated(meter);
    }

    /// @inheritdoc IMeterRegistry
    function reactivateMeter(address meter) external onlyRole(REGISTRAR_ROLE) {
        MeterState storage state = _meterStates[meter];
        uint8 status = state.status;
        if (status == _STATUS_UNKNOWN) revert MeterRegistryUnknownMeter(meter);
        if (status != _STATUS_DEACTIVATED) revert MeterRegistryMeterNotDeactivated(meter);
        address owner = _meterInfos[meter].owner;
        if (!isParticipant(owner)) revert MeterRegistryOwnerNotParticipant(owner);
        state.status = _STATUS_ACTIVE;
        emit MeterReactivated(meter);
    }

    /// @inheritdoc IMeterRegistry
    function setCarbonIntensity(uint16 gramsPerKwh) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _config.carbonIntensity = gramsPerKwh;
        emit CarbonIntensitySet(gramsPerKwh);
    }

    /// @inheritdoc IMeterRegistry
    function setCarbonIntensityHub(address hub) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _config.carbonIntensityHub = hub;
        emit CarbonIntensityHubSet(hub);
    }

    /// @inheritdoc IMeterRegistry
    function setAcceptanceWindow(uint40 seconds_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (seconds_ < INTERVAL_SECONDS) revert MeterRegistryWindowTooShort(seconds_, INTERVAL_SECONDS);
        _config.acceptanceWindow = seconds_;
        emit AcceptanceWindowSet(seconds_);
    }

    /// @inheritdoc IMeterRegistry
    function meterState(address meter) external view returns (MeterState memory) {
        return _meterStates[meter];
    }

    /// @inheritdoc IMeterRegistry
    function meterInfo(address meter) external view returns (MeterInfo memory) {
        return _meterInfos[meter];
    }

    /// @inheritdoc IMeterRegistry
    function participantId(address account) external view returns (uint32) {
        return _participantIds[account];
    }

    /// @inheritdoc IMeterRegistry
    function readingDigest(Reading calldata reading) external view returns (bytes32) {
        Reading memory copy = reading;
        return MessageHashUtils.toTypedDataHash(_domainSeparatorV4(), _hashReading(copy));
    }

    /// @inheritdoc IMeterRegistry
    function carbonIntensity() external view returns (uint16) {
        return _config.carbonIntensity;
    }

    /// @inheritdoc IMeterRegistry
    function carbonIntensityHub() external view returns (address) {
        return _config.carbonIntensityHub;
    }

    /// @inheritdoc IMeterRegistry
    function acceptanceWindow() external view returns (uint40) {
        return _config.acceptanceWindow;
    }

    /// @inheritdoc IMeterRegistry
    function isParticipant(address account) public view returns (bool) {
        return _accounts[_participantIds[account]].status == _STATUS_ACTIVE;
    }

    /// @dev Called once per meter by `registerMeter`, after the meter is stored and before its event.
    /// @param meter The meter's signing-key address.
    /// @param ownerId The participant id of the meter's owner.
    function _meterRegistered(address meter, uint32 ownerId) internal virtual;

    /// @dev Counts one reading, or skips it with `ReadingRejected` (the batch rule: never a revert).
    /// @return accepted Whether the reading was counted.
    function _processReading(Reading memory reading, Config memory config, bytes32 domainSeparator)
        private
        returns (bool accepted)
    {
        address meter = reading.meter;
        MeterState storage stateRef = _meterStates[meter];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stateRef.slot)
        }
        (bool ok, RejectReason reason) = _check(reading, word, config, domainSeparator);
        if (!ok) {
            emit ReadingRejected(meter, reading.seq, reason);
            return false;
        }
        _accept(reading, stateRef, word);
        return true;
    }

    /// @dev Counts a reading that passed `_check`: one SSTORE of the meter's state word, one TSTORE.
    /// The first reading (stored seq 0) is the baseline and adds nothing to the pending volumes.
    function _accept(Reading memory reading, MeterState storage stateRef, uint256 word) private {
        uint48 importDeltaWh;
        uint48 exportDeltaWh;
        uint256 pending = word >> _PENDING_IMPORT_SHIFT;
        (uint32 lastSeq,,,) = _unpackLastReading(word);
        if (lastSeq != 0) {
            (importDeltaWh, exportDeltaWh) = _deltas(reading, word);
            (uint256 pendingImportWh, uint256 pendingExportWh, Pending kind) =
                _addPending(reading, word, importDeltaWh, exportDeltaWh);
            // Each volume fits its 32 bits: `_check` (check 9) rejected a reading that would take one past.
            pending = pendingImportWh | (pendingExportWh << 32) | (uint256(kind) << 64);
        }
        word = _packReading(reading) | (pending << _PENDING_IMPORT_SHIFT);
        assembly ("memory-safe") {
            sstore(stateRef.slot, word)
        }
        _markAcceptedInThisTransaction(reading.meter, reading.seq);
        emit ReadingAccepted(
            reading.meter,
            reading.seq,
            reading.intervalEnd,
            importDeltaWh,
            exportDeltaWh,
            pending >> 64 == uint256(Pending.Marketable)
        );
    }

    /// @dev Runs the checks of `submitReadings` in the documented order against the meter's state word.
    /// @return ok Whether every check passed.
    /// @return reason The first failed check (meaningless when `ok`).
    function _check(Reading memory reading, uint256 word, Config memory config, bytes32 domainSeparator)
        private
        view
        returns (bool ok, RejectReason reason)
    {
        // 1. The meter must be registered and active.
        uint256 status = word & type(uint8).max;
        if (status != _STATUS_ACTIVE) {
            return
                (false, status == _STATUS_UNKNOWN ? RejectReason.UnknownMeter : RejectReason.MeterDeactivated);
        }

        // 2.-3. The interval must be aligned, already over, and inside the acceptance window. Timestamps
        // are the sequencer's; a drift of seconds cannot matter against windows of whole intervals.
        uint40 intervalEnd = reading.intervalEnd;
        if (_isMisaligned(intervalEnd)) return (false, RejectReason.IntervalMisaligned);
        // forge-lint: disable-next-line(block-timestamp)
        if (intervalEnd > block.timestamp) return (false, RejectReason.FromFuture);
        // Cannot overflow: the sum of two uint40 values fits in 41 bits.
        unchecked {
            // forge-lint: disable-next-line(block-timestamp)
            if (uint256(intervalEnd) + config.acceptanceWindow < block.timestamp) {
                return (false, RejectReason.TooOld);
            }
        }

        (uint32 lastSeq, uint40 lastIntervalEnd, uint48 lastImportWh, uint48 lastExportWh) =
            _unpackLastReading(word);
        uint32 seq = reading.seq;
        if (seq <= lastSeq) {
            // 4. Not counted already in this transaction. A (meter, seq) accepted earlier in this
            // transaction has `seq <= lastSeq`, so a reading with a higher seq skips this lookup: the
            // order of the checks is unchanged, only the TLOAD is saved on the common path.
            if (_acceptedInThisTransaction(reading.meter, seq)) {
                return (false, RejectReason.DuplicateInBatch);
            }
            // 5. `seq` must move forward; an exact replay of the last counted reading gets its own reason
            // so a relayer can treat it as delivered.
            bool exactReplay = seq == lastSeq && lastSeq != 0 && intervalEnd == lastIntervalEnd
                && reading.importWh == lastImportWh && reading.exportWh == lastExportWh;
            return (false, exactReplay ? RejectReason.AlreadyCounted : RejectReason.SeqNotIncreasing);
        }

        // 6. Signed by the meter's own key.
        (ok, reason) = _checkSignature(reading, domainSeparator);
        if (!ok) return (false, reason);

        // 7.-9. After the previous reading in time, with registers that never go down, by no more than
        // the connection allows. The first reading (stored seq 0) has nothing to compare with: it becomes
        // the baseline.
        if (lastSeq != 0) {
            if (intervalEnd <= lastIntervalEnd) return (false, RejectReason.IntervalNotAfterPrevious);
            if (reading.importWh < lastImportWh || reading.exportWh < lastExportWh) {
                return (false, RejectReason.RegisterWentBackwards);
            }
            if (!_isPlausible(reading, word)) {
                return (false, RejectReason.ImplausibleDelta);
            }
        }
        return (true, reason);
    }

    /// @dev Check 9, for a reading that passed checks 7-8 against the previous reading in `word`: the
    /// pending volumes stay within uint32 and both deltas within the meter's capacity over the elapsed
    /// time. The capacity bound alone would not do: volumes left unsettled, or a large capacity over a
    /// long gap, could still take the pending volumes past 32 bits, and `_accept` must never revert. The
    /// overflow test comes first so that a reading it rejects does not pay for the `MeterInfo` SLOAD.
    function _isPlausible(Reading memory reading, uint256 word) private view returns (bool) {
        (uint48 importDeltaWh, uint48 exportDeltaWh) = _deltas(reading, word);
        (uint256 pendingImportWh, uint256 pendingExportWh,) =
            _addPending(reading, word, importDeltaWh, exportDeltaWh);
        // Either is above uint32 exactly when their bitwise or is.
        if ((pendingImportWh | pendingExportWh) > type(uint32).max) return false;
        (, uint40 lastIntervalEnd,,) = _unpackLastReading(word);
        // Both deltas are within the allowance exactly when the larger one is.
        uint256 maxDeltaWh = importDeltaWh > exportDeltaWh ? importDeltaWh : exportDeltaWh;
        // Cannot overflow or underflow: Wh x 3600 takes 48 + 12 bits and W x s 32 + 40 bits, and check 7
        // made the elapsed time positive.
        unchecked {
            return maxDeltaWh * 3600
                <= uint256(_meterInfos[reading.meter].capacityW) * (reading.intervalEnd - lastIntervalEnd);
        }
    }

    /// @dev Check 6: a high `s` or an unrecoverable signature is malformed; a valid signature by any key
    /// but the meter's is the wrong signer.
    function _checkSignature(Reading memory reading, bytes32 domainSeparator)
        private
        pure
        returns (bool ok, RejectReason reason)
    {
        bytes32 digest = MessageHashUtils.toTypedDataHash(domainSeparator, _hashReading(reading));
        (address signer, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(digest, reading.r, reading.vs);
        if (recoverError != ECDSA.RecoverError.NoError) return (false, RejectReason.MalformedSignature);
        if (signer != reading.meter) return (false, RejectReason.WrongSigner);
        return (true, reason);
    }

    /// @dev The import and export deltas of `reading` over the previous reading in `word`, for a
    /// reading whose registers check 8 found not below the stored ones.
    function _deltas(Reading memory reading, uint256 word)
        private
        pure
        returns (uint48 importDeltaWh, uint48 exportDeltaWh)
    {
        (,, uint48 lastImportWh, uint48 lastExportWh) = _unpackLastReading(word);
        // Cannot underflow: check 8 rejected a register below the stored one.
        unchecked {
            importDeltaWh = reading.importWh - lastImportWh;
            exportDeltaWh = reading.exportWh - lastExportWh;
        }
    }

    /// @dev The meter's pending volumes after a reading with these deltas, unnarrowed (check 9 rejects a
    /// volume past uint32): the deltas alone, `Marketable`, when the reading starts where the previous one
    /// ended and nothing non-zero is pending; otherwise everything pending plus the deltas, `ResidualOnly`.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _addPending(Reading memory reading, uint256 word, uint48 importDeltaWh, uint48 exportDeltaWh)
        private
        view
        returns (uint256 pendingImportWh, uint256 pendingExportWh, Pending kind)
    {
        // Truncating is the point: each cast keeps exactly the bits of one member.
        pendingImportWh = uint32(word >> _PENDING_IMPORT_SHIFT);
        pendingExportWh = uint32(word >> _PENDING_EXPORT_SHIFT);
        (, uint40 lastIntervalEnd,,) = _unpackLastReading(word);
        // Cannot overflow: a uint40 plus a uint32 fits in 41 bits, and a uint32 plus a uint48 in 49.
        unchecked {
            bool follows = uint256(reading.intervalEnd) == uint256(lastIntervalEnd) + INTERVAL_SECONDS;
            if (follows && (pendingImportWh | pendingExportWh) == 0) {
                return (importDeltaWh, exportDeltaWh, Pending.Marketable);
            }
            return (pendingImportWh + importDeltaWh, pendingExportWh + exportDeltaWh, Pending.ResidualOnly);
        }
    }

    /// @dev The low 176 bits of a `MeterState` word for an active meter whose last reading is `reading`.
    function _packReading(Reading memory reading) private pure returns (uint256) {
        return uint256(_STATUS_ACTIVE) | (uint256(reading.seq) << _SEQ_SHIFT)
            | (uint256(reading.intervalEnd) << _INTERVAL_END_SHIFT)
            | (uint256(reading.importWh) << _IMPORT_SHIFT) | (uint256(reading.exportWh) << _EXPORT_SHIFT);
    }

    /// @dev The last accepted reading's fields out of a packed `MeterState` word.
    // forge-lint: disable-next-item(unsafe-typecast)
    function _unpackLastReading(uint256 word)
        internal
        pure
        returns (uint32 seq, uint40 intervalEnd, uint48 importWh, uint48 exportWh)
    {
        // Truncating is the point: each cast keeps exactly the bits of one member.
        seq = uint32(word >> _SEQ_SHIFT);
        intervalEnd = uint40(word >> _INTERVAL_END_SHIFT);
        importWh = uint48(word >> _IMPORT_SHIFT);
        exportWh = uint48(word >> _EXPORT_SHIFT);
    }

    /// @dev `intervalEnd % INTERVAL_SECONDS != 0`, without the division-by-zero check Solidity adds to `%`:
    /// the constructor rejects a zero interval.
    function _isMisaligned(uint40 intervalEnd) private view returns (bool misaligned) {
        uint256 interval = INTERVAL_SECONDS;
        assembly ("memory-safe") {
            misaligned := iszero(iszero(mod(and(intervalEnd, 0xffffffffff), interval)))
        }
    }

    /// @dev Whether `_markAcceptedInThisTransaction(meter, seq)` ran earlier in this transaction.
    function _acceptedInThisTransaction(address meter, uint32 seq) private view returns (bool accepted) {
        uint256 key = _transientKey(meter, seq);
        assembly ("memory-safe") {
            accepted := tload(key)
        }
    }

    function _markAcceptedInThisTransaction(address meter, uint32 seq) private {
        uint256 key = _transientKey(meter, seq);
        assembly ("memory-safe") {
            tstore(key, 1)
        }
    }

    /// @dev Transient-storage key of (meter, seq): 160 + 32 bits packed into one word, unique without
    /// hashing. The only other transient slot of the contract is the market's reentrancy guard, at a
    /// keccak-derived key.
    function _transientKey(address meter, uint32 seq) private pure returns (uint256) {
        return (uint256(uint160(meter)) << 32) | seq;
    }

    /// @dev EIP-712 `hashStruct` of a reading: the first five words of a memory `Reading` are exactly its
    /// `encodeData`. Hashed in scratch memory past the free pointer, so nothing is allocated.
    function _hashReading(Reading memory reading) private pure returns (bytes32 structHash) {
        bytes32 typehash = _READING_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mcopy(add(ptr, 0x20), reading, 0xa0)
            structHash := keccak256(ptr, 0xc0)
        }
    }

    /// @dev Copies one ABI-encoded reading from calldata into `reading`. Like the ABI decoder, it reverts
    /// on a word with bits outside its type: that is malformed calldata, not a bad reading.
    function _loadReading(Reading calldata source, Reading memory reading) private pure {
        assembly ("memory-safe") {
            calldatacopy(reading, source, 0xe0)
            let dirty := or(shr(160, mload(reading)), shr(32, mload(add(reading, 0x20))))
            dirty := or(dirty, shr(40, mload(add(reading, 0x40))))
            dirty := or(dirty, or(shr(48, mload(add(reading, 0x60))), shr(48, mload(add(reading, 0x80)))))
            if dirty { revert(0, 0) }
        }
    }
}
