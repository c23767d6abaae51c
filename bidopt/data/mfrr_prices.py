"""Read mFRR capacity prices (EUR/MW/h, MW) and mFRR activation prices (EUR/MWh).

``read_mfrr_capacity(path)`` returns a DataFrame on an hourly UTC ``DatetimeIndex`` named
``timestamp_utc`` (hour starts) with float columns ``up_price_eur_per_mw_h``, ``up_volume_mw``,
``down_price_eur_per_mw_h``, ``down_volume_mw`` (the capacity price and the volume the TSO bought per
direction; NaN = not given). Two formats, told from the header:

1. Energinet Energi Data Service "mFRRCapacityMarket" download (``HourUTC``, ``HourDK``,
   ``mFRR_DownExpected``, ``mFRR_DownPurchased``, ``mFRR_DownPriceDKK``, ``mFRR_DownPriceEUR``,
   ``mFRR_UpExpected``, ``mFRR_UpPurchased``, ``mFRR_UpPriceDKK``, ``mFRR_UpPriceEUR``; UTF-8 BOM,
   newest first): the EUR prices and the purchased volumes are read, sorted by ``HourUTC``. In the
   2021 DK2 download every down price and volume is 0: Energinet bought no down capacity in DK2 that
   year (price 0 and volume 0 = not procured, as in Mimer's files).
2. A plain CSV ``timestamp_utc,up_price_eur_per_mw_h,down_price_eur_per_mw_h[,up_volume_mw,down_volume_mw]``
   (one of the two price columns may be left out; naive times are UTC). An empty cell is NaN: no
   price, not procured in that hour.

``read_activation_prices(path)`` returns the activation (balancing energy) prices per UTC period
(15 or 60 minutes) as columns ``up_price_eur_per_mwh`` and ``down_price_eur_per_mwh``, with
``attrs["period_minutes"]``: an Energinet "RegulatingBalancePowerdata" download (or any file
``bidopt.data.balancing_prices.read_balancing_prices`` reads: the balancing up and down prices, its
one missing autumn hour filled as described there), or a plain CSV
``timestamp_utc,up_price_eur_per_mwh,down_price_eur_per_mwh``.

Every problem is an ``InputError`` naming the file and ``line N (timestamp)`` or the column (checks of
``bidopt.data.series.check_series``: missing or duplicate hours, non-numbers). Both readers parse a
file once per process and file version (``cached_*``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data import balancing_prices
from bidopt.data.csv_text import header_separator, read_text_table
from bidopt.data.series import TIMESTAMP, check_series, number_text, parse_utc, utc_in_order
from bidopt.errors import InputError, data_labels

CAPACITY_COLUMNS = ("up_price_eur_per_mw_h", "up_volume_mw", "down_price_eur_per_mw_h", "down_volume_mw")
ACTIVATION_COLUMNS = ("up_price_eur_per_mwh", "down_price_eur_per_mwh")
# Energinet mFRR capacity column (lower case) -> output column
_ENERGINET = {"mfrr_uppriceeur": "up_price_eur_per_mw_h", "mfrr_uppurchased": "up_volume_mw",
              "mfrr_downpriceeur": "down_price_eur_per_mw_h", "mfrr_downpurchased": "down_volume_mw"}


def _cells(path) -> tuple[pd.DataFrame, bool, np.ndarray]:
    """Text cells, whether decimals are commas (``;`` files), and each row's file line."""
    sep = header_separator(path)
    table = read_text_table(path, sep=sep, skipinitialspace=sep == ",")
    table.check_fields()
    return table.frame, sep == ";", table.lines


def read_mfrr_capacity(path: str | Path) -> pd.DataFrame:
    """mFRR capacity prices (EUR/MW/h) and bought volumes (MW) per UTC hour, up and down."""
    df, dec, lines = _cells(path)
    lower = {c.strip().lower(): c for c in df.columns}
    if "hourutc" in lower and any(k in lower for k in _ENERGINET):
        missing = [k for k in _ENERGINET if k not in lower]
        if missing:
            raise InputError(path, "columns", f"Energinet mFRR capacity file without {', '.join(missing)}")
        tcol = lower["hourutc"]
        idx, order = utc_in_order(df[tcol], path, tcol, lines, unit="line")  # newest first
        cols = {out: lower[k] for k, out in _ENERGINET.items()}
        missing_ok = False
    elif TIMESTAMP in lower and ({"up_price_eur_per_mw_h", "down_price_eur_per_mw_h"} & set(lower)):
        tcol = lower[TIMESTAMP]
        idx, order = utc_in_order(df[tcol], path, tcol, lines, unit="line")
        cols = {c: lower[c] for c in CAPACITY_COLUMNS if c in lower}
        missing_ok = True
    else:
        raise InputError(path, "columns", "unrecognised mFRR capacity file: expected an Energinet download "
                         "(HourUTC, mFRR_UpPriceEUR, mFRR_UpPurchased, ...) or timestamp_utc,up_price_eur_per_mw_h,"
                         f"down_price_eur_per_mw_h; found {data_labels(list(df.columns))}")
    out = {}
    for name, column in cols.items():
        s = pd.Series(number_text(df[column], dec, digit_groups=True).to_numpy(dtype=object)[order],
                      index=idx[order].rename(TIMESTAMP))
        out[name] = check_series(s, path, column, lines=lines[order], missing_ok=missing_ok).to_numpy(float)
    result = pd.DataFrame(out, index=idx[order].rename(TIMESTAMP))
    if len(result) > 1 and (np.diff(result.index.as_unit("ns").asi8) != 3_600_000_000_000).any():
        raise InputError(path, tcol, "expected hourly mFRR capacity prices (one row per UTC hour)")
    for name in CAPACITY_COLUMNS:
        if name not in result:
            result[name] = np.nan
    return result[list(CAPACITY_COLUMNS)]


def read_activation_prices(path: str | Path) -> pd.DataFrame:
    """Up and down activation prices (EUR/MWh) per UTC period from an Energinet or plain CSV."""
    df, dec, lines = _cells(path)
    lower = {c.strip().lower(): c for c in df.columns}
    if TIMESTAMP in lower and set(ACTIVATION_COLUMNS) <= set(lower) and balancing_prices.IMBALANCE not in lower:
        tcol = lower[TIMESTAMP]
        idx = parse_utc(df[tcol], path, tcol, lines, unit="line")
        out = pd.DataFrame({c: check_series(pd.Series(number_text(df[lower[c]], dec).to_numpy(dtype=object), index=idx),
                                            path, c, lines=lines).to_numpy(float) for c in ACTIVATION_COLUMNS},
                           index=idx.rename(TIMESTAMP))
        ns = out.index.as_unit("ns").asi8
        out.attrs["period_minutes"] = int(np.min(np.diff(ns)) // 60_000_000_000) if len(ns) > 1 else 60
        return out
    read = balancing_prices.read_balancing_prices(path)
    out = pd.DataFrame({"up_price_eur_per_mwh": read[balancing_prices.UP].to_numpy(float),
                        "down_price_eur_per_mwh": read[balancing_prices.DOWN].to_numpy(float)}, index=read.index)
    out.attrs["period_minutes"] = int(read.attrs.get("period_minutes", 60))
    return out


def _stat(path: str) -> tuple:
    try:
        st = Path(path).stat()
    except OSError:
        return (0, -1, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@lru_cache(maxsize=16)
def _capacity(path: str, stat: tuple) -> pd.DataFrame:
    return read_mfrr_capacity(path)


@lru_cache(maxsize=16)
def _activation(path: str, stat: tuple) -> pd.DataFrame:
    return read_activation_prices(path)


def cached_mfrr_capacity(path: str | Path) -> pd.DataFrame:
    """``read_mfrr_capacity`` once per process and file version (do not modify the result)."""
    return _capacity(str(path), _stat(str(path)))


def cached_activation_prices(path: str | Path) -> pd.DataFrame:
    """``read_activation_prices`` once per process and file version (do not modify the result)."""
    return _activation(str(path), _stat(str(path)))


def on_periods(prices: pd.DataFrame, starts: pd.DatetimeIndex, period_minutes: int) -> pd.DataFrame:
    """``prices`` (one row per period of ``attrs["period_minutes"]``) on the periods starting at
    ``starts`` (each ``period_minutes`` long): a coarser file's value is held over its finer periods,
    finer values are averaged; NaN where the file does not cover a period."""
    step = int(prices.attrs.get("period_minutes", 60))
    if step <= period_minutes:
        return prices.resample(f"{period_minutes}min").mean().reindex(starts)
    held = prices.reindex(starts.floor(f"{step}min"))
    held.index = starts
    return held


@lru_cache(maxsize=16)
def _dayahead(path: str, zone: str | None, stat: tuple) -> pd.Series:
    from bidopt.data.prices import read_price_csv

    return read_price_csv(path, zone=zone)


def cached_dayahead(path: str | Path, zone: str | None = None) -> pd.Series:
    """Day-ahead prices (EUR/MWh) of a file in any format ``bidopt.data.prices.read_price_csv`` reads,
    for ``zone`` (None: the file's only zone); once per process and file version."""
    return _dayahead(str(path), zone, _stat(str(path)))
