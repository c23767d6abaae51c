"""Naive local-time CSV files (hourly, first column a local time) as UTC series, such as the Örebro
heat measurements; and reading a data reference that may be such a file, a ``timestamp_utc`` CSV or
``"synthetic"`` (``series_on``, ``column_reader``).

Naive local-time files are converted to UTC by ``read_local_time_csv``: each label is the END of its
hour by default (the Örebro files start at 01:00 and have no value for the hour that does not exist
when clocks go forward), gaps of up to ``max_gap_h`` hours (the DST hours, logger drop-outs) are
interpolated, longer gaps stay NaN (an input error when a horizon touches them).
``read_orebro_heat_demand_mw`` (kW -> MW heat) and ``read_orebro_outdoor_temp_c`` (°C) read the two
Örebro files.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bidopt.data import sources
from bidopt.data.csv_text import read_text_csv
from bidopt.data.series import TIMESTAMP, slice_day
from bidopt.errors import InputError, data_labels
from bidopt.time import STOCKHOLM

KW_PER_MW = 1000.0
_NA = ["#N/A", "N/A", "n/e", "-", ""]


def csv_header(path: Path) -> tuple[list[str], str]:
    """Column names and separator of a CSV (``,`` or ``;``; compressed files too)."""
    try:
        cols = list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
        sep = ","
        if len(cols) == 1 and ";" in str(cols[0]):
            cols, sep = list(pd.read_csv(path, nrows=0, sep=";", encoding="utf-8-sig").columns), ";"
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, None, f"cannot read CSV: {msg}") from None
    return [str(c).strip() for c in cols], sep


def has_utc_column(path: Path) -> bool:
    """Whether the CSV has a ``timestamp_utc`` column (else its first column is naive local time)."""
    return TIMESTAMP in csv_header(path)[0]


def read_local_time_csv(
    path: str | Path,
    tz: str = STOCKHOLM,
    labels: Literal["start", "end"] = "end",
    max_gap_h: int = 6,
) -> pd.DataFrame:
    """A CSV whose first column is a naive local time (hourly), as float columns on a UTC hourly index.

    ``labels = "end"``: a row labelled 01:00 holds the hour 00:00-01:00. Rows whose hour does not
    exist locally (clocks forward) are dropped; a repeated local hour (clocks back) is summer time
    at its first occurrence. Missing cells (``#N/A``, empty) and hours absent from the file are
    interpolated over gaps of at most ``max_gap_h`` hours; longer gaps stay NaN. Values may use a
    decimal comma when the file is ``;`` separated.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    sep = csv_header(p)[1]
    df = read_text_csv(p, sep=sep, keep_default_na=False)
    if len(df.columns) < 2:
        raise InputError(path, "columns", "expected a local time column and at least one value column")
    tcol = df.columns[0]
    text = df[tcol].str.strip()
    keep = (text != "").to_numpy()  # trailing empty rows
    df, text = df[keep], text[keep]
    rows = np.flatnonzero(keep) + 1
    local = pd.to_datetime(text, errors="coerce", format="mixed")
    if local.isna().any():
        i = int(np.argmax(local.isna().to_numpy()))
        raise InputError(path, f"row {rows[i]}", f"{tcol}: cannot parse time")
    if labels == "end":
        local = local - pd.Timedelta(hours=1)
    first_time = (local.groupby(local).cumcount() == 0).to_numpy()
    utc = pd.DatetimeIndex(local).tz_localize(tz, ambiguous=first_time, nonexistent="NaT").tz_convert("UTC")
    exists = ~np.asarray(utc.isna())
    out = {}
    for col in df.columns[1:]:
        cells = df[col].str.strip()
        if sep == ";":
            cells = cells.str.replace(",", ".", regex=False)
        num = pd.to_numeric(cells.where(~cells.isin(_NA)), errors="coerce")
        bad = num.isna().to_numpy() & ~cells.isin(_NA).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(path, f"row {rows[i]}", f"{col}: not a number")
        out[col] = num.to_numpy(float)[exists]
    frame = pd.DataFrame(out, index=utc[exists])
    frame = frame[~frame.index.duplicated(keep="first")].sort_index()
    if frame.empty:
        raise InputError(path, None, "no data rows")
    full = pd.date_range(frame.index[0], frame.index[-1], freq="60min", name=TIMESTAMP)
    frame = frame.reindex(full)
    return frame.interpolate(method="linear", limit=max_gap_h, limit_area="inside")


@lru_cache(maxsize=16)
def _local_table(path: str, mtime: float, tz: str, labels: str, max_gap_h: int) -> pd.DataFrame:
    return read_local_time_csv(path, tz=tz, labels=labels, max_gap_h=max_gap_h)


def local_table(path: Path, tz: str, labels: str, max_gap_h: int) -> pd.DataFrame:
    """``read_local_time_csv``, read once per file version (cached by path and modification time)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return _local_table(str(path), mtime, tz, labels, max_gap_h)


def series_on(case, ref: str, field: str, index: pd.DatetimeIndex, column: str | None, synthetic_fn,
              labels: str, max_gap_h: int) -> np.ndarray:
    """A series per MTU of ``index`` from ``"synthetic"`` (``synthetic_fn(index)``), a
    ``timestamp_utc`` CSV (``sources.profile``) or a naive local-time CSV (one value column, or
    ``column``)."""
    if ref == sources.SYNTHETIC:
        return np.asarray(synthetic_fn(index), dtype=float)
    path = case.resolve(ref)
    if not path.is_file():
        raise InputError(path, field, "file not found")
    if has_utc_column(path):
        return sources.profile(case, ref, field, index, synthetic_fn, column)
    table = local_table(path, case.case.timezone, labels, max_gap_h)
    if column is None:
        if len(table.columns) != 1:
            raise InputError(path, field, f"several value columns ({', '.join(table.columns)}); name one")
        column = table.columns[0]
    if column not in table.columns:
        raise InputError(path, field, f"column {column!r} not found; columns are {data_labels(table.columns)}")
    return slice_day(table[column], index, path, field).to_numpy(float)


def column_reader(case, ref: str, field: str, index: pd.DatetimeIndex, labels: str,
                  max_gap_h: int) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """The value columns of a ``timestamp_utc`` or naive local-time CSV, and a function giving one
    column per MTU of ``index``."""
    path = case.resolve(ref)
    if not path.is_file():
        raise InputError(path, field, "file not found")
    if has_utc_column(path):
        columns = [c for c in csv_header(path)[0] if c != TIMESTAMP]

        def get(c):
            return sources.profile(case, ref, field, index, None, c)
        return columns, get
    table = local_table(path, case.case.timezone, labels, max_gap_h)

    def get_local(c):
        return slice_day(table[c], index, path, field).to_numpy(float)
    return list(table.columns), get_local


def read_orebro_heat_demand_mw(path: str | Path, labels: Literal["start", "end"] = "end") -> pd.DataFrame:
    """The Örebro (Vetelängden) heat file: ``space_heat_mw`` and ``hot_water_mw`` (kW -> MW) on UTC hours."""
    df = read_local_time_csv(path, labels=labels)
    space = next((c for c in df.columns if c.lower().startswith("radiator")), df.columns[0])
    water = next((c for c in df.columns if c.lower().startswith("varmvatten")), None)
    out = pd.DataFrame({"space_heat_mw": df[space] / KW_PER_MW}, index=df.index)
    out["hot_water_mw"] = (df[water] / KW_PER_MW) if water is not None else 0.0
    return out


def read_orebro_outdoor_temp_c(path: str | Path, labels: Literal["start", "end"] = "end") -> pd.Series:
    """The Örebro outdoor temperature file (``;`` separated) as °C on UTC hours."""
    df = read_local_time_csv(path, labels=labels)
    return df.iloc[:, 0].rename("outdoor_temp_c")
