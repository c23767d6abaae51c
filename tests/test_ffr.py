"""FFR (fast frequency reserve) through the market-product seam: bidopt/markets/ffr.py alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import time as btime
from bidopt.assets.battery import Battery
from bidopt.assets.curtailable_load import CurtailableLoad
from bidopt.errors import InputError
from bidopt.markets import product, provided_by, stream_order

SUMMER, WINTER = "2024-06-12", "2024-01-10"


def _write(path, idx, col, values):
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), col: values}).to_csv(path, index=False)


def ffr_case(tmp_path, day=SUMMER, *, ffr_price=50.0, ffr=None, fcr_d_up=None, da_price=0.0, no_spot_trade=True,
             **battery):
    idx = btime.delivery_index(day, 60)
    if da_price is not None:
        _write(tmp_path / "da.csv", idx, "price_eur_per_mwh", np.broadcast_to(da_price, len(idx)))
    _write(tmp_path / "ffr.csv", idx, "price_eur_per_mw_h", np.broadcast_to(ffr_price, len(idx)))
    prices = {"dayahead": "synthetic" if da_price is None else "da.csv"}
    if fcr_d_up is not None:
        _write(tmp_path / "fcr_d_up.csv", idx, "price_eur_per_mw_h", np.broadcast_to(fcr_d_up, len(idx)))
        prices["fcr_d_up"] = "fcr_d_up.csv"
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 1.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_initial_mwh": 0.5, **battery}
    markets = {"ffr": {"prices": "ffr.csv", **(ffr or {})}, "fcr": {"step_mw": 0.1}}
    # no_spot_trade: 100 SEK/kWh on import and on export (more than a day of reserves repays) make
    # every spot trade a loss, so the battery keeps to its reserves; its 1 MW connection carries
    # their full activation (the site checks it)
    limit = 1.0 if no_spot_trade else 2.0
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": prices,
            "grid": {"import_limit_mw": limit, "export_limit_mw": limit}, "assets": [bat], "markets": markets}
    if no_spot_trade:
        data["retail"] = {"supplier_fee_sek_per_kwh": 100.0, "export": {"handling_fee_sek_per_kwh": 100.0}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def test_battery_sells_its_power_as_ffr(tmp_path):
    res = bidopt.plan(ffr_case(tmp_path), SUMMER)
    np.testing.assert_allclose(res.schedule.bess_ffr_mw, 1.0, atol=1e-9)  # 30 s of 1 MW is 0.008 MWh
    assert res.summary["revenue_eur"]["ffr"] == pytest.approx(1.0 * 50.0 * 24)
    assert list(res.summary["revenue_eur"])[:5] == ["dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "ffr"]


def test_lots_and_energy_for_the_support_duration(tmp_path):
    """An almost empty battery holds only what it can sustain for ``endurance_s``, in whole lots."""
    res = bidopt.plan(ffr_case(tmp_path, soc_initial_mwh=0.05, ffr={"endurance_s": 900.0}), SUMMER)
    np.testing.assert_allclose(res.schedule.bess_ffr_mw, 0.2, atol=1e-9)  # 0.05 MWh / 0.25 h = 0.2 MW


def test_out_of_season_and_outside_the_hours_nothing_is_sold(tmp_path):
    assert bidopt.plan(ffr_case(tmp_path, WINTER), WINTER).schedule.bess_ffr_mw.abs().max() == 0.0
    res = bidopt.plan(ffr_case(tmp_path, ffr={"hour_start": 8, "hour_end": 20}), SUMMER)
    local_hour = res.schedule.index.tz_convert(btime.STOCKHOLM).hour
    on = (local_hour >= 8) & (local_hour < 20)
    np.testing.assert_allclose(res.schedule.bess_ffr_mw[on], 1.0, atol=1e-9)
    np.testing.assert_allclose(res.schedule.bess_ffr_mw[~on], 0.0, atol=1e-9)
    winter = bidopt.plan(ffr_case(tmp_path, WINTER, ffr={"season_start": "11-01", "season_end": "03-31"}), WINTER)
    np.testing.assert_allclose(winter.schedule.bess_ffr_mw, 1.0, atol=1e-9)  # a season across New Year


def test_ffr_stacks_with_fcr_d_up_within_the_power(tmp_path):
    """Both upward products at once: their headroom is summed, never more than the battery's 1 MW."""
    res = bidopt.plan(ffr_case(tmp_path, ffr_price=60.0, fcr_d_up=40.0), SUMMER)
    s = res.schedule
    assert (s.bess_ffr_mw + s.bess_fcr_d_up_mw <= 1.0 + 1e-9).all()
    np.testing.assert_allclose(s.bess_ffr_mw, 1.0, atol=1e-9)  # the better price takes the power
    res = bidopt.plan(ffr_case(tmp_path, ffr_price=30.0, fcr_d_up=40.0), SUMMER)
    np.testing.assert_allclose(res.schedule.bess_fcr_d_up_mw, 1.0, atol=1e-9)
    np.testing.assert_allclose(res.schedule.bess_ffr_mw, 0.0, atol=1e-9)


def test_headroom_counts_against_discharging(tmp_path):
    """With an open grid and a high evening price the battery discharges only what FFR leaves."""
    da = np.r_[np.zeros(18), np.full(6, 400.0)]
    res = bidopt.plan(ffr_case(tmp_path, ffr_price=5.0, da_price=da, no_spot_trade=False), SUMMER)
    s = res.schedule
    assert (s.bess_discharge_mw - s.bess_charge_mw + s.bess_ffr_mw <= 1.0 + 1e-9).all()
    assert res.summary["revenue_eur"]["ffr"] == pytest.approx(5.0 * float(s.bess_ffr_mw.sum()))


def test_who_provides_ffr():
    bess = Battery(name="b", power_mw=1.0, energy_mwh=1.0)
    assert "ffr" in provided_by(bess)
    assert "ffr" not in provided_by(Battery(name="b", power_mw=1.0, energy_mwh=1.0, reserves=["fcr_d_up"]))
    assert "ffr" not in provided_by(CurtailableLoad(name="c", offer_reserves=True))  # no declared response time


def test_without_ffr_the_outputs_do_not_change(tmp_path):
    case = ffr_case(tmp_path)
    plain = case.model_copy(update={"markets": {"fcr": {"step_mw": 0.1}}})
    res = bidopt.plan(plain, SUMMER)
    assert "ffr" not in res.summary["revenue_eur"] and "bess_ffr_mw" not in res.schedule
    assert "ffr" not in stream_order(plain) and "ffr" in stream_order(case)


@pytest.mark.parametrize("table,field", [({"lot_mw": -1}, "markets.ffr.lot_mw"),
                                          ({"season_start": "13-01"}, "markets.ffr"),
                                          ({"hour_start": 10, "hour_end": 9}, "markets.ffr"),
                                          ({"endurance": 30}, "markets.ffr.endurance")])
def test_rules_table_errors_name_the_field(tmp_path, table, field):
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        bidopt.plan(ffr_case(tmp_path, ffr=table), SUMMER)


def test_unknown_reserve_name_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"assets\.bess\.reserves.*'ffx'"):
        bidopt.plan(ffr_case(tmp_path, reserves=["ffx"]), SUMMER)


def test_gate_is_configurable(tmp_path):
    ffr = product("ffr")
    assert ffr.gate_utc(ffr_case(tmp_path), SUMMER) == pd.Timestamp("2024-06-11T13:00Z")  # 15:00 CEST D-1
    late = ffr_case(tmp_path, ffr={"gate_time": "18:00", "gate_days_before": 2})
    assert ffr.gate_utc(late, SUMMER) == pd.Timestamp("2024-06-10T16:00Z")


def test_bid_holds_ffr_as_a_first_stage_decision(tmp_path):
    """The stochastic bidding model sells FFR once for all its price scenarios (first stage)."""
    bids = bidopt.bid(ffr_case(tmp_path, no_spot_trade=False, da_price=None), SUMMER)
    bm = bids.result.model
    assert bm.capacities["ffr"] is bm.m.ffr and not hasattr(bm.m.site[0], "ffr")  # shared, not per scenario
    assert bids.summary["revenue_eur"]["ffr"] == pytest.approx(50.0 * float(bids.schedule.bess_ffr_mw.sum()))
    assert bids.summary["revenue_eur"]["ffr"] > 0


def test_backtest_holds_the_bid_ffr_at_delivery(tmp_path, monkeypatch):
    """The delivery re-plan keeps the capacity the bid sold (it is not re-decided with hindsight),
    and daily.csv carries the ffr stream."""
    from bidopt.backtest.day import strategy_day
    from bidopt.markets.base import Product

    held, fix = [], Product.fix_capacity
    monkeypatch.setattr(Product, "fix_capacity", lambda self, cap, vol: (held.append((self.name, vol)),
                                                                          fix(self, cap, vol)))
    case = ffr_case(tmp_path, no_spot_trade=False, da_price=None)
    bids = bidopt.bid(case, SUMMER)
    sold = bids.schedule.bess_ffr_mw.to_numpy()
    out = strategy_day(case, SUMMER, {})
    assert [name for name, _ in held] == ["ffr"]
    np.testing.assert_allclose([held[0][1][("ffr", h)] for h in range(24)], sold, atol=1e-9)
    np.testing.assert_allclose(out.timeseries.bess_ffr_mw.to_numpy(), sold, atol=1e-9)
    assert out.record["ffr_eur"] == pytest.approx(50.0 * float(sold.sum()))


def test_demo_ffr_case_plans_and_bids_from_the_command_line(tmp_path):
    """cases/demo_ffr: plan sells FFR in the ffr stream; bid writes ffr_bids.csv beside fcr_bids.csv."""
    import json

    from click.testing import CliRunner

    from bidopt.cli import main
    from tests.conftest import REPO

    case = REPO / "cases" / "demo_ffr" / "case.toml"
    r = CliRunner().invoke(main, ["plan", str(case), "--day", SUMMER, "--out", str(tmp_path / "plan")])
    assert r.exit_code == 0, r.output
    rev = json.loads((tmp_path / "plan" / "summary.json").read_text())["revenue_eur"]
    sched = pd.read_csv(tmp_path / "plan" / "schedule.csv")
    assert rev["ffr"] > 0 and (sched.bess_ffr_mw <= 1.0 + 1e-9).all()
    r = CliRunner().invoke(main, ["bid", str(case), "--day", SUMMER, "--out", str(tmp_path / "bid")])
    assert r.exit_code == 0, r.output
    bids = pd.read_csv(tmp_path / "bid" / "ffr_bids.csv")
    assert list(bids.columns) == ["product", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"]
    assert (bids["product"] == "ffr").all() and len(bids) > 0
    np.testing.assert_allclose(bids.volume_mw / 0.1, np.round(bids.volume_mw / 0.1), atol=1e-6)  # whole lots


def test_no_flex_baseline_sells_no_ffr(tmp_path):
    from bidopt.backtest.day import no_flex_day

    out = no_flex_day(ffr_case(tmp_path, no_spot_trade=False), SUMMER, {})
    assert out.record.get("ffr_eur", 0.0) == 0.0 and "bess_ffr_mw" not in out.timeseries


def test_two_day_backtest_of_the_demo_ffr_case(tmp_path):
    """daily.csv carries ffr_eur (after the listed streams), summary.json revenue has ffr, and the
    strategy earns no more FFR than perfect foresight's plan could hold."""
    import json

    from tests.conftest import REPO

    case = bidopt.load_case(REPO / "cases" / "demo_ffr" / "case.toml")
    bt = bidopt.backtest(case, start="2024-06-11", end="2024-06-12", out_dir=tmp_path / "bt")
    daily = pd.read_csv(tmp_path / "bt" / "daily.csv")
    assert "ffr_eur" in daily and (daily.ffr_eur > 0).all()
    cols = list(daily.columns)
    assert cols.index("degradation_eur") < cols.index("ffr_eur")
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert summary["revenue_eur"]["ffr"] == pytest.approx(float(daily.ffr_eur.sum()))
    assert bt.daily["ffr_eur"].sum() <= 2 * 24 * 6.0 + 1e-6  # at most 1 MW every hour at the top price


def test_validate_checks_an_ffr_bid_file(tmp_path):
    """bidopt validate recognises ffr_bids.csv by its content and checks each row by the FFR rules."""
    from click.testing import CliRunner

    from bidopt.cli import main

    good = tmp_path / "ffr_bids.csv"
    good.write_text("product,hour_start_utc,volume_mw,price_eur_per_mw_h\n"
                    "ffr,2024-06-11T22:00:00Z,1.0,0.0\nffr,2024-06-11T23:00:00Z,0.3,0.0\n")
    r = CliRunner().invoke(main, ["validate", str(good)])
    assert r.exit_code == 0 and "valid" in r.output
    bad = tmp_path / "renamed.csv"
    bad.write_text("product,hour_start_utc,volume_mw,price_eur_per_mw_h\n"
                   "ffr,2024-06-11T22:30:00Z,1.05,x\n")
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code == 1
    assert "not a UTC hour start" in r.output and "multiple of the lot 0.1" in r.output and "not a number" in r.output
