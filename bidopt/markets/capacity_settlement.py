"""Clearing and settlement of a day's capacity bids against realised clearing prices, for any product.

The backtest (``bidopt.backtest.day``) asks each offered product (``Product.settle_bids``) to settle
the bids it submitted for the day. A bid is a row ``product`` (the stream), ``hour_start_utc``,
``volume_mw`` (MW for one hour), ``price_eur_per_mw_h`` and, for products with several auctions
(FCR), ``auction`` (default 1). Per bid b with clearing price q_b of its stream, auction and hour
(EUR/MW/h; none where nothing clears):

    accepted_b = q_b given and price_b <= q_b + 1e-9          (the product's ``accept``, whole bids)
    paid_b     = price_b (pay-as-bid) or q_b (marginal)       (the product's ``pricing`` on the day)
    payment_b  = accepted_b * paid_b * volume_b * 1 h         (EUR)

The accepted volume per stream and hour is what the delivery re-plan holds (``accepted_volumes``,
then ``Product.fix_capacity``), and the settled payment replaces the re-plan's capacity value of that
volume (``swap_capacity_value``). Money EUR, capacity MW, prices EUR/MW/h.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

PRICE_TOL = 1e-9  # EUR/MW/h: a bid this close to the clearing price is accepted
PRICINGS = ("pay_as_bid", "marginal")
SETTLED_COLUMNS = ("clearing_eur_per_mw_h", "accepted", "paid_eur_per_mw_h", "payment_eur")
HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def accepted_by_price(bid_price, clearing_price) -> np.ndarray:
    """The clearing rule of a price-ranked capacity auction: a bid is accepted whole when a clearing
    price exists and the bid's price is at or below it (within ``PRICE_TOL``)."""
    q = np.asarray(clearing_price, dtype=float)
    return np.isfinite(q) & (np.asarray(bid_price, dtype=float) <= q + PRICE_TOL)


def payments(bids: pd.DataFrame, clearing: Mapping[tuple[str, int, str], float], pricing: str,
             accept: Callable = accepted_by_price) -> pd.DataFrame:
    """``bids`` settled against ``clearing`` {(stream, auction, hour_start_utc): EUR/MW/h} under
    ``pricing``: the bids with ``clearing_eur_per_mw_h`` (NaN: no clearing price), ``accepted``
    (``accept(bid prices, clearing prices)``), ``paid_eur_per_mw_h`` and ``payment_eur`` (one hour)."""
    if pricing not in PRICINGS:
        raise ValueError(f"unknown capacity pricing {pricing!r} (known: {', '.join(PRICINGS)})")
    out = bids.copy()
    q = np.array([clearing.get((r.product, int(getattr(r, "auction", 1)), r.hour_start_utc), np.nan)
                  for r in bids.itertuples()], dtype=float)
    bid = bids["price_eur_per_mw_h"].to_numpy(float)
    ok = np.asarray(accept(bid, q), dtype=bool)
    paid = np.where(ok, bid if pricing == "pay_as_bid" else q, 0.0)
    out["clearing_eur_per_mw_h"] = q
    out["accepted"] = ok
    out["paid_eur_per_mw_h"] = paid
    out["payment_eur"] = paid * bids["volume_mw"].to_numpy(float) * 1.0  # hourly products
    return out


def hour_keys(values) -> list[str]:
    """UTC hour starts (timestamps or ISO strings) as ``YYYY-MM-DDTHH:MM:SSZ`` strings."""
    return list(pd.DatetimeIndex(pd.to_datetime(pd.Series(values, dtype=object), utc=True,
                                                format="ISO8601")).strftime(HOUR_FORMAT))


def typed(bids: pd.DataFrame) -> pd.DataFrame:
    """``bids`` with numeric volumes and prices, an integer ``auction`` and ISO hour-start strings."""
    out = bids.astype({"volume_mw": float, "price_eur_per_mw_h": float})
    if "auction" in out:
        out["auction"] = out["auction"].astype(int)
    if len(out):
        out["hour_start_utc"] = hour_keys(out["hour_start_utc"])
    return out


def clearing_table(product, case, bids: pd.DataFrame, horizon) -> dict[tuple[str, int, str], float]:
    """{(stream, auction, hour_start_utc): EUR/MW/h}: the realised clearing prices
    (``product.clearing_prices``) of the streams and auctions ``bids`` use; a stream the case does
    not offer clears nothing."""
    keys = list(horizon.hour_starts.strftime(HOUR_FORMAT))
    offered = set(product.offered(case))
    auctions = bids["auction"] if "auction" in bids else pd.Series(1, index=bids.index)
    out: dict[tuple[str, int, str], float] = {}
    for stream, auction in sorted({(str(p), int(a)) for p, a in zip(bids["product"], auctions, strict=True)}):
        if stream not in offered:
            continue
        prices = product.clearing_prices(case, stream, horizon, auction)
        out.update({(stream, auction, k): float(v) for k, v in zip(keys, prices, strict=True)})
    return out


def settle(product, case, bids: pd.DataFrame, horizon, day) -> pd.DataFrame:
    """The day's bids of ``product`` settled (``payments``) at its realised clearing prices, under
    its clearing rule (``accept``) and the pricing in force on ``day`` (``pricing``)."""
    pricing = product.pricing(case, day)
    if not len(bids):
        return payments(bids, {}, pricing, product.accept)
    bids = typed(bids)
    out = payments(bids, clearing_table(product, case, bids, horizon), pricing, product.accept)
    limit_of = getattr(product, "accept_limit_mw", None)
    limits = {s: limit_of(case, s, horizon) for s in set(out["product"])} if limit_of else {}
    return within_limits(out, {s: v for s, v in limits.items() if v is not None}, horizon)


def within_limits(settled: pd.DataFrame, limits: dict[str, np.ndarray], horizon) -> pd.DataFrame:
    """``settled`` with the accepted bids of each stream and hour cut to what the auction can take
    (``limits`` {stream: MW per UTC hour of the horizon}, e.g. the volume the TSO procured): in
    ascending bid price (then file order), a bid stays accepted while the running accepted volume is
    within the limit, the rest are rejected (unpaid)."""
    if not limits or not len(settled):
        return settled
    hours = {k: i for i, k in enumerate(horizon.hour_starts.strftime(HOUR_FORMAT))}
    out = settled.copy()
    ranked = out[out["accepted"].astype(bool) & out["product"].isin(list(limits))]
    ranked = ranked.sort_values("price_eur_per_mw_h", kind="stable")
    running: dict[tuple[str, str], float] = {}
    for i, r in zip(ranked.index, ranked.itertuples(), strict=True):
        key = (r.product, r.hour_start_utc)
        cap = float(limits[r.product][hours[r.hour_start_utc]]) if r.hour_start_utc in hours else np.inf
        cap = cap if np.isfinite(cap) else np.inf  # no limit known: none applied
        total = running.get(key, 0.0) + float(r.volume_mw)
        if total <= cap + 1e-9:
            running[key] = total
        else:
            out.loc[i, ["accepted", "paid_eur_per_mw_h", "payment_eur"]] = [False, 0.0, 0.0]
    return out


def by_stream(settled: pd.DataFrame, column: str = "payment_eur", accepted_only: bool = False) -> dict[str, float]:
    """Sum of ``column`` per stream of settled bids (only the accepted ones with ``accepted_only``)."""
    if not len(settled):
        return {}
    rows = settled[settled["accepted"].astype(bool)] if accepted_only else settled
    return {str(p): float(v) for p, v in rows.groupby("product")[column].sum().items()}


def accepted_volumes(settled: pd.DataFrame, cap, horizon) -> dict[tuple[str, int], float]:
    """{(stream, hour position): MW} accepted, summed over bids and auctions, for every stream and
    hour of the capacity block ``cap`` (0 where nothing was accepted)."""
    out = {(p, h): 0.0 for p in cap.P for h in cap.H}
    if not len(settled):
        return out
    sold = settled[settled["accepted"].astype(bool)]
    total = sold.groupby(["product", "hour_start_utc"])["volume_mw"].sum()
    hours = {k: i for i, k in enumerate(horizon.hour_starts.strftime(HOUR_FORMAT))}
    out.update({(p, hours[k]): float(v) for (p, k), v in total.items() if k in hours and p in cap.P})
    return out


def swap_capacity_value(rev: dict[str, float], cap, settled: pd.DataFrame) -> None:
    """In the stream dict ``rev``, replace the capacity value a re-plan put on its held volumes
    (volume x the product's price series, ``cap.capacity_value_eur``) by the settled payments; the
    product's other terms (activation energy) stay as the re-plan valued them."""
    import pyomo.environ as pyo

    model = {p: float(pyo.value(cap.capacity_value_eur[p])) for p in cap.P} if cap is not None else {}
    paid = by_stream(settled)
    for p in sorted(set(model) | set(paid)):
        rev[p] = rev.get(p, 0.0) - model.get(p, 0.0) + paid.get(p, 0.0)
