"""Values of solved linear Pyomo expressions, fast (the expression's own units, e.g. EUR).

``pyo.value`` walks an expression tree at every call; a backtest asks for the same cost expressions
(a battery's degradation cost over the day's MTUs) after every daily solve. ``linear_value``
reads a named expression with constant coefficients once into (variables, coefficients, constant),
keeps that on the expression, and from then on returns ``constant + coefficients @ values``. An
expression holding mutable values (Params, fixed variables) or that is not linear is evaluated by
Pyomo each time. The sum is taken in another order than Pyomo's, so the result can differ from
``pyo.value`` in the last bits.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
import pyomo.environ as pyo

from bidopt.highs_direct import _FastLinear, _Recorder, _Unsupported

_VALUE = attrgetter("value")


def linear_value(named) -> float:
    """The value of a named expression (``pyo.Expression`` data) at its variables' values."""
    form = named.__dict__.get("_bidopt_linear")
    if form is None or form[0] is not named._args_:
        form = named._bidopt_linear = (named._args_, *_read(named))
    _, variables, coefs, const = form
    if variables is None:
        return float(pyo.value(named))
    x = np.array(list(map(_VALUE, variables)), dtype=float)
    if np.isnan(x).any():  # a variable without a value: let Pyomo report it
        return float(pyo.value(named))
    return float(const + coefs @ x)


def _read(named) -> tuple:
    rec = _Recorder()
    reader = _FastLinear(rec)
    try:
        lin, const = reader.collect(named.expr)
    except _Unsupported:
        return None, None, None
    if reader.touched:
        return None, None, None  # mutable values: they may change between calls
    variables = [rec.var_map[vid] for vid in lin]
    return variables, np.fromiter(lin.values(), dtype=float, count=len(lin)), float(const)
