"""The matrix path to HiGHS (bidopt.solver) against Pyomo's HiGHS interface.

The same models solved both ways give the same objective (LPs to 1e-9 relative, MIPs within the
MIP gap), the same diagnosis of infeasible cases, and the same values on a small model with a
fixed variable, a ranged constraint, an objective constant, a named Expression, a mutable Param and
an integer variable. The fast expression reader gives the same matrix as Pyomo's
``LinearRepnVisitor``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

import bidopt
from bidopt import solver as hd
from bidopt import time as btime
from bidopt.errors import InfeasibleError, InputError, SolverError
from bidopt.horizon import Horizon
from tests.conftest import REPO, write_prices
from tests.test_fcr import ler_case

DAY = "2024-03-14"


def with_interface(case, interface: str):
    c = case.model_copy(deep=True)
    c.solver.interface = interface
    return c


def pyomo_solve(m, rel_gap=1e-9):
    res = Highs().solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False, rel_gap=rel_gap)
    if res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible):
        res.solution_loader.load_vars()
    return res


def rows_by_name(mm: hd.MatrixModel):
    names = [v.name for v in mm.columns]
    out = {}
    for i, con in enumerate(mm.rows):
        s, e = mm.start[i], mm.start[i + 1]
        coefs = {names[j]: float(x) for j, x in zip(mm.index[s:e], mm.value[s:e], strict=True) if x}
        out[con.name] = (coefs, float(mm.row_lower[i]), float(mm.row_upper[i]))
    cost = {names[j]: float(mm.cost[j]) for j in range(mm.n_cols) if mm.cost[j]}
    return out, cost, mm.offset, mm.maximize


def assert_same_matrix(m):
    (ra, ca, oa, sa), (rb, cb, ob, sb) = (rows_by_name(hd.compile_model(m, w)) for w in ("fast", "pyomo"))
    assert ra.keys() == rb.keys()
    for k in ra:
        assert ra[k][0].keys() == rb[k][0].keys(), k
        for v in ra[k][0]:
            assert ra[k][0][v] == pytest.approx(rb[k][0][v], rel=1e-12, abs=1e-12), (k, v)
        assert ra[k][1:] == pytest.approx(rb[k][1:], rel=1e-12, abs=1e-12), k
    assert ca.keys() == cb.keys()
    for v in ca:
        assert ca[v] == pytest.approx(cb[v], rel=1e-12, abs=1e-12)
    assert oa == pytest.approx(ob, rel=1e-12, abs=1e-12)
    assert sa == sb


# --- a small model with the awkward parts ----------------------------------------------------------


def tiny():
    m = pyo.ConcreteModel()
    m.p = pyo.Param(mutable=True, initialize=3.0)
    m.x = pyo.Var(bounds=(0, 10))
    m.y = pyo.Var(domain=pyo.Integers, bounds=(0, 5))
    m.z = pyo.Var(initialize=2.0)
    m.z.fix()
    m.w = pyo.Var(bounds=(-1, 3))  # in the objective only
    m.u = pyo.Var(bounds=(0, 1))  # cancels out of its constraint
    m.e = pyo.Expression(expr=2 * m.x + m.z)
    m.ranged = pyo.Constraint(expr=pyo.inequality(1, m.x + m.y, 4.5))
    m.cap = pyo.Constraint(expr=m.e <= m.p * 4)  # 2x + 2 <= 12
    m.both = pyo.Constraint(expr=m.x - m.y + m.u - m.u >= -m.z)  # x - y >= -2
    m.trivial = pyo.Constraint(expr=m.z <= 5)  # constants only: always true
    m.obj = pyo.Objective(expr=m.x + 1.5 * m.y + m.w + 7 - m.z, sense=pyo.maximize)
    return m


def test_tiny_model_matches_pyomo():
    a, b = tiny(), tiny()
    res = hd.solve_matrix(a, mip_rel_gap=0.0)
    ref = pyomo_solve(b, rel_gap=0.0)
    assert res.termination_condition == ref.termination_condition == TerminationCondition.convergenceCriteriaSatisfied
    assert res.is_mip
    # y integer: x + y <= 4.5 and x - y >= -2 -> best x + 1.5 y is y = 3, x = 1.5
    assert res.incumbent_objective == pytest.approx(ref.incumbent_objective, rel=1e-9)
    assert res.incumbent_objective == pytest.approx(1.5 + 4.5 + 3 + 7 - 2)
    assert pyo.value(a.obj) == pytest.approx(res.incumbent_objective)
    for name in ("x", "y", "w"):
        assert a.component(name).value == pytest.approx(b.component(name).value, abs=1e-9), name
    assert a.z.value == 2.0 and a.z.fixed
    assert a.u.value is not None  # in a constraint (with cancelling coefficients): loaded
    assert_same_matrix(a)


def test_mutable_params_and_fixed_values_are_read_at_each_solve():
    m = tiny()
    m.ranged.deactivate()
    hd.solve_matrix(m)
    assert m.x.value == pytest.approx(5.0)  # 2x + 2 <= 12
    m.p.value = 2.0  # 2x + 2 <= 8
    hd.solve_matrix(m)
    assert m.x.value == pytest.approx(3.0)
    m.z.fix(0.0)  # 2x <= 8
    hd.solve_matrix(m)
    assert m.x.value == pytest.approx(4.0)
    m.z.unfix()  # z becomes a free column: 2x + z <= 8 and x - y >= -z; z free makes y, x grow
    m.z.setlb(0)
    m.z.setub(1)
    res = hd.solve_matrix(m)
    ref_m = tiny()
    ref_m.ranged.deactivate()
    ref_m.p.value = 2.0
    ref_m.z.unfix()
    ref_m.z.setlb(0)
    ref_m.z.setub(1)
    ref = pyomo_solve(ref_m)
    assert res.incumbent_objective == pytest.approx(ref.incumbent_objective, rel=1e-9)


def test_constant_constraint_that_cannot_hold_is_infeasible():
    m = tiny()
    m.bad = pyo.Constraint(expr=m.z >= 3)
    res = hd.solve_matrix(m)
    assert res.termination_condition == TerminationCondition.provenInfeasible
    assert res.solution_status == SolutionStatus.noSolution


def test_empty_and_unbounded_models():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.x.fix(1.0)
    m.obj = pyo.Objective(expr=3 * m.x + 2, sense=pyo.maximize)
    res = hd.solve_matrix(m)
    assert res.termination_condition == TerminationCondition.convergenceCriteriaSatisfied
    assert res.incumbent_objective == pytest.approx(5.0)

    u = pyo.ConcreteModel()
    u.x = pyo.Var(bounds=(0, None))
    u.c = pyo.Constraint(expr=u.x >= 1)
    u.obj = pyo.Objective(expr=u.x, sense=pyo.maximize)
    assert hd.solve_matrix(u).termination_condition == pyomo_solve(u.clone()).termination_condition


def test_nonlinear_model_is_refused():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x**2 <= 0.5)
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(hd.NotMatrixCompatible):
        hd.compile_model(m)


# --- bidopt's models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return bidopt.load_case(REPO / "cases" / "demo")


def both(fn, case):
    return fn(with_interface(case, "matrix")), fn(with_interface(case, "pyomo"))


@pytest.mark.parametrize(("day", "mtu", "mip"), [(DAY, 15, False), ("2024-01-17", 15, False), ("2024-08-27", 15, True)])
def test_demo_day(demo, day, mtu, mip):
    a, b = both(lambda c: bidopt.plan(c, day, mtu_minutes=mtu), demo)
    assert a.model.is_mip == b.model.is_mip == mip
    tol = demo.solver.mip_gap if mip else 1e-9
    assert a.summary["objective_eur"] == pytest.approx(b.summary["objective_eur"], rel=tol, abs=1e-7)
    assert pyo.value(a.model.m.objective) == pytest.approx(pyo.value(b.model.m.objective), rel=tol, abs=1e-7)
    assert a.summary["solver"]["status"] == b.summary["solver"]["status"] == "optimal"
    assert a.summary["solver"]["mip_gap"] <= tol + 1e-12
    # the same model object, both ways, and the fast reader against Pyomo's
    h = Horizon(btime.delivery_index(day, mtu, demo.case.timezone), demo.case.timezone)
    pm = bidopt.PortfolioModel(demo, h)
    assert_same_matrix(pm.m)
    res = hd.solve_matrix(pm.m, mip_rel_gap=demo.solver.mip_gap)
    ref = pyomo_solve(pm.m, rel_gap=demo.solver.mip_gap)
    assert res.incumbent_objective == pytest.approx(ref.incumbent_objective, rel=tol, abs=1e-7)
    if not mip:
        assert res.objective_bound == pytest.approx(res.incumbent_objective)


def test_bidding_model(demo):
    case = demo.model_copy(deep=True)
    case.bidding = {"n_scenarios": 5}
    a, b = both(lambda c: bidopt.bid(c, DAY, mtu_minutes=60), case)
    tol = max(case.solver.mip_gap, 1e-9)
    assert a.summary["objective_eur"] == pytest.approx(b.summary["objective_eur"], rel=tol, abs=1e-7)
    assert a.summary["solver"]["status"] == b.summary["solver"]["status"] == "optimal"


@pytest.mark.parametrize("step", [0.1, 0.25])
def test_fcr_mip(tmp_path, step):
    case = ler_case(tmp_path, ["fcr_n", "fcr_d_up", "fcr_d_down"], step=step,
                    da_price=[30.0 + 20 * np.sin(i / 3) for i in range(24)], fcr_price=40.0)
    a, b = both(lambda c: bidopt.plan(c, DAY), case)
    assert a.model.is_mip and b.model.is_mip
    assert a.summary["objective_eur"] == pytest.approx(b.summary["objective_eur"], rel=case.solver.mip_gap, abs=1e-7)
    assert_same_matrix(a.model.m)


from tests.test_cli import BASE  # noqa: E402  (the CLI tests' minimal battery case)


@pytest.mark.parametrize("edit", ["final_soc", "grid"])
def test_infeasible_cases_name_the_same_asset_and_constraint(tmp_path, edit):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", [20.0 + 3 * (i % 24) for i in range(48)])
    if edit == "final_soc":
        text = BASE.replace("power_mw = 1.0", "power_mw = 0.01\nsoc_final_mwh = 2.0")
    else:
        text = BASE.replace("import_limit_mw = 2.0", "import_limit_mw = 0.1") + (
            '\n[[assets]]\nkind = "load"\nname = "plant"\nprofile = "synthetic"\npeak_mw = 3.0\n'
        )
    (tmp_path / "case.toml").write_text(text)
    case = bidopt.load_case(tmp_path)
    errors = []
    for interface in ("matrix", "pyomo"):
        with pytest.raises(InfeasibleError) as e:
            bidopt.plan(with_interface(case, interface), DAY)
        errors.append(e.value)
    a, b = errors
    assert (a.asset, a.constraint, a.message) == (b.asset, b.constraint, b.message)
    assert a.asset == ("bess" if edit == "final_soc" else "grid")


def test_time_limit_without_a_solution_is_the_same_error(demo):
    messages = []
    for interface in ("matrix", "pyomo"):
        with pytest.raises(SolverError) as e:
            bidopt.plan(with_interface(demo, interface), "2024-08-27", mtu_minutes=15, time_limit_s=1e-6)
        messages.append(str(e.value))
    assert messages[0] == messages[1] == "solver stopped without a solution: maxTimeLimit"


def test_interface_is_a_solver_option(tmp_path):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", [20.0 + 3 * (i % 24) for i in range(48)])
    (tmp_path / "case.toml").write_text(BASE + '\n[solver]\ninterface = "pyomo"\n')
    case = bidopt.load_case(tmp_path)
    assert case.solver.interface == "pyomo"
    assert bidopt.load_case(REPO / "cases" / "demo").solver.interface == "matrix"
    (tmp_path / "case.toml").write_text(BASE + '\n[solver]\ninterface = "cplex"\n')
    with pytest.raises(InputError):
        bidopt.load_case(tmp_path)
