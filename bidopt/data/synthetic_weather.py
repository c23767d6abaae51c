"""Synthetic outdoor temperature (°C) like central Sweden, for heat pumps without a weather file.

A seasonal and a daily cosine plus a smooth day-to-day weather anomaly drawn per local day, so each
value is a pure function of (time, seed, parameters): one day alone equals the same day inside a
long range (the same rule as ``bidopt.data.synthetic``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bidopt.time import STOCKHOLM

_STREAM_TEMPERATURE = 11  # stream id of the per-day weather draws (synthetic.py uses 1-4)


def synthetic_outdoor_temp(
    index: pd.DatetimeIndex,
    seed: int = 0,
    annual_mean_c: float = 7.0,
    seasonal_amplitude_k: float = 10.0,
    daily_amplitude_k: float = 3.0,
    weather_sigma_k: float = 4.0,
    tz: str = STOCKHOLM,
) -> pd.Series:
    """Synthetic outdoor temperature (°C) on UTC MTU starts, like central Sweden.

    ``annual_mean - seasonal_amplitude * cos(2 pi (doy - 20) / 365.25)`` (coldest about 20 January)
    ``+ daily_amplitude * cos(2 pi (h - 15) / 24)`` (warmest about 15:00 local) plus a weather anomaly:
    each local day d has an anomaly ``sigma * (z_{d-2} + 2 z_{d-1} + 3 z_d + 2 z_{d+1} + z_{d+2}) / sqrt(19)``
    from standard normals z drawn per local day (``default_rng([seed, stream, ordinal])``), taken at
    local noon and interpolated linearly in between. Each value is a pure function of (time, seed,
    parameters), so one day alone equals the same day inside a long range. An MTU gets the mean of
    its quarter-hour midpoints, so 60-minute values are the means of the 15-minute ones.
    """
    idx = pd.DatetimeIndex(index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if len(idx) == 0:
        return pd.Series(np.zeros(0), index=idx, name="outdoor_temp_c")
    ns = idx.as_unit("ns").asi8
    step = int(np.min(np.diff(ns))) if len(idx) > 1 else pd.Timedelta(minutes=60).value
    k = max(step // pd.Timedelta(minutes=15).value, 1)
    quarter = pd.Timedelta(minutes=15).value
    pts = (ns[:, None] + (np.arange(k) * quarter + quarter // 2)[None, :]).ravel()
    local = pd.DatetimeIndex(pts, tz="UTC").tz_convert(tz)
    ordinal = _ordinals(local)
    hour = np.asarray(local.hour + local.minute / 60.0 + local.second / 3600.0, dtype=float)
    doy = np.asarray(local.day_of_year, dtype=float) + hour / 24.0

    lo, hi = int(ordinal.min()) - 3, int(ordinal.max()) + 4
    days = np.arange(lo, hi + 1)
    z = np.array([np.random.default_rng([int(seed) % (1 << 64), _STREAM_TEMPERATURE, int(d)]).standard_normal() for d in days])
    w = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    anomaly = np.convolve(z, w, mode="same") / math.sqrt(float(np.sum(w**2)))  # valid from lo+2 to hi-2
    x = ordinal + (hour - 12.0) / 24.0  # position in days, local noon at integers
    i0 = np.floor(x).astype(np.int64)
    frac = x - i0
    a = anomaly[i0 - lo] * (1.0 - frac) + anomaly[i0 + 1 - lo] * frac

    temp = (
        annual_mean_c
        - seasonal_amplitude_k * np.cos(2.0 * np.pi * (doy - 20.0) / 365.25)
        + daily_amplitude_k * np.cos(2.0 * np.pi * (hour - 15.0) / 24.0)
        + weather_sigma_k * a
    )
    return pd.Series(temp.reshape(len(idx), k).mean(axis=1), index=idx, name="outdoor_temp_c")


def _ordinals(local: pd.DatetimeIndex) -> np.ndarray:
    days = local.tz_localize(None).normalize().as_unit("ns")
    return (days.asi8 // pd.Timedelta(days=1).value + pd.Timestamp("1970-01-01").toordinal()).astype(np.int64)
