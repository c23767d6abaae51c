"""The plan command's contract: files, columns, keys, exit codes, one-line errors, no partial output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bidopt.cli import main
from tests.conftest import REPO, write_prices

BASE = """
[case]
zone = "SE3"
mtu_minutes = 60

[prices]
dayahead = "p.csv"

[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0

[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
soc_initial_mwh = 1.0
"""

DAY = "2024-03-14"


@pytest.fixture
def case_dir(tmp_path):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", [20.0 + 3 * (i % 24) for i in range(48)])
    (tmp_path / "case.toml").write_text(BASE)
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def test_demo_plan_writes_contract_files(tmp_path):
    out = tmp_path / "out"
    r = run("plan", REPO / "cases" / "demo", "--day", DAY, "--out", out)
    assert r.exit_code == 0, r.output
    sched = pd.read_csv(out / "schedule.csv")
    for col in ["timestamp_utc", "grid_import_mw", "grid_export_mw", "bess_charge_mw", "bess_discharge_mw",
                "bess_soc_mwh", "rooftop_power_mw", "building_power_mw"]:
        assert col in sched.columns
    assert len(sched) == 24
    assert sched.timestamp_utc.iloc[0] == "2024-03-13T23:00:00Z"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["revenue_eur"]) >= {"dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday",
                                           "imbalance", "tariff", "tax", "degradation"}
    assert summary["objective_eur"] == pytest.approx(sum(summary["revenue_eur"].values()))
    assert set(summary["solver"]) >= {"status", "seconds", "mip_gap"}
    assert summary["solver"]["status"] == "optimal"


@pytest.mark.parametrize("day,mtu,rows", [("2024-03-31", 15, 92), ("2024-10-27", 15, 100), ("2024-10-27", 60, 25)])
def test_dst_days(tmp_path, day, mtu, rows):
    r = run("plan", REPO / "cases" / "demo", "--day", day, "--mtu", mtu, "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "schedule.csv")) == rows


def _assert_input_error(r, *needles):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], lines[0]


def _edit(case_dir, old, new):
    (case_dir / "case.toml").write_text(BASE.replace(old, new))


def test_missing_case_file(tmp_path):
    _assert_input_error(run("plan", tmp_path / "nope.toml", "--day", DAY, "--out", tmp_path / "o"), "nope.toml", "not found")


def test_missing_price_file(case_dir):
    _edit(case_dir, '"p.csv"', '"missing.csv"')
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "missing.csv", "not found")


def test_unknown_asset_kind(case_dir):
    _edit(case_dir, 'kind = "battery"', 'kind = "flywheel"')
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "case.toml", "assets[0] (bess).kind",
                        "flywheel")


def test_negative_power(case_dir):
    _edit(case_dir, "power_mw = 1.0", "power_mw = -1.0")
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "case.toml", "power_mw")


def test_soc_initial_above_max(case_dir):
    _edit(case_dir, "soc_initial_mwh = 1.0", "soc_initial_mwh = 2.5")
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "case.toml", "soc_initial_mwh")


def test_unknown_key_is_an_error(case_dir):
    _edit(case_dir, "energy_mwh = 2.0", "energy_mwh = 2.0\nenergy_mwhh = 3.0")
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "energy_mwhh")


def test_nan_price(case_dir):
    lines = (case_dir / "p.csv").read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",nan"
    (case_dir / "p.csv").write_text("\n".join(lines) + "\n")
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "p.csv", "line 6")


def test_duplicate_timestamp(case_dir):
    lines = (case_dir / "p.csv").read_text().splitlines()
    lines.insert(4, lines[3])
    (case_dir / "p.csv").write_text("\n".join(lines) + "\n")
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "p.csv", "duplicate")


def test_day_not_covered(case_dir):
    _assert_input_error(run("plan", case_dir, "--day", "2024-06-01", "--out", case_dir / "o"), "p.csv", "no data")


def test_bad_day_option(case_dir):
    r = run("plan", case_dir, "--day", "14/03/2024", "--out", case_dir / "o")
    assert r.exit_code == 2
    assert "--day" in r.output


def test_infeasible_final_soc_names_asset(case_dir):
    _edit(case_dir, "power_mw = 1.0", "power_mw = 0.01\nsoc_final_mwh = 2.0")
    r = run("plan", case_dir, "--day", DAY, "--out", case_dir / "o")
    assert r.exit_code == 3, r.output
    assert "bess" in r.output and "soc_final" in r.output
    assert not (case_dir / "o").exists() or not any((case_dir / "o").iterdir())


def test_infeasible_grid_is_diagnosed(case_dir):
    text = BASE.replace("import_limit_mw = 2.0", "import_limit_mw = 0.1") + (
        '\n[[assets]]\nkind = "load"\nname = "plant"\nprofile = "synthetic"\npeak_mw = 3.0\n'
    )
    (case_dir / "case.toml").write_text(text)
    r = run("plan", case_dir, "--day", DAY, "--out", case_dir / "o")
    assert r.exit_code == 3, r.output
    assert "grid" in r.output and "balance" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_failure_leaves_existing_outputs_untouched(case_dir):
    out = case_dir / "o"
    assert run("plan", case_dir, "--day", DAY, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run("plan", case_dir, "--day", "2024-06-01", "--out", out).exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_subprocess_entry_point(case_dir):
    """The installed console script: exit codes and one-line stderr, as a user sees them."""
    exe = Path(sys.executable).with_name("bidopt")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bidopt.cli"]
    ok = subprocess.run([*cmd, "plan", str(case_dir), "--day", DAY, "--out", str(case_dir / "o")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (case_dir / "o" / "summary.json").exists()
    _edit(case_dir, "power_mw = 1.0", "power_mw = -1.0")
    bad = subprocess.run([*cmd, "plan", str(case_dir), "--day", DAY, "--out", str(case_dir / "o2")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "power_mw" in bad.stderr
    assert not (case_dir / "o2").exists()


def test_tariff_without_rate_in_force(case_dir):
    text = BASE + '\n[[tariffs]]\nkind = "energy_fee"\nname = "transfer"\nrates = [ { valid_from = 2030-01-01, sek_per_kwh = 0.1 } ]\n'
    (case_dir / "case.toml").write_text(text)
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "case.toml",
                        "tariffs.transfer.rates", "no rate in force on 2024-03-14")


def test_summary_objective_is_the_solved_objective():
    import pyomo.environ as pyo

    import bidopt

    res = bidopt.plan(bidopt.load_case(REPO / "cases" / "demo"), DAY)
    assert res.summary["objective_eur"] == pytest.approx(pyo.value(res.model.m.objective), rel=1e-9)


@pytest.mark.parametrize("table,needle", [("[markets.fcr]\nstep_mv = 0.1\n", "markets.fcr.step_mv"),
                                          ("[markets.afrr]\nstep_mw = 1\n", "markets.afrr")])
def test_market_tables_are_checked(case_dir, table, needle):
    (case_dir / "case.toml").write_text(BASE + "\n" + table)
    _assert_input_error(run("plan", case_dir, "--day", DAY, "--out", case_dir / "o"), "case.toml", needle)
