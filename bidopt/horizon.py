"""The planning horizon: the UTC MTU index a model is built on, with its local-time views.

Everything an asset, market or tariff needs to know about time comes from here: the MTU length in
hours, local (Europe/Stockholm) month/weekday/hour of each MTU for tariff windows, the UTC hour each
MTU belongs to (peak tariffs measure hourly mean power) and the local day it belongs to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bidopt import time as btime


@dataclass(frozen=True)
class Horizon:
    index: pd.DatetimeIndex  # UTC MTU starts
    tz: str = btime.STOCKHOLM
    meta: dict = field(default_factory=dict, compare=False)

    @classmethod
    def for_days(cls, first_day, last_day=None, mtu_minutes: int = 60, tz: str = btime.STOCKHOLM) -> Horizon:
        last_day = first_day if last_day is None else last_day
        return cls(btime.horizon_index(first_day, last_day, mtu_minutes, tz), tz)

    @property
    def n(self) -> int:
        return len(self.index)

    @cached_property
    def dt_h(self) -> float:
        """MTU length in hours."""
        return btime.hours_per_mtu(self.index)

    @cached_property
    def local(self) -> pd.DatetimeIndex:
        return self.index.tz_convert(self.tz)

    @cached_property
    def wall(self) -> np.ndarray:
        """Local wall-clock time of each MTU start (naive ``datetime64[s]``)."""
        return btime.local_wall(self.index.asi8.view(f"datetime64[{self.index.unit}]"), self.tz)

    @cached_property
    def first_day(self) -> dt.date:
        return self.local_date[0]

    @cached_property
    def local_date(self) -> np.ndarray:
        """Local delivery day of each MTU (numpy array of datetime.date)."""
        return self.wall.astype("datetime64[D]").astype(object)

    @cached_property
    def _hours(self) -> tuple[np.ndarray, np.ndarray]:
        utc = self.index.asi8.view(f"datetime64[{self.index.unit}]")  # naive UTC
        starts, inv = np.unique(utc.astype("datetime64[h]"), return_inverse=True)
        return starts.astype(utc.dtype), inv

    @cached_property
    def hour_utc(self) -> np.ndarray:
        """``hour_starts`` as naive UTC ``datetime64`` (no pandas index)."""
        return self._hours[0]

    @cached_property
    def hour_group(self) -> np.ndarray:
        """For each MTU, the position of its UTC hour within the horizon (0, 0, 0, 0, 1, ... at 15 min)."""
        return self._hours[1]

    @cached_property
    def hour_starts(self) -> pd.DatetimeIndex:
        """The UTC hours the horizon's MTUs fall in, in order."""
        return pd.DatetimeIndex(self._hours[0]).tz_localize("UTC")

    @cached_property
    def month_key(self) -> np.ndarray:
        """Local (year, month) of each MTU as an int yyyymm."""
        months = self.wall.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        return (months // 12 + 1970) * 100 + months % 12 + 1
