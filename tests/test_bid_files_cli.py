"""`bidopt bid` writes each offered product's bid file and `bidopt validate` checks every one of them
(issue 16 item 6), in process (click's CliRunner) and as a user runs them (a subprocess): a battery
case selling FCR-D, aFRR, mFRR (capacity and EAM energy bids) and FFR, built from synthetic inputs,
and cases/demo_ffr. Corrupted bid files:
a bad value is a problem line naming the row and the field (exit 1, "invalid"); a file that cannot
be read as a bid file (a missing column, a row with too many fields) is bad input, exit 2, naming
the file and the column or line; no traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bidopt import time as btime
from bidopt.cli import main
from tests.conftest import REPO
from tests.test_afrr import write_mimer
from tests.test_stacking import assert_stacked_headroom_holds

DAY = "2024-06-12"
HISTORY_DAYS = 40  # capacity price history before the day (stepped bids forecast from 36 days)
PRODUCT_FILES = ("fcr_bids.csv", "afrr_bids.csv", "ffr_bids.csv", "mfrr_bids.csv", "mfrr_eam_bids.csv")
BID_FILES = ("dayahead_orders.json", *PRODUCT_FILES, "schedule.csv", "summary.json")
BATTERY = {"charge_power_mw": 1.0, "discharge_power_mw": 1.0, "energy_mwh": 2.0, "soc_min_mwh": 0.0,
           "soc_max_mwh": 2.0, "soc_initial_mwh": 1.0, "charge_efficiency": 0.95, "discharge_efficiency": 0.95}
CASE_TOML = """
[case]
name = "fcr_afrr_cli"
zone = "SE3"
mtu_minutes = 60

[prices]
dayahead = "synthetic"
fcr_d_up = "fcr_d_up.csv"
fcr_d_down = "fcr_d_down.csv"

[synthetic]
seed = 3

[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0

[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
charge_efficiency = 0.95
discharge_efficiency = 0.95
soc_initial_mwh = 1.0

[markets.afrr]
prices = "afrr.csv"
lot_mw = 1.0

[markets.ffr]
prices = "ffr.csv"

[markets.mfrr]
prices = "mfrr.csv"

[bidding]
n_scenarios = 3
seed = 0

[solver]
time_limit_s = 10  # the stepped FCR + aFRR MIP may stop at the limit with a feasible bid (valid files)
mip_gap = 0.02
"""


@pytest.fixture(scope="module")
def fcr_afrr_case(tmp_path_factory):
    """case.toml with FCR-D up/down prices, a Mimer aFRR export, FFR and mFRR capacity prices covering
    the day and the weeks before it (EUR/MW/h, daily shapes: aFRR and mFRR up dear in the evening,
    FFR at night)."""
    folder = tmp_path_factory.mktemp("fcr_afrr")
    first = str((pd.Timestamp(DAY) - pd.Timedelta(days=HISTORY_DAYS)).date())
    idx = btime.horizon_index(first, DAY, 60)
    hour = np.asarray(idx.tz_convert(btime.STOCKHOLM).hour, float)
    shape = np.cos(2 * np.pi * (hour - 19) / 24)
    utc = idx.strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, level in (("fcr_d_up", 10.0), ("fcr_d_down", 7.0)):
        pd.DataFrame({"timestamp_utc": utc, "price_eur_per_mw_h": np.round(level + 2.0 * shape, 3)}).to_csv(
            folder / f"{name}.csv", index=False)
    write_mimer(folder / "afrr.csv", [str(d.date()) for d in pd.date_range(first, DAY)],
                np.round(12.0 + 8.0 * shape, 3), np.round(8.0 + 3.0 * shape, 3))
    pd.DataFrame({"timestamp_utc": utc, "price_eur_per_mw_h": np.round(4.0 - 2.0 * shape, 3)}).to_csv(
        folder / "ffr.csv", index=False)
    pd.DataFrame({"timestamp_utc": utc, "up_price_eur_per_mw_h": np.round(14.0 + 6.0 * shape, 3),
                  "down_price_eur_per_mw_h": np.round(9.0 - 3.0 * shape, 3)}).to_csv(folder / "mfrr.csv", index=False)
    (folder / "case.toml").write_text(CASE_TOML)
    return folder / "case.toml"


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bidopt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def fcr_afrr_bids(fcr_afrr_case, tmp_path_factory):
    """`bidopt bid` on the FCR + aFRR case as a user runs it (a subprocess): the output folder."""
    out = tmp_path_factory.mktemp("fcr_afrr_bid")
    r = _run("bid", fcr_afrr_case, "--day", DAY, "--out", out)
    assert r.returncode == 0, r.stderr
    for name in BID_FILES:
        assert f"wrote {out / name}" in r.stdout
    return out


def test_bid_writes_each_products_file_and_validate_accepts_them(fcr_afrr_bids):
    """bid wrote a bid file per product beside the orders (aFRR stepped by default, mFRR's capacity
    and its EAM energy bids), with volume in FCR-D and aFRR; validate says each written file is
    valid, in process and as a subprocess; the bid's schedule holds every step of every product at
    once and the stacked headroom fits (the independent check of tests/test_stacking.py)."""
    out = fcr_afrr_bids
    for name in BID_FILES:
        v = CliRunner().invoke(main, ["validate", str(out / name)])
        assert (v.exit_code, v.output.strip()) == (0, "valid"), (name, v.output)
    for name in PRODUCT_FILES:
        v = _run("validate", out / name)
        assert (v.returncode, v.stdout.strip()) == (0, "valid"), (name, v.stdout, v.stderr)
    afrr = pd.read_csv(out / "afrr_bids.csv")
    fcr = pd.read_csv(out / "fcr_bids.csv")
    assert set(afrr["product"]) <= {"afrr_up", "afrr_down"} and afrr["volume_mw"].sum() > 0
    assert set(fcr["product"]) <= {"fcr_d_up", "fcr_d_down"} and fcr["volume_mw"].sum() > 0
    s = pd.read_csv(out / "schedule.csv")
    # the schedule holds each stream's whole bid (all its steps accepted: the most any clearing takes)
    top = pd.concat([fcr, afrr, pd.read_csv(out / "ffr_bids.csv"), pd.read_csv(out / "mfrr_bids.csv")]).groupby(
        ["product", "hour_start_utc"])["volume_mw"].sum()
    hour = pd.to_datetime(s["timestamp_utc"]).dt.floor("h").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for p in ("fcr_d_up", "fcr_d_down", "afrr_up", "afrr_down", "ffr", "mfrr_up", "mfrr_down"):
        np.testing.assert_allclose(s[f"bess_{p}_mw"], [top.get((p, h), 0.0) for h in hour], atol=1e-6)
    assert_stacked_headroom_holds(s, BATTERY, {"afrr_endurance_h": 1.0, "ffr_endurance_s": 30.0})


def test_bid_then_validate_on_the_ffr_demo(tmp_path):
    """cases/demo_ffr as a user runs it: bid exits 0 and writes fcr_bids.csv and ffr_bids.csv;
    validate exits 0 with "valid" on each."""
    out = tmp_path / "bid"
    r = _run("bid", REPO / "cases" / "demo_ffr" / "case.toml", "--day", DAY, "--out", out)
    assert r.returncode == 0, r.stderr
    for name in ("fcr_bids.csv", "ffr_bids.csv"):
        assert f"wrote {out / name}" in r.stdout
        v = _run("validate", out / name)
        assert (v.returncode, v.stdout.strip()) == (0, "valid"), (name, v.stdout, v.stderr)


# ------------------------------------------------------------------------------- corrupted files

GOOD = ["product,hour_start_utc,volume_mw,price_eur_per_mw_h",
        "afrr_up,2024-06-11T22:00:00Z,1,0",
        "afrr_down,2024-06-11T23:00:00Z,1,0",
        "afrr_up,2024-06-12T00:00:00Z,2,0"]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_header_only_bid_file_is_valid(tmp_path):
    """Nothing sold: bid writes the header alone, which is a valid bid file (not an FCR file
    lacking its auction column)."""
    for how in (CliRunner().invoke, None):
        path = _write(tmp_path / "afrr_bids.csv", GOOD[:1])
        if how is not None:
            r = how(main, ["validate", str(path)])
            assert (r.exit_code, r.output.strip()) == (0, "valid"), r.output
        else:
            r = _run("validate", path)
            assert (r.returncode, r.stdout.strip()) == (0, "valid"), r.stderr


@pytest.mark.parametrize("row,field", [(2, "volume_mw"), (3, "hour_start_utc"), (1, "product")])
def test_a_bad_value_names_the_row_and_field(tmp_path, row, field):
    lines = list(GOOD)
    cells = lines[row].split(",")
    col = GOOD[0].split(",").index(field)
    cells[col] = {"volume_mw": "1.5x", "hour_start_utc": "2024-06-12 02:00", "product": "afrr_upp"}[field]
    lines[row] = ",".join(cells)
    path = _write(tmp_path / "afrr_bids.csv", lines)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 1, r.output
    assert f"row {row}" in r.output and field in r.output, r.output


def test_an_unreadable_row_is_exit_2_naming_the_file_and_line(tmp_path):
    lines = list(GOOD)
    lines[2] += ",0"  # a fifth field
    path = _write(tmp_path / "afrr_bids.csv", lines)
    r = _run("validate", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and str(path) in r.stderr and "line 3" in r.stderr, r.stderr
    c = CliRunner().invoke(main, ["validate", str(path)])
    assert c.exit_code == 2 and str(path) in c.output, c.output


def test_a_missing_field_is_exit_2_naming_the_file_and_field(tmp_path):
    lines = [",".join(x.split(",")[:3]) for x in GOOD]  # no price_eur_per_mw_h
    path = _write(tmp_path / "afrr_bids.csv", lines)
    r = _run("validate", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and str(path) in r.stderr and "price_eur_per_mw_h" in r.stderr, r.stderr
