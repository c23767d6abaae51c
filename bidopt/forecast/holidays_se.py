"""Swedish public holidays and de facto holidays, as calendar features for price forecasts.

``holidays(year)`` returns the dates on which Swedish demand looks like a Sunday: the public
holidays of the Public Holidays Act (lag 1989:253: New Year's Day, Epiphany, Good Friday, Easter
Sunday and Monday, 1 May, Ascension Day, Whit Sunday, National Day 6 June, Midsummer Day, All
Saints' Day, Christmas Day, Boxing Day) plus the eves treated as holidays in practice (Midsummer
Eve, Christmas Eve, New Year's Eve). Easter by the Gregorian computus (anonymous algorithm).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday of ``year`` (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _weekday_between(year: int, month: int, first_day: int, weekday: int) -> dt.date:
    """The date with ``weekday`` (Monday=0) in the 7 days from ``first_day`` of ``month``."""
    start = dt.date(year, month, first_day)
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


@lru_cache(maxsize=64)
def holidays(year: int) -> frozenset[dt.date]:
    """Swedish public and de facto holidays of ``year`` (module docstring)."""
    easter = easter_sunday(year)
    midsummer_day = _weekday_between(year, 6, 20, 5)  # Saturday 20-26 June
    all_saints = _weekday_between(year, 10, 31, 5)  # Saturday 31 Oct - 6 Nov
    days = {
        dt.date(year, 1, 1), dt.date(year, 1, 6),
        easter - dt.timedelta(days=2), easter, easter + dt.timedelta(days=1),
        dt.date(year, 5, 1), easter + dt.timedelta(days=39), easter + dt.timedelta(days=49),
        dt.date(year, 6, 6), midsummer_day - dt.timedelta(days=1), midsummer_day, all_saints,
        dt.date(year, 12, 24), dt.date(year, 12, 25), dt.date(year, 12, 26), dt.date(year, 12, 31),
    }
    return frozenset(days)


def is_holiday(day: dt.date) -> bool:
    return day in holidays(day.year)
