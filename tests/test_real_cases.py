"""The real-data cases in cases/: each loads, plans an ordinary day and a DST day, and stays physical.

The cases read ``../../../shared/data`` relative to their case files, i.e. ``shared/data`` beside the
repository (as CI checks it out), so these tests skip when that folder is absent. About 15 s in all.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import bidopt

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # what the cases' relative paths reach
CASES = REPO / "cases"
TOL = 1e-6

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not found at {SHARED}"),
]


def _plan(name: str, day: str, n_mtu: int):
    case = bidopt.load_case(CASES / name)
    res = bidopt.plan(case, day)
    s, summ = res.schedule, res.summary
    assert len(s) == n_mtu == summ["n_mtu"]
    assert summ["solver"]["status"] == "optimal"
    assert math.isfinite(summ["objective_eur"])
    assert summ["objective_eur"] == pytest.approx(sum(summ["revenue_eur"].values()), abs=1e-6)
    assert s.notna().all().all()
    g = case.grid
    assert (s.grid_import_mw <= g.import_limit_mw + TOL).all() and (s.grid_import_mw >= -TOL).all()
    assert (s.grid_export_mw <= g.export_limit_mw + TOL).all() and (s.grid_export_mw >= -TOL).all()
    return case, res, s


def _battery_sane(s, soc_max=2.0, soc_start=1.0, power=1.0, eta=0.95):
    soc = s.bess_soc_mwh.to_numpy()
    assert soc.min() >= -TOL and soc.max() <= soc_max + TOL
    assert soc[-1] >= soc_start - TOL  # soc_final_mwh
    assert (s.bess_charge_mw <= power + TOL).all() and (s.bess_discharge_mw <= power + TOL).all()
    prev = np.r_[soc_start, soc[:-1]]  # hourly MTUs: the SoC moves by eta_c * charge - discharge / eta_d
    np.testing.assert_allclose(soc - prev, eta * s.bess_charge_mw - s.bess_discharge_mw / eta, atol=1e-6)


# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "n_mtu"), [("2022-08-15", 24), ("2022-03-27", 23)])
def test_se3_battery_2022(day, n_mtu):
    _, res, s = _plan("se3_battery_2022", day, n_mtu)
    _battery_sane(s)
    net = s.grid_import_mw - s.grid_export_mw
    np.testing.assert_allclose(net, s.bess_charge_mw - s.bess_discharge_mw, atol=1e-6)
    rev = res.summary["revenue_eur"]
    assert rev["dayahead"] > 0 and rev["tax"] == 0 and rev["tariff"] == 0  # pure arbitrage, no tax
    assert res.summary["objective_eur"] > 0  # never worse than idling (idle is feasible and earns 0)


def test_se3_battery_2022_bids_in_january_from_2021_history():
    """[bidding] needs 36 days before D: for early January they come from 2021 in the same file."""
    case = bidopt.load_case(CASES / "se3_battery_2022")
    b = bidopt.bid(case, "2022-01-03")
    assert b.summary["solver"]["status"] == "optimal"
    assert b.scenarios.sizes["scenario"] == 10
    assert len(b.orders_dict["curveOrders"]) == 1


@pytest.mark.parametrize(("day", "n_mtu"), [("2021-06-01", 24), ("2021-10-31", 25)])
def test_se4_battery_fcr_2021(day, n_mtu):
    _, res, s = _plan("se4_battery_fcr_2021", day, n_mtu)
    _battery_sane(s)
    up = 1.34 * s.bess_fcr_n_mw + s.bess_fcr_d_up_mw  # LER power headroom upwards
    assert (s.bess_discharge_mw - s.bess_charge_mw + up <= 1.0 + TOL).all()
    assert (s.bess_soc_mwh >= s.bess_fcr_n_mw + s.bess_fcr_d_up_mw / 3 - TOL).all()
    assert res.summary["revenue_eur"]["fcr_d_up"] > 0


@pytest.mark.parametrize(("day", "n_mtu"), [("2019-02-11", 24), ("2019-10-27", 25)])
def test_se3_apartment_heatpump_pv(day, n_mtu):
    """2019-02-11 also has an 8 h hole in the temperature file, bridged by the case's max_gap_h."""
    from bidopt.data.local_time import read_orebro_heat_demand_mw

    case, res, s = _plan("se3_apartment_heatpump_pv", day, n_mtu)
    hp = next(a for a in case.assets if a.name == "hp")
    store, tank = s.hp_storage_mwh_heat.to_numpy(), s.hp_hot_water_mwh_heat.to_numpy()
    assert store.min() >= -TOL and store.max() <= hp.storage_mwh_heat + TOL
    assert tank.min() >= -TOL and tank.max() <= hp.hot_water_tank_mwh_heat + TOL
    assert store[-1] >= hp.storage_start - TOL and tank[-1] >= hp.hot_water_start - TOL
    assert (s.hp_power_mw >= -TOL).all() and (s.hp_power_mw <= hp.max_power_mw + hp.aux_max_mw + TOL).all()
    assert (s.hp_aux_mw <= hp.aux_max_mw + TOL).all()
    # the measured demand (space heat + hot water) of the Örebro file is what the plan serves
    heat_file = SHARED / "loads" / "afry_vetelangden_orebro_heat_dhw_kW_2019-2020.csv"
    demand = read_orebro_heat_demand_mw(heat_file)
    np.testing.assert_allclose(s.hp_heat_demand_mw, demand.loc[s.index].sum(axis=1), atol=1e-9)
    assert s.hp_outdoor_temp_c.between(-30, 40).all()
    assert (s.roof_power_mw <= TOL).all() and (s.roof_power_mw >= -0.04 - TOL).all()
    net = s.grid_import_mw - s.grid_export_mw
    np.testing.assert_allclose(net, s.hp_power_mw + s.roof_power_mw, atol=1e-6)
    rev = res.summary["revenue_eur"]
    assert rev["tax"] < 0  # energy tax and VAT are paid


@pytest.mark.parametrize(("day", "n_mtu"), [("2019-11-01", 24), ("2019-03-31", 23)])
def test_ev_garage(day, n_mtu):
    case, res, s = _plan("ev_garage", day, n_mtu)
    ev = next(a for a in case.assets if a.name == "garage")
    r = ev.session_results(res.model.site.asset_blocks["garage"])
    assert len(r) >= 5  # OSL_S has about 13 sessions a day
    assert r["met"].all()  # every car gets its energy (share inside the day) before it leaves
    np.testing.assert_allclose(r.energy_delivered_mwh, r.energy_required_mwh, atol=1e-6)
    assert (s.garage_power_mw >= -TOL).all() and (s.garage_power_mw <= ev.garage_max_power_mw + TOL).all()
    assert (s.garage_power_mw <= s.garage_available_mw + TOL).all()
    net = s.grid_import_mw - s.grid_export_mw
    np.testing.assert_allclose(net, s.garage_power_mw + s.common_power_mw, atol=1e-6)
    assert "shortfall" not in res.summary["revenue_eur"] or res.summary["revenue_eur"]["shortfall"] == 0
