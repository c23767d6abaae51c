"""Reading and writing a model's numbers fast: solved expression values and a day's Param values.

``linear_value(named)``: the value of a named linear expression (``pyo.Expression`` data) in its own
units (e.g. EUR). ``pyo.value`` walks the expression tree at every call; a backtest asks for the same
cost expressions (a battery's degradation cost over the day's MTUs) after every daily solve. The
expression is read once into (variables, coefficients, constant), kept on the expression, and from
then on evaluated as ``constant + coefficients @ values``. An expression holding mutable values
(Params, fixed variables) or that is not linear is evaluated by Pyomo each time. The sum is taken in
another order than Pyomo's, so the result can differ from ``pyo.value`` in the last bits.

``set_values(param, values)``: an indexed mutable Param set to a day's numbers in index order.
``Param.store_values`` validates every value through ``__setitem__``, which costs more than the rest
of refreshing a small model; here floats go straight into the Params' data (the values come from
bidopt's own arrays, already checked where they were read). ``data_objects(component)``: an indexed
component's data objects in index order, kept on the component.

Part of the solver adapter (``bidopt.solver``): reads and writes Pyomo's private attributes
(``_args_``, ``ParamData._value``).
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
import pyomo.environ as pyo

from bidopt.solver.linear import FastLinear, Recorder, Unsupported

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
    rec = Recorder()
    reader = FastLinear(rec)
    try:
        lin, const = reader.collect(named.expr)
    except Unsupported:
        return None, None, None
    if reader.touched:
        return None, None, None  # mutable values: they may change between calls
    variables = [rec.var_map[vid] for vid in lin]
    return variables, np.fromiter(lin.values(), dtype=float, count=len(lin)), float(const)


def data_objects(component) -> list:
    """An indexed component's data objects in index order. Listing them through Pyomo walks the
    index set (most of the cost of reading or writing a day's values), so the list is kept on the
    component and made again only when the component's size changed."""
    data = component.__dict__.get("_bidopt_data")
    if data is None or len(data) != len(component):
        data = component._bidopt_data = list(component.values())
    return data


def set_values(param, values) -> None:
    """Set an indexed mutable Param to ``values`` (one per index, in index order)."""
    data = data_objects(param)
    vals = np.asarray(values, dtype=float).tolist()
    if len(vals) != len(data):
        raise ValueError(f"{param.name}: {len(vals)} values for {len(data)} indices")
    for d, v in zip(data, vals, strict=True):
        d._value = v
