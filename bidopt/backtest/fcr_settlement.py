"""FCR capacity in a backtest: the day's accepted FCR bids settled at the realised clearing prices
under the pricing rule in force on the delivery day (pay-as-bid or marginal), swapped into the day's
stream results in place of the re-plan's valuation, and the rules a run settled under for
summary.json. Money EUR, capacity MW, prices EUR/MW/h.
"""

from __future__ import annotations

import pandas as pd


def fcr_clearing_prices(case, bids: pd.DataFrame, hour_starts: pd.DatetimeIndex) -> dict[tuple[str, int, str], float]:
    """{(product, auction, hour_start_utc): EUR/MW/h} realised clearing prices for the products and
    auctions ``bids`` use, from the case's FCR price files (auction 2 falls back to the auction-1 series)."""
    from bidopt.data import sources

    keys = list(hour_starts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out: dict[tuple[str, int, str], float] = {}
    for p, a in sorted({(str(r.product), int(r.auction)) for r in bids.itertuples()}):
        if not getattr(case.prices, p, None):
            continue  # a product the case does not offer clears nothing
        prices = sources.reserve_prices(case, p, hour_starts, auction=a)
        out.update({(p, a, k): float(v) for k, v in zip(keys, prices, strict=True)})
    return out


def settle_fcr(case, bids: pd.DataFrame, hour_starts: pd.DatetimeIndex, day) -> tuple[pd.DataFrame, str]:
    """The day's FCR bids settled at the realised clearing prices under the pricing rule in force on
    delivery ``day`` (``bidopt.markets.fcr.capacity_payments``: ``accepted``, ``paid_eur_per_mw_h``,
    ``payment_eur`` per bid), and that rule ("pay_as_bid" or "marginal")."""
    from bidopt.markets import fcr

    pricing = fcr.auction_rules(case, day).pricing
    if not len(bids):
        return fcr.capacity_payments(bids, {}, pricing), pricing
    typed = bids.astype({"auction": int, "volume_mw": float, "price_eur_per_mw_h": float})
    return fcr.capacity_payments(typed, fcr_clearing_prices(case, typed, hour_starts), pricing), pricing


def replace_fcr_capacity(rev: dict[str, float], site, settled: pd.DataFrame) -> None:
    """Swap, in the stream dict ``rev``, the capacity value a delivery re-plan put on its fixed FCR
    volumes (accepted MW x the auction-1 clearing price) for the settled payments of ``settled``
    (``settle_fcr``). FCR-N activation energy stays as the re-plan valued it."""
    import pyomo.environ as pyo

    cap = site.capacities.get("fcr")
    model = {p: float(pyo.value(cap.capacity_value_eur[p])) for p in cap.P} if cap is not None else {}
    paid = fcr_capacity_by_product(settled)
    for p in sorted(set(model) | set(paid)):
        rev[p] = rev.get(p, 0.0) - model.get(p, 0.0) + paid.get(p, 0.0)


def fcr_capacity_by_product(settled: pd.DataFrame) -> dict[str, float]:
    """EUR per product of settled bids (``settle_fcr``)."""
    if not len(settled):
        return {}
    return {str(p): float(v) for p, v in settled.groupby("product")["payment_eur"].sum().items()}


PAY_AS_BID_NOTE = ("pay-as-bid days: accepted FCR bids are paid their own price; the bidding model still values "
                   "its bid steps at the clearing price (marginal pricing), and acceptance is judged against the "
                   "published hourly price (an average of accepted bids before 2024)")


def fcr_summary(case, days) -> dict:
    """``{"fcr_rules": [...]}`` for summary.json: the FCR auction rules the run settled under, per
    run of days (``bidopt.markets.fcr.rules_used``), with a note on pay-as-bid; {} without FCR."""
    from bidopt.markets import fcr

    if not fcr.offered(case):
        return {}
    used = fcr.rules_used(case, days)
    for r in used:
        if r["pricing"] == "pay_as_bid":
            r["note"] = PAY_AS_BID_NOTE
    return {"fcr_rules": used}
