"""FCR auction 2 (gate D-1 18:00, after day-ahead): stepped bids for further FCR capacity.

``auction2(case, day, position_dir)`` reads what ``bid`` wrote (``dayahead_orders.json``,
``fcr_bids.csv``). By 18:00 D-1 both are cleared and published: the day-ahead orders are cleared at
the day's prices (``bidopt.markets.clearing``) and the auction-1 FCR bids at the auction-1
clearing prices. What is still uncertain is the auction-2 clearing price per product and hour:
scenarios come from the case's auction-2 price history (``[prices] <product>_auction2``, or the
auction-1 series as a proxy), using only prices published before the gate.

The model has one copy of the site per FCR price scenario, each with the day-ahead position fixed,
intraday trades (later auctions and continuous, at the intraday price or the day-ahead proxy, plus
the fee) and imbalance (day-ahead price +- penalty) as recourse, and FCR capacity

    accepted_{s,p,h} = sold in auction 1_{p,h} + step * n_{p,h,k(s)}

with the auction-2 bid ladder n of ``bidopt.bids.capacity_steps``; every copy holds the headroom for
the auction-1 volume plus the whole auction-2 ladder, so any mix of auction-2 steps the auction
accepts is deliverable with the known position. It maximises the expected result;
auction-1 capacity is valued at its own clearing price in the reported figures. Volumes MW, prices
EUR/MW/h, money EUR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from bidopt import time as btime
from bidopt.bids import intraday
from bidopt.bids.capacity_steps import CapacitySteps
from bidopt.bids.contracts import bidding_mtu
from bidopt.data import sources
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets import fcr
from bidopt.markets import intraday as intraday_market
from bidopt.markets import product as market_product
from bidopt.model import SolveInfo, has_integers, prepare_assets, solve_sites, summary_header
from bidopt.site import STREAM_ORDER, Site

GATE = dt.time(18, 0)  # FCR auction 2 gate closure, D-1 local (MARKET_RULES 3.2)
COLUMNS = ["product", "auction", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"]


def gate_time(day, tz: str) -> pd.Timestamp:
    from bidopt.forecast.baseline import gate_time as at

    return at(day, GATE, tz)


@dataclass
class Auction2Result:
    fcr_bids: pd.DataFrame  # auction-1 rows as given, then the new auction-2 rows
    schedule: pd.DataFrame  # expected schedule over the FCR price scenarios
    summary: dict
    model: Auction2Model | None = field(default=None, repr=False)


def price_scenarios(case, day, n: int, seed: int, lookback_days: int) -> dict[str, np.ndarray]:
    """{product: S x hours} auction-2 clearing-price scenarios from history published before the gate."""
    from bidopt.forecast import baseline

    d = btime.day_of(day)
    first = pd.Timestamp(d) - pd.Timedelta(days=lookback_days + 8)
    hist = btime.horizon_index(first.date(), d, 60, case.case.timezone)
    out = {}
    for p in fcr.offered(case):
        key = sources.reserve_price_field(case, p, auction=2)
        try:
            history = pd.Series(market_product("fcr").clearing_prices(case, p, Horizon(hist, case.case.timezone), 2),
                                index=hist)
        except InputError as e:
            raise InputError(e.file, e.field, f"{e.message} (FCR auction 2 bids need {lookback_days + 8} days of "
                             f"[prices] {key} history)") from None
        cube = baseline.fcr_price_scenarios(history, day, n_scenarios=n, seed=seed, lookback_days=lookback_days,
                                            tz=case.case.timezone, gate_utc=fcr.gate_utc(case, day, 2))
        out[p] = np.asarray(cube.transpose("scenario", "time").values, dtype=float)
    return out


class Auction2Model:
    """One site per auction-2 price scenario, sharing the auction-2 bid ladder."""

    def __init__(self, case, horizon: Horizon, spot: np.ndarray, position_mw: np.ndarray, adjustments: dict,
                 sold_mw: dict[tuple[str, int], float], prices1: dict[str, np.ndarray],
                 scenarios: dict[str, np.ndarray]):
        self.case, self.horizon = case, horizon
        self.sold_mw, self.prices1, self.scenarios = sold_mw, prices1, scenarios
        n = {np.asarray(v).shape[0] for v in scenarios.values()}
        if len(n) != 1:
            raise ValueError("every product needs the same number of FCR price scenarios")
        S = n.pop()
        self.prob = np.full(S, 1.0 / S)
        data = prepare_assets(case, horizon)
        m = pyo.ConcreteModel(name=f"{case.case.name}-fcr2")
        m.T = pyo.RangeSet(0, horizon.n - 1)
        m.site = pyo.Block(range(S))
        self.sites = [
            Site(case, horizon, data, spot, m.site[s], m.T, position_mw=position_mw, adjustments=adjustments,
                 fcr_prices={p: np.asarray(v)[s] for p, v in scenarios.items()})
            for s in range(S)
        ]
        first = m.site[0].fcr
        for (p, _h), v in sold_mw.items():
            if v > 1e-9 and p not in set(first.P):
                raise InputError(None, "fcr_bids.csv", f"{p} was sold in auction 1 but no asset of the case provides it")
        m.fcr_bids = pyo.Block()
        self.steps = CapacitySteps(m.fcr_bids, [m.site[s].fcr.total_mw for s in range(S)],
                              [m.site[s].fcr_accepted.mw for s in range(S)], scenarios, list(first.P),
                              list(first.H), fcr.rules(case).step_mw, sold_mw)
        m.objective = pyo.Objective(expr=sum(float(self.prob[s]) * m.site[s].value_eur for s in range(S)),
                                    sense=pyo.maximize)
        self.m = m
        self.solve_info: SolveInfo | None = None

    def solve(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
        self.solve_info = solve_sites(self, time_limit_s, mip_gap)
        return self.solve_info

    def scenario_revenue(self, s: int) -> dict[str, float]:
        """Scenario s's result per stream, with auction-1 capacity at its own clearing price."""
        rev = self.sites[s].revenue()
        for (p, h), v in self.sold_mw.items():
            if p in rev:
                rev[p] += v * (float(self.prices1[p][h]) - float(self.scenarios[p][s][h]))
        return rev

    def summary(self) -> dict:
        per = [self.scenario_revenue(s) for s in range(len(self.sites))]
        rev = {k: float(sum(float(pr) * r.get(k, 0.0) for pr, r in zip(self.prob, per, strict=True)))
               for k in dict.fromkeys(k for r in per for k in r)}
        rev = {**{k: rev.get(k, 0.0) for k in STREAM_ORDER}, **{k: v for k, v in rev.items() if k not in STREAM_ORDER}}
        values = [sum(r.values()) for r in per]
        return {
            **summary_header(self.case, self.horizon),
            "stage": "FCR2",
            "n_scenarios": len(self.sites),
            "objective_eur": float(sum(rev.values())),
            "revenue_eur": rev,
            "scenario_objective_eur": {"min": float(min(values)), "max": float(max(values))},
            "fcr_sold_auction1_mw_h": float(sum(self.sold_mw.values())),
            "solver": self.solve_info.as_dict() if self.solve_info else None,
            "binaries": has_integers(self.m),
        }

    def expected_schedule(self) -> pd.DataFrame:
        out = sum(float(p) * site.schedule() for p, site in zip(self.prob, self.sites, strict=True))
        out.index.name = "timestamp_utc"
        return out

    def bids(self) -> pd.DataFrame:
        rows = [{"product": p, "auction": 2, "hour_start_utc": self.horizon.hour_starts[h].strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "volume_mw": v, "price_eur_per_mw_h": round(q, 2)} for p, h, v, q in self.steps.bids()]
        return pd.DataFrame(rows, columns=COLUMNS)


def auction2(case, day, position_dir, fcr_file=None, scenarios: dict[str, np.ndarray] | None = None,
             time_limit_s: float | None = None, mip_gap: float | None = None) -> Auction2Result:
    """Auction-2 FCR bids for ``day`` after the day-ahead result in ``position_dir``.

    ``fcr_file``: the auction-1 bids (default ``position_dir/fcr_bids.csv``; none = nothing sold);
    ``scenarios``: {product: S x hours} auction-2 clearing prices instead of the forecaster's."""
    from bidopt.bids.dayahead import settings

    day = btime.DeliveryDay.parse(day, case.case.timezone)  # the edge: parsed once, typed below
    if not fcr.offered(case):
        raise InputError(case.label, "prices", "FCR auction 2 needs an FCR price file ([prices] fcr_n, fcr_d_up "
                         "or fcr_d_down)")
    st = settings(case)
    mtu = bidding_mtu(case.case.mtu_minutes, day)  # the MTU of the day-ahead orders `bid` wrote for the day
    horizon = Horizon(btime.delivery_index(day, mtu, case.case.timezone), case.case.timezone)
    position = intraday.dayahead_position(case, day, Path(position_dir), horizon.index)
    explicit = fcr_file is not None
    fcr_file = Path(fcr_file) if explicit else Path(position_dir) / "fcr_bids.csv"
    given = intraday.read_sold_fcr(fcr_file) if explicit or fcr_file.exists() else pd.DataFrame(columns=COLUMNS)
    first = given[given["auction"] == 1] if len(given) else given
    sold = intraday.sold_by_hour(case, first, horizon.hour_starts)
    prices1 = {p: market_product("fcr").clearing_prices(case, p, horizon, 1) for p in fcr.offered(case)}
    if scenarios is None:
        scenarios = price_scenarios(case, day, st.n_scenarios, st.seed, st.fcr_lookback_days)
    spot = sources.dayahead_prices(case, horizon.index)
    r = intraday_market.rules(case)
    proxy = case.prices.intraday is None
    id_price = spot if proxy else sources.price_series(case, case.prices.intraday, "prices.intraday", horizon.index)
    model = Auction2Model(case, horizon, spot, position, intraday_market.adjustments(spot, id_price, r), sold,
                          prices1, scenarios)
    model.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    new = model.bids()
    bids = pd.concat([given[given["auction"] == 1] if len(given) else given, new], ignore_index=True)[COLUMNS]
    proxies = [p for p in fcr.offered(case) if sources.reserve_price_field(case, p, 2) == p]
    summary = {**model.summary(),
               "auction2_prices": {p: ("auction-1 proxy" if p in proxies else f"prices.{p}_auction2")
                                   for p in fcr.offered(case)},
               "intraday_price": "day-ahead proxy" if proxy else "prices.intraday"}
    return Auction2Result(bids, model.expected_schedule(), summary, model)
