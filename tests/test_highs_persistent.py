"""``bidopt.solver.Persistent``: a model compiled once and re-solved in place after its mutable
values change gives what a fresh compile gives (objective and values), and compiles again when
its structure changed in a way it can see."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.results import TerminationCondition

import bidopt
from bidopt import solver as hd
from bidopt import time as btime
from bidopt.horizon import Horizon
from bidopt.solver import Persistent
from tests.conftest import REPO


def small_model():
    """Params as a coefficient, a row constant, a variable bound, an objective coefficient and a
    constraint without variables; a named expression holding a Param; a fixed variable."""
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=2.0, mutable=True)
    m.b = pyo.Param(initialize=4.0, mutable=True)
    m.cap = pyo.Param(initialize=3.0, mutable=True)
    m.c = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(bounds=(0, m.cap))
    m.y = pyo.Var(bounds=(0, 10))
    m.z = pyo.Var(bounds=(0, 10))
    m.f = pyo.Var(initialize=1.0)
    m.f.fix()
    m.e = pyo.Expression(expr=m.b + m.f)
    m.row = pyo.Constraint(expr=m.a * m.x + m.y >= m.e)
    m.other = pyo.Constraint(expr=m.y + m.z <= 8)
    m.const = pyo.Constraint(expr=m.c <= 5)
    m.obj = pyo.Objective(expr=m.c * m.x + 2 * m.y + 0.5 * m.z)
    return m


def values(m):
    return [v.value for v in m.component_data_objects(pyo.Var, active=True) if not v.fixed]


def fresh(m):
    r = hd.solve_matrix(m)
    return r, values(m)


@pytest.mark.parametrize("changes", [
    {"a": 3.0},                      # a coefficient
    {"a": 0.0},                      # a coefficient vanishes ...
    {"b": 7.0, "cap": 1.0},          # a row constant through a named expression, a column bound
    {"c": 3.0},                      # an objective coefficient
    {"a": 0.5, "b": 2.0, "c": 0.1, "cap": 5.0},
])
def test_refresh_matches_fresh_compile(changes):
    m = small_model()
    p = Persistent(m)
    p.solve()
    for k, v in changes.items():
        getattr(m, k).set_value(v)
    r = p.solve()
    got = values(m)
    assert (p.compiles, p.refreshes) == (1, 1)
    want_r, want = fresh(m)
    assert r.incumbent_objective == pytest.approx(want_r.incumbent_objective, abs=1e-9)
    assert got == pytest.approx(want, abs=1e-7)


def test_coefficient_comes_back_after_vanishing():
    m = small_model()
    p = Persistent(m)
    first = p.solve().incumbent_objective
    m.a.set_value(0.0)
    p.solve()
    m.a.set_value(2.0)
    assert p.solve().incumbent_objective == pytest.approx(first, abs=1e-9)
    assert p.compiles == 1


def test_fixed_value_change_is_a_refresh_and_fixing_is_a_recompile():
    m = small_model()
    p = Persistent(m)
    p.solve()
    m.f.set_value(3.0)  # still fixed: a constant
    r = p.solve()
    assert p.compiles == 1 and r.incumbent_objective == pytest.approx(fresh(m)[0].incumbent_objective)
    m.z.fix(2.0)  # a column becomes a constant: structure
    r = p.solve()
    assert p.compiles == 2 and r.incumbent_objective == pytest.approx(fresh(m)[0].incumbent_objective)
    m.f.unfix()  # a constant becomes a column
    r = p.solve()
    assert p.compiles == 3 and r.incumbent_objective == pytest.approx(fresh(m)[0].incumbent_objective)


def test_constant_constraint_turns_infeasible_and_back():
    m = small_model()
    p = Persistent(m)
    p.solve()
    m.c.set_value(6.0)  # c <= 5 no longer holds
    assert p.solve().termination_condition == TerminationCondition.provenInfeasible
    m.c.set_value(1.0)
    assert p.solve().termination_condition == TerminationCondition.convergenceCriteriaSatisfied


def test_deactivated_reread_row_recompiles():
    m = small_model()
    p = Persistent(m)
    p.solve()
    m.row.deactivate()
    r = p.solve()
    assert p.compiles == 2 and r.incumbent_objective == pytest.approx(fresh(m)[0].incumbent_objective)


def test_demo_day_resolved_in_place_matches_rebuilt_models():
    """The demo site (battery, PV, load, peak tariff) with new prices, load and initial SoC, re-solved
    in place five times: each optimum equals a model built and solved from scratch with the same data."""
    case = bidopt.load_case(REPO / "cases" / "demo")
    case.case.mtu_minutes = 15
    h = Horizon(btime.delivery_index(dt.date(2025, 1, 15), 15, case.case.timezone), case.case.timezone)
    pm = bidopt.PortfolioModel(case, h)
    p = Persistent(pm.m)
    p.solve()
    rng = np.random.default_rng(3)
    for _ in range(5):
        spot = pm.site.spot * rng.uniform(0.5, 1.5, len(pm.site.spot))
        load = pm.data["building"]["load_mw"] * rng.uniform(0.8, 1.2, h.n)
        soc = float(rng.uniform(0.0, 2.0))
        assert pm.site.set_prices(spot)
        pm.site.asset_blocks["building"].demand.store_values(dict(enumerate(load)))
        pm.site.asset_blocks["bess"].soc_initial = soc
        got = p.solve().incumbent_objective
        assert_same_arrays(p.mm, hd.compile_model(pm.m))
        c = case.model_copy(deep=True)
        c.assets[0].soc_initial_mwh = soc
        other = bidopt.PortfolioModel(c, h, spot_eur_per_mwh=spot)
        other.data["building"]["load_mw"] = load
        other.m = other._build(spot)
        other.solve()
        assert got == pytest.approx(pyo.value(other.m.objective), rel=1e-9, abs=1e-6)
    assert (p.compiles, p.refreshes) == (1, 5)


def assert_same_arrays(a: hd.MatrixModel, b: hd.MatrixModel):
    assert [id(v) for v in a.columns] == [id(v) for v in b.columns]
    assert [id(c) for c in a.rows] == [id(c) for c in b.rows]
    for f in ("cost", "col_lower", "col_upper", "row_lower", "row_upper", "start", "index", "value", "integer"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape and np.array_equal(x, y), f
    assert a.offset == b.offset and a.maximize == b.maximize


def test_refreshed_arrays_are_a_fresh_compile_bit_for_bit():
    """What goes to HiGHS after a refresh is exactly what a fresh compile sends, zero coefficients
    dropped the same way, so the solver takes the same path (resumed backtests give the same bytes)."""
    m = small_model()
    p = Persistent(m)
    p.solve()
    for a, b, c, cap in [(0.0, 5.0, 2.0, 4.0), (1.5, 1.0, 0.3, 2.0), (0.0, 0.0, 1.0, 3.0)]:
        m.a.set_value(a)
        m.b.set_value(b)
        m.c.set_value(c)
        m.cap.set_value(cap)
        p.solve()
        assert p.compiles == 1
        assert_same_arrays(p.mm, hd.compile_model(m))


def test_row_losing_all_its_coefficients_recompiles():
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(bounds=(0, 4))
    m.row = pyo.Constraint(expr=m.a * m.x <= 2)
    m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    p = Persistent(m)
    assert p.solve().incumbent_objective == pytest.approx(2.0)
    m.a.set_value(0.0)  # 0 <= 2: no row any more
    assert p.solve().incumbent_objective == pytest.approx(4.0)
    assert p.compiles == 2


def test_row_gaining_a_finite_bound_recompiles():
    """A constraint whose Param bound was infinite when compiled is no row; once the bound is
    finite a fresh compile has it, and so does the re-solve."""
    m = pyo.ConcreteModel()
    m.lim = pyo.Param(initialize=float("inf"), mutable=True)
    m.x = pyo.Var(bounds=(0, 10))
    m.cap = pyo.Constraint(expr=m.x <= m.lim)
    m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    p = Persistent(m)
    assert p.solve().incumbent_objective == pytest.approx(10.0)
    m.lim.set_value(3.0)
    assert p.solve().incumbent_objective == pytest.approx(3.0)
    assert p.compiles == 2
    assert_same_arrays(p.mm, hd.compile_model(m))
