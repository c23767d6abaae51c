"""Run every benchmark of issue 6 in turn and write the summary table of docs/performance.md.

    python benchmarks/run_all.py [--quick] [--skip-peer] [--skip-fleet] [--no-write]

1. ``plan_day.py`` on the LP day (2024-01-17) and the MIP day (2024-08-27): one demo day, bidopt vs
   the same model straight in highspy, cold and re-planned on a built model;
2. ``backtest_year.py``: 365 daily plans with carried state vs summed highspy;
3. ``peer_energypylinear.py``: the peer in its own virtual environment (needs network once);
4. ``fleet.py``: 100 / 1,000 / 10,000 home sites on two Dask workers.

Each script also writes its key figures as JSON (``--json``); from those this script writes the
table (figure, bidopt, reference, ratio, target met) between ``<!-- summary:start -->`` and
``<!-- summary:end -->`` in docs/performance.md, and the scripts rewrite their own sections.
``--quick`` runs fewer repeats, 60 backtest days and fleets of 100 and 1,000, and writes nothing;
``--no-write`` prints the table only. Rows of skipped scripts say so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "performance.md"
START, END = "<!-- summary:start -->", "<!-- summary:end -->"
RATIO, PEER_RATIO, FLEET_S, YEAR_S = 1.5, 3.0, 60.0, 60.0
FLEET_REUSE_S = 15.0  # issue 15: 1,000 home sites on 2 cores, models reused per site shape


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-fleet", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the summary table, leave the docs alone")
    a = ap.parse_args(argv)
    write = not (a.quick or a.no_write)
    repeats = "5" if a.quick else "30"
    tmp = Path(tempfile.mkdtemp(prefix="bidopt-bench-"))
    runs = {
        "lp": ["plan_day.py", "--repeats", repeats],
        "mip": ["plan_day.py", "--repeats", repeats, "--day", "2024-08-27"],
        "year": ["backtest_year.py", *(["--days", "60", "--repeats", "1"] if a.quick else [])],
    }
    if not a.skip_peer:
        runs["peer"] = ["peer_energypylinear.py", "--repeats", "1" if a.quick else "3"]
    if not a.skip_fleet:
        runs["fleet"] = ["fleet.py", *(["--sizes", "100,1000"] if a.quick else [])]
    failed, results = [], {}
    for name, args in runs.items():
        out = tmp / f"{name}.json"
        extra = ["--json", str(out)] + (["--write"] if write and name != "lp" and name != "mip" else [])
        print(f"\n## {' '.join(args + extra)}\n", flush=True)
        if subprocess.run([sys.executable, str(HERE / args[0]), *args[1:], *extra]).returncode != 0:
            failed.append(args[0])
        elif out.exists():
            results[name] = json.loads(out.read_text())
    text = summary(results)
    print("\n" + text)
    if write:
        s = DOC.read_text()
        block = f"{START}\n{text}\n{END}"
        if START in s:
            s = s[: s.index(START)] + block + s[s.index(END) + len(END):]
        else:
            s = s.replace("\n", f"\n\n{block}\n", 1)
        DOC.write_text(s)
        print(f"wrote the summary table of {DOC}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def summary(r: dict) -> str:
    """The summary table from the scripts' JSON figures."""
    rows = []
    for key, label in (("lp", "LP day 2024-01-17"), ("mip", "MIP day 2024-08-27")):
        p = r.get(key)
        if p is None:
            rows.append((f"plan one demo day, 15 min, {label}", "not run", "", "", ""))
            continue
        rows.append((f"plan one demo day, 15 min, {label}, re-planned on a built model (refresh + solve)",
                     f"{p['replan_ms']:.1f} ms", f"highspy build + solve {p['ref_ms']:.1f} ms",
                     f"{p['replan_ms'] / p['ref_ms']:.2f}x", _met(p["replan_ms"] <= RATIO * p["ref_ms"])))
        rows.append(("same, cold (Pyomo build + compile + solve; data already loaded)", f"{p['cold_ms']:.1f} ms",
                     f"{p['ref_ms']:.1f} ms", f"{p['cold_ms'] / p['ref_ms']:.2f}x",
                     _met(p["cold_ms"] <= RATIO * p["ref_ms"])))
    y = r.get("year")
    if y is None:
        rows.append(("daily plans of the demo case over a year", "not run", "", "", ""))
    else:
        n = y["days"]
        rows.append((f"{n} daily plans of the demo case, 15 min (backtest, perfect foresight), fastest of "
                     f"{y['rounds']} alternating rounds", f"{y['bidopt_s']:.2f} s",
                     f"summed highspy build + solve {y['ref_total_s']:.2f} s",
                     f"{y['bidopt_s'] / y['ref_total_s']:.2f}x", _met(y["bidopt_s"] <= RATIO * y["ref_total_s"])))
        rows.append(("same, against the summed `Highs.run` alone", f"{y['bidopt_s']:.2f} s",
                     f"{y['ref_solve_s']:.2f} s", f"{y['bidopt_s'] / y['ref_solve_s']:.2f}x",
                     _met(y["bidopt_s"] <= RATIO * y["ref_solve_s"])))
        if n >= 365:
            rows.append(("year backtest of the demo case, 15 min (< 60 s)", f"{y['bidopt_s']:.1f} s", "", "",
                         _met(y["bidopt_s"] < YEAR_S)))
    peer = r.get("peer")
    if peer is None:
        rows.append(("battery arbitrage vs energypylinear", "not run (see its section)", "", "", ""))
    else:
        for p in peer:
            rows.append((f"battery arbitrage vs energypylinear, {p['days']} day(s), 15 min (same objective: "
                         f"{'yes' if p['agree'] else 'NO'})", f"{1000 * p['bidopt_s']:.0f} ms",
                         f"{1000 * p['peer_s']:.0f} ms", f"{p['ratio']:.1f}x faster",
                         _met(p["agree"] and p["ratio"] >= PEER_RATIO)))
            rows.append(("same, binaries forced as in the peer", f"{1000 * p['strict_s']:.0f} ms",
                         f"{1000 * p['peer_s']:.0f} ms", f"{p['ratio_strict']:.1f}x faster",
                         _met(p["ratio_strict"] >= PEER_RATIO)))
    fleet = r.get("fleet")
    if fleet is None:
        rows.append(("fleet bid of home sites", "not run (see its section)", "", "", ""))
    else:
        for f in fleet:
            if f["sites"] == 1000 and f["workers"] == 2:
                rows.append(("fleet bid, 1,000 home sites, 2 cores (< 60 s)", f"{f['seconds']:.1f} s", "", "",
                             _met(f["seconds"] < FLEET_S)))
                rows.append(("same, issue 15 target (<= 15 s; one model per site shape, reused)",
                             f"{f['seconds']:.1f} s ({f['cpu_ms_mean']:.0f} CPU ms per site)", "", "",
                             _met(f["seconds"] <= FLEET_REUSE_S)))
        per = [f for f in fleet if f["workers"] == 2]
        rows.append(("fleet bid, " + " / ".join(f"{f['sites']:,}" for f in per) + " sites: time, CPU per site, peak memory",
                     " / ".join(f"{f['seconds']:.1f} s" for f in per) + "; "
                     + " / ".join(f"{f['cpu_ms_mean']:.0f}" for f in per) + " CPU ms per site; "
                     + " / ".join(f"{f['peak_mb']:.0f}" for f in per) + " MB", "", "near-linear if CPU ms per site stays flat",
                     ""))
    lines = [f"Written by `python benchmarks/run_all.py` on {dt.date.today().isoformat()} (one shared 2-core machine; "
             "each script's own section below has its details).", "",
             "| figure | bidopt | reference | ratio | target met |", "|---|---:|---:|---:|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
