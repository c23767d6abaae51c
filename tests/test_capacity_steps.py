"""Stepped capacity bids for any product through the seam (bidopt/bids/capacity_steps.py), shown on
aFRR: price scenarios from earlier days only, monotone ladders that stay deliverable for every mix
of accepted steps, the bid file, and the accepted volume of each scenario being exactly the steps
priced at or below its clearing price.

The deliverability check does not ask the model: it recomputes the battery's state of charge from
its charge and discharge and tests the aFRR headroom (power both ways, energy for ``endurance_h``)
for every combination of accepted prefixes of the up and down ladders in each hour.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt.bids import capacity_steps
from bidopt.cli import main
from tests.test_afrr import write_mimer

DAY = "2022-02-10"
DAYS = [dt.date(2022, 1, 12) + dt.timedelta(days=k) for k in range(31)]  # to 2022-02-11, no DST change
TOL = 1e-6
BAT = {"power_mw": 1.0, "energy_mwh": 2.0, "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
       "soc_initial_mwh": 1.0}


def stepped_case(tmp_path, up: np.ndarray, down: np.ndarray, **afrr):
    """A 1 MW / 2 MWh battery selling aFRR (1 MW lots) in stepped bids over ``DAYS`` of Mimer prices."""
    write_mimer(tmp_path / "afrr.csv", DAYS, up, down)
    data = {"case": {"zone": "SE3", "mtu_minutes": 60}, "prices": {"dayahead": "synthetic"},
            "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
            "assets": [{"kind": "battery", "name": "bess", **BAT}],
            "markets": {"afrr": {"prices": "afrr.csv", **afrr}},
            "bidding": {"n_scenarios": 4, "lookback_days": 14}, "solver": {"mip_gap": 0.01}}
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def hours_of(days) -> int:
    return 24 * len(days)


def ladders(table: pd.DataFrame, hour_starts) -> dict[tuple[str, int], list[float]]:
    """{(stream, hour): the volumes the auction may accept}: 0, then each step added in price order."""
    out = {}
    for s in ("afrr_up", "afrr_down"):
        for h, start in enumerate(hour_starts):
            rows = table[(table["product"] == s) & (pd.to_datetime(table["hour_start_utc"], utc=True) == start)]
            steps = rows.sort_values("price_eur_per_mw_h")["volume_mw"].to_numpy(float)
            out[s, h] = list(np.concatenate([[0.0], np.cumsum(steps)]))
    return out


def undeliverable(sched: pd.DataFrame, ladder: dict, hour_of, endurance_h: float = 1.0) -> list[str]:
    c, d = sched["bess_charge_mw"].to_numpy(float), sched["bess_discharge_mw"].to_numpy(float)
    eta_c, eta_d, p, e_max = BAT["charge_efficiency"], BAT["discharge_efficiency"], BAT["power_mw"], BAT["energy_mwh"]
    soc = BAT["soc_initial_mwh"] + np.cumsum(eta_c * c - d / eta_d)
    start = np.concatenate([[BAT["soc_initial_mwh"]], soc[:-1]])
    np.testing.assert_allclose(soc, sched["bess_soc_mwh"].to_numpy(float), atol=1e-5)
    out = []
    for t in range(len(c)):
        h = int(hour_of[t])
        for u, dn in itertools.product(ladder["afrr_up", h], ladder["afrr_down", h]):
            if u > p - d[t] + c[t] + TOL or dn > p - c[t] + d[t] + TOL:
                out.append(f"MTU {t}: power for up {u} / down {dn}")
            for s in (start[t], soc[t]):
                if u * endurance_h > s * eta_d + TOL or dn * endurance_h > (e_max - s) / eta_c + TOL:
                    out.append(f"MTU {t}: energy for up {u} / down {dn} at SoC {s:.3f}")
    return out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_ladders_are_monotone_and_deliverable_for_every_accepted_mix(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = hours_of(DAYS)
    case = stepped_case(tmp_path, rng.uniform(0, 80, n).round(2), rng.uniform(0, 60, n).round(2))
    b = bidopt.bid(case, DAY)
    bm = b.result.model
    assert "afrr" not in bm.capacities and "afrr" in bm.capacity_steps  # stepped, not price-taking
    table = b.capacity_bids["afrr"]
    assert len(table) > 0  # random prices of 0-80 EUR/MW/h: a battery sells some aFRR
    for (_s, _hour), rows in table.groupby(["product", "hour_start_utc"]):
        prices = rows["price_eur_per_mw_h"].to_numpy(float)
        vols = rows["volume_mw"].to_numpy(float)
        assert (np.diff(prices) > 0).all()  # one step per price, ascending: the ladder is monotone
        assert (vols > 0).all() and np.allclose(vols, np.round(vols))  # whole 1 MW lots
        assert vols.sum() <= BAT["power_mw"] + TOL
    lad = ladders(table, bm.horizon.hour_starts)
    for s, site in enumerate(bm.sites):
        assert undeliverable(site.schedule(), lad, bm.horizon.hour_group) == [], f"scenario {s}"


def test_each_scenario_gets_exactly_the_steps_priced_at_or_below_its_clearing_price(tmp_path):
    rng = np.random.default_rng(3)
    n = hours_of(DAYS)
    case = stepped_case(tmp_path, rng.uniform(0, 80, n).round(2), rng.uniform(0, 60, n).round(2))
    b = bidopt.bid(case, DAY)
    bm = b.result.model
    table = b.capacity_bids["afrr"]
    hours = bm.horizon.hour_starts
    checked = 0
    for s, site in enumerate(bm.sites):
        acc = site.blk.afrr_accepted.mw
        for stream in ("afrr_up", "afrr_down"):
            q = bm.capacity_scenarios["afrr"][stream][s]
            for h, start in enumerate(hours):
                rows = table[(table["product"] == stream) & (pd.to_datetime(table["hour_start_utc"], utc=True) == start)]
                by_rule = rows.loc[rows["price_eur_per_mw_h"] <= q[h] + 1e-9, "volume_mw"].sum()
                assert float(acc[stream, h].value) == pytest.approx(by_rule, abs=1e-6)
                checked += len(rows) > 0
    assert checked > 0


def test_scenarios_use_earlier_days_only(tmp_path):
    """Changing the delivery day's (and later) prices changes nothing; changing an earlier day's does."""
    rng = np.random.default_rng(7)
    n = hours_of(DAYS)
    up, down = rng.uniform(0, 80, n), rng.uniform(0, 60, n)
    base = capacity_steps.price_scenarios(stepped_case(tmp_path, up, down), DAY, 6, seed=1)["afrr"]
    day_pos = DAYS.index(dt.date.fromisoformat(DAY))
    late = up.copy()
    late[24 * day_pos:] += 500.0  # the delivery day's local hours and later (rows are local days)
    same = capacity_steps.price_scenarios(stepped_case(tmp_path, late, down), DAY, 6, seed=1)["afrr"]
    np.testing.assert_array_equal(same["afrr_up"], base["afrr_up"])
    earlier = up.copy()
    earlier[24 * (day_pos - 1):24 * day_pos] += 500.0  # the day before: known at the D-1 gate
    moved = capacity_steps.price_scenarios(stepped_case(tmp_path, earlier, down), DAY, 6, seed=1)["afrr"]
    assert (moved["afrr_up"] > base["afrr_up"] + 100).any()
    assert base["afrr_up"].shape == (6, 24) and (base["afrr_up"] >= 0).all()


def test_too_short_a_history_names_the_key(tmp_path):
    case = stepped_case(tmp_path, np.zeros(hours_of(DAYS)), np.zeros(hours_of(DAYS)))
    write_mimer(tmp_path / "afrr.csv", [dt.date(2022, 2, 10)], 50.0, 40.0)  # the delivery day alone
    with pytest.raises(bidopt.InputError, match='bids = "price_taking"'):
        capacity_steps.price_scenarios(case, DAY, 4)


CASE_TOML = """
[case]
name = "stepped_afrr"
zone = "SE3"
mtu_minutes = 60

[prices]
dayahead = "synthetic"

[grid]
import_limit_mw = 1.0
export_limit_mw = 1.0

[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
soc_initial_mwh = 1.0

[markets.afrr]
prices = "afrr.csv"

[bidding]
n_scenarios = 4
lookback_days = 14

[solver]
mip_gap = 0.01
"""


def test_stepped_bid_file_validates_and_a_broken_one_does_not(tmp_path):
    rng = np.random.default_rng(11)
    n = hours_of(DAYS)
    write_mimer(tmp_path / "afrr.csv", DAYS, rng.uniform(0, 80, n).round(2), rng.uniform(0, 60, n).round(2))
    (tmp_path / "case.toml").write_text(CASE_TOML)
    r = CliRunner().invoke(main, ["bid", str(tmp_path / "case.toml"), "--day", DAY, "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    path = tmp_path / "out" / "afrr_bids.csv"
    bids = pd.read_csv(path)
    assert len(bids) > 0 and set(bids["product"]) <= {"afrr_up", "afrr_down"}
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 0 and "valid" in r.output, r.output
    bids.loc[0, "volume_mw"] = 0.5
    bids.to_csv(path, index=False)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 1 and "lot" in r.output, r.output


def test_price_taking_bids_one_volume_at_price_zero(tmp_path):
    n = hours_of(DAYS)
    case = stepped_case(tmp_path, np.full(n, 50.0), np.full(n, 40.0), bids="price_taking")
    b = bidopt.bid(case, DAY)
    assert "afrr" in b.result.model.capacities and not b.result.model.capacity_steps
    table = b.capacity_bids["afrr"]
    assert len(table) > 0 and (table["price_eur_per_mw_h"] == 0).all()
    assert table.groupby(["product", "hour_start_utc"]).size().max() == 1


def test_backtest_accepts_exactly_the_steps_at_or_below_the_clearing_price_and_pays_it(tmp_path):
    """The delivery day's published price is 0 in even hours (every positive step rejected) and
    200 EUR/MW/h in odd hours (every step accepted): the backtest holds exactly the accepted steps
    and pays them the published price."""
    from bidopt.backtest.day import strategy_day

    rng = np.random.default_rng(5)
    n = hours_of(DAYS)
    up, down = rng.uniform(5, 80, n).round(2), rng.uniform(5, 60, n).round(2)
    day_pos = DAYS.index(dt.date.fromisoformat(DAY))
    realised = np.where(np.arange(24) % 2 == 0, 0.0, 200.0)
    up[24 * day_pos:24 * (day_pos + 1)] = realised
    case = stepped_case(tmp_path, up, down)
    table = bidopt.bid(case, DAY).capacity_bids["afrr"]
    out = strategy_day(case, DAY, {})
    steps = table[table["product"] == "afrr_up"]
    assert len(steps) > 0 and (steps["price_eur_per_mw_h"] > 0).all()
    hour = out.timeseries.index.floor("h")
    held = out.timeseries["bess_afrr_up_mw"].groupby(hour).mean()
    expected = np.zeros(24)
    for r in steps.itertuples():
        h = int((pd.Timestamp(r.hour_start_utc) - held.index[0]) / pd.Timedelta(hours=1))
        if r.price_eur_per_mw_h <= realised[h] + 1e-9:
            expected[h] += r.volume_mw
    assert expected.sum() > 0 and expected[::2].sum() == 0  # odd hours accepted, even hours rejected
    np.testing.assert_allclose(held.to_numpy(), expected, atol=1e-6)
    assert out.record["afrr_up_eur"] == pytest.approx(float((expected * realised).sum()), abs=1e-6)


def test_a_day_with_no_hour_procured_needs_no_forecast(tmp_path):
    """After the price files end (every hour closed) nothing is bid and no history is needed."""
    n = hours_of(DAYS)
    case = stepped_case(tmp_path, np.full(n, 50.0), np.full(n, 40.0))
    assert capacity_steps.price_scenarios(case, "2022-03-01", 4) == {}  # not covered by the file
    b = bidopt.bid(case, "2022-03-01")
    assert len(b.capacity_bids["afrr"]) == 0
