"""Intraday re-planning: day-ahead result and FCR fixed, gates respected, valid orders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.bids import export
from bidopt.bids.intraday import accepted_fcr, replan
from bidopt.bids.rules import validate
from bidopt.cli import main
from tests.conftest import REPO

DEMO = REPO / "cases" / "demo"
DAY = "2024-08-14"


@pytest.fixture(scope="module")
def position(tmp_path_factory):
    out = tmp_path_factory.mktemp("bid")
    r = CliRunner().invoke(main, ["bid", str(DEMO), "--day", DAY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_ida1_writes_valid_auction_orders(position, tmp_path):
    r = invoke("intraday", DEMO, "--day", DAY, "--position", position, "--stage", "IDA1", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    orders = export.read_orders(tmp_path / "intraday_orders.json")
    assert orders.product == "NOR_IDA1_1" and validate(orders) == []
    assert len(orders.curve_orders[0].curves) == 96
    assert len(pd.read_csv(tmp_path / "schedule.csv")) == 96
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["intraday_price"] == "day-ahead proxy"
    assert summary["objective_eur"] == pytest.approx(sum(summary["revenue_eur"].values()))


def test_ida3_trades_only_the_afternoon(position):
    case = bidopt.load_case(DEMO)
    r = replan(case, DAY, position, "IDA3")
    local_hour = r.trades.index.tz_convert("Europe/Stockholm").hour
    assert (r.trades[local_hour < 12].abs() < 1e-9).all()
    assert len(r.orders.curve_orders[0].curves) == 48  # contracts 12:00-24:00
    assert validate(r.orders) == []


def test_continuous_respects_gate_closure(position):
    case = bidopt.load_case(DEMO)
    now = pd.Timestamp("2024-08-14T08:00Z")
    r = replan(case, DAY, position, "continuous", now=now)
    early = r.trades.index < now + pd.Timedelta(minutes=60)
    assert (r.trades[early].abs() < 1e-9).all()
    if len(r.continuous_orders):
        ts = pd.to_datetime(r.continuous_orders.timestamp_utc)
        assert (ts >= now + pd.Timedelta(minutes=60)).all()
        assert set(r.continuous_orders.side) <= {"buy", "sell"}
        lots = r.continuous_orders.volume_mw / 0.1
        np.testing.assert_allclose(lots, lots.round(), atol=1e-9)


def test_dayahead_position_is_followed_up_to_trades(position):
    case = bidopt.load_case(DEMO)
    r = replan(case, DAY, position, "IDA2")
    s = r.schedule
    net = (s.grid_import_mw - s.grid_export_mw).to_numpy()
    trades = r.model.site.adjustment_trades()
    held = net - trades.sum(axis=1).to_numpy()
    # what is left after trades and imbalance is the cleared day-ahead position, hourly volumes held per quarter
    np.testing.assert_allclose(held.reshape(-1, 4), held.reshape(-1, 4)[:, :1].repeat(4, axis=1), atol=1e-6)


def test_fcr_sold_stays_fixed(shared_data, tmp_path):
    case = bidopt.load_case(REPO / "cases" / "se4_battery_fcr_2021")
    case.prices.dayahead = str(shared_data / "dayahead" / "entsoe_SE4_2021.csv")
    case.prices.fcr_n = case.prices.fcr_d_up = str(
        shared_data / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv")
    case.bidding = {"n_scenarios": 4}
    case.solver.mip_gap = 5e-3
    b = bidopt.bid(case, "2021-03-10")
    export.write_orders(b.orders, tmp_path / "dayahead_orders.json")
    export.write_fcr_bids(b.fcr_bids, tmp_path / "fcr_bids.csv")
    r = replan(case, "2021-03-10", tmp_path, "continuous", now=pd.Timestamp("2021-03-09T20:00Z"))
    hourly = r.schedule.resample("60min").first()
    accepted = accepted_fcr(case, b.fcr_bids, r.model.horizon.hour_starts)
    assert 0 < len(accepted) <= len(b.fcr_bids)
    for p in ("fcr_n", "fcr_d_up"):
        sold = accepted[accepted["product"] == p].groupby("hour_start_utc")["volume_mw"].sum()
        got = hourly[f"bess_{p}_mw"]
        for ts, v in got.items():
            assert v == pytest.approx(float(sold.get(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 0.0)), abs=1e-6)


def test_stage_errors(position, tmp_path):
    r = invoke("intraday", DEMO, "--day", "2024-03-14", "--position", position, "--stage", "IDA1", "--out", tmp_path)
    assert r.exit_code == 2 and "2024-06-13" in r.output
    r = invoke("intraday", DEMO, "--day", DAY, "--position", position, "--stage", "continuous", "--out", tmp_path)
    assert r.exit_code == 2 and "--now" in r.output
    r = invoke("intraday", DEMO, "--day", "2024-08-15", "--position", position, "--stage", "IDA1", "--out", tmp_path)
    assert r.exit_code == 2 and "deliveryDay" in r.output
