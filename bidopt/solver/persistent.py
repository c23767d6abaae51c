"""One Pyomo model compiled to HiGHS arrays once and re-solved as its mutable values change.

Numbers are the model's own (bidopt's rows are in MW, MWh and EUR). See ``Persistent``. Part of the
solver adapter (``bidopt.solver``): reads Pyomo's private attributes (``VarData._lb``/``_ub``,
``ParamData._value``).
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_types
from pyomo.core.base.param import ParamData

from bidopt.solver.compile import INF, MatrixModel, Reader, bounds_of, compile_model, drop_zeros, is_violated
from bidopt.solver.highs import DirectResult, build_highs, constant_infeasible, pass_model, run
from bidopt.solver.structure import Structure
from bidopt.solver.tape import CannotRecord, Recording

_FIXED = attrgetter("_fixed")  # VarData.fixed without the property call


class Persistent:
    """One Pyomo model compiled once and solved many times as its mutable values change.

    The first ``solve`` compiles the whole model. Later solves renew only what mutable values can
    change: the objective, the rows whose compile met a mutable value (Params, fixed variables,
    named expressions holding them), constraints without variables that hold them, and columns
    whose bounds are Params. The other rows keep their arrays.

    The first refresh records the arithmetic the compile did on those rows and the objective
    (``tape``); later refreshes replay it with numpy on the new values instead of walking the
    expressions again. Rows the tape cannot record (a node only Pyomo's visitor reads) are walked
    again every time, as before recording existed.

    HiGHS gets the model anew each time (``passModel`` on arrays laid out exactly as a fresh compile
    lays them out), not as changes to the last one: a warm-started simplex may stop at another of
    several optimal vertices, and a backtest resumed from a checkpoint must give the same bytes as
    one that ran through. So a refreshed solve returns what a fresh compile returns, bit for bit.
    The ``highspy.Highs`` object itself is kept between solves with the same options (``passModel``
    drops the previous model, basis and solution; ``tests/test_replan.py`` compares chained LP and
    MIP days with models solved by new objects, bit for bit).

    A change of structure makes it compile again: a column fixed or a fixed variable freed, a
    re-read row's or the objective's expression replaced, a new or vanished variable in a re-read
    row, a re-read row losing all its coefficients or both bounds, and anything
    ``structure.Structure`` notes (constraints or objectives added, deactivated or activated again,
    any constraint's expression or a named expression's content replaced, a variable's domain or
    constant bound changed, blocks deactivated or activated). ``compiles``,
    ``refreshes`` and ``replays`` count what the solves did."""

    def __init__(self, m):
        self.m = m
        self.mm: MatrixModel | None = None
        self.compiles = self.refreshes = self.replays = 0
        self._layout = None
        self._recording: Recording | bool | None = None  # False: cannot record, walk again
        self._param_bounds: _ParamBounds | None = None
        self._highs: tuple | None = None  # (options, highspy.Highs) kept for the next solve
        self._structure: Structure | None = None

    def solve(self, time_limit_s: float | None = None, mip_rel_gap: float | None = None,
              threads: int | None = None, load_solution: bool = True) -> DirectResult:
        mm = None
        if self.mm is not None and self._structure.same():
            with PauseGC():
                if self._refresh():
                    mm = self.mm
                    self.refreshes += 1
        if mm is None:
            mm = self.mm = compile_model(self.m)
            self.compiles += 1
            self._layout = self._recording = self._param_bounds = None
            self._structure = Structure(self.m, mm.columns, mm.named)
        if mm.violated:
            return constant_infeasible(mm)
        options = (time_limit_s, mip_rel_gap, threads)
        if self._highs is not None and self._highs[0] == options:
            h = self._highs[1]
            pass_model(h, mm)
        else:
            h = build_highs(mm, time_limit_s, mip_rel_gap, threads)
            self._highs = (options, h)
        return run(h, mm, load_solution)

    @staticmethod
    def _touched_layout(mm: MatrixModel) -> tuple[list, np.ndarray, np.ndarray]:
        """Per re-read row, the ids of its variables in compile order (the structure a re-read must
        find again); where their coefficients sit in the full arrays; where each row's run of
        coefficients begins in that list."""
        full_start, full_index, _ = mm.full
        columns = mm.columns
        row_vars, positions = [], []
        for i in mm.touched_rows.tolist():
            s0, s1 = int(full_start[i]), int(full_start[i + 1])
            row_vars.append(tuple(id(columns[j]) for j in full_index[s0:s1].tolist()))
            positions.append(np.arange(s0, s1))
        lengths = np.diff(full_start)[mm.touched_rows]
        firsts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, dtype=np.int64)
        return row_vars, (np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)), firsts

    def _refresh(self) -> bool:
        """Renew the mutable parts of the arrays; False if the structure changed (the caller
        compiles anew)."""
        mm = self.mm
        if mm.fixed_seen is None or any(map(_FIXED, mm.columns)) or not all(map(_FIXED, mm.fixed_seen)):
            return False
        if self._layout is None:
            self._layout = self._touched_layout(mm)
        if self._recording is None:
            try:
                self._recording = Recording(mm, self._layout[0])
            except CannotRecord:
                self._recording = False
        if self._recording:
            new = self._replayed()
            if new is not None:
                self.replays += 1
        else:
            new = self._walked()
        if new is None:
            return False
        cost, offset, new_values, lo, hi = new
        violated = self._constant_rows()
        if violated is None:
            return False
        full_start, full_index, full_value = mm.full
        full_value = full_value.copy()
        full_value[self._layout[1]] = new_values
        rows = mm.touched_rows
        mm.cost, mm.offset, mm.violated = cost, float(offset), violated
        mm.row_lower[rows], mm.row_upper[rows] = lo, hi
        if len(mm.param_cols):
            if self._param_bounds is None:
                self._param_bounds = _ParamBounds(mm)
            if not self._param_bounds.renew(mm):
                cols = mm.columns
                mm.col_lower[mm.param_cols], mm.col_upper[mm.param_cols] = bounds_of(
                    [cols[j] for j in mm.param_cols.tolist()])
        mm.full = (full_start, full_index, full_value)
        mm.start, mm.index, mm.value = drop_zeros(full_start, full_index, full_value)
        return True

    def _constant_rows(self) -> list | None:
        """The constraints without variables that hold mutable values and cannot hold now; None
        when one of them was deactivated or gained a variable (the structure changed)."""
        mm = self.mm
        violated = []
        if not mm.touched_const:
            return violated
        reader = Reader(mm.recorder)
        n_before = len(mm.recorder.var_map)
        for con in mm.touched_const:
            if not con.active:
                return None
            r = reader.row(con)
            if r is None:
                continue
            lb, ub, lin, const = r
            if (lin and any(lin.values())) or len(mm.recorder.var_map) != n_before:
                return None
            if is_violated(lb, ub, const):
                violated.append(con)
        return violated

    def _replayed(self):
        """(cost, offset, coefficients, row lower, row upper) by replaying the recorded arithmetic,
        or None when the structure changed."""
        mm, rc = self.mm, self._recording
        if not rc.unchanged(mm):
            return None
        R = rc.tape.play()
        if R is None:
            return None
        cost = np.zeros(mm.n_cols)
        cost[rc.cost_cols] = R[rc.cost_regs]
        values, lo, hi = R[rc.coef_regs], R[rc.lo_regs], R[rc.hi_regs]
        if len(lo):
            # a fresh compile leaves out a row whose coefficients all vanished or that lost both bounds
            if not np.logical_or.reduceat(values != 0.0, self._layout[2]).all():
                return None
            if ((lo == -INF) & (hi == INF)).any():
                return None
        return cost, R[rc.offset_reg], values, lo, hi

    def _walked(self):
        """(cost, offset, coefficients, row lower, row upper) by walking the expressions again, or
        None when the structure changed."""
        mm = self.mm
        rec = mm.recorder
        order = rec.order
        n_before = len(rec.var_map)
        reader = Reader(rec)
        cost = np.zeros(mm.n_cols)
        offset = 0.0
        if mm.objective is not None:
            if not mm.objective.active:
                return None
            obj_lin, offset = reader.linear(mm.objective.expr, mm.objective)
            if len(rec.var_map) != n_before:
                return None
            cost[np.fromiter(map(order.__getitem__, obj_lin), dtype=np.int64, count=len(obj_lin))] = np.fromiter(
                obj_lin.values(), dtype=np.float64, count=len(obj_lin))
        row_vars = self._layout[0]
        rows = mm.touched_rows
        lo = np.empty(len(rows))
        hi = np.empty(len(rows))
        new_values: list[float] = []
        for k, i in enumerate(rows.tolist()):
            con = mm.rows[i]
            if not con.active:
                return None
            r = reader.row(con)
            if r is None:
                return None
            lb, ub, lin, const = r
            if tuple(lin) != row_vars[k]:
                return None  # other variables than at compile time
            vals = lin.values()
            if not any(vals):
                return None  # a fresh compile would leave the row out
            new_values.extend(vals)
            lo[k] = -INF if lb is None else lb - const
            hi[k] = INF if ub is None else ub - const
        return cost, offset, new_values, lo, hi


class _ParamBounds:
    """Column bounds that are Params, renewed from the Params' values in bulk: what
    ``VarData.bounds`` gives (the tighter of the bound and the variable's domain; an infinite
    bound on its own side is no bound), without a Python call per column."""

    def __init__(self, mm: MatrixModel):
        self.sides = []
        for side, lower in (("_lb", True), ("_ub", False)):
            cols, params, dom = [], [], []
            for j in mm.param_cols.tolist():
                v = mm.columns[j]
                b = getattr(v, side)
                if isinstance(b, ParamData):
                    d = v.domain.bounds()[0 if lower else 1]
                    cols.append(j)
                    params.append(b)
                    dom.append((-INF if lower else INF) if d is None else float(d))
                elif b.__class__ not in native_types:
                    self.sides = None  # an expression bound: let ``VarData.bounds`` read it
                    return
            self.sides.append((lower, np.array(cols, dtype=np.int64), params, np.array(dom, dtype=float)))

    def renew(self, mm: MatrixModel) -> bool:
        """Write the bounds into ``mm``; False when ``VarData.bounds`` must read them (an
        expression bound, a value that is not a number or an infinite bound on the wrong side)."""
        if self.sides is None:
            return False
        new = []
        for lower, cols, params, dom in self.sides:
            try:
                vals = np.array([p._value for p in params], dtype=float)
            except (TypeError, ValueError):
                return False
            if np.isnan(vals).any() or (vals == (INF if lower else -INF)).any():
                return False  # Pyomo raises for these
            new.append((lower, cols, np.maximum(vals, dom) if lower else np.minimum(vals, dom)))
        for lower, cols, vals in new:
            (mm.col_lower if lower else mm.col_upper)[cols] = vals
        return True
