"""One delivery day of a backtest: decide, clear, deliver, settle. Money EUR, power MW, energy MWh.

``strategy_day`` walks the decision timeline of DESIGN.md for day D with the state carried from
D-1:

1. **bid** (before FCR auction 1 and the day-ahead gate): ``bidopt.bid`` with price scenarios
   forecast from data published before the gate (``strategy = "bid"``), or one scenario at the
   forecast's expected price (``"expected"``: the expected-price plan as price-independent volumes),
   or at the last published day's prices (``"persistence"``, ``bidopt.backtest.baselines``);
2. **clear** (price-taker): the curve and block orders at the realised day-ahead prices
   (``bidopt.markets.clearing``); the bids of every capacity product the case offers (FCR's per
   auction, a plug-in product's ``<name>_bids.csv`` rows) at the product's realised clearing prices,
   by its clearing rule (``Product.settle_bids``, ``bidopt.backtest.capacity``);
3. **deliver**: re-plan D with the cleared position and each product's accepted capacity fixed,
   realised day-ahead prices known (published 12:45 D-1), and intraday trades at the intraday price
   (or the day-ahead price as a documented proxy) plus the fee; what cannot be traded is imbalance;
4. **settle**: the position at the day-ahead price, intraday trades at their price, imbalance
   volumes per ISP at the imbalance price (``bidopt.backtest.settlement``: a price file, or the
   day-ahead price +- a penalty), capacity under each product's pricing rule in force on D (FCR: each
   accepted bid at its own price before 1 Feb 2024, pay-as-bid; at the clearing price from then,
   marginal; a plug-in product by default marginal; the day's ``<name>_pricing``), the tariff
   increment the day's peaks add to the month's bill, energy tax, VAT, degradation.

In the delivery re-plan and the perfect-foresight plan each product's activation at the realised
prices is set before the solve (``activate``, ``Product.activate_at_delivery``: mFRR's EAM), so it
moves the SoC carried to the next day.

``perfect_foresight_day`` plans D on the realised prices (FCR sold at its realised prices too):
the upper bound the strategy is compared with. ``no_flex`` (``bidopt.backtest.baselines``) runs
every asset unmanaged; ``run_day`` picks the day function of a strategy.

What was submitted (``DayOutcome.submitted``, kept in the day's checkpoint for the report's
bid-versus-outcome panel): the curve points (price EUR/MWh, volume MW) of every MTU's curve order.

MTU of a day (``day_mtu``): the case's ``mtu_minutes``, but a strategy that bids runs at the
exchange's day-ahead MTU on days the case's has no product (60 minutes up to 2025-09-30, 15 from
2025-10-01), and the perfect-foresight chain follows it day by day. Carried state (SoC, peaks) does
not depend on the MTU, so it passes across the switch unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bidopt import markets, notes
from bidopt import time as btime
from bidopt.backtest import capacity, settlement
from bidopt.backtest.state import next_state, with_state
from bidopt.bids import intraday
from bidopt.bids.contracts import bidding_mtu
from bidopt.data import sources
from bidopt.horizon import Horizon
from bidopt.markets import clearing
from bidopt.markets import intraday as intraday_market
from bidopt.model import PortfolioModel


@dataclass
class DayOutcome:
    record: dict  # one row of daily.csv (without the perfect-foresight column)
    timeseries: pd.DataFrame  # per MTU, UTC index
    state: dict  # carried into the next day
    warnings: list[str]
    seconds: float = 0.0  # wall time (kept out of daily.csv so outputs are byte-identical)
    submitted: dict | None = None  # the day-ahead curves submitted (``submitted_curves``), if any


def day_horizon(case, day) -> Horizon:
    return Horizon(btime.delivery_index(day, case.case.mtu_minutes, case.case.timezone), case.case.timezone)


_horizon = day_horizon

BIDDING = ("bid", "expected", "persistence")  # strategies that submit day-ahead orders


def day_mtu(case, day, strategy: str = "bid") -> int:
    """The MTU (minutes) of backtest day ``day``: the case's, except that a strategy that bids
    (``bid``, ``expected``) cannot bid a day-ahead product the exchange did not have on that day, and
    runs at the exchange's MTU then (``contracts.bidding_mtu``: a 60-minute case bids quarter-hours
    from 2025-10-01). All chains of a run use the MTU of the strategy's day, so they compare MTU for
    MTU; with ``perfect_foresight`` or ``no_flex`` no product is involved and every day runs at the
    case's MTU."""
    if strategy not in BIDDING:
        return case.case.mtu_minutes
    return bidding_mtu(case.case.mtu_minutes, day)


def at_mtu(case, mtu_minutes: int | None):
    """``case`` with ``[case] mtu_minutes`` set to ``mtu_minutes`` (the same object if unchanged)."""
    if mtu_minutes is None or mtu_minutes == case.case.mtu_minutes:
        return case
    return case.model_copy(update={"case": case.case.model_copy(update={"mtu_minutes": mtu_minutes})})


def _expected_cube(case, day, mtu: int):
    from bidopt.bids.dayahead import price_scenarios, settings
    from bidopt.forecast import scenarios as sc

    cube = price_scenarios(case, day, mtu, settings(case))
    return sc.identical(1, sc.expected(cube))


def _block_counts(orders, realised: np.ndarray) -> tuple[int, int]:
    blocks = [b for o in [*orders.block_orders, *orders.linked_exclusive_group_orders] for b in o.blocks]
    if not blocks:
        return 0, 0
    contract_mtu = {c.contract_id: k for k, c in enumerate(orders.contracts)}
    ratio = clearing.clear_blocks(blocks, contract_mtu, list(realised))
    return len(blocks), int(sum(1 for v in ratio.values() if v > 0))


def _submit(c, day, strategy: str):
    """The strategy's bids for ``day`` and the orders it submits: (case as bid, bids, orders)."""
    from bidopt.bids.dayahead import bid

    scen = None
    if strategy == "expected":
        scen = _expected_cube(c, day, c.case.mtu_minutes)
    elif strategy == "persistence":
        from bidopt.backtest.baselines import persistence_cube, without_blocks

        c = without_blocks(c)
        scen = persistence_cube(c, day, c.case.mtu_minutes)
    bids = bid(c, day, scenarios=scen, tails=strategy == "bid")  # expected: price-independent volumes
    if strategy == "persistence":
        from bidopt.backtest.baselines import flat_orders

        return c, bids, flat_orders(c, day, bids)
    return c, bids, bids.orders


def _deliver(c, h: Horizon, settled: dict, position: np.ndarray, trade_intraday: bool):
    """The delivery re-plan with the cleared position and every product's accepted capacity fixed
    (``capacity.hold_accepted``), solved: (model, day-ahead prices, whether intraday is priced by the
    day-ahead proxy)."""
    spot = sources.dayahead_prices(c, h.index)
    r = intraday_market.rules(c)
    proxy_id = c.prices.intraday is None
    id_price = spot if proxy_id else sources.price_series(c, c.prices.intraday, "prices.intraday", h.index)
    allowed = None if trade_intraday else np.zeros(h.n, dtype=bool)
    pm = PortfolioModel(c, h, spot, position_mw=position,
                        adjustments=intraday_market.adjustments(spot, id_price, r, allowed))
    capacity.hold_accepted(pm, settled, h)
    activate(pm)
    pm.solve()
    return pm, spot, proxy_id


def activate(pm) -> None:
    """Each offered product's activation at the realised prices, set on the model ``pm`` before its
    solve (``Product.activate_at_delivery``; mFRR's EAM): it moves the SoC the next day starts from."""
    site = pm.site
    for name, cap in site.capacities.items():
        markets.product(name).activate_at_delivery(cap, site.market_terms.get(name), pm.horizon, site.case, site.spot)


def _record(c, h: Horizon, rev: dict, sched: pd.DataFrame, bids, orders, position: np.ndarray,
            tables: dict, settled: dict, day) -> dict:
    """The day's row of daily.csv: money per stream (EUR), volumes (MWh, MW h), blocks, a fingerprint."""
    da_contracts = pd.DatetimeIndex([pd.Timestamp(x.delivery_start) for x in orders.contracts]).tz_convert("UTC")
    submitted, accepted_blocks = _block_counts(orders, sources.dayahead_prices(c, da_contracts))
    dt_h = h.dt_h
    expected_net = (bids.schedule["grid_import_mw"] - bids.schedule["grid_export_mw"]).to_numpy()
    return {
        **{f"{k}_eur": v for k, v in rev.items()},
        "total_eur": float(sum(rev.values())),
        "da_expected_net_mwh": float(expected_net.sum() * dt_h),
        "da_cleared_buy_mwh": float(np.clip(position, 0, None).sum() * dt_h),
        "da_cleared_sell_mwh": float(np.clip(-position, 0, None).sum() * dt_h),
        # per capacity product: <name>_offered_mw_h, <name>_accepted_mw_h, <name>_pricing (when offered)
        **capacity.record_columns(c, settled, day),
        "blocks_submitted": submitted,
        "blocks_accepted": accepted_blocks,
        "peak_import_mw": float(sched["grid_import_mw"].max()),
        # fingerprint of what was submitted (day-ahead orders and capacity bids), for no-look-ahead audits
        "orders_sha256": hashlib.sha256((json.dumps(orders.to_dict(), sort_keys=True)
                                         + capacity.fingerprint_text(bids, tables)).encode()).hexdigest()[:16],
    }


def _warnings(c, trade_intraday: bool, proxy_id: bool, label: str, bids) -> list[str]:
    warnings = []
    if not trade_intraday:
        warnings.append("intraday: no trades at delivery (no [prices] intraday series; [backtest] intraday = "
                        "\"on\" trades at the day-ahead price as a proxy)")
    elif proxy_id:
        warnings.append("intraday prices: none given ([prices] intraday); the day-ahead price is the proxy")
    if label.startswith("PROXY"):
        warnings.append(f"imbalance prices: {label}")
    if any(w.startswith("lot:") for w in bids.summary.get("warnings", [])):
        warnings.append(notes.LOT_DAY)  # counted over the days by the engine
    return warnings + _hindsight(c)


def _hindsight(c) -> list[str]:
    """A warning per capacity product bid price-taking at its own clearing prices: the bid knew the
    price the auction would clear at, so its revenue is an upper bound, not a strategy's result."""
    out = []
    for prod in markets.capacity_products(c):
        if prod.price_known_at_gate or prod.stepped_bids(c):
            continue
        how = (f"stepped bids over forecast prices unless {prod.price_taking_key}" if prod.price_taking_key
               else "this product has no price forecast yet")
        out.append(f"{prod.name}: capacity bid at the day's own clearing prices, taken as known at the gate "
                   f"(hindsight: its revenue is an upper bound; {how})")
    return out


def strategy_day(case, day, state: dict, strategy: str = "bid", next_day=None, trade_intraday: bool = True,
                 mtu_minutes: int | None = None) -> DayOutcome:
    """``trade_intraday``: whether the delivery re-plan may trade intraday (else deviations are
    imbalance). ``mtu_minutes``: the day's MTU (default ``day_mtu``)."""
    t0 = _time.perf_counter()
    c = at_mtu(with_state(case, state), mtu_minutes or day_mtu(case, day, strategy))
    h = _horizon(c, day)
    c, bids, orders = _submit(c, day, strategy)
    position = intraday.cleared_position(c, orders, h.index)
    # every capacity product's bids cleared at its realised prices under the rules of the day
    tables = capacity.submitted(c, bids, h)
    cleared = capacity.settle_day(c, tables, h, day)
    pm, spot, proxy_id = _deliver(c, h, cleared, position, trade_intraday)
    sched = pm.schedule()
    trades = pm.site.adjustment_trades()
    rev = pm.revenue()
    # settle imbalance at the imbalance price, not at the planning proxy the re-plan used
    planned = pd.Series(position + trades["intraday"].to_numpy(), index=h.index)
    actual = sched["grid_import_mw"] - sched["grid_export_mw"]
    imbalance, label = settlement.settle_case(c, planned, actual, dayahead=spot)
    rev["imbalance"] = float(imbalance[settlement.MONEY].sum())
    # capacity as the auctions paid it under the pricing rule of the day (FCR before 1 Feb 2024:
    # pay-as-bid, an accepted bid gets its own price), not the re-plan's clearing-price valuation
    capacity.swap_values(rev, pm.site, cleared)
    record = _record(c, h, rev, sched, bids, orders, position, tables, cleared, day)
    ts = sched.copy()
    ts["position_mw"] = position
    ts["intraday_mw"] = trades["intraday"].to_numpy()
    ts["imbalance_mw"] = (actual - planned).to_numpy()
    return DayOutcome(record, ts, next_state(c, sched, next_day) if next_day else {},
                      _warnings(c, trade_intraday, proxy_id, label, bids), _time.perf_counter() - t0,
                      submitted_curves(orders, h.index))


def submitted_curves(orders, index) -> dict:
    """The curve orders as submitted, compactly: per MTU of ``index`` (UTC starts, ISO) the points
    [[price EUR/MWh, volume MW], ...] of its curve summed over the curve orders (one per portfolio;
    volumes + = buy). Block orders are counted, not drawn."""
    per_contract: dict[str, list] = {}
    for co in orders.curve_orders:
        for cv in co.curves:
            per_contract.setdefault(cv.contract_id, []).append([(p.price, p.volume) for p in cv.curve_points])
    curves = []
    for c in orders.contracts:
        parts = per_contract.get(c.contract_id, [])
        prices = sorted({p for pts in parts for p, _ in pts})
        curves.append([[round(p, 2), round(float(sum(np.interp(p, [q for q, _ in pts], [v for _, v in pts])
                                                          for pts in parts)), 6)] for p in prices])
    blocks = sum(len(o.blocks) for o in [*orders.block_orders, *orders.linked_exclusive_group_orders])
    return {"index": list(pd.DatetimeIndex(index).strftime("%Y-%m-%dT%H:%M:%SZ")), "curves": curves,
            "blocks": blocks}


def run_day(case, day, state: dict, strategy: str, next_day=None, trade_intraday: bool = True,
            mtu_minutes: int | None = None, replanner=None) -> DayOutcome:
    """Day ``day`` under ``strategy``: a bidding one (``BIDDING``), ``no_flex`` or
    ``perfect_foresight`` (which alone uses ``replanner``)."""
    if strategy in BIDDING:
        return strategy_day(case, day, state, strategy, next_day=next_day, trade_intraday=trade_intraday,
                            mtu_minutes=mtu_minutes)
    if strategy == "no_flex":
        return no_flex_day(case, day, state, next_day=next_day, mtu_minutes=mtu_minutes)
    return perfect_foresight_day(case, day, state, next_day=next_day, replanner=replanner, mtu_minutes=mtu_minutes)


def perfect_foresight_day(case, day, state: dict, next_day=None, replanner=None,
                          mtu_minutes: int | None = None) -> DayOutcome:
    """``replanner`` (``bidopt.replan.Replanner``): reuse models built on earlier days.
    ``mtu_minutes``: the day's MTU (default the case's; the engine passes the strategy's ``day_mtu``)."""
    t0 = _time.perf_counter()
    c = at_mtu(with_state(case, state), mtu_minutes)
    if replanner is None:
        pm = PortfolioModel(c, _horizon(c, day))
    else:
        pm = replanner.model(c, _horizon(c, day))
    activate(pm)
    pm.solve()
    sched = pm.schedule()
    rev = pm.revenue()
    record = {"total_eur": float(sum(rev.values())), **{f"{k}_eur": v for k, v in rev.items()}}
    return DayOutcome(record, sched, next_state(c, sched, next_day) if next_day else {}, [],
                      _time.perf_counter() - t0)


def no_flex_day(case, day, state: dict, next_day=None, mtu_minutes: int | None = None):
    """Day ``day`` with every asset unmanaged (``fix_unmanaged``), settled at the realised prices."""
    from bidopt.backtest.baselines import without_reserves

    t0 = _time.perf_counter()
    c = without_reserves(at_mtu(with_state(case, state), mtu_minutes))
    pm = PortfolioModel(c, day_horizon(c, day))
    for a in c.assets:
        a.fix_unmanaged(pm.site.asset_blocks[a.name], pm.horizon, pm.data[a.name])
    pm.solve()
    sched = pm.schedule()
    rev = pm.revenue()
    record = {**{f"{k}_eur": v for k, v in rev.items()}, "total_eur": float(sum(rev.values())),
              "peak_import_mw": float(sched["grid_import_mw"].max())}
    return DayOutcome(record, sched, next_state(c, sched, next_day) if next_day else {}, [],
                      _time.perf_counter() - t0)
