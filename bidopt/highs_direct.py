"""Solve a linear Pyomo model with HiGHS through matrices instead of Pyomo's persistent interface.

``compile_model(m)`` reads every active constraint and the active objective once and gathers the
linear terms as numpy arrays: a row-wise sparse matrix, row and column bounds, costs, integrality,
objective constant and sense. Expressions are read by ``_FastLinear``, a small recursive reader for
the node types linear models are made of (about twice as fast as Pyomo's general
``pyomo.repn.linear.LinearRepnVisitor``, the engine of its LP writer and
``LinearStandardFormCompiler``); any other node sends that row to ``LinearRepnVisitor``.
``compile_model(m, walker="pyomo")`` uses Pyomo's visitor throughout (the tests check both agree).
``solve(m, ...)`` passes those arrays to HiGHS in one call (``Highs.passModel``), runs it and loads
the primal values back into the Pyomo variables. ``bidopt.highs_persistent.Persistent(m)`` compiles
once and, on later solves, reads again only what mutable values reach.

Semantics, matching ``pyomo.contrib.solver.solvers.highs.Highs`` where it matters:

- mutable Params, Expression objects and variable bounds are evaluated at their values at the time
  of the call (``solve`` caches nothing between calls; ``Persistent`` keeps the rows no mutable
  value reaches);
- a fixed variable is a constant (its value moves into the row bounds / objective constant) and its
  value is left as it is;
- a variable enters the HiGHS model when it appears in an active constraint or the objective, even
  with a zero coefficient; those are the variables whose values are loaded. Variables in no active
  constraint and not in the objective keep their values;
- a ranged constraint is one row with two bounds; a constraint without variables is checked here
  (within HiGHS's primal feasibility tolerance) and, if violated, makes the model infeasible
  without running HiGHS;
- the objective sense and constant go to HiGHS as they are, so HiGHS's objective value is the
  Pyomo objective's value.

Models the compiler cannot represent (nonlinear expressions, unknown active components such as SOS
constraints) raise ``NotMatrixCompatible``; callers may fall back to Pyomo's interface.

Threads: HiGHS runs on a task scheduler that lives as long as the OS thread that first ran it, not as
long as one ``Highs`` object, and is sized by the ``threads`` option of that first run. A later run in
the same thread asking for another count fails before solving (``run`` returns an error, the model
status stays "Not Set"). ``run`` therefore sizes the scheduler for each run's own ``threads`` option
first (``use_threads``), so a solve's outcome does not depend on the solves made before it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from itertools import chain

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_numeric_types, native_types, value
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.core.base import Block, Constraint, Expression, Objective, Param, RangeSet, Set, Suffix, Var
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    NumericValue,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import NumericConstant
from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression
from pyomo.core.staleflag import StaleFlagManager
from pyomo.repn.linear import LinearRepnVisitor

INF = highspy.kHighsInf
FEAS_TOL = 1e-7  # HiGHS's default primal_feasibility_tolerance (absolute), for rows without variables

# component types a linear model may hold; anything else active makes the model unsupported
_KNOWN_CTYPES = {Block, Constraint, Var, Param, Expression, Objective, Set, RangeSet, Suffix}

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


class NotMatrixCompatible(ValueError):
    """The model holds something the matrix path does not compile (nonlinear terms, SOS, ...)."""


@dataclass
class MatrixModel:
    """A Pyomo model as HiGHS arrays. Row ``i`` is ``row_lower[i] <= A[i] @ x <= row_upper[i]``
    with A in compressed-row form (``start``, ``index``, ``value``); column ``j`` is ``columns[j]``."""

    columns: list
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray  # bool per column
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    offset: float
    maximize: bool
    rows: list  # ConstraintData per row
    violated: list = field(default_factory=list)  # constraints without variables that cannot hold
    has_objective: bool = True
    # what ``Persistent`` reads again when parameters change
    touched_rows: np.ndarray | None = None  # rows holding mutable values
    touched_const: list = field(default_factory=list)  # holding them: constraints without variables or finite bounds
    param_cols: np.ndarray | None = None  # columns with bounds from mutable values
    fixed_seen: list | None = None  # fixed variables read as constants (None: not tracked)
    recorder: object = None
    objective: object = None
    full: tuple | None = None  # (start, index, value) with the cancelled coefficients kept: the structure

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())


@dataclass
class DirectResult:
    termination_condition: TerminationCondition
    solution_status: SolutionStatus
    incumbent_objective: float | None
    objective_bound: float | None
    is_mip: bool
    model_status: str = ""
    n_cols: int = 0
    n_rows: int = 0


class _Recorder:
    """Column numbering for the visitor: a variable gets the next column the first time it is met."""

    __slots__ = ("var_map", "order")

    def __init__(self):
        self.var_map: dict[int, object] = {}
        self.order: dict[int, int] = {}

    def add(self, var) -> None:
        vid = id(var)
        if vid not in self.var_map:
            self.order[vid] = len(self.var_map)
            self.var_map[vid] = var


class _Unsupported(Exception):
    """An expression node the fast collector does not handle; the caller uses Pyomo's visitor."""


class _FastLinear:
    """Linear terms of a Pyomo expression, for the node types bidopt's models are made of (sums,
    linear expressions, monomials, products and quotients with a constant side, negations, named
    Expressions, Params and other expressions without variables). Anything else raises
    ``_Unsupported`` and that row or objective goes through ``LinearRepnVisitor`` instead.

    ``collect(expr)`` returns ``({id(var): coefficient}, constant)``; a fixed variable is a constant;
    every other variable met is recorded for a column (even when its coefficients cancel)."""

    def __init__(self, rec: _Recorder):
        self.rec = rec
        self.var_map = rec.var_map
        self.cache: dict[int, tuple[dict, float, bool]] = {}
        # set when a number came from a mutable value (a Param, a fixed variable, a named expression
        # holding one): the row must be read again when parameters change (``Persistent``)
        self.touched = False
        self.fixed_seen: dict[int, object] = {}
        self.named_seen: list[tuple] = []  # (named expression, the expression it held when read)

    def collect(self, expr) -> tuple[dict, float]:
        lin: dict[int, float] = {}
        const = self.walk(expr, 1.0, lin)
        return lin, const

    def walk(self, e, mult, lin):
        h = _HANDLERS.get(e.__class__)
        if h is None:
            h = _handler_for(e)
        return h(self, e, mult, lin)

    def var(self, v, mult, lin):
        vid = id(v)
        if vid in lin:
            lin[vid] += mult
            return 0.0
        if vid not in self.var_map:
            if v.fixed:
                return mult * self.fixed_value(v)
            self.rec.add(v)
        lin[vid] = mult
        return 0.0

    def constant(self, e, mult, lin):
        return mult * e

    # the two places mutable numbers are read (``highs_tape`` records them instead)
    def pv(self, e):
        """The value of a Param or an expression without variables."""
        self.touched = True
        return e._value if e.__class__ is ParamData else value(e)

    def fixed_value(self, v):
        """The value of a fixed variable, read as a constant."""
        x = v.value
        if x is None:
            raise ValueError(f"fixed variable {v.name} has no value")
        self.touched = True
        self.fixed_seen[id(v)] = v
        return x

    def npv(self, e, mult, lin):
        return mult * self.pv(e)

    def fixed_constant(self, e, mult, lin):  # NumericConstant: cannot change
        return mult * e.value

    def monomial(self, e, mult, lin):
        c, v = e._args_
        if c.__class__ not in native_types:
            c = self.pv(c)
        return self.var(v, mult * c, lin)

    def sum(self, e, mult, lin):
        const = 0.0
        handlers = _HANDLERS
        var = _FastLinear.var
        for a in e.args:  # never e._args_: sums share their argument lists
            h = handlers.get(a.__class__)
            if h is None:
                h = _handler_for(a)
            if h is _monomial:  # the common case, inlined
                c, v = a._args_
                if c.__class__ not in native_types:
                    c = self.pv(c)
                const += var(self, v, mult * c, lin)
            else:
                const += h(self, a, mult, lin)
        return const

    def negation(self, e, mult, lin):
        return self.walk(e.args[0], -mult, lin)

    def product(self, e, mult, lin):
        a, b = e.args
        if a.__class__ in native_types:
            return self.walk(b, mult * a, lin)
        if b.__class__ in native_types:
            return self.walk(a, mult * b, lin)
        if a.__class__ is ParamData or not a.is_potentially_variable():
            return self.walk(b, mult * self.pv(a), lin)
        if not b.is_potentially_variable():
            return self.walk(a, mult * self.pv(b), lin)
        raise _Unsupported

    def division(self, e, mult, lin):
        a, b = e.args
        if b.__class__ not in native_types:
            if b.is_potentially_variable():
                raise _Unsupported
            b = self.pv(b)
        return self.walk(a, mult / b, lin)

    def named(self, e, mult, lin):
        sub = self.cache.get(id(e))
        if sub is None:
            expr = e.expr
            if expr is None:
                raise _Unsupported
            sub_lin: dict[int, float] = {}
            outer, self.touched = self.touched, False
            sub_const = self.walk(expr, 1.0, sub_lin)
            sub = self.cache[id(e)] = (sub_lin, sub_const, self.touched)
            self.named_seen.append((e, expr))
            self.touched = self.touched or outer
        sub_lin, sub_const, sub_touched = sub
        if sub_touched:
            self.touched = True
        if not lin:  # the whole expression so far: copy (scaled)
            if mult == 1.0:
                lin.update(sub_lin)
            else:
                for vid, c in sub_lin.items():
                    lin[vid] = mult * c
            return mult * sub_const
        for vid, c in sub_lin.items():
            if vid in lin:
                lin[vid] += mult * c
            else:
                lin[vid] = mult * c
        return mult * sub_const


_EXACT = {
    MonomialTermExpression: _FastLinear.monomial,
    LinearExpression: _FastLinear.sum,
    SumExpression: _FastLinear.sum,
    NegationExpression: _FastLinear.negation,
    ProductExpression: _FastLinear.product,
    DivisionExpression: _FastLinear.division,
}
_HANDLERS: dict[type, object] = {}
_TWO_SIDED = (EqualityExpression, InequalityExpression)
_monomial = _FastLinear.monomial


def _handler_for(e):
    cls = e.__class__
    if cls in native_numeric_types:
        h = _FastLinear.constant
    elif not isinstance(e, NumericValue):
        raise _Unsupported
    elif e.is_variable_type():
        h = _FastLinear.var
    elif e.is_named_expression_type():
        h = _FastLinear.named
    elif cls is NumericConstant:
        h = _FastLinear.fixed_constant
    elif not e.is_potentially_variable():
        h = _FastLinear.npv
    elif cls in _EXACT:
        h = _EXACT[cls]
    else:
        raise _Unsupported
    _HANDLERS[cls] = h
    return h


def _check_components(m) -> None:
    ctypes = set()
    for blk in m.block_data_objects(active=True, descend_into=True):
        known = getattr(blk, "_ctypes", None)  # the ctypes a block holds (Pyomo's own index)
        if known is None:
            ctypes.update(c.ctype for c in blk.component_objects(active=True, descend_into=False))
        else:
            ctypes.update(known)
    unknown = {c for c in ctypes - _KNOWN_CTYPES
               if any(True for _ in m.component_objects(c, active=True, descend_into=True))}
    if unknown:
        names = ", ".join(sorted(getattr(c, "__name__", str(c)) for c in unknown))
        raise NotMatrixCompatible(f"model holds active components the matrix path does not compile: {names}")


def compile_model(m, walker: str = "fast") -> MatrixModel:
    """Compile the active part of ``m`` to HiGHS arrays at the current values of its parameters.

    ``walker="fast"`` reads expressions with ``_FastLinear`` (falling back to Pyomo's
    ``LinearRepnVisitor`` node by node where it must); ``"pyomo"`` uses ``LinearRepnVisitor`` only."""
    with PauseGC():  # many short-lived dicts, no cycles: as Pyomo's own writers do
        return _compile(m, walker)


class _Reader:
    """Reads objectives and rows into linear terms: ``_FastLinear`` first, Pyomo's visitor where it
    must. One reader per compile (its named-expression cache holds values of that moment)."""

    def __init__(self, rec: _Recorder, walker: str = "fast"):
        self.visitor = LinearRepnVisitor({}, var_recorder=rec)
        self.fast = _FastLinear(rec) if walker == "fast" else None

    def linear(self, expr, owner):
        fast = self.fast
        if fast is not None:
            try:
                return fast.collect(expr)
            except _Unsupported:
                pass
            fast.touched = True  # the visitor evaluates parameters we do not see
        repn = self.visitor.walk_expression(expr)
        if repn.nonlinear is not None:
            raise NotMatrixCompatible(f"{owner.name} is not linear")
        return repn.linear, repn.constant

    def row(self, con):
        """``(lb, ub, lin, const)`` of an active constraint (bounds None when absent), or None when
        it has no finite bound."""
        fast = self.fast
        expr = con.expr
        lhs = rhs = None
        if fast is not None and expr.__class__ in _TWO_SIDED:
            # to_bounded_expression() would build ``lhs - rhs`` when both sides hold variables;
            # reading the two sides into one row is the same and cheaper
            lhs, rhs = expr.args
            eq = expr.__class__ is EqualityExpression
            if rhs.__class__ in native_types or not rhs.is_potentially_variable():
                lb, body, ub = (rhs if eq else None), lhs, rhs
                lhs = None
            elif lhs.__class__ in native_types or not lhs.is_potentially_variable():
                lb, body, ub = lhs, rhs, (lhs if eq else None)
                lhs = None
            else:
                lb, body, ub = (0 if eq else None), None, 0
        else:
            lb, body, ub = con.to_bounded_expression()
        if lb is not None and lb.__class__ not in native_types:
            lb = value(lb) if fast is None else fast.pv(lb)
        if ub is not None and ub.__class__ not in native_types:
            ub = value(ub) if fast is None else fast.pv(ub)
        if lb is not None and lb == -math.inf:
            lb = None
        if ub is not None and ub == math.inf:
            ub = None
        if lb is None and ub is None:
            return None
        if lhs is None:
            lin, const = self.linear(body, con)
        else:
            try:
                lin = {}
                const = fast.walk(lhs, 1.0, lin) + fast.walk(rhs, -1.0, lin)
            except _Unsupported:
                fast.touched = True
                lin, const = self.linear(lhs - rhs, con)
        return lb, ub, lin, const


def _violated(lb, ub, const) -> bool:
    return (lb is not None and lb - const > FEAS_TOL) or (ub is not None and const - ub > FEAS_TOL)


def _param_bound(v) -> bool:
    """Whether a variable's bounds come from mutable values (read again by ``Persistent``)."""
    return v._lb.__class__ not in native_types or v._ub.__class__ not in native_types


def _compile(m, walker: str) -> MatrixModel:
    _check_components(m)
    rec = _Recorder()
    reader = _Reader(rec, walker)
    order = rec.order
    fast = reader.fast

    # --- objective
    objectives = list(m.component_data_objects(Objective, active=True, descend_into=True))
    if len(objectives) > 1:
        raise NotMatrixCompatible(f"model has {len(objectives)} active objectives")
    maximize, offset, obj_lin = False, 0.0, {}
    if objectives:
        obj = objectives[0]
        obj_lin, offset = reader.linear(obj.expr, obj)
        maximize = obj.sense == pyo.maximize
        offset = float(offset)

    # --- constraints
    rows, row_lo, row_hi, violated = [], [], [], []
    lins = []
    touched_rows, touched_const = [], []
    for con in m.component_data_objects(Constraint, active=True, descend_into=True):
        if fast is not None:
            fast.touched = False
        r = reader.row(con)
        if r is None:
            if fast is None or fast.touched:  # no finite bound for now: ``Persistent`` looks again
                touched_const.append(con)
            continue
        lb, ub, lin, const = r
        touched = fast is None or fast.touched
        if not lin or not any(lin.values()):
            if touched:
                touched_const.append(con)
            if _violated(lb, ub, const):
                violated.append(con)
            continue
        if touched:
            touched_rows.append(len(rows))
        rows.append(con)
        row_lo.append(-INF if lb is None else lb - const)
        row_hi.append(INF if ub is None else ub - const)
        lins.append(lin)

    lengths = np.fromiter(map(len, lins), dtype=np.int64, count=len(lins))
    nnz = int(lengths.sum())
    full_index = np.fromiter(chain.from_iterable(map(order.__getitem__, lin) for lin in lins), dtype=np.int32, count=nnz)
    full_value = np.fromiter(chain.from_iterable(lin.values() for lin in lins), dtype=np.float64, count=nnz)
    full_start = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=full_start[1:])
    start, index, vals = _drop_zeros(full_start, full_index, full_value)

    obj_cols = np.fromiter(map(order.__getitem__, obj_lin), dtype=np.int64, count=len(obj_lin))
    obj_vals = np.fromiter(obj_lin.values(), dtype=np.float64, count=len(obj_lin))

    # --- columns
    columns = list(rec.var_map.values())
    n = len(columns)
    cost = np.zeros(n)
    cost[obj_cols] = obj_vals  # one entry per column: the collectors merge repeated variables
    col_lo, col_hi = _bounds(columns)
    domains = [v.domain for v in columns]
    step_of: dict[int, int] = {}
    for dom in {id(d): d for d in domains}.values():
        step = step_of[id(dom)] = dom.get_interval()[2]
        if step not in (0, 1):
            raise NotMatrixCompatible(f"a variable has domain {dom} (step {step})")
    integer = np.array([step_of[id(d)] for d in domains], dtype=bool) if n else np.zeros(0, dtype=bool)

    return MatrixModel(
        columns=columns, cost=cost, col_lower=col_lo, col_upper=col_hi, integer=integer,
        row_lower=np.asarray(row_lo, dtype=float), row_upper=np.asarray(row_hi, dtype=float),
        start=start, index=index, value=vals, offset=offset, maximize=maximize, rows=rows,
        violated=violated, has_objective=bool(objectives),
        touched_rows=np.asarray(touched_rows, dtype=np.int64), touched_const=touched_const,
        param_cols=np.array([j for j, v in enumerate(columns) if _param_bound(v)], dtype=np.int64),
        fixed_seen=list(fast.fixed_seen.values()) if fast is not None else None, recorder=rec,
        objective=objectives[0] if objectives else None,
        full=(full_start, full_index, full_value),
    )


def _drop_zeros(full_start, full_index, full_value):
    """Compressed rows without the coefficients that cancelled (the columns stay)."""
    n_rows = len(full_start) - 1
    zero = full_value == 0.0
    if not zero.any():
        return full_start.astype(np.int32), full_index, full_value
    lengths = np.diff(full_start)
    row_of = np.repeat(np.arange(n_rows), lengths)
    start = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(row_of[~zero], minlength=n_rows), out=start[1:])
    return start, full_index[~zero], full_value[~zero]


def _bounds(columns) -> tuple[np.ndarray, np.ndarray]:
    bounds = [v.bounds for v in columns]
    col_lo = np.array([b[0] for b in bounds], dtype=float)  # None (no bound) becomes nan
    col_hi = np.array([b[1] for b in bounds], dtype=float)
    col_lo[np.isnan(col_lo)] = -INF
    col_hi[np.isnan(col_hi)] = INF
    np.maximum(col_lo, -INF, out=col_lo)  # -inf from a bound is HiGHS's infinity
    np.minimum(col_hi, INF, out=col_hi)
    return col_lo, col_hi


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
        return _constant_infeasible(mm)
    return run(build_highs(mm, time_limit_s, mip_rel_gap, threads), mm, load_solution)


def _constant_infeasible(mm: MatrixModel) -> DirectResult:
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
