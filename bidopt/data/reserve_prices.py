"""Read reserve (FCR, aFRR) capacity prices from the files users download.

``read_reserve_prices(path, product)`` returns the capacity price of ``product`` (``"fcr_n"``,
``"fcr_d_up"`` or ``"fcr_d_down"``) in EUR/MW per hour as a float Series ``price_eur_per_mw_h`` on an
hourly UTC ``DatetimeIndex`` named ``timestamp_utc`` (hour starts). The format is detected from the
header:

1. Energinet Energi Data Service "FcrReservesDK2" (``HourUTC``, ``HourDK``, ``FCR_N_PriceEUR``,
   ``FCR_D_UpPriceEUR``; UTF-8 BOM). Rows are ordered by Danish local time, so the autumn-back hours
   are out of UTC order; they are sorted by ``HourUTC``. The dataset has no FCR-D down price: asking
   for ``fcr_d_down`` is an InputError naming the field ``fcr_d_down``.
2. Svenska kraftnät Mimer downloads (``;`` separator, decimal comma, UTF-8 BOM, a trailing ``;`` on
   every line, a last row ``Summa`` with column totals). FCR files have a time column (``Period``,
   as in the aFRR export) in Swedish local time and one national price column per product:
   ``FCR-N Pris (EUR/MW)``, ``FCR-D upp Pris (EUR/MW)``, ``FCR-D ned Pris (EUR/MW)``.
3. A plain CSV ``timestamp_utc,price_eur_per_mw_h`` (or ``timestamp_utc`` and a column named after
   the product), read with ``bidopt.data.prices.read_series_csv``.

Mimer local time: ``Period`` labels the start of the hour in Europe/Stockholm time. The spring-forward
hour has no row. The repeated autumn hour is written ``02:00`` (summer time) and ``02:01`` (winter
time) in the aFRR exports; a plain repeated ``02:00`` is read the same way (first = summer time).

``read_mimer_afrr(path, zone=None)`` reads a Mimer aFRR export into a DataFrame on the UTC index with
columns ``zone``, ``up_price_eur_per_mw_h``, ``up_volume_mw``, ``down_price_eur_per_mw_h``,
``down_volume_mw``. aFRR was bought nationally until 2022-05-10 (empty ``Elområde``, zone ``"SE"``)
and per bidding zone from 2022-05-11 (``SN1``..``SN4``, zones ``"SE1"``..``"SE4"``). Without ``zone``
every row is returned (one per hour and zone, ordered by time then zone); with ``zone="SE3"`` one row
per hour: the zone's own price where published, else the national one. Price 0 with volume 0 means
nothing was procured that hour; the values are kept as published.
``read_mimer_afrr_files(paths, zone)`` joins several exports for one zone in time (one row per
UTC hour; where they overlap the later export wins), as ``[markets.afrr] prices`` lists them.

All checks are those of ``bidopt.data.prices.check_series``: a missing or non-numeric value, a
duplicate hour, or a missing hour is an ``InputError`` naming the file and ``line N (timestamp)``, N
being the line an editor shows (from 1, header included). Field counts are checked as
``bidopt.data.csv_text`` describes (more fields than the header, or fewer than the other rows, is an
error naming the line); Mimer's ``Summa`` row is exempt.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data.csv_text import header_separator, read_text_table
from bidopt.data.prices import read_series_lines
from bidopt.data.series import TIMESTAMP, check_series, line_label, local_times, number_text, utc_in_order
from bidopt.errors import InputError, data_labels
from bidopt.time import STOCKHOLM

PRICE = "price_eur_per_mw_h"
PRODUCTS = ("fcr_n", "fcr_d_up", "fcr_d_down")
LABELS = {"fcr_n": "FCR-N", "fcr_d_up": "FCR-D up", "fcr_d_down": "FCR-D down"}
HOUR = pd.Timedelta(hours=1)

# Energinet column (lower case) per product
_ENERGINET = {"fcr_n": "fcr_n_priceeur", "fcr_d_up": "fcr_d_uppriceeur", "fcr_d_down": "fcr_d_downpriceeur"}
# Mimer columns, matched on the header lower-cased with everything but letters and digits removed
_MIMER_FCR = {
    "fcr_n": re.compile(r"^fcrn(pris|price).*eur"),
    "fcr_d_up": re.compile(r"^fcrdup+(pris|price).*eur"),
    "fcr_d_down": re.compile(r"^fcrd(ned|down)(pris|price).*eur"),
}
_MIMER_AFRR = {
    "up_price_eur_per_mw_h": re.compile(r"^afrrup+(pris|price).*eur"),
    "up_volume_mw": re.compile(r"^afrrup+(volym|volume)"),
    "down_price_eur_per_mw_h": re.compile(r"^afrr(ned|down)(pris|price).*eur"),
    "down_volume_mw": re.compile(r"^afrr(ned|down)(volym|volume)"),
}
_TIME_COLUMNS = ("period", "datum", "tid", "timme", "date", "time", "datetime")
_ZONE_COLUMNS = ("elomrade", "elområde", "zone", "biddingzone", "omrade", "område")
_LOCAL = re.compile(r"^\s*(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[ T](?P<H>\d{1,2}):(?P<M>\d{2})")


def _key(column: str) -> str:
    return re.sub(r"[^0-9a-zåäö]", "", column.lower())


# ------------------------------------------------------------------------------------------- reading


def _read(path) -> tuple[pd.DataFrame, bool, np.ndarray]:
    """Text cells without the trailing empty column and the Mimer ``Summa`` row; returns the frame,
    whether decimals are commas, and the file line of each remaining row. The separator is sniffed
    from the header line: ``;`` (then decimals are commas, as in Mimer exports) or ``,``."""
    semicolon = header_separator(path) == ";"
    table = read_text_table(path, sep=";" if semicolon else ",", skipinitialspace=True)
    df, rows = table.frame, table.lines
    summa = np.zeros(len(df), bool)
    if len(df.columns):
        first = df[df.columns[0]].fillna("").astype(str).str.strip()
        summa = first.str.lower().str.startswith("summa").to_numpy()
    table.check_fields(keep=~summa)  # the totals row of a Mimer export has its own shape
    unnamed = [c for c in df.columns if c.startswith("Unnamed:") and df[c].isna().all()]
    df = df.drop(columns=unnamed)
    if len(df.columns):
        keep = ~(summa | df.isna().all(axis=1).to_numpy())
        df, rows = df[keep].reset_index(drop=True), rows[keep]
    return df, semicolon, rows


def _hourly(s: pd.Series, file, rows=None) -> pd.Series:
    """Capacity products are hourly: every timestamp on the hour, one hour apart."""
    idx = pd.DatetimeIndex(s.index)
    off = np.asarray((idx - idx.floor("60min")) != pd.Timedelta(0))
    if off.any():
        i = int(np.argmax(off))
        where = f"line {int(rows[i])}" if rows is not None else f"row {i + 1}"
        raise InputError(file, where, f"expected hourly prices; {idx[i].isoformat()} is not on the hour")
    if len(idx) > 1:
        step = pd.Timedelta(np.min(np.diff(idx.as_unit("ns").asi8)))
        if step != HOUR:
            raise InputError(file, "columns", f"expected hourly prices; the file's step is {step}")
    return s


def read_reserve_prices(path: str | Path, product: str) -> pd.Series:
    """Capacity price of ``product`` (EUR/MW/h) per UTC hour from an Energinet, Mimer or plain CSV."""
    if product not in PRODUCTS:
        raise InputError(path, "product", f"unknown reserve product {product!r}; known: {', '.join(PRODUCTS)}")
    df, dec, rows = _read(path)
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    keys = {_key(c): c for c in cols}

    if "hourutc" in lower:
        s, rows = _read_energinet_fcr(df, lower, product, path, dec, rows)
    elif any(_MIMER_FCR[p].search(k) for p in PRODUCTS for k in keys):
        s, rows = _read_mimer_fcr(df, keys, product, path, dec, rows)
    elif TIMESTAMP in lower:
        column = lower.get(PRICE, lower.get(product))
        if column is None:
            raise InputError(path, "columns", f"expected {TIMESTAMP} and {PRICE} (or {product}); found {data_labels(cols)}")
        s, rows = read_series_lines(path, value_column=column, name=PRICE)
    else:
        shown = ", ".join(cols[:8]) + (", ..." if len(cols) > 8 else "")
        raise InputError(
            path,
            "columns",
            "unrecognised reserve price file: expected an Energinet FCR download (HourUTC, FCR_N_PriceEUR, "
            f"...), a Svenska kraftnät Mimer FCR export (Period; FCR-N Pris (EUR/MW); ...) or "
            f"{TIMESTAMP},{PRICE}; found {shown}",
        )
    return _hourly(s, path, rows).rename(PRICE)


def _read_energinet_fcr(df, lower, product, file, dec, rows):
    want = _ENERGINET[product]
    if want not in lower:
        prices = [c for c in df.columns if "price" in c.lower()]
        raise InputError(
            file,
            product,
            f"no {LABELS[product]} price in this Energinet file (it has {', '.join(prices) or 'no price columns'})",
        )
    tcol, pcol = lower["hourutc"], lower[want]
    idx, order = utc_in_order(df[tcol], file, tcol, rows, unit="line")  # ordered by Danish local time
    values = number_text(df[pcol], dec, digit_groups=True).to_numpy(dtype=object)[order]
    s = pd.Series(values, index=idx[order].rename(TIMESTAMP))
    return check_series(s, file, pcol, lines=rows[order]), rows[order]


def _time_column(df: pd.DataFrame, file) -> str:
    for c in df.columns:
        if c.strip().lower() in _TIME_COLUMNS:
            return c
    first = df.columns[0]
    if df[first].astype(str).str.match(_LOCAL).mean() > 0.5:
        return first
    raise InputError(file, "columns", f"no time column (Period) found; columns are {data_labels(df.columns)}")


def _read_mimer_fcr(df, keys, product, file, dec, rows):
    column = next((c for k, c in keys.items() if _MIMER_FCR[product].search(k)), None)
    if column is None:
        found = [c for k, c in keys.items() if any(r.search(k) for r in _MIMER_FCR.values())]
        raise InputError(
            file, product, f"no {LABELS[product]} price (EUR/MW) column in this Mimer file (it has {', '.join(found)})"
        )
    tcol = _time_column(df, file)
    utc, keep = _mimer_utc(df[tcol], file, tcol, rows, values=df[[column]])
    df, rows = df[keep], rows[keep]
    s = pd.Series(number_text(df[column], dec, digit_groups=True).to_numpy(dtype=object), index=utc.rename(TIMESTAMP))
    return check_series(s, file, column, lines=rows), rows


def _mimer_utc(labels: pd.Series, file, column: str, rows: np.ndarray, values: pd.DataFrame,
               group: pd.Series | None = None) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Mimer local-time labels -> UTC hour starts; returns (utc of kept rows, keep mask).

    The repeated autumn hour: ``02:01`` (Mimer's spelling) or the second ``02:00`` of a ``group``
    (e.g. a zone) is winter time. A row at a non-existent spring-forward time is dropped when all its
    ``values`` are empty or zero, else it is an error.
    """
    text = labels.fillna("").astype(str)
    parts, local = local_times(text, _LOCAL, file, column, rows, "cannot parse time", "invalid date or time")
    local = pd.DatetimeIndex(local)
    n = len(local)
    on_hour = local.floor("60min")
    as_dst = on_hour.tz_localize(STOCKHOLM, ambiguous=np.ones(n, bool), nonexistent="NaT")
    as_std = on_hour.tz_localize(STOCKHOLM, ambiguous=np.zeros(n, bool), nonexistent="NaT")
    ambiguous = np.asarray(as_dst.notna() & (as_dst != as_std))
    marked = ambiguous & (local.minute == 1)  # Mimer's "02:01" = the second 02:00
    local = pd.DatetimeIndex(np.where(marked, on_hour, local))
    keys = [local] if group is None else [local, group.fillna("").to_numpy()]
    occurrence = pd.Series(np.zeros(n)).groupby(keys).cumcount().to_numpy()
    dst = ~(marked | (occurrence > 0))
    utc = local.tz_localize(STOCKHOLM, ambiguous=dst, nonexistent="NaT").tz_convert("UTC")
    missing = np.asarray(utc.isna())
    if missing.any():
        cells = values.apply(lambda c: c.fillna("").astype(str).str.strip().str.replace(",", ".", regex=False))
        empty = cells.apply(lambda c: c.isin(["", "0", "0.0", "0.000"])).all(axis=1).to_numpy()
        priced = missing & ~empty
        if priced.any():
            i = int(np.argmax(priced))
            raise InputError(
                file, line_label(rows, i), f"{column}: a local time that does not exist (clocks go forward) "
                "but has values",
            )
    keep = ~missing
    return utc[keep], keep


# ---------------------------------------------------------------------------------------------- aFRR


def read_mimer_afrr(path: str | Path, zone: str | None = None) -> pd.DataFrame:
    """aFRR capacity prices (EUR/MW/h) and volumes (MW) from a Svenska kraftnät Mimer export."""
    df, dec, rows = _read(path)
    keys = {_key(c): c for c in df.columns}
    found: dict[str, str] = {}
    for name, pattern in _MIMER_AFRR.items():
        column = next((c for k, c in keys.items() if pattern.search(k)), None)
        if column is None:
            raise InputError(
                path, "columns", f"not a Mimer aFRR export: no {name} column; columns are {', '.join(df.columns)}"
            )
        found[name] = column
    tcol = _time_column(df, path)
    zcol = next((c for c in df.columns if _key(c) in _ZONE_COLUMNS), None)
    zones = (
        df[zcol].fillna("").astype(str).str.strip().str.upper().str.replace(r"^SN(\d)$", r"SE\1", regex=True)
        if zcol is not None
        else pd.Series("", index=df.index)
    ).replace("", "SE")
    utc, keep = _mimer_utc(df[tcol], path, tcol, rows, values=df[list(found.values())], group=zones)
    df, rows, zones = df[keep].reset_index(drop=True), rows[keep], zones[keep].reset_index(drop=True)

    out = pd.DataFrame({"zone": zones.to_numpy()}, index=utc.rename(TIMESTAMP))
    for name, column in found.items():
        out[name] = number_text(df[column], dec, digit_groups=True).to_numpy(dtype=object)
    # validate each zone's series (missing values, duplicate and missing hours) in file order
    checked = []
    for z in sorted(out["zone"].unique()):
        sel = (out["zone"] == z).to_numpy()
        part = out[sel]
        order = np.argsort(part.index.as_unit("ns").asi8, kind="stable")
        part, zrows = part.iloc[order], rows[sel][order]
        cols = {
            name: check_series(part[name], path, f"{found[name]} ({z})", lines=zrows).to_numpy()
            for name in found
        }
        checked.append(pd.DataFrame({"zone": z, **cols}, index=part.index))
    result = pd.concat(checked)
    result = result.iloc[np.lexsort((result["zone"].to_numpy(), pd.DatetimeIndex(result.index).as_unit("ns").asi8))]
    result.index.name = TIMESTAMP
    if zone is None:
        return result
    return _one_zone(result, zone, path)


def _one_zone(frame: pd.DataFrame, zone: str, file) -> pd.DataFrame:
    z = re.sub(r"^SN(\d)$", r"SE\1", zone.strip().upper())
    own, national = frame[frame["zone"] == z], frame[frame["zone"] == "SE"]
    if own.empty and national.empty:
        raise InputError(file, "zone", f"no aFRR prices for {zone!r}; zones in file: {data_labels(sorted(frame.zone.unique()))}")
    merged = pd.concat([own, national[~national.index.isin(own.index)]]).sort_index()
    ns = pd.DatetimeIndex(merged.index).as_unit("ns").asi8
    gap = np.diff(ns) != HOUR.value
    if gap.any():
        i = int(np.argmax(gap))
        raise InputError(
            file, "zone", f"no aFRR price for {z} or nationally at {merged.index[i] + HOUR:%Y-%m-%dT%H:%M:%SZ}"
        )
    return merged


def read_mimer_afrr_files(paths, zone: str) -> pd.DataFrame:
    """Several Mimer aFRR exports (``read_mimer_afrr``) for one ``zone`` joined in time: one row per
    UTC hour, columns without ``zone``. Where exports overlap (Mimer's yearly files end a day into
    the next year; 2022_1 and 2022_2 share 2022-05-11) the later file's rows win. Hours no file
    covers are absent (the caller decides what they mean)."""
    parts = [read_mimer_afrr(p, zone=zone).drop(columns="zone") for p in paths]
    df = pd.concat(parts)
    df = df[~df.index.duplicated(keep="last")].sort_index()
    df.index.name = TIMESTAMP
    return df.astype(float)
