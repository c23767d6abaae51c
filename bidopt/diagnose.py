"""Explain an infeasible model: which asset and which constraint cannot be met.

Every constraint gets non-negative slack variables (Pyomo's ``core.add_slack_variables``); the
relaxed copy minimises total slack. Constraints that keep a positive slack are the ones that cannot
all hold; their Pyomo names (``asset_<name>.<constraint>``, ``grid.balance[t]``) map back to the
asset and constraint reported to the user (exit code 3).
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus
from pyomo.contrib.solver.solvers.highs import Highs

from bidopt.errors import InfeasibleError
from bidopt.highs_direct import use_threads

TOL = 1e-6


def explain_infeasibility(pm) -> InfeasibleError:
    m = pm.m.clone()
    m.objective.deactivate()
    for v in m.component_data_objects(pyo.Var):
        if v.is_binary() or v.is_integer():
            v.domain = pyo.Reals if not v.is_binary() else pyo.UnitInterval
    relaxed = pyo.TransformationFactory("core.add_slack_variables").create_using(m)
    slacks = relaxed._core_add_slack_variables
    # the transformation adds its own objective: minimise the sum of all slacks
    use_threads(None)  # HiGHS's default count, whatever earlier solves in this thread asked for
    res = Highs().solve(relaxed, load_solutions=False, raise_exception_on_nonoptimal_result=False)
    if res.solution_status not in (SolutionStatus.optimal, SolutionStatus.feasible):
        return InfeasibleError("portfolio", "unknown", "model is infeasible and could not be diagnosed")
    res.solution_loader.load_vars()
    bent: list[tuple[float, str]] = []
    for c in relaxed.component_data_objects(pyo.Constraint, active=True):
        used = sum(pyo.value(v) for v in _slack_vars(c.body, slacks))
        if used > TOL:
            by_mtu = c.parent_component().index_set().name == "T"
            bent.append((used, c.name if by_mtu else c.name.replace("[", "(", 1).replace("]", ")")))
    if not bent:
        return InfeasibleError("portfolio", "variable bounds", "variable bounds conflict")
    bent.sort(key=lambda x: (-x[0], x[1]))
    asset, constraint = _describe(bent[0][1], pm)
    others = len(bent) - 1
    more = f"; {others} other constraint(s) also bend" if others else ""
    hint = HINTS.get(asset, "")
    return InfeasibleError(asset, constraint, f"cannot be met (short by {bent[0][0]:.4g}){hint}{more}")


HINTS = {"grid": " - import_limit_mw/export_limit_mw too small for the fixed loads and generation"}


def _slack_vars(body, slacks):
    from pyomo.core.expr.visitor import identify_variables

    return [v for v in identify_variables(body) if v.parent_block() is slacks]


def _describe(name: str, pm) -> tuple[str, str]:
    scenario = ""
    if name.startswith("site["):  # the bidding model: one site per scenario
        tag, _, name = name.partition("].")
        scenario = f" in scenario {tag.removeprefix('site[')}"
    asset, constraint = _describe_site(name, pm)
    return asset, constraint + scenario


def _describe_site(name: str, pm) -> tuple[str, str]:
    head, _, rest = name.partition(".")
    idx = ""
    if "[" in rest:
        rest, _, i = rest.partition("[")
        try:
            t = int(i.rstrip("]"))
            idx = f" at {pm.horizon.index[t].isoformat()}"
        except (ValueError, IndexError):
            idx = f"[{i}"
    if head.startswith("asset_"):
        return head.removeprefix("asset_"), rest + idx
    if head == "grid":
        return "grid", rest + idx
    return head, rest + idx
