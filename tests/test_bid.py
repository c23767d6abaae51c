"""`bid`: orders the exchange accepts, FCR bids, and the CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime
from bidopt.bids.dayahead import bid
from bidopt.bids.rules import validate, validate_fcr_bids
from bidopt.cli import main
from tests.conftest import REPO

DEMO = REPO / "cases" / "demo"
QH_DAY = "2025-11-12"


def test_cli_bid_writes_valid_files(tmp_path):
    r = CliRunner().invoke(main, ["bid", str(DEMO), "--day", QH_DAY, "--mtu", "15", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in ("dayahead_orders.json", "fcr_bids.csv", "schedule.csv", "summary.json", "curves.png"):
        assert (tmp_path / name).exists()
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    orders = json.loads((tmp_path / "dayahead_orders.json").read_text())
    assert orders["auctionId"] == "NOR_QH_DA_1-20251111" and len(orders["curveOrders"]) == 1
    assert len(orders["curveOrders"][0]["curves"]) == 96
    for f in ("dayahead_orders.json", "fcr_bids.csv"):
        v = CliRunner().invoke(main, ["validate", str(tmp_path / f)])
        assert v.exit_code == 0, v.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_scenarios"] == 20
    assert summary["curves_total"] == 96 and 0 < summary["price_responsive_curves"] <= 96
    assert summary["objective_eur"] == pytest.approx(sum(summary["revenue_eur"].values()))
    assert len(pd.read_csv(tmp_path / "schedule.csv")) == 96


@pytest.mark.parametrize("table,needle", [("[bidding]\nn_scenario = 5\n", "bidding.n_scenario"),
                                          ("[bidding]\nn_scenarios = 0\n", "bidding.n_scenarios"),
                                          ("[bidding]\nmax_buy_price_eur_per_mwh = 1e6\n",
                                           "bidding.max_buy_price_eur_per_mwh")])
def test_bad_bidding_settings_are_input_errors(tmp_path, table, needle):
    text = (DEMO / "case.toml").read_text().replace("../../models/", f"{REPO}/models/") + "\n" + table
    (tmp_path / "case.toml").write_text(text)
    r = CliRunner().invoke(main, ["bid", str(tmp_path), "--day", "2024-03-14", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_quarter_hour_product_before_go_live_is_input_error(tmp_path):
    r = CliRunner().invoke(main, ["bid", str(DEMO), "--day", "2024-03-14", "--mtu", "15", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "NOR_QH_DA_1" in r.output


def test_identical_scenarios_give_the_plan_volume_and_must_run_tails():
    case = bidopt.load_case(DEMO)
    plan = bidopt.plan(case, "2024-03-14")
    prices = plan.schedule.price_eur_per_mwh.to_numpy()
    cube = xr.DataArray(np.tile(prices, (5, 1)), dims=("scenario", "time"))
    b = bid(case, "2024-03-14", scenarios=cube)
    net = (plan.schedule.grid_import_mw - plan.schedule.grid_export_mw).to_numpy()
    must_run = b.result.model.must_run_by_sign
    for t, curve in enumerate(b.orders.curve_orders[0].curves):
        ps = [p.price for p in curve.curve_points]
        vs = [p.volume for p in curve.curve_points]
        # at the one scenario price: the plan, in 0.1 MW lots
        assert np.interp(prices[t], ps, vs) == pytest.approx(round(net[t], 1), abs=1e-9)
        # beyond the tails only the must-run volume stays (bidopt.bids.tails)
        assert vs[-1] == pytest.approx(round(min(net[t], must_run.at(t, ps[-1])), 1), abs=0.1 + 1e-9)
        assert vs[0] == pytest.approx(round(max(net[t], must_run.at(t, ps[0])), 1), abs=0.1 + 1e-9)


@st.composite
def portfolios(draw):
    day = draw(st.sampled_from(["2024-03-31", "2024-06-12", "2024-10-27"]))
    n = len(btime.delivery_index(day, 60))
    S = draw(st.integers(1, 8))
    base = np.array(draw(st.lists(st.floats(-50, 400), min_size=n, max_size=n)))
    noise = np.array(draw(st.lists(st.floats(-60, 60), min_size=S, max_size=S)))
    prices = base[None, :] + noise[:, None]
    energy = draw(st.floats(0.1, 4.0))
    data = {
        "case": {"zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": "synthetic"},
        "synthetic": {"seed": draw(st.integers(0, 999))},
        "grid": {"import_limit_mw": draw(st.floats(0.5, 5.0)), "export_limit_mw": draw(st.floats(0.5, 5.0))},
        "assets": [
            {"kind": "battery", "name": "b", "power_mw": draw(st.floats(0.05, 2.0)), "energy_mwh": energy,
             "soc_initial_mwh": energy / 2},
            {"kind": "load", "name": "l", "peak_mw": draw(st.floats(0.01, 0.4))},
            {"kind": "pv", "name": "pv", "capacity_mw": draw(st.floats(0.01, 0.5))},
        ],
    }
    return day, data, prices


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_every_bid_passes_the_exchange_rules(drawn):
    day, data, prices = drawn
    case = bidopt.case_from_dict(data)
    b = bid(case, day, scenarios=xr.DataArray(prices, dims=("scenario", "time")))
    assert validate(b.orders) == []
    assert validate_fcr_bids(b.fcr_bids) == []


def test_fcr_bids_for_a_real_fcr_case(shared_data):
    case = bidopt.load_case(REPO / "cases" / "se4_battery_fcr_2021")
    case.prices.dayahead = str(shared_data / "dayahead" / "entsoe_SE4_2021.csv")
    case.prices.fcr_n = case.prices.fcr_d_up = str(
        shared_data / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv")
    case.bidding = {"n_scenarios": 5}
    case.solver.mip_gap = 5e-3
    b = bid(case, "2021-03-10")
    assert set(b.fcr_bids["product"]) <= {"fcr_n", "fcr_d_up"} and (b.fcr_bids.volume_mw <= 1.0 + 1e-9).all()
    assert len(b.fcr_bids[b.fcr_bids["product"] == "fcr_d_up"]) >= 20
    assert validate_fcr_bids(b.fcr_bids) == [] and validate(b.orders) == []
