"""Fleet bidding at scale: time and peak memory of ``bidopt.bids.fleet.fleet_bid`` for N home sites.

    python benchmarks/fleet.py                                  # 100, 1000 and 10000 sites, 2 workers
    python benchmarks/fleet.py --sizes 100,1000                 # skip the 10 000-site run
    python benchmarks/fleet.py --sizes 100,1000 --write         # also update docs/performance.md
    python benchmarks/fleet.py --sizes 100,1000 --compare       # each size with a model per site, then reused
    python benchmarks/fleet.py --profile                        # profile one site's bid (top entries)
    python benchmarks/fleet.py --sizes 1000 --pool              # the homes also offer FCR, bid as a pool

Sites come from ``home_sites(n, seed)`` (5 battery + PV, 3 heat pump, 2 EV homes in every 10, each
with its own size and tariff; synthetic prices, 5 scenarios, 60-minute MTUs). Each fleet size runs
in a fresh Python process so that neither time nor memory carries over from one size to the next:

- **seconds**: wall clock of ``fleet_bid`` (price forecast once, Dask cluster start and stop with
  ``--workers`` > 1, every site built and solved, curves summed, orders exported and validated).
  Building the cases (``home_sites``) is timed apart (``cases s``).
- **site s (sum)**: the sum over sites of each site's own build + solve + extraction time, i.e. the
  compute the workers did; ``seconds`` x workers - that is pool overhead and idle time.
- **peak MB**: the peak over the run of the summed proportional set size (PSS, Linux
  ``/proc/<pid>/smaps_rollup``; shared pages counted once) of the benchmark process and all its
  descendants (Dask scheduler thread, nannies, workers, fork server), sampled every 0.5 s; where PSS
  is not readable, RSS (which counts pages shared after a fork twice). ``parent MB`` is the peak RSS
  of the benchmark process alone (``resource.getrusage``), which holds the cases and all results.

``--write`` replaces the section between ``<!-- fleet:start -->`` and ``<!-- fleet:end -->`` in
``docs/performance.md`` (appended if the markers are absent); nothing else in the file changes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PERF_DOC = REPO / "docs" / "performance.md"
START, END = "<!-- fleet:start -->", "<!-- fleet:end -->"


# ------------------------------------------------------------------------------------------------
# memory of a process tree


def _tree_memory_mb(root_pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += _pss_bytes(p.pid)
        except (OSError, psutil.Error):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    return total / 2**20


def _pss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise OSError("no Pss line")


class PeakSampler:
    """Samples the memory of this process and its descendants in a thread; keeps the peak."""

    def __init__(self, every_s: float = 0.5):
        self.every_s, self.peak_mb, self._stop = every_s, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        self.cpu_s = 0.0  # the sampler's own CPU time (it runs in the benchmark process)
        while not self._stop.is_set():
            c = time.thread_time()
            self.peak_mb = max(self.peak_mb, _tree_memory_mb(pid))
            self.cpu_s += time.thread_time() - c
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _tree_memory_mb(os.getpid()))


# ------------------------------------------------------------------------------------------------
# one run (in its own process)


def pool_sites(n: int, seed: int, day: str) -> list:
    """``home_sites(n, seed, day)`` offering FCR-N, FCR-D up and FCR-D down (prices 5-40 EUR/MW/h,
    drawn from ``seed``, in a temporary folder): the battery homes' capacity is pooled."""
    import tempfile

    import numpy as np
    import pandas as pd

    from bidopt import time as btime
    from bidopt.case import case_from_dict
    from bidopt.data.demo_sites import home_site_data

    folder = Path(tempfile.mkdtemp(prefix="fleet_pool_"))
    idx = btime.delivery_index(day, 60)
    rng = np.random.default_rng(seed)
    for p in ("fcr_n", "fcr_d_up", "fcr_d_down"):
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "price_eur_per_mw_h": rng.uniform(5.0, 40.0, len(idx)).round(2)}).to_csv(folder / f"{p}.csv", index=False)
    cases = []
    for i in range(n):
        d = home_site_data(i, seed, day=day)
        d["prices"].update({p: str(folder / f"{p}.csv") for p in ("fcr_n", "fcr_d_up", "fcr_d_down")})
        cases.append(case_from_dict(d, source=f"pool_sites(seed={seed})[{i}]"))
    return cases


def run_one(n: int, workers: int, day: str, seed: int, chunk: int | None, reuse: bool = True,
            pool: bool = False) -> dict:
    from bidopt.bids.fleet import fleet_bid
    from bidopt.data.demo_sites import home_sites

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    cases = pool_sites(n, seed, day) if pool else home_sites(n, seed=seed, day=day)
    t_cases = time.perf_counter() - t0
    with PeakSampler() as mem:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        fb = fleet_bid(cases, day, workers=workers, chunk=chunk, reuse_models=reuse)
        seconds = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    kinds = [_kind(c) for c in cases]
    sites = fb.sites.assign(kind=kinds)
    by_kind = {
        k: {
            "n": int(len(g)),
            "ms": round(1000 * g.seconds.mean(), 1),
            "cpu_ms": round(1000 * g.cpu_s.mean(), 1),
            "build_ms": round(1000 * g.build_s.mean(), 1),
            "solve_ms": round(1000 * g.solve_s.mean(), 1),
            "built": int(g.built.sum()),
        }
        for k, g in sites.groupby("kind")
    }
    first = fb.orders.curve_orders[0].curves
    return {
        "sites": n,
        "pool": pool,
        "pooled_mw_h": {k: v["pooled_mw_h"] for k, v in fb.summary["capacity"].items()},
        "workers": workers,
        "reuse": reuse,
        "models_built": fb.summary["models_built"],
        "chunk": fb.summary["chunk"],
        "seconds": round(seconds, 2),
        "cases_s": round(t_cases, 2),
        # CPU of the calling process (with workers > 1: the Dask client and scheduler, the forecast,
        # the aggregation, and the memory sampler thread)
        "parent_cpu_s": round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 2),
        "sampler_cpu_s": round(mem.cpu_s, 2),
        "site_s_sum": round(float(fb.sites.seconds.sum()), 2),
        "site_ms_mean": round(1000 * float(fb.sites.seconds.mean()), 1),
        "cpu_s_sum": round(float(fb.sites.cpu_s.sum()), 2),
        "cpu_ms_mean": round(1000 * float(fb.sites.cpu_s.mean()), 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "build_ms_mean": round(1000 * float(fb.sites.build_s.mean()), 1),
        "solve_ms_mean": round(1000 * float(fb.sites.solve_s.mean()), 1),
        "peak_mb": round(mem.peak_mb, 1),
        "parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "forecast_s": fb.summary["forecast_seconds"],
        "sites_with_binaries": fb.summary["sites_with_binaries"],
        "objective_eur": round(fb.summary["objective_eur"], 2),
        "by_kind": by_kind,
        "max_volume_mw": max(abs(p.volume) for c in first for p in c.curve_points),
    }


def _kind(case) -> str:
    kinds = {a.kind for a in case.assets}
    return next((k for k in ("battery", "heat_pump", "ev") if k in kinds), "other")


def profile_one(day: str, seed: int, top: int = 25) -> str:
    """cProfile of one site's bid per kind (after one warm-up site): the top entries by cumulative time."""
    from bidopt.bids.dayahead import price_scenarios, settings
    from bidopt.bids.fleet import price_points
    from bidopt.bids.fleet_sites import solve_chunk
    from bidopt.data.demo_sites import home_sites

    cases = home_sites(10, seed=seed, day=day)
    cube = price_scenarios(cases[0], day, 60, settings(cases[0]))
    pts = price_points(cube)
    solve_chunk(cases[:1], day, 60, cube, pts, None, None)  # warm-up: imports, first-call caches
    out = io.StringIO()
    for i in (2, 1, 3):  # a battery, a heat pump and an EV home
        prof = cProfile.Profile()
        prof.enable()
        solve_chunk(cases[i : i + 1], day, 60, cube, pts, None, None)
        prof.disable()
        out.write(
            f"\n### site {cases[i].case.name} ({_kind(cases[i])}, tariffs: "
            f"{', '.join(t.kind for t in cases[i].tariffs)})\n"
        )
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------
# the table and the doc section


def machine() -> str:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import highspy
    import pyomo

    hv = ".".join(
        map(str, (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH))
    )
    return (
        f'{usable} CPUs ("{cpu}"), {platform.system()} {platform.release()}, Python {platform.python_version()}, '
        f"Pyomo {pyomo.version.version}, HiGHS {hv}; load average {load:.1f} when the table was written"
    )


def table(rows: list[dict]) -> str:
    lines = [
        "| sites | workers | models reused | models built | seconds | ms / site (wall) | site wall, sum (s) | "
        "site CPU, sum (s) | CPU ms / site | peak MB (all processes) | parent MB | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sites']:,} | {r['workers']} | {'yes' if r.get('reuse', False) else 'no'} | "
            f"{r.get('models_built', r['sites']):,} | {r['seconds']:.1f} | {1000 * r['seconds'] / r['sites']:.1f} | "
            f"{r['site_s_sum']:.1f} | {r['cpu_s_sum']:.1f} | {r['cpu_ms_mean']:.1f} | {r['peak_mb']:.0f} | "
            f"{r['parent_mb']:.0f} | {r['load_before']:.1f} |"
        )
    return "\n".join(lines)


def kinds_table(r: dict) -> str:
    lines = ["| home | sites | models built | wall ms / site | CPU ms / site | build ms | solve ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k, v in r["by_kind"].items():
        lines.append(f"| {k} | {v['n']} | {v.get('built', v['n'])} | {v['ms']} | {v['cpu_ms']} | {v['build_ms']} | "
                     f"{v['solve_ms']} |")
    return "\n".join(lines)


def comparison(rows: list[dict]) -> str:
    """One line per size run both ways: CPU ms per site and wall seconds, per site build vs reused."""
    lines = []
    for n in sorted({r["sites"] for r in rows}):
        pair = {r.get("reuse", False): r for r in rows if r["sites"] == n and r["workers"] > 1}
        if len(pair) == 2:
            a, b = pair[False], pair[True]
            lines.append(f"- {n:,} sites: CPU {a['cpu_ms_mean']:.1f} -> {b['cpu_ms_mean']:.1f} ms per site "
                         f"({a['cpu_ms_mean'] / b['cpu_ms_mean']:.1f}x less), wall {a['seconds']:.1f} -> "
                         f"{b['seconds']:.1f} s ({b['models_built']:,} models built instead of {n:,}; site CPU / "
                         f"workers {a['cpu_s_sum'] / a['workers']:.1f} -> {b['cpu_s_sum'] / b['workers']:.1f} s, the "
                         f"wall time an idle machine needs before the fixed overhead)")
    return ("\nWith models reused against a model per site (same code, same session):\n\n" + "\n".join(lines) + "\n"
            if lines else "")


def section(rows: list[dict], day: str, seed: int) -> str:
    biggest = max(rows, key=lambda r: (r["sites"], r.get("reuse", False)))
    built = [r for r in rows if r["sites"] == biggest["sites"] and not r.get("reuse", False)]
    per_site = (f"\n\nThe same run with a model built per site:\n\n{kinds_table(built[0])}"
                if built and biggest.get("reuse", False) else "")
    mips = sum(r["sites_with_binaries"] for r in rows)
    lp_note = ("The day is an LP for every home (no scenario has a negative price)." if mips == 0 else
               f"{biggest['sites_with_binaries']:,} of the {biggest['sites']:,} homes of the largest run are MIPs.")
    return f"""{START}
## Fleet bidding: many home sites

`bidopt.bids.fleet.fleet_bid` bids N home sites as one portfolio: one price forecast, every site's
curve model solved on its own (chunks of sites per Dask task), the curves summed into one order.
Sites from `home_sites(n, seed={seed})` (5 battery + PV, 3 heat-pump, 2 EV homes in every 10, each
with its own sizes and tariff; 5 scenarios, 60-minute MTUs), delivery day {day}. Each size ran in
a fresh process. *seconds* is the wall clock of `fleet_bid`, including the price forecast and
starting and stopping the local Dask cluster (`workers` = 1: in-process, no Dask). *Site wall* and
*site CPU* are the sums over sites of each site's own build + solve + extraction time, as wall
clock and as CPU time of its worker process: on an otherwise idle machine they agree, and
*seconds* ≈ site CPU / workers + a fixed overhead (cluster start ≈ 4 s, forecast ≈ 0.5 s). Where
other work ran on the machine (*load avg*, 1-minute load average at the start of the run) the site
wall times exceed the CPU times. Peak memory is the summed PSS of the process and all its children
(workers, nannies, fork server), sampled every 0.5 s; *parent MB* is the peak RSS of the benchmark
process alone (it holds the cases and the results).

Reproduce: `python benchmarks/fleet.py --write` (or `--sizes 100,1000` to skip 10 000 sites;
`--compare` runs every size with a model built per site, then with models reused).

*Models reused*: each worker keeps one built model per site shape (the same horizon and scenario
cube, asset names and kinds, tariff kinds, grid limits and risk settings) and refreshes it for the
next site of that shape: the site's numbers go into the model's Params and `bidopt.solver.Persistent`
renews the compiled arrays (`fleet_bid(reuse_models=True)`, the default; `fleet_sites.ModelCache`).
The results are bit-identical to a model built per site (`tests/test_fleet_reuse.py`). Homes whose
every asset kind has a `refresh` take part: battery + PV homes and heat-pump homes (RC mode). An EV
charger has none yet (its plug-in sessions shape the model), so EV homes are still built one by one
(*models built*).

{lp_note}
On a day whose scenarios include negative prices the battery homes get charge/discharge
binaries and HiGHS's MIP time dominates their solve (`--seed 1` gives such a fleet: the forecast
comes from the first site's synthetic price history).

{table(rows)}
{comparison(rows)}

Per site, by kind of home ({biggest["sites"]:,}-site run):

{kinds_table(biggest)}{per_site}

*build*: the site's data (synthetic profiles, weather, sessions) and its Pyomo model, one copy of
the site per scenario (reused: the site's data and its numbers set into a kept model's Params);
*solve*: the model compiled to matrices (reused: the arrays renewed where Params reach) and solved
by HiGHS (`bidopt.solver`). Built per site, the time per site stays flat with the fleet's size; reused,
it falls as the shapes' first builds are spread over more homes. Memory is a fixed part (the worker
processes, about 100-200 MB each with bidopt imported, plus the kept models) plus the cases held by
the calling process.

Machine: {machine()}.
{END}"""


def write_section(text: str) -> None:
    doc = PERF_DOC.read_text(encoding="utf-8") if PERF_DOC.exists() else ""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    PERF_DOC.write_text(doc, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="fleet sizes, comma-separated")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers (1: in-process)")
    ap.add_argument("--serial", action="store_true", help="also run the smallest size in-process (workers=1)")
    ap.add_argument("--day", default="2024-01-17")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=None, help="sites per task (default: fleet_bid's)")
    ap.add_argument("--write", action="store_true", help="update the fleet section of docs/performance.md")
    ap.add_argument("--no-reuse", action="store_true", help="build a model per site (fleet_bid(reuse_models=False))")
    ap.add_argument("--compare", action="store_true", help="run every size without, then with model reuse")
    ap.add_argument(
        "--profile", action="store_true", help="print a cProfile of one site of each kind and exit"
    )
    ap.add_argument("--pool", action="store_true", help="the homes also offer FCR, bid as a pool (bids/fleet_pool.py)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows there (run_all.py)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one size, JSON out
    a = ap.parse_args()

    if a.profile:
        print(profile_one(a.day, a.seed))
        return 0
    if a.one is not None:
        print(json.dumps(run_one(a.one, a.workers, a.day, a.seed, a.chunk, not a.no_reuse, a.pool)))
        return 0

    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    reuses = [False, True] if a.compare else [not a.no_reuse]
    runs = ([(min(sizes), 1, r) for r in reuses] if a.serial else []) + [(n, a.workers, r) for n in sizes for r in reuses]
    rows = []
    for n, w, reuse in runs:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--workers",
            str(w),
            "--day",
            a.day,
            "--seed",
            str(a.seed),
        ]
        if a.chunk:
            cmd += ["--chunk", str(a.chunk)]
        if not reuse:
            cmd.append("--no-reuse")
        if a.pool:
            cmd.append("--pool")
        print(f"running {n} sites on {w} worker(s), {'reusing models' if reuse else 'a model per site'}...",
              file=sys.stderr, flush=True)
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if res.returncode != 0:
            print(res.stdout, res.stderr, file=sys.stderr)
            return 1
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"  {row['seconds']:.1f} s, {1000 * row['seconds'] / n:.1f} ms/site, peak {row['peak_mb']:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    print(table(rows))
    for r in rows:
        print(f"\n{r['sites']:,} sites, {r['workers']} worker(s), reuse {r['reuse']}: per kind\n{kinds_table(r)}")
    print("\n" + machine())
    print(json.dumps(rows, indent=1), file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps(rows))
    if a.write:
        write_section(section(rows, a.day, a.seed))
        print(f"\nwrote the fleet section of {PERF_DOC.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
