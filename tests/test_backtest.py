"""The rolling backtest: contract files, carried state, tariff bills, no look-ahead, resume, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.backtest.engine import backtest
from bidopt.backtest.settlement import monthly_tariff_bills
from bidopt.cli import main
from bidopt.model import plan
from tests.conftest import REPO, write_prices

CASE = f"""
[case]
name = "{{name}}"
zone = "SE3"
mtu_minutes = 60
[prices]
dayahead = "{{prices}}"
[synthetic]
seed = {{seed}}
[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0
[[assets]]
name = "bess"
template = "{REPO / 'models' / 'assets' / 'battery_1mw_2mwh.toml'}"
[[assets]]
kind = "load"
name = "building"
profile = "synthetic"
peak_mw = 0.6
[[tariffs]]
template = "{REPO / 'models' / 'tariffs' / 'sala_heby_power.toml'}"
[bidding]
n_scenarios = 3
lookback_days = 14
"""


def small_case(folder: Path, name="small", prices="synthetic", seed=7, extra="") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(CASE.format(name=name, prices=prices, seed=seed) + extra)
    return folder


def test_cli_writes_the_contract_files(tmp_path):
    case = small_case(tmp_path / "c")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["backtest", str(case), "--start", "2024-03-29", "--end", "2024-04-01",
                                  "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.date) == ["2024-03-29", "2024-03-30", "2024-03-31", "2024-04-01"]
    streams = [c for c in daily.columns if c.endswith("_eur") and c not in ("total_eur", "perfect_foresight_eur")]
    np.testing.assert_allclose(daily[streams].sum(axis=1), daily.total_eur, atol=1e-6)
    ts = pd.read_csv(out / "timeseries.csv")
    assert len(ts) == 24 + 24 + 23 + 24  # 2024-03-31 is the 23-hour day
    summary = json.loads((out / "summary.json").read_text())
    for key in ("objective_eur", "revenue_eur", "perfect_foresight_eur", "capture_ratio", "warnings"):
        assert key in summary
    assert summary["objective_eur"] == pytest.approx(daily.total_eur.sum())
    assert summary["perfect_foresight_eur"] == pytest.approx(daily.perfect_foresight_eur.sum())
    # nobody beats perfect foresight on the same days (up to the MIP gap)
    assert (daily.total_eur <= daily.perfect_foresight_eur + 1e-3 * daily.perfect_foresight_eur.abs() + 1e-6).all()
    assert "<img" in (out / "report.html").read_text()
    # bidopt report DIR rebuilds it
    (out / "report.html").unlink()
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").exists()


def test_state_carries_soc_and_month_to_date_peaks(tmp_path):
    case = bidopt.load_case(small_case(tmp_path / "c"))
    case.assets[0].soc_final_mwh = None  # the battery may end the day anywhere
    res = backtest(case, "2024-02-26", "2024-03-05", out_dir=tmp_path / "out")
    ts = res.timeseries
    days = ts.index.tz_convert("Europe/Stockholm").date
    ends = ts.groupby(days)["bess_soc_mwh"].last()
    # day d+1 starts from day d's end: its first SoC moves from there by at most one hour's flow
    starts = ts.groupby(days)["bess_soc_mwh"].first()
    assert (np.abs(starts.to_numpy()[1:] - ends.to_numpy()[:-1]) <= 1.0 + 1e-6).all()
    # the tariff streams of a month add up to the realised monthly bill of the delivered flows
    by_month = res.daily.groupby(res.daily.date.str[:7])["tariff_eur"].sum()
    bills = monthly_tariff_bills(case, ts["grid_import_mw"], ts["grid_export_mw"]).set_index("month")
    for month, paid in by_month.items():
        assert -paid == pytest.approx(bills.loc[month, "bill_ex_vat_eur"], rel=1e-9, abs=1e-6)


def test_perfect_foresight_is_the_sum_of_daily_plans(tmp_path):
    case = bidopt.load_case(small_case(tmp_path / "c"))
    case.tariffs = []  # no monthly coupling: days are independent (the battery returns to soc_final)
    res = backtest(case, "2024-05-06", "2024-05-08", strategy="perfect_foresight")
    daily_optima = [plan(case, d).summary["objective_eur"] for d in ("2024-05-06", "2024-05-07", "2024-05-08")]
    assert res.summary["perfect_foresight_eur"] == pytest.approx(sum(daily_optima), rel=1e-9)
    assert res.summary["objective_eur"] == pytest.approx(res.summary["perfect_foresight_eur"], rel=1e-9)


def test_orders_do_not_look_ahead(tmp_path):
    """Prices of day 3 are published after day 3's gate: changing them changes no order submitted
    for days 1-3, only what they earn on day 3."""
    start = pd.Timestamp("2024-03-24T23:00Z") - pd.Timedelta(days=30)
    rng = np.random.default_rng(1)
    prices = 50 + 30 * np.sin(np.arange(24 * 36) * 2 * np.pi / 24) + rng.normal(0, 5, 24 * 36)
    a = write_prices(tmp_path / "a.csv", str(start), prices)
    bumped = prices.copy()
    day3 = int((pd.Timestamp("2024-03-26T23:00Z") - start) / pd.Timedelta(hours=1))
    bumped[day3:] *= 3.0
    b = write_prices(tmp_path / "b.csv", str(start), bumped)
    ra = backtest(bidopt.load_case(small_case(tmp_path / "ca", prices=str(a))), "2024-03-25", "2024-03-27")
    rb = backtest(bidopt.load_case(small_case(tmp_path / "cb", prices=str(b))), "2024-03-25", "2024-03-27")
    assert list(ra.daily.orders_sha256) == list(rb.daily.orders_sha256)
    pd.testing.assert_frame_equal(ra.daily.iloc[:2], rb.daily.iloc[:2])
    assert ra.daily.total_eur.iloc[2] != rb.daily.total_eur.iloc[2]


def _run_cli(case, out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "bidopt.cli", "backtest", str(case), "--start", "2024-03-01", "--end", "2024-03-08",
         "--out", str(out), "--no-progress", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def test_sigkill_and_resume_gives_the_same_files(tmp_path):
    case = small_case(tmp_path / "c")
    ref = _run_cli(case, tmp_path / "ref")
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()
    p = _run_cli(case, tmp_path / "run")
    ckpt = tmp_path / "run" / ".checkpoints" / "strategy"
    deadline = time.time() + 200
    while time.time() < deadline and len(list(ckpt.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = len(list(ckpt.glob("*.json")))
    assert 3 <= done < 8, "the run should have been killed midway"
    assert not (tmp_path / "run" / "daily.csv").exists()
    again = _run_cli(case, tmp_path / "run")
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()
    assert "resumed " in again.stderr.read().decode()
    for f in ("daily.csv", "timeseries.csv", "report.html"):
        assert (tmp_path / "run" / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f
    # summary.json differs only in what the run took from the checkpoints
    resumed, ref_summary = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("run", "ref"))
    assert resumed["resumed_by_chain"]["strategy"] >= 3 and ref_summary["resumed_by_chain"]["strategy"] == 0
    for k in ("resumed_days", "computed_days", "stale_days", "resumed_by_chain"):
        resumed.pop(k), ref_summary.pop(k)
    assert resumed == ref_summary


def test_two_dask_workers_give_the_same_results(tmp_path):
    case = small_case(tmp_path / "c")
    one = CliRunner().invoke(main, ["backtest", str(case), "--start", "2024-03-04", "--end", "2024-03-06",
                                    "--out", str(tmp_path / "w1"), "--no-progress"])
    two = CliRunner().invoke(main, ["backtest", str(case), "--start", "2024-03-04", "--end", "2024-03-06",
                                    "--out", str(tmp_path / "w2"), "--workers", "2", "--no-progress"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    for f in ("daily.csv", "timeseries.csv", "summary.json"):
        assert (tmp_path / "w1" / f).read_bytes() == (tmp_path / "w2" / f).read_bytes(), f


def test_a_sweep_of_four_cases_runs_through_dask(tmp_path):
    cases = [small_case(tmp_path / f"c{i}", name=f"site{i}", seed=i) for i in range(4)]
    sweep = tmp_path / "sweep.toml"
    sweep.write_text("cases = [" + ", ".join(f'"{c}"' for c in cases) + ']\nstrategies = ["bid"]\n'
                     '[[periods]]\nstart = 2024-03-04\nend = 2024-03-05\n')
    r = CliRunner().invoke(main, ["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "2",
                                  "--no-progress"])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "out" / "comparison.csv")
    assert list(table["case"]) == ["site0", "site1", "site2", "site3"]
    assert table["objective_eur"].notna().all() and table["perfect_foresight_eur"].notna().all()
    for c in table["case"]:
        assert (tmp_path / "out" / f"{c}-bid-2024-03-04_2024-03-05" / "daily.csv").exists()


@pytest.mark.parametrize("args, field", [
    (["--start", "2024-03-05", "--end", "2024-03-01"], "--end"),
    (["--start", "2024-03-01", "--end", "2024-03-02", "--workers", "2", "--scheduler", "tcp://x:1"], "--workers"),
])
def test_bad_options_exit_2(tmp_path, args, field):
    case = small_case(tmp_path / "c")
    r = CliRunner().invoke(main, ["backtest", str(case), *args, "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 2 and field in r.output
    assert not (tmp_path / "o" / "daily.csv").exists()


def test_unknown_backtest_key_exits_2(tmp_path):
    case = small_case(tmp_path / "c", extra="[backtest]\nstrategy = \"bid\"\nsped = 3\n")
    r = CliRunner().invoke(main, ["backtest", str(case), "--start", "2024-03-01", "--end", "2024-03-01",
                                  "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 2 and "backtest.sped" in r.output
