"""Imbalance settlement rules (``[markets.imbalance]``): where imbalance prices come from, single,
two-price or 1½-price settlement, the imbalance settlement period (ISP) and the proxy used where no
price file covers the period. Prices EUR/MWh. The settlement itself is ``bidopt.backtest.settlement``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import Field

from bidopt.case import Strict
from bidopt.markets.base import Product, product, register_product

Model = Literal["auto", "single", "two_price", "one_and_half"]
MODELS: tuple[str, ...] = get_args(Model)


class ImbalanceRules(Strict):
    """``[markets.imbalance]``: where imbalance prices come from and which settlement rules apply."""

    prices: str | None = None  # balancing price file (Energinet download or plain CSV), relative to the case
    area: str | None = None  # PriceArea to read from a multi-area Energinet file
    model: Model = "auto"  # auto: two-price before single_price_from, single price from then;
    # one_and_half: the 1½-price variant of two-price (Svk 2003, domain notes 7.2), never automatic
    proxy_penalty_eur_per_mwh: float = Field(10.0, ge=0)  # UNVERIFIED level, see module docstring
    proxy_outside_file: bool = True  # False: an ISP the file does not cover is an error, not a proxy
    fee_eur_per_mwh: float = Field(0.0, ge=0)  # imbalance fee per |MWh| (exists; level UNVERIFIED)
    isp_minutes: Literal[15, 30, 60] | None = None  # None: 60 before isp_15min_from, 15 from then
    single_price_from: dt.date = dt.date(2021, 11, 1)  # 00:00 CET [S30]
    isp_15min_from: dt.date = dt.date(2023, 5, 22)  # 00:00 CEST [S31]


def rules(case) -> ImbalanceRules:
    """The case's ``[markets.imbalance]`` table, validated (errors name ``markets.imbalance.<field>``)."""
    return product("imbalance").validate(ImbalanceRules, case)




@register_product
class Imbalance(Product):
    """``[markets.imbalance]`` and the ``imbalance`` stream (adjustments of a held position; no capacity)."""

    name = "imbalance"
    streams = ("imbalance",)
    order = 90
    always_listed = True
    table = ImbalanceRules

    def rules(self, case) -> ImbalanceRules:
        return rules(case)
