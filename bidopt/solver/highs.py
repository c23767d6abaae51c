"""HiGHS runs for compiled models (``compile.MatrixModel``): options, threads, results, loading values.

``build_highs`` / ``pass_model`` hand the arrays to ``highspy.Highs`` in one call (``passModel``);
``run`` runs HiGHS and reads the result as a ``DirectResult`` (Pyomo's termination conditions and
solution statuses), loading the primal values into the Pyomo variables; ``solve(m)`` does compile,
hand-over and run in one call. ``solve_pyomo`` goes through Pyomo's own HiGHS interface instead
(models the matrix path cannot compile). Part of the solver adapter (``bidopt.solver``): writes
Pyomo's private variable attributes (``_value``, ``_stale``) when loading a solution.

Threads: HiGHS runs on a task scheduler that lives as long as the OS thread that first ran it, not as
long as one ``Highs`` object, and is sized by the ``threads`` option of that first run. A later run in
the same thread asking for another count fails before solving (``run`` returns an error, the model
status stays "Not Set"). ``run`` therefore sizes the scheduler for each run's own ``threads`` option
first (``use_threads``), so a solve's outcome does not depend on the solves made before it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs as PyomoHighs
from pyomo.core.staleflag import StaleFlagManager

from bidopt.solver.compile import MatrixModel, compile_model

_STATUS = {
    highspy.HighsModelStatus.kOptimal: TerminationCondition.convergenceCriteriaSatisfied,
    highspy.HighsModelStatus.kInfeasible: TerminationCondition.provenInfeasible,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: TerminationCondition.infeasibleOrUnbounded,
    highspy.HighsModelStatus.kUnbounded: TerminationCondition.unbounded,
    highspy.HighsModelStatus.kObjectiveBound: TerminationCondition.objectiveLimit,
    highspy.HighsModelStatus.kObjectiveTarget: TerminationCondition.objectiveLimit,
    highspy.HighsModelStatus.kTimeLimit: TerminationCondition.maxTimeLimit,
    highspy.HighsModelStatus.kIterationLimit: TerminationCondition.iterationLimit,
    highspy.HighsModelStatus.kSolutionLimit: TerminationCondition.iterationLimit,
    highspy.HighsModelStatus.kInterrupt: TerminationCondition.interrupted,
    highspy.HighsModelStatus.kLoadError: TerminationCondition.error,
    highspy.HighsModelStatus.kModelError: TerminationCondition.error,
    highspy.HighsModelStatus.kPresolveError: TerminationCondition.error,
    highspy.HighsModelStatus.kSolveError: TerminationCondition.error,
    highspy.HighsModelStatus.kPostsolveError: TerminationCondition.error,
}


@dataclass
class DirectResult:
    """What a solve gives back, in Pyomo's terms (its termination conditions and solution statuses)."""

    termination_condition: TerminationCondition
    solution_status: SolutionStatus
    incumbent_objective: float | None
    objective_bound: float | None
    is_mip: bool
    model_status: str = ""
    n_cols: int = 0
    n_rows: int = 0


class _QuietHighs(highspy.Highs):
    """``highspy.Highs`` with output off from the start.

    HiGHS prints its banner ("Running HiGHS ...") to stdout, from C, once per process: at the first
    ``Highs`` whose output is on, when highspy's constructor enables the callbacks. That is before a
    caller can set ``output_flag``, so it is set here, just before (highspy 1.16's ``__init__`` calls
    ``enableCallbacks``; ``tests/test_quiet_library.py`` notices if a release stops doing so)."""

    def enableCallbacks(self):
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


def new_highs() -> highspy.Highs:
    """A ``highspy.Highs`` that prints nothing (no banner, no log)."""
    return _QuietHighs()


def build_highs(mm: MatrixModel, time_limit_s: float | None = None, mip_rel_gap: float | None = None,
                threads: int | None = None) -> highspy.Highs:
    """A ``highspy.Highs`` holding the compiled model, with output off and the given options."""
    h = new_highs()
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if mip_rel_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    pass_model(h, mm)
    return h


def pass_model(h: highspy.Highs, mm: MatrixModel) -> None:
    """Give ``h`` the compiled model in one call (replacing any model it held, with its basis and
    solution)."""
    integrality = mm.integer.astype(np.int32)  # all zeros for an LP: HiGHS then solves it as an LP
    status = h.passModel(
        mm.n_cols, mm.n_rows, len(mm.value), int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize if mm.maximize else highspy.ObjSense.kMinimize), float(mm.offset),
        mm.cost, mm.col_lower, mm.col_upper, mm.row_lower, mm.row_upper,
        mm.start, mm.index, mm.value, integrality,
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the compiled model (passModel returned an error)")


# HiGHS's scheduler is per OS thread (a thread_local executor in its C++), so is the record of its size.
_scheduler = threading.local()
_NOT_SIZED = object()  # this thread's scheduler was not sized here: it may hold any count
# highspy >= 1.16 names the reset after what it resets; the old name is kept for older releases
_reset_scheduler = getattr(highspy.Highs, "resetThreadScheduler", None) or highspy.Highs.resetGlobalScheduler


def use_threads(threads: int | None) -> None:
    """Make this OS thread's HiGHS scheduler the one a run with ``threads`` gets in a fresh process
    (``None`` or 0: HiGHS's default count), before a run in this thread.

    HiGHS keeps one task scheduler per OS thread, created by the first ``Highs.run`` in that thread
    with the ``threads`` of that run, and kept across ``Highs`` objects. A later run setting another
    ``threads`` is refused (an error status, no solve: bidopt saw "solver stopped without a
    solution: unknown"), so the first solve of a process decided for all later ones: a plan with
    HiGHS's default count (highspy 1.16: every logical processor; 1.15: half of them), then a fleet
    site with ``[solver] threads = 1``, failed. A run with the default (0) takes whatever scheduler
    exists, so it too would depend on earlier solves. Here the scheduler is shut down whenever the
    count asked for differs from the one it was last sized for here; the run then starts a new one of
    the right size. Shutting down costs nothing measurable for one thread and about 0.1 ms for two;
    consecutive runs with the same count share the scheduler. Only this thread's scheduler is
    touched (runs in other threads have their own)."""
    want = int(threads) if threads else 0
    if getattr(_scheduler, "threads", _NOT_SIZED) != want:
        _reset_scheduler(True)
        _scheduler.threads = want


def _threads_option(h: highspy.Highs) -> int:
    got = h.getOptionValue("threads")
    return int(got[1] if isinstance(got, tuple) else got)  # (status, value) in recent highspy


def solve(m, time_limit_s: float | None = None, mip_rel_gap: float | None = None, threads: int | None = None,
          load_solution: bool = True, walker: str = "fast") -> DirectResult:
    """Compile ``m``, solve it with HiGHS and (if a feasible point exists and ``load_solution``) load
    the primal values into the model's variables."""
    mm = compile_model(m, walker)
    if mm.violated:
        return constant_infeasible(mm)
    return run(build_highs(mm, time_limit_s, mip_rel_gap, threads), mm, load_solution)


def constant_infeasible(mm: MatrixModel) -> DirectResult:
    """A constraint without variables that cannot hold: infeasible whatever x is."""
    return DirectResult(TerminationCondition.provenInfeasible, SolutionStatus.noSolution, None, None,
                        mm.is_mip, "Infeasible (constant constraint)", mm.n_cols, mm.n_rows)


def run(h: highspy.Highs, mm: MatrixModel, load_solution: bool = True) -> DirectResult:
    """Run HiGHS on the model it holds and read the result (loading primal values if asked)."""
    use_threads(_threads_option(h))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # 0 none, 1 infeasible, 2 feasible
    if status == highspy.HighsModelStatus.kOptimal:
        sol_status = SolutionStatus.optimal
    elif has_solution:
        sol_status = SolutionStatus.feasible
    else:
        sol_status = SolutionStatus.noSolution
    if status == highspy.HighsModelStatus.kModelEmpty:
        # nothing to decide: the objective is its constant
        tc, sol_status, has_solution = TerminationCondition.convergenceCriteriaSatisfied, SolutionStatus.optimal, True
    else:
        tc = _STATUS.get(status, TerminationCondition.unknown)
    incumbent = bound = None
    if has_solution:
        incumbent = float(info.objective_function_value) if mm.n_cols else float(mm.offset)
    if info.mip_node_count == -1 or not mm.is_mip:
        if has_solution and tc == TerminationCondition.convergenceCriteriaSatisfied:
            bound = incumbent
    else:
        bound = float(info.mip_dual_bound)
    if load_solution and has_solution and mm.n_cols:
        load(mm.columns, h.getSolution().col_value)
    return DirectResult(tc, sol_status, incumbent, bound, mm.is_mip, h.modelStatusToString(status),
                        mm.n_cols, mm.n_rows)


def load(columns, values) -> None:
    """Set the variables' values (no domain checks), as Pyomo's solution loaders do: all variables
    stale, these fresh. The values are HiGHS's floats, so ``VarData.set_value``'s conversions
    have nothing to do and its two assignments are made directly."""
    if len(columns) != len(values):
        raise ValueError(f"{len(values)} values for {len(columns)} columns")
    StaleFlagManager.mark_all_as_stale()
    fresh = StaleFlagManager.get_flag(None)
    for v, x in zip(columns, values, strict=True):
        v._value = x
        v._stale = fresh
    StaleFlagManager.mark_all_as_stale(delayed=True)


def solve_pyomo(m, time_limit_s: float | None = None, mip_rel_gap: float | None = None,
                threads: int | None = None) -> DirectResult:
    """Solve ``m`` through Pyomo's HiGHS interface (``pyomo.contrib.solver``) and load the primal
    values when there is a feasible point; the result as ``run`` gives it."""
    cfg = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False,
           "time_limit": time_limit_s, "rel_gap": mip_rel_gap}
    if threads:
        cfg["threads"] = threads
    use_threads(threads)  # HiGHS's scheduler outlives solves (see use_threads)
    res = PyomoHighs().solve(m, **cfg)
    is_mip = any(v.is_binary() or v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))
    if res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible):
        res.solution_loader.load_vars()
    return DirectResult(res.termination_condition, res.solution_status, res.incumbent_objective,
                        res.objective_bound, is_mip, res.termination_condition.name)
