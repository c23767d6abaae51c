"""The solver adapter's alternatives side by side: the same bidopt models, solved by each way of
getting a Pyomo model into HiGHS, next to the same LP built straight in highspy (issue 15 item 2).

    python benchmarks/adapter.py [--repeats 15] [--days 30] [--write]

Ways (each solves bidopt's own ``PortfolioModel``; only the path to HiGHS differs; ``bidopt.solver.solve``,
the one function ``model.solve_model`` calls, is swapped for the duration of a measurement):

- ``bidopt``: today's path. Cold: compile to arrays (``bidopt.solver.compile_model``, its own
  expression reader) and ``passModel``. Re-plan: ``bidopt.solver.Persistent`` (structure check,
  recorded arithmetic replayed with numpy, ``passModel`` of the whole arrays, no warm start).
- ``bidopt, no reuse``: the same compile at every solve (no ``Persistent``, no tape).
- ``contrib persistent``: ``pyomo.contrib.solver.solvers.highs.Highs``, one object per model, its
  automatic updates limited to Params (no checks for new or removed components, no constraint,
  variable, named-expression or objective updates).
- ``appsi persistent``: ``pyomo.contrib.appsi.solvers.highs.Highs``, one object per model, updates
  limited to Params the same way.
- ``..., basis cleared``: the two persistent interfaces with HiGHS's basis dropped before each
  solve. Both otherwise warm-start from the last solve, so a re-solved day can differ in its last
  bits from the same day solved on a fresh model (the last column of the table counts such days),
  which breaks bidopt's guarantee that a resumed backtest gives the same bytes.
- ``standard form``: Pyomo's ``LinearStandardFormCompiler`` (``mixed_form=True``) at every solve, its
  arrays handed to ``highspy.Highs.passModel``.

Workloads (15-min MTU, 96 MTUs; the demo site, and for re-plan and cold also the demo battery alone
with every retail adder zero, the plain arbitrage day of the issue's figures):

- **re-plan**: a built model refreshed with the day's data and solved (as ``benchmarks/plan_day.py``
  times it), 2024-01-17 (LP); the solver object / compiled form kept from earlier solves;
- **cold**: the Pyomo model built (data loaded) and solved once, with a new solver object;
- **backtest slice**: ``--days`` days of perfect foresight chained through a ``Replanner`` (battery
  state and month peaks carried; schedule, money and state read back each day).

Reference: ``tests/highspy_reference.py`` (numpy arrays + ``passModel`` + ``run``) on the same inputs;
for the slice, summed over its days. Each figure is the median of ``--repeats`` (slice: the fastest
of ``--rounds``), all ways taken in turn inside one loop so a busy moment of the shared machine
weighs on each alike. Objectives must agree with the reference (the script says which do not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import highspy  # noqa: E402
import highspy_reference as ref  # noqa: E402
from plan_day import machine, reference_inputs  # noqa: E402
from pyomo.contrib.appsi.base import TerminationCondition as AppsiTC  # noqa: E402
from pyomo.contrib.appsi.solvers.highs import Highs as AppsiHighs  # noqa: E402
from pyomo.contrib.solver.solvers.highs import Highs as ContribHighs  # noqa: E402
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler  # noqa: E402

import bidopt  # noqa: E402
from bidopt import solver  # noqa: E402
from bidopt import time as btime  # noqa: E402
from bidopt.backtest.day import perfect_foresight_day  # noqa: E402
from bidopt.backtest.state import EMPTY, with_state  # noqa: E402
from bidopt.horizon import Horizon  # noqa: E402
from bidopt.replan import Replanner  # noqa: E402

START, END = "<!-- adapter:start -->", "<!-- adapter:end -->"
TC, SS = solver.TerminationCondition, solver.SolutionStatus
INF = highspy.kHighsInf


def _is_mip(m) -> bool:
    return any(v.is_binary() or v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))


class PerModel:
    """A way to solve that keeps one object per Pyomo model (the persistent interfaces)."""

    def __init__(self):
        self.kept: dict[int, tuple] = {}

    def solve(self, m, time_limit_s, mip_rel_gap, threads):
        kept = self.kept.get(id(m))
        if kept is None or kept[0] is not m:
            kept = self.kept[id(m)] = (m, self.new(), _is_mip(m))
        return self.run(kept[1], m, time_limit_s, mip_rel_gap, threads, kept[2])


class Contrib(PerModel):
    def new(self):
        opt = ContribHighs()
        au = opt.config.auto_updates
        for k in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                  "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                  "update_vars", "update_named_expressions", "update_objective"):
            setattr(au, k, False)
        au.update_parameters = True
        return opt

    def run(self, opt, m, time_limit_s, mip_rel_gap, threads, is_mip):
        solver.use_threads(threads)
        res = opt.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                        time_limit=time_limit_s, rel_gap=mip_rel_gap, threads=threads or None)
        if res.solution_status in (SS.optimal, SS.feasible):
            res.solution_loader.load_vars()
        return solver.DirectResult(res.termination_condition, res.solution_status, res.incumbent_objective,
                                   res.objective_bound, is_mip)


class Appsi(PerModel):
    def new(self):
        opt = AppsiHighs()
        uc = opt.update_config
        for k in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                  "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                  "update_vars", "update_named_expressions", "update_objective"):
            setattr(uc, k, False)
        uc.update_params = True
        opt.config.load_solution = False
        return opt

    def run(self, opt, m, time_limit_s, mip_rel_gap, threads, is_mip):
        solver.use_threads(threads)
        opt.config.time_limit = time_limit_s
        opt.config.mip_gap = mip_rel_gap
        res = opt.solve(m)
        ok = res.termination_condition == AppsiTC.optimal
        if res.best_feasible_objective is not None:
            res.solution_loader.load_vars()
        return solver.DirectResult(TC.convergenceCriteriaSatisfied if ok else TC.unknown,
                                   SS.optimal if ok else SS.noSolution, res.best_feasible_objective,
                                   res.best_objective_bound, is_mip)


class ContribCleared(Contrib):
    """``Contrib`` with HiGHS's basis and solution dropped before each solve: no warm start. Neither
    interface offers that publicly; the benchmark reaches their ``highspy.Highs`` object."""

    def run(self, opt, m, *args):
        if opt._solver_model is not None:
            opt._solver_model.clearSolver()
        return super().run(opt, m, *args)


class AppsiCleared(Appsi):
    """``Appsi`` with HiGHS's basis and solution dropped before each solve (as ``ContribCleared``)."""

    def run(self, opt, m, *args):
        if getattr(opt, "_solver_model", None) is not None:
            opt._solver_model.clearSolver()
        return super().run(opt, m, *args)


class StandardForm:
    """Pyomo's standard-form compiler at every solve, its arrays to ``passModel``."""

    def solve(self, m, time_limit_s, mip_rel_gap, threads):
        repn = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
        cols, A = repn.columns, repn.A.tocsc()
        sense = np.array([s for _, s in repn.rows], dtype=int)
        rhs = np.asarray(repn.rhs, dtype=float)
        row_lo = np.where(sense == 1, -INF, rhs)
        row_hi = np.where(sense == -1, INF, rhs)
        bounds = [v.bounds for v in cols]
        col_lo = np.array([-INF if lb is None else max(lb, -INF) for lb, _ in bounds], dtype=float)
        col_hi = np.array([INF if ub is None else min(ub, INF) for _, ub in bounds], dtype=float)
        integer = np.array([v.is_integer() or v.is_binary() for v in cols], dtype=np.int32)
        obj = repn.objectives[0]
        cost = np.asarray(repn.c.toarray()[0], dtype=float)
        h = solver.new_highs()
        for k, v in (("threads", threads), ("time_limit", time_limit_s), ("mip_rel_gap", mip_rel_gap)):
            if v is not None:
                h.setOptionValue(k, int(v) if k == "threads" else float(v))
        h.passModel(len(cols), len(rhs), A.nnz, int(highspy.MatrixFormat.kColwise),
                    int(highspy.ObjSense.kMaximize if obj.sense == pyo.maximize else highspy.ObjSense.kMinimize),
                    float(repn.c_offset[0]), cost, col_lo, col_hi, row_lo, row_hi,
                    A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data.astype(float), integer)
        solver.use_threads(threads)
        h.run()
        ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if ok:
            for v, x in zip(cols, h.getSolution().col_value, strict=True):
                v.set_value(x, skip_validation=True)
        inc = h.getInfo().objective_function_value if ok else None
        return solver.DirectResult(TC.convergenceCriteriaSatisfied if ok else TC.unknown,
                                   SS.optimal if ok else SS.noSolution, inc, inc, bool(integer.any()))


class NoReuse:
    def solve(self, m, time_limit_s, mip_rel_gap, threads):
        return solver.solve_matrix(m, time_limit_s, mip_rel_gap, threads)


WAYS = {"bidopt": None, "bidopt, no reuse": NoReuse, "contrib persistent": Contrib,
        "contrib persistent, basis cleared": ContribCleared, "appsi persistent": Appsi,
        "appsi persistent, basis cleared": AppsiCleared, "standard form": StandardForm}


@contextmanager
def way(name: str, obj=None):
    """``bidopt.solver.solve`` (what ``model.solve_model`` calls) through the named way."""
    if WAYS[name] is None:
        yield None
        return
    obj = obj or WAYS[name]()
    original = solver.solve

    def solve(m, time_limit_s=None, mip_rel_gap=None, threads=None, persistent=None, interface="matrix"):
        return obj.solve(m, time_limit_s, mip_rel_gap, threads)

    solver.solve = solve
    try:
        yield obj
    finally:
        solver.solve = original


def ms(xs) -> float:
    return 1e3 * statistics.median(xs)


def demo_case():
    case = bidopt.load_case(HERE.parent / "cases" / "demo")
    case.case.mtu_minutes = 15
    return case


def battery_case():
    """The demo battery alone (1 MW / 2 MWh, the demo's synthetic prices, 15-min MTU) with every
    retail adder zero, so import cost = export value = spot: a plain arbitrage day."""
    zero = {"supplier_fee_sek_per_kwh": 0.0, "pays_energy_tax": False, "pays_vat": False,
            "export": {"policy": "spot", "handling_fee_sek_per_kwh": 0.0, "grid_benefit_sek_per_kwh": 0.0,
                       "tax_reduction": False}}
    return bidopt.case_from_dict({
        "case": {"name": "battery_day", "zone": "SE3", "mtu_minutes": 15},
        "prices": {"dayahead": "synthetic"}, "synthetic": {"seed": 7},
        "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0}, "retail": zero,
        "assets": [{"name": "bess", "template": str(HERE.parent / "models" / "assets" / "battery_1mw_2mwh.toml")}],
        "solver": {"time_limit_s": 60},
    })


def inputs_for(pm) -> dict:
    """The reference's inputs: ``plan_day.reference_inputs`` for the demo site; for the battery
    alone, the same without load, PV and peaks."""
    if len(pm.case.assets) > 1:
        return reference_inputs(pm)
    (bess,) = pm.case.assets
    site, case = pm.site, pm.case
    return dict(
        import_cost_eur_per_mwh=site.import_cost, export_value_eur_per_mwh=site.export_value,
        dt_h=pm.horizon.dt_h, import_limit_mw=case.grid.import_limit_mw, export_limit_mw=case.grid.export_limit_mw,
        battery=ref.BatteryParams(
            charge_mw=bess.p_charge, discharge_mw=bess.p_discharge, eta_charge=bess.charge_efficiency,
            eta_discharge=bess.discharge_efficiency, soc_min_mwh=bess.soc_min_mwh, soc_max_mwh=bess.soc_max,
            soc_initial_mwh=bess.soc_start, soc_final_mwh=bess.soc_final_mwh,
            degradation_eur_per_mwh=bess.degradation_eur_per_mwh,
            exclusive=bess.needs_binaries(site.energy_value_can_be_negative)),
        constant_eur=-site.vat_factor * site.fixed_cost_eur, grid_exclusive=site.grid_needs_binaries,
        mip_rel_gap=case.solver.mip_gap, time_limit_s=case.solver.time_limit_s, threads=case.solver.threads,
    )


def horizon_of(case, day) -> Horizon:
    return Horizon(btime.delivery_index(day, 15, case.case.timezone), case.case.timezone)


def one_day(case, day: str, repeats: int) -> tuple[dict, dict, float, dict, dict, float]:
    """(re-plan ms per way, cold ms per way, reference build + solve ms, objective per way and the
    reference, cold CPU ms per way, reference CPU ms), all ways in turn in each repeat. CPU: the
    process's CPU time over the same span (``time.process_time``), which other jobs on the machine
    move less than the wall time."""
    h = horizon_of(case, dt.date.fromisoformat(day))
    base = bidopt.PortfolioModel(case, h)  # loads the data once (not timed)
    spot, data, inputs = base.site.spot, base.data, inputs_for(base)
    objs = {"reference": ref.solve(**inputs).objective_eur}
    keepers, objects = {}, {}
    for name in WAYS:  # one kept model per way, solved and refreshed once (the tape is recorded)
        objects[name] = WAYS[name]() if WAYS[name] else None
        with way(name, objects[name]):
            pm = keepers[name] = bidopt.PortfolioModel(case, h, spot, reuse=True, data=data)
            pm.solve()
            pm.refresh(case, h, spot, data)
            pm.solve()
    replan = {n: [] for n in WAYS}
    cold = {n: [] for n in WAYS}
    cold_cpu = {n: [] for n in WAYS}
    ref_ms, ref_cpu = [], []
    for _ in range(repeats):
        for name in WAYS:
            pm = keepers[name]
            with way(name, objects[name]):
                gc.collect()
                t0 = time.perf_counter()
                assert pm.refresh(case, h, spot, data)
                pm.solve()
                replan[name].append(time.perf_counter() - t0)
                objs[name] = pyo.value(pm.m.objective)
            with way(name):  # a new solver object: nothing kept
                base.m = None
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                base.m = base._build(spot)
                base.solve()
                cold[name].append(time.perf_counter() - t0)
                cold_cpu[name].append(time.process_time() - c0)
                objs[name + " (cold)"] = pyo.value(base.m.objective)
        gc.collect()
        rr = ref.solve(**inputs)
        ref_ms.append(rr.build_seconds + rr.solve_seconds)
        ref_cpu.append(rr.cpu_seconds)
    return ({n: ms(v) for n, v in replan.items()}, {n: ms(v) for n, v in cold.items()}, ms(ref_ms), objs,
            {n: ms(v) for n, v in cold_cpu.items()}, ms(ref_cpu))


def slice_inputs(case, days) -> list:
    """The reference's inputs for each day of the chain, with the states bidopt carried (untimed)."""
    rp, state, out = Replanner(), EMPTY, []
    for i, d in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else d + dt.timedelta(days=1)
        c = with_state(case, state)
        out.append(reference_inputs(bidopt.PortfolioModel(c, horizon_of(c, d))))
        state = perfect_foresight_day(case, d, state, next_day=nxt, replanner=rp).state
    return out


def chain(case, days, replan: bool = True, keep_bytes: bool = False) -> tuple:
    """The days chained (perfect foresight, state carried), through one ``Replanner`` unless
    ``replan`` is false: (seconds, summed result in EUR, each day's schedule as CSV bytes if asked)."""
    rp, state, kept = (Replanner() if replan else None), EMPTY, []
    t0 = time.perf_counter()
    total = 0.0
    for i, d in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else d + dt.timedelta(days=1)
        out = perfect_foresight_day(case, d, state, next_day=nxt, replanner=rp)
        state = out.state
        total += out.record["total_eur"]
        if keep_bytes:
            kept.append(out.timeseries.to_csv().encode())
    return time.perf_counter() - t0, total, kept


def backtest_slice(case, start: str, n: int, rounds: int) -> tuple[dict, float, dict, dict]:
    """(fastest seconds per way, reference seconds, summed results, days whose schedule bytes differ
    from what the same way gives on models built afresh each day, i.e. from what a backtest resumed
    on that day would give)."""
    days = [dt.date.fromisoformat(start) + dt.timedelta(days=i) for i in range(n)]
    inputs = slice_inputs(case, days)
    differ = {}
    for name in WAYS:  # untimed: each way's re-solved days against its own fresh models
        with way(name):
            fresh = chain(case, days, replan=False, keep_bytes=True)[2]
        with way(name):
            got = chain(case, days, keep_bytes=True)[2]
        differ[name] = sum(a != b for a, b in zip(got, fresh, strict=True))
    secs = {name: [] for name in WAYS}
    totals, ref_s = {}, []
    for _ in range(rounds):
        for name in WAYS:
            with way(name):
                gc.collect()
                s, totals[name], _ = chain(case, days)
                secs[name].append(s)
        gc.collect()
        rs = [ref.solve(**inp) for inp in inputs]
        ref_s.append(sum(r.build_seconds + r.solve_seconds for r in rs))
        totals["reference"] = sum(r.objective_eur for r in rs)
    return {n: min(v) for n, v in secs.items()}, min(ref_s), totals, differ


def agree(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-6 * abs(b), 1e-5)


def table(replan, cold, ref_ms, sl, ref_s, objs, totals, differ, n_days, cpu, ref_cpu) -> list[str]:
    rows = ["| way to HiGHS | re-plan, LP day (ms) | ratio | cold plan (ms) | ratio | cold plan, CPU (ms) | ratio | "
            f"{n_days}-day slice (s) | ratio | objectives agree | slice days whose bytes differ from fresh models (resume) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name in WAYS:
        ok = (agree(objs[name], objs["reference"]) and agree(objs[name + " (cold)"], objs["reference"])
              and agree(totals[name], totals["reference"]))
        rows.append(f"| {name} | {replan[name]:.1f} | {replan[name] / ref_ms:.2f}x | {cold[name]:.1f} | "
                    f"{cold[name] / ref_ms:.2f}x | {cpu[name]:.1f} | {cpu[name] / ref_cpu:.2f}x | {sl[name]:.2f} | "
                    f"{sl[name] / ref_s:.2f}x | {'yes' if ok else '**no**'} | {differ[name]} of {n_days} |")
    rows.append(f"| straight highspy (reference) | {ref_ms:.1f} | 1x | {ref_ms:.1f} | 1x | {ref_cpu:.1f} | 1x | "
                f"{ref_s:.2f} | 1x | | |")
    return rows


def battery_table(replan, cold, ref_ms, objs, cpu, ref_cpu) -> list[str]:
    rows = ["| way to HiGHS | re-plan (ms) | ratio | cold plan (ms) | ratio | cold plan, CPU (ms) | ratio | "
            "objectives agree |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in WAYS:
        ok = agree(objs[name], objs["reference"]) and agree(objs[name + " (cold)"], objs["reference"])
        rows.append(f"| {name} | {replan[name]:.1f} | {replan[name] / ref_ms:.2f}x | {cold[name]:.1f} | "
                    f"{cold[name] / ref_ms:.2f}x | {cpu[name]:.1f} | {cpu[name] / ref_cpu:.2f}x | "
                    f"{'yes' if ok else '**no**'} |")
    rows.append(f"| straight highspy (reference) | {ref_ms:.1f} | 1x | {ref_ms:.1f} | 1x | {ref_cpu:.1f} | 1x | |")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--day", default="2024-01-17")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--start", default="2025-10-01", help="first day of the backtest slice")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the slice, fastest kept")
    ap.add_argument("--write", action="store_true", help="update the adapter section of docs/performance.md")
    a = ap.parse_args(argv)
    case, bcase = demo_case(), battery_case()
    load_before = os.getloadavg()[0]
    bidopt.plan(case, a.day)  # warm-up: imports, data caches
    replan, cold, ref_ms, objs, cpu, ref_cpu = one_day(case, a.day, a.repeats)
    b_replan, b_cold, b_ref_ms, b_objs, b_cpu, b_ref_cpu = one_day(bcase, a.day, a.repeats)
    sl, ref_s, totals, differ = backtest_slice(case, a.start, a.days, a.rounds)
    m = machine()
    text = "\n".join([
        f"**The demo site** (battery, PV, load, peak tariff, fees), 15-min MTU. Re-plan and cold: {a.day} "
        f"(LP), median of {a.repeats} repeats; slice: {a.days} days of perfect foresight from {a.start} through "
        f"one `Replanner`, fastest of {a.rounds} rounds. Ratios against the same LP built and solved straight in "
        "highspy (`tests/highspy_reference.py`: arrays + `passModel` + `run`; for the slice summed over its days).",
        "", *table(replan, cold, ref_ms, sl, ref_s, objs, totals, differ, a.days, cpu, ref_cpu), "",
        f"**The demo battery alone** (import cost = export value = spot), {a.day}, 15-min MTU, median of "
        f"{a.repeats} repeats:", "", *battery_table(b_replan, b_cold, b_ref_ms, b_objs, b_cpu, b_ref_cpu), "",
        f"Machine: {m['cpu']}, {m['nproc']} cores, Python {m['python']}, highspy {m['highspy']}, Pyomo {m['pyomo']}; "
        f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (above {m['nproc']}, other "
        "jobs shared the cores). Reproduce: `python benchmarks/adapter.py --write`.",
    ])
    print(text)
    bad = [n for n in WAYS if not (agree(objs[n], objs["reference"]) and agree(b_objs[n], b_objs["reference"]))]
    if bad:
        print(f"objectives disagree: {bad} {objs}", file=sys.stderr)
    if a.write:
        doc = HERE.parent / "docs" / "performance.md"
        s = doc.read_text()
        if START not in s:
            raise SystemExit(f"{doc} has no {START} ... {END} block")
        doc.write_text(s[: s.index(START)] + f"{START}\n{text}\n{END}" + s[s.index(END) + len(END):])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
