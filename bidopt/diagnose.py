"""Explain an infeasible model: which asset and which constraint cannot be met.

A copy of the model gets non-negative slack variables on its constraints and minimises their sum;
the constraints that keep a positive slack are the ones that cannot all hold. Their Pyomo names
(``asset_<name>.<constraint>``, ``grid.balance[t]``, with ``site[s].`` in front in the
multi-scenario bidding models) map back to the asset and constraint reported to the user (exit
code 3).

Slack goes first only to the physical constraints (those of an asset's block or the grid
connection); market bookkeeping (FCR volumes split over assets, bid ladders, a day-ahead position
to follow) stays exact, so a volume fixed beyond what the assets can hold is blamed on the asset
constraint it breaks, not on the line that fixes it. Only when that copy has no solution do all
constraints get slack. Integer variables are relaxed to their bounds (a lot count stays >= 0);
when the relaxation is feasible the infeasibility lies in the integers, and the same search runs
with them kept. A fixed variable outside its own bounds is named as such.
"""

from __future__ import annotations

import pyomo.environ as pyo

from bidopt import solver
from bidopt.errors import InfeasibleError

TOL = 1e-6


def explain_infeasibility(pm) -> InfeasibleError:
    """The ``InfeasibleError`` for ``pm`` (an object with ``.m``, the Pyomo model, and ``.horizon``)."""
    for integers in (False, True):
        for physical_only in (True, False):
            bent = _bent_constraints(pm.m, integers, physical_only)
            if bent is None:
                continue  # this relaxation has no solution either: widen it
            if bent:
                return _error(bent, pm)
            break  # every constraint holds with integers relaxed: the integers are the problem
    fixed = _fixed_out_of_bounds(pm.m)
    if fixed is not None:
        name, value, lb, ub = fixed
        asset, constraint = _describe(name, pm)
        return InfeasibleError(asset, constraint, f"fixed at {value:.6g}, outside its bounds [{lb}, {ub}]")
    return InfeasibleError("portfolio", "unknown", "model is infeasible and could not be diagnosed")


def _bent_constraints(model, integers: bool, physical_only: bool) -> list[tuple[float, int, str]] | None:
    """Constraints that need slack in a copy of ``model`` minimising total slack: (slack, order,
    name); None when the copy has no solution."""
    m = model.clone()
    for obj in m.component_data_objects(pyo.Objective, active=True):
        obj.deactivate()
    if not integers:
        for v in m.component_data_objects(pyo.Var):
            if v.is_integer() or v.is_binary():
                lb, ub = v.lb, v.ub  # the domain's bounds too: lots stay non-negative, binaries in [0, 1]
                v.domain = pyo.Reals
                v.setlb(lb)
                v.setub(ub)
    cons = [c for c in m.component_data_objects(pyo.Constraint, active=True)
            if not physical_only or _physical(c)]
    m._diagnose_index = pyo.RangeSet(0, len(cons) - 1) if cons else pyo.Set(initialize=[])
    m._diagnose_plus = pyo.Var(m._diagnose_index, within=pyo.NonNegativeReals)
    m._diagnose_minus = pyo.Var(m._diagnose_index, within=pyo.NonNegativeReals)
    for i, c in enumerate(cons):
        lower, body, upper = c.lower, c.body, c.upper
        c.set_value((lower, body + m._diagnose_plus[i] - m._diagnose_minus[i], upper))
    m._diagnose_total = pyo.Objective(expr=sum(m._diagnose_plus[i] + m._diagnose_minus[i] for i in range(len(cons))))
    # Pyomo's HiGHS interface, HiGHS's default thread count; the values are loaded when feasible
    res = solver.solve_pyomo(m)
    if res.solution_status not in (solver.SolutionStatus.optimal, solver.SolutionStatus.feasible):
        return None
    bent = []
    for i, c in enumerate(cons):
        used = (m._diagnose_plus[i].value or 0.0) + (m._diagnose_minus[i].value or 0.0)
        if used > TOL:
            bent.append((round(used, 9), i, _name(c)))
    return bent


def _name(c) -> str:
    """The constraint's name; an index other than the MTU in round brackets (``split(fcr_n,2)``)."""
    comp = c.parent_component()
    if comp.index_set().name == "T":
        return c.name
    head = comp.name
    return head + c.name[len(head):].replace("[", "(", 1).replace("]", ")")


def _physical(c) -> bool:
    """A constraint of an asset's block or of the grid connection (at any depth)."""
    b = c.parent_block()
    while b is not None:
        name = b.local_name
        if name.startswith("asset_") or name == "grid":
            return True
        b = b.parent_block()
    return False


def _fixed_out_of_bounds(model) -> tuple[str, float, float | None, float | None] | None:
    for v in model.component_data_objects(pyo.Var):
        if v.fixed and v.value is not None:
            lb, ub = v.lb, v.ub
            if (lb is not None and v.value < lb - TOL) or (ub is not None and v.value > ub + TOL):
                return v.name, float(v.value), lb, ub
    return None


def _error(bent: list[tuple[float, int, str]], pm) -> InfeasibleError:
    bent = sorted(bent, key=lambda x: (-x[0], x[1]))  # the largest shortfall, then model order
    used, _, name = bent[0]
    asset, constraint = _describe(name, pm)
    others = len(bent) - 1
    more = f"; {others} other constraint(s) also bend" if others else ""
    hint = HINTS.get(asset, "") or next((h for k, h in CONSTRAINT_HINTS.items() if constraint.startswith(k)), "")
    return InfeasibleError(asset, constraint, f"cannot be met (short by {used:.4g}){hint}{more}")


HINTS = {"grid": " - import_limit_mw/export_limit_mw too small for the fixed loads and generation"}
CONSTRAINT_HINTS = {
    "reserve_": " - the FCR capacity this asset must hold (sold in an auction, or fixed from fcr_bids.csv) "
                "needs more headroom than its schedule can leave",
}


def _describe(name: str, pm) -> tuple[str, str]:
    scenario = ""
    if name.startswith("site["):  # the bidding models: one site per scenario
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
