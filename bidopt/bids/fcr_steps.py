"""Stepped, indivisible FCR bids over FCR clearing-price scenarios (one auction), deliverable
whatever the auction accepts.

MARKET_RULES 3.2: one clearing price per product, hour and auction; a bid is accepted whole when
its price is at or below the clearing price. For product p and hour h the bid prices are the
distinct scenario clearing prices q_1 < ... < q_K; n_k (integer lots of ``step_mw``) is the total
volume offered at prices up to q_k, so n_k is non-decreasing in k. Scenario s, clearing at
q_k(s), gets exactly n_k(s) lots on top of any volume an earlier auction already sold
(``sold_mw``), and earns its clearing price on it:

    accepted_{s,p,h} = sold_{p,h} + step * n_{p,h,k(s)}

Deliverability. Every product and hour clears at its own price, so the auction may accept any
prefix of every ladder at once, not only the combinations the scenarios pair. Every scenario's site
therefore holds the headroom for the top of every ladder at once,

    held_{s,p,h} = sold_{p,h} + step * n_{p,h,K}

(``site[s].fcr.total_mw``, split over the assets as ``fcr.cap``). Each asset's headroom
requirements (power up/down, energy up/down) are sums of non-negative multiples of its capacities,
and each asset's reserve constraints bound a requirement from above by a function of its own
schedule, so with the schedule fixed they are monotone: a schedule that holds the top of every
ladder holds any smaller accepted volume (split over the assets in proportion to what each holds).
This is exact when the expected activation is zero (the default without a frequency series); with
one, the energy moved by expected activation is that of the held volume. Used for auction 1 by the
day-ahead bidding model (``bidopt.bids.stochastic``) and for auction 2 after day-ahead
(``bidopt.bids.fcr_auction2``). Volumes MW, prices EUR/MW/h.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo


class FcrSteps:
    """The bid-step variables on ``blk`` tying each scenario site's FCR volumes to one bid ladder.

    ``held[s]`` is scenario s's held capacity (``site.fcr.total_mw``), ``accepted[s]`` the volume
    its clearing prices accept (``site.fcr_accepted.mw``), both indexed by product and hour;
    ``prices`` {product: S x hours} the clearing-price scenarios, ``sold_mw`` {(product, hour): MW}
    volume already sold in an earlier auction (fixed)."""

    def __init__(self, blk: pyo.Block, held: list, accepted: list, prices: dict[str, np.ndarray],
                 products: list[str], hours: list[int], step_mw: float, sold_mw: dict | None = None):
        if len(held) != len(accepted):
            raise ValueError(f"{len(held)} held and {len(accepted)} accepted volume components")
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
        self.top = {ph: len(pts) - 1 for ph, pts in self.points.items()}
        blk.PHK = pyo.Set(initialize=keys, dimen=3)
        # integer lots: a bid clears whole; the relaxation would sell fractions of a bid
        blk.lots = pyo.Var(blk.PHK, within=pyo.NonNegativeIntegers if step_mw > 0 else pyo.NonNegativeReals)
        blk.more_at_higher_price = pyo.Constraint(
            [(p, h, k) for p, h, k in keys if k < self.top[p, h]],
            rule=lambda b, p, h, k: b.lots[p, h, k] <= b.lots[p, h, k + 1],
        )
        unit = self.unit
        S = range(len(held))

        def volume(b, p, h, k):
            return float(sold_mw.get((p, h), 0.0)) + unit * b.lots[p, h, k]

        blk.accepted = pyo.Constraint(
            [(s, p, h) for s in S for p in products for h in hours],
            rule=lambda b, s, p, h: accepted[s][p, h] == volume(b, p, h, int(where[p, h][s])),
        )
        # every scenario's schedule holds the whole ladder: any mix of accepted steps is deliverable
        blk.held = pyo.Constraint(
            [(s, p, h) for s in S for p in products for h in hours],
            rule=lambda b, s, p, h: held[s][p, h] == volume(b, p, h, self.top[p, h]),
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

    def offered_mw(self) -> dict[tuple[str, int], float]:
        """{(product, hour position): MW} the ladder offers in all (the top step), without sold volume."""
        return {(p, h): float(np.round((self.blk.lots[p, h, k].value or 0.0) * self.unit, 6))
                for (p, h), k in self.top.items()}
