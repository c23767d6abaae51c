"""FCR capacity in a backtest, by name: the FCR product's settlement through the product seam.

The backtest settles every capacity product alike (``bidopt.backtest.capacity``); these functions
are the FCR case of it, kept for callers that name FCR: the day's FCR bids settled at the realised
clearing prices of their auction under the pricing rule in force on the delivery day (pay-as-bid or
marginal, ``Fcr.settle_bids``), swapped into the day's stream results in place of the re-plan's
valuation, and the rules a run settled under for summary.json. Money EUR, capacity MW, prices
EUR/MW/h.
"""

from __future__ import annotations

import pandas as pd

from bidopt.horizon import Horizon
from bidopt.markets import capacity_settlement, product
from bidopt.markets.fcr import PAY_AS_BID_NOTE  # noqa: F401  (re-exported)


def _horizon(case, hour_starts: pd.DatetimeIndex) -> Horizon:
    return Horizon(pd.DatetimeIndex(hour_starts), case.case.timezone)


def fcr_clearing_prices(case, bids: pd.DataFrame, hour_starts: pd.DatetimeIndex) -> dict[tuple[str, int, str], float]:
    """{(product, auction, hour_start_utc): EUR/MW/h} realised clearing prices for the products and
    auctions ``bids`` use, asked of the FCR product (``Fcr.clearing_prices``: the case's FCR price
    files; auction 2 falls back to the auction-1 series)."""
    return capacity_settlement.clearing_table(product("fcr"), case, capacity_settlement.typed(bids),
                                              _horizon(case, hour_starts))


def settle_fcr(case, bids: pd.DataFrame, hour_starts: pd.DatetimeIndex, day) -> tuple[pd.DataFrame, str]:
    """The day's FCR bids settled at the realised clearing prices under the pricing rule in force on
    delivery ``day`` (``accepted``, ``paid_eur_per_mw_h``, ``payment_eur`` per bid), and that rule
    ("pay_as_bid" or "marginal")."""
    fcr = product("fcr")
    return fcr.settle_bids(case, bids, _horizon(case, hour_starts), day), fcr.pricing(case, day)


def replace_fcr_capacity(rev: dict[str, float], site, settled: pd.DataFrame) -> None:
    """Swap, in the stream dict ``rev``, the capacity value a delivery re-plan put on its fixed FCR
    volumes (accepted MW x the auction-1 clearing price) for the settled payments of ``settled``
    (``settle_fcr``). FCR-N activation energy stays as the re-plan valued it."""
    capacity_settlement.swap_capacity_value(rev, site.capacities.get("fcr"), settled)


def fcr_capacity_by_product(settled: pd.DataFrame) -> dict[str, float]:
    """EUR per product of settled bids (``settle_fcr``)."""
    return capacity_settlement.by_stream(settled)


def fcr_summary(case, days) -> dict:
    """``{"fcr_rules": [...]}`` for summary.json: the FCR auction rules the run settled under, per
    run of days (``Fcr.settlement_summary``), with a note on pay-as-bid; {} without FCR."""
    fcr = product("fcr")
    return fcr.settlement_summary(case, days) if fcr.offered(case) else {}
