"""Shiftable load: energy that must be consumed within a time window, at any power profile.

One or more jobs j, each with an energy E_j (MWh), a window, and power bounds while in the window.
A window is either

- a local clock-time window repeated every local day (``window_start = "22:00"``,
  ``window_end = "07:00"``; Europe/Stockholm unless the case says otherwise; an end at or before the
  start runs into the next day, ``"24:00"`` is midnight), or
- one absolute window in UTC (``window_start = "2024-03-14T21:00:00Z"``; a naive datetime is UTC).

An MTU belongs to a window instance when it lies entirely inside it. On DST days a local window has
the hours the clock gives it (a 22:00-07:00 window lasts 10 h in the autumn night). Ambiguous local
times read as their first occurrence, non-existent ones as the first valid time after them.

Per job j, instance k and MTU t of the instance (variables p_{j,t} in MW):

    min_power_mw_j <= p_{j,t} <= max_power_mw_j          (p = 0 outside every window)
    sum_{t in k} p_{j,t} dt = E_{j,k} + expected activation energy

E_{j,k} = E_j when the instance lies inside the horizon. An instance cut by the horizon's start or
end gets the share of E_j of its MTUs inside the horizon (pro rata by hours), so planning day by day
spreads a 22:00-07:00 job over the two days and still consumes E_j per window. Net power is
sum_j p_{j,t}; ``max_power_mw`` at the asset level in the ``jobs`` form caps that sum.

``check()`` raises InfeasibleError naming the job when E_{j,k} > max_power * hours or
E_{j,k} < min_power * hours of an instance.

Reserves (``offer_reserves = true``: flexibility both ways on an event, ``flexibility()``), per MTU
t with the jobs active at t:

    up_mw[t]   <= sum_j (p_{j,t} - min_j)        (cut consumption)
    down_mw[t] <= sum_j (max_j - p_{j,t})        (raise consumption; and <= cap - sum_j p_{j,t})

Energy rule: energy is only moved, never lost. Energy not consumed while delivering ``up_mwh[t]``
must still fit into the rest of the window after t, and extra energy absorbed (``down_mwh[t]``) must
be given back by consuming less later in the window:

    up_mwh[t]   <= sum_j sum_{tau > t in k_j(t)} (max_j - p_{j,tau}) dt   (and the cap's room)
    down_mwh[t] <= sum_j sum_{tau > t in k_j(t)} (p_{j,tau} - min_j) dt

MTU t itself is not counted (its power is the one being moved), and the part of an instance beyond
the horizon is not counted either: both make the rule conservative. So no upward reserve is offered
in the last MTU of a window. Not a limited energy reservoir by default (``ler = false``: the sold
capacity only, no opposite-direction share); a job whose window holds less than 2 h of full
activation is one under MARKET_RULES 3.3 -- set ``ler = true`` for it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import BeforeValidator, Field, model_validator

from bidopt.assets.base import AssetBase, Flexibility, values
from bidopt.case import Strict, register_asset
from bidopt.errors import InfeasibleError
from bidopt.horizon import Horizon

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_TOL = 1e-9


def _normalise_time(v):
    """TOML local times and datetimes arrive as datetime objects: keep them as text."""
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    return v


WindowTime = Annotated[str, BeforeValidator(_normalise_time)]  # "HH:MM" or ISO 8601; TOML times kept as text


def _parse_window_point(v: str, field: str, end: bool) -> int | pd.Timestamp:
    """``"HH:MM"`` -> minutes after local midnight (1440 only for an end at ``24:00``);
    an ISO 8601 datetime -> UTC Timestamp. Raises ValueError naming ``field``."""
    m = _CLOCK.match(v)
    if m:
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        if (h, mi, s) == (24, 0, 0) and end:
            return 1440
        if h > 23 or mi > 59 or s > 59:
            raise ValueError(f"{field} ({v!r}) is not a clock time between 00:00 and 23:59")
        if s:
            raise ValueError(f"{field} ({v!r}) must be whole minutes")
        return h * 60 + mi
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError):
        raise ValueError(
            f"{field} ({v!r}) is neither a local clock time HH:MM nor an ISO 8601 UTC datetime"
        ) from None
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _check_job_fields(energy, start, end, pmin, pmax) -> None:
    """Cross-field checks of one job; messages start with the field name."""
    if pmax is not None and pmin > pmax + _TOL:
        raise ValueError(f"min_power_mw ({pmin}) above max_power_mw ({pmax})")
    a = _parse_window_point(start, "window_start", end=False)
    b = _parse_window_point(end, "window_end", end=True)
    if isinstance(a, int) != isinstance(b, int):
        raise ValueError("window_end must be of the same type as window_start (both HH:MM or both datetimes)")
    if isinstance(a, int):
        if a == b:
            raise ValueError(f"window_end ({end!r}) equals window_start ({start!r}): the window is empty")
    elif b <= a:
        raise ValueError(f"window_end ({end!r}) is not after window_start ({start!r}): the window is empty")


class ShiftableJob(Strict):
    """One job: ``energy_mwh`` to consume between ``window_start`` and ``window_end``."""

    name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    energy_mwh: float = Field(ge=0)
    window_start: WindowTime
    window_end: WindowTime
    min_power_mw: float = Field(0.0, ge=0)
    max_power_mw: float = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self):
        _check_job_fields(self.energy_mwh, self.window_start, self.window_end, self.min_power_mw, self.max_power_mw)
        return self


@dataclass(frozen=True)
class Instance:
    """One occurrence of a job's window on the horizon."""

    job: int
    label: str  # e.g. "2024-03-14 22:00 .. 2024-03-15 07:00 Europe/Stockholm"
    mtus: tuple[int, ...]  # horizon positions inside the window
    full_mtus: int  # MTUs of the whole window (inside the horizon or not)
    energy_mwh: float  # energy required on the horizon (pro rata when cut)


@register_asset
class ShiftableLoad(AssetBase):
    """A single job given by the top-level fields, or several in ``jobs``."""

    kind: Literal["shiftable_load"] = "shiftable_load"
    energy_mwh: float | None = Field(None, ge=0)
    window_start: WindowTime | None = None
    window_end: WindowTime | None = None
    min_power_mw: float = Field(0.0, ge=0)
    max_power_mw: float | None = Field(None, ge=0)
    jobs: list[ShiftableJob] = Field(default_factory=list)
    offer_reserves: bool = False

    @model_validator(mode="after")
    def _consistent(self):
        single = {k: getattr(self, k) for k in ("energy_mwh", "window_start", "window_end")}
        if self.jobs:
            given = [k for k, v in single.items() if v is not None]
            if given:
                raise ValueError(f"{given[0]} cannot be given together with jobs: put it in each job")
            if self.min_power_mw:
                raise ValueError("min_power_mw applies to one job: give it in each job")
            names = [j.name or f"job{i + 1}" for i, j in enumerate(self.jobs)]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"jobs have duplicate names: {', '.join(sorted(dup))}")
            return self
        for k, v in {**single, "max_power_mw": self.max_power_mw}.items():
            if v is None:
                raise ValueError(f"{k} is required (or give a list of jobs)")
        _check_job_fields(self.energy_mwh, self.window_start, self.window_end, self.min_power_mw, self.max_power_mw)
        return self

    # --- jobs and their windows on a horizon ------------------------------------------------------
    @property
    def job_list(self) -> list[ShiftableJob]:
        if self.jobs:
            return self.jobs
        return [
            ShiftableJob(
                name=self.name,
                energy_mwh=self.energy_mwh,
                window_start=self.window_start,
                window_end=self.window_end,
                min_power_mw=self.min_power_mw,
                max_power_mw=self.max_power_mw,
            )
        ]

    @property
    def job_names(self) -> list[str]:
        return [j.name or f"job{i + 1}" for i, j in enumerate(self.job_list)]

    @property
    def total_cap_mw(self) -> float | None:
        return self.max_power_mw if self.jobs else None

    def instances(self, horizon: Horizon) -> list[Instance]:
        """Every window instance of every job that overlaps the horizon, with its required energy."""
        out: list[Instance] = []
        step = pd.Timedelta(hours=horizon.dt_h)
        starts = horizon.index
        ends = starts + step
        for j, job in enumerate(self.job_list):
            a = _parse_window_point(job.window_start, "window_start", end=False)
            b = _parse_window_point(job.window_end, "window_end", end=True)
            if isinstance(a, int):
                windows = _local_windows(a, b, horizon)
            else:
                windows = [(a, b, f"{a:%Y-%m-%dT%H:%M}Z .. {b:%Y-%m-%dT%H:%M}Z")]
            for w0, w1, label in windows:
                inside = np.flatnonzero((starts >= w0) & (ends <= w1))
                if len(inside) == 0:
                    continue
                first = w0.ceil(step)
                full = max(int((w1 - first) // step), len(inside))
                energy = job.energy_mwh * len(inside) / full
                out.append(Instance(j, label, tuple(int(i) for i in inside), full, energy))
        return out

    def prepare(self, case, horizon: Horizon) -> dict:
        return {"instances": self.instances(horizon)}

    def check(self, horizon: Horizon, data: dict) -> None:
        dt_h = horizon.dt_h
        jobs, names = self.job_list, self.job_names
        for inst in data["instances"]:
            job, name = jobs[inst.job], names[inst.job]
            hours = len(inst.mtus) * dt_h
            cut = "" if len(inst.mtus) == inst.full_mtus else f" (its share of {job.energy_mwh:g} MWh on this horizon)"
            if inst.energy_mwh > job.max_power_mw * hours + 1e-7:
                raise InfeasibleError(
                    self.name,
                    f"job '{name}' energy_mwh",
                    f"job '{name}' needs {inst.energy_mwh:.6g} MWh{cut} in window {inst.label} ({hours:g} h), "
                    f"but max_power_mw {job.max_power_mw:g} allows at most {job.max_power_mw * hours:.6g} MWh",
                )
            if inst.energy_mwh + 1e-7 < job.min_power_mw * hours:
                raise InfeasibleError(
                    self.name,
                    f"job '{name}' energy_mwh",
                    f"job '{name}' may use only {inst.energy_mwh:.6g} MWh{cut} in window {inst.label} "
                    f"({hours:g} h), but min_power_mw {job.min_power_mw:g} consumes at least "
                    f"{job.min_power_mw * hours:.6g} MWh",
                )

    # --- model ------------------------------------------------------------------------------------
    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        dt_h = horizon.dt_h
        jobs = self.job_list
        insts: list[Instance] = data["instances"]
        pairs = sorted({(k, t) for k, inst in enumerate(insts) for t in inst.mtus})
        blk.K = pyo.RangeSet(0, len(insts) - 1) if insts else pyo.Set(initialize=[])
        blk.KT = pyo.Set(initialize=pairs, dimen=2)

        def bounds(b, k, t):
            job = jobs[insts[k].job]
            return (job.min_power_mw, job.max_power_mw)

        # power of the job of instance k in MTU t (instances of one job never overlap)
        blk.job_power = pyo.Var(blk.KT, bounds=bounds)
        blk.energy = pyo.Param(blk.K, initialize={k: i.energy_mwh for k, i in enumerate(insts)}, mutable=True)
        # energy moved out of MTU t by expected reserve activation (MWh, 0 unless a market sets it)
        blk.activation_mwh = pyo.Expression(T, initialize=0.0)
        active = {t: [] for t in T}
        for k, inst in enumerate(insts):
            for t in inst.mtus:
                active[t].append(k)
        blk._shiftable = (insts, active)  # plain Python data for add_reserve_headroom

        def moved(b, t):
            # the activation energy of MTU t, split evenly over the jobs active in it
            return b.activation_mwh[t] / len(active[t])

        blk.job_energy = pyo.Constraint(
            blk.K,
            rule=lambda b, k: sum(b.job_power[k, t] * dt_h - moved(b, t) for t in insts[k].mtus) == b.energy[k],
        )
        blk.power = pyo.Expression(T, rule=lambda b, t: sum(b.job_power[k, t] for k in active[t]))
        if self.total_cap_mw is not None:
            cap = self.total_cap_mw
            blk.total_power_cap = pyo.Constraint(T, rule=lambda b, t: b.power[t] <= cap)
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: b.power[t])

    def unmanaged_power_mw(self, horizon: Horizon, data: dict) -> dict[tuple[int, int], float]:
        """Power (MW) of each (instance, MTU) with nobody shifting the jobs: each window instance on
        the horizon starts at its first MTU and runs at its job's full power until its energy is
        in (every MTU of the window at least at the job's minimum power), jobs in the order given
        sharing the asset's total cap."""
        dt_h, jobs = horizon.dt_h, self.job_list
        room = np.full(horizon.n, np.inf if self.total_cap_mw is None else float(self.total_cap_mw))
        out = {}
        for k, inst in enumerate(data["instances"]):
            job = jobs[inst.job]
            extra = inst.energy_mwh - job.min_power_mw * len(inst.mtus) * dt_h  # beyond the minimum
            for t in inst.mtus:
                p = job.min_power_mw + max(0.0, min(job.max_power_mw - job.min_power_mw, extra / dt_h,
                                                    room[t] - job.min_power_mw))
                extra -= (p - job.min_power_mw) * dt_h
                room[t] -= p
                out[k, t] = p
        return out

    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, every job starts at the start of its window (``unmanaged_power_mw``)."""
        for key, p in self.unmanaged_power_mw(horizon, data).items():
            blk.job_power[key].fix(p)

    def flexibility(self) -> Flexibility | None:
        """Both ways when ``offer_reserves``: a cut or a raise on an event, not a continuous signal."""
        return Flexibility(up=True, down=True) if self.offer_reserves else None

    def add_reserve_headroom(self, blk, T, horizon, up_mw, down_mw, up_mwh, down_mwh, expected_up_mw=None) -> None:
        """Power and energy headroom of the module docstring."""
        dt_h = horizon.dt_h
        jobs = self.job_list
        insts, active = blk._shiftable
        cap = self.total_cap_mw

        def lo(k):
            return jobs[insts[k].job].min_power_mw

        def hi(k):
            return jobs[insts[k].job].max_power_mw

        def later(k, t):
            return [u for u in insts[k].mtus if u > t]

        blk.reserve_power_up = pyo.Constraint(
            T, rule=lambda b, t: _le(up_mw[t], sum(b.job_power[k, t] - lo(k) for k in active[t]))
        )
        blk.reserve_power_down = pyo.Constraint(
            T, rule=lambda b, t: _le(down_mw[t], sum(hi(k) - b.job_power[k, t] for k in active[t]))
        )
        blk.reserve_energy_up = pyo.Constraint(
            T,
            rule=lambda b, t: _le(
                up_mwh[t], sum((hi(k) - b.job_power[k, u]) * dt_h for k in active[t] for u in later(k, t))
            ),
        )
        blk.reserve_energy_down = pyo.Constraint(
            T,
            rule=lambda b, t: _le(
                down_mwh[t], sum((b.job_power[k, u] - lo(k)) * dt_h for k in active[t] for u in later(k, t))
            ),
        )
        if cap is not None:
            blk.reserve_power_down_cap = pyo.Constraint(T, rule=lambda b, t: _le(down_mw[t], cap - b.power[t]))

            def room(b, t):
                last = max((insts[k].mtus[-1] for k in active[t]), default=t)
                return _le(up_mwh[t], sum((cap - b.power[u]) * dt_h for u in T if t < u <= last))

            blk.reserve_energy_up_cap = pyo.Constraint(T, rule=room)
        if expected_up_mw is not None:
            for t in T:
                blk.activation_mwh[t].set_value(expected_up_mw[t] * dt_h)

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        power = np.array([pyo.value(blk.power[t]) for t in blk.power.index_set()], dtype=float)
        return {f"{self.name}_power_mw": power}


def _le(lhs, rhs):
    """``lhs <= rhs`` as a constraint rule result; plain numbers on both sides (a product not sold,
    an MTU outside every window) give Feasible/Infeasible instead of a bare bool Pyomo rejects."""
    expr = lhs <= rhs
    if isinstance(expr, bool | np.bool_):
        return pyo.Constraint.Feasible if expr else pyo.Constraint.Infeasible
    return expr


def _local_windows(a: int, b: int, horizon: Horizon) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """UTC (start, end, label) of the local clock window [a, b) minutes for each local day that can
    reach the horizon (from the day before its first day)."""
    if b <= a:
        b += 1440
    first = horizon.first_day - dt.timedelta(days=1)
    last = horizon.local_date[-1]
    out = []
    d = first
    while d <= last:
        midnight = dt.datetime.combine(d, dt.time())
        w0 = _localize(midnight + dt.timedelta(minutes=a), horizon.tz)
        w1 = _localize(midnight + dt.timedelta(minutes=b), horizon.tz)
        lab0 = (midnight + dt.timedelta(minutes=a)).strftime("%Y-%m-%d %H:%M")
        lab1 = (midnight + dt.timedelta(minutes=b)).strftime("%Y-%m-%d %H:%M")
        out.append((w0, w1, f"{lab0} .. {lab1} {horizon.tz}"))
        d += dt.timedelta(days=1)
    return out


def _localize(naive: dt.datetime, tz: str) -> pd.Timestamp:
    return pd.Timestamp(naive).tz_localize(tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")


def job_energy(blk, horizon: Horizon) -> dict[int, float]:
    """Solved energy (MWh) of each instance k on the horizon (for reports and tests)."""
    out: dict[int, float] = {}
    for (k, _t), v in zip(blk.KT, values(blk.job_power), strict=True):
        out[k] = out.get(k, 0.0) + v * horizon.dt_h
    return out
