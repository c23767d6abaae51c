"""Fleet bids on reused models (``bidopt.bids.fleet_sites.ModelCache``): one built model per site
shape refreshed for the next site of that shape gives exactly the results of a model built per site
(battery + PV homes and heat-pump homes take part; EV homes are built per site)."""

from __future__ import annotations

import numpy as np
import pytest

from bidopt import time as btime
from bidopt.bids import fleet_sites
from bidopt.bids.dayahead import price_scenarios, settings
from bidopt.bids.fleet import fleet_bid
from bidopt.bids.stochastic import BiddingModel
from bidopt.case import case_from_dict
from bidopt.data.demo_sites import home_site_data, home_sites
from bidopt.horizon import Horizon

DAY = "2024-01-17"


def _same(a, b) -> None:
    """Bit-identical per-site results, curves, schedule and orders."""
    assert np.array_equal(a.site_volumes, b.site_volumes)
    assert np.array_equal(a.sites.objective_eur.to_numpy(), b.sites.objective_eur.to_numpy())
    assert np.array_equal(a.sites.binaries.to_numpy(), b.sites.binaries.to_numpy())
    assert a.curves == b.curves
    assert a.schedule.equals(b.schedule)
    assert a.orders_dict == b.orders_dict
    for i in range(len(a.sites)):
        assert a.site_curves(i) == b.site_curves(i)


@pytest.mark.parametrize("seed", [0, 1])  # seed 1: negative scenario prices, battery homes are MIPs
def test_reused_models_give_the_per_site_builds_results(seed):
    cases = home_sites(24, seed=seed, day=DAY)
    cube = price_scenarios(cases[0], DAY, 60, settings(cases[0]))
    fleet_sites.CACHE.models.clear()
    built = fleet_bid(cases, DAY, scenarios=cube, reuse_models=False)
    reused = fleet_bid(cases, DAY, scenarios=cube, chunk=7)
    assert built.summary["models_built"] == 24
    assert reused.summary["models_built"] < 24  # battery homes of one shape share a model
    assert not reused.sites.built.all() and built.sites.built.all()
    for kind in ("battery", "heat_pump"):  # homes of both kinds share models
        homes = [i for i, c in enumerate(cases) if any(a.kind == kind for a in c.assets)]
        assert not reused.sites.built.to_numpy()[homes].all(), kind
    _same(built, reused)
    if seed == 1:
        assert reused.summary["sites_with_binaries"] > 0
    again = fleet_bid(cases, DAY, scenarios=cube)  # every kept model refreshed once more
    assert again.summary["models_built"] < reused.summary["models_built"]
    _same(built, again)


def _battery_home(i: int, **battery) -> object:
    d = home_site_data(i, seed=0, day=DAY)
    d["tariffs"] = home_site_data(0, seed=0, day=DAY)["tariffs"]
    d["grid"] = home_site_data(0, seed=0, day=DAY)["grid"]
    d["assets"][1].update(battery)
    return case_from_dict(d, source=f"battery home {i}")


def test_a_refreshed_bidding_model_equals_a_fresh_build():
    """Another battery home (other sizes, efficiencies, SoC window, cycle limit, profiles) on a kept
    model: the same curves and objective as its own build; another structure is refused."""
    a = _battery_home(0)
    b = _battery_home(4, charge_efficiency=0.9, discharge_efficiency=0.93, max_cycles_per_day=1.5,
                      degradation_eur_per_mwh=7.0)
    assert [x.kind for x in a.assets] == [x.kind for x in b.assets] == ["load", "battery", "pv"]
    cube = price_scenarios(a, DAY, 60, settings(a))
    h = Horizon(btime.delivery_index(DAY, 60, a.case.timezone), a.case.timezone)
    kept = BiddingModel(a, h, cube, reuse=True)
    kept.solve()
    assert kept.refresh(b)
    kept.solve()
    fresh = BiddingModel(b, h, cube)
    fresh.solve()
    assert kept.curves() == fresh.curves()
    assert kept.summary()["objective_eur"] == fresh.summary()["objective_eur"]
    no_target = _battery_home(4, soc_final_mwh=None)
    assert not kept.refresh(no_target)  # a final-SoC target less: another structure
    heat_pump = case_from_dict(home_site_data(1, seed=0, day=DAY))
    assert not BiddingModel(a, h, cube, reuse=True).refresh(heat_pump)

