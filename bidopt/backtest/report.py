"""One self-contained HTML report of a backtest output folder (``bidopt report DIR``).

Reads ``summary.json``, ``daily.csv`` (both required) and ``timeseries.csv`` (optional) as written
by the backtest engine and writes ``report.html`` beside them: a header, the warnings (first, as
they can change how every figure reads), the key figures, and plots embedded as base64 PNG
(matplotlib Agg, no network, no JavaScript):

1. cumulative result vs perfect foresight per day;
2. result by stream: totals and monthly stacked bars (gains up, costs down);
3. SoC and price over one week (``week`` = first local day; default the first week with the
   largest price spread), times in Europe/Stockholm;
4. per month the max hourly-mean grid import inside vs outside ``summary.tariff_windows``
   (local time; window holidays are not in the summary and are ignored);
5. accepted vs submitted volumes: day-ahead, FCR, blocks;
6. a histogram of the daily capture ratio, and the bids against the outcome on one day (``day``;
   default the median-capture day) from the curves the checkpoints kept (``report_days``);
7. with other backtest folders (``compare``), the strategies side by side (``report_compare``).

With a baseline (``summary.baseline``) the key figures add its result and the value added, and the
cumulative plot its line.

With FCR, a table of the auction rules the days were settled under (``summary.fcr_rules``: pricing
and gates per period, with their sources).

A plot whose columns are missing is replaced by a short note. The same inputs give byte-identical
output (fixed style, no PNG metadata, no creation time). The file is written to a temporary file
in the same folder and moved into place, so a failed build leaves no half-written report.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

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
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
         "svg.hashsalt": "bidopt", "axes.spines.top": False, "axes.spines.right": False}
CSS = """body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:3px 12px;border-bottom:1px solid #e4e4e4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.meta{color:#555}.note{color:#777;font-style:italic}
ul.warn li{color:#8a4b00}.s{padding-left:1.2em}img{max-width:100%;height:auto}"""


# --- inputs ---------------------------------------------------------------------------------------
def _read_csv(path: Path, required: bool, needed: tuple[str, ...]) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise InputError(path, None, "file not found")
        return None
    try:
        df = pd.read_csv(path)
    except (ValueError, OSError) as e:
        raise InputError(path, None, f"cannot read CSV: {e}") from e
    for col in needed:
        if col not in df.columns:
            raise InputError(path, col, "column missing")
    return df


def _load(out_dir: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    path = out_dir / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise InputError(path, None, "file not found") from e
    except (ValueError, OSError) as e:
        raise InputError(path, None, f"cannot read JSON: {e}") from e
    except RecursionError:
        raise InputError(path, None, "cannot read JSON: arrays or objects nested too deeply") from None
    if not isinstance(summary, dict):
        raise InputError(path, None, "expected a JSON object")
    _check_summary(summary, path)
    daily = _read_csv(out_dir / "daily.csv", True, ("date", "total_eur"))
    if daily.empty:
        raise InputError(out_dir / "daily.csv", None, "no data rows (a backtest writes one per day)")
    _numeric(daily, out_dir / "daily.csv")
    dates = pd.to_datetime(daily["date"], format="%Y-%m-%d", errors="coerce")
    _first_bad(dates.isna().to_numpy(), daily["date"], out_dir / "daily.csv", "date", "is not a date (YYYY-MM-DD)")
    _first_bad(dates.duplicated().to_numpy(), daily["date"], out_dir / "daily.csv", "date", "is a date given twice")
    daily["date"] = dates
    daily = daily.sort_values("date").reset_index(drop=True)
    ts = _read_csv(out_dir / "timeseries.csv", False, ("timestamp_utc",))
    if ts is not None:
        file = out_dir / "timeseries.csv"
        stamps = pd.to_datetime(ts["timestamp_utc"], utc=True, errors="coerce", format="ISO8601")
        _first_bad(stamps.isna().to_numpy(), ts["timestamp_utc"], file, "timestamp_utc", "is not an ISO 8601 time")
        _numeric(ts.drop(columns="timestamp_utc"), file)
        ts.index = pd.DatetimeIndex(stamps)
        ts = ts.drop(columns="timestamp_utc").sort_index()
    return summary, daily, ts


_NUMERIC_ENDS = ("_eur", "_mwh", "_mw", "_mw_h", "_eur_per_mwh", "_submitted", "_accepted", "_minutes")


def _first_bad(bad, values: pd.Series, file: Path, column: str, what: str) -> None:
    """InputError naming the editor line (header = line 1) of the first ``bad`` row."""
    if bad.any():
        i = int(bad.argmax())
        text = str(values.iloc[i])
        text = text if len(text) <= 40 and text.isprintable() else text[:37] + "..."
        raise InputError(file, f"line {i + 2}", f"{column}: {text!r} {what}")


def _numeric(df: pd.DataFrame, file: Path) -> None:
    """The figure columns of a daily.csv / timeseries.csv (by unit suffix) hold numbers (or are empty)."""
    for col in df.columns:
        if str(col).endswith(_NUMERIC_ENDS) and df[col].dtype.kind not in "fiub":
            num = pd.to_numeric(df[col], errors="coerce")
            _first_bad((num.isna() & df[col].notna()).to_numpy(), df[col], file, str(col), "is not a number")
            df[col] = num


def _check_summary(summary: dict, path: Path) -> None:
    """The summary.json keys the report reads have the types a backtest writes."""
    def number(v):
        return v is None or (isinstance(v, int | float) and not isinstance(v, bool))

    for key in ("objective_eur", "perfect_foresight_eur", "capture_ratio", "n_days", "baseline_eur",
                "value_added_eur", "value_capture_ratio"):
        if not number(summary.get(key)):
            raise InputError(path, key, "expected a number")
    rev = summary.get("revenue_eur")
    if rev is not None and not (isinstance(rev, dict) and all(number(v) for v in rev.values())):
        raise InputError(path, "revenue_eur", "expected an object of numbers per stream")
    for key in ("warnings", "tariff_windows", "fcr_rules"):
        if summary.get(key) is not None and not isinstance(summary[key], list):
            raise InputError(path, key, "expected a list")


def _streams(daily: pd.DataFrame) -> list[str]:
    return [c[:-4] for c in daily.columns if c.endswith("_eur") and c not in NOT_STREAMS]


# --- figures --------------------------------------------------------------------------------------
def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new(rows=1, cols=1, h=3.6, left=1.0, right=0.25, wspace=0.3, **kw) -> tuple[Figure, np.ndarray]:
    """A 10.5 in wide figure with fixed margins in inches (constrained layout doubles the render time)."""
    fig = Figure(figsize=(10.5, h))
    fig.subplots_adjust(left=left / 10.5, right=1 - right / 10.5, bottom=0.6 / h, top=1 - 0.15 / h,
                        wspace=wspace, hspace=0.35 / (h / rows))
    return fig, np.atleast_1d(fig.subplots(rows, cols, squeeze=False, **kw).ravel())


def _plot_cumulative(daily: pd.DataFrame) -> Figure:
    fig, (ax,) = _new()
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


def _plot_streams(daily: pd.DataFrame, summary: dict) -> Figure | None:
    streams = _streams(daily)
    totals = {s: float(daily[f"{s}_eur"].sum()) for s in streams} or {
        str(k): float(v) for k, v in (summary.get("revenue_eur") or {}).items() if v is not None}
    if not totals:
        return None
    fig, axes = _new(1, 2 if streams else 1, h=max(3.4, 0.32 * len(totals) + 1.2),
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


def _plot_week(ts: pd.DataFrame, start: pd.Timestamp) -> Figure | None:
    end = (start.tz_localize(None) + pd.Timedelta(days=7)).tz_localize(TZ)
    w = ts.loc[(ts.index >= start.tz_convert("UTC")) & (ts.index < end.tz_convert("UTC"))]
    if w.empty:
        return None
    socs = [c for c in w.columns if c.endswith("_soc_mwh")]
    fig, (ax,) = _new(h=4.0, right=0.9)
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


def _plot_peaks(ts: pd.DataFrame, windows: list[dict]) -> Figure:
    peaks = monthly_peaks(ts, windows)
    fig, (ax,) = _new(h=3.4)
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


def _plot_volumes(daily: pd.DataFrame) -> Figure | None:
    has = set(daily.columns)
    panels = [p for p, cols in (("da", {"da_cleared_buy_mwh", "da_cleared_sell_mwh"}),
                                ("fcr", {"fcr_offered_mw_h", "fcr_accepted_mw_h"}),
                                ("blocks", {"blocks_submitted", "blocks_accepted"})) if cols & has]
    if not panels and "da_expected_net_mwh" not in has:
        return None
    panels = panels or ["da"]
    fig, axes = _new(len(panels), 1, h=2.6 * len(panels), right=1.4, sharex=True)
    d = daily["date"]
    for ax, p in zip(axes, panels, strict=True):
        if p == "da":
            buy = daily.get("da_cleared_buy_mwh", pd.Series(0.0, index=daily.index)).fillna(0)
            sell = daily.get("da_cleared_sell_mwh", pd.Series(0.0, index=daily.index)).fillna(0).abs()
            if {"da_cleared_buy_mwh", "da_cleared_sell_mwh"} & has:
                _day_bars(ax, d, buy, 0.8, color="#2a7ab9", label="cleared buy")
                _day_bars(ax, d, -sell, 0.8, color="#e08a3c", label="cleared sell")
                ax.plot(d, buy - sell, "k.-", lw=0.8, ms=3, label="cleared net")
            if "da_expected_net_mwh" in has:
                ax.plot(d, daily["da_expected_net_mwh"], color="#6a3d9a", ls="--", lw=1.2, label="expected net")
            ax.set_ylabel("day-ahead MWh")
        else:
            sub, acc, label = (("fcr_offered_mw_h", "fcr_accepted_mw_h", "offered") if p == "fcr"
                               else ("blocks_submitted", "blocks_accepted", "submitted"))
            if sub in has:
                _day_bars(ax, d, daily[sub], 0.8, color="0.8", label=label)
            if acc in has:
                _day_bars(ax, d, daily[acc], 0.45, color="#2a7ab9", label="accepted")
            ax.set_ylabel("FCR MW·h" if p == "fcr" else "blocks")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes[-1].xaxis.get_major_locator()))
    return fig


# --- HTML -----------------------------------------------------------------------------------------
def _eur(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{float(v):,.0f}".replace(",", "\u2009")


def _key_figures(summary: dict, daily: pd.DataFrame) -> str:
    n = summary.get("n_days") or len(daily)
    result = summary.get("objective_eur", float(daily["total_eur"].sum()))
    pf = summary.get("perfect_foresight_eur")
    if pf is None and "perfect_foresight_eur" in daily:
        pf = float(daily["perfect_foresight_eur"].sum())
    streams = summary.get("revenue_eur") or {s: float(daily[f"{s}_eur"].sum()) for s in _streams(daily)}
    rows = [("<b>Strategy result</b>", result), ("Perfect foresight", pf)]
    if summary.get("baseline"):
        rows += [(f"Baseline ({html.escape(str(summary['baseline']))})", summary.get("baseline_eur")),
                 ("Value added (strategy − baseline)", summary.get("value_added_eur"))]
    rows += [(f'<span class="s">{html.escape(str(k))}</span>', v) for k, v in streams.items()]
    out = ["<table><tr><th></th><th>EUR</th><th>EUR/day</th></tr>"]
    for name, v in rows:
        per_day = None if v is None or not n else float(v) / n
        out.append(f'<tr><td>{name}</td><td class="n">{_eur(v)}</td><td class="n">{_eur(per_day)}</td></tr>')
    cr = summary.get("capture_ratio")
    cr_s = "n/a" if cr is None else f"{100 * float(cr):.1f} %"
    out.append(f'<tr><td>Capture ratio</td><td class="n">{html.escape(cr_s)}</td><td></td></tr>')
    vc = summary.get("value_capture_ratio")
    if summary.get("baseline"):
        vc_s = "n/a" if vc is None else f"{100 * float(vc):.1f} %"
        out.append(f'<tr><td>Value capture ratio (of what perfect foresight gains over the baseline)</td>'
                   f'<td class="n">{html.escape(vc_s)}</td><td></td></tr>')
    out.append("</table>")
    return "\n".join(out)


def _fcr_rules(summary: dict) -> list[str]:
    """The FCR auction rules the backtest settled under (``summary["fcr_rules"]``), one row per period."""
    rows = [r for r in summary.get("fcr_rules") or [] if isinstance(r, dict)]
    if not rows:
        return []
    out = ["<h2>FCR auction rules applied</h2>",
           "<table><tr><th>days</th><th>pricing</th><th>auction 1 gate</th><th>auction 2 gate</th><th>source</th></tr>"]
    for r in rows:
        cells = [f"{r.get('first_day', '?')} to {r.get('last_day', '?')}", str(r.get("pricing", "?")).replace("_", "-"),
                 r.get("auction1_gate", "?"), r.get("auction2_gate", "?"), r.get("source", "")]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    out += [f'<p class="note">{html.escape(str(n))}</p>' for n in dict.fromkeys(r["note"] for r in rows if r.get("note"))]
    return out


def _section(title: str, fig: Figure | None, note: str, alt: str) -> str:
    body = (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">' if fig is not None
            else f'<p class="note">{html.escape(note)}</p>')
    return f"<h2>{html.escape(title)}</h2>\n{body}"


def build_html(out_dir: Path, week: str | None = None, day: str | None = None, compare=(),
               checkpoints: Path | None = None) -> str:
    """The report for backtest output folder ``out_dir`` as one HTML string. ``day``: the day of
    the bid-versus-outcome panel; ``compare``: other backtest folders to put beside this one;
    ``checkpoints``: where the day checkpoints are (default ``out_dir/.checkpoints``)."""
    from bidopt.backtest import report_compare, report_days

    out_dir = Path(out_dir)
    summary, daily, ts = _load(out_dir)
    others = [(Path(d), *_load(Path(d))[:2]) for d in compare]
    chosen = report_days.pick_day(daily, day)
    e = lambda k, d="?": html.escape(str(summary.get(k, d)))  # noqa: E731
    page = f"Backtest {summary.get('case', out_dir.name)}: {summary.get('strategy', '?')}"
    warnings = summary.get("warnings") or []
    parts = [
        f"<h1>{html.escape(page)}</h1>",
        f'<p class="meta">Case <b>{e("case")}</b> &middot; strategy <b>{e("strategy")}</b> &middot; zone '
        f'<b>{e("zone")}</b> &middot; {e("start")} to {e("end")} &middot; {e("n_days", len(daily))} days &middot; '
        f'MTU {e("mtu_minutes")} min</p>',
        "<h2>Warnings</h2>",  # first: a warning can change how every figure below reads
        ('<ul class="warn">' + "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings) + "</ul>")
        if warnings else '<p class="note">none</p>',
        "<h2>Key figures</h2>", _key_figures(summary, daily),
    ]
    parts += _fcr_rules(summary)
    windows = [w for w in summary.get("tariff_windows") or [] if isinstance(w, dict)]
    no_ts = "timeseries.csv not found"
    with matplotlib.rc_context(STYLE):
        parts.append(_section("Cumulative result vs perfect foresight", _plot_cumulative(daily), "", "cumulative"))
        parts.append(_section("Result by stream", _plot_streams(daily, summary), "no stream columns", "streams"))
        start = None if ts is None or "price_eur_per_mwh" not in ts else pick_week(ts, week)
        fig = None if start is None else _plot_week(ts, start)
        title = "SoC and price, one week" + (f" from {start:%Y-%m-%d} (Europe/Stockholm)" if start is not None else "")
        note = no_ts if ts is None else ("no data in that week" if start is not None else "no price column")
        parts.append(_section(title, fig, note, "week"))
        fig = None if ts is None or "grid_import_mw" not in ts else _plot_peaks(ts, windows)
        parts.append(_section("Monthly peaks" + (" vs tariff windows" if windows else ""), fig,
                              no_ts if ts is None else "no grid_import_mw column", "peaks"))
        parts.append(_section("Accepted vs submitted volumes", _plot_volumes(daily), "no volume columns", "volumes"))
        fig, note = report_days.histogram_figure(daily, _new)
        parts.append(_section("Daily capture ratio", fig, note, "capture histogram"))
        if fig is not None:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        sub = report_days.submitted(Path(checkpoints) if checkpoints else out_dir / ".checkpoints", chosen)
        fig, note = (None, f"no submitted curves recorded for {chosen:%Y-%m-%d} (strategy "
                           f"{summary.get('strategy', '?')} submits no day-ahead orders, or its checkpoint "
                           "predates this record)") if sub is None else report_days.bid_figure(sub, ts)
        parts.append(_section(f"Bids vs outcome on {chosen:%Y-%m-%d}" + ("" if day else " (median-capture day)"),
                              fig, note, "bids vs outcome"))
        if fig is not None:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        if others:
            runs = [(out_dir, summary, daily), *others]
            parts += ["<h2>Strategies side by side</h2>", report_compare.table(runs, _eur)]
            parts.append(f'<img alt="strategies" src="data:image/png;base64,'
                         f'{_png(report_compare.cumulative_figure(runs, _new))}">')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(page)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_report(out_dir: Path, week: str | None = None, day: str | None = None, compare=()) -> Path:
    """Write ``out_dir/report.html`` (published under the folder's lock, ``output.write_all``) and
    return its path. The lock is taken first: a publish a killed run left is completed before the
    files are read."""
    from bidopt import output

    out_dir = Path(out_dir)
    if not out_dir.is_dir():  # no backtest here: do not create the folder
        build_html(out_dir, week, day, compare)  # raises the error naming the file
    with output.locked(out_dir):
        text = build_html(out_dir, week, day, compare).encode("utf-8")
        return output.write_all(out_dir, {"report.html": lambda f: f.write_bytes(text)})[0]
