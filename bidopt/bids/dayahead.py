"""``bid``: from a case and a delivery day to exchange-ready day-ahead orders and FCR bids.

Steps: price scenarios (a scenario file from ``[bidding] scenarios``, or the ``[bidding] forecaster``,
blend or LEAR (``bidopt.forecast.from_case``), on the case's price history, using only data published
before the gate), the stochastic bidding model
(``bidopt.bids.stochastic``), then export: one curve order per MTU contract through the model's
points and a floor and a ceiling tail point beyond them (``bidopt.bids.tails``: outside the scenario
prices only the must-run volume stays), piecewise linear, flat beyond the tails to the price limits,
volumes in 0.1 MW lots, prices on the 0.01 tick; FCR bids for the first-stage capacity, the
expected schedule and the summary (with ``price_responsive_curves`` of ``curves_total``).

Capacity bids (FCR auction 1, aFRR, any registered capacity product) are stepped over the product's
clearing-price scenarios (``bidopt.bids.capacity_steps``; FCR: ``[bidding] fcr_bids = "stepped"``,
aFRR: ``[markets.afrr] bids``) or price-taking (the capacity worth selling at the case's prices,
bid at 0 EUR/MW/h); a plug-in product's bids are ``Bids.capacity_bids`` (``<name>_bids.csv``). Auction 2 comes after the day-ahead result (``bidopt.bids.fcr_auction2``). Block orders: the model chooses among the candidates of ``[[bidding.blocks]]``
(``bidopt.bids.blocks``); the submitted ones are exported as block orders and linked
exclusive-group orders.

``bid`` parses its delivery day once (``bidopt.time.DeliveryDay``); the steps below take it typed (a
date works too) and never parse it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import xarray as xr
from pydantic import ValidationError

from bidopt import time as btime
from bidopt.bids import blocks as block_model
from bidopt.bids import capacity_steps
from bidopt.bids.contracts import dayahead_mtu, dayahead_mtu_note, dayahead_product
from bidopt.bids.export import empty_orders, snap
from bidopt.bids.orders import Curve, CurveOrder, CurvePoint, OrdersFile
from bidopt.bids.rules import ExchangeRules, validate
from bidopt.bids.stochastic import BiddingModel, BidResult, RiskSettings
from bidopt.bids.tails import responsive_count
from bidopt.case_tables import BiddingSettings
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets import fcr


def settings(case) -> BiddingSettings:
    """The case's ``[bidding]`` table (``bidopt.case_tables.BiddingSettings``, validated when the case
    was loaded; a dict put on a case copy is validated here, errors naming ``bidding.<field>``)."""
    try:
        return BiddingSettings.model_validate(case.bidding)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(case.label, "bidding." + ".".join(map(str, err["loc"])), err["msg"]) from None


@dataclass
class Bids:
    orders: OrdersFile
    fcr_bids: pd.DataFrame
    schedule: pd.DataFrame
    summary: dict
    scenarios: xr.DataArray = field(repr=False)
    result: BidResult = field(repr=False)
    capacity_bids: dict[str, pd.DataFrame] = field(default_factory=dict)  # plug-in products' bid tables (BID_COLUMNS)

    @property
    def orders_dict(self) -> dict:
        return self.orders.to_dict()


def price_scenarios(case, day: btime.DeliveryDay, mtu_minutes: int, st: BiddingSettings) -> xr.DataArray:
    """The day's price scenarios: from the scenario file, or forecast from history before the gate."""
    from bidopt.forecast import from_case
    from bidopt.forecast import scenarios as sc

    index = btime.delivery_index(day, mtu_minutes, case.case.timezone)
    if st.scenarios:
        path = case.resolve(st.scenarios)
        return sc.slice_scenarios(sc.read_scenarios(path), index, file=path)
    return from_case.dayahead_scenarios(case, day, mtu_minutes, st)


def curve_for(contract_id: str, pts: list[tuple[float, float]], lo: float, hi: float, r: ExchangeRules) -> Curve:
    """A linear curve through the model's (price, volume) points, flat to the price limits."""
    out: list[tuple[float, float]] = []
    for p, v in [(lo, pts[0][1]), *pts, (hi, pts[-1][1])]:
        p, v = min(max(snap(p, r.tick_eur_per_mwh), lo), hi), snap(v, r.lot_mw)
        if out and p <= out[-1][0]:
            continue  # a point on the same tick as the one before: keep the first
        if out and v > out[-1][1]:
            v = out[-1][1]  # solver tolerance can flip a rounding: keep the curve non-increasing
        out.append((p, v))
    if out[-1][0] < hi:
        out.append((hi, out[-1][1]))
    return Curve(contract_id=contract_id, curve_points=[CurvePoint(price=p, volume=v) for p, v in out])


def product_for(case, day: btime.DeliveryDay, mtu: int, explicit: bool = False) -> str:
    """The day-ahead product of ``day`` at ``mtu`` minutes; a wrong MTU for the date is bad input
    naming the case's ``mtu_minutes`` (or, ``explicit``, the ``mtu_minutes`` argument / ``--mtu``)
    and saying which MTU to use."""
    try:
        return dayahead_product(day, mtu)
    except ValueError as e:
        file, field = (None, "mtu_minutes") if explicit else (case.label, "case.mtu_minutes")
        advice = f"use --mtu {dayahead_mtu(day)} ({dayahead_mtu_note(day)})"
        raise InputError(file, field, f"{e}; {advice}") from None


def curve_order_file(product: str, day: btime.DeliveryDay, zone: str, portfolio: str,
                     curves: dict[int, list[tuple[float, float]]]) -> tuple[OrdersFile, ExchangeRules]:
    """An orders file with one curve order: per MTU contract the curve through ``curves[t]``."""
    rules = ExchangeRules()
    lo, hi = rules.price_limits(btime.day_of(day))
    orders = empty_orders(product, day, area=zone)
    if len(orders.contracts) != len(curves):
        raise RuntimeError(f"{len(orders.contracts)} contracts for {len(curves)} MTUs")
    order_curves = [curve_for(c.contract_id, curves[t], lo, hi, rules) for t, c in enumerate(orders.contracts)]
    orders.curve_orders = [CurveOrder(auction_id=orders.auction_id, portfolio=portfolio, area_code=zone,
                                      curves=order_curves)]
    return orders, rules


def check_valid(orders: OrdersFile, rules: ExchangeRules) -> None:
    """Built orders must pass the exchange rules; a failure is a bug, not bad input."""
    problems = validate(orders, rules)
    if problems:
        raise RuntimeError("built orders break exchange rules: " + "; ".join(problems[:3]))


def fcr_price_scenarios(case, day: btime.DeliveryDay, n: int, st: BiddingSettings) -> dict[str, np.ndarray]:
    """{product: S x hours} FCR clearing-price scenarios from the case's FCR price history, using
    only prices published before the auction-1 gate in force on ``day`` (``bidopt.markets.fcr.gate_utc``:
    D-1 00:30 from 1 Jun 2023, D-2 15:00 before; ``bidopt.bids.capacity_steps.price_scenarios``)."""
    return capacity_steps.price_scenarios(case, day, n, st.seed, products=["fcr"]).get("fcr", {})


def fcr_bids(bm: BiddingModel) -> pd.DataFrame:
    rows = [{"product": p, "auction": 1, "hour_start_utc": bm.horizon.hour_starts[h].strftime("%Y-%m-%dT%H:%M:%SZ"),
             "volume_mw": v, "price_eur_per_mw_h": round(q, 2)} for p, h, v, q in bm.fcr_bid_steps()]
    if hasattr(bm.m, "fcr"):
        # price-taking: bid at 0 under marginal pricing (paid the clearing price); under pay-as-bid an
        # accepted bid is paid its own price, so ask the price the model sold at (down to the 0.01 tick)
        cap = bm.m.fcr
        pay_as_bid = fcr.auction_rules(bm.case, bm.horizon.first_day).pricing == "pay_as_bid"
        for p in cap.P:
            for h in cap.H:
                v = float(np.round(sum(cap.cap[a, q, h].value or 0.0 for a, q in cap.AP if q == p), 6))
                if v > 1e-9:
                    ask = float(np.floor(max(pyo.value(cap.price[p, h]), 0.0) * 100 + 1e-6) / 100) if pay_as_bid else 0.0
                    rows.append({"product": p, "auction": 1,
                                 "hour_start_utc": bm.horizon.hour_starts[h].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "volume_mw": v, "price_eur_per_mw_h": ask})
    return pd.DataFrame(rows, columns=["product", "auction", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"])


def bid(case, day, mtu_minutes: int | None = None, scenarios: xr.DataArray | None = None,
        time_limit_s: float | None = None, mip_gap: float | None = None, soc: dict | None = None,
        peaks_so_far=None, tails: bool = True) -> Bids:
    """Day-ahead curve orders, FCR bids and the expected schedule for one delivery day.

    ``soc``, ``peaks_so_far``: today's state instead of the case file's, as for ``bidopt.plan``
    (``bidopt.state.with_state``). The summary adds ``initial_state``, ``tariff_eur``,
    ``monthly_charges``, ``lot_rounding`` (the expected energy the lot-rounded curves carry,
    ``bidopt.bids.lot_check``), ``warnings`` and ``notes`` (``bidopt.notes``), probability-weighted
    over the scenarios. ``tails``: close each curve with its floor and ceiling tail points
    (``bidopt.bids.tails``) unless ``[bidding] tail_points = false``; False exports the model's points only, flat beyond them to the price
    limits (the ``expected`` backtest strategy's price-independent volumes).

    ``day``: 'YYYY-MM-DD', a date, a timestamp or a ``bidopt.time.DeliveryDay``: parsed here once
    into a ``DeliveryDay`` (the case's time zone) that the steps below take as it is."""
    from bidopt import notes
    from bidopt.bids.lot_check import curve_lot_rounding
    from bidopt.model import check_solver_options, solver_warnings
    from bidopt.state import initial_state, with_state

    check_solver_options(time_limit_s, mip_gap)  # before the scenarios and the model are built
    day = btime.DeliveryDay.parse(day, case.case.timezone)  # the edge: parsed once, typed below
    if soc or peaks_so_far is not None:
        case = with_state(case, day, soc=soc, peaks_so_far=peaks_so_far)
    explicit = mtu_minutes is not None
    mtu = btime.check_mtu(mtu_minutes, allowed=btime.PLAN_MTU_MINUTES) if explicit else case.case.mtu_minutes
    st = settings(case)
    product = product_for(case, day, mtu, explicit)
    horizon = Horizon(day.index(mtu), case.case.timezone)
    cube = scenarios if scenarios is not None else price_scenarios(case, day, mtu, st)
    capacity_cube = capacity_steps.price_scenarios(case, day, int(cube.sizes["scenario"]), st.seed)
    bm = BiddingModel(case, horizon, cube, RiskSettings(beta=st.risk_beta, alpha=st.risk_alpha), blocks=st.blocks,
                      capacity_scenarios=capacity_cube, max_buy_price=st.max_buy_price_eur_per_mwh,
                      min_sell_price=st.min_sell_price_eur_per_mwh, flat=st.curve == "flat")
    block_model.finish(bm, st.max_blocks)
    bm.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    result = bm.result()
    limits = ExchangeRules()
    curves = (bm.order_curves(limits.price_limits(day.date), limits.max_curve_points) if tails and st.tail_points
              else result.curves)
    orders, rules = curve_order_file(product, day, case.case.zone, st.portfolio, curves)
    orders.block_orders, orders.linked_exclusive_group_orders = block_model.block_orders(
        bm, orders, st.portfolio, case.case.zone, rules)
    check_valid(orders, rules)
    summary = {**result.summary, "auction_id": orders.auction_id, "product": product,
               "initial_state": initial_state(case),
               **dict(zip(("price_responsive_curves", "curves_total"), responsive_count(orders), strict=True)),
               **notes.site_summary(bm.sites, bm.prob, curve_lot_rounding(bm, result, orders, rules),
                                    "expected day-ahead energy")}
    summary["warnings"] = solver_warnings(bm.solve_info) + summary["warnings"]
    return Bids(orders, fcr_bids(bm), result.schedule, summary, cube, result, bm.capacity_bids())
