"""bidopt: forecasts to exchange-ready bids for flexible electricity assets in the Nordic markets.

Library API (the CLI is a thin layer over it)::

    import bidopt
    case = bidopt.load_case("cases/demo")
    res = bidopt.plan(case, day="2024-03-14")   # res.schedule (DataFrame), res.summary (dict)
    bids = bidopt.bid(case, day="2024-03-14")   # bids.orders, bids.fcr_bids, bids.schedule, bids.summary
    bt = bidopt.backtest(case, start="2024-03-01", end="2024-03-31")   # bt.daily, bt.summary
    rp = bidopt.Replanner()                     # planning many times: models built once per shape
    res = bidopt.plan(case, day="2024-03-15", replanner=rp)
    res = bidopt.plan(case, day="2024-03-15", soc={"bess": 0.2}, peaks_so_far="peaks.csv")  # today's state
    case2 = bidopt.with_state(case, day="2024-03-15", soc={"bess": 0.2})   # the same state as a case copy
"""

# The names below load their modules on first use (PEP 562), so that `import bidopt` and a command
# that fails on its input stay fast; `from bidopt import plan` works as usual.
_LAZY = {
    "Bids": "bidopt.bids.dayahead",
    "bid": "bidopt.bids.dayahead",
    "Case": "bidopt.case",
    "case_from_dict": "bidopt.case",
    "load_case": "bidopt.case",
    "BidoptError": "bidopt.errors",
    "InfeasibleError": "bidopt.errors",
    "InputError": "bidopt.errors",
    "SolverError": "bidopt.errors",
    "PlanResult": "bidopt.model",
    "PortfolioModel": "bidopt.model",
    "plan": "bidopt.model",
    "Replanner": "bidopt.replan",
    "with_state": "bidopt.state",
}


def __getattr__(name: str):
    import importlib

    if name == "backtest":  # a package that is also callable: bidopt.backtest(case, start, end)
        return importlib.import_module("bidopt.backtest")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bidopt' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Bids",
    "BidoptError",
    "Case",
    "InfeasibleError",
    "InputError",
    "PlanResult",
    "PortfolioModel",
    "Replanner",
    "SolverError",
    "backtest",
    "bid",
    "case_from_dict",
    "load_case",
    "plan",
    "with_state",
]
__version__ = "0.1.0"
