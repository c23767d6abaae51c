"""EV charging: one car or a garage of charging sessions (``kind = "ev"``).

Sessions
--------
A session s is a car plugged in from arrival a_s to departure d_s (UTC) that must receive E_s MWh
(``energy_mwh``, energy after the charger, i.e. into the car) through a charge point of at most P_s MW
(``max_power_mw``, else the asset's ``charger_power_mw``; grid side). Sessions come inline
(``sessions = [{arrival=..., departure=..., energy_mwh=..., max_power_mw=...}]``; naive times are
UTC) and/or from a file (``sessions_file`` + ``sessions_format``, read by
``bidopt.data.ev_sessions``; ``garage_id`` and ``max_sessions`` filter it, the latter keeping the
first sessions by arrival among those plugged in during the horizon). No sessions at all is valid:
a garage without cars consumes nothing. A garage may have a site limit
G (``garage_max_power_mw``); eta is ``charger_efficiency`` (grid -> car, and car -> grid with V2G).

Formulation (sparse: only pairs (s, t) where car s is plugged in during MTU t exist)
-------------------------------------------------------------------------------------
f_{s,t} = (hours of MTU t during which s is plugged in) / dt, in (0, 1]; a partly covered MTU scales
the power available to the car: A_{s,t} = min(P_s, G) f_{s,t} (MW, mean over the MTU).

    0 <= x_{s,t} <= A_{s,t}                            charging power (grid side, MW)
    0 <= y_{s,t} <= A_{s,t}                            discharging power, only with ``v2g = true``
    sum_t (eta x_{s,t} - y_{s,t}/eta) dt + u_s = R_s   energy need ("energy_need[s]")
    -G [v2g] or 0 <= sum_s (x_{s,t} - y_{s,t}) <= G    garage limit ("garage_limit[t]")
    net_mw[t] = sum_s (x_{s,t} - y_{s,t})               positive = consumption

The need is an equality: a car takes the energy it needs and no more (its battery is then full as
far as anyone knows). u_s >= 0 is the unmet energy, allowed only with ``shortfall_eur_per_mwh``
(cost u_s * that price in ``cost_eur``; without it u_s = 0). With V2G (or when reserves are
offered) each pair also has the car's energy state above its arrival level,
e_{s,t} = e_{s,t-1} + (eta x_{s,t} - y_{s,t}/eta) dt, 0 <= e_{s,t} <= R_s ("energy_dynamics"): a
car is never discharged below the level it arrived with, nor filled beyond its need. Charge and
discharge of one car exclude each other through a binary b_{s,t} (x <= A b, y <= A (1 - b)) only
with V2G and only when a MWh can have a negative value (burning energy in charger losses would pay);
otherwise losses make simultaneous charge and discharge a loss and the LP never chooses it.

Sessions cut by the horizon (pro-rata rule): R_s = E_s * h_in / h_s, where h_s is the session's
plugged-in hours and h_in those inside the horizon. The need is spread evenly over the time plugged
in, so R_s is feasible whenever the whole session is; a rolling plan meets exactly E_s over the days.

Feasibility: a session with E_s > eta min(P_s, G) h_s cannot be met; ``check()`` raises
InfeasibleError naming it before solving, unless ``shortfall_eur_per_mwh`` is set.

Reserves (``offer_reserves = true``: FCR-D up and down). Only cars plugged in for the whole MTU
(f = 1) count, with N_t that set:

    up_mw[t]    <= sum_{N_t} (x - y + [v2g] A)       stop charging (and discharge with V2G)
    down_mw[t]  <= sum_{N_t} (A - x + y)             charge at full power (stop discharging)
    up_mwh[t]   <= k sum_{N_t} (F_{s,t} - (R_s - e_{s,t-1}) / eta),  k = 1, or eta^2 with V2G
    down_mwh[t] <= sum_{N_t} (R_s - e_{s,t-1}) / eta
    net_mw[t] + down_mw[t] <= G,  net_mw[t] - up_mw[t] >= -G [v2g]

F_{s,t} = sum_{t' >= t} A_{s,t'} dt is the grid energy the car can still take from t on: energy not
charged during an upward activation must fit into that spare time later (the energy rule), and
energy absorbed by a downward activation can be at most what the cars still need. The rule is per
fleet (an activation is shared among the cars plugged in) and assumes the cars stay for the
activation; it is simple, not exact. Expected activation (``expected_up_mw``, if a market passes it)
is split over the cars plugged in, z_{s,t} with sum_s z_{s,t} = expected_up_mw[t]; the car's charging
is then x - z (kept within [0, A], or [-A, A] with V2G) and its energy counts x - z.

LER: with V2G the cars' batteries are limited energy reservoirs and keep the LER reservation
(``ler`` defaults to ``v2g``). One-way charging cannot run the LER energy management (MARKET_RULES
3.3, [S20]: such a pool must sustain full activation for 2 h instead), so by default it reserves
exactly the capacity it sold; set ``[markets.fcr] non_ler_fcr_d_energy_h = 2`` to hold 2 h of
activation energy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, ValidationInfo, field_validator, model_validator

from bidopt.assets.base import AssetBase, Flexibility
from bidopt.case import Strict, register_asset
from bidopt.data import ev_sessions
from bidopt.errors import InfeasibleError, InputError
from bidopt.horizon import Horizon
from bidopt.time import utc_timestamp

TOL = 1e-9


class EVSession(Strict):
    """One charging session (inline in the case file)."""

    id: str | None = None
    arrival: dt.datetime
    departure: dt.datetime
    energy_mwh: float = Field(ge=0)
    max_power_mw: float | None = Field(None, gt=0)

    @field_validator("arrival")
    @classmethod
    def _arrival_utc(cls, v: dt.datetime) -> dt.datetime:
        return _as_utc(v)

    @field_validator("departure")
    @classmethod
    def _after_arrival(cls, v: dt.datetime, info: ValidationInfo) -> dt.datetime:
        v = _as_utc(v)
        a = info.data.get("arrival")
        if a is not None and v <= a:
            raise ValueError(f"departure ({v.isoformat()}) must be after arrival ({a.isoformat()})")
        return v


def _as_utc(v: dt.datetime) -> dt.datetime:
    return utc_timestamp(v).to_pydatetime()


@register_asset
class EV(AssetBase):
    kind: Literal["ev"] = "ev"
    cost_stream: ClassVar[str] = "shortfall"  # unmet charging energy at its price
    sessions: list[EVSession] = Field(default_factory=list)
    sessions_file: str | None = None
    sessions_format: Literal["sorensen2024", "sorensen2021", "csv"] = "csv"
    sessions_timezone: str = ev_sessions.NORWAY  # local time of the Sørensen files
    garage_id: str | list[str] | None = None
    max_sessions: int | None = Field(None, ge=1)
    charger_power_mw: float = Field(0.022, gt=0)  # 22 kW (3-phase 32 A): every Sørensen session fits
    charger_efficiency: float = Field(1.0, gt=0, le=1)  # Sørensen kWh are metered at the charge point
    garage_max_power_mw: float | None = Field(None, gt=0)
    shortfall_eur_per_mwh: float | None = Field(None, ge=0)
    v2g: bool = False
    offer_reserves: bool = False

    @model_validator(mode="after")
    def _consistent(self):
        if self.sessions_file is None:
            for f in ("garage_id", "max_sessions"):
                if getattr(self, f) is not None:
                    raise ValueError(f"{f} filters sessions_file, which is not given")
        seen: set[str] = set()
        for s in self.sessions:
            if s.id is not None:
                if s.id in seen:
                    raise ValueError(f"sessions contain the id {s.id!r} twice")
                seen.add(s.id)
        return self

    # --- data ---------------------------------------------------------------------------------------
    def session_table(self, case=None, start=None, end=None) -> pd.DataFrame:
        """The sessions: inline ones, then the file's (filtered by ``garage_id``, by being plugged in
        during [start, end) and by ``max_sessions``); ``max_power_mw`` NaN = ``charger_power_mw``."""
        frames = [ev_sessions.inline_table(self.sessions)]
        if self.sessions_file is not None:
            label = case.label if case is not None else None
            path = Path(case.resolve(self.sessions_file) if case is not None else self.sessions_file)
            if not path.is_file():
                raise InputError(label, f"assets.{self.name}.sessions_file", f"sessions file not found: {path}")
            frames.append(ev_sessions.read_sessions(
                path, self.sessions_format, garage=self.garage_id, start=start, end=end,
                max_sessions=self.max_sessions, tz=self.sessions_timezone,
            ))
        df = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
        df["session_id"] = df["session_id"].astype(str)
        dup = df["session_id"].duplicated()
        if dup.any():
            raise InputError(case.label if case is not None else None, f"assets.{self.name}.sessions",
                             f"session id {df['session_id'][dup].iloc[0]!r} appears twice (inline and file)")
        return df

    def prepare(self, case, horizon: Horizon) -> dict:
        h0 = horizon.index[0]
        h_end = h0 + pd.Timedelta(hours=horizon.n * horizon.dt_h)
        return ev_sessions.session_layout(self.session_table(case, h0, h_end), h0, horizon.dt_h, horizon.n,
                                          self.charger_power_mw, self.garage_max_power_mw)

    def check(self, horizon: Horizon, data: dict) -> None:
        if self.shortfall_eur_per_mwh is not None:
            return
        t = data["sessions"]
        possible = self.charger_efficiency * t["max_power_mw"] * t["hours"]
        bad = np.flatnonzero((t["energy_mwh"] > possible * (1 + 1e-9) + 1e-12).to_numpy())
        if len(bad):
            i = int(bad[0])
            row = t.iloc[i]
            more = f"; {len(bad) - 1} other session(s) too" if len(bad) > 1 else ""
            eff = f" x efficiency {self.charger_efficiency:g}" if self.charger_efficiency < 1 else ""
            raise InfeasibleError(
                self.name,
                f"session {row['session_id']}",
                f"needs {row['energy_mwh'] * 1000:.4g} kWh but can get at most {possible.iloc[i] * 1000:.4g} kWh "
                f"({row['hours']:.4g} h plugged in at {row['max_power_mw'] * 1000:.4g} kW{eff}); "
                f"set shortfall_eur_per_mwh to plan with unmet energy{more}",
            )

    def needs_binaries(self, energy_value_can_be_negative: bool) -> bool:
        return self.v2g and energy_value_can_be_negative

    # --- model --------------------------------------------------------------------------------------
    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        tab = data["sessions"]
        labels = tab["label"].tolist()
        ps, pt = data["pair_s"], data["pair_t"]
        keys = [(labels[s], int(t)) for s, t in zip(ps, pt, strict=True)]
        avail = dict(zip(keys, data["avail_mw"].tolist(), strict=True))
        need = dict(zip(labels, tab["energy_required_mwh"].tolist(), strict=True))
        blk._ev = {"keys": keys, "labels": labels, "avail": avail, "need": need, "data": data,
                   "pos": {lab: i for i, lab in enumerate(labels)},
                   "by_t": _group(keys, ps, pt, by_time=True, n=horizon.n),
                   "by_s": _group(keys, ps, pt, by_time=False, n=len(labels))}
        blk.S = pyo.Set(initialize=labels, ordered=True)
        blk.P = pyo.Set(initialize=keys, dimen=2, ordered=True)
        blk.charge = pyo.Var(blk.P, bounds=lambda b, s, t: (0.0, avail[s, t]))
        if self.v2g:
            blk.discharge = pyo.Var(blk.P, bounds=lambda b, s, t: (0.0, avail[s, t]))
            if use_binaries:
                blk.charging = pyo.Var(blk.P, within=pyo.Binary)
                blk.charge_only_when_charging = pyo.Constraint(
                    blk.P, rule=lambda b, s, t: b.charge[s, t] <= avail[s, t] * b.charging[s, t])
                blk.discharge_only_when_not_charging = pyo.Constraint(
                    blk.P, rule=lambda b, s, t: b.discharge[s, t] <= avail[s, t] * (1 - b.charging[s, t]))
        if self.shortfall_eur_per_mwh is not None:
            blk.shortfall = pyo.Var(blk.S, bounds=lambda b, s: (0.0, need[s]))
            blk.shortfall_price = pyo.Param(initialize=self.shortfall_eur_per_mwh, mutable=True)
            blk.cost_eur = pyo.Expression(expr=blk.shortfall_price * pyo.quicksum(blk.shortfall[s] for s in blk.S))
        if self.v2g or self.offer_reserves:
            blk.energy = pyo.Var(blk.P, bounds=lambda b, s, t: (0.0, need[s]))
        self._energy_constraints(blk, horizon.dt_h, activation=None)
        by_t = blk._ev["by_t"]

        def net(b, t):
            ks = by_t[t]
            if not ks:
                return 0.0
            if self.v2g:
                return pyo.quicksum(b.charge[k] - b.discharge[k] for k in ks)
            return pyo.quicksum(b.charge[k] for k in ks)

        blk.net_mw = pyo.Expression(T, rule=net)
        G = self.garage_max_power_mw
        if G is not None:
            # only MTUs where the cars together could exceed the limit
            tight = [t for t in T if sum(avail[k] for k in by_t[t]) > G + TOL]
            blk.TG = pyo.Set(initialize=tight, ordered=True)
            lo = -G if self.v2g else None
            blk.garage_limit = pyo.Constraint(blk.TG, rule=lambda b, t: (lo, b.net_mw[t], G))

    def _energy_constraints(self, blk, dt_h: float, activation) -> None:
        """Energy need per session (and energy states); rebuilt when expected activation is added."""
        for name in ("energy_dynamics", "energy_need"):
            if hasattr(blk, name):
                blk.del_component(name)
        eta = self.charger_efficiency
        by_s = blk._ev["by_s"]
        need = blk._ev["need"]
        pos = blk._ev["pos"]
        short = (lambda s: blk.shortfall[s]) if hasattr(blk, "shortfall") else (lambda s: 0.0)

        def into_car(b, k):
            x = b.charge[k] - (activation[k] if activation is not None and k in activation else 0.0)
            e = eta * x
            if self.v2g:
                e = e - b.discharge[k] / eta
            return e * dt_h

        if hasattr(blk, "energy"):
            prev = {}
            for ks in by_s:
                for j, k in enumerate(ks):
                    prev[k] = ks[j - 1] if j else None

            blk.energy_dynamics = pyo.Constraint(
                blk.P, rule=lambda b, s, t: b.energy[s, t] == (0.0 if prev[s, t] is None else b.energy[prev[s, t]])
                + into_car(b, (s, t)))
            blk.energy_need = pyo.Constraint(
                blk.S, rule=lambda b, s: b.energy[by_s[pos[s]][-1]] + short(s) == need[s])
        else:
            blk.energy_need = pyo.Constraint(
                blk.S, rule=lambda b, s: pyo.quicksum(into_car(b, k) for k in by_s[pos[s]]) + short(s) == need[s])

    # --- reserves -----------------------------------------------------------------------------------
    def flexibility(self) -> Flexibility | None:
        """Both ways when ``offer_reserves``: a cut or a raise on an event, not a continuous signal."""
        return Flexibility(up=True, down=True) if self.offer_reserves else None

    def limited_energy_reservoir(self) -> bool:
        """``ler`` when given, else ``v2g`` (a car battery feeding back is a LER; one-way charging is not)."""
        return self.v2g if self.ler is None else bool(self.ler)

    def add_reserve_headroom(self, blk, T, horizon: Horizon, up_mw, down_mw, up_mwh, down_mwh,
                             expected_up_mw=None) -> None:
        ev = blk._ev
        data = ev["data"]
        dt_h, eta = horizon.dt_h, self.charger_efficiency
        keys, avail, need = ev["keys"], ev["avail"], ev["need"]
        full = data["frac"] >= 1.0 - 1e-9
        future = dict(zip(keys, data["future_mwh"].tolist(), strict=True))
        prev = {}
        for ks in ev["by_s"]:
            for j, k in enumerate(ks):
                prev[k] = ks[j - 1] if j else None
        full_by_t: list[list] = [[] for _ in range(horizon.n)]
        for k, f in zip(keys, full, strict=True):
            if f:
                full_by_t[k[1]].append(k)
        v2g = self.v2g

        def y(b, k):
            return b.discharge[k] if v2g else 0.0

        def e_before(b, k):
            return 0.0 if prev[k] is None else b.energy[prev[k]]

        def still_needed(b, k):  # grid energy the car still needs from this MTU on
            return (need[k[0]] - e_before(b, k)) / eta

        blk.reserve_up_power = pyo.Constraint(T, rule=lambda b, t: up_mw[t] <= pyo.quicksum(
            b.charge[k] - y(b, k) + (avail[k] if v2g else 0.0) for k in full_by_t[t]))
        blk.reserve_down_power = pyo.Constraint(T, rule=lambda b, t: down_mw[t] <= pyo.quicksum(
            avail[k] - b.charge[k] + y(b, k) for k in full_by_t[t]))
        k_up = eta**2 if v2g else 1.0
        blk.reserve_up_energy = pyo.Constraint(T, rule=lambda b, t: up_mwh[t] <= k_up * pyo.quicksum(
            future[k] - still_needed(b, k) for k in full_by_t[t]))
        blk.reserve_down_energy = pyo.Constraint(T, rule=lambda b, t: down_mwh[t] <= pyo.quicksum(
            still_needed(b, k) for k in full_by_t[t]))
        G = self.garage_max_power_mw
        if G is not None:
            blk.reserve_down_garage = pyo.Constraint(T, rule=lambda b, t: b.net_mw[t] + down_mw[t] <= G)
            if v2g:
                blk.reserve_up_garage = pyo.Constraint(T, rule=lambda b, t: b.net_mw[t] - up_mw[t] >= -G)
        if expected_up_mw is None:
            return
        active = [t for t in T if full_by_t[t] and not _is_zero(expected_up_mw[t])]
        if not active:
            return
        act_keys = [k for t in active for k in full_by_t[t]]
        blk.PA = pyo.Set(initialize=act_keys, dimen=2, ordered=True)
        blk.activation = pyo.Var(blk.PA)
        blk.TA = pyo.Set(initialize=active, ordered=True)
        blk.activation_split = pyo.Constraint(
            blk.TA, rule=lambda b, t: pyo.quicksum(b.activation[k] for k in full_by_t[t]) == expected_up_mw[t])
        lo = (lambda k: -avail[k]) if v2g else (lambda k: 0.0)
        blk.activation_power = pyo.Constraint(
            blk.PA, rule=lambda b, s, t: (lo((s, t)), b.charge[s, t] - y(b, (s, t)) - b.activation[s, t], avail[s, t]))
        self._energy_constraints(blk, dt_h, activation=blk.activation)

    # --- results ------------------------------------------------------------------------------------
    def _pair_values(self, var, keys) -> np.ndarray:
        return np.array([0.0 if var[k].value is None else var[k].value for k in keys], dtype=float)

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        ev = blk._ev
        data, keys = ev["data"], ev["keys"]
        pt = data["pair_t"]
        net = self._pair_values(blk.charge, keys)
        if self.v2g:
            net = net - self._pair_values(blk.discharge, keys)
        n = horizon.n
        return {
            f"{self.name}_power_mw": np.bincount(pt, weights=net, minlength=n)[:n],
            f"{self.name}_connected": np.bincount(pt, weights=data["frac"], minlength=n)[:n],
            f"{self.name}_available_mw": np.bincount(pt, weights=data["avail_mw"], minlength=n)[:n],
        }

    def session_results(self, blk) -> pd.DataFrame:
        """Per session: what it needed inside the horizon, what it got, and the shortfall (MWh)."""
        ev = blk._ev
        data, keys = ev["data"], ev["keys"]
        dt_h, eta = data["dt_h"], self.charger_efficiency
        into = eta * self._pair_values(blk.charge, keys)
        if hasattr(blk, "activation"):
            act = np.array([(blk.activation[k].value or 0.0) if k in blk.PA else 0.0 for k in keys])
            into = into - eta * act
        if self.v2g:
            into = into - self._pair_values(blk.discharge, keys) / eta
        tab = data["sessions"]
        delivered = np.bincount(data["pair_s"], weights=into * dt_h, minlength=len(tab))
        short = (np.array([blk.shortfall[s].value or 0.0 for s in tab["label"]])
                 if hasattr(blk, "shortfall") else np.zeros(len(tab)))
        out = tab.drop(columns=["label"]).copy()
        out["energy_delivered_mwh"] = delivered
        out["shortfall_mwh"] = short
        out["met"] = delivered >= out["energy_required_mwh"] - 1e-6
        return out.set_index("session_id")

    def unmanaged_charge_mw(self, data: dict) -> np.ndarray:
        """Charging power (MW) of each (session, MTU) pair of ``data`` with nobody managing it: every
        car charges at its full available power from arrival until its energy is in; where a garage
        limit is shared, MTU by MTU the cars that arrived first take their power first."""
        eta, dt_h = self.charger_efficiency, data["dt_h"]
        ps, pt, avail = data["pair_s"], data["pair_t"], data["avail_mw"]
        sessions = data["sessions"]
        left = sessions["energy_required_mwh"].to_numpy(float) / eta  # grid energy still to take, MWh
        room = np.full(data["n"], np.inf if self.garage_max_power_mw is None else float(self.garage_max_power_mw))
        arrival = pd.to_datetime(sessions["arrival_utc"]).rank(method="first").to_numpy(float)
        out = np.zeros(len(ps))
        for i in np.lexsort((arrival[ps] if len(ps) else ps, pt)):  # by MTU, then by arrival
            s, t = ps[i], pt[i]
            p = max(0.0, min(avail[i], left[s] / dt_h, room[t]))
            out[i] = p
            left[s] -= p * dt_h
            room[t] -= p
        return out

    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, a car charges on arrival at full power until done (``unmanaged_charge_mw``)
        and never discharges; energy it cannot get is shortfall (if allowed)."""
        for k, p in zip(blk._ev["keys"], self.unmanaged_charge_mw(data).tolist(), strict=True):
            blk.charge[k].fix(p)
        for name in ("discharge", "charging"):
            var = blk.component(name)
            if var is not None:
                for k in var:
                    var[k].fix(0)

    def uncontrolled_mw(self, data: dict) -> np.ndarray:
        """Net power per MTU if every car charged at full power from arrival until done (no garage
        limit, no price response): the baseline smart charging is measured against."""
        eta, dt_h = self.charger_efficiency, data["dt_h"]
        ps, pt = data["pair_s"], data["pair_t"]
        cap = data["avail_mw"] * dt_h
        need = data["sessions"]["energy_required_mwh"].to_numpy(float)[ps] / eta
        start = np.concatenate([[0.0], np.cumsum(np.bincount(ps, weights=cap, minlength=len(data["sessions"])))[:-1]])
        before = np.cumsum(cap) - cap - start[ps]
        take = np.clip(need - before, 0.0, cap)
        return np.bincount(pt, weights=take / dt_h, minlength=data["n"])[: data["n"]]


def _group(keys, ps, pt, by_time: bool, n: int) -> list[list]:
    out: list[list] = [[] for _ in range(n)]
    idx = pt if by_time else ps
    for k, i in zip(keys, idx, strict=True):
        out[int(i)].append(k)
    return out


def _is_zero(expr) -> bool:
    """Whether a (linear) expression is identically zero, e.g. activation times a zero fraction."""
    from pyomo.repn import generate_standard_repn

    try:
        repn = generate_standard_repn(expr.expr if hasattr(expr, "expr") else expr, compute_values=True)
    except Exception:  # noqa: BLE001 - anything unusual: treat as non-zero
        return False
    if repn.nonlinear_expr is not None or repn.quadratic_vars:
        return False
    return abs(pyo.value(repn.constant)) < 1e-12 and all(abs(c) < 1e-12 for c in repn.linear_coefs)
