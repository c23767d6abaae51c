"""Read day-ahead price files and other time series from CSV.

``read_price_csv`` reads day-ahead prices in EUR/MWh from any of these files and returns a float
Series ``price_eur_per_mwh`` on a UTC ``DatetimeIndex`` named ``timestamp_utc`` (MTU starts):

1. an ENTSO-E Transparency Platform export (``"MTU (CET/CEST)"``, ``"Day-ahead Price [EUR/MWh]"``,
   ``"Currency"``, ``"BZN|SEx"``) in local CET/CEST time, hourly or 15-minute. The spring-forward
   MTUs are rows with an empty price and are dropped; the autumn-back MTUs appear twice, CEST first
   (or are labelled ``(CEST)``/``(CET)``). The header's ``BZN|SEx`` (or an ``Area`` column of
   ``BZN|SEx`` cells) names the file's bidding zone: with ``zone`` given, another zone is an error;
2. a plain CSV ``timestamp_utc,price_eur_per_mwh`` (ISO 8601; a naive timestamp means UTC, one with
   an offset is converted);
3. a wide UTC table ``start_utc,SE1,SE2,...`` (may be gzip-compressed); ``zone`` picks the column;
4. an Energinet Energi Data Service "Elspotprices" download (``HourUTC``, ``PriceArea``,
   ``SpotPriceEUR``; newest first), filtered to ``zone``; a file without that price area is an error.

A price cell ENTSO-E leaves without a number (``n/e`` for hours not yet published, ``-``, ``N/A``,
empty) is a missing price: NaN in the series, an error only when a command needs that MTU
(``slice_day`` then names the line). Any other text is an error when the file is read.

``read_series_csv`` reads any ``timestamp_utc`` + value-column CSV (load and PV profiles in MW, fee
series) with the same conventions. ``check_series`` is the validation both use; ``slice_day`` puts a
series on the MTUs of a delivery day (holding coarser values, averaging finer ones); both live in
``bidopt.data.series`` and are imported from here too.

Every problem is an ``InputError`` naming the file and the row as ``line N (timestamp)``, N being the
line an editor shows (from 1, header included; see ``bidopt.data.csv_text``). A row with more fields
than the header (a decimal comma in a comma-separated file) or fewer than the other rows is an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data.csv_text import header_separator, read_text_table
from bidopt.data.series import (  # noqa: F401  (check_series, slice_day, MTU_STEPS: imported from here too)
    EMPTY,
    MTU_STEPS,
    TIMESTAMP,
    check_series,
    line_label,
    local_times,
    number_text,
    parse_utc,
    slice_day,
    utc_in_order,
)
from bidopt.errors import InputError, data_labels
from bidopt.time import STOCKHOLM

PRICE = "price_eur_per_mwh"

_ENTSOE_LABEL = (
    r"^\s*(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2})?"
    r"\s*(?:\((?P<tz>CEST|CET|UTC)\))?\s*-"
)
_ZONE_LABEL = r"^\s*BZN\s*\|\s*(?P<zone>[A-Za-z0-9_-]+)\s*$"


# --------------------------------------------------------------------------------------------- reading


def _read_lines(path: str | Path) -> tuple[pd.DataFrame, bool, np.ndarray]:
    """All cells as text, field counts checked; returns (frame, decimal_comma, line of each row).
    The header line decides the separator; semicolon files are read with decimal commas (Mimer)."""
    sep = header_separator(path)
    table = read_text_table(path, sep=sep, skipinitialspace=sep == ",")
    table.check_fields()
    return table.frame, table.sep == ";", table.lines


def _read_table(path: str | Path) -> tuple[pd.DataFrame, bool]:
    """All cells as text; returns (frame, decimal_comma). Semicolon files are read with decimal commas."""
    df, dec, _ = _read_lines(path)
    return df, dec


def _columns_error(file, columns) -> InputError:
    shown = data_labels(columns)
    return InputError(
        file,
        "columns",
        "unrecognised price file: expected an ENTSO-E export (MTU, Day-ahead Price), "
        f"timestamp_utc,{PRICE}, start_utc + zone columns, or Energinet HourUTC,SpotPriceEUR; "
        f"found {shown}",
    )


def read_price_csv(path: str | Path, zone: str | None = None) -> pd.Series:
    """Day-ahead prices (EUR/MWh) from a file in any of the module's formats, on a UTC index.

    ``zone`` (e.g. ``"SE3"``, the case's zone) picks the column of a wide table and filters an
    Energinet file's ``PriceArea``; an ENTSO-E file whose header names another bidding zone, or an
    Energinet file without that price area, is an error. A plain CSV names no zone and is used as it is.
    Missing prices (``n/e``, ``-``, ``N/A``, empty) are NaN; ``slice_day`` refuses them where needed.
    """
    df, dec, lines = _read_lines(path)
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    mtu = next((c for c in cols if c.upper().startswith("MTU")), None)
    entsoe_price = next((c for c in cols if c.lower().startswith("day-ahead price")), None)

    if mtu is not None and entsoe_price is not None:
        _check_entsoe_zone(df, zone, path)
        s = _read_entsoe(df, mtu, entsoe_price, path, dec, lines)
    elif TIMESTAMP in lower and PRICE in lower:
        idx = parse_utc(df[lower[TIMESTAMP]], path, TIMESTAMP, lines, unit="line")
        s = check_series(_series(number_text(df[lower[PRICE]], dec), idx), path, PRICE, lines=lines, missing_ok=True)
    elif "start_utc" in lower or (TIMESTAMP in lower and zone in cols):
        tcol = lower.get("start_utc", lower.get(TIMESTAMP))
        zones = [c for c in cols if c != tcol]
        if zone is None or zone not in zones:
            got = "no zone given" if zone is None else f"zone {zone!r} is not a column"
            raise InputError(path, "zone", f"{got}; this table has zones {data_labels(zones)}")
        idx = parse_utc(df[tcol], path, tcol, lines, unit="line")
        s = check_series(_series(number_text(df[zone], dec), idx), path, zone, lines=lines, missing_ok=True)
    elif ("hourutc" in lower or "timeutc" in lower) and (
        "spotpriceeur" in lower or "dayaheadpriceeur" in lower
    ):
        s = _read_elspot(df, lower, zone, path, dec, lines)
    else:
        raise _columns_error(path, cols)
    out = s.rename(PRICE)
    out.attrs = s.attrs
    return out


def _series(values, index: pd.DatetimeIndex) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), index=index.rename(TIMESTAMP))


def _zone_name(zone: str) -> str:
    return str(zone).strip().upper()


def _check_entsoe_zone(df: pd.DataFrame, zone: str | None, file) -> None:
    """The bidding zone an ENTSO-E export names (a ``BZN|SE3`` header column, or the cells of an
    ``Area`` column) must be ``zone`` when one is given."""
    if zone is None:
        return
    named: list[tuple[str, str]] = []  # (zone, where it is written)
    for c in df.columns:
        m = re.match(_ZONE_LABEL, c)
        if m:
            named.append((m["zone"], f"header {data_labels([c])}"))
    area = next((c for c in df.columns if c.strip().lower() == "area"), None)
    if area is not None:
        cells = df[area].dropna().astype(str).str.extract(_ZONE_LABEL)["zone"].dropna().unique()
        named += [(z, f"{area} column") for z in cells]
    other = [(z, where) for z, where in named if _zone_name(z) != _zone_name(zone)]
    if other:
        z, where = other[0]
        raise InputError(
            file, "zone",
            f"the file holds prices for bidding zone {data_labels([_zone_name(z)])} ({where}), but the zone asked for "
            f"(case.zone) is {_zone_name(zone)}",
        )


def _read_entsoe(df: pd.DataFrame, mtu: str, price: str, file, dec: bool, lines: np.ndarray) -> pd.Series:
    rows = lines
    label = df[mtu].astype(str)
    parts, local = local_times(label, _ENTSOE_LABEL, file, mtu, rows, "cannot parse MTU label",
                               "invalid date in MTU label")
    values = df[price]
    cur = next((c for c in df.columns if c.lower() == "currency"), None)
    if cur is not None:
        other = ~df[cur].fillna("").str.strip().isin(["", "EUR"])
        if other.any():
            i = int(np.argmax(other.to_numpy()))
            raise InputError(file, line_label(rows, i), "Currency: expected EUR, found another currency")

    if "UTC" in mtu.upper() and "CET" not in mtu.upper():
        utc = pd.DatetimeIndex(local).tz_localize("UTC")
    else:
        # autumn-back MTUs: a "(CEST)"/"(CET)" suffix decides; without one, the first occurrence of a
        # repeated local label is summer time (CEST), the second winter time (CET)
        occurrence = local.groupby(local).cumcount().to_numpy()
        tz = parts["tz"].to_numpy()
        dst = np.where(pd.isna(tz), occurrence == 0, tz == "CEST")
        utc = (
            pd.DatetimeIndex(local).tz_localize(STOCKHOLM, ambiguous=dst, nonexistent="NaT").tz_convert("UTC")
        )
        missing_time = np.asarray(utc.isna())
        if missing_time.any():
            empty = values.fillna("").str.strip().isin(EMPTY).to_numpy()
            priced = missing_time & ~empty
            if priced.any():
                i = int(np.argmax(priced))
                raise InputError(
                    file,
                    line_label(rows, i),
                    f"{mtu}: local time {label.iloc[i].split(' -')[0].strip()} does not exist "
                    "(clocks go forward) but has a price",
                )
            keep = ~missing_time
            utc, values, rows = utc[keep], values[keep], rows[keep]
    return check_series(_series(number_text(values, dec), utc), file, price, lines=rows, missing_ok=True)


def _read_elspot(df: pd.DataFrame, lower: dict, zone, file, dec: bool, lines: np.ndarray) -> pd.Series:
    tcol = lower.get("hourutc", lower.get("timeutc"))
    pcol = lower.get("spotpriceeur", lower.get("dayaheadpriceeur"))
    rows = lines
    area = lower.get("pricearea")
    if area is not None:
        areas = sorted(df[area].dropna().str.strip().unique())
        if zone is not None:
            if _zone_name(zone) not in areas:
                held = "price area" + ("s " if len(areas) > 1 else " ") + data_labels(areas)
                raise InputError(
                    file, "zone", f"the file holds prices for {held} ({area}), but the zone asked for "
                    f"(case.zone) is {_zone_name(zone)}",
                )
            keep = (df[area].str.strip() == _zone_name(zone)).to_numpy()
            df, rows = df[keep], rows[keep]
        elif len(areas) > 1:
            raise InputError(file, "zone", f"file holds price areas {data_labels(areas)}; give one as zone")
    idx, order = utc_in_order(df[tcol], file, tcol, rows, unit="line")  # newest first by design
    s = _series(number_text(df[pcol], dec).to_numpy()[order], idx[order])
    return check_series(s, file, pcol, lines=rows[order], missing_ok=True)


def read_series_csv(path: str | Path, value_column: str | None = None, name: str = "value",
                    time_column: str = TIMESTAMP) -> pd.Series:
    """A ``timestamp_utc`` + value-column CSV (e.g. MW profiles, fees) as a float Series ``name``.

    ``value_column`` names the column to read; without it the file must have exactly one other column.
    ``time_column`` names the time column (UTC; naive times are read as UTC). Every value must be a
    number.
    """
    return read_series_lines(path, value_column, name, time_column)[0]


def read_series_lines(path: str | Path, value_column: str | None = None, name: str = "value",
                      time_column: str = TIMESTAMP) -> tuple[pd.Series, np.ndarray]:
    """``read_series_csv`` and the file line of each value."""
    df, dec, lines = _read_lines(path)
    cols = list(df.columns)
    if time_column not in cols:
        raise InputError(path, "columns", f"expected a {time_column} column; found {data_labels(cols)}")
    if value_column is None:
        others = [c for c in cols if c != time_column]
        if len(others) != 1:
            what = "no value column" if not others else f"several value columns ({data_labels(others)})"
            raise InputError(path, "columns", f"{what}: expected {TIMESTAMP} and one value column")
        value_column = others[0]
    elif value_column not in cols:
        raise InputError(path, value_column, f"column not found; columns are {data_labels(cols)}")
    idx = parse_utc(df[time_column], path, time_column, lines, unit="line")
    s = check_series(_series(number_text(df[value_column], dec), idx), path, value_column, lines=lines)
    return s.rename(name), lines


