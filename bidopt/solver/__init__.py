"""The solver adapter: the one place that knows Pyomo's and highspy's internals (no units of its own;
the model's numbers pass through: bidopt's rows are in MW, MWh and EUR).

Public interface (everything else in this package is private to it):

- **compile** ``compile_model(m) -> MatrixModel``: the active linear model as HiGHS arrays.
- **refresh** ``Persistent(m)``: compile once; each ``solve`` renews only what mutable values
  (Params, fixed variables) reach, and compiles again when the model's structure changed
  (``structure.Structure``: constraints added, deactivated or activated, expressions replaced,
  domains or constant bounds changed, objectives switched).
- **solve** ``solve(m, time_limit_s, mip_rel_gap, threads, persistent=None, interface="matrix")``:
  through ``persistent`` when it holds ``m``, else a one-off compile (``solve_matrix``), else (a model
  the arrays cannot hold, or ``interface="pyomo"``) Pyomo's HiGHS interface; the primal values are
  loaded into the model and a ``DirectResult`` returned (Pyomo's ``TerminationCondition`` and
  ``SolutionStatus``, re-exported here). ``new_highs()``: a silent ``highspy.Highs``;
  ``use_threads(n)``: size HiGHS's per-thread scheduler before a run.
- **read values** ``linear_value(named)``: a solved named expression's value;
  ``set_values(param, values)`` / ``data_objects(component)``: a day's numbers into indexed Params
  and the data objects of an indexed component, in index order.
- **versions** ``TESTED`` and ``untested()``: the Pyomo and highspy ranges the adapter is tested
  with (``pyproject.toml`` declares the same); importing the adapter warns outside them.

Modules: ``linear`` (expression reader), ``compile`` (arrays), ``highs`` (runs, results, threads),
``tape`` (recorded arithmetic replayed with numpy), ``persistent`` (compile once, refresh),
``structure`` (what a refresh relies on), ``values``, ``versions``.
"""

from __future__ import annotations

from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from bidopt.solver.compile import MatrixModel, NotMatrixCompatible, compile_model
from bidopt.solver.highs import DirectResult, new_highs, solve_pyomo, use_threads
from bidopt.solver.highs import solve as solve_matrix
from bidopt.solver.persistent import Persistent
from bidopt.solver.values import data_objects, linear_value, set_values
from bidopt.solver.versions import TESTED, untested, warn_if_untested

__all__ = [
    "TESTED", "DirectResult", "MatrixModel", "NotMatrixCompatible", "Persistent", "SolutionStatus",
    "TerminationCondition", "compile_model", "data_objects", "linear_value", "new_highs", "set_values",
    "solve", "solve_matrix", "solve_pyomo", "untested", "use_threads",
]

warn_if_untested()


def solve(m, time_limit_s: float | None = None, mip_rel_gap: float | None = None, threads: int | None = None,
          persistent: Persistent | None = None, interface: str = "matrix") -> DirectResult:
    """Solve ``m`` with HiGHS and load the primal values (when there is a feasible point).

    ``interface="matrix"``: through ``persistent`` when it was made for ``m`` (refreshed in place),
    else compiled once for this solve; a model the arrays cannot hold (not linear, SOS...) goes
    through Pyomo's HiGHS interface, as ``interface="pyomo"`` always does."""
    if interface == "matrix":
        try:
            if persistent is not None and persistent.m is m:
                return persistent.solve(time_limit_s, mip_rel_gap, threads, load_solution=True)
            return solve_matrix(m, time_limit_s, mip_rel_gap, threads, load_solution=True)
        except NotMatrixCompatible:
            pass
    return solve_pyomo(m, time_limit_s, mip_rel_gap, threads)
