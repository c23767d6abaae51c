"""Delivery days and market time units (MTUs).

Delivery days and tariff windows are defined in local time (Europe/Stockholm by default); inside
bidopt every time index is UTC and labels the *start* of an MTU. A Stockholm delivery day has 23,
24 or 25 hours, so 92, 96 or 100 quarter-hours; nothing here assumes 24 or 96.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bidopt.errors import InputError
from bidopt.numbers import FIRST_DAY, LAST_DAY, check_day_range  # noqa: F401 (delivery days bidopt handles)

STOCKHOLM = "Europe/Stockholm"
VALID_MTU_MINUTES = (15, 30, 60)  # resolutions a data series may have
PLAN_MTU_MINUTES = (15, 60)  # MTU lengths of a plan or bid: the day-ahead market's (DESIGN contract)


def as_date(day: str | dt.date | pd.Timestamp, field: str = "day") -> dt.date:
    """Parse a delivery day given as 'YYYY-MM-DD', a date or a timestamp (a ``DeliveryDay``: its date).

    Anything else is bad input: ``InputError`` naming ``field`` (the argument's name)."""
    if day is pd.NaT or day is None:
        pass
    elif isinstance(day, DeliveryDay):
        return day.date
    elif isinstance(day, dt.datetime):  # pd.Timestamp too
        return check_day_range(day.date(), field)
    elif isinstance(day, dt.date):
        return check_day_range(day, field)
    else:
        try:
            return check_day_range(dt.date.fromisoformat(str(day).strip()), field)  # str(np.datetime64(...)) too
        except ValueError as e:
            if isinstance(e, InputError):
                raise
    raise InputError(None, field, f"{day!r} is not a date (YYYY-MM-DD)")


@dataclass(frozen=True)
class DeliveryDay:
    """A local delivery day, parsed once at the edge (``parse``) and passed down typed.

    ``date`` is the local calendar day, ``tz`` the zone it is local to (the case's
    ``[case] timezone``). The helpers give its UTC bounds and MTU index (23, 24 or 25 hours) without
    parsing anything again; every function of this module that takes a ``day`` takes one as it is."""

    date: dt.date
    tz: str = STOCKHOLM

    @classmethod
    def parse(cls, day: str | dt.date | pd.Timestamp | DeliveryDay, tz: str = STOCKHOLM,
              field: str = "day") -> DeliveryDay:
        """The edge: 'YYYY-MM-DD' or a timestamp (parsed by ``as_date``), a date (its range checked);
        bad input is an ``InputError`` naming ``field``. A ``DeliveryDay`` of the same zone is
        returned as it is."""
        if isinstance(day, DeliveryDay):
            return day if day.tz == tz else cls(day.date, tz)
        if type(day) is dt.date:  # already a date (the CLI's --day, a backtest's days): only its range
            return cls(check_day_range(day, field), tz)
        return cls(as_date(day, field), tz)

    def __str__(self) -> str:
        return self.date.isoformat()

    def __format__(self, spec: str) -> str:
        return format(self.date, spec)

    def bounds_utc(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """UTC start (inclusive) and end (exclusive) of the day."""
        return day_bounds_utc(self.date, self.tz)

    def index(self, mtu_minutes: int = 60) -> pd.DatetimeIndex:
        """UTC MTU starts of the day (``delivery_index``)."""
        return delivery_index(self.date, mtu_minutes, self.tz)

    def shifted(self, days: int) -> DeliveryDay:
        """The delivery day ``days`` later (earlier if negative), in the same zone."""
        return DeliveryDay(self.date + dt.timedelta(days=days), self.tz)


def day_of(day: DeliveryDay | dt.date | str) -> dt.date:
    """The date of a delivery day. A ``DeliveryDay`` or a date is already typed and is used as it is
    (no parsing: the pipeline below ``plan``/``bid``/``backtest`` passes these); anything else is
    parsed by ``as_date`` (direct callers of a helper: scripts, tests)."""
    if isinstance(day, DeliveryDay):
        return day.date
    if type(day) is dt.date:
        return day
    return as_date(day)


def check_mtu(mtu_minutes, field: str = "mtu_minutes", allowed: tuple[int, ...] = VALID_MTU_MINUTES) -> int:
    """``mtu_minutes`` as an int if it is one of ``allowed``; otherwise ``InputError`` naming ``field``."""
    if isinstance(mtu_minutes, bool) or mtu_minutes not in allowed:
        raise InputError(None, field, f"MTU length must be one of {', '.join(map(str, allowed))} minutes, "
                                      f"got {mtu_minutes!r}")
    return int(mtu_minutes)


def utc_timestamp(ts) -> pd.Timestamp:
    """``ts`` as a UTC ``Timestamp``: a naive value is read as UTC, an aware one converted."""
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def utc_index(index) -> pd.DatetimeIndex:
    """``index`` as a UTC ``DatetimeIndex``: naive values are read as UTC, aware ones converted."""
    idx = pd.DatetimeIndex(index)
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def day_bounds_utc(day, tz: str | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC start (inclusive) and end (exclusive) of a local delivery day; ``tz`` None: a
    ``DeliveryDay``'s own zone, else Europe/Stockholm."""
    d = day_of(day)
    tz = tz or (day.tz if isinstance(day, DeliveryDay) else STOCKHOLM)
    start = pd.Timestamp(d).tz_localize(tz)
    end = pd.Timestamp(d + dt.timedelta(days=1)).tz_localize(tz)
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def local_wall(utc: np.ndarray, tz: str = STOCKHOLM) -> np.ndarray:
    """Local wall-clock times (naive ``datetime64[s]``) of sorted naive UTC ``datetime64`` times.

    Up to two days (a delivery day's MTUs or hours) from the zone's UTC offset (``zoneinfo``, the
    database pandas reads too), without a pandas index: when the offset is the same at both ends
    it holds throughout (no zone changes its offset and back within two days), otherwise each time
    is converted on its own. Longer spans go through one pandas conversion."""
    secs = np.asarray(utc).astype("datetime64[s]")
    if not len(secs):
        return secs
    ends = secs[[0, -1]].astype(np.int64).tolist()
    if ends[1] - ends[0] > 2 * 86400:
        return pd.DatetimeIndex(secs).tz_localize("UTC").tz_convert(tz).tz_localize(None).to_numpy().astype(
            "datetime64[s]")
    zone = _zone(tz)
    first, last = (_offset(s, zone) for s in ends)
    if first == last:
        return secs + np.timedelta64(first, "s")
    offsets = [_offset(s, zone) for s in secs.astype(np.int64).tolist()]
    return secs + np.array(offsets, dtype="timedelta64[s]")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _offset(seconds: int, zone: zoneinfo.ZoneInfo) -> int:
    """The zone's UTC offset in seconds at a UTC time given in seconds since 1970."""
    return int((_EPOCH + dt.timedelta(seconds=seconds)).astimezone(zone).utcoffset().total_seconds())


@functools.lru_cache(maxsize=32)
def _zone(tz: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(tz)


def mtu_index(start_utc: pd.Timestamp, end_utc: pd.Timestamp, mtu_minutes: int) -> pd.DatetimeIndex:
    """UTC MTU starts in [start_utc, end_utc)."""
    mtu_minutes = check_mtu(mtu_minutes)
    return pd.date_range(start_utc, end_utc, freq=f"{mtu_minutes}min", inclusive="left", name="timestamp_utc")


def delivery_index(day, mtu_minutes: int = 60, tz: str | None = None) -> pd.DatetimeIndex:
    """UTC index of MTU starts of one local delivery day (23/24/25 h)."""
    start, end = day_bounds_utc(day, tz)
    return mtu_index(start, end, mtu_minutes)


def horizon_index(first_day, last_day, mtu_minutes: int = 60, tz: str | None = None) -> pd.DatetimeIndex:
    """UTC index of MTU starts from the first through the last local delivery day (inclusive)."""
    start, _ = day_bounds_utc(first_day, tz)
    _, end = day_bounds_utc(last_day, tz)
    return mtu_index(start, end, mtu_minutes)


def local_days(index: pd.DatetimeIndex, tz: str = STOCKHOLM) -> list[dt.date]:
    """The distinct local delivery days an index touches, in order."""
    return sorted(set(index.tz_convert(tz).date))


def to_mtu(series: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """Bring a UTC series of any coarser-or-equal resolution onto ``index`` by holding each value.

    An hourly price becomes four equal quarter-hour prices. Raises KeyError naming the first MTU the
    series does not cover.
    """
    if len(index) == 0:
        return series.iloc[:0]
    src = series.sort_index()
    pos = src.index.searchsorted(index, side="right") - 1
    if (pos < 0).any():
        raise KeyError(index[np.argmax(pos < 0)])
    out = pd.Series(src.to_numpy()[pos], index=index, name=series.name)
    # a held value may only stand for MTUs inside the source step it came from
    step = _step(src.index)
    too_far = (index - src.index[pos]) >= step
    if too_far.any():
        raise KeyError(index[np.argmax(too_far)])
    return out


def to_hourly(series: pd.Series) -> pd.Series:
    """Mean of each UTC hour (e.g. four quarter-hour values -> one hourly value)."""
    return series.groupby(series.index.floor("60min")).mean()


def _step(idx: pd.DatetimeIndex) -> pd.Timedelta:
    if len(idx) < 2:
        return pd.Timedelta(hours=1)
    return (idx[1:] - idx[:-1]).min()


def hours_per_mtu(index: pd.DatetimeIndex) -> float:
    """Length of one MTU in hours, from the index frequency."""
    if index.freq is not None:
        return pd.Timedelta(index.freq).total_seconds() / 3600.0
    return _step(index).total_seconds() / 3600.0
