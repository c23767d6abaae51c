"""Pooled reserve capacity for a fleet (``bidopt.bids.fleet``): many small sites offer one bid per
capacity stream and hour (FCR-N, FCR-D up/down, aFRR, FFR: every product ``bidopt.markets`` has
registered that the sites' cases offer), rounded to the product's lot and minimum bid at pool level,
and every site's share of every bid.

Method (per stream p and UTC hour h; units below).

1. **Each site alone, in continuous MW.** Each site's stochastic bidding model is solved with its
   capacity in MW, not whole lots (``BiddingModel(continuous_capacity=True)``), price-taking at the
   site case's capacity prices: c_{i,p,h} >= 0 is what site i would sell, its schedule holding that
   headroom in every day-ahead scenario (``site_capacity`` reads it).
2. **Pool and round down.** C_{p,h} = sum_i c_{i,p,h}; the pooled bid is C rounded *down* to the
   product's lot (``Product.lot_mw``), and 0 below the minimum bid (``Product.min_bid_mw``, by
   default the lot): L_{p,h} <= C_{p,h} (``pool_ladder``).
3. **Allocate back.** Site i's share s_{i,p,h} = c_{i,p,h} * L / C, made exact in whole watts by the
   largest remainder (``allocate``): sum_i s_i = L exactly and 0 <= s_i <= c_i.

Deliverability. A site's headroom requirements are non-negative multiples of its capacities and its
assets bound them from above by functions of its own schedule (``bidopt.bids.capacity_steps``), so
the schedule that holds c_i holds any s_i <= c_i, in every stream and hour at once: whatever the
auction accepts of the pool's bids (all of them, or any subset; with stepped ladders any accepted
prefix of each ladder, ``pool_ladder`` / ``allocate_ladder``), each site delivers its share without
re-planning. This is exact when the expected activation is zero (no frequency series); with one, the
energy moved by expected activation is that of c_i, not s_i. ``site_model_with_shares`` re-solves a
site with its shares fixed (the test of this).

Optimality gap. sum_i V_i(c_i) (each site's optimum with continuous capacity) is an upper bound on
the fleet's value under per-site delivery; the pool earns sum_i V_i(c_i) - sum_{p,h} price *
(C - L) with the schedules unchanged, so the gap is at most the rounding loss, below one lot per
stream and hour (plus the whole of C where C is below the minimum bid). Re-solving each site with
its share fixed can only recover part of it (the spot schedule may use the freed headroom).

Units: capacity in MW (computed in whole watts, ``WATT_MW``, so lots, sums and shares are exact
integers), prices EUR/MW/h, money EUR; hours are positions in the horizon's UTC hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from bidopt import markets
from bidopt.bids.exchange_rules import FCR_COLUMNS
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets.base import BID_COLUMNS

WATT_MW = 1e-6  # the pool's unit: volumes are whole watts
SHARE_COLUMNS = ("site", "product", "stream", "hour_start_utc", "step", "price_eur_per_mw_h", "offered_mw", "share_mw")


@dataclass(frozen=True)
class PoolKey:
    product: str  # registered product name (``bidopt.markets.product``)
    stream: str  # capacity stream of the product (``fcr_d_up``)
    hour: int  # position of the UTC hour in the horizon


def pool_keys(cases: Sequence, horizon: Horizon) -> list[PoolKey]:
    """Every (product, stream, hour) some site of ``cases`` offers, in registry order."""
    streams: dict[str, list[str]] = {}
    for case in cases:
        for prod in markets.capacity_products(case):
            if not prod.pools:
                raise InputError(case.label, f"markets.{prod.name}", "a fleet does not pool this product (its "
                                 "bids are for one site or area); bid it per site with `bidopt bid`")
            have = streams.setdefault(prod.name, [])
            have += [s for s in prod.offered(case) if s not in have]
    order = {p.name: i for i, p in enumerate(markets.registered())}
    return [PoolKey(name, s, h) for name in sorted(streams, key=order.get)
            for s in sorted(streams[name], key=markets.product(name).streams.index)
            for h in range(len(horizon.hour_starts))]


def pooled_case(case) -> tuple[object, bool]:
    """(the case to model, whether it offers pooled capacity): a site offering a capacity product
    that none of its assets provides is modelled without it (the capacity would be 0; so its model
    stays refreshable, ``fleet_sites.ModelCache``)."""
    prods = markets.capacity_products(case)
    if any(prod.provides(a, s, case) for prod in prods for s in prod.offered(case) for a in case.assets):
        return case, True
    for prod in prods:
        case = prod.without(case)
    return case, False


def site_capacity(bm, keys: Sequence[PoolKey]) -> tuple[np.ndarray, np.ndarray]:
    """(MW, EUR/MW/h) per key of a solved price-taking ``BiddingModel``: the capacity the site would
    sell and the price it was valued at (0 MW where it does not offer the stream)."""
    mw, price = np.zeros(len(keys)), np.zeros(len(keys))
    for j, k in enumerate(keys):
        blk = bm.capacities.get(k.product)
        if blk is None or k.stream not in blk.P:
            continue
        mw[j] = max(float(pyo.value(blk.total_mw[k.stream, k.hour])), 0.0)
        price[j] = float(pyo.value(blk.price[k.stream, k.hour]))
    return mw, price


# --------------------------------------------------------------------------------------------------
# the pooling arithmetic, in whole watts


def to_watts(mw) -> np.ndarray:
    """MW as whole watts, rounded down (a site is never given more than it offered); solver noise
    below 1e-3 W is forgiven first."""
    w = np.floor(np.round(np.asarray(mw, dtype=float) / WATT_MW, 3))
    return np.maximum(w, 0).astype(np.int64)


def pool_ladder(total_w, lot_w: int, min_bid_w: int) -> np.ndarray:
    """The pooled cumulative volume of each step of a ladder (W), from the sites' summed cumulative
    offers ``total_w`` (non-decreasing; a single step for a price-taking bid): each rounded down to
    the lot (0: no lot), and every step's increment 0 or at least the minimum bid (a smaller
    increment is dropped, greedily from the cheapest step). Never above ``total_w``."""
    total = np.maximum.accumulate(np.asarray(total_w, dtype=np.int64))
    lots = total if lot_w <= 0 else (total // lot_w) * lot_w
    out, prev = np.zeros(len(total), dtype=np.int64), 0
    for k, v in enumerate(lots):
        out[k] = prev = v if v - prev >= max(min_bid_w, 1) else prev
    return out


def allocate(offer_w, pooled_w: int) -> np.ndarray:
    """Shares (W) of ``pooled_w`` over sites offering ``offer_w`` (W each): proportional, rounded by
    the largest remainder, so they sum to ``pooled_w`` exactly and no share exceeds its offer."""
    offer = np.asarray(offer_w, dtype=np.int64)
    total = int(offer.sum())
    pooled = int(pooled_w)
    if not 0 <= pooled <= total:
        raise ValueError(f"cannot allocate {pooled} W over offers summing to {total} W")
    if pooled == 0:
        return np.zeros(len(offer), dtype=np.int64)
    if total * pooled < 2**62:
        num = offer * pooled
        base = num // total
        rem = (num - base * total).astype(float)
    else:  # beyond int64: Python integers
        q = [divmod(int(o) * pooled, total) for o in offer]
        base = np.array([a for a, _ in q], dtype=np.int64)
        rem = np.array([float(r) for _, r in q])
    short = pooled - int(base.sum())
    if short:
        base[np.argsort(-rem, kind="stable")[:short]] += 1
    return base


def allocate_ladder(offer_w, pooled_w) -> np.ndarray:
    """Shares (sites x steps, W) when a ladder is accepted up to each step k: ``allocate`` of the
    pooled cumulative volume ``pooled_w[k]`` over the sites' cumulative offers ``offer_w[:, k]``; a
    site's share at any step is within its offer at that step, so within the top it holds."""
    offer = np.maximum.accumulate(np.asarray(offer_w, dtype=np.int64), axis=1)
    return np.stack([allocate(offer[:, k], int(pooled_w[k])) for k in range(offer.shape[1])], axis=1)


# --------------------------------------------------------------------------------------------------
# the fleet's pool


def min_bid_mw(prod, case, horizon: Horizon) -> float:
    """The product's minimum bid (``Product.min_bid_mw``: the lot unless the product says more; FCR
    the auction rules in force, with ``[markets.fcr] min_bid_mw``)."""
    return float(prod.min_bid_mw(case, horizon))


def _ask_price(prod, case, day, prices: np.ndarray) -> float:
    """The price a price-taking pooled bid asks: 0 under marginal pricing (paid the clearing price);
    under pay-as-bid the lowest price a contributing site was valued at, down to the 0.01 tick."""
    pricing = getattr(prod, "pricing", None)
    if callable(pricing):
        rule = pricing(case, day)
    elif prod.own_bid_path:  # FCR: the dated auction rules (pay-as-bid before 1 Feb 2024)
        from bidopt.markets import fcr

        rule = fcr.auction_rules(case, day).pricing
    else:
        rule = "marginal"
    if rule != "pay_as_bid" or not len(prices):
        return 0.0
    return float(np.floor(max(float(prices.min()), 0.0) * 100 + 1e-6) / 100)


@dataclass
class CapacityPool:
    """The fleet's pooled capacity bids and every site's share (``pool_capacity``)."""

    bids: pd.DataFrame  # product, stream, hour_start_utc, volume_mw, price_eur_per_mw_h: one row per pooled bid
    shares: pd.DataFrame  # SHARE_COLUMNS: a site's offer and share of each bid (accepted up to ``step``)
    summary: dict  # per stream: offered and pooled MW h, value offered and pooled, rounding loss (EUR)
    keys: list[PoolKey] = field(repr=False, default_factory=list)
    offer_w: np.ndarray | None = field(repr=False, default=None)  # sites x keys, W: what each site offered
    share_w: np.ndarray | None = field(repr=False, default=None)  # sites x keys, W: its share

    def fcr_bids(self) -> pd.DataFrame:
        """The bids of products on a bid path of their own (FCR) as ``fcr_bids.csv`` rows (auction 1)."""
        own = {p.name for p in markets.registered() if p.own_bid_path}
        b = self.bids[self.bids["product"].isin(own)]
        out = pd.DataFrame({"product": b["stream"], "auction": 1, "hour_start_utc": b["hour_start_utc"],
                            "volume_mw": b["volume_mw"], "price_eur_per_mw_h": b["price_eur_per_mw_h"]})
        return out[list(FCR_COLUMNS)].reset_index(drop=True)

    def product_bids(self) -> dict[str, pd.DataFrame]:
        """{product name: ``<name>_bids.csv`` rows (``BID_COLUMNS``)} of the other products."""
        own = {p.name for p in markets.registered() if p.own_bid_path}
        out = {}
        for name, b in self.bids[~self.bids["product"].isin(own)].groupby("product", sort=False):
            out[name] = b.rename(columns={"stream": "product_"}).drop(columns="product").rename(
                columns={"product_": "product"})[list(BID_COLUMNS)].reset_index(drop=True)
        return out

    def site_shares(self, i: int) -> dict[tuple[str, str, int], float]:
        """Site ``i``'s share {(product, stream, hour): MW} when every pooled bid is accepted."""
        return {(k.product, k.stream, k.hour): float(self.share_w[i, j]) * WATT_MW for j, k in enumerate(self.keys)}


def pool_capacity(cases: Sequence, keys: Sequence[PoolKey], offered_mw: np.ndarray, price: np.ndarray,
                  horizon: Horizon, day) -> CapacityPool:
    """Pool the sites' price-taking offers (``offered_mw``, ``price``: sites x keys, from
    ``site_capacity``): one bid per key, rounded down to the lot and the minimum bid of the product
    (read from the first case), each site's share (``allocate``)."""
    first = cases[0]
    offer_w = to_watts(offered_mw)
    share_w = np.zeros_like(offer_w)
    hour_starts = horizon.hour_starts
    names = np.array([c.case.name for c in cases])
    bids, share_parts, per_stream = [], [], {}
    rules = {}
    for j, k in enumerate(keys):
        if k.product not in rules:
            prod = markets.product(k.product)
            rules[k.product] = (prod, int(round(prod.lot_mw(first, horizon) / WATT_MW)),
                                int(round(min_bid_mw(prod, first, horizon) / WATT_MW)))
        prod, lot_w, min_w = rules[k.product]
        (pooled,) = pool_ladder([offer_w[:, j].sum()], lot_w, min_w)
        share_w[:, j] = allocate(offer_w[:, j], int(pooled))
        ask = _ask_price(prod, first, day, price[share_w[:, j] > 0, j])
        hour = hour_starts[k.hour].strftime("%Y-%m-%dT%H:%M:%SZ")
        if pooled > 0:
            bids.append({"product": k.product, "stream": k.stream, "hour_start_utc": hour,
                         "volume_mw": round(int(pooled) * WATT_MW, 6), "price_eur_per_mw_h": ask})
        rows = np.flatnonzero(offer_w[:, j])
        if len(rows):
            share_parts.append(pd.DataFrame({
                "site": names[rows], "product": k.product, "stream": k.stream, "hour_start_utc": hour, "step": 1,
                "price_eur_per_mw_h": ask, "offered_mw": offer_w[rows, j] * WATT_MW, "share_mw": share_w[rows, j] * WATT_MW}))
        s = per_stream.setdefault(k.stream, {"product": k.product, "offered_mw_h": 0.0, "pooled_mw_h": 0.0,
                                             "value_offered_eur": 0.0, "value_pooled_eur": 0.0, "bids": 0})
        s["offered_mw_h"] += float(offered_mw[:, j].sum())
        s["pooled_mw_h"] += int(pooled) * WATT_MW
        s["value_offered_eur"] += float(price[:, j] @ offered_mw[:, j])
        s["value_pooled_eur"] += float(price[:, j] @ share_w[:, j]) * WATT_MW
        s["bids"] += int(pooled > 0)
    for s in per_stream.values():
        s["rounding_loss_eur"] = s["value_offered_eur"] - s["value_pooled_eur"]
        s.update({k: round(v, 6) + 0.0 for k, v in s.items() if isinstance(v, float)})
        s["lot_mw"], s["min_bid_mw"] = (round(x * WATT_MW, 6) for x in rules[s["product"]][1:])
    bid_cols = ["product", "stream", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"]
    shares = pd.concat(share_parts, ignore_index=True) if share_parts else pd.DataFrame(columns=list(SHARE_COLUMNS))
    return CapacityPool(pd.DataFrame(bids, columns=bid_cols), shares, per_stream, list(keys), offer_w, share_w)


def site_model_with_shares(case, horizon: Horizon, cube, shares: dict[tuple[str, str, int], float],
                           time_limit_s: float | None = None):
    """Site ``case``'s bidding model (price-taking, continuous capacity) with its capacity held at
    ``shares`` {(product, stream, hour): MW} (unlisted: 0), solved: the check that a site delivers
    its share of the pool (an infeasible model raises ``InfeasibleError`` naming the constraint)."""
    from bidopt.bids.stochastic import BiddingModel, RiskSettings

    bm = BiddingModel(case, horizon, cube, RiskSettings(), continuous_capacity=True)
    for name, cap in bm.capacities.items():
        held = {(s, h): shares.get((name, s, h), 0.0) for s in cap.P for h in cap.H}
        markets.product(name).fix_capacity(cap, held)
    bm.solve(time_limit_s=time_limit_s)
    return bm


__all__ = ["CapacityPool", "PoolKey", "SHARE_COLUMNS", "WATT_MW", "allocate", "allocate_ladder", "min_bid_mw",
           "pool_capacity", "pool_keys", "pooled_case", "pool_ladder", "site_capacity", "site_model_with_shares", "to_watts"]
