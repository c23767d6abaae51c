"""Values of solved linear Pyomo expressions (the expression's own units, e.g. EUR).

Kept for old imports: the function lives in the solver adapter, ``bidopt.solver.linear_value``.
"""

from __future__ import annotations

from bidopt.solver import linear_value

__all__ = ["linear_value"]
