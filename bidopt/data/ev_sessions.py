"""EV charging sessions from files: the Sørensen et al. garage datasets and a plain CSV.

Every reader returns one row per session, sorted by arrival, with the columns

    session_id, garage, user_id, arrival_utc, departure_utc, energy_mwh, max_power_mw

(timestamps tz-aware UTC; ``max_power_mw`` is NaN where the file does not give it, and the asset's
charger power applies). ``df.attrs`` tells what was read and dropped: ``rows`` (data rows in the
file), ``dropped_no_plugout`` (sessions without a plug-out time, which cannot be planned) and
``dropped_zero_duration``. ``inline_table`` makes the same table of the sessions a case file lists,
and ``session_layout`` puts a table on a horizon: the (session, MTU) pairs with their overlap.

Formats
-------
``sorensen2024``: Sørensen et al., Data in Brief 2024, 12 Norwegian garages. ``;`` separator,
decimal comma, columns ``location;user_id;session_id;plugin_time;plugout_time;connection_time;
energy_session`` with times ``YYYY-MM-DD HH:MM:SS`` in local Norwegian time and energy in kWh.
The garage is ``location``.

``sorensen2021``: Sørensen et al., Mendeley Data 2021, Trondheim. ``;`` separator, decimal comma,
``session_ID;Garage_ID;User_ID;...;Start_plugin;...;End_plugout;...;El_kWh;Duration_hours;...``
with times ``dd.mm.yyyy HH:MM`` in local Norwegian time. The garage is ``Garage_ID``.

``csv``: ``arrival_utc``, ``departure_utc`` (ISO 8601; naive = UTC), ``energy_mwh`` or
``energy_kwh``, optionally ``session_id``, ``garage``, ``max_power_mw`` or ``max_power_kw``.
A plain file is the user's own: a bad row is an InputError naming the row.

Local time (Sørensen files) -> UTC, with the quirks of the real files:

- a time that does not exist (spring-forward gap) moves forward to the first valid instant;
- a time that occurs twice (autumn-back hour) takes the occurrence that makes the plug-in duration
  closest to the file's own duration column (``connection_time`` / ``Duration_hours``); on a tie,
  the first (summer time) occurrence;
- a missing plug-out time drops the session (counted in ``dropped_no_plugout``);
- in ``sorensen2021`` times are whole minutes, so a short session can show plug-out == plug-in; its
  departure is plug-in + ``Duration_hours`` (which has seconds). Sessions still not longer than
  zero are dropped (``dropped_zero_duration``).

The duration columns are otherwise not used: the timestamps are the record (around 2019-06-22 and
at DST changes the files' durations differ from their timestamps by whole hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data.csv_text import read_text_csv
from bidopt.errors import InputError, data_labels
from bidopt.time import utc_timestamp

FORMATS = ("sorensen2024", "sorensen2021", "csv")
NORWAY = "Europe/Oslo"
TOL = 1e-9  # hours: a session overlapping an MTU by less than this does not touch it
COLUMNS = ["session_id", "garage", "user_id", "arrival_utc", "departure_utc", "energy_mwh", "max_power_mw"]



def read_sessions(
    path: str | Path,
    fmt: str = "sorensen2024",
    *,
    garage: str | list[str] | None = None,
    start=None,
    end=None,
    max_sessions: int | None = None,
    tz: str = NORWAY,
) -> pd.DataFrame:
    """Sessions from ``path`` in format ``fmt``, optionally filtered.

    Filters, applied in this order: ``garage`` (one id or a list; Sørensen ``location`` /
    ``Garage_ID``, plain-CSV ``garage``), the window [``start``, ``end``) (keep sessions plugged
    in at some time inside it; naive = UTC), then the first ``max_sessions`` by arrival.
    ``tz`` is the local time zone of the Sørensen files.
    """
    if fmt not in FORMATS:
        raise InputError(path, "sessions_format", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    full = _read_cached(str(p), fmt, tz, p.stat().st_mtime)
    df = full
    if garage is not None:
        wanted = [garage] if isinstance(garage, str) else list(garage)
        df = df[df["garage"].isin(wanted)]
        if df.empty:
            known = ", ".join(sorted(full["garage"].dropna().unique())[:30])
            raise InputError(path, "garage", f"no sessions for garage {garage!r}; garages in the file: {data_labels(known.split(', '))}")
    if start is not None:
        df = df[df["departure_utc"] > utc_timestamp(start)]
    if end is not None:
        df = df[df["arrival_utc"] < utc_timestamp(end)]
    if max_sessions is not None:
        df = df.iloc[: int(max_sessions)]
    out = df.reset_index(drop=True).copy()
    out.attrs = dict(full.attrs)
    return out


@lru_cache(maxsize=16)
def _read_cached(path: str, fmt: str, tz: str, mtime: float) -> pd.DataFrame:
    if fmt == "sorensen2024":
        return _sorensen(path, tz, "sorensen2024")
    if fmt == "sorensen2021":
        return _sorensen(path, tz, "sorensen2021")
    return _plain(path)


# ------------------------------------------------------------------------------------------ helpers


def _read_text(path: str, sep: str | None) -> pd.DataFrame:
    if sep is None:  # plain CSV: comma, or semicolon if that is what the header uses
        df = read_text_csv(path, keep_default_na=False)
        if len(df.columns) == 1 and ";" in str(df.columns[0]):
            df = read_text_csv(path, keep_default_na=False, sep=";")
    else:
        df = read_text_csv(path, keep_default_na=False, sep=sep)
    return df.apply(lambda c: c.str.strip())


def _require(df: pd.DataFrame, cols: list[str], path: str, fmt: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(path, "columns", f"not a {fmt} file: missing column(s) {', '.join(missing)}; "
                         f"found {', '.join(df.columns[:10])}")


def _empty(text: pd.Series) -> np.ndarray:
    return text.isin(["", "NA", "NaN", "nan", "null"]).to_numpy()


def _number(text: pd.Series, path: str, column: str, decimal_comma: bool, allow_empty: bool = False) -> np.ndarray:
    t = text.str.replace(",", ".", regex=False) if decimal_comma else text
    v = pd.to_numeric(t, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(v) & ~(_empty(text) if allow_empty else False)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, f"row {i + 1}", f"{column}: not a number")
    return v


def _naive_times(text: pd.Series, fmt: str, path: str, column: str, allow_empty: bool) -> pd.Series:
    empty = _empty(text)
    t = pd.to_datetime(text.where(~empty, None), format=fmt, errors="coerce")
    bad = t.isna().to_numpy() & ~(empty if allow_empty else np.zeros(len(t), bool))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, f"row {i + 1}", f"{column}: cannot parse time (expected {fmt})")
    return t


def _localize(naive: pd.Series, tz: str, dst: bool) -> pd.Series:
    flags = np.full(len(naive), dst, dtype=bool)
    return naive.dt.tz_localize(tz, ambiguous=flags, nonexistent="shift_forward").dt.tz_convert("UTC")


def local_to_utc(plug_in: pd.Series, plug_out: pd.Series, tz: str, duration_h: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Naive local plug-in/plug-out times -> UTC, resolving the autumn-back hour by ``duration_h``."""
    in_s, in_w = _localize(plug_in, tz, True), _localize(plug_in, tz, False)
    out_s, out_w = _localize(plug_out, tz, True), _localize(plug_out, tz, False)
    arr, dep = in_s.copy(), out_s.copy()
    dur = np.where(np.isnan(duration_h), np.inf, duration_h)

    def hours(a, d):
        return ((d - a).dt.total_seconds() / 3600.0).to_numpy()

    amb_in = (in_s != in_w).to_numpy()
    if amb_in.any():
        take_w = amb_in & (np.abs(hours(in_w, dep) - dur) < np.abs(hours(in_s, dep) - dur))
        arr = arr.where(~take_w, in_w)
    amb_out = (out_s != out_w).fillna(False).to_numpy(dtype=bool)
    if amb_out.any():
        take_w = amb_out & (np.abs(hours(arr, out_w) - dur) < np.abs(hours(arr, out_s) - dur))
        dep = dep.where(~take_w, out_w)
    return arr, dep


def _finish(df: pd.DataFrame, rows: int, no_plugout: int, zero: int) -> pd.DataFrame:
    df = df[COLUMNS].sort_values(["arrival_utc", "session_id"], kind="stable").reset_index(drop=True)
    dup = df["session_id"].duplicated(keep=False)
    if dup.any():
        # ids must identify sessions in results and errors: suffix repeats (none in the real files)
        n = df.groupby("session_id").cumcount()
        df.loc[dup, "session_id"] = df.loc[dup, "session_id"] + "#" + (n[dup] + 1).astype(str)
    df.attrs = {"rows": rows, "dropped_no_plugout": no_plugout, "dropped_zero_duration": zero}
    return df


def _keep(arr: pd.Series, dep: pd.Series, extra_h: np.ndarray | None = None):
    """(mask of usable rows, departure) — drop missing plug-outs, mend truncated short sessions."""
    no_out = dep.isna().to_numpy()
    if extra_h is not None:
        short = ~no_out & (dep <= arr).to_numpy() & (extra_h > 0)
        if short.any():
            mended = arr + pd.to_timedelta(np.round(np.where(short, extra_h, 0.0) * 3600.0), unit="s")
            dep = dep.where(~short, mended)
    zero = ~no_out & (dep <= arr).fillna(False).to_numpy(dtype=bool)
    return ~no_out & ~zero, dep, int(no_out.sum()), int(zero.sum())


# ------------------------------------------------------------------------------------------ formats


@dataclass(frozen=True)
class _Layout:
    """Where one Sørensen file keeps each field, and how it writes times."""

    session: str
    garage: str
    user: str
    plug_in: str
    plug_out: str
    hours: str
    kwh: str
    time_format: str
    mend_with_duration: bool  # same-minute plug-in/out: take the departure from the duration column


_LAYOUTS = {
    "sorensen2024": _Layout("session_id", "location", "user_id", "plugin_time", "plugout_time", "connection_time",
                            "energy_session", "%Y-%m-%d %H:%M:%S", False),
    "sorensen2021": _Layout("session_ID", "Garage_ID", "User_ID", "Start_plugin", "End_plugout", "Duration_hours",
                            "El_kWh", "%d.%m.%Y %H:%M", True),
}


def _sorensen(path: str, tz: str, fmt: str) -> pd.DataFrame:
    c = _LAYOUTS[fmt]
    raw = _read_text(path, ";")
    _require(raw, [c.garage, c.user, c.session, c.plug_in, c.plug_out, c.hours, c.kwh], path, fmt)
    plug_in = _naive_times(raw[c.plug_in], c.time_format, path, c.plug_in, allow_empty=False)
    plug_out = _naive_times(raw[c.plug_out], c.time_format, path, c.plug_out, allow_empty=True)
    dur = _number(raw[c.hours], path, c.hours, True, allow_empty=True)
    kwh = _number(raw[c.kwh], path, c.kwh, True)
    arr, dep = local_to_utc(plug_in, plug_out, tz, dur)
    keep, dep, no_out, zero = _keep(arr, dep, np.nan_to_num(dur, nan=0.0) if c.mend_with_duration else None)
    df = pd.DataFrame({
        "session_id": raw[c.session].astype(str),
        "garage": raw[c.garage].astype(str),
        "user_id": raw[c.user].astype(str),
        "arrival_utc": arr,
        "departure_utc": dep,
        "energy_mwh": kwh / 1000.0,
        "max_power_mw": np.nan,
    })[keep]
    return _finish(df, len(raw), no_out, zero)


def _pick(cols, *names):
    lower = {c.lower(): c for c in cols}
    return next((lower[n] for n in names if n in lower), None)


def _plain(path: str) -> pd.DataFrame:
    raw = _read_text(path, None)
    dec = False
    cols = list(raw.columns)
    c_arr = _pick(cols, "arrival_utc", "arrival")
    c_dep = _pick(cols, "departure_utc", "departure")
    c_mwh, c_kwh = _pick(cols, "energy_mwh"), _pick(cols, "energy_kwh")
    if c_arr is None or c_dep is None or (c_mwh is None and c_kwh is None):
        raise InputError(path, "columns", "expected columns arrival_utc, departure_utc and energy_mwh (or energy_kwh); "
                         f"found {', '.join(cols[:10])}")
    rows = np.arange(1, len(raw) + 1)

    def times(col):
        t = pd.to_datetime(raw[col], utc=True, format="ISO8601", errors="coerce")
        bad = t.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(path, f"row {rows[i]}", f"{col}: cannot parse timestamp")
        return t

    arr, dep = times(c_arr), times(c_dep)
    energy = _number(raw[c_mwh], path, c_mwh, dec) if c_mwh else _number(raw[c_kwh], path, c_kwh, dec) / 1000.0
    c_pmw, c_pkw = _pick(cols, "max_power_mw"), _pick(cols, "max_power_kw")
    if c_pmw:
        power = _number(raw[c_pmw], path, c_pmw, dec, allow_empty=True)
    elif c_pkw:
        power = _number(raw[c_pkw], path, c_pkw, dec, allow_empty=True) / 1000.0
    else:
        power = np.full(len(raw), np.nan)
    checks = [
        ((dep <= arr).to_numpy(), lambda i: f"{c_dep}: departure {dep.iloc[i].isoformat()} is not after arrival "
                                            f"{arr.iloc[i].isoformat()}"),
        (energy < 0, lambda i: f"energy: negative ({energy[i]} MWh)"),
        (power <= 0, lambda i: f"max_power: must be positive (got {power[i]} MW)"),
    ]
    for bad, msg in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(path, f"row {rows[i]}", msg(i))
    c_id, c_garage, c_user = _pick(cols, "session_id", "id"), _pick(cols, "garage", "garage_id"), _pick(cols, "user_id")
    df = pd.DataFrame({
        "session_id": raw[c_id].astype(str) if c_id else pd.Series([f"s{i}" for i in rows]),
        "garage": raw[c_garage].astype(str) if c_garage else "",
        "user_id": raw[c_user].astype(str) if c_user else "",
        "arrival_utc": arr,
        "departure_utc": dep,
        "energy_mwh": energy,
        "max_power_mw": power,
    })
    return _finish(df, len(raw), 0, 0)


def inline_table(sessions) -> pd.DataFrame:
    """Sessions given in the case file (``arrival``, ``departure``, ``energy_mwh``, ``max_power_mw``,
    ``id``) as a session table (``COLUMNS``); ids default to s1, s2, ..."""
    ss = sessions
    return pd.DataFrame({
        "session_id": [s.id if s.id is not None else f"s{i + 1}" for i, s in enumerate(ss)],
        "garage": "",
        "user_id": "",
        "arrival_utc": pd.to_datetime([s.arrival for s in ss], utc=True),
        "departure_utc": pd.to_datetime([s.departure for s in ss], utc=True),
        "energy_mwh": np.array([s.energy_mwh for s in ss], dtype=float),
        "max_power_mw": np.array([np.nan if s.max_power_mw is None else s.max_power_mw for s in ss], dtype=float),
    })


def session_layout(df: pd.DataFrame, h0: pd.Timestamp, dt_h: float, n: int, charger_power_mw: float,
                   garage_max_power_mw: float | None) -> dict:
    """Sessions inside the horizon of ``n`` MTUs of ``dt_h`` hours from ``h0`` (UTC), and the sparse
    (session, MTU) pairs with their overlap: powers in MW (a session without its own
    ``max_power_mw`` charges at ``charger_power_mw``, all capped at ``garage_max_power_mw``), energy
    in MWh."""
    a = ((df["arrival_utc"] - h0).dt.total_seconds() / 3600.0).to_numpy(float)
    d = ((df["departure_utc"] - h0).dt.total_seconds() / 3600.0).to_numpy(float)
    span = n * dt_h
    a_in, d_in = np.clip(a, 0.0, span), np.clip(d, 0.0, span)
    inside = d_in - a_in > TOL
    df = df[inside].reset_index(drop=True)
    a, d, a_in, d_in = a[inside], d[inside], a_in[inside], d_in[inside]
    power = df["max_power_mw"].fillna(charger_power_mw).to_numpy(float)
    if garage_max_power_mw is not None:
        power = np.minimum(power, garage_max_power_mw)
    hours = d - a
    hours_in = d_in - a_in
    energy = df["energy_mwh"].to_numpy(float)
    need = energy * hours_in / hours
    # sparse pairs: MTUs t0..t1 of each session
    t0 = np.floor(a_in / dt_h + TOL).astype(int)
    t1 = np.minimum(np.ceil(d_in / dt_h - TOL).astype(int) - 1, n - 1)
    t1 = np.maximum(t1, t0)
    counts = t1 - t0 + 1
    ps = np.repeat(np.arange(len(df)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(df) else np.zeros(0, int)
    pt = t0[ps] + (np.arange(int(counts.sum())) - first[ps])
    overlap = np.minimum(d_in[ps], (pt + 1) * dt_h) - np.maximum(a_in[ps], pt * dt_h)
    keep = overlap > TOL
    ps, pt, overlap = ps[keep], pt[keep], overlap[keep]
    frac = np.minimum(overlap / dt_h, 1.0)
    ids = df["session_id"].astype(str).tolist()
    labels = [f"session_{i}" if i.isdigit() else i for i in ids]  # an int index would read as an MTU
    avail = power[ps] * frac
    # grid energy the car can still take from MTU t on (suffix sums within each session)
    e_avail = avail * dt_h
    tot = np.bincount(ps, weights=e_avail, minlength=len(df))
    before = np.cumsum(e_avail) - e_avail - np.concatenate([[0.0], np.cumsum(tot)[:-1]])[ps]
    future = tot[ps] - before
    table = pd.DataFrame({
        "session_id": ids,
        "label": labels,
        "garage": df["garage"].to_numpy(),
        "arrival_utc": df["arrival_utc"].to_numpy(),
        "departure_utc": df["departure_utc"].to_numpy(),
        "energy_mwh": energy,
        "max_power_mw": power,
        "hours": hours,
        "hours_in_horizon": hours_in,
        "energy_required_mwh": need,
    })
    return {"sessions": table, "pair_s": ps, "pair_t": pt, "frac": frac, "avail_mw": avail,
            "future_mwh": future, "dt_h": dt_h, "n": n}
