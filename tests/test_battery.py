"""Battery behaviour, and why the charge/discharge binaries exist."""

import numpy as np
import pytest

import bidopt
from bidopt.horizon import Horizon
from tests.conftest import battery_case, write_prices

NEG_DAY = "2024-03-14"  # local day starts 2024-03-13T23:00Z


def _negative_price_case(tmp_path, exclusive):
    prices = [30.0] * 6 + [-80.0] * 6 + [20.0] * 6 + [90.0] * 6
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", prices)
    return bidopt.case_from_dict(battery_case("p.csv", exclusive=exclusive), base_dir=tmp_path)


def test_without_binaries_negative_prices_charge_and_discharge_at_once(tmp_path):
    relaxed = bidopt.plan(_negative_price_case(tmp_path, False), NEG_DAY)
    s = relaxed.schedule
    both = np.minimum(s.bess_charge_mw, s.bess_discharge_mw)
    assert relaxed.summary["binaries"] is False
    assert both.max() > 0.1, "the LP relaxation should burn energy at negative prices"

    exact = bidopt.plan(_negative_price_case(tmp_path, "auto"), NEG_DAY)
    s = exact.schedule
    assert exact.summary["binaries"] is True
    assert np.minimum(s.bess_charge_mw, s.bess_discharge_mw).max() < 1e-9
    # the relaxation claims money the physical battery cannot earn
    assert relaxed.summary["objective_eur"] > exact.summary["objective_eur"] + 1.0


def test_auto_is_lp_when_prices_are_positive(tmp_path):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", np.linspace(10, 100, 24))
    case = bidopt.case_from_dict(battery_case("p.csv"), base_dir=tmp_path)
    lp = bidopt.plan(case, NEG_DAY)
    assert lp.summary["binaries"] is False
    forced = bidopt.plan(bidopt.case_from_dict(battery_case("p.csv", exclusive=True), base_dir=tmp_path), NEG_DAY)
    assert forced.summary["binaries"] is True
    assert lp.summary["objective_eur"] == pytest.approx(forced.summary["objective_eur"], rel=1e-9, abs=1e-6)


def test_arbitrage_by_hand(tmp_path):
    """Two price levels, lossless 1 MW/1 MWh battery starting empty: buy 1 MWh at 10, sell at 50."""
    prices = [10.0] * 12 + [50.0] * 12
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", prices)
    case = bidopt.case_from_dict(
        battery_case("p.csv", energy_mwh=1.0, charge_efficiency=1.0, discharge_efficiency=1.0,
                     soc_initial_mwh=0.0, soc_final_mwh=0.0),
        base_dir=tmp_path,
    )
    res = bidopt.plan(case, NEG_DAY)
    assert res.summary["objective_eur"] == pytest.approx(40.0)
    assert res.summary["revenue_eur"]["dayahead"] == pytest.approx(40.0)


def test_degradation_and_cycle_limit(tmp_path):
    prices = [10.0, 100.0] * 12
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", prices)
    base = dict(energy_mwh=1.0, charge_efficiency=1.0, discharge_efficiency=1.0, soc_initial_mwh=0.0, soc_final_mwh=0.0)
    free = bidopt.plan(bidopt.case_from_dict(battery_case("p.csv", **base), base_dir=tmp_path), NEG_DAY)
    assert free.schedule.bess_discharge_mw.sum() == pytest.approx(12.0)
    one = bidopt.plan(
        bidopt.case_from_dict(battery_case("p.csv", max_cycles_per_day=1.0, **base), base_dir=tmp_path), NEG_DAY
    )
    assert one.schedule.bess_discharge_mw.sum() == pytest.approx(1.0)
    assert one.summary["objective_eur"] == pytest.approx(90.0)
    worn = bidopt.plan(
        bidopt.case_from_dict(battery_case("p.csv", degradation_eur_per_mwh=50.0, **base), base_dir=tmp_path), NEG_DAY
    )
    # 90 EUR spread per cycle minus 2 MWh throughput * 50 EUR = -10: not worth cycling
    assert worn.schedule.bess_discharge_mw.sum() == pytest.approx(0.0, abs=1e-9)


def test_model_resolves_with_new_prices(tmp_path):
    """Build once, re-solve with other prices: same answer as a fresh build."""
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", np.linspace(10, 100, 24))
    case = bidopt.case_from_dict(battery_case("p.csv"), base_dir=tmp_path)
    pm = bidopt.PortfolioModel(case, Horizon.for_days(NEG_DAY))
    pm.solve()
    new = np.linspace(100, 10, 24)
    pm.set_prices(new)
    pm.solve()
    fresh = bidopt.PortfolioModel(case, Horizon.for_days(NEG_DAY), spot_eur_per_mwh=new)
    fresh.solve()
    assert pm.summary()["objective_eur"] == pytest.approx(fresh.summary()["objective_eur"], rel=1e-9)


def test_no_phantom_import_and_export(tmp_path):
    """With equal import and export prices buying and selling at once is free; the schedule nets it."""
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", np.linspace(10, 100, 24))
    data = battery_case("p.csv")
    data["assets"].append({"kind": "load", "name": "house", "peak_mw": 0.3})
    res = bidopt.plan(bidopt.case_from_dict(data, base_dir=tmp_path), NEG_DAY)
    s = res.schedule
    assert (np.minimum(s.grid_import_mw, s.grid_export_mw) <= 1e-9).all()


def test_following_a_position_with_imbalance(tmp_path):
    """Holding the plan's own position costs nothing extra; holding none is settled as imbalance."""
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", np.linspace(10, 100, 24))
    case = bidopt.case_from_dict(battery_case("p.csv"), base_dir=tmp_path)
    h = Horizon.for_days(NEG_DAY)
    plan = bidopt.plan(case, NEG_DAY)
    spot = plan.schedule.price_eur_per_mwh.to_numpy()
    net = (plan.schedule.grid_import_mw - plan.schedule.grid_export_mw).to_numpy()
    imb = {"imbalance": (spot + 20.0, spot - 20.0, None)}
    same = bidopt.PortfolioModel(case, h, spot, position_mw=net, adjustments=imb)
    same.solve()
    assert same.summary()["objective_eur"] == pytest.approx(plan.summary["objective_eur"], rel=1e-9)
    assert same.summary()["revenue_eur"]["imbalance"] == pytest.approx(0.0, abs=1e-9)
    none = bidopt.PortfolioModel(case, h, spot, position_mw=np.zeros(h.n), adjustments=imb)
    none.solve()
    rev = none.summary()["revenue_eur"]
    assert rev["dayahead"] == pytest.approx(0.0, abs=1e-9)  # nothing bought or sold day-ahead
    # with a 20 EUR/MWh penalty each way, arbitrage only pays where prices differ by more than 40 + losses
    assert none.summary()["objective_eur"] < plan.summary["objective_eur"]
    trades = none.site.adjustment_trades()["imbalance"].to_numpy()
    s = none.schedule()
    np.testing.assert_allclose(trades, (s.grid_import_mw - s.grid_export_mw).to_numpy(), atol=1e-9)
