"""Intraday re-planning: the day-ahead result and sold FCR fixed, adjustments traded intraday.

``replan(case, day, position_dir, stage)`` reads what ``bid`` wrote in ``position_dir``
(``dayahead_orders.json``, ``fcr_bids.csv``), clears the day-ahead orders at the day's published
prices (price-taker, ``bidopt.markets.clearing``), fixes the FCR capacity the auction accepted
(bids priced at or below the clearing price in the case's FCR price files), and re-plans the
site at the latest forecasts with intraday trades allowed only where the stage's gate permits:

- ``IDA1`` / ``IDA2`` (gates 15:00 / 22:00 D-1) cover the whole day, ``IDA3`` (10:00 D) covers
  12:00-24:00; orders are price-independent curves in the Auction API shapes, one per contract;
- ``continuous``: MTUs starting at least ``continuous_gate_minutes`` (60) after ``now``; the result
  is a list of orders (MTU, side, volume, limit price).

Intraday prices: ``[prices] intraday`` (CSV, EUR/MWh) when given; otherwise the day-ahead price is
the documented proxy (no intraday prices are in the shared data) and the summary says so. Trades
pay ``fee_eur_per_mwh`` each way (``[markets.intraday]``, default 0.5 EUR/MWh; UNVERIFIED level).
Whatever the stage cannot trade (MTUs outside its window, behind its gate) is left as expected
imbalance at the day-ahead price +- ``imbalance_penalty_eur_per_mwh`` (default 50), so the re-plan is
always feasible and prefers trading.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt import time as btime
from bidopt.bids import export
from bidopt.bids.contracts import bidding_mtu
from bidopt.bids.orders import CurveOrder, OrdersFile
from bidopt.bids.rules import ExchangeRules, validate
from bidopt.case import DEFAULTS_DIR
from bidopt.data import sources
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets import fcr as fcr_market
from bidopt.markets.intraday import IntradayRules, adjustments, rules
from bidopt.model import PortfolioModel

STAGES = ("IDA1", "IDA2", "IDA3", "continuous")


def _stage_config() -> dict:
    with open(DEFAULTS_DIR / "intraday.toml", "rb") as f:
        return tomllib.load(f)


def gate_time(stage: str, day, tz: str) -> pd.Timestamp:
    """UTC gate closure of an intraday auction for delivery ``day``."""
    a = _stage_config()["auctions"][stage]
    d = btime.day_of(day) + dt.timedelta(days=a["day_offset"])
    return pd.Timestamp(f"{d} {a['gate']}").tz_localize(tz).tz_convert("UTC")


def allowed_mtus(stage: str, horizon: Horizon, now: pd.Timestamp | None, gate_minutes: int) -> np.ndarray:
    """Which MTUs the stage may still trade."""
    if stage == "continuous":
        if now is None:
            raise InputError(None, "--now", "the continuous stage needs the current time (--now, UTC)")
        return np.asarray(horizon.index >= now + pd.Timedelta(minutes=gate_minutes))
    first = _stage_config()["auctions"][stage]["first_local_hour"]
    return np.asarray(horizon.local.hour >= first)


@dataclass
class IntradayResult:
    stage: str
    trades: pd.Series  # net intraday volume per MTU, MW (+ = buy)
    orders: OrdersFile | None  # intraday auction stages
    continuous_orders: pd.DataFrame | None  # continuous stage
    schedule: pd.DataFrame
    summary: dict
    model: PortfolioModel | None = field(default=None, repr=False)


def dayahead_position(case, day, position_dir: Path, index: pd.DatetimeIndex) -> np.ndarray:
    """The cleared day-ahead position on ``index`` (MW, + = bought) from the orders in ``position_dir``."""
    orders = export.read_orders(Path(position_dir) / "dayahead_orders.json")
    if orders.delivery_day is not None and orders.delivery_day != btime.day_of(day):
        raise InputError(Path(position_dir) / "dayahead_orders.json", "deliveryDay",
                         f"orders are for {orders.delivery_day}, not {btime.day_of(day)}")
    return cleared_position(case, orders, index)


def cleared_position(case, orders: OrdersFile, index: pd.DatetimeIndex) -> np.ndarray:
    """Net volume (MW per MTU of ``index``, + = bought) ``orders`` clear at the case's day-ahead
    prices (price-taker, ``bidopt.markets.clearing``)."""
    from bidopt.markets import clearing

    da_index = pd.DatetimeIndex([pd.Timestamp(c.delivery_start) for c in orders.contracts]).tz_convert("UTC")
    prices = sources.dayahead_prices(case, da_index)
    by_contract = dict(zip([c.contract_id for c in orders.contracts], prices, strict=True))
    pos = clearing.cleared_position(orders, by_contract)
    series = pd.Series([pos.get(c.contract_id, 0.0) for c in orders.contracts], index=da_index)
    return btime.to_mtu(series, index).to_numpy(float)


def read_sold_fcr(path: Path) -> pd.DataFrame:
    """fcr_bids.csv as typed values; a file that breaks the FCR bid rules is bad input."""
    from bidopt.bids.rules import validate_fcr_bids

    df = export.read_fcr_bids(path)
    problems = validate_fcr_bids(df)
    if problems:
        raise InputError(path, None, problems[0])
    return df.astype({"auction": int, "volume_mw": float, "price_eur_per_mw_h": float})


def accepted_fcr(case, fcr_bids: pd.DataFrame, hour_starts: pd.DatetimeIndex) -> pd.DataFrame:
    """The bids the FCR auctions accepted: price at or below the clearing price of the bid's product,
    hour and auction (marginal pricing, MARKET_RULES 3.2), by the FCR product's clearing rule
    (``Product.accept``) at its realised clearing prices (``Fcr.clearing_prices``: the case's FCR price
    files; auction 2: ``<product>_auction2``, else the auction-1 series)."""
    from bidopt.markets import capacity_settlement, product

    if not len(fcr_bids):
        return fcr_bids
    fcr = product("fcr")
    typed = capacity_settlement.typed(fcr_bids)
    clearing = capacity_settlement.clearing_table(fcr, case, typed, Horizon(hour_starts, case.case.timezone))
    q = [clearing.get((r.product, int(r.auction), r.hour_start_utc), np.nan) for r in typed.itertuples()]
    return fcr_bids[np.asarray(fcr.accept(typed["price_eur_per_mw_h"].to_numpy(float), q), dtype=bool)]


def sold_by_hour(case, fcr_bids: pd.DataFrame, hour_starts: pd.DatetimeIndex) -> dict[tuple[str, int], float]:
    """{(product, hour position): MW} the auctions accepted, summed over bids and auctions."""
    sold = accepted_fcr(case, fcr_bids, hour_starts)
    if not len(sold):
        return {}
    total = sold.groupby(["product", "hour_start_utc"])["volume_mw"].sum()
    hours = {h.strftime("%Y-%m-%dT%H:%M:%SZ"): i for i, h in enumerate(hour_starts)}
    return {(p, hours[k]): float(v) for (p, k), v in total.items() if k in hours}


def fix_fcr(pm: PortfolioModel, fcr_bids: pd.DataFrame, step_mw: float) -> None:
    """Fix the model's FCR capacity to what the auctions accepted."""
    m = pm.m
    if not hasattr(m, "fcr"):
        if len(fcr_bids):
            raise InputError(None, "fcr_bids.csv", "FCR was sold but the case offers no FCR product now")
        return
    sold = sold_by_hour(pm.case, fcr_bids, pm.horizon.hour_starts)
    for p in m.fcr.P:
        for i in m.fcr.H:
            v = sold.get((p, i), 0.0)
            if hasattr(m.fcr, "lots"):
                m.fcr.lots[p, i].fix(round(v / step_mw))
            else:
                m.fcr.total_mw[p, i].fix(v)


def replan(case, day, position_dir, stage: str, now: pd.Timestamp | None = None,
           time_limit_s: float | None = None, mip_gap: float | None = None, fcr_file=None) -> IntradayResult:
    """Re-plan ``day`` at ``stage`` with the day-ahead orders of ``position_dir`` cleared and the FCR
    bids of ``fcr_file`` (default ``position_dir/fcr_bids.csv``) accepted where their auction cleared
    at or above their price."""
    if stage not in STAGES:
        raise InputError(None, "--stage", f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    day = btime.DeliveryDay.parse(day, case.case.timezone)  # the edge: parsed once, typed below
    if stage != "continuous":
        from bidopt.bids.contracts import PRODUCTS

        first = PRODUCTS[_stage_config()["auctions"][stage]["product"]].first_delivery
        if first and day.date < first:
            raise InputError(None, "--stage", f"{stage} runs for delivery days from {first} on")
    r = rules(case)
    gate_minutes = r.continuous_gate_minutes or _stage_config()["continuous_gate_minutes"]
    # Swedish IDAs trade quarter-hours; the continuous stage re-plans at the MTU of the day-ahead
    # orders `bid` wrote for the day (the case's, or the exchange's where the case's has no product)
    mtu = 15 if stage != "continuous" else bidding_mtu(case.case.mtu_minutes, day)
    horizon = Horizon(btime.delivery_index(day, mtu, case.case.timezone), case.case.timezone)
    position = dayahead_position(case, day, Path(position_dir), horizon.index)
    spot = sources.dayahead_prices(case, horizon.index)
    proxy = case.prices.intraday is None
    id_price = spot if proxy else sources.price_series(case, case.prices.intraday, "prices.intraday", horizon.index)
    allowed = allowed_mtus(stage, horizon, now, gate_minutes)
    pm = PortfolioModel(case, horizon, spot, position_mw=position, adjustments=adjustments(spot, id_price, r, allowed))
    explicit = fcr_file is not None
    fcr_file = Path(fcr_file) if explicit else Path(position_dir) / "fcr_bids.csv"
    if explicit or fcr_file.exists():
        fix_fcr(pm, read_sold_fcr(fcr_file), fcr_market.rules(case).step_mw)
    pm.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    trades = pm.site.adjustment_trades()["intraday"]
    lot = ExchangeRules().lot_mw
    trades = ((trades / lot).round() * lot).round(6) + 0.0  # whole lots: 3 lots are 0.3, not 0.30000000000000004
    summary = {**pm.summary(), "stage": stage, "intraday_price": "day-ahead proxy" if proxy else "prices.intraday",
               "position_mwh": float(position.sum() * horizon.dt_h)}
    orders = cont = None
    if stage == "continuous":
        t = trades[trades.abs() > 1e-9]
        price = pd.Series(id_price, index=horizon.index)[t.index].to_numpy()
        cont = pd.DataFrame({
            "timestamp_utc": t.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "side": np.where(t > 0, "buy", "sell"),
            "volume_mw": t.abs().to_numpy(),
            # price-taker limits: buy up to the expected price plus the fee, sell down to it minus the fee
            "limit_price_eur_per_mwh": np.round(np.where(t > 0, price + r.fee_eur_per_mwh, price - r.fee_eur_per_mwh), 2),
        })
    else:
        orders = _auction_orders(case, day, stage, trades, r)
    return IntradayResult(stage, trades, orders, cont, pm.schedule(), summary, pm)


def _auction_orders(case, day, stage: str, trades: pd.Series, r: IntradayRules) -> OrdersFile:
    product = _stage_config()["auctions"][stage]["product"]
    rules_ = ExchangeRules()
    lo, hi = rules_.price_limits(btime.day_of(day), "intraday_auction")
    orders = export.empty_orders(product, day, area=case.case.zone)
    by_start = {ts: v for ts, v in trades.items()}
    curves = [export.price_independent_curve(c.contract_id, float(by_start.get(pd.Timestamp(c.delivery_start), 0.0)),
                                             lo, hi, rules_) for c in orders.contracts]
    orders.curve_orders = [CurveOrder(auction_id=orders.auction_id, portfolio=r.portfolio, area_code=case.case.zone,
                                      curves=curves)]
    problems = validate(orders, rules_)
    if problems:
        raise RuntimeError("built intraday orders break exchange rules: " + "; ".join(problems[:3]))
    return orders
