"""Assigning a day's numbers to mutable Pyomo Params in bulk, and listing indexed components fast.

Kept for old imports: both live in the solver adapter (``bidopt.solver.set_values`` and
``bidopt.solver.data_objects``), since they write Pyomo's private Param data.
"""

from __future__ import annotations

from bidopt.solver import data_objects, set_values

__all__ = ["data_objects", "set_values"]
