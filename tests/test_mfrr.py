"""mFRR capacity (up/down) and mFRR energy activation (EAM) through the market-product seam:
bidopt/markets/mfrr.py, the readers of bidopt/data/mfrr_prices.py, cases/se3_battery_mfrr."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import markets
from bidopt import time as btime
from bidopt.bids.files import validate_file
from bidopt.data import sources
from bidopt.data.mfrr_prices import read_activation_prices, read_mfrr_capacity
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets.mfrr import EAM_COLUMNS, activated
from bidopt.model import PortfolioModel
from tests.conftest import REPO, SHARED_DATA

DAY = "2024-03-05"  # a Tuesday, no DST change
ANCILLARY = SHARED_DATA / "ancillary"
CASE = REPO / "cases" / "se3_battery_mfrr"
ALL_HOURS = {"weekdays": list(range(7)), "up_hours": list(range(24)), "down_hours": list(range(24))}
MFRR = markets.product("mfrr")


def _stamps(idx) -> list[str]:
    return list(pd.DatetimeIndex(idx).strftime("%Y-%m-%dT%H:%M:%SZ"))


def mfrr_case(tmp_path, day=DAY, *, up=20.0, down=10.0, da=50.0, act_up=None, act_down=None, act_minutes=60,
              mfrr=None, **battery):
    """A 1 MW / 2 MWh loss-free battery on ``day`` with mFRR capacity prices ``up``/``down`` (EUR/MW/h)
    and day-ahead ``da`` (EUR/MWh), per hour (scalars or 24 values); activation prices when given."""
    idx = btime.delivery_index(day, 60)
    pd.DataFrame({"timestamp_utc": _stamps(idx), "price_eur_per_mwh": np.broadcast_to(da, len(idx))}).to_csv(
        tmp_path / "da.csv", index=False)
    pd.DataFrame({"timestamp_utc": _stamps(idx), "up_price_eur_per_mw_h": np.broadcast_to(up, len(idx)),
                  "down_price_eur_per_mw_h": np.broadcast_to(down, len(idx))}).to_csv(tmp_path / "cap.csv", index=False)
    table = {"prices": "cap.csv", **ALL_HOURS, **(mfrr or {})}
    if act_up is not None:
        aidx = btime.delivery_index(day, act_minutes)
        pd.DataFrame({"timestamp_utc": _stamps(aidx), "up_price_eur_per_mwh": np.broadcast_to(act_up, len(aidx)),
                      "down_price_eur_per_mwh": np.broadcast_to(act_down if act_down is not None else -500.0,
                                                                len(aidx))}).to_csv(tmp_path / "act.csv", index=False)
        table["activation_prices"] = "act.csv"
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_initial_mwh": 1.0, **battery}
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": {"dayahead": "da.csv"},
            "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0}, "assets": [bat], "markets": {"mfrr": table}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def _delivery(case, day=DAY, volumes=None):
    """The delivery re-plan as the backtest runs it: capacity held at ``volumes`` (else free), the
    realised activation set by the product's hook, solved."""
    h = Horizon.for_days(day)
    spot = sources.dayahead_prices(case, h.index)
    pm = PortfolioModel(case, h, spot)
    if volumes is not None:
        MFRR.fix_capacity(pm.site.capacities["mfrr"], volumes)
    MFRR.activate_at_delivery(pm.site.capacities["mfrr"], pm.site.market_terms["mfrr"], h, case, spot)
    pm.solve()
    return pm


# ------------------------------------------------------------------------------------------ readers


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_reader_on_the_real_energinet_files():
    cap = read_mfrr_capacity(ANCILLARY / "energinet_mFRR_capacity_DK2_2021.csv")  # newest first in the file
    assert len(cap) == 8760 and cap.index[0] == pd.Timestamp("2021-01-01T00:00Z")
    assert (np.diff(cap.index.as_unit("s").asi8) == 3600).all()
    # the file's last line: 2021-01-01T00:00:00+00:00,...,261,269,196,26.34 (expected, purchased, DKK, EUR)
    assert tuple(cap.iloc[0][["up_price_eur_per_mw_h", "up_volume_mw"]]) == (26.34, 269.0)
    assert cap.up_price_eur_per_mw_h.mean() == pytest.approx(17.99, abs=0.01)
    assert (cap.down_price_eur_per_mw_h == 0).all() and (cap.down_volume_mw == 0).all()  # no DK2 down in 2021
    act = read_activation_prices(ANCILLARY / "energinet_regulating_balancing_power_DK2_2021.csv")
    assert len(act) == 8760 and act.attrs["period_minutes"] == 60
    row = act.loc["2021-12-31T22:00Z"]  # "...,346.2,46.55415854,221.31,29.75996773,..."
    assert row.up_price_eur_per_mwh == pytest.approx(46.55415854) and row.down_price_eur_per_mwh == pytest.approx(29.75996773)


def test_reader_plain_csv_and_its_errors(tmp_path):
    f = tmp_path / "cap.csv"
    f.write_text("timestamp_utc,up_price_eur_per_mw_h,down_price_eur_per_mw_h\n"
                 "2024-03-05T00:00:00Z,12.5,\n2024-03-05T01:00:00Z,13,4\n")
    cap = read_mfrr_capacity(f)
    assert cap.up_price_eur_per_mw_h.tolist() == [12.5, 13.0]
    assert np.isnan(cap.down_price_eur_per_mw_h.iloc[0]) and np.isnan(cap.up_volume_mw).all()
    f.write_text("timestamp_utc,up_price_eur_per_mw_h\n2024-03-05T00:00:00Z,12.5\n2024-03-05T02:00:00Z,x\n")
    with pytest.raises(InputError, match="line 3"):
        read_mfrr_capacity(f)
    f.write_text("time,price\n2024-03-05T00:00:00Z,1\n")
    with pytest.raises(InputError, match="unrecognised mFRR capacity file"):
        read_mfrr_capacity(f)


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_case_reads_the_real_2021_data():
    case = bidopt.load_case(CASE)
    h = Horizon.for_days("2021-03-01", "2021-03-07")  # Monday to Sunday
    assert MFRR.offered(case) == ["mfrr_up", "mfrr_down"]
    up = MFRR.open_hours(case, "mfrr_up", h)
    local = h.hour_starts.tz_convert(h.tz)
    np.testing.assert_array_equal(up, (local.day_of_week < 5) & (local.hour >= 6) & (local.hour < 22))
    assert not MFRR.open_hours(case, "mfrr_down", h).any()  # DK2 bought no down capacity in 2021
    assert (MFRR.prices(case, "mfrr_up", h) > 0).all()
    per = MFRR.eam_periods(case, h, sources.dayahead_prices(case, h.index))
    assert len(per) == 4 * len(h.hour_starts) and per[["up_activation", "down_activation"]].notna().all().all()


@pytest.mark.realdata
@pytest.mark.usefixtures("shared_data")  # skipped without ../shared/data
def test_real_case_plans_a_weekday_and_a_weekend_day():
    """cases/se3_battery_mfrr on 2021-03-02 (Tuesday): up capacity only in local hours 6-21, never
    down (DK2 bought none), within the battery; on Saturday 2021-03-06 none (weekends not offered)."""
    case = bidopt.load_case(CASE)
    res = bidopt.plan(case, "2021-03-02")
    s, rev = res.schedule, res.summary["revenue_eur"]
    local = s.index.tz_convert(btime.STOCKHOLM)
    assert (s.bess_mfrr_up_mw[(local.hour < 6) | (local.hour >= 22)] == 0).all() and s.bess_mfrr_up_mw.sum() > 0
    assert (s.bess_mfrr_down_mw == 0).all() and rev["mfrr_down"] == 0.0
    prices = MFRR.prices(case, "mfrr_up", Horizon.for_days("2021-03-02"))
    assert rev["mfrr_up"] == pytest.approx(float((prices * s.bess_mfrr_up_mw.to_numpy()).sum()))
    assert (s.bess_discharge_mw + s.bess_mfrr_up_mw <= 1.0 + 1e-6).all()
    assert bidopt.plan(case, "2021-03-06").schedule.bess_mfrr_up_mw.sum() == 0.0


def test_rules_errors_name_the_field(tmp_path):
    for bad, field in (({"directions": ["sideways"]}, "directions"), ({"eam_mtu_minutes": 20}, "eam_mtu_minutes"),
                       ({"up_hours": [24]}, "up_hours"), ({"weekdays": [7]}, "weekdays"),
                       ({"lot_mw": -1}, "lot_mw"), ({"typo": 1}, "typo")):
        with pytest.raises(InputError) as e:
            mfrr_case(tmp_path, mfrr=bad)
        assert f"markets.mfrr.{field}" in str(e.value)


# ----------------------------------------------------------------------------------------- capacity


def test_battery_sells_both_ways_and_outputs_without_mfrr_unchanged(tmp_path):
    res = bidopt.plan(mfrr_case(tmp_path, da=0.0), DAY)  # no energy value: capacity all day
    s = res.schedule
    np.testing.assert_allclose(s.bess_mfrr_up_mw, 1.0, atol=1e-9)  # 1 MWh each way from SoC 1 of 2 MWh
    np.testing.assert_allclose(s.bess_mfrr_down_mw, 1.0, atol=1e-9)
    rev = res.summary["revenue_eur"]
    assert rev["mfrr_up"] == pytest.approx(20.0 * 24) and rev["mfrr_down"] == pytest.approx(10.0 * 24)
    closed = bidopt.plan(mfrr_case(tmp_path, da=0.0, mfrr={"up_hours": [10], "down_hours": [], "weekdays": [1]}), DAY)
    local = closed.schedule.index.tz_convert(btime.STOCKHOLM)
    np.testing.assert_allclose(closed.schedule.bess_mfrr_up_mw, (local.hour == 10).astype(float), atol=1e-9)
    assert (closed.schedule.bess_mfrr_down_mw == 0).all()
    plain = mfrr_case(tmp_path)
    plain = plain.model_copy(update={"markets": {}})
    res = bidopt.plan(plain, DAY)
    assert not [c for c in res.schedule.columns if "mfrr" in c]
    assert not [k for k in res.summary["revenue_eur"] if k.startswith("mfrr")]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cap_up=st.lists(st.sampled_from([0.0, 3.0, 15.0, 60.0]), min_size=24, max_size=24),
       cap_down=st.lists(st.sampled_from([0.0, 3.0, 15.0, 60.0]), min_size=24, max_size=24),
       da=st.lists(st.floats(-20, 300), min_size=24, max_size=24),
       endurance=st.sampled_from([0.5, 1.0, 1.5]), lot=st.sampled_from([0.1, 0.5, 1.0]))
def test_headroom_holds_full_activation(tmp_path, cap_up, cap_down, da, endurance, lot):
    """Property: in every MTU the battery could deliver full activation of the capacity it sold for
    the endurance, up and down, from the SoC at the MTU's start and end, within its power."""
    case = mfrr_case(tmp_path, up=cap_up, down=cap_down, da=da,
                     mfrr={"endurance_h": endurance, "lot_mw": lot}, charge_efficiency=0.95, discharge_efficiency=0.95)
    s = bidopt.plan(case, DAY).schedule
    soc_end = s.bess_soc_mwh.to_numpy()
    soc_start = np.r_[1.0, soc_end[:-1]]
    u, d = s.bess_mfrr_up_mw.to_numpy(), s.bess_mfrr_down_mw.to_numpy()
    net_out = (s.bess_discharge_mw - s.bess_charge_mw).to_numpy()
    tol = 1e-6
    assert (net_out + u <= 1.0 + tol).all() and (-net_out + d <= 1.0 + tol).all()
    for soc in (soc_start, soc_end):
        assert (soc * 0.95 >= u * endurance - tol).all()  # energy out for full up-activation
        assert ((2.0 - soc) / 0.95 >= d * endurance - tol).all()  # room for full down-activation
    assert np.allclose(np.round(u / lot), u / lot, atol=1e-6) and np.allclose(np.round(d / lot), d / lot, atol=1e-6)


def test_raising_the_capacity_price_raises_the_sold_share(tmp_path):
    """Day-ahead spread worth arbitrage against mFRR up: the MW-hours sold rise with the mFRR price."""
    da = np.r_[np.full(6, 10.0), np.full(6, 150.0), np.full(6, 20.0), np.full(6, 160.0)]
    sold = []
    for price in (0.0, 5.0, 40.0, 200.0):
        s = bidopt.plan(mfrr_case(tmp_path, up=price, down=0.0, da=da, mfrr={"lot_mw": 0.1}), DAY).schedule
        sold.append(float(s.bess_mfrr_up_mw.sum()))
    assert sold == sorted(sold), sold
    assert sold[0] == pytest.approx(0.0, abs=1e-9) and sold[-1] == pytest.approx(24.0) and sold[1] < sold[-1]


# ------------------------------------------------------------------------------------------------ EAM


def test_activation_rule_on_numbers():
    bid = np.array([50.0, 50.0, 50.0, 50.0])
    act = np.array([49.99, 50.0, 50.01, np.nan])
    np.testing.assert_array_equal(activated("up", bid, act), [False, True, True, False])
    np.testing.assert_array_equal(activated("down", bid, act), [True, True, False, False])


def test_activated_exactly_when_the_price_passes_the_bid(tmp_path):
    """15-min activation prices around the bid (day-ahead 50 + margin 5 = 55 up, 50 - 5 = 45 down): per
    hour the activated share is the count of quarters whose price passed the bid, over 4, and the
    activated energy is paid the mean activation price of those quarters."""
    rng = np.random.default_rng(3)
    n = 96
    act_up = np.where(rng.random(n) < 0.4, 55.0 + rng.choice([0.0, 0.01, 30.0], n), 55.0 - rng.choice([0.01, 20.0], n))
    act_down = np.where(rng.random(n) < 0.4, 45.0 - rng.choice([0.0, 0.01, 30.0], n), 45.0 + rng.choice([0.01, 9.0], n))
    case = mfrr_case(tmp_path, act_up=act_up, act_down=act_down, act_minutes=15, power_mw=2.0, energy_mwh=4.0,
                     soc_initial_mwh=2.0)  # 1 MW each way held, 1 MW left to restore the SoC
    h = Horizon.for_days(DAY)
    per = MFRR.eam_periods(case, h, np.full(24, 50.0))
    np.testing.assert_allclose(per.up_bid, 55.0) and np.testing.assert_allclose(per.down_bid, 45.0)
    pm = _delivery(case, volumes={(p, hh): 1.0 for p in ("mfrr_up", "mfrr_down") for hh in range(24)})
    terms = pm.site.market_terms["mfrr"]
    hit_up, hit_down = (act_up >= 55.0).reshape(24, 4), (act_down <= 45.0).reshape(24, 4)
    for t in range(24):
        assert terms.eam_share["mfrr_up", t].value == pytest.approx(hit_up[t].mean())
        assert terms.eam_share["mfrr_down", t].value == pytest.approx(hit_down[t].mean())
        if hit_up[t].any():
            assert terms.eam_price["mfrr_up", t].value == pytest.approx(act_up.reshape(24, 4)[t][hit_up[t]].mean())
    assert (pm.schedule().bess_mfrr_shortfall_mw < 1e-9).all()  # every activation delivered
    rev = pm.revenue()
    energy_up = (hit_up * act_up.reshape(24, 4)).sum() * 0.25
    energy_down = (hit_down * act_down.reshape(24, 4)).sum() * 0.25
    assert rev["mfrr_up"] == pytest.approx(20.0 * 24 + energy_up)
    assert rev["mfrr_down"] == pytest.approx(10.0 * 24 - energy_down)


def test_activation_changes_the_soc_at_delivery(tmp_path):
    """Up capacity held at 1 MW in hours 8-11 UTC; the activation up-price passes the bid in two of
    them: the delivery re-plan's SoC path carries the 2 MWh delivered (the re-plan may recharge it)."""
    act_up = np.full(24, 40.0)
    act_up[[9, 10]] = 300.0
    volumes = {("mfrr_up", hh): (1.0 if 8 <= hh <= 11 else 0.0) for hh in range(24)}
    volumes |= {("mfrr_down", hh): 0.0 for hh in range(24)}
    kw = {"up": 20.0, "down": 0.0, "soc_final_mwh": None}
    pm_act = _delivery(mfrr_case(tmp_path, act_up=act_up, **kw), volumes=volumes)
    s = pm_act.schedule()
    np.testing.assert_allclose(s.bess_mfrr_activated_mw, np.where(np.isin(np.arange(24), [9, 10]), 1.0, 0.0),
                               atol=1e-9)
    soc = np.r_[1.0, s.bess_soc_mwh.to_numpy()]
    flow = (s.bess_charge_mw - s.bess_discharge_mw).to_numpy()
    np.testing.assert_allclose(np.diff(soc), flow - s.bess_mfrr_activated_mw.to_numpy(), atol=1e-9)
    assert pm_act.revenue()["mfrr_up"] == pytest.approx(4 * 20.0 + 2 * 300.0)
    quiet = _delivery(mfrr_case(tmp_path, act_up=np.full(24, 40.0), **kw), volumes=volumes).schedule()
    assert (quiet.bess_mfrr_activated_mw == 0).all()


def test_eam_bids_follow_the_capacity_and_validate(tmp_path):
    case = mfrr_case(tmp_path, act_up=np.full(24, 40.0), mfrr={"eam_margin_up_eur_per_mwh": 7.5})
    h = Horizon.for_days(DAY)
    spot = np.linspace(30, 53, 24)
    volumes = {("mfrr_up", 3): 1.0, ("mfrr_down", 5): 2.0, ("mfrr_up", 4): 0.0}
    table = MFRR.eam_bid_table(case, h, volumes, spot)
    assert list(table.columns) == list(EAM_COLUMNS) and len(table) == 8  # 4 quarters each
    up = table[table.direction == "up"]
    assert (up.mtu_start_utc.dt.floor("h") == h.hour_starts[3]).all() and (up.volume_mw == 1.0).all()
    np.testing.assert_allclose(up.price_eur_per_mwh, spot[3] + 7.5)
    out = table.assign(mtu_start_utc=table.mtu_start_utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.to_csv(tmp_path / "mfrr_eam_bids.csv", index=False)
    assert validate_file(tmp_path / "mfrr_eam_bids.csv") == ("product_bids", [])
    out.loc[0, "volume_mw"] = 0.4
    out.to_csv(tmp_path / "bad.csv", index=False)
    kind, problems = validate_file(tmp_path / "bad.csv")
    assert kind == "product_bids" and len(problems) == 1 and "minimum bid" in problems[0]


def test_activation_that_cannot_be_delivered_is_a_shortfall(tmp_path):
    """1 MW up and 1 MW down held on a 1 MW / 2 MWh battery at SoC 1 MWh: the SoC must stay at 1 MWh,
    so an activation cannot be delivered. The re-plan stays feasible; the activation not delivered is
    reported and charged the shortfall penalty instead of paid."""
    act_up = np.full(24, 40.0)
    act_up[12] = 300.0
    volumes = {(p, hh): 1.0 for p in ("mfrr_up", "mfrr_down") for hh in range(24)}
    case = mfrr_case(tmp_path, act_up=act_up, act_down=100.0, mfrr={"eam_shortfall_eur_per_mwh": 700.0})
    pm = _delivery(case, volumes=volumes)
    s = pm.schedule()
    assert s.bess_mfrr_shortfall_mw.iloc[12] == pytest.approx(1.0) and s.bess_mfrr_shortfall_mw.drop(s.index[12]).max() < 1e-9
    assert (s.bess_mfrr_activated_mw.abs() < 1e-9).all()
    assert pm.revenue()["mfrr_up"] == pytest.approx(24 * 20.0 - 700.0)


def test_cli_bid_writes_both_mfrr_bid_files_and_validate_checks_them(tmp_path):
    """`bidopt bid` on a case with synthetic day-ahead history: mfrr_bids.csv (capacity) and
    mfrr_eam_bids.csv (energy: the capacity per 15 minutes, up at the planned price + margin); both
    pass `bidopt validate`, a broken EAM row fails it (exit 1)."""
    from click.testing import CliRunner

    from bidopt.cli import main

    case = mfrr_case(tmp_path, up=30.0, down=0.0, mfrr={"directions": ["up"], "eam_margin_up_eur_per_mwh": 12.0})
    text = (f'[case]\nzone = "SE3"\nmtu_minutes = 60\n[prices]\ndayahead = "synthetic"\n'
            f'[grid]\nimport_limit_mw = 2.0\nexport_limit_mw = 2.0\n[bidding]\nn_scenarios = 3\nlookback_days = 7\n'
            f'[[assets]]\nkind = "battery"\nname = "bess"\npower_mw = 1.0\nenergy_mwh = 2.0\nsoc_initial_mwh = 1.0\n'
            f'[markets.mfrr]\nprices = "cap.csv"\ndirections = ["up"]\nweekdays = {ALL_HOURS["weekdays"]}\n'
            f'up_hours = {ALL_HOURS["up_hours"]}\neam_margin_up_eur_per_mwh = 12.0\n')
    assert case.markets["mfrr"].prices == "cap.csv"
    (tmp_path / "case.toml").write_text(text)
    r = CliRunner().invoke(main, ["bid", str(tmp_path / "case.toml"), "--day", DAY, "--out", str(tmp_path / "bid")])
    assert r.exit_code == 0, r.output
    cap = pd.read_csv(tmp_path / "bid" / "mfrr_bids.csv")
    eam = pd.read_csv(tmp_path / "bid" / "mfrr_eam_bids.csv")
    assert cap.volume_mw.sum() > 0 and set(eam.direction) == {"up"}
    assert eam.volume_mw.sum() * 0.25 == pytest.approx(cap.volume_mw.sum())  # 4 quarters per hour
    sched = pd.read_csv(tmp_path / "bid" / "schedule.csv", index_col="timestamp_utc")
    hour = pd.to_datetime(eam.mtu_start_utc, utc=True).dt.floor("h").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    np.testing.assert_allclose(eam.price_eur_per_mwh, sched.price_eur_per_mwh.loc[hour].to_numpy() + 12.0, atol=0.006)
    for f in ("mfrr_bids.csv", "mfrr_eam_bids.csv"):
        r = CliRunner().invoke(main, ["validate", str(tmp_path / "bid" / f)])
        assert r.exit_code == 0 and "valid" in r.output, r.output
    eam.loc[0, "direction"] = "sideways"
    eam.to_csv(tmp_path / "bad.csv", index=False)
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "bad.csv")])
    assert r.exit_code == 1 and "sideways" in r.output, r.output


def _backtest_case(tmp_path, act_up):
    """A bidding case (synthetic day-ahead history) selling 1 MW mFRR up at 40 EUR/MW/h every hour of
    DAY, with activation prices ``act_up`` per hour (None: activation not modelled)."""
    idx = btime.delivery_index(DAY, 60)
    pd.DataFrame({"timestamp_utc": _stamps(idx), "up_price_eur_per_mw_h": 40.0}).to_csv(tmp_path / "cap.csv", index=False)
    table = {"prices": "cap.csv", "directions": ["up"], **ALL_HOURS}
    if act_up is not None:
        pd.DataFrame({"timestamp_utc": _stamps(idx), "up_price_eur_per_mwh": act_up,
                      "down_price_eur_per_mwh": 5000.0}).to_csv(tmp_path / "act.csv", index=False)
        table["activation_prices"] = "act.csv"
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": {"dayahead": "synthetic"},
            "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0}, "bidding": {"n_scenarios": 3, "lookback_days": 7},
            "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0,
                        "soc_initial_mwh": 1.0, "charge_efficiency": 1.0, "discharge_efficiency": 1.0}],
            "markets": {"mfrr": table}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def test_activation_changes_the_soc_in_the_backtest(tmp_path):
    """Backtest day: the up price passes every bid in hours 10 and 11 UTC (5000 EUR/MWh), never else.
    The strategy's delivery re-plan delivers the activation where it sold up capacity: its SoC path
    carries the activated energy (SoC(t) - SoC(t-1) = charge - discharge - activated), the energy is
    paid the activation price, and the SoC the next day starts from is that path's last value."""
    from bidopt.backtest.engine import backtest

    act_up = np.full(24, -1000.0)
    act_up[[11, 12]] = 5000.0  # idx[0] is 23:00Z the day before: idx[11] = 10:00Z
    res = backtest(_backtest_case(tmp_path, act_up), DAY, DAY)
    ts = res.timeseries
    sold = ts.bess_mfrr_up_mw.to_numpy()
    assert sold[[11, 12]].sum() > 0  # capacity held in the activated hours
    np.testing.assert_allclose(ts.bess_mfrr_activated_mw, np.where(np.isin(np.arange(24), [11, 12]), sold, 0.0),
                               atol=1e-9)
    soc = np.r_[1.0, ts.bess_soc_mwh.to_numpy()]
    np.testing.assert_allclose(np.diff(soc), (ts.bess_charge_mw - ts.bess_discharge_mw - ts.bess_mfrr_activated_mw)
                               .to_numpy(), atol=1e-9)
    day = res.daily.iloc[0]  # capacity paid the price file's 40 EUR/MW/h, activated energy 5000 EUR/MWh
    assert day["mfrr_up_eur"] == pytest.approx(40.0 * sold.sum() + 5000.0 * sold[[11, 12]].sum(), rel=1e-9)


def test_zone_proxy_moves_the_premium_not_the_level(tmp_path):
    """With activation_dayahead (the activation zone's day-ahead prices) the activation price used is
    the case's day-ahead price plus the zone's premium over its own day-ahead price."""
    act = np.linspace(60.0, 90.0, 24)
    case = mfrr_case(tmp_path, da=40.0, act_up=act, act_down=act - 30.0)
    idx = btime.delivery_index(DAY, 60)
    pd.DataFrame({"timestamp_utc": _stamps(idx), "price_eur_per_mwh": 55.0}).to_csv(tmp_path / "zone_da.csv", index=False)
    proxied = case.model_copy(update={"markets": {"mfrr": case.markets["mfrr"].model_copy(
        update={"activation_dayahead": "zone_da.csv"})}})
    h = Horizon.for_days(DAY)
    plain = MFRR.eam_periods(case, h, np.full(24, 40.0))
    moved = MFRR.eam_periods(proxied, h, np.full(24, 40.0))
    np.testing.assert_allclose(plain.up_activation.to_numpy(), np.repeat(act, 4))
    np.testing.assert_allclose(moved.up_activation.to_numpy(), np.repeat(40.0 + act - 55.0, 4))
    np.testing.assert_allclose(moved.down_activation.to_numpy(), np.repeat(40.0 + act - 30.0 - 55.0, 4))
