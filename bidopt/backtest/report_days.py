"""Per-day panels of ``report.html``: the daily capture ratio (a histogram) and, for one day, the
bids against the outcome. Money EUR, power MW, prices EUR/MWh, times Europe/Stockholm.

**Daily capture ratio** (``daily_capture``): without a baseline, the day's result over its
perfect-foresight result (``total_eur / perfect_foresight_eur``), defined on days where perfect
foresight earns money; with a baseline (``daily.csv`` ``baseline_eur``), the share of what perfect
foresight gains over the baseline that the strategy gained, ``(total - baseline) / (perfect
foresight - baseline)``, defined where that gain is positive. The histogram clips at -1 and 1.5
and says how many days lie outside.

**Bid versus outcome** (``bid_figure``) for one day (``bidopt report DIR --day D``; default the
median-capture day: the lower median of the defined daily ratios, else the first day): the
day-ahead curves the strategy submitted (kept per day in ``.checkpoints/strategy/<day>.json``
under ``submitted``, ``bidopt.backtest.day.submitted_curves``) for four MTUs (the lowest and the
highest realised price, the largest cleared buy and sell), each with its cleared point (cleared
volume at the realised price), and over the whole day the range the curves spanned (volume at the
price cap to volume at the floor) with the cleared position and the realised price.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bidopt.errors import InputError

TZ = "Europe/Stockholm"
CLIP = (-1.0, 1.5)


def daily_capture(daily: pd.DataFrame) -> tuple[pd.Series, str]:
    """The daily capture ratio (NaN where undefined) and what it measures."""
    total = daily["total_eur"].astype(float)
    pf = daily.get("perfect_foresight_eur")
    if pf is None:
        return pd.Series(np.nan, index=daily.index), "no perfect_foresight_eur column"
    pf = pf.astype(float)
    if "baseline_eur" in daily:
        base = daily["baseline_eur"].astype(float)
        gain = pf - base
        return ((total - base) / gain).where(gain > 1e-9), "(strategy - baseline) / (perfect foresight - baseline)"
    return (total / pf).where(pf > 1e-9), "strategy / perfect foresight"


def pick_day(daily: pd.DataFrame, day: str | None) -> pd.Timestamp:
    """``day`` (YYYY-MM-DD, within the run), else the median-capture day, else the first day."""
    dates = pd.DatetimeIndex(daily["date"])
    if day is not None:
        try:
            d = pd.Timestamp(dt.date.fromisoformat(str(day)))
        except ValueError:
            raise InputError(None, "--day", f"expected YYYY-MM-DD, got {str(day)[:40]!r}") from None
        if d not in dates:
            raise InputError(None, "--day", f"{d:%Y-%m-%d} is not a day of the backtest "
                             f"({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d})")
        return d
    ratio, _ = daily_capture(daily)
    ok = ratio.dropna().sort_values(kind="stable")
    if ok.empty:
        return dates[0]
    return pd.Timestamp(daily["date"].iloc[ok.index[(len(ok) - 1) // 2]])


def histogram_figure(daily: pd.DataFrame, new) -> tuple[Figure | None, str]:
    """The histogram of daily capture ratios and a note (what it measures, days left out)."""
    ratio, what = daily_capture(daily)
    ok = ratio.dropna().to_numpy(float)
    if len(ok) == 0:
        return None, f"no day with a defined capture ratio ({what})"
    fig, (ax,) = new(h=3.0)
    ax.hist(np.clip(ok, *CLIP), bins=np.linspace(CLIP[0], CLIP[1], 26), color="#2a7ab9", edgecolor="white")
    med = float(np.median(ok))
    ax.axvline(min(max(med, CLIP[0]), CLIP[1]), color="k", ls="--", lw=1.0, label=f"median {med:.2f}")
    ax.set_xlabel(f"daily capture ratio: {what}")
    ax.set_ylabel("days")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize=8)
    outside = int(((ok < CLIP[0]) | (ok > CLIP[1])).sum())
    note = (f"{len(ok)} of {len(daily)} days with a defined ratio; {outside} outside "
            f"[{CLIP[0]:g}, {CLIP[1]:g}] drawn at the edges")
    return fig, note


def submitted(checkpoints: Path, day: pd.Timestamp) -> dict | None:
    """The curves submitted on ``day`` from its checkpoint in the folder ``checkpoints`` (a
    backtest's ``DIR/.checkpoints``), or None when not recorded."""
    path = Path(checkpoints) / "strategy" / f"{day:%Y-%m-%d}.json"
    try:
        sub = json.loads(path.read_text()).get("submitted")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(sub, dict) or not isinstance(sub.get("curves"), list) or not isinstance(sub.get("index"), list):
        return None
    return sub


def _curve_volume(pts, price: float) -> float:
    return float(np.interp(price, [p for p, _ in pts], [v for _, v in pts]))


def _chosen(price: np.ndarray, position: np.ndarray) -> list[int]:
    """Up to four MTUs: lowest and highest price, largest cleared buy and sell (then largest |volume|)."""
    out: list[int] = []
    for t in (int(np.argmin(price)), int(np.argmax(price)), int(np.argmax(position)), int(np.argmin(position)),
              *np.argsort(-np.abs(position), kind="stable").tolist()):
        if t not in out:
            out.append(int(t))
        if len(out) == 4:
            break
    return sorted(out)


def bid_figure(sub: dict, ts: pd.DataFrame | None) -> tuple[Figure | None, str]:
    """The bid-versus-outcome figure for one day's ``submitted`` record, and a note."""
    try:
        index = pd.DatetimeIndex(pd.to_datetime(sub["index"], utc=True, format="ISO8601"))
        curves = [[(float(p), float(v)) for p, v in c] for c in sub["curves"]]
    except (ValueError, TypeError):
        return None, "the submitted curves in the checkpoint are unreadable"
    if len(curves) != len(index) or not curves or any(not c for c in curves):
        return None, "the submitted curves in the checkpoint are incomplete"
    if ts is None or "price_eur_per_mwh" not in ts:
        return None, "timeseries.csv with the realised prices is needed"
    real = ts.reindex(index)
    price = real["price_eur_per_mwh"].to_numpy(float)
    if np.isnan(price).any():
        return None, "timeseries.csv lacks the realised prices of that day"
    position = (real["position_mw"].to_numpy(float) if "position_mw" in real
                else np.array([_curve_volume(c, p) for c, p in zip(curves, price, strict=True)]))
    chosen = _chosen(price, position)
    fig = Figure(figsize=(10.5, 6.4))
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.08, top=0.95, hspace=0.45, wspace=0.35)
    grid = fig.add_gridspec(2, 4)
    local = index.tz_convert(TZ)
    for i, t in enumerate(chosen):
        ax = fig.add_subplot(grid[0, i])
        pts = curves[t]
        inner = [p for p, _ in pts[1:-1]] + [price[t]]
        lo, hi = min(inner), max(inner)
        pad = max(10.0, 0.15 * (hi - lo))
        ax.plot([v for _, v in pts], [p for p, _ in pts], color="#2a7ab9", lw=1.5, label="submitted curve")
        ax.plot([position[t]], [price[t]], "o", color="#c0504d", ms=6, label="cleared")
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(f"{local[t]:%H:%M}", fontsize=9)
        ax.set_xlabel("MW (+ = buy)")
        if i == 0:
            ax.set_ylabel("EUR/MWh")
            ax.legend(fontsize=7, loc="best")
    ax = fig.add_subplot(grid[1, :])
    top = np.array([_curve_volume(c, c[-1][0]) for c in curves])  # at the price cap: the least bought
    bottom = np.array([_curve_volume(c, c[0][0]) for c in curves])  # at the floor: the most bought
    ax.fill_between(index, top, bottom, step="post", color="#9bbbd9", alpha=0.6, label="submitted range (cap to floor)")
    ax.step(index, position, where="post", color="k", lw=1.3, label="cleared position")
    for t in chosen:
        ax.axvline(index[t], color="0.6", lw=0.6, ls=":")
    ax.set_ylabel("MW (+ = buy)")
    pax = ax.twinx()
    pax.step(index, price, where="post", color="#c0504d", lw=1.0, label="realised price")
    pax.set_ylabel("EUR/MWh")
    pax.grid(False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=local.tz))
    lines = ax.get_legend_handles_labels()
    plines = pax.get_legend_handles_labels()
    ax.legend(lines[0] + plines[0], lines[1] + plines[1], fontsize=7, loc="upper left", ncol=3)
    blocks = int(sub.get("blocks") or 0)
    note = f"{len(curves)} MTUs; top: the MTUs at {', '.join(f'{local[t]:%H:%M}' for t in chosen)} (local)"
    if blocks:
        note += f"; {blocks} block order(s) submitted besides the curves are not drawn"
    return fig, note
