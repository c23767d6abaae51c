"""Hourly (or per-MTU) grid price series per direction, like the Gotland "Tariff 2.0" grid load fee.

A CSV with ``timestamp_utc`` and columns for import and export (SEK/kWh): import pays the import
price, export earns the export price in the same MTU (power that relieves a loaded station is paid).
Hourly values hold for each MTU of the hour.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from bidopt.case import register_tariff
from bidopt.data import sources
from bidopt.horizon import Horizon
from bidopt.tariffs.base import KWH_PER_MWH, TariffBase


@register_tariff
class GridFeeSeries(TariffBase):
    kind: Literal["grid_fee_series"] = "grid_fee_series"
    file: str
    import_column: str = "import_sek_per_kwh"
    export_column: str | None = "export_sek_per_kwh"
    scale: float = Field(1.0, ge=0)

    @field_validator("file")
    @classmethod
    def _a_file(cls, v: str) -> str:
        if v == sources.SYNTHETIC:
            raise ValueError("file must be a CSV path (there is no synthetic grid fee)")
        return v

    def unit_costs(self, case, horizon: Horizon):
        def col(c):
            return sources.profile(case, self.file, f"tariffs.{self.name or self.kind}.{c}", horizon.index, None, c)

        f = self.scale * KWH_PER_MWH * self.sek_to_eur(case, horizon.first_day)
        imp = col(self.import_column) * f
        exp = col(self.export_column) * f if self.export_column else np.zeros(horizon.n)
        return imp, exp
