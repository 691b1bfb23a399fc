#!/usr/bin/env python3
"""Writes the bundled days' source responses (see README.md for where every number comes from).

Run from the repository root: python3 sim/days/derive.py
"""
import csv
import datetime as dt
import json
import math
from pathlib import Path

DAYS = Path(__file__).resolve().parent
AUSGRID = DAYS.parent.parent / "data/ausgrid-customer12/data_2011-2012.csv"
AUSGRID_KWP = 1.04
PERFORMANCE_RATIO = 0.80


def unix(date, hour=0, minute=0):
    return int(dt.datetime(*date, hour, minute, tzinfo=dt.timezone.utc).timestamp())


def iso(ts, seconds=False):
    fmt = "%Y-%m-%dT%H:%M" + ("" if not seconds else ":%S")
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(fmt)


def write(path, value):
    path.write_text(json.dumps(value, indent=1) + "\n")


def awattar(date, prices):
    start = unix(date)
    return {
        "object": "list",
        "data": [
            {
                "start_timestamp": (start + 3600 * h) * 1000,
                "end_timestamp": (start + 3600 * (h + 1)) * 1000,
                "marketprice": price,
                "unit": "Eur/MWh",
            }
            for h, price in enumerate(prices)
        ],
        "url": "/de/v1/marketdata",
    }


def index(value):
    for bound, name in ((40, "very low"), (120, "low"), (200, "moderate"), (290, "high")):
        if value < bound:
            return name
    return "very high"


def carbon(date, forecasts, actuals):
    start = unix(date)
    return {
        "data": [
            {
                "from": iso(start + 1800 * i) + "Z",
                "to": iso(start + 1800 * (i + 1)) + "Z",
                "intensity": {"forecast": f, "actual": a, "index": index(a if a is not None else f)},
            }
            for i, (f, a) in enumerate(zip(forecasts, actuals))
        ]
    }


def gauss(x, mu, sigma):
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


# ---- cloudy-winter: 2023-01-01 ----
WINTER = (2023, 1, 1)
# Recorded: Open-Meteo's historical forecast API for Berlin (52.52 N, 13.42 E), 2023-01-01 and -02
# (GMT), the two variables the oracle reads, from a VCR cassette (a recorded HTTP answer) in
# klaasnotfound/epex-spot-forecast: test/api/cassettes/test_open_meteo/test_get_historical_forecast.yaml
winter_times = [f"2023-01-0{d}T{h:02d}:00" for d in (1, 2) for h in range(24)]
winter_temperature = [15.9, 15.6, 15.3, 15.4, 15.2, 15.0, 15.0, 14.5, 14.5, 14.8, 14.9, 15.2, 15.8,
                      15.7, 15.3, 14.7, 13.8, 12.9, 12.1, 11.9, 11.7, 11.5, 11.5, 11.5, 11.5, 11.4,
                      11.4, 11.8, 12.1, 12.2, 12.6, 12.6, 12.6, 13.7, 14.0, 14.2, 14.5, 14.4, 14.2,
                      14.7, 13.9, 12.6, 12.0, 11.3, 10.7, 10.2, 9.8, 9.5]
winter_radiation = [0.0] * 8 + [6.0, 30.0, 50.0, 76.0, 111.0, 95.0, 44.0, 16.0] + [0.0] * 16 \
    + [5.0, 28.0, 60.0, 60.0, 42.0, 50.0, 52.0, 14.0] + [0.0] * 8
write(DAYS / "cloudy-winter/open-meteo.json", {
    "latitude": 52.52, "longitude": 13.419998, "generationtime_ms": 45.89354991912842,
    "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 38.0,
    "hourly_units": {"time": "iso8601", "temperature_2m": "°C", "shortwave_radiation": "W/m²"},
    "hourly": {"time": winter_times, "temperature_2m": winter_temperature,
               "shortwave_radiation": winter_radiation},
})
# Recorded: EPEX day-ahead auction prices (DE-LU) of New Year's Day 2024, UTC hours 00-23, from
# Energy-Charts' answer recorded in the same repository's VCR cassette
# test/api/cassettes/test_energy_charts/test_get_weekly_market_data.yaml (series "Day Ahead Auction
# (DE-LU)", week 1 2024, first value 2023-12-31T23:00Z), laid on New Year's Day 2023.
write(DAYS / "cloudy-winter/awattar.json", awattar(WINTER, [
    0.01, 0.0, -0.01, -0.03, -0.02, -0.05, -0.02, 0.0, 0.04, 0.06, 0.54, 2.24,
    1.96, 1.04, 3.66, 43.06, 49.93, 58.0, 54.25, 48.01, 42.95, 47.09, 35.55, 30.59]))
# Constructed: 170 g/kWh base, +50 around 17:30, +25 around 08:30, -20 around 03:30.
winter_ci = [round(170 + 50 * gauss(h, 17.5, 2.0) + 25 * gauss(h, 8.5, 1.5) - 20 * gauss(h, 3.5, 2.0))
             for h in (i / 2 + 0.25 for i in range(48))]
write(DAYS / "cloudy-winter/carbon-intensity.json", carbon(WINTER, winter_ci, winter_ci))

# ---- sunny-spring: 2020-05-22 ----
SPRING = (2020, 5, 22)
# Derived: Ausgrid customer 12's PV output on 2011-11-15 (a clear late-spring day in Sydney),
# moved from Sydney daylight time (UTC+11) to standard time (UTC+10) and laid on the UTC clock,
# irradiance = kW / kWp / PR * 1000 W/m2; Open-Meteo's hourly radiation is the preceding hour's mean.
rows = list(csv.reader(AUSGRID.open()))[1:]
day = 137  # 2011-11-15
assert rows[day * 48][0].startswith("2011-11-15")
# Standard time = daylight time - 1 h: clock slot s holds the data slot s + 2.
pv_kw = [float(r[2]) for r in rows[day * 48 + 2:(day + 1) * 48 + 2]]
half_hour_irradiance = [kw / AUSGRID_KWP / PERFORMANCE_RATIO * 1000 for kw in pv_kw]
spring_radiation = [0.0] + [round((half_hour_irradiance[2 * h] + half_hour_irradiance[2 * h + 1]) / 2, 1)
                            for h in range(23)]
# Constructed: a sine between 10 C at 05:00 and 20 C at 15:00.
spring_temperature = [round(15 - 5 * math.cos(math.pi * ((h - 5) % 24) / 10) if 5 <= h <= 15
                            else 15 + 5 * math.cos(math.pi * ((h - 15) % 24) / 14), 1) for h in range(24)]
write(DAYS / "sunny-spring/open-meteo.json", {
    "latitude": 51.5, "longitude": 0.0, "generationtime_ms": 0.0,
    "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 0.0,
    "hourly_units": {"time": "iso8601", "temperature_2m": "°C", "shortwave_radiation": "W/m²"},
    "hourly": {"time": [f"2020-05-22T{h:02d}:00" for h in range(24)],
               "temperature_2m": spring_temperature, "shortwave_radiation": spring_radiation},
})
# Constructed: a sunny spring day-ahead shape with a midday solar dip below zero.
write(DAYS / "sunny-spring/awattar.json", awattar(SPRING, [
    38.0, 34.0, 31.0, 30.0, 31.0, 35.0, 42.0, 48.0, 40.0, 28.0, 15.0, 5.0,
    -2.0, -5.0, -3.0, 6.0, 20.0, 38.0, 52.0, 60.0, 58.0, 50.0, 45.0, 40.0]))
# Recorded: National Grid ESO's published forecast for 2020-05-22 00:00-21:00 UTC (42 half hours,
# `actual` still null when recorded); the last 6 half hours repeat the last recorded value.
recorded = [98, 91, 86, 82, 79, 77, 75, 73, 72, 71, 70, 69, 68, 67, 67, 67, 67, 66, 65, 65, 65, 65,
            65, 65, 64, 63, 62, 61, 60, 60, 61, 63, 65, 67, 68, 68, 68, 68, 68, 68, 68, 68]
spring_ci = recorded + [68] * 6
write(DAYS / "sunny-spring/carbon-intensity.json", carbon(SPRING, spring_ci, [None] * 48))
