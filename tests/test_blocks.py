"""Block orders: the bidding model's block choice against an independent price-taker clearing."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bidopt
from bidopt import time as btime
from bidopt.bids import blocks
from bidopt.bids.blocks import BlockCandidate
from bidopt.bids.contracts import dayahead_product
from bidopt.bids.dayahead import bid, curve_for
from bidopt.bids.export import empty_orders
from bidopt.bids.orders import Block, BlockPeriod, Curve, CurveOrder, CurvePoint
from bidopt.bids.rules import ExchangeRules, validate
from bidopt.bids.stochastic import BiddingModel
from bidopt.horizon import Horizon
from bidopt.markets import clearing
from tests.conftest import REPO

DAY = "2024-03-14"  # 24 h, CET: MTU t is local hour t


def battery_case(blocks_=(), **bidding):
    return bidopt.case_from_dict({
        "case": {"zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": "synthetic"},
        "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0},
        "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0, "soc_initial_mwh": 2.0}],
        "bidding": {"blocks": list(blocks_), **bidding},
    })


def scenarios():
    """A: peak 18-19; B: peak 20-21 (18-19 just below the value of keeping the energy);
    C: flat 150 over 17-20; D: flat; E: high all evening. Hours 2-5 are cheap."""
    base = np.full(24, 30.0)
    base[2:6] = 10.0
    a, b, c, d, e = (base.copy() for _ in range(5))
    a[18], a[19] = 100, 400
    b[18], b[19], b[20], b[21] = 120, 125, 300, 300
    c[17:21] = 150
    e[17:23] = [180, 200, 210, 260, 250, 90]
    return np.array([a, b, c, d, e])


def cube(prices, probs=None):
    coords = {} if probs is None else {"probability": ("scenario", list(probs))}
    return xr.DataArray(np.asarray(prices, float), dims=("scenario", "time"), coords=coords)


PROBS = [0.3, 0.3, 0.2, 0.1, 0.1]
EVE = {"name": "eve", "side": "sell", "start_hour": 18, "end_hour": 20, "max_volume_mw": 1.0}


def _empty(bm, area):
    day, mtu = bm.horizon.first_day, int(round(bm.horizon.dt_h * 60))
    return empty_orders(dayahead_product(day, mtu), day, area=area)


def unrounded_orders(bm, area="SE3"):
    """The model's orders without lot/tick rounding: curves through the model's points (flat
    outside) and the submitted blocks with their exact volumes."""
    o = _empty(bm, area)
    curves = [Curve(contract_id=c.contract_id, curve_points=[CurvePoint(price=p, volume=v) for p, v in bm.curves()[t]])
              for t, c in enumerate(o.contracts)]
    o.curve_orders = [CurveOrder(auction_id=o.auction_id, portfolio="p", area_code=area, curves=curves)]
    o.block_orders, o.linked_exclusive_group_orders = blocks.block_orders(bm, o, "p", area, rounded=False)
    return o


def rounded_orders(bm, area="SE3"):
    """What ``bid`` exports, for a model solved outside ``bid``."""
    rules = ExchangeRules()
    o = _empty(bm, area)
    lo, hi = rules.price_limits(bm.horizon.first_day)
    o.curve_orders = [CurveOrder(auction_id=o.auction_id, portfolio="p", area_code=area,
                                 curves=[curve_for(c.contract_id, bm.curves()[t], lo, hi, rules)
                                         for t, c in enumerate(o.contracts)])]
    o.block_orders, o.linked_exclusive_group_orders = blocks.block_orders(bm, o, "p", area, rules)
    return o


def all_blocks(orders):
    return [b for o in [*orders.block_orders, *orders.linked_exclusive_group_orders] for b in o.blocks]


def assert_clearing_matches_model(bm, prices):
    """For every scenario: the model's block acceptance equals clearing.clear_blocks on the exported
    blocks, and the cleared position of all orders (unrounded) equals the site's grid position."""
    exact = unrounded_orders(bm)
    ids = [c.contract_id for c in exact.contracts]
    mtu = {cid: t for t, cid in enumerate(ids)}
    model_acc = bm.block_model.acceptance()
    model_mw = bm.block_model.accepted_mw()
    for s in range(prices.shape[0]):
        ratio = clearing.clear_blocks(all_blocks(exact), mtu, prices[s])
        for name, r in ratio.items():
            assert r == model_acc[name][s], (name, s)
        for b in bm.block_model.blocks:
            if b.name not in ratio:
                assert model_acc[b.name][s] == 0  # not submitted
        sched = bm.sites[s].schedule()
        net = (sched.grid_import_mw - sched.grid_export_mw).to_numpy()
        pos = clearing.cleared_position(exact, dict(zip(ids, prices[s], strict=True)))
        np.testing.assert_allclose([pos[c] for c in ids], net, atol=1e-6)
        block_only = np.zeros(len(ids))
        for b in all_blocks(exact):
            for p in b.periods:
                block_only[mtu[p.contract_id]] += ratio[b.name] * p.volume
        np.testing.assert_allclose(block_only, model_mw[s], atol=1e-6)


def solved_model(cands, prices, probs=PROBS, submit=None):
    """A bidding model with block candidates, optionally with submit decisions fixed."""
    case = battery_case()
    h = Horizon(btime.delivery_index(DAY, 60), btime.STOCKHOLM)
    bm = BiddingModel(case, h, cube(prices, probs), blocks=[BlockCandidate(**c) for c in cands])
    for name, z in (submit or {}).items():
        bm.m.blocks.submit[name].fix(z)
    bm.solve()
    return bm


# ---------------------------------------------------------------------------------------------------
# (a) a profitable evening sell block, and the model equals the clearing


def test_profitable_evening_sell_block_is_submitted_and_clears_as_modelled():
    prices, probs = scenarios()[:4], [0.3, 0.3, 0.2, 0.2]  # A, B, C, D
    without = bid(battery_case(), DAY, scenarios=cube(prices, probs))
    b = bid(battery_case([EVE]), DAY, scenarios=cube(prices, probs))
    assert without.orders.block_orders == []
    assert b.summary["objective_eur"] > without.summary["objective_eur"] + 1.0  # blocks beat curves here
    (order,) = b.orders.block_orders
    (blk,) = order.blocks
    avg = prices[:, 18:20].mean(axis=1)
    assert blk.price == pytest.approx(round(float(np.dot(probs, avg)), 2))  # "expected"
    assert [p.contract_id for p in blk.periods] == [c.contract_id for c in b.orders.contracts[18:20]]
    assert all(p.volume < 0 for p in blk.periods)  # sell
    bm = b.result.model
    assert list(bm.block_model.acceptance()["eve"]) == list((avg >= blk.price).astype(float))
    assert bm.block_model.acceptance()["eve"][0] == 1 and bm.block_model.acceptance()["eve"][1] == 0
    assert_clearing_matches_model(bm, prices)
    # the rounded export clears to the same acceptance at each scenario's prices
    ids = [c.contract_id for c in b.orders.contracts]
    for s in range(len(prices)):
        r = clearing.clear_blocks(all_blocks(b.orders), {c: t for t, c in enumerate(ids)}, prices[s])
        assert r["eve"] == bm.block_model.acceptance()["eve"][s]
    assert validate(b.orders) == []


def test_profile_and_curtailable_blocks_clear_as_modelled():
    prices = scenarios()
    cands = [{**EVE, "name": "prof", "kind": "profile", "start_hour": 17, "end_hour": 21},
             {**EVE, "name": "curt", "kind": "curtailable", "minimum_acceptance_ratio": 0.4, "start_hour": 20,
              "end_hour": 22, "price_eur_per_mwh": 150}]
    bm = solved_model(cands, prices, submit={"prof": 1, "curt": 1})
    assert_clearing_matches_model(bm, prices)
    o = rounded_orders(bm)
    assert validate(o) == []
    by = {b.name: b for b in all_blocks(o)}
    assert by["curt"].minimum_acceptance_ratio == 0.4 and len(by["prof"].periods) == 4
    assert len({p.volume for p in by["curt"].periods}) == 1


# ---------------------------------------------------------------------------------------------------
# (b) linked blocks


def test_linked_child_only_accepted_with_its_parent():
    prices = scenarios()
    child = {"name": "late", "side": "sell", "start_hour": 20, "end_hour": 22, "max_volume_mw": 1.0,
             "price_eur_per_mwh": 200, "linked_to": "eve"}
    bm = solved_model([EVE, child], prices, submit={"eve": 1, "late": 1})
    acc = bm.block_model.acceptance()
    own = {b.name: b.in_money for b in bm.block_model.blocks}
    assert own["late"][1] and not acc["eve"][1]  # B: the child's own rule holds, its parent is rejected...
    assert acc["late"][1] == 0  # ...so it is rejected
    assert acc["late"][4] == 1 and acc["eve"][4] == 1  # E: both accepted
    assert all(acc["late"] <= acc["eve"])
    assert_clearing_matches_model(bm, prices)
    o = rounded_orders(bm)
    assert validate(o) == [] and {b.name: b.linked_to for b in all_blocks(o)} == {"eve": None, "late": "eve"}
    # a child can only be submitted with its parent
    bm2 = solved_model([EVE, child], prices, submit={"eve": 0})
    assert (bm2.m.blocks.submit["late"].value or 0) < 0.5


def test_clear_blocks_link_rule_by_hand():
    mtu = {"c1": 0, "c2": 1}
    parent = Block(name="p", price=100, minimum_acceptance_ratio=1, periods=[BlockPeriod(contract_id="c1", volume=-1)])
    child = Block(name="k", price=10, minimum_acceptance_ratio=1, linked_to="p",
                  periods=[BlockPeriod(contract_id="c2", volume=-1)])
    assert clearing.clear_blocks([parent, child], mtu, [50, 60]) == {"p": 0.0, "k": 0.0}
    assert clearing.clear_blocks([parent, child], mtu, [100, 60]) == {"p": 1.0, "k": 1.0}  # equality: accepted
    with pytest.raises(ValueError, match="not among"):
        clearing.clear_blocks([child], mtu, [50, 60])


# ---------------------------------------------------------------------------------------------------
# (c) exclusive groups (plain and linked)


EG = [
    {"name": "ga", "side": "sell", "start_hour": 18, "end_hour": 20, "max_volume_mw": 1.0,
     "price_eur_per_mwh": 100, "exclusive_group": "G"},
    {"name": "gb", "side": "sell", "start_hour": 20, "end_hour": 22, "max_volume_mw": 0.8,
     "price_eur_per_mwh": 100, "exclusive_group": "G"},
    {"name": "gc", "side": "sell", "start_hour": 17, "end_hour": 21, "max_volume_mw": 0.5,
     "price_eur_per_mwh": 120, "exclusive_group": "G"},
    {"name": "ga_child", "side": "sell", "start_hour": 21, "end_hour": 22, "max_volume_mw": 0.5,
     "price_eur_per_mwh": 50, "linked_to": "ga", "exclusive_group": "G"},
    {"name": "h1", "side": "buy", "start_hour": 2, "end_hour": 6, "max_volume_mw": 1.0,
     "price_eur_per_mwh": 20, "exclusive_group": "H"},
    {"name": "h2", "side": "buy", "start_hour": 3, "end_hour": 5, "kind": "profile", "max_volume_mw": 1.0,
     "price_eur_per_mwh": 15, "exclusive_group": "H"},
]


def test_exclusive_group_accepts_at_most_the_best_block():
    prices = scenarios()
    prices[3, 2:6] = [40, 12, 11, 40]  # D: h2 (3-5) in the money, h1 (2-6, avg 25.75) not
    prices[0, 21] = 60  # A: ga wins and its child (21-22 at 50) is in the money
    bm = solved_model(EG, prices, submit={b["name"]: 1 for b in EG})
    acc = bm.block_model.acceptance()
    o = unrounded_orders(bm)
    ids = [c.contract_id for c in o.contracts]
    mtu = {c: t for t, c in enumerate(ids)}
    blocks_ = {b.name: b for b in all_blocks(o)}
    for s in range(len(prices)):
        for group in ("G", "H"):
            members = [b for b in blocks_.values() if b.exclusive_group == group and b.linked_to is None]
            accepted = [b.name for b in members if acc[b.name][s]]
            assert len(accepted) <= 1
            # the best surplus per MWh times periods among the in-the-money members (computed here)
            best, best_score = None, None
            for b in members:
                avg = np.mean([prices[s, mtu[p.contract_id]] for p in b.periods])
                surplus = (avg - b.price) if b.periods[0].volume < 0 else (b.price - avg)
                if surplus >= 0 and (best_score is None or surplus * len(b.periods) > best_score):
                    best, best_score = b.name, surplus * len(b.periods)
            assert accepted == ([best] if best else [])
    assert acc["ga"].any() and acc["gb"].any() and acc["h1"].any() and acc["h2"].any()
    assert all(acc["ga_child"] <= acc["ga"]) and acc["ga_child"][0] == 1
    assert_clearing_matches_model(bm, prices)
    r = rounded_orders(bm)
    assert validate(r) == []
    assert len(r.linked_exclusive_group_orders) == 1  # G has a linked child
    assert {b.name for b in r.linked_exclusive_group_orders[0].blocks} == {"ga", "gb", "gc", "ga_child"}
    assert {b.name for o in r.block_orders for b in o.blocks} == {"h1", "h2"}


def test_exclusive_group_through_bid_clears_as_modelled():
    prices = scenarios()
    b = bid(battery_case(EG[:3]), DAY, scenarios=cube(prices, PROBS))
    assert validate(b.orders) == []
    bm = b.result.model
    acc = bm.block_model.acceptance()
    assert all(sum(acc[n][s] for n in ("ga", "gb", "gc")) <= 1 for s in range(len(prices)))
    assert_clearing_matches_model(bm, prices)


# ---------------------------------------------------------------------------------------------------
# (d) never in the money, limits


def test_block_never_in_the_money_is_not_submitted():
    prices = scenarios()
    cands = [{**EVE, "name": "dear", "price_eur_per_mwh": 3000},
             {"name": "cheap_buy", "side": "buy", "start_hour": 1, "end_hour": 4, "max_volume_mw": 1.0,
              "price_eur_per_mwh": -400}]
    b = bid(battery_case(cands), DAY, scenarios=cube(prices, PROBS))
    assert b.orders.block_orders == [] and b.orders.linked_exclusive_group_orders == []
    assert bm_submit(b) == {"dear": 0, "cheap_buy": 0}
    assert bm_fixed(b) == {"dear": True, "cheap_buy": True}


def bm_submit(b):
    s = b.result.model.m.blocks.submit
    return {j: round(s[j].value or 0) for j in s}


def bm_fixed(b):
    s = b.result.model.m.blocks.submit
    return {j: s[j].fixed for j in s}


def test_max_blocks_per_kind():
    prices = scenarios()
    b = bid(battery_case([EVE], max_blocks={"regular": 0}), DAY, scenarios=cube(prices, PROBS))
    assert b.orders.block_orders == []


def test_blocks_on_quarter_hours_pass_the_rules():
    case = bidopt.load_case(REPO / "cases" / "demo")
    day = "2025-11-12"
    h = Horizon(btime.delivery_index(day, 15), btime.STOCKHOLM)
    rng = np.random.default_rng(0)
    base = 60 + 40 * np.sin(np.linspace(0, 2 * np.pi, h.n))
    prices = base[None, :] + rng.normal(0, 15, size=(4, h.n))
    cands = [{**EVE, "kind": "profile"}, {**EVE, "name": "eg1", "exclusive_group": "X", "price_eur_per_mwh": 0},
             {**EVE, "name": "eg2", "start_hour": 17, "exclusive_group": "X", "price_eur_per_mwh": 0}]
    bm = BiddingModel(case, h, cube(prices), blocks=[BlockCandidate(**c) for c in cands])
    for name in ("eve", "eg1", "eg2"):
        bm.m.blocks.submit[name].fix(1)
    bm.solve()
    assert_clearing_matches_model(bm, prices)
    o = rounded_orders(bm)
    assert validate(o) == []
    assert {b.name: len(b.periods) for b in all_blocks(o)} == {"eve": 8, "eg1": 8, "eg2": 12}
    # the demo case through bid: whatever it submits is valid
    case.bidding = {"blocks": cands}
    assert validate(bid(case, day, mtu_minutes=15, scenarios=cube(prices), mip_gap=1e-4).orders) == []


# ---------------------------------------------------------------------------------------------------
# (f) bad candidates


@pytest.mark.parametrize("cands,field", [
    ([{**EVE, "kind": "curtailable", "minimum_acceptance_ratio": 0}], "bidding.blocks.0.minimum_acceptance_ratio"),
    ([{**EVE, "minimum_acceptance_ratio": 0.5}], "bidding.blocks.0.minimum_acceptance_ratio"),
    ([EVE, {**EVE, "name": "kid", "linked_to": "nobody"}], "bidding.blocks.1.linked_to"),
    ([EVE, {**EVE}], "bidding.blocks.1.name"),
    ([{**EVE, "max_volume_mw": 1000}], "bidding.blocks.0.max_volume_mw"),
    ([{**EVE, "end_hour": 17}], "bidding.blocks.0.end_hour"),
    ([{**EVE, "price_eur_per_mwh": 5000}], "bidding.blocks.0.price_eur_per_mwh"),
    ([{**EVE, "side": "both"}], "bidding.blocks.0.side"),
    ([{**EVE, "exclusive_group": "G"}, {**EVE, "name": "k", "linked_to": "eve", "exclusive_group": "H"}],
     "bidding.blocks.1.exclusive_group"),
])
def test_bad_candidates_are_input_errors_naming_the_field(cands, field):
    with pytest.raises(bidopt.InputError) as e:  # a candidate's own fields: when the case loads
        bid(battery_case(cands), DAY, scenarios=cube(scenarios()))
    assert e.value.field == field


def test_bad_max_blocks_is_input_error():
    with pytest.raises(bidopt.InputError) as e:
        bid(battery_case([EVE], max_blocks={"regular": -1}), DAY, scenarios=cube(scenarios()))
    assert e.value.field.startswith("bidding.max_blocks")


# ---------------------------------------------------------------------------------------------------
# clearing.py on its own


def test_clear_curve_nord_pool_example():
    pts = [(-500, 50), (50, 50), (50.1, 0), (55, 0), (55.1, -10), (60, -10), (60.1, -30), (4000, -30)]
    assert clearing.clear_curve(pts, 55.05) == pytest.approx(-5)
    assert clearing.clear_curve(pts, -600) == 50 and clearing.clear_curve(pts, 5000) == -30
    assert clearing.clear_curve([CurvePoint(price=10, volume=2)], 99) == 2


def test_clear_blocks_exclusive_group_by_hand():
    mtu = {"c1": 0, "c2": 1, "c3": 2}

    def blk(name, price, vol, cids, group="G"):
        return Block(name=name, price=price, minimum_acceptance_ratio=1, exclusive_group=group,
                     periods=[BlockPeriod(contract_id=c, volume=vol) for c in cids])

    a = blk("a", 40, -1, ["c1", "c2"])  # surplus (avg 55 - 40) * 2 = 30
    b = blk("b", 50, -5, ["c2", "c3"])  # surplus (avg 65 - 50) * 2 = 30: tie, a is listed first
    c = blk("c", 70, +1, ["c1"])  # buy: surplus 70 - 50 = 20
    assert clearing.clear_blocks([a, b, c], mtu, [50, 60, 70]) == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert clearing.clear_blocks([b, a, c], mtu, [50, 60, 70]) == {"b": 1.0, "a": 0.0, "c": 0.0}
    assert clearing.clear_blocks([a, b, c], mtu, [50, 30, 70])["c"] == 1.0  # a and b out of the money
