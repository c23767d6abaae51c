"""The grid the synthetic generators (``bidopt.data.synthetic``) draw on: each UTC MTU's local
(Europe/Stockholm) delivery day and quarter-hour within it (``layout``), per-day random streams
(``day_rng``), and the mean of a day's quarter-hours per MTU (``to_mtu``). Times are UTC ns or
pandas UTC indexes; MTUs of 15, 30 or 60 minutes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from bidopt.time import STOCKHOLM, VALID_MTU_MINUTES, utc_index

H = 25  # hours in the longest local day
Q = 4 * H  # quarter-hours in the longest local day
NS_PER_MIN = 60 * 10**9
NS_PER_HOUR = 60 * NS_PER_MIN


@dataclasses.dataclass(frozen=True)
class Layout:
    index: pd.DatetimeIndex  # UTC, as returned
    codes: np.ndarray  # per MTU: row of its local day
    qpos: np.ndarray  # per MTU: quarter-hour position within its local day
    k: int  # MTU length in quarter-hours (1, 2 or 4)
    start_ns: np.ndarray  # per day: UTC ns of local midnight
    n_hours: np.ndarray  # per day: 23, 24 or 25
    ordinal: np.ndarray  # per day: proleptic Gregorian ordinal of the local date
    doy: np.ndarray  # per day: day of year 1..366
    weekday: np.ndarray  # per day: Monday 0 .. Sunday 6

    @property
    def n_days(self) -> int:
        return len(self.start_ns)


def mtu_minutes(idx: pd.DatetimeIndex) -> int:
    if idx.freq is not None:
        minutes = pd.Timedelta(idx.freq).total_seconds() / 60.0
    elif len(idx) >= 2:
        diffs = np.diff(np.sort(idx.as_unit("ns").asi8))
        diffs = diffs[diffs > 0]
        minutes = float(diffs.min()) / NS_PER_MIN if len(diffs) else 60.0
    else:  # one timestamp without a frequency: the coarsest MTU it is aligned to
        minute = idx[0].minute if len(idx) else 0
        minutes = next(m for m in (60, 30, 15) if minute % m == 0)
    if minutes not in VALID_MTU_MINUTES:
        raise ValueError(f"MTU must be one of {VALID_MTU_MINUTES} minutes, got {minutes}")
    return int(minutes)


_LAYOUTS: dict[tuple, Layout] = {}  # the last few layouts: a fleet's sites draw on the same day's index


def layout(index: pd.DatetimeIndex, tz: str = STOCKHOLM) -> Layout:
    """The grid of ``index`` (kept for the next call on the same instants; its arrays are read-only)."""
    idx = pd.DatetimeIndex(index)
    key = (tz, str(idx.freq), idx.as_unit("ns").asi8.tobytes())  # the frequency: the MTU of a 1-MTU index
    lay = _LAYOUTS.get(key)
    if lay is None:
        lay = _LAYOUTS[key] = _layout(index, tz)
        for a in (lay.codes, lay.qpos, lay.start_ns, lay.n_hours, lay.ordinal, lay.doy, lay.weekday):
            a.setflags(write=False)
        while len(_LAYOUTS) > 16:
            _LAYOUTS.pop(next(iter(_LAYOUTS)))
    return lay


def _layout(index: pd.DatetimeIndex, tz: str) -> Layout:
    idx = utc_index(index)
    mtu = mtu_minutes(idx)
    local = idx.tz_convert(tz)
    codes, days = pd.factorize(local.normalize())
    days = pd.DatetimeIndex(days)
    start = days.tz_convert("UTC").as_unit("ns").asi8
    nxt = (days.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC").as_unit("ns").asi8
    n_hours = (nxt - start) // NS_PER_HOUR
    offset = idx.as_unit("ns").asi8 - start[codes]
    if np.any(offset % (mtu * NS_PER_MIN)):
        raise ValueError(f"index is not aligned to {mtu}-minute MTUs")
    return Layout(
        index=idx,
        codes=np.asarray(codes, dtype=np.int64),
        qpos=offset // (15 * NS_PER_MIN),
        k=mtu // 15,
        start_ns=start,
        n_hours=n_hours,
        ordinal=np.array([d.toordinal() for d in days], dtype=np.int64),
        doy=np.asarray(days.day_of_year, dtype=np.int64),
        weekday=np.asarray(days.day_of_week, dtype=np.int64),
    )


def grid_ns(lay: Layout, step_minutes: int, count: int) -> np.ndarray:
    """UTC ns of step midpoints, shape (n_days, count); positions past a day's end are unused."""
    step = step_minutes * NS_PER_MIN
    return lay.start_ns[:, None] + np.arange(count, dtype=np.int64) * step + step // 2


def local_hours(ns: np.ndarray, tz: str = STOCKHOLM) -> np.ndarray:
    """Local fractional clock hour (0..24) of UTC ns, same shape."""
    loc = pd.DatetimeIndex(ns.ravel(), tz="UTC").tz_convert(tz)
    hours = loc.hour + loc.minute / 60.0 + loc.second / 3600.0
    return np.asarray(hours, dtype=float).reshape(ns.shape)


def to_mtu(grid_q: np.ndarray, lay: Layout) -> np.ndarray:
    """Mean of each MTU's quarter-hours, gathered per MTU."""
    g = grid_q.reshape(lay.n_days, Q // lay.k, lay.k)
    acc = g[..., 0].copy()
    for i in range(1, lay.k):
        acc += g[..., i]
    acc /= lay.k
    return acc[lay.codes, lay.qpos // lay.k]


def day_rng(seed: int, *words: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) % (1 << 64), *words])


def season_of(doy: np.ndarray) -> np.ndarray:
    """+1 mid-January, -1 mid-July."""
    return np.cos(2.0 * np.pi * (doy - 15) / 365.25)


def bump(h: np.ndarray, centre: float | np.ndarray, width: float | np.ndarray) -> np.ndarray:
    """Gaussian bump on the 24-hour circle."""
    d = (h - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def empty_series(index: pd.DatetimeIndex, name: str) -> pd.Series:
    return pd.Series(np.zeros(0), index=utc_index(index), name=name)
