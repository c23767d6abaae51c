"""Resolve a case's data references to series on a horizon.

A reference is a CSV path (relative to the case file) or the word ``synthetic``, which asks the
seeded demo generator (``bidopt.data.synthetic``) for the same MTUs. Files are read once per process
and cached, so planning many days from one file does not re-parse it.

Synthetic series can be preloaded for a backtest (``bidopt.data.preload``, whose ``preloaded``,
``preload`` and ``clear_preload`` are imported here): inside ``with preloaded(case, index):``
``dayahead_prices`` and synthetic ``profile`` calls are sliced from one series generated once.

What a backtest day read (``bidopt.backtest.engine`` checkpoints): inside ``with recording() as
log:`` every file slice the readers here return (day-ahead, intraday and reserve prices, CSV
profiles) is recorded as reader, file, arguments, UTC MTU starts and a hash of the values (or of
the error); ``replay(log.records())`` tells whether the files still give the same values.
``data_files(case)`` lists every file any string of the case names, ``file_digest`` hashes one.
An audit hook notes every file this process opens for reading other than through these readers;
``read_unrecorded(path)`` is true for such a file (its content then counts whole). Parsed files are
cached by (mtime ns, size, inode), and emptied when ``file_digest`` sees a file's content change.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data import prices as price_files
from bidopt.data import synthetic
from bidopt.data.preload import (  # noqa: F401  (preload, preloaded, clear_preload: used as sources.*)
    Preload,
    clear_preload,
    preload,
    preloaded,
    preloaded_prices,
    preloaded_profile,
)
from bidopt.data.synthetic import SYNTHETIC
from bidopt.errors import InputError


@lru_cache(maxsize=64)
def _read_prices(path: str, zone: str | None, stat: tuple) -> pd.Series:
    return price_files.read_price_csv(path, zone=zone)


@lru_cache(maxsize=64)
def _read_series(path: str, column: str | None, stat: tuple, time_column: str = price_files.TIMESTAMP) -> pd.Series:
    return price_files.read_series_csv(path, value_column=column, time_column=time_column)


@lru_cache(maxsize=64)
def _read_reserve(path: str, product: str, stat: tuple) -> pd.Series:
    from bidopt.data import reserve_prices as reserve_files

    return reserve_files.read_reserve_prices(path, product)


@lru_cache(maxsize=16)
def _read_afrr(paths: tuple[str, ...], zone: str, stats: tuple) -> pd.DataFrame:
    from bidopt.data import reserve_prices as reserve_files

    return reserve_files.read_mimer_afrr_files(paths, zone)


def afrr_prices(case, refs, zone: str, hour_starts: pd.DatetimeIndex) -> pd.DataFrame:
    """aFRR capacity prices (EUR/MW/h) and procured volumes (MW) per UTC hour of ``hour_starts``
    (columns ``up_price_eur_per_mw_h, up_volume_mw, down_price_eur_per_mw_h, down_volume_mw``) from
    Svenska kraftnät Mimer aFRR exports ``refs`` (paths relative to the case), for ``zone``; NaN in
    hours no file covers. The files are parsed once per process (not recorded slices: a backtest
    checkpoint counts their whole content, ``read_unrecorded``)."""
    paths = tuple(str(case.resolve(r)) for r in refs)
    df = _read_afrr(paths, zone, tuple(_stat(Path(p)) for p in paths))
    return df.reindex(hour_starts)


def _stat(p: Path) -> tuple:
    """The cache key of a file's parsed content: modification time (ns), size and inode."""
    try:
        st = p.stat()
    except OSError:
        return (0, -1, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# the readers of whole series whose per-MTU slices a backtest day records and replays (module
# docstring): name -> (the series of a file for the reader's arguments)
_READERS: dict[str, Callable[..., pd.Series]] = {
    "prices": lambda path, zone: _read_prices(path, zone, _stat(Path(path))),
    "series": lambda path, column, time_column: _read_series(path, column, _stat(Path(path)), time_column),
    "reserve": lambda path, product: _read_reserve(path, product, _stat(Path(path))),
}


def dayahead_prices(case, index: pd.DatetimeIndex) -> np.ndarray:
    """Day-ahead price per MTU of ``index`` in EUR/MWh."""
    ref = case.prices.dayahead
    if ref == SYNTHETIC:
        if case.case.zone not in synthetic.ZONES:
            raise InputError(case.label, "case.zone", f"no synthetic prices for zone {case.case.zone!r}; "
                             f"known: {', '.join(sorted(synthetic.ZONES))}")
        hit = preloaded_prices(case, index)
        if hit is not None:
            return hit
        return synthetic.dayahead_prices(index, zone=case.case.zone, seed=case.synthetic.seed).to_numpy(float)
    return price_series(case, ref, "prices.dayahead", index)


def price_series(case, ref: str, field: str, index: pd.DatetimeIndex) -> np.ndarray:
    """Any price file in the day-ahead formats, on ``index`` (EUR/MWh)."""
    return _sliced("prices", case.resolve(ref), (case.case.zone,), index, field)


def profile(case, ref: str, field: str, index: pd.DatetimeIndex, synthetic_fn, column: str | None = None,
            time_column: str | None = None) -> np.ndarray:
    """A MW profile per MTU: from a CSV (timestamp_utc + one value column) or the synthetic generator."""
    if ref == SYNTHETIC:
        hit = preloaded_profile(case, field, index, synthetic_fn)
        if hit is not None:
            return hit
        return synthetic_fn(index).to_numpy(float)
    return _sliced("series", case.resolve(ref), (column, time_column or price_files.TIMESTAMP), index, field)


def reserve_price_field(case, product: str, auction: int = 1) -> str:
    """The ``[prices]`` key holding a reserve product's clearing prices in an FCR auction: auction 2
    has its own ``<product>_auction2`` key, and falls back to the auction-1 series (a proxy)."""
    if auction == 2 and getattr(case.prices, f"{product}_auction2", None):
        return f"{product}_auction2"
    return product


def reserve_prices(case, product: str, hour_starts: pd.DatetimeIndex, auction: int = 1) -> np.ndarray:
    """Capacity price of a reserve product per UTC hour (EUR/MW/h) from ``[prices] <product>`` (or,
    for FCR auction 2, ``<product>_auction2`` when given)."""
    key = reserve_price_field(case, product, auction)
    path = case.resolve(getattr(case.prices, key))
    return _sliced("reserve", path, (product,), hour_starts, f"prices.{key}")


# --------------------------------------------------------------------------------------------------
# what a backtest day read: recorded slices, replayed to check them; every other file opened

# paths opened in this process by anything but the recorded readers (the audit hook below), in order
_OPENED_SEEN: set[str] = set()
_OPENED_NEW: list[str] = []
_OPENED_REAL: set[str] = set()  # their real paths, resolved lazily
_OWN_READ: contextvars.ContextVar[bool] = contextvars.ContextVar("bidopt_own_read", default=False)


def _audit(event: str, args: tuple) -> None:
    # runs on every audit event of the process: cheap, and never raises
    if event != "open" or _OWN_READ.get():
        return
    try:
        path, mode, flags = args
        if isinstance(mode, str):
            if "+" not in mode and ("w" in mode or "a" in mode or "x" in mode):
                return  # writing is not reading
        elif isinstance(flags, int) and flags & 3 == os.O_WRONLY:
            return
        if isinstance(path, str | bytes | os.PathLike):
            path = os.fsdecode(path)
            if path not in _OPENED_SEEN:
                _OPENED_SEEN.add(path)
                _OPENED_NEW.append(path)
    except Exception:  # noqa: BLE001 - an audit hook must not break the open it watches
        pass


sys.addaudithook(_audit)  # once per process, at import, before any bidopt reader can cache a file


_RECORDING = [0]  # recording() blocks open in this process, in any thread
_UNRECORDED: set[str] = set()  # files sliced outside any recording while one was open (another thread)


def read_unrecorded(path: str | Path) -> bool:
    """Whether ``path`` was read in this process other than through recorded slices: opened by
    anything but this module's readers (and ``file_digest``), or sliced outside a recording while
    one was open. A backtest day's result depends on such a file beyond the slices it recorded."""
    while _OPENED_NEW:
        _OPENED_REAL.add(os.path.realpath(_OPENED_NEW.pop()))
    real = os.path.realpath(path)
    return real in _OPENED_REAL or real in _UNRECORDED


class ReadLog:
    """The slices read through the recorded readers inside ``recording()``: one record per distinct
    read (reader, file, arguments, UTC MTU starts) with a digest of the values it returned (or of
    the error it raised)."""

    def __init__(self):
        self._records: dict[str, dict] = {}

    def add(self, record: dict) -> None:
        key = json.dumps({k: v for k, v in record.items() if k != "digest"}, sort_keys=True)
        self._records.setdefault(key, record)

    def records(self) -> list[dict]:
        """The records in a stable order (JSON-serialisable, for ``replay``)."""
        return [self._records[k] for k in sorted(self._records)]

    def files(self) -> set[str]:
        """The files the recorded reads came from."""
        return {r["path"] for r in self._records.values()}


_LOG: contextvars.ContextVar[ReadLog | None] = contextvars.ContextVar("bidopt_read_log", default=None)


@contextmanager
def recording() -> Iterator[ReadLog]:
    """Record every slice the readers of this module return (files only, not synthetic series)."""
    log = ReadLog()
    token = _LOG.set(log)
    _RECORDING[0] += 1
    try:
        yield log
    finally:
        _RECORDING[0] -= 1
        _LOG.reset(token)


def _index_spec(index: pd.DatetimeIndex) -> dict:
    """``index`` as UTC nanoseconds: first, step and count when regular, else every value."""
    idx = pd.DatetimeIndex(index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    ns = idx.as_unit("ns").asi8
    if len(ns) == 1:  # slice_day reads a one-MTU index's length from its freq
        return {"first": int(ns[0]), "n": 1, "freq": idx.freqstr}
    d = np.diff(ns)
    if len(ns) and (d == d[0]).all():
        return {"first": int(ns[0]), "step": int(d[0]), "n": len(ns)}
    return {"ns": [int(v) for v in ns]}


def _index_from_spec(spec: dict) -> pd.DatetimeIndex:
    if "ns" in spec:
        return pd.DatetimeIndex(pd.to_datetime(np.asarray(spec["ns"], dtype="int64"), utc=True))
    if spec["n"] == 1:
        return pd.date_range(pd.Timestamp(spec["first"], tz="UTC"), periods=1, freq=spec["freq"])
    return pd.DatetimeIndex(pd.to_datetime(spec["first"] + spec["step"] * np.arange(spec["n"], dtype="int64"),
                                           utc=True))


def _digest(values: np.ndarray | None, error: Exception | None = None) -> str:
    if error is not None:
        return "error: " + hashlib.sha256(f"{type(error).__name__}: {error}".encode()).hexdigest()[:32]
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()[:32]


def _read_slice(reader: str, path: Path, args: tuple, index: pd.DatetimeIndex, field: str) -> np.ndarray:
    token = _OWN_READ.set(True)
    try:
        series = _READERS[reader](str(path), *args)
    finally:
        _OWN_READ.reset(token)
    return price_files.slice_day(series, index, path, field).to_numpy(float)


def _sliced(reader: str, path: Path, args: tuple, index: pd.DatetimeIndex, field: str) -> np.ndarray:
    """A reader's series sliced to ``index``, recorded in the active ``recording()``."""
    log = _LOG.get()
    if log is None:
        if _RECORDING[0]:
            _UNRECORDED.add(os.path.realpath(path))
        return _read_slice(reader, path, args, index, field)
    record = {"reader": reader, "path": os.path.realpath(path), "args": list(args), "field": field,
              "index": _index_spec(index)}
    try:
        values = _read_slice(reader, path, args, index, field)
    except Exception as e:
        log.add({**record, "digest": _digest(None, e)})
        raise
    log.add({**record, "digest": _digest(values)})
    return values


def replay(records: list[dict]) -> bool:
    """Whether every recorded read returns what it returned when recorded (values, or the error)."""
    for r in records:
        try:
            index = _index_from_spec(r["index"])
            got = _digest(_read_slice(r["reader"], Path(r["path"]), tuple(r["args"]), index, r["field"]))
        except Exception as e:  # noqa: BLE001 - a read that fails now (or a bad record) does not match
            got = _digest(None, e)
        if got != r["digest"]:
            return False
    return True


_DIGESTS: dict[str, str] = {}  # the last digest of each file seen by file_digest


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (32 hex digits). A file whose digest is new to this process empties
    the parsed-file caches, so that no reader serves content older than the digest."""
    h = hashlib.sha256()
    token = _OWN_READ.set(True)
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    finally:
        _OWN_READ.reset(token)
    digest = h.hexdigest()[:32]
    real = os.path.realpath(path)
    if _DIGESTS.get(real) != digest:
        _DIGESTS[real] = digest
        for cached in (_read_prices, _read_series, _read_reserve):
            cached.cache_clear()
    return digest


def _strings(obj) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _strings(v)


def data_files(case) -> list[str]:
    """Every file the case names: each string anywhere in the case (every field of every asset,
    tariff, market, bidding and backtest table) that, resolved against the case's folder, is an
    existing file. Real paths, sorted. A new data field needs no entry here."""
    out = set()
    for s in _strings(case.model_dump(mode="json", serialize_as_any=True)):
        if not s or s == SYNTHETIC or len(s) > 4096 or "\0" in s:
            continue
        try:
            p = case.resolve(s)
            if p.is_file():
                out.add(os.path.realpath(p))
        except (OSError, ValueError):
            continue
    return sorted(out)
