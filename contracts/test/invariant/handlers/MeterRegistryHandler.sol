// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../../src/EnergyCredit.sol";
import {MeterRegistry} from "../../../src/MeterRegistry.sol";
import {IMeterRegistry} from "../../../src/interfaces/IMeterRegistry.sol";
import {ReadingSigning} from "../../utils/ReadingSigning.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Drives the registry like a crowd of relayers, meters, owners and the co-op admin would: it
/// signs batches that mix valid readings with every kind of bad one, warps time, claims, retires and
/// changes parameters. (`_bound` is forge-std's `bound` without its console log.) It keeps its own model of the batch rules (the spec, written independently of
/// the contract) to predict each reading's outcome, compares the prediction with the events, and keeps
/// ghost totals of what was attested.
contract MeterRegistryHandler is CommonBase, StdCheats, StdUtils {
    enum Signature {
        Valid,
        WrongKey,
        Malformed
    }

    /// @dev What the handler believes the registry stores for a meter.
    struct Model {
        uint8 status;
        uint32 seq;
        uint40 lastIntervalEnd;
        uint48 importWh;
        uint48 exportWh;
        uint40 unclaimedCreditsWh;
        uint40 unclaimedCarbonGrams;
    }

    /// @dev The predicted outcome of one reading of a batch.
    struct Expected {
        bool accepted;
        IMeterRegistry.RejectReason reason;
        uint48 importDeltaWh;
        uint48 exportDeltaWh;
    }

    uint256 public constant METERS = 4;
    uint32 internal constant INTERVAL = 900;

    MeterRegistry public immutable REGISTRY;
    EnergyCredit public immutable ENERGY;
    CarbonCredit public immutable CARBON;
    address public immutable ADMIN;

    address[METERS] public meters;
    uint256[METERS] internal _keys;
    uint32[METERS] internal _capacities;
    address[2] public owners;
    address internal _stranger;
    uint256 internal _strangerKey;

    Model[METERS] internal _models;
    IMeterRegistry.Reading[METERS] internal _lastAccepted;
    uint16 internal _intensity;
    uint40 internal _window;
    uint256 public currentTime;

    // Ghost totals.
    uint256 public ghostExportDeltaSum;
    uint256 public ghostCarbonSum;
    uint256 public ghostRetired;
    uint256 public ghostAccepted;
    uint256 public ghostRejected;
    uint256 public ghostMismatches;
    uint256 public ghostDoubleCounted;
    /// @dev Readings the model rejected because their accrual would overflow uint40 (check 9's second
    /// half), to show the run reached it.
    uint256 public ghostAccrualOverflows;
    mapping(address meter => mapping(uint32 seq => uint256 count)) public ghostAcceptedCount;
    mapping(uint256 reason => uint256 count) public ghostRejectedBy;

    // Per-batch scratch: (meter index, seq) pairs the model accepted in the current transaction.
    uint256[] internal _batchAccepted;

    /// @dev Re-applies the handler's clock: every call is its own transaction.
    modifier useTime() {
        vm.warp(currentTime);
        _;
    }

    constructor(
        MeterRegistry registry,
        EnergyCredit energy,
        CarbonCredit carbon,
        address admin,
        address[2] memory owners_,
        uint256[METERS] memory keys,
        uint256 startTime
    ) {
        REGISTRY = registry;
        ENERGY = energy;
        CARBON = carbon;
        ADMIN = admin;
        owners = owners_;
        _keys = keys;
        for (uint256 i; i < METERS; ++i) {
            meters[i] = vm.addr(keys[i]);
            _capacities[i] = registry.meterInfo(meters[i]).capacityW;
            _models[i].status = 1;
        }
        (_stranger, _strangerKey) = makeAddrAndKey("unregistered meter");
        _intensity = registry.carbonIntensity();
        _window = registry.acceptanceWindow();
        currentTime = startTime;
    }

    // ---------------------------------------------------------------- actions

    /// @dev Half of the batches arrive one interval later, as a relayer's would.
    function submitBatch(uint256 seed, uint256 size) external {
        if (seed & 1 == 0) currentTime += INTERVAL;
        vm.warp(currentTime);
        size = _bound(size, 1, 6);
        IMeterRegistry.Reading[] memory batch = new IMeterRegistry.Reading[](size);
        Expected[] memory expected = new Expected[](size);
        delete _batchAccepted;

        for (uint256 k; k < size; ++k) {
            uint256 entropy = uint256(keccak256(abi.encode(seed, k)));
            (IMeterRegistry.Reading memory reading, Signature signature) = _craft(entropy, batch, k);
            batch[k] = reading;
            expected[k] = _predict(reading, signature);
        }

        vm.recordLogs();
        uint256 accepted = REGISTRY.submitReadings(batch);
        _compare(batch, expected, vm.getRecordedLogs(), accepted);
    }

    function warp(uint256 seconds_) external {
        currentTime += _bound(seconds_, 1, 3 * INTERVAL);
    }

    function warpPastWindow(uint256 seconds_) external {
        currentTime += _bound(seconds_, _window, _window + 2 * INTERVAL);
    }

    function claim(uint256 meterMask) external useTime {
        meterMask = _bound(meterMask, 1, 2 ** METERS - 1);
        uint256 count;
        for (uint256 i; i < METERS; ++i) {
            if ((meterMask >> i) & 1 == 1) ++count;
        }
        address[] memory list = new address[](count);
        uint256 j;
        for (uint256 i; i < METERS; ++i) {
            if ((meterMask >> i) & 1 == 1) {
                list[j++] = meters[i];
                _models[i].unclaimedCreditsWh = 0;
                _models[i].unclaimedCarbonGrams = 0;
            }
        }
        REGISTRY.claim(list);
    }

    function retire(uint256 ownerIndex, uint256 amount) external useTime {
        address owner = owners[_bound(ownerIndex, 0, 1)];
        uint256 balance = CARBON.balanceOf(owner);
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        vm.prank(owner);
        CARBON.retire(amount, "invariant beneficiary", 1, SafeCast.toUint40(currentTime), "invariant run");
        ghostRetired += amount;
    }

    /// @dev One time in eight any `uint16` (an admin's typo): at tens of kg per kWh the carbon accrual
    /// overflows uint40 within a few readings, which reaches the second half of check 9.
    function setCarbonIntensity(uint16 gramsPerKwh, uint256 mode) external useTime {
        if (mode % 8 != 0) gramsPerKwh = uint16(_bound(gramsPerKwh, 0, 1200));
        vm.prank(ADMIN);
        REGISTRY.setCarbonIntensity(gramsPerKwh);
        _intensity = gramsPerKwh;
    }

    /// @dev Reactivates a deactivated meter; deactivates an active one only one time in four, so most
    /// meters are active most of the time.
    function toggleMeter(uint256 meterIndex) external useTime {
        uint256 i = meterIndex % METERS;
        bool deactivate = (meterIndex >> 8) % 4 == 0;
        if (_models[i].status == 1 && !deactivate) return;
        vm.startPrank(ADMIN);
        if (_models[i].status == 1) {
            REGISTRY.deactivateMeter(meters[i]);
            _models[i].status = 2;
        } else {
            REGISTRY.reactivateMeter(meters[i]);
            _models[i].status = 1;
        }
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- views for the invariants

    function model(uint256 i) external view returns (Model memory) {
        return _models[i];
    }

    function sumUnclaimed() external view returns (uint256 creditsWh, uint256 carbonGrams) {
        for (uint256 i; i < METERS; ++i) {
            IMeterRegistry.MeterState memory state = REGISTRY.meterState(meters[i]);
            creditsWh += state.unclaimedCreditsWh;
            carbonGrams += state.unclaimedCarbonGrams;
        }
    }

    // ---------------------------------------------------------------- crafting readings

    /// @dev One reading of a batch: mostly the meter's valid next reading (deltas within its capacity),
    /// otherwise one kind of bad one.
    function _craft(uint256 entropy, IMeterRegistry.Reading[] memory batch, uint256 k)
        internal
        view
        returns (IMeterRegistry.Reading memory reading, Signature signature)
    {
        uint256 i = entropy % METERS;
        uint256 variant = (entropy >> 8) % 20;
        Model memory m = _models[i];
        uint40 alignedNow = SafeCast.toUint40(currentTime - currentTime % INTERVAL);
        uint256 maxDelta = _craftingBound(i, alignedNow);

        reading.meter = meters[i];
        reading.seq = m.seq + 1 + uint32((entropy >> 16) % 2);
        reading.intervalEnd = alignedNow;
        reading.importWh = SafeCast.toUint48(m.importWh + (entropy >> 24) % (maxDelta + 1));
        reading.exportWh = SafeCast.toUint48(m.exportWh + (entropy >> 72) % (maxDelta + 1));
        uint256 key = _keys[i];

        if (variant == 7) {
            reading.exportWh = SafeCast.toUint48(m.exportWh + maxDelta); // exactly the capacity
        } else if (variant == 8) {
            uint48 over = SafeCast.toUint48(maxDelta + 1 + (entropy >> 120) % 1000); // past the capacity
            if (entropy >> 130 & 1 == 0) reading.importWh = m.importWh + over;
            else reading.exportWh = m.exportWh + over;
        } else if (variant == 10 && _lastAccepted[i].meter != address(0)) {
            return (_lastAccepted[i], Signature.Valid); // exact replay
        } else if (variant == 11 && k > 0) {
            return (batch[k - 1], _signatureOf(batch[k - 1])); // repeat within the batch
        } else if (variant == 12) {
            reading.seq = m.seq; // stale seq with new content
        } else if (variant == 13) {
            reading.intervalEnd = alignedNow - 1 - uint40((entropy >> 80) % (INTERVAL - 1));
        } else if (variant == 14) {
            reading.intervalEnd = alignedNow + INTERVAL;
        } else if (variant == 15) {
            reading.intervalEnd = alignedNow - _window - INTERVAL;
        } else if (variant == 16 && m.exportWh > 0) {
            reading.exportWh = m.exportWh - 1;
        } else if (variant == 17) {
            reading.intervalEnd = m.lastIntervalEnd; // not after the previous reading
        } else if (variant == 18) {
            reading.meter = _stranger;
            key = _strangerKey;
        } else if (variant == 19) {
            key = _keys[(i + 1) % METERS];
            signature = Signature.WrongKey;
        }

        reading = ReadingSigning.sign(address(REGISTRY), key, reading);
        if (variant == 9) {
            signature = Signature.Malformed;
            if (entropy >> 200 & 1 == 0) {
                (reading.r, reading.vs) = (bytes32(0), bytes32(0));
            } else {
                reading = ReadingSigning.withHighS(reading, (1 << 255) - 1 - (entropy >> 210));
            }
        }
    }

    /// @dev The largest delta meter `i`'s capacity allows for a reading ending at `intervalEnd`; one
    /// interval's worth when there is no earlier reading to count from (the reading is then a baseline or
    /// rejected before check 9 anyway).
    function _craftingBound(uint256 i, uint40 intervalEnd) internal view returns (uint256) {
        Model memory m = _models[i];
        uint256 elapsed =
            m.seq != 0 && intervalEnd > m.lastIntervalEnd ? intervalEnd - m.lastIntervalEnd : INTERVAL;
        return uint256(_capacities[i]) * elapsed / 3600;
    }

    /// @dev The signature class of a reading taken from earlier in the batch (re-derived, not trusted).
    function _signatureOf(IMeterRegistry.Reading memory reading) internal view returns (Signature) {
        (address recovered, bool malformed) = _recover(reading);
        if (malformed) return Signature.Malformed;
        return recovered == reading.meter ? Signature.Valid : Signature.WrongKey;
    }

    function _recover(IMeterRegistry.Reading memory reading) internal view returns (address, bool malformed) {
        uint256 s = uint256(reading.vs) & ((1 << 255) - 1);
        if (s > ReadingSigning.HALF_N) return (address(0), true);
        uint8 v = uint8(uint256(reading.vs) >> 255) + 27;
        address recovered =
            ecrecover(ReadingSigning.digest(address(REGISTRY), reading), v, reading.r, bytes32(s));
        return (recovered, recovered == address(0));
    }

    // ---------------------------------------------------------------- the model

    /// @dev The batch rules of `IMeterRegistry.submitReadings`, applied to the handler's model.
    function _predict(IMeterRegistry.Reading memory reading, Signature signature)
        internal
        returns (Expected memory e)
    {
        (bool known, uint256 i) = _indexOf(reading.meter);
        Model storage m = _models[i];
        if (!known) return _reject(IMeterRegistry.RejectReason.UnknownMeter);
        if (m.status != 1) return _reject(IMeterRegistry.RejectReason.MeterDeactivated);
        if (reading.intervalEnd % INTERVAL != 0) {
            return _reject(IMeterRegistry.RejectReason.IntervalMisaligned);
        }
        if (reading.intervalEnd > currentTime) return _reject(IMeterRegistry.RejectReason.FromFuture);
        if (uint256(reading.intervalEnd) + _window < currentTime) {
            return _reject(IMeterRegistry.RejectReason.TooOld);
        }
        if (_acceptedInBatch(i, reading.seq)) return _reject(IMeterRegistry.RejectReason.DuplicateInBatch);
        if (
            reading.seq == m.seq && m.seq != 0 && reading.intervalEnd == m.lastIntervalEnd
                && reading.importWh == m.importWh && reading.exportWh == m.exportWh
        ) return _reject(IMeterRegistry.RejectReason.AlreadyCounted);
        if (reading.seq <= m.seq) return _reject(IMeterRegistry.RejectReason.SeqNotIncreasing);
        if (signature == Signature.Malformed) return _reject(IMeterRegistry.RejectReason.MalformedSignature);
        if (signature == Signature.WrongKey) return _reject(IMeterRegistry.RejectReason.WrongSigner);
        if (m.seq != 0) {
            if (reading.intervalEnd <= m.lastIntervalEnd) {
                return _reject(IMeterRegistry.RejectReason.IntervalNotAfterPrevious);
            }
            if (reading.importWh < m.importWh || reading.exportWh < m.exportWh) {
                return _reject(IMeterRegistry.RejectReason.RegisterWentBackwards);
            }
            e.importDeltaWh = reading.importWh - m.importWh;
            e.exportDeltaWh = reading.exportWh - m.exportWh;
            uint256 creditsWh = uint256(m.unclaimedCreditsWh) + e.exportDeltaWh;
            uint256 carbonGrams =
                uint256(m.unclaimedCarbonGrams) + uint256(e.exportDeltaWh) * _intensity / 1000;
            if (creditsWh > type(uint40).max || carbonGrams > type(uint40).max) {
                ++ghostAccrualOverflows;
                return _reject(IMeterRegistry.RejectReason.ImplausibleDelta);
            }
            uint256 allowance = uint256(_capacities[i]) * (reading.intervalEnd - m.lastIntervalEnd);
            if (uint256(e.importDeltaWh) * 3600 > allowance || uint256(e.exportDeltaWh) * 3600 > allowance) {
                return _reject(IMeterRegistry.RejectReason.ImplausibleDelta);
            }
            m.unclaimedCreditsWh = SafeCast.toUint40(creditsWh);
            m.unclaimedCarbonGrams = SafeCast.toUint40(carbonGrams);
        }
        e.accepted = true;
        m.seq = reading.seq;
        m.lastIntervalEnd = reading.intervalEnd;
        m.importWh = reading.importWh;
        m.exportWh = reading.exportWh;
        _lastAccepted[i] = reading;
        _batchAccepted.push((i << 32) | reading.seq);
    }

    function _reject(IMeterRegistry.RejectReason reason) internal pure returns (Expected memory e) {
        e.reason = reason;
    }

    function _indexOf(address meter) internal view returns (bool known, uint256 index) {
        for (uint256 i; i < METERS; ++i) {
            if (meters[i] == meter) return (true, i);
        }
    }

    function _acceptedInBatch(uint256 i, uint32 seq) internal view returns (bool) {
        for (uint256 j; j < _batchAccepted.length; ++j) {
            if (_batchAccepted[j] == ((i << 32) | seq)) return true;
        }
        return false;
    }

    /// @dev Checks every registry event of the batch against the prediction and books the ghosts.
    function _compare(
        IMeterRegistry.Reading[] memory batch,
        Expected[] memory expected,
        Vm.Log[] memory logs,
        uint256 accepted
    ) internal {
        uint256 k;
        uint256 predictedAccepted;
        for (uint256 l; l < logs.length; ++l) {
            if (logs[l].emitter != address(REGISTRY)) continue;
            if (k >= batch.length) {
                ++ghostMismatches;
                break;
            }
            bytes32 topic = logs[l].topics[0];
            bool meterMatches = logs[l].topics[1] == bytes32(uint256(uint160(batch[k].meter)));
            if (topic == IMeterRegistry.ReadingAccepted.selector) {
                (uint32 seq,, uint48 importDelta, uint48 exportDelta) =
                    abi.decode(logs[l].data, (uint32, uint40, uint48, uint48));
                if (
                    !expected[k].accepted || !meterMatches || seq != batch[k].seq
                        || importDelta != expected[k].importDeltaWh
                        || exportDelta != expected[k].exportDeltaWh
                ) ++ghostMismatches;
                _bookAccepted(batch[k].meter, seq, expected[k].exportDeltaWh);
            } else if (topic == IMeterRegistry.ReadingRejected.selector) {
                (uint32 seq, uint8 reason) = abi.decode(logs[l].data, (uint32, uint8));
                if (
                    expected[k].accepted || !meterMatches || seq != batch[k].seq
                        || reason != uint8(expected[k].reason)
                ) {
                    ++ghostMismatches;
                }
                ++ghostRejected;
                ++ghostRejectedBy[reason];
            } else {
                ++ghostMismatches;
            }
            if (expected[k].accepted) ++predictedAccepted;
            ++k;
        }
        if (k != batch.length || accepted != predictedAccepted) ++ghostMismatches;
    }

    function _bookAccepted(address meter, uint32 seq, uint48 exportDeltaWh) internal {
        ++ghostAccepted;
        if (++ghostAcceptedCount[meter][seq] > 1) ++ghostDoubleCounted;
        ghostExportDeltaSum += exportDeltaWh;
        ghostCarbonSum += uint256(exportDeltaWh) * _intensity / 1000;
    }
}
