"""Read day-ahead price files and other time series from CSV.

``read_price_csv`` reads day-ahead prices in EUR/MWh from any of these files and returns a float
Series ``price_eur_per_mwh`` on a UTC ``DatetimeIndex`` named ``timestamp_utc`` (MTU starts):

1. an ENTSO-E Transparency Platform export (``"MTU (CET/CEST)"``, ``"Day-ahead Price [EUR/MWh]"``,
   ``"Currency"``, ``"BZN|SEx"``) in local CET/CEST time, hourly or 15-minute. The spring-forward
   MTUs are rows with an empty price and are dropped; the autumn-back MTUs appear twice, CEST first
   (or are labelled ``(CEST)``/``(CET)``). The header's ``BZN|SEx`` (or an ``Area`` column of
   ``BZN|SEx`` cells) names the file's bidding zone: with ``zone`` given, another zone is an error;
2. a plain CSV ``timestamp_utc,price_eur_per_mwh`` (ISO 8601; a naive timestamp means UTC, one with
   an offset is converted);
3. a wide UTC table ``start_utc,SE1,SE2,...`` (may be gzip-compressed); ``zone`` picks the column;
4. an Energinet Energi Data Service "Elspotprices" download (``HourUTC``, ``PriceArea``,
   ``SpotPriceEUR``; newest first), filtered to ``zone``; a file without that price area is an error.

A price cell ENTSO-E leaves without a number (``n/e`` for hours not yet published, ``-``, ``N/A``,
empty) is a missing price: NaN in the series, an error only when a command needs that MTU
(``slice_day`` then names the line). Any other text is an error when the file is read.

``read_series_csv`` reads any ``timestamp_utc`` + value-column CSV (load and PV profiles in MW, fee
series) with the same conventions. ``check_series`` is the validation both use; ``slice_day`` puts a
series on the MTUs of a delivery day (holding coarser values, averaging finer ones).

Every problem is an ``InputError`` naming the file and the row as ``line N (timestamp)``, N being the
line an editor shows (from 1, header included; see ``bidopt.data.csv_text``). A row with more fields
than the header (a decimal comma in a comma-separated file) or fewer than the other rows is an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data.csv_text import header_separator, read_text_table
from bidopt.errors import InputError, data_labels
from bidopt.numbers import MAX_ABS_PRICE as MAX_ABS_VALUE  # any value of a data file (EUR/MWh for prices)
from bidopt.time import STOCKHOLM

PRICE = "price_eur_per_mwh"
TIMESTAMP = "timestamp_utc"
MTU_STEPS = tuple(pd.Timedelta(minutes=m).value for m in (15, 30, 60))  # ns; legal resolution changes

_ENTSOE_LABEL = (
    r"^\s*(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2})?"
    r"\s*(?:\((?P<tz>CEST|CET|UTC)\))?\s*-"
)
_EMPTY = {"", "n/e", "N/A", "-"}
_MISSING = {"", "n/e", "n/a", "-"}  # price cells that mean "no price" (compared lower-cased)
_ZONE_LABEL = r"^\s*BZN\s*\|\s*(?P<zone>[A-Za-z0-9_-]+)\s*$"


def _iso(ts) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(rows: np.ndarray, i: int, index=None, unit: str = "row") -> str:
    """``row N (timestamp)``, or ``line N (...)`` with ``unit="line"`` (``rows`` then holds lines)."""
    where = f"{unit} {int(rows[i])}"
    if index is not None and not pd.isna(index[i]):
        where += f" ({_iso(index[i])})"
    return where


def _line(lines: np.ndarray, i: int, index=None) -> str:
    return _row(lines, i, index, unit="line")


# --------------------------------------------------------------------------------------------- reading


def _read_lines(path: str | Path) -> tuple[pd.DataFrame, bool, np.ndarray]:
    """All cells as text, field counts checked; returns (frame, decimal_comma, line of each row).
    The header line decides the separator; semicolon files are read with decimal commas (Mimer)."""
    sep = header_separator(path)
    table = read_text_table(path, sep=sep, skipinitialspace=sep == ",")
    table.check_fields()
    return table.frame, table.sep == ";", table.lines


def _read_table(path: str | Path) -> tuple[pd.DataFrame, bool]:
    """All cells as text; returns (frame, decimal_comma). Semicolon files are read with decimal commas."""
    df, dec, _ = _read_lines(path)
    return df, dec


def _numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """Text cells -> object Series ready for check_series (decimal commas converted)."""
    if decimal_comma:
        values = values.str.replace(",", ".", regex=False)
    return values


def _parse_utc(text: pd.Series, file, column: str, rows: np.ndarray, unit: str = "row") -> pd.DatetimeIndex:
    """ISO 8601 text -> UTC index; naive timestamps are UTC. Unparseable cells raise InputError
    naming ``<unit> N`` from ``rows``."""
    idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce"))
    bad = np.asarray(idx.isna())
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, _row(rows, i, unit=unit), f"{column}: cannot parse timestamp")
    return idx


def _columns_error(file, columns) -> InputError:
    shown = data_labels(columns)
    return InputError(
        file,
        "columns",
        "unrecognised price file: expected an ENTSO-E export (MTU, Day-ahead Price), "
        f"timestamp_utc,{PRICE}, start_utc + zone columns, or Energinet HourUTC,SpotPriceEUR; "
        f"found {shown}",
    )


def read_price_csv(path: str | Path, zone: str | None = None) -> pd.Series:
    """Day-ahead prices (EUR/MWh) from a file in any of the module's formats, on a UTC index.

    ``zone`` (e.g. ``"SE3"``, the case's zone) picks the column of a wide table and filters an
    Energinet file's ``PriceArea``; an ENTSO-E file whose header names another bidding zone, or an
    Energinet file without that price area, is an error. A plain CSV names no zone and is used as it is.
    Missing prices (``n/e``, ``-``, ``N/A``, empty) are NaN; ``slice_day`` refuses them where needed.
    """
    df, dec, lines = _read_lines(path)
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    mtu = next((c for c in cols if c.upper().startswith("MTU")), None)
    entsoe_price = next((c for c in cols if c.lower().startswith("day-ahead price")), None)

    if mtu is not None and entsoe_price is not None:
        _check_entsoe_zone(df, zone, path)
        s = _read_entsoe(df, mtu, entsoe_price, path, dec, lines)
    elif TIMESTAMP in lower and PRICE in lower:
        idx = _parse_utc(df[lower[TIMESTAMP]], path, TIMESTAMP, lines, unit="line")
        s = check_series(_series(_numbers(df[lower[PRICE]], dec), idx), path, PRICE, lines=lines, missing_ok=True)
    elif "start_utc" in lower or (TIMESTAMP in lower and zone in cols):
        tcol = lower.get("start_utc", lower.get(TIMESTAMP))
        zones = [c for c in cols if c != tcol]
        if zone is None or zone not in zones:
            got = "no zone given" if zone is None else f"zone {zone!r} is not a column"
            raise InputError(path, "zone", f"{got}; this table has zones {data_labels(zones)}")
        idx = _parse_utc(df[tcol], path, tcol, lines, unit="line")
        s = check_series(_series(_numbers(df[zone], dec), idx), path, zone, lines=lines, missing_ok=True)
    elif ("hourutc" in lower or "timeutc" in lower) and (
        "spotpriceeur" in lower or "dayaheadpriceeur" in lower
    ):
        s = _read_energinet(df, lower, zone, path, dec, lines)
    else:
        raise _columns_error(path, cols)
    out = s.rename(PRICE)
    out.attrs = s.attrs
    return out


def _series(values, index: pd.DatetimeIndex) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), index=index.rename(TIMESTAMP))


def _zone_name(zone: str) -> str:
    return str(zone).strip().upper()


def _check_entsoe_zone(df: pd.DataFrame, zone: str | None, file) -> None:
    """The bidding zone an ENTSO-E export names (a ``BZN|SE3`` header column, or the cells of an
    ``Area`` column) must be ``zone`` when one is given."""
    if zone is None:
        return
    named: list[tuple[str, str]] = []  # (zone, where it is written)
    for c in df.columns:
        m = re.match(_ZONE_LABEL, c)
        if m:
            named.append((m["zone"], f"header {data_labels([c])}"))
    area = next((c for c in df.columns if c.strip().lower() == "area"), None)
    if area is not None:
        cells = df[area].dropna().astype(str).str.extract(_ZONE_LABEL)["zone"].dropna().unique()
        named += [(z, f"{area} column") for z in cells]
    other = [(z, where) for z, where in named if _zone_name(z) != _zone_name(zone)]
    if other:
        z, where = other[0]
        raise InputError(
            file, "zone",
            f"the file holds prices for bidding zone {data_labels([_zone_name(z)])} ({where}), but the zone asked for "
            f"(case.zone) is {_zone_name(zone)}",
        )


def _read_entsoe(df: pd.DataFrame, mtu: str, price: str, file, dec: bool, lines: np.ndarray) -> pd.Series:
    rows = lines
    label = df[mtu].astype(str)
    parts = label.str.extract(_ENTSOE_LABEL)
    bad = parts["y"].isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, _line(rows, i), f"{mtu}: cannot parse MTU label")
    local = pd.to_datetime(
        {
            "year": parts["y"],
            "month": parts["m"],
            "day": parts["d"],
            "hour": parts["H"],
            "minute": parts["M"],
        },
        errors="coerce",
    )
    bad = local.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, _line(rows, i), f"{mtu}: invalid date in MTU label")
    values = df[price]
    cur = next((c for c in df.columns if c.lower() == "currency"), None)
    if cur is not None:
        other = ~df[cur].fillna("").str.strip().isin(["", "EUR"])
        if other.any():
            i = int(np.argmax(other.to_numpy()))
            raise InputError(file, _line(rows, i), "Currency: expected EUR, found another currency")

    if "UTC" in mtu.upper() and "CET" not in mtu.upper():
        utc = pd.DatetimeIndex(local).tz_localize("UTC")
    else:
        # autumn-back MTUs: a "(CEST)"/"(CET)" suffix decides; without one, the first occurrence of a
        # repeated local label is summer time (CEST), the second winter time (CET)
        occurrence = local.groupby(local).cumcount().to_numpy()
        tz = parts["tz"].to_numpy()
        dst = np.where(pd.isna(tz), occurrence == 0, tz == "CEST")
        utc = (
            pd.DatetimeIndex(local).tz_localize(STOCKHOLM, ambiguous=dst, nonexistent="NaT").tz_convert("UTC")
        )
        missing_time = np.asarray(utc.isna())
        if missing_time.any():
            empty = values.fillna("").str.strip().isin(_EMPTY).to_numpy()
            priced = missing_time & ~empty
            if priced.any():
                i = int(np.argmax(priced))
                raise InputError(
                    file,
                    _line(rows, i),
                    f"{mtu}: local time {label.iloc[i].split(' -')[0].strip()} does not exist "
                    "(clocks go forward) but has a price",
                )
            keep = ~missing_time
            utc, values, rows = utc[keep], values[keep], rows[keep]
    return check_series(_series(_numbers(values, dec), utc), file, price, lines=rows, missing_ok=True)


def _read_energinet(df: pd.DataFrame, lower: dict, zone, file, dec: bool, lines: np.ndarray) -> pd.Series:
    tcol = lower.get("hourutc", lower.get("timeutc"))
    pcol = lower.get("spotpriceeur", lower.get("dayaheadpriceeur"))
    rows = lines
    area = lower.get("pricearea")
    if area is not None:
        areas = sorted(df[area].dropna().str.strip().unique())
        if zone is not None:
            if _zone_name(zone) not in areas:
                held = "price area" + ("s " if len(areas) > 1 else " ") + data_labels(areas)
                raise InputError(
                    file, "zone", f"the file holds prices for {held} ({area}), but the zone asked for "
                    f"(case.zone) is {_zone_name(zone)}",
                )
            keep = (df[area].str.strip() == _zone_name(zone)).to_numpy()
            df, rows = df[keep], rows[keep]
        elif len(areas) > 1:
            raise InputError(file, "zone", f"file holds price areas {data_labels(areas)}; give one as zone")
    idx = _parse_utc(df[tcol], file, tcol, rows, unit="line")
    # newest first by design: put in time order, keep the file's line numbers for messages
    order = np.argsort(idx.asi8, kind="stable")
    s = _series(_numbers(df[pcol], dec).to_numpy()[order], idx[order])
    return check_series(s, file, pcol, lines=rows[order], missing_ok=True)


def read_series_csv(path: str | Path, value_column: str | None = None, name: str = "value",
                    time_column: str = TIMESTAMP) -> pd.Series:
    """A ``timestamp_utc`` + value-column CSV (e.g. MW profiles, fees) as a float Series ``name``.

    ``value_column`` names the column to read; without it the file must have exactly one other column.
    ``time_column`` names the time column (UTC; naive times are read as UTC). Every value must be a
    number.
    """
    return read_series_lines(path, value_column, name, time_column)[0]


def read_series_lines(path: str | Path, value_column: str | None = None, name: str = "value",
                      time_column: str = TIMESTAMP) -> tuple[pd.Series, np.ndarray]:
    """``read_series_csv`` and the file line of each value."""
    df, dec, lines = _read_lines(path)
    cols = list(df.columns)
    if time_column not in cols:
        raise InputError(path, "columns", f"expected a {time_column} column; found {data_labels(cols)}")
    if value_column is None:
        others = [c for c in cols if c != time_column]
        if len(others) != 1:
            what = "no value column" if not others else f"several value columns ({data_labels(others)})"
            raise InputError(path, "columns", f"{what}: expected {TIMESTAMP} and one value column")
        value_column = others[0]
    elif value_column not in cols:
        raise InputError(path, value_column, f"column not found; columns are {data_labels(cols)}")
    idx = _parse_utc(df[time_column], path, time_column, lines, unit="line")
    s = check_series(_series(_numbers(df[value_column], dec), idx), path, value_column, lines=lines)
    return s.rename(name), lines


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
        return _row(rows, i, index, unit=unit)

    if n == 0:
        raise InputError(file, field, "no data rows")
    idx = pd.DatetimeIndex(s.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if idx.isna().any():
        i = int(np.argmax(np.asarray(idx.isna())))
        raise InputError(file, where(i), "missing timestamp")

    raw = s.to_numpy()
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
        raise InputError(file, where(i, idx), f"{field}: missing value")
    bad = ~np.isfinite(values) & ~missing
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(file, where(i, idx), f"{field}: not a number")
    big = np.abs(np.where(missing, 0.0, values)) > MAX_ABS_VALUE
    if big.any():
        i = int(np.argmax(big))
        raise InputError(file, where(i, idx), f"{field}: {values[i]:g} is out of range "
                                              f"(|value| <= {MAX_ABS_VALUE:g})")

    ns = idx.as_unit("ns").asi8
    dup = np.asarray(idx.duplicated())
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.argmax(ns == ns[i]))
        raise InputError(file, where(i, idx), f"duplicate timestamp (same as {unit} {rows[first]})")
    back = np.diff(ns) < 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise InputError(
            file,
            where(i, idx),
            f"rows not in ascending time order ({unit} {rows[i - 1]} is {_iso(idx[i - 1])})",
        )
    d, regular, dominant = _steps(ns)
    if not regular.all():
        i = int(np.argmax(~regular))
        step_min = dominant / 60e9
        at = where(i + 1, idx)
        if d[i] > dominant:
            raise InputError(
                file,
                at,
                f"gap: no data from {_iso(idx[i] + pd.Timedelta(dominant))} "
                f"(previous {unit} {rows[i]} is {_iso(idx[i])}; step {step_min:g} min)",
            )
        raise InputError(
            file,
            at,
            f"irregular step of {d[i] / 60e9:g} min after {unit} {rows[i]} (expected {step_min:g} min)",
        )
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
    index = pd.DatetimeIndex(index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    if len(index) == 0:
        return pd.Series([], index=index.rename(TIMESTAMP), name=s.name, dtype=float)
    # numpy, not pandas, on ``s``: its attrs (missing values) would be copied by every pandas operation
    known = ~np.isnan(s.to_numpy(dtype=float))
    src_idx = pd.DatetimeIndex(s.index)[known]
    src_idx = src_idx.tz_localize("UTC") if src_idx.tz is None else src_idx.tz_convert("UTC")
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
        span = f"file covers {_iso(src_idx[0])} .. {_iso(src_idx[-1])}" if len(src_idx) else "file has no data"
        raise InputError(file, field, f"no data for {_iso(first)} ({span})")
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
        where = f"{info['unit']} {int(info['rows'][i])} ({_iso(pd.Timestamp(int(ns[i]), tz='UTC'))})"
        raise InputError(
            file, where, f"{info['field']}: no value{f' ({text!r})' if text.strip() and text.strip() in _EMPTY else ''}, needed for {field}"
        )
