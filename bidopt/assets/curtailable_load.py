"""Curtailable load: a demand that may be left partly unserved, at its value of lost load.

A demand profile d_t (MW, >= 0) comes from a CSV (``timestamp_utc`` + a MW column) or the synthetic
generator (``peak_mw`` sets its size), times ``scale``. The model chooses the curtailed power
x_t (MW) with 0 <= x_t <= share * d_t (``max_curtailment_share``, default 1); the served power
d_t - x_t is the net power at the connection point.

Every MWh not served costs ``value_of_lost_load_eur_per_mwh`` (VoLL). Without it, VoLL comes from
the table in ``bidopt/defaults/voll.toml`` (Ei 2021, per ``customer_type``: households, industry,
services, public_sector, agriculture, aggregated), stored in SEK/kWh with its price year and
converted with the case's ``sek_per_eur`` when the model is built. Cost (EUR, in ``blk.cost_eur``):
VoLL * sum_t x_t * dt. So the load is curtailed exactly when a MWh bought costs more than VoLL (or
when the grid connection cannot carry it).

Reserves (``offer_reserves = true``: flexibility both ways on an event, ``flexibility()``; the
reserve products ask for it). With min power (1 - share) d_t and max power d_t:

    up_mw[t]   <= (d_t - x_t) - (1 - share) d_t    (cut consumption further)
    down_mw[t] <= d_t - (d_t - x_t) = x_t           (serve more of what is curtailed)

Energy rule: power only. A cut can be held as long as the reserve product asks, and raising
consumption back towards d_t can be held too, so ``up_mwh``/``down_mwh`` add no constraint.
Expected activation (``expected_up_mw``, + = upward = consumption cut) is load not served: it is
costed at VoLL in ``cost_eur`` (negative when net activation is downward and serves curtailed load).
A curtailable load is not a limited energy reservoir (``ler = false`` by default): it reserves
exactly the capacity it sold, in that direction, with no opposite-direction share a reserve rule
may ask of a LER (50 homes x 2 kW sell 0.1 MW upward: domain notes, case V12).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, field_validator

from bidopt.assets.base import AssetBase, Flexibility, values
from bidopt.assets.load import demand_profile
from bidopt.case import DEFAULTS_DIR, register_asset
from bidopt.errors import InputError
from bidopt.horizon import Horizon

VOLL_FILE = DEFAULTS_DIR / "voll.toml"


@lru_cache(maxsize=1)
def voll_table() -> dict:
    """The parsed ``voll.toml``: ``{"voll": [entries...], "aliases": {...}}``, entries sorted by date."""
    with open(VOLL_FILE, "rb") as f:
        data = tomllib.load(f)
    entries = sorted(data["voll"], key=lambda e: e["valid_from"])
    return {"voll": entries, "aliases": dict(data.get("aliases", {}))}


def customer_types() -> list[str]:
    """Customer categories of the VoLL table (all entries)."""
    return sorted({k for e in voll_table()["voll"] for k in e["sek_per_kwh"]})


def canonical_customer_type(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return voll_table()["aliases"].get(key, key)


def voll_entry(day: dt.date) -> dict:
    """The VoLL table entry in force on ``day`` (the first entry for days before it)."""
    entries = voll_table()["voll"]
    in_force = [e for e in entries if e["valid_from"] <= day]
    return in_force[-1] if in_force else entries[0]


def default_voll_eur_per_mwh(customer_type: str, sek_per_eur: float, day: dt.date) -> float:
    """VoLL of ``customer_type`` from the table in force on ``day``, converted SEK/kWh -> EUR/MWh."""
    entry = voll_entry(day)
    key = canonical_customer_type(customer_type)
    table = entry["sek_per_kwh"]
    if key not in table:
        raise InputError(
            VOLL_FILE, "customer_type",
            f"no VoLL for {customer_type!r} in the entry valid from {entry['valid_from']}; has {', '.join(sorted(table))}",
        )
    if entry.get("unit", "SEK/kWh") != "SEK/kWh":
        raise InputError(VOLL_FILE, "unit", f"expected SEK/kWh, found {entry['unit']!r}")
    return float(table[key]) * 1000.0 / sek_per_eur


@register_asset
class CurtailableLoad(AssetBase):
    kind: Literal["curtailable_load"] = "curtailable_load"
    cost_stream: ClassVar[str] = "curtailment"  # value of lost load
    profile: str = "synthetic"
    profile_column: str | None = None
    peak_mw: float = Field(0.05, gt=0)
    scale: float = Field(1.0, ge=0)
    customer_type: str = "aggregated"
    value_of_lost_load_eur_per_mwh: float | None = Field(None, ge=0)
    max_curtailment_share: float = Field(1.0, ge=0, le=1)
    offer_reserves: bool = False

    @field_validator("customer_type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        key = canonical_customer_type(v)
        known = customer_types()
        if key not in known:
            raise ValueError(f"customer_type {v!r} is not in the VoLL table; known: {', '.join(known)}")
        return key

    def voll_eur_per_mwh(self, case, horizon: Horizon) -> float:
        if self.value_of_lost_load_eur_per_mwh is not None:
            return float(self.value_of_lost_load_eur_per_mwh)
        return default_voll_eur_per_mwh(self.customer_type, case.case.sek_per_eur, horizon.first_day)

    def prepare(self, case, horizon: Horizon) -> dict:
        d = demand_profile(self, case, horizon)
        return {"demand_mw": np.maximum(d, 0.0), "voll_eur_per_mwh": self.voll_eur_per_mwh(case, horizon)}

    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        dt_h = horizon.dt_h
        share = self.max_curtailment_share
        blk.demand = pyo.Param(T, initialize=dict(enumerate(data["demand_mw"])), mutable=True)
        blk.voll = pyo.Param(initialize=data["voll_eur_per_mwh"], mutable=True)
        blk.curtailed = pyo.Var(T, bounds=(0, None))
        blk.max_curtailment = pyo.Constraint(T, rule=lambda b, t: b.curtailed[t] <= share * b.demand[t])
        blk.served = pyo.Expression(T, rule=lambda b, t: b.demand[t] - b.curtailed[t])
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: b.served[t])
        # load cut by expected reserve activation (MW, 0 unless a market sets it)
        blk.activation_mw = pyo.Expression(T, initialize=0.0)
        blk.cost_eur = pyo.Expression(
            expr=blk.voll * dt_h * sum(blk.curtailed[t] + blk.activation_mw[t] for t in T)
        )

    def must_run_mw(self, data: dict, negative_price: bool = False) -> np.ndarray:
        """The whole demand: its flexibility is curtailment at VoLL, not a day-ahead price above
        the scenario prices, so the curves keep buying it (the model curtails within them)."""
        return np.asarray(data["demand_mw"], dtype=float)

    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, nothing is curtailed: the whole demand is served."""
        for t in blk.curtailed:
            blk.curtailed[t].fix(0.0)

    def flexibility(self) -> Flexibility | None:
        """Both ways when ``offer_reserves``: a cut or a raise on an event, not a continuous signal."""
        return Flexibility(up=True, down=True) if self.offer_reserves else None

    def add_reserve_headroom(self, blk, T, horizon, up_mw, down_mw, up_mwh, down_mwh, expected_up_mw=None) -> None:
        """Power headroom only (see the module docstring); ``up_mwh``/``down_mwh`` bind nothing."""
        keep = 1.0 - self.max_curtailment_share
        blk.reserve_power_up = pyo.Constraint(
            T, rule=lambda b, t: up_mw[t] <= b.served[t] - keep * b.demand[t]
        )
        blk.reserve_power_down = pyo.Constraint(T, rule=lambda b, t: down_mw[t] <= b.curtailed[t])
        if expected_up_mw is not None:
            for t in T:
                blk.activation_mw[t].set_value(expected_up_mw[t])

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        curtailed = values(blk.curtailed)
        demand = np.array([pyo.value(blk.demand[t]) for t in blk.demand.index_set()], dtype=float)
        return {f"{self.name}_power_mw": demand - curtailed, f"{self.name}_curtailed_mw": curtailed}
