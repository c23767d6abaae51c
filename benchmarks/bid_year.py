"""A year of the ``bid`` strategy for the demo battery on real prices, timed on 2 cores, and one day
profiled step by step (issue 13, item 5: target <= 120 s, forecast fitting included).

Timed: ``bidopt.backtest(case, "2022-01-01", "2022-12-31", strategy="bid", workers=2, out_dir=tmp)``
on ``cases/se3_battery_2022`` (``--zone`` changes the zone): the library's own 2-core path, a local
Dask cluster running the strategy chain (forecast, bid, clear, deliver, settle each day) beside the
perfect-foresight chain, with the output files written. Wall seconds of the whole call, cluster
start-up included; the per-day seconds of each chain come from the run's ``timing.csv``.

Profiled: ``strategy_day`` for ``--day`` under cProfile, timed in process CPU time (steadier than wall time
on a shared machine; after one warm-up day, data preloaded as the engine does), split into the forecast (``price_scenarios``, fitting included), building the
scenario model, solving it (Pyomo -> arrays compile, HiGHS), reading and exporting the bids, the
delivery re-plan, settlement, and the rest. Times in ms per day, the mean over ``--profile-days``
consecutive days (7 by default: the LEAR forecaster refits once a week, so the mean carries one fit).

    python benchmarks/bid_year.py [--zone SE3] [--year 2022] [--day 2022-03-15] [--json F] [--write]

``--write`` rewrites the text between ``<!-- bidyear:start -->`` and ``<!-- bidyear:end -->`` in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from capture import make_case  # noqa: E402

import bidopt  # noqa: E402

DOC = HERE.parent / "docs" / "performance.md"
START, END = "<!-- bidyear:start -->", "<!-- bidyear:end -->"
TARGET_S = 120.0

# (label, [(file suffix, function name), ...]): cumulative time of the functions, summed
STEPS = [
    ("forecast (price scenarios, fitting included)", [("bids/dayahead.py", "price_scenarios")]),
    ("scenario model build (Pyomo, one site copy per scenario)", [("bids/stochastic.py", "__init__")]),
    ("scenario model solve", [("bids/stochastic.py", "solve")]),
    ("delivery re-plan: build", [("bidopt/model.py", "__init__")]),
    ("delivery re-plan: solve", [("bidopt/model.py", "solve")]),
    ("settlement (imbalance, FCR)", [("backtest/settlement.py", "settle_case"),
                                     ("backtest/capacity.py", "settle_day")]),
]
PARTS = [  # inside the steps above: the forecaster's model fits; the solves of both models
    ("of the forecast: LEAR model fits", [("forecast/lear.py", "fit_hour_models")]),
    ("of the solves: Pyomo -> arrays compile", [("bidopt/solver/compile.py", "compile_model")]),
    ("of the solves: HiGHS (Highs.run)", [("~", "<built-in method highspy._core.run>")]),
]


def _cum(stats: pstats.Stats, keys) -> float:
    total = 0.0
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if any(file.replace("\\", "/").endswith(f) and name == n for f, n in keys):
            total += ct
    return total


def profile_day(case, day: dt.date, repeats: int) -> list[tuple[str, float]]:
    """ms per day of each step of ``strategy_day`` (mean over ``repeats`` consecutive days)."""
    from bidopt import time as btime
    from bidopt.backtest.day import strategy_day
    from bidopt.backtest.state import EMPTY
    from bidopt.data import sources

    days = [day + dt.timedelta(days=i) for i in range(-1, repeats + 1)]
    hist = btime.horizon_index(days[0] - dt.timedelta(days=64), days[-1], case.case.mtu_minutes, case.case.timezone)

    def run(profiler) -> float:
        """CPU seconds of the days after a warm-up day, from an empty forecaster cache."""
        from bidopt.forecast import lear

        getattr(lear, "_CACHE", {}).clear()  # LEAR fits are cached in-process: each run fits afresh
        with sources.preloaded(case, hist):
            state = strategy_day(case, days[0], EMPTY, "bid", next_day=days[1], trade_intraday=False).state
            t0 = time.process_time()
            if profiler:
                profiler.enable()
            for d, nxt in zip(days[1:-1], days[2:], strict=True):
                state = strategy_day(case, d, state, "bid", next_day=nxt, trade_intraday=False).state
            if profiler:
                profiler.disable()
            return time.process_time() - t0

    pr = cProfile.Profile(time.process_time)  # CPU time: steadier than wall time on a shared machine
    total = run(pr)
    plain = run(None)  # the same days again, without the profiler
    st = pstats.Stats(pr)
    rows = [(label, _cum(st, keys)) for label, keys in STEPS]
    whole = _cum(st, [("backtest/day.py", "strategy_day")])
    bid_total = _cum(st, [("bids/dayahead.py", "bid")])
    inside = sum(v for (label, v) in rows[:3])
    rows.insert(3, ("bid: results, curve export, checks", bid_total - inside))
    rows.append(("rest (clearing, schedule, state, bookkeeping)", whole - sum(v for _, v in rows)))
    rows += [(label, _cum(st, keys)) for label, keys in PARTS]
    rows.append(("strategy day under the profiler", whole))
    rows.append(("strategy day, CPU (profiler overhead included)", total))
    rows.append(("strategy day, CPU without the profiler (same days run again)", plain))
    return [(label, 1000 * v / repeats) for label, v in rows]


def time_year(case, year: int, workers: int, days: int | None = None) -> dict:
    """Wall seconds of ``bidopt.backtest`` over the year (or its first ``days`` days) on ``workers``."""
    first = dt.date(year, 1, 1)
    last = dt.date(year, 12, 31) if days is None else first + dt.timedelta(days=days - 1)
    with tempfile.TemporaryDirectory(prefix="bid-year-") as tmp:
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        res = bidopt.backtest(case, first, last, strategy="bid", workers=workers, out_dir=tmp)
        wall, load1 = time.perf_counter() - t0, os.getloadavg()[0]
        timing = pd.read_csv(Path(tmp) / "timing.csv")
    return {"wall_s": wall, "load_before": load0, "load_after": load1, "first": str(first), "last": str(last),
            "days": res.summary["n_days"], "objective_eur": res.summary["objective_eur"],
            "perfect_foresight_eur": res.summary["perfect_foresight_eur"],
            "capture_ratio": res.summary["capture_ratio"],
            "strategy_chain_s": float(timing["strategy_seconds"].sum()),
            "pf_chain_s": float(timing["perfect_foresight_seconds"].sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", default="SE3")
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2022, 3, 15), help="first profiled day")
    ap.add_argument("--profile-days", type=int, default=7,
                    help="consecutive days profiled (mean reported; 7 = one LEAR refit period)")
    ap.add_argument("--skip-year", action="store_true", help="profile only")
    ap.add_argument("--days", type=int, default=None, help="time only the first N days (a quick check)")
    ap.add_argument("--bidding", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [bidding] key, e.g. forecaster=lear (TOML value)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--write", action="store_true", help="rewrite the bid-year section of docs/performance.md")
    a = ap.parse_args(argv)
    from capture import _kv

    case = make_case(a.zone, _kv(a.bidding))
    prof = profile_day(case, a.day, a.profile_days)
    year = None if a.skip_year else time_year(case, a.year, a.workers, a.days)
    opts = "".join(f" --bidding {x}" for x in a.bidding)
    lines = []
    if year:
        met = "meets" if year["wall_s"] <= TARGET_S else "misses"
        lines += [f"`bid` strategy, demo battery in {a.zone}, {year['first']} .. {year['last']} ({year['days']} days), "
                  f"`bidopt.backtest(..., workers={a.workers})` with output files: **{year['wall_s']:.0f} s** wall "
                  f"({met} the {TARGET_S:.0f} s target). Summed per-day seconds: strategy chain "
                  f"{year['strategy_chain_s']:.0f} s ({1000 * year['strategy_chain_s'] / year['days']:.0f} ms/day), "
                  f"perfect-foresight chain {year['pf_chain_s']:.0f} s; the two run side by side. Result "
                  f"{year['objective_eur']:,.0f} EUR against perfect foresight {year['perfect_foresight_eur']:,.0f} EUR "
                  f"(capture {year['capture_ratio']:.2f}). Load average (1 min) {year['load_before']:.1f} before, "
                  f"{year['load_after']:.1f} after (2 cores: above 2 the run shared them).", ""]
    lines += [f"One strategy day under cProfile, CPU ms (mean of {a.profile_days} days from {a.day}, {a.zone}; the "
              "solve rows include the compile and HiGHS rows below them):", "",
              "| step | CPU ms per day |", "|---|---:|"]
    lines += [f"| {label} | {ms:.1f} |" for label, ms in prof]
    lines += ["", f"Reproduce: `python benchmarks/bid_year.py{opts} --write` (run on {dt.date.today()}, shared "
              "2-core machine; absolute times move by a third with the load)."]
    text = "\n".join(lines)
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"year": year, "profile_ms": dict(prof)}, indent=1))
    if a.write:
        s = DOC.read_text()
        block = f"{START}\n{text}\n{END}"
        if START in s:
            s = s[: s.index(START)] + block + s[s.index(END) + len(END):]
        else:
            s = s.rstrip() + "\n\n## A year of `bid` on real prices (issue 13)\n\n" + block + "\n"
        DOC.write_text(s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
