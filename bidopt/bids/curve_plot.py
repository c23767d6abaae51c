"""``curves.png``: the day-ahead curves a bid submits, drawn as a trader reads them.

One panel per group of MTUs (4 panels: a quarter of the day each, 6 hours at 60-min MTU), one line
per MTU: volume (MW, + = buy, - = sell) on x against price (EUR/MWh) on y, through the exported
points (what the exchange interpolates), with the scenario prices marked on the curve. The price
axis spans the scenario prices and the tail points (not the full exchange limits, which would
flatten everything); the flat parts beyond run on to the limits. Drawn with matplotlib's Agg
canvas (no display, no network).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bidopt.bids.orders import OrdersFile

PANELS = 4


def plot_curves(orders: OrdersFile, scenario_prices: np.ndarray, path: Path, title: str = "") -> Path:
    """Write the curves of ``orders`` (first curve order) to ``path`` (PNG); ``scenario_prices`` is
    the S x MTU cube the curves were built on (EUR/MWh)."""
    curves = orders.curve_orders[0].curves if orders.curve_orders else []
    n = len(curves)
    size = max(1, -(-n // PANELS))
    fig = Figure(figsize=(11, 8), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
    scen = np.asarray(scenario_prices, dtype=float)
    inner = [q.price for c in curves for q in c.curve_points[1:-1]]
    lo = min([*inner, float(scen.min())]) if scen.size else -10.0
    hi = max([*inner, float(scen.max())]) if scen.size else 10.0
    pad = 0.08 * max(hi - lo, 1.0)
    colors = matplotlib.colormaps["viridis"]
    for g, ax in enumerate(axes):
        group = range(g * size, min((g + 1) * size, n))
        for j, t in enumerate(group):
            pts = curves[t].curve_points
            ps = np.array([q.price for q in pts])
            vs = np.array([q.volume for q in pts])
            color = colors(j / max(size - 1, 1))
            ax.plot(vs, ps, color=color, lw=1.2, label=f"MTU {t + 1}")
            if t < scen.shape[1]:
                sp = np.unique(scen[:, t])
                ax.plot(np.interp(sp, ps, vs), sp, "o", ms=3, color=color)
        ax.axvline(0.0, color="#888", lw=0.6)
        ax.set_ylim(lo - pad, hi + pad)
        if len(group):
            ax.set_title(f"MTUs {group.start + 1}-{group.stop}", fontsize=9)
            if size <= 8:
                ax.legend(fontsize=6, ncol=2, loc="upper right")
    for ax in axes[2:]:
        ax.set_xlabel("volume MW (+ buy, - sell)")
    for ax in axes[::2]:
        ax.set_ylabel("price EUR/MWh")
    fig.suptitle(title or "day-ahead curves (dots: scenario prices)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return Path(path)
