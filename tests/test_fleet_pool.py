"""Pooled reserve capacity for fleets (``bidopt.bids.fleet_pool``): lots and minimum bid at pool level
(domain notes, case V12: 49 homes x 2 kW offer 0 MW of FCR-D up, 50 offer 0.1 MW, 5 000 offer 10 MW),
each site's share within its own offer, and every site deliverable with its share held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime
from bidopt.bids import fleet_pool
from bidopt.bids.csv_rules import validate_fcr_bids
from bidopt.bids.dayahead import price_scenarios
from bidopt.bids.dayahead import settings as bid_settings
from bidopt.bids.fleet import fleet_bid
from bidopt.data.demo_sites import home_site_data
from bidopt.errors import InfeasibleError
from bidopt.horizon import Horizon
from bidopt.markets import base

DAY = "2024-03-14"
HOME_MW = 0.002  # 2 kW of FCR-D up per house: a 2 kW heating load that may be cut (domain notes 6.5, V12)
FCR_D_UP_EUR = 20.0


def _write(path, col, values):
    idx = btime.delivery_index(DAY, 60)
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), col: values}).to_csv(path, index=False)


def v12_home(tmp_path, i: int, scale: float = 1.0, fcr: dict | None = None):
    """A house whose only flexibility is its 2 kW heating load (``home.csv`` times ``scale``), cut on an
    FCR-D up activation (a curtailable load, not a LER: it reserves exactly what it sells); FCR-D up at
    20 EUR/MW/h; ``fcr``: its ``[markets.fcr]`` table."""
    data = {"case": {"name": f"home_{i:05d}", "zone": "SE3", "mtu_minutes": 60},
            "prices": {"dayahead": "synthetic", "fcr_d_up": "up.csv"},
            "grid": {"import_limit_mw": 0.05, "export_limit_mw": 0.05},  # a 50 kW connection
            "assets": [{"kind": "curtailable_load", "name": "house", "profile": "home.csv",
                        "customer_type": "households", "offer_reserves": True, "scale": scale}],
            "solver": {"threads": 1}, "bidding": {"n_scenarios": 3}, "markets": {"fcr": fcr or {}}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


@pytest.fixture(scope="module")
def v12(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("v12")
    n = len(btime.delivery_index(DAY, 60))
    _write(tmp / "up.csv", "price_eur_per_mw_h", np.full(n, FCR_D_UP_EUR))
    _write(tmp / "home.csv", "load_mw", np.full(n, HOME_MW))
    cases = [v12_home(tmp, i) for i in range(50)]
    cube = price_scenarios(cases[0], DAY, 60, bid_settings(cases[0]))
    return cases, cube, fleet_bid(cases, DAY, scenarios=cube)


def test_v12_fifty_homes_offer_one_pooled_lot(v12):
    cases, _, fb = v12
    bids = fb.fcr_bids
    assert len(bids) == 24 and set(bids["product"]) == {"fcr_d_up"}  # every hour of the day
    np.testing.assert_allclose(bids["volume_mw"].astype(float), 0.1, atol=1e-12)
    assert validate_fcr_bids(bids) == []
    shares = fb.capacity.shares
    assert len(shares) == 50 * 24
    np.testing.assert_allclose(shares["offered_mw"], HOME_MW, atol=1e-12)
    np.testing.assert_allclose(shares["share_mw"], HOME_MW, atol=1e-12)
    s = fb.summary["capacity"]["fcr_d_up"]
    assert s["pooled_mw_h"] == pytest.approx(2.4) and s["rounding_loss_eur"] == pytest.approx(0.0, abs=1e-9)
    assert s["value_pooled_eur"] == pytest.approx(0.1 * FCR_D_UP_EUR * 24)
    # a home alone would round to 0 MW: the pool is what sells
    assert fb.summary["objective_eur"] == pytest.approx(fb.sites.objective_eur.sum())


def _pool_of(fb, cases, rows: np.ndarray):
    """The pool ``fleet_pool.pool_capacity`` makes of the solved offers of sites ``rows`` (by index)."""
    h = Horizon(btime.delivery_index(DAY, 60), cases[0].case.timezone)
    offered = fb.capacity.offer_w * fleet_pool.WATT_MW
    keys = fb.capacity.keys
    price = np.full((len(rows), len(keys)), FCR_D_UP_EUR)
    return fleet_pool.pool_capacity([cases[i % len(cases)] for i in rows], keys, offered[rows % len(cases)], price, h, DAY)


@pytest.mark.parametrize("homes, pooled_mw", [(49, 0.0), (50, 0.1), (5000, 10.0)])
def test_v12_thresholds_at_pool_level(v12, homes, pooled_mw):
    """V12 on the homes' solved offers (2 kW each): 49 below the 0.1 MW minimum bid offer nothing,
    50 one lot, 5 000 (the same homes, 100 times) 10 MW; shares sum to the bid, each within its offer."""
    cases, _, fb = v12
    pool = _pool_of(fb, cases, np.arange(homes))
    vol = pool.fcr_bids()["volume_mw"].to_numpy(float)
    assert len(vol) == (24 if pooled_mw else 0)
    assert (np.abs(vol - pooled_mw) < 1e-12).all()
    per_hour = pool.shares.groupby("hour_start_utc")["share_mw"].sum().to_numpy()
    np.testing.assert_allclose(per_hour, pooled_mw, atol=1e-9)
    assert (pool.shares["share_mw"] <= pool.shares["offered_mw"] + 1e-12).all()


def test_every_v12_home_delivers_its_share(v12):
    """Re-solved with its share held (fixed, not chosen), a home's model stays feasible; held at twice its
    share (more than its 2 kW can cut) it does not: the check can fail."""
    cases, cube, fb = v12
    h = Horizon(btime.delivery_index(DAY, 60), cases[0].case.timezone)
    for i in (0, 49):
        bm = fleet_pool.site_model_with_shares(cases[i], h, cube, fb.capacity.site_shares(i))
        held = [bm.capacities["fcr"].total_mw["fcr_d_up", k].value for k in range(24)]
        np.testing.assert_allclose(held, HOME_MW, atol=1e-12)
    too_much = {k: 2 * v for k, v in fb.capacity.site_shares(0).items()}
    with pytest.raises(InfeasibleError):
        fleet_pool.site_model_with_shares(cases[0], h, cube, too_much)


# --------------------------------------------------------------------------------------------------
# a mixed fleet: battery homes of different sizes selling FCR-N and FCR-D both ways, in 10 kW lots


@pytest.fixture(scope="module")
def batteries(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bat")
    n = len(btime.delivery_index(DAY, 60))
    rng = np.random.default_rng(5)
    for p in ("fcr_n", "fcr_d_up", "fcr_d_down"):
        _write(tmp / f"{p}.csv", "price_eur_per_mw_h", rng.uniform(5.0, 60.0, n).round(2))
    cases = []
    for i in range(0, 12, 2):  # even sites of home_sites are battery + PV homes
        d = home_site_data(i, seed=3, day=DAY, n_scenarios=3)
        d["prices"].update({p: f"{p}.csv" for p in ("fcr_n", "fcr_d_up", "fcr_d_down")})
        d["markets"] = {"fcr": {"step_mw": 0.01, "min_bid_mw": 0.02}}  # pool rules (read from the first site)
        cases.append(bidopt.case_from_dict(d, base_dir=tmp))
    cube = price_scenarios(cases[0], DAY, 60, bid_settings(cases[0]))
    return cases, cube, fleet_bid(cases, DAY, scenarios=cube, chunk=4)


def test_mixed_fleet_pools_each_stream_and_hour(batteries):
    cases, _, fb = batteries
    bids, shares = fb.fcr_bids, fb.capacity.shares
    assert validate_fcr_bids(bids, _rules(0.01, 0.02)) == []
    assert set(bids["product"]) >= {"fcr_d_up", "fcr_d_down"}
    got = shares.groupby(["stream", "hour_start_utc"])["share_mw"].sum()
    want = bids.set_index(["product", "hour_start_utc"])["volume_mw"].astype(float)
    for key, v in got.items():
        assert v == pytest.approx(want.get(key, 0.0), abs=1e-9)
    offered = shares.groupby(["stream", "hour_start_utc"])["offered_mw"].sum()
    assert ((offered - got) >= -1e-9).all() and ((offered - got) < 0.02 + 1e-9).all()  # below one min bid lost
    loss = sum(s["rounding_loss_eur"] for s in fb.summary["capacity"].values())
    assert loss > 0 and fb.summary["objective_eur"] == pytest.approx(fb.sites.objective_eur.sum() - loss)


def test_every_battery_home_delivers_its_share(batteries):
    cases, cube, fb = batteries
    h = Horizon(btime.delivery_index(DAY, 60), cases[0].case.timezone)
    for i, case in enumerate(cases):
        shares = fb.capacity.site_shares(i)
        bm = fleet_pool.site_model_with_shares(case, h, cube, shares)  # raises InfeasibleError if it cannot
        cap = bm.capacities["fcr"]
        for (_, s, hour), v in shares.items():
            assert cap.total_mw[s, hour].value == pytest.approx(v, abs=1e-12)


def _rules(step, min_bid):
    from bidopt.bids.exchange_rules import ExchangeRules

    return ExchangeRules(fcr_step_mw=step, fcr_min_volume_mw=min_bid)


# --------------------------------------------------------------------------------------------------
# any registered capacity product pools through the seam


class ToyReserve(base.Product):
    """Upward capacity at 7 EUR/MW/h, 5 kW lots and a 15 kW minimum bid; offered by every home."""

    name = "toy_pool"
    streams = ("toy_up",)
    order = 16
    has_table = False

    def offered(self, case):
        return ["toy_up"] if case.case.name.startswith("home_") else []

    def provides(self, asset, stream, case=None):
        f = asset.flexibility()
        return f is not None and f.up

    def prices(self, case, stream, horizon):
        return np.full(len(horizon.hour_starts), 7.0)

    def lot_mw(self, case, horizon):
        return 0.005

    def min_bid_mw(self, case, horizon):
        return 0.015

    def headroom(self, cap, blk, T, horizon, case, assets):
        hour_of = horizon.hour_group
        return {a: base.Headroom([cap.cap[a, "toy_up", hour_of[t]] for t in T], None, None, None, None)
                for a in sorted({a for a, _ in cap.AP})}


def test_a_registered_product_pools_with_its_own_lot_and_minimum(tmp_path):
    base.register_product(ToyReserve)
    try:
        n = len(btime.delivery_index(DAY, 60))
        _write(tmp_path / "home.csv", "load_mw", np.full(n, HOME_MW))
        _write(tmp_path / "up.csv", "price_eur_per_mw_h", np.zeros(n))
        cases = [v12_home(tmp_path, i) for i in range(9)]
        cube = price_scenarios(cases[0], DAY, 60, bid_settings(cases[0]))
        for homes, want in ((7, 0.0), (8, 0.015), (9, 0.015)):  # 14 kW < min bid; 16 and 18 kW -> 3 lots
            fb = fleet_bid(cases[:homes], DAY, scenarios=cube)
            b = fb.capacity.product_bids().get("toy_pool", pd.DataFrame(columns=list(base.BID_COLUMNS)))
            assert list(b.columns) == list(base.BID_COLUMNS)
            assert len(b) == (24 if want else 0)
            np.testing.assert_allclose(b["volume_mw"].astype(float), want)
            assert fb.fcr_bids.empty  # FCR-D up at 0 EUR/MW/h: nothing worth holding
    finally:
        base._PRODUCTS.pop("toy_pool")


# --------------------------------------------------------------------------------------------------
# properties of the pooling arithmetic


@st.composite
def fleets(draw):
    """Random fleets: per site a cumulative ladder of K steps (W), a lot and a minimum bid (W)."""
    sites = draw(st.integers(1, 25))
    steps = draw(st.integers(1, 4))
    inc = draw(st.lists(st.lists(st.integers(0, 40_000), min_size=steps, max_size=steps), min_size=sites,
                        max_size=sites))
    lot = draw(st.sampled_from([1, 1_000, 5_000, 100_000]))
    min_bid = lot * draw(st.integers(1, 3))
    return np.cumsum(np.array(inc, dtype=np.int64), axis=1), lot, min_bid


@settings(max_examples=300, deadline=None)
@given(fleets(), st.data())
def test_any_accepted_prefix_is_within_every_sites_offer(fleet, data):
    offers, lot, min_bid = fleet
    pooled = fleet_pool.pool_ladder(offers.sum(axis=0), lot, min_bid)
    assert (pooled <= offers.sum(axis=0)).all() and (pooled % lot == 0).all()
    steps = np.diff(np.concatenate([[0], pooled]))
    assert ((steps == 0) | (steps >= min_bid)).all()  # every bid step at least the minimum bid
    shares = fleet_pool.allocate_ladder(offers, pooled)
    k = data.draw(st.integers(0, offers.shape[1] - 1))  # the auction accepts the ladder up to step k
    assert shares[:, k].sum() == pooled[k]  # shares sum to the pool's accepted volume, exactly
    assert (shares[:, k] >= 0).all() and (shares[:, k] <= offers[:, k]).all()
    assert (shares[:, k] <= offers[:, -1]).all()  # within the top of its ladder: what the site holds


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 0.05, allow_nan=False), min_size=1, max_size=60), st.integers(0, 3))
def test_price_taking_pool_of_random_sites(mw, hours):
    """``pool_capacity`` on random site offers (MW, the same every hour): each bid is whole lots, at
    least the minimum bid, the shares sum to it and none exceeds its site's offer."""
    n_hours = hours + 1
    offered = np.repeat(np.array(mw)[:, None], n_hours, axis=1)
    keys = [fleet_pool.PoolKey("fcr", "fcr_d_up", h) for h in range(n_hours)]
    cases = STUBS[:len(mw)]
    h = Horizon(btime.delivery_index(DAY, 60), "Europe/Stockholm")
    pool = fleet_pool.pool_capacity(cases, keys, offered, np.full(offered.shape, 10.0), h, DAY)
    total = sum(fleet_pool.to_watts(mw))
    lots = total // 100_000
    assert list(pool.bids["volume_mw"]) == pytest.approx([lots * 0.1] * n_hours if lots else [])
    assert pool.share_w.sum(axis=0).tolist() == [lots * 100_000] * n_hours
    assert (pool.share_w <= fleet_pool.to_watts(offered)).all()


STUBS = [bidopt.case_from_dict({"case": {"name": f"s{i}", "zone": "SE3"}, "prices": {"dayahead": "synthetic"},
                                 "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0}}) for i in range(60)]  # sites with FCR's default rules (0.1 MW lot and minimum bid)


@pytest.fixture(scope="module")
def one_kw(tmp_path_factory):
    """A folder with a 1 kW flat heating-load profile and FCR-D up at 20 EUR/MW/h."""
    tmp = tmp_path_factory.mktemp("kw")
    n = len(btime.delivery_index(DAY, 60))
    _write(tmp / "up.csv", "price_eur_per_mw_h", np.full(n, FCR_D_UP_EUR))
    _write(tmp / "home.csv", "load_mw", np.full(n, 0.001))
    return tmp


@settings(max_examples=5, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=4))
def test_random_fleets_share_within_each_homes_physical_headroom(one_kw, kw):
    """Homes with heating loads of random size (kW, all of it may be cut): a home's FCR-D up headroom
    is its load, so its share must be at most that; the shares sum to the pooled bid, whole 10 kW lots
    (lot and minimum bid set to 0.01 MW in [markets.fcr])."""
    cases = [v12_home(one_kw, i, scale=k, fcr={"step_mw": 0.01, "min_bid_mw": 0.01}) for i, k in enumerate(kw)]
    fb = fleet_bid(cases, DAY, scenarios=_cube(cases[0]))
    pool = fb.capacity
    headroom_w = np.array(kw) * 1000
    assert (pool.share_w <= headroom_w[:, None]).all()
    lots = (sum(kw) * 1000 // 10_000) * 10_000
    assert pool.share_w.sum(axis=0).tolist() == [lots] * 24
    assert fb.fcr_bids["volume_mw"].astype(float).tolist() == pytest.approx([lots * 1e-6] * (24 if lots else 0))


_CUBES: dict = {}


def _cube(case):
    if "cube" not in _CUBES:
        _CUBES["cube"] = price_scenarios(case, DAY, 60, bid_settings(case))
    return _CUBES["cube"]
