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
5. accepted vs submitted volumes: day-ahead, each capacity product's offered and accepted MW·h
   (``<name>_offered_mw_h`` / ``_accepted_mw_h``, one panel per product in the registry's order),
   blocks;
6. a histogram of the daily capture ratio, and the bids against the outcome on one day (``day``;
   default the median-capture day) from the curves the checkpoints kept (``report_days``);
7. with other backtest folders (``compare``), the strategies side by side (``report_compare``).

With a baseline (``summary.baseline``) the key figures add its result and the value added, and the
cumulative plot its line.

After the key figures, the result per market product (its streams summed, from the registry of
products), with the capacity it offered and had accepted and the pricing rule of its days.

With FCR, a table of the auction rules the days were settled under (``summary.fcr_rules``: pricing
and gates per period, with their sources).

A plot whose columns are missing is replaced by a short note. The same inputs give byte-identical
output (fixed style, no PNG metadata, no creation time). The file is written to a temporary file
in the same folder and moved into place, so a failed build leaves no half-written report.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bidopt.backtest.report_plots import (
    monthly_peaks,  # noqa: F401  (re-exported)
    new_figure,
    pick_week,
    plot_cumulative,
    plot_peaks,
    plot_streams,
    plot_volumes,
    plot_week,
    png,
    stream_names,
)
from bidopt.errors import InputError

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


# --- HTML -----------------------------------------------------------------------------------------
def _eur(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{float(v):,.0f}".replace(",", "\u2009")


def _key_figures(summary: dict, daily: pd.DataFrame) -> str:
    n = summary.get("n_days") or len(daily)
    result = summary.get("objective_eur", float(daily["total_eur"].sum()))
    pf = summary.get("perfect_foresight_eur")
    if pf is None and "perfect_foresight_eur" in daily:
        pf = float(daily["perfect_foresight_eur"].sum())
    streams = summary.get("revenue_eur") or {s: float(daily[f"{s}_eur"].sum()) for s in stream_names(daily)}
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


def _products(summary: dict, daily: pd.DataFrame) -> list[str]:
    """Result per market product (its streams summed, from the registry) with the capacity it offered
    and had accepted (``<name>_offered_mw_h``, ``<name>_accepted_mw_h``) and the pricing rule of its
    days (``<name>_pricing``); the site's own streams (tariff, tax, degradation) in a last row."""
    from bidopt import markets

    n = summary.get("n_days") or len(daily)
    money = {s: float(daily[f"{s}_eur"].sum()) for s in stream_names(daily)} or {
        str(k): float(v) for k, v in (summary.get("revenue_eur") or {}).items() if v is not None}
    rows, seen = [], set()
    for prod in markets.registered():
        streams = [s for s in prod.streams if s in money]
        if not streams and f"{prod.name}_offered_mw_h" not in daily:
            continue
        seen.update(streams)
        rows.append((prod.label or prod.name, streams, sum(money[s] for s in streams), prod.name))
    rest = [s for s in money if s not in seen]
    if rest:
        rows.append(("site and other streams", rest, sum(money[s] for s in rest), None))
    if not rows:
        return []

    def mwh(name, kind):
        col = f"{name}_{kind}_mw_h"
        return "" if name is None or col not in daily else f"{float(daily[col].sum()):,.1f}".replace(",", "\u2009")

    def pricing(name):
        col = f"{name}_pricing"
        if name is None or col not in daily:
            return ""
        return ", ".join(f"{k.replace('_', '-')} {v} d" for k, v in daily[col].dropna().astype(str).value_counts().sort_index().items())

    out = ["<h2>Result by product</h2>",
           "<table><tr><th>product</th><th>streams</th><th>EUR</th><th>EUR/day</th><th>offered MW·h</th>"
           "<th>accepted MW·h</th><th>pricing</th></tr>"]
    for label, streams, eur, name in rows:
        cells = [f"<td>{html.escape(label)}</td>", f"<td>{html.escape(', '.join(streams))}</td>",
                 f'<td class="n">{_eur(eur)}</td>', f'<td class="n">{_eur(eur / n if n else None)}</td>',
                 f'<td class="n">{mwh(name, "offered")}</td>', f'<td class="n">{mwh(name, "accepted")}</td>',
                 f"<td>{html.escape(pricing(name))}</td>"]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return out


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
    body = (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png(fig)}">' if fig is not None
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
    parts += _products(summary, daily)
    parts += _fcr_rules(summary)
    windows = [w for w in summary.get("tariff_windows") or [] if isinstance(w, dict)]
    no_ts = "timeseries.csv not found"
    with matplotlib.rc_context(STYLE):
        parts.append(_section("Cumulative result vs perfect foresight", plot_cumulative(daily), "", "cumulative"))
        parts.append(_section("Result by stream", plot_streams(daily, summary), "no stream columns", "streams"))
        start = None if ts is None or "price_eur_per_mwh" not in ts else pick_week(ts, week)
        fig = None if start is None else plot_week(ts, start)
        title = "SoC and price, one week" + (f" from {start:%Y-%m-%d} (Europe/Stockholm)" if start is not None else "")
        note = no_ts if ts is None else ("no data in that week" if start is not None else "no price column")
        parts.append(_section(title, fig, note, "week"))
        fig = None if ts is None or "grid_import_mw" not in ts else plot_peaks(ts, windows)
        parts.append(_section("Monthly peaks" + (" vs tariff windows" if windows else ""), fig,
                              no_ts if ts is None else "no grid_import_mw column", "peaks"))
        parts.append(_section("Accepted vs submitted volumes", plot_volumes(daily), "no volume columns", "volumes"))
        fig, note = report_days.histogram_figure(daily, new_figure)
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
                         f'{png(report_compare.cumulative_figure(runs, new_figure))}">')
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
