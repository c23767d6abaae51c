"""Stepped, indivisible capacity bids over clearing-price scenarios, for any capacity product
(FCR, aFRR, ...), deliverable whatever the auction accepts. Volumes MW, prices EUR/MW/h.

Clearing by marginal price (MARKET_RULES 3.2 for FCR, 3.6 for aFRR): one clearing price per stream,
hour and auction; a bid is accepted whole when its price is at or below the clearing price. For
stream p and hour h the bid prices are the distinct scenario clearing prices q_1 < ... < q_K;
n_k (integer lots of the product's lot) is the total volume offered at prices up to q_k, so n_k is
non-decreasing in k. Scenario s, clearing at q_k(s), gets exactly n_k(s) lots on top of any volume
an earlier auction already sold (``sold_mw``), and earns its clearing price on it:

    accepted_{s,p,h} = sold_{p,h} + lot * n_{p,h,k(s)}

Deliverability. Every stream and hour clears at its own price, so the auction may accept any prefix
of every ladder at once, not only the combinations the scenarios pair. Every scenario's site
therefore holds the headroom for the top of every ladder at once,

    held_{s,p,h} = sold_{p,h} + lot * n_{p,h,K}

(``site[s].<product>.total_mw``, split over the assets as ``<product>.cap``). Each asset's headroom
requirements (power up/down, energy up/down) are sums of non-negative multiples of its capacities,
and each asset's reserve constraints bound a requirement from above by a function of its own
schedule, so with the schedule fixed they are monotone: a schedule that holds the top of every
ladder holds any smaller accepted volume (split over the assets in proportion to what each holds).
This is exact when the expected activation is zero; with one, the energy moved by expected
activation is that of the held volume.

Price scenarios (``price_scenarios``): every offered product whose bids are stepped
(``Product.stepped_bids``) gives its realised clearing-price history (``Product.price_history``),
the gate of its bids (``Product.bid_gate_utc``) and the local time a day's prices are published
on the day before (``Product.price_published``); the scenarios come from the baseline capacity-price forecaster
(``bidopt.forecast.baseline.capacity_price_scenarios``: the last known day plus bootstrapped daily
errors), using only prices published before the gate, never a price of the delivery day. Used for
the day-ahead bidding model (``bidopt.bids.stochastic``) and FCR auction 2 (``bidopt.bids.fcr_auction2``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from bidopt import markets
from bidopt import time as btime
from bidopt.errors import InputError
from bidopt.horizon import Horizon


class CapacitySteps:
    """The bid-step variables on ``blk`` tying each scenario site's capacity of one product to one
    bid ladder per stream and hour.

    ``held[s]`` is scenario s's held capacity (``site.<product>.total_mw``), ``accepted[s]`` the
    volume its clearing prices accept (``site.<product>_accepted.mw``), both indexed by stream and
    hour; ``prices`` {stream: S x hours} the clearing-price scenarios, ``lot_mw`` the bid lot (0 =
    continuous volumes), ``sold_mw`` {(stream, hour): MW} volume already sold in an earlier auction
    (fixed)."""

    def __init__(self, blk: pyo.Block, held: list, accepted: list, prices: dict[str, np.ndarray],
                 streams: list[str], hours: list[int], lot_mw: float, sold_mw: dict | None = None):
        if len(held) != len(accepted):
            raise ValueError(f"{len(held)} held and {len(accepted)} accepted volume components")
        self.blk = blk
        self.unit = lot_mw if lot_mw > 0 else 1.0
        sold_mw = sold_mw or {}
        self.points, keys, where = {}, [], {}
        for p in streams:
            q = np.asarray(prices[p], dtype=float)  # S x H
            for h in hours:
                pts, inv = np.unique(q[:, h], return_inverse=True)
                self.points[p, h] = pts
                keys += [(p, h, k) for k in range(len(pts))]
                where[p, h] = inv
        self.top = {ph: len(pts) - 1 for ph, pts in self.points.items()}
        blk.PHK = pyo.Set(initialize=keys, dimen=3)
        # integer lots: a bid clears whole; the relaxation would sell fractions of a bid
        blk.lots = pyo.Var(blk.PHK, within=pyo.NonNegativeIntegers if lot_mw > 0 else pyo.NonNegativeReals)
        blk.more_at_higher_price = pyo.Constraint(
            [(p, h, k) for p, h, k in keys if k < self.top[p, h]],
            rule=lambda b, p, h, k: b.lots[p, h, k] <= b.lots[p, h, k + 1],
        )
        unit = self.unit
        S = range(len(held))

        def volume(b, p, h, k):
            return float(sold_mw.get((p, h), 0.0)) + unit * b.lots[p, h, k]

        blk.accepted = pyo.Constraint(
            [(s, p, h) for s in S for p in streams for h in hours],
            rule=lambda b, s, p, h: accepted[s][p, h] == volume(b, p, h, int(where[p, h][s])),
        )
        # every scenario's schedule holds the whole ladder: any mix of accepted steps is deliverable
        blk.held = pyo.Constraint(
            [(s, p, h) for s in S for p in streams for h in hours],
            rule=lambda b, s, p, h: held[s][p, h] == volume(b, p, h, self.top[p, h]),
        )

    def bids(self) -> list[tuple[str, int, float, float]]:
        """(stream, hour position, volume MW, price EUR/MW/h) of each bid step, prices ascending."""
        out = []
        for (p, h), pts in self.points.items():
            prev = 0.0
            for k, q in enumerate(pts):
                n = float(self.blk.lots[p, h, k].value or 0.0)
                if n - prev > 1e-6:
                    out.append((p, h, round((n - prev) * self.unit, 6), float(q)))
                prev = max(prev, n)
        return out

    def offered_mw(self) -> dict[tuple[str, int], float]:
        """{(stream, hour position): MW} the ladder offers in all (the top step), without sold volume."""
        return {(p, h): float(np.round((self.blk.lots[p, h, k].value or 0.0) * self.unit, 6))
                for (p, h), k in self.top.items()}


def step_table(steps: list[tuple[str, int, float, float]], hour_starts: pd.DatetimeIndex) -> pd.DataFrame:
    """The steps as a plug-in product's bid table (``bidopt.markets.base.BID_COLUMNS``): one row per
    step, several per stream and hour, prices on the 0.01 EUR/MW/h tick (rounded down, so a step
    priced at a scenario's clearing price is still accepted in that scenario)."""
    rows = [{"product": p, "hour_start_utc": hour_starts[h], "volume_mw": v,
             "price_eur_per_mw_h": float(np.floor(max(q, 0.0) * 100 + 1e-6) / 100)} for p, h, v, q in steps]
    return pd.DataFrame(rows, columns=list(markets.base.BID_COLUMNS))


def price_scenarios(case, day, n: int, seed: int = 0, products=None) -> dict[str, dict[str, np.ndarray]]:
    """{product name: {stream: S x hours}} clearing-price scenarios for delivery ``day`` of every
    offered product with stepped bids (``products``: these names, stepped or not) and an hour open
    that day (``Product.open_hours``), forecast from the product's own price history published
    before its bid gate (module docstring)."""
    from bidopt.forecast import baseline

    d = btime.day_of(day)
    out = {}
    for prod in markets.capacity_products(case):
        if not (prod.name in products if products is not None else prod.stepped_bids(case)):
            continue
        if not _open_on(prod, case, d):
            continue  # nothing procured that day (e.g. after the price files end): no bids, no forecast
        lookback = prod.price_lookback_days(case)
        first = pd.Timestamp(d) - pd.Timedelta(days=lookback + 8)
        hist = btime.horizon_index(first.date(), d, 60, case.case.timezone)
        gate = prod.bid_gate_utc(case, d)
        out[prod.name] = {}
        for stream in prod.offered(case):
            try:
                history = prod.price_history(case, stream, hist)
                cube = baseline.capacity_price_scenarios(
                    history, d, n_scenarios=n, seed=seed, lookback_days=lookback, tz=case.case.timezone,
                    gate_utc=gate, published=prod.price_published)
            except InputError as e:
                raise InputError(e.file, e.field, f"{e.message} (stepped {prod.name} bids need {lookback + 8} days "
                                 f"of {stream} price history; or bid price-taking, {prod.price_taking_key})") from None
            out[prod.name][stream] = np.asarray(cube.transpose("scenario", "time").values, dtype=float)
    return out


def _open_on(prod, case, day) -> bool:
    """Whether any stream of ``prod`` is procured in any hour of ``day`` (``open_hours``; None = open)."""
    horizon = Horizon(btime.delivery_index(day, 60, case.case.timezone), case.case.timezone)
    for stream in prod.offered(case):
        window = prod.open_hours(case, stream, horizon)
        if window is None or np.asarray(window, dtype=bool).any():
            return True
    return False
