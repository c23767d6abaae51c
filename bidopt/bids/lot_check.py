"""How much of a bid's expected day-ahead energy its exported curves carry (``bidopt.notes``).

In scenario s the bidding model clears the curve volume v_{t,k(s,t)} at the scenario's price; the
exported curve (volumes rounded to whole 0.1 MW lots, prices to the tick) clears what it
interpolates at that price. The difference, against the scenario's net position (curve plus
blocks), probability-weighted, is ``bidopt.notes.lot_rounding``.
"""

from __future__ import annotations

import numpy as np

from bidopt import notes
from bidopt.assets.base import values
from bidopt.bids.orders import OrdersFile
from bidopt.bids.rules import ExchangeRules


def curve_lot_rounding(bm, result, orders: OrdersFile, rules: ExchangeRules | None = None) -> dict:
    """``notes.lot_rounding`` of a solved ``BiddingModel`` ``bm``, its ``BidResult`` and the orders
    exported from it."""
    S, n = bm.prices.shape
    wanted, offered, net = np.zeros((S, n)), np.zeros((S, n)), np.zeros((S, n))
    curves = orders.curve_orders[0].curves if orders.curve_orders else []
    for t in range(n):
        model_v = np.array([v for _, v in result.curves[t]])
        wanted[:, t] = model_v[bm.where[:, t]]
        if t < len(curves):
            ps = np.array([q.price for q in curves[t].curve_points])
            vs = np.array([q.volume for q in curves[t].curve_points])
            offered[:, t] = np.interp(bm.prices[:, t], ps, vs)
    for s, site in enumerate(bm.sites):
        net[s] = values(site.blk.grid.import_mw) - values(site.blk.grid.export_mw)
    lot = (rules or ExchangeRules()).lot_mw
    return notes.lot_rounding(net, wanted - offered, bm.horizon.dt_h, lot, bm.prob)
