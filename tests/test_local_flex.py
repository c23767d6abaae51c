"""Local flexibility market (DSO reduced import in a window): bidopt/markets/local_flex.py alone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime
from bidopt.assets.battery import Battery
from bidopt.assets.curtailable_load import CurtailableLoad
from bidopt.cli import main
from bidopt.errors import InfeasibleError, InputError
from bidopt.horizon import Horizon
from bidopt.markets import product, provided_by, stream_order
from bidopt.model import PortfolioModel
from tests.conftest import REPO

DAY = "2024-06-12"  # CEST: the local day starts 2024-06-11T22:00Z
START, END = "2024-06-12T15:00:00Z", "2024-06-12T18:00:00Z"  # 17:00-20:00 local, 3 h
IDX = btime.delivery_index(DAY, 60)
IN_WINDOW = (IDX >= pd.Timestamp(START)) & (IDX < pd.Timestamp(END))
LF = product("local_flex")


def request(start=START, end=END, mw=0.8, avail=1500.0, act=200.0, notice=60, **extra) -> dict:
    return {"window_start_utc": start, "window_end_utc": end, "requested_mw": mw, "availability_eur_per_mw": avail,
            "activation_eur_per_mwh": act, "notice_minutes": notice, **extra}


def flex_case(tmp_path, requests=None, *, da=None, flex=None, export_limit=2.0, import_limit=2.0, assets=None,
              **battery):
    """A 1 MW / 2 MWh lossless battery; day-ahead 20 EUR/MWh, 300 in the window (it wants to discharge there)."""
    if not isinstance(da, str):  # "synthetic": the demo generator's prices
        da = np.where(IN_WINDOW, 300.0, 20.0) if da is None else np.broadcast_to(da, len(IDX))
        pd.DataFrame({"timestamp_utc": IDX.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mwh": da}).to_csv(
            tmp_path / "da.csv", index=False)
    pd.DataFrame([request()] if requests is None else requests).to_csv(tmp_path / "req.csv", index=False)
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_initial_mwh": 1.0, **battery}
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": {"dayahead": da if isinstance(da, str) else "da.csv"},
            "grid": {"import_limit_mw": import_limit, "export_limit_mw": export_limit}, "assets": assets or [bat],
            "markets": {"local_flex": {"requests": "req.csv", **(flex or {})}}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def cut_is_feasible(case, res, cut_mw: np.ndarray) -> bool:
    """Independent check: the case WITHOUT local flex, the battery held to its plan before the window,
    net import capped at the plan's (the baseline) minus ``cut_mw`` in every MTU. Feasible or not."""
    sched = res.schedule
    baseline = (sched.grid_import_mw - sched.grid_export_mw).to_numpy()
    pm = PortfolioModel(LF.without(case), res.model.horizon)
    cut = np.flatnonzero(cut_mw > 0)
    bess = pm.site.asset_blocks["bess"]
    for t in range(int(cut[0]) if len(cut) else 0):
        bess.charge[t].fix(float(sched.bess_charge_mw.iloc[t]))
        bess.discharge[t].fix(float(sched.bess_discharge_mw.iloc[t]))
    g = pm.site.blk.grid
    pm.m.dso_cut = pyo.Constraint(cut.tolist(), rule=lambda m, t: (
        g.import_mw[t] - g.export_mw[t] <= float(baseline[t] - cut_mw[t]) + 1e-7))
    try:
        pm.solve()
    except InfeasibleError:
        return False
    return True


def test_headroom_holds_an_independent_resolve_with_import_cut_is_feasible(tmp_path):
    """The battery sells what its energy can hold for the whole window (2 MWh / 3 h -> 0.6 MW), and
    the plan with the cut applied is feasible; 0.1 MW more is not (the check can fail)."""
    case = flex_case(tmp_path)
    res = bidopt.plan(case, DAY)
    sold = res.schedule.bess_local_flex_mw.to_numpy()
    np.testing.assert_allclose(sold[IN_WINDOW], 0.6, atol=1e-9)
    assert cut_is_feasible(case, res, sold)
    assert not cut_is_feasible(case, res, np.where(IN_WINDOW, 0.7, 0.0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(da=st.lists(st.floats(0, 400), min_size=24, max_size=24), first=st.integers(0, 21), hours=st.integers(1, 3),
       soc=st.floats(0.0, 2.0), share=st.sampled_from([0.0, 0.1, 0.5]), eta=st.sampled_from([0.9, 1.0]))
def test_property_the_cut_sold_is_always_feasible(tmp_path, da, first, hours, soc, share, eta):
    """Random prices, windows, SoC, activation probability and efficiency: whatever is sold, the site
    can cut its net import by it in every MTU of the window (independent re-solve)."""
    start = IDX[first]
    end = start + pd.Timedelta(hours=hours)
    req = request(start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"), mw=1.0, avail=400.0)
    case = flex_case(tmp_path, [req], da=np.asarray(da), flex={"activation_probability": share}, soc_initial_mwh=soc,
                     charge_efficiency=eta, discharge_efficiency=eta)
    res = bidopt.plan(case, DAY)
    sold = res.schedule.bess_local_flex_mw.to_numpy()
    assert (sold[(IDX < start) | (IDX >= end)] == 0).all()
    assert cut_is_feasible(case, res, sold)


def test_revenue_is_availability_plus_expected_activation_by_hand(tmp_path):
    """1500 EUR/MW for the window x 0.6 MW, plus 0.1 x 0.6 MW x 1 h per hour x (200 + day-ahead)."""
    case = flex_case(tmp_path)
    res = bidopt.plan(case, DAY)
    c = 0.6
    by_hand = 1500.0 * c + sum(0.1 * c * 1.0 * (200.0 + 300.0) for _ in range(3))
    assert res.summary["revenue_eur"]["local_flex"] == pytest.approx(by_hand, rel=1e-9)
    no_spot = bidopt.plan(flex_case(tmp_path, flex={"activated_energy_at_spot": False}), DAY)
    assert no_spot.summary["revenue_eur"]["local_flex"] == pytest.approx(1500.0 * c + 3 * 0.1 * c * 200.0, rel=1e-9)
    per_h = bidopt.plan(flex_case(tmp_path, [request(avail=500.0)], flex={"availability_per": "mw_h",
                                                                          "activation_probability": 0.0}), DAY)
    assert per_h.summary["revenue_eur"]["local_flex"] == pytest.approx(500.0 * 3 * c, rel=1e-9)


def test_expected_activation_moves_the_soc(tmp_path):
    """With activation probability s the planned SoC falls s * C * 1 h per window hour more than the
    battery's own discharge explains."""
    res = bidopt.plan(flex_case(tmp_path, flex={"activation_probability": 0.5}), DAY)
    s = res.schedule
    own = (s.bess_charge_mw - s.bess_discharge_mw).to_numpy()
    soc = s.bess_soc_mwh.to_numpy()
    drift = np.diff(np.r_[1.0, soc]) - own
    np.testing.assert_allclose(drift[IN_WINDOW], -0.5 * s.bess_local_flex_mw.to_numpy()[IN_WINDOW], atol=1e-7)
    np.testing.assert_allclose(drift[~IN_WINDOW], 0.0, atol=1e-7)


def test_no_capacity_outside_windows_and_one_volume_per_window(tmp_path):
    reqs = [request("2024-06-12T04:00:00Z", "2024-06-12T06:00:00Z", mw=0.3, avail=100.0), request()]
    res = bidopt.plan(flex_case(tmp_path, reqs), DAY)
    sold = res.schedule.bess_local_flex_mw
    first = (IDX >= pd.Timestamp("2024-06-12T04:00Z")) & (IDX < pd.Timestamp("2024-06-12T06:00Z"))
    np.testing.assert_allclose(sold[~(first | IN_WINDOW)], 0.0, atol=1e-12)
    np.testing.assert_allclose(sold[first], 0.3, atol=1e-9)  # at most the requested MW
    assert np.ptp(sold[IN_WINDOW]) < 1e-9 and sold[IN_WINDOW].iloc[0] > 0


def test_grid_export_limit_caps_the_cut(tmp_path):
    """An idle site whose export is limited to 0.2 MW cannot cut its import by more than 0.2 MW + its
    planned import: B_t - C >= -export_limit in every window MTU."""
    res = bidopt.plan(flex_case(tmp_path, export_limit=0.2, soc_initial_mwh=2.0), DAY)
    s = res.schedule
    net = (s.grid_import_mw - s.grid_export_mw).to_numpy()
    sold = s.bess_local_flex_mw.to_numpy()
    assert (net[IN_WINDOW] - sold[IN_WINDOW] >= -0.2 - 1e-9).all() and sold[IN_WINDOW].max() > 0


def test_notice_passed_at_the_gate_is_not_bid(tmp_path):
    """Gate D-1 10:00 local (08:00Z on 2024-06-11); the window starts 2024-06-12T15:00Z, 31 h later."""
    assert LF.gate_utc(flex_case(tmp_path), DAY) == pd.Timestamp("2024-06-11T08:00Z")
    ok = bidopt.plan(flex_case(tmp_path, [request(notice=31 * 60)]), DAY)
    assert ok.summary["revenue_eur"]["local_flex"] > 0
    late = bidopt.plan(flex_case(tmp_path, [request(notice=31 * 60 + 1)]), DAY)
    assert late.summary["revenue_eur"]["local_flex"] == 0.0 and late.schedule.bess_local_flex_mw.abs().max() == 0
    unpublished = bidopt.plan(flex_case(tmp_path, [request(published_utc="2024-06-11T08:30:00Z")]), DAY)
    assert unpublished.schedule.bess_local_flex_mw.abs().max() == 0  # posted after the gate
    later_gate = flex_case(tmp_path, [request(notice=31 * 60)], flex={"gate_time": "12:00"})
    assert bidopt.plan(later_gate, DAY).schedule.bess_local_flex_mw.abs().max() == 0


@pytest.mark.parametrize("rows,field", [
    ([{k: v for k, v in request().items() if k != "requested_mw"}], "requested_mw"),
    ([request(start="tomorrow")], r"window_start_utc \(row 1\)"),
    ([request(start="2024-06-12T15:30:00Z")], r"window_start_utc \(row 1\)"),
    ([request(end=START)], r"window_end_utc \(row 1\)"),
    ([request(mw=-1)], r"requested_mw \(row 1\)"),
    ([request(activated=1.5)], r"activated \(row 1\)"),
    ([request(baseline_mw="none")], r"baseline_mw \(row 1\)"),
    ([request(), request("2024-06-12T17:00:00Z", "2024-06-12T19:00:00Z")], r"window_start_utc \(row 2\)"),
])
def test_bad_request_file_names_the_file_and_field(tmp_path, rows, field):
    with pytest.raises(InputError, match=r"req\.csv: " + field):
        bidopt.plan(flex_case(tmp_path, rows), DAY)


def test_bad_request_file_exits_2_through_the_cli(tmp_path):
    case = flex_case(tmp_path, [request(mw="lots")])
    (tmp_path / "case.toml").write_text(
        '[case]\nzone = "SE3"\nmtu_minutes = 60\n[prices]\ndayahead = "da.csv"\n'
        '[grid]\nimport_limit_mw = 2.0\nexport_limit_mw = 2.0\n'
        '[[assets]]\nkind = "battery"\nname = "bess"\npower_mw = 1.0\nenergy_mwh = 2.0\n'
        '[markets.local_flex]\nrequests = "req.csv"\n')
    assert case.markets
    r = CliRunner().invoke(main, ["plan", str(tmp_path / "case.toml"), "--day", DAY, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "req.csv" in r.output and "requested_mw (row 1)" in r.output


def test_rules_table_errors_name_the_field(tmp_path):
    with pytest.raises(InputError, match=r"markets\.local_flex\.activation_probability"):
        bidopt.plan(flex_case(tmp_path, flex={"activation_probability": 1.5}), DAY)
    with pytest.raises(InputError, match=r"markets\.local_flex\.availability_per"):
        bidopt.plan(flex_case(tmp_path, flex={"availability_per": "mwh"}), DAY)


def test_who_provides_local_flex():
    assert "local_flex" in provided_by(Battery(name="b", power_mw=1.0, energy_mwh=1.0))
    assert "local_flex" in provided_by(CurtailableLoad(name="c", offer_reserves=True))  # a cut on notice
    assert "local_flex" not in provided_by(CurtailableLoad(name="c"))
    assert "local_flex" not in provided_by(Battery(name="b", power_mw=1.0, energy_mwh=1.0, reserves=["fcr_d_up"]))


def test_a_curtailable_load_sells_at_most_what_it_consumes(tmp_path):
    load = {"kind": "curtailable_load", "name": "hall", "profile": "synthetic", "peak_mw": 0.5, "offer_reserves": True,
            "value_of_lost_load_eur_per_mwh": 1000.0}
    res = bidopt.plan(flex_case(tmp_path, [request(mw=2.0)], assets=[load]), DAY)
    s = res.schedule
    assert s.hall_local_flex_mw[IN_WINDOW].min() > 0
    assert (s.hall_local_flex_mw <= s.hall_power_mw + 1e-9).all()


def test_without_local_flex_the_outputs_do_not_change(tmp_path):
    case = flex_case(tmp_path)
    plain = LF.without(case)
    res = bidopt.plan(plain, DAY)
    assert "local_flex" not in res.summary["revenue_eur"] and "bess_local_flex_mw" not in res.schedule
    assert "local_flex" not in stream_order(plain) and "local_flex" in stream_order(case)


def test_bid_table_and_its_check(tmp_path):
    """One row per sold hour: the seam's columns (price 0: price-taking) and the request's; the
    product's check_bids finds a row outside its window and a missing request column."""
    res = bidopt.plan(flex_case(tmp_path), DAY)
    cap = res.model.site.capacities["local_flex"]
    table = LF.bid_table(cap, res.model.horizon)
    assert len(table) == 3 and (table.request_id == "R1").all() and (table.price_eur_per_mw_h == 0).all()
    np.testing.assert_allclose(table.volume_mw, 0.6)
    np.testing.assert_allclose(table.availability_eur_per_mw_h, 500.0)
    text = table.astype(str).assign(hour_start_utc=pd.DatetimeIndex(table.hour_start_utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert LF.check_bids(text) == []
    bad = text.copy()
    bad.loc[0, "hour_start_utc"] = "2024-06-12T10:00:00Z"
    assert any("not inside the window" in p for p in LF.check_bids(bad))
    assert any("missing column" in p for p in LF.check_bids(text.drop(columns="request_id")))


def test_demo_local_flex_case_plans_bids_and_validates_from_the_command_line(tmp_path):
    """cases/demo_local_flex: plan earns the local_flex stream; bid writes local_flex_bids.csv, which
    `bidopt validate` accepts and a broken copy of which it rejects."""
    case = REPO / "cases" / "demo_local_flex" / "case.toml"
    r = CliRunner().invoke(main, ["plan", str(case), "--day", DAY, "--out", str(tmp_path / "plan")])
    assert r.exit_code == 0, r.output
    rev = json.loads((tmp_path / "plan" / "summary.json").read_text())["revenue_eur"]
    assert rev["local_flex"] > 0
    r = CliRunner().invoke(main, ["bid", str(case), "--day", DAY, "--out", str(tmp_path / "bid")])
    assert r.exit_code == 0, r.output
    bids_path = tmp_path / "bid" / "local_flex_bids.csv"
    bids = pd.read_csv(bids_path)
    assert list(bids.columns[:4]) == ["product", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"]
    assert len(bids) > 0 and (bids["product"] == "local_flex").all()
    np.testing.assert_allclose(bids.volume_mw / 0.1, np.round(bids.volume_mw / 0.1), atol=1e-6)  # whole lots
    r = CliRunner().invoke(main, ["validate", str(bids_path)])
    assert r.exit_code == 0 and "valid" in r.output, r.output
    broken = bids.assign(window_end_utc="2024-06-12T15:30:00Z")
    broken.to_csv(tmp_path / "broken.csv", index=False)
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "broken.csv")])
    assert r.exit_code != 0 and "window_end_utc" in r.output, r.output


@pytest.mark.parametrize("activated,share", [(1.0, 1.0), (0.0, 0.0), (None, 0.25)])
def test_backtest_pays_availability_and_the_activation_the_file_reports(tmp_path, activated, share):
    """The delivery re-plan holds the bid's volume, pays availability, and settles activation at the
    request file's `activated` share (else [markets.local_flex] settled_activation_share); the
    activated energy moves the SoC."""
    from bidopt.backtest.day import strategy_day
    from bidopt.data import sources

    extra = {} if activated is None else {"activated": activated}
    case = flex_case(tmp_path, [request(**extra)], da="synthetic", flex={"settled_activation_share": 0.25})
    out = strategy_day(case, DAY, {})
    ts = out.timeseries
    c = float(ts.bess_local_flex_mw[IN_WINDOW].iloc[0])
    assert c > 0 and (ts.bess_local_flex_mw[~IN_WINDOW] == 0).all()
    spot = sources.dayahead_prices(case, IDX)
    by_hand = 1500.0 * c + share * c * float(np.sum(200.0 + spot[IN_WINDOW]))
    assert out.record["local_flex_eur"] == pytest.approx(by_hand, rel=1e-6)
    drift = np.diff(np.r_[1.0, ts.bess_soc_mwh.to_numpy()]) - (ts.bess_charge_mw - ts.bess_discharge_mw).to_numpy()
    np.testing.assert_allclose(drift[IN_WINDOW], -share * c, atol=1e-7)


def test_one_day_backtest_of_the_demo_case_reports_the_stream(tmp_path):
    """daily.csv carries local_flex_eur and summary.json's revenue the local_flex stream (registry names)."""
    case = bidopt.load_case(REPO / "cases" / "demo_local_flex" / "case.toml")
    bidopt.backtest(case, start=DAY, end=DAY, out_dir=tmp_path / "bt")
    daily = pd.read_csv(tmp_path / "bt" / "daily.csv")
    assert "local_flex_eur" in daily and (daily.local_flex_eur > 0).all()
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert summary["revenue_eur"]["local_flex"] == pytest.approx(float(daily.local_flex_eur.sum()))


def test_quarter_hour_mtus_hold_the_same_window(tmp_path):
    """At 15-minute MTUs the energy a full activation takes accumulates per quarter hour: the same
    0.6 MW (2 MWh over 3 h) is sold, and the cut stays feasible."""
    case = flex_case(tmp_path)
    case = case.model_copy(update={"case": case.case.model_copy(update={"mtu_minutes": 15})})
    res = bidopt.plan(case, DAY)
    idx = res.schedule.index
    in_window = (idx >= pd.Timestamp(START)) & (idx < pd.Timestamp(END))
    sold = res.schedule.bess_local_flex_mw.to_numpy()
    assert len(sold) == 96
    np.testing.assert_allclose(sold[in_window], 0.6, atol=1e-9)
    assert (sold[~in_window] == 0).all()
    assert cut_is_feasible(case, res, sold)


def test_stacks_with_fcr_d_up_within_the_battery_power(tmp_path):
    """FCR-D up all day and local flex in the window: their upward power is summed, never above 1 MW."""
    pd.DataFrame({"timestamp_utc": IDX.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mw_h": 40.0}).to_csv(
        tmp_path / "fcr_d_up.csv", index=False)
    case = flex_case(tmp_path, da=30.0)
    case = case.model_copy(update={"prices": case.prices.model_copy(update={"fcr_d_up": "fcr_d_up.csv"})})
    s = bidopt.plan(case, DAY).schedule
    assert s.bess_local_flex_mw[IN_WINDOW].min() > 0 and s.bess_fcr_d_up_mw[~IN_WINDOW].max() > 0
    assert (s.bess_local_flex_mw + s.bess_fcr_d_up_mw + s.bess_discharge_mw - s.bess_charge_mw <= 1.0 + 1e-9).all()


def test_activate_at_delivery_plans_with_the_realised_activation(tmp_path):
    """Perfect foresight's hook: a built model set to the request's `activated` share (1 here) plans
    and earns with it: revenue = availability + 1 x C x 3 h x (200 + 300), the SoC falls C per hour."""
    case = flex_case(tmp_path, [request(activated=1.0)])
    pm = PortfolioModel(case, Horizon.for_days(DAY))
    LF.activate_at_delivery(pm.site.capacities["local_flex"], pm.site.market_terms["local_flex"], pm.horizon, case,
                            None)
    pm.solve()
    s = pm.schedule()
    c = float(s.bess_local_flex_mw[IN_WINDOW].iloc[0])
    assert c > 0 and pm.revenue()["local_flex"] == pytest.approx(1500.0 * c + c * 3 * 500.0, rel=1e-9)
    drift = np.diff(np.r_[1.0, s.bess_soc_mwh.to_numpy()]) - (s.bess_charge_mw - s.bess_discharge_mw).to_numpy()
    np.testing.assert_allclose(drift[IN_WINDOW], -c, atol=1e-7)


def test_a_fully_activated_window_at_delivery_holds_no_second_energy_reserve(tmp_path):
    """A full 2 MWh battery that cannot import sells 0.6 MW for the 3 h window (1.8 MWh + the expected
    0.18). Activated in full at delivery, the re-plan holding 0.6 MW is feasible: the activated 1.8 MWh
    is in the SoC path and only the unactivated share (0) is held on top of it."""
    case = flex_case(tmp_path, [request(activated=1.0)], import_limit=0.0, soc_initial_mwh=2.0)
    res = bidopt.plan(case, DAY)
    np.testing.assert_allclose(res.schedule.bess_local_flex_mw[IN_WINDOW], 0.6, atol=1e-9)
    pm = PortfolioModel(case, Horizon.for_days(DAY))
    cap = pm.site.capacities["local_flex"]
    LF.fix_capacity(cap, {("local_flex", h): (0.6 if IN_WINDOW[h] else 0.0) for h in range(24)})
    assert [cap.activation_share[h].value for h in (17, 18, 19)] == [0.1] * 3  # holding sets no activation
    LF.activate_at_delivery(cap, pm.site.market_terms["local_flex"], pm.horizon, case, None)
    pm.solve()
    s = pm.schedule()
    drift = np.diff(np.r_[2.0, s.bess_soc_mwh.to_numpy()]) - (s.bess_charge_mw - s.bess_discharge_mw).to_numpy()
    np.testing.assert_allclose(drift[IN_WINDOW], -0.6, atol=1e-7)
    assert pm.revenue()["local_flex"] == pytest.approx(1500.0 * 0.6 + 0.6 * 3 * 500.0, rel=1e-9)


def test_a_dso_baseline_stops_raising_the_import_to_sell_its_cut(tmp_path):
    """Against the plan as baseline, a heat pump that would idle in the window heats in it so there is
    consumption to cut (the plan's import rises in the congested window). With the DSO's
    `baseline_mw` the window is planned at or below it, so at most that much is sold."""
    hp = {"name": "hp", "template": str(REPO / "models" / "assets" / "heat_pump_apartment.toml"), "offer_reserves": True}
    plain = bidopt.plan(flex_case(tmp_path, [request(mw=1.0)], assets=[hp], flex={"lot_mw": 0.0}, da="synthetic"), DAY)
    without = bidopt.plan(LF.without(flex_case(tmp_path, [request(mw=1.0)], assets=[hp], da="synthetic")), DAY)
    assert without.schedule.grid_import_mw[IN_WINDOW].max() < 1e-6  # idle without the product
    assert plain.schedule.hp_local_flex_mw[IN_WINDOW].min() > 0.02  # ... and heating to be cut with it
    case = flex_case(tmp_path, [request(mw=1.0, baseline_mw=0.004)], assets=[hp], flex={"lot_mw": 0.0}, da="synthetic")
    s = bidopt.plan(case, DAY).schedule
    net = (s.grid_import_mw - s.grid_export_mw)[IN_WINDOW]
    assert (net <= 0.004 + 1e-9).all() and (s.hp_local_flex_mw[IN_WINDOW] <= 0.004 + 1e-9).all()
    assert s.hp_local_flex_mw[IN_WINDOW].min() > 0  # the baseline's worth is still sold


def test_a_fleet_does_not_pool_local_flex_and_says_so(tmp_path):
    """A DSO request is for the sites of one congestion area: `bidopt fleet` stops with exit 2 naming
    the product's table instead of pooling (or dropping) it."""
    from click.testing import CliRunner

    from bidopt.cli import main

    r = CliRunner().invoke(main, ["fleet", str(REPO / "cases" / "demo_local_flex"), "--day", DAY,
                                  "--out", str(tmp_path / "fleet")])
    assert r.exit_code == 2, r.output
    assert "markets.local_flex" in r.output and "bidopt bid" in r.output
    assert not (tmp_path / "fleet").exists()
