"""Heat pump: comfort band in every MTU, price shifting, peak shaving on real Örebro data, inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

import bidopt
from bidopt.assets.heat_pump import HeatPump
from bidopt.data import synthetic
from bidopt.data.local_time import read_local_time_csv, read_orebro_heat_demand_mw, read_orebro_outdoor_temp_c
from bidopt.data.synthetic_weather import synthetic_outdoor_temp
from bidopt.horizon import Horizon
from bidopt.markets import provided_by
from bidopt.model import PortfolioModel
from bidopt.time import delivery_index, horizon_index
from tests.conftest import REPO, SHARED_DATA, write_prices

HEAT_FILE = SHARED_DATA / "loads" / "afry_vetelangden_orebro_heat_dhw_kW_2019-2020.csv"
TEMP_FILE = SHARED_DATA / "weather" / "afry_vetelangden_orebro_outdoor_temp_2019-2020.csv"
PRICE_FILE = SHARED_DATA / "dayahead" / "se1-se4_dayahead_2016-2022_utc.csv.gz"
NIGHT = {h: 19.0 for h in (22, 23, 0, 1, 2, 3, 4, 5)}

# The Sala-Heby 2014 power tariff (models/tariffs/sala_heby_power_2014.toml) counted in all hours of all days.
PEAK_TARIFF = {
    "kind": "peak_power",
    "name": "peak",
    "n_peaks": 5,
    "window": {},
    "rates": [{"valid_from": "2014-01-01", "sek_per_kw_month": [97, 97, 97, 39, 39, 39, 39, 39, 39, 39, 97, 97]}],
}


def rc_pump(**kw) -> dict:
    hp = {
        "kind": "heat_pump",
        "name": "hp",
        "max_power_mw": 0.025,
        "cop_at_0c": 3.0,
        "cop_slope_per_k": 0.08,
        "cop_min": 1.8,
        "cop_max": 4.5,
        "thermal_capacity_mwh_per_k": 0.2,
        "heat_loss_mw_per_k": 0.002,
        "internal_gain_mw": 0.012,
        "comfort_min_c": 20.0,
        "comfort_max_c": 22.5,
        "indoor_initial_c": 20.5,
    }
    hp.update(kw)
    return hp


def site(prices, *assets, tariffs=(), mtu=60) -> dict:
    return {
        "case": {"zone": "SE3", "mtu_minutes": mtu},
        "prices": {"dayahead": str(prices)},
        "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
        "assets": list(assets),
        "tariffs": list(tariffs),
    }


def bands(schedule: pd.DataFrame, spec: HeatPump) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = spec.band_by_hour()
    hours = schedule.index.tz_convert("Europe/Stockholm").hour
    return np.array([lo[h] for h in hours]), np.array([hi[h] for h in hours])


# ------------------------------------------------------------------------------------- RC model


@pytest.mark.parametrize(
    ("day", "mtu", "n"),
    [("2024-01-17", 60, 24), ("2024-01-17", 15, 96), ("2024-03-31", 60, 23), ("2024-03-31", 15, 92), ("2024-10-27", 15, 100)],
)
def test_indoor_temperature_stays_in_band_every_mtu(day, mtu, n):
    case = bidopt.case_from_dict(
        site("synthetic", rc_pump(comfort_min_by_hour=NIGHT, solar_gain="synthetic", solar_gain_peak_mw=0.01), mtu=mtu)
    )
    spec = case.assets[0]
    res = bidopt.plan(case, day)
    s = res.schedule
    assert len(s) == n
    temp = s.hp_indoor_temp_c.to_numpy()
    start = np.r_[spec.indoor_start, temp[:-1]]
    lo, hi = bands(s, spec)
    # both ends of every MTU inside that MTU's band (the trajectory is monotone in between)
    for t_end in (start, temp):
        assert (t_end >= lo - 1e-6).all() and (t_end <= hi + 1e-6).all()
    assert temp[-1] >= spec.indoor_start - 1e-6
    # the schedule obeys the documented exact discretisation
    dt_h = mtu / 60
    a = math.exp(-spec.heat_loss_mw_per_k * dt_h / spec.thermal_capacity_mwh_per_k)
    solar = synthetic.pv_profile(s.index, capacity_mw=0.01, latitude=spec.latitude, seed=0).to_numpy()
    steady = s.hp_outdoor_temp_c + (s.hp_heat_mw + solar + spec.internal_gain_mw) / spec.heat_loss_mw_per_k
    assert np.allclose(temp, a * start + (1 - a) * steady, atol=1e-6)
    assert np.allclose(s.hp_heat_mw, s.hp_cop * s.hp_power_mw, atol=1e-9)
    assert (s.hp_power_mw <= spec.max_power_mw + 1e-9).all() and (s.hp_power_mw >= -1e-9).all()


def test_price_shifting_moves_consumption_to_cheap_hours(tmp_path):
    day = "2024-01-17"  # local day starts 2024-01-16T23:00Z
    prices = np.where(np.arange(24) < 6, 20.0, 150.0)
    write_prices(tmp_path / "p.csv", "2024-01-16T23:00Z", prices)
    flexible = bidopt.plan(bidopt.case_from_dict(site("p.csv", rc_pump(outdoor_temp=-5.0)), base_dir=tmp_path), day)
    thermostat = bidopt.plan(
        bidopt.case_from_dict(
            site("p.csv", rc_pump(outdoor_temp=-5.0, comfort_max_c=20.5, comfort_min_c=20.5)), base_dir=tmp_path
        ),
        day,
    )
    cheap = prices < 100

    def share(res):
        p = res.schedule.hp_power_mw.to_numpy()
        return p[cheap].sum() / p.sum()

    assert share(thermostat) == pytest.approx(6 / 24, abs=1e-6)  # constant load at constant weather
    # the band stores 2.5 K * 0.2 MWh/K = 0.5 MWh heat of the day's ~0.94 MWh: a real but bounded shift
    assert share(flexible) > share(thermostat) + 0.12
    assert flexible.summary["objective_eur"] > thermostat.summary["objective_eur"] + 1.0
    # comfort kept while shifting
    assert flexible.schedule.hp_indoor_temp_c.between(20.0 - 1e-6, 22.5 + 1e-6).all()


def test_impossible_comfort_is_diagnosed_before_solving():
    case = bidopt.case_from_dict(site("synthetic", rc_pump(max_power_mw=0.005, outdoor_temp=-25.0)))
    with pytest.raises(bidopt.InfeasibleError) as e:
        bidopt.plan(case, "2024-01-17")
    assert e.value.asset == "hp" and e.value.constraint == "comfort_band"
    assert "comfort minimum" in str(e.value)


def test_warm_spell_is_not_infeasible_for_a_heater():
    """Gains alone overheat the building: the heat pump stays off, the plan still solves."""
    case = bidopt.case_from_dict(site("synthetic", rc_pump(outdoor_temp=25.0, indoor_initial_c=22.0)))
    res = bidopt.plan(case, "2024-07-10")
    assert res.schedule.hp_power_mw.max() < 1e-9
    assert res.schedule.hp_indoor_temp_c.iloc[-1] > 22.5


# -------------------------------------------------------------------------------- demand mode


def _demand_site(storage_mwh_heat: float, **kw) -> dict:
    hp = {
        "kind": "heat_pump",
        "name": "hp",
        "mode": "demand",
        "max_power_mw": 0.03,
        "aux_max_mw": 0.03,
        "cop_at_0c": 3.0,
        "cop_slope_per_k": 0.08,
        "cop_min": 1.8,
        "cop_max": 4.5,
        "heat_demand": str(HEAT_FILE),
        "heat_demand_unit": "kw",
        "outdoor_temp": str(TEMP_FILE),
        "storage_mwh_heat": storage_mwh_heat,
    }
    hp.update(kw)
    return site(PRICE_FILE, hp, tariffs=[PEAK_TARIFF])


@pytest.fixture
def orebro(shared_data):
    for f in (HEAT_FILE, TEMP_FILE, PRICE_FILE):
        if not f.exists():
            pytest.skip(f"{f} not found")
    return Horizon.for_days("2019-02-04", "2019-02-10", 60)  # a winter week, Monday to Sunday


def _run(data: dict, horizon: Horizon) -> tuple[pd.DataFrame, PortfolioModel]:
    pm = PortfolioModel(bidopt.case_from_dict(data), horizon)
    pm.solve()
    return pm.schedule(), pm


def test_peak_tariff_on_orebro_demand_lowers_the_monthly_peak(orebro):
    base, _ = _run(_demand_site(0.0), orebro)  # no store: heat follows the measured demand
    flex, pm = _run(_demand_site(0.15), orebro)  # about 4-5 h of mean winter demand in the building mass
    demand = read_orebro_heat_demand_mw(HEAT_FILE).loc[orebro.index].sum(axis=1).to_numpy()
    # the measured demand is met: baseline exactly, flexible through the store balance
    assert np.allclose(base.hp_heat_mw, demand, atol=1e-7)
    level = flex.hp_storage_mwh_heat.to_numpy()
    prev = np.r_[0.075, level[:-1]]
    assert np.allclose(level - prev, flex.hp_heat_mw - demand, atol=1e-7)
    assert level.min() >= -1e-9 and level.max() <= 0.15 + 1e-9 and level[-1] >= 0.075 - 1e-9
    # site consumption = import - export (with export valued at the import price, simultaneous import
    # and export is a free degenerate choice of the grid block, so grid_import_mw alone can be inflated)
    net_base, net_flex = (s.grid_import_mw - s.grid_export_mw for s in (base, flex))
    assert np.allclose(net_flex, flex.hp_power_mw, atol=1e-9)
    assert net_flex.max() < 0.8 * net_base.max(), (net_base.max(), net_flex.max())
    assert flex.grid_import_mw.max() < 0.8 * base.grid_import_mw.max()  # what the tariff bills
    assert net_flex.nlargest(5).mean() < 0.8 * net_base.nlargest(5).mean()
    assert pm.summary()["revenue_eur"]["tariff"] < 0


def test_peak_tariff_on_orebro_weather_rc_versus_thermostat(orebro):
    """RC building under the real Örebro temperatures: fixed 20.5 °C thermostat vs a 20-22.5 °C band."""
    common = {"outdoor_temp": str(TEMP_FILE), "aux_max_mw": 0.01, "internal_gain_mw": 0.016}
    thermostat = rc_pump(comfort_min_c=20.5, comfort_max_c=20.5, **common)
    base, _ = _run(site(PRICE_FILE, thermostat, tariffs=[PEAK_TARIFF]), orebro)
    flex, _ = _run(site(PRICE_FILE, rc_pump(**common), tariffs=[PEAK_TARIFF]), orebro)
    assert np.allclose(base.hp_indoor_temp_c, 20.5, atol=1e-6)
    assert flex.hp_indoor_temp_c.between(20.0 - 1e-6, 22.5 + 1e-6).all()
    assert flex.hp_power_mw.max() < 0.9 * base.hp_power_mw.max()
    assert flex.grid_import_mw.max() < 0.9 * base.grid_import_mw.max()


def test_hot_water_tank_serves_the_hot_water_column(orebro):
    flex, _ = _run(
        _demand_site(0.1, hot_water_columns=["Varmvatten [kW]"], hot_water_tank_mwh_heat=0.05,
                     hot_water_loss_per_h=0.01, hot_water_cop_factor=0.8),
        orebro,
    )
    tank = flex.hp_hot_water_mwh_heat.to_numpy()
    assert tank.min() >= -1e-9 and tank.max() <= 0.05 + 1e-9 and tank[-1] >= 0.025 - 1e-9
    total = read_orebro_heat_demand_mw(HEAT_FILE).loc[orebro.index].sum(axis=1).to_numpy()
    assert np.allclose(flex.hp_heat_demand_mw, total, atol=1e-9)


# ------------------------------------------------------------------------------------- reserves


def test_reserves_interface_keeps_comfort_margin():
    spec = HeatPump.model_validate(rc_pump())
    assert provided_by(spec) == set()
    data = site("synthetic", rc_pump(offer_reserves=True, outdoor_temp=-2.0))
    case = bidopt.case_from_dict(data)
    hp = case.assets[0]
    assert provided_by(hp) == {"fcr_d_up", "fcr_d_down", "local_flex"}  # asked through the product registry
    h = Horizon(delivery_index("2024-01-17", 60))
    pm = PortfolioModel(case, h)
    m, blk = pm.m, pm.site.asset_blocks["hp"]
    m.up = pyo.Var(m.T, bounds=(0, None))
    m.down = pyo.Var(m.T, bounds=(0, None))
    endurance_h = 1.0  # demanding: the full hour, so the energy rule binds
    m.up_mwh = pyo.Expression(m.T, rule=lambda mm, t: endurance_h * mm.up[t])
    m.down_mwh = pyo.Expression(m.T, rule=lambda mm, t: endurance_h * mm.down[t])
    hp.add_reserve_headroom(blk, m.T, h, m.up, m.down, m.up_mwh, m.down_mwh)
    m.objective.deactivate()
    m.reserve_objective = pyo.Objective(expr=m.objective.expr + 200.0 * sum(m.up[t] + m.down[t] for t in m.T),
                                        sense=pyo.maximize)
    pm.solve()
    s = pm.schedule()
    up = np.array([m.up[t].value for t in m.T])
    down = np.array([m.down[t].value for t in m.T])
    assert up.max() > 1e-3 and down.max() > 1e-3
    assert (up <= s.hp_power_mw + 1e-9).all()
    assert (down <= hp.max_power_mw - s.hp_power_mw + 1e-9).all()
    drop = s.hp_cop.clip(lower=1.0) * up * endurance_h / hp.thermal_capacity_mwh_per_k
    rise = s.hp_cop.clip(lower=1.0) * down * endurance_h / hp.thermal_capacity_mwh_per_k
    temp = s.hp_indoor_temp_c.to_numpy()
    start = np.r_[hp.indoor_start, temp[:-1]]
    for t_end in (start, temp):
        assert (t_end - drop >= 20.0 - 1e-6).all() and (t_end + rise <= 22.5 + 1e-6).all()


def test_fcr_d_through_the_market(tmp_path):
    """End to end: the FCR market sells FCR-D from the heat pump and comfort holds."""
    idx = delivery_index("2024-01-17", 60)
    for product in ("fcr_d_up", "fcr_d_down"):
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mw_h": 30.0}).to_csv(
            tmp_path / f"{product}.csv", index=False
        )
    data = site("synthetic", rc_pump(offer_reserves=True, outdoor_temp=-2.0))
    data["prices"].update(fcr_d_up="fcr_d_up.csv", fcr_d_down="fcr_d_down.csv")
    data["markets"] = {"fcr": {"step_mw": 0.0}}  # continuous volumes: 25 kW is below the 0.1 MW lot
    res = bidopt.plan(bidopt.case_from_dict(data, base_dir=tmp_path), "2024-01-17")
    s = res.schedule
    assert res.summary["revenue_eur"]["fcr_d_up"] > 0 and res.summary["revenue_eur"]["fcr_d_down"] > 0
    assert (s.hp_fcr_d_up_mw <= s.hp_power_mw + 1e-9).all()
    assert (s.hp_fcr_d_down_mw <= 0.025 - s.hp_power_mw + 1e-9).all()
    assert s.hp_indoor_temp_c.between(20.0 - 1e-6, 22.5 + 1e-6).all()


# -------------------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"comfort_min_c": 23.0, "comfort_max_c": 21.0}, "comfort_min_c"),
        ({"comfort_min_by_hour": {"6": 23.0}}, "comfort_min_by_hour"),
        ({"thermal_capacity_mwh_per_k": -0.1}, "thermal_capacity_mwh_per_k"),
        ({"storage_mwh_heat": -1.0}, "storage_mwh_heat"),
        ({"max_power_mw": -0.01}, "max_power_mw"),
        ({"indoor_initial_c": 25.0}, "indoor_initial_c"),
        ({"comfort_max_by_hour": {"24": 22.0}}, "comfort_max_by_hour"),
    ],
)
def test_bad_input_names_the_field(changes, field):
    with pytest.raises(bidopt.InputError) as e:
        bidopt.case_from_dict(site("synthetic", rc_pump(**changes)))
    assert e.value.field.startswith("assets[0] (hp).")
    assert field in e.value.field or str(e.value.message).startswith(field), e.value


def test_demand_mode_needs_a_demand_file():
    with pytest.raises(bidopt.InputError, match="heat_demand"):
        bidopt.case_from_dict(site("synthetic", {"kind": "heat_pump", "name": "hp", "mode": "demand", "max_power_mw": 0.01}))


def test_missing_weather_file_is_an_input_error(tmp_path):
    case = bidopt.case_from_dict(site("synthetic", rc_pump(outdoor_temp="nope.csv")), base_dir=tmp_path)
    with pytest.raises(bidopt.InputError, match="outdoor_temp"):
        bidopt.plan(case, "2024-01-17")


def test_template_plans_a_day():
    case = bidopt.case_from_dict(
        site("synthetic", {"template": str(REPO / "models" / "assets" / "heat_pump_apartment.toml"), "name": "hp"})
    )
    res = bidopt.plan(case, "2024-02-12")
    assert res.schedule.hp_indoor_temp_c.min() >= 19.0 - 1e-6
    assert res.schedule.hp_power_mw.sum() > 0


# ------------------------------------------------------------------------------------ data files


def test_local_time_file_to_utc(tmp_path):
    """Hour-ending local labels: DST spring hour absent, a short gap interpolated, autumn hour doubled."""
    rows = ["Date / Time;T [C]"]
    rows += ["2024-03-31 01:00;1,0", "2024-03-31 02:00;2,0", "2024-03-31 03:00;#N/A", "2024-03-31 04:00;4,0"]
    p = tmp_path / "t.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    s = read_local_time_csv(p).iloc[:, 0]
    # 01:00 label = hour 00:00-01:00 CET = 23:00Z; the 03:00 label is the hour that does not exist
    assert s.index[0] == pd.Timestamp("2024-03-30T23:00Z")
    assert list(s.index) == list(pd.date_range("2024-03-30T23:00Z", periods=3, freq="h"))
    assert s.tolist() == [1.0, 2.0, 4.0]


def test_orebro_files(shared_data):
    if not HEAT_FILE.exists() or not TEMP_FILE.exists():
        pytest.skip("Örebro files not found")
    heat = read_orebro_heat_demand_mw(HEAT_FILE)
    temp = read_orebro_outdoor_temp_c(TEMP_FILE)
    assert heat.index[0] == pd.Timestamp("2019-01-31T23:00Z")  # "2019-02-01 01:00" is the first hour's end
    assert heat.index.freq == "h" or (np.diff(heat.index.asi8) == np.diff(heat.index.asi8)[0]).all()
    assert heat.loc["2019-02"].isna().sum().sum() == 0
    assert heat.loc["2019-02-04":"2019-02-10"].sum(axis=1).max() < 0.08  # MW, from about 70 kW
    assert heat.iloc[0].tolist() == pytest.approx([0.033, 0.00174])
    assert temp.iloc[0] == pytest.approx(-1.9)
    assert temp.loc["2019-02"].min() == pytest.approx(-11.7)
    # the 24-hour logger gap in December is too long to bridge
    assert temp.loc["2019-12-08"].isna().any()


def test_long_logger_gap_is_an_input_error(shared_data):
    if not TEMP_FILE.exists() or not HEAT_FILE.exists():
        pytest.skip("Örebro files not found")
    data = site("synthetic", rc_pump(outdoor_temp=str(TEMP_FILE)))
    with pytest.raises(bidopt.InputError, match="no data for 2019-12-08") as e:
        bidopt.plan(bidopt.case_from_dict(data), "2019-12-08")
    assert e.value.field == "assets.hp.outdoor_temp"


def test_synthetic_temperature_is_deterministic_per_day():
    year = synthetic_outdoor_temp(horizon_index("2024-01-01", "2024-12-31", 60), seed=3)
    day = synthetic_outdoor_temp(delivery_index("2024-03-31", 60), seed=3)
    assert np.allclose(year.loc[day.index], day)
    quarter = synthetic_outdoor_temp(delivery_index("2024-03-31", 15), seed=3)
    assert np.allclose(quarter.to_numpy().reshape(-1, 4).mean(axis=1), day.to_numpy())
    monthly = year.groupby(year.index.month).mean()
    assert monthly[1] < 0 < monthly[7] - 10  # cold winter, mild summer
    assert not np.allclose(year, synthetic_outdoor_temp(year.index, seed=4))


def test_demand_from_a_utc_csv_with_a_tank(tmp_path):
    idx = delivery_index("2024-01-17", 60)
    hours = np.arange(len(idx))
    pd.DataFrame(
        {
            "timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "space_mw": 0.02 + 0.01 * np.sin(hours / 24 * 2 * np.pi),
            "dhw_mw": np.where((hours % 24 >= 6) & (hours % 24 <= 8), 0.02, 0.002),
        }
    ).to_csv(tmp_path / "demand.csv", index=False)
    hp = {
        "kind": "heat_pump", "name": "hp", "mode": "demand", "max_power_mw": 0.02, "cop": 3.0,
        "heat_demand": "demand.csv", "hot_water_columns": ["dhw_mw"], "storage_mwh_heat": 0.05,
        "hot_water_tank_mwh_heat": 0.03, "hot_water_initial_mwh_heat": 0.0,
    }
    res = bidopt.plan(bidopt.case_from_dict(site("synthetic", hp), base_dir=tmp_path), "2024-01-17")
    s = res.schedule
    tank = s.hp_hot_water_mwh_heat.to_numpy()
    store = s.hp_storage_mwh_heat.to_numpy()
    demand = pd.read_csv(tmp_path / "demand.csv")
    # energy balance over the day: heat in = demand + what the two stores gained
    gained = (store[-1] - 0.025) + (tank[-1] - 0.0)
    assert s.hp_heat_mw.sum() == pytest.approx(demand.space_mw.sum() + demand.dhw_mw.sum() + gained, abs=1e-7)
    assert tank.min() >= -1e-9 and tank.max() <= 0.03 + 1e-9
    assert np.allclose(s.hp_heat_mw, 3.0 * s.hp_power_mw)
