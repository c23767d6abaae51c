"""Backtest baselines (issue 13, item 1): ``persistence`` plans on the last published day's prices
and submits those volumes at any price; ``no_flex`` runs every asset unmanaged. Each is checked
against its definition on hand-made days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bidopt import time as btime
from bidopt.backtest import baselines
from bidopt.backtest.day import day_horizon, no_flex_day, strategy_day
from bidopt.backtest.engine import backtest
from bidopt.backtest.state import EMPTY
from bidopt.case import case_from_dict
from bidopt.errors import InputError
from bidopt.model import PortfolioModel
from tests.conftest import battery_case, write_prices


def _hourly_file(tmp_path, first_day: str, days: int, fn) -> str:
    """Hourly prices from local midnight of ``first_day``: ``fn(k, local hour, position)``."""
    idx = btime.horizon_index(dt.date.fromisoformat(first_day),
                              dt.date.fromisoformat(first_day) + dt.timedelta(days=days - 1), 60)
    local = idx.tz_convert("Europe/Stockholm")
    k = np.asarray((local.tz_localize(None).normalize() - pd.Timestamp(first_day)).days)
    prices = [fn(int(a), int(h), i) for i, (a, h) in enumerate(zip(k, local.hour, strict=True))]
    return str(write_prices(tmp_path / "prices.csv", idx[0].strftime("%Y-%m-%dT%H:%M:%SZ"), prices))


def test_source_day_is_d_minus_1_at_the_day_ahead_gate():
    # gate D-1 12:00, D-1's prices published D-2 12:45; D's only at D-1 12:45, after the gate
    assert baselines.source_day("2024-03-14") == dt.date(2024, 3, 13)
    assert baselines.source_day("2024-03-31") == dt.date(2024, 3, 30)


def test_persistence_prices_shift_the_last_published_day_by_clock_time(tmp_path):
    f = _hourly_file(tmp_path, "2024-03-25", 12, lambda k, h, i: 100 * k + h)
    case = case_from_dict(battery_case(f))
    p = baselines.persistence_prices(case, "2024-03-28", 60)
    np.testing.assert_array_equal(p.to_numpy(), 200 + np.arange(24))  # day k = 3 priced as day 2
    # D = 2024-03-31 (23 h): its 23 clock hours take D-1's values of the same clock hour
    p = baselines.persistence_prices(case, "2024-03-31", 60)
    assert len(p) == 23
    np.testing.assert_array_equal(p.to_numpy(), [500 + h for h in range(24) if h != 2])
    # D = 2024-04-01: D-1 has no 02:00; D's 02:00 takes the hour before it
    p = baselines.persistence_prices(case, "2024-04-01", 60)
    np.testing.assert_array_equal(p.to_numpy(), [600, 601, 601, *range(603, 624)])


def test_persistence_prices_on_autumn_days_and_quarter_hours(tmp_path):
    f = _hourly_file(tmp_path, "2024-10-24", 6, lambda k, h, i: float(i))  # position: the two 02:00 differ
    case = case_from_dict(battery_case(f))
    p = baselines.persistence_prices(case, "2024-10-27", 60)  # 25 h: both 02:00 copies the same value
    assert len(p) == 25
    src = 2 * 24  # position of 2024-10-26 00:00 local
    np.testing.assert_array_equal(p.to_numpy(), [src, src + 1, src + 2, src + 2, *range(src + 3, src + 24)])
    p = baselines.persistence_prices(case, "2024-10-28", 60)  # D-1 has 25 h: its 02:00 hour is the mean
    src = 3 * 24
    np.testing.assert_array_equal(p.to_numpy(), [src, src + 1, src + 2.5, *range(src + 4, src + 25)])
    q = baselines.persistence_prices(case, "2024-10-28", 15)  # quarter-hours hold the hour's value
    assert len(q) == 96
    np.testing.assert_array_equal(q.to_numpy(), np.repeat(p.to_numpy(), 4))


def test_persistence_needs_the_previous_day(tmp_path):
    f = _hourly_file(tmp_path, "2024-03-10", 2, lambda k, h, i: 10.0)
    case = case_from_dict(battery_case(f))
    with pytest.raises(InputError):
        baselines.persistence_prices(case, "2024-03-10", 60)


def _site(prices: str, **extra) -> dict:
    d = battery_case(prices, charge_efficiency=1.0, discharge_efficiency=1.0)
    d["assets"].append({"kind": "load", "name": "house", "profile": "synthetic", "peak_mw": 0.3})
    d.update(extra)
    return d


def test_persistence_submits_the_plan_on_d_minus_1_prices(tmp_path):
    rng = np.random.default_rng(3)
    f = _hourly_file(tmp_path, "2024-02-01", 8, lambda k, h, i: float(rng.integers(5, 200)))
    case = case_from_dict(_site(f))
    day = dt.date(2024, 2, 6)
    out = strategy_day(case, day, EMPTY, "persistence", trade_intraday=False)
    plan_prices = baselines.persistence_prices(case, day, 60)
    pm = PortfolioModel(case, day_horizon(case, day), plan_prices.to_numpy())
    pm.solve()
    net = (pm.schedule()["grid_import_mw"] - pm.schedule()["grid_export_mw"]).to_numpy()
    curves = out.submitted["curves"]
    assert len(curves) == 24
    for t, pts in enumerate(curves):
        vols = {v for _, v in pts}
        assert len(vols) == 1, f"MTU {t}: the volume depends on the price: {pts}"  # price-independent
        assert pts[0][0] == -500 and pts[-1][0] == 4000  # from the floor to the cap (2024 limits)
        assert vols.pop() == pytest.approx(net[t], abs=0.05 + 1e-6)  # the plan, in 0.1 MW lots
    # cleared at the realised price: the position is that volume whatever the price was
    np.testing.assert_allclose(out.timeseries["position_mw"], [c[0][1] for c in curves])


def test_persistence_equals_perfect_foresight_when_every_day_has_the_same_prices(tmp_path):
    shape = [30, 20, 10, 10, 20, 40, 60, 80, 70, 50, 40, 40, 30, 30, 40, 60, 90, 100, 90, 70, 60, 50, 40, 30]
    f = _hourly_file(tmp_path, "2024-02-01", 10, lambda k, h, i: float(shape[h]))
    case = case_from_dict(battery_case(f, charge_efficiency=1.0, discharge_efficiency=1.0))
    r = backtest(case, "2024-02-05", "2024-02-08", strategy="persistence")
    d = r.daily
    assert (d.perfect_foresight_eur > 50).all()  # the battery earns something each day
    np.testing.assert_allclose(d.total_eur, d.perfect_foresight_eur, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d.imbalance_eur, 0.0, atol=1e-6)
    assert r.summary["capture_ratio"] == pytest.approx(1.0, abs=1e-6)


def test_persistence_loses_when_the_shape_flips(tmp_path):
    shape = [10] * 12 + [100] * 12
    f = _hourly_file(tmp_path, "2024-02-01", 10, lambda k, h, i: float(shape[h] if k % 2 else shape[23 - h]))
    case = case_from_dict(battery_case(f, charge_efficiency=1.0, discharge_efficiency=1.0))
    r = backtest(case, "2024-02-05", "2024-02-06", strategy="persistence")
    assert (r.daily.total_eur < r.daily.perfect_foresight_eur - 40).all()  # yesterday's plan is today's worst


EV_SESSION = {"id": "car", "arrival": "2024-02-05T17:00:00Z", "departure": "2024-02-05T22:00:00Z",
              "energy_mwh": 0.025}


def _no_flex_case(tmp_path, **extra):
    f = _hourly_file(tmp_path, "2024-02-01", 10, lambda k, h, i: float(20 + 3 * h + k))
    d = _site(f, **extra)
    d["assets"][0].update(soc_initial_mwh=0.7, soc_final_mwh=1.0)  # a target above the start: dropped
    d["assets"].append({"kind": "ev", "name": "ev", "charger_power_mw": 0.011, "sessions": [EV_SESSION]})
    d["assets"].append({"kind": "pv", "name": "pv", "capacity_mw": 0.2, "curtailable": True})
    return case_from_dict(d), f


def test_no_flex_battery_idles_ev_charges_on_arrival_and_cost_is_import_times_price(tmp_path):
    case, _ = _no_flex_case(tmp_path)
    day = dt.date(2024, 2, 5)
    out = no_flex_day(case, day, EMPTY)
    s = out.timeseries
    assert (s["bess_charge_mw"].abs() < 1e-9).all() and (s["bess_discharge_mw"].abs() < 1e-9).all()
    np.testing.assert_allclose(s["bess_soc_mwh"], 0.7)
    # 25 kWh at 11 kW from 17:00 UTC: 11, 11, 3 kW, then nothing
    ev = s["ev_power_mw"].to_numpy()
    hour = np.asarray(s.index.hour)
    np.testing.assert_allclose(ev[hour == 17], 0.011)
    np.testing.assert_allclose(ev[hour == 18], 0.011)
    np.testing.assert_allclose(ev[hour == 19], 0.003)
    assert np.abs(ev[(hour < 17) | (hour > 19)]).max() < 1e-9
    # PV not curtailed: its output is the available generation
    pm = PortfolioModel(case, day_horizon(case, day))
    np.testing.assert_allclose(-s["pv_power_mw"], pm.data["pv"]["generation_mw"], atol=1e-9)
    # money: import and export at the day-ahead price (no tariffs in this case)
    price = s["price_eur_per_mwh"].to_numpy()
    net = (s["house_power_mw"] + s["ev_power_mw"] + s["pv_power_mw"]).to_numpy()
    np.testing.assert_allclose(s["grid_import_mw"] - s["grid_export_mw"], net, atol=1e-9)
    assert out.record["dayahead_eur"] == pytest.approx(-float(np.sum(net * price)), abs=1e-6)
    assert out.record["total_eur"] == pytest.approx(sum(v for k, v in out.record.items()
                                                        if k.endswith("_eur") and k != "total_eur"))


def test_no_flex_as_the_baseline_chain_gives_value_added(tmp_path):
    case, _ = _no_flex_case(tmp_path, backtest={"baseline": "no_flex"})
    out = tmp_path / "out"
    r = backtest(case, "2024-02-05", "2024-02-05", out_dir=out, strategy="persistence")
    d, s = r.daily, r.summary
    alone = [no_flex_day(case, dt.date(2024, 2, 5), EMPTY).record["total_eur"]]
    assert d.baseline_eur.iloc[0] == pytest.approx(alone[0])
    assert s["baseline"] == "no_flex"
    assert s["baseline_eur"] == pytest.approx(d.baseline_eur.sum())
    assert s["value_added_eur"] == pytest.approx(s["objective_eur"] - s["baseline_eur"])
    assert (d.baseline_eur <= d.perfect_foresight_eur + 1e-6).all()  # unmanaged never beats the optimum
    assert "baseline_eur" in pd.read_csv(out / "daily.csv").columns
    assert "value_added_sek" not in s  # no SEK tariff


def test_value_added_in_sek_with_a_sek_tariff(tmp_path):
    from tests.conftest import REPO

    case, _ = _no_flex_case(tmp_path, backtest={"baseline": "no_flex"},
                            tariffs=[{"template": str(REPO / "models" / "tariffs" / "sala_heby_power.toml")}])
    s = backtest(case, "2024-02-05", "2024-02-05", strategy="perfect_foresight").summary
    assert s["value_added_eur"] > 0  # the optimum beats running unmanaged
    assert s["value_added_sek"] == pytest.approx(s["value_added_eur"] * case.case.sek_per_eur)
    assert s["baseline_sek"] == pytest.approx(s["baseline_eur"] * case.case.sek_per_eur)


def test_no_flex_heat_pump_holds_its_set_point():
    d = battery_case("synthetic")
    d["assets"] = [{"kind": "heat_pump", "name": "hp", "max_power_mw": 0.01, "cop": 3.0, "outdoor_temp": -5.0,
                    "thermal_capacity_mwh_per_k": 0.01, "heat_loss_mw_per_k": 0.0005,
                    "comfort_min_c": 20.0, "comfort_max_c": 23.0, "comfort_min_by_hour": {h: 21.0 for h in range(6, 22)}}]
    case = case_from_dict(d)
    out = no_flex_day(case, dt.date(2024, 2, 5), EMPTY)
    temp = out.timeseries["hp_indoor_temp_c"].to_numpy()
    local = out.timeseries.index.tz_convert("Europe/Stockholm").hour
    lo = np.array([21.0 if 6 <= h < 22 else 20.0 for h in local])
    lo_end = np.r_[np.maximum(lo[:-1], lo[1:]), lo[-1]]
    np.testing.assert_allclose(temp, (lo_end + 23.0) / 2, atol=1e-6)  # the middle of the band at each MTU end
    # the optimiser heats the same building for less within the same band
    pm = PortfolioModel(case, day_horizon(case, dt.date(2024, 2, 5)))
    pm.solve()
    assert sum(pm.revenue().values()) > out.record["total_eur"] + 1e-6


def test_no_flex_shiftable_job_runs_at_the_start_of_its_window():
    d = battery_case("synthetic")
    d["assets"] = [{"kind": "shiftable_load", "name": "wash", "energy_mwh": 0.025, "window_start": "10:00",
                    "window_end": "16:00", "max_power_mw": 0.01}]
    out = no_flex_day(case_from_dict(d), dt.date(2024, 2, 5), EMPTY)
    p = out.timeseries["wash_power_mw"].to_numpy()
    local = out.timeseries.index.tz_convert("Europe/Stockholm").hour
    expect = np.where(local == 10, 0.01, 0) + np.where(local == 11, 0.01, 0) + np.where(local == 12, 0.005, 0)
    np.testing.assert_allclose(p, expect, atol=1e-9)


def test_an_asset_kind_without_unmanaged_behaviour_is_named():
    from bidopt.assets.battery import Battery

    case = case_from_dict(battery_case("synthetic"))
    pm = PortfolioModel(case, day_horizon(case, dt.date(2024, 2, 5)))
    with pytest.raises(InputError, match="assets.bess"):
        super(Battery, case.assets[0]).fix_unmanaged(pm.site.asset_blocks["bess"], pm.horizon, pm.data["bess"])


def test_persistence_on_real_se3_prices_around_the_spring_switch(shared_data):
    from bidopt.case import load_case
    from bidopt.data import sources
    from tests.conftest import REPO

    case = load_case(REPO / "cases" / "se3_battery_2022")
    src_idx = btime.delivery_index("2022-03-27", 60)  # 23 h: no 02:00
    src = dict(zip(src_idx.tz_convert("Europe/Stockholm").hour, sources.dayahead_prices(case, src_idx), strict=True))
    p = baselines.persistence_prices(case, "2022-03-28", 60)
    hours = p.index.tz_convert("Europe/Stockholm").hour
    np.testing.assert_array_equal(p.to_numpy(), [src[h] if h != 2 else src[1] for h in hours])


def test_cli_strategy_choice_and_value_added_line(tmp_path):
    from click.testing import CliRunner

    from bidopt.cli import main

    f = _hourly_file(tmp_path, "2024-02-01", 10, lambda k, h, i: float(20 + 3 * h + 5 * (k % 3)))
    (tmp_path / "case.toml").write_text(f"""
[case]
zone = "SE3"
[prices]
dayahead = "{f}"
[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0
[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
soc_initial_mwh = 1.0
[backtest]
baseline = "persistence"
""")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["backtest", str(tmp_path), "--start", "2024-02-05", "--end", "2024-02-06",
                                  "--strategy", "no_flex", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "baseline persistence:" in r.output and "value added -" in r.output  # idling earns less
    s = __import__("json").loads((out / "summary.json").read_text())
    assert s["strategy"] == "no_flex" and s["objective_eur"] == pytest.approx(0.0, abs=1e-6)  # an idle battery
    assert s["value_added_eur"] == pytest.approx(-s["baseline_eur"])
    r = CliRunner().invoke(main, ["backtest", str(tmp_path), "--start", "2024-02-05", "--end", "2024-02-05",
                                  "--strategy", "nothing", "--out", str(out), "--no-progress"])
    assert r.exit_code == 2
