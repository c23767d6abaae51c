"""Checks of the two CSV bid files: Svenska kraftnät FCR capacity bids (``validate_fcr_bids``) and
continuous intraday orders (``validate_continuous_orders``, ``intraday_orders.csv``), one
human-readable line per problem (empty list = valid). Volumes in MW, FCR prices in EUR/MW/h,
intraday limit prices in EUR/MWh, times UTC.
"""

from __future__ import annotations

import math

import pandas as pd

from bidopt.bids.exchange_rules import CONTINUOUS_COLUMNS, FCR_COLUMNS, GRID_TOL, ExchangeRules, fmt, on_grid
from bidopt.errors import InputError


def validate_fcr_bids(df: pd.DataFrame, rules: ExchangeRules | None = None) -> list[str]:
    """Problems of FCR capacity bids, one line each (empty: valid). Rows are numbered from 1.

    Columns: product (fcr_n, fcr_d_up, fcr_d_down), auction (1 or 2), hour_start_utc (UTC, on the
    hour), volume_mw (>= 0.1, in 0.1 MW steps), price_eur_per_mw_h (>= 0). MARKET_RULES 3.2.
    """
    r = rules or ExchangeRules()
    missing = [c for c in FCR_COLUMNS if c not in df.columns]
    if missing:
        return [f"fcr bids: missing column(s) {', '.join(missing)} (need {', '.join(FCR_COLUMNS)})"]
    out: list[str] = []
    for i, row in enumerate(df[list(FCR_COLUMNS)].itertuples(index=False), start=1):
        where = f"fcr bid row {i}"
        product, auction, hour, volume, price = row
        if product not in r.fcr_products:
            out.append(f"{where}: product '{product}' is not one of {', '.join(r.fcr_products)}")
        a = _number(auction)
        if a is None or a != int(a) or int(a) not in r.fcr_auctions:
            out.append(f"{where}: auction '{auction}' is not one of {', '.join(map(str, r.fcr_auctions))}")
        ts = _utc(hour)
        if ts is None:
            out.append(f"{where}: hour_start_utc '{hour}' is not a UTC time (e.g. 2024-03-14T10:00:00Z)")
        elif ts != ts.floor("h"):
            out.append(f"{where}: hour_start_utc {ts:%Y-%m-%dT%H:%M:%SZ} is not on the hour (FCR products are hourly)")
        v = _number_in(out, where, "volume_mw", volume)
        if v is None:
            pass
        elif v < r.fcr_min_volume_mw - GRID_TOL:
            out.append(f"{where}: volume {fmt(v)} MW is below the minimum bid {fmt(r.fcr_min_volume_mw)} MW")
        elif not on_grid(v, r.fcr_step_mw):
            out.append(f"{where}: volume {fmt(v)} MW is not a multiple of {fmt(r.fcr_step_mw)} MW")
        p = _number_in(out, where, "price_eur_per_mw_h", price)
        if p is not None and p < 0:
            out.append(f"{where}: price {fmt(p)} EUR/MW/h is negative")
    return out


# --------------------------------------------------------------------------------------------------
# continuous intraday orders


def validate_continuous_orders(df: pd.DataFrame, rules: ExchangeRules | None = None,
                               tz: str = "Europe/Stockholm") -> list[str]:
    """Problems of continuous intraday orders (``intraday_orders.csv``), one line each (empty:
    valid). Rows are numbered from 1.

    Columns: timestamp_utc (UTC start of the product, on the quarter-hour), side (buy or sell),
    volume_mw (> 0, on the 0.1 MW lot), limit_price_eur_per_mwh (on the 0.01 tick, within the SIDC
    limits of the delivery day in ``tz``). MARKET_RULES 2.1-2.2.
    """
    r = rules or ExchangeRules()
    missing = [c for c in CONTINUOUS_COLUMNS if c not in df.columns]
    if missing:
        return [f"intraday orders: missing column(s) {', '.join(missing)} (need {', '.join(CONTINUOUS_COLUMNS)})"]
    out: list[str] = []
    step = r.intraday_continuous_product_start_minutes
    for i, row in enumerate(df[list(CONTINUOUS_COLUMNS)].itertuples(index=False), start=1):
        where = f"intraday order row {i}"
        stamp, side, volume, price = row
        ts = _utc(stamp)
        if ts is None:
            out.append(f"{where}: timestamp_utc '{stamp}' is not a UTC time (e.g. 2025-11-12T10:15:00Z)")
        elif ts != ts.floor(f"{step}min"):
            out.append(f"{where}: timestamp_utc {ts:%Y-%m-%dT%H:%M:%SZ} is not the start of a product "
                       f"(continuous intraday products start every {step} minutes)")
        if str(side).strip().lower() not in ("buy", "sell"):
            out.append(f"{where}: side '{side}' is not buy or sell")
        v = _number_in(out, where, "volume_mw", volume)
        if v is None:
            pass
        elif v <= GRID_TOL:
            out.append(f"{where}: volume {fmt(v)} MW is not positive (the side says buy or sell)")
        elif not on_grid(v, r.lot_mw):
            out.append(f"{where}: volume {fmt(v)} MW is not a multiple of the lot {fmt(r.lot_mw)} MW")
        p = _number_in(out, where, "limit_price_eur_per_mwh", price)
        if p is None:
            continue
        if not on_grid(p, r.tick_eur_per_mwh):
            out.append(f"{where}: limit price {fmt(p)} is not a multiple of the tick {fmt(r.tick_eur_per_mwh)} EUR/MWh")
        if ts is not None:
            day = ts.tz_convert(tz).date()
            try:
                lo, hi = r.price_limits(day, "intraday_continuous")
            except InputError as e:
                out.append(f"{where}: no intraday price limits known for delivery day {day}: {e.message}")
                continue
            if not lo - GRID_TOL <= p <= hi + GRID_TOL:
                out.append(f"{where}: limit price {fmt(p)} EUR/MWh is outside the limits [{fmt(lo)}, {fmt(hi)}]")
    return out


def _number_in(out: list[str], where: str, column: str, raw) -> float | None:
    """The finite number in a cell, or None with the problem added to ``out``."""
    v = _number(raw)
    if v is None:
        out.append(f"{where}: {column} '{raw}' is not a number")
    return v


def _number(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _utc(x) -> pd.Timestamp | None:
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT or ts.tzinfo is None:
        return None
    return ts.tz_convert("UTC")
