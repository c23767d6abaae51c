"""The stochastic day-ahead bidding model: one curve per MTU, optimal over price scenarios.

Scenarios s (probability pi_s) give day-ahead prices lambda_{s,t}. For each MTU t the distinct
scenario prices, sorted, are the curve's price points p_{t,1} < ... < p_{t,K_t}; the volume at each
point is a decision v_{t,k} (MW, + = buy). Because every scenario price is a point, the volume the
exchange clears in scenario s is exactly v_{t,k(s,t)} (Nord Pool interpolates linearly between
points, MARKET_RULES 1.3). The net curve must be monotone: v_{t,k} >= v_{t,k+1} (buy less, or sell
more, as the price rises). Each scenario has its own copy of the site (``bidopt.site.Site``) whose
grid position must equal the cleared volume:

    imp_{s,t} - exp_{s,t} = v_{t,k(s,t)}

Reserve capacity (FCR, aFRR, any registered capacity product) is a first-stage decision shared by
all scenarios (sold before day-ahead): a volume at known prices, or, for each product with
clearing-price scenarios, stepped bids (``bidopt.bids.capacity_steps``) whose accepted volume
depends on each scenario's clearing prices while every scenario holds the headroom for the whole
ladder, so the bids are deliverable whatever mix of steps the auction accepts. The objective is the
expected result, optionally plus beta * CVaR_alpha of the scenario results:

    max  sum_s pi_s V_s + capacity value + beta * (zeta - 1/(1 - alpha) sum_s pi_s u_s),  u_s >= zeta - V_s, u_s >= 0

With one scenario the curve has one point per MTU: a price-independent volume equal to the
deterministic plan. ``flat`` (``[bidding] curve = "flat"``) makes every monotone pair an equality,
v_{t,k} = v_{t,k+1}: one price-independent volume per MTU, the one of the best expected result over
the scenarios (for a site whose value is linear in the price, the plan on the expected price).
The curves submitted (``order_curves``) add a floor and a ceiling tail point per MTU beyond the
scenario prices, where the portfolio's flexible part stops selling and buying
(``bidopt.bids.tails``); the optional price caps bind as constraints on the volumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import xarray as xr

from bidopt import markets, solver
from bidopt.assets.base import values
from bidopt.bids import capacity_steps, tails
from bidopt.horizon import Horizon
from bidopt.model import SolveInfo, has_integers, prepare_assets, solve_sites, summary_header
from bidopt.site import STREAM_ORDER, Site


@dataclass
class RiskSettings:
    beta: float = 0.0  # weight of CVaR in the objective (0: risk-neutral)
    alpha: float = 0.95  # CVaR level: the mean of the worst (1 - alpha) share of outcomes


@dataclass
class BidResult:
    curves: dict[int, list[tuple[float, float]]]  # MTU position -> [(price EUR/MWh, volume MW)], prices ascending
    schedule: pd.DataFrame  # expected schedule (probability-weighted over scenarios)
    summary: dict
    scenario_results: pd.DataFrame  # per scenario: probability, value and streams
    model: BiddingModel | None = field(default=None, repr=False)


class BiddingModel:
    """Builds the stochastic model once for a case, a horizon and a scenario cube."""

    def __init__(self, case, horizon: Horizon, scenarios: xr.DataArray, risk: RiskSettings | None = None,
                 blocks: list | None = None, fcr_scenarios: dict[str, np.ndarray] | None = None,
                 max_buy_price: float | None = None, min_sell_price: float | None = None, flat: bool = False,
                 reuse: bool = False, continuous_capacity: bool = False,
                 capacity_scenarios: dict[str, dict[str, np.ndarray]] | None = None):
        """``capacity_scenarios``: {product name: {stream: S x hours}} clearing prices paired with
        the day-ahead scenarios; with them the product is bid in price steps accepted per scenario
        (``bidopt.bids.capacity_steps``), without them a first-stage volume at the case's prices.
        ``fcr_scenarios``: the same for product ``fcr`` ({stream: S x hours}, auction 1). ``flat``: one volume per MTU at all scenario prices (the
        price-independent position of the best expected value; the tails of ``order_curves`` still
        close the curve). ``max_buy_price`` / ``min_sell_price`` (EUR/MWh): above
        (below) them the curve's volume is at most (at least) the must-run volume
        (``bidopt.bids.tails``). ``reuse``: keep the compiled model (``bidopt.solver.Persistent``)
        for re-solves after ``refresh``. ``continuous_capacity``: capacity volumes in MW, not whole
        lots (a fleet site's share of a pooled bid; the pool rounds, ``bidopt.bids.fleet_pool``)."""
        self.case, self.horizon = case, horizon
        self.continuous_capacity = continuous_capacity
        self.risk = risk or RiskSettings()
        prices = np.asarray(scenarios.transpose("scenario", "time").values, dtype=float)
        if prices.shape[1] != horizon.n:
            raise ValueError(f"scenarios have {prices.shape[1]} MTUs, the horizon {horizon.n}")
        probs = scenarios.coords["probability"].values if "probability" in scenarios.coords else None
        self.prob = np.full(prices.shape[0], 1.0 / prices.shape[0]) if probs is None else np.asarray(probs, float)
        self.prices = prices
        self.block_candidates = list(blocks or [])
        self.capacity_scenarios = {k: v for k, v in (capacity_scenarios or {}).items() if v}
        if fcr_scenarios:
            self.capacity_scenarios["fcr"] = fcr_scenarios
        self.fcr_scenarios = self.capacity_scenarios.get("fcr")
        self.data = prepare_assets(case, horizon)
        self.max_buy_price, self.min_sell_price = max_buy_price, min_sell_price
        self.flat = flat
        self.must_run_by_sign = tails.MustRun(case, self.data, horizon.n)
        self.must_run = self.must_run_by_sign.pos  # MW per MTU, + = consumption, at prices >= 0
        self.m = self._build()
        self.persistent = solver.Persistent(self.m) if reuse else None
        self.solve_info: SolveInfo | None = None

    def refresh(self, case, data: dict | None = None) -> bool:
        """Make this built model the model of another site ``case`` on the same horizon and scenario
        cube (the next home of a fleet): every scenario copy's assets and tariffs set their Params
        (``Site.refresh``). False when the site needs another structure (other assets, tariff kinds,
        grid limits or binaries; an asset kind without ``refresh``) or the model has parts that are
        not refreshed (blocks, FCR, price caps, a flat curve): the model is then unusable and the
        caller builds anew. The risk settings are the caller's to match (they are constants)."""
        if (self.block_candidates or self.capacity_scenarios or self.flat or self.max_buy_price is not None
                or self.min_sell_price is not None or markets.capacity_products(case)):
            return False
        data = prepare_assets(case, self.horizon) if data is None else data
        for s, site in enumerate(self.sites):
            if not site.refresh(case, self.horizon, data, self.prices[s]):
                return False
        self.case, self.data = case, data
        self.must_run_by_sign = tails.MustRun(case, data, self.horizon.n)
        self.must_run = self.must_run_by_sign.pos
        self.solve_info = None
        return True

    # --- build ------------------------------------------------------------------------------------
    def _price_points(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Per MTU the sorted distinct scenario prices, and for each (s, t) the index of its point."""
        points, where = [], np.zeros(self.prices.shape, dtype=int)
        for t in range(self.horizon.n):
            pts, inv = np.unique(self.prices[:, t], return_inverse=True)
            points.append(pts)
            where[:, t] = inv
        return points, where

    def _build(self) -> pyo.ConcreteModel:
        case, h = self.case, self.horizon
        S = self.prices.shape[0]
        m = pyo.ConcreteModel(name=f"{case.case.name}-bid")
        m.T = pyo.RangeSet(0, h.n - 1)
        m.S = pyo.RangeSet(0, S - 1)
        self.points, self.where = self._price_points()
        m.TK = pyo.Set(initialize=[(t, k) for t in m.T for k in range(len(self.points[t]))], dimen=2)
        m.volume = pyo.Var(m.TK)  # curve volume at each price point, MW (+ = buy)
        m.monotone = pyo.Constraint(
            [(t, k) for t, k in m.TK if k + 1 < len(self.points[t])],
            rule=lambda b, t, k: b.volume[t, k] >= b.volume[t, k + 1],
        )
        if self.flat:  # [bidding] curve = "flat": the monotone pairs are equalities
            m.flat = pyo.Constraint(list(m.monotone.keys()), rule=lambda b, t, k: b.volume[t, k] == b.volume[t, k + 1])
        tails.cap_constraints(m, self.points, self.must_run_by_sign, self.max_buy_price, self.min_sell_price)
        first_stage = 0.0
        offered = markets.capacity_products(case)
        stepped = [p.name for p in offered if p.name in self.capacity_scenarios]
        self.capacities = {}  # first-stage capacity of each offered market product, shared by the scenarios
        for prod in offered:
            if prod.name in stepped:
                continue  # stepped bids: each scenario holds its own accepted volume
            cap = self.capacities[prod.name] = pyo.Block()
            m.add_component(prod.name, cap)
            prod.build_capacity(cap, h, case, {a.name: a for a in case.assets}, continuous=self.continuous_capacity)
            first_stage = first_stage + sum(cap.capacity_value_eur[p] for p in cap.P)
        # accepted block volume per (scenario, MTU), MW (+ = buy); 0 without block candidates
        block_volume = lambda s, t: 0.0  # noqa: E731
        if self.block_candidates:
            from bidopt.bids import blocks

            m.blocks = pyo.Block()
            block_volume = blocks.build(m.blocks, self)
        m.site = pyo.Block(m.S)
        self.sites = []
        for s in range(S):
            own = {n: {p: np.asarray(v)[s] for p, v in self.capacity_scenarios[n].items()} for n in stepped}
            site = Site(case, h, self.data, self.prices[s], m.site[s], m.T, capacities=self.capacities,
                        scenario_prices=own)
            self.sites.append(site)
            g = m.site[s].grid
            m.site[s].follows_curve = pyo.Constraint(
                m.T, rule=lambda b, t, s=s, g=g: g.import_mw[t] - g.export_mw[t]
                == m.volume[t, int(self.where[s, t])] + block_volume(s, t)
            )
        self._build_steps(m, stepped)
        expected = sum(float(self.prob[s]) * m.site[s].value_eur for s in range(S))
        obj = expected + first_stage
        if self.risk.beta > 0:
            a = self.risk.alpha
            m.zeta = pyo.Var()
            m.shortfall = pyo.Var(m.S, bounds=(0, None))
            m.cvar_def = pyo.Constraint(m.S, rule=lambda b, s: b.shortfall[s] >= b.zeta - b.site[s].value_eur)
            m.cvar = pyo.Expression(
                expr=m.zeta - sum(float(self.prob[s]) * m.shortfall[s] for s in range(S)) / (1 - a)
            )
            obj = obj + self.risk.beta * m.cvar
        m.objective = pyo.Objective(expr=obj, sense=pyo.maximize)
        return m

    def _build_steps(self, m, stepped: list[str]) -> None:
        """Stepped, indivisible bids of each product in ``stepped`` (block ``<name>_bids``; FCR: auction
        1), accepted per scenario at its clearing price (``bidopt.bids.capacity_steps``)."""
        sites = [m.site[s] for s in range(len(self.sites))]
        self.capacity_steps = {}
        for name in stepped:
            blk = pyo.Block()
            m.add_component(f"{name}_bids", blk)
            first = sites[0].component(name)
            lot = 0.0 if self.continuous_capacity else markets.product(name).lot_mw(self.case, self.horizon)
            self.capacity_steps[name] = capacity_steps.CapacitySteps(
                blk, [b.component(name).total_mw for b in sites], [b.component(f"{name}_accepted").mw for b in sites],
                self.capacity_scenarios[name], list(first.P), list(first.H), lot)

    def bid_steps(self, name: str) -> list[tuple[str, int, float, float]]:
        """(stream, hour position, volume MW, price EUR/MW/h) of each bid step of product ``name``
        ([] when it is not bid in steps)."""
        steps = getattr(self, "capacity_steps", {}).get(name)
        return steps.bids() if steps is not None else []

    def fcr_bid_steps(self) -> list[tuple[str, int, float, float]]:
        """(product, hour position, volume MW, price EUR/MW/h) of each auction-1 FCR bid step."""
        return self.bid_steps("fcr")

    def capacity_bids(self) -> dict[str, pd.DataFrame]:
        """{product name: bid table} of every offered product with its own bid file (not FCR's
        ``fcr_bids.csv``): the steps (``capacity_steps.step_table``, several rows per stream and
        hour) or the price-taking volumes (``Product.bid_table``)."""
        out = {}
        for prod in markets.capacity_products(self.case):
            if prod.own_bid_path:
                continue
            if prod.name in self.capacity_steps:
                out[prod.name] = capacity_steps.step_table(self.bid_steps(prod.name), self.horizon.hour_starts)
            elif prod.name in self.capacities:
                out[prod.name] = prod.bid_table(self.capacities[prod.name], self.horizon)
        return out

    # --- solve and results ------------------------------------------------------------------------
    def solve(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
        self.solve_info = solve_sites(self, time_limit_s, mip_gap)
        return self.solve_info

    def curves(self) -> dict[int, list[tuple[float, float]]]:
        out = {}
        for t in range(self.horizon.n):
            out[t] = [(float(p), float(self.m.volume[t, k].value or 0.0)) for k, p in enumerate(self.points[t])]
        return out

    def order_curves(self, limits: tuple[float, float], max_points: int | None = None) -> dict[int, list[tuple[float, float]]]:
        """The curves to submit: the model's points plus each MTU's floor and ceiling tail points
        (``bidopt.bids.tails``), inside the exchange's price ``limits`` (lo, hi) and, with their two
        ends, within ``max_points`` per curve."""
        flex = np.array([values(st.blk.grid.import_mw) - values(st.blk.grid.export_mw) for st in self.sites])
        mr = self.must_run_by_sign
        flex = flex - np.where(self.prices < 0, mr.neg[None, :], mr.pos[None, :])
        floor, ceil = tails.tail_prices(self.prices, self.points, flex, tails.storage_efficiency(self.case), limits,
                                        self.max_buy_price, self.min_sell_price)
        return {t: tails.with_tails(pts, floor[t], ceil[t], float(mr.pos[t]), max_points, float(mr.neg[t]))
                for t, pts in self.curves().items()}

    def expected_schedule(self) -> pd.DataFrame:
        frames = [site.schedule() for site in self.sites]
        out = sum(float(p) * f for p, f in zip(self.prob, frames, strict=True))
        out.index.name = "timestamp_utc"
        return out

    def scenario_results(self) -> pd.DataFrame:
        rows = []
        for s, site in enumerate(self.sites):
            rev = site.revenue()  # a shared first-stage capacity is added once, in summary()
            rows.append({"scenario": s, "probability": float(self.prob[s]), "value_eur": sum(rev.values()), **rev})
        return pd.DataFrame(rows).set_index("scenario")

    def summary(self) -> dict:
        per = self.scenario_results()
        streams = [c for c in per.columns if c not in ("probability", "value_eur")]
        rev = {k: float((per[k] * per["probability"]).sum()) for k in streams}
        for name, cap in self.capacities.items():
            for p, v in markets.product(name).revenue(cap, None).items():
                rev[p] = rev.get(p, 0.0) + v
        rev = {**{k: rev.get(k, 0.0) for k in STREAM_ORDER}, **{k: v for k, v in rev.items() if k not in STREAM_ORDER}}
        return {
            **summary_header(self.case, self.horizon),
            "n_scenarios": len(self.sites),
            "objective_eur": float(sum(rev.values())),
            "revenue_eur": rev,
            "scenario_objective_eur": {"min": float(per.value_eur.min()), "max": float(per.value_eur.max())},
            "cvar_eur": float(pyo.value(self.m.cvar)) if hasattr(self.m, "cvar") else None,
            "solver": self.solve_info.as_dict() if self.solve_info else None,
            "binaries": has_integers(self.m),
        }

    def result(self) -> BidResult:
        return BidResult(self.curves(), self.expected_schedule(), self.summary(), self.scenario_results(), self)


def curve_volumes(result: BidResult, price: np.ndarray) -> np.ndarray:
    """Volume each MTU's curve clears at ``price`` (linear interpolation, flat beyond the end points)."""
    out = np.zeros(len(result.curves))
    for t, pts in result.curves.items():
        ps = np.array([p for p, _ in pts])
        vs = np.array([v for _, v in pts])
        out[t] = np.interp(price[t], ps, vs)
    return out


__all__ = ["BidResult", "BiddingModel", "RiskSettings", "curve_volumes", "values"]
