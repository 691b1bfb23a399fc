// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOracleHub} from "./interfaces/IOracleHub.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/// @title OracleHub
/// @notice The four feeds of signed, medianized outside data (see `IOracleHub`). Each feed is read through
/// Chainlink's `AggregatorV3Interface` by its own `OracleFeed`.
/// @dev Gas layout: a round reads and writes one `Feed` slot (its rules, latest round id and latest
/// `updatedAt`, so the freshness checks need no second read) and writes one new `Round` slot. The
/// reporters are checked against a copy of the `REPORTER_ROLE` holders kept, sorted, as the code of a data
/// contract that the hub deploys whenever the role changes: one cold slot (its address) and one cold
/// account read it whole, instead of one cold slot per signer (2,100 gas each). As the signers of a round
/// are sorted too, one merge walk checks them all.
contract OracleHub is IOracleHub, AccessControl, EIP712 {
    /// @dev A feed's rules and where its rounds stand, in exactly one slot.
    struct Feed {
        uint8 quorum;
        uint32 heartbeat;
        int64 minAnswer;
        int64 maxAnswer;
        uint48 latestRoundId;
        uint40 latestUpdatedAt;
    }

    /// @dev One accepted round, in exactly one slot. `updatedAt` is never 0 for a stored round.
    struct Round {
        int176 answer;
        uint40 startedAt;
        uint40 updatedAt;
    }

    /// @inheritdoc IOracleHub
    bytes32 public constant REPORTER_ROLE = keccak256("REPORTER_ROLE");
    /// @inheritdoc IOracleHub
    uint8 public constant FEED_COUNT = 4;

    /// @dev EIP-712 type of an observation; `r` and `vs` are the signature, not signed.
    bytes32 private constant _OBSERVATION_TYPEHASH =
        keccak256("Observation(uint8 feed,int256 answer,uint64 observedAt)");

    // Bit offsets in the `Round` and `Feed` words (Solidity's packing: first member in the lowest bits).
    uint256 private constant _ROUND_STARTED_AT_SHIFT = 176;
    uint256 private constant _ROUND_UPDATED_AT_SHIFT = 216;
    uint256 private constant _FEED_ROUND_ID_SHIFT = 168;
    uint256 private constant _FEED_UPDATED_AT_SHIFT = 216;

    /// @dev Largest `s` of a low-s (EIP-2) signature: secp256k1 n / 2.
    uint256 private constant _HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @inheritdoc IOracleHub
    /// @dev It bounds the reporter set a round copies to memory.
    uint256 public constant MAX_REPORTERS = 64;

    Feed[FEED_COUNT] private _feeds;
    /// @dev Keyed by `_roundKey(feed, roundId)`: one hash per access instead of a nested mapping's two.
    mapping(uint256 key => Round round) private _rounds;
    /// @dev The `REPORTER_ROLE` holders, in the order they were granted.
    address[] private _reporters;
    /// @dev A contract whose code is a STOP byte followed by the `REPORTER_ROLE` holders, 20 bytes each,
    /// ascending; none before the first reporter is granted.
    address private _reporterSet;

    /// @param admin The co-op admin: gets `DEFAULT_ADMIN_ROLE`, configures the feeds and grants
    /// `REPORTER_ROLE`.
    constructor(address admin) EIP712("cogrid OracleHub", "1") {
        if (admin == address(0)) revert OracleHubZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IOracleHub
    function setFeedConfig(uint8 feed, uint8 quorum, uint32 heartbeat, int256 minAnswer, int256 maxAnswer)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _checkFeed(feed);
        if (quorum == 0) revert OracleHubZeroQuorum(feed);
        if (heartbeat == 0) revert OracleHubZeroHeartbeat(feed);
        if (minAnswer > maxAnswer) revert OracleHubInvalidBounds(feed, minAnswer, maxAnswer);
        if (minAnswer < type(int64).min) revert OracleHubBoundOutOfRange(feed, minAnswer);
        if (maxAnswer > type(int64).max) revert OracleHubBoundOutOfRange(feed, maxAnswer);
        Feed storage stored = _feeds[feed];
        stored.quorum = quorum;
        stored.heartbeat = heartbeat;
        // Both fit: checked against the int64 range just above.
        stored.minAnswer = int64(minAnswer);
        stored.maxAnswer = int64(maxAnswer);
        emit FeedConfigured(feed, quorum, heartbeat, minAnswer, maxAnswer);
    }

    /// @inheritdoc IOracleHub
    function submitRound(uint8 feed, SignedObservation[] calldata observations) external returns (uint80) {
        _checkFeed(feed);
        Feed memory state = _feeds[feed];
        if (state.quorum == 0) revert OracleHubFeedNotConfigured(feed);
        uint256 count = observations.length;
        if (count < state.quorum) revert OracleHubBelowQuorum(feed, count, state.quorum);

        (uint64 startedAt, int256[] memory sorted) = _verifyObservations(feed, state, observations);
        int256 answer = _median(sorted);
        if (answer < state.minAnswer || answer > state.maxAnswer) {
            revert OracleHubAnswerOutOfBounds(feed, answer, state.minAnswer, state.maxAnswer);
        }

        // Cannot overflow in practice: one round per block at most (each observation is newer than the
        // previous round's block), and 2^48 blocks are millions of years.
        uint48 roundId = state.latestRoundId + 1;
        // `answer` lies within the int64 bounds, `startedAt` is at most `block.timestamp`: both fit. One
        // SSTORE per slot, packed as Solidity packs `Round` and `Feed` (first member in the lowest bits),
        // which the getters read back.
        uint256 roundWord = uint256(uint176(int176(answer))) | uint256(startedAt) << _ROUND_STARTED_AT_SHIFT
            | block.timestamp << _ROUND_UPDATED_AT_SHIFT;
        Round storage round = _rounds[_roundKey(feed, roundId)];
        Feed storage stored = _feeds[feed];
        assembly ("memory-safe") {
            sstore(round.slot, roundWord)
            // Replaces the latest round id and updatedAt, the top 88 bits.
            let rules := and(sload(stored.slot), sub(shl(_FEED_ROUND_ID_SHIFT, 1), 1))
            sstore(
                stored.slot,
                or(rules, or(shl(_FEED_ROUND_ID_SHIFT, roundId), shl(_FEED_UPDATED_AT_SHIFT, timestamp())))
            )
        }
        emit RoundSubmitted(feed, roundId, answer, count);
        return roundId;
    }

    /// @inheritdoc IOracleHub
    function feedConfig(uint8 feed) external view returns (FeedConfig memory config) {
        _checkFeed(feed);
        Feed memory state = _feeds[feed];
        config = FeedConfig({
            quorum: state.quorum,
            heartbeat: state.heartbeat,
            minAnswer: state.minAnswer,
            maxAnswer: state.maxAnswer,
            latestRoundId: state.latestRoundId
        });
    }

    /// @inheritdoc IOracleHub
    function latestRound(uint8 feed)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt)
    {
        _checkFeed(feed);
        roundId = _feeds[feed].latestRoundId;
        if (roundId == 0) return (0, 0, 0, 0);
        Round memory round = _rounds[_roundKey(feed, roundId)];
        return (roundId, round.answer, round.startedAt, round.updatedAt);
    }

    /// @inheritdoc IOracleHub
    function getRound(uint8 feed, uint80 roundId)
        external
        view
        returns (int256 answer, uint256 startedAt, uint256 updatedAt)
    {
        _checkFeed(feed);
        // Ids above uint48 were never stored; keying them would alias a lower id.
        if (roundId > type(uint48).max) revert OracleHubUnknownRound(feed, roundId);
        Round memory round = _rounds[_roundKey(feed, roundId)];
        if (round.updatedAt == 0) revert OracleHubUnknownRound(feed, roundId);
        return (round.answer, round.startedAt, round.updatedAt);
    }

    /// @inheritdoc IOracleHub
    function isStale(uint8 feed) external view returns (bool) {
        _checkFeed(feed);
        Feed memory state = _feeds[feed];
        return _isStale(state);
    }

    /// @inheritdoc IOracleHub
    function latestFreshAnswer(uint8 feed) external view returns (int256 answer, uint256 updatedAt) {
        _checkFeed(feed);
        Feed memory state = _feeds[feed];
        if (_isStale(state)) revert OracleHubStaleAnswer(feed, state.latestUpdatedAt, state.heartbeat);
        return (_rounds[_roundKey(feed, state.latestRoundId)].answer, state.latestUpdatedAt);
    }

    /// @inheritdoc IOracleHub
    function isReporter(address account) external view returns (bool) {
        return hasRole(REPORTER_ROLE, account);
    }

    /// @inheritdoc IOracleHub
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IOracleHub
    function observationDigest(uint8 feed, int256 answer, uint64 observedAt) external view returns (bytes32) {
        return
            MessageHashUtils.toTypedDataHash(_domainSeparatorV4(), _observationHash(feed, answer, observedAt));
    }

    /// @dev Checks every observation of a round (checks 3 to 6 of `IOracleHub`) and returns the oldest
    /// `observedAt` and the answers sorted ascending.
    function _verifyObservations(uint8 feed, Feed memory state, SignedObservation[] calldata observations)
        private
        view
        returns (uint64 startedAt, int256[] memory sorted)
    {
        bytes32 separator = _domainSeparatorV4();
        // The reporter set's copy in memory: the walk's cursor in the low 128 bits, its end above.
        uint256 set = _loadReporterSet();
        sorted = new int256[](observations.length);
        startedAt = type(uint64).max;
        address previous;
        for (uint256 i; i < observations.length; ++i) {
            SignedObservation calldata observation = observations[i];
            uint64 observedAt = observation.observedAt;
            _checkObservedAt(i, observedAt, state);
            if (observedAt < startedAt) startedAt = observedAt;

            address signer = _recoverSigner(i, separator, feed, observation);
            if (signer <= previous) revert OracleHubSignersNotSorted(i, signer, previous);
            set = _findReporter(i, signer, set);
            previous = signer;

            _insertSorted(sorted, i, observation.answer);
        }
    }

    /// @dev Check 3 of `IOracleHub` for observation `index`.
    function _checkObservedAt(uint256 index, uint64 observedAt, Feed memory state) private view {
        if (observedAt > block.timestamp) {
            revert OracleHubObservationFromFuture(index, observedAt, block.timestamp);
        }
        if (observedAt <= state.latestUpdatedAt) {
            revert OracleHubObservationNotNewer(index, observedAt, state.latestUpdatedAt);
        }
        // Both terms are below 2^65: no overflow.
        if (uint256(observedAt) + state.heartbeat < block.timestamp) {
            revert OracleHubObservationTooOld(index, observedAt, block.timestamp - state.heartbeat);
        }
    }

    /// @dev The signer of observation `index` (check 4 of `IOracleHub`): the EIP-712 digest and the
    /// `ecrecover` precompile in scratch memory past the free pointer, which is not moved, so a round's memory
    /// does not grow with its observations. Same rules as OpenZeppelin's `ECDSA.tryRecover(hash, r, vs)`:
    /// `s` at most n/2 (EIP-2), and a signature that recovers no address is refused.
    function _recoverSigner(
        uint256 index,
        bytes32 separator,
        uint8 feed,
        SignedObservation calldata observation
    ) private view returns (address signer) {
        bytes32 typehash = _OBSERVATION_TYPEHASH;
        bool valid;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // structHash = keccak256(abi.encode(typehash, feed, answer, observedAt))
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), feed)
            calldatacopy(add(ptr, 0x40), observation, 0x40)
            let structHash := keccak256(ptr, 0x80)
            // digest = keccak256("\x19\x01" || separator || structHash)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            let digest := keccak256(ptr, 0x42)
            let vs := calldataload(add(observation, 0x60))
            let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), add(27, shr(255, vs)))
            mstore(add(ptr, 0x40), calldataload(add(observation, 0x40)))
            mstore(add(ptr, 0x60), s)
            mstore(0x00, 0)
            // ecrecover leaves 0x00 untouched (zero) when the signature recovers nothing.
            pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
            signer := mload(0x00)
            valid := and(iszero(gt(s, _HALF_N)), iszero(iszero(signer)))
        }
        if (!valid) revert OracleHubInvalidSignature(index);
    }

    /// @dev Copies the reporter set to memory past the free pointer and returns `end << 128 | start`, where
    /// it starts and ends. The free pointer moves past it, so the rest of the round allocates after it.
    function _loadReporterSet() private view returns (uint256 cursor) {
        address set = _reporterSet;
        assembly ("memory-safe") {
            let start := mload(0x40)
            let size := extcodesize(set)
            // The code's first byte is the STOP that keeps the set from running as a contract.
            if size { size := sub(size, 1) }
            extcodecopy(set, start, 1, size)
            let end := add(start, size)
            // Word-aligned; the 12 bytes past the last reporter are read by the last MLOAD only.
            mstore(0x40, and(add(end, 0x3f), not(0x1f)))
            cursor := or(shl(128, end), start)
        }
    }

    /// @dev Walks the reporter set's copy in memory (`set`: `end << 128 | cursor`) from its cursor to `signer`
    /// and returns it with the cursor past `signer`; reverts when `signer` is not in the set. The set and the
    /// signers both ascend, so one walk over the set serves the whole round.
    function _findReporter(uint256 index, address signer, uint256 set) private pure returns (uint256) {
        uint256 end = set >> 128;
        for (uint256 cursor = uint128(set); cursor < end; cursor += 20) {
            address reporter;
            assembly ("memory-safe") {
                reporter := shr(96, mload(cursor))
            }
            if (reporter == signer) return end << 128 | (cursor + 20);
            if (reporter > signer) break;
        }
        revert OracleHubUnauthorizedSigner(index, signer);
    }

    /// @dev Keeps `_reporters` and the reporter set's code in step with the role.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == REPORTER_ROLE) {
            if (_reporters.length == MAX_REPORTERS) revert OracleHubTooManyReporters(MAX_REPORTERS);
            _reporters.push(account);
            _deployReporterSet();
        }
    }

    /// @dev Keeps `_reporters` and the reporter set's code in step with the role.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == REPORTER_ROLE) {
            uint256 last = _reporters.length - 1;
            for (uint256 i; i <= last; ++i) {
                if (_reporters[i] == account) {
                    _reporters[i] = _reporters[last];
                    break;
                }
            }
            _reporters.pop();
            _deployReporterSet();
        }
    }

    /// @dev Deploys a data contract holding `_reporters` sorted ascending and points `_reporterSet` at it.
    function _deployReporterSet() private {
        address[] memory sorted = _reporters;
        for (uint256 i = 1; i < sorted.length; ++i) {
            address item = sorted[i];
            uint256 j = i;
            for (; j > 0 && sorted[j - 1] > item; --j) {
                sorted[j] = sorted[j - 1];
            }
            sorted[j] = item;
        }
        // The set's code: a STOP byte, then each reporter's 20 bytes.
        bytes memory code = new bytes(1 + 20 * sorted.length);
        for (uint256 i; i < sorted.length; ++i) {
            address reporter = sorted[i];
            assembly ("memory-safe") {
                // Writes 32 bytes: the address, then 12 zero bytes that the next address overwrites or
                // that land past the code's end (unused memory).
                mstore(add(add(code, 0x21), mul(20, i)), shl(96, reporter))
            }
        }
        // Init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN: returns
        // the `len` bytes that follow it (the 10 bytes of init code) as the new contract's code.
        bytes memory initCode = abi.encodePacked(hex"61", uint16(code.length), hex"80600a3d393df3", code);
        address set;
        assembly ("memory-safe") {
            set := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (set == address(0)) revert OracleHubReporterSetNotDeployed();
        _reporterSet = set;
    }

    /// @dev EIP-712 struct hash of an observation.
    function _observationHash(uint8 feed, int256 answer, uint64 observedAt) private pure returns (bytes32) {
        return keccak256(abi.encode(_OBSERVATION_TYPEHASH, feed, answer, observedAt));
    }

    /// @dev Whether `state`'s latest answer is stale; a feed without rounds has `latestUpdatedAt` 0.
    function _isStale(Feed memory state) private view returns (bool) {
        return state.latestRoundId == 0 || uint256(state.latestUpdatedAt) + state.heartbeat < block.timestamp;
    }

    function _checkFeed(uint8 feed) private pure {
        if (feed >= FEED_COUNT) revert OracleHubUnknownFeed(feed);
    }

    /// @dev Storage key of round `roundId` (below 2^48) of `feed`: distinct for distinct pairs.
    function _roundKey(uint8 feed, uint256 roundId) private pure returns (uint256) {
        return uint256(feed) << 48 | roundId;
    }

    /// @dev Inserts `value` into `values[0 .. length]`, which holds `length` values sorted ascending
    /// (insertion sort: a round has a handful of observations).
    function _insertSorted(int256[] memory values, uint256 length, int256 value) private pure {
        uint256 j = length;
        while (j > 0 && values[j - 1] > value) {
            values[j] = values[j - 1];
            --j;
        }
        values[j] = value;
    }

    /// @dev The median of `sorted` (non-empty, ascending): the middle value, or the mean of the two middle
    /// values rounded toward zero, computed without overflow.
    function _median(int256[] memory sorted) private pure returns (int256) {
        uint256 middle = sorted.length / 2;
        if (sorted.length % 2 == 1) return sorted[middle];
        return SignedMath.average(sorted[middle - 1], sorted[middle]);
    }
}
