"""Day-ahead curves a trader would submit (``bidopt.bids.tails``): price-responsive where the
scenarios disagree, no flexible buying above the ceiling nor selling below the floor, must-run
volumes kept at every price, the user's price caps, and orders that pass the exchange rules."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bidopt
from bidopt.bids.dayahead import bid
from bidopt.bids.rules import ExchangeRules, validate
from bidopt.bids.tails import is_price_responsive, tail_prices, with_tails
from bidopt.errors import InputError
from tests.conftest import battery_case

DAY = "2024-03-14"  # 24 MTUs
LO, HI = ExchangeRules().price_limits(DAY)


def _cube(rows) -> xr.DataArray:
    return xr.DataArray(np.asarray(rows, float), dims=("scenario", "time"))


def _disagreeing_cube() -> xr.DataArray:
    """Three scenarios, each cheap (20) in other hours and dear (150) in other hours: they disagree
    on which hours to charge and discharge in."""
    rows = np.full((3, 24), 60.0)
    for s, (cheap, dear) in enumerate([((2, 3), (8, 9)), ((5, 6), (17, 18)), ((12, 13), (20, 21))]):
        rows[s, list(cheap)] = 20.0 + s
        rows[s, list(dear)] = 150.0 + s
    return _cube(rows)


def _volume_at(curve, price: float) -> float:
    ps = [q.price for q in curve.curve_points]
    vs = [q.volume for q in curve.curve_points]
    return float(np.interp(price, ps, vs))


def _bid(data, cube, **bidding):
    if bidding:
        data = {**data, "bidding": bidding}
    b = bid(bidopt.case_from_dict(data), DAY, scenarios=cube)
    assert validate(b.orders) == []  # the written orders pass the exchange rules
    return b


def test_curves_respond_to_price_when_scenarios_disagree_on_the_hour_order():
    b = _bid(battery_case(), _disagreeing_cube())
    model = b.result.curves
    inside = [t for t, pts in model.items() if is_price_responsive(v for _, v in pts)]
    assert inside, "scenarios disagree on the cheap hours: some curve must change volume between its points"
    curves = b.orders.curve_orders[0].curves
    assert b.summary["curves_total"] == 24
    assert b.summary["price_responsive_curves"] == sum(is_price_responsive(q.volume for q in c.curve_points)
                                                       for c in curves)
    assert b.summary["price_responsive_curves"] >= len(inside)


def test_battery_only_buys_nothing_at_the_price_cap_and_sells_nothing_at_the_floor():
    b = _bid(battery_case(), _disagreeing_cube())
    curves = b.orders.curve_orders[0].curves
    assert max(_volume_at(c, HI) for c in curves) <= 1e-9  # no buying at +4000
    assert min(_volume_at(c, LO) for c in curves) >= -1e-9  # no selling at -500
    # the battery does buy somewhere (the tails cut a real volume, not an empty curve)
    assert max(_volume_at(c, 20.0) for c in curves) >= 0.5
    # and the ceiling sits below the highest scenario price of the day: nobody buys at 151 either
    assert max(_volume_at(c, 151.0) for c in curves) <= 1e-9


def test_must_run_load_keeps_its_volume_at_every_price():
    data = battery_case()
    data["assets"] = [{"kind": "load", "name": "base", "peak_mw": 1.0}]  # inflexible only
    b = _bid(data, _disagreeing_cube())
    load = b.result.model.must_run
    assert load.min() > 0.1
    for t, c in enumerate(b.orders.curve_orders[0].curves):
        for price in (LO, 0.0, 60.0, 1000.0, HI):
            assert _volume_at(c, price) == pytest.approx(round(load[t], 1), abs=1e-9)


def test_with_a_battery_the_load_stays_and_only_the_battery_part_falls_away():
    data = battery_case()
    data["assets"].append({"kind": "load", "name": "base", "peak_mw": 1.0})
    b = _bid(data, _disagreeing_cube())
    load = b.result.model.must_run
    for t, c in enumerate(b.orders.curve_orders[0].curves):
        lot = 0.1 + 1e-9
        assert _volume_at(c, HI) <= load[t] + lot  # above the ceiling: at most the load
        assert _volume_at(c, LO) >= load[t] - lot  # below the floor: at least the load (no battery sale)


def test_price_caps_bind_inside_the_scenario_range():
    b = _bid(battery_case(), _disagreeing_cube(), max_buy_price_eur_per_mwh=21.5, min_sell_price_eur_per_mwh=151.5)
    net = np.array([site.schedule().grid_import_mw - site.schedule().grid_export_mw for site in b.result.model.sites])
    prices = b.result.model.prices
    assert (net[prices > 21.5] <= 1e-6).all()  # no scenario buys above the cap
    assert (net[prices < 151.5] >= -1e-6).all()  # none sells below the floor
    curves = b.orders.curve_orders[0].curves
    assert max(_volume_at(c, 22.0) for c in curves) <= 1e-9
    assert min(_volume_at(c, 151.0) for c in curves) >= -1e-9


def test_tail_rule_on_hand_numbers():
    # one MTU, two scenarios; a battery with 0.9 round trip; the flexible part buys at 30 in
    # scenario 0 and sells at 100 in scenario 1
    prices = np.array([[30.0, 50.0, 80.0], [40.0, 60.0, 100.0]])
    flex = np.array([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0]])
    points = [np.unique(prices[:, t]) for t in range(3)]
    floor, ceil = tail_prices(prices, points, flex, 0.9, (LO, HI))
    # MTU 0: later max is 100 (scenario 1) * 0.9 = 90 > B_s = 40; later min 50 / 0.9 vs A_s = 80
    # and 50 / 0.9 < A_s = 80 for the floor: 55.6 lies inside the MTU's points, so the floor sits 1 below them
    assert ceil[0] == pytest.approx(90.0) and floor[0] == pytest.approx(29.0)
    # MTU 2: nothing later; the ceiling is the dearest purchase (40) but at least the MTU's top + 1
    assert ceil[2] == pytest.approx(101.0) and floor[2] == pytest.approx(79.0)
    pts = [(30.0, 1.0), (40.0, 0.5)]
    assert with_tails(pts, 20.0, 90.0, 0.2) == [(20.0, 1.0), (30.0, 1.0), (40.0, 0.5), (90.0, 0.2)]
    assert with_tails([(30.0, -1.0)], 20.0, 90.0, 0.2) == [(20.0, 0.2), (30.0, -1.0), (90.0, -1.0)]
    # 200 points at most with the two ends at the price limits: the floor goes first, then the ceiling
    assert with_tails(pts, 20.0, 90.0, 0.2, max_points=5) == [(30.0, 1.0), (40.0, 0.5), (90.0, 0.2)]
    assert with_tails(pts, 20.0, 90.0, 0.2, max_points=4) == pts


@pytest.mark.parametrize("value", [5000.0, -600.0])
def test_price_caps_outside_the_exchange_limits_are_input_errors(value):
    data = {**battery_case(), "bidding": {"max_buy_price_eur_per_mwh": value}}
    with pytest.raises(InputError, match="bidding.max_buy_price_eur_per_mwh"):
        bid(bidopt.case_from_dict(data), DAY, scenarios=_disagreeing_cube())


def test_without_tails_the_curve_is_flat_beyond_the_scenario_prices():
    # the `expected` backtest strategy's price-independent volumes (bid(..., tails=False))
    b = bid(bidopt.case_from_dict(battery_case()), DAY, scenarios=_disagreeing_cube(), tails=False)
    for t, c in enumerate(b.orders.curve_orders[0].curves):
        pts = b.result.curves[t]
        assert _volume_at(c, HI) == pytest.approx(round(pts[-1][1], 1), abs=1e-9)
        assert _volume_at(c, LO) == pytest.approx(round(pts[0][1], 1), abs=1e-9)
    assert max(_volume_at(c, HI) for c in b.orders.curve_orders[0].curves) > 0.5  # what the tails prevent


def test_curtailable_pv_sells_at_any_positive_price_and_stops_below_zero():
    data = battery_case()
    data["assets"] = [{"kind": "load", "name": "base", "peak_mw": 0.2},
                      {"kind": "pv", "name": "roof", "capacity_mw": 1.5, "curtailable": True}]
    b = _bid(data, _disagreeing_cube())  # every scenario price is positive
    mr = b.result.model.must_run_by_sign
    sunny = [t for t in range(24) if mr.neg[t] - mr.pos[t] > 0.3]  # PV output above 0.3 MW
    assert sunny
    curves = b.orders.curve_orders[0].curves
    for t in sunny:
        assert _volume_at(curves[t], 0.5) <= mr.pos[t] + 0.1 + 1e-9  # the surplus still sells at 0.5
        assert _volume_at(curves[t], LO) >= mr.neg[t] - 0.1 - 1e-9  # at -500 PV is curtailed: no sale
        assert _volume_at(curves[t], -2.0) >= mr.neg[t] - 0.1 - 1e-9


def test_flat_curve_is_the_expected_price_plan_closed_by_tails():
    """``[bidding] curve = "flat"``: one volume per MTU at every scenario price; for a battery alone
    (value linear in the price) its expected result is the plan on the scenarios' mean price, and
    the tails still stop buying above the ceiling and selling below the floor."""
    cube = _disagreeing_cube()
    flat = _bid(battery_case(), cube, curve="flat")
    assert all(len({round(v, 9) for _, v in pts}) == 1 for pts in flat.result.curves.values())
    mean_plan = _bid(battery_case(), _cube([np.asarray(cube.values).mean(axis=0)]))
    assert flat.summary["objective_eur"] == pytest.approx(mean_plan.summary["objective_eur"], rel=1e-7, abs=1e-6)
    responsive = _bid(battery_case(), cube)  # the price-responsive curve does at least as well in expectation
    assert responsive.summary["objective_eur"] >= flat.summary["objective_eur"] - 1e-6
    curves = flat.orders.curve_orders[0].curves
    assert max(_volume_at(c, HI) for c in curves) <= 1e-9 and min(_volume_at(c, LO) for c in curves) >= -1e-9
    assert flat.summary["price_responsive_curves"] > 0  # the tails respond, the middle does not


def test_tail_points_can_be_switched_off_in_the_case():
    """``[bidding] tail_points = false``: the model's volumes hold to the price limits (the planned day
    clears at any price), as a trader may prefer where whole-day price shifts make tails misfire."""
    b = _bid(battery_case(), _disagreeing_cube(), curve="flat", tail_points=False)
    curves = b.orders.curve_orders[0].curves
    planned = [c.curve_points[0].volume for c in curves]
    assert any(abs(v) > 0.5 for v in planned)
    for c, v in zip(curves, planned, strict=True):
        assert _volume_at(c, HI) == pytest.approx(v) and _volume_at(c, LO) == pytest.approx(v)
    assert b.summary["price_responsive_curves"] == 0
