"""Time series read from data files: the cells (numbers with decimal commas, ISO 8601 UTC times,
``line N (timestamp)`` locations), the checks every series passes (``check_series``) and putting a
series on the MTUs of a delivery day (``slice_day``: holding coarser values, averaging finer ones).

Values in the file's unit (EUR/MWh for prices, MW for profiles); times UTC, named ``timestamp_utc``.
Every problem is an ``InputError`` naming the file and the row as ``line N (timestamp)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.errors import InputError
from bidopt.numbers import MAX_ABS_PRICE as MAX_ABS_VALUE  # any value of a data file (EUR/MWh for prices)
from bidopt.time import utc_index

TIMESTAMP = "timestamp_utc"
MTU_STEPS = tuple(pd.Timedelta(minutes=m).value for m in (15, 30, 60))  # ns; legal resolution changes
EMPTY = {"", "n/e", "N/A", "-"}  # cells ENTSO-E writes for "no price"
_MISSING = {"", "n/e", "n/a", "-"}  # price cells that mean "no price" (compared lower-cased)


# ----------------------------------------------------------------------------------------------- cells


def iso(ts) -> str:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def row_label(rows: np.ndarray, i: int, index=None, unit: str = "row") -> str:
    """``row N (timestamp)``, or ``line N (...)`` with ``unit="line"`` (``rows`` then holds lines)."""
    where = f"{unit} {int(rows[i])}"
    if index is not None and not pd.isna(index[i]):
        where += f" ({iso(index[i])})"
    return where


def line_label(lines: np.ndarray, i: int, index=None) -> str:
    """``line N (timestamp)``: ``lines`` holds the file line of each row."""
    return row_label(lines, i, index, unit="line")


def number_text(values: pd.Series, decimal_comma: bool, digit_groups: bool = False) -> pd.Series:
    """Text cells -> object Series ready for check_series: decimal commas converted, and with
    ``digit_groups`` the spaces (also no-break) that group digits removed (Mimer writes ``1 234,5``)."""
    if digit_groups:
        values = values.astype(object).str.replace(r"[\s\u00a0]", "", regex=True)
    if decimal_comma:
        values = values.str.replace(",", ".", regex=False)
    return values


def utc_in_order(text: pd.Series, file, column: str, rows: np.ndarray,
                 unit: str = "row") -> tuple[pd.DatetimeIndex, np.ndarray]:
    """``parse_utc`` of a file not in time order (Energinet writes newest first, or in Danish local
    time), and the stable order that sorts it; callers keep the file's lines for messages."""
    idx = parse_utc(text, file, column, rows, unit=unit)
    return idx, np.argsort(idx.as_unit("ns").asi8, kind="stable")


def local_times(text: pd.Series, pattern, file, column: str, lines: np.ndarray, unparsed: str,
                invalid: str) -> tuple[pd.DataFrame, pd.Series]:
    """Naive local times from labels matched by ``pattern`` (named groups ``y m d H M``): the groups
    and the times. A label that does not match raises ``InputError`` naming its line with
    ``"<column>: <unparsed>"``, an impossible date ``"<column>: <invalid>"``."""
    parts = text.str.extract(pattern)
    bad = parts["y"].isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, line_label(lines, i), f"{column}: {unparsed}")
    local = pd.to_datetime(
        {"year": parts["y"], "month": parts["m"], "day": parts["d"], "hour": parts["H"], "minute": parts["M"]},
        errors="coerce",
    )
    bad = local.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, line_label(lines, i), f"{column}: {invalid}")
    return parts, local


def parse_utc(text: pd.Series, file, column: str, rows: np.ndarray, unit: str = "row") -> pd.DatetimeIndex:
    """ISO 8601 text -> UTC index; naive timestamps are UTC. Unparseable cells raise InputError
    naming ``<unit> N`` from ``rows``."""
    idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce"))
    bad = np.asarray(idx.isna())
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, row_label(rows, i, unit=unit), f"{column}: cannot parse timestamp")
    return idx


# ------------------------------------------------------------------------------------------ validation


def _steps(ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-interval steps of sorted int64 ns times: (diffs, regular mask, dominant step).

    A step is regular if it equals the dominant (most common) step, or if it is a standard MTU length
    (15/30/60 min) repeated in a run, as when a series changes from hourly to 15-minute resolution.
    """
    d = np.diff(ns)
    if len(d) == 0:
        return d, np.ones(0, bool), pd.Timedelta(hours=1).value
    vals, counts = np.unique(d, return_counts=True)
    dominant = int(vals[np.argmax(counts)])
    same_prev = np.r_[False, d[1:] == d[:-1]]
    same_next = np.r_[d[:-1] == d[1:], False]
    regular = (d == dominant) | (np.isin(d, MTU_STEPS) & (same_prev | same_next))
    return d, regular, dominant


def _values(raw: np.ndarray, missing_ok: bool, where, file, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Floats of the cells and the mask of missing ones; a missing (unless ``missing_ok``),
    non-numeric or out-of-range value raises naming ``where(i)``."""
    if raw.dtype.kind in "fiub":
        values = raw.astype(float)
        missing = np.isnan(values)
    else:
        text = pd.Series(raw, dtype=object)
        stripped = text.astype(str).str.strip()
        blank = stripped.str.lower().isin(_MISSING) if missing_ok else stripped.eq("")
        missing = (text.isna() | blank).to_numpy()
        values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=float)
    if missing.any() and not missing_ok:
        i = int(np.argmax(missing))
        raise InputError(file, where(i), f"{field}: missing value")
    bad = ~np.isfinite(values) & ~missing
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, where(i), f"{field}: not a number")
    big = np.abs(np.where(missing, 0.0, values)) > MAX_ABS_VALUE
    if big.any():
        i = int(np.argmax(big))
        raise InputError(file, where(i), f"{field}: {values[i]:g} is out of range "
                                         f"(|value| <= {MAX_ABS_VALUE:g})")
    return values, missing


def _check_times(idx: pd.DatetimeIndex, ns: np.ndarray, rows: np.ndarray, unit: str, where, file) -> int:
    """No duplicate, no step back, no gap or irregular step; returns the dominant step (ns)."""
    dup = np.asarray(idx.duplicated())
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.argmax(ns == ns[i]))
        raise InputError(file, where(i), f"duplicate timestamp (same as {unit} {rows[first]})")
    back = np.diff(ns) < 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise InputError(
            file,
            where(i),
            f"rows not in ascending time order ({unit} {rows[i - 1]} is {iso(idx[i - 1])})",
        )
    d, regular, dominant = _steps(ns)
    if not regular.all():
        i = int(np.argmax(~regular))
        step_min = dominant / 60e9
        at = where(i + 1)
        if d[i] > dominant:
            raise InputError(
                file,
                at,
                f"gap: no data from {iso(idx[i] + pd.Timedelta(dominant))} "
                f"(previous {unit} {rows[i]} is {iso(idx[i])}; step {step_min:g} min)",
            )
        raise InputError(
            file,
            at,
            f"irregular step of {d[i] / 60e9:g} min after {unit} {rows[i]} (expected {step_min:g} min)",
        )
    return dominant


def check_series(s: pd.Series, file: str | Path, field: str, *, rows=None, lines=None,
                 missing_ok: bool = False) -> pd.Series:
    """Validate a time series read from ``file`` and return it as floats on a UTC index.

    Raises ``InputError(file, "line N (timestamp)", message)`` for a missing or non-numeric value, a
    duplicate timestamp, rows out of ascending order, and gaps or irregular steps (judged against the
    dominant step). ``lines`` are the file lines of ``s``'s elements; without them ``rows`` (data row
    numbers, default 1, 2, ...) are named as ``row N``.

    ``missing_ok``: a missing value (NaN, empty, or ``n/e``, ``-``, ``N/A`` as ENTSO-E writes them) is
    NaN in the result instead of an error; ``result.attrs["missing"]`` records the timestamp, line and
    text of each, for ``slice_day`` to name when an MTU needs one.
    """
    n = len(s)
    unit = "row" if lines is None else "line"
    rows = np.asarray(lines) if lines is not None else (np.arange(1, n + 1) if rows is None else np.asarray(rows))

    def where(i: int, index=None) -> str:
        return row_label(rows, i, index, unit=unit)

    if n == 0:
        raise InputError(file, field, "no data rows")
    idx = utc_index(s.index)
    if idx.isna().any():
        i = int(np.argmax(np.asarray(idx.isna())))
        raise InputError(file, where(i), "missing timestamp")

    raw = s.to_numpy()
    values, missing = _values(raw, missing_ok, lambda i: where(i, idx), file, field)
    ns = idx.as_unit("ns").asi8
    dominant = _check_times(idx, ns, rows, unit, lambda i: where(i, idx), file)
    out = pd.Series(values, index=idx.rename(TIMESTAMP), name=s.name)
    if missing_ok and missing.any():
        out.attrs["missing"] = {
            "ns": ns[missing],
            "rows": rows[missing],
            "unit": unit,
            "text": pd.Series(raw[missing], dtype=object).fillna("").astype(str).str.strip().to_numpy(),
            "field": field,
            "step": int(dominant),
        }
    return out


# --------------------------------------------------------------------------------------------- slicing


def slice_day(s: pd.Series, index: pd.DatetimeIndex, file, field) -> pd.Series:
    """``s`` on exactly the UTC MTU starts ``index``.

    Coarser source values are held for every MTU they contain (an hourly price for four quarter-hours);
    finer ones are averaged (time-weighted) into each MTU. An MTU of ``index`` that the series does not
    fully cover raises ``InputError(file, field, "no data for <MTU> (file covers <first> .. <last>)")``,
    or, where a missing value recorded by ``check_series(missing_ok=True)`` leaves it uncovered,
    ``InputError(file, "line N (timestamp)", "<column>: no value ('n/e'), needed for <field>")``.
    """
    index = utc_index(index)
    if len(index) == 0:
        return pd.Series([], index=index.rename(TIMESTAMP), name=s.name, dtype=float)
    # numpy, not pandas, on ``s``: its attrs (missing values) would be copied by every pandas operation
    known = ~np.isnan(s.to_numpy(dtype=float))
    src_idx = utc_index(pd.DatetimeIndex(s.index)[known])
    src_ns = src_idx.as_unit("ns").asi8
    idx_ns = index.as_unit("ns").asi8
    idx_step = int(np.min(np.diff(idx_ns))) if len(idx_ns) > 1 else pd.Timedelta(index.freq or "60min").value

    # only the source rows around the requested span, with a margin for judging steps
    lo = max(int(np.searchsorted(src_ns, idx_ns[0], side="right")) - 5, 0)
    hi = min(int(np.searchsorted(src_ns, idx_ns[-1] + idx_step, side="left")) + 5, len(src_ns))
    t, v = src_ns[lo:hi], s.to_numpy(dtype=float)[known][lo:hi]
    covered = np.zeros(len(idx_ns), bool)
    out = np.full(len(idx_ns), np.nan)
    if len(t):
        d, regular, dominant = _steps(t)
        step = np.where(regular, d, np.minimum(d, dominant))
        step = np.r_[step, step[-1] if len(step) else idx_step]  # the last row lasts one step too
        grid = int(np.gcd.reduce(np.r_[step, idx_step]))
        k = idx_step // grid
        pts = (idx_ns[:, None] + np.arange(k) * grid).ravel()
        pos = np.searchsorted(t, pts, side="right") - 1
        ok = (pos >= 0) & (pts - t[np.clip(pos, 0, None)] < step[np.clip(pos, 0, None)])
        ok = ok.reshape(len(idx_ns), k)
        covered = ok.all(axis=1)
        out = v[np.clip(pos, 0, None)].reshape(len(idx_ns), k).mean(axis=1)
    if not covered.all():
        first = index[int(np.argmax(~covered))]
        _missing_error(s, int(first.as_unit("ns").value), idx_step, file, field)
        span = f"file covers {iso(src_idx[0])} .. {iso(src_idx[-1])}" if len(src_idx) else "file has no data"
        raise InputError(file, field, f"no data for {iso(first)} ({span})")
    return pd.Series(out, index=index.rename(TIMESTAMP), name=s.name)


def _missing_error(s: pd.Series, start: int, length: int, file, field) -> None:
    """Raise naming the line of a missing value (``check_series(missing_ok=True)``) that overlaps the
    MTU [start, start + length) (ns), if there is one."""
    info = s.attrs.get("missing")
    if not info:
        return
    ns = np.asarray(info["ns"])
    hit = np.flatnonzero((ns < start + length) & (ns + info["step"] > start))
    if len(hit):
        i = int(hit[0])
        text = str(info["text"][i])
        where = f"{info['unit']} {int(info['rows'][i])} ({iso(pd.Timestamp(int(ns[i]), tz='UTC'))})"
        raise InputError(
            file, where, f"{info['field']}: no value{f' ({text!r})' if text.strip() and text.strip() in EMPTY else ''}, needed for {field}"
        )
