"""`bidopt validate` recognises every file `bid`, `fcr2` and `intraday` write by its content and checks
it against its own rules; a file it does not check is bad input that says which files it checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bidopt.bids.files import recognise, validate_schedule, validate_summary
from bidopt.cli import main
from tests.conftest import REPO

DEMO = REPO / "cases" / "demo"
WRITES = {
    "bid": {"dayahead_orders.json", "fcr_bids.csv", "schedule.csv", "summary.json"},
    "fcr2": {"fcr_bids.csv", "schedule.csv", "summary.json"},
    "IDA1": {"intraday_orders.json", "schedule.csv", "summary.json"},
    "continuous": {"intraday_orders.csv", "schedule.csv", "summary.json"},
}
NOT_CHECKED = {"timing.csv", "curves.png"}  # wall-clock times (not a contract file); a picture


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def fcr_case(folder, day: str):
    """The demo case with hourly FCR prices (two months up to the day after ``day``)."""
    folder.mkdir(parents=True, exist_ok=True)
    hours = pd.date_range(pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=60), periods=62 * 24, freq="h")
    rng = np.random.default_rng(5)
    for p, level in (("fcr_n", 15.0), ("fcr_d_up", 8.0)):
        pd.DataFrame({"timestamp_utc": hours.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "price_eur_per_mw_h": np.round(level + rng.gamma(2.0, 3.0, len(hours)), 2)}
                     ).to_csv(folder / f"{p}.csv", index=False)
    text = (DEMO / "case.toml").read_text().replace("../../models/", f"{REPO}/models/")
    text = text.replace('dayahead = "synthetic"', 'dayahead = "synthetic"\nfcr_n = "fcr_n.csv"\nfcr_d_up = "fcr_d_up.csv"')
    text += "\n[bidding]\nn_scenarios = 4\n"
    (folder / "case.toml").write_text(text)
    return folder


@pytest.fixture(scope="module", params=[("2024-08-14", None), ("2025-11-12", "15")], ids=["hourly", "quarter-hour"])
def outputs(request, tmp_path_factory):
    """What bid, fcr2, intraday IDA1 and intraday continuous write for one day of the demo case with
    FCR prices; on 2025-11-12 the 60-minute case bids with --mtu 15 (the day-ahead MTU then)."""
    day, mtu = request.param
    root = tmp_path_factory.mktemp(f"validate-{day}")
    case = fcr_case(root / "case", day)
    out = {k: root / k for k in WRITES}
    r = invoke("bid", case, "--day", day, "--out", out["bid"], *(["--mtu", mtu] if mtu else []))
    assert r.exit_code == 0, r.output
    r = invoke("fcr2", case, "--day", day, "--position", out["bid"], "--out", out["fcr2"])
    assert r.exit_code == 0, r.output
    r = invoke("intraday", case, "--day", day, "--position", out["bid"], "--stage", "IDA1", "--out", out["IDA1"])
    assert r.exit_code == 0, r.output
    r = invoke("intraday", case, "--day", day, "--position", out["bid"], "--stage", "continuous",
               "--now", f"{day}T05:00Z", "--fcr", out["fcr2"] / "fcr_bids.csv", "--out", out["continuous"])
    assert r.exit_code == 0, r.output
    return day, out


def test_every_written_file_is_recognised_and_valid(outputs):
    _, out = outputs
    for command, names in WRITES.items():
        assert {p.name for p in out[command].iterdir()
                if not p.name.startswith(".") and p.name not in NOT_CHECKED} == names
        for name in names:
            r = invoke("validate", out[command] / name)
            assert r.exit_code == 0, f"{command} {name}: {r.output}"
            assert r.output.strip() == "valid"


def test_kinds_come_from_content_not_names(outputs, tmp_path):
    _, out = outputs
    kinds = {"dayahead_orders.json": "orders", "intraday_orders.json": "orders", "fcr_bids.csv": "fcr_bids",
             "intraday_orders.csv": "continuous_orders", "schedule.csv": "schedule", "summary.json": "summary"}
    for command, names in WRITES.items():
        for name in names:
            renamed = tmp_path / f"{command}-{name}.txt"
            renamed.write_bytes((out[command] / name).read_bytes())
            assert recognise(renamed) == kinds[name]
            assert invoke("validate", renamed).exit_code == 0


def test_schedules_follow_the_day_ahead_mtu(outputs):
    day, out = outputs
    n = 24 if day < "2025-10-01" else 96
    for command in WRITES:
        assert len(pd.read_csv(out[command] / "schedule.csv")) == (96 if command == "IDA1" else n), command


CONTINUOUS = "timestamp_utc,side,volume_mw,limit_price_eur_per_mwh\n"


@pytest.mark.parametrize("row, message", [
    ("2025-11-12T10:15:00Z,buy,0.25,50.5", "intraday order row 1: volume 0.25 MW is not a multiple of the lot 0.1 MW"),
    ("2025-11-12T10:15:00Z,hold,0.3,50.5", "intraday order row 1: side 'hold' is not buy or sell"),
    ("2025-11-12T10:07:00Z,buy,0.3,50.5", "intraday order row 1: timestamp_utc 2025-11-12T10:07:00Z is not the start"),
    ("2025-11-12T10:15:00Z,sell,-0.3,50.5", "intraday order row 1: volume -0.3 MW is not positive"),
    ("2025-11-12T10:15:00Z,sell,0.3,50.505", "intraday order row 1: limit price 50.505 is not a multiple of the tick"),
    ("2025-11-12T10:15:00Z,sell,0.3,12000", "intraday order row 1: limit price 12000 EUR/MWh is outside the limits"),
    ("yesterday,sell,0.3,50", "intraday order row 1: timestamp_utc 'yesterday' is not a UTC time"),
])
def test_a_corrupted_continuous_file_exits_1(tmp_path, row, message):
    path = tmp_path / "intraday_orders.csv"
    path.write_text(CONTINUOUS + "2025-11-12T10:00:00Z,buy,0.3,50.51\n".replace("10:00", "09:45") + row + "\n")
    # the good first row moves the bad one to row 2
    r = invoke("validate", path)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith(message.replace("row 1", "row 2")), lines


def test_a_corrupted_intraday_auction_file_exits_1(outputs, tmp_path):
    _, out = outputs
    data = json.loads((out["IDA1"] / "intraday_orders.json").read_text())
    curve = data["curveOrders"][0]["curves"][5]
    for pt in curve["curvePoints"]:
        pt["volume"] = 0.25
    path = tmp_path / "intraday_orders.json"
    path.write_text(json.dumps(data))
    r = invoke("validate", path)
    assert r.exit_code == 1, r.output
    (line,) = r.output.strip().splitlines()
    assert f"contract '{curve['contractId']}': volume 0.25" in line and "not a multiple of the lot 0.1 MW" in line


@pytest.mark.parametrize("text, what", [
    ("date,total_eur\n2024-03-14,1.0\n", "its CSV header matches none of the files checked"),
    ("", "empty file"),
    ('{"hello": 1}', "a JSON dict"),
    ("[1, 2]", "a JSON list"),
])
def test_an_unrecognised_file_exits_2_and_says_what_is_checked(tmp_path, text, what):
    path = tmp_path / "thing.csv"
    path.write_text(text)
    r = invoke("validate", path)
    assert r.exit_code == 2, r.output
    (line,) = r.output.strip().splitlines()
    assert str(path) in line and what in line
    for name in ("dayahead_orders.json", "intraday_orders.json", "fcr_bids.csv", "intraday_orders.csv",
                 "schedule.csv", "summary.json"):
        assert name in line


def test_schedule_and_summary_rules():
    good = pd.DataFrame({"timestamp_utc": ["2024-03-13T23:00:00Z", "2024-03-14T00:00:00Z"],
                         "grid_import_mw": ["0.1", "0.0"], "grid_export_mw": ["0.0", "0.2"],
                         "bess_soc_mwh": ["1.0", "0.9"], "pv_power_mw": ["-0.1", "0.0"]})
    assert validate_schedule(good) == []
    bad = good.copy()
    bad.loc[1, "timestamp_utc"] = "2024-03-14T00:05:00Z"
    bad.loc[0, "grid_export_mw"] = "-0.5"
    bad.loc[1, "bess_soc_mwh"] = "nan"
    problems = validate_schedule(bad)
    assert problems == ["schedule row 2: timestamp_utc 2024-03-14T00:05:00Z is 65 minutes after the row before "
                        "(MTUs are 15, 30, 60 minutes long)",
                        "schedule row 1: grid_export_mw -0.5 is negative",
                        "schedule row 2: bess_soc_mwh 'nan' is not a finite number"]
    streams = dict.fromkeys(("dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance", "tariff",
                             "tax", "degradation"), 1.0)
    assert validate_summary({"objective_eur": 9.0, "revenue_eur": streams}) == []
    assert validate_summary({"objective_eur": 8.0, "revenue_eur": streams,
                             "solver": {"status": "optimal"}}) == [
        "summary: objective_eur 8.000000 is not the sum of revenue_eur (9.000000)",
        "summary: solver lacks seconds, mip_gap"]
