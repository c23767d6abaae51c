"""Linear terms of Pyomo expressions, read fast (no units: the model's own numbers).

``FastLinear`` walks the node types bidopt's linear models are made of and returns
``({id(var): coefficient}, constant)``; it is about twice as fast as Pyomo's general
``pyomo.repn.linear.LinearRepnVisitor`` (the engine of its LP writer and standard-form compiler).
Any other node raises ``Unsupported`` and the caller reads that expression with Pyomo's visitor.
Part of the solver adapter (``bidopt.solver``): this module reads Pyomo's private expression
attributes (``_args_``, ``ParamData._value``).
"""

from __future__ import annotations

from pyomo.common.numeric_types import native_numeric_types, native_types, value
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    NPV_DivisionExpression,
    NPV_NegationExpression,
    NPV_ProductExpression,
    NumericValue,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import NumericConstant
from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression


class Recorder:
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


class Unsupported(Exception):
    """An expression node the fast collector does not handle; the caller uses Pyomo's visitor."""


class FastLinear:
    """Linear terms of a Pyomo expression, for the node types bidopt's models are made of (sums,
    linear expressions, monomials, products and quotients with a constant side, negations, named
    Expressions, Params and other expressions without variables). Anything else raises
    ``Unsupported`` and that row or objective goes through ``LinearRepnVisitor`` instead.

    ``collect(expr)`` returns ``({id(var): coefficient}, constant)``; a fixed variable is a constant;
    every other variable met is recorded for a column (even when its coefficients cancel)."""

    def __init__(self, rec: Recorder):
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
            h = handler_for(e)
        return h(self, e, mult, lin)

    def var(self, v, mult, lin):
        vid = id(v)
        if vid in lin:
            lin[vid] += mult
            return 0.0
        if vid not in self.var_map:
            if v._fixed:
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
        return e._value if e.__class__ is ParamData else number(e)

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
        """The terms of a sum; monomials and variables, the common cases, are read inline (what
        ``var`` does; a variable adds nothing to ``const``, which starts at +0.0 and so stays
        what adding ``var``'s 0.0 would leave)."""
        const = 0.0
        handlers = _HANDLERS
        var_map, order = self.var_map, self.rec.order
        for a in e.args:  # never e._args_: sums share their argument lists
            h = handlers.get(a.__class__)
            if h is None:
                h = handler_for(a)
            if h is _monomial:
                c, v = a._args_
                if c.__class__ not in native_types:
                    c = self.pv(c)
                m = mult * c
            elif h is _var:
                v, m = a, mult
            else:
                const += h(self, a, mult, lin)
                continue
            vid = id(v)
            if vid in lin:
                lin[vid] += m
            elif vid in var_map:
                lin[vid] = m
            elif not v._fixed:
                order[vid] = len(var_map)  # a new column (``Recorder.add``)
                var_map[vid] = v
                lin[vid] = m
            else:
                const += m * self.fixed_value(v)
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
        raise Unsupported

    def division(self, e, mult, lin):
        a, b = e.args
        if b.__class__ not in native_types:
            if b.is_potentially_variable():
                raise Unsupported
            b = self.pv(b)
        return self.walk(a, mult / b, lin)

    def named(self, e, mult, lin):
        sub = self.cache.get(id(e))
        if sub is None:
            expr = e._args_[0]  # what ``e.expr`` gives, without wrapping a number in a NumericConstant
            if expr is None:
                raise Unsupported
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


def number(e):
    """The value of an expression without variables, as ``pyomo.core.expr.value`` computes it: a
    Param's value, and negations, products and quotients of such values taken here in Python (the
    same IEEE operations on the same operands that Pyomo's evaluation performs, without its visitor);
    anything else, or a Param without a number, is evaluated by Pyomo (which also raises its errors)."""
    cls = e.__class__
    if cls in native_numeric_types:
        return e
    if isinstance(e, ParamData):
        x = e._value
        return x if x.__class__ in native_numeric_types else value(e)
    if cls is NPV_NegationExpression:
        return -number(e._args_[0])
    if cls is NPV_ProductExpression:
        a, b = e._args_
        return number(a) * number(b)
    if cls is NPV_DivisionExpression:
        a, b = e._args_
        return number(a) / number(b)
    return value(e)


_EXACT = {
    MonomialTermExpression: FastLinear.monomial,
    LinearExpression: FastLinear.sum,
    SumExpression: FastLinear.sum,
    NegationExpression: FastLinear.negation,
    ProductExpression: FastLinear.product,
    DivisionExpression: FastLinear.division,
}
_HANDLERS: dict[type, object] = {}
TWO_SIDED = (EqualityExpression, InequalityExpression)
_monomial = FastLinear.monomial
_var = FastLinear.var


def handler_for(e):
    cls = e.__class__
    if cls in native_numeric_types:
        h = FastLinear.constant
    elif not isinstance(e, NumericValue):
        raise Unsupported
    elif e.is_variable_type():
        h = FastLinear.var
    elif e.is_named_expression_type():
        h = FastLinear.named
    elif cls is NumericConstant:
        h = FastLinear.fixed_constant
    elif not e.is_potentially_variable():
        h = FastLinear.npv
    elif cls in _EXACT:
        h = _EXACT[cls]
    else:
        raise Unsupported
    _HANDLERS[cls] = h
    return h
