"""Worked example for docs/bidding.md: run ``bidopt.bid`` on the demo case for one delivery day and
draw the bid curves, the price scenarios and the schedule.

matplotlib is NOT a dependency of bidopt. It is needed for this script only; install it in the same
environment first:

    pip install matplotlib

Run from anywhere (paths are relative to this file's repository):

    python docs/examples/bidding_example.py                          # demo case, 2024-03-14, 60-min MTUs
    python docs/examples/bidding_example.py --day 2025-11-12 --mtu 15
    python docs/examples/bidding_example.py --positions 19 20 12     # choose the MTUs of plot (a)

It writes three PNGs (default folder docs/img/) and prints the numbers quoted in docs/bidding.md:
the expected objective, the range of the scenario results and one MTU's curve points as a Markdown
table. Nothing else is written (no order files; use ``bidopt bid`` for those).

Plots:

* ``bidding_curves.png``: the exported curve (volume against price, linear between the points as
  Nord Pool reads it) of a few MTUs, with the scenario prices of each MTU as vertical marks;
* ``bidding_scenarios.png``: every scenario's price over the day and the expected price;
* ``bidding_schedule.png``: the volume each scenario clears from the exported curves (= the grid
  position of that scenario's site copy, up to lot rounding), the expected grid position, and the
  battery's state of charge (expected and per scenario).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("this example draws plots with matplotlib, which is not installed (it is not a dependency "
             "of bidopt). Install it with:  pip install matplotlib")

import numpy as np
import pandas as pd

import bidopt
from bidopt.bids.dayahead import settings

REPO = Path(__file__).resolve().parents[2]
FIGSIZE = (8, 4.5)
DPI = 100


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default=str(REPO / "cases" / "demo"), help="case folder or file (default: the demo)")
    ap.add_argument("--day", default="2024-03-14", help="local delivery day YYYY-MM-DD (default 2024-03-14)")
    ap.add_argument("--mtu", type=int, choices=(15, 60), default=None,
                    help="MTU minutes (default: the case's; 15 only from delivery day 2025-10-01)")
    ap.add_argument("--positions", type=int, nargs="*", default=None,
                    help="MTU positions (0-based) for the curve plot; default: the 3 with the widest volume range")
    ap.add_argument("--out", default=str(REPO / "docs" / "img"), help="folder for the PNGs (default docs/img)")
    return ap.parse_args(argv)


# ------------------------------------------------------------------------------------------ helpers


def exported_points(b: bidopt.Bids) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per MTU the (prices, volumes) of the exported curve, as written to dayahead_orders.json."""
    out = []
    for c in b.orders.curve_orders[0].curves:
        out.append((np.array([p.price for p in c.curve_points]), np.array([p.volume for p in c.curve_points])))
    return out


def cleared(points, prices: np.ndarray) -> np.ndarray:
    """Volume the exported curves clear at ``prices`` (one price per MTU): linear interpolation."""
    return np.array([np.interp(prices[t], ps, vs) for t, (ps, vs) in enumerate(points)])


def stairs(ax, index: pd.DatetimeIndex, values, **kw):
    """Draw an MTU series as steps, the last MTU included."""
    step = index[1] - index[0]
    x = index.append(pd.DatetimeIndex([index[-1] + step]))
    y = np.append(np.asarray(values, float), np.asarray(values, float)[-1])
    return ax.step(x, y, where="post", **kw)


def local_label(index: pd.DatetimeIndex, t: int, tz: str) -> str:
    step = index[1] - index[0]
    a, b = index[t].tz_convert(tz), (index[t] + step).tz_convert(tz)
    return f"{a:%H:%M}-{b:%H:%M}"


def time_axis(ax, tz: str) -> None:
    ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, 3), tz=tz))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    ax.grid(alpha=0.3)


def pick_positions(b: bidopt.Bids, n: int = 3) -> list[int]:
    """MTUs whose curve volume varies most with price; ties broken by the widest scenario price spread."""
    prices = np.asarray(b.scenarios.values, float)
    spread = prices.max(axis=0) - prices.min(axis=0)
    vrange = {t: np.ptp([v for _, v in pts]) for t, pts in b.result.curves.items()}
    order = sorted(vrange, key=lambda t: (-round(vrange[t], 6), -spread[t]))
    return order[:n]


# ------------------------------------------------------------------------------------------- plots


def plot_curves(b, points, positions, tz, path: Path) -> None:
    prices = np.asarray(b.scenarios.values, float)
    idx = b.schedule.index
    contracts = [c.contract_id for c in b.orders.curve_orders[0].curves]
    lo = min(prices[:, t].min() for t in positions)
    hi = max(prices[:, t].max() for t in positions)
    pad = 0.08 * (hi - lo) + 10
    fig, ax = plt.subplots(figsize=FIGSIZE)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, t in enumerate(positions):
        col = colors[i % len(colors)]
        ps, vs = points[t]
        ax.plot(ps, vs, color=col, lw=2, label=f"{local_label(idx, t, tz)}  ({contracts[t].rsplit('-', 1)[-1]})")
        mp = np.array([p for p, _ in b.result.curves[t]])
        mv = np.array([v for _, v in b.result.curves[t]])
        ax.plot(mp, mv, color=col, lw=1, ls="--")  # the model's volumes before rounding to the lot
        ax.plot(prices[:, t], np.interp(prices[:, t], ps, vs), "o", color=col, ms=4, mfc="white")
    ax.plot([], [], color="gray", lw=1, ls="--", label="model volumes (before 0.1 MW lots)")
    ax.set_xlim(lo - pad, hi + pad)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("price (EUR/MWh); the curves continue flat to the price limits")
    ax.set_ylabel("volume (MW, + = buy)")
    ax.set_title(f"{b.summary['case']} {b.orders.delivery_day}: exported curves of {len(positions)} MTUs "
                 "(circles: scenario prices)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(title="MTU (local), contract no.", fontsize=8, title_fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_scenarios(b, tz, path: Path) -> None:
    prices = np.asarray(b.scenarios.values, float)
    prob = np.asarray(b.scenarios.coords["probability"].values, float)
    idx = b.schedule.index
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for s in range(prices.shape[0]):
        stairs(ax, idx, prices[s], color="tab:gray", lw=0.8, alpha=0.6,
               label="scenarios" if s == 0 else None)
    stairs(ax, idx, prob @ prices, color="tab:red", lw=2.2, label="expected price")
    ax.axhline(0, color="black", lw=0.6)
    time_axis(ax, tz)
    ax.set_xlabel(f"local time ({tz})")
    ax.set_ylabel("day-ahead price (EUR/MWh)")
    ax.set_title(f"{b.summary['case']} {b.orders.delivery_day}: {prices.shape[0]} price scenarios "
                 f"({b.summary['mtu_minutes']}-min MTUs)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_schedule(b, points, tz, path: Path) -> None:
    prices = np.asarray(b.scenarios.values, float)
    idx = b.schedule.index
    sched = b.schedule
    soc_cols = [c for c in sched.columns if c.endswith("_soc_mwh")]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=FIGSIZE, sharex=True, height_ratios=(3, 2))
    for s in range(prices.shape[0]):
        stairs(ax1, idx, cleared(points, prices[s]), color="tab:gray", lw=0.8, alpha=0.6,
               label="cleared volume, each scenario" if s == 0 else None)
    stairs(ax1, idx, sched.grid_import_mw - sched.grid_export_mw, color="tab:blue", lw=2,
           label="expected grid position")
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_ylabel("MW (+ = import)")
    ax1.legend(fontsize=8, loc="upper left")
    time_axis(ax1, tz)
    sites = b.result.model.sites
    step = idx[1] - idx[0]
    ends = idx.insert(0, idx[0] - step) + step  # SoC is at the end of each MTU; first point = initial SoC
    start = {f"{a.name}_soc_mwh": a.soc_start for a in case_assets(b) if hasattr(a, "soc_start")}
    for col in soc_cols:
        s0 = start.get(col, np.nan)
        for s, site in enumerate(sites):
            ax2.plot(ends, np.r_[s0, site.schedule()[col]], color="tab:gray", lw=0.8, alpha=0.6,
                     label="each scenario" if s == 0 else None)
        ax2.plot(ends, np.r_[s0, sched[col]], color="tab:green", lw=2,
                 label=f"expected {col.removesuffix('_soc_mwh')} SoC")
    ax2.set_ylabel("SoC (MWh, end of MTU)")
    ax2.set_xlabel(f"local time ({tz})")
    ax2.legend(fontsize=8, loc="upper left")
    time_axis(ax2, tz)
    ax1.set_title(f"{b.summary['case']} {b.orders.delivery_day}: cleared volumes and expected schedule", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def case_assets(b):
    return b.result.model.case.assets


# -------------------------------------------------------------------------------------------- main


def curve_table(b, points, t: int) -> str:
    """Markdown table of one MTU: model points, exported points and the scenarios at each price."""
    prices = np.asarray(b.scenarios.values, float)
    model = dict(b.result.curves[t])
    ps, vs = points[t]
    lines = ["| price (EUR/MWh) | model volume (MW) | exported volume (MW) | scenarios at this price |",
             "|---:|---:|---:|---|"]
    for p, v in zip(ps, vs, strict=True):
        near = [q for q in model if abs(q - p) < 0.006]  # the model's point that was rounded to this tick
        if near:
            scen = [str(s) for s in range(prices.shape[0]) if abs(prices[s, t] - near[0]) < 1e-9]
            lines.append(f"| {p:.2f} | {model[near[0]]:.3f} | {v:.1f} | {', '.join(scen)} |")
        else:
            lines.append(f"| {p:.2f} | (price limit) | {v:.1f} | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        case = bidopt.load_case(args.case)
    except bidopt.BidoptError as e:
        sys.exit(f"error: {e}")
    tz = case.case.timezone
    try:
        b = bidopt.bid(case, args.day, mtu_minutes=args.mtu)
    except bidopt.BidoptError as e:  # bad input (e.g. a 60-min day after 2025-09-30): message, no traceback
        sys.exit(f"error: {e}")
    points = exported_points(b)
    positions = args.positions if args.positions else pick_positions(b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"curves": out / "bidding_curves.png", "scenarios": out / "bidding_scenarios.png",
             "schedule": out / "bidding_schedule.png"}
    plot_curves(b, points, positions, tz, files["curves"])
    plot_scenarios(b, tz, files["scenarios"])
    plot_schedule(b, points, tz, files["schedule"])

    s = b.summary
    per = b.result.scenario_results.value_eur
    st = settings(case)
    n_dep = sum(np.ptp([v for _, v in pts]) > 1e-6 for pts in b.result.curves.values())
    print(f"case {s['case']} ({s['zone']}), delivery day {args.day}, {s['mtu_minutes']}-min MTUs, "
          f"{s['n_mtu']} curves, {s['n_scenarios']} scenarios (seed {st.seed}, lookback {st.lookback_days} days)")
    print(f"auction {s['auction_id']} ({s['product']}); scenarios: {b.scenarios.attrs.get('method', 'from file')}, "
          f"gate {b.scenarios.attrs.get('gate_utc', '-')}")
    print(f"expected objective {s['objective_eur']:.2f} EUR; scenario results {per.min():.2f} .. {per.max():.2f} EUR "
          f"(worst scenario {per.idxmin()}, best {per.idxmax()})")
    print("expected streams: " + ", ".join(f"{k} {v:.2f}" for k, v in s["revenue_eur"].items() if abs(v) > 1e-9))
    print(f"solver {s['solver']['status']} in {s['solver']['seconds']:.2f} s, binaries: {s['binaries']}; "
          f"{n_dep} of {s['n_mtu']} curves depend on price; FCR bid rows: {len(b.fcr_bids)}")
    t = positions[0]
    contract = b.orders.curve_orders[0].curves[t].contract_id
    print(f"\ncurve of MTU {t} ({local_label(b.schedule.index, t, tz)} local, contract {contract}):\n")
    print(curve_table(b, points, t))
    print()
    for f in files.values():
        print(f"wrote {f}")


if __name__ == "__main__":
    main()
