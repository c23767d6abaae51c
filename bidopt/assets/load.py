"""Base (inflexible) load.

A consumption profile l_t (MW, >= 0) from a CSV (``timestamp_utc`` + a MW column) or the synthetic
generator (``peak_mw`` sets its size), times ``scale``. Net power at the connection point is l_t.
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
class Load(AssetBase):
    kind: Literal["load"] = "load"
    profile: str = "synthetic"
    profile_column: str | None = None
    peak_mw: float = Field(0.05, gt=0)
    scale: float = Field(1.0, ge=0)

    def prepare(self, case, horizon: Horizon) -> dict:
        return {"load_mw": demand_profile(self, case, horizon)}

    # fields that reach the model only through ``prepare``'s profile (a Param): a built block takes
    # another load that differs in them (``refresh``)
    DATA_FIELDS: ClassVar[tuple[str, ...]] = ("profile", "profile_column", "peak_mw", "scale")

    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        self.same_build(blk, use_binaries, *self.DATA_FIELDS)
        blk.demand = pyo.Param(T, initialize=dict(enumerate(data["load_mw"])), mutable=True)
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: b.demand[t])

    def refresh(self, blk, horizon: Horizon, data: dict, use_binaries: bool) -> bool:
        if not self.same_build(blk, use_binaries, *self.DATA_FIELDS):
            return False
        set_values(blk.demand, data["load_mw"])
        return True

    def must_run_mw(self, data: dict, negative_price: bool = False) -> np.ndarray:
        """An inflexible load is consumed at any price."""
        return np.asarray(data["load_mw"], dtype=float)

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        return {f"{self.name}_power_mw": values(blk.demand)}


def demand_profile(asset, case, horizon: Horizon) -> np.ndarray:
    """An asset's consumption profile (MW) from its ``profile``/``profile_column``/``peak_mw``/``scale``
    fields: a CSV column or the synthetic building load, checked to be non-negative."""
    p = sources.profile(
        case,
        asset.profile,
        f"assets.{asset.name}.profile",
        horizon.index,
        lambda idx: synthetic.base_load(idx, peak_mw=asset.peak_mw, seed=case.synthetic.seed),
        asset.profile_column,
    ) * asset.scale
    if (p < -1e-9).any():
        t = horizon.index[int(np.argmax(p < -1e-9))]
        raise InputError(case.resolve(asset.profile), f"assets.{asset.name}.profile", f"negative load at {t}")
    return p
