"""Plan one day of the demo case: bidopt (Pyomo + HiGHS) vs the same model built straight in highspy.

    python benchmarks/plan_day.py [--day 2024-01-17] [--mtu 15] [--repeats 15]

Times are wall-clock medians over ``--repeats`` runs after one warm-up, all in this one process:

- bidopt build: ``PortfolioModel._build()`` on data already loaded (the Pyomo model);
- bidopt solve: ``PortfolioModel.solve()`` (Pyomo's translation to highspy, HiGHS run, loading the
  solution back); a separate timed run splits it into translation / HiGHS / load;
- bidopt plan (load-free) = build + solve; ``bidopt.plan`` end to end (data, build, solve, schedule,
  summary) is shown beside it;
- bidopt re-plan: a model kept by ``PortfolioModel(reuse=True)`` (as ``bidopt.replan.Replanner`` keeps
  them) refreshed with the day's data and solved again (``refresh`` + ``solve``), as when a day is
  re-planned with a new forecast or the next day of a backtest is planned;
- reference build: numpy arrays + ``Highs.passModel`` (tests/highspy_reference.py);
  reference solve: ``Highs.run``.

The reference gets the same inputs (price stack from ``bidopt.tariffs.retail``, synthetic load and PV,
peak windows), the same binaries bidopt decides to use, and the same mip_rel_gap and time limit. The
objectives must agree (exit 1 otherwise). Speed is a ratio in one run, never an absolute target.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import highspy  # noqa: E402
import highspy_reference as ref  # noqa: E402
import pyomo  # noqa: E402
import pyomo.environ as pyo  # noqa: E402
from pyomo.common.timing import HierarchicalTimer  # noqa: E402
from pyomo.contrib.solver.solvers.highs import Highs as PyomoHighs  # noqa: E402

import bidopt  # noqa: E402
from bidopt import time as btime  # noqa: E402
from bidopt.horizon import Horizon  # noqa: E402


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "nproc": str(usable),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "pyomo": pyomo.version.version,
        "highspy": ".".join(
            map(str, (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH))
        ),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def reference_inputs(pm: bidopt.PortfolioModel) -> dict:
    """The demo case's data as plain arrays for the reference (what bidopt loaded; nothing timed)."""
    case, h = pm.case, pm.horizon
    assets = {a.kind: a for a in case.assets}
    bess, pv, load = assets["battery"], assets["pv"], assets["load"]
    peaks = []
    for t in case.tariffs:
        if t.kind != "peak_power":
            continue
        if t.one_per_day:
            raise SystemExit("benchmark reference covers top-N peaks without one_per_day")
        local = h.hour_starts.tz_convert(h.tz)
        if len(set(local.year * 100 + local.month)) > 1:
            raise SystemExit("benchmark reference covers horizons within one month")
        in_window = t.window.mask(local)
        groups = [np.flatnonzero(h.hour_group == i).tolist() for i in np.flatnonzero(in_window)]
        weights = [t.hour_weights.get(int(local[i].hour), 1.0) for i in np.flatnonzero(in_window)]
        keep = [k for k, w in enumerate(weights) if w > 0]
        if keep:
            peaks.append(
                ref.PeakTerm(
                    [groups[k] for k in keep],
                    [weights[k] for k in keep],
                    t.n_peaks,
                    pm.site.vat_factor * t.rate_eur_per_mw(case, h.first_day),
                    list(t.peaks_so_far_mw),
                )
            )
    return dict(
        import_cost_eur_per_mwh=pm.site.import_cost,
        export_value_eur_per_mwh=pm.site.export_value,
        dt_h=h.dt_h,
        import_limit_mw=case.grid.import_limit_mw,
        export_limit_mw=case.grid.export_limit_mw,
        battery=ref.BatteryParams(
            charge_mw=bess.p_charge,
            discharge_mw=bess.p_discharge,
            eta_charge=bess.charge_efficiency,
            eta_discharge=bess.discharge_efficiency,
            soc_min_mwh=bess.soc_min_mwh,
            soc_max_mwh=bess.soc_max,
            soc_initial_mwh=bess.soc_start,
            soc_final_mwh=bess.soc_final_mwh,
            degradation_eur_per_mwh=bess.degradation_eur_per_mwh,
            exclusive=bess.needs_binaries(pm.site.energy_value_can_be_negative),
        ),
        net_load_mw=pm.data[load.name]["load_mw"],
        pv_available_mw=pm.data[pv.name]["generation_mw"],
        pv_curtailable=pv.curtailable,
        peaks=peaks,
        constant_eur=-pm.site.vat_factor * pm.site.fixed_cost_eur,
        grid_exclusive=pm.site.grid_needs_binaries,
        mip_rel_gap=case.solver.mip_gap,
        time_limit_s=case.solver.time_limit_s,
        threads=case.solver.threads,
    )


def med(xs) -> float:
    return statistics.median(xs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default=str(REPO / "cases" / "demo"))
    ap.add_argument("--day", default="2024-01-17")
    ap.add_argument("--mtu", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", type=Path, default=None, help="also write the key figures there (run_all.py)")
    ap.add_argument("--interface", choices=["matrix", "pyomo"], default=None,
                    help="how bidopt's model reaches HiGHS ([solver] interface; default: the case's)")
    args = ap.parse_args(argv)

    case = bidopt.load_case(args.case)
    if args.interface:
        case.solver.interface = args.interface
    horizon = Horizon(btime.delivery_index(args.day, args.mtu, case.case.timezone), case.case.timezone)
    pm = bidopt.PortfolioModel(case, horizon)  # loads the data once (not timed below)
    inputs = reference_inputs(pm)

    # warm-up (imports, caches)
    bidopt.plan(case, args.day, mtu_minutes=args.mtu)
    ref.solve(**inputs)

    b_build, b_solve, b_plan, b_results = [], [], [], []
    split = {"set_instance": [], "optimize": [], "load solution": []}
    r_build, r_solve = [], []
    b_obj = r_obj = None
    # a model kept for re-planning (bidopt.replan): refreshed with the day's data, then solved
    keeper = bidopt.PortfolioModel(case, horizon, pm.site.spot, reuse=True, data=pm.data)
    keeper.solve()
    keeper.refresh(case, horizon, pm.site.spot, pm.data)
    keeper.solve()  # the first refresh records the re-read rows' arithmetic (highs_tape)
    b_replan = []
    # one loop for all figures, so that a busy moment of the machine weighs on each alike
    for _ in range(args.repeats):
        gc.collect()
        t0 = time.perf_counter()
        assert keeper.refresh(case, horizon, pm.site.spot, pm.data)
        keeper.solve()
        b_replan.append(time.perf_counter() - t0)

        gc.collect()
        t0 = time.perf_counter()
        res = bidopt.plan(case, args.day, mtu_minutes=args.mtu)
        b_plan.append(time.perf_counter() - t0)
        b_obj = res.summary["objective_eur"]

        pm.m = None  # drop the previous model outside the timed region
        gc.collect()
        t0 = time.perf_counter()
        pm.m = pm._build(pm.site.spot)
        t1 = time.perf_counter()
        pm.solve()
        t2 = time.perf_counter()
        pm.summary()
        pm.schedule()
        t3 = time.perf_counter()
        b_build.append(t1 - t0)
        b_solve.append(t2 - t1)
        b_results.append(t3 - t2)

        timer = HierarchicalTimer()
        PyomoHighs().solve(
            pm.m,
            timer=timer,
            load_solutions=True,
            time_limit=case.solver.time_limit_s,
            rel_gap=case.solver.mip_gap,
        )
        for k in split:
            split[k].append(timer.get_total_time(k) if k in timer.timers else 0.0)

        gc.collect()
        rr = ref.solve(**inputs)
        r_build.append(rr.build_seconds)
        r_solve.append(rr.solve_seconds)
        r_obj = rr.objective_eur
    replan_obj = pyo.value(keeper.m.objective)

    n_vars = sum(1 for _ in pm.m.component_data_objects(pyo.Var, active=True))
    n_cons = sum(1 for _ in pm.m.component_data_objects(pyo.Constraint, active=True))
    bb, bs = med(b_build), med(b_solve)
    rb, rs = med(r_build), med(r_solve)
    b_total = med([x + y for x, y in zip(b_build, b_solve, strict=True)])
    r_total = med([x + y for x, y in zip(r_build, r_solve, strict=True)])
    diff = max(abs(b_obj - r_obj), abs(replan_obj - r_obj))
    agree = diff <= max(1e-6 * abs(r_obj), 1e-5)

    info = machine()
    print(
        f"case {args.case}  day {args.day}  MTU {args.mtu} min  n_mtu {horizon.n}  repeats {args.repeats} (median)  "
        f"interface {case.solver.interface}"
    )
    print(
        f"model: bidopt {n_vars} vars / {n_cons} constraints; reference {rr.n_cols} cols / {rr.n_rows} rows; "
        f"MIP: bidopt {pm.is_mip}, reference {rr.is_mip}"
    )
    print()
    rows = [
        ("build", bb, rb),
        ("solve", bs, rs),
        ("plan, load-free (build + solve)", b_total, r_total),
        ("re-plan on a built model (refresh + solve) vs build + solve", med(b_replan), r_total),
    ]
    print("| step | bidopt (ms) | highspy direct (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name, b, r in rows:
        print(f"| {name} | {b * 1e3:.1f} | {r * 1e3:.1f} | {b / r:.1f}x |")
    print()
    tot = {k: med(v) for k, v in split.items()}
    whole = sum(tot.values()) or 1.0
    print(
        "bidopt solve split (separate instrumented run; shares, as Pyomo's timer adds overhead): "
        f"Pyomo -> highspy translation {100 * tot['set_instance'] / whole:.0f}%, "
        f"HiGHS run {100 * tot['optimize'] / whole:.0f}%, loading the solution {100 * tot['load solution'] / whole:.0f}%"
    )
    print(
        f"bidopt results (schedule + summary) {med(b_results) * 1e3:.1f} ms; "
        f"bidopt.plan end to end (with data loading) {med(b_plan) * 1e3:.1f} ms"
    )
    print(
        f"objective: bidopt {b_obj:.6f} EUR, reference {r_obj:.6f} EUR, |diff| {diff:.3g} "
        f"({'agree' if agree else 'DISAGREE'})"
    )
    print()
    for k, v in info.items():
        print(f"{k}: {v}")
    if args.json:
        args.json.write_text(json.dumps({
            "day": args.day, "mip": bool(pm.is_mip), "agree": bool(agree), "ref_ms": r_total * 1e3,
            "cold_ms": b_total * 1e3, "replan_ms": med(b_replan) * 1e3,
        }))
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
