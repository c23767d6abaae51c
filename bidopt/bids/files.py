"""Which rules a file is checked against, told from its content: ``bidopt validate FILE``.

Every file ``bid``, ``fcr2`` and ``intraday`` write is recognised by what it holds, not by its
name (a renamed file is checked the same way):

| file | recognised by | checked against |
|---|---|---|
| ``dayahead_orders.json``, ``intraday_orders.json`` | a JSON object with Auction API keys (``auctionId``, ``product``, ``curveOrders``, ...) | ``rules.validate``: the product's market (day-ahead or intraday auction) |
| ``fcr_bids.csv`` | CSV columns ``hour_start_utc`` / ``price_eur_per_mw_h`` | ``rules.validate_fcr_bids`` |
| ``<product>_bids.csv`` (a plug-in market product's, e.g. ``ffr_bids.csv``, ``afrr_bids.csv``) | the same columns without ``auction``, no row of FCR's streams (a header-only file too) | ``bidopt.markets.check_capacity_bids``: each row by its product |
| a product's own bid file (e.g. ``mfrr_eam_bids.csv``, the mFRR energy bids) | CSV columns = the product's ``extra_bid_columns`` | the product's ``check_extra_bids`` |
| ``intraday_orders.csv`` (continuous) | CSV columns ``side`` / ``limit_price_eur_per_mwh`` | ``rules.validate_continuous_orders`` |
| ``schedule.csv`` | CSV columns ``grid_import_mw`` / ``grid_export_mw`` | ``validate_schedule``: the DESIGN contract |
| ``summary.json`` | a JSON object with ``objective_eur`` / ``revenue_eur`` | ``validate_summary``: the DESIGN contract |

``<product>_bids.csv`` format (``bidopt.markets.base.BID_COLUMNS``): ``product`` (a stream of the
product, e.g. ``afrr_up``), ``hour_start_utc`` (UTC hour start, ``2022-02-10T04:00:00Z``),
``volume_mw`` (>= 0, whole lots of the product's default lot) and ``price_eur_per_mw_h`` (the
step's price). A price-taking product has one row per stream and hour, at price 0. A product bid in
steps (``bidopt.bids.capacity_steps``: aFRR by default) has one row per step, so several rows per
stream and hour, at distinct ascending prices; each step is indivisible and is accepted whole when
its price is at or below the hour's clearing price (marginal pricing), the accepted steps of an hour
summing to the volume held.

A file that is none of these is bad input (``InputError``, exit 2) whose one line lists what is
checked. A recognised file that cannot be read (invalid JSON, a missing column) is bad input too;
a readable one gives one line per problem (empty: valid).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from bidopt import markets
from bidopt.bids.export import (
    parse_json,
    read_capacity_bids,
    read_continuous_orders,
    read_fcr_bids,
    read_orders,
    read_text,
)
from bidopt.bids.rules import ExchangeRules, validate, validate_continuous_orders, validate_fcr_bids
from bidopt.errors import InputError

CHECKED = ("dayahead_orders.json and intraday_orders.json (Auction API orders), fcr_bids.csv, <product>_bids.csv, "
           "a product's own bid file (mfrr_eam_bids.csv), "
           "intraday_orders.csv (continuous intraday orders), schedule.csv and summary.json")
ORDER_KEYS = {"auctionId", "product", "curveOrders", "blockOrders", "linkedExclusiveGroupOrders", "contracts"}
STREAMS = markets.listed_streams()  # every summary.json lists these (bidopt.markets)
MTU_STEPS_MIN = (15, 30, 60)
TOL = 1e-6  # MW / MWh / EUR: values are written with 6 decimals


def _unrecognised(path: Path, what: str) -> InputError:
    return InputError(path, None, f"{what}; bidopt validate checks {CHECKED}, recognised by their content")


def recognise(path: str | Path) -> str:
    """The kind of ``path``: "orders", "summary", "fcr_bids", "capacity_bids", "product_bids",
    "continuous_orders" or "schedule".

    InputError if it cannot be read, is JSON that does not parse, or is none of them."""
    path = Path(path)
    text = read_text(path)
    head = text.lstrip()
    if path.suffix.lower() == ".json" or head[:1] in ("{", "["):
        data = parse_json(path, text)
        if isinstance(data, dict) and {"objective_eur", "revenue_eur"} & set(data):
            return "summary"  # (a bid's summary names its product too)
        if isinstance(data, dict) and ORDER_KEYS & set(data):
            return "orders"
        raise _unrecognised(path, f"a JSON {type(data).__name__} that is neither orders nor a summary")
    first = head.splitlines()[0] if head else ""
    header = {c.strip().strip('"').lower() for c in next(csv.reader([first]), [])}
    if _extra_bids_product(header) is not None:
        return "product_bids"
    if {"side", "limit_price_eur_per_mwh"} & header:
        return "continuous_orders"
    if {"hour_start_utc", "price_eur_per_mw_h"} & header:
        return "capacity_bids" if _capacity_bids(text, header) else "fcr_bids"
    if {"grid_import_mw", "grid_export_mw"} & header:
        return "schedule"
    raise _unrecognised(path, "its CSV header matches none of the files checked" if first else "empty file")


def _capacity_bids(text: str, header: set[str]) -> bool:
    """A plug-in product's bid file: no ``auction`` column and no row of a product with a bid file of
    its own (FCR's); a header-only file (nothing sold) and a misspelt product are theirs too, so
    ``check_capacity_bids`` reports the row."""
    if "auction" in header or "product" not in header:
        return False
    own = {s for p in markets.registered() if p.own_bid_path for s in p.streams}
    return not any((r.get("product") or "").strip() in own for r in csv.DictReader(text.lstrip().splitlines()))


def _extra_bids_product(header: set[str]):
    """The product whose own extra bid file has exactly this header (``extra_bid_columns``), or None."""
    for prod in markets.registered():
        cols = getattr(prod, "extra_bid_columns", ())
        if cols and set(cols) == header:
            return prod
    return None


def validate_file(path: str | Path, rules: ExchangeRules | None = None) -> tuple[str, list[str]]:
    """(kind, problems) of ``path``: ``recognise`` it, then check it against its rules."""
    path = Path(path)
    kind = recognise(path)
    if kind == "orders":
        return kind, validate(read_orders(path), rules)
    if kind == "fcr_bids":
        return kind, validate_fcr_bids(read_fcr_bids(path), rules)
    if kind == "capacity_bids":
        return kind, markets.check_capacity_bids(read_capacity_bids(path))
    if kind == "product_bids":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df.columns = [str(c).strip().lower() for c in df.columns]
        return kind, _extra_bids_product(set(df.columns)).check_extra_bids(df)
    if kind == "continuous_orders":
        return kind, validate_continuous_orders(read_continuous_orders(path), rules)
    if kind == "schedule":
        return kind, validate_schedule(_read_schedule(path))
    return kind, validate_summary(parse_json(path, read_text(path)))


# --------------------------------------------------------------------------------------------------
# schedule.csv


def _read_schedule(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputError(path, None, f"not a readable CSV: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    for c in ("timestamp_utc", "grid_import_mw", "grid_export_mw"):
        if c not in df.columns:
            raise InputError(path, c, "missing column (a schedule has timestamp_utc, grid_import_mw, grid_export_mw, ...)")
    return df


def _non_negative(column: str) -> bool:
    return (column in ("grid_import_mw", "grid_export_mw") or column.endswith(("_charge_mw", "_discharge_mw", "_soc_mwh"))
            or any(column.endswith(f"_{p}_mw") for p in ("fcr_n", "fcr_d_up", "fcr_d_down")))


def validate_schedule(df: pd.DataFrame) -> list[str]:
    """Problems of a schedule (``schedule.csv``: DESIGN contract), one line each; rows from 1.

    ``timestamp_utc``: UTC MTU starts ("...Z"), strictly increasing, 15, 30 or 60 minutes apart;
    every other column a finite number; grid flows, charge, discharge, SoC and reserved FCR
    capacity not negative."""
    out: list[str] = []
    if "timestamp_utc" not in df.columns:
        return ["schedule: missing column timestamp_utc"]
    if not len(df):
        return ["schedule: no rows"]
    text = df["timestamp_utc"].astype(str).str.strip()
    ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = [i for i, (t, s) in enumerate(zip(ts, text, strict=True), start=1) if t is pd.NaT or not s.endswith("Z")]
    if bad:
        out.append(f"schedule row {bad[0]}: timestamp_utc '{text.iloc[bad[0] - 1]}' is not a UTC time "
                   f"(e.g. 2024-03-13T23:00:00Z)" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    else:
        steps = (ts.diff().dt.total_seconds() / 60).iloc[1:]
        wrong = [(i, m) for i, m in enumerate(steps, start=2) if m not in MTU_STEPS_MIN]
        if wrong:
            i, m = wrong[0]
            how = "not after the row before" if m <= 0 else f"{m:g} minutes after the row before"
            out.append(f"schedule row {i}: timestamp_utc {text.iloc[i - 1]} is {how} "
                       f"(MTUs are {', '.join(map(str, MTU_STEPS_MIN))} minutes long)")
    for c in df.columns:
        if c == "timestamp_utc":
            continue
        values = pd.to_numeric(df[c].astype(str).str.strip(), errors="coerce")
        nan = [i for i, v in enumerate(values, start=1) if not math.isfinite(v)]
        if nan:
            out.append(f"schedule row {nan[0]}: {c} '{df[c].iloc[nan[0] - 1]}' is not a finite number"
                       + (f" (and {len(nan) - 1} more)" if len(nan) > 1 else ""))
        elif _non_negative(c) and (values < -TOL).any():
            i = int((values < -TOL).to_numpy().argmax()) + 1
            out.append(f"schedule row {i}: {c} {values.iloc[i - 1]:g} is negative")
    return out


# --------------------------------------------------------------------------------------------------
# summary.json


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate_summary(data: dict) -> list[str]:
    """Problems of a summary (``summary.json``: DESIGN contract), one line each.

    ``objective_eur`` a number; ``revenue_eur`` a number per stream (at least dayahead, fcr_n,
    fcr_d_up, fcr_d_down, intraday, imbalance, tariff, tax, degradation) adding up to
    ``objective_eur``; ``solver``, where given, with ``status``, ``seconds`` and ``mip_gap``."""
    out: list[str] = []
    obj = data.get("objective_eur")
    if not _is_number(obj):
        out.append(f"summary: objective_eur {obj!r} is not a number")
    rev = data.get("revenue_eur")
    if not isinstance(rev, dict):
        out.append(f"summary: revenue_eur is not an object of streams (got {type(rev).__name__})")
    else:
        missing = [s for s in STREAMS if s not in rev]
        if missing:
            out.append(f"summary: revenue_eur lacks stream(s) {', '.join(missing)}")
        bad = [k for k, v in rev.items() if not _is_number(v)]
        if bad:
            out.append(f"summary: revenue_eur.{bad[0]} {rev[bad[0]]!r} is not a number")
        elif _is_number(obj):
            total = math.fsum(rev.values())
            if abs(total - obj) > TOL * max(1.0, abs(obj)):
                out.append(f"summary: objective_eur {obj:.6f} is not the sum of revenue_eur ({total:.6f})")
    if "solver" in data:
        solver = data["solver"]
        if not isinstance(solver, dict):
            out.append("summary: solver is not an object")
        else:
            missing = [k for k in ("status", "seconds", "mip_gap") if k not in solver]
            if missing:
                out.append(f"summary: solver lacks {', '.join(missing)}")
    return out
