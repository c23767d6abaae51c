"""bidopt's optimum against an independent highspy formulation (tests/highspy_reference.py).

Real days from the raw ENTSO-E exports in the shared data folder (``BIDOPT_SHARED_DATA``, default
``<repo>/../shared/data``; skipped when absent): DST days with 23 and 25 hours, ordinary days, and days
with negative and zero prices; one day at 15-minute MTUs (hourly prices held over the quarters); and
the demo case (battery + PV + load + peak tariff + energy fee + fixed fee + energy tax) at 15 minutes.

The reference is the physical model: charge/discharge and import/export exclusivity are binaries on
every day, so agreement also shows that bidopt's choice to drop them (LP) when no MWh can have a
negative value loses nothing. Day prices for the battery-only cases are parsed here from the raw
file's local-time labels, not through bidopt's loader.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt.data import synthetic
from bidopt.horizon import Horizon
from bidopt.tariffs import retail

sys.path.insert(0, str(Path(__file__).resolve().parent))
import highspy_reference as ref  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIDOPT_SHARED_DATA", REPO.parent / "shared" / "data"))
DAYAHEAD = SHARED / "dayahead"
TZ = "Europe/Stockholm"
REL_TOL = 1e-6
ABS_TOL = 1e-5  # EUR

pytestmark = pytest.mark.realdata

BATTERY = dict(
    power_mw=1.0,
    energy_mwh=2.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    soc_min_mwh=0.0,
    soc_max_mwh=2.0,
    soc_initial_mwh=1.0,
    soc_final_mwh=1.0,
    degradation_eur_per_mwh=1.0,
)

# (zone, year, day, hours): DST days, ordinary days, and days with negative (and zero) prices
DAYS = [
    ("SE3", 2022, "2022-03-27", 23),  # spring forward
    ("SE3", 2022, "2022-10-30", 25),  # fall back
    ("SE3", 2022, "2022-01-18", 24),
    ("SE3", 2022, "2022-08-15", 24),  # high, volatile prices
    ("SE3", 2022, "2022-07-16", 24),  # negative and zero prices
    ("SE3", 2022, "2022-11-12", 24),  # 8 negative hours (down to -2.08), one zero
    ("SE3", 2022, "2022-12-31", 24),  # negative and three zero hours
    ("SE4", 2021, "2021-03-28", 23),
    ("SE4", 2021, "2021-10-31", 25),
    ("SE4", 2021, "2021-06-15", 24),
    ("SE4", 2021, "2021-04-05", 24),  # negative prices (Easter Monday)
    ("SE4", 2021, "2021-10-03", 24),  # negative prices
]


def entsoe_file(zone: str, year: int) -> Path:
    p = DAYAHEAD / f"entsoe_{zone}_{year}.csv"
    if not p.is_file():
        pytest.skip(f"shared data file {p} not present")
    return p


_DAY_CACHE: dict[Path, dict[str, list[float]]] = {}


def raw_day_prices(path: Path, day: str) -> np.ndarray:
    """Hourly prices of a local delivery day, straight from the ENTSO-E export's local labels.

    Rows are in delivery order; the spring-forward hour is a row with an empty price (skipped), the
    autumn-back hour appears twice in order (CEST, then CET), so file order is time order.
    """
    if path not in _DAY_CACHE:
        by_day: dict[str, list[float]] = {}
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f)
            next(rows)
            for row in rows:
                start = row[0].split(" - ")[0].strip()  # dd.mm.yyyy HH:MM
                price = row[1].strip()
                if not price:
                    continue
                d = dt.datetime.strptime(start, "%d.%m.%Y %H:%M").date().isoformat()
                by_day.setdefault(d, []).append(float(price))
        _DAY_CACHE[path] = by_day
    return np.array(_DAY_CACHE[path][day])


def utc_index(day: str, mtu_minutes: int) -> pd.DatetimeIndex:
    d = dt.date.fromisoformat(day)
    start = pd.Timestamp(d).tz_localize(TZ).tz_convert("UTC")
    end = pd.Timestamp(d + dt.timedelta(days=1)).tz_localize(TZ).tz_convert("UTC")
    return pd.date_range(start, end, freq=f"{mtu_minutes}min", inclusive="left")


def battery_case(path: Path, zone: str, mtu_minutes: int) -> bidopt.Case:
    return bidopt.case_from_dict(
        {
            "case": {"name": "reference", "zone": zone, "mtu_minutes": mtu_minutes},
            "prices": {"dayahead": str(path)},
            "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0},
            "assets": [{"kind": "battery", "name": "bess", **BATTERY}],
        },
        base_dir=REPO,
    )


def reference_battery() -> ref.BatteryParams:
    b = BATTERY
    return ref.BatteryParams(
        charge_mw=b["power_mw"],
        discharge_mw=b["power_mw"],
        eta_charge=b["charge_efficiency"],
        eta_discharge=b["discharge_efficiency"],
        soc_min_mwh=b["soc_min_mwh"],
        soc_max_mwh=b["soc_max_mwh"],
        soc_initial_mwh=b["soc_initial_mwh"],
        soc_final_mwh=b["soc_final_mwh"],
        degradation_eur_per_mwh=b["degradation_eur_per_mwh"],
        exclusive=True,
    )


def assert_same_optimum(got: float, want: float) -> None:
    tol = max(REL_TOL * abs(want), ABS_TOL)
    assert abs(got - want) <= tol, (
        f"bidopt {got!r} vs reference {want!r} (diff {got - want:.3g}, tol {tol:.3g})"
    )


def check_battery_schedule(sched: pd.DataFrame, dt_h: float, name: str = "bess") -> None:
    """bidopt's schedule obeys the reference's physics (SoC path, bounds, final target)."""
    c = sched[f"{name}_charge_mw"].to_numpy()
    d = sched[f"{name}_discharge_mw"].to_numpy()
    s = sched[f"{name}_soc_mwh"].to_numpy()
    b = BATTERY
    path = b["soc_initial_mwh"] + np.cumsum(
        (b["charge_efficiency"] * c - d / b["discharge_efficiency"]) * dt_h
    )
    np.testing.assert_allclose(s, path, atol=1e-6)
    assert (c >= -1e-7).all() and (c <= b["power_mw"] + 1e-7).all()
    assert (d >= -1e-7).all() and (d <= b["power_mw"] + 1e-7).all()
    assert (s >= b["soc_min_mwh"] - 1e-6).all() and (s <= b["soc_max_mwh"] + 1e-6).all()
    assert s[-1] >= b["soc_final_mwh"] - 1e-6


@pytest.mark.parametrize(("zone", "year", "day", "hours"), DAYS, ids=[f"{z}-{d}" for z, _, d, _ in DAYS])
def test_battery_day_matches_reference(zone, year, day, hours):
    path = entsoe_file(zone, year)
    prices = raw_day_prices(path, day)
    assert len(prices) == hours

    res = bidopt.plan(battery_case(path, zone, 60), day)
    sched = res.schedule
    assert len(sched) == hours
    np.testing.assert_array_equal(sched.index, utc_index(day, 60))
    np.testing.assert_allclose(sched["price_eur_per_mwh"].to_numpy(), prices)

    want = ref.solve(prices, prices, 1.0, 2.0, 2.0, battery=reference_battery(), grid_exclusive=True)
    assert_same_optimum(res.summary["objective_eur"], want.objective_eur)
    check_battery_schedule(sched, 1.0)
    # the summary is the value of the schedule it reports
    mine = ref.evaluate(
        sched["grid_import_mw"],
        sched["grid_export_mw"],
        sched["bess_charge_mw"],
        sched["bess_discharge_mw"],
        prices,
        prices,
        1.0,
        BATTERY["degradation_eur_per_mwh"],
    )
    assert_same_optimum(res.summary["objective_eur"], mine)


def test_battery_quarter_hours_hold_hourly_prices():
    zone, year, day = "SE3", 2022, "2022-10-30"  # 25 h -> 100 quarter-hours
    path = entsoe_file(zone, year)
    prices = np.repeat(raw_day_prices(path, day), 4)
    res = bidopt.plan(battery_case(path, zone, 15), day)
    sched = res.schedule
    assert len(sched) == 100 == res.summary["n_mtu"]
    np.testing.assert_array_equal(sched.index, utc_index(day, 15))
    np.testing.assert_allclose(sched["price_eur_per_mwh"].to_numpy(), prices)
    want = ref.solve(prices, prices, 0.25, 2.0, 2.0, battery=reference_battery(), grid_exclusive=True)
    assert_same_optimum(res.summary["objective_eur"], want.objective_eur)
    check_battery_schedule(sched, 0.25)
    # finer MTUs can only do at least as well as the hourly schedule held over its quarters
    hourly = ref.solve(
        prices[::4], prices[::4], 1.0, 2.0, 2.0, battery=reference_battery(), grid_exclusive=True
    )
    assert want.objective_eur >= hourly.objective_eur - 1e-6


# ----------------------------------------------------------------------------------------- demo case

SEK_PER_EUR = 11.5
VAT = 0.25


def demo_reference_inputs(case: bidopt.Case, day: str, mtu: int) -> dict:
    """Everything the reference needs for the demo case, worked out here from the case's data."""
    idx = utc_index(day, mtu)
    n, dt_h = len(idx), mtu / 60.0
    seed = case.synthetic.seed
    spot = synthetic.dayahead_prices(idx, zone=case.case.zone, seed=seed).to_numpy(float)
    assets = {a.name: a for a in case.assets}
    load = synthetic.base_load(idx, peak_mw=assets["building"].peak_mw, seed=seed).to_numpy(float)
    pv = synthetic.pv_profile(
        idx, capacity_mw=assets["rooftop"].capacity_mw, latitude=assets["rooftop"].latitude, seed=seed
    ).to_numpy(float)

    # coefficient arrays from bidopt (shared input), cross-checked against the hand build-up
    imp, exp = retail.totals(retail.coefficients(case, Horizon(idx, TZ), spot))
    k = 1000.0 / SEK_PER_EUR
    year = dt.date.fromisoformat(day).year
    energy_tax = {2022: 0.360, 2023: 0.392, 2024: 0.428, 2025: 0.439}[year]
    np.testing.assert_allclose(imp, spot + (0.02 + 0.084 + energy_tax) * k, rtol=0, atol=1e-9)
    np.testing.assert_allclose(exp, spot + (0.03 - 0.002) * k, rtol=0, atol=1e-9)

    # Sala-Heby peak: mean of the 5 highest hourly mean imports, weekdays 07-19 local, SEK/kW incl. VAT
    (peak,) = [t for t in case.tariffs if t.kind == "peak_power"]
    hours = idx.floor("60min")
    starts = hours.unique()
    groups, weights = [], []
    for h in starts:
        loc = h.tz_convert(TZ)
        if loc.weekday() in peak.window.weekdays and loc.hour in peak.window.hours:
            groups.append(np.flatnonzero(hours == h).tolist())
            weights.append(1.0)
    d = dt.date.fromisoformat(day)
    rate = max((r for r in peak.rates if r.valid_from <= d), key=lambda r: r.valid_from)
    sek_per_kw = rate.sek_per_kw_month[d.month - 1]
    peaks = [ref.PeakTerm(groups, weights, peak.n_peaks, sek_per_kw * 1000.0 / SEK_PER_EUR / (1 + VAT))]

    # subscription 3151 SEK/year spread over the hours of the year
    hours_in_year = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days * 24
    constant = -3151.0 / SEK_PER_EUR * (n * dt_h) / hours_in_year

    bess = assets["bess"]
    battery = ref.BatteryParams(
        charge_mw=bess.power_mw,
        discharge_mw=bess.power_mw,
        eta_charge=bess.charge_efficiency,
        eta_discharge=bess.discharge_efficiency,
        soc_min_mwh=bess.soc_min_mwh,
        soc_max_mwh=bess.soc_max_mwh,
        soc_initial_mwh=bess.soc_initial_mwh,
        soc_final_mwh=bess.soc_final_mwh,
        degradation_eur_per_mwh=bess.degradation_eur_per_mwh,
        exclusive=True,
    )
    return dict(
        import_cost_eur_per_mwh=imp,
        export_value_eur_per_mwh=exp,
        dt_h=dt_h,
        import_limit_mw=case.grid.import_limit_mw,
        export_limit_mw=case.grid.export_limit_mw,
        battery=battery,
        net_load_mw=load,
        pv_available_mw=pv,
        pv_curtailable=assets["rooftop"].curtailable,
        peaks=peaks,
        constant_eur=constant,
        grid_exclusive=True,
    )


@pytest.mark.parametrize(
    "day", ["2024-01-17", "2024-08-27"]
)  # winter weekday; summer weekday with negative prices
def test_demo_case_quarter_hours_match_reference(day):
    case = bidopt.load_case(REPO / "cases" / "demo")
    inputs = demo_reference_inputs(case, day, 15)
    assert inputs["peaks"][0].hours, "the day must have hours in the peak window"
    res = bidopt.plan(case, day, mtu_minutes=15)
    sched = res.schedule
    assert len(sched) == 96
    np.testing.assert_allclose(sched["building_power_mw"].to_numpy(), inputs["net_load_mw"], atol=1e-12)
    want = ref.solve(**inputs)
    assert_same_optimum(res.summary["objective_eur"], want.objective_eur)
    # bidopt's reported objective is the value of its own schedule under the independent evaluation
    mine = ref.evaluate(
        sched["grid_import_mw"],
        sched["grid_export_mw"],
        sched["bess_charge_mw"],
        sched["bess_discharge_mw"],
        inputs["import_cost_eur_per_mwh"],
        inputs["export_value_eur_per_mwh"],
        inputs["dt_h"],
        inputs["battery"].degradation_eur_per_mwh,
        inputs["peaks"],
        inputs["constant_eur"],
    )
    assert_same_optimum(res.summary["objective_eur"], mine)
    # site balance with PV output within what was available
    pv_out = -sched["rooftop_power_mw"].to_numpy()
    assert (pv_out >= -1e-7).all() and (pv_out <= inputs["pv_available_mw"] + 1e-7).all()
    net = sched["building_power_mw"] + sched["bess_charge_mw"] - sched["bess_discharge_mw"] - pv_out
    np.testing.assert_allclose(sched["grid_import_mw"] - sched["grid_export_mw"], net, atol=1e-6)
