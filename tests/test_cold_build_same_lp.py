"""The cheaper cold build (issue 15 item 2) hands HiGHS the LP the rule-based build handed it.

The battery, the grid connection and the day-ahead term build their rows over lists of data
objects (no index lookups), their Params with domain ``Any`` and the prices in bulk; the compile
reads Params and expressions without variables in Python. Here the rule-based builders as they
were before that change (kept below as the reference) and today's are each compiled, and the arrays
HiGHS gets must be equal to the bit: costs, bounds, the matrix, integrality, offset and sense, in
the same column and row order. Batteries are drawn (powers, efficiencies, SoC window, final target,
cycle limit, binaries), on LP and MIP days, DST days, 15- and 60-minute MTUs; the demo site adds
PV, load and tariffs. A solved pair must also give the same schedule bytes and revenue.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import solver
from bidopt import time as btime
from bidopt.assets import grid
from bidopt.assets.battery import Battery, _day_members
from bidopt.horizon import Horizon
from bidopt.markets import dayahead
from tests.conftest import REPO, battery_case

# --- the reference: the rule-based builders before the cheaper build ------------------------------


def rule_battery_build(self, blk, T, horizon, data, use_binaries):
    self.same_build(blk, use_binaries, *self.NUMBERS)
    dt_h = horizon.dt_h
    for name in ("p_charge", "p_discharge", "soc_lo", "soc_hi", "soc_initial", "eta_c", "eta_d", "degradation"):
        blk.add_component(name, pyo.Param(mutable=True, initialize=0.0))
    blk.charge = pyo.Var(T, bounds=lambda b, t: (0, b.p_charge))
    blk.discharge = pyo.Var(T, bounds=lambda b, t: (0, b.p_discharge))
    blk.soc = pyo.Var(T, bounds=lambda b, t: (b.soc_lo, b.soc_hi))
    eta_c, eta_d = blk.eta_c, blk.eta_d
    first = T.first()
    blk.activation_mwh = pyo.Expression(T, initialize=0.0)

    def dynamics(b, t):
        prev = b.soc_initial if t == first else b.soc[T.prev(t)]
        return b.soc[t] == prev + (eta_c * b.charge[t] - b.discharge[t] / eta_d) * dt_h - b.activation_mwh[t]

    blk.soc_dynamics = pyo.Constraint(T, rule=dynamics)
    if self.soc_final_mwh is not None:
        blk.soc_final = pyo.Param(initialize=0.0, mutable=True)
        blk.soc_final_target = pyo.Constraint(expr=blk.soc[T.last()] >= blk.soc_final)
    if use_binaries:
        blk.charging = pyo.Var(T, within=pyo.Binary)
        blk.charge_only_when_charging = pyo.Constraint(T, rule=lambda b, t: b.charge[t] <= b.p_charge * b.charging[t])
        blk.discharge_only_when_not_charging = pyo.Constraint(
            T, rule=lambda b, t: b.discharge[t] <= b.p_discharge * (1 - b.charging[t]))
    if self.max_cycles_per_day is not None:
        blk.day_members = _day_members(T, horizon)
        members = blk.day_members
        blk.DAYS = pyo.RangeSet(0, len(members) - 1)
        blk.cycle_limit = pyo.Param(mutable=True, initialize=0.0)
        blk.daily_cycle_limit = pyo.Constraint(
            blk.DAYS, rule=lambda b, i: sum(b.discharge[t] for t in members[i]) * dt_h <= b.cycle_limit)
    blk.net_mw = pyo.Expression(T, rule=lambda b, t: b.charge[t] - b.discharge[t])
    blk.cost_eur = pyo.Expression(expr=blk.degradation * dt_h * sum(blk.charge[t] + blk.discharge[t] for t in T))
    self._set_numbers(blk)


def rule_grid_build(blk, T, import_limit_mw, export_limit_mw, net_mw, use_binaries):
    blk.import_mw = pyo.Var(T, bounds=(0, import_limit_mw))
    blk.export_mw = pyo.Var(T, bounds=(0, export_limit_mw))
    blk.balance = pyo.Constraint(T, rule=lambda b, t: b.import_mw[t] - b.export_mw[t] == net_mw(t))
    if use_binaries:
        blk.importing = pyo.Var(T, within=pyo.Binary)
        blk.import_only_when_importing = pyo.Constraint(
            T, rule=lambda b, t: b.import_mw[t] <= import_limit_mw * b.importing[t])
        blk.export_only_when_not_importing = pyo.Constraint(
            T, rule=lambda b, t: b.export_mw[t] <= export_limit_mw * (1 - b.importing[t]))


def rule_dayahead_build(blk, T, dt_h, grid_blk, import_cost, export_value):
    blk.import_cost = pyo.Param(T, initialize=dict(enumerate(import_cost)), mutable=True)
    blk.export_value = pyo.Param(T, initialize=dict(enumerate(export_value)), mutable=True)
    blk.value_eur = pyo.Expression(expr=sum(
        (blk.export_value[t] * grid_blk.export_mw[t] - blk.import_cost[t] * grid_blk.import_mw[t]) * dt_h for t in T))


# --- comparing ------------------------------------------------------------------------------------

ARRAYS = ("cost", "col_lower", "col_upper", "integer", "row_lower", "row_upper", "start", "index", "value")


def compiled(case, day: str, mtu: int, rule_based: bool):
    h = Horizon(btime.delivery_index(dt.date.fromisoformat(day), mtu, case.case.timezone), case.case.timezone)
    with pytest.MonkeyPatch.context() as mp:
        if rule_based:
            mp.setattr(Battery, "build", rule_battery_build)
            mp.setattr(grid, "build", rule_grid_build)
            mp.setattr(dayahead, "build", rule_dayahead_build)
        pm = bidopt.PortfolioModel(case, h)
    return pm, solver.compile_model(pm.m)


def assert_same_lp(a, b) -> None:
    for name in ARRAYS:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert (float(a.offset).hex(), a.maximize) == (float(b.offset).hex(), b.maximize)
    assert [v.name for v in a.columns] == [v.name for v in b.columns]
    assert [c.name for c in a.rows] == [c.name for c in b.rows]


def same_lp(case, day: str, mtu: int, solve: bool = False) -> bidopt.PortfolioModel:
    pm_rule, mm_rule = compiled(case, day, mtu, rule_based=True)
    pm_now, mm_now = compiled(case, day, mtu, rule_based=False)
    assert_same_lp(mm_rule, mm_now)
    if solve:
        pm_rule.solve()
        pm_now.solve()
        assert pm_rule.schedule().to_csv() == pm_now.schedule().to_csv()
        assert pm_rule.revenue() == pm_now.revenue()
    return pm_now


def test_the_reference_can_tell_another_lp_apart():
    """The comparison fails on an LP that differs in one coefficient's last bit."""
    case = bidopt.case_from_dict(battery_case())
    _, a = compiled(case, "2024-01-17", 60, rule_based=True)
    _, b = compiled(case, "2024-01-17", 60, rule_based=True)
    assert_same_lp(a, b)
    b.value = b.value.copy()
    b.value[5] = np.nextafter(b.value[5], np.inf)
    with pytest.raises(AssertionError, match="value"):
        assert_same_lp(a, b)


@pytest.mark.parametrize("day", ["2024-01-17", "2024-08-27", "2024-03-31", "2024-10-27"])
@pytest.mark.parametrize("mtu", [15, 60])
def test_demo_site_same_lp_schedule_and_money(day, mtu):
    """The demo site (battery, PV, load, peak and energy tariffs), LP and MIP days, both DST days."""
    case = bidopt.load_case(REPO / "cases" / "demo")
    pm = same_lp(case, day, mtu, solve=True)
    assert pm.horizon.n == {"2024-03-31": 23, "2024-10-27": 25}.get(day, 24) * 60 // mtu  # DST days are 23 h, 25 h


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    power=st.sampled_from([0.5, 1.0, 2.0]),
    energy=st.sampled_from([1.0, 2.0, 4.5]),
    eta_c=st.floats(0.8, 1.0), eta_d=st.floats(0.8, 1.0),
    soc_min=st.sampled_from([0.0, 0.3]), final=st.booleans(),
    cycles=st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0])),
    degradation=st.sampled_from([0.0, 2.5]), exclusive=st.sampled_from(["auto", True, False]),
    day=st.sampled_from(["2024-01-17", "2024-08-27", "2024-03-31", "2024-10-27"]),
    mtu=st.sampled_from([15, 60]),
)
def test_drawn_batteries_same_lp(power, energy, eta_c, eta_d, soc_min, final, cycles, degradation, exclusive, day, mtu):
    bat = dict(power_mw=power, energy_mwh=energy, charge_efficiency=eta_c, discharge_efficiency=eta_d,
               soc_min_mwh=soc_min, soc_initial_mwh=(soc_min + energy) / 2,
               soc_final_mwh=(soc_min + energy) / 2 if final else None, max_cycles_per_day=cycles,
               degradation_eur_per_mwh=degradation, exclusive=exclusive)
    same_lp(bidopt.case_from_dict(battery_case(**bat)), day, mtu)


def test_a_drawn_battery_solves_to_the_same_schedule():
    bat = dict(charge_efficiency=0.93, discharge_efficiency=0.97, max_cycles_per_day=1.0, degradation_eur_per_mwh=2.0)
    same_lp(bidopt.case_from_dict(battery_case(**bat)), "2024-10-27", 15, solve=True)
