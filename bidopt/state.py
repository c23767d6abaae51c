"""Today's state for one plan or bid, given from outside the case file.

A case file holds the state a day starts from in its specs: a battery's ``soc_initial_mwh``, a peak
tariff's ``peaks_so_far_mw`` (the month's weighted peaks already set). A trader planning every
morning should not edit the TOML each day; ``with_state`` returns a copy of the case with that state
set, and is what ``bidopt plan/bid --soc NAME=MWH --peaks-so-far FILE`` call::

    case = bidopt.with_state(case, day="2024-03-14", soc={"bess": 0.2}, peaks_so_far="peaks.csv")
    res = bidopt.plan(case, day="2024-03-14")
    res = bidopt.plan(case, day="2024-03-14", soc={"bess": 0.2}, peaks_so_far="peaks.csv")  # the same

``soc``: {asset name: MWh}, for assets that store energy (``soc_state``: batteries); the value must
lie in the asset's SoC window. ``peaks_so_far``: this month's hourly mean imports so far (MW), as

* a CSV file (``peaks_csv_format``): ``timestamp_utc`` (UTC start of the hour, ISO 8601; no offset =
  UTC) and ``power_mw`` (or ``power_kw``): the month's metered hours so far, or just its highest
  ones; each ``peak_power`` tariff of the case takes from them what it counts (its window, hour
  weights, one value per day if so, the N largest);
* a pandas Series of MW on a UTC hour-start index (the same, built in code);
* a list of MW values: the weighted peaks themselves, set as every peak tariff's ``peaks_so_far_mw``.

With ``day``, the file's hours must lie in the day's local month before the day starts (peaks set
later, or in another month, do not belong to this day's month-to-date bill). Errors are
``InputError``: for ``soc`` the field is ``soc.<name>``, for a file the file and its ``line N``,
otherwise ``peaks_so_far``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt import time as btime
from bidopt.case import Case
from bidopt.errors import InputError, data_labels

PEAK_KIND = "peak_power"
KW_PER_MW = 1000.0


def storage_assets(case: Case) -> dict:
    """{name: (field, lowest, highest, start)} of the case's assets that store energy (``soc_state``)."""
    out = {}
    for a in case.assets:
        st = a.soc_state() if hasattr(a, "soc_state") else None
        if st is not None:
            out[a.name] = st
    return out


def initial_state(case: Case) -> dict:
    """The state a plan of ``case`` starts from, for summary.json: each storage asset's initial SoC
    (MWh) and each peak tariff's peaks so far (MW, weighted)."""
    out: dict = {"soc_initial_mwh": {n: float(st[3]) for n, st in storage_assets(case).items()}}
    peaks = {t.name or t.kind: [float(v) for v in t.peaks_so_far_mw] for t in case.tariffs if t.kind == PEAK_KIND}
    if peaks:
        out["peaks_so_far_mw"] = peaks
    return out


def with_state(case: Case, day=None, soc: dict | None = None, peaks_so_far=None) -> Case:
    """A copy of ``case`` starting from the given state (module docstring); ``case`` is unchanged."""
    assets = list(case.assets)
    if soc:
        stores = storage_assets(case)
        known = ", ".join(stores) or "none"
        by_name = {a.name: i for i, a in enumerate(assets)}
        for name, value in soc.items():
            field = f"soc.{name}"
            if name not in by_name:
                raise InputError(case.label, field, f"no asset '{name}' in the case (storage assets: {known})")
            if name not in stores:
                raise InputError(case.label, field, f"asset '{name}' ({assets[by_name[name]].kind}) stores no energy "
                                 f"(storage assets: {known})")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise InputError(case.label, field, f"not a number: {value!r}") from None
            key, lo, hi, _ = stores[name]
            if not np.isfinite(v) or not lo - 1e-9 <= v <= hi + 1e-9:
                raise InputError(case.label, field, f"{value} MWh is outside the SoC window [{lo:g}, {hi:g}] MWh of '{name}'")
            a = assets[by_name[name]].model_copy()
            setattr(a, key, min(max(v, lo), hi))
            assets[by_name[name]] = a
    tariffs = list(case.tariffs)
    if peaks_so_far is not None:
        peak = [i for i, t in enumerate(tariffs) if t.kind == PEAK_KIND]
        if not peak:
            raise InputError(case.label, "peaks_so_far", "the case has no peak_power tariff to take peaks so far")
        if day is not None:
            day = btime.DeliveryDay.parse(day, case.case.timezone)  # once, for every row's check
        if isinstance(peaks_so_far, str | Path):
            hourly = read_peaks_csv(peaks_so_far, case, day)
        elif isinstance(peaks_so_far, pd.Series):
            hourly = _check_series(peaks_so_far, case, day)
        else:
            hourly = None
            values = _weighted_values(peaks_so_far)
        for i in peak:
            t = tariffs[i].model_copy()
            t.peaks_so_far_mw = t.prior_from_hours(case, hourly) if hourly is not None else values
            tariffs[i] = t
    if not soc and peaks_so_far is None:
        return case
    return case.model_copy(update={"assets": assets, "tariffs": tariffs})


def _weighted_values(values) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(None, "peaks_so_far", "give a CSV path, a Series of MW by UTC hour, or a list of MW values") from None
    bad = [v for v in out if not np.isfinite(v) or v < 0]
    if bad:
        raise InputError(None, "peaks_so_far", f"a peak must be a number >= 0 MW (got {bad[0]})")
    return out


def _month_bounds(case: Case, day) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC start of ``day``'s local month and UTC start of ``day``."""
    d = btime.day_of(day)
    first = btime.day_bounds_utc(dt.date(d.year, d.month, 1), case.case.timezone)[0]
    return first, btime.day_bounds_utc(d, case.case.timezone)[0]


def _check_series(s: pd.Series, case: Case, day) -> pd.Series:
    idx = pd.DatetimeIndex(s.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    v = pd.to_numeric(pd.Series(s.to_numpy(), index=idx), errors="coerce")
    for i, (ts, x) in enumerate(zip(idx, v.to_numpy(float), strict=True)):
        _check_row(ts, x, idx[:i], case, day, None, f"peaks_so_far[{ts.isoformat()}]")
    return v


def _check_row(ts: pd.Timestamp, value: float, earlier, case: Case, day, file, where: str) -> None:
    if not np.isfinite(value) or value < 0:
        raise InputError(file, where, f"power must be a number >= 0 (got {value})")
    if ts != ts.floor("h"):
        raise InputError(file, where, f"{ts:%Y-%m-%dT%H:%M}Z is not the start of an hour (give hourly mean imports)")
    if ts in earlier:
        raise InputError(file, where, f"hour {ts:%Y-%m-%dT%H:%M}Z is given twice")
    if day is not None:
        first, start = _month_bounds(case, day)
        if not first <= ts < start:
            raise InputError(file, where, f"hour {ts:%Y-%m-%dT%H:%M}Z is not in the local month of {btime.day_of(day)} "
                             f"before that day ({first:%Y-%m-%dT%H:%M}Z .. {start:%Y-%m-%dT%H:%M}Z)")


def _read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (line number, cells) of each non-blank row of a small CSV (``,`` or ``;``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, None, f"cannot read CSV: {e}") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    reader = csv.reader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
    header, rows, end = None, [], 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record or all(not c.strip() for c in record):
                continue
            if header is None:
                header = [c.strip() for c in record]
            else:
                rows.append((start, record))
    except csv.Error as e:
        raise InputError(path, f"line {reader.line_num}", f"cannot read CSV: {e}") from None
    if header is None:
        raise InputError(path, None, "empty file")
    return header, rows


def read_peaks_csv(path: str | Path, case: Case, day=None) -> pd.Series:
    """A peaks-so-far CSV (module docstring) as MW by UTC hour start; InputError naming the file and
    ``line N`` (or the missing column)."""
    if day is not None:
        day = btime.DeliveryDay.parse(day, case.case.timezone)
    header, rows = _read_rows(path)
    cols = {c.strip().lower(): i for i, c in enumerate(header)}
    if "timestamp_utc" not in cols:
        raise InputError(path, "timestamp_utc", f"column missing (columns: {data_labels(header)}; expected "
                         "timestamp_utc and power_mw or power_kw)")
    unit = next((u for u in ("power_mw", "power_kw") if u in cols), None)
    if unit is None:
        raise InputError(path, "power_mw", f"column missing (columns: {data_labels(header)}; expected power_mw or power_kw)")
    scale = 1.0 if unit == "power_mw" else 1.0 / KW_PER_MW
    stamps, values = [], []
    for line, cells in rows:
        where = f"line {line}"
        if len(cells) != len(header):
            raise InputError(path, where, f"{len(cells)} fields, but the header has {len(header)}")
        text, raw = cells[cols["timestamp_utc"]], cells[cols[unit]]
        try:
            ts = pd.Timestamp(str(text).strip())
            if pd.isna(ts):
                raise ValueError
        except ValueError:
            raise InputError(path, where, "timestamp_utc: not a time (ISO 8601, e.g. 2024-03-05T08:00:00Z)") from None
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        try:
            x = float(str(raw).strip()) * scale
        except ValueError:
            raise InputError(path, where, f"{unit}: not a number") from None
        _check_row(ts, x, stamps, case, day, path, where)
        stamps.append(ts)
        values.append(x)
    return pd.Series(values, index=pd.DatetimeIndex(stamps, name="timestamp_utc"), dtype=float)

