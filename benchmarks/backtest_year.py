"""A 365-day backtest of the demo case at 15-minute MTU against the summed highspy time of the same
daily models (issue 6, targets 1 and 5).

bidopt: ``bidopt.backtest(case, start, end, strategy="perfect_foresight")``: every day planned on
its prices with the battery state and month-to-date peaks carried; the wall time of the whole run
(data loading, model building, solving, results).

Reference: for each day, the same model (same inputs, same carried peaks) built and solved straight
with highspy (``tests/highspy_reference.py``). The inputs are taken from bidopt's models outside the
timer; the objectives must agree. Reported: total times and the ratio bidopt / summed highspy
(build + solve) and bidopt / summed highspy solve (``Highs.run`` only).

The machine is shared, so the two are timed in turns (``--repeats`` rounds of one bidopt year and
one reference year) and each figure is the fastest of its rounds, the usual estimate of what the
code costs when nothing else runs.

    python benchmarks/backtest_year.py [--start 2025-10-01] [--days 365] [--repeats 3] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import highspy_reference as ref  # noqa: E402
from plan_day import machine, reference_inputs  # noqa: E402

import bidopt  # noqa: E402
from bidopt import time as btime  # noqa: E402
from bidopt.backtest.chain import run_chain  # noqa: E402
from bidopt.backtest.state import EMPTY, with_state  # noqa: E402
from bidopt.horizon import Horizon  # noqa: E402

START, END = "<!-- year:start -->", "<!-- year:end -->"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="2025-10-01")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of bidopt and reference, fastest kept")
    ap.add_argument("--write", action="store_true", help="update the year section of docs/performance.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the key figures there (run_all.py)")
    a = ap.parse_args(argv)
    case = bidopt.load_case(HERE.parent / "cases" / "demo")
    case.case.mtu_minutes = 15
    start = dt.date.fromisoformat(a.start)
    days = [start + dt.timedelta(days=i) for i in range(a.days)]

    bidopt.plan(case, days[0])  # warm-up: imports, data caches
    # the same daily models in highspy, with the states bidopt carried (inputs read outside the timer)
    items = run_chain(case, "perfect_foresight", days, "perfect_foresight", None)
    inputs, state = [], EMPTY
    for d, item in zip(days, items, strict=True):
        c = with_state(case, state)
        pm = bidopt.PortfolioModel(c, Horizon(btime.delivery_index(d, 15, c.case.timezone), c.case.timezone))
        inputs.append((reference_inputs(pm), item["record"]["total_eur"]))
        state = item["state"]

    runs, refs, worst = [], [], 0.0
    for _ in range(a.repeats):
        gc.collect()
        t0 = time.perf_counter()
        res = bidopt.backtest(case, days[0], days[-1], strategy="perfect_foresight")
        runs.append(time.perf_counter() - t0)
        build = solve = 0.0
        gc.collect()
        for inp, b in inputs:
            rr = ref.solve(**inp)
            build += rr.build_seconds
            solve += rr.solve_seconds
            worst = max(worst, abs(rr.objective_eur - b) / max(1.0, abs(b)))
        refs.append((build, solve))
    bidopt_s = min(runs)
    total = min(sum(r) for r in refs)  # highspy build + solve
    solve = min(r[1] for r in refs)  # Highs.run only
    rows = [
        ("days", f"{len(days)}", "", ""),
        ("total seconds (bidopt run vs highspy build + solve)", f"{bidopt_s:.2f}", f"{total:.2f}",
         f"{bidopt_s / total:.2f}x"),
        ("vs highspy solve (Highs.run) only", f"{bidopt_s:.2f}", f"{solve:.2f}", f"{bidopt_s / solve:.2f}x"),
        ("per day (ms)", f"{1000 * bidopt_s / len(days):.1f}", f"{1000 * total / len(days):.1f}", ""),
    ]
    table = ["| figure | bidopt | highspy | ratio |", "|---|---:|---:|---:|"]
    table += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows]
    m = machine()
    text = "\n".join([
        f"Demo case at 15-minute MTU, {days[0]} .. {days[-1]}, strategy `perfect_foresight`; result "
        f"{res.summary['objective_eur']:.2f} EUR; largest objective difference to the reference "
        f"{worst:.1e} (relative). Fastest of {a.repeats} alternating rounds (bidopt rounds: "
        f"{', '.join(f'{x:.2f}' for x in runs)} s; reference build + solve: "
        f"{', '.join(f'{sum(r):.2f}' for r in refs)} s).", "", *table, "",
        f"Machine: {m['cpu']}, {m['nproc']} cores, Python {m['python']}, highspy {m['highspy']}, Pyomo {m['pyomo']}. "
        "Reproduce: `python benchmarks/backtest_year.py --write`.",
    ])
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"days": len(days), "bidopt_s": bidopt_s, "ref_total_s": total,
                                      "ref_solve_s": solve, "agree": worst <= 1e-6, "rounds": a.repeats}))
    if worst > 1e-6:
        print("objectives disagree", file=sys.stderr)
        return 1
    if a.write:
        doc = HERE.parent / "docs" / "performance.md"
        s = doc.read_text()
        block = f"{START}\n{text}\n{END}"
        if START in s:
            s = s[: s.index(START)] + block + s[s.index(END) + len(END):]
        else:
            s = s.rstrip() + "\n\n## A year of daily plans (backtest)\n\n" + block + "\n"
        doc.write_text(s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
