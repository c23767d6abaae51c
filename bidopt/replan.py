"""Planning many horizons with models built once (power in MW, money in EUR).

A year of daily plans builds the same model 365 times over: only numbers change from day to day
(prices, profiles, the initial SoC, the month's peaks so far, rates). ``Replanner`` keeps one built
model per shape (number of MTUs, MTU length, which binaries the prices call for) and, for each new
horizon, asks it to ``refresh``: every asset and tariff puts the day's numbers into its mutable
Params, and the solver adapter's ``Persistent`` (``bidopt.solver``) reads again only the rows, costs
and bounds those Params reach. A case the model cannot take that way (an asset kind without
``refresh``, FCR, a held position, another shape) is built anew and kept for the next horizon of its
shape. A kept model changed by hand between plans (a constraint added, deactivated or activated
again, a domain changed...) is noticed by ``Persistent`` and compiled again before its next solve
(``tests/test_solver_adapter.py``).

The result is the one a fresh ``PortfolioModel`` gives: the arrays handed to HiGHS are laid out
exactly as a fresh compile lays them out (``tests/test_replan.py`` checks schedules and objectives
over a year of days against rebuilt models).
"""

from __future__ import annotations

from collections import OrderedDict

from bidopt import time as btime
from bidopt.case import Case
from bidopt.data import sources
from bidopt.horizon import Horizon
from bidopt.model import PortfolioModel, prepare_assets
from bidopt.site import price_stack


class Replanner:
    """Built models by shape, refreshed for each new horizon. ``builds`` and ``refreshes`` count
    what ``model`` did; at most ``keep`` shapes are kept (least recently used dropped)."""

    def __init__(self, keep: int = 8):
        self.keep = keep
        self.models: OrderedDict[tuple, PortfolioModel] = OrderedDict()
        self.builds = self.refreshes = 0

    def model(self, case: Case, horizon: Horizon) -> PortfolioModel:
        """A model of ``case`` on ``horizon``, built or refreshed, not solved yet."""
        spot = sources.dayahead_prices(case, horizon.index)
        data = prepare_assets(case, horizon)
        ps = price_stack(case, horizon, spot)
        key = (horizon.n, horizon.dt_h, ps["energy_value_can_be_negative"], ps["grid_needs_binaries"])
        pm = self.models.get(key)
        if pm is not None:
            self.models.move_to_end(key)
            if pm.refresh(case, horizon, spot, data, ps):
                self.refreshes += 1
                return pm
        pm = PortfolioModel(case, horizon, spot, reuse=True, data=data)
        self.builds += 1
        self.models[key] = pm
        self.models.move_to_end(key)
        while len(self.models) > self.keep:
            self.models.popitem(last=False)
        return pm

    def plan(self, case: Case, day, mtu_minutes: int | None = None) -> PortfolioModel:
        """``bidopt.plan`` for one local delivery day, on a reused model; returns the solved model."""
        mtu = mtu_minutes or case.case.mtu_minutes
        pm = self.model(case, Horizon(btime.delivery_index(day, mtu, case.case.timezone), case.case.timezone))
        pm.solve()
        return pm
