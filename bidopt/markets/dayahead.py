"""Day-ahead energy at known prices.

The site's grid import imp_t and export exp_t (MW) are settled per MTU at the linear price stack of
``bidopt.tariffs.retail``: import costs c_imp_t (spot + fees + tax + VAT where paid), export earns
c_exp_t (spot - handling fee + compensation). Objective term (EUR):

    sum_t (c_exp_t * exp_t - c_imp_t * imp_t) * dt

The coefficients are mutable Params, so a built model re-solves with new prices.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from bidopt.markets.base import Product, register_product
from bidopt.params import data_objects, set_values


def build(blk, T, dt_h: float, grid, import_cost: np.ndarray, export_value: np.ndarray) -> None:
    """The price Params (set in bulk, ``set_values``) and the value term, written over the data
    objects in T's order (the same expression as indexing T term by term, built without the lookups)."""
    blk.import_cost = pyo.Param(T, initialize=0.0, mutable=True, domain=pyo.Any)
    blk.export_value = pyo.Param(T, initialize=0.0, mutable=True, domain=pyo.Any)
    update(blk, import_cost, export_value)
    terms = zip(data_objects(blk.export_value), data_objects(grid.export_mw), data_objects(blk.import_cost),
                data_objects(grid.import_mw), strict=True)
    blk.value_eur = pyo.Expression(expr=sum((ev * exp - ic * imp) * dt_h for ev, exp, ic, imp in terms))


def update(blk, import_cost: np.ndarray, export_value: np.ndarray) -> None:
    """Set new prices on a built model (for re-solving)."""
    set_values(blk.import_cost, import_cost)
    set_values(blk.export_value, export_value)


@register_product
class DayAhead(Product):
    """Day-ahead energy: the ``dayahead`` stream (built by the site from the price stack; no table)."""

    name = "dayahead"
    streams = ("dayahead",)
    order = 0
    always_listed = True
    has_table = False
