"""Assigning a day's numbers to mutable Pyomo Params in bulk.

``Param.store_values`` validates every value through ``__setitem__``, which costs more than the rest
of refreshing a small model. ``set_values`` writes floats straight into the Params' data in index
order; the values come from bidopt's own arrays (already checked where they were read).
"""

from __future__ import annotations

import numpy as np


def set_values(param, values) -> None:
    """Set an indexed mutable Param to ``values`` (one per index, in index order)."""
    data = list(param.values())
    vals = np.asarray(values, dtype=float).tolist()
    if len(vals) != len(data):
        raise ValueError(f"{param.name}: {len(vals)} values for {len(data)} indices")
    for d, v in zip(data, vals, strict=True):
        d._value = v
