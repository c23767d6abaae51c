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

from bidopt import markets, solver
from bidopt import time as btime
from bidopt.case import Case, SolverOptions
from bidopt.data import sources
from bidopt.errors import InputError, SolverError
from bidopt.horizon import Horizon
from bidopt.site import Site

MARKET_RULES = markets.tables()  # [markets.<name>] tables and the function validating each: the registered products'


def solve_model(owner, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
    """Solve ``owner.m`` with HiGHS under the case's solver options; load the solution. Infeasible
    models are diagnosed (``bidopt.diagnose``) and raised as InfeasibleError.

    ``[solver] interface``: ``"matrix"`` (default) compiles the model to arrays and hands them to
    HiGHS in one call (``bidopt.solver``; through ``owner.persistent`` when the model is kept for
    re-solves); ``"pyomo"`` goes through Pyomo's HiGHS interface, as do models the matrix path
    cannot compile (not linear)."""
    opts = owner.case.solver
    check_solver_options(time_limit_s, mip_gap)
    time_limit = time_limit_s if time_limit_s is not None else opts.time_limit_s
    rel_gap = mip_gap if mip_gap is not None else opts.mip_gap
    t0 = _time.perf_counter()
    res = solver.solve(owner.m, time_limit, rel_gap, opts.threads, persistent=getattr(owner, "persistent", None),
                       interface=getattr(opts, "interface", "matrix"))
    seconds = _time.perf_counter() - t0
    tc = res.termination_condition
    TC = solver.TerminationCondition
    if tc in (TC.provenInfeasible, TC.infeasibleOrUnbounded, TC.locallyInfeasible):
        from bidopt.diagnose import explain_infeasibility

        raise explain_infeasibility(owner)
    if tc == TC.unbounded:
        raise SolverError("model is unbounded: a price or rate rewards unlimited energy or power; check the case")
    if res.solution_status not in (solver.SolutionStatus.optimal, solver.SolutionStatus.feasible):
        raise SolverError(f"solver stopped without a solution: {tc.name}")
    is_mip = res.is_mip  # the solution is loaded already
    gap = 0.0
    if is_mip and res.incumbent_objective is not None and res.objective_bound is not None:
        inc, bnd = res.incumbent_objective, res.objective_bound
        gap = abs(bnd - inc) / max(abs(inc), 1e-9)
    converged = tc == TC.convergenceCriteriaSatisfied
    status = "optimal" if converged else tc.name
    default_gap = SolverOptions.model_fields["mip_gap"].default
    proven = converged and (not is_mip or rel_gap <= default_gap or gap <= default_gap)
    return SolveInfo(status=status, seconds=seconds, mip_gap=float(gap), termination=tc.name,
                     proven_optimal=bool(proven), requested_gap=float(rel_gap), objective=res.incumbent_objective)


def check_solver_options(time_limit_s=None, mip_gap=None) -> None:
    """A time limit is a finite number of seconds > 0; a MIP gap is a fraction in [0, 1).
    ``InputError`` naming the argument otherwise (None: the case's ``[solver]`` value)."""
    import math

    for name, v in (("time_limit_s", time_limit_s), ("mip_gap", mip_gap)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(None, name, f"must be a number, not {type(v).__name__}")
        if not math.isfinite(v):
            raise InputError(None, name, "must be a finite number")
    if time_limit_s is not None and time_limit_s <= 0:
        raise InputError(None, "time_limit_s", f"must be > 0 seconds (got {time_limit_s:g})")
    if mip_gap is not None and not 0 <= mip_gap < 1:
        raise InputError(None, "mip_gap", f"must be a fraction in [0, 1) (got {mip_gap:g})")


def solver_warnings(info: SolveInfo | None) -> list[str]:
    """A warning when the solution is not proven optimal within the default MIP gap."""
    if info is None or info.proven_optimal:
        return []
    default_gap = SolverOptions.model_fields["mip_gap"].default
    why = (f"the solver stopped early ({info.termination})" if info.status != "optimal"
           else f"solved to a relative MIP gap of {info.requested_gap:g}")
    return [f"solution not proven optimal within the default MIP gap {default_gap:g}: {why}; "
            f"its gap is {info.mip_gap:.3g}, so a better plan may exist"]


def solve_sites(owner, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
    """``solve_model`` for a model of several site copies (``owner.sites``): also nets each site's
    grid flows; ``seconds`` covers both."""
    t0 = _time.perf_counter()
    info = solve_model(owner, time_limit_s, mip_gap)
    for site in owner.sites:
        site.net_grid_flows()
    info.seconds = _time.perf_counter() - t0
    return info


def has_integers(m) -> bool:
    """Whether a model has binary or integer variables (a MIP)."""
    return any(v.is_binary() or v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))


def summary_header(case: Case, horizon: Horizon) -> dict:
    """The keys every summary.json starts with: which case, zone and period."""
    return {
        "case": case.case.name,
        "zone": case.case.zone,
        "start_utc": horizon.index[0].isoformat(),
        "end_utc": (horizon.index[-1] + pd.Timedelta(hours=horizon.dt_h)).isoformat(),
        "mtu_minutes": int(round(horizon.dt_h * 60)),
        "n_mtu": horizon.n,
    }


def prepare_assets(case: Case, horizon: Horizon) -> dict:
    """Load every asset's data for the horizon, check it, and check the [markets] tables."""
    data = {a.name: a.prepare(case, horizon) for a in case.assets}
    for a in case.assets:
        a.check(horizon, data[a.name])
    for name in case.markets:
        if name not in MARKET_RULES:
            raise InputError(case.label, f"markets.{name}", f"unknown market; known: {', '.join(MARKET_RULES)}")
        MARKET_RULES[name](case)  # a misspelt key is an error even when the product is not offered
    return data


@dataclass
class SolveInfo:
    status: str
    seconds: float
    mip_gap: float
    termination: str = ""
    proven_optimal: bool = True  # converged within the default [solver] mip_gap (solver_warnings)
    requested_gap: float = 0.0
    objective: float | None = None  # the objective's value at the solution, as the solver computed it (EUR)

    def as_dict(self) -> dict:
        return {"status": self.status, "seconds": round(self.seconds, 4), "mip_gap": self.mip_gap,
                "proven_optimal": self.proven_optimal}


@dataclass
class PlanResult:
    schedule: pd.DataFrame
    summary: dict
    model: PortfolioModel | None = field(default=None, repr=False)


class PortfolioModel:
    """One site's model on one horizon. Build once; ``solve()`` as often as parameters change."""

    def __init__(self, case: Case, horizon: Horizon, spot_eur_per_mwh: np.ndarray | None = None,
                 position_mw: np.ndarray | None = None, adjustments: dict | None = None,
                 reuse: bool = False, data: dict | None = None):
        """``position_mw``: a day-ahead position the grid flow must follow (MW per MTU, + = bought),
        up to ``adjustments``: {market: (buy price, sell price, allowed MTUs or None)} in EUR/MWh,
        e.g. intraday trades or imbalance settled at its price (see ``Site``).

        ``reuse``: keep the compiled model between solves (``bidopt.solver.Persistent``), for models
        that are re-solved after ``refresh`` or ``set_prices``. ``data``: the assets' prepared data
        (``prepare_assets``) when the caller has it already."""
        self._position, self._adjustments, self.reuse = position_mw, adjustments, reuse
        try:
            self._init(case, horizon, spot_eur_per_mwh, data)
        except InputError as e:
            raise _named(e, case) from None

    def _init(self, case: Case, horizon: Horizon, spot_eur_per_mwh: np.ndarray | None, data: dict | None) -> None:
        self.case = case
        self.horizon = horizon
        if spot_eur_per_mwh is None:
            spot_eur_per_mwh = sources.dayahead_prices(case, horizon.index)
        self.data = prepare_assets(case, horizon) if data is None else data
        self._spot0 = np.asarray(spot_eur_per_mwh, dtype=float)
        self.m = self._build(self._spot0)
        self.solve_info: SolveInfo | None = None

    def refresh(self, case: Case, horizon: Horizon, spot_eur_per_mwh: np.ndarray | None = None,
                data: dict | None = None, stack: dict | None = None) -> bool:
        """Make this built model the model of another horizon of the same length and MTU (the next
        day, say) and of ``case`` (e.g. with the state a backtest carries): the assets and tariffs
        set their Params to the new data. False, leaving the model unusable until refreshed again
        or rebuilt, when the new horizon or case needs another structure (other binaries, shapes,
        FCR, a held position...); the caller then builds a new model (``Replanner`` does). ``data``,
        ``stack``: the assets' prepared data and the price stack, if the caller has them already."""
        if horizon.n != self.horizon.n or horizon.dt_h != self.horizon.dt_h:
            return False
        try:
            if spot_eur_per_mwh is None:
                spot_eur_per_mwh = sources.dayahead_prices(case, horizon.index)
            data = prepare_assets(case, horizon) if data is None else data
            if not self.site.refresh(case, horizon, data, np.asarray(spot_eur_per_mwh, dtype=float), stack):
                return False
        except InputError as e:
            raise _named(e, case) from None
        self.case, self.horizon, self.data = case, horizon, data
        self.solve_info = None
        return True

    def set_prices(self, spot_eur_per_mwh: np.ndarray) -> None:
        """New day-ahead prices on the built model. Rebuilds only if the prices call for binaries the
        model was built without (e.g. the first negative price)."""
        if not self.site.set_prices(spot_eur_per_mwh):
            self.m = self._build(np.asarray(spot_eur_per_mwh, dtype=float))
        self.solve_info = None

    # --- build ------------------------------------------------------------------------------------
    def _build(self, spot: np.ndarray) -> pyo.ConcreteModel:
        m = pyo.ConcreteModel(name=self.case.case.name)
        m.T = pyo.RangeSet(0, self.horizon.n - 1)
        self.site = Site(self.case, self.horizon, self.data, spot, m, m.T,
                         position_mw=self._position, adjustments=self._adjustments)
        m.objective = pyo.Objective(expr=m.value_eur, sense=pyo.maximize)
        self.persistent = solver.Persistent(m) if self.reuse else None
        return m

    @property
    def is_mip(self) -> bool:
        return has_integers(self.m)

    # --- solve ------------------------------------------------------------------------------------
    def solve(self, time_limit_s: float | None = None, mip_gap: float | None = None) -> SolveInfo:
        self.solve_info = solve_model(self, time_limit_s, mip_gap)
        self.site.net_grid_flows()
        return self.solve_info

    # --- results ----------------------------------------------------------------------------------
    def schedule(self) -> pd.DataFrame:
        return self.site.schedule()

    def revenue(self) -> dict[str, float]:
        """Result per stream in EUR (costs negative); sums to the objective."""
        return self.site.revenue()

    def summary(self) -> dict:
        rev = self.revenue()
        return {
            **summary_header(self.case, self.horizon),
            "objective_eur": float(sum(rev.values())),
            "revenue_eur": rev,
            "solver": self.solve_info.as_dict() if self.solve_info else None,
            "binaries": self.is_mip,
        }


def _named(e: InputError, case: Case) -> InputError:
    """A rate or field of the case itself names the case file."""
    return InputError(case.label, e.field, e.message) if e.file is None else e


def plan(case: Case, day, mtu_minutes: int | None = None, time_limit_s: float | None = None,
         mip_gap: float | None = None, replanner=None, soc: dict | None = None, peaks_so_far=None) -> PlanResult:
    """Plan one local delivery day with the case's prices as known.

    ``day``: 'YYYY-MM-DD', a date, a timestamp or a ``bidopt.time.DeliveryDay`` (parsed here once).
    ``replanner`` (``bidopt.Replanner``): take the model from it, a model built for an earlier plan
    of the same shape refreshed with this day's numbers, instead of building one (the same result;
    for callers that plan many times in one process). ``res.model`` is then the replanner's and is
    reused by its next plan.

    ``soc`` ({storage asset: MWh}) and ``peaks_so_far`` (this month's hourly imports so far: a CSV
    path, a Series or weighted MW values): start from today's state instead of the case file's
    (``bidopt.state.with_state``).

    The summary adds to the contract keys ``initial_state``, ``tariff_eur`` (the ``tariff`` stream
    per tariff), ``monthly_charges``, ``lot_rounding`` (the planned net position in 0.1 MW lots),
    ``warnings`` and ``notes`` (``bidopt.notes``)."""
    from bidopt import notes
    from bidopt.state import initial_state, with_state

    check_solver_options(time_limit_s, mip_gap)
    day = btime.DeliveryDay.parse(day, case.case.timezone)  # the edge: parsed once, typed below
    if soc or peaks_so_far is not None:
        case = with_state(case, day, soc=soc, peaks_so_far=peaks_so_far)
    mtu = case.case.mtu_minutes if mtu_minutes is None else btime.check_mtu(mtu_minutes, allowed=btime.PLAN_MTU_MINUTES)
    horizon = Horizon(day.index(mtu), case.case.timezone)
    pm = PortfolioModel(case, horizon) if replanner is None else replanner.model(case, horizon)
    pm.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    schedule = pm.schedule()
    net = (schedule["grid_import_mw"] - schedule["grid_export_mw"]).to_numpy(float)
    lot_mw = notes.exchange_lot_mw()
    lot = notes.lot_rounding(net, net - notes.to_lots(net, lot_mw), horizon.dt_h, lot_mw)
    summary = {**pm.summary(), "initial_state": initial_state(case),
               **notes.site_summary([pm.site], lot=lot, lot_what="planned net grid energy")}
    summary["warnings"] = solver_warnings(pm.solve_info) + summary["warnings"]
    return PlanResult(schedule=schedule, summary=summary, model=pm)
