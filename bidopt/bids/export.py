"""Reading and writing order files and FCR bids; helpers that build valid curves.

- ``write_orders`` / ``read_orders``: ``dayahead_orders.json`` (layout in ``bidopt.bids.orders``).
  Writing is atomic (a temporary file moved into place); reading raises ``InputError`` naming the
  file and the field for unreadable files, invalid JSON and wrong shapes.
- ``write_fcr_bids`` / ``read_fcr_bids``: ``fcr_bids.csv`` with columns ``product, auction,
  hour_start_utc, volume_mw, price_eur_per_mw_h`` (hour_start_utc ISO 8601 UTC, "...Z").
- ``write_continuous_orders`` / ``read_continuous_orders``: ``intraday_orders.csv`` (continuous
  intraday) with columns ``timestamp_utc, side, volume_mw, limit_price_eur_per_mwh``.
  CSV numbers are clean (``bidopt.output.clean_numbers``: 6 decimals, no negative zero).
- ``empty_orders``: an ``OrdersFile`` with its metadata filled in by a contract-naming function
  (``make_ids``, default ``contracts.auction_and_contracts``; replaceable).
- ``price_independent_curve``: the same volume at the minimum and the maximum price (MARKET_RULES 1.3).
- ``step_curve``: a step function of price emulated by a piecewise-linear curve, each step change
  made by two points one tick apart (MARKET_RULES 1.3: "put two points a small price increment
  apart ... 0.01 apart - the tick size").
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from bidopt.bids.contracts import IdMaker, auction_and_contracts
from bidopt.bids.orders import Curve, CurvePoint, OrdersFile
from bidopt.bids.rules import CONTINUOUS_COLUMNS, FCR_COLUMNS, ExchangeRules
from bidopt.errors import InputError
from bidopt.output import clean_numbers, file_mode
from bidopt.time import STOCKHOLM, day_of

# --------------------------------------------------------------------------------------------------
# files


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, file_mode())  # the mode every output file gets, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_orders(orders: OrdersFile, path: str | Path) -> Path:
    """Write ``orders`` as pretty JSON (stable key order); returns the path."""
    _atomic_write(Path(path), orders.to_json())
    return Path(path)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_text(path: Path) -> str:
    """A UTF-8 file's text; InputError naming the file if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, None, f"cannot read: {getattr(e, 'strerror', None) or e}") from None


def parse_json(path: Path, text: str):
    """``text`` (read from ``path``) as JSON; InputError naming the line and column if it does not parse."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno} column {e.colno}", f"not valid JSON: {e.msg}") from None
    except RecursionError:
        raise InputError(path, None, "not usable JSON: arrays or objects nested too deeply") from None


def read_orders(path: str | Path) -> OrdersFile:
    """Read an orders file; InputError(file, field, message) if it cannot be used."""
    path = Path(path)
    data = parse_json(path, read_text(path))
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a JSON object with auctionId, product, curveOrders..., "
                                     f"got {type(data).__name__}")
    try:
        return OrdersFile.model_validate(data)
    except ValidationError as e:
        errs = e.errors()
        err = errs[0]
        more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
        raise InputError(path, _loc(err["loc"]) or None, f"{err['msg']}{more}") from None


def write_capacity_bids(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a market product's capacity bids (``bidopt.markets.base.Product.bid_table``: columns
    product, hour_start_utc, volume_mw, price_eur_per_mw_h) as CSV, hours in UTC ISO form."""
    out = df.copy()
    out["hour_start_utc"] = pd.to_datetime(out["hour_start_utc"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    _atomic_write(Path(path), clean_numbers(out).to_csv(index=False, lineterminator="\n"))
    return Path(path)


def write_fcr_bids(df: pd.DataFrame, path: str | Path) -> Path:
    """Write FCR bids as CSV (columns product, auction, hour_start_utc, volume_mw, price_eur_per_mw_h)."""
    missing = [c for c in FCR_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"FCR bids lack column(s) {', '.join(missing)}")
    out = df[list(FCR_COLUMNS)].copy()
    hours = pd.to_datetime(out["hour_start_utc"], utc=True)
    out["hour_start_utc"] = hours.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    _atomic_write(Path(path), clean_numbers(out).to_csv(index=False, lineterminator="\n"))
    return Path(path)


def write_continuous_orders(df: pd.DataFrame, path: str | Path) -> Path:
    """Write continuous intraday orders as CSV (columns timestamp_utc, side, volume_mw,
    limit_price_eur_per_mwh; ``intraday_orders.csv``), numbers clean (``output.clean_numbers``)."""
    missing = [c for c in CONTINUOUS_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"intraday orders lack column(s) {', '.join(missing)}")
    out = df[list(CONTINUOUS_COLUMNS)].copy()
    if len(out):
        out["timestamp_utc"] = pd.to_datetime(out["timestamp_utc"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    _atomic_write(Path(path), clean_numbers(out).to_csv(index=False, lineterminator="\n"))
    return Path(path)


def _read_table(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV of text cells with ``columns`` (InputError naming the file, or the first missing column)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputError(path, None, f"not a readable CSV: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(path, missing[0], f"missing column (need {', '.join(columns)})")
    return df


def read_continuous_orders(path: str | Path) -> pd.DataFrame:
    """Read ``intraday_orders.csv`` as text cells (``validate_continuous_orders`` judges them)."""
    return _read_table(path, CONTINUOUS_COLUMNS)


def read_capacity_bids(path: str | Path) -> pd.DataFrame:
    """Read a plug-in product's ``<name>_bids.csv`` (``BID_COLUMNS``) as text cells; InputError
    naming the file and the missing column or unreadable line (``check_capacity_bids`` judges rows)."""
    from bidopt.markets.base import BID_COLUMNS

    return _read_table(path, BID_COLUMNS)


def read_fcr_bids(path: str | Path) -> pd.DataFrame:
    """Read an FCR bid CSV as written by ``write_fcr_bids``; InputError if it cannot be used.

    Values are returned as read (``validate_fcr_bids`` reports bad ones row by row).
    """
    return _read_table(path, FCR_COLUMNS)


# --------------------------------------------------------------------------------------------------
# building orders


def empty_orders(product_id: str, day, area: str | None = None, *, make_ids: IdMaker | None = None,
                 tz: str = STOCKHOLM) -> OrdersFile:
    """An ``OrdersFile`` for one auction with auction id, delivery day and contracts filled in.

    ``make_ids(product_id, day)`` names the auction and contracts (default
    ``contracts.auction_and_contracts``, whose contract ids are UNVERIFIED - pass a function that
    reads them from the Auction API to be sure).
    """
    from bidopt.bids.contracts import PRODUCTS

    d = day_of(day)
    ids = (make_ids or auction_and_contracts)(product_id, d)
    product = PRODUCTS.get(product_id)
    return OrdersFile(
        auction_id=ids.auction_id, product=product_id, delivery_day=d, time_zone=tz, area=area,
        resolution_seconds=product.mtu_minutes * 60 if product else None, contracts=list(ids.contracts),
    )


def _decimals(step: float) -> int:
    s = f"{step:.12f}".rstrip("0")
    return len(s.split(".")[1]) if "." in s else 0


def snap(x: float, step: float) -> float:
    """``x`` rounded to the nearest multiple of ``step`` (and to the step's decimals)."""
    return round(round(x / step) * step, _decimals(step)) + 0.0


def price_independent_curve(contract_id: str, volume_mw: float, price_min: float, price_max: float,
                            rules: ExchangeRules | None = None) -> Curve:
    """A curve buying (+) or selling (-) ``volume_mw`` whatever the price: the same volume at the
    minimum and maximum price (MARKET_RULES 1.3). The volume is rounded to the lot."""
    r = rules or ExchangeRules()
    v = snap(volume_mw, r.lot_mw)
    return Curve(contract_id=contract_id,
                 curve_points=[CurvePoint(price=price_min, volume=v), CurvePoint(price=price_max, volume=v)])


def step_curve(contract_id: str, steps: Sequence[tuple[float, float]], price_min: float, price_max: float,
               rules: ExchangeRules | None = None) -> Curve:
    """A curve emulating a step function of price.

    ``steps`` = [(p_1, v_1), ..., (p_n, v_n)] with strictly increasing prices: volume v_k holds for
    prices from p_k (inclusive) up to p_{k+1} (exclusive); v_1 also holds down to ``price_min`` and
    v_n up to ``price_max``. Each change of volume at p_k becomes two points, (p_k - tick, v_{k-1})
    and (p_k, v_k), so the curve equals the step function at every tick. Prices are rounded to the
    tick and volumes to the lot; equal consecutive volumes are merged. For a valid order the volumes
    must not increase with price (positive = buy) - ``rules.validate`` checks that, this does not.

    Raises ValueError for no steps, prices outside [price_min, price_max] or not increasing after
    rounding, or more points than the rules allow (at most 2 n points are made).
    """
    r = rules or ExchangeRules()
    tick, lot = r.tick_eur_per_mwh, r.lot_mw
    if not steps:
        raise ValueError("step_curve needs at least one (price, volume) step")
    lo, hi = snap(price_min, tick), snap(price_max, tick)
    prices = [snap(p, tick) for p, _ in steps]
    vols = [snap(v, lot) for _, v in steps]
    if any(not (math.isfinite(p) and math.isfinite(v)) for p, v in steps):
        raise ValueError("step prices and volumes must be finite")
    if prices[0] < lo or prices[-1] > hi:
        raise ValueError(f"step prices must lie in [{lo}, {hi}], got {prices[0]}..{prices[-1]}")
    if any(b <= a for a, b in zip(prices, prices[1:], strict=False)):
        raise ValueError("step prices must strictly increase (after rounding to the tick)")
    pts: list[tuple[float, float]] = [(lo, vols[0])]
    for k in range(1, len(steps)):
        if vols[k] == vols[k - 1]:
            continue
        before = snap(prices[k] - tick, tick)
        if before > pts[-1][0]:
            pts.append((before, vols[k - 1]))
        pts.append((prices[k], vols[k]))
    if pts[-1][0] < hi:
        pts.append((hi, vols[-1]))
    if len(pts) > r.max_curve_points:
        raise ValueError(f"the step curve needs {len(pts)} points; at most {r.max_curve_points} are allowed")
    return Curve(contract_id=contract_id, curve_points=[CurvePoint(price=p, volume=v) for p, v in pts])
