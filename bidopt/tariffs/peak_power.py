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
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, field_validator

from bidopt.case import Strict, register_tariff
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.tariffs.base import KW_PER_MW, TariffBase, Window


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

    def _hours(self, horizon: Horizon) -> pd.DataFrame:
        """One row per UTC hour of the horizon: local start, month key, day, weight, in window."""
        starts = horizon.hour_starts
        local = starts.tz_convert(horizon.tz)
        w = np.array([self.hour_weights.get(h, 1.0) for h in local.hour])
        return pd.DataFrame(
            {
                "month": (local.year * 100 + local.month).to_numpy(),
                "day": np.asarray(local.date),
                "weight": w,
                "in_window": self.window.mask(local) & (w > 0),
            }
        )

    def _hour_arrays(self, horizon: Horizon) -> tuple[np.ndarray, ...]:
        """``_hours`` as arrays (month, day, weight, in_window), cached per horizon and tariff
        settings: a stochastic model builds the same tariff once per scenario on one horizon."""
        key = (tuple(sorted(self.hour_weights.items())), self.window.model_dump_json())
        per_horizon = horizon.__dict__.setdefault("_peak_power_hours", {})  # lives and dies with the horizon
        if key not in per_horizon:
            hours = self._hours(horizon)
            per_horizon[key] = tuple(hours[c].to_numpy() for c in ("month", "day", "weight", "in_window"))
        return per_horizon[key]

    def _prior_sum(self) -> float:
        prior = sorted(self.peaks_so_far_mw, reverse=True)[: self.n_peaks]
        return float(sum(prior))

    # --- model ---------------------------------------------------------------------------------
    def build(self, blk, T, horizon: Horizon, case, grid_import) -> None:
        # plain arrays: per-row pandas lookups made this the slowest part of building a small site
        month, day, weight, in_window = self._hour_arrays(horizon)
        group = horizon.hour_group
        mtus_of_hour = [np.flatnonzero(group == h).tolist() for h in range(len(month))]
        months = sorted({int(x) for x in month[in_window]})
        first_month = int(month[0])  # peaks_so_far_mw belong to the horizon's first month
        blk.M = pyo.Set(initialize=months)
        costs = []
        blk.months = pyo.Block(blk.M)

        def hourly(h):
            ts = mtus_of_hour[h]
            return weight[h] * sum(grid_import[t] for t in ts) / len(ts)

        for m in months:
            mb = blk.months[m]
            rows = np.flatnonzero((month == m) & in_window).tolist()
            day0 = day[rows[0]]
            if self.one_per_day:
                days = sorted(set(day[rows]))
                mb.V = pyo.RangeSet(0, len(days) - 1)
                mb.value = pyo.Var(mb.V, bounds=(0, None))
                mb.day_max = pyo.ConstraintList()
                for i, d in enumerate(days):
                    for h in rows:
                        if day[h] == d:
                            mb.day_max.add(mb.value[i] >= hourly(h))
                vals = [mb.value[i] for i in mb.V]
            else:
                vals = [hourly(h) for h in rows]
            prior = self.peaks_so_far_mw if m == first_month else []
            n = self.n_peaks
            mb.tau = pyo.Var(bounds=(0, None))
            mb.I = pyo.RangeSet(0, len(vals) + len(prior) - 1)
            mb.excess = pyo.Var(mb.I, bounds=(0, None))
            allvals = list(vals) + [float(p) for p in prior]
            mb.excess_def = pyo.Constraint(mb.I, rule=lambda b, i, v=allvals: b.excess[i] >= v[i] - b.tau)
            mb.sum_top_n = pyo.Expression(expr=n * mb.tau + sum(mb.excess[i] for i in mb.I))
            prior_sum = self._prior_sum() if m == first_month else 0.0
            rate = self.rate_eur_per_mw(case, day0)
            costs.append(rate / n * (mb.sum_top_n - prior_sum))
        blk.cost_eur = pyo.Expression(expr=sum(costs) if costs else 0.0)

    # --- realised bill -------------------------------------------------------------------------
    def monthly_peaks(self, case, import_mw: pd.Series) -> dict[int, list[float]]:
        """The N weighted peak values per month key yyyymm (largest first)."""
        h = Horizon(pd.DatetimeIndex(import_mw.index), case.case.timezone)
        hourly = import_mw.groupby(group_keys(h)).mean().to_numpy()
        hours = self._hours(h)
        hours["value"] = hourly * hours.weight.to_numpy()
        sel = hours[hours.in_window]
        if self.one_per_day:
            sel = sel.groupby(["month", "day"], as_index=False)["value"].max()
        out = {}
        for m, g in sel.groupby("month"):
            vals = list(g["value"].to_numpy())
            if m == int(hours["month"].iloc[0]) and self.peaks_so_far_mw:
                vals += list(self.peaks_so_far_mw)
            out[int(m)] = sorted(vals, reverse=True)[: self.n_peaks]
        return out

    def carry_state(self, case, import_mw: pd.Series, next_day) -> dict:
        """The month's N largest (weighted) peaks so far, including the delivered day; a new month
        starts with none."""
        h = Horizon(pd.DatetimeIndex(import_mw.index), case.case.timezone)
        month = int(h.month_key[-1])
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


def group_keys(h: Horizon) -> np.ndarray:
    return h.hour_group
