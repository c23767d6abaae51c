"""Scenario cubes: a set of equally shaped price paths with probabilities.

The cube
--------
A scenario cube is an ``xarray.DataArray``

* dims ``("scenario", "time")``;
* coordinate ``time``: a **timezone-aware UTC** ``pandas.DatetimeIndex`` of MTU starts (xarray keeps
  the pandas index as it is, so ``cube.indexes["time"]`` is tz-aware UTC; ``time_index(cube)`` returns
  it named ``timestamp_utc`` and also accepts a cube whose time coordinate lost its zone, reading
  naive times as UTC). Never assume 24 or 96 MTUs a day;
* coordinate ``scenario``: labels (``0 .. S-1`` unless given), unique;
* coordinate ``probability`` on ``scenario``: finite, >= 0, summing to 1;
* ``name``: the quantity with its unit, ``price_eur_per_mwh`` (day-ahead) or ``price_eur_per_mw_h``
  (reserve capacity); ``attrs``: ``units``, ``time_zone = "UTC"``, ``time_label = "MTU start"``.

``make_scenarios`` builds and validates one; every problem is an ``InputError(file, field, message)``
(``file`` is whatever the caller names, ``None`` for cubes built in code).

Files (``read_scenarios`` / ``write_scenarios``)
-----------------------------------------------
Timestamps are ISO 8601 MTU starts; a naive timestamp means UTC, one with an offset is converted.

* **long** CSV: columns ``timestamp_utc``, ``scenario``, a value column (``price_eur_per_mwh``,
  ``price_eur_per_mw_h``, or the one remaining column) and optionally ``probability`` (the same on
  every row of a scenario). Rows may come in any order; every scenario must have exactly the same
  timestamps, and those must form a regular MTU grid (as ``bidopt.data.prices.check_series`` judges).
  Without ``probability`` the scenarios are equally likely.
* **wide** CSV: ``timestamp_utc`` and one column per scenario (the header is the scenario label). An
  optional row whose ``timestamp_utc`` cell is ``probability`` gives each scenario's probability. The
  layout has no value name: the cube is named ``price_eur_per_mwh`` unless ``name=`` says otherwise.
* **Parquet** (``.parquet``/``.pq``): the long layout (typed or text columns). Needs ``pyarrow``;
  without it reading or writing is an ``InputError`` saying so.

Scenario labels that are all integers are read back as integers. ``read_scenarios(..., probabilities=)``
(a sequence in file scenario order) overrides probabilities found in the file. With ``index`` the cube
is sliced to those MTUs (``slice_scenarios``).

Slicing (``slice_scenarios``, ``for_day``) follows ``bidopt.data.prices.slice_day``: coarser values are
held for every MTU they contain (hourly scenarios on 15-minute MTUs), finer ones are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bidopt import time as btime
from bidopt.data import prices as price_files
from bidopt.data.csv_text import read_text_csv
from bidopt.errors import InputError, data_labels
from bidopt.numbers import MAX_ABS_PRICE

PRICE = "price_eur_per_mwh"
CAPACITY_PRICE = "price_eur_per_mw_h"
TIMESTAMP = "timestamp_utc"
SCENARIO = "scenario"
TIME = "time"
PROBABILITY = "probability"
PROBABILITY_TOLERANCE = 1e-6
_UNITS = {"_eur_per_mwh": "EUR/MWh", "_eur_per_mw_h": "EUR/MW/h", "_mwh": "MWh", "_mw": "MW", "_eur": "EUR"}
_PARQUET = (".parquet", ".pq")


def _units(name: str) -> str:
    return next((u for suffix, u in _UNITS.items() if name.endswith(suffix)), "")


def _iso(ts) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_index(index, file, field: str = "index") -> pd.DatetimeIndex:
    try:
        idx = pd.DatetimeIndex(index)
    except (TypeError, ValueError) as e:
        raise InputError(file, field, f"not a time index: {e}") from None
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if idx.isna().any():
        raise InputError(file, field, f"missing timestamp at position {int(np.argmax(np.asarray(idx.isna())))}")
    ns = idx.as_unit("ns").asi8
    bad = np.diff(ns) <= 0
    if bad.any():
        i = int(np.argmax(bad)) + 1
        what = "duplicate" if ns[i] == ns[i - 1] else "out of order"
        raise InputError(file, field, f"timestamps must be strictly increasing: {_iso(idx[i])} is {what}")
    return idx.rename(TIMESTAMP)


# ------------------------------------------------------------------------------------------- building


def make_scenarios(
    values,
    index,
    probabilities=None,
    name: str = PRICE,
    scenarios: Sequence | None = None,
    file=None,
    attrs: dict | None = None,
) -> xr.DataArray:
    """A validated scenario cube from an ``S x T`` array on ``T`` UTC MTU starts.

    ``probabilities`` (length S, >= 0, summing to 1 within 1e-6; renormalised exactly) defaults to
    equal weights; ``scenarios`` labels the rows (default ``0 .. S-1``). Raises ``InputError(file,
    field, message)`` for a wrong shape, a non-finite value, a bad time index or bad probabilities.
    """
    idx = _utc_index(index, file)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise InputError(file, "values", f"not numeric: {e}") from None
    if arr.ndim != 2:
        raise InputError(file, "values", f"expected a 2-D array (scenario x time), got {arr.ndim}-D shape {arr.shape}")
    n_s, n_t = arr.shape
    if n_s == 0:
        raise InputError(file, "values", "no scenarios")
    if n_t != len(idx):
        raise InputError(file, "values", f"{n_t} values per scenario but the time index has {len(idx)} MTUs")
    bad = ~np.isfinite(arr)
    if bad.any():
        s, t = np.unravel_index(int(np.argmax(bad)), arr.shape)
        label = scenarios[s] if scenarios is not None and s < len(scenarios) else s
        raise InputError(file, "values", f"scenario {label} at {_iso(idx[t])}: not a finite number")
    big = np.abs(arr) > MAX_ABS_PRICE
    if big.any():
        s, t = np.unravel_index(int(np.argmax(big)), arr.shape)
        label = scenarios[s] if scenarios is not None and s < len(scenarios) else s
        raise InputError(file, "values", f"scenario {label} at {_iso(idx[t])}: {arr[s, t]:g} is out of range "
                                         f"(|value| <= {MAX_ABS_PRICE:g})")

    labels = list(range(n_s)) if scenarios is None else list(scenarios)
    if len(labels) != n_s:
        raise InputError(file, SCENARIO, f"{len(labels)} labels for {n_s} scenarios")
    if len(set(labels)) != n_s:
        dup = next(x for i, x in enumerate(labels) if x in labels[:i])
        raise InputError(file, SCENARIO, f"duplicate scenario label {data_labels([dup])}")

    p = _probabilities(probabilities, n_s, file)
    out = xr.DataArray(
        arr,
        dims=(SCENARIO, TIME),
        coords={SCENARIO: labels, TIME: idx.rename(TIME), PROBABILITY: (SCENARIO, p)},
        name=name,
        attrs={"units": _units(name), "time_zone": "UTC", "time_label": "MTU start", **(attrs or {})},
    )
    return out


def _probabilities(probabilities, n: int, file) -> np.ndarray:
    if probabilities is None:
        return np.full(n, 1.0 / n)
    try:
        p = np.asarray(probabilities, dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise InputError(file, PROBABILITY, f"not numeric: {e}") from None
    if len(p) != n:
        raise InputError(file, PROBABILITY, f"{len(p)} probabilities for {n} scenarios")
    if not np.isfinite(p).all():
        raise InputError(file, PROBABILITY, "not a finite number")
    if (p < 0).any():
        i = int(np.argmax(p < 0))
        raise InputError(file, PROBABILITY, f"scenario {i}: negative probability {p[i]:g}")
    total = float(p.sum())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise InputError(file, PROBABILITY, f"probabilities sum to {total:.9g}, not 1")
    return p / total


def validate(cube: xr.DataArray, file=None) -> xr.DataArray:
    """Check that ``cube`` is a scenario cube (dims, finite values, probabilities); return it rebuilt."""
    if not isinstance(cube, xr.DataArray) or tuple(cube.dims) != (SCENARIO, TIME):
        dims = tuple(cube.dims) if isinstance(cube, xr.DataArray) else type(cube).__name__
        raise InputError(file, "dims", f"expected an xarray.DataArray with dims ('scenario', 'time'), got {dims}")
    if PROBABILITY not in cube.coords:
        raise InputError(file, PROBABILITY, "no probability coordinate")
    return make_scenarios(
        cube.values,
        time_index(cube),
        cube.coords[PROBABILITY].values,
        name=cube.name or PRICE,
        scenarios=list(cube.coords[SCENARIO].values.tolist()),
        file=file,
        attrs=dict(cube.attrs),
    )


def identical(n: int, series: pd.Series, name: str | None = None) -> xr.DataArray:
    """``n`` equally likely copies of one series (e.g. a perfect-foresight or point forecast)."""
    if int(n) < 1:
        raise InputError(None, "n", f"need at least one scenario, got {n}")
    values = np.tile(np.asarray(series, dtype=float), (int(n), 1))
    return make_scenarios(values, series.index, name=name or series.name or PRICE)


# ---------------------------------------------------------------------------------------- accessors


def time_index(cube: xr.DataArray) -> pd.DatetimeIndex:
    """The cube's MTU starts as a tz-aware UTC index named ``timestamp_utc`` (naive times read as UTC)."""
    idx = pd.DatetimeIndex(cube.indexes[TIME])
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.rename(TIMESTAMP)


def probabilities(cube: xr.DataArray) -> np.ndarray:
    return np.asarray(cube.coords[PROBABILITY].values, dtype=float)


def expected(cube: xr.DataArray) -> pd.Series:
    """Probability-weighted mean over scenarios, as a Series on the UTC index."""
    p = probabilities(cube)
    return pd.Series(p @ np.asarray(cube.values, dtype=float), index=time_index(cube), name=cube.name)


def quantiles(cube: xr.DataArray, q: Sequence[float] | float) -> pd.DataFrame:
    """Probability-weighted quantiles per MTU (the smallest value whose cumulative probability >= q).

    Returns a DataFrame on the UTC index with one column per quantile.
    """
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    if ((qs < 0) | (qs > 1)).any():
        raise InputError(None, "q", f"quantiles must lie in [0, 1], got {qs.tolist()}")
    v = np.asarray(cube.values, dtype=float)
    order = np.argsort(v, axis=0, kind="stable")
    sorted_v = np.take_along_axis(v, order, axis=0)
    cum = np.cumsum(probabilities(cube)[order], axis=0)  # (S, T)
    out = {}
    for x in qs:
        # tolerance so that e.g. q = 0.5 with 2 equal scenarios picks the first
        pos = np.minimum((cum < x - 1e-12).sum(axis=0), len(v) - 1)
        out[float(x)] = sorted_v[pos, np.arange(v.shape[1])]
    return pd.DataFrame(out, index=time_index(cube))


# ------------------------------------------------------------------------------------------ slicing


def slice_scenarios(cube: xr.DataArray, index, file=None, field: str | None = None) -> xr.DataArray:
    """Every scenario on exactly the UTC MTU starts ``index`` (as ``bidopt.data.prices.slice_day``).

    Hourly scenario values are held over the quarter-hours of 15-minute MTUs; finer values are
    averaged into coarser MTUs. An MTU the cube does not cover raises ``InputError(file, field, ...)``.
    """
    idx = _utc_index(index, file)
    src = time_index(cube)
    field = field or str(cube.name or PRICE)
    values = np.asarray(cube.values, dtype=float)
    if len(idx) == len(src) and (idx == src).all():
        sliced = values
    else:
        sliced = np.vstack(
            [price_files.slice_day(pd.Series(row, index=src), idx, file, field).to_numpy() for row in values]
        )
    return make_scenarios(
        sliced,
        idx,
        probabilities(cube),
        name=cube.name or PRICE,
        scenarios=list(cube.coords[SCENARIO].values.tolist()),
        file=file,
        attrs=dict(cube.attrs),
    )


def for_day(cube: xr.DataArray, day, mtu_minutes: int = 60, tz: str = btime.STOCKHOLM, file=None) -> xr.DataArray:
    """The cube on the MTUs of one local delivery day (23/24/25 h)."""
    return slice_scenarios(cube, btime.delivery_index(day, mtu_minutes, tz), file)


# -------------------------------------------------------------------------------------------- files


def to_frame(cube: xr.DataArray, layout: str = "long") -> pd.DataFrame:
    """The cube as a table in the file layouts (``timestamp_utc`` as ISO 8601 text with ``Z``)."""
    idx = time_index(cube)
    stamps = np.asarray(idx.strftime("%Y-%m-%dT%H:%M:%SZ"))
    labels = list(cube.coords[SCENARIO].values.tolist())
    values = np.asarray(cube.values, dtype=float)
    p = probabilities(cube)
    name = str(cube.name or PRICE)
    if layout == "long":
        n_s, n_t = values.shape
        return pd.DataFrame(
            {
                TIMESTAMP: np.tile(stamps, n_s),
                SCENARIO: np.repeat(np.asarray(labels, dtype=object), n_t),
                name: values.ravel(),
                PROBABILITY: np.repeat(p, n_t),
            }
        )
    if layout == "wide":
        body = pd.DataFrame(values.T, columns=[str(x) for x in labels])
        body.insert(0, TIMESTAMP, stamps)
        head = pd.DataFrame([[PROBABILITY, *p.tolist()]], columns=body.columns)
        return pd.concat([head, body], ignore_index=True)
    raise InputError(None, "layout", f"unknown layout {layout!r}; use 'long' or 'wide'")


def write_scenarios(cube: xr.DataArray, path: str | Path, layout: str = "long") -> Path:
    """Write a cube as CSV (``layout`` long or wide) or Parquet (long; by the ``.parquet`` suffix)."""
    p = Path(path)
    if p.suffix.lower() in _PARQUET:
        frame = to_frame(cube, "long")
        try:
            frame.to_parquet(p, index=False)
        except ImportError:
            raise InputError(p, None, "writing Parquet needs pyarrow: pip install pyarrow") from None
        return p
    to_frame(cube, layout).to_csv(p, index=False)  # shortest repr: floats round-trip exactly
    return p


def read_scenarios(
    path: str | Path, index=None, probabilities=None, name: str | None = None
) -> xr.DataArray:
    """A scenario cube from a long or wide CSV, or a long Parquet file (layouts: module docstring).

    ``index`` slices the result to those UTC MTU starts; ``probabilities`` overrides any in the file;
    ``name`` overrides the value column's name as the cube's name.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    if p.suffix.lower() in _PARQUET:
        try:
            df = pd.read_parquet(p)
        except ImportError:
            raise InputError(path, None, "reading Parquet needs pyarrow: pip install pyarrow") from None
        except Exception as e:  # noqa: BLE001 - any parquet decoding failure is bad input
            raise InputError(path, None, f"cannot read Parquet: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    else:
        df = read_text_csv(p, skipinitialspace=True, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise InputError(path, None, "no data rows")
    lower = {c.lower(): c for c in df.columns}
    if TIMESTAMP not in lower:
        raise InputError(path, "columns", f"expected a {TIMESTAMP} column; found {data_labels(df.columns)}")
    if SCENARIO in lower:
        cube = _from_long(df, lower, path, name)
    else:
        cube = _from_wide(df, lower, path, name)
    if probabilities is not None:
        cube = make_scenarios(cube.values, time_index(cube), probabilities, name=cube.name,
                              scenarios=list(cube.coords[SCENARIO].values.tolist()), file=path)
    if index is not None:
        cube = slice_scenarios(cube, index, file=path)
    return cube


def _labels(raw: list) -> list:
    """Scenario labels as read: all-integer text becomes int."""
    text = [str(x).strip() for x in raw]
    try:
        ints = [int(x) for x in text]
    except ValueError:
        return text
    return ints if all(str(i) == t for i, t in zip(ints, text, strict=True)) else text


def _parse_times(col: pd.Series, file, rows: np.ndarray) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(col):
        idx = pd.DatetimeIndex(pd.to_datetime(col, utc=True))
    else:
        idx = pd.DatetimeIndex(pd.to_datetime(col.astype(str).str.strip(), utc=True, format="ISO8601", errors="coerce"))
    bad = np.asarray(idx.isna())
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, f"row {rows[i]}", f"{TIMESTAMP}: cannot parse timestamp")
    return idx


def _numbers(col: pd.Series, file, rows: np.ndarray, field: str, idx=None) -> np.ndarray:
    text = col if pd.api.types.is_numeric_dtype(col) else col.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        where = f"row {rows[i]}" + (f" ({_iso(idx[i])})" if idx is not None else "")
        cell = col.iloc[i]
        what = "missing value" if (pd.isna(cell) or str(cell).strip() == "") else "not a number"
        raise InputError(file, where, f"{field}: {what}")
    return values


def _check_grid(idx: pd.DatetimeIndex, rows: np.ndarray, file) -> None:
    """Regular MTU steps, judged as for price files (rows: file row of each timestamp)."""
    price_files.check_series(pd.Series(np.zeros(len(idx)), index=idx), file, TIMESTAMP, rows=rows)


def _from_long(df: pd.DataFrame, lower: dict, file, name: str | None) -> xr.DataArray:
    tcol, scol = lower[TIMESTAMP], lower[SCENARIO]
    pcol = lower.get(PROBABILITY)
    others = [c for c in df.columns if c not in (tcol, scol, pcol)]
    vcol = lower.get(PRICE, lower.get(CAPACITY_PRICE))
    if vcol is None:
        if len(others) != 1:
            what = "no value column" if not others else f"several value columns ({', '.join(others)})"
            raise InputError(file, "columns", f"{what}: expected {TIMESTAMP}, {SCENARIO}, one value column "
                             f"(e.g. {PRICE}) and optionally {PROBABILITY}")
        vcol = others[0]
    rows = np.arange(1, len(df) + 1)
    idx = _parse_times(df[tcol], file, rows)
    values = _numbers(df[vcol], file, rows, vcol, idx)
    scen_raw = df[scol].astype(str).str.strip()
    if (scen_raw == "").any() or df[scol].isna().any():
        i = int(np.argmax(((scen_raw == "") | df[scol].isna()).to_numpy()))
        raise InputError(file, f"row {rows[i]}", f"{SCENARIO}: missing label")
    codes, uniq = pd.factorize(scen_raw)  # order of first appearance
    ns = idx.as_unit("ns").asi8
    key = pd.MultiIndex.from_arrays([codes, ns])
    dup = np.asarray(key.duplicated())
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(file, f"row {rows[i]} ({_iso(idx[i])})", f"duplicate timestamp for scenario {uniq[codes[i]]}")
    times, tpos = np.unique(ns, return_inverse=True)
    first_row = np.full(len(times), len(df), dtype=np.int64)
    np.minimum.at(first_row, tpos, np.arange(len(df)))
    grid = pd.DatetimeIndex(times, tz="UTC")
    _check_grid(grid, rows[first_row], file)
    mat = np.full((len(uniq), len(times)), np.nan)
    mat[codes, tpos] = values
    hole = np.isnan(mat)
    if hole.any():
        s, t = np.unravel_index(int(np.argmax(hole)), mat.shape)
        raise InputError(file, SCENARIO, f"scenario {uniq[s]} has no value for {_iso(grid[t])} "
                         "(every scenario needs the same timestamps)")
    prob = None
    if pcol is not None:
        pv = _numbers(df[pcol], file, rows, pcol, idx)
        prob = np.zeros(len(uniq))
        for s in range(len(uniq)):
            sel = codes == s
            vals = pv[sel]
            if np.ptp(vals) > PROBABILITY_TOLERANCE:
                i = int(np.flatnonzero(sel)[np.argmax(np.abs(vals - vals[0]) > PROBABILITY_TOLERANCE)])
                raise InputError(file, f"row {rows[i]}", f"{pcol}: scenario {uniq[s]} has different probabilities "
                                 f"({vals[0]:g} and {pv[i]:g})")
            prob[s] = vals[0]
    return make_scenarios(mat, grid, prob, name=name or vcol, scenarios=_labels(list(uniq)), file=file)


def _from_wide(df: pd.DataFrame, lower: dict, file, name: str | None) -> xr.DataArray:
    tcol = lower[TIMESTAMP]
    scen_cols = [c for c in df.columns if c != tcol]
    if not scen_cols:
        raise InputError(file, "columns", f"no scenario columns: expected {TIMESTAMP} and one column per scenario "
                         f"(wide) or {TIMESTAMP}, {SCENARIO}, {PRICE} (long)")
    rows = np.arange(1, len(df) + 1)
    is_prob = df[tcol].astype(str).str.strip().str.lower().eq(PROBABILITY).to_numpy()
    prob = None
    if is_prob.sum() > 1:
        i = int(np.flatnonzero(is_prob)[1])
        raise InputError(file, f"row {rows[i]}", f"second {PROBABILITY} row")
    if is_prob.any():
        i = int(np.argmax(is_prob))
        prob = np.array([_numbers(df[c].iloc[[i]], file, rows[[i]], c)[0] for c in scen_cols])
        df, rows = df[~is_prob], rows[~is_prob]
    if len(df) == 0:
        raise InputError(file, None, "no data rows")
    idx = _parse_times(df[tcol], file, rows)
    _check_grid(idx, rows, file)  # also reports duplicate and out-of-order rows with file row numbers
    mat = np.vstack([_numbers(df[c], file, rows, c, idx) for c in scen_cols])
    return make_scenarios(mat, idx, prob, name=name or PRICE, scenarios=_labels(scen_cols), file=file)
