// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CarbonCredit} from "../../../src/CarbonCredit.sol";
import {EnergyCredit} from "../../../src/EnergyCredit.sol";
import {EnergyMarket} from "../../../src/EnergyMarket.sol";
import {MockStablecoin} from "../../../src/MockStablecoin.sol";
import {IEnergyMarket} from "../../../src/interfaces/IEnergyMarket.sol";
import {IMeterRegistry} from "../../../src/interfaces/IMeterRegistry.sol";
import {SettlementRecords} from "../../../src/libraries/SettlementRecords.sol";
import {ReadingSigning} from "../../utils/ReadingSigning.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Drives the market's metering side like a crowd of relayers, meters, owners, a keeper and the
/// co-op admin would: it signs batches that mix valid readings with every kind of bad one, warps time,
/// closes intervals without trades, finalizes pending volumes (some of them covered from credits), moves
/// vault balances in and out, retires carbon and changes parameters. (`_bound` is forge-std's `bound`
/// without its console log.) It keeps its own model of the batch rules, the pending volumes and the
/// residual settlement (the spec, written independently of the contract) to predict each outcome,
/// compares the prediction with the events, and keeps ghost totals of what was attested and settled.
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
        uint32 pendingImportWh;
        uint32 pendingExportWh;
        IMeterRegistry.Pending pending;
    }

    /// @dev What the handler believes an owner's vault holds.
    struct Vault {
        uint256 stablecoin;
        uint256 creditsWh;
        uint256 carbonGrams;
    }

    /// @dev The predicted outcome of one reading of a batch.
    struct Expected {
        bool accepted;
        IMeterRegistry.RejectReason reason;
        uint48 importDeltaWh;
        uint48 exportDeltaWh;
        bool marketable;
    }

    /// @dev The predicted settlement of one meter by `finalize`.
    struct Settlement {
        uint256 meterIndex;
        uint64 interval;
        uint256 creditedWh;
        uint256 coveredWh;
        uint256 gridSuppliedWh;
        uint256 carbonGrams;
    }

    uint256 public constant METERS = 4;
    uint32 internal constant INTERVAL = 900;

    EnergyMarket public immutable REGISTRY;
    EnergyCredit public immutable ENERGY;
    CarbonCredit public immutable CARBON;
    MockStablecoin public immutable STABLECOIN;
    address public immutable ADMIN;
    address public immutable KEEPER;

    address[METERS] public meters;
    uint256[METERS] internal _keys;
    uint32[METERS] internal _capacities;
    address[2] public owners;
    address internal _stranger;
    uint256 internal _strangerKey;

    Model[METERS] internal _models;
    bool[METERS] internal _coversFromCredits;
    Vault[2] internal _vaults;
    IMeterRegistry.Reading[METERS] internal _lastAccepted;
    mapping(uint64 t => bool) internal _closed;
    uint16 internal _intensity;
    uint40 internal _window;
    uint256 public currentTime;

    // Ghost totals of attested volumes, from the `ReadingAccepted` events.
    uint256 public ghostImportDeltaSum;
    uint256 public ghostExportDeltaSum;
    // Ghost totals of settled volumes, from the `MetersSettled` records.
    uint256 public ghostSettledImport;
    uint256 public ghostSettledExport;
    uint256 public ghostCredited;
    uint256 public ghostCovered;
    uint256 public ghostGridSupplied;
    uint256 public ghostCarbonSettled;
    /// @dev The carbon the model says settlements earned: floor(export x intensity / 1000) per meter and
    /// settlement, at the intensity of the settlement.
    uint256 public ghostCarbonExpected;
    uint256 public ghostRetired;
    uint256 public ghostAccepted;
    uint256 public ghostMarketable;
    uint256 public ghostRejected;
    uint256 public ghostMismatches;
    uint256 public ghostDoubleCounted;
    /// @dev Readings the model rejected because a pending volume would pass uint32 (check 9's first half),
    /// to show the run reached it.
    uint256 public ghostPendingOverflows;
    uint256 public ghostFinalizeCalls;
    uint256 public ghostMetersSettled;
    uint256 public ghostMarketableSettledAfterClose;
    uint256 public ghostIntervalsClosed;
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
        EnergyMarket registry,
        MockStablecoin stablecoin,
        address admin,
        address keeper,
        address[2] memory owners_,
        uint256[METERS] memory keys,
        uint256 startTime
    ) {
        REGISTRY = registry;
        ENERGY = EnergyCredit(registry.ENERGY_CREDIT());
        CARBON = CarbonCredit(registry.CARBON_CREDIT());
        STABLECOIN = stablecoin;
        ADMIN = admin;
        KEEPER = keeper;
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
        _compareReadings(batch, expected, vm.getRecordedLogs(), accepted);
    }

    function warp(uint256 seconds_) external {
        currentTime += _bound(seconds_, 1, 3 * INTERVAL);
    }

    function warpPastWindow(uint256 seconds_) external {
        currentTime += _bound(seconds_, _window, _window + 2 * INTERVAL);
    }

    /// @dev The keeper closes an interval without a trade: the one of a meter's last reading, or the
    /// interval that just ended (before its readings arrive).
    function closeInterval(uint256 meterIndex, bool justEnded) external useTime {
        Model memory m = _models[meterIndex % METERS];
        uint256 end = justEnded || m.seq == 0 ? currentTime - currentTime % INTERVAL : m.lastIntervalEnd;
        uint64 t = SafeCast.toUint64(end / INTERVAL - 1);
        if (_closed[t]) return;
        vm.prank(KEEPER);
        REGISTRY.settle(t, 60_000, new uint256[](0), true);
        _closed[t] = true;
        ++ghostIntervalsClosed;
    }

    /// @dev Anyone finalizes a random set of meters, sometimes with the first one twice.
    function finalize(uint256 meterMask, bool repeatFirst) external useTime {
        meterMask = _bound(meterMask, 1, 2 ** METERS - 1);
        uint256 count = repeatFirst ? 1 : 0;
        for (uint256 i; i < METERS; ++i) {
            if ((meterMask >> i) & 1 == 1) ++count;
        }
        address[] memory list = new address[](count);
        Settlement[] memory expected = new Settlement[](METERS);
        uint256 expectedCount;
        uint256 j;
        for (uint256 i; i < METERS; ++i) {
            if ((meterMask >> i) & 1 == 0) continue;
            list[j++] = meters[i];
            if (_isFinal(_models[i])) expected[expectedCount++] = _settle(i);
        }
        if (repeatFirst) list[j] = list[0]; // settled already, or not final: never settled twice

        vm.recordLogs();
        uint256 settled = REGISTRY.finalize(list);
        ++ghostFinalizeCalls;
        _compareSettlements(expected, expectedCount, vm.getRecordedLogs(), settled);
    }

    /// @dev An owner opts a meter's unmatched import in or out of being covered from its credits (a
    /// standing order that sells at any price, so it never trades here: no keeper fills in this run).
    function setCover(uint256 meterIndex, bool cover) external useTime {
        uint256 i = meterIndex % METERS;
        vm.prank(owners[i % 2]);
        REGISTRY.placeOrder(
            meters[i],
            IEnergyMarket.OrderParams({
                sells: true,
                sellFloor: 0,
                buys: false,
                buyCeiling: 0,
                capWh: 0,
                validFrom: 0,
                validUntil: 0,
                coverFromCredits: cover
            })
        );
        _coversFromCredits[i] = cover;
    }

    /// @dev An owner takes some of an asset out of its vault.
    function withdraw(uint256 ownerIndex, uint256 assetIndex, uint256 amount) external useTime {
        uint256 o = _bound(ownerIndex, 0, 1);
        IEnergyMarket.Asset asset = IEnergyMarket.Asset(_bound(assetIndex, 0, 2));
        uint256 balance = _vaultBalance(o, asset);
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        vm.prank(owners[o]);
        REGISTRY.withdraw(asset, amount);
        _setVaultBalance(o, asset, balance - amount);
    }

    /// @dev An owner puts some of an asset from its wallet into its vault; stablecoin comes from the
    /// faucet first.
    function deposit(uint256 ownerIndex, uint256 assetIndex, uint256 amount) external useTime {
        uint256 o = _bound(ownerIndex, 0, 1);
        IEnergyMarket.Asset asset = IEnergyMarket.Asset(_bound(assetIndex, 0, 2));
        IERC20 token = IERC20(_token(asset));
        if (asset == IEnergyMarket.Asset.Stablecoin) {
            vm.prank(ADMIN);
            STABLECOIN.mint(owners[o], _bound(amount, 1, 1e12));
        }
        uint256 wallet = token.balanceOf(owners[o]);
        if (wallet == 0) return;
        amount = _bound(amount, 1, wallet);
        vm.startPrank(owners[o]);
        token.approve(address(REGISTRY), amount);
        REGISTRY.deposit(asset, amount);
        vm.stopPrank();
        _setVaultBalance(o, asset, _vaultBalance(o, asset) + amount);
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

    /// @dev One time in eight any `uint16` (an admin's typo): at tens of kg per kWh each settlement mints
    /// a lot of carbon, which must still fit.
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

    function vault(uint256 o) external view returns (Vault memory) {
        return _vaults[o];
    }

    /// @dev The pending volumes the registry holds right now, summed over the meters.
    function sumPending() external view returns (uint256 importWh, uint256 exportWh) {
        for (uint256 i; i < METERS; ++i) {
            IMeterRegistry.MeterState memory state = REGISTRY.meterState(meters[i]);
            importWh += state.pendingImportWh;
            exportWh += state.pendingExportWh;
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

        if (
            variant < 5 && m.seq != 0 && m.lastIntervalEnd + INTERVAL <= alignedNow
                && uint256(m.lastIntervalEnd) + INTERVAL + _window >= currentTime
        ) {
            // The interval right after the meter's last reading, as a meter catching up sends it within
            // the window: the one reading that may be marketable.
            reading.intervalEnd = m.lastIntervalEnd + INTERVAL;
            maxDelta = _craftingBound(i, reading.intervalEnd);
            reading.importWh = SafeCast.toUint48(m.importWh + (entropy >> 24) % (maxDelta + 1));
            reading.exportWh = SafeCast.toUint48(m.exportWh + (entropy >> 72) % (maxDelta + 1));
        } else if (variant == 6) {
            reading.importWh = m.importWh; // nothing at all: an empty marketable or residual reading
            reading.exportWh = m.exportWh;
        } else if (variant == 7) {
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

        if (variant < 6) {
            // One register in four stands still, as at night (no export) or on a sunny afternoon with
            // nobody home (no import): pending volumes with one side zero are what the marketable rule
            // must see through.
            if ((entropy >> 140) % 4 == 0) reading.importWh = m.importWh;
            if ((entropy >> 142) % 4 == 0) reading.exportWh = m.exportWh;
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
            // Marketable: it starts where the previous reading ended and nothing non-zero is pending.
            // Then the pending volumes are zero, so either way they grow by the deltas.
            e.marketable = reading.intervalEnd == uint256(m.lastIntervalEnd) + INTERVAL
                && m.pendingImportWh == 0 && m.pendingExportWh == 0;
            uint256 pendingImportWh = uint256(m.pendingImportWh) + e.importDeltaWh;
            uint256 pendingExportWh = uint256(m.pendingExportWh) + e.exportDeltaWh;
            if (pendingImportWh > type(uint32).max || pendingExportWh > type(uint32).max) {
                ++ghostPendingOverflows;
                return _reject(IMeterRegistry.RejectReason.ImplausibleDelta);
            }
            uint256 allowance = uint256(_capacities[i]) * (reading.intervalEnd - m.lastIntervalEnd);
            if (uint256(e.importDeltaWh) * 3600 > allowance || uint256(e.exportDeltaWh) * 3600 > allowance) {
                return _reject(IMeterRegistry.RejectReason.ImplausibleDelta);
            }
            m.pendingImportWh = SafeCast.toUint32(pendingImportWh);
            m.pendingExportWh = SafeCast.toUint32(pendingExportWh);
            m.pending = e.marketable ? IMeterRegistry.Pending.Marketable : IMeterRegistry.Pending.ResidualOnly;
        }
        e.accepted = true;
        m.seq = reading.seq;
        m.lastIntervalEnd = reading.intervalEnd;
        m.importWh = reading.importWh;
        m.exportWh = reading.exportWh;
        _lastAccepted[i] = reading;
        _batchAccepted.push((i << 32) | reading.seq);
    }

    /// @dev `finalize`'s rule: residual-only volumes at once; marketable ones once their interval is
    /// closed or older than the acceptance window; nothing pending, never.
    function _isFinal(Model memory m) internal view returns (bool) {
        if (m.pending == IMeterRegistry.Pending.ResidualOnly) return true;
        if (m.pending == IMeterRegistry.Pending.None) return false;
        return uint256(m.lastIntervalEnd) + _window < currentTime
            || _closed[uint64(m.lastIntervalEnd / INTERVAL - 1)];
    }

    /// @dev Settles meter `i`'s pending volumes in the model: export credited, import covered from the
    /// owner's credits (when opted in, after this export is credited) or left to the grid, carbon at the
    /// current intensity.
    function _settle(uint256 i) internal returns (Settlement memory s) {
        Model storage m = _models[i];
        Vault storage v = _vaults[i % 2];
        s.meterIndex = i;
        s.interval = uint64(m.lastIntervalEnd / INTERVAL - 1);
        s.creditedWh = m.pendingExportWh;
        uint256 credits = v.creditsWh + s.creditedWh;
        s.coveredWh = _coversFromCredits[i] ? _min(m.pendingImportWh, credits) : 0;
        s.gridSuppliedWh = m.pendingImportWh - s.coveredWh;
        s.carbonGrams = uint256(m.pendingExportWh) * _intensity / 1000;
        v.creditsWh = credits - s.coveredWh;
        v.carbonGrams += s.carbonGrams;
        ghostCarbonExpected += s.carbonGrams;
        if (m.pending == IMeterRegistry.Pending.Marketable) ++ghostMarketableSettledAfterClose;
        m.pendingImportWh = 0;
        m.pendingExportWh = 0;
        m.pending = IMeterRegistry.Pending.None;
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
    function _compareReadings(
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
                (uint32 seq,, uint48 importDelta, uint48 exportDelta, bool marketable) =
                    abi.decode(logs[l].data, (uint32, uint40, uint48, uint48, bool));
                if (
                    !expected[k].accepted || !meterMatches || seq != batch[k].seq
                        || importDelta != expected[k].importDeltaWh
                        || exportDelta != expected[k].exportDeltaWh || marketable != expected[k].marketable
                ) ++ghostMismatches;
                _bookAccepted(batch[k].meter, seq, importDelta, exportDelta, marketable);
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

    function _bookAccepted(
        address meter,
        uint32 seq,
        uint48 importDeltaWh,
        uint48 exportDeltaWh,
        bool marketable
    ) internal {
        ++ghostAccepted;
        if (marketable) ++ghostMarketable;
        if (++ghostAcceptedCount[meter][seq] > 1) ++ghostDoubleCounted;
        ghostImportDeltaSum += importDeltaWh;
        ghostExportDeltaSum += exportDeltaWh;
    }

    /// @dev Checks the `MetersSettled` records of a `finalize` against the predicted settlements, in order
    /// (one event, none when nothing was settled), and books what the records say was settled.
    function _compareSettlements(
        Settlement[] memory expected,
        uint256 expectedCount,
        Vm.Log[] memory logs,
        uint256 settled
    ) internal {
        uint256 events;
        bytes32[] memory words;
        for (uint256 l; l < logs.length; ++l) {
            if (logs[l].emitter != address(REGISTRY)) continue;
            if (logs[l].topics[0] != IEnergyMarket.MetersSettled.selector) {
                ++ghostMismatches;
                continue;
            }
            ++events;
            words = abi.decode(logs[l].data, (bytes32[]));
        }
        if (events != (expectedCount == 0 ? 0 : 1)) ++ghostMismatches;
        SettlementRecords.Record[] memory records = SettlementRecords.decodeAll(words);
        if (records.length != expectedCount || words.length != 2 * expectedCount) ++ghostMismatches;
        for (uint256 k; k < records.length && k < expectedCount; ++k) {
            Settlement memory s = expected[k];
            SettlementRecords.Record memory r = records[k];
            if (
                r.meter != meters[s.meterIndex] || r.interval != s.interval || r.tradedWh != 0 || r.bought
                    || r.amount != 0 || r.creditedWh != s.creditedWh || r.coveredWh != s.coveredWh
                    || r.gridSuppliedWh != s.gridSuppliedWh || r.carbonGrams != s.carbonGrams
            ) ++ghostMismatches;
            ghostSettledExport += r.creditedWh;
            ghostSettledImport += r.coveredWh + r.gridSuppliedWh;
            ghostCredited += r.creditedWh;
            ghostCovered += r.coveredWh;
            ghostGridSupplied += r.gridSuppliedWh;
            ghostCarbonSettled += r.carbonGrams;
        }
        if (settled != expectedCount) ++ghostMismatches;
        ghostMetersSettled += settled;
    }

    // ---------------------------------------------------------------- vault bookkeeping

    function _token(IEnergyMarket.Asset asset) internal view returns (address) {
        if (asset == IEnergyMarket.Asset.Stablecoin) return address(STABLECOIN);
        return asset == IEnergyMarket.Asset.EnergyCredit ? address(ENERGY) : address(CARBON);
    }

    function _vaultBalance(uint256 o, IEnergyMarket.Asset asset) internal view returns (uint256) {
        Vault storage v = _vaults[o];
        if (asset == IEnergyMarket.Asset.Stablecoin) return v.stablecoin;
        return asset == IEnergyMarket.Asset.EnergyCredit ? v.creditsWh : v.carbonGrams;
    }

    function _setVaultBalance(uint256 o, IEnergyMarket.Asset asset, uint256 balance) internal {
        Vault storage v = _vaults[o];
        if (asset == IEnergyMarket.Asset.Stablecoin) v.stablecoin = balance;
        else if (asset == IEnergyMarket.Asset.EnergyCredit) v.creditsWh = balance;
        else v.carbonGrams = balance;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}
