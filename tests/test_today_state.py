"""Today's state from outside the case file (issue 12, item 9): ``--soc NAME=MWH`` and
``--peaks-so-far FILE`` on plan and bid, ``bidopt.with_state`` / ``plan(..., soc=, peaks_so_far=)``
in the library, and the summary's note that a monthly power charge booked on one day is not a daily
cost (with the tariff stream per tariff)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.cli import main
from bidopt.errors import InputError
from tests.conftest import REPO, write_prices
from tests.test_cli import BASE  # the CLI tests' minimal battery case

DAY = "2024-03-14"  # a Thursday

BATTERY = BASE + """
[[assets]]
kind = "load"
name = "building"
profile = "load.csv"
"""

# A constant 0.5 MW load under a peak tariff: the mean of the 2 highest hourly imports of the month,
# all hours count, 100 SEK/kW/month at 10 SEK/EUR = 10 000 EUR/MW/month (ex VAT).
PEAK = """
[case]
zone = "SE3"
mtu_minutes = 60
sek_per_eur = 10.0

[prices]
dayahead = "p.csv"

[grid]
import_limit_mw = 2.0
export_limit_mw = 0.0

[[assets]]
kind = "load"
name = "building"
profile = "load.csv"

[[tariffs]]
kind = "peak_power"
name = "power"
n_peaks = 2
rates = [ { valid_from = 2020-01-01, sek_per_kw_month = 100.0 } ]

[[tariffs]]
kind = "energy_fee"
name = "transfer"
rates = [ { valid_from = 2020-01-01, sek_per_kwh = 0.1 } ]
"""


def _write_case(tmp_path, text: str, load_mw: float = 0.5):
    write_prices(tmp_path / "p.csv", "2024-03-13T23:00Z", [20.0 + 3 * (i % 24) for i in range(48)])
    idx = pd.date_range("2024-03-13T23:00Z", periods=48, freq="h")
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "mw": load_mw}).to_csv(
        tmp_path / "load.csv", index=False)
    (tmp_path / "case.toml").write_text(text)
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for n in needles:
        assert n in lines[0], (n, lines[0])


# --- --soc ---------------------------------------------------------------------------------------


def test_plan_soc_option_starts_from_that_soc(tmp_path):
    case_dir = _write_case(tmp_path, BATTERY, load_mw=0.3)
    r = run("plan", case_dir, "--day", DAY, "--soc", "bess=0.2", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    sched = pd.read_csv(tmp_path / "out" / "schedule.csv")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["initial_state"]["soc_initial_mwh"] == {"bess": 0.2}
    first = sched.iloc[0]
    # s_0 = 0.2 + eta_c c_0 - d_0 / eta_d (defaults 0.95)
    assert first.bess_soc_mwh == pytest.approx(0.2 + 0.95 * first.bess_charge_mw - first.bess_discharge_mw / 0.95,
                                                abs=1e-6)
    # the library gives the same plan, both ways
    case = bidopt.load_case(case_dir)
    lib = bidopt.plan(case, DAY, soc={"bess": 0.2})
    assert np.allclose(lib.schedule["bess_soc_mwh"].to_numpy(), sched["bess_soc_mwh"].to_numpy(), atol=1e-6)
    again = bidopt.plan(bidopt.with_state(case, DAY, soc={"bess": 0.2}), DAY)
    assert again.summary["objective_eur"] == pytest.approx(lib.summary["objective_eur"])
    assert case.assets[0].soc_initial_mwh == 1.0  # the loaded case is left as it was
    assert bidopt.plan(case, DAY).summary["objective_eur"] != pytest.approx(lib.summary["objective_eur"])


def test_bid_soc_option(tmp_path):
    out = tmp_path / "out"
    r = run("bid", REPO / "cases" / "demo", "--day", DAY, "--soc", "bess=0.5", "--out", out)
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["initial_state"]["soc_initial_mwh"] == {"bess": 0.5}
    assert "note: tariff 'sala_heby_power'" in r.output


@pytest.mark.parametrize("arg,needles", [
    ("nope=0.5", ["--soc nope", "no asset 'nope'", "storage assets: bess"]),
    ("building=0.5", ["--soc building", "'building' (load) stores no energy"]),
    ("bess=2.5", ["--soc bess", "2.5 MWh is outside the SoC window [0, 2] MWh"]),
    ("bess=-0.1", ["--soc bess", "outside the SoC window"]),
    ("bess=lots", ["--soc bess", "not a number"]),
    ("bess", ["--soc", "expected NAME=MWH"]),
])
def test_bad_soc_options_exit_2_naming_option_and_asset(tmp_path, arg, needles):
    case_dir = _write_case(tmp_path, BATTERY)
    for cmd in ("plan", "bid"):
        r = run(cmd, case_dir, "--day", DAY, "--soc", arg, "--out", tmp_path / "out")
        _one_line_error(r, *needles)
        assert not (tmp_path / "out").exists()


def test_soc_given_twice_is_an_error(tmp_path):
    case_dir = _write_case(tmp_path, BATTERY)
    _one_line_error(run("plan", case_dir, "--day", DAY, "--soc", "bess=1", "--soc", "bess=0.5"), "--soc bess",
                    "given twice")


# --- --peaks-so-far and the monthly charge note -----------------------------------------------------


def _peaks(tmp_path, rows: str):
    (tmp_path / "peaks.csv").write_text("timestamp_utc,power_mw\n" + rows)
    return tmp_path / "peaks.csv"


def test_peaks_so_far_raise_the_base_by_hand(tmp_path):
    case_dir = _write_case(tmp_path, PEAK)
    # no peaks so far: the month's charge on the day alone, 10 000 / 2 * (0.5 + 0.5) = 5 000 EUR
    r = run("plan", case_dir, "--day", DAY, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert a["tariff_eur"]["power"] == pytest.approx(-5000.0)
    assert a["tariff_eur"]["transfer"] == pytest.approx(-0.1 * 1000 / 10 * 0.5 * 24)  # 10 EUR/MWh * 12 MWh
    assert sum(a["tariff_eur"].values()) == pytest.approx(a["revenue_eur"]["tariff"])
    [note] = a["notes"]
    assert "5000.00 EUR" in note and "not a daily cost" in note and "whole month's charge" in note
    assert "--peaks-so-far" in note
    # peaks so far 0.8 and 0.3 MW (plus a lower hour): top two with the day 0.8 + 0.5, before it
    # 0.8 + 0.3: the day adds 10 000 / 2 * (1.3 - 1.1) = 1 000 EUR
    peaks = _peaks(tmp_path, "2024-03-05T08:00:00Z,0.8\n2024-03-06T09:00:00Z,0.3\n2024-03-07T10:00Z,0.1\n")
    r = run("plan", case_dir, "--day", DAY, "--peaks-so-far", peaks, "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert b["tariff_eur"]["power"] == pytest.approx(-1000.0)
    assert b["objective_eur"] - a["objective_eur"] == pytest.approx(4000.0)
    assert b["initial_state"]["peaks_so_far_mw"] == {"power": [0.8, 0.3]}
    [charge] = b["monthly_charges"]
    assert charge["month"] == "2024-03" and charge["peaks_so_far_mw"] == [0.8, 0.3]
    assert charge["month_charge_eur"] == pytest.approx(6500.0)
    assert charge["prior_charge_eur"] == pytest.approx(5500.0)
    assert charge["booked_eur"] == pytest.approx(-1000.0)
    [note] = b["notes"]
    assert "1000.00 EUR" in note and "what this day adds" in note and "5500.00 EUR already set" in note
    # peaks so far above the day's: the day adds nothing
    r = run("plan", case_dir, "--day", DAY, "--peaks-so-far", _peaks(tmp_path, "2024-03-01T08:00Z,0.9\n"
                                                                     "2024-03-02T08:00Z,0.6\n"), "--out", tmp_path / "c")
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["tariff_eur"]["power"] == pytest.approx(0.0)


def test_library_peaks_so_far_forms(tmp_path):
    case = bidopt.load_case(_write_case(tmp_path, PEAK))
    hours = pd.Series([0.8, 0.3], index=pd.to_datetime(["2024-03-05T08:00Z", "2024-03-06T09:00Z"]))
    for given in (hours, [0.8, 0.3], _peaks(tmp_path, "2024-03-05T08:00Z,0.8\n2024-03-06T09:00Z,0.3\n"),
                  str(tmp_path / "peaks.csv")):
        res = bidopt.plan(case, DAY, peaks_so_far=given)
        assert res.summary["tariff_eur"]["power"] == pytest.approx(-1000.0)
    # kW column, and hours outside the tariff's window or weighted are taken as the tariff counts them
    (tmp_path / "kw.csv").write_text("timestamp_utc,power_kw\n2024-03-05T08:00Z,800\n2024-03-06T09:00Z,300\n")
    assert bidopt.plan(case, DAY, peaks_so_far=tmp_path / "kw.csv").summary["tariff_eur"]["power"] == pytest.approx(-1000.0)
    t = case.tariffs[0].model_copy(update={"hour_weights": {9: 0.5}})  # 08:00Z is 09:00 local (CET)
    weighted = bidopt.with_state(case.model_copy(update={"tariffs": [t, case.tariffs[1]]}), DAY, peaks_so_far=hours)
    assert weighted.tariffs[0].peaks_so_far_mw == [0.4, 0.3]


@pytest.mark.parametrize("rows,needles", [
    ("2024-03-05T08:00Z,0.8\n2024-03-06T09:00Z,abc\n", ["peaks.csv", "line 3", "power_mw: not a number"]),
    ("2024-03-05T08:00Z,-0.8\n", ["peaks.csv", "line 2", ">= 0"]),
    ("yesterday,0.8\n", ["peaks.csv", "line 2", "not a time"]),
    ("2024-03-05T08:30Z,0.8\n", ["peaks.csv", "line 2", "not the start of an hour"]),
    ("2024-03-05T08:00Z,0.8\n2024-03-05T08:00Z,0.7\n", ["peaks.csv", "line 3", "given twice"]),
    ("2024-03-14T10:00Z,0.8\n", ["peaks.csv", "line 2", "not in the local month of 2024-03-14 before that day"]),
    ("2024-02-29T10:00Z,0.8\n", ["peaks.csv", "line 2", "not in the local month"]),
])
def test_bad_peaks_file_exits_2_naming_file_and_line(tmp_path, rows, needles):
    case_dir = _write_case(tmp_path, PEAK)
    peaks = _peaks(tmp_path, rows)
    for cmd in ("plan", "bid"):
        r = run(cmd, case_dir, "--day", DAY, "--peaks-so-far", peaks, "--out", tmp_path / "out")
        _one_line_error(r, *needles)
        assert not (tmp_path / "out").exists()


def test_peaks_file_columns_and_cases_without_a_peak_tariff(tmp_path):
    case_dir = _write_case(tmp_path, PEAK)
    (tmp_path / "bad.csv").write_text("time,power_mw\n2024-03-05T08:00Z,0.8\n")
    _one_line_error(run("plan", case_dir, "--day", DAY, "--peaks-so-far", tmp_path / "bad.csv"), "bad.csv",
                    "timestamp_utc", "column missing")
    _one_line_error(run("plan", case_dir, "--day", DAY, "--peaks-so-far", tmp_path / "none.csv"), "none.csv",
                    "--peaks-so-far", "file not found")
    _write_case(tmp_path, BATTERY)
    _one_line_error(run("plan", case_dir, "--day", DAY, "--peaks-so-far", _peaks(tmp_path, "2024-03-05T08:00Z,0.8\n")),
                    "--peaks-so-far", "no peak_power tariff")
    with pytest.raises(InputError, match="peaks_so_far"):
        bidopt.with_state(bidopt.load_case(case_dir), DAY, peaks_so_far=[0.5])


def test_a_weekend_day_books_no_window_charge_and_no_note(tmp_path):
    text = PEAK.replace('n_peaks = 2', 'n_peaks = 2\nwindow = { weekdays = [0, 1, 2, 3, 4] }')
    case = bidopt.load_case(_write_case(tmp_path, text))
    write_prices(tmp_path / "p.csv", "2024-03-15T23:00Z", [30.0] * 48)
    idx = pd.date_range("2024-03-15T23:00Z", periods=48, freq="h")
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "mw": 0.5}).to_csv(tmp_path / "load.csv",
                                                                                          index=False)
    res = bidopt.plan(case, "2024-03-16")  # a Saturday
    assert res.summary["tariff_eur"]["power"] == pytest.approx(0.0)
    assert res.summary["notes"] == []
