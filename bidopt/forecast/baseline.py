"""Baseline price forecasters: seasonal-naive point forecast plus bootstrapped historical errors.

What is known at the gate
-------------------------
Look-ahead is prevented by publication times, not by convention. Every history value gets the time
it was published (``publication_time``), and everything published after the gate is dropped before
any other step. Values of the delivery day itself or later are never inputs either (the forecast is
*for* that day), whatever the gate.

* Day-ahead (``price_scenarios``): the prices of local delivery day X are published at 12:45
  Europe/Stockholm on X-1 (MARKET_RULES 1.1, "results published 12:45 CET"). The default gate for day
  D is the SDAC gate closure, D-1 12:00 local. So at the gate the prices of D-1 (published D-2 12:45)
  are the latest known; D's (published D-1 12:45) are not.
* FCR capacity (``fcr_price_scenarios``): the hourly price of day X is taken as final once auction
  2 (gate 18:00 X-1 under every rule so far, MARKET_RULES 3.2) is cleared, published at 19:00 local
  on X-1 (an assumed clearing lag). The default gate for day D is auction 1 under the rules in force
  on D (``bidopt/defaults/fcr_rules.toml``): D-1 00:30 local from 1 Jun 2023, so the FCR prices of
  D-1 (cleared in the auctions held on D-2) are the latest known; D-2 15:00 before, so D-1's prices
  (published D-2 19:00) are not known either and D-2's are the latest. A case's own gate comes from
  ``bidopt.markets.fcr.gate_utc`` (``[markets.fcr]`` may override the table).

Method
------
The history (any resolution; finer than hourly is averaged to UTC hours) is laid out as a matrix of
complete local days x 24 local clock hours: the repeated autumn hour is averaged, the missing spring
hour is filled with the hour before it. A day with any hour missing is left out.

Point forecast for day d and clock hour h (``method``):

* ``"blend"`` (default): ``weight_last * P(d-1, h) + (1 - weight_last) * P(d-7, h)``, the last known
  day blended with the same weekday a week earlier;
* ``"naive"``: the "naive" benchmark of electricity price forecasting (Nowotarski & Weron):
  Tuesday-Friday take day d-1, Saturday-Monday take the same weekday a week earlier, d-7.

Defaults were chosen on real data (every day, point = median scenario): SE3 day-ahead 2021-03..2022-12,
MAE 42.9 EUR/MWh with ``weight_last`` 0.7 against 46.0 (0.5), 44.3 (1.0), 63.2 (0.0) and 47.7
(``"naive"``); DK2 FCR-N 2021, MAE 3.8 EUR/MW/h with 1.0 (persistence) against 4.4 (0.7) and 5.9
(``"naive"``), so the FCR default is ``weight_last=1.0``.

For the forecast day the "last day" is the latest complete known day before D (D-1 under the default
gates) and a missing week-ago day falls back to it. The lag L (days from the last published day to
D: 1 under the default gates, 2 for FCR before 1 Jun 2023) is used for the errors too: each past day
d is forecast from day d-L (and d-7, or d-7k with 7k >= L), as D is, so the residuals measure the
error at the horizon the forecast really has.

Errors: the same method is run on each day d of the ``lookback_days`` before D whose actual prices
and inputs are all known at the gate, giving daily residual profiles ``actual(d) - forecast(d)``.
Scenario s is ``forecast(D) + residual(d_s)`` with whole residual days drawn by a generator seeded with
``(seed, D)`` (without replacement while there are enough days, with replacement beyond), so the
intra-day error shape is kept and the result is deterministic per seed and day. The hourly scenarios
are put on the MTUs of D by local clock hour (held over the quarter-hours of 15-minute MTUs; both
copies of the repeated autumn hour get the same value). Probabilities are equal. FCR capacity
scenarios are clipped at 0 (capacity prices are not negative).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import xarray as xr

from bidopt import time as btime
from bidopt.errors import InputError
from bidopt.forecast import scenarios as sc

DA_PUBLICATION = dt.time(12, 45)  # day-ahead results of day X, on X-1 (local)
DA_GATE = dt.time(12, 0)  # SDAC gate closure for day D, on D-1 (local)
FCR_PUBLICATION = dt.time(19, 0)  # FCR prices of day X final after auction 2 (GCT 18:00 X-1), assumed lag
FCR_GATE = dt.time(0, 30)  # FCR auction 1 gate closure for day D, on D-1 (local), from 1 Jun 2023
METHODS = ("naive", "blend")
_HOURS = 24


def publication_time(index, at: dt.time = DA_PUBLICATION, tz: str = btime.STOCKHOLM, days_before: int = 1) -> pd.DatetimeIndex:
    """When each value of ``index`` (UTC MTU starts) was published: ``at`` local time, ``days_before``
    days before the value's local delivery day (default: 12:45 Europe/Stockholm on D-1), in UTC."""
    idx = pd.DatetimeIndex(index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    local_day = idx.tz_convert(tz).tz_localize(None).normalize()
    offset = pd.Timedelta(hours=at.hour, minutes=at.minute, seconds=at.second) - pd.Timedelta(days=days_before)
    # the default times are never ambiguous or missing; a time in the DST hour is read as summer time
    stamps = local_day + offset
    return stamps.tz_localize(tz, ambiguous=np.ones(len(stamps), bool), nonexistent="shift_forward").tz_convert("UTC")


def gate_time(day, at: dt.time = DA_GATE, tz: str = btime.STOCKHOLM, days_before: int = 1) -> pd.Timestamp:
    """The gate for delivery day ``day``: ``at`` local time ``days_before`` days before it, in UTC."""
    d = btime.day_of(day) - dt.timedelta(days=days_before)
    return pd.Timestamp(dt.datetime.combine(d, at)).tz_localize(tz).tz_convert("UTC")


def fcr_gate_time(day, auction: int = 1, tz: str = btime.STOCKHOLM) -> pd.Timestamp:
    """The gate of FCR ``auction`` for delivery ``day`` under the default rules in force on that day
    (``bidopt/defaults/fcr_rules.toml``), in UTC. A case's gate: ``bidopt.markets.fcr.gate_utc``."""
    from bidopt.markets import fcr

    return fcr.rules_in_force(day).gate_utc(day, auction, tz)


def known_at(history: pd.Series, gate_utc, at: dt.time = DA_PUBLICATION, tz: str = btime.STOCKHOLM) -> pd.Series:
    """The part of ``history`` published at or before ``gate_utc``."""
    s = _clean(history)
    pub = publication_time(s.index, at, tz)
    return s[np.asarray(pub <= btime.utc_timestamp(gate_utc))]


# ------------------------------------------------------------------------------------------- public


def price_scenarios(
    history: pd.Series,
    day,
    n_scenarios: int = 20,
    mtu_minutes: int = 60,
    seed: int = 0,
    gate_utc=None,
    lookback_days: int = 56,
    tz: str = btime.STOCKHOLM,
    method: str = "blend",
    weight_last: float = 0.7,
) -> xr.DataArray:
    """Day-ahead price scenarios (EUR/MWh) for local delivery day ``day`` from ``history`` (UTC series).

    Only values published (12:45 local on the day before their delivery day) at or before ``gate_utc``
    (default: D-1 12:00 local) are used. Returns a scenario cube ``price_eur_per_mwh`` on the MTUs of
    ``day`` with equal probabilities. Raises ``InputError`` when the known history is too short.
    """
    return _scenarios(
        history, day, n_scenarios, mtu_minutes, seed,
        gate_utc if gate_utc is not None else gate_time(day, DA_GATE, tz),
        lookback_days, tz, method, weight_last, DA_PUBLICATION, sc.PRICE, floor=None,
    )


def fcr_price_scenarios(
    history: pd.Series,
    day,
    n_scenarios: int = 20,
    mtu_minutes: int = 60,
    seed: int = 0,
    gate_utc=None,
    lookback_days: int = 28,
    tz: str = btime.STOCKHOLM,
    method: str = "blend",
    weight_last: float = 1.0,
) -> xr.DataArray:
    """Hourly FCR capacity price scenarios (EUR/MW/h) for ``day`` from ``history`` (UTC hourly series).

    Only prices published (19:00 local on the day before their delivery day, after auction 2) at or
    before ``gate_utc`` are used; default: the FCR auction-1 gate in force on ``day``
    (``fcr_gate_time``: D-1 00:30 local from 1 Jun 2023, D-2 15:00 before). Clipped at 0. Returns a
    cube ``price_eur_per_mw_h`` on the ``mtu_minutes`` MTUs of ``day`` (60: one per product hour).
    """
    return _scenarios(
        history, day, n_scenarios, mtu_minutes, seed,
        gate_utc if gate_utc is not None else fcr_gate_time(day, 1, tz),
        lookback_days, tz, method, weight_last, FCR_PUBLICATION, sc.CAPACITY_PRICE, floor=0.0,
    )


def capacity_price_scenarios(history: pd.Series, day, gate_utc, published: dt.time, n_scenarios: int = 20,
                             seed: int = 0, lookback_days: int = 28, tz: str = btime.STOCKHOLM,
                             mtu_minutes: int = 60, weight_last: float = 1.0) -> xr.DataArray:
    """Hourly clearing-price scenarios (EUR/MW/h) of any capacity product for ``day``, as
    ``fcr_price_scenarios`` but with the product's own publication time (``published``, local, on
    the day before delivery) and bid gate ``gate_utc`` (``bidopt.markets.base.Product``). Clipped at 0."""
    return _scenarios(history, day, n_scenarios, mtu_minutes, seed, gate_utc, lookback_days, tz, "blend",
                      weight_last, published, sc.CAPACITY_PRICE, floor=0.0)


# ------------------------------------------------------------------------------------------ helpers


def _clean(history: pd.Series) -> pd.Series:
    if not isinstance(history, pd.Series) or not isinstance(history.index, pd.DatetimeIndex):
        raise InputError(None, "history", "expected a pandas Series on a DatetimeIndex of UTC MTU starts")
    s = history.astype(float)
    idx = s.index.tz_localize("UTC") if s.index.tz is None else s.index.tz_convert("UTC")
    s = pd.Series(s.to_numpy(), index=idx, name=history.name).sort_index()
    s = s[s.notna()]
    if np.isinf(s.to_numpy()).any():
        raise InputError(None, "history", f"infinite value at {s.index[np.argmax(np.isinf(s.to_numpy()))]}")
    if s.index.has_duplicates:
        raise InputError(None, "history", f"duplicate timestamp {s.index[s.index.duplicated()][0]}")
    return s


def _day_matrix(hourly: pd.Series, first: dt.date, n_days: int, tz: str) -> np.ndarray:
    """(n_days, 24) prices by local day (from ``first``) and local clock hour; NaN rows = incomplete."""
    mat = np.full((n_days, _HOURS), np.nan)
    if len(hourly) == 0:
        return mat
    local = hourly.index.tz_convert(tz)
    k = np.asarray((local.tz_localize(None).normalize() - pd.Timestamp(first)).days)
    h = np.asarray(local.hour)
    keep = (k >= 0) & (k < n_days)
    k, h, v = k[keep], h[keep], hourly.to_numpy()[keep]
    total = np.zeros((n_days, _HOURS))
    count = np.zeros((n_days, _HOURS))
    np.add.at(total, (k, h), v)
    np.add.at(count, (k, h), 1.0)
    hours_seen = np.bincount(k, minlength=n_days)
    days = [first + dt.timedelta(days=i) for i in range(n_days)]
    expect = np.array([_day_hours(d, tz) for d in days])
    with np.errstate(invalid="ignore", divide="ignore"):
        mat = total / count
    # the missing spring hour: hold the hour before it
    for i in np.flatnonzero(expect == 23):
        gap = np.flatnonzero(count[i] == 0)
        for g in gap:
            if g > 0:
                mat[i, g] = mat[i, g - 1]
    mat[hours_seen != expect] = np.nan
    mat[np.isnan(mat).any(axis=1)] = np.nan
    return mat


def _lag(D: dt.date, gate: pd.Timestamp, published: dt.time, tz: str) -> int:
    """Days from the latest delivery day whose values are published by ``gate`` to ``D`` (>= 1)."""
    for k in range(1, 8):
        first_mtu = btime.day_bounds_utc(D - dt.timedelta(days=k), tz)[0]
        if publication_time(pd.DatetimeIndex([first_mtu]), published, tz)[0] <= gate:
            return k
    return 7


@lru_cache(maxsize=8192)
def _day_hours(day: dt.date, tz: str) -> int:
    start, end = btime.day_bounds_utc(day, tz)
    return int((end - start) / pd.Timedelta(hours=1))


def _point(mat: np.ndarray, i: int, weekday: int, method: str, w: float, fallback: bool,
           lag: int = 1) -> np.ndarray | None:
    """Forecast row for matrix day ``i`` (weekday Monday=0) from rows at least ``lag`` days before it
    ("last": day i - lag; "week": i - 7k, the latest same weekday at least ``lag`` back); None if
    inputs are missing."""
    back = 7 * -(-lag // 7)
    last = mat[i - lag] if i >= lag else np.full(_HOURS, np.nan)
    week = mat[i - back] if i >= back else np.full(_HOURS, np.nan)
    if fallback:
        if np.isnan(last).any():
            ok = np.flatnonzero(~np.isnan(mat[:i]).any(axis=1))
            if len(ok) == 0:
                return None
            last = mat[ok[-1]]
        if np.isnan(week).any():
            week = last
    if method == "naive":
        f = last if 1 <= weekday <= 4 else week
    else:
        f = w * last + (1.0 - w) * week
    return None if np.isnan(f).any() else f


def _scenarios(history, day, n, mtu_minutes, seed, gate_utc, lookback, tz, method, w, published, name, floor):
    if method not in METHODS:
        raise InputError(None, "method", f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if not 0.0 <= float(w) <= 1.0:
        raise InputError(None, "weight_last", f"must lie in [0, 1], got {w}")
    if int(n) < 1:
        raise InputError(None, "n_scenarios", f"need at least one scenario, got {n}")
    if int(lookback) < 1:
        raise InputError(None, "lookback_days", f"need at least one day, got {lookback}")
    D = btime.day_of(day)
    gate = btime.utc_timestamp(gate_utc)
    index = btime.delivery_index(D, mtu_minutes, tz)

    first = D - dt.timedelta(days=int(lookback) + 7)
    n_days = (D - first).days + 1  # rows first .. D (row of D stays empty)
    s = _clean(history)
    s = s[s.index >= btime.day_bounds_utc(first, tz)[0]]  # only the window is needed (speed)
    # 1. what was published by the gate -- the only filter that decides what is known
    s = s[np.asarray(publication_time(s.index, published, tz) <= gate)]
    # 2. nothing of the forecast day or later is an input
    s = s[s.index < index[0]]
    hourly = btime.to_hourly(s) if len(s) and btime.hours_per_mtu(s.index) < 1.0 else s

    mat = _day_matrix(hourly, first, n_days, tz)
    mat[-1] = np.nan
    weekday = np.array([(first + dt.timedelta(days=i)).weekday() for i in range(n_days)])

    lag = _lag(D, gate, published, tz)
    f = _point(mat, n_days - 1, weekday[-1], method, w, fallback=True, lag=lag)
    if f is None:
        raise InputError(None, "history", f"no complete local day of prices known at the gate "
                         f"({gate:%Y-%m-%dT%H:%MZ}) before {D}")
    residuals, days_used = [], []
    for i in range(n_days - 1 - int(lookback), n_days - 1):
        if np.isnan(mat[i]).any():
            continue
        g = _point(mat, i, weekday[i], method, w, fallback=False, lag=lag)
        if g is not None:
            residuals.append(mat[i] - g)
            days_used.append(first + dt.timedelta(days=i))
    if not residuals:
        raise InputError(None, "history", f"no day in the {lookback} days before {D} with prices and "
                         f"forecast inputs known at the gate ({gate:%Y-%m-%dT%H:%MZ}); need at least 8 days of history")
    R = np.vstack(residuals)
    rng = np.random.default_rng([int(seed) % (1 << 63), D.toordinal()])
    pick = rng.choice(len(R), size=int(n), replace=int(n) > len(R))
    hourly_scen = f[None, :] + R[pick]
    if floor is not None:
        hourly_scen = np.maximum(hourly_scen, floor)
    clock = np.asarray(index.tz_convert(tz).hour)
    values = hourly_scen[:, clock]
    return sc.make_scenarios(
        values, index, name=name,
        attrs={
            "method": f"seasonal-{method}" + (f" (weight_last={w:g})" if method == "blend" else "")
            + " + bootstrapped daily residuals",
            "gate_utc": gate.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seed": int(seed),
            "residual_days": len(R),
            "lag_days": lag,
            "residual_first_day": days_used[0].isoformat(),
            "residual_last_day": days_used[-1].isoformat(),
            "point_by_clock_hour": [float(v) for v in f],
        },
    )
