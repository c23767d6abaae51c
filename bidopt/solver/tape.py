"""The arithmetic a compile does on a model's mutable numbers, recorded once and replayed with numpy.

A compiled row's coefficients and bounds, and the objective's costs, are made by ``FastLinear``
from constants and mutable inputs: Params, expressions without variables and fixed variables. When
only those inputs change, walking the Pyomo expressions again repeats the same arithmetic on new
numbers. ``Tape.record`` walks the re-read rows and the objective once with a reader whose mutable
inputs are symbols (``_Sym``): every product, quotient, sum, difference and negation it performs
on them is recorded as an operation, with its operands, in the reader's own order. ``Tape.play``
reads the inputs' current values and repeats those operations with numpy, level by level of the
recorded graph (an operation's level is one more than its deepest operand's), so all rows'
operations of one level and kind run in one numpy call.

The results equal a new walk's bit for bit: numpy's float64 ``multiply``, ``divide``, ``add``,
``subtract`` and ``negative`` are the IEEE operations Python's floats perform, on the same operands
in the same grouping. Two operations are skipped when recording because they cannot change a
number: ``1.0 * x`` (exactly ``x``) and ``x + 0.0`` (exactly ``x``, except that ``-0.0 + 0.0`` is
``+0.0``; equal as numbers). Values are not checked here; ``Persistent`` checks what structure a
replay depends on (see ``bidopt.solver.persistent``).

Part of the solver adapter (``bidopt.solver``): reads Pyomo's private attributes (``_args_``,
``ParamData._value``).

No units: these are the model's own numbers (bidopt's rows are in MW, MWh and EUR).
"""

from __future__ import annotations

import numpy as np
from pyomo.common.numeric_types import native_types, value
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import NPV_DivisionExpression, NPV_NegationExpression, NPV_ProductExpression

from bidopt.solver.compile import INF, Reader
from bidopt.solver.linear import FastLinear, Recorder, Unsupported

_MUL, _DIV, _ADD, _SUB, _NEG = range(5)
_UFUNC = {_MUL: np.multiply, _DIV: np.divide, _ADD: np.add, _SUB: np.subtract, _NEG: np.negative}


class CannotRecord(Exception):
    """The rows hold something the tape does not record (a node only Pyomo's visitor reads)."""


class _Sym:
    """A number known only when the tape plays: an input or the result of an operation."""

    __slots__ = ("tape", "reg", "level")

    def __init__(self, tape: Tape, reg: int, level: int):
        self.tape, self.reg, self.level = tape, reg, level

    def __mul__(self, other):
        if other.__class__ is float and other == 1.0:
            return self
        return self.tape.op(_MUL, self, other)

    def __rmul__(self, other):
        if other.__class__ is float and other == 1.0:
            return self
        return self.tape.op(_MUL, other, self)

    def __truediv__(self, other):
        return self.tape.op(_DIV, self, other)

    def __rtruediv__(self, other):
        return self.tape.op(_DIV, other, self)

    def __add__(self, other):
        if other.__class__ is float and other == 0.0:
            return self
        return self.tape.op(_ADD, self, other)

    def __radd__(self, other):
        if other.__class__ is float and other == 0.0:
            return self
        return self.tape.op(_ADD, other, self)

    def __sub__(self, other):
        return self.tape.op(_SUB, self, other)

    def __rsub__(self, other):
        return self.tape.op(_SUB, other, self)

    def __neg__(self):
        return self.tape.op(_NEG, self, self)

    def __bool__(self):
        raise CannotRecord("a recorded number was used in a decision")

    def __float__(self):
        raise CannotRecord("a recorded number was converted to float")


class Tape:
    """Recorded operations on registers. Registers hold constants (set once), inputs (read from
    their Pyomo objects at each ``play``) and operation results."""

    def __init__(self):
        self.n = 0
        self._const: dict[str, int] = {}  # float.hex of a constant -> register
        self.const_regs: list[int] = []
        self.const_vals: list[float] = []
        self._inputs: dict[int, _Sym] = {}  # id of the Pyomo object -> its symbol
        self.params: list = []  # (register, ParamData)
        self.exprs: list = []  # (register, expression without variables)
        self.fixed: list = []  # (register, fixed variable)
        self.ops: list[tuple[int, int, int, int, int]] = []  # (level, code, out, a, b)
        self.groups: list = []

    # --- recording
    def _new(self, level: int) -> _Sym:
        s = _Sym(self, self.n, level)
        self.n += 1
        return s

    def reg(self, x) -> int:
        """The register of a symbol, or of a constant (one register per distinct float)."""
        if x.__class__ is _Sym:
            return x.reg
        x = float(x)
        key = x.hex()
        r = self._const.get(key)
        if r is None:
            r = self._const[key] = self.n
            self.n += 1
            self.const_regs.append(r)
            self.const_vals.append(x)
        return r

    def input(self, obj, kind: list) -> _Sym:
        s = self._inputs.get(id(obj))
        if s is None:
            s = self._inputs[id(obj)] = self._new(0)
            kind.append((s.reg, obj))
        return s

    def op(self, code: int, a, b) -> _Sym:
        la = a.level if a.__class__ is _Sym else 0
        lb = b.level if b.__class__ is _Sym else 0
        out = self._new(max(la, lb) + 1)
        self.ops.append((out.level, code, out.reg, self.reg(a), self.reg(b)))
        return out

    def freeze(self) -> None:
        """Group the operations by level and kind, and lay out the registers."""
        by: dict[tuple[int, int], list] = {}
        for level, code, out, a, b in self.ops:
            by.setdefault((level, code), []).append((out, a, b))
        self.groups = []
        for (_, code), items in sorted(by.items()):
            arr = np.array(items, dtype=np.int64).reshape(-1, 3)
            self.groups.append((_UFUNC[code], code, arr[:, 0], arr[:, 1], arr[:, 2]))
        self.base = np.zeros(self.n)
        self.base[np.array(self.const_regs, dtype=np.int64)] = self.const_vals
        self.param_regs = np.array([r for r, _ in self.params], dtype=np.int64)
        self.param_objs = [p for _, p in self.params]
        self.expr_regs = np.array([r for r, _ in self.exprs], dtype=np.int64)
        self.fixed_regs = np.array([r for r, _ in self.fixed], dtype=np.int64)

    # --- playing
    def play(self) -> np.ndarray | None:
        """All registers at the inputs' current values; None where a fresh walk would not give the
        same arithmetic (an input without a number, a division by zero)."""
        R = self.base.copy()
        try:
            if len(self.param_regs):
                R[self.param_regs] = [p._value for p in self.param_objs]
            if len(self.expr_regs):
                R[self.expr_regs] = [value(e) for _, e in self.exprs]
            if len(self.fixed_regs):
                R[self.fixed_regs] = [v.value for _, v in self.fixed]
        except (TypeError, ValueError):
            return None
        if np.isnan(R).any():
            return None  # an input without a number: let a compile report it
        with np.errstate(all="ignore"):
            for ufunc, code, out, a, b in self.groups:
                if code == _NEG:
                    R[out] = ufunc(R[a])
                else:
                    if code == _DIV and not R[b].all():
                        return None  # Python raises ZeroDivisionError here
                    R[out] = ufunc(R[a], R[b])
        return R


class RecordingLinear(FastLinear):
    """``FastLinear`` whose mutable inputs are the tape's symbols."""

    def __init__(self, rec: Recorder, tape: Tape):
        super().__init__(rec)
        self.tape = tape

    def pv(self, e):
        """A symbol for a Param; for a negation, product or quotient without variables, that
        operation on its arguments' symbols (what ``pyomo.core.expr.value`` computes); any other
        expression without variables is an input evaluated whole."""
        self.touched = True
        cls = e.__class__
        if cls in native_types:
            return e
        if isinstance(e, ParamData):
            return self.tape.input(e, self.tape.params)
        if cls is NPV_NegationExpression:
            return -self.pv(e.args[0])
        if cls is NPV_ProductExpression:
            a, b = e.args
            return self.pv(a) * self.pv(b)
        if cls is NPV_DivisionExpression:
            a, b = e.args
            return self.pv(a) / self.pv(b)
        return self.tape.input(e, self.tape.exprs)

    def fixed_value(self, v):
        if v.value is None:
            raise ValueError(f"fixed variable {v.name} has no value")
        self.touched = True
        self.fixed_seen[id(v)] = v
        return self.tape.input(v, self.tape.fixed)


class RecordingReader(Reader):
    """``Reader`` without the fallback to Pyomo's visitor (whose arithmetic cannot be recorded)."""

    def __init__(self, rec: Recorder, tape: Tape):
        super().__init__(rec)
        self.fast = RecordingLinear(rec, tape)

    def linear(self, expr, owner):
        return self.fast.collect(expr)


class Recording:
    """What ``Persistent`` replays for one compiled model: where each recorded number goes."""

    def __init__(self, mm, row_vars: list):
        rec = mm.recorder
        order = rec.order
        n_before = len(rec.var_map)
        tape = self.tape = Tape()
        reader = RecordingReader(rec, tape)
        try:
            self.objective_expr = None
            cost_cols, cost_regs, offset = [], [], 0.0
            if mm.objective is not None:
                self.objective_expr = mm.objective.expr
                obj_lin, offset = reader.linear(self.objective_expr, mm.objective)
                cost_cols = [order[vid] for vid in obj_lin]
                cost_regs = [tape.reg(c) for c in obj_lin.values()]
            coef, lo, hi, exprs = [], [], [], []
            for k, i in enumerate(mm.touched_rows.tolist()):
                con = mm.rows[i]
                exprs.append(con.expr)
                r = reader.row(con)
                if r is None:
                    raise CannotRecord(f"{con.name} has no finite bound")
                lb, ub, lin, const = r
                if tuple(lin) != row_vars[k]:
                    raise CannotRecord(f"{con.name} reads other variables than at compile time")
                coef.extend(tape.reg(c) for c in lin.values())
                lo.append(tape.reg(-INF if lb is None else lb - const))
                hi.append(tape.reg(INF if ub is None else ub - const))
        except Unsupported as exc:
            raise CannotRecord("a row needs Pyomo's visitor") from exc
        if len(rec.var_map) != n_before:
            raise CannotRecord("the objective or a row holds variables that were not compiled")
        self.offset_reg = tape.reg(offset)
        self.cost_cols = np.array(cost_cols, dtype=np.int64)
        self.cost_regs = np.array(cost_regs, dtype=np.int64)
        self.coef_regs = np.array(coef, dtype=np.int64)
        self.lo_regs = np.array(lo, dtype=np.int64)
        self.hi_regs = np.array(hi, dtype=np.int64)
        self.row_exprs = exprs
        # their content must stay the same object (``set_value`` gives a named expression new ``_args_``)
        self.named = [(e, e._args_) for e, _ in reader.fast.named_seen]
        tape.freeze()

    def unchanged(self, mm) -> bool:
        """Whether the recorded expressions are still the model's (same objects, rows active)."""
        if mm.objective is not None and (not mm.objective.active or mm.objective.expr is not self.objective_expr):
            return False
        rows = mm.rows
        for i, e in zip(mm.touched_rows.tolist(), self.row_exprs, strict=True):
            con = rows[i]
            if con.expr is not e or not con.active:
                return False
        return all(e._args_ is args for e, args in self.named)
