"""aFRR capacity (up and down) through the market-product seam: bidopt/markets/afrr.py, the Mimer
aFRR exports read as they are, cases/se3_battery_afrr_2022."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime
from bidopt.assets.battery import Battery
from bidopt.assets.curtailable_load import CurtailableLoad
from bidopt.data import sources
from bidopt.data.reserve_prices import read_mimer_afrr_files
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets import product, provided_by, stream_order
from tests.conftest import REPO, SHARED_DATA

DAY = "2022-02-10"
ANCILLARY = SHARED_DATA / "ancillary"
CASE = REPO / "cases" / "se3_battery_afrr_2022"
HEADER = ("Period;Elområde;aFRR Upp Pris (EUR/MW);aFRR Upp Volym (MW);aFRR Ned Pris (EUR/MW);"
          "aFRR Ned Volym (MW);Publiceringstidpunkt;")


def _num(v) -> str:
    return f"{float(v):.3f}".replace(".", ",")


def write_mimer(path, days, up, down, up_vol=10.0, down_vol=10.0, zone="SN3"):
    """A Mimer aFRR export (decimal commas, local time, a Summa row) for ``days`` (no DST change)."""
    idx = btime.horizon_index(days[0], days[-1], 60)
    n = len(idx)
    cols = [np.broadcast_to(np.asarray(x, float), n) for x in (up, up_vol, down, down_vol)]
    local = idx.tz_convert(btime.STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    lines = [HEADER] + [f"{t};{zone};" + ";".join(_num(c[i]) for c in cols) + ";2022-01-01 12:00"
                        for i, t in enumerate(local)]
    path.write_text("\ufeff" + "\n".join(lines + ["Summa;0;0;0;0;"]) + "\n", encoding="utf-8")


def afrr_case(tmp_path, day=DAY, *, up=50.0, down=40.0, afrr=None, da=0.0, no_spot_trade=True, fcr_d_up=None,
              **battery):
    idx = btime.delivery_index(day, 60)
    write_mimer(tmp_path / "afrr.csv", [day], up, down)
    prices = {"dayahead": "synthetic"}
    if da is not None:
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "price_eur_per_mwh": np.broadcast_to(da, len(idx))}).to_csv(tmp_path / "da.csv", index=False)
        prices["dayahead"] = "da.csv"
    if fcr_d_up is not None:
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "price_eur_per_mw_h": fcr_d_up}).to_csv(tmp_path / "fcrd.csv", index=False)
        prices["fcr_d_up"] = "fcrd.csv"
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_initial_mwh": 1.0, **battery}
    # no_spot_trade: 100 SEK/kWh on import and on export (more than a day of reserves repays) make
    # every spot trade a loss, so the battery keeps to its reserves; its 1 MW connection carries
    # their full activation (the site checks it)
    limit = 1.0 if no_spot_trade else 2.0
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": prices,
            "grid": {"import_limit_mw": limit, "export_limit_mw": limit}, "assets": [bat],
            "markets": {"afrr": {"prices": "afrr.csv", **(afrr or {})}, "fcr": {"step_mw": 0.1}}}
    if no_spot_trade:
        data["retail"] = {"supplier_fee_sek_per_kwh": 100.0, "export": {"handling_fee_sek_per_kwh": 100.0}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


# ------------------------------------------------------------------------------------------ reader


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_reader_on_a_slice_of_the_real_exports(tmp_path):
    """Lines around the switch to zonal procurement (2022-05-11), copied from the two real exports
    (which overlap on that day): the national rows before, SN3's own after, one row per UTC hour."""
    first = (ANCILLARY / "svk_mimer_SE_AFRR_2022_1.csv").read_text(encoding="utf-8-sig").splitlines()
    second = (ANCILLARY / "svk_mimer_SE_AFRR_2022_2.csv").read_text(encoding="utf-8-sig").splitlines()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join([first[0]] + [x for x in first if x.startswith(("2022-05-10", "2022-05-11"))]) + "\n")
    b.write_text("\n".join([second[0]] + [x for x in second if x.startswith("2022-05-11")]) + "\n")
    df = read_mimer_afrr_files([a, b], "SE3")
    assert df.index[0] == pd.Timestamp("2022-05-09T22:00Z") and df.index[-1] == pd.Timestamp("2022-05-11T21:00Z")
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta(hours=1)).all()
    row = df.loc["2022-05-11T03:00Z"]  # "2022-05-11 05:00;SN3;200;5;150;0" (local summer time)
    assert tuple(row) == (200.0, 5.0, 150.0, 0.0)
    assert read_mimer_afrr_files([b, a], "SE3").equals(df)  # the two exports agree where they overlap


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_case_reads_the_real_2022_prices():
    case = bidopt.load_case(CASE)
    idx = btime.delivery_index("2022-02-10", 60)
    t = sources.afrr_prices(case, case.markets["afrr"].prices, "SE3", idx)
    assert len(t) == 24 and t.notna().all().all() and (t.up_price_eur_per_mw_h >= 0).all()
    late = sources.afrr_prices(case, case.markets["afrr"].prices, "SE3", btime.delivery_index("2022-11-01", 60))
    assert late.isna().all().all()  # the exports end on 2022-10-06: no aFRR after
    assert not product("afrr").open_hours(case, "afrr_up", Horizon.for_days("2022-11-01")).any()


# ----------------------------------------------------------------------------------------- product


def test_battery_sells_afrr_both_ways_with_energy_for_the_endurance(tmp_path):
    res = bidopt.plan(afrr_case(tmp_path), DAY)
    s = res.schedule
    np.testing.assert_allclose(s.bess_afrr_up_mw, 1.0, atol=1e-9)  # 1 MWh each way from SoC 1 of 2 MWh
    np.testing.assert_allclose(s.bess_afrr_down_mw, 1.0, atol=1e-9)
    rev = res.summary["revenue_eur"]
    assert rev["afrr_up"] == pytest.approx(50.0 * 24) and rev["afrr_down"] == pytest.approx(40.0 * 24)
    half = bidopt.plan(afrr_case(tmp_path, afrr={"endurance_h": 2.0}), DAY).schedule
    assert (half.bess_afrr_up_mw + half.bess_afrr_down_mw <= 1.0 + 1e-9).all()  # 2 h each way: 1 MWh in total


def test_lots_directions_and_unprocured_hours(tmp_path):
    s = bidopt.plan(afrr_case(tmp_path, afrr={"lot_mw": 0.3}), DAY).schedule
    np.testing.assert_allclose(s.bess_afrr_up_mw, 0.9, atol=1e-9)  # whole lots of 0.3 MW within 1 MW
    s = bidopt.plan(afrr_case(tmp_path, afrr={"directions": ["down"]}), DAY).schedule
    assert "bess_afrr_up_mw" not in s and (s.bess_afrr_down_mw == 1.0).all()
    case = afrr_case(tmp_path)
    write_mimer(tmp_path / "afrr.csv", [DAY], 50.0, 40.0, up_vol=np.r_[np.zeros(12), np.full(12, 5.0)])
    s = bidopt.plan(case, DAY).schedule
    np.testing.assert_allclose(s.bess_afrr_up_mw, np.r_[np.zeros(12), np.ones(12)], atol=1e-9)
    s = bidopt.plan(case.model_copy(update={"markets": {"afrr": {"prices": "afrr.csv", "procured_only": False}}}),
                    DAY).schedule
    np.testing.assert_allclose(s.bess_afrr_up_mw, 1.0, atol=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(da=st.lists(st.floats(-50, 400), min_size=24, max_size=24), up=st.lists(st.floats(0, 120), min_size=24, max_size=24),
       down=st.lists(st.floats(0, 120), min_size=24, max_size=24), fcr=st.floats(0, 100),
       soc0=st.floats(0.0, 2.0), endurance=st.sampled_from([0.25, 1.0]))
def test_headroom_never_exceeds_the_battery(tmp_path, da, up, down, fcr, soc0, endurance):
    """Over random prices the aFRR headroom (stacked with FCR-D up) stays within the battery's power
    either way and within its SoC window for the endurance, at the start and end of every hour."""
    case = afrr_case(tmp_path, up=up, down=down, da=da, no_spot_trade=False, fcr_d_up=fcr, soc_initial_mwh=soc0,
                     afrr={"lot_mw": 0.1, "endurance_h": endurance})
    s = bidopt.plan(case, DAY).schedule
    net = s.bess_discharge_mw - s.bess_charge_mw
    up_mw, down_mw = s.bess_afrr_up_mw + s.bess_fcr_d_up_mw, s.bess_afrr_down_mw + 0.2 * s.bess_fcr_d_up_mw
    tol = 1e-6
    assert (up_mw <= 1.0 - net + tol).all() and (down_mw <= 1.0 + net + tol).all()
    soc_end = s.bess_soc_mwh.to_numpy()
    soc_start = np.r_[soc0, soc_end[:-1]]
    e_up = endurance * s.bess_afrr_up_mw.to_numpy() + s.bess_fcr_d_up_mw.to_numpy() / 3
    e_down = endurance * s.bess_afrr_down_mw.to_numpy()
    for soc in (soc_start, soc_end):
        assert (e_up <= soc + tol).all() and (e_down <= 2.0 - soc + tol).all()


def test_a_higher_afrr_price_raises_its_share_over_a_week(tmp_path):
    """A week of synthetic day-ahead prices with FCR-D up at 15 EUR/MW/h: as the aFRR price rises
    its share of the battery's capacity-hours rises, from almost none to all of them."""
    days = [str(d.date()) for d in pd.date_range("2022-02-07", periods=7)]
    share = []
    for level in (0.5, 12.0, 25.0, 400.0):
        sold = total = 0.0
        for day in days:
            case = afrr_case(tmp_path, day, up=level, down=level, da=None, no_spot_trade=False, fcr_d_up=15.0)
            s = bidopt.plan(case, day).schedule
            sold += float((s.bess_afrr_up_mw + s.bess_afrr_down_mw).sum())
            total += 2.0 * len(s)
        share.append(sold / total)
    assert share == sorted(share) and share[0] < 0.1 and share[-1] > 0.95, share
    assert len(set(np.round(share, 6))) >= 3, share


def test_who_provides_afrr():
    bess = Battery(name="b", power_mw=1.0, energy_mwh=1.0)
    assert {"afrr_up", "afrr_down"} <= provided_by(bess)
    assert not {"afrr_up", "afrr_down"} & provided_by(Battery(name="b", power_mw=1.0, energy_mwh=1.0,
                                                                 reserves=["fcr_d_up"]))
    assert not {"afrr_up", "afrr_down"} & provided_by(CurtailableLoad(name="c", offer_reserves=True))


def test_without_afrr_the_outputs_do_not_change(tmp_path):
    case = afrr_case(tmp_path)
    plain = case.model_copy(update={"markets": {"fcr": {"step_mw": 0.1}}})
    res = bidopt.plan(plain, DAY)
    assert "afrr_up" not in res.summary["revenue_eur"] and "bess_afrr_up_mw" not in res.schedule
    assert "afrr_up" not in stream_order(plain) and "afrr_down" in stream_order(case)


@pytest.mark.parametrize("table,field", [({"lot_mw": -1}, "markets.afrr.lot_mw"),
                                          ({"directions": ["sideways"]}, "markets.afrr.directions"),
                                          ({"endurance": 1}, "markets.afrr.endurance")])
def test_rules_table_errors_name_the_field(tmp_path, table, field):
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        bidopt.plan(afrr_case(tmp_path, afrr=table), DAY)


def test_gate_is_d_minus_1_and_configurable(tmp_path):
    afrr = product("afrr")
    assert afrr.gate_utc(afrr_case(tmp_path), DAY) == pd.Timestamp("2022-02-09T06:30Z")  # 07:30 CET D-1
    late = afrr_case(tmp_path, afrr={"gate_time": "10:00"})
    assert afrr.gate_utc(late, DAY) == pd.Timestamp("2022-02-09T09:00Z")


def test_backtest_holds_the_bid_afrr_at_delivery(tmp_path):
    """Price-taking bids (the day's price taken as known) sell aFRR once for all scenarios; the
    delivery re-plan holds it and pays the price."""
    from bidopt.backtest.day import strategy_day

    case = afrr_case(tmp_path, da=None, no_spot_trade=False, afrr={"bids": "price_taking"})
    bids = bidopt.bid(case, DAY)
    assert bids.result.model.capacities["afrr"] is bids.result.model.m.afrr
    sold = bids.schedule.bess_afrr_up_mw.to_numpy()
    out = strategy_day(case, DAY, {})
    np.testing.assert_allclose(out.timeseries.bess_afrr_up_mw.to_numpy(), sold, atol=1e-9)
    assert out.record["afrr_up_eur"] == pytest.approx(50.0 * float(sold.sum()))


# --------------------------------------------------------------------------------------- real case


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_real_case_plans_bids_and_validates_from_the_command_line(tmp_path):
    """cases/se3_battery_afrr_2022 on 2022-02-10: plan earns both aFRR streams; bid writes
    afrr_bids.csv in whole 1 MW lots, which `bidopt validate` accepts."""
    from click.testing import CliRunner

    from bidopt.cli import main

    r = CliRunner().invoke(main, ["plan", str(CASE), "--day", DAY, "--out", str(tmp_path / "plan")])
    assert r.exit_code == 0, r.output
    rev = json.loads((tmp_path / "plan" / "summary.json").read_text())["revenue_eur"]
    assert rev["afrr_up"] > 0 and rev["afrr_down"] > 0
    r = CliRunner().invoke(main, ["bid", str(CASE), "--day", DAY, "--out", str(tmp_path / "bid")])
    assert r.exit_code == 0, r.output
    path = tmp_path / "bid" / "afrr_bids.csv"
    bids = pd.read_csv(path)
    assert set(bids["product"]) <= {"afrr_up", "afrr_down"} and len(bids) > 0
    np.testing.assert_allclose(bids.volume_mw, np.round(bids.volume_mw), atol=1e-9)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 0 and "valid" in r.output, r.output
    bids.loc[0, "volume_mw"] = 0.5
    bids.to_csv(path, index=False)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 1 and "lot" in r.output, r.output


def test_activated_energy_is_settled_at_a_price_series_when_given(tmp_path):
    """With activation_prices an expected share of the capacity is activated: up energy paid the up
    price, down energy paying the down price, the net moving the SoC; without them none is."""
    idx = btime.delivery_index(DAY, 60)
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "up_eur_per_mwh": 100.0,
                  "down_eur_per_mwh": 20.0}).to_csv(tmp_path / "act.csv", index=False)
    res = bidopt.plan(afrr_case(tmp_path, afrr={"activation_prices": "act.csv"}), DAY)
    s, rev = res.schedule, res.summary["revenue_eur"]
    np.testing.assert_allclose(s.bess_afrr_up_mw, 1.0, atol=1e-9)
    np.testing.assert_allclose(s.bess_afrr_down_mw, 1.0, atol=1e-9)
    assert rev["afrr_up"] == pytest.approx(50.0 * 24 + 0.1 * 100.0 * 24)
    assert rev["afrr_down"] == pytest.approx(40.0 * 24 - 0.1 * 20.0 * 24)
    np.testing.assert_allclose(s.bess_soc_mwh, 1.0, atol=1e-9)  # 0.1 MW up and 0.1 MW down: no drift
    res = bidopt.plan(afrr_case(tmp_path, afrr={"activation_prices": "act.csv", "activation_share_down": 0.0}), DAY)
    s = res.schedule
    drift = np.cumsum(0.1 * s.bess_afrr_up_mw.to_numpy())
    np.testing.assert_allclose(s.bess_soc_mwh.to_numpy(), 1.0 - drift, atol=1e-6)
    assert (s.bess_soc_mwh >= s.bess_afrr_up_mw - 1e-6).all()  # still 1 h of full activation up


def test_backtest_resumes_and_a_changed_mimer_export_is_recomputed(tmp_path):
    """The Mimer exports are read whole (not as recorded slices): a rerun resumes while they are
    unchanged, and recomputes every day once one changes."""
    from bidopt.backtest.engine import backtest

    days = ["2022-02-10", "2022-02-11"]
    case = afrr_case(tmp_path, da=None)
    write_mimer(tmp_path / "afrr.csv", days, 50.0, 40.0)
    first = backtest(case, days[0], days[-1], out_dir=tmp_path / "out", strategy="perfect_foresight")
    again = backtest(case, days[0], days[-1], out_dir=tmp_path / "out", strategy="perfect_foresight")
    assert again.summary["resumed_days"] == 2 and again.summary["objective_eur"] == first.summary["objective_eur"]
    write_mimer(tmp_path / "afrr.csv", days, 80.0, 40.0)
    rerun = backtest(case, days[0], days[-1], out_dir=tmp_path / "out", strategy="perfect_foresight")
    assert rerun.summary["stale_days"] == 2 and rerun.summary["objective_eur"] > first.summary["objective_eur"]
    assert rerun.daily["afrr_up_eur"].sum() == pytest.approx(80.0 * 48)
