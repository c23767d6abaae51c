"""Grid energy (transfer) fee per kWh imported, flat or time-of-use.

Each dated rate has a default ``sek_per_kwh`` and optional windows (local months, weekdays, hours)
with their own price; the first window that contains an MTU's local start sets its price. Example:
Fortum 2013, 52 ore/kWh on weekdays 06-22 in Nov-Mar and 11.6 ore/kWh otherwise (incl. VAT).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
from pydantic import Field

from bidopt.case import Strict, register_tariff
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.tariffs.base import KWH_PER_MWH, TariffBase, Window


class WindowPrice(Window):
    sek_per_kwh: float


class EnergyFeeRate(Strict):
    valid_from: dt.date
    sek_per_kwh: float
    windows: list[WindowPrice] = Field(default_factory=list)


@register_tariff
class EnergyFee(TariffBase):
    kind: Literal["energy_fee"] = "energy_fee"
    rates: list[EnergyFeeRate] = Field(min_length=1)

    def _rate_for(self, day: dt.date) -> EnergyFeeRate:
        best = max((r for r in self.rates if r.valid_from <= day), key=lambda r: r.valid_from, default=None)
        if best is None:
            raise InputError(None, f"tariffs.{self.name or self.kind}.rates", f"no rate in force on {day}")
        return best

    def unit_costs(self, case, horizon: Horizon):
        price = np.zeros(horizon.n)
        days = horizon.local_date
        for day in dict.fromkeys(days):
            rate = self._rate_for(day)
            sel = days == day
            wall = horizon.wall[sel]
            p = np.full(sel.sum(), rate.sek_per_kwh)
            taken = np.zeros(sel.sum(), dtype=bool)
            for w in rate.windows:
                m = w.mask_wall(wall) & ~taken
                p[m] = w.sek_per_kwh
                taken |= m
            price[sel] = p * KWH_PER_MWH * self.sek_to_eur(case, day)
        return price, np.zeros(horizon.n)
