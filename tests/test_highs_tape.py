"""``bidopt.solver.tape``: the arithmetic of re-read rows recorded once and replayed with numpy gives the
arrays a fresh compile gives, bit for bit, for any values of the Params; and what the tape cannot
stand for (a replaced expression, a division by zero, a node only Pyomo's visitor reads) goes
through a walk or a compile instead."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidopt import solver as hd
from bidopt.solver import Persistent
from tests.test_highs_persistent import assert_same_arrays

PARAMS = ("a", "b", "c", "d", "s", "lo", "hi")


def rich_model():
    """Params as coefficients through products, quotients, negations, squares and sums of Params;
    a scalar Param; a named expression read by two rows and the objective; a fixed variable times a
    Param; Params on both sides of a row; Param bounds on both sides; an indexed row family."""
    m = pyo.ConcreteModel()
    for name, v in zip(PARAMS, (2.0, 0.5, 3.0, 1.5, 0.25, 0.0, 6.0), strict=True):
        setattr(m, name, pyo.Param(initialize=v, mutable=True))
    m.T = pyo.RangeSet(0, 5)
    m.p = pyo.Param(m.T, initialize=lambda m, t: 1.0 + t, mutable=True)
    m.x = pyo.Var(m.T, bounds=(m.lo, m.hi))
    m.y = pyo.Var(within=pyo.NonNegativeReals, bounds=(None, m.hi))
    m.f = pyo.Var(initialize=2.0)
    m.f.fix()
    m.e = pyo.Expression(expr=m.a * m.y - m.p[0] / m.d + m.f * m.c)
    m.bal = pyo.Constraint(m.T, rule=lambda m, t: -m.p[t] * m.x[t] + (m.a * m.b) * m.y + m.s * m.s >= m.p[t] - m.c)
    m.both = pyo.Constraint(expr=m.e + m.x[0] <= m.b * m.x[1] + (m.a + m.b + m.c))
    m.rng = pyo.Constraint(expr=pyo.inequality(-m.hi, m.x[2] - m.x[3] / m.d, m.hi))
    m.cap = pyo.Constraint(expr=sum(m.x[t] for t in m.T) + m.e <= 10 * m.c)
    m.obj = pyo.Objective(expr=sum(-(m.p[t] * m.a) * m.x[t] for t in m.T) + m.e / m.d + m.c * 3)
    return m


finite = st.floats(min_value=-50, max_value=50, allow_nan=False).filter(lambda v: abs(v) > 1e-3 or v == 0.0)


@settings(max_examples=40, deadline=None)
@given(vals=st.lists(finite, min_size=len(PARAMS) + 6, max_size=len(PARAMS) + 6),
       f=st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_replay_is_a_fresh_compile_bit_for_bit(vals, f):
    m = rich_model()
    p = Persistent(m)
    p.solve()
    n_rows = p.mm.n_rows
    named = dict(zip(PARAMS, vals, strict=False))
    named["d"] = named["d"] or 1.0  # a divisor
    named["lo"], named["hi"] = min(named["lo"], named["hi"]), max(named["lo"], named["hi"]) + 1.0
    for k, v in named.items():
        getattr(m, k).set_value(v)
    for t, v in zip(m.T, vals[len(PARAMS):], strict=True):
        m.p[t].set_value(v)
    m.f.set_value(f)
    p.solve()
    want = hd.compile_model(m)
    if want.n_rows == n_rows:  # else a row vanished (all its coefficients 0): compiled again
        assert p.compiles == 1 and p.replays == 1
    assert_same_arrays(p.mm, want)


def test_sum_of_params_is_read_whole_and_still_exact():
    m = rich_model()
    p = Persistent(m)
    p.solve()
    m.a.set_value(0.1)
    m.b.set_value(0.2)
    m.c.set_value(0.3)  # a + b + c: an inexact sum, evaluated by Pyomo as before
    p.solve()
    assert (p.compiles, p.replays) == (1, 1)
    assert p._recording.tape.exprs  # the sum is an input
    assert_same_arrays(p.mm, hd.compile_model(m))


def test_division_by_a_param_turned_zero_compiles_and_reports_it():
    m = rich_model()
    p = Persistent(m)
    p.solve()
    m.d.set_value(0.0)
    with pytest.raises(ZeroDivisionError):
        p.solve()
    with pytest.raises(ZeroDivisionError):
        hd.compile_model(m)


def test_replaced_expressions_are_compiled_again():
    m = rich_model()
    p = Persistent(m)
    p.solve()
    m.a.set_value(1.0)
    p.solve()
    assert (p.compiles, p.replays) == (1, 1)
    m.e.set_value(m.b * m.y)  # a named expression's content
    p.solve()
    assert p.compiles == 2
    assert_same_arrays(p.mm, hd.compile_model(m))
    p.solve()
    m.bal[3].set_value(m.x[3] + m.y <= m.hi)  # a row's expression
    p.solve()
    assert p.compiles == 3
    assert_same_arrays(p.mm, hd.compile_model(m))


def test_infinite_param_bound_is_no_bound():
    m = rich_model()
    p = Persistent(m)
    p.solve()
    m.hi.set_value(float("inf"))
    m.lo.set_value(-float("inf"))
    m.rng.deactivate()  # +-hi as row bounds would both be infinite
    p.solve()
    fresh = hd.compile_model(m)
    assert_same_arrays(p.mm, fresh)
    assert np.isinf(p.mm.col_upper).sum() >= 7


def test_rows_the_tape_cannot_record_are_walked():
    """A fixed variable times a variable is read by Pyomo's visitor, whose arithmetic is not
    recorded: every refresh walks the rows again, with the same result."""
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=2.0, mutable=True)
    m.f = pyo.Var(initialize=3.0)
    m.f.fix()
    m.x = pyo.Var(bounds=(0, 10))
    m.row = pyo.Constraint(expr=m.f * m.x + m.a * m.x <= 8)
    m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    p = Persistent(m)
    p.solve()
    for a, f in [(1.0, 1.0), (4.0, 0.5)]:
        m.a.set_value(a)
        m.f.set_value(f)
        r = p.solve()
        assert r.incumbent_objective == pytest.approx(min(10.0, 8.0 / (a + f)))
        assert_same_arrays(p.mm, hd.compile_model(m))
    assert (p.compiles, p.refreshes, p.replays) == (1, 2, 0)
    assert p._recording is False
