"""A linear Pyomo model compiled to HiGHS arrays (the model's own numbers; bidopt's are MW, MWh, EUR).

``compile_model(m)`` reads every active constraint and the active objective once and gathers the
linear terms as numpy arrays: a row-wise sparse matrix, row and column bounds, costs, integrality,
objective constant and sense (``MatrixModel``). Expressions are read by ``linear.FastLinear``; a node
it does not know sends that row to Pyomo's ``LinearRepnVisitor``. ``compile_model(m,
walker="pyomo")`` uses Pyomo's visitor throughout (the tests check both agree).

Semantics, matching ``pyomo.contrib.solver.solvers.highs.Highs`` where it matters:

- mutable Params, Expression objects and variable bounds are evaluated at their values at the time
  of the call;
- a fixed variable is a constant (its value moves into the row bounds / objective constant);
- a variable enters the model when it appears in an active constraint or the objective, even with a
  zero coefficient;
- a ranged constraint is one row with two bounds; a constraint without variables is checked here
  (within HiGHS's primal feasibility tolerance) and, if violated, is listed in ``violated``;
- the objective sense and constant go to HiGHS as they are.

Models the compiler cannot represent (nonlinear expressions, unknown active components such as SOS
constraints, integer steps other than 1) raise ``NotMatrixCompatible``. Part of the solver adapter
(``bidopt.solver``): reads Pyomo's private attributes (``Block._ctypes``, ``VarData._lb``/``_ub``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_types, value
from pyomo.core.base import Block, Constraint, Expression, Objective, Param, RangeSet, Set, Suffix, Var
from pyomo.core.expr.relational_expr import EqualityExpression
from pyomo.repn.linear import LinearRepnVisitor

from bidopt.solver.linear import TWO_SIDED, FastLinear, Recorder, Unsupported

INF = highspy.kHighsInf
FEAS_TOL = 1e-7  # HiGHS's default primal_feasibility_tolerance (absolute), for rows without variables

# component types a linear model may hold; anything else active makes the model unsupported
_KNOWN_CTYPES = {Block, Constraint, Var, Param, Expression, Objective, Set, RangeSet, Suffix}


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
    named: list = field(default_factory=list)  # the named expressions the fast reader read

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())



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

    ``walker="fast"`` reads expressions with ``FastLinear`` (falling back to Pyomo's
    ``LinearRepnVisitor`` node by node where it must); ``"pyomo"`` uses ``LinearRepnVisitor`` only."""
    with PauseGC():  # many short-lived dicts, no cycles: as Pyomo's own writers do
        return _compile(m, walker)


class Reader:
    """Reads objectives and rows into linear terms: ``FastLinear`` first, Pyomo's visitor where it
    must. One reader per compile (its named-expression cache holds values of that moment)."""

    def __init__(self, rec: Recorder, walker: str = "fast"):
        self.visitor = LinearRepnVisitor({}, var_recorder=rec)
        self.fast = FastLinear(rec) if walker == "fast" else None

    def linear(self, expr, owner):
        fast = self.fast
        if fast is not None:
            try:
                return fast.collect(expr)
            except Unsupported:
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
        if fast is not None and expr.__class__ in TWO_SIDED:
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
            except Unsupported:
                fast.touched = True
                lin, const = self.linear(lhs - rhs, con)
        return lb, ub, lin, const


def is_violated(lb, ub, const) -> bool:
    return (lb is not None and lb - const > FEAS_TOL) or (ub is not None and const - ub > FEAS_TOL)


def _param_bound(v) -> bool:
    """Whether a variable's bounds come from mutable values (read again by ``Persistent``)."""
    return v._lb.__class__ not in native_types or v._ub.__class__ not in native_types


def _compile(m, walker: str) -> MatrixModel:
    _check_components(m)
    rec = Recorder()
    reader = Reader(rec, walker)
    objective, obj_lin, offset, maximize = _objective(m, reader)
    rows, row_lo, row_hi, lins, violated, touched_rows, touched_const = _rows(m, reader)
    full_start, full_index, full_value = _matrix(lins, rec.order)
    start, index, vals = drop_zeros(full_start, full_index, full_value)
    columns = list(rec.var_map.values())
    cost = np.zeros(len(columns))
    # one entry per column: the collectors merge repeated variables
    cost[np.fromiter(map(rec.order.__getitem__, obj_lin), dtype=np.int64, count=len(obj_lin))] = np.fromiter(
        obj_lin.values(), dtype=np.float64, count=len(obj_lin))
    col_lo, col_hi = bounds_of(columns)
    fast = reader.fast
    return MatrixModel(
        columns=columns, cost=cost, col_lower=col_lo, col_upper=col_hi, integer=_integer(columns),
        row_lower=np.asarray(row_lo, dtype=float), row_upper=np.asarray(row_hi, dtype=float),
        start=start, index=index, value=vals, offset=offset, maximize=maximize, rows=rows,
        violated=violated, has_objective=objective is not None,
        touched_rows=np.asarray(touched_rows, dtype=np.int64), touched_const=touched_const,
        param_cols=np.array([j for j, v in enumerate(columns) if _param_bound(v)], dtype=np.int64),
        fixed_seen=list(fast.fixed_seen.values()) if fast is not None else None, recorder=rec,
        objective=objective, full=(full_start, full_index, full_value),
        named=[e for e, _ in fast.named_seen] if fast is not None else [],
    )


def _objective(m, reader: Reader) -> tuple:
    """(the active objective or None, its linear terms, constant, whether it is maximised)."""
    objectives = list(m.component_data_objects(Objective, active=True, descend_into=True))
    if len(objectives) > 1:
        raise NotMatrixCompatible(f"model has {len(objectives)} active objectives")
    if not objectives:
        return None, {}, 0.0, False
    obj = objectives[0]
    obj_lin, offset = reader.linear(obj.expr, obj)
    return obj, obj_lin, float(offset), obj.sense == pyo.maximize


def _rows(m, reader: Reader) -> tuple:
    """The active constraints read into rows: (constraints, row lower and upper bounds, linear
    terms, constraints without variables that cannot hold, positions of the rows a mutable value
    reached, constraints without variables or finite bounds holding mutable values)."""
    fast = reader.fast
    rows, row_lo, row_hi, lins, violated = [], [], [], [], []
    touched_rows, touched_const = [], []
    for con in m.component_data_objects(Constraint, active=True, descend_into=True):
        if fast is not None:
            fast.touched = False
        r = reader.row(con)
        touched = fast is None or fast.touched
        if r is None:
            if touched:  # no finite bound for now: ``Persistent`` looks again
                touched_const.append(con)
            continue
        lb, ub, lin, const = r
        if not lin or not any(lin.values()):
            if touched:
                touched_const.append(con)
            if is_violated(lb, ub, const):
                violated.append(con)
            continue
        if touched:
            touched_rows.append(len(rows))
        rows.append(con)
        row_lo.append(-INF if lb is None else lb - const)
        row_hi.append(INF if ub is None else ub - const)
        lins.append(lin)
    return rows, row_lo, row_hi, lins, violated, touched_rows, touched_const


def _matrix(lins: list, order: dict) -> tuple:
    """Compressed rows (start, column index, value) of the rows' linear terms, zeros kept."""
    lengths = np.fromiter(map(len, lins), dtype=np.int64, count=len(lins))
    nnz = int(lengths.sum())
    full_index = np.fromiter(chain.from_iterable(map(order.__getitem__, lin) for lin in lins), dtype=np.int32, count=nnz)
    full_value = np.fromiter(chain.from_iterable(lin.values() for lin in lins), dtype=np.float64, count=nnz)
    full_start = np.zeros(len(lins) + 1, dtype=np.int64)
    np.cumsum(lengths, out=full_start[1:])
    return full_start, full_index, full_value


def _integer(columns: list) -> np.ndarray:
    """Integrality per column (bool); a domain with a step other than 0 or 1 is refused."""
    step_of: dict[int, int] = {}
    integer = []
    for v in columns:
        dom = v._domain
        step = step_of.get(id(dom))
        if step is None:
            step = step_of[id(dom)] = dom.get_interval()[2]
            if step not in (0, 1):
                raise NotMatrixCompatible(f"a variable has domain {dom} (step {step})")
        integer.append(step)
    return np.array(integer, dtype=bool) if columns else np.zeros(0, dtype=bool)


def drop_zeros(full_start, full_index, full_value):
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


def bounds_of(columns) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds (HiGHS's infinities where there is none). ``VarData.bounds`` evaluates the
    stored bounds (numbers, Params or expressions) against the domain's; variables of one indexed
    component usually share those objects, so each distinct (domain, lower, upper) is evaluated once."""
    seen: dict[tuple[int, int, int], tuple] = {}
    bounds = []
    for v in columns:
        key = (id(v._domain), id(v._lb), id(v._ub))
        b = seen.get(key)
        if b is None:
            b = seen[key] = v.bounds
        bounds.append(b)
    col_lo = np.array([b[0] for b in bounds], dtype=float)  # None (no bound) becomes nan
    col_hi = np.array([b[1] for b in bounds], dtype=float)
    col_lo[np.isnan(col_lo)] = -INF
    col_hi[np.isnan(col_hi)] = INF
    np.maximum(col_lo, -INF, out=col_lo)  # -inf from a bound is HiGHS's infinity
    np.minimum(col_hi, INF, out=col_hi)
    return col_lo, col_hi
