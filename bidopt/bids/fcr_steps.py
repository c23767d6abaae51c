"""Stepped, indivisible FCR bids over FCR clearing-price scenarios (one auction).

MARKET_RULES 3.2: marginal pricing, one clearing price per product, hour and auction; a bid is
accepted whole when its price is at or below the clearing price. For product p and hour h the bid
prices are the distinct scenario clearing prices q_1 < ... < q_K; n_k (integer lots of
``step_mw``) is the total volume offered at prices up to q_k, so n_k is non-decreasing in k, and
scenario s, clearing at q_k(s), gets exactly n_k(s) lots on top of any volume an earlier auction
already sold (``sold_mw``):

    total_{s,p,h} = sold_{p,h} + step * n_{p,h,k(s)}

Each step n_k - n_{k-1} > 0 becomes one bid of that many lots at price q_k. Used for auction 1 by
the day-ahead bidding model (``bidopt.bids.stochastic``) and for auction 2 after day-ahead
(``bidopt.bids.fcr_auction2``). Volumes MW, prices EUR/MW/h.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo


class FcrSteps:
    """The bid-step variables on ``blk`` tying each scenario site's FCR volumes to one bid ladder.

    ``site_totals[s]`` is scenario s's ``total_mw`` component (indexed by product and hour),
    ``prices`` {product: S x hours} the clearing-price scenarios, ``sold_mw`` {(product, hour): MW}
    volume already sold in an earlier auction (fixed)."""

    def __init__(self, blk: pyo.Block, site_totals: list, prices: dict[str, np.ndarray], products: list[str],
                 hours: list[int], step_mw: float, sold_mw: dict | None = None):
        self.blk = blk
        self.unit = step_mw if step_mw > 0 else 1.0
        sold_mw = sold_mw or {}
        self.points, keys, where = {}, [], {}
        for p in products:
            q = np.asarray(prices[p], dtype=float)  # S x H
            for h in hours:
                pts, inv = np.unique(q[:, h], return_inverse=True)
                self.points[p, h] = pts
                keys += [(p, h, k) for k in range(len(pts))]
                where[p, h] = inv
        blk.PHK = pyo.Set(initialize=keys, dimen=3)
        # integer lots: a bid clears whole; the relaxation would sell fractions of a bid
        blk.lots = pyo.Var(blk.PHK, within=pyo.NonNegativeIntegers if step_mw > 0 else pyo.NonNegativeReals)
        blk.more_at_higher_price = pyo.Constraint(
            [(p, h, k) for p, h, k in keys if k + 1 < len(self.points[p, h])],
            rule=lambda b, p, h, k: b.lots[p, h, k] <= b.lots[p, h, k + 1],
        )
        unit = self.unit
        blk.accepted = pyo.Constraint(
            [(s, p, h) for s in range(len(site_totals)) for p in products for h in hours],
            rule=lambda b, s, p, h: site_totals[s][p, h]
            == float(sold_mw.get((p, h), 0.0)) + unit * b.lots[p, h, int(where[p, h][s])],
        )

    def bids(self) -> list[tuple[str, int, float, float]]:
        """(product, hour position, volume MW, price EUR/MW/h) of each bid step."""
        out = []
        for (p, h), pts in self.points.items():
            prev = 0.0
            for k, q in enumerate(pts):
                n = float(self.blk.lots[p, h, k].value or 0.0)
                if n - prev > 1e-6:
                    out.append((p, h, round((n - prev) * self.unit, 6), float(q)))
                prev = max(prev, n)
        return out
