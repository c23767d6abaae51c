"""The problem of benchmarks/peer_energypylinear.py is the peer's problem.

The benchmark times bidopt against energypylinear on a battery arbitrage problem. energypylinear is
not installed here, so its formulation is written out below straight in highspy (MWh per interval,
loss = charge * (1 - round-trip efficiency), initial and final charge fixed by equalities, binaries
keeping charge/discharge and import/export apart, cost minimised) and fed prices parsed from the
ENTSO-E file with the csv module. bidopt's objective on the benchmark's 1-day case must be minus
that cost, and the figure energypylinear 1.4.1 itself reported for that day.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
from pathlib import Path

import highspy
import numpy as np
import pytest

import bidopt

REPO = Path(__file__).resolve().parents[1]

# energypylinear 1.4.1's status.objective (a cost, EUR) for the benchmark's 1-day problem, as printed by
# ``python benchmarks/peer_energypylinear.py`` (CBC 2.10.3, relative gap 0)
PEER_1DAY_COST_EUR = -520.5530000306

pytestmark = pytest.mark.realdata


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "peer_energypylinear", REPO / "benchmarks" / "peer_energypylinear.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def entsoe_day_prices(path: Path, day: dt.date) -> np.ndarray:
    """Hourly prices of one local day without a clock change, read from the ENTSO-E export."""
    prefix = day.strftime("%d.%m.%Y")
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if row["MTU (CET/CEST)"].startswith(prefix):
                out.append(float(row["Day-ahead Price [EUR/MWh]"]))
    assert len(out) == 24
    return np.array(out)


def peer_formulation_cost(
    prices, freq_mins, power_mw, capacity_mwh, efficiency, initial_mwh, final_mwh, site_limit_mw
) -> float:
    """energypylinear's battery-on-a-site MILP, built column by column in highspy; returns its cost."""
    n = len(prices)
    dt_h = freq_mins / 60
    # columns per interval: import, export, charge, discharge, loss (MWh), charge at start and end
    # (MWh), then binaries: charging, discharging, importing, exporting
    names = ["imp", "exp", "ch", "dis", "loss", "s0", "s1", "b_ch", "b_dis", "b_imp", "b_exp"]
    k = len(names)

    def col(name, i):
        return i * k + names.index(name)

    lb = np.zeros(n * k)
    ub = np.tile(
        [
            site_limit_mw * dt_h,
            site_limit_mw * dt_h,
            power_mw * dt_h,
            power_mw * dt_h,
            highspy.kHighsInf,
            capacity_mwh,
            capacity_mwh,
            1,
            1,
            1,
            1,
        ],
        n,
    )
    cost = np.zeros(n * k)
    for i, p in enumerate(prices):
        cost[col("imp", i)] = p
        cost[col("exp", i)] = -p
    rows = []  # (lower, upper, {column: coefficient})
    for i in range(n):
        c = {nm: col(nm, i) for nm in names}
        rows.append((0, 0, {c["imp"]: 1, c["exp"]: -1, c["ch"]: -1, c["dis"]: 1}))  # site balance
        rows.append((0, 0, {c["s0"]: 1, c["ch"]: 1, c["dis"]: -1, c["loss"]: -1, c["s1"]: -1}))  # storage
        rows.append((0, 0, {c["loss"]: 1, c["ch"]: -(1 - efficiency)}))  # losses on charging
        rows.append((-highspy.kHighsInf, 0, {c["ch"]: 1, c["b_ch"]: -capacity_mwh}))
        rows.append((-highspy.kHighsInf, 0, {c["dis"]: 1, c["b_dis"]: -capacity_mwh}))
        rows.append((-highspy.kHighsInf, 1, {c["b_ch"]: 1, c["b_dis"]: 1}))
        rows.append((-highspy.kHighsInf, 0, {c["imp"]: 1, c["b_imp"]: -site_limit_mw * dt_h}))
        rows.append((-highspy.kHighsInf, 0, {c["exp"]: 1, c["b_exp"]: -site_limit_mw * dt_h}))
        rows.append((1, 1, {c["b_imp"]: 1, c["b_exp"]: 1}))
        if i > 0:
            rows.append((0, 0, {col("s1", i - 1): 1, c["s0"]: -1}))
    rows.append((initial_mwh, initial_mwh, {col("s0", 0): 1}))
    rows.append((final_mwh, final_mwh, {col("s1", n - 1): 1}))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.addVars(n * k, lb, ub)
    h.changeColsCost(n * k, np.arange(n * k, dtype=np.int32), cost)
    binaries = np.array(
        [col(nm, i) for i in range(n) for nm in ("b_ch", "b_dis", "b_imp", "b_exp")], dtype=np.int32
    )
    h.changeColsIntegrality(len(binaries), binaries, np.full(len(binaries), highspy.HighsVarType.kInteger))
    starts, index, value = [], [], []
    for _, _, coefs in rows:
        starts.append(len(index))
        index.extend(coefs)
        value.extend(coefs.values())
    h.addRows(
        len(rows),
        np.array([r[0] for r in rows], float),
        np.array([r[1] for r in rows], float),
        len(index),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value, float),
    )
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


@pytest.mark.parametrize("exclusive", ["auto", True])
def test_benchmark_case_is_the_peer_problem(shared_data, exclusive):
    b = _benchmark()
    prices_file = shared_data / b.PRICE_FILE
    day = dt.date.fromisoformat(b.FIRST_DAY)
    data = b.case_dict(prices_file, exclusive)
    horizon = b.horizon_for(day, 1)
    pm = bidopt.PortfolioModel(bidopt.case_from_dict(data), horizon)  # bidopt reads the prices itself
    pm.solve()
    objective = pm.summary()["objective_eur"]

    hourly = entsoe_day_prices(prices_file, day)
    quarter = np.repeat(hourly, 60 // b.MTU_MINUTES)
    np.testing.assert_array_equal(pm.site.spot, quarter)  # the array the benchmark hands to the peer
    np.testing.assert_array_equal(pm.site.import_cost, quarter)  # no adders on import or export
    np.testing.assert_array_equal(pm.site.export_value, quarter)

    peer_cost = peer_formulation_cost(
        quarter,
        b.MTU_MINUTES,
        b.POWER_MW,
        b.ENERGY_MWH,
        b.ROUND_TRIP_EFFICIENCY,
        initial_mwh=b.ENERGY_MWH,
        final_mwh=b.ENERGY_MWH,
        site_limit_mw=b.SITE_LIMIT_MW,
    )
    assert objective == pytest.approx(-peer_cost, rel=1e-6)
    assert objective == pytest.approx(-PEER_1DAY_COST_EUR, rel=1e-6)
    assert b.rel_diff(objective, PEER_1DAY_COST_EUR) <= b.REL_TOL
    # the battery ends full, as the peer's equality demands
    assert pm.schedule()["battery_soc_mwh"].iloc[-1] == pytest.approx(b.ENERGY_MWH, abs=1e-7)
    assert pm.is_mip == (exclusive is True)


def test_peer_problem_matches_the_case():
    b = _benchmark()
    spot = np.array([10.0, 20.0, 30.0, 40.0])
    p = b.peer_problem("x", spot)
    assert p["prices_eur_per_mwh"] == spot.tolist()
    assert p["freq_mins"] == b.MTU_MINUTES
    bat = b.case_dict("prices.csv")["assets"][0]
    assert p["battery"] == {
        "power_mw": bat["power_mw"],
        "capacity_mwh": bat["energy_mwh"],
        "efficiency_pct": bat["charge_efficiency"] * bat["discharge_efficiency"],
        "initial_charge_mwh": bat["soc_initial_mwh"],
        "final_charge_mwh": bat["soc_final_mwh"],
    }
    assert bat["discharge_efficiency"] == 1.0 and bat["soc_final_mwh"] == bat["soc_max_mwh"]


def test_write_section_replaces_only_the_marked_part(tmp_path):
    b = _benchmark()
    doc = tmp_path / "performance.md"
    doc.write_text("# Perf\n\nkept\n")
    b.write_section(f"{b.START}\nfirst\n{b.END}\n", doc)
    assert doc.read_text() == f"# Perf\n\nkept\n\n{b.START}\nfirst\n{b.END}\n"
    doc.write_text(doc.read_text() + "\n## after\n")
    b.write_section(f"{b.START}\nsecond\n{b.END}\n", doc)
    assert doc.read_text() == f"# Perf\n\nkept\n\n{b.START}\nsecond\n{b.END}\n\n## after\n"
