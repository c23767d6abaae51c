"""Warnings when a site is small for the 0.1 MW day-ahead lot (issue 12, item 9): in the plan and bid
summaries (with the figures), in a backtest's summary (days counted, imbalance share) and at the top
of report.html; none for the 1 MW battery demo site."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bidopt
from bidopt import notes
from bidopt.case import case_from_dict
from tests.conftest import REPO

DAY = "2024-03-14"


def small_site() -> bidopt.Case:
    """A 0.05 MW (synthetic, peak) load and nothing else: every MTU's volume is below half a lot."""
    return case_from_dict({
        "case": {"name": "small", "zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": "synthetic"},
        "grid": {"import_limit_mw": 0.2, "export_limit_mw": 0.0},
        "assets": [{"kind": "load", "name": "flat", "profile": "synthetic", "peak_mw": 0.05}],
    })


def test_plan_of_a_small_site_warns_with_the_figures():
    res = bidopt.plan(small_site(), DAY)
    energy = float(res.schedule["flat_power_mw"].sum())  # hourly MTUs: MW = MWh
    assert 0.3 < energy < 1.3 and (res.schedule["grid_import_mw"] < 0.05).all()
    lot = res.summary["lot_rounding"]
    assert lot["lot_mw"] == pytest.approx(0.1)
    assert lot["expected_mwh"] == pytest.approx(energy, rel=1e-9)
    assert lot["not_in_lots_mwh"] == pytest.approx(energy, rel=1e-9)  # nothing rounds up to one lot
    assert lot["share"] == pytest.approx(1.0)
    [w] = res.summary["warnings"]
    assert w.startswith("lot: ") and f"{energy:.2f} of {energy:.2f} MWh (100 %)" in w and "0.1 MW" in w


def test_bid_of_a_small_site_warns_and_its_orders_carry_nothing():
    b = bidopt.bid(small_site(), DAY)
    lot = b.summary["lot_rounding"]
    assert lot["share"] == pytest.approx(1.0)
    assert lot["expected_mwh"] == pytest.approx(float(b.schedule["flat_power_mw"].sum()), rel=1e-6)
    vols = [p.volume for c in b.orders.curve_orders[0].curves for p in c.curve_points]
    assert not any(vols)  # every volume rounded to 0 lots: the energy is not in the orders
    assert len(b.summary["warnings"]) == 1 and "of the expected day-ahead energy" in b.summary["warnings"][0]


def test_demo_battery_site_has_no_lot_warning():
    case = bidopt.load_case(REPO / "cases" / "demo")
    res = bidopt.plan(case, DAY)
    assert res.summary["warnings"] == []
    assert 0 < res.summary["lot_rounding"]["share"] < notes.LOT_WARNING_SHARE
    b = bidopt.bid(case, DAY)
    assert b.summary["warnings"] == []
    assert 0 < b.summary["lot_rounding"]["share"] < notes.LOT_WARNING_SHARE


def test_lot_rounding_is_probability_weighted():
    net = np.array([[0.04, 0.5], [0.2, 0.2]])
    gap = net - notes.to_lots(net, 0.1)
    info = notes.lot_rounding(net, gap, 1.0, 0.1, prob=[0.25, 0.75])
    assert info["expected_mwh"] == pytest.approx(0.25 * 0.54 + 0.75 * 0.4)
    assert info["not_in_lots_mwh"] == pytest.approx(0.25 * 0.04)
    assert notes.lot_warning(info, "x") is None
    assert notes.lot_warning({**info, "share": 0.3}, "x").startswith("lot: ")


def test_backtest_of_a_small_site_warns_in_summary_and_at_the_top_of_the_report(tmp_path):
    bt = bidopt.backtest(small_site(), "2024-03-13", "2024-03-14", out_dir=tmp_path)
    ws = bt.summary["warnings"]
    assert any(w.startswith("lot: on 2 of 2 days") for w in ws), ws
    [imb] = [w for w in ws if w.startswith("imbalance: ") and "metered net grid energy" in w]
    ts = bt.timeseries
    metered = float((ts["grid_import_mw"] - ts["grid_export_mw"]).abs().sum())
    imbalance = float(ts["imbalance_mw"].abs().sum())
    assert imbalance == pytest.approx(metered, rel=1e-6)  # nothing was bought: all of it is imbalance
    assert f"{imbalance:.2f} MWh settled as imbalance against {metered:.2f} MWh" in imb
    assert notes.LOT_DAY not in ws  # the per-day markers are counted, not listed
    assert json.loads((tmp_path / "summary.json").read_text())["warnings"] == ws
    html = (tmp_path / "report.html").read_text()
    assert html.index("<h2>Warnings</h2>") < html.index("<h2>Key figures</h2>")
    assert "lot: on 2 of 2 days" in html


def test_imbalance_warning_threshold():
    assert notes.imbalance_warning(0.2, 1.0) is None
    assert notes.imbalance_warning(2.37, 3.07).startswith("imbalance: 2.37 MWh settled as imbalance against 3.07 MWh")
    assert "(all)" in notes.imbalance_warning(1.0, 0.0)
