// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Feeds
/// @notice The ids of the OracleHub's feeds and what their answers mean: an answer divided by
/// `10 ** decimals(feed)` is a value in the unit `description(feed)` names.
library Feeds {
    /// @notice Spot price: stablecoin base units (6 decimals) per MWh.
    uint8 internal constant SPOT_PRICE = 0;
    /// @notice Solar irradiance (global horizontal): W/m2.
    uint8 internal constant SOLAR_IRRADIANCE = 1;
    /// @notice Air temperature: centi-degC.
    uint8 internal constant TEMPERATURE = 2;
    /// @notice Grid carbon intensity: g CO2e/kWh.
    uint8 internal constant CARBON_INTENSITY = 3;

    /// @notice The feed has no id `feed`.
    error FeedsUnknownFeed(uint8 feed);

    /// @notice The decimals of `feed`'s answers.
    function decimals(uint8 feed) internal pure returns (uint8) {
        if (feed == SPOT_PRICE) return 6;
        if (feed == TEMPERATURE) return 2;
        if (feed == SOLAR_IRRADIANCE || feed == CARBON_INTENSITY) return 0;
        revert FeedsUnknownFeed(feed);
    }

    /// @notice A Chainlink-style description of `feed`: the project, the feed and the unit of
    /// `answer / 10 ** decimals(feed)`.
    function description(uint8 feed) internal pure returns (string memory) {
        if (feed == SPOT_PRICE) return "cogrid SPOT_PRICE (stablecoin/MWh)";
        if (feed == SOLAR_IRRADIANCE) return "cogrid SOLAR_IRRADIANCE (W/m2)";
        if (feed == TEMPERATURE) return "cogrid TEMPERATURE (degC)";
        if (feed == CARBON_INTENSITY) return "cogrid CARBON_INTENSITY (gCO2e/kWh)";
        revert FeedsUnknownFeed(feed);
    }
}
