"""LER reservation per asset: batteries keep it, loads reserve what they sold (domain notes, case V12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

import bidopt
from bidopt import time as btime
from bidopt.assets.battery import Battery
from bidopt.assets.curtailable_load import CurtailableLoad
from bidopt.assets.ev import EV
from bidopt.assets.heat_pump import HeatPump
from bidopt.assets.shiftable_load import ShiftableLoad
from bidopt.markets import fcr

DAY = "2024-03-14"
# 100 SEK/kWh on import and on export (more than a day of reserves repays): no spot trade pays, so a
# battery keeps to its reserves; its 1 MW connection carries their full activation (the site checks it)
NO_SPOT_TRADE = {"supplier_fee_sek_per_kwh": 100.0, "export": {"handling_fee_sek_per_kwh": 100.0}}
HOME_MW = 0.002  # 2 kW movable per house (domain notes 6.5, case V12)


def _write(path, idx, col, values):
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), col: values}).to_csv(path, index=False)


def homes_case(tmp_path, homes: int, *, ler: bool | None = None, fcr_d_up_price: float = 20.0):
    """``homes`` houses of 2 kW each as one curtailable load offering FCR-D up (only its price is given)."""
    idx = btime.delivery_index(DAY, 60)
    _write(tmp_path / "da.csv", idx, "price_eur_per_mwh", np.full(len(idx), 50.0))
    _write(tmp_path / "up.csv", idx, "price_eur_per_mw_h", np.full(len(idx), fcr_d_up_price))
    _write(tmp_path / "home.csv", idx, "load_mw", np.full(len(idx), HOME_MW))
    load = {"kind": "curtailable_load", "name": "homes", "profile": "home.csv", "scale": homes,
            "customer_type": "households", "offer_reserves": True}
    if ler is not None:
        load["ler"] = ler
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": {"dayahead": "da.csv", "fcr_d_up": "up.csv"},
            "grid": {"import_limit_mw": 20.0, "export_limit_mw": 20.0}, "assets": [load]}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


@pytest.mark.parametrize("homes, sold_mw", [(50, 0.1), (49, 0.0), (5000, 10.0)])
def test_v12_aggregation_thresholds(tmp_path, homes, sold_mw):
    """V12: at 2 kW per house 0.1 MW (the minimum FCR bid) takes 50 houses, 10 MW takes 5 000; 49
    houses are below the lot. The load serves everything it does not sell (no pre-curtailment)."""
    res = bidopt.plan(homes_case(tmp_path, homes), DAY)
    s = res.schedule
    np.testing.assert_allclose(s["homes_fcr_d_up_mw"], sold_mw, atol=1e-6)
    np.testing.assert_allclose(s["homes_curtailed_mw"], 0.0, atol=1e-9)
    assert res.summary["revenue_eur"]["fcr_d_up"] == pytest.approx(sold_mw * 20.0 * 24, abs=1e-6)


def test_v12_with_the_battery_rule_sells_nothing(tmp_path):
    """The LER rule applied to the load (``ler = true``): every MW of FCR-D up must pre-curtail 0.2 MW
    at VoLL, which the capacity price never pays, so even 5 000 houses sell nothing."""
    res = bidopt.plan(homes_case(tmp_path, 5000, ler=True), DAY)
    np.testing.assert_allclose(res.schedule["homes_fcr_d_up_mw"], 0.0, atol=1e-6)


def test_ler_defaults_per_kind():
    assert Battery(name="b", power_mw=1.0, energy_mwh=1.0).limited_energy_reservoir()
    assert not Battery(name="b", power_mw=1.0, energy_mwh=1.0, ler=False).limited_energy_reservoir()
    assert not CurtailableLoad(name="c").limited_energy_reservoir()
    assert CurtailableLoad(name="c", ler=True).limited_energy_reservoir()
    assert not ShiftableLoad(name="s", energy_mwh=1.0, max_power_mw=1.0, window_start="01:00",
                             window_end="05:00").limited_energy_reservoir()
    hp_fields = {n: f.default for n, f in HeatPump.model_fields.items()}
    assert hp_fields["ler"] is None and HeatPump.ler_default is False
    assert not EV(name="e").limited_energy_reservoir()  # one-way charging
    assert EV(name="e", v2g=True).limited_energy_reservoir()
    assert not EV(name="e", v2g=True, ler=False).limited_energy_reservoir()


def _headroom_values(ler: bool, caps: dict[str, float], **overrides) -> dict[str, float]:
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, 0)
    r = fcr.FcrRules(step_mw=0.1, **overrides)
    alpha = pd.DataFrame(0.0, index=[0], columns=list(fcr.PRODUCTS))
    fcr._headroom(m, m.T, lambda p, t: caps.get(p, 0.0), r, alpha, ler=ler)
    return {k: pyo.value(getattr(m, k)[0]) for k in ("up_mw", "down_mw", "up_mwh", "down_mwh")}


def test_headroom_ler_and_not():
    caps = {"fcr_n": 1.0, "fcr_d_up": 2.0, "fcr_d_down": 3.0}
    ler = _headroom_values(True, caps)
    assert ler == pytest.approx({"up_mw": 1.34 + 2 + 0.2 * 3, "down_mw": 1.34 + 0.2 * 2 + 3,
                                 "up_mwh": 1 + 2 / 3, "down_mwh": 1 + 3 / 3})
    plain = _headroom_values(False, caps)
    assert plain == pytest.approx({"up_mw": 1 + 2, "down_mw": 1 + 3, "up_mwh": 1 + 2 / 3, "down_mwh": 1 + 3 / 3})
    two_hours = _headroom_values(False, caps, non_ler_fcr_n_energy_h=2.0, non_ler_fcr_d_energy_h=2.0)
    assert two_hours["up_mwh"] == pytest.approx(2 + 4) and two_hours["down_mw"] == pytest.approx(4)


def test_battery_keeps_the_ler_reservation_beside_a_load(tmp_path):
    """Per asset: in one case the battery still sells FCR-D up + down at most 1/1.2 MW each (MARKET_RULES
    3.3 worked example), whatever the load next to it does."""
    idx = btime.delivery_index(DAY, 60)
    for p in ("fcr_d_up", "fcr_d_down"):
        _write(tmp_path / f"{p}.csv", idx, "price_eur_per_mw_h", np.full(len(idx), 100.0))
    _write(tmp_path / "da.csv", idx, "price_eur_per_mwh", np.full(len(idx), 0.0))
    data = {"case": {"zone": "SE3", "mtu_minutes": 60},
            "prices": {"dayahead": "da.csv", "fcr_d_up": "fcr_d_up.csv", "fcr_d_down": "fcr_d_down.csv"},
            "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0}, "retail": NO_SPOT_TRADE,
            "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 1.0,
                        "charge_efficiency": 1.0, "discharge_efficiency": 1.0, "soc_initial_mwh": 0.5,
                        "reserves": ["fcr_d_up", "fcr_d_down"]}],
            "markets": {"fcr": {"step_mw": 0.0}}}
    res = bidopt.plan(bidopt.case_from_dict(data, base_dir=tmp_path), DAY)
    s = res.schedule
    np.testing.assert_allclose(s["bess_fcr_d_up_mw"], 1 / 1.2, atol=1e-6)
    np.testing.assert_allclose(s["bess_fcr_d_down_mw"], 1 / 1.2, atol=1e-6)
    data["assets"][0]["ler"] = False  # declared not a LER: full power both ways
    res = bidopt.plan(bidopt.case_from_dict(data, base_dir=tmp_path), DAY)
    np.testing.assert_allclose(res.schedule["bess_fcr_d_up_mw"], 1.0, atol=1e-6)
