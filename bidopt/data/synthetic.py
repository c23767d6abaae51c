"""Seeded, deterministic synthetic demo data: day-ahead prices, household load and PV.

Lets the demo case run offline without data files. Every function takes a UTC ``DatetimeIndex`` of
MTU starts (15, 30 or 60 minutes; any date; 23/24/25-hour Stockholm days) and returns a Series on that
index. A naive index is read as UTC.
The MTU length comes from ``index.freq``, else the smallest step; a lone timestamp without a frequency
is taken as the coarsest MTU it is aligned to (60 min on the hour).

Determinism
-----------
Each value is a pure function of (timestamp, MTU length, seed, parameters). Randomness is drawn per
*local delivery day* (Europe/Stockholm) from ``numpy.random.default_rng([seed, stream, ..., ordinal])``
with a fixed number of draws per day, never from a sequential global RNG. So one day generated alone is
identical to the same day inside a year-long range. Internally each local day is built on a grid of
quarter-hours; a 30- or 60-minute MTU gets the mean of its quarter-hours (energy-consistent), so the
hourly mean of 15-minute values equals the 60-minute value.

Day-ahead price model (``dayahead_prices``, EUR/MWh, rounded to the 0.01 EUR/MWh tick)
------------------------------------------------------------------------------------
Per local day ``d`` and local clock hour ``h`` (hour midpoints):

* Season ``s(d) = cos(2 pi (doy - 15) / 365.25)``: +1 mid-January, -1 mid-July.
* Day level ``L(d) = level_z * (1 + seasonal_z * s) * w(d) * exp(0.30 e_sys - 0.045) * exp(0.08 e_zone
  - 0.0032)``: ``level_z`` is the zone's base level in EUR/MWh (SE3 77: annual mean about 60-90;
  SE1/SE2 lower, SE4 higher, see ``ZONES``), ``seasonal_z`` the relative winter/summer swing,
  ``w`` the weekend discount (Saturday 0.85, Sunday 0.78), ``e_sys`` a system-wide daily level shock
  shared by all zones and ``e_zone`` a small zone-specific one (both standard normal, mean-preserving).
* Daily shape in local time ``S(h)``: night trough about 03-04, morning peak about 08, evening peak about
  18-19, plus a midday solar dip that deepens on sunny summer days (normalised to a mean of 1).
* Hourly price ``L * S(h) * exp(0.07 a_h) + 2.0 b_h`` with ``a`` an AR(1) (phi 0.7) normal path within
  the day and ``b`` white noise in EUR/MWh.
* Negative hours: on sunny (daily clear-sky index from the PV cloud model, same seed) spring/summer
  days, mostly weekends, a midday window of 3-7 hours goes below zero, to about -20..-5 EUR/MWh,
  with low positive shoulders. Over a year this is a few % of hours (``negative_z`` scales it).
* Spikes: rarely, on winter days, 1-3 evening hours (from 17-19 local) jump to 300-800 EUR/MWh
  (``spike_z`` scales the daily probability ``0.08 * max(s, 0) ** 1.5``).
* Quarter-hours: each hour is held for its four quarters plus a zero-mean (within the hour) deviation:
  a ramp towards the neighbouring hours and small noise, so 15-minute prices vary within the hour.
* Everything is clipped to the exchange limits [``PRICE_FLOOR_EUR_PER_MWH``, ``PRICE_CAP_EUR_PER_MWH``]
  = [-500, 4000] EUR/MWh (harmonised SDAC limits when written; synthetic data only, the optimiser
  reads the real caps from configuration).

Load (``base_load``, MW) is a residential/commercial profile with morning and evening peaks (later,
flatter morning at weekends), about 30 % higher in winter than the annual middle, a daily level shock
and small smooth noise; ``peak_mw`` is the typical winter weekday evening peak. PV (``pv_profile``,
MW) is a clear-sky (Haurwitz) irradiance from the solar elevation at the MTU midpoint (declination and
equation of time from day of year, local solar time from UTC and longitude 18 E), times a cloudiness
factor (daily clear-sky index drawn per day with sunnier summers, plus smooth intra-day variation),
times a 0.9 performance ratio, capped at ``capacity_mw``; zero with the sun below the horizon.

CLI: ``python -m bidopt.data.synthetic --start 2024-01-01 --end 2024-12-31 --mtu 60 --seed 7 --out
prices.csv`` writes ``timestamp_utc,price_eur_per_mwh`` (ISO 8601 UTC, ``Z``) for the local delivery
days from ``--start`` through ``--end``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import zlib

import numpy as np
import pandas as pd

from bidopt.data.synthetic_grid import (
    NS_PER_HOUR,
    H,
    Layout,
    Q,
    bump,
    day_rng,
    empty_series,
    grid_ns,
    layout,
    local_hours,
    season_of,
    to_mtu,
)
from bidopt.time import VALID_MTU_MINUTES, horizon_index

SYNTHETIC = "synthetic"  # the data reference (a case field's value) that asks for this generator
PRICE_FLOOR_EUR_PER_MWH = -500.0
PRICE_CAP_EUR_PER_MWH = 4000.0
PV_LONGITUDE_DEG = 18.0  # east, about Stockholm; sets local solar time

_QUARTER_SHAPE = np.array([-0.375, -0.125, 0.125, 0.375])

# stream ids of the per-day random generators
_STREAM_PRICE = 1
_STREAM_LOAD = 2
_STREAM_CLOUD = 3
_STREAM_ZONE = 4


@dataclasses.dataclass(frozen=True)
class ZoneParams:
    """Synthetic price parameters of one bidding zone.

    level: base level, EUR/MWh (the annual mean ends up near it); seasonal: relative winter (+) /
    summer (-) swing of the day level; spike: multiplier of the winter spike probability; negative:
    multiplier of the negative-price event probability.
    """

    level: float
    seasonal: float
    spike: float
    negative: float


ZONES: dict[str, ZoneParams] = {
    "SE1": ZoneParams(level=44.0, seasonal=0.45, spike=0.3, negative=1.3),
    "SE2": ZoneParams(level=46.0, seasonal=0.45, spike=0.3, negative=1.3),
    "SE3": ZoneParams(level=77.0, seasonal=0.40, spike=1.0, negative=1.0),
    "SE4": ZoneParams(level=95.0, seasonal=0.38, spike=1.4, negative=0.9),
    "FI": ZoneParams(level=74.0, seasonal=0.40, spike=1.0, negative=1.1),
    "NO1": ZoneParams(level=67.0, seasonal=0.35, spike=0.6, negative=0.7),
    "DK1": ZoneParams(level=92.0, seasonal=0.30, spike=1.0, negative=1.2),
    "DK2": ZoneParams(level=95.0, seasonal=0.33, spike=1.3, negative=1.0),
}


# --------------------------------------------------------------------------------------------------
# clouds (shared by PV and the negative-price events)


def _clouds(lay: Layout, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily clear-sky index (n_days,) and quarter-hour clear-sky index (n_days, Q), both in (0, 1]."""
    k_day = np.empty(lay.n_days)
    z = np.empty((lay.n_days, H + 1))
    summer = (1.0 - season_of(lay.doy)) / 2.0  # 0 mid-January .. 1 mid-July
    mean = 0.35 + 0.30 * summer
    for i, ordinal in enumerate(lay.ordinal):
        rng = day_rng(seed, _STREAM_CLOUD, ordinal)
        u = rng.random()
        z[i] = rng.standard_normal(H + 1)
        # Kumaraswamy-like transform of u with the seasonal mean: fixed draws per day
        k_day[i] = u ** ((1.0 - mean[i]) / mean[i] * 0.9)
    k_day = np.clip(k_day, 0.08, 1.0)
    pos = (np.arange(Q) + 0.5) / 4.0
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    zq = z[:, lo] * (1.0 - frac) + z[:, lo + 1] * frac
    spread = 0.5 * np.sqrt(k_day * (1.0 - k_day))
    k_q = np.clip(k_day[:, None] + spread[:, None] * zq, 0.05, 1.0)
    return k_day, k_q


# --------------------------------------------------------------------------------------------------
# prices


def _price_shape(h: np.ndarray) -> np.ndarray:
    return 1.0 - 0.25 * bump(h, 3.5, 2.2) + 0.18 * bump(h, 8.0, 1.3) + 0.26 * bump(h, 18.5, 1.6)


_SHAPE_NORM = float(_price_shape(np.arange(24) + 0.5).mean())


@dataclasses.dataclass(frozen=True)
class _PriceDraws:
    """The random numbers of each local day (rows), drawn in a fixed order per day."""

    e_sys: np.ndarray  # system-wide day level shock
    e_zone: np.ndarray  # zone-specific day level shock
    a: np.ndarray  # (n, H) innovations of the within-day AR(1) path
    b: np.ndarray  # (n, H) white noise, EUR/MWh
    zone_noise: np.ndarray  # (n, H) zone-specific path noise
    neg_u: np.ndarray  # negative-window event draw
    neg_par: np.ndarray  # (n, 3) its centre, half-width and depth
    spike_u: np.ndarray  # winter spike event draw
    spike_start: np.ndarray  # its first local hour
    spike_len: np.ndarray  # its length in hours
    spike_height: np.ndarray  # (n, 3) its heights, EUR/MWh
    qnoise: np.ndarray  # (n, Q) quarter-hour noise


def _price_draws(lay: Layout, seed: int, zone: str) -> _PriceDraws:
    n = lay.n_days
    e_sys = np.empty(n)
    e_zone = np.empty(n)
    a = np.empty((n, H))
    b = np.empty((n, H))
    zone_noise = np.empty((n, H))
    neg_u = np.empty(n)
    neg_par = np.empty((n, 3))
    spike_u = np.empty(n)
    spike_start = np.empty(n, dtype=np.int64)
    spike_len = np.empty(n, dtype=np.int64)
    spike_height = np.empty((n, 3))
    qnoise = np.empty((n, Q))
    zone_id = zlib.crc32(zone.encode())
    for i, ordinal in enumerate(lay.ordinal):
        rng = day_rng(seed, _STREAM_PRICE, ordinal)
        e_sys[i] = rng.standard_normal()
        a[i] = rng.standard_normal(H)
        b[i] = rng.standard_normal(H)
        neg_u[i] = rng.random()
        neg_par[i] = rng.random(3)
        spike_u[i] = rng.random()
        spike_start[i] = rng.integers(17, 20)
        spike_len[i] = rng.integers(1, 4)
        spike_height[i] = rng.uniform(300.0, 800.0, 3)
        qnoise[i] = rng.standard_normal(Q)
        zrng = day_rng(seed, _STREAM_ZONE, zone_id, ordinal)
        e_zone[i] = zrng.standard_normal()
        zone_noise[i] = zrng.standard_normal(H)
    return _PriceDraws(e_sys, e_zone, a, b, zone_noise, neg_u, neg_par, spike_u, spike_start, spike_len,
                       spike_height, qnoise)


def _hourly_prices(lay: Layout, zp: ZoneParams, d: _PriceDraws, sunny: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Day level x daily shape x the AR(1) path, plus noise (EUR/MWh, (n_days, H))."""
    n = lay.n_days
    season = season_of(lay.doy)
    summer = (1.0 - season) / 2.0
    weekend = np.select([lay.weekday == 5, lay.weekday == 6], [0.85, 0.78], 1.0)
    level = (
        zp.level
        * (1.0 + zp.seasonal * season)
        * weekend
        * np.exp(0.30 * d.e_sys - 0.045)
        * np.exp(0.08 * d.e_zone - 0.0032)
    )
    dip = 0.35 * summer**2 * sunny
    shape = (_price_shape(h) - dip[:, None] * bump(h, 13.0, 2.2)) / _SHAPE_NORM

    # AR(1) path within the day, mixing in a little zone-specific noise
    path = np.empty((n, H))
    path[:, 0] = d.a[:, 0]
    for j in range(1, H):
        path[:, j] = 0.7 * path[:, j - 1] + np.sqrt(1.0 - 0.49) * d.a[:, j]
    path = np.sqrt(0.85) * path + np.sqrt(0.15) * d.zone_noise
    return level[:, None] * shape * np.exp(0.07 * path - 0.00245) + 2.0 * d.b


def _negative_window(p: np.ndarray, lay: Layout, zp: ZoneParams, d: _PriceDraws, sunny: np.ndarray,
                     h: np.ndarray) -> np.ndarray:
    """A negative midday window on sunny spring/summer days, mostly weekends."""
    summer = (1.0 - season_of(lay.doy)) / 2.0
    p_neg = zp.negative * np.where(lay.weekday >= 5, 1.0, 0.4) * summer**2 * sunny
    event = d.neg_u < p_neg
    centre = 12.5 + 2.0 * d.neg_par[:, 0]
    half = 1.5 + 2.0 * d.neg_par[:, 1]
    depth = 5.0 + 15.0 * d.neg_par[:, 2]
    dist = np.abs(h - centre[:, None])
    inside = event[:, None] & (dist <= half[:, None])
    shoulder = event[:, None] & (dist > half[:, None]) & (dist <= half[:, None] + 1.5)
    neg = -depth[:, None] * (1.0 - 0.7 * (dist / half[:, None]) ** 2) + 1.0 * d.b
    return np.where(inside, neg, np.where(shoulder, 0.35 * p, p))


def _winter_spikes(p: np.ndarray, lay: Layout, zp: ZoneParams, d: _PriceDraws, h: np.ndarray) -> np.ndarray:
    """Rare winter evening spikes, then the exchange limits."""
    p_spike = zp.spike * 0.08 * np.maximum(season_of(lay.doy), 0.0) ** 1.5
    clock = np.floor(h).astype(np.int64)
    rel = clock - d.spike_start[:, None]
    in_spike = (d.spike_u < p_spike)[:, None] & (rel >= 0) & (rel < d.spike_len[:, None])
    heights = d.spike_height[np.arange(lay.n_days)[:, None], np.clip(rel, 0, 2)]
    p = np.where(in_spike, np.maximum(p, heights), p)
    return np.clip(p, PRICE_FLOOR_EUR_PER_MWH, PRICE_CAP_EUR_PER_MWH)


def _quarter_hours(p: np.ndarray, lay: Layout, qnoise: np.ndarray) -> np.ndarray:
    """Quarter-hours (n_days, Q): each hour held, plus a zero-mean ramp towards its neighbours and noise."""
    n = lay.n_days
    hours = np.arange(H)
    last = lay.n_hours[:, None] - 1
    prev_i = np.clip(hours - 1, 0, None)[None, :].repeat(n, axis=0)
    next_i = np.minimum(hours + 1, last)
    prev_i = np.minimum(prev_i, last)
    span = np.maximum(next_i - prev_i, 1)
    slope = (np.take_along_axis(p, next_i, axis=1) - np.take_along_axis(p, prev_i, axis=1)) / span
    ramp = 0.6 * slope[:, :, None] * _QUARTER_SHAPE
    noise = qnoise.reshape(n, H, 4) * (0.015 * np.abs(p) + 0.3)[:, :, None]
    noise -= noise.mean(axis=2, keepdims=True)
    grid_q = (p[:, :, None] + ramp + noise).reshape(n, Q)
    return np.clip(grid_q, PRICE_FLOOR_EUR_PER_MWH, PRICE_CAP_EUR_PER_MWH)


def dayahead_prices(index: pd.DatetimeIndex, zone: str = "SE3", seed: int = 0) -> pd.Series:
    """Synthetic day-ahead prices in EUR/MWh for ``zone`` on a UTC MTU index (model: module docstring)."""
    if zone not in ZONES:
        raise ValueError(f"unknown zone {zone!r}; known: {sorted(ZONES)}")
    name = "price_eur_per_mwh"
    if len(index) == 0:
        return empty_series(index, name)
    zp = ZONES[zone]
    lay = layout(index)
    draws = _price_draws(lay, seed, zone)
    k_day, _ = _clouds(lay, seed)
    sunny = np.clip((k_day - 0.4) / 0.35, 0.0, 1.0)
    h = local_hours(grid_ns(lay, 60, H))  # local clock hour at each hour's midpoint
    p = _hourly_prices(lay, zp, draws, sunny, h)
    p = _negative_window(p, lay, zp, draws, sunny, h)
    p = _winter_spikes(p, lay, zp, draws, h)
    values = np.round(to_mtu(_quarter_hours(p, lay, draws.qnoise), lay), 2)
    return pd.Series(values, index=lay.index, name=name)


# --------------------------------------------------------------------------------------------------
# load


def _load_shape(h: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    weekday_shape = 0.42 + 0.33 * bump(h, 7.5, 1.2) + 0.18 * bump(h, 12.5, 2.5) + 0.50 * bump(h, 19.0, 2.0)
    weekend_shape = (
        0.45 + 0.28 * bump(h, 10.0, 2.0) + 0.20 * bump(h, 13.0, 3.0) + 0.50 * bump(h, 19.0, 2.2)
    )
    return np.where(weekend, weekend_shape, weekday_shape)


_LOAD_NORM = float(_load_shape(np.linspace(0.0, 24.0, 24 * 60, endpoint=False), np.array(False)).max())


def base_load(index: pd.DatetimeIndex, peak_mw: float = 0.05, seed: int = 0) -> pd.Series:
    """Synthetic residential/commercial consumption in MW (> 0); ``peak_mw`` is the winter weekday peak."""
    name = "load_mw"
    if len(index) == 0:
        return empty_series(index, name)
    lay = layout(index)
    n = lay.n_days
    shock = np.empty(n)
    z = np.empty((n, H + 1))
    w = np.empty((n, Q))
    for i, ordinal in enumerate(lay.ordinal):
        rng = day_rng(seed, _STREAM_LOAD, ordinal)
        shock[i] = rng.standard_normal()
        z[i] = rng.standard_normal(H + 1)
        w[i] = rng.standard_normal(Q)
    h = local_hours(grid_ns(lay, 15, Q))
    weekend = (lay.weekday >= 5)[:, None]
    seasonal = (1.0 + 0.3 * season_of(lay.doy)) / 1.3
    pos = (np.arange(Q) + 0.5) / 4.0
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    smooth = z[:, lo] * (1.0 - frac) + z[:, lo + 1] * frac
    factor = np.exp(0.05 * shock[:, None] + 0.04 * smooth + 0.02 * w)
    grid_q = peak_mw * _load_shape(h, weekend) / _LOAD_NORM * seasonal[:, None] * factor
    grid_q = np.maximum(grid_q, 0.05 * abs(peak_mw))
    return pd.Series(to_mtu(grid_q, lay), index=lay.index, name=name)


# --------------------------------------------------------------------------------------------------
# PV


def _sin_elevation(ns: np.ndarray, doy: np.ndarray, latitude: float) -> np.ndarray:
    """Sine of the solar elevation at UTC ns (n_days, m), for each row's day of year."""
    utc_hours = (ns % (24 * NS_PER_HOUR)) / NS_PER_HOUR
    day = doy[:, None].astype(float)
    decl = np.deg2rad(23.44) * np.sin(2.0 * np.pi * (284.0 + day) / 365.0)
    bb = 2.0 * np.pi * (day - 81.0) / 364.0
    eot_min = 9.87 * np.sin(2.0 * bb) - 7.53 * np.cos(bb) - 1.5 * np.sin(bb)
    solar_time = utc_hours + PV_LONGITUDE_DEG / 15.0 + eot_min / 60.0
    omega = np.deg2rad(15.0 * (solar_time - 12.0))
    phi = np.deg2rad(latitude)
    return np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(omega)


def pv_profile(
    index: pd.DatetimeIndex, capacity_mw: float = 0.1, latitude: float = 59.3, seed: int = 0
) -> pd.Series:
    """Synthetic PV generation in MW (>= 0, <= ``capacity_mw``); ``latitude`` in degrees north."""
    name = "pv_mw"
    if len(index) == 0:
        return empty_series(index, name)
    lay = layout(index)
    sin_el = _sin_elevation(grid_ns(lay, 15, Q), lay.doy, latitude)
    up = sin_el > 0.0
    safe = np.where(up, sin_el, 1.0)
    ghi_clear = np.where(up, 1098.0 * safe * np.exp(-0.057 / safe), 0.0)  # W/m2, Haurwitz
    _, k_q = _clouds(lay, seed)
    grid_q = capacity_mw * np.clip(0.9 * ghi_clear * k_q / 1000.0, 0.0, 1.0)
    return pd.Series(to_mtu(grid_q, lay), index=lay.index, name=name)


# --------------------------------------------------------------------------------------------------


def demo_frame(
    index: pd.DatetimeIndex,
    seed: int = 0,
    zone: str = "SE3",
    load_peak_mw: float = 0.05,
    pv_capacity_mw: float = 0.1,
) -> pd.DataFrame:
    """Prices, load and PV on one index: columns price_eur_per_mwh, load_mw, pv_mw."""
    frame = pd.concat(
        [
            dayahead_prices(index, zone=zone, seed=seed),
            base_load(index, peak_mw=load_peak_mw, seed=seed),
            pv_profile(index, capacity_mw=pv_capacity_mw, seed=seed),
        ],
        axis=1,
    )
    frame.index.name = "timestamp_utc"
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bidopt.data.synthetic", description="Write synthetic day-ahead prices as CSV."
    )
    parser.add_argument("--start", required=True, help="first local delivery day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last local delivery day (inclusive), YYYY-MM-DD")
    parser.add_argument("--mtu", type=int, default=60, choices=VALID_MTU_MINUTES, help="MTU in minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zone", default="SE3", choices=sorted(ZONES))
    parser.add_argument("--out", default="-", help="output CSV path, '-' for stdout")
    args = parser.parse_args(argv)
    index = horizon_index(args.start, args.end, args.mtu)
    prices = dayahead_prices(index, zone=args.zone, seed=args.seed)
    out = pd.DataFrame(
        {"timestamp_utc": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mwh": prices.to_numpy()}
    )
    if args.out == "-":
        out.to_csv(sys.stdout, index=False, float_format="%.2f")
    else:
        out.to_csv(args.out, index=False, float_format="%.2f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
