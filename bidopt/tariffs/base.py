"""What every tariff kind provides, and shared helpers (SEK -> EUR, VAT, windows).

A tariff contributes any of: a linear cost per MWh imported and a value per MWh exported in each
MTU (``unit_costs``, EUR/MWh), model variables and constraints with an objective cost (``build``,
e.g. monthly peaks), a fixed cost for the horizon (``fixed_cost_eur``), and ``bill_eur``: the
realised bill for given grid flows, the same numbers outside the optimiser (settlement, tests).
All amounts are ex VAT inside; rates published incl. VAT set ``includes_vat = true``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from bidopt.case import Strict, TariffSpec, dated_value
from bidopt.horizon import Horizon

KWH_PER_MWH = 1000.0
KW_PER_MW = 1000.0


class Window(Strict):
    """A set of local times: months (1-12), weekdays (0 = Monday .. 6), hour starts (0-23), minus holidays."""

    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(default_factory=lambda: list(range(1, 13)))
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: list(range(7)))
    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(default_factory=lambda: list(range(24)))
    holidays: list[dt.date] = Field(default_factory=list)

    def mask(self, local: pd.DatetimeIndex) -> np.ndarray:
        return self.mask_fields(*local_fields(local)[1:])

    def mask_wall(self, wall: np.ndarray) -> np.ndarray:
        """``mask`` on naive wall-clock ``datetime64`` times (e.g. ``Horizon.wall``)."""
        return self.mask_fields(*wall_fields(wall)[1:])

    def mask_fields(self, month: np.ndarray, weekday: np.ndarray, hour: np.ndarray, date: np.ndarray) -> np.ndarray:
        """``mask`` on local month, weekday (0 = Monday), hour and date arrays (``local_fields``)."""
        m = np.isin(month, self.months) & np.isin(weekday, self.weekdays) & np.isin(hour, self.hours)
        if self.holidays:
            m &= ~np.isin(date, np.array(self.holidays, dtype=object))
        return m


def local_fields(local: pd.DatetimeIndex) -> tuple[np.ndarray, ...]:
    """Year, month (1-12), weekday (0 = Monday), hour and date (``datetime.date`` objects) of local
    times, by numpy calendar arithmetic on the wall-clock times (pandas' field accessors cost more
    than the rest of a small model's tariff set-up)."""
    return wall_fields((local.tz_localize(None) if local.tz is not None else local).to_numpy())


def wall_fields(wall: np.ndarray) -> tuple[np.ndarray, ...]:
    """``local_fields`` of naive wall-clock ``datetime64`` times."""
    wall = wall.astype("datetime64[m]")
    days = wall.astype("datetime64[D]")
    months = wall.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    hour = (wall - days).astype(np.int64) // 60
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return months // 12 + 1970, months % 12 + 1, weekday, hour, days.astype(object)


class TariffBase(TariffSpec):
    def vat_rate(self, case, day: dt.date) -> float:
        return dated_value(case.retail.vat_rate, day, "retail.vat_rate")

    def sek_to_eur(self, case, day: dt.date) -> float:
        """Multiplier from this tariff's SEK amounts to EUR ex VAT."""
        f = 1.0 / case.case.sek_per_eur
        if self.includes_vat:
            f /= 1.0 + self.vat_rate(case, day)
        return f

    # --- interface (defaults: contributes nothing) -------------------------------------------
    def unit_costs(self, case, horizon: Horizon) -> tuple[np.ndarray, np.ndarray] | None:
        """(import cost, export value) per MTU in EUR/MWh ex VAT, or None."""
        return None

    def build(self, blk, T, horizon: Horizon, case, grid_import) -> None:
        """Add variables/constraints and ``blk.cost_eur`` (EUR ex VAT) to the model, if any."""

    def refresh(self, blk, T, horizon: Horizon, case, grid_import) -> bool:
        """Put a new horizon's numbers into a block ``build`` made; False when its structure does
        not fit (the model is then rebuilt). Default: refreshable exactly when ``build`` adds
        nothing (unit costs and fixed costs are recomputed by the site)."""
        return type(self).build is TariffBase.build

    def fixed_cost_eur(self, case, horizon: Horizon) -> float:
        return 0.0

    def carry_state(self, case, import_mw: pd.Series, next_day: dt.date) -> dict:
        """Fields to set on this tariff's spec for ``next_day``, given the grid import delivered on
        the day before (UTC index, MW): the rolling backtest's state. Default: nothing."""
        return {}

    def bill_eur(self, case, import_mw: pd.Series, export_mw: pd.Series | None = None) -> float:
        """Realised cost (EUR ex VAT) for grid flows given per MTU (UTC index, MW)."""
        h = Horizon(pd.DatetimeIndex(import_mw.index), case.case.timezone)
        total = self.fixed_cost_eur(case, h)
        uc = self.unit_costs(case, h)
        if uc is not None:
            imp = import_mw.to_numpy(float)
            exp = np.zeros_like(imp) if export_mw is None else export_mw.to_numpy(float)
            total += float(np.sum(uc[0] * imp - uc[1] * exp) * h.dt_h)
        return total


def per_day(values_by_day, horizon: Horizon) -> np.ndarray:
    """Evaluate ``values_by_day(date) -> float`` once per local day and spread it over the MTUs."""
    days = horizon.local_date
    uniq = {d: values_by_day(d) for d in dict.fromkeys(days)}
    return np.array([uniq[d] for d in days], dtype=float)
