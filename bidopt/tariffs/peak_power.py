"""Monthly power charge on the mean of the N highest hourly values in a window.

For each local month m, with hourly mean import x_h (MW; the mean of the MTUs of UTC hour h),
weight w_h (e.g. Ellevio counts 22-06 at 0.5) and the window W_m of hours that count:

    charge_m = rate_m * (1/N) * sum of the N largest of { w_h x_h : h in W_m }       (EUR)

or, with ``one_per_day``, the N largest daily maxima. Peaks already reached earlier in the month
(``peaks_so_far_mw``) join the set as constants, and the charge they already imply is subtracted, so
a day's plan pays only for what it adds. The N-largest sum is convex and is written as an LP
(no binaries):  min N*tau + sum_i u_i,  u_i >= v_i - tau,  u_i >= 0,  tau >= 0
(tau >= 0 stands for zero padding when fewer than N values exist; imports are >= 0).
Rates are SEK per kW per month, by month (12 values) or one value, dated by ``valid_from``.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, field_validator

from bidopt import time as btime
from bidopt.case import Strict, register_tariff
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.params import set_values
from bidopt.tariffs.base import KW_PER_MW, TariffBase, Window, wall_fields


class PeakRate(Strict):
    valid_from: dt.date
    sek_per_kw_month: float | list[float]

    @field_validator("sek_per_kw_month")
    @classmethod
    def _twelve(cls, v):
        if isinstance(v, list) and len(v) != 12:
            raise ValueError("give one rate or 12 monthly rates (January..December)")
        if min(v if isinstance(v, list) else [v]) < 0:
            raise ValueError("a peak rate cannot be negative (the charge would reward peaks)")
        return v

    def for_month(self, month: int) -> float:
        return self.sek_per_kw_month[month - 1] if isinstance(self.sek_per_kw_month, list) else self.sek_per_kw_month


# per-hour calendar arrays of recent horizons (least recently used dropped); the arrays are read only
_HOURS: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
_HOURS_KEEP = 64


@register_tariff
class PeakPower(TariffBase):
    kind: Literal["peak_power"] = "peak_power"
    n_peaks: int = Field(5, ge=1)
    window: Window = Field(default_factory=Window)
    hour_weights: dict[Annotated[int, Field(ge=0, le=23)], Annotated[float, Field(ge=0)]] = Field(default_factory=dict)  # local hour start -> weight (default 1)
    one_per_day: bool = False
    rates: list[PeakRate] = Field(min_length=1)
    peaks_so_far_mw: list[Annotated[float, Field(ge=0)]] = Field(default_factory=list)  # weighted peaks already set this month

    # --- helpers -------------------------------------------------------------------------------
    def rate_eur_per_mw(self, case, day: dt.date) -> float:
        best = max((r for r in self.rates if r.valid_from <= day), key=lambda r: r.valid_from, default=None)
        if best is None:
            raise InputError(None, f"tariffs.{self.name or self.kind}.rates", f"no rate in force on {day}")
        return best.for_month(day.month) * KW_PER_MW * self.sek_to_eur(case, day)

    def _hour_fields(self, horizon: Horizon) -> tuple[np.ndarray, ...]:
        """Per UTC hour of the horizon: local month key yyyymm, local day, weight, in window."""
        year, month, weekday, hour, date = wall_fields(btime.local_wall(horizon.hour_utc, horizon.tz))
        w = np.array([self.hour_weights.get(h, 1.0) for h in hour.tolist()])
        return year * 100 + month, date, w, self.window.mask_fields(month, weekday, hour, date) & (w > 0)

    def _hour_arrays(self, horizon: Horizon) -> tuple[np.ndarray, ...]:
        """``_hour_fields`` (month, day, weight, in_window), cached by hours and tariff settings: a
        stochastic model builds the same tariff once per scenario on one horizon, and a backtest
        reads the hours of the day it planned again for the carried peaks."""
        starts = horizon.hour_utc
        key = (horizon.tz, starts[0] if len(starts) else None, len(starts),
               tuple(sorted(self.hour_weights.items())), self.window.model_dump_json())
        hit = _HOURS.get(key)
        if hit is None:
            hit = _HOURS[key] = self._hour_fields(horizon)
            for a in hit:
                a.flags.writeable = False  # shared between callers
            while len(_HOURS) > _HOURS_KEEP:
                _HOURS.popitem(last=False)
        else:
            _HOURS.move_to_end(key)
        return hit

    def _prior_sum(self) -> float:
        prior = sorted(self.peaks_so_far_mw, reverse=True)[: self.n_peaks]
        return float(sum(prior))

    # --- model ---------------------------------------------------------------------------------
    def _layout(self, horizon: Horizon, case) -> tuple[tuple, dict]:
        """The model's shape on ``horizon`` and the numbers that fill it.

        Shape: per local month of the horizon, in order (not by name: the same model serves
        another month), its hours (all of them, not only those in the window) and, with
        ``one_per_day``, its local days; the first month also has ``n_peaks`` slots for the peaks
        already reached. Numbers, per month position: each hour's weight (0 outside the window),
        the prior peaks (largest first, padded with zeros), their sum, and the month's rate. A zero
        weight or a zero prior adds a value of 0 to the top-N set, which changes nothing: imports
        are >= 0 and tau >= 0 already stands for zero padding. So one built model serves every
        day of the same shape (``refresh``)."""
        month, day, weight, in_window = self._hour_arrays(horizon)
        w = np.where(in_window, weight, 0.0)
        months = sorted({int(x) for x in month})
        shape, numbers = [], {}
        for k, m in enumerate(months):
            rows = np.flatnonzero(month == m)
            days = sorted(set(day[rows])) if self.one_per_day else []
            n_prior = self.n_peaks if k == 0 else 0
            shape.append((len(rows), tuple(int(np.sum(day[rows] == d)) for d in days), n_prior))
            prior = sorted(self.peaks_so_far_mw, reverse=True)[: self.n_peaks] if k == 0 else []
            numbers[k] = {
                "month": m,
                "weight": w[rows],
                "prior": np.array(prior + [0.0] * (n_prior - len(prior))),
                "prior_sum": float(sum(prior)),
                # a month without window hours adds nothing (its sum is just the priors): rate 0
                "rate": self.rate_eur_per_mw(case, day[rows[0]]) if w[rows].any() else 0.0,
            }
        return (self.n_peaks, self.one_per_day, *shape), numbers

    def build(self, blk, T, horizon: Horizon, case, grid_import) -> None:
        shape, numbers = self._layout(horizon, case)
        group = horizon.hour_group
        month, day = self._hour_arrays(horizon)[:2]
        mtus_of_hour = [np.flatnonzero(group == h).tolist() for h in range(len(month))]
        n = self.n_peaks
        blk.M = pyo.RangeSet(0, len(shape) - 3)  # the horizon's local months, in order
        blk.months = pyo.Block(blk.M)
        blk.shape = shape
        costs = []
        for k, (n_hours, day_sizes, n_prior) in enumerate(shape[2:]):
            mb = blk.months[k]
            hours = np.flatnonzero(month == numbers[k]["month"]).tolist()
            mb.H = pyo.RangeSet(0, n_hours - 1)
            mb.weight = pyo.Param(mb.H, initialize=0.0, mutable=True)
            mb.P = pyo.RangeSet(0, n_prior - 1) if n_prior else pyo.Set(initialize=[])
            mb.prior = pyo.Param(mb.P, initialize=0.0, mutable=True)
            mb.prior_sum = pyo.Param(initialize=0.0, mutable=True)
            mb.rate = pyo.Param(initialize=0.0, mutable=True)

            def hourly(b, i, hours=hours):
                ts = mtus_of_hour[hours[i]]
                return b.weight[i] * sum(grid_import[t] for t in ts) / len(ts)

            if self.one_per_day:
                mb.V = pyo.RangeSet(0, len(day_sizes) - 1)
                mb.value = pyo.Var(mb.V, bounds=(0, None))
                days = sorted(set(day[hours]))
                day_of = [days.index(day[h]) for h in hours]
                mb.day_max = pyo.Constraint(mb.H, rule=lambda b, i, d=day_of: b.value[d[i]] >= hourly(b, i))
                vals = [mb.value[j] for j in mb.V]
            else:
                vals = [hourly(mb, i) for i in mb.H]
            nv = len(vals)
            mb.tau = pyo.Var(bounds=(0, None))
            mb.I = pyo.RangeSet(0, nv + n_prior - 1)
            mb.excess = pyo.Var(mb.I, bounds=(0, None))
            mb.excess_def = pyo.Constraint(
                mb.I, rule=lambda b, i, v=vals, nv=nv: b.excess[i] >= (v[i] if i < nv else b.prior[i - nv]) - b.tau
            )
            mb.sum_top_n = pyo.Expression(expr=n * mb.tau + sum(mb.excess[i] for i in mb.I))
            costs.append(mb.rate / n * (mb.sum_top_n - mb.prior_sum))
        self._fill(blk, numbers)
        blk.cost_eur = pyo.Expression(expr=sum(costs) if costs else 0.0)

    def refresh(self, blk, T, horizon: Horizon, case, grid_import) -> bool:
        """New numbers (day, weights, prior peaks, rates) in a block built on a horizon of the same
        shape; False when the shape differs."""
        shape, numbers = self._layout(horizon, case)
        if shape != blk.shape:
            return False
        self._fill(blk, numbers)
        return True

    @staticmethod
    def _fill(blk, numbers: dict) -> None:
        blk.month_keys = [int(v["month"]) for v in numbers.values()]  # yyyymm of each month position
        for k, v in numbers.items():
            mb = blk.months[k]
            set_values(mb.weight, v["weight"])
            set_values(mb.prior, v["prior"])
            mb.prior_sum.set_value(v["prior_sum"])
            mb.rate.set_value(v["rate"])

    def charge_detail(self, blk) -> list[dict]:
        """What a solved block books, per local month of the horizon (EUR ex VAT): the month's charge
        on its top-N set (this horizon's hours and the peaks so far), the charge the peaks so far
        already imply, and the difference, which is what the objective and the ``tariff`` stream
        count (``booked_eur``, negative = cost). Without peaks so far the booked amount is the whole
        month's charge as set by this horizon's peaks."""
        out = []
        for k, key in enumerate(getattr(blk, "month_keys", [])):
            mb = blk.months[k]
            rate, prior_sum = float(pyo.value(mb.rate)), float(pyo.value(mb.prior_sum))
            month = rate / self.n_peaks * float(pyo.value(mb.sum_top_n))
            prior = rate / self.n_peaks * prior_sum
            priors = [float(pyo.value(mb.prior[i])) for i in mb.P]
            out.append({"tariff": self.name or self.kind, "month": f"{key // 100:04d}-{key % 100:02d}",
                        "n_peaks": self.n_peaks, "peaks_so_far_mw": [v for v in priors if v > 0],
                        "rate_eur_per_mw_month": rate, "month_charge_eur": month, "prior_charge_eur": prior,
                        "booked_eur": -(month - prior)})
        return out

    def prior_from_hours(self, case, hourly_mw: pd.Series) -> list[float]:
        """``peaks_so_far_mw`` from hourly mean imports (MW, UTC hour starts as the index, e.g. the
        month's metered hours so far or just its highest ones): each hour weighted by
        ``hour_weights``, hours outside the window dropped, with ``one_per_day`` the largest per
        local day, then the N largest, largest first."""
        if hourly_mw.empty:
            return []
        idx = pd.DatetimeIndex(hourly_mw.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        _, day, weight, in_window = self._hour_fields(Horizon(idx, case.case.timezone))
        value = hourly_mw.to_numpy(float) * weight
        if self.one_per_day:
            best: dict = {}
            for d, v in zip(day[in_window], value[in_window].tolist(), strict=True):
                best[d] = max(best.get(d, v), v)
            vals = list(best.values())
        else:
            vals = value[in_window].tolist()
        return [float(v) for v in sorted(vals, reverse=True)[: self.n_peaks]]

    # --- realised bill -------------------------------------------------------------------------
    def monthly_peaks(self, case, import_mw: pd.Series) -> dict[int, list[float]]:
        """The N weighted peak values per month key yyyymm (largest first)."""
        h = Horizon(pd.DatetimeIndex(import_mw.index), case.case.timezone)
        month, day, weight, in_window = self._hour_arrays(h)
        group = h.hour_group
        hourly = np.bincount(group, weights=import_mw.to_numpy(float)) / np.bincount(group)
        value = hourly * weight
        out = {}
        for m in sorted({int(x) for x in month[in_window]}):
            sel = in_window & (month == m)
            if self.one_per_day:
                best: dict = {}
                for d, v in zip(day[sel], value[sel].tolist(), strict=True):
                    best[d] = max(best.get(d, v), v)
                vals = list(best.values())
            else:
                vals = value[sel].tolist()
            if m == int(month[0]) and self.peaks_so_far_mw:
                vals += list(self.peaks_so_far_mw)
            out[m] = sorted(vals, reverse=True)[: self.n_peaks]
        return out

    def carry_state(self, case, import_mw: pd.Series, next_day) -> dict:
        """The month's N largest (weighted) peaks so far, including the delivered day; a new month
        starts with none."""
        last = pd.Timestamp(import_mw.index[-1]).tz_convert(case.case.timezone)
        month = last.year * 100 + last.month
        if next_day.year * 100 + next_day.month != month:
            return {"peaks_so_far_mw": []}
        top = self.monthly_peaks(case, import_mw).get(month, self.peaks_so_far_mw)  # no hour in the window: as before
        return {"peaks_so_far_mw": [float(v) for v in top]}

    def bill_eur(self, case, import_mw: pd.Series, export_mw: pd.Series | None = None) -> float:
        h = Horizon(pd.DatetimeIndex(import_mw.index), case.case.timezone)
        first_day = {}
        for key, day in zip(h.month_key, h.local_date, strict=True):
            first_day.setdefault(int(key), day)
        total = 0.0
        peaks = self.monthly_peaks(case, import_mw)
        for m, top in peaks.items():
            prior = self._prior_sum() if m == int(h.month_key[0]) else 0.0
            total += self.rate_eur_per_mw(case, first_day[m]) / self.n_peaks * (sum(top) - prior)
        return total

