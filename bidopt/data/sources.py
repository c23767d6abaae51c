"""Resolve a case's data references to series on a horizon.

A reference is a CSV path (relative to the case file) or the word ``synthetic``, which asks the
seeded demo generator (``bidopt.data.synthetic``) for the same MTUs. Files are read once per process
and cached, so planning many days from one file does not re-parse it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data import prices as price_files
from bidopt.data import synthetic
from bidopt.errors import InputError

SYNTHETIC = "synthetic"


@lru_cache(maxsize=64)
def _read_prices(path: str, zone: str | None, mtime: float) -> pd.Series:
    return price_files.read_price_csv(path, zone=zone)


@lru_cache(maxsize=64)
def _read_series(path: str, column: str | None, mtime: float, time_column: str = price_files.TIMESTAMP) -> pd.Series:
    return price_files.read_series_csv(path, value_column=column, time_column=time_column)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def dayahead_prices(case, index: pd.DatetimeIndex) -> np.ndarray:
    """Day-ahead price per MTU of ``index`` in EUR/MWh."""
    ref = case.prices.dayahead
    if ref == SYNTHETIC:
        if case.case.zone not in synthetic.ZONES:
            raise InputError(case.label, "case.zone", f"no synthetic prices for zone {case.case.zone!r}; "
                             f"known: {', '.join(sorted(synthetic.ZONES))}")
        return synthetic.dayahead_prices(index, zone=case.case.zone, seed=case.synthetic.seed).to_numpy(float)
    return price_series(case, ref, "prices.dayahead", index)


def price_series(case, ref: str, field: str, index: pd.DatetimeIndex) -> np.ndarray:
    """Any price file in the day-ahead formats, on ``index`` (EUR/MWh)."""
    path = case.resolve(ref)
    s = _read_prices(str(path), case.case.zone, _mtime(path))
    return price_files.slice_day(s, index, path, field).to_numpy(float)


def profile(case, ref: str, field: str, index: pd.DatetimeIndex, synthetic_fn, column: str | None = None,
            time_column: str | None = None) -> np.ndarray:
    """A MW profile per MTU: from a CSV (timestamp_utc + one value column) or the synthetic generator."""
    if ref == SYNTHETIC:
        return synthetic_fn(index).to_numpy(float)
    path = case.resolve(ref)
    s = _read_series(str(path), column, _mtime(path), time_column or price_files.TIMESTAMP)
    return price_files.slice_day(s, index, path, field).to_numpy(float)


@lru_cache(maxsize=64)
def _read_reserve(path: str, product: str, mtime: float) -> pd.Series:
    from bidopt.data import reserve_prices as reserve_files

    return reserve_files.read_reserve_prices(path, product)


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
    s = _read_reserve(str(path), product, _mtime(path))
    return price_files.slice_day(s, hour_starts, path, f"prices.{key}").to_numpy(float)
