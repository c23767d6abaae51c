"""EV charging sessions (kind = "ev") and the Sørensen session loaders."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import time as btime
from bidopt.data.ev_sessions import read_sessions
from bidopt.horizon import Horizon
from bidopt.markets import provided_by
from tests.conftest import REPO, SHARED_DATA, write_prices

DAY = "2024-03-14"  # local day = 2024-03-13T23:00Z .. 2024-03-14T23:00Z
S2024 = SHARED_DATA / "loads" / "sorensen2024_norway12loc_EV_charging_sessions.csv"
S2021 = SHARED_DATA / "loads" / "sorensen2021_trondheim_EV_charging_reports.csv"
needs_s2024 = pytest.mark.skipif(not S2024.is_file(), reason=f"real data not found at {S2024}")
needs_s2021 = pytest.mark.skipif(not S2021.is_file(), reason=f"real data not found at {S2021}")


def ev_case(tmp_path=None, prices="synthetic", mtu=60, grid=2.0, markets=None, extra_prices=None, **ev) -> bidopt.Case:
    asset = {"kind": "ev", "name": "ev"}
    asset.update(ev)
    data = {
        "case": {"zone": "SE3", "mtu_minutes": mtu},
        "prices": {"dayahead": prices, **(extra_prices or {})},
        "grid": {"import_limit_mw": grid, "export_limit_mw": grid},
        "assets": [asset],
    }
    if markets:
        data["markets"] = markets
    return bidopt.case_from_dict(data, base_dir=tmp_path or ".")


def night_prices(tmp_path, expensive=100.0, cheap=10.0):
    """Local day 2024-03-14: cheap from 01 to 05 UTC, expensive otherwise."""
    p = np.full(24, expensive)
    p[2:6] = cheap  # MTUs 2..5 = 01:00..05:00Z
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", p)
    return "p.csv"


def results(res: bidopt.PlanResult, name: str = "ev") -> pd.DataFrame:
    pm = res.model
    asset = next(a for a in pm.case.assets if a.name == name)
    return asset.session_results(pm.site.asset_blocks[name])


SESSIONS = [
    {"id": "car1", "arrival": "2024-03-13T17:30:00Z", "departure": "2024-03-14T06:15:00Z", "energy_mwh": 0.030,
     "max_power_mw": 0.011},
    {"id": "car2", "arrival": "2024-03-14T08:10:00Z", "departure": "2024-03-14T16:40:00Z", "energy_mwh": 0.020},
    {"id": "car3", "arrival": "2024-03-14T19:00:00Z", "departure": "2024-03-15T07:00:00Z", "energy_mwh": 0.040,
     "max_power_mw": 0.0074},
]


# --------------------------------------------------------------------------------------- the model


@pytest.mark.parametrize("mtu", [60, 15])
def test_every_session_gets_its_energy_by_departure(mtu):
    res = bidopt.plan(ev_case(sessions=SESSIONS, mtu=mtu, garage_max_power_mw=0.02), DAY)
    r = results(res)
    assert r["met"].all()
    np.testing.assert_allclose(r.energy_delivered_mwh, r.energy_required_mwh, atol=1e-7)
    s = res.schedule
    dt_h = mtu / 60
    # the schedule's energy is the sessions' energy (efficiency 1), and power stays where cars are plugged in
    assert s.ev_power_mw.sum() * dt_h == pytest.approx(r.energy_delivered_mwh.sum(), abs=1e-7)
    assert (s.ev_power_mw <= s.ev_available_mw + 1e-9).all()
    assert (s.ev_power_mw <= 0.02 + 1e-9).all()
    # car2 alone is plugged in 08:10-16:40: nothing charges outside the sessions
    idle = (s.index >= "2024-03-14T06:15Z") & (s.index < pd.Timestamp("2024-03-14T08:00Z"))
    assert s.ev_power_mw[idle].abs().max() < 1e-9


def test_partial_mtu_scales_power_and_horizon_cuts_pro_rata():
    res = bidopt.plan(ev_case(sessions=SESSIONS), DAY)
    s = res.schedule
    # car1 leaves at 06:15: a quarter of MTU 06:00 at 11 kW
    assert s.ev_available_mw["2024-03-14T06:00Z"] == pytest.approx(0.011 * 0.25)
    # car2 arrives 08:10 at the default 22 kW: 50 of 60 minutes
    assert s.ev_available_mw["2024-03-14T08:00Z"] == pytest.approx(0.022 * 50 / 60)
    assert s.ev_connected["2024-03-14T16:00Z"] == pytest.approx(40 / 60)
    r = results(res)
    # car1: 12.75 h plugged in, 7.25 h of it inside the day; car3: 12 h, 4 h inside
    assert r.loc["car1", "energy_required_mwh"] == pytest.approx(0.030 * 7.25 / 12.75)
    assert r.loc["car3", "energy_required_mwh"] == pytest.approx(0.040 * 4 / 12)
    assert r.loc["car2", "energy_required_mwh"] == pytest.approx(0.020)


def test_charging_moves_to_cheap_hours(tmp_path):
    case = ev_case(tmp_path, prices=night_prices(tmp_path), sessions=[
        {"id": "night", "arrival": "2024-03-13T23:00:00Z", "departure": "2024-03-14T07:00:00Z", "energy_mwh": 0.030,
         "max_power_mw": 0.011}])
    res = bidopt.plan(case, DAY)
    s = res.schedule
    price = s.price_eur_per_mwh.to_numpy()
    planned = s.ev_power_mw.to_numpy()
    asset = case.assets[0]
    blind = asset.uncontrolled_mw(res.model.data["ev"])  # full power from arrival, price-blind
    assert blind.sum() == pytest.approx(planned.sum())
    cost_planned, cost_blind = float(price @ planned), float(price @ blind)
    assert cost_planned < cost_blind
    # 30 kWh at 11 kW needs 2.73 h; the four cheap hours hold it all
    assert planned[(price > 50)].sum() == pytest.approx(0.0, abs=1e-9)
    assert cost_planned == pytest.approx(10.0 * 0.030)
    assert cost_blind == pytest.approx(100.0 * 0.022 + 10.0 * 0.008)


def test_impossible_session_is_infeasible_and_named():
    sessions = [
        {"id": "ok", "arrival": "2024-03-14T01:00:00Z", "departure": "2024-03-14T05:00:00Z", "energy_mwh": 0.01},
        # 2 h at 11 kW x 0.9 = 19.8 kWh < 25 kWh
        {"id": "too-much", "arrival": "2024-03-14T10:00:00Z", "departure": "2024-03-14T12:00:00Z",
         "energy_mwh": 0.025, "max_power_mw": 0.011},
    ]
    with pytest.raises(bidopt.InfeasibleError) as e:
        bidopt.plan(ev_case(sessions=sessions, charger_efficiency=0.9), DAY)
    assert e.value.asset == "ev"
    assert e.value.constraint == "session too-much"
    assert "shortfall_eur_per_mwh" in str(e.value)

    res = bidopt.plan(ev_case(sessions=sessions, charger_efficiency=0.9, shortfall_eur_per_mwh=1000.0), DAY)
    r = results(res)
    assert r.loc["too-much", "shortfall_mwh"] == pytest.approx(0.025 - 0.0198)
    assert r.loc["ok", "shortfall_mwh"] == pytest.approx(0.0)
    assert not r.loc["too-much", "met"] and r.loc["ok", "met"]
    # the car charged flat out, and the unmet energy is the asset's own cost
    assert res.schedule.ev_power_mw["2024-03-14T10:00Z":"2024-03-14T11:00Z"].to_numpy() == pytest.approx([0.011] * 2)
    assert res.model.case.assets[0].cost_eur(res.model.site.asset_blocks["ev"]) == pytest.approx(1000.0 * 0.0052)


def test_garage_limit_that_cannot_serve_all_cars_is_diagnosed():
    # two cars need 2 x 20 kWh in the same 2 h behind a 15 kW feeder
    sessions = [{"id": f"c{i}", "arrival": "2024-03-14T10:00:00Z", "departure": "2024-03-14T12:00:00Z",
                 "energy_mwh": 0.02} for i in range(2)]
    with pytest.raises(bidopt.InfeasibleError) as e:
        bidopt.plan(ev_case(sessions=sessions, garage_max_power_mw=0.015), DAY)
    assert e.value.asset == "ev"
    res = bidopt.plan(ev_case(sessions=sessions, garage_max_power_mw=0.015, shortfall_eur_per_mwh=500.0), DAY)
    assert results(res).shortfall_mwh.sum() == pytest.approx(0.04 - 0.03)


def test_bad_sessions_name_the_field():
    bad = dict(SESSIONS[0], departure="2024-03-13T17:00:00Z")
    with pytest.raises(bidopt.InputError) as e:
        ev_case(sessions=[SESSIONS[1], bad])
    assert e.value.field == "assets[0] (ev).sessions[1].departure"
    assert e.value.message.startswith("departure")
    same = dict(SESSIONS[0], departure=SESSIONS[0]["arrival"])
    with pytest.raises(bidopt.InputError, match=r"sessions\[0\]\.departure"):
        ev_case(sessions=[same])
    with pytest.raises(bidopt.InputError) as e:
        ev_case(sessions=[dict(SESSIONS[0], energy_mwh=-0.01)])
    assert e.value.field == "assets[0] (ev).sessions[0].energy_mwh"
    with pytest.raises(bidopt.InputError) as e:
        ev_case(sessions=[dict(SESSIONS[0], max_power_mw=-0.01)])
    assert e.value.field == "assets[0] (ev).sessions[0].max_power_mw"
    with pytest.raises(bidopt.InputError) as e:
        ev_case(sessions=[SESSIONS[0], SESSIONS[0]])
    assert e.value.field == "assets[0] (ev).sessions"
    with pytest.raises(bidopt.InputError) as e:
        ev_case(sessions=SESSIONS, charger_power_mw=-1)
    assert e.value.field == "assets[0] (ev).charger_power_mw"


def test_toml_case_with_template_and_datetimes(tmp_path):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", np.linspace(50, 80, 24))
    (tmp_path / "case.toml").write_text(f"""
[case]
zone = "SE3"
[prices]
dayahead = "p.csv"
[grid]
import_limit_mw = 1.0
export_limit_mw = 1.0
[[assets]]
template = "{(REPO / 'models' / 'assets' / 'ev_garage.toml').as_posix()}"
name = "garage"
sessions = [
  {{ id = "a", arrival = 2024-03-14T16:00:00Z, departure = 2024-03-14T22:00:00Z, energy_mwh = 0.02 }},
  {{ id = "b", arrival = 2024-03-14T17:00:00, departure = 2024-03-14T21:30:00, energy_mwh = 0.5 }},
]
""")
    case = bidopt.load_case(tmp_path / "case.toml")
    ev = case.assets[0]
    assert ev.garage_max_power_mw == 0.1 and ev.sessions[1].arrival.tzinfo is not None
    res = bidopt.plan(case, DAY)
    r = results(res, "garage")
    assert r.loc["a", "met"]
    # b cannot get 0.5 MWh in 4.5 h at 11 kW: the template's shortfall price covers it
    assert r.loc["b", "shortfall_mwh"] == pytest.approx(0.5 - 0.011 * 0.95 * 4.5)


def test_v2g_needs_binaries_only_with_negative_prices(tmp_path):
    p = np.full(24, 50.0)
    p[3:7] = -40.0  # 02-06Z negative
    p[8:10] = 300.0  # 07-09Z dear
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", p)
    car = [{"id": "v", "arrival": "2024-03-13T23:00:00Z", "departure": "2024-03-14T12:00:00Z", "energy_mwh": 0.02,
            "max_power_mw": 0.01}]
    res = bidopt.plan(ev_case(tmp_path, prices="p.csv", sessions=car, v2g=True, charger_efficiency=0.9), DAY)
    assert res.summary["binaries"] is True
    blk = res.model.site.asset_blocks["ev"]
    x = np.array([blk.charge[k].value for k in blk.P])
    y = np.array([blk.discharge[k].value for k in blk.P])
    assert np.minimum(x, y).max() < 1e-9
    assert np.array([blk.energy[k].value for k in blk.P]).min() >= -1e-9
    s = res.schedule
    assert s.ev_power_mw["2024-03-14T07:00Z"] < -1e-3  # sells back at 300
    assert results(res).loc["v", "met"]
    plain = bidopt.plan(ev_case(tmp_path, prices="p.csv", sessions=car, charger_efficiency=0.9), DAY)
    assert plain.summary["binaries"] is False
    assert res.summary["objective_eur"] > plain.summary["objective_eur"]

    write_prices(tmp_path / "q.csv", "2024-03-13T23:00Z", np.abs(p))
    pos = bidopt.plan(ev_case(tmp_path, prices="q.csv", sessions=car, v2g=True, charger_efficiency=0.9), DAY)
    assert pos.summary["binaries"] is False


@pytest.mark.parametrize("ler", [None, True])
def test_fcr_d_headroom(tmp_path, ler):
    """One-way charging is not a LER by default (it reserves what it sold, each way); declared a LER
    (``ler = true``) it keeps the 0.20 opposite-direction share too."""
    idx = btime.delivery_index(DAY, 60)
    for prod in ("fcr_d_up", "fcr_d_down"):
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mw_h": 20.0}).to_csv(
            tmp_path / f"{prod}.csv", index=False)
    car = [{"id": "r", "arrival": "2024-03-14T00:30:00Z", "departure": "2024-03-14T08:00:00Z", "energy_mwh": 0.03,
            "max_power_mw": 0.011}]
    case = ev_case(tmp_path, prices=night_prices(tmp_path), sessions=car, offer_reserves=True,
                   extra_prices={"fcr_d_up": "fcr_d_up.csv", "fcr_d_down": "fcr_d_down.csv"},
                   markets={"fcr": {"step_mw": 0.0}}, **({} if ler is None else {"ler": ler}))
    assert provided_by(case.assets[0]) == {"fcr_d_up", "fcr_d_down", "local_flex"}
    assert case.assets[0].limited_energy_reservoir() is bool(ler)
    res = bidopt.plan(case, DAY)
    s = res.schedule
    up, down, p, avail = s.ev_fcr_d_up_mw, s.ev_fcr_d_down_mw, s.ev_power_mw, s.ev_available_mw
    assert up.sum() > 0 and down.sum() > 0
    full = s.ev_connected > 1 - 1e-9
    assert (up <= p + 1e-7).all()  # upward = stop charging
    assert (down <= avail - p + 1e-7).all()
    assert (up[~full] < 1e-9).all() and (down[~full] < 1e-9).all()  # 00:00 (half), after 08:00
    share = 0.2 if ler else 0.0  # the LER opposite-direction share
    assert (up + share * down <= p + 1e-7).all()
    assert (down + share * up <= avail - p + 1e-7).all()
    if not ler:  # sold up to the charging power in some hour: no opposite share held back
        assert ((up - p).abs() < 1e-6)[up > 1e-9].any() and ((up + 0.2 * down) > p + 1e-6).any()
    assert results(res).loc["r", "met"]
    assert res.summary["revenue_eur"]["fcr_d_up"] > 0


# ------------------------------------------------------------------------------------- real data


@needs_s2024
def test_garage_of_100_sorensen_sessions_plans():
    t0 = time.perf_counter()
    sessions = read_sessions(S2024, "sorensen2024", garage="ASK", start="2019-11-04", max_sessions=100)
    first = sessions.arrival_utc.min().tz_convert(btime.STOCKHOLM).date()
    last = sessions.departure_utc.max().tz_convert(btime.STOCKHOLM).date()
    horizon = Horizon.for_days(first, last, 60)
    case = ev_case(sessions_file=str(S2024), sessions_format="sorensen2024", garage_id="ASK", max_sessions=100)
    pm = bidopt.PortfolioModel(case, horizon)
    t1 = time.perf_counter()
    pm.solve()
    t2 = time.perf_counter()
    blk = pm.site.asset_blocks["ev"]
    r = case.assets[0].session_results(blk)
    print(f"\nEV garage: {len(r)} sessions, {len(blk.P)} (session, MTU) pairs, {horizon.n} MTUs "
          f"({first}..{last}): read+build {t1 - t0:.2f} s, solve {t2 - t1:.2f} s")
    assert len(r) == 100
    assert r["met"].all()
    assert r.index.is_unique
    # the whole sessions fit inside the horizon, so the full energy is delivered
    inside = r.hours_in_horizon >= r.hours - 1e-9
    np.testing.assert_allclose(r.energy_delivered_mwh[inside], r.energy_mwh[inside], atol=1e-7)
    s = pm.schedule()
    blind = case.assets[0].uncontrolled_mw(pm.data["ev"])
    price = s.price_eur_per_mwh.to_numpy()
    assert float(price @ s.ev_power_mw.to_numpy()) < float(price @ blind)


@needs_s2024
def test_sorensen2024_loader():
    df = read_sessions(S2024, "sorensen2024")
    assert df.attrs["rows"] == 35377
    assert df.attrs["dropped_no_plugout"] == 38
    assert len(df) == 35377 - 38
    assert df.session_id.is_unique and (df.departure_utc > df.arrival_utc).all()
    assert set(df.garage) >= {"ASK", "OSL_S", "TRO_R", "KRO"}
    row = df.set_index("session_id").loc["ASK_18266"]  # 2019-11-28 19:08 local (CET) -> 18:08Z, 19,96 kWh
    assert row.arrival_utc == pd.Timestamp("2019-11-28T18:08:00Z")
    assert row.departure_utc == pd.Timestamp("2019-11-29T07:20:00Z")
    assert row.energy_mwh == pytest.approx(0.01996)
    # spring forward 2021-03-28: 17:07:40 CET -> 11:05:28 CEST is 16.96 h, as the file's connection_time says
    kro = df.set_index("session_id").loc["KRO_351"]
    assert (kro.departure_utc - kro.arrival_utc).total_seconds() / 3600 == pytest.approx(16.96333, abs=1e-4)
    # 02:38 on 2018-10-28 happens twice; connection_time (5.68 h to 08:19) picks the second (CET)
    osl = df.set_index("session_id").loc["OSL_S_3456"]
    assert osl.arrival_utc == pd.Timestamp("2018-10-28T01:38:00Z")
    ask = read_sessions(S2024, "sorensen2024", garage="ASK", start="2019-11-04", end="2019-11-05", max_sessions=5)
    assert len(ask) == 5 and (ask.garage == "ASK").all()
    assert (ask.departure_utc > pd.Timestamp("2019-11-04T00:00Z")).all()
    assert (ask.arrival_utc < pd.Timestamp("2019-11-05T00:00Z")).all()
    with pytest.raises(bidopt.InputError, match="no sessions for garage"):
        read_sessions(S2024, "sorensen2024", garage="NOPE")


@needs_s2021
def test_sorensen2021_loader():
    df = read_sessions(S2021, "sorensen2021")
    assert df.attrs["rows"] == 6878
    assert df.attrs["dropped_no_plugout"] == 34
    assert len(df) == 6878 - 34
    assert (df.departure_utc > df.arrival_utc).all()
    row = df.set_index("session_id").loc["3"]  # 21.12.2018 11:33 -> 19:46 local, 29,87 kWh
    assert row.garage == "AdO3"
    assert row.arrival_utc == pd.Timestamp("2018-12-21T10:33:00Z")
    assert row.departure_utc == pd.Timestamp("2018-12-21T18:46:00Z")
    assert row.energy_mwh == pytest.approx(0.02987)
    # plug-in and plug-out in the same minute: the departure comes from Duration_hours (28 s)
    short = df.set_index("session_id").loc["80"]
    assert (short.departure_utc - short.arrival_utc).total_seconds() == pytest.approx(28.0)
    assert (read_sessions(S2021, "sorensen2021", garage=["Bl2", "UT9"]).garage.isin(["Bl2", "UT9"])).all()


def test_sessions_from_a_sorensen_file_in_a_case(tmp_path):
    """A small file in the Sørensen 2021 format, local time, decimal commas, an NA plug-out."""
    (tmp_path / "s.csv").write_text(
        "session_ID;Garage_ID;User_ID;User_type;Shared_ID;Start_plugin;Start_plugin_hour;End_plugout;"
        "End_plugout_hour;El_kWh;Duration_hours;month_plugin;weekdays_plugin;Plugin_category;Duration_category\n"
        "1;G1;G1-1;Private;NA;14.03.2024 18:00;18;15.03.2024 07:00;7;20,5;13;Mar;Thursday;x;y\n"
        "2;G1;G1-2;Private;NA;14.03.2024 02:00;2;NA;NA;5,0;NA;Mar;Thursday;x;NA\n"
        "3;G2;G2-1;Private;NA;14.03.2024 08:00;8;14.03.2024 10:00;10;2,0;2;Mar;Thursday;x;y\n"
    )
    case = ev_case(tmp_path, sessions_file="s.csv", sessions_format="sorensen2021", garage_id="G1")
    res = bidopt.plan(case, DAY)
    r = results(res)
    assert list(r.index) == ["1"]  # G2 filtered out, the NA plug-out dropped
    # 17:00Z..06:00Z (13 h), 6 h inside the day
    assert r.loc["1", "energy_required_mwh"] == pytest.approx(0.0205 * 6 / 13)
    assert r.loc["1", "met"]
    with pytest.raises(bidopt.InputError) as e:
        bidopt.plan(ev_case(tmp_path, sessions_file="missing.csv", sessions_format="sorensen2021"), DAY)
    assert e.value.field == "assets.ev.sessions_file"


def test_plain_csv_loader(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(
        "session_id,arrival_utc,departure_utc,energy_kwh,max_power_kw\n"
        "x,2024-03-14T01:00:00Z,2024-03-14T05:00:00Z,12.5,7.4\n"
        "y,2024-03-14 06:00,2024-03-14 09:00,3,\n"
    )
    df = read_sessions(f, "csv")
    assert list(df.session_id) == ["x", "y"]
    assert df.energy_mwh.tolist() == pytest.approx([0.0125, 0.003])
    assert df.max_power_mw.iloc[0] == pytest.approx(0.0074) and np.isnan(df.max_power_mw.iloc[1])
    assert df.arrival_utc.iloc[1] == pd.Timestamp("2024-03-14T06:00Z")
    res = bidopt.plan(ev_case(tmp_path, sessions_file="s.csv"), DAY)
    assert results(res).met.all()
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_utc,departure_utc,energy_mwh\n2024-03-14T01:00Z,2024-03-14T05:00Z,0.01\n"
                   "2024-03-14T05:00Z,2024-03-14T04:00Z,0.01\n")
    with pytest.raises(bidopt.InputError) as e:
        read_sessions(bad, "csv")
    assert e.value.field == "row 2" and "departure" in e.value.message
