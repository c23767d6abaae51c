"""Intraday trading rules (``[markets.intraday]``): the fee per traded MWh, the imbalance proxy
penalty for deviations a stage cannot trade away, and the continuous gate closure.

Money in EUR/MWh, times in minutes. The re-planning stages live in ``bidopt.bids.intraday``; the
adjustment terms they use are built by ``bidopt.site.Site`` (position plus adjustments).
"""

from __future__ import annotations

from pydantic import Field

from bidopt.case import Strict
from bidopt.markets.base import Product, product, register_product


class IntradayRules(Strict):
    fee_eur_per_mwh: float = Field(0.5, ge=0)
    # deviations the stage cannot trade away are settled as imbalance at the day-ahead price plus or
    # minus this (a proxy: no Swedish imbalance prices in the shared data; UNVERIFIED level)
    imbalance_penalty_eur_per_mwh: float = Field(50.0, ge=0)
    continuous_gate_minutes: int | None = Field(None, ge=0)
    portfolio: str = "bidopt"


def rules(case) -> IntradayRules:
    """The case's ``[markets.intraday]`` table, validated (errors name ``markets.intraday.<field>``)."""
    return product("intraday").validate(IntradayRules, case)


def adjustments(spot, intraday_price, r: IntradayRules, allowed=None) -> dict:
    """Adjustment markets for a re-plan with a fixed day-ahead position: intraday trades at the
    intraday price +- the fee (only in ``allowed`` MTUs), and imbalance at spot +- the penalty."""
    pen = r.imbalance_penalty_eur_per_mwh
    return {"intraday": (intraday_price + r.fee_eur_per_mwh, intraday_price - r.fee_eur_per_mwh, allowed),
            "imbalance": (spot + pen, spot - pen, None)}


@register_product
class Intraday(Product):
    """``[markets.intraday]`` and the ``intraday`` stream (adjustments of a held position; no capacity)."""

    name = "intraday"
    streams = ("intraday",)
    order = 80
    always_listed = True
    table = IntradayRules

    def rules(self, case) -> IntradayRules:
        return rules(case)
