"""FCR-N / FCR-D capacity with the LER rules (MARKET_RULES 3.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime

DAY = "2024-03-14"


def _write(path, idx, col, values):
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), col: values}).to_csv(path, index=False)


def ler_case(tmp_path, products, *, step=0.1, soc0=0.5, da_price=0.0, import_limit=2.0, export_limit=2.0,
             load=None, pv=None, fcr_price=100.0, fees=False, **battery):
    idx = btime.delivery_index(DAY, 60)
    da = np.full(len(idx), da_price) if np.isscalar(da_price) else np.asarray(da_price)
    _write(tmp_path / "da.csv", idx, "price_eur_per_mwh", da)
    prices = {"dayahead": "da.csv"}
    for p in products:
        fp = np.full(len(idx), fcr_price) if np.isscalar(fcr_price) else np.asarray(fcr_price[p])
        _write(tmp_path / f"{p}.csv", idx, "price_eur_per_mw_h", fp)
        prices[p] = f"{p}.csv"
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 1.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_min_mwh": 0.0, "soc_max_mwh": 1.0, "soc_initial_mwh": soc0}
    bat.update(battery)
    assets = [bat]
    if load is not None:
        _write(tmp_path / "load.csv", idx, "load_mw", load)
        assets.append({"kind": "load", "name": "site", "profile": "load.csv"})
    if pv is not None:
        _write(tmp_path / "pv.csv", idx, "pv_mw", pv)
        assets.append({"kind": "pv", "name": "roof", "capacity_mw": 1.0, "profile": "pv.csv", "curtailable": False})
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": prices,
            "grid": {"import_limit_mw": import_limit, "export_limit_mw": export_limit},
            "assets": assets, "markets": {"fcr": {"step_mw": step}}}
    if fees:  # 100 SEK/kWh on import and export: no spot trade pays (the battery keeps to reserves)
        data["retail"] = {"supplier_fee_sek_per_kwh": 100.0, "export": {"handling_fee_sek_per_kwh": 100.0}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


# With no day-ahead position (fees on import and export make every spot trade a loss) the battery's
# own limits decide; the 1 MW connection carries its full activation (the site checks it, NEM power
# included). With a position, charging power counts upward (stop charging, then discharge): see the
# schedule tests below.
ALONE = {"import_limit": 1.0, "export_limit": 1.0, "fees": True}


def test_fcr_n_alone_is_half_the_energy(tmp_path):
    res = bidopt.plan(ler_case(tmp_path, ["fcr_n"], **ALONE), DAY)
    np.testing.assert_allclose(res.schedule.bess_fcr_n_mw, 0.5, atol=1e-9)
    assert res.summary["revenue_eur"]["fcr_n"] == pytest.approx(0.5 * 100 * 24)


def test_fcr_d_up_alone_is_full_power(tmp_path):
    res = bidopt.plan(ler_case(tmp_path, ["fcr_d_up"], **ALONE), DAY)
    np.testing.assert_allclose(res.schedule.bess_fcr_d_up_mw, 1.0, atol=1e-9)


@pytest.mark.parametrize("step,expected", [(0.0, 1 / 1.2), (0.1, 0.8)])
def test_fcr_d_up_and_down_together(tmp_path, step, expected):
    res = bidopt.plan(ler_case(tmp_path, ["fcr_d_up", "fcr_d_down"], step=step, **ALONE), DAY)
    np.testing.assert_allclose(res.schedule.bess_fcr_d_up_mw, expected, atol=1e-6)
    np.testing.assert_allclose(res.schedule.bess_fcr_d_down_mw, expected, atol=1e-6)


def test_bids_come_in_lots(tmp_path):
    res = bidopt.plan(ler_case(tmp_path, ["fcr_n"], soc0=0.43, **ALONE), DAY)
    lots = res.schedule.bess_fcr_n_mw / 0.1
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-6)
    assert res.schedule.bess_fcr_n_mw.iloc[0] == pytest.approx(0.4)  # 0.43 MWh above empty holds 0.4 MW for 1 h


def test_charging_position_adds_upward_headroom(tmp_path):
    """A battery charging 0.5 MW can answer FCR-D up by stopping the charge and then discharging
    (MARKET_RULES 3.3: p_h + C_Du <= P_dis), up to the capacity it is prequalified for."""
    res = bidopt.plan(ler_case(tmp_path, ["fcr_d_up"], step=0.0, prequalified_mw=1.5), DAY)
    s = res.schedule
    np.testing.assert_allclose(s.bess_fcr_d_up_mw, 1.0 - s.bess_discharge_mw + s.bess_charge_mw, atol=1e-6)
    assert s.bess_fcr_d_up_mw.max() > 1.0 + 1e-6
    capped = bidopt.plan(ler_case(tmp_path, ["fcr_d_up"], step=0.0), DAY).schedule
    assert capped.bess_fcr_d_up_mw.max() <= 1.0 + 1e-9  # default: the rated power


def test_discharge_schedule_reduces_fcr_d_up_by_its_headroom(tmp_path):
    load = np.zeros(24)
    load[10] = 0.3  # import costs more than FCR-D pays: the battery serves 0.3 MW in hour 10; the 0.2 MW
    # import limit carries the NEM's opposite power 0.20 U of 1 MW FCR-D up, not the load as well
    res = bidopt.plan(ler_case(tmp_path, ["fcr_d_up"], soc0=1.0, import_limit=0.2, load=load, step=0.0,
                               fees=True), DAY)
    sold = res.schedule.bess_fcr_d_up_mw.to_numpy()
    assert sold[10] == pytest.approx(0.7, abs=1e-6)
    np.testing.assert_allclose(np.delete(sold, 10), 1.0, atol=1e-6)


def test_charge_schedule_reduces_fcr_d_down_by_its_headroom(tmp_path):
    pv = np.zeros(24)
    pv[12] = 0.3  # must-take PV, export costs more than FCR-D pays: the battery absorbs 0.3 MW in hour 12;
    # the 0.2 MW export limit carries the NEM's opposite power 0.20 D of 1 MW FCR-D down only
    res = bidopt.plan(ler_case(tmp_path, ["fcr_d_down"], soc0=0.0, export_limit=0.2, pv=pv, step=0.0,
                               fees=True), DAY)
    sold = res.schedule.bess_fcr_d_down_mw.to_numpy()
    assert sold[12] == pytest.approx(0.7, abs=1e-6)
    np.testing.assert_allclose(np.delete(sold, 12), 1.0, atol=1e-6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    energy=st.floats(0.5, 4.0), power=st.floats(0.2, 2.0), eta=st.floats(0.8, 1.0), soc0=st.floats(0.0, 1.0),
    da=st.lists(st.floats(-20, 300), min_size=24, max_size=24),
    n=st.lists(st.floats(0, 60), min_size=24, max_size=24),
    up=st.lists(st.floats(0, 60), min_size=24, max_size=24),
    down=st.lists(st.floats(0, 60), min_size=24, max_size=24),
)
def test_full_activation_stays_within_limits(tmp_path, energy, power, eta, soc0, da, n, up, down):
    """From the planned SoC at the start or end of any MTU, full activation of every sold product for
    its endurance (FCR-N 1 h, FCR-D 20 min) keeps SoC and power within the battery's limits."""
    case = ler_case(tmp_path, ["fcr_n", "fcr_d_up", "fcr_d_down"], da_price=np.array(da),
                    fcr_price={"fcr_n": n, "fcr_d_up": up, "fcr_d_down": down},
                    energy_mwh=energy, power_mw=power, soc_max_mwh=energy, soc_initial_mwh=soc0 * energy,
                    charge_efficiency=eta, discharge_efficiency=eta)
    s = bidopt.plan(case, DAY).schedule
    N, U, D = s.bess_fcr_n_mw.to_numpy(), s.bess_fcr_d_up_mw.to_numpy(), s.bess_fcr_d_down_mw.to_numpy()
    c, d, soc = s.bess_charge_mw.to_numpy(), s.bess_discharge_mw.to_numpy(), s.bess_soc_mwh.to_numpy()
    tol = 1e-6
    assert ((d - c) + N + U <= power + tol).all()
    assert ((c - d) + N + D <= power + tol).all()
    for start in (np.r_[soc0 * energy, soc[:-1]], soc):
        assert (start - (N * 1.0 + U / 3) / eta >= -tol).all()
        assert (start + (N * 1.0 + D / 3) * eta <= energy + tol).all()


def test_activation_fractions_follow_the_frequency_rules():
    from bidopt.markets.fcr import activation_fractions

    idx = pd.date_range("2024-03-13T23:00Z", periods=4, freq="15min")
    f = pd.Series([49.95, 50.05, 49.7, 50.3], index=idx)
    a = activation_fractions(f, idx)
    np.testing.assert_allclose(a.fcr_n, [0.5, -0.5, 1.0, -1.0])
    np.testing.assert_allclose(a.fcr_d_up, [0.0, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(a.fcr_d_down, [0.0, 0.0, 0.0, -0.5])


def test_frequency_series_moves_soc_and_pays_fcr_n_energy(tmp_path):
    """Low frequency all day: sold FCR-N discharges the battery by alpha * C per hour, and that energy
    is paid at the day-ahead price."""
    idx = btime.delivery_index(DAY, 60)
    minutes = pd.date_range(idx[0], periods=len(idx) * 60, freq="min")
    pd.DataFrame({"timestamp_utc": minutes.strftime("%Y-%m-%dT%H:%M:%SZ"), "frequency_hz": 49.98}).to_csv(
        tmp_path / "f.csv", index=False)
    case = ler_case(tmp_path, ["fcr_n"], da_price=40.0, soc0=1.0, energy_mwh=2.0, soc_max_mwh=2.0, **ALONE)
    case.markets["fcr"] = case.markets["fcr"].model_copy(update={"frequency": "f.csv"})  # validated at load
    res = bidopt.plan(case, DAY)
    s = res.schedule
    sold = s.bess_fcr_n_mw.to_numpy()
    assert sold.sum() > 0
    alpha = 0.2  # (50 - 49.98) / 0.1
    drift = np.cumsum(alpha * sold)  # lossless battery, no spot trade: SoC falls only by activation
    np.testing.assert_allclose(s.bess_soc_mwh, 1.0 - drift, atol=1e-6)
    capacity = float((sold * 100.0).sum())
    assert res.summary["revenue_eur"]["fcr_n"] == pytest.approx(capacity + float((alpha * sold * 40.0).sum()))
