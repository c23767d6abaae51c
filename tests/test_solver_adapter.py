"""The solver adapter (``bidopt.solver``, issue 15 item 2): the only place that touches Pyomo's and
highspy's internals; structural changes to a reused model are seen and compiled again; a re-solve
with the same numbers gives the same bytes; the installed Pyomo and highspy are in the tested range.
"""

from __future__ import annotations

import ast
import datetime as dt
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import solver
from bidopt import time as btime
from bidopt.horizon import Horizon
from bidopt.replan import Replanner
from bidopt.solver import versions
from tests.conftest import REPO

PACKAGE = REPO / "bidopt"
ADAPTER = PACKAGE / "solver"

# --- 1. nothing outside the adapter touches Pyomo's or highspy's internals ------------------------

# Private attributes of Pyomo's and highspy's objects that bidopt has used or might reach for. An
# attribute with one of these names, on any object, outside the adapter fails the test (bidopt's own
# objects do not use these names).
PRIVATE_ATTRS = {
    "_args_", "_value", "_lb", "_ub", "_data", "_index", "_domain", "_active", "_expr", "_decl",
    "_decl_order", "_ctypes", "_stale", "_fixed", "_sense", "_units", "_component", "_parent", "_rule",
    "_constructed", "_body", "_lower", "_upper", "_index_set", "_implicit_subsets", "_nargs",
}
# Modules holding Pyomo's expression and component classes, its writers' internals and the solver
# plumbing; outside the adapter bidopt uses ``pyomo.environ`` (and ``pyomo.repn``'s public
# ``generate_standard_repn``).
PRIVATE_MODULES = ("pyomo.core.expr", "pyomo.core.base", "pyomo.core.staleflag", "pyomo.repn.linear",
                   "pyomo.repn.plugins", "pyomo.repn.util", "pyomo.contrib.solver", "pyomo.contrib.appsi",
                   "pyomo.solvers", "highspy")
EXTERNAL = ("pyomo", "highspy")


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    external: set[str] = set()  # local names bound to pyomo / highspy modules or objects
    out = []
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [(a.name, a.asname or a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods = [(f"{node.module}.{a.name}", a.asname or a.name) for a in node.names]
        for full, local in mods:
            if full.split(".")[0] in EXTERNAL:
                external.add(local)
                if full.startswith(PRIVATE_MODULES) or any(p.startswith("_") for p in full.split(".")):
                    out.append(f"{path.relative_to(REPO)}:{node.lineno} imports {full}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            on_external = isinstance(node.value, ast.Name) and node.value.id in external
            if node.attr in PRIVATE_ATTRS or on_external:
                out.append(f"{path.relative_to(REPO)}:{node.lineno} uses .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in PRIVATE_ATTRS):
            out.append(f"{path.relative_to(REPO)}:{node.lineno} uses {node.func.id}(..., {node.args[1].value!r})")
    return out


def test_only_the_adapter_touches_pyomo_and_highspy_internals():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ADAPTER not in path.parents:
            found += _violations(path)
    assert not found, "outside bidopt/solver:\n" + "\n".join(found)


def test_the_static_check_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import highspy\nimport pyomo.environ as pyo\nfrom pyomo.core.base.param import ParamData\n"
                   "def f(p, e, blk):\n    p._value = 1\n    e._args_\n    pyo._private\n    blk._ev = 1\n"
                   "    getattr(blk, '_ctypes', None)\n")
    bad = bad.rename(REPO / "tests" / f"_tmp_static_check_{id(bad)}.py")
    try:
        got = "\n".join(_violations(bad))
    finally:
        bad.unlink()
    for what in ("imports highspy", "imports pyomo.core.base.param.ParamData", "uses ._value", "uses ._args_",
                 "uses ._private", "uses getattr(..., '_ctypes')"):
        assert what in got
    assert "._ev" not in got  # bidopt's own attribute on a block


def test_expr_value_and_params_still_reach_the_adapter():
    from bidopt import expr_value, params

    assert expr_value.linear_value is solver.linear_value
    assert params.set_values is solver.set_values and params.data_objects is solver.data_objects


# --- 4. a reused model changed structurally is compiled again ------------------------------------

def demo_day(day: str):
    case = bidopt.load_case(REPO / "cases" / "demo")
    case.case.mtu_minutes = 15
    return case, Horizon(btime.delivery_index(dt.date.fromisoformat(day), 15, case.case.timezone), case.case.timezone)


def solved(pm) -> tuple[float, list]:
    return pyo.value(pm.m.objective), [v.value for v in pm.m.component_data_objects(pyo.Var) if not v.fixed]


def replanned_after(change) -> tuple:
    """A Replanner's model of one day, solved, then ``change(pm)`` applied to its Pyomo model, then
    the next day taken from the Replanner (the same model, refreshed) and solved. Returns the model,
    its objective and values, and the objective and values of a fresh compile of the changed model."""
    case, h1 = demo_day("2025-10-21")
    _, h2 = demo_day("2025-10-22")
    rp = Replanner()
    pm = rp.model(case, h1)
    pm.solve()
    change(pm)
    assert rp.model(case, h2) is pm and rp.refreshes == 1  # refreshed, not rebuilt
    pm.solve()
    got = solved(pm)
    res = solver.solve_matrix(pm.m, case.solver.time_limit_s, case.solver.mip_gap, case.solver.threads)
    # a MIP stops anywhere within its relative gap, and HiGHS's branch and bound on a busy machine
    # need not stop at the same incumbent twice: exact for an LP, within the gap for a MIP
    gap = case.solver.mip_gap if pm.persistent.mm.is_mip else 0.0
    assert res.incumbent_objective == pytest.approx(got[0], rel=gap, abs=1e-9)
    return pm, got, solved(pm)


def unchanged_objective() -> float:
    case, h1 = demo_day("2025-10-21")
    _, h2 = demo_day("2025-10-22")
    rp = Replanner()
    rp.model(case, h1).solve()
    pm = rp.model(case, h2)
    pm.solve()
    return pyo.value(pm.m.objective)


def battery(pm):
    (name,) = [a.name for a in pm.case.assets if a.kind == "battery"]
    return pm.site.asset_blocks[name]


def test_a_constraint_added_to_a_reused_model_is_compiled():
    def add(pm):
        blk = battery(pm)
        pm.m.extra_cap = pyo.Constraint(blk.discharge.index_set(), rule=lambda m, t: blk.discharge[t] <= 0.2)

    pm, got, fresh = replanned_after(add)
    assert pm.persistent.compiles == 2
    assert got == fresh  # bit for bit what a fresh compile of the changed model gives
    assert got[0] < unchanged_objective() - 1.0  # and the constraint binds


def test_a_constraint_deactivated_in_a_reused_model_is_compiled():
    def deactivate(pm):
        for c in pm.m.component_objects(pyo.Constraint, descend_into=True):
            if c.parent_block() is battery(pm) and "soc" in c.local_name and c.is_indexed():
                # the SoC balance after the first MTU (rows no Param reaches, so only the structure
                # check sees them go): the battery is free energy without it
                for t in list(c)[1:]:
                    c[t].deactivate()
                return
        raise AssertionError("no SoC balance found")

    pm, got, fresh = replanned_after(deactivate)
    assert pm.persistent.compiles == 2
    assert got == fresh
    assert got[0] > unchanged_objective() + 1.0


def test_a_constraint_activated_again_in_a_reused_model_is_compiled():
    cons = []

    def deactivate_then_solve_then_activate(pm):
        blk = battery(pm)
        pm.m.extra_cap = pyo.Constraint(blk.discharge.index_set(), rule=lambda m, t: blk.discharge[t] <= 0.2)
        pm.m.extra_cap.deactivate()
        pm.solve()  # compiled without it
        cons.append(pm.persistent.compiles)
        pm.m.extra_cap.activate()

    pm, got, fresh = replanned_after(deactivate_then_solve_then_activate)
    assert cons == [2] and pm.persistent.compiles == 3
    assert got == fresh
    assert got[0] < unchanged_objective() - 1.0


def test_a_domain_changed_in_a_reused_model_is_compiled():
    def integer(pm):
        for v in battery(pm).discharge.values():
            v.domain = pyo.NonNegativeIntegers  # 0 or 1 MW

    pm, got, fresh = replanned_after(integer)
    assert pm.persistent.compiles == 2 and pm.persistent.mm.is_mip
    assert fresh[0] == pytest.approx(got[0], rel=1e-4)  # the same MIP, within the demo case's mip_gap
    assert all(abs(v.value - round(v.value)) <= 1e-6 for v in battery(pm).discharge.values())  # HiGHS tolerance


@pytest.mark.parametrize("change", ["new index", "expression replaced", "bound changed", "block deactivated"])
def test_other_structural_changes_of_a_small_model_are_compiled(change):
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=2.0, mutable=True)
    m.x = pyo.Var(bounds=(0, 10))
    m.y = pyo.Var(bounds=(0, 10))
    m.rows = pyo.ConstraintList()
    m.rows.add(m.x + m.y <= 8)
    m.b = pyo.Block()
    m.b.c = pyo.Constraint(expr=m.y <= 1)
    m.obj = pyo.Objective(expr=m.a * m.x + m.y, sense=pyo.maximize)
    p = solver.Persistent(m)
    p.solve()
    m.a.set_value(3.0)
    p.solve()
    assert p.compiles == 1
    if change == "new index":
        m.rows.add(m.x <= 2)
    elif change == "expression replaced":
        m.rows[1].set_value(m.x + m.y <= 3)
    elif change == "bound changed":
        m.x.setub(1.0)
    else:
        m.b.deactivate()
    got = p.solve().incumbent_objective
    assert p.compiles == 2
    assert got == solver.solve_matrix(m).incumbent_objective


def test_a_refresh_with_no_structural_change_does_not_compile():
    case, h1 = demo_day("2025-10-21")
    rp = Replanner()
    for day in ("2025-10-21", "2025-10-22", "2025-10-23"):
        _, h = demo_day(day)
        rp.model(case, h).solve()
    (pm,) = rp.models.values()
    assert pm.persistent.compiles == 1 and pm.persistent.refreshes == 2


# --- 3. a re-solve after a refresh with the same numbers gives the same bytes ---------------------

def test_resolve_after_refresh_with_the_same_numbers_gives_the_same_bytes():
    case = bidopt.load_case(REPO / "cases" / "demo")
    rp = Replanner()
    outs = []
    for day in ("2024-01-17", "2024-01-18", "2024-01-17", "2024-01-17"):
        res = bidopt.plan(case, day, mtu_minutes=15, replanner=rp)
        outs.append((day, res.schedule.to_csv().encode(), repr(sorted(res.summary["revenue_eur"].items()))))
    assert rp.builds == 1 and rp.refreshes == 3
    first, again, third = outs[0], outs[2], outs[3]
    assert first[1] == again[1] == third[1] and first[2] == again[2] == third[2]
    fresh = bidopt.plan(case, "2024-01-17", mtu_minutes=15)
    assert fresh.schedule.to_csv().encode() == first[1]


# --- 5. Pyomo and highspy in the tested range -----------------------------------------------------

def test_installed_pyomo_and_highspy_are_in_the_tested_range():
    problems = versions.untested()
    assert not problems, "\n".join(problems)


def test_pyproject_declares_the_tested_ranges():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for name, (low, high) in versions.TESTED.items():
        assert f"{name}>={low},<{high}" in deps, (name, deps)


@pytest.mark.parametrize("fake, named", [
    ({"pyomo": "6.11.0", "highspy": "1.16.0"}, ["pyomo 6.11.0"]),
    ({"pyomo": "6.9.2", "highspy": "1.16.0"}, ["pyomo 6.9.2"]),
    ({"pyomo": "6.10.1", "highspy": "2.0.0"}, ["highspy 2.0.0"]),
    ({"pyomo": "7.0", "highspy": "1.14.0"}, ["pyomo 7.0", "highspy 1.14.0"]),
    ({"pyomo": "6.10.1", "highspy": None}, ["highspy is not installed"]),
    ({"pyomo": "6.10.1", "highspy": "1.16.0rc1"}, []),
    ({"pyomo": "6.10.1", "highspy": "1.15.1"}, []),
])
def test_the_version_check_names_what_is_outside(fake, named):
    problems = versions.untested(fake)
    assert len(problems) == len(named)
    for p, n in zip(problems, named, strict=True):
        assert n in p and "tested with" in p


def test_untested_versions_warn_at_import(monkeypatch):
    monkeypatch.setattr(versions, "installed", lambda: {"pyomo": "6.12.0", "highspy": "1.16.0"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        versions.warn_if_untested()
    assert [str(w.message) for w in caught if "pyomo 6.12.0" in str(w.message)]
    assert np.all([issubclass(w.category, RuntimeWarning) for w in caught])


# --- any mix of Param changes and structural changes: a re-solve is a fresh compile ----------------

def edit_model():
    """Three variables, Params in a coefficient, a bound and the objective; an indexed constraint,
    a ranged one, one in a sub-block; room for added constraints."""
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=2.0, mutable=True)
    m.cap = pyo.Param(initialize=5.0, mutable=True)
    m.c = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var([0, 1, 2], bounds=(0, m.cap))
    m.rows = pyo.Constraint([0, 1, 2], rule=lambda m, i: m.a * m.x[i] + m.x[(i + 1) % 3] <= 6 + i)
    m.ranged = pyo.Constraint(expr=pyo.inequality(1, m.x[0] + m.x[2], 7))
    m.b = pyo.Block()
    m.b.c = pyo.Constraint(expr=m.x[1] <= 4)
    m.added = pyo.ConstraintList()
    m.obj = pyo.Objective(expr=m.c * m.x[0] + 2 * m.x[1] + 1.5 * m.x[2], sense=pyo.maximize)
    return m


EDITS = st.sampled_from(["a", "cap", "c", "deactivate", "activate", "add", "integer", "real", "block off",
                         "block on", "bound", "replace"])


def apply(m, edit: str, k: int, v: float) -> None:
    cons = [m.rows[0], m.rows[1], m.rows[2], m.ranged, m.b.c]
    if edit in ("a", "cap", "c"):
        getattr(m, edit).set_value(v)
    elif edit == "deactivate":
        cons[k % 5].deactivate()
    elif edit == "activate":
        cons[k % 5].activate()
    elif edit == "add":
        m.added.add(m.x[k % 3] <= v + 1)
    elif edit == "integer":
        m.x[k % 3].domain = pyo.NonNegativeIntegers
    elif edit == "real":
        m.x[k % 3].domain = pyo.Reals
    elif edit == "block off":
        m.b.deactivate()
    elif edit == "block on":
        m.b.activate()
    elif edit == "bound":
        m.x[k % 3].setlb(v / 10)
    else:
        m.rows[k % 3].set_value(m.x[k % 3] + m.x[(k + 2) % 3] <= 3 + v)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(EDITS, st.integers(0, 4), st.floats(0.5, 4.0)), min_size=1, max_size=6))
def test_any_edits_then_resolve_equal_a_fresh_compile(edits):
    m = edit_model()
    p = solver.Persistent(m)
    p.solve(mip_rel_gap=0.0)
    for edit, k, v in edits:
        apply(m, edit, k, v)
        got = p.solve(mip_rel_gap=0.0)
        mm = p.mm
        want = solver.compile_model(m)
        for f in ("cost", "col_lower", "col_upper", "row_lower", "row_upper", "start", "index", "value", "integer"):
            assert np.array_equal(getattr(mm, f), getattr(want, f)), (edit, f)
        assert [id(c) for c in mm.rows] == [id(c) for c in want.rows]
        fresh = solver.solve_matrix(m, mip_rel_gap=0.0)
        assert got.termination_condition == fresh.termination_condition
        if fresh.incumbent_objective is not None:
            assert got.incumbent_objective == fresh.incumbent_objective
