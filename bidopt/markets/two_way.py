"""What the up/down capacity products (aFRR, mFRR) share: two streams ``<name>_up`` and
``<name>_down``, a ``directions`` list choosing which are offered, providers by directional
flexibility and response time, the prequalified limit per direction (MW), the lot from the table
(MW) and capacity prices per UTC hour from a table with ``up_/down_price_eur_per_mw_h`` columns
(EUR/MW/h). A product derives from ``TwoWayCapacity`` and adds its own table, price reader
(``_table``), window and headroom.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from bidopt.horizon import Horizon
from bidopt.markets.base import Product

Direction = Literal["up", "down"]  # a ``directions`` entry of the table


class TwoWayCapacity(Product):
    """Hourly capacity up and down (streams ``<name>_up``, ``<name>_down``)."""

    continuous_only: ClassVar[bool] = False  # providers must follow a continuous set-point (aFRR)

    def direction(self, stream: str) -> str:
        """ "up" or "down" of one of the product's streams."""
        return "up" if stream == self.streams[0] else "down"

    def offered(self, case) -> list[str]:
        if self.name not in case.markets:  # cheap: no table, nothing offered (no validation per build)
            return []
        r = self.rules(case)
        return [s for s in self.streams if self.direction(s) in r.directions] if r.prices else []

    def provides(self, asset, stream: str, case=None) -> bool:
        """Flexibility in the stream's direction, offered by the asset, a response within the
        table's ``activation_time_s`` (and continuous where ``continuous_only``)."""
        f = asset.flexibility()
        if f is None or stream not in self.streams or f.response_s is None:
            return False
        if (self.continuous_only and not f.continuous) or not asset.offers(stream):
            return False
        if not (f.up if self.direction(stream) == "up" else f.down):
            return False
        return f.response_s <= (self.table() if case is None else self.rules(case)).activation_time_s

    def limit_mw(self, asset, stream: str) -> float | None:
        f = asset.flexibility()
        return f.up_limit_mw if self.direction(stream) == "up" else f.down_limit_mw

    def lot_mw(self, case, horizon: Horizon) -> float:
        return self.rules(case).lot_mw

    def _table(self, case, horizon: Horizon) -> pd.DataFrame:
        """Per UTC hour of the horizon: ``up_/down_price_eur_per_mw_h`` and ``up_/down_volume_mw``."""
        raise NotImplementedError

    def prices(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Capacity price per UTC hour (EUR/MW/h); 0 where no file covers the hour."""
        col = f"{self.direction(stream)}_price_eur_per_mw_h"
        return np.nan_to_num(self._table(case, horizon)[col].to_numpy(float), nan=0.0)
