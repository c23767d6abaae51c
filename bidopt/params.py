"""Assigning a day's numbers to mutable Pyomo Params in bulk, and listing indexed components fast.

``Param.store_values`` validates every value through ``__setitem__``, which costs more than the rest
of refreshing a small model. ``set_values`` writes floats straight into the Params' data in index
order; the values come from bidopt's own arrays (already checked where they were read).
"""

from __future__ import annotations

import numpy as np


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
