"""Fixed grid fees (subscription / fuse fee) in SEK per year, dated.

Spread evenly over time: an MTU of length dt carries sek_per_year * dt / (hours in its local year),
so a whole year sums to the annual fee exactly (8760 or 8784 h).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from bidopt.case import Dated, dated_value, register_tariff
from bidopt.horizon import Horizon
from bidopt.tariffs.base import TariffBase, per_day


def hours_in_year(year: int) -> float:
    return (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days * 24.0


@register_tariff
class FixedFee(TariffBase):
    kind: Literal["fixed_fee"] = "fixed_fee"
    sek_per_year: list[Dated] = Field(min_length=1)

    def fixed_cost_eur(self, case, horizon: Horizon) -> float:
        per_mtu = per_day(
            lambda d: dated_value(self.sek_per_year, d, f"tariffs.{self.name}.sek_per_year")
            * self.sek_to_eur(case, d)
            / hours_in_year(d.year),
            horizon,
        )
        return float(per_mtu.sum() * horizon.dt_h)
