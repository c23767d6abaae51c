"""Photovoltaic generation.

A generation profile g_t (MW, >= 0) comes from a CSV (``timestamp_utc`` + a MW column, or per-unit
values times ``capacity_mw`` with ``profile_unit = "per_unit"``, or irradiance in W/m2 with
``profile_unit = "w_per_m2"``: g_t = capacity_mw * G_t / 1000 W/m2 * performance_ratio, a plain
rating-at-standard-irradiance model that ignores panel tilt and temperature) or from the synthetic
generator. ``profile_time_column`` names a time column other than ``timestamp_utc`` (UTC).
If ``curtailable``, the model may use any output p_t in [0, g_t]; otherwise p_t = g_t.
Net power at the connection point is -p_t (generation lowers consumption).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field

from bidopt.assets.base import AssetBase, values
from bidopt.case import register_asset
from bidopt.data import sources, synthetic
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.params import set_values


@register_asset
class PV(AssetBase):
    kind: Literal["pv"] = "pv"
    capacity_mw: float = Field(gt=0)
    profile: str = "synthetic"
    profile_column: str | None = None
    profile_unit: Literal["mw", "per_unit", "w_per_m2"] = "mw"
    profile_time_column: str | None = None
    performance_ratio: float = Field(0.85, gt=0, le=1)  # for w_per_m2: system losses (inverter, soiling, heat)
    latitude: float = 59.3
    curtailable: bool = True

    def prepare(self, case, horizon: Horizon) -> dict:
        g = sources.profile(
            case,
            self.profile,
            f"assets.{self.name}.profile",
            horizon.index,
            lambda idx: synthetic.pv_profile(idx, capacity_mw=self.capacity_mw, latitude=self.latitude, seed=case.synthetic.seed),
            self.profile_column,
            self.profile_time_column,
        )
        if self.profile_unit == "per_unit":
            g = g * self.capacity_mw
        elif self.profile_unit == "w_per_m2":
            g = g * self.capacity_mw / 1000.0 * self.performance_ratio
        if (g < -1e-9).any():
            t = horizon.index[int(np.argmax(g < -1e-9))]
            raise InputError(case.resolve(self.profile), f"assets.{self.name}.profile", f"negative generation at {t}")
        return {"generation_mw": np.clip(g, 0.0, None)}

    def needs_binaries(self, energy_value_can_be_negative: bool) -> bool:
        return False

    # fields that reach the model only through ``prepare``'s generation (a Param): a built block
    # takes another PV system that differs in them (``refresh``)
    DATA_FIELDS: ClassVar[tuple[str, ...]] = ("capacity_mw", "profile", "profile_column", "profile_unit",
                                              "profile_time_column", "performance_ratio", "latitude")

    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        self.same_build(blk, use_binaries, *self.DATA_FIELDS)
        gen = data["generation_mw"]
        blk.available = pyo.Param(T, initialize=dict(enumerate(gen)), mutable=True)
        if self.curtailable:  # p_t <= g_t as the output's bound
            blk.output = pyo.Var(T, bounds=lambda b, t: (0, b.available[t]))
        else:
            blk.output = pyo.Var(T, bounds=(0, None))
            blk.output_is_available = pyo.Constraint(T, rule=lambda b, t: b.output[t] == b.available[t])
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: -b.output[t])

    def refresh(self, blk, horizon: Horizon, data: dict, use_binaries: bool) -> bool:
        if not self.same_build(blk, use_binaries, *self.DATA_FIELDS):
            return False
        set_values(blk.available, data["generation_mw"])
        return True

    def must_run_mw(self, data: dict, negative_price: bool = False) -> np.ndarray | None:
        """Output is free, so it is used at any non-negative price; at a negative price only output
        that cannot be curtailed stays (curtailable output is then flexible)."""
        if self.curtailable and negative_price:
            return None
        return -np.asarray(data["generation_mw"], dtype=float)

    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, PV is never curtailed: its output is what the sun gives."""
        for t in blk.output:
            blk.output[t].fix(float(pyo.value(blk.available[t])))

    def renewable_output_mw(self, blk):
        """The renewable production in each MTU (MW): the output used. Read by the
        micro-production tax reduction (``bidopt.tariffs.tax_reduction``)."""
        return blk.output

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        return {f"{self.name}_power_mw": -values(blk.output)}
