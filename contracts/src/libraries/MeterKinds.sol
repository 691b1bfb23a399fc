// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MeterKinds
/// @notice Bit flags describing what sits behind a meter, combined with `|` into `MeterInfo.kinds`.
/// @dev A meter with no flag set (`0`) is a plain consumer. The co-op sets `CRITICAL_LOAD` for medical
/// devices or refrigeration that keepers serve first when a feeder is islanded.
library MeterKinds {
    /// @notice Rooftop PV (or another generator) behind the meter.
    uint8 internal constant SOLAR = 1;
    /// @notice A home battery that can take part in VPP dispatch events.
    uint8 internal constant BATTERY = 2;
    /// @notice An EV charger (possibly bidirectional).
    uint8 internal constant EV = 4;
    /// @notice A critical load served first while the feeder is islanded.
    uint8 internal constant CRITICAL_LOAD = 8;
    /// @notice Every flag defined so far; any other bit is invalid.
    uint8 internal constant ALL = SOLAR | BATTERY | EV | CRITICAL_LOAD;

    /// @notice Whether `kinds` has every bit of `flag` set.
    function has(uint8 kinds, uint8 flag) internal pure returns (bool) {
        return kinds & flag == flag;
    }

    /// @notice Whether `kinds` uses only defined flags.
    function isValid(uint8 kinds) internal pure returns (bool) {
        return kinds & ~ALL == 0;
    }
}
