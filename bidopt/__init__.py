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

from bidopt import backtest  # a package that is also callable: bidopt.backtest(case, start, end)
from bidopt.bids.dayahead import Bids, bid
from bidopt.case import Case, case_from_dict, load_case
from bidopt.errors import BidoptError, InfeasibleError, InputError, SolverError
from bidopt.model import PlanResult, PortfolioModel, plan
from bidopt.replan import Replanner
from bidopt.state import with_state

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
