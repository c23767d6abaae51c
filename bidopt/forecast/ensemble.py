"""Ensemble day-ahead price forecaster: LEAR averaged with two recent-profile forecasts, EUR/MWh.

A battery's plan depends on which hours of the day are cheap and dear more than on the day's level,
and the hour-to-hour shape of a day is better estimated from several recent days than from one
model fit. The point forecast of day d at local clock hour h is the equal-weight mean of three
forecasts, each using only prices known at d's gate (lag L, 1 under the default gate):

    f(d, h) = ( LEAR(d, h) + mean_{k=0..6} P(d-L-k, h) + mean_{k=0..13} P(d-L-k, h) ) / 3

``LEAR`` is ``bidopt.forecast.lear`` (its model of d's anchor, fit on days known before d); the
profile means skip days with missing prices. Equal weights, not weights fit on a period: a fixed
simple combination is the choice that held across zones and years in the measurement
(docs/forecasting.md, "decision value": a battery planned on each forecast and paid realised prices,
every day of 2021 and 2022, SE1-SE4).

Scenarios: the same ensemble forecasts each of the ``residual_days`` latest days known at the gate
(out of sample: LEAR's model of that day's anchor, profiles of the days before it); the residual
day r_d = P(d) - f(d) in EUR/MWh, all hours together. Scenario s is f(D) + r_{d_s} - mean_s' r_{d_s'}
with whole residual days drawn as in ``bidopt.forecast.lear`` (seeded with ``(seed, D)``), centred
on the drawn set so that the scenarios' mean is the point forecast (the ``expected`` strategy plans
on it): different days put the forecast's errors, and so the cheap and dear hours, in different
places.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import xarray as xr

from bidopt.errors import InputError
from bidopt.forecast import scenarios as sc
from bidopt.forecast.lear import Calibrated, draw

PROFILE_DAYS = (7, 14)  # the recent-profile forecasts: mean of the last 7 and of the last 14 known days


def profile(cal: Calibrated, d: dt.date, n_days: int) -> np.ndarray | None:
    """Mean price by clock hour of the ``n_days`` days known at d's gate (d-L back), complete days
    only; None when none of them is complete."""
    hi = cal.row(d) - cal.lag
    rows = np.arange(max(hi - n_days + 1, 0), hi + 1)
    rows = rows[~np.isnan(cal.target[rows]).any(axis=1)]
    return cal.target[rows].mean(axis=0) if len(rows) else None


def point(cal: Calibrated, d: dt.date) -> np.ndarray:
    """The ensemble forecast of day ``d`` by clock hour (module docstring)."""
    parts = [cal.forecast(d)] + [p for n in PROFILE_DAYS if (p := profile(cal, d, n)) is not None]
    return np.mean(parts, axis=0)


def ensemble_price_scenarios(history: pd.Series, day, n_scenarios: int = 20, seed: int = 0,
                             **calibration) -> xr.DataArray:
    """Day-ahead price scenarios (EUR/MWh) for local delivery day ``day`` (module docstring).
    ``calibration``: the other arguments of ``bidopt.forecast.lear.lear_price_scenarios``
    (``mtu_minutes``, ``gate_utc``, ``lookback_days``, ``tz``, ``zones``, ``refit_days``,
    ``residual_days``), for ``lear.Calibrated``. Raises ``InputError`` when the known history is too
    short for LEAR."""
    if int(n_scenarios) < 1:
        raise InputError(None, "n_scenarios", f"must be at least 1, got {n_scenarios}")
    cal = Calibrated(history, day, **calibration)
    f_D = point(cal, cal.D)
    used = cal.residual_days()
    R = np.vstack([cal.target[cal.row(d)] - point(cal, d) for d in used])
    drawn = R[draw(len(R), n_scenarios, seed, cal.D)]
    hourly = f_D[None, :] + drawn - drawn.mean(axis=0)
    method = (f"ensemble: mean of LEAR and the {' and '.join(map(str, PROFILE_DAYS))}-day mean profiles"
              " + centred out-of-sample residual days (EUR/MWh)")
    return sc.make_scenarios(cal.by_mtu(hourly), cal.index, name=sc.PRICE, attrs=cal.attrs(seed, used, method, f_D))
