"""The day-ahead MTU changed from 60 to 15 minutes with delivery day 2025-10-01.

A day runs at the case's MTU, but where the exchange had no day-ahead product of that length on
the delivery day, bidding (``bid`` in a backtest) runs at the exchange's MTU then. ``bid`` for one
day keeps the conflict an input error that says what to do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.backtest.day import day_mtu
from bidopt.bids.contracts import bidding_mtu, dayahead_mtu
from bidopt.cli import main
from tests.conftest import REPO, write_prices
from tests.test_backtest import small_case

DEMO = REPO / "cases" / "demo"


def test_dayahead_mtu_in_force():
    assert dayahead_mtu("2025-09-30") == 60 and dayahead_mtu("2025-10-01") == 15
    assert bidding_mtu(60, "2025-09-30") == 60 and bidding_mtu(60, "2025-10-01") == 15
    assert bidding_mtu(15, "2025-09-30") == 60 and bidding_mtu(15, "2025-10-01") == 15
    assert bidding_mtu(30, "2024-03-14") == 60  # no 30-minute day-ahead product


def test_backtest_day_mtu_follows_products_only_when_the_strategy_bids():
    case = bidopt.load_case(DEMO)
    assert day_mtu(case, "2025-10-02", "bid") == 15 and day_mtu(case, "2025-09-30", "bid") == 60
    assert day_mtu(case, "2025-10-02", "perfect_foresight") == 60  # no product involved: the case's


@pytest.mark.parametrize("day,mtu,advice", [("2025-10-02", None, "--mtu 15"), ("2024-03-14", "15", "--mtu 60")])
def test_cli_bid_says_what_to_do(tmp_path, day, mtu, advice):
    args = ["bid", str(DEMO), "--day", day, "--out", str(tmp_path / "o")] + (["--mtu", mtu] if mtu else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    assert advice in lines[0] and "does not exist for delivery day" in lines[0]
    assert ("15 minutes from 2025-10-01" if advice == "--mtu 15" else "60 minutes up to 2025-09-30") in lines[0]
    assert not (tmp_path / "o").exists()


def test_backtest_crosses_the_go_live(tmp_path):
    """A 60-minute case with an hourly price file: hourly days before 2025-10-01, quarter-hours
    from then (hourly prices held for each quarter), SoC carried across the switch."""
    start = pd.Timestamp("2025-08-20T22:00Z")
    n = int((pd.Timestamp("2025-10-03T22:00Z") - start) / pd.Timedelta(hours=1))
    hours = np.arange(n)
    prices = 60 + 40 * np.sin(hours * 2 * np.pi / 24) + np.random.default_rng(3).normal(0, 5, n)
    p = write_prices(tmp_path / "p.csv", str(start), prices)
    folder = small_case(tmp_path / "c", prices=str(p))
    case = bidopt.load_case(folder)
    case.assets[0].soc_final_mwh = None  # the battery may end a day anywhere: state matters
    out = tmp_path / "out"
    res = bidopt.backtest(case, "2025-09-29", "2025-10-02", out_dir=out)
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.mtu_minutes) == [60, 60, 15, 15]
    ts = pd.read_csv(out / "timeseries.csv", index_col=0, parse_dates=True)
    assert len(ts) == 24 + 24 + 96 + 96
    assert ts["pf_grid_import_mw"].notna().all()  # perfect foresight ran at the same MTU each day
    steps = pd.Series(ts.index[1:] - ts.index[:-1]).dt.total_seconds().div(60)
    assert set(steps[:47]) == {60} and set(steps[48:]) == {15}
    # quarter-hour prices are the hourly file's price held for four quarters
    q = ts.loc["2025-09-30T22:00Z":, "price_eur_per_mwh"].to_numpy()
    np.testing.assert_allclose(q, np.repeat(q[::4], 4))
    # SoC carried: each day starts where the day before ended (within one MTU's flow)
    days = ts.index.tz_convert("Europe/Stockholm").date
    soc = res.timeseries["bess_soc_mwh"]
    ends, starts = soc.groupby(days).last().to_numpy(), soc.groupby(days).first().to_numpy()
    assert (np.abs(starts[1:] - ends[:-1]) <= 1.0 + 1e-6).all()
    assert np.abs(starts[2] - ends[1]) <= 0.25 + 1e-6  # the first quarter-hour moves at most 0.25 MWh
    assert any("15" in w and "2025-10-01" in w for w in res.summary["warnings"])
    assert res.summary["perfect_foresight_eur"] >= res.summary["objective_eur"] - 1e-6
