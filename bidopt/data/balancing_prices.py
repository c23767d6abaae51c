"""Read balancing (regulating power) and imbalance prices in EUR/MWh.

``read_balancing_prices(path, area=None)`` returns a DataFrame on a UTC ``DatetimeIndex`` named
``timestamp_utc`` (period starts) with float columns

- ``imbalance_price_eur_per_mwh``: the single imbalance price of the period,
- ``up_price_eur_per_mwh``: the price paid for up-regulation (a short position pays it under the
  two-price model),
- ``down_price_eur_per_mwh``: the price of down-regulation (what a long position receives),

and ``filled`` (bool, True where a value was filled as described below). ``attrs`` hold ``area``
(the price area read, or None) and ``period_minutes`` (the file's step; 60 for a one-row file).
Two formats:

1. Energinet Energi Data Service "RegulatingBalancePowerdata" (``HourUTC``, ``HourDK``, ``PriceArea``,
   ``BalancingPowerPriceUpEUR``, ``BalancingPowerPriceDownEUR``,
   ``BalancingPowerConsumptionPriceEUR``, ...; UTF-8 BOM, newest first). The consumption price is
   the imbalance price: before 1 Nov 2021 Danish consumption balances were settled at this one price
   (production balances at up/down prices), from then it is the single price of every balance; in
   every row of the 2021 DK2 download it equals either the up or the down price (the dominating
   direction). The file's regulating volumes are kept as ``regulating_up_mwh`` (>= 0) and
   ``regulating_down_mwh`` (<= 0, the published sign). Columns that are empty in the downloads
   (``ImbalanceSurplus``, ``ImbalanceDeficit``, ``IGCC_*``) and the DKK prices are not read.
   ``area`` picks a ``PriceArea`` when the file holds several (else it must match the one there).

   Missing values, handled explicitly: the rows are put on a complete UTC grid of the file's step
   from its first to its last row. A period with no row, or with an empty cell, takes the value of
   the nearest period that has one (on a tie, the later one) and is marked ``filled``; a run of more
   than ``max_fill_hours`` (default 3) missing hours is an ``InputError`` naming the gap. In the 2021
   DK2 download the only such period is 2021-10-31T00:00Z: the first of the two local 02:00 hours
   of the autumn change has no row (the dataset is keyed on Danish local time), and it takes the
   values of the row that carries that local label, 2021-10-31T01:00Z (HourDK 02:00).

2. A plain CSV ``timestamp_utc,imbalance_price_eur_per_mwh[,up_price_eur_per_mwh,down_price_eur_per_mwh]``
   for a user's own series (eSett open data, a scenario): 15-, 30- or 60-minute periods, naive
   timestamps are UTC. Checked strictly (``bidopt.data.prices.check_series``): a missing value or
   hour is an error, nothing is filled. Without up/down columns they equal the imbalance price.

Every problem is an ``InputError`` naming the file and the field or ``row N (timestamp)``, N counting
data rows from 1 in the file's own order. ``cached_balancing_prices`` reads a file once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data.prices import _read_table
from bidopt.data.series import (
    MTU_STEPS,
    TIMESTAMP,
    check_series,
    number_text,
    parse_utc,
    row_label,
    utc_in_order,
)
from bidopt.errors import InputError, data_labels

IMBALANCE = "imbalance_price_eur_per_mwh"
UP = "up_price_eur_per_mwh"
DOWN = "down_price_eur_per_mwh"
FILLED = "filled"
PRICE_COLUMNS = (IMBALANCE, UP, DOWN)

# Energinet column (lower case) -> output column
_ENERGINET_PRICES = {
    "balancingpowerconsumptionpriceeur": IMBALANCE,
    "balancingpowerpriceupeur": UP,
    "balancingpowerpricedowneur": DOWN,
}
_ENERGINET_VOLUMES = {"regulatingpowerup": "regulating_up_mwh", "regulatingpowerdown": "regulating_down_mwh"}
_TIME_COLUMNS = ("hourutc", "timeutc")


def read_balancing_prices(path: str | Path, area: str | None = None, max_fill_hours: float = 3) -> pd.DataFrame:
    """Imbalance, up and down prices (EUR/MWh) per UTC period from an Energinet or plain CSV file."""
    df, dec = _read_table(path)
    lower = {c.lower(): c for c in df.columns}
    tcol = next((lower[c] for c in _TIME_COLUMNS if c in lower), None)
    if tcol is not None and any(c in lower for c in _ENERGINET_PRICES):
        out = _read_energinet_balancing(df, lower, tcol, area, path, dec, max_fill_hours)
    elif TIMESTAMP in lower and IMBALANCE in lower:
        out = _read_plain(df, lower, path, dec)
    else:
        shown = ", ".join(list(df.columns)[:8]) + (", ..." if len(df.columns) > 8 else "")
        raise InputError(
            path,
            "columns",
            "unrecognised balancing price file: expected an Energinet download (HourUTC, PriceArea, "
            "BalancingPowerPriceUpEUR, BalancingPowerPriceDownEUR, BalancingPowerConsumptionPriceEUR) or "
            f"{TIMESTAMP},{IMBALANCE}[,{UP},{DOWN}]; found {shown}",
        )
    out.index.name = TIMESTAMP
    return out


@lru_cache(maxsize=16)
def _cached(path: str, area: str | None, mtime: float) -> pd.DataFrame:
    return read_balancing_prices(path, area=area)


def cached_balancing_prices(path: str | Path, area: str | None = None) -> pd.DataFrame:
    """``read_balancing_prices`` read once per process and file version; returns a copy."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        mtime = 0.0
    out = _cached(str(p), area, mtime)
    copy = out.copy()
    copy.attrs = dict(out.attrs)
    return copy


# ------------------------------------------------------------------------------------------ plain


def _read_plain(df: pd.DataFrame, lower: dict, file, dec: bool) -> pd.DataFrame:
    has = [c in lower for c in (UP, DOWN)]
    if any(has) and not all(has):
        missing = UP if not has[0] else DOWN
        raise InputError(file, missing, f"give both {UP} and {DOWN}, or neither (then both equal {IMBALANCE})")
    rows = np.arange(1, len(df) + 1)
    idx = parse_utc(df[lower[TIMESTAMP]], file, TIMESTAMP, rows)
    cols = {}
    for name in PRICE_COLUMNS:
        if name in lower:
            s = pd.Series(number_text(df[lower[name]], dec).to_numpy(dtype=object), index=idx)
            cols[name] = check_series(s, file, name, rows=rows)
    out = pd.DataFrame(cols)
    for name in (UP, DOWN):
        if name not in out:
            out[name] = out[IMBALANCE]
    out[FILLED] = False
    out.attrs["area"] = None
    ns = out.index.as_unit("ns").asi8
    out.attrs["period_minutes"] = int(np.min(np.diff(ns)) // 60_000_000_000) if len(ns) > 1 else 60
    return out[[*PRICE_COLUMNS, FILLED]]


# -------------------------------------------------------------------------------------- Energinet


def _read_energinet_balancing(df, lower, tcol, area, file, dec, max_fill_hours) -> pd.DataFrame:
    missing = [c for c in _ENERGINET_PRICES if c not in lower]
    if missing:
        names = {c.lower(): c for c in ("BalancingPowerConsumptionPriceEUR", "BalancingPowerPriceUpEUR",
                                        "BalancingPowerPriceDownEUR")}
        raise InputError(file, names[missing[0]], "column not found in this Energinet file")
    rows = np.arange(1, len(df) + 1)
    found_area = None
    acol = lower.get("pricearea")
    if acol is not None:
        areas = sorted(df[acol].dropna().astype(str).str.strip().unique())
        if area is not None:
            if area not in areas:
                raise InputError(file, "area", f"no rows for price area {area!r}; the file has {data_labels(areas)}")
            keep = (df[acol].astype(str).str.strip() == area).to_numpy()
            df, rows = df[keep], rows[keep]
            found_area = area
        elif len(areas) > 1:
            raise InputError(file, "area", f"file holds price areas {', '.join(areas)}; choose one as area")
        elif areas:
            found_area = areas[0]
    if len(df) == 0:
        raise InputError(file, tcol, "no data rows")
    idx, order = utc_in_order(df[tcol], file, tcol, rows)  # newest first by design
    idx, rows, df = idx[order], rows[order], df.iloc[order]
    ns = idx.as_unit("ns").asi8
    dup = np.r_[False, np.diff(ns) == 0]
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(file, row_label(rows, i, idx), f"duplicate {tcol} (same as row {rows[i - 1]})")

    columns = {**_ENERGINET_PRICES, **{k: v for k, v in _ENERGINET_VOLUMES.items() if k in lower}}
    values = {out: _to_float(df[lower[src]], file, lower[src], rows, idx, dec) for src, out in columns.items()}

    step = _step(ns, file, tcol, rows, idx)
    grid = pd.date_range(idx[0], idx[-1], freq=pd.Timedelta(step), name=TIMESTAMP)
    limit = int(round(max_fill_hours * 3600e9 / step))
    frame = pd.DataFrame({k: pd.Series(v, index=idx) for k, v in values.items()}).reindex(grid)
    absent = ~grid.isin(idx)
    _check_gaps(absent, grid, limit, file, tcol, max_fill_hours, "no rows")
    filled = np.zeros(len(grid), bool)
    for src, name in columns.items():
        miss = frame[name].isna().to_numpy()
        _check_gaps(miss & ~absent, grid, limit, file, lower[src], max_fill_hours, "empty cells")
        _check_gaps(miss, grid, limit, file, lower[src], max_fill_hours, "no value")
        if miss.any():
            frame[name] = _nearest_fill(frame[name].to_numpy(), miss)
            filled |= miss
    frame[FILLED] = filled
    frame.attrs["area"] = found_area
    frame.attrs["period_minutes"] = int(step // 60_000_000_000)
    vols = [v for v in _ENERGINET_VOLUMES.values() if v in frame]
    return frame[[*PRICE_COLUMNS, *vols, FILLED]]


def _to_float(text: pd.Series, file, column: str, rows, idx, dec: bool) -> np.ndarray:
    """Cells -> floats; an empty cell is NaN (filled later), other text is an error."""
    cells = number_text(text.fillna(""), dec).astype(str).str.strip()
    empty = cells.eq("").to_numpy()
    values = pd.to_numeric(cells.where(~empty), errors="coerce").to_numpy(dtype=float)
    bad = (~empty) & ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, row_label(rows, i, idx), f"{column}: not a number")
    return values


def _step(ns: np.ndarray, file, column: str, rows, idx) -> int:
    """The file's period length (ns): its most common step, which must be 15, 30 or 60 min."""
    if len(ns) < 2:
        return pd.Timedelta(hours=1).value
    d = np.diff(ns)
    vals, counts = np.unique(d, return_counts=True)
    step = int(vals[np.argmax(counts)])
    if step not in MTU_STEPS:
        raise InputError(file, column, f"periods of {step / 60e9:g} min; expected 15, 30 or 60")
    off = d % step != 0
    if off.any():
        i = int(np.argmax(off)) + 1
        raise InputError(file, row_label(rows, i, idx), f"{column}: not on the file's {step / 60e9:g}-min grid")
    return step


def _check_gaps(missing: np.ndarray, grid: pd.DatetimeIndex, limit: int, file, field: str, hours, what: str) -> None:
    if not missing.any():
        return
    edges = np.diff(np.r_[0, missing.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    too_long = lengths > limit
    if too_long.any():
        k = int(np.argmax(too_long))
        first, last = grid[starts[k]], grid[ends[k] - 1]
        raise InputError(
            file,
            field,
            f"{what} from {first:%Y-%m-%dT%H:%M}Z to {last:%Y-%m-%dT%H:%M}Z ({lengths[k]} periods): "
            f"longer than the {hours:g} h that are filled from neighbouring periods",
        )


def _nearest_fill(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Each missing value from the nearest present one; ties go to the later one."""
    present = np.flatnonzero(~missing)
    pos = np.arange(len(values))
    after = np.clip(np.searchsorted(present, pos, side="left"), 0, len(present) - 1)
    before = np.clip(after - 1, 0, len(present) - 1)
    use_after = np.abs(present[after] - pos) <= np.abs(pos - present[before])
    src = np.where(use_after, present[after], present[before])
    out = values.copy()
    out[missing] = values[src[missing]]
    return out
