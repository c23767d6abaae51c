"""Shiftable and curtailable loads: schedules by hand, VoLL from the Ei table, validation, reserves."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.solvers.highs import Highs

import bidopt
from bidopt.assets.curtailable_load import CurtailableLoad, default_voll_eur_per_mwh, voll_table
from bidopt.assets.shiftable_load import ShiftableLoad
from bidopt.errors import InfeasibleError, InputError
from bidopt.horizon import Horizon
from bidopt.markets import provided_by
from tests.conftest import write_prices

DAY = "2024-03-14"  # local day = 2024-03-13T23:00Z .. 2024-03-14T23:00Z (CET, 24 h)
START = "2024-03-13T23:00Z"


def _case(tmp_path, prices, *assets, sek_per_eur=11.5, start=START, import_limit=10.0):
    write_prices(tmp_path / "p.csv", start, prices)
    return bidopt.case_from_dict(
        {
            "case": {"zone": "SE3", "mtu_minutes": 60, "sek_per_eur": sek_per_eur},
            "prices": {"dayahead": "p.csv"},
            "grid": {"import_limit_mw": import_limit, "export_limit_mw": 10.0},
            "assets": list(assets),
        },
        base_dir=tmp_path,
    )


def _shiftable(**kw):
    return {"kind": "shiftable_load", "name": "flex", **kw}


# ------------------------------------------------------------------------------------- shiftable load


def test_shiftable_uses_cheapest_hours_inside_the_window(tmp_path):
    # distinct prices; the cheapest hours of the day (0, 1) lie outside the UTC window 02:00-10:00Z
    prices = [5.0, 6.0] + [50, 40, 30, 45, 20, 35, 25, 60] + [70.0] * 14
    job = _shiftable(energy_mwh=2.5, max_power_mw=1.0,
                     window_start="2024-03-14T01:00:00Z", window_end="2024-03-14T09:00:00Z")
    res = bidopt.plan(_case(tmp_path, prices, job), DAY)
    p = res.schedule["flex_power_mw"].to_numpy()
    # positions 2..9 are 01:00Z..08:00Z; cheapest there: 20 (pos 6), 25 (pos 8), 30 (pos 4)
    expected = np.zeros(24)
    expected[[6, 8]] = 1.0
    expected[4] = 0.5
    np.testing.assert_allclose(p, expected, atol=1e-9)
    assert res.summary["revenue_eur"]["dayahead"] == pytest.approx(-(20 + 25 + 0.5 * 30))


def test_shiftable_min_power_in_a_local_window(tmp_path):
    # local window 01:00-06:00 = 00:00Z..05:00Z = positions 1..5
    prices = [1.0] + [40, 10, 30, 20, 50] + [1.0] * 18
    job = _shiftable(energy_mwh=2.5, min_power_mw=0.2, max_power_mw=1.0, window_start="01:00", window_end="06:00")
    p = bidopt.plan(_case(tmp_path, prices, job), DAY).schedule["flex_power_mw"].to_numpy()
    # 5 h at min 0.2 = 1.0 MWh, the other 1.5 MWh where cheapest: +0.8 at 10, +0.7 at 20
    expected = np.zeros(24)
    expected[1:6] = [0.2, 1.0, 0.2, 0.9, 0.2]
    np.testing.assert_allclose(p, expected, atol=1e-9)


def test_overnight_window_cut_by_the_day_gets_its_share(tmp_path):
    """22:00-07:00 local over one delivery day: 7 of its 9 hours at the start of the day, 2 at the end."""
    prices = np.linspace(10, 80, 24)
    job = _shiftable(energy_mwh=0.9, max_power_mw=0.5, window_start="22:00", window_end="07:00")
    p = bidopt.plan(_case(tmp_path, prices, job), DAY).schedule["flex_power_mw"].to_numpy()
    assert p[:7].sum() == pytest.approx(0.9 * 7 / 9)
    assert p[22:].sum() == pytest.approx(0.9 * 2 / 9)
    assert p[7:22].max() == pytest.approx(0.0, abs=1e-12)


def test_overnight_window_on_spring_forward_day(tmp_path):
    """2024-03-31 has 23 h: the 22:00-07:00 window that ends that morning lasts 8 h, 7 of them on the
    day (00:00-07:00 minus the missing 02:00); the evening window 22:00-07:00 lasts 9 h."""
    prices = np.linspace(10, 80, 23)
    job = _shiftable(energy_mwh=0.8, max_power_mw=0.5, window_start="22:00", window_end="07:00")
    case = _case(tmp_path, prices, job, start="2024-03-30T23:00Z")
    p = bidopt.plan(case, "2024-03-31").schedule["flex_power_mw"].to_numpy()
    assert len(p) == 23
    assert p[:6].sum() == pytest.approx(0.8 * 6 / 8)  # 00:00-07:00 local = 6 MTUs (22:00Z..05:00Z)
    assert p[21:].sum() == pytest.approx(0.8 * 2 / 9)  # 22:00-24:00 local = 20:00Z, 21:00Z


def test_several_jobs_and_total_cap(tmp_path):
    prices = [10.0] * 2 + [100.0 + i for i in range(22)]
    jobs = [
        {"name": "ev", "energy_mwh": 2.0, "max_power_mw": 1.0,
         "window_start": "2024-03-13T23:00:00Z", "window_end": "2024-03-14T05:00:00Z"},
        {"name": "boiler", "energy_mwh": 2.0, "max_power_mw": 1.0,
         "window_start": "2024-03-13T23:00:00Z", "window_end": "2024-03-14T05:00:00Z"},
    ]
    free = {"kind": "shiftable_load", "name": "site", "jobs": jobs}
    p = bidopt.plan(_case(tmp_path, prices, free), DAY).schedule["site_power_mw"].to_numpy()
    np.testing.assert_allclose(p, [2.0, 2.0] + [0.0] * 22, atol=1e-9)  # both jobs in the two cheap hours
    capped = dict(free, max_power_mw=1.0)  # caps the sum of the jobs
    p = bidopt.plan(_case(tmp_path, prices, capped), DAY).schedule["site_power_mw"].to_numpy()
    np.testing.assert_allclose(p, [1.0] * 4 + [0.0] * 20, atol=1e-9)


def test_infeasible_job_is_named(tmp_path):
    asset = {
        "kind": "shiftable_load",
        "name": "site",
        "jobs": [
            {"name": "dishwasher", "energy_mwh": 0.002, "max_power_mw": 0.002, "window_start": "10:00",
             "window_end": "14:00"},
            {"name": "ev", "energy_mwh": 0.05, "max_power_mw": 0.011, "window_start": "22:00", "window_end": "02:00"},
        ],
    }
    case = _case(tmp_path, [50.0] * 24, asset)
    with pytest.raises(InfeasibleError) as e:
        bidopt.plan(case, DAY)
    assert e.value.asset == "site" and "ev" in e.value.constraint
    assert "job 'ev'" in e.value.message and "max_power_mw" in e.value.message
    # the same day with a job that fits plans fine
    ok = dict(asset, jobs=[asset["jobs"][0]])
    assert bidopt.plan(_case(tmp_path, [50.0] * 24, ok), DAY).summary["solver"]["status"] == "optimal"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"max_power_mw": -1.0}, "max_power_mw", "greater than or equal to 0"),
        ({"energy_mwh": -0.5}, "energy_mwh", "greater than or equal to 0"),
        ({"min_power_mw": 2.0}, "min_power_mw", "above max_power_mw"),
        ({"window_end": "22:00"}, "window_end", "empty"),
        ({"window_start": "2024-03-14T05:00Z", "window_end": "2024-03-14T05:00Z"}, "window_end", "empty"),
        ({"window_start": "25:00"}, "window_start", "clock time"),
        ({"window_end": None}, "window_end", "required"),
    ],
)
def test_shiftable_validation(fields, field, words):
    asset = {"kind": "shiftable_load", "name": "flex", "energy_mwh": 1.0, "max_power_mw": 1.0,
             "window_start": "22:00", "window_end": "07:00", **fields}
    asset = {k: v for k, v in asset.items() if v is not None}
    case = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1},
            "assets": [asset]}
    with pytest.raises(InputError) as e:
        bidopt.case_from_dict(case)
    assert e.value.field == f"assets[0] (flex).{field}", e.value
    assert words in e.value.message


def test_toml_times_are_accepted():
    a = ShiftableLoad(name="x", energy_mwh=1.0, max_power_mw=1.0, window_start=dt.time(22, 0),
                      window_end=dt.time(7, 0))
    assert (a.window_start, a.window_end) == ("22:00:00", "07:00:00")
    b = ShiftableLoad(name="y", energy_mwh=1.0, max_power_mw=1.0, window_start="00:00", window_end="24:00")
    assert sum(len(i.mtus) for i in b.instances(Horizon.for_days(DAY))) == 24


# ------------------------------------------------------------------------------------ curtailable load


def _flat_load(tmp_path, mw=1.0, n=24, start=START):
    idx = pd.date_range(start, periods=n, freq="h")
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "load_mw": mw}).to_csv(
        tmp_path / "load.csv", index=False
    )
    return "load.csv"


def test_curtails_only_when_price_exceeds_voll(tmp_path):
    voll = 7.79 * 1000 / 11.5  # households, Ei 2021 Table 2: 7.79 SEK/kWh at 11.5 SEK/EUR = 677.4 EUR/MWh
    prices = [50.0] * 24
    prices[18] = 1000.0  # above VoLL
    prices[8] = 650.0  # high, but below VoLL
    load = {"kind": "curtailable_load", "name": "homes", "profile": _flat_load(tmp_path), "customer_type": "households"}
    res = bidopt.plan(_case(tmp_path, prices, load), DAY)
    s = res.schedule
    expected = np.zeros(24)
    expected[18] = 1.0
    np.testing.assert_allclose(s["homes_curtailed_mw"].to_numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(s["homes_power_mw"].to_numpy(), 1.0 - expected, atol=1e-9)
    m = res.model
    assert m.case.assets[0].cost_eur(m.site.asset_blocks["homes"]) == pytest.approx(voll)
    assert res.summary["revenue_eur"]["curtailment"] == pytest.approx(-voll)
    assert res.summary["revenue_eur"]["degradation"] == 0.0
    bought = sum(prices) - prices[18]
    assert res.summary["objective_eur"] == pytest.approx(-bought - voll)


def test_max_curtailment_share_and_explicit_voll(tmp_path):
    prices = [50.0] * 24
    prices[18] = 1000.0
    load = {"kind": "curtailable_load", "name": "plant", "profile": _flat_load(tmp_path, 2.0),
            "value_of_lost_load_eur_per_mwh": 400.0, "max_curtailment_share": 0.25}
    prices[5] = 420.0  # above the explicit VoLL of 400
    s = bidopt.plan(_case(tmp_path, prices, load), DAY).schedule
    curtailed = s["plant_curtailed_mw"].to_numpy()
    assert curtailed[18] == pytest.approx(0.5) and curtailed[5] == pytest.approx(0.5)
    assert np.delete(curtailed, [5, 18]).max() == pytest.approx(0.0, abs=1e-9)


def test_curtailment_keeps_a_too_small_grid_connection_feasible(tmp_path):
    load = {"kind": "curtailable_load", "name": "homes", "profile": _flat_load(tmp_path, 1.0),
            "customer_type": "industry"}
    s = bidopt.plan(_case(tmp_path, [50.0] * 24, load, import_limit=0.8), DAY).schedule
    np.testing.assert_allclose(s["homes_curtailed_mw"].to_numpy(), 0.2, atol=1e-9)


def test_voll_default_from_the_ei_table():
    day = dt.date(2024, 3, 14)
    assert default_voll_eur_per_mwh("households", 11.5, day) == pytest.approx(7790 / 11.5)
    assert default_voll_eur_per_mwh("industry", 10.0, day) == pytest.approx(23071.0)
    assert default_voll_eur_per_mwh("Commerce and services", 10.0, day) == pytest.approx(19284.0)
    assert default_voll_eur_per_mwh("household", 10.0, day) == default_voll_eur_per_mwh("households", 10.0, day)
    # a day before the decision uses the first (only) estimate
    assert default_voll_eur_per_mwh("aggregated", 10.0, dt.date(2019, 1, 1)) == pytest.approx(7625.0)
    entry = voll_table()["voll"][0]
    assert entry["price_year"] == 2017 and "Ei" in entry["source"]
    assert CurtailableLoad(name="x").customer_type == "aggregated"


def test_voll_table_reproduces_the_published_national_value():
    """Ei: weighted column sums to 76.25 SEK/kWh (2017); x KPI 1.0822 = 82.52 SEK/kWh (2020) = 7,869
    EUR/MWh at 10.4867 SEK/EUR. The weights are the report's weighted column / category VoLL."""
    t = voll_table()["voll"][0]["sek_per_kwh"]
    weighted = {"agriculture": 1.55, "industry": 26.54, "services": 36.81, "public_sector": 6.72, "households": 4.63}
    assert sum(weighted.values()) == pytest.approx(t["aggregated"], abs=0.005)
    weights = {k: w / t[k] for k, w in weighted.items()}
    assert sum(weights.values()) == pytest.approx(1.0, abs=0.002)
    uplift = 82.52 / 76.25
    eur_2020 = default_voll_eur_per_mwh("aggregated", 10.4867, dt.date(2021, 6, 1)) * uplift
    assert eur_2020 == pytest.approx(7869, abs=1)


def test_voll_default_follows_case_exchange_rate(tmp_path):
    prices = [50.0] * 24
    prices[18] = 700.0  # households VoLL: 677 EUR/MWh at 11.5 SEK/EUR, 779 at 10
    load = {"kind": "curtailable_load", "name": "homes", "profile": _flat_load(tmp_path), "customer_type": "households"}
    at_115 = bidopt.plan(_case(tmp_path, prices, load, sek_per_eur=11.5), DAY).schedule["homes_curtailed_mw"]
    at_10 = bidopt.plan(_case(tmp_path, prices, load, sek_per_eur=10.0), DAY).schedule["homes_curtailed_mw"]
    assert at_115.iloc[18] == pytest.approx(1.0) and at_10.iloc[18] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"customer_type": "pets"}, "customer_type"),
        ({"value_of_lost_load_eur_per_mwh": -1.0}, "value_of_lost_load_eur_per_mwh"),
        ({"max_curtailment_share": 1.5}, "max_curtailment_share"),
        ({"scale": -1.0}, "scale"),
    ],
)
def test_curtailable_validation(fields, field):
    case = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1},
            "assets": [{"kind": "curtailable_load", "name": "c", **fields}]}
    with pytest.raises(InputError) as e:
        bidopt.case_from_dict(case)
    assert e.value.field == f"assets[0] (c).{field}"


# ------------------------------------------------------------------------------------------- reserves


def test_reserve_products_only_when_offered():
    # FCR-D and the DSO's local flexibility (no response-time rule); aFRR, mFRR and FFR need a fast,
    # continuous response these loads do not declare
    assert provided_by(ShiftableLoad(name="a", energy_mwh=1, max_power_mw=1, window_start="1:00",
                                     window_end="5:00")) == set()
    assert provided_by(ShiftableLoad(name="a", energy_mwh=1, max_power_mw=1, window_start="1:00", window_end="5:00",
                                     offer_reserves=True)) == {"fcr_d_up", "fcr_d_down", "local_flex"}
    assert provided_by(CurtailableLoad(name="c", offer_reserves=True)) == {"fcr_d_up", "fcr_d_down", "local_flex"}
    assert provided_by(CurtailableLoad(name="c")) == set()


def _max_reserve(asset, horizon, data, direction, endurance_h, objective_t=None):
    """Build the asset alone, attach reserve variables r[t] with r_mwh = endurance * r, maximise
    sum r (or r[objective_t]); return (r, schedule power)."""
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, horizon.n - 1)
    m.a = pyo.Block()
    asset.build(m.a, m.T, horizon, data, False)
    m.r = pyo.Var(m.T, bounds=(0, None))
    zero = pyo.Expression(m.T, rule=lambda b, t: 0.0)
    m.zero = zero
    mwh = pyo.Expression(m.T, rule=lambda b, t: endurance_h * b.r[t])
    m.mwh = mwh
    if direction == "up":
        asset.add_reserve_headroom(m.a, m.T, horizon, m.r, m.zero, m.mwh, m.zero)
    else:
        asset.add_reserve_headroom(m.a, m.T, horizon, m.zero, m.r, m.zero, m.mwh)
    target = m.r[objective_t] if objective_t is not None else sum(m.r[t] for t in m.T)
    m.obj = pyo.Objective(expr=target, sense=pyo.maximize)
    res = Highs().solve(m)
    assert res.termination_condition.name == "convergenceCriteriaSatisfied"
    r = np.array([m.r[t].value for t in m.T])
    power = np.array([pyo.value(m.a.net_mw[t]) for t in m.T])
    return r, power


def test_shiftable_reserve_headroom_power_and_energy():
    h = Horizon.for_days(DAY)  # window 01:00-05:00Z = positions 2..5
    win = {"window_start": "2024-03-14T01:00Z", "window_end": "2024-03-14T05:00Z", "max_power_mw": 1.0}

    def asset(e, **kw):
        a = ShiftableLoad(name="f", energy_mwh=e, offer_reserves=True, **win, **kw)
        return a, a.prepare(None, h)

    # full window (4 MWh in 4 h at 1 MW): nothing can be moved, so no reserve either way
    full, full_data = asset(4.0)
    for d in ("up", "down"):
        r, _ = _max_reserve(full, h, full_data, d, endurance_h=1 / 3)
        assert r.max() == pytest.approx(0.0, abs=1e-9)
    # 2 MWh in 4 h. Up in the first window hour: cut p_2 by r and catch up r/3 later: r <= p_2 <= 1
    a, data = asset(2.0)
    r, p = _max_reserve(a, h, data, "up", endurance_h=1 / 3, objective_t=2)
    assert r[2] == pytest.approx(1.0) and p[2] == pytest.approx(1.0)
    # the last window hour has no later hours to catch up in; outside the window nothing
    r, p = _max_reserve(a, h, data, "up", endurance_h=1 / 3)
    assert r[5] == pytest.approx(0.0, abs=1e-9)
    assert np.delete(r, [2, 3, 4]).max() == pytest.approx(0.0, abs=1e-9)
    assert p.sum() == pytest.approx(2.0)
    # endurance 1 h: cutting 1 MWh in hour 2 needs 1 MWh of room in hours 3..5
    r, p = _max_reserve(a, h, data, "up", endurance_h=1.0, objective_t=2)
    assert r[2] == pytest.approx(1.0) and (1.0 - p[3:6]).sum() >= 1.0 - 1e-9
    # down: raise consumption by r in hour 2 and give r back later: r <= 1 - p_2, r <= sum later p
    r, p = _max_reserve(a, h, data, "down", endurance_h=1.0, objective_t=2)
    assert r[2] == pytest.approx(1.0) and p[2] == pytest.approx(0.0, abs=1e-9) and p[3:6].sum() >= 1.0 - 1e-9
    # min power keeps a floor: up <= p - min
    a, data = asset(2.0, min_power_mw=0.5)
    r, p = _max_reserve(a, h, data, "up", endurance_h=0.0)
    np.testing.assert_allclose(r[2:6], p[2:6] - 0.5, atol=1e-9)


def test_curtailable_reserve_headroom():
    h = Horizon.for_days(DAY)
    a = CurtailableLoad(name="c", offer_reserves=True, max_curtailment_share=0.5)
    data = {"demand_mw": np.full(h.n, 2.0), "voll_eur_per_mwh": 1000.0}
    r, p = _max_reserve(a, h, data, "up", endurance_h=5.0)  # energy does not bind
    np.testing.assert_allclose(r, 1.0, atol=1e-9)  # may cut half of 2 MW
    np.testing.assert_allclose(p, 2.0, atol=1e-9)
    r, p = _max_reserve(a, h, data, "down", endurance_h=5.0)
    np.testing.assert_allclose(r, 1.0, atol=1e-9)  # only by serving curtailed load again
    np.testing.assert_allclose(p, 1.0, atol=1e-9)


def test_expected_activation_moves_shiftable_energy():
    h = Horizon.for_days(DAY)
    a = ShiftableLoad(name="f", energy_mwh=2.0, max_power_mw=1.0, offer_reserves=True,
                      window_start="2024-03-14T01:00Z", window_end="2024-03-14T05:00Z")
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, h.n - 1)
    m.a = pyo.Block()
    a.build(m.a, m.T, h, a.prepare(None, h), False)
    m.zero = pyo.Expression(m.T, rule=lambda b, t: 0.0)
    m.act = pyo.Expression(m.T, rule=lambda b, t: 0.25 if t == 2 else 0.0)  # 0.25 MW cut on average
    a.add_reserve_headroom(m.a, m.T, h, m.zero, m.zero, m.zero, m.zero, m.act)
    m.obj = pyo.Objective(expr=sum(m.a.net_mw[t] for t in m.T))
    Highs().solve(m)
    assert sum(pyo.value(m.a.net_mw[t]) for t in m.T) == pytest.approx(2.25)  # buys back what was cut


def test_shiftable_sells_fcr_d_within_its_headroom(tmp_path):
    """Through the FCR market: capacity is sold only inside the window, never above the headroom,
    and the job still gets its energy."""
    idx = pd.date_range(START, periods=24, freq="h")
    for name, price in (("up.csv", 20.0), ("down.csv", 5.0)):
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mw_h": price}).to_csv(
            tmp_path / name, index=False
        )
    write_prices(tmp_path / "p.csv", START, np.linspace(40, 60, 24))
    case = bidopt.case_from_dict(
        {
            "prices": {"dayahead": "p.csv", "fcr_d_up": "up.csv", "fcr_d_down": "down.csv"},
            "grid": {"import_limit_mw": 5.0, "export_limit_mw": 5.0},
            "assets": [_shiftable(energy_mwh=2.0, max_power_mw=1.0, window_start="01:00", window_end="07:00",
                                  offer_reserves=True)],
        },
        base_dir=tmp_path,
    )
    res = bidopt.plan(case, DAY)
    s = res.schedule
    p, up, down = s["flex_power_mw"], s["flex_fcr_d_up_mw"], s["flex_fcr_d_down_mw"]
    assert p.sum() == pytest.approx(2.0)
    assert res.summary["revenue_eur"]["fcr_d_up"] > 0 and res.summary["revenue_eur"]["fcr_d_down"] > 0
    assert (up <= p + 1e-9).all() and (down <= 1.0 - p + 1e-9).all()
    outside = np.r_[0, np.arange(7, 24)]  # window = positions 1..6 (00:00Z..05:00Z)
    assert up.iloc[outside].max() == pytest.approx(0.0, abs=1e-9)
    assert down.iloc[outside].max() == pytest.approx(0.0, abs=1e-9)
    assert up.iloc[6] == pytest.approx(0.0, abs=1e-9)  # last window hour: nothing later to catch up in
