"""Backtests: replaying the decision timeline on history (``engine``), clearing submitted orders
against realised prices (``bidopt.markets.clearing``), settlement, reports and sweeps.

``bidopt.backtest`` is this package and, as the DESIGN contract promises, also callable:
``bidopt.backtest(case, start=..., end=...)`` runs ``bidopt.backtest.engine.backtest``.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, case, start, end, **kwargs):
        from bidopt.backtest.engine import backtest

        return backtest(case, start, end, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
