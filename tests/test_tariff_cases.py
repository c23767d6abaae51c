"""Worked tariff cases from NEPP 2014 (domain notes ../shared/domain/tariffs_flexibility_balance.md,
sections 2, 3, 4.3, 5.3-5.5 and the validation table in section 10, V1-V5, V7, V8), run through the
real tariff code: cases built with ``bidopt.case_from_dict``, the tariff templates under
``models/tariffs/``, ``bidopt.tariffs.retail`` for the price stack, each tariff's ``bill_eur`` for
bills, and the portfolio model (HiGHS) for the power-tariff optimisation.

Amounts in the reports are SEK and ore/kWh; bidopt works in EUR (ex VAT) per MWh, so every number is
converted with the case's ``sek_per_eur`` on the way in and back on the way out.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

import bidopt
from bidopt.case import case_from_dict
from bidopt.horizon import Horizon
from bidopt.model import PortfolioModel, plan
from bidopt.tariffs import retail

ROOT = Path(bidopt.__file__).resolve().parents[1]
TARIFFS = ROOT / "models" / "tariffs"
S = 9.0  # sek_per_eur used throughout (any value works: everything converts back)
VAT = 1.25
HIGH_LOAD_MONTHS = (1, 2, 3, 11, 12)  # Fortum high-load season


# ------------------------------------------------------------------------------------------- helpers


def make_case(tariffs=(), retail_table=None, assets=(), prices="synthetic", base_dir=ROOT, grid_mw=1.0):
    data = {
        "case": {"name": "nepp", "zone": "SE3", "mtu_minutes": 60, "sek_per_eur": S},
        "prices": {"dayahead": str(prices)},
        "grid": {"import_limit_mw": grid_mw, "export_limit_mw": grid_mw},
        "assets": list(assets),
        "tariffs": list(tariffs),
    }
    if retail_table is not None:
        data["retail"] = retail_table
    return case_from_dict(data, base_dir=base_dir)


def year_horizon(year: int) -> Horizon:
    return Horizon.for_days(dt.date(year, 1, 1), dt.date(year, 12, 31), 60)


def kw_series(h: Horizon, kw) -> pd.Series:
    """A kW profile as the MW import series the tariffs bill."""
    return pd.Series(np.asarray(kw, dtype=float) / 1000.0, index=h.index)


def sek(eur: float, incl_vat: bool = False) -> float:
    return eur * S * (VAT if incl_vat else 1.0)


def ore_per_kwh(eur_per_mwh):
    return np.asarray(eur_per_mwh) * S / 1000.0 * 100.0


def fortum_tou(valid_from: str | None = None, includes_vat: bool | None = None) -> dict:
    """The Fortum 2013 time-of-use template, optionally re-dated (for 2010-2012) or VAT-flag changed."""
    with open(TARIFFS / "fortum_tou_2013.toml", "rb") as f:
        t = tomllib.load(f)
    if valid_from is not None:
        t["rates"] = [{**r, "valid_from": dt.date.fromisoformat(valid_from)} for r in t["rates"]]
    if includes_vat is not None:
        t["includes_vat"] = includes_vat
    return t


def fortum_high_load_mask(h: Horizon) -> np.ndarray:
    """Weekdays 06-22 local time in Jan-Mar, Nov, Dec: written here independently of bidopt's Window."""
    loc = h.local
    return (
        np.isin(loc.month, HIGH_LOAD_MONTHS) & (loc.day_of_week < 5) & (loc.hour >= 6) & (loc.hour < 22)
    )


def sala_window_mask(h: Horizon) -> np.ndarray:
    loc = h.local
    return (loc.day_of_week < 5) & (loc.hour >= 7) & (loc.hour < 19)


def write_series(path: Path, index: pd.DatetimeIndex, column: str, values) -> Path:
    df = pd.DataFrame({"timestamp_utc": index.strftime("%Y-%m-%dT%H:%M:%SZ"), column: np.asarray(values)})
    df.to_csv(path, index=False)
    return path


def spot_for(ore: float) -> float:
    """A spot price in ore/kWh as EUR/MWh."""
    return ore / 100.0 * 1000.0 / S


# ----------------------------------------------------------------------- V1, V2, V8: retail build-up

FIGURE1_RETAIL = {
    "pays_vat": True,
    "pays_energy_tax": True,
    "energy_tax_sek_per_kwh": [{"valid_from": dt.date(2014, 1, 1), "value": 0.290}],
    "vat_rate": [{"valid_from": dt.date(1990, 1, 1), "value": 0.25}],
    "export": {"policy": "spot", "handling_fee_sek_per_kwh": 0.0020},
}
TRANSFER_FEE = {
    "kind": "energy_fee",
    "name": "transfer",
    "rates": [{"valid_from": dt.date(2014, 1, 1), "sek_per_kwh": 0.206}],
}


def stack(case, h: Horizon, spot_ore: float = 40.0):
    coefs = retail.coefficients(case, h, np.full(h.n, spot_for(spot_ore)))
    imp, exp = retail.totals(coefs)
    return ore_per_kwh(imp), ore_per_kwh(exp), coefs


def test_v1_retail_build_up_without_net_billing():
    h = Horizon.for_days(dt.date(2014, 3, 3), dt.date(2014, 3, 4), 60)
    imp, exp, coefs = stack(make_case([TRANSFER_FEE], FIGURE1_RETAIL), h)
    np.testing.assert_allclose(imp, 112.0, atol=1e-9)  # (40 + 20.6 + 29) * 1.25
    np.testing.assert_allclose(exp, 39.8, atol=1e-9)  # 40 - 0.20 handling fee, no VAT on export
    np.testing.assert_allclose(imp - exp, 72.2, atol=1e-9)  # incentive not to export
    # the streams: spot 40, transfer 20.6, tax 29 + VAT 22.4
    np.testing.assert_allclose(ore_per_kwh(coefs["dayahead"][0]), 40.0, atol=1e-9)
    np.testing.assert_allclose(ore_per_kwh(coefs["tariff"][0]), 20.6, atol=1e-9)
    np.testing.assert_allclose(ore_per_kwh(coefs["tax"][0]), 29.0 + 0.25 * 89.6, atol=1e-9)


def test_v1_default_tax_table_gives_the_year_s_energy_tax():
    """Without a case override the shipped se_taxes.toml gives each year's general rate. NEPP's
    29.0 ore/kWh is the 2012 rate (EY, Aftonkuriren); 2014's was 29.3 (Fortum's 2014 page), so the
    Figure 1 build-up with the default table is 112.0 ore/kWh in 2012 and 112.375 in 2014."""
    table = {k: v for k, v in FIGURE1_RETAIL.items() if k not in ("energy_tax_sek_per_kwh", "vat_rate")}
    fee = {**TRANSFER_FEE, "rates": [{"valid_from": dt.date(2012, 1, 1), "sek_per_kwh": 0.206}]}
    for day, tax in [(dt.date(2012, 6, 4), 29.0), (dt.date(2014, 6, 2), 29.3)]:
        h = Horizon.for_days(day, None, 60)
        imp, exp, _ = stack(make_case([fee], table), h)
        np.testing.assert_allclose(imp, (40 + 20.6 + tax) * 1.25, atol=1e-9)
        np.testing.assert_allclose(exp, 39.8, atol=1e-9)


# The general (non-reduced) energy tax on electricity, ore/kWh ex VAT, by the date it holds from:
# what bidopt/defaults/se_taxes.toml must give without a case override. Each figure is checked in
# the source named in that file (Skatteverket, SFS, or a secondary page quoting the rate).
ENERGY_TAX_ORE = [
    (dt.date(2011, 1, 1), 28.3), (dt.date(2012, 1, 1), 29.0), (dt.date(2013, 1, 1), 29.3),
    (dt.date(2014, 1, 1), 29.3), (dt.date(2015, 1, 1), 29.4), (dt.date(2016, 1, 1), 29.2),
    (dt.date(2017, 1, 1), 29.5), (dt.date(2017, 7, 1), 32.5), (dt.date(2018, 1, 1), 33.1),
    (dt.date(2019, 1, 1), 34.7), (dt.date(2020, 1, 1), 35.3), (dt.date(2021, 1, 1), 35.6),
    (dt.date(2022, 1, 1), 36.0), (dt.date(2023, 1, 1), 39.2), (dt.date(2024, 1, 1), 42.8),
    (dt.date(2025, 1, 1), 43.9), (dt.date(2026, 1, 1), 36.0),
]


def _default_retail():
    return make_case().retail


def test_default_energy_tax_table_year_by_year():
    from bidopt.case import dated_value

    table = _default_retail().energy_tax_sek_per_kwh
    for i, (start, ore) in enumerate(ENERGY_TAX_ORE):
        end = ENERGY_TAX_ORE[i + 1][0] if i + 1 < len(ENERGY_TAX_ORE) else dt.date(2026, 12, 31)
        for day in (start, start + dt.timedelta(days=40), end - dt.timedelta(days=1)):
            assert dated_value(table, day) == pytest.approx(ore / 100, abs=1e-12), (day, ore)
    assert dated_value(table, dt.date(2017, 6, 30)) == pytest.approx(0.295)  # mid-year change
    assert dated_value(table, dt.date(2017, 7, 1)) == pytest.approx(0.325)
    assert sorted(e.valid_from for e in table) == [d for d, _ in ENERGY_TAX_ORE]
    with pytest.raises(bidopt.InputError):
        dated_value(table, dt.date(2010, 12, 31))  # before the table: no silent fallback


def test_default_tax_tables_cite_their_sources():
    r = _default_retail()
    for name, table in [("energy tax", r.energy_tax_sek_per_kwh), ("VAT", r.vat_rate),
                        ("tax reduction", r.export.tax_reduction_sek_per_kwh)]:
        for e in table:
            assert e.source and len(e.source) > 10, (name, e.valid_from)
    by_year = {e.valid_from.year: e.source for e in r.energy_tax_sek_per_kwh}
    assert "UNVERIFIED" in by_year[2026]  # derived from a cut announced incl. VAT, no SFS text seen
    for year in (2015, 2016, 2019, 2022, 2024):  # read in Skatteverket's or the SFS text itself
        assert "UNVERIFIED" not in by_year[year] and ("Skatteverket" in by_year[year] or "SFS" in by_year[year])


def test_default_tax_reduction_dates():
    from bidopt.case import dated_value

    red = _default_retail().export.tax_reduction_sek_per_kwh
    with pytest.raises(bidopt.InputError):
        dated_value(red, dt.date(2014, 12, 31))  # introduced 2015-01-01
    assert dated_value(red, dt.date(2015, 1, 1)) == pytest.approx(0.60)
    assert dated_value(red, dt.date(2025, 12, 31)) == pytest.approx(0.60)
    assert dated_value(red, dt.date(2026, 1, 1)) == 0.0  # abolished for electricity fed in from 2026


def test_v2_net_billing_export_earns_retail_price():
    table = {**FIGURE1_RETAIL, "export": {"policy": "net_billing", "handling_fee_sek_per_kwh": 0.0020}}
    h = Horizon.for_days(dt.date(2014, 3, 3), None, 60)
    imp, exp, _ = stack(make_case([TRANSFER_FEE], table), h)
    np.testing.assert_allclose(imp, 112.0, atol=1e-9)
    np.testing.assert_allclose(exp, 112.0, atol=1e-9)
    np.testing.assert_allclose(imp - exp, 0.0, atol=1e-12)


def _local_hour(h: Horizon, day: dt.date, hour: int) -> int:
    loc = h.local
    return int(np.flatnonzero((np.asarray(loc.date) == day) & (loc.hour == hour))[0])


def test_v8_pv_export_incentive_by_network_tariff():
    # fuse tariff, flat transfer fee 20.6 ex VAT
    h = Horizon.for_days(dt.date(2014, 1, 15), None, 60)
    imp, exp, _ = stack(make_case([TRANSFER_FEE], FIGURE1_RETAIL), h)
    assert imp[10] - exp[10] == pytest.approx(72.2, abs=1e-9)

    # Fortum time tariff (template, 52 / 11.6 ore/kWh incl. VAT): (40 + 29) * 1.25 + 52 - 39.8 = 98.45
    tou = make_case([{"template": str(TARIFFS / "fortum_tou_2013.toml")}], FIGURE1_RETAIL)
    winter = Horizon.for_days(dt.date(2014, 1, 15), None, 60)  # a Wednesday
    imp, exp, _ = stack(tou, winter)
    i = _local_hour(winter, dt.date(2014, 1, 15), 10)
    assert imp[i] - exp[i] == pytest.approx(98.45, abs=1e-9)  # report: ~98.5
    night = _local_hour(winter, dt.date(2014, 1, 15), 2)
    assert imp[night] - exp[night] == pytest.approx(58.05, abs=1e-9)
    # April-October: 86.25 + 11.6 - 39.8 = 58.05. The report prints 56.5, which would need a low rate
    # of about 10.0 ore/kWh; that is a known mismatch in the source (domain notes 4.3), not reproduced.
    summer = Horizon.for_days(dt.date(2014, 6, 11), None, 60)
    imp, exp, _ = stack(tou, summer)
    j = _local_hour(summer, dt.date(2014, 6, 11), 12)
    assert imp[j] - exp[j] == pytest.approx(58.05, abs=1e-9)
    assert imp[j] - exp[j] != pytest.approx(56.5, abs=0.5)

    # power tariff: no per-kWh network fee, (40 + 29) * 1.25 - 39.8 = 46.45 (report: ~46.5)
    power = make_case([{"template": str(TARIFFS / "sala_heby_power_2014.toml")}], FIGURE1_RETAIL)
    imp, exp, _ = stack(power, winter)
    np.testing.assert_allclose(imp - exp, 46.45, atol=1e-9)


# ------------------------------------------- micro-production tax reduction ("60-öringen", 2015-2025)
# 0.60 SEK/kWh on renewable electricity fed in at the connection point (MARKET_RULES 4.4,
# se_taxes.toml): not on grid energy a battery stores and exports; per year at most the kWh
# withdrawn there and 30 000 kWh. One day's LP: reducible export <= export, <= the day's renewable
# (PV) output (or the MTU's, basis "mtu"), <= the remaining allowance.

RED_DAY = dt.date(2024, 6, 12)  # a Wednesday
RED_EUR_PER_MWH = 0.60 * 1000.0 / S


def _reduction_case(tmp_path: Path, pv=True, battery=True, day=RED_DAY, n_days=1, **export):
    h = Horizon.for_days(day, day + dt.timedelta(days=n_days - 1), 60)
    hour = h.local.hour
    price = np.where(hour < 6, 10.0, np.where((hour >= 17) & (hour < 22), 100.0, 40.0))
    pv_mw = np.where((hour >= 8) & (hour < 17), 0.004, 0.0) + np.where((hour >= 10) & (hour < 15), 0.004, 0.0)
    files = {"prices.csv": ("price_eur_per_mwh", price), "load.csv": ("load_mw", np.full(h.n, 0.001)),
             "pv.csv": ("pv_mw", pv_mw)}
    for name, (col, vals) in files.items():
        write_series(tmp_path / name, h.index, col, vals)
    assets = [{"kind": "load", "name": "house", "profile": "load.csv"}]
    if pv:
        assets.append({"kind": "pv", "name": "roof", "capacity_mw": 0.01, "profile": "pv.csv"})
    if battery:
        assets.append({"kind": "battery", "name": "bess", "power_mw": 0.005, "energy_mwh": 0.01,
                       "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
                       "soc_initial_mwh": 0.0, "soc_final_mwh": 0.0})
    table = {"pays_energy_tax": False, "pays_vat": False,
             "export": {"policy": "spot", "tax_reduction": True, **export}}
    case = make_case(assets=assets, retail_table=table, prices="prices.csv", base_dir=tmp_path, grid_mw=0.02)
    return case, h, pv_mw


def _reduction_plan(case, h):
    pm = _solve(case, h)
    s = pm.schedule()
    rev = pm.revenue()
    assert sum(rev.values()) == pytest.approx(pm.summary()["objective_eur"], abs=1e-9)
    return s, rev


def test_tax_reduction_not_on_grid_charged_battery_export(tmp_path):
    """A battery-only site charges at night and exports in the evening: no renewable production, so
    no tax reduction however much it exports (the old model paid 0.60 SEK on every exported kWh)."""
    case, h, _ = _reduction_case(tmp_path, pv=False)
    s, rev = _reduction_plan(case, h)
    assert (s.grid_export_mw * h.dt_h).sum() > 0.005  # it does export
    assert rev["tax"] == pytest.approx(0.0, abs=1e-12)


def test_tax_reduction_on_pv_export_only(tmp_path):
    """PV and a house, no storage: the reduction is paid on the PV surplus fed in, not on the PV
    output used in the house."""
    case, h, pv_mw = _reduction_case(tmp_path, battery=False)
    s, rev = _reduction_plan(case, h)
    exported = float((s.grid_export_mw * h.dt_h).sum())
    assert 0 < exported < pv_mw.sum() * h.dt_h - 1e-6
    assert rev["tax"] == pytest.approx(RED_EUR_PER_MWH * exported, rel=1e-9)


@pytest.mark.parametrize("basis", ["day", "mtu"])
def test_tax_reduction_with_pv_and_battery(tmp_path, basis):
    """PV and a battery that also trades with the grid. Basis "day" (default): reducible export is
    capped by the day's PV output (PV stored and fed in later counts); basis "mtu": by the PV output
    of the same MTU, so the evening export of the battery earns none."""
    case, h, pv_mw = _reduction_case(tmp_path, tax_reduction_basis=basis)
    s, rev = _reduction_plan(case, h)
    exp = s.grid_export_mw.to_numpy()
    pv = -s.roof_power_mw.to_numpy()  # PV output used (curtailable)
    evening = np.asarray((h.local.hour >= 17) & (h.local.hour < 22))
    assert exp[evening].sum() > 0.001  # the battery sells into the evening peak
    if basis == "mtu":
        reducible = np.minimum(exp, pv).sum() * h.dt_h
    else:
        reducible = min(exp.sum(), pv.sum()) * h.dt_h
    assert rev["tax"] == pytest.approx(RED_EUR_PER_MWH * reducible, rel=1e-7, abs=1e-9)
    assert rev["tax"] <= RED_EUR_PER_MWH * pv_mw.sum() * h.dt_h + 1e-9


def test_tax_reduction_capped_by_remaining_allowance(tmp_path):
    """``tax_reduction_remaining_kwh``: what is left of the year's cap (30 000 kWh and the year's
    import at the connection point) after earlier days; here 2 kWh."""
    case, h, _ = _reduction_case(tmp_path, battery=False, tax_reduction_remaining_kwh=2.0)
    s, rev = _reduction_plan(case, h)
    assert (s.grid_export_mw * h.dt_h).sum() > 0.002
    assert rev["tax"] == pytest.approx(RED_EUR_PER_MWH * 0.002, rel=1e-9)


def test_tax_reduction_on_a_refreshed_model_equals_a_rebuilt_one(tmp_path):
    """``Replanner`` refreshes the reduction's rates and allowance day by day: the same money as a
    model built for the day."""
    from bidopt.replan import Replanner

    case, _, _ = _reduction_case(tmp_path, n_days=4)
    rp = Replanner()
    for i in range(4):
        day = RED_DAY + dt.timedelta(days=i)
        remaining = 2.0 if i == 2 else None  # a nearly used-up allowance on one day
        c = case.model_copy(deep=True)
        c.retail.export.tax_reduction_remaining_kwh = remaining
        a = rp.plan(c, day)
        b = plan(c, day).model
        assert a.revenue() == pytest.approx(b.revenue(), abs=1e-9)
        assert a.revenue()["tax"] > 0
        if remaining is not None:
            assert a.revenue()["tax"] == pytest.approx(RED_EUR_PER_MWH * remaining / 1000.0, rel=1e-9)
    assert rp.refreshes == 3 and rp.builds == 1


def test_tax_reduction_needs_the_grid_binary_where_export_beats_import(tmp_path):
    """Without energy tax, export + reduction earns more than import costs: the grid's binary keeps
    import and export apart. Its LP relaxation imports and exports at once to earn the reduction on
    grid energy (up to the PV output), which a meter cannot do."""
    from bidopt.model import PortfolioModel
    from bidopt.params import data_objects

    case, h, _ = _reduction_case(tmp_path, battery=False)
    pm = _solve(case, h)
    assert pm.site.grid_needs_binaries and pm.is_mip
    s = pm.schedule()
    assert np.minimum(s.grid_import_mw, s.grid_export_mw).max() == 0.0
    relaxed = PortfolioModel(case, h)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(relaxed.m)
    relaxed.solve()
    g = relaxed.site.blk.grid
    imp = np.array([v.value for v in data_objects(g.import_mw)])
    exp = np.array([v.value for v in data_objects(g.export_mw)])
    assert np.minimum(imp, exp).max() > 1e-4
    assert pyo.value(relaxed.site.blk.tax_reduction.value_eur) > pm.revenue()["tax"] + 1e-6


def test_tax_reduction_gone_from_2026(tmp_path):
    case, h, _ = _reduction_case(tmp_path, battery=False, day=dt.date(2026, 6, 10))
    s, rev = _reduction_plan(case, h)
    assert (s.grid_export_mw * h.dt_h).sum() > 0.005
    assert rev["tax"] == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------------------ V3: fuse tariff bill


@pytest.mark.parametrize("includes_vat", [False, True])
def test_v3_fuse_tariff_year_bill(includes_vat):
    """3 625 SEK/yr + 25 000 kWh * 0.257 SEK/kWh = 10 050 SEK/yr (prices incl. VAT as printed)."""
    d0 = dt.date(2013, 1, 1)
    case = make_case(
        [
            {"kind": "fixed_fee", "name": "fuse_25A", "includes_vat": includes_vat,
             "sek_per_year": [{"valid_from": d0, "value": 3625.0}]},
            {"kind": "energy_fee", "name": "transfer", "includes_vat": includes_vat,
             "rates": [{"valid_from": d0, "sek_per_kwh": 0.257}]},
        ]
    )
    h = year_horizon(2013)
    assert h.n == 8760
    load = kw_series(h, np.full(h.n, 25000.0 / h.n))
    bills = [sek(t.bill_eur(case, load), incl_vat=includes_vat) for t in case.tariffs]
    assert bills[0] == pytest.approx(3625.0, abs=1e-6)
    assert bills[1] == pytest.approx(6425.0, abs=1e-6)
    assert sum(bills) == pytest.approx(10050.0, abs=1e-6)


# ------------------------------------------------------------------ V4: inactive customer, Table 4


def test_v4_time_of_use_inactive_customer_2012():
    """17 238 kWh in 2012, 28.35 % of it in Fortum high-load hours: 4 430 vs 3 974 SEK transfer."""
    h = year_horizon(2012)
    assert h.n == 8784  # leap year
    hi = fortum_high_load_mask(h)
    total, share, peak_kw = 17238.0, 0.2835, 8.54
    e_hi, e_lo = total * share, total * (1 - share)
    kw = np.where(hi, e_hi / hi.sum(), 0.0)
    lo_idx = np.flatnonzero(~hi)
    kw[lo_idx] = (e_lo - peak_kw) / (len(lo_idx) - 1)
    kw[lo_idx[100]] = peak_kw  # the house's 8.54 kW maximum, in a low-load hour
    assert kw.sum() == pytest.approx(total) and kw.max() == pytest.approx(peak_kw)
    load = kw_series(h, kw)

    d0 = dt.date(2012, 1, 1)
    single = make_case(
        [
            {"kind": "fixed_fee", "name": "sub", "sek_per_year": [{"valid_from": d0, "value": 2150.0}]},
            {"kind": "energy_fee", "name": "single", "rates": [{"valid_from": d0, "sek_per_kwh": 0.257}]},
        ]
    )
    tou = make_case(
        [
            {"kind": "fixed_fee", "name": "sub", "sek_per_year": [{"valid_from": d0, "value": 2425.0}]},
            fortum_tou("2012-01-01", includes_vat=False),  # Table 4 prices incl. VAT, taken as printed
        ]
    )
    fee_single, transfer_single = (sek(t.bill_eur(single, load)) for t in single.tariffs)
    fee_tou, transfer_tou = (sek(t.bill_eur(tou, load)) for t in tou.tariffs)
    assert fee_single == pytest.approx(2150.0, abs=1e-6) and fee_tou == pytest.approx(2425.0, abs=1e-6)
    assert round(transfer_single) == 4430  # 4 430.17
    assert round(transfer_tou) == 3974  # 3 973.95
    assert round(transfer_single - transfer_tou) == 456
    assert round(fee_single + transfer_single) == 6580
    assert round(fee_tou + transfer_tou) == 6399
    saving = (fee_single + transfer_single) - (fee_tou + transfer_tou)
    assert round(saving) == 181
    assert saving == pytest.approx(181.0, abs=0.5)


# ------------------------------------------------------------------ V5: ToU shifting, network side

SHIFT_KWH_PER_WEEKDAY = {1: 15.0, 2: 15.0, 3: 10.0, 11: 10.0, 12: 15.0}  # Table 3


def shifted_profile(h: Horizon, base_kw: float = 4.0):
    """Baseline flat; on each high-season weekday the Table 3 energy leaves 07-10 and 17-20 (six
    high-load hours) and lands in 00-05 (low-load, part of 23-05)."""
    loc = h.local
    shift = np.array([SHIFT_KWH_PER_WEEKDAY.get(m, 0.0) for m in loc.month]) * (loc.day_of_week < 5)
    out_hours = np.isin(loc.hour, [7, 8, 9, 17, 18, 19])
    in_hours = np.isin(loc.hour, [0, 1, 2, 3, 4])
    base = np.full(h.n, base_kw)
    shifted = base - shift * out_hours / 6.0 + shift * in_hours / 5.0
    return base, shifted, shift


@pytest.mark.parametrize(
    "year, kwh, saving, rounded",
    [(2010, 1410, 569.6, 570), (2011, 1395, 563.6, 564), (2012, 1400, 565.6, 566), (2013, 1395, 563.6, 564)],
)
def test_v5_tou_shifting_network_saving(year, kwh, saving, rounded):
    h = year_horizon(year)
    base, shifted, shift = shifted_profile(h)
    moved = float(shift[h.local.hour == 12].sum())  # kWh moved over the year (one count per day)
    assert moved == pytest.approx(kwh)
    assert shifted.sum() == pytest.approx(base.sum())  # energy is moved, not saved
    # the template's rates are incl. VAT: stored ex VAT, so the bill converts back with * 1.25
    case = make_case([fortum_tou(f"{year}-01-01")])
    fee = case.tariffs[0]
    assert fee.includes_vat
    before = sek(fee.bill_eur(case, kw_series(h, base)), incl_vat=True)
    after = sek(fee.bill_eur(case, kw_series(h, shifted)), incl_vat=True)
    assert round(before - after, 1) == saving
    assert round(before - after) == rounded
    assert before - after == pytest.approx(kwh * (0.52 - 0.116), abs=1e-6)


# ---------------------------------------------------------------- V7: Sala-Heby power tariff (2014)

MOVABLE_KW = [2, 2, 2, 1.5, 1, 0.5, 0.5, 0.5, 1, 1.5, 2, 2]  # Table 5
FIGURE9_SEK = [194, 194, 194, 58.5, 39, 19.5, 19.5, 19.5, 39, 58.5, 194, 194]
BASE_KW, PEAK_KW = 3.0, 8.0


def sala_profile(h: Horizon):
    """3 kW everywhere except, each month, 10:00 on its first five weekdays at 8 kW: the top five
    window hours stand well clear of the rest. The shifted profile moves the Table 5 power from those
    hours to 02:00 the same night (outside the window)."""
    loc = h.local
    dates = np.asarray(loc.date)
    base = np.full(h.n, BASE_KW)
    shifted = base.copy()
    peaks = []
    for m in range(1, 13):
        days = sorted({d for d, mm, wd in zip(dates, loc.month, loc.day_of_week, strict=True) if mm == m and wd < 5})[:5]
        for d in days:
            top = int(np.flatnonzero((dates == d) & (loc.hour == 10))[0])
            night = int(np.flatnonzero((dates == d) & (loc.hour == 2))[0])
            base[top] = shifted[top] = PEAK_KW
            shifted[top] -= MOVABLE_KW[m - 1]
            shifted[night] += MOVABLE_KW[m - 1]
            peaks.append(top)
    return base, shifted, peaks


def sala_case(**kw):
    return make_case([{"template": str(TARIFFS / "sala_heby_power_2014.toml")}], **kw)


def reference_top5_charge_sek(h: Horizon, kw: np.ndarray, rate_by_month) -> dict[int, float]:
    """Independent Sala-Heby charge: rate * mean of the five largest weekday 07-19 hourly kW."""
    loc = h.local
    win = sala_window_mask(h)
    out = {}
    for m in sorted(set(loc.month[win])):
        vals = np.sort(kw[win & (loc.month == m)])[::-1][:5]
        out[int(m)] = rate_by_month[m - 1] * vals.sum() / 5
    return out


def test_v7_sala_heby_monthly_savings():
    h = year_horizon(2014)
    base, shifted, _ = sala_profile(h)
    assert shifted.sum() == pytest.approx(base.sum())
    case = sala_case()
    tariff = case.tariffs[0]
    assert tariff.kind == "peak_power" and tariff.includes_vat and tariff.n_peaks == 5
    rates = [97] * 3 + [39] * 7 + [97] * 2  # SEK/kW incl. VAT (household prices)
    month = h.local.month
    savings = []
    for m in range(1, 13):
        sel = np.asarray(month == m)
        b = sek(tariff.bill_eur(case, kw_series(h, base)[sel]), incl_vat=True)
        s = sek(tariff.bill_eur(case, kw_series(h, shifted)[sel]), incl_vat=True)
        assert b == pytest.approx(rates[m - 1] * PEAK_KW, abs=1e-9)  # mean of top 5 = 8 kW
        savings.append(b - s)
    np.testing.assert_allclose(savings, FIGURE9_SEK, atol=1e-9)
    # the whole year in one bill: the same months, summed
    year_b = sek(tariff.bill_eur(case, kw_series(h, base)), incl_vat=True)
    year_s = sek(tariff.bill_eur(case, kw_series(h, shifted)), incl_vat=True)
    assert year_b - year_s == pytest.approx(1223.5, abs=1e-9)
    assert round(year_b - year_s, -1) == 1220  # "ca 1 220 kr/år"
    ref = reference_top5_charge_sek(h, base, rates)
    assert year_b == pytest.approx(sum(ref.values()), abs=1e-9)


@pytest.mark.parametrize("template", ["sala_heby_power.toml", "sala_heby_power_2014.toml"])
def test_v7_reproduced_with_the_shipped_template_incl_vat(template):
    """V7 through the shipped templates and the realised monthly bills (``monthly_tariff_bills``):
    a household (``pays_vat``) saves 194/194/194/58.5/39/19.5/19.5/19.5/39/58.5/194/194 SEK and
    1 223.5 SEK in 2014, incl. VAT. NEPP's 97/39 SEK/kW are household prices incl. VAT (as SHE
    publishes its tariff today, 104/43 incl. VAT, MARKET_RULES 4.2 [S56]); adding VAT on top would
    give 1 529.38 SEK."""
    from bidopt.backtest.settlement import monthly_tariff_bills

    h = year_horizon(2014)
    base, shifted, _ = sala_profile(h)
    case = make_case([{"template": str(TARIFFS / template)}], retail_table={"pays_vat": True})
    tariff = case.tariffs[0]
    assert tariff.includes_vat and tariff.n_peaks == 5
    before = monthly_tariff_bills(case, kw_series(h, base))
    after = monthly_tariff_bills(case, kw_series(h, shifted))
    assert list(before.month) == [f"2014-{m:02d}" for m in range(1, 13)] and before.complete_month.all()
    assert (before.vat_factor == VAT).all()
    saving = sek(before.bill_incl_vat_eur.to_numpy() - after.bill_incl_vat_eur.to_numpy())
    np.testing.assert_allclose(saving, FIGURE9_SEK, atol=1e-9)
    assert saving.sum() == pytest.approx(1223.5, abs=1e-9)
    rates = np.array([97] * 3 + [39] * 7 + [97] * 2)
    np.testing.assert_allclose(sek(before.bill_incl_vat_eur.to_numpy()), rates * PEAK_KW, atol=1e-9)
    # ex VAT (a business that deducts VAT) the same shift is worth 1 223.5 / 1.25 = 978.8 SEK
    assert sek(before.bill_ex_vat_eur.sum() - after.bill_ex_vat_eur.sum()) == pytest.approx(978.8, abs=1e-9)


def _january(tmp_path: Path, month: int = 1):
    first = dt.date(2014, month, 1)
    last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
    h = Horizon.for_days(first, last, 60)
    year = year_horizon(2014)
    base, _, _ = sala_profile(year)
    kw = pd.Series(base, index=year.index).loc[h.index].to_numpy()
    load_csv = write_series(tmp_path / "load.csv", h.index, "load_mw", kw / 1000.0)
    price_csv = write_series(tmp_path / "prices.csv", h.index, "price_eur_per_mwh", np.full(h.n, 40.0))
    return h, kw, load_csv, price_csv


def _solve(case, h):
    pm = PortfolioModel(case, h)
    pm.solve()
    return pm


@pytest.mark.parametrize("month", [1, 4])
def test_v7_optimiser_cuts_monthly_peak_charge(tmp_path, month):
    h, kw, load_csv, price_csv = _january(tmp_path, month)
    movable_mw = MOVABLE_KW[month - 1] / 1000.0
    load = {"kind": "load", "name": "house", "profile": load_csv.name}
    shifter = {  # lossless load shifting, as a battery
        "kind": "battery", "name": "shift", "power_mw": movable_mw, "energy_mwh": 0.02,
        "charge_efficiency": 1.0, "discharge_efficiency": 1.0,
        "soc_initial_mwh": 0.01, "soc_final_mwh": 0.01,
    }
    rigid = _solve(sala_case(assets=[load], prices=price_csv.name, base_dir=tmp_path), h)
    flex = _solve(sala_case(assets=[load, shifter], prices=price_csv.name, base_dir=tmp_path), h)
    assert not rigid.is_mip and not flex.is_mip  # the top-5 mean is an LP: no binaries
    assert flex.summary()["binaries"] is False
    rate = 97 if month in (1, 2, 3, 11, 12) else 39  # SEK/kW incl. VAT; the tariff stream is ex VAT
    peak_rigid = -sek(rigid.summary()["revenue_eur"]["tariff"], incl_vat=True)
    peak_flex = -sek(flex.summary()["revenue_eur"]["tariff"], incl_vat=True)
    assert peak_rigid == pytest.approx(rate * PEAK_KW, abs=1e-6)
    saving = peak_rigid - peak_flex
    expected = FIGURE9_SEK[month - 1]
    # at least the heuristic's saving; here exactly it, as each peak hour can drop by only the movable kW
    assert saving >= expected - 1e-6
    assert saving == pytest.approx(expected, abs=1e-4)
    # flat spot, lossless shifting: the energy bill does not change
    assert flex.summary()["revenue_eur"]["dayahead"] == pytest.approx(
        rigid.summary()["revenue_eur"]["dayahead"], abs=1e-6
    )
    # model and realised bill agree on the solved schedule
    tariff = flex.case.tariffs[0]
    imp = flex.schedule()["grid_import_mw"]
    assert sek(tariff.bill_eur(flex.case, imp), incl_vat=True) == pytest.approx(peak_flex, abs=1e-6)
    assert sek(pyo.value(flex.site.tariff_blocks[0].cost_eur), incl_vat=True) == pytest.approx(peak_flex, abs=1e-6)


# ------------------------------------------------- peak tariff: LP charge == realised bill (Ellevio)


def ellevio_reference_eur(case, imp_mw: pd.Series) -> float:
    """Independent Ellevio charge: mean of the 3 largest daily maxima of hourly import, 22-06 at half,
    81.25 SEK/kW incl. VAT per month (this horizon lies inside one month)."""
    hourly = imp_mw.groupby(imp_mw.index.floor("60min")).mean()
    loc = hourly.index.tz_convert("Europe/Stockholm")
    w = np.where((loc.hour >= 22) | (loc.hour < 6), 0.5, 1.0)
    daily_max = pd.Series(hourly.to_numpy() * w, index=loc).groupby(np.asarray(loc.date)).max()
    top3 = np.sort(daily_max.to_numpy())[::-1][:3]
    return 81.25 / VAT * 1000.0 * top3.sum() / 3 / S


@pytest.mark.parametrize("mtu", [60, 15])
def test_ellevio_lp_charge_equals_bill(tmp_path, mtu):
    first, last = dt.date(2024, 1, 8), dt.date(2024, 1, 14)
    h = Horizon.for_days(first, last, mtu)
    hourly = Horizon.for_days(first, last, 60)
    loc = hourly.local
    day = np.arange(hourly.n) // 24
    # evening peaks that differ by day, a night bump (counted at half), and prices with a daily shape
    kw = 2.0 + 3.0 * np.isin(loc.hour, [17, 18, 19]) * (1 + 0.1 * day) + 4.0 * (loc.hour == 23)
    price = 30.0 + 40.0 * np.isin(loc.hour, [7, 8, 17, 18, 19]) + 5.0 * np.sin(np.arange(hourly.n))
    load_csv = write_series(tmp_path / "load.csv", hourly.index, "load_mw", kw / 1000.0)
    price_csv = write_series(tmp_path / "prices.csv", hourly.index, "price_eur_per_mwh", price)
    case = make_case(
        [{"template": str(TARIFFS / "ellevio_power.toml")}],
        assets=[
            {"kind": "load", "name": "house", "profile": load_csv.name},
            {"kind": "battery", "name": "bess", "power_mw": 0.0015, "energy_mwh": 0.004,
             "soc_initial_mwh": 0.002, "soc_final_mwh": 0.002},
        ],
        prices=price_csv.name,
        base_dir=tmp_path,
    )
    tariff = case.tariffs[0]
    assert tariff.one_per_day and tariff.n_peaks == 3 and tariff.hour_weights[23] == 0.5
    pm = _solve(case, h)
    assert not pm.is_mip
    lp = pyo.value(pm.site.tariff_blocks[0].cost_eur)
    imp = pm.schedule()["grid_import_mw"]
    assert tariff.bill_eur(case, imp) == pytest.approx(lp, rel=1e-6, abs=1e-7)
    assert ellevio_reference_eur(case, imp) == pytest.approx(lp, rel=1e-6, abs=1e-7)
    assert -pm.revenue()["tariff"] == pytest.approx(lp, rel=1e-9)
    # the battery shaved the charge below that of the rigid load
    rigid = ellevio_reference_eur(case, pd.Series(np.repeat(kw / 1000.0, 60 // mtu), index=h.index))
    assert lp < rigid - 1e-6


# ------------------------------------------------- peaks already set this month: pay the increment


def _day_case(tmp_path: Path, peaks_kw, with_battery: bool):
    day = dt.date(2014, 1, 15)  # a Wednesday
    h = Horizon.for_days(day, None, 60)
    loc = h.local
    kw = np.full(h.n, 3.0) + 6.0 * (loc.hour == 10) + 5.5 * (loc.hour == 11)  # 9 and 8.5 kW
    load_csv = write_series(tmp_path / "load.csv", h.index, "load_mw", kw / 1000.0)
    price_csv = write_series(tmp_path / "prices.csv", h.index, "price_eur_per_mwh", np.full(h.n, 40.0))
    assets = [{"kind": "load", "name": "house", "profile": str(load_csv)}]
    if with_battery:
        assets.append({"kind": "battery", "name": "shift", "power_mw": 0.002, "energy_mwh": 0.01,
                       "charge_efficiency": 1.0, "discharge_efficiency": 1.0,
                       "soc_initial_mwh": 0.005, "soc_final_mwh": 0.005})
    tariff = {"template": str(TARIFFS / "sala_heby_power_2014.toml"),
              "peaks_so_far_mw": [p / 1000.0 for p in peaks_kw]}
    case = make_case([tariff], assets=assets, prices=str(price_csv), base_dir=ROOT)
    return case, day


@pytest.mark.parametrize(
    "peaks_kw, battery, expected_sek",
    [
        ([], False, 97 * (9 + 8.5 + 3 + 3 + 3) / 5),  # fresh month: the whole top-5 mean
        ([8] * 5, False, 97 * 1.5 / 5),  # 9 and 8.5 displace two 8s: pays only +1.5 kW / 5
        ([8] * 6, False, 97 * 1.5 / 5),  # a sixth old peak changes nothing
        ([10] * 5, False, 0.0),  # today stays below the month's peaks: nothing more to pay
        ([8] * 5, True, 0.0),  # shifting 1 / 0.5 kW keeps today at 8 kW: no increment
        # fresh month with 2 kW / 10 kWh of shifting: 9 -> 7 and 8.5 -> 6.5 kW (4 kWh), the other
        # 6 kWh lower the ten 3 kW window hours to 2.4 kW: top 5 = 7 + 6.5 + 3 * 2.4 = 20.7 kW
        ([], True, 97 * 20.7 / 5),
    ],
)
def test_peaks_so_far_pays_only_increment(tmp_path, peaks_kw, battery, expected_sek):
    case, day = _day_case(tmp_path, peaks_kw, battery)
    res = plan(case, day)
    pm = res.model
    assert not pm.is_mip
    tariff = case.tariffs[0]  # 97 SEK/kW incl. VAT: amounts below incl. VAT
    lp = sek(pyo.value(pm.site.tariff_blocks[0].cost_eur), incl_vat=True)
    bill = sek(tariff.bill_eur(case, res.schedule["grid_import_mw"]), incl_vat=True)
    assert lp == pytest.approx(bill, abs=1e-6)
    assert -sek(res.summary["revenue_eur"]["tariff"], incl_vat=True) == pytest.approx(lp, abs=1e-9)
    assert lp == pytest.approx(expected_sek, abs=1e-5)
    assert lp >= -1e-7


@pytest.mark.parametrize(
    "first, expected_sek",
    [
        # starts on Saturday 31 May (no window hours in May): May's old 8 kW peaks must not be credited
        # against June; June pays 39 SEK/kW * 5 kW in full
        (dt.date(2014, 5, 31), 39 * 5.0),
        # starts on Friday 30 May: May's 5 kW day adds nothing above its 8 kW peaks, June pays in full
        (dt.date(2014, 5, 30), 39 * 5.0),
    ],
)
def test_peaks_so_far_belong_to_the_horizons_first_month(tmp_path, first, expected_sek):
    last = dt.date(2014, 6, 2)  # Monday
    h = Horizon.for_days(first, last, 60)
    load_csv = write_series(tmp_path / "load.csv", h.index, "load_mw", np.full(h.n, 0.005))
    price_csv = write_series(tmp_path / "prices.csv", h.index, "price_eur_per_mwh", np.full(h.n, 40.0))
    case = make_case(
        [{"template": str(TARIFFS / "sala_heby_power_2014.toml"), "peaks_so_far_mw": [0.008] * 5}],
        assets=[{"kind": "load", "name": "house", "profile": str(load_csv)}],
        prices=str(price_csv),
    )
    tariff = case.tariffs[0]
    pm = _solve(case, h)
    lp = sek(pyo.value(pm.site.tariff_blocks[0].cost_eur), incl_vat=True)
    bill = sek(tariff.bill_eur(case, pm.schedule()["grid_import_mw"]), incl_vat=True)
    assert bill == pytest.approx(expected_sek, abs=1e-6)
    assert lp == pytest.approx(expected_sek, abs=1e-6)


def test_local_fields_match_pandas_over_dst_and_leap_days():
    """The numpy calendar fields behind tariff windows equal pandas' own accessors."""
    import numpy as np
    import pandas as pd

    from bidopt.tariffs.base import local_fields

    idx = pd.date_range("2024-01-01", "2026-12-31 23:45", freq="15min", tz="UTC").tz_convert("Europe/Stockholm")
    year, month, weekday, hour, date = local_fields(idx)
    assert (year == idx.year).all() and (month == idx.month).all() and (weekday == idx.day_of_week).all()
    assert (hour == idx.hour).all() and (date == np.asarray(idx.date)).all()


def test_peak_hour_fields_equal_pandas_fields():
    """The peak tariff's per-hour calendar (month, day, weight, window) from ``btime.local_wall``
    equals the one from pandas' local times, on 23-, 24- and 25-hour days, a month change and a
    five-week horizon (pandas path of ``local_wall``)."""
    import numpy as np

    from bidopt import time as btime
    from bidopt.horizon import Horizon
    from bidopt.tariffs.base import local_fields

    case = bidopt.load_case(ROOT / "cases" / "demo")
    tariff = next(t for t in case.tariffs if t.kind == "peak_power")
    for first, last in [("2026-03-29", None), ("2026-10-25", None), ("2026-01-30", "2026-02-02"),
                        ("2026-03-01", "2026-04-05")]:
        h = Horizon(btime.horizon_index(first, last or first, 15))
        month, day, weight, window = tariff._hour_fields(h)
        year, m, weekday, hour, date = local_fields(h.hour_starts.tz_convert(h.tz))
        w = np.array([tariff.hour_weights.get(x, 1.0) for x in hour.tolist()])
        assert np.array_equal(month, year * 100 + m) and np.array_equal(day, date)
        assert np.array_equal(weight, w)
        assert np.array_equal(window, tariff.window.mask_fields(m, weekday, hour, date) & (w > 0))
