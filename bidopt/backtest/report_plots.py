"""The figures of ``report.html`` (``bidopt.backtest.report``): cumulative result, result by stream,
a week of dispatch, monthly peaks inside and outside the tariff windows, day-ahead volumes and the
offered and accepted capacity of every product with ``<name>_offered_mw_h`` columns; each a
matplotlib ``Figure`` rendered to a base64 PNG (``png``). Money EUR, power MW, energy MWh, local
time Europe/Stockholm.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bidopt.errors import InputError

TZ = "Europe/Stockholm"
NOT_STREAMS = {"total_eur", "perfect_foresight_eur", "baseline_eur"}


def stream_names(daily: pd.DataFrame) -> list[str]:
    return [c[:-4] for c in daily.columns if c.endswith("_eur") and c not in NOT_STREAMS]


def png(fig: Figure) -> str:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def new_figure(rows=1, cols=1, h=3.6, left=1.0, right=0.25, wspace=0.3, **kw) -> tuple[Figure, np.ndarray]:
    """A 10.5 in wide figure with fixed margins in inches (constrained layout doubles the render time)."""
    fig = Figure(figsize=(10.5, h))
    fig.subplots_adjust(left=left / 10.5, right=1 - right / 10.5, bottom=0.6 / h, top=1 - 0.15 / h,
                        wspace=wspace, hspace=0.35 / (h / rows))
    return fig, np.atleast_1d(fig.subplots(rows, cols, squeeze=False, **kw).ravel())


def plot_cumulative(daily: pd.DataFrame) -> Figure:
    fig, (ax,) = new_figure()
    ax.plot(daily["date"], daily["total_eur"].fillna(0).cumsum(), label="strategy", lw=1.8)
    if "perfect_foresight_eur" in daily:
        ax.plot(daily["date"], daily["perfect_foresight_eur"].fillna(0).cumsum(), label="perfect foresight",
                lw=1.4, ls="--", color="0.35")
    if "baseline_eur" in daily:
        ax.plot(daily["date"], daily["baseline_eur"].fillna(0).cumsum(), label="baseline", lw=1.4, ls=":",
                color="#c0504d")
    ax.set_ylabel("cumulative EUR")
    ax.legend(loc="upper left")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    return fig


def plot_streams(daily: pd.DataFrame, summary: dict) -> Figure | None:
    streams = stream_names(daily)
    totals = {s: float(daily[f"{s}_eur"].sum()) for s in streams} or {
        str(k): float(v) for k, v in (summary.get("revenue_eur") or {}).items() if v is not None}
    if not totals:
        return None
    fig, axes = new_figure(1, 2 if streams else 1, h=max(3.4, 0.32 * len(totals) + 1.2),
                     left=0.35 + 0.075 * max(len(n) for n in totals), right=1.5 if streams else 0.25)
    names = list(totals)[::-1]
    vals = [totals[n] for n in names]
    axes[0].barh(names, vals, color=["#2a7ab9" if v >= 0 else "#c0504d" for v in vals])
    axes[0].axvline(0, color="0.3", lw=0.8)
    axes[0].set_xlabel("EUR, whole period")
    if streams:
        monthly = daily.groupby(daily["date"].dt.to_period("M"))[[f"{s}_eur" for s in streams]].sum()
        x = np.arange(len(monthly))
        pos, neg = np.zeros(len(x)), np.zeros(len(x))
        colors = matplotlib.colormaps["tab10"]
        for i, s in enumerate(streams):
            v = monthly[f"{s}_eur"].fillna(0).to_numpy()
            bottom = np.where(v >= 0, pos, neg)
            axes[1].bar(x, v, bottom=bottom, color=colors(i % 10), label=s, width=0.6)
            pos, neg = pos + np.clip(v, 0, None), neg + np.clip(v, None, 0)
        axes[1].plot(x, pos + neg, "k_", ms=22, mew=2, label="net")
        axes[1].set_xticks(x, [str(p) for p in monthly.index])
        axes[1].axhline(0, color="0.3", lw=0.8)
        axes[1].set_ylabel("EUR per month")
        axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def pick_week(ts: pd.DataFrame, week: str | None) -> pd.Timestamp:
    """Local midnight starting the week to plot: ``week`` or the first with the largest price spread."""
    days = pd.DatetimeIndex(ts.index.tz_convert(TZ).normalize().unique())
    if week is not None:
        try:
            start = pd.Timestamp(pd.to_datetime(week, format="%Y-%m-%d")).tz_localize(TZ)
        except ValueError as e:
            raise InputError(None, "week", f"expected YYYY-MM-DD, got {week!r}") from e
        if not days[0] <= start <= days[-1]:
            raise InputError(None, "week", f"{week} is outside the time series ({days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d})")
        return start
    price = ts["price_eur_per_mwh"].dropna()
    if price.empty:
        return days[0]
    day = price.index.tz_convert(TZ).normalize().tz_localize(None)
    hi, lo = price.groupby(day).max(), price.groupby(day).min()
    # over the 7 calendar days ending at each day; ties: the larger sum of daily spreads, then the first
    score = pd.DataFrame({"spread": hi.rolling("7D").max() - lo.rolling("7D").min(),
                          "daily": (hi - lo).rolling("7D").sum()}).round(6)
    full = score[score.index >= score.index[0] + pd.Timedelta(days=6)]
    if full.empty:
        return days[0]
    best = full.sort_values(["spread", "daily"], ascending=False, kind="stable").index[0]
    return (best - pd.Timedelta(days=6)).tz_localize(TZ)


def plot_week(ts: pd.DataFrame, start: pd.Timestamp) -> Figure | None:
    end = (start.tz_localize(None) + pd.Timedelta(days=7)).tz_localize(TZ)
    w = ts.loc[(ts.index >= start.tz_convert("UTC")) & (ts.index < end.tz_convert("UTC"))]
    if w.empty:
        return None
    socs = [c for c in w.columns if c.endswith("_soc_mwh")]
    fig, (ax,) = new_figure(h=4.0, right=0.9)
    lines = []
    for c in socs:
        lines += ax.step(w.index, w[c], where="post", label=f"{c[:-8]} SoC", lw=1.5)
    if socs:
        ax.set_ylabel("SoC MWh")
    elif "position_mw" in w:
        lines += ax.step(w.index, w["position_mw"], where="post", label="day-ahead position", lw=1.2)
        ax.set_ylabel("MW (+ = buy)")
    pax = ax.twinx() if lines else ax
    lines += pax.step(w.index, w["price_eur_per_mwh"], where="post", color="0.45", lw=1.0, label="price")
    pax.set_ylabel("EUR/MWh")
    pax.grid(False)
    pax.spines["right"].set_visible(True)
    tz = start.tzinfo
    ax.xaxis.set_major_locator(mdates.DayLocator(tz=tz))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b", tz=tz))
    ax.set_xlim(start.tz_convert("UTC"), end.tz_convert("UTC"))
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left", fontsize=8, ncol=4)
    return fig


def _in_windows(local: pd.DatetimeIndex, windows: list[dict]) -> np.ndarray:
    mask = np.zeros(len(local), bool)
    for w in windows:
        mask |= (np.isin(local.month, w.get("months", range(1, 13))) & np.isin(local.day_of_week, w.get("weekdays", range(7)))
                 & np.isin(local.hour, w.get("hours", range(24))))
    return mask


def monthly_peaks(ts: pd.DataFrame, windows: list[dict]) -> pd.DataFrame:
    """Per local month: max hourly-mean grid import overall, inside and outside the tariff windows."""
    hourly = ts["grid_import_mw"].resample("h").mean().dropna()
    local = hourly.index.tz_convert(TZ)
    inside = _in_windows(local, windows)
    month = local.strftime("%Y-%m")
    df = pd.DataFrame({"all": hourly.to_numpy(), "inside": np.where(inside, hourly, np.nan),
                       "outside": np.where(inside, np.nan, hourly)}, index=month)
    return df.groupby(level=0).max()


def plot_peaks(ts: pd.DataFrame, windows: list[dict]) -> Figure:
    peaks = monthly_peaks(ts, windows)
    fig, (ax,) = new_figure(h=3.4)
    x = np.arange(len(peaks))
    if windows:
        ax.bar(x - 0.2, peaks["inside"].fillna(0), 0.4, label="inside tariff windows", color="#c0504d")
        ax.bar(x + 0.2, peaks["outside"].fillna(0), 0.4, label="outside", color="#9bbbd9")
        ax.legend(loc="upper right")
    else:
        ax.bar(x, peaks["all"], 0.5, color="#2a7ab9")
    ax.set_xticks(x, list(peaks.index))
    ax.set_xlim(-0.6, max(len(x), 8) - 0.4)  # keep bars narrow when there are few months
    ax.set_ylabel("max hourly-mean import MW")
    return fig


def _day_bars(ax, dates: pd.Series, values, width: float, **kw) -> None:
    """Daily bars as one PolyCollection (one Rectangle artist per bar is slow for long backtests)."""
    x, v = mdates.date2num(dates.to_numpy()), np.nan_to_num(np.asarray(values, float))
    ax.add_collection(PolyCollection(np.stack([np.c_[x - width / 2, 0 * v], np.c_[x - width / 2, v],
                                               np.c_[x + width / 2, v], np.c_[x + width / 2, 0 * v]], axis=1), **kw))
    ax.xaxis_date()
    ax.autoscale_view()


CAPACITY_SUFFIXES = ("_offered_mw_h", "_accepted_mw_h")  # daily.csv, per capacity product


def capacity_products(daily: pd.DataFrame) -> list[str]:
    """The products with capacity columns (``<name>_offered_mw_h`` / ``_accepted_mw_h``) in daily.csv,
    in the registry's order (names the registry does not know after them, in column order)."""
    from bidopt import markets

    names = list(dict.fromkeys(c[: -len(sfx)] for c in daily.columns for sfx in CAPACITY_SUFFIXES if c.endswith(sfx)))
    order = {p.name: i for i, p in enumerate(markets.registered())}
    return sorted(names, key=lambda n: (order.get(n, len(order)), names.index(n)))


def product_label(name: str) -> str:
    """A product's name in the report: its registered ``label``, else its name."""
    from bidopt import markets

    known = {p.name: p for p in markets.registered()}
    return (known[name].label or name) if name in known else name


def plot_volumes(daily: pd.DataFrame) -> Figure | None:
    """Day-ahead volumes, then offered vs accepted capacity of each product (MW·h per day), then blocks."""
    has = set(daily.columns)
    panels = [p for p, cols in (("da", {"da_cleared_buy_mwh", "da_cleared_sell_mwh"}),) if cols & has]
    panels += [("capacity", name) for name in capacity_products(daily)]
    panels += ["blocks"] if {"blocks_submitted", "blocks_accepted"} & has else []
    if not panels and "da_expected_net_mwh" not in has:
        return None
    panels = panels or ["da"]
    fig, axes = new_figure(len(panels), 1, h=2.6 * len(panels), right=1.4, sharex=True)
    d = daily["date"]
    for ax, p in zip(axes, panels, strict=True):
        if p == "da":
            _day_ahead_panel(ax, daily, d, has)
        else:
            sub, acc, label = ((f"{p[1]}_offered_mw_h", f"{p[1]}_accepted_mw_h", "offered") if p != "blocks"
                               else ("blocks_submitted", "blocks_accepted", "submitted"))
            if sub in has:
                _day_bars(ax, d, daily[sub], 0.8, color="0.8", label=label)
            if acc in has:
                _day_bars(ax, d, daily[acc], 0.45, color="#2a7ab9", label="accepted")
            ax.set_ylabel(f"{product_label(p[1])} MW·h" if p != "blocks" else "blocks")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes[-1].xaxis.get_major_locator()))
    return fig


def _day_ahead_panel(ax, daily: pd.DataFrame, d: pd.Series, has: set) -> None:
    buy = daily.get("da_cleared_buy_mwh", pd.Series(0.0, index=daily.index)).fillna(0)
    sell = daily.get("da_cleared_sell_mwh", pd.Series(0.0, index=daily.index)).fillna(0).abs()
    if {"da_cleared_buy_mwh", "da_cleared_sell_mwh"} & has:
        _day_bars(ax, d, buy, 0.8, color="#2a7ab9", label="cleared buy")
        _day_bars(ax, d, -sell, 0.8, color="#e08a3c", label="cleared sell")
        ax.plot(d, buy - sell, "k.-", lw=0.8, ms=3, label="cleared net")
    if "da_expected_net_mwh" in has:
        ax.plot(d, daily["da_expected_net_mwh"], color="#6a3d9a", ls="--", lw=1.2, label="expected net")
    ax.set_ylabel("day-ahead MWh")
