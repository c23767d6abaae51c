"""Fleet bidding (``bidopt.bids.fleet``): sites solved one by one, curves summed into one order."""

from __future__ import annotations

import numpy as np
import pytest

import bidopt
from bidopt import time as btime
from bidopt.bids.dayahead import price_scenarios, settings
from bidopt.bids.fleet import fleet_bid, price_points, sum_curves
from bidopt.bids.rules import validate
from bidopt.data.demo_sites import home_site_data, home_sites
from bidopt.errors import BidoptError, InputError
from bidopt.forecast.scenarios import make_scenarios
from bidopt.horizon import Horizon

DAY = "2024-01-17"


@pytest.fixture(scope="module")
def sites():
    cases = home_sites(6, seed=11, day=DAY)
    kinds = {a.kind for c in cases for a in c.assets}
    assert {"battery", "heat_pump", "ev"} <= kinds  # the mix the fleet is about
    return cases


@pytest.fixture(scope="module")
def cube(sites):
    return price_scenarios(sites[0], DAY, 60, settings(sites[0]))


@pytest.fixture(scope="module")
def fleet(sites, cube):
    return fleet_bid(sites, DAY, scenarios=cube, chunk=4)


def test_home_sites_are_reproducible():
    a, b = home_sites(5, seed=3), home_sites(8, seed=3)
    assert [c.model_dump() for c in a] == [c.model_dump() for c in b[:5]]  # site i does not depend on n
    assert [c.model_dump() for c in a] != [c.model_dump() for c in home_sites(5, seed=4)]
    assert len({c.case.name for c in b}) == 8


def test_fleet_curve_is_the_sum_of_the_sites_own_bids(sites, cube, fleet):
    own = [bidopt.bid(c, DAY, scenarios=cube) for c in sites]
    assert len(fleet.curves) == len(btime.delivery_index(DAY, 60))
    for t, curve in fleet.curves.items():
        summed = sum_curves([b.result.curves[t] for b in own])
        assert [p for p, _ in curve] == pytest.approx([p for p, _ in summed], abs=0)
        assert [v for _, v in curve] == pytest.approx([v for _, v in summed], abs=1e-9)
        for i, b in enumerate(own):  # and every site's stored curve is its own bid's
            np.testing.assert_allclose(fleet.site_curves(i)[t], b.result.curves[t], rtol=0, atol=1e-9)
    objectives = [b.summary["objective_eur"] for b in own]
    assert fleet.sites.objective_eur.to_numpy() == pytest.approx(objectives, rel=1e-9, abs=1e-9)
    assert fleet.summary["objective_eur"] == pytest.approx(sum(objectives))
    imp = sum(b.schedule.grid_import_mw.to_numpy() for b in own)
    exp = sum(b.schedule.grid_export_mw.to_numpy() for b in own)
    assert fleet.schedule.grid_import_mw.to_numpy() == pytest.approx(imp, abs=1e-9)
    assert fleet.schedule.grid_export_mw.to_numpy() == pytest.approx(exp, abs=1e-9)
    assert list(fleet.sites.site) == [c.case.name for c in sites]


def test_fleet_curves_are_monotone_and_the_orders_valid(fleet, cube):
    pts = price_points(cube)
    for t, curve in fleet.curves.items():
        assert [p for p, _ in curve] == list(pts[t])  # the shared scenario prices are the points
        vols = np.array([v for _, v in curve])
        assert np.all(np.diff(vols) <= 1e-9)
    assert validate(fleet.orders) == []
    (order,) = fleet.orders.curve_orders
    assert order.area_code == "SE3" and order.portfolio == "bidopt"
    assert all(2 <= len(c.curve_points) <= 200 for c in order.curves)


def test_sum_curves_interpolates_at_the_union_of_points():
    a = [(10.0, 2.0), (20.0, 0.0)]
    b = [(15.0, 1.0), (30.0, -1.0)]
    np.testing.assert_allclose(sum_curves([a, b]), [(10, 3.0), (15, 2.0), (20, 0 + 1 - 2 / 3), (30, -1.0)])


def test_dask_workers_give_identical_orders(sites, cube, fleet):
    pytest.importorskip("distributed")
    two = fleet_bid(sites[:4], DAY, scenarios=cube, workers=2, chunk=2)
    one = fleet_bid(sites[:4], DAY, scenarios=cube, workers=1)
    assert two.orders_dict == one.orders_dict
    assert two.curves == one.curves
    assert np.array_equal(two.site_volumes, fleet.site_volumes[:4])


def test_identical_scenarios_give_the_sum_of_deterministic_plans(sites):
    index = btime.delivery_index(DAY, 60)
    spot = np.linspace(40.0, 160.0, len(index)) + 30 * np.sin(np.arange(len(index)))
    cube = make_scenarios(np.tile(spot, (3, 1)), index)
    fb = fleet_bid(sites, DAY, scenarios=cube)
    net = np.zeros(len(index))
    objective = 0.0
    for c in sites:
        pm = bidopt.PortfolioModel(c, Horizon(index, c.case.timezone), spot_eur_per_mwh=spot)
        pm.solve()
        s = pm.schedule()
        net += (s.grid_import_mw - s.grid_export_mw).to_numpy()
        objective += pm.summary()["objective_eur"]
    for t, curve in fb.curves.items():
        assert len(curve) == 1  # one price, one point: a price-independent volume
        assert curve[0][1] == pytest.approx(net[t], abs=1e-7)
    for t, c in enumerate(fb.orders.curve_orders[0].curves):
        vols = {p.volume for p in c.curve_points}
        assert len(vols) == 1 and vols.pop() == pytest.approx(round(net[t], 1), abs=1e-9)  # in 0.1 MW lots
    assert fb.summary["objective_eur"] == pytest.approx(objective, rel=1e-7)


def test_mixed_zones_are_an_input_error(cube):
    cases = home_sites(2, seed=1) + home_sites(1, seed=2, zone="SE4")
    cases[2] = cases[2].model_copy(update={"case": cases[2].case.model_copy(update={"name": "north"})})
    with pytest.raises(InputError, match="SE4.*SE3"):
        fleet_bid(cases, DAY, scenarios=cube)


def test_blocks_duplicate_names_and_a_missing_fcr_file_are_input_errors(cube):
    base = home_sites(1, seed=5)[0]
    data = home_site_data(0, seed=5)
    data["case"]["name"] = "blocky"
    data["bidding"]["blocks"] = [{"name": "b1", "side": "sell", "start_hour": 8, "end_hour": 10,
                                  "max_volume_mw": 0.1}]
    with pytest.raises(InputError, match="block orders are not supported"):
        fleet_bid([base, bidopt.case_from_dict(data)], DAY, scenarios=cube)
    data = home_site_data(0, seed=5)
    data["case"]["name"] = "fcr_site"
    data["prices"]["fcr_n"] = "fcr.csv"  # FCR is pooled (tests/test_fleet_pool.py); its file must exist
    with pytest.raises(InputError, match="fcr_site"):
        fleet_bid([base, bidopt.case_from_dict(data)], DAY, scenarios=cube)
    with pytest.raises(InputError, match="used twice"):
        fleet_bid([base, base], DAY, scenarios=cube)


def test_an_infeasible_site_is_named(cube):
    sites = home_sites(2, seed=8)
    data = home_site_data(1, seed=8)
    data["case"]["name"] = "too_small_fuse"
    data["grid"]["import_limit_mw"] = 0.0005  # the house alone needs more than this
    bad = bidopt.case_from_dict(data)
    with pytest.raises(BidoptError, match="too_small_fuse"):
        fleet_bid([sites[0], bad], DAY, scenarios=cube)
