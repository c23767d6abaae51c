"""Resolve a case's data references to series on a horizon.

A reference is a CSV path (relative to the case file) or the word ``synthetic``, which asks the
seeded demo generator (``bidopt.data.synthetic``) for the same MTUs. Files are read once per process
and cached, so planning many days from one file does not re-parse it.

Synthetic series can be preloaded for a backtest: inside ``with preloaded(case, index):`` (or after
``preload(case, index)`` until ``clear_preload()``) ``dayahead_prices`` and synthetic ``profile`` calls
whose MTUs all lie on the grid of the local days ``index`` covers are sliced from one series generated
once for those days (per zone/field and MTU length, lazily on first use). The generator is a pure
function per timestamp, so the values are identical to generating the day alone. A profile's cache key
is (case label, seed, field, the function's code and the scalar parameters it reads from its closure,
e.g. an asset's ``capacity_mw``): deeper state is assumed fixed within the scope, and a field whose key
changes within a scope is generated per call again. Anything else falls back to normal generation.

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
import datetime as dt
import hashlib
import json
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data import prices as price_files
from bidopt.data import synthetic
from bidopt.errors import InputError
from bidopt.time import STOCKHOLM, horizon_index

SYNTHETIC = "synthetic"


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
        hit = _preloaded_prices(case, index)
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
        hit = _preloaded_profile(case, field, index, synthetic_fn)
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


# --------------------------------------------------------------------------------------------------
# preloading synthetic series for a backtest range

_SCALARS = (int, float, str, bool, np.number, type(None))
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


class Preload:
    """Synthetic series for the local (Stockholm) days ``index`` covers, generated once per key and MTU
    length and sliced per request. ``hits``/``misses`` count requests served / passed on."""

    def __init__(self, case, index: pd.DatetimeIndex):
        idx = synthetic._as_utc(index)
        if len(idx) == 0:
            raise ValueError("preload needs a non-empty index")
        local = idx.tz_convert(STOCKHOLM)
        self.first_day: dt.date = local.min().date()
        self.last_day: dt.date = local.max().date()
        self.hits = 0
        self.misses = 0
        self._grids: dict[int, tuple[pd.DatetimeIndex, np.ndarray]] = {}
        self._series: dict[tuple, np.ndarray] = {}
        self._fingerprints: dict[tuple, tuple] = {}
        self._unstable: set[tuple] = set()
        if case.prices.dayahead == SYNTHETIC and case.case.zone in synthetic.ZONES:  # the one-off cost now
            self._values(*self._price_key(case), synthetic._mtu_minutes(idx))

    def _grid(self, mtu: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
        if mtu not in self._grids:
            grid = horizon_index(self.first_day, self.last_day, mtu, STOCKHOLM)
            self._grids[mtu] = (grid, grid.as_unit("ns").asi8)
        return self._grids[mtu]

    def _values(self, key: tuple, make: Callable, mtu: int) -> np.ndarray | None:
        """``make(grid)`` on the whole grid of ``mtu``, generated on first use; None if that fails."""
        values = self._series.get((key, mtu))
        if values is None and key not in self._unstable:
            grid, grid_ns = self._grid(mtu)
            try:
                values = np.asarray(make(grid), dtype=float)
            except Exception:  # the per-call generation then raises (or not) as it would without preloading
                values = None
            if values is None or values.shape != grid_ns.shape:
                self._unstable.add(key)
                return None
            self._series[(key, mtu)] = values
        return values

    def _slice(self, key: tuple, make: Callable, index: pd.DatetimeIndex) -> np.ndarray | None:
        """The values at ``index``, or None when ``index`` is not on the preloaded grid."""
        try:
            # UTC ns and MTU length as the generator reads them (asi8 is UTC, or wall time read as UTC)
            idx = index if isinstance(index, pd.DatetimeIndex) else synthetic._as_utc(index)
            if len(idx) == 0:
                return None
            mtu = synthetic._mtu_minutes(idx)
        except (TypeError, ValueError):
            return None
        _, grid_ns = self._grid(mtu)
        ns = idx.asi8 * _NS_PER_UNIT[idx.unit]
        pos = np.searchsorted(grid_ns, ns)
        if pos.max() >= len(grid_ns) or not np.array_equal(grid_ns[pos], ns):
            return None
        values = self._values(key, make, mtu)
        return None if values is None else values[pos]

    @staticmethod
    def _price_key(case) -> tuple[tuple, Callable]:
        zone, seed = case.case.zone, case.synthetic.seed
        return ("prices", zone, seed), lambda g: synthetic.dayahead_prices(g, zone=zone, seed=seed).to_numpy(float)

    def prices(self, case, index: pd.DatetimeIndex) -> np.ndarray | None:
        """Synthetic day-ahead prices of ``case`` at ``index``, or None if not preloaded."""
        return self._slice(*self._price_key(case), index)

    def profile(self, case, field: str, index: pd.DatetimeIndex, fn) -> np.ndarray | None:
        """``fn(index)`` (a synthetic profile of ``field``) from the preloaded series, or None."""
        key = ("profile", case.label, case.synthetic.seed, field)
        fp = _fingerprint(fn)
        if fp is None or key in self._unstable:
            return None
        if self._fingerprints.setdefault(key, fp) != fp:  # parameters changed within the scope
            self._unstable.add(key)
            return None
        return self._slice(key, lambda g: fn(g).to_numpy(float), index)


def _fingerprint(fn) -> tuple | None:
    """What a synthetic function's output depends on beyond the index, as far as visible: its code,
    defaults, scalar closure values and the scalar attributes its code names on closure objects
    (e.g. ``self.capacity_mw``). None (do not preload) for anything but a plain function or lambda."""
    if not isinstance(fn, types.FunctionType):
        return None
    code = fn.__code__
    parts: list = [code, fn.__defaults__, tuple(sorted((fn.__kwdefaults__ or {}).items()))]
    for cell in fn.__closure__ or ():
        try:
            obj = cell.cell_contents
        except ValueError:  # empty cell
            return None
        if isinstance(obj, _SCALARS):
            parts.append(obj)
        else:
            attrs = getattr(obj, "__dict__", {})
            parts.append(tuple((n, attrs[n]) for n in code.co_names
                               if n in attrs and isinstance(attrs[n], _SCALARS)))
    try:
        hash(tuple(parts))
    except TypeError:
        return None
    return tuple(parts)


_ACTIVE: contextvars.ContextVar[tuple[Preload, ...]] = contextvars.ContextVar("bidopt_preloads", default=())


def preload(case, index: pd.DatetimeIndex) -> Preload:
    """Preload synthetic series for the days ``index`` covers, active in this context until
    ``clear_preload()``; returns the ``Preload``."""
    p = Preload(case, index)
    _ACTIVE.set((*_ACTIVE.get(), p))
    return p


def clear_preload() -> None:
    """Drop all preloads active in this context."""
    _ACTIVE.set(())


@contextmanager
def preloaded(case, index: pd.DatetimeIndex) -> Iterator[Preload]:
    """``preload`` for the duration of a ``with`` block (nestable; the innermost covering one serves)."""
    p = Preload(case, index)
    token = _ACTIVE.set((*_ACTIVE.get(), p))
    try:
        yield p
    finally:
        _ACTIVE.reset(token)


def _preloaded_prices(case, index: pd.DatetimeIndex) -> np.ndarray | None:
    for p in reversed(_ACTIVE.get()):
        hit = p.prices(case, index)
        p.hits += hit is not None
        p.misses += hit is None
        if hit is not None:
            return hit
    return None


def _preloaded_profile(case, field: str, index: pd.DatetimeIndex, fn) -> np.ndarray | None:
    for p in reversed(_ACTIVE.get()):
        hit = p.profile(case, field, index, fn)
        p.hits += hit is not None
        p.misses += hit is None
        if hit is not None:
            return hit
    return None
