"""Tail points of the day-ahead curves: where the portfolio's flexible part stops buying or selling.

The bidding model (``bidopt.bids.stochastic``) places a curve's points at the scenario prices, so
inside their range the volume is optimal per scenario, and beyond it the exchange would read the
curve flat to the price limits: a battery that charges 1 MW at every scenario price would also
charge at +4000 EUR/MWh. Two tail points per MTU close the curve (prices EUR/MWh, volumes MW,
+ = buy):

- the *must-run* volume m_t: the net power the portfolio takes at any price of a sign, the sum of
  its assets' ``must_run_mw`` (an inflexible load's consumption; PV output as a sale, at negative
  prices only if it cannot be curtailed; storage, shiftable and thermal loads and EVs are flexible
  and add 0). Where m_t differs between the signs and a tail lies on the other side of 0, points at
  0 and -GAP make the change, so curtailable PV keeps selling at any price >= 0 and stops below
  -GAP;
- the *ceiling* C_t, above which buying more than m_t is worth it in no scenario: per scenario s the
  best use of a MWh bought at t is to sell it later (storage: eta * max_{u>t} lambda_{s,u}, eta the
  highest round-trip efficiency of the site's storage, ``round_trip_efficiency``) or to replace a
  purchase the scenario's flexible part makes (the highest price B_s at which its flexible net
  position, the grid position minus m, buys in any MTU); C_t is the maximum over s, at least
  p_{t,K} + GAP, and at most the user's ``max_buy_price``. At C_t and above the volume is
  min(v_{t,K}, m_t): the flexible part buys nothing (and keeps any sale it planned);
- the *floor* F_t, below which selling more than m_t pays in no scenario: per scenario the cheapest
  way to make good a MWh sold at t is to buy it back later (min_{u>t} lambda_{s,u} / eta) or to
  skip a sale the flexible part makes (the lowest price A_s at which it sells); F_t is the minimum
  over s, at most p_{t,1} - GAP, at least ``min_sell_price``. At F_t and below the volume is
  max(v_{t,1}, m_t): the flexible part sells nothing.

Both stay inside the exchange's price limits. MTUs clear together and each curve is its own, so
these bounds read the scenarios' plans, not a re-plan; energy carried into the next day is not
valued (the scenarios end with the day).

Between p_{t,K} and C_t (and F_t and p_{t,1}) the exchange interpolates linearly, so the volume
falls gradually above the highest scenario price of the MTU. Taking min/max with m_t keeps the
curve non-increasing. The optional ``[bidding] max_buy_price_eur_per_mwh`` /
``min_sell_price_eur_per_mwh`` also bind inside the scenario range, as constraints of the model
(``cap_constraints``): at a scenario price above the cap the curve volume is at most m_t, below
the floor at least m_t.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

GAP_EUR_PER_MWH = 1.0  # least distance of a tail point from the MTU's outermost scenario price


def must_run_mw(case, data: dict, n: int, negative_price: bool = False) -> np.ndarray:
    """m_t: the sum of the assets' must-run net power (MW, + = consumption) at a non-negative (or,
    ``negative_price``, a negative) price; 0 for flexible assets."""
    out = np.zeros(n)
    for a in case.assets:
        m = a.must_run_mw(data[a.name], negative_price=negative_price)
        if m is not None:
            out += np.asarray(m, dtype=float)[:n]
    return out


class MustRun:
    """m_t at either sign of the price: ``at(t, price)``; ``pos``/``neg`` the two vectors (MW)."""

    def __init__(self, case, data: dict, n: int):
        self.pos = must_run_mw(case, data, n)
        self.neg = must_run_mw(case, data, n, negative_price=True)

    def at(self, t: int, price: float) -> float:
        return float(self.neg[t] if price < 0 else self.pos[t])


def tail_prices(prices: np.ndarray, points: list[np.ndarray], flex: np.ndarray, eta: float | None,
                limits: tuple[float, float], max_buy: float | None = None,
                min_sell: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(F_t, C_t) per MTU from the scenario cube ``prices`` (S x T, EUR/MWh), each MTU's sorted
    points, the scenarios' flexible net positions ``flex`` (S x T, MW, grid position minus m_t),
    the storage round-trip efficiency ``eta`` (None: no storage) and the exchange ``limits``."""
    lo, hi = limits
    S, T = prices.shape
    tol = 1e-6
    buys = np.where(flex > tol, prices, -np.inf).max(axis=1)  # B_s
    sells = np.where(flex < -tol, prices, np.inf).min(axis=1)  # A_s
    ceil_s = np.repeat(buys[:, None], T, axis=1)
    floor_s = np.repeat(sells[:, None], T, axis=1)
    if eta is not None and T > 1:
        later_max = np.full((S, T), -np.inf)
        later_min = np.full((S, T), np.inf)
        later_max[:, :-1] = np.maximum.accumulate(prices[:, ::-1], axis=1)[:, ::-1][:, 1:]
        later_min[:, :-1] = np.minimum.accumulate(prices[:, ::-1], axis=1)[:, ::-1][:, 1:]
        ceil_s = np.maximum(ceil_s, eta * later_max)
        floor_s = np.minimum(floor_s, later_min / eta)
    top, bottom = ceil_s.max(axis=0), floor_s.min(axis=0)
    if max_buy is not None:
        top = np.minimum(top, max_buy)
    if min_sell is not None:
        bottom = np.maximum(bottom, min_sell)
    ceil = np.array([min(max(top[t], p[-1] + GAP_EUR_PER_MWH), hi) for t, p in enumerate(points)])
    floor = np.array([max(min(bottom[t], p[0] - GAP_EUR_PER_MWH), lo) for t, p in enumerate(points)])
    return floor, ceil


def storage_efficiency(case) -> float | None:
    """The highest round-trip efficiency among the site's storage assets, None without storage."""
    etas = [e for a in case.assets if (e := a.round_trip_efficiency()) is not None]
    return max(etas) if etas else None


def with_tails(pts: list[tuple[float, float]], floor: float, ceil: float, must_run: float,
               max_points: int | None = None, must_run_negative: float | None = None) -> list[tuple[float, float]]:
    """The curve ``pts`` [(price, volume)] with its floor and ceiling points (see the module
    docstring). ``must_run`` is m_t at prices >= 0, ``must_run_negative`` (default the same) at
    prices < 0; where they differ (curtailable PV) and a tail lies on the other side of 0, points
    at 0 (m_t at prices >= 0) and -GAP (at prices < 0) carry the change. A tail on or inside the scenario range (at an exchange limit)
    is left out, and so is one that would take the exported curve (with its two ends at the price
    limits) beyond ``max_points``: the ceiling is kept first (a buy above the scenario prices costs
    most), then the floor, then the points around 0."""
    m_pos = must_run
    m_neg = m_pos if must_run_negative is None else max(must_run_negative, m_pos)

    def at(price: float) -> float:
        return m_neg if price < 0 else m_pos

    v_first, v_last = pts[0][1], pts[-1][1]
    candidates = []  # (price, volume), in the order they are kept
    if ceil > pts[-1][0]:
        candidates.append((float(ceil), min(v_last, at(ceil))))
    if floor < pts[0][0]:
        candidates.append((float(floor), max(v_first, at(floor))))
        if m_neg != m_pos and floor >= 0:  # m_pos down to 0, m_neg from -GAP down
            candidates.append((-GAP_EUR_PER_MWH, max(v_first, m_neg)))
            if floor > 0:
                candidates.append((0.0, max(v_first, m_pos)))
    if ceil > pts[-1][0] and m_neg != m_pos and ceil < 0:  # m_pos from 0 up
        candidates.append((0.0, min(v_last, m_pos)))
    room = len(candidates) if max_points is None else max(max_points - 2 - len(pts), 0)
    return sorted([*pts, *candidates[:room]])


def cap_constraints(m: pyo.ConcreteModel, points: list[np.ndarray], must_run: MustRun,
                    max_buy: float | None, min_sell: float | None) -> None:
    """The user's price caps inside the scenario range: volume[t, k] <= m_t where p_{t,k} > max_buy,
    volume[t, k] >= m_t where p_{t,k} < min_sell (m_t at the point's price sign)."""
    if max_buy is not None:
        idx = [(t, k) for t, pts in enumerate(points) for k, p in enumerate(pts) if p > max_buy]
        m.max_buy_price = pyo.Constraint(
            idx, rule=lambda b, t, k: b.volume[t, k] <= must_run.at(t, float(points[t][k])))
    if min_sell is not None:
        idx = [(t, k) for t, pts in enumerate(points) for k, p in enumerate(pts) if p < min_sell]
        m.min_sell_price = pyo.Constraint(
            idx, rule=lambda b, t, k: b.volume[t, k] >= must_run.at(t, float(points[t][k])))


def is_price_responsive(volumes, tol_mw: float = 1e-9) -> bool:
    """Whether a curve's volume changes with price (not the same volume at every point)."""
    v = np.asarray(list(volumes), dtype=float)
    return bool(v.size) and float(v.max() - v.min()) > tol_mw


def responsive_count(orders) -> tuple[int, int]:
    """(price-responsive curves, all curves) of an orders file's curve orders."""
    curves = [c for o in orders.curve_orders for c in o.curves]
    return sum(is_price_responsive(q.volume for q in c.curve_points) for c in curves), len(curves)
