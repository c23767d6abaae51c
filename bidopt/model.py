"""The portfolio model: assets + markets + tariffs on one horizon, solved with HiGHS.

``PortfolioModel(case, horizon)`` loads the data, builds the Pyomo model once and can be solved and
re-solved (prices and initial SoC are mutable parameters). ``plan(case, day)`` is one deterministic
delivery day: build, solve, and return the schedule and summary of the DESIGN contract.

Objective (maximise, EUR): day-ahead energy value at the retail price stack, minus tariff costs
(peaks, fixed fees; times 1 + VAT where the site pays VAT), minus asset costs (degradation).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from bidopt import time as btime
from bidopt.assets import grid as grid_connection
from bidopt.assets.base import values
from bidopt.case import Case
from bidopt.data import sources
from bidopt.errors import InfeasibleError, InputError, SolverError
from bidopt.horizon import Horizon
from bidopt.markets import dayahead, fcr
from bidopt.tariffs import retail

MARKET_RULES = {"fcr": fcr.rules}  # [markets.<name>] tables and the function validating each
ZERO_STREAMS = ("fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance")


@dataclass
class SolveInfo:
    status: str
    seconds: float
    mip_gap: float
    termination: str = ""

    def as_dict(self) -> dict:
        return {"status": self.status, "seconds": round(self.seconds, 4), "mip_gap": self.mip_gap}


@dataclass
class PlanResult:
    schedule: pd.DataFrame
    summary: dict
    model: PortfolioModel | None = field(default=None, repr=False)


class PortfolioModel:
    """One site's model on one horizon. Build once; ``solve()`` as often as parameters change."""

    def __init__(self, case: Case, horizon: Horizon, spot_eur_per_mwh: np.ndarray | None = None):
        try:
            self._init(case, horizon, spot_eur_per_mwh)
        except InputError as e:
            if e.file is None:  # a rate or field of the case itself: name the case file
                raise InputError(case.label, e.field, e.message) from None
            raise

    def _init(self, case: Case, horizon: Horizon, spot_eur_per_mwh: np.ndarray | None) -> None:
        self.case = case
        self.horizon = horizon
        if spot_eur_per_mwh is None:
            spot_eur_per_mwh = sources.dayahead_prices(case, horizon.index)
        self.spot = np.asarray(spot_eur_per_mwh, dtype=float)
        self.data = {a.name: a.prepare(case, horizon) for a in case.assets}
        for a in case.assets:
            a.check(horizon, self.data[a.name])
        self.vat_factor = retail.vat_factor(case, horizon)
        for name in case.markets:
            if name not in MARKET_RULES:
                raise InputError(case.label, f"markets.{name}", f"unknown market; known: {', '.join(MARKET_RULES)}")
            MARKET_RULES[name](case)  # a misspelt key is an error even when the product is not offered
        self._price_stack(self.spot)
        self.m = self._build()
        self.solve_info: SolveInfo | None = None

    def _price_stack(self, spot: np.ndarray) -> tuple[bool, bool]:
        """Set the per-MWh coefficients from spot prices; return which binaries they call for."""
        self.spot = np.asarray(spot, dtype=float)
        self.coefs = retail.coefficients(self.case, self.horizon, self.spot)
        self.import_cost, self.export_value = retail.totals(self.coefs)
        negative = bool((self.import_cost < 0).any() or (self.export_value < 0).any())
        # must-take generation (non-curtailable PV) can also leave energy with nowhere to go
        self.energy_value_can_be_negative = negative or any(
            getattr(a, "curtailable", True) is False for a in self.case.assets
        )
        self.grid_needs_binaries = bool((self.export_value > self.import_cost + 1e-9).any())
        return self.energy_value_can_be_negative, self.grid_needs_binaries

    def set_prices(self, spot_eur_per_mwh: np.ndarray) -> None:
        """New day-ahead prices on the built model. Rebuilds only if the prices call for binaries the
        model was built without (e.g. the first negative price)."""
        before = (self.energy_value_can_be_negative, self.grid_needs_binaries)
        after = self._price_stack(spot_eur_per_mwh)
        if any(a and not b for a, b in zip(after, before, strict=True)):
            self.m = self._build()
        else:
            dayahead.update(self.m.dayahead, self.import_cost, self.export_value)
        self.solve_info = None

    # --- build ------------------------------------------------------------------------------------
    def _build(self) -> pyo.ConcreteModel:
        case, h = self.case, self.horizon
        m = pyo.ConcreteModel(name=case.case.name)
        m.T = pyo.RangeSet(0, h.n - 1)
        self.asset_blocks = {}
        for a in case.assets:
            blk = pyo.Block()
            m.add_component(f"asset_{a.name}", blk)
            a.build(blk, m.T, h, self.data[a.name], a.needs_binaries(self.energy_value_can_be_negative))
            self.asset_blocks[a.name] = blk
        blocks = list(self.asset_blocks.values())
        m.grid = pyo.Block()
        grid_connection.build(
            m.grid,
            m.T,
            case.grid.import_limit_mw,
            case.grid.export_limit_mw,
            lambda t: sum(b.net_mw[t] for b in blocks),
            self.grid_needs_binaries,
        )
        m.dayahead = pyo.Block()
        dayahead.build(m.dayahead, m.T, h.dt_h, m.grid, self.import_cost, self.export_value)
        market_value = m.dayahead.value_eur
        if fcr.offered(case):
            m.fcr = pyo.Block()
            fcr.build(m.fcr, m.T, h, case, {a.name: a for a in case.assets}, self.asset_blocks, self.spot)
            market_value = market_value + m.fcr.value_eur
        self.tariff_blocks = {}
        for i, t in enumerate(case.tariffs):
            blk = pyo.Block()
            m.add_component(f"tariff_{i}_{t.kind}", blk)
            t.build(blk, m.T, h, case, m.grid.import_mw)
            if hasattr(blk, "cost_eur"):
                self.tariff_blocks[i] = blk
        self.fixed_cost_eur = sum(t.fixed_cost_eur(case, h) for t in case.tariffs)
        tariff_cost = sum(b.cost_eur for b in self.tariff_blocks.values())
        asset_cost = sum(b.cost_eur for b in blocks if hasattr(b, "cost_eur"))
        m.objective = pyo.Objective(
            expr=market_value - self.vat_factor * (tariff_cost + self.fixed_cost_eur) - asset_cost,
            sense=pyo.maximize,
        )
        return m

    @property
    def is_mip(self) -> bool:
        return any(v.is_binary() or v.is_integer() for v in self.m.component_data_objects(pyo.Var, active=True))

    # --- solve ------------------------------------------------------------------------------------
    def solve(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
        opts = self.case.solver
        solver = Highs()
        cfg = {
            "load_solutions": False,
            "raise_exception_on_nonoptimal_result": False,
            "time_limit": time_limit_s if time_limit_s is not None else opts.time_limit_s,
            "rel_gap": mip_gap if mip_gap is not None else opts.mip_gap,
        }
        if opts.threads:
            cfg["threads"] = opts.threads
        t0 = _time.perf_counter()
        res = solver.solve(self.m, **cfg)
        seconds = _time.perf_counter() - t0
        tc = res.termination_condition
        if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded,
                  TerminationCondition.locallyInfeasible):
            raise self._diagnose()
        if tc == TerminationCondition.unbounded:
            raise SolverError("model is unbounded: a price or rate rewards unlimited energy or power; check the case")
        if res.solution_status not in (SolutionStatus.optimal, SolutionStatus.feasible):
            raise SolverError(f"solver stopped without a solution: {tc.name}")
        res.solution_loader.load_vars()
        self._net_grid_flows()
        gap = 0.0
        if self.is_mip and res.incumbent_objective is not None and res.objective_bound is not None:
            inc, bnd = res.incumbent_objective, res.objective_bound
            gap = abs(bnd - inc) / max(abs(inc), 1e-9)
        status = "optimal" if tc == TerminationCondition.convergenceCriteriaSatisfied else tc.name
        self.solve_info = SolveInfo(status=status, seconds=seconds, mip_gap=float(gap), termination=tc.name)
        return self.solve_info

    def _net_grid_flows(self) -> None:
        """Report import and export net of each other. Where export earns exactly what import costs
        the solver may do both at once at no cost; netting them changes no money, lowers no limit
        and can only lower a peak, so the reported schedule shows the physical flow."""
        g = self.m.grid
        for t in self.m.T:
            imp, exp = g.import_mw[t].value or 0.0, g.export_mw[t].value or 0.0
            both = min(imp, exp)
            if both > 0 and self.export_value[t] <= self.import_cost[t] + 1e-9:
                g.import_mw[t].set_value(imp - both, skip_validation=True)
                g.export_mw[t].set_value(exp - both, skip_validation=True)

    def _diagnose(self) -> InfeasibleError:
        """Elastic re-solve: add slacks to every constraint, minimise them, name what had to bend."""
        from bidopt.diagnose import explain_infeasibility

        return explain_infeasibility(self)

    # --- results ----------------------------------------------------------------------------------
    def schedule(self) -> pd.DataFrame:
        m = self.m
        cols: dict[str, np.ndarray] = {
            "grid_import_mw": values(m.grid.import_mw),
            "grid_export_mw": values(m.grid.export_mw),
        }
        for a in self.case.assets:
            cols.update(a.schedule(self.asset_blocks[a.name], self.horizon))
        if hasattr(m, "fcr"):
            cols.update(fcr.schedule(m.fcr, self.horizon))
        cols["price_eur_per_mwh"] = self.spot
        df = pd.DataFrame(cols, index=self.horizon.index)
        df.index.name = "timestamp_utc"
        return df

    def revenue(self) -> dict[str, float]:
        """Result per stream in EUR (costs negative); sums to the objective."""
        imp, exp, dt_h = values(self.m.grid.import_mw), values(self.m.grid.export_mw), self.horizon.dt_h
        out = {s: float(np.sum(c_exp * exp - c_imp * imp) * dt_h) for s, (c_imp, c_exp) in self.coefs.items()}
        tariff_cost = sum(pyo.value(b.cost_eur) for b in self.tariff_blocks.values()) + self.fixed_cost_eur
        out["tariff"] -= tariff_cost
        out["tax"] -= (self.vat_factor - 1.0) * tariff_cost
        out["degradation"] = 0.0
        for a in self.case.assets:
            out[a.cost_stream] = out.get(a.cost_stream, 0.0) - a.cost_eur(self.asset_blocks[a.name])
        for s in ZERO_STREAMS:
            out[s] = 0.0
        if hasattr(self.m, "fcr"):
            out.update(fcr.revenue(self.m.fcr))
        order = ("dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance", "tariff", "tax", "degradation")
        return {**{k: out[k] for k in order}, **{k: v for k, v in out.items() if k not in order}}

    def summary(self) -> dict:
        rev = self.revenue()
        return {
            "case": self.case.case.name,
            "zone": self.case.case.zone,
            "start_utc": self.horizon.index[0].isoformat(),
            "end_utc": (self.horizon.index[-1] + pd.Timedelta(hours=self.horizon.dt_h)).isoformat(),
            "mtu_minutes": int(round(self.horizon.dt_h * 60)),
            "n_mtu": self.horizon.n,
            "objective_eur": float(sum(rev.values())),
            "revenue_eur": rev,
            "solver": self.solve_info.as_dict() if self.solve_info else None,
            "binaries": self.is_mip,
        }


def plan(case: Case, day, mtu_minutes: int | None = None, time_limit_s: float | None = None,
         mip_gap: float | None = None) -> PlanResult:
    """Plan one local delivery day with the case's prices as known."""
    mtu = mtu_minutes or case.case.mtu_minutes
    horizon = Horizon(btime.delivery_index(day, mtu, case.case.timezone), case.case.timezone)
    pm = PortfolioModel(case, horizon)
    pm.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    return PlanResult(schedule=pm.schedule(), summary=pm.summary(), model=pm)
