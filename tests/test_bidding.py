"""The stochastic bidding model: curves, their relation to the deterministic plan, clearing, risk."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bidopt
from bidopt.bids.stochastic import BiddingModel, RiskSettings, curve_volumes
from bidopt.data import synthetic
from bidopt.horizon import Horizon
from tests.conftest import REPO

DAY = "2024-03-14"


@pytest.fixture(scope="module")
def demo():
    return bidopt.load_case(REPO / "cases" / "demo")


def cube(values, probs=None):
    coords = {} if probs is None else {"probability": ("scenario", list(probs))}
    return xr.DataArray(np.asarray(values, float), dims=("scenario", "time"), coords=coords)


def _scenarios(h, n=8, seed=1):
    base = synthetic.dayahead_prices(h.index, seed=7).to_numpy()
    rng = np.random.default_rng(seed)
    return base[None, :] * rng.lognormal(0, 0.35, size=(n, h.n)) + rng.normal(0, 5, size=(n, 1))


@pytest.mark.parametrize("mtu", [60, 15])
def test_identical_scenarios_give_the_deterministic_plan(demo, mtu):
    h = Horizon.for_days(DAY, mtu_minutes=mtu)
    plan = bidopt.plan(demo, DAY, mtu_minutes=mtu)
    base = plan.schedule.price_eur_per_mwh.to_numpy()
    bm = BiddingModel(demo, h, cube(np.tile(base, (4, 1))))
    bm.solve()
    res = bm.result()
    assert res.summary["objective_eur"] == pytest.approx(plan.summary["objective_eur"], rel=1e-7)
    net = (plan.schedule.grid_import_mw - plan.schedule.grid_export_mw).to_numpy()
    for t, pts in res.curves.items():
        assert len(pts) == 1  # one price point: a price-independent volume
        assert pts[0][1] == pytest.approx(net[t], abs=1e-6)


def test_curves_are_monotone_and_clear_to_each_scenarios_dispatch(demo):
    h = Horizon.for_days(DAY)
    prices = _scenarios(h)
    bm = BiddingModel(demo, h, cube(prices))
    bm.solve()
    res = bm.result()
    for pts in res.curves.values():
        vols = [v for _, v in pts]
        assert all(a >= b - 1e-9 for a, b in zip(vols, vols[1:], strict=False))
    for s, site in enumerate(bm.sites):
        sched = site.schedule()
        net = (sched.grid_import_mw - sched.grid_export_mw).to_numpy()
        np.testing.assert_allclose(curve_volumes(res, prices[s]), net, atol=1e-6)


def test_stochastic_beats_or_equals_mean_price_plan_in_expectation(demo):
    """The curve optimises the expected result, so on the scenarios themselves it can't do worse than
    the plan made for the mean price, executed as price-independent volumes."""
    h = Horizon.for_days(DAY)
    prices = _scenarios(h, n=10)
    bm = BiddingModel(demo, h, cube(prices))
    bm.solve()
    stochastic = bm.result().summary["objective_eur"]
    mean_plan = bidopt.PortfolioModel(demo, h, spot_eur_per_mwh=prices.mean(axis=0))
    mean_plan.solve()
    s = mean_plan.schedule()
    # evaluate those volumes in every scenario: a bidding model whose curve is pinned to them
    pinned = BiddingModel(demo, h, cube(prices))
    net = (s.grid_import_mw - s.grid_export_mw).to_numpy()
    for (t, k) in pinned.m.TK:
        pinned.m.volume[t, k].fix(net[t])
    pinned.solve()
    assert stochastic >= pinned.result().summary["objective_eur"] - 1e-6


def test_cvar_raises_the_worst_outcomes(demo):
    h = Horizon.for_days(DAY)
    prices = _scenarios(h, n=10, seed=3)
    neutral = BiddingModel(demo, h, cube(prices))
    neutral.solve()
    averse = BiddingModel(demo, h, cube(prices), risk=RiskSettings(beta=5.0, alpha=0.8))
    averse.solve()
    worst = lambda bm: np.sort(bm.scenario_results().value_eur.to_numpy())[:2].mean()  # noqa: E731
    assert worst(averse) >= worst(neutral) - 1e-6
    assert averse.result().summary["objective_eur"] <= neutral.result().summary["objective_eur"] + 1e-6
