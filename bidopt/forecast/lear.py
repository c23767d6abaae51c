"""LEAR day-ahead price forecaster: one L1-regularised linear model per clock hour, with scenarios.

After the LEAR benchmark of Lago, Marcjasz, De Schutter & Weron (2021, Applied Energy 293, 116983):
prices in EUR/MWh, models per local clock hour on variance-stabilised prices, Lasso with the
regularisation chosen by AIC (scikit-learn ``LassoLarsIC``), calibrated on a rolling window of the
days known at the gate. docs/forecasting.md has the choices, their reasons and the evaluation.

Known at the gate: as ``bidopt.forecast.baseline`` (every value is dropped unless published, 12:45
local on the day before its delivery day, at or before the gate; nothing of the forecast day or
later is an input). The lag L (days from the latest published day to D, 1 under the default gate)
applies to every training row too: day d is explained by days d-L, d-L-1, d-L-2 and d-W (W the
first multiple of 7 above L+2: 7 for L = 1), as D is.

Features of day d (one row, the same for all 24 hour models): the target zone's prices of days
d-L, d-L-1, d-L-2 and d-W at all 24 clock hours; for each extra zone (``zones``) the mean, minimum
and maximum of its prices on day d-L; 7 weekday dummies and a Swedish (de facto) holiday dummy of
day d. Prices and price features are normalised per column by median and MAD (x 1.4826; the
standard deviation when the MAD is 0) over the calibration window and put through asinh; the
model is fit and forecast in that space and transformed back (sinh, scale, median).

Calibration: the models are refit every ``refit_days`` days, on fixed anchor days (those whose
ordinal is a multiple of ``refit_days``); the model for day D is the one of the latest anchor
A <= D, fit on the ``lookback_days`` days up to A-L (the days known at A's gate). Fits are cached by
the content of their training data, so the cache only saves time and never changes a result.

Scenarios: out-of-sample residual days. For each of the ``residual_days`` latest days d known at
the gate, the model of d's anchor (fit on data before d) forecasts d; the residual day is
``z(actual d) - z(forecast d)`` in the transformed space, all 24 hours together. Scenario s is the
forecast of D plus one residual day drawn by a generator seeded with ``(seed, D)`` (without
replacement while there are enough days), transformed back: whole days keep the within-day
dependence, and different days put the cheap and dear hours in different places. Hourly values
are put on the MTUs of D by local clock hour (held over quarter-hours; both copies of the repeated
autumn hour alike). Probabilities are equal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LassoLarsIC
from threadpoolctl import threadpool_limits

from bidopt import time as btime
from bidopt.errors import InputError
from bidopt.forecast import scenarios as sc
from bidopt.forecast.baseline import (
    DA_GATE,
    DA_PUBLICATION,
    _clean,
    _day_matrix,
    _lag,
    gate_time,
    publication_time,
)
from bidopt.forecast.holidays_se import is_holiday

HOURS = 24
N_CALENDAR = 8  # 7 weekday dummies + holiday
MAD_TO_SIGMA = 1.4826
MIN_ALPHA = 1e-5  # penalty floor: AIC at the end of the path (alpha 0) would be plain least squares
Z_MARGIN = 2.0  # asinh units a forecast may go beyond the calibration window's range (x e^2 ~ 7.4)
_CACHE: OrderedDict[str, HourModels] = OrderedDict()
_CACHE_SIZE = 64


@dataclass(frozen=True)
class HourModels:
    """24 fitted hour models with the transforms of their calibration window."""

    x_center: np.ndarray  # (p,) medians of the price features (0 for dummies)
    x_scale: np.ndarray  # (p,)
    x_price: np.ndarray  # (p,) bool: transformed with asinh
    y_center: np.ndarray  # (24,)
    y_scale: np.ndarray  # (24,)
    coef: np.ndarray  # (24, p)
    intercept: np.ndarray  # (24,)
    alpha: np.ndarray  # (24,) regularisation chosen by AIC
    z_low: np.ndarray  # (24,) least and greatest transformed price of the calibration window
    z_high: np.ndarray  # (24,)
    n_rows: int

    def features(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.x_center) / self.x_scale
        return np.where(self.x_price, np.arcsinh(z), x)

    def z(self, prices: np.ndarray) -> np.ndarray:
        return np.arcsinh((prices - self.y_center) / self.y_scale)

    def prices(self, z: np.ndarray) -> np.ndarray:
        """Back to EUR/MWh, ``z`` first kept within the window's range widened by ``Z_MARGIN``."""
        return np.sinh(np.clip(z, self.z_low - Z_MARGIN, self.z_high + Z_MARGIN)) * self.y_scale + self.y_center

    def predict_z(self, x: np.ndarray) -> np.ndarray:
        """Forecast in the transformed space: rows of raw features -> (rows, 24)."""
        return self.features(np.atleast_2d(x)) @ self.coef.T + self.intercept


def _robust_scale(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = np.median(a, axis=0)
    scale = np.median(np.abs(a - center), axis=0) * MAD_TO_SIGMA
    std = a.std(axis=0)
    scale = np.where(scale > 1e-9, scale, np.where(std > 1e-9, std, 1.0))
    return center, scale


def fit_hour_models(X: np.ndarray, Y: np.ndarray, n_calendar: int = N_CALENDAR) -> HourModels:
    """Fit 24 hour models, hour h on ``Y[:, h]``, in the transformed space, as LEAR does: the penalty
    of the least AIC on the LARS path (``LassoLarsIC(criterion="aic")``), then the coefficients by
    coordinate descent at that penalty (``Lasso``), which stays well-conditioned where LARS meets
    near-collinear features (SE1 and SE2 prices are equal in most hours)."""
    p = X.shape[1]
    price = np.arange(p) < p - n_calendar
    xc, xs = _robust_scale(X)
    xc, xs = np.where(price, xc, 0.0), np.where(price, xs, 1.0)
    yc, ys = _robust_scale(Y)
    m = HourModels(xc, xs, price, yc, ys, np.zeros((HOURS, p)), np.zeros(HOURS), np.zeros(HOURS),
                   np.zeros(HOURS), np.zeros(HOURS), len(X))
    Xt, Yt = m.features(X), m.z(Y)
    m.z_low[:], m.z_high[:] = Yt.min(axis=0), Yt.max(axis=0)
    # one BLAS thread: on a busy machine OpenBLAS's threads make these small fits several times slower
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        noise = _ols_noise_variance(Xt, Yt)
        # near-collinear features make LARS drop regressors (warned); its penalty is still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        for h in range(HOURS):
            alpha = max(float(LassoLarsIC(criterion="aic", noise_variance=noise[h]).fit(Xt, Yt[:, h]).alpha_),
                        MIN_ALPHA)
            est = Lasso(alpha=alpha, max_iter=5000).fit(Xt, Yt[:, h])
            m.coef[h], m.intercept[h], m.alpha[h] = est.coef_, est.intercept_, alpha
    return m


def _ols_noise_variance(Xt: np.ndarray, Yt: np.ndarray) -> np.ndarray:
    """Per hour, the residual variance of the unpenalised least-squares fit with intercept, divided
    by n - p - 1: the estimate ``LassoLarsIC`` makes itself, done once for all 24 hours."""
    A = np.column_stack([Xt, np.ones(len(Xt))])
    coef, *_ = np.linalg.lstsq(A, Yt, rcond=None)
    resid = Yt - A @ coef
    dof = max(len(Xt) - A.shape[1], 1)
    return np.maximum((resid**2).sum(axis=0) / dof, 1e-12)


def _cached_fit(X: np.ndarray, Y: np.ndarray) -> HourModels:
    key = hashlib.blake2b(np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(Y).tobytes()
                          + str(X.shape).encode(), digest_size=20).hexdigest()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    m = fit_hour_models(X, Y)
    _CACHE[key] = m
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return m


def anchor(day: dt.date, refit_days: int) -> dt.date:
    """The refit day in force on ``day``: the latest day <= it whose ordinal is a multiple of ``refit_days``."""
    return day - dt.timedelta(days=day.toordinal() % int(refit_days))


def _shift(M: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(M, np.nan)
    if k < len(M):
        out[k:] = M[: len(M) - k]
    return out


def design(target: np.ndarray, extra: list[np.ndarray], first: dt.date, lag: int) -> np.ndarray:
    """Raw feature rows for every matrix day (NaN where an input is missing); module docstring."""
    week = 7 * -(-(lag + 3) // 7)
    parts = [_shift(target, lag), _shift(target, lag + 1), _shift(target, lag + 2), _shift(target, week)]
    for E in extra:
        e = _shift(E, lag)
        parts.append(np.column_stack([e.mean(axis=1), e.min(axis=1), e.max(axis=1)]))
    days = [first + dt.timedelta(days=i) for i in range(len(target))]
    cal = np.zeros((len(days), N_CALENDAR))
    cal[np.arange(len(days)), [d.weekday() for d in days]] = 1.0
    cal[:, 7] = [is_holiday(d) for d in days]
    parts.append(cal)
    return np.hstack(parts)


def _known_matrix(history: pd.Series, first: dt.date, n_days: int, gate: pd.Timestamp,
                  start_of_day: pd.Timestamp, tz: str) -> np.ndarray:
    s = _clean(history)
    s = s[(s.index >= btime.day_bounds_utc(first, tz)[0]) & (s.index < start_of_day)]
    s = s[np.asarray(publication_time(s.index, DA_PUBLICATION, tz) <= gate)]
    hourly = btime.to_hourly(s) if len(s) and btime.hours_per_mtu(s.index) < 1.0 else s
    mat = _day_matrix(hourly, first, n_days, tz)
    mat[-1] = np.nan
    return mat


class Calibrated:
    """LEAR set up for delivery day ``D`` (``lear_price_scenarios`` has the arguments): the known price
    matrix by local day and clock hour, the feature rows, and the anchor models fit on demand.

    ``z_forecast(d)`` forecasts day d (D, or a day before it) in the transformed space with the model
    of d's anchor, which was fit on days known before d's gate: out of sample for every d."""

    def __init__(self, history: pd.Series, day, mtu_minutes: int = 60, gate_utc=None, lookback_days: int = 364,
                 tz: str = btime.STOCKHOLM, zones: dict[str, pd.Series] | None = None, refit_days: int = 7,
                 residual_days: int = 28):
        for name, v, low in (("refit_days", refit_days, 1), ("residual_days", residual_days, 1),
                             ("lookback_days", lookback_days, 28)):
            if int(v) < low:
                raise InputError(None, name, f"must be at least {low}, got {v}")
        D = btime.day_of(day)
        self.D, self.tz = D, tz
        self.refit_days, self.lookback_days = int(refit_days), int(lookback_days)
        self.gate = btime.utc_timestamp(gate_utc) if gate_utc is not None else gate_time(D, DA_GATE, tz)
        self.index = btime.delivery_index(D, mtu_minutes, tz)
        self.lag = lag = _lag(D, self.gate, DA_PUBLICATION, tz)
        week = 7 * -(-(lag + 3) // 7)
        self.last_residual = D - dt.timedelta(days=lag)
        self.first_residual = self.last_residual - dt.timedelta(days=int(residual_days) - 1)
        oldest_anchor = anchor(self.first_residual, refit_days)
        self.first = oldest_anchor - dt.timedelta(days=lag + int(lookback_days) - 1 + week)
        n_days = (D - self.first).days + 1
        self.target = _known_matrix(history, self.first, n_days, self.gate, self.index[0], tz)
        extra = [_known_matrix(s, self.first, n_days, self.gate, self.index[0], tz)
                 for _, s in sorted((zones or {}).items())]
        self.zones = ",".join(sorted(zones or {}))
        self.X = design(self.target, extra, self.first, lag)
        self.complete = ~np.isnan(self.X).any(axis=1) & ~np.isnan(self.target).any(axis=1)
        self._fitted: dict[dt.date, HourModels] = {}
        if np.isnan(self.X[self.row(D)]).any():
            raise InputError(None, "history", f"LEAR for {D}: the prices of days {D - dt.timedelta(days=lag + 2)} .. "
                             f"{D - dt.timedelta(days=lag)} and {D - dt.timedelta(days=week)} (every zone) must be "
                             f"known at the gate ({self.gate:%Y-%m-%dT%H:%MZ})")

    def row(self, d: dt.date) -> int:
        return (d - self.first).days

    def model(self, d: dt.date) -> HourModels:
        """The model in force on day ``d`` (that of its anchor)."""
        a = anchor(d, self.refit_days)
        if a not in self._fitted:
            hi = self.row(a) - self.lag  # the last day known at the anchor's gate
            rows = np.arange(max(hi - self.lookback_days + 1, 0), hi + 1)
            rows = rows[self.complete[rows]]
            if len(rows) <= self.X.shape[1] + 1:
                raise InputError(None, "history", f"LEAR for {self.D} needs more than {self.X.shape[1] + 1} complete "
                                 f"days of prices known before {a} (found {len(rows)} in the {self.lookback_days} "
                                 "days before)")
            self._fitted[a] = _cached_fit(self.X[rows], self.target[rows])
        return self._fitted[a]

    def z_forecast(self, d: dt.date) -> np.ndarray:
        return self.model(d).predict_z(self.X[self.row(d)])[0]

    def forecast(self, d: dt.date) -> np.ndarray:
        """Point forecast of day ``d`` by clock hour, EUR/MWh."""
        return self.model(d).prices(self.z_forecast(d))

    def residual_days(self) -> list[dt.date]:
        """The complete days of the residual window (known at the gate), oldest first."""
        out, d = [], self.first_residual
        while d <= self.last_residual:
            if self.complete[self.row(d)]:
                out.append(d)
            d += dt.timedelta(days=1)
        if not out:
            raise InputError(None, "history", f"LEAR for {self.D}: no complete day in the residual window "
                             f"{self.first_residual} .. {self.last_residual} known at the gate")
        return out

    def by_mtu(self, hourly: np.ndarray) -> np.ndarray:
        """Clock-hour values (..., 24) on the MTUs of D (held over quarter-hours, both copies of the
        repeated autumn hour alike)."""
        return hourly[..., np.asarray(self.index.tz_convert(self.tz).hour)]

    def attrs(self, seed: int, used: list[dt.date], method: str, point: np.ndarray) -> dict:
        return {"method": method, "gate_utc": self.gate.strftime("%Y-%m-%dT%H:%M:%SZ"), "seed": int(seed),
                "lag_days": self.lag, "calibration_days": self.model(self.D).n_rows,
                "anchor_day": anchor(self.D, self.refit_days).isoformat(), "zones": self.zones,
                "residual_days": len(used), "residual_first_day": used[0].isoformat(),
                "residual_last_day": used[-1].isoformat(), "point_by_clock_hour": [float(v) for v in point]}


def draw(n_residuals: int, n_scenarios: int, seed: int, day: dt.date) -> np.ndarray:
    """Indices of the residual days of each scenario: a generator seeded with ``(seed, day)``, without
    replacement while there are enough days."""
    rng = np.random.default_rng([int(seed) % (1 << 63), day.toordinal()])
    return rng.choice(n_residuals, size=int(n_scenarios), replace=int(n_scenarios) > n_residuals)


def lear_price_scenarios(
    history: pd.Series,
    day,
    n_scenarios: int = 20,
    mtu_minutes: int = 60,
    seed: int = 0,
    gate_utc=None,
    lookback_days: int = 364,
    tz: str = btime.STOCKHOLM,
    zones: dict[str, pd.Series] | None = None,
    refit_days: int = 7,
    residual_days: int = 28,
) -> xr.DataArray:
    """Day-ahead price scenarios (EUR/MWh) for local delivery day ``day`` by LEAR (module docstring).

    ``history``: the zone's prices (UTC series, any MTU); ``zones``: other zones' prices as extra
    features (name -> series). Only values published at or before ``gate_utc`` (default D-1 12:00
    local) are used. Returns a scenario cube ``price_eur_per_mwh`` on the MTUs of ``day``.
    Raises ``InputError`` when the known history is too short.
    """
    if int(n_scenarios) < 1:
        raise InputError(None, "n_scenarios", f"must be at least 1, got {n_scenarios}")
    cal = Calibrated(history, day, mtu_minutes, gate_utc, lookback_days, tz, zones, refit_days, residual_days)
    D = cal.D
    m_D = cal.model(D)
    z_D = cal.z_forecast(D)
    used = cal.residual_days()
    R = np.vstack([cal.model(d).z(cal.target[cal.row(d)]) - cal.z_forecast(d) for d in used])
    hourly = m_D.prices(z_D[None, :] + R[draw(len(R), n_scenarios, seed, D)])
    method = ("lear (LassoLarsIC aic per clock hour, asinh of median/MAD-normalised prices)"
              " + out-of-sample residual days")
    return sc.make_scenarios(cal.by_mtu(hourly), cal.index, name=sc.PRICE,
                             attrs=cal.attrs(seed, used, method, m_D.prices(z_D)))


def point_forecast(cube: xr.DataArray, tz: str = btime.STOCKHOLM) -> np.ndarray:
    """The point forecast on the cube's MTUs from ``attrs["point_by_clock_hour"]`` (LEAR and baseline)."""
    clock = np.asarray(sc.time_index(cube).tz_convert(tz).hour)
    return np.asarray(cube.attrs["point_by_clock_hour"], dtype=float)[clock]
