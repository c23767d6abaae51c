"""Preloading synthetic series for a backtest range (``bidopt.data.sources`` serves from it).

Inside ``with preloaded(case, index):`` (or after ``preload(case, index)`` until ``clear_preload()``)
synthetic day-ahead prices (EUR/MWh) and synthetic profiles (MW) whose MTUs all lie on the grid of
the local days ``index`` covers are sliced from one series generated once for those days (per
zone/field and MTU length, lazily on first use). The generator is a pure function per timestamp, so
the values are identical to generating the day alone. A profile's cache key is (case label, seed,
field, the function's code and the scalar parameters it reads from its closure, e.g. an asset's
``capacity_mw``): deeper state is assumed fixed within the scope, and a field whose key changes
within a scope is generated per call again. Anything else falls back to normal generation.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from bidopt.data import synthetic
from bidopt.data.synthetic import SYNTHETIC
from bidopt.data.synthetic_grid import mtu_minutes
from bidopt.time import STOCKHOLM, horizon_index, utc_index

_SCALARS = (int, float, str, bool, np.number, type(None))
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


class Preload:
    """Synthetic series for the local (Stockholm) days ``index`` covers, generated once per key and MTU
    length and sliced per request. ``hits``/``misses`` count requests served / passed on."""

    def __init__(self, case, index: pd.DatetimeIndex):
        idx = utc_index(index)
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
            self._values(*self._price_key(case), mtu_minutes(idx))

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
            idx = index if isinstance(index, pd.DatetimeIndex) else utc_index(index)
            if len(idx) == 0:
                return None
            mtu = mtu_minutes(idx)
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


def _served(ask: Callable[[Preload], np.ndarray | None]) -> np.ndarray | None:
    """The first answer of the active preloads, innermost first (each counts its hit or miss)."""
    for p in reversed(_ACTIVE.get()):
        hit = ask(p)
        p.hits += hit is not None
        p.misses += hit is None
        if hit is not None:
            return hit
    return None


def preloaded_prices(case, index: pd.DatetimeIndex) -> np.ndarray | None:
    """Synthetic day-ahead prices (EUR/MWh) on ``index`` from an active preload, or None."""
    return _served(lambda p: p.prices(case, index))


def preloaded_profile(case, field: str, index: pd.DatetimeIndex, fn) -> np.ndarray | None:
    """A synthetic profile (``fn`` on ``index``) from an active preload, or None."""
    return _served(lambda p: p.profile(case, field, index, fn))
