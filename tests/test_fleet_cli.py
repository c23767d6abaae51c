"""``bidopt fleet`` (``bidopt.cli_fleet``): a folder of site cases becomes one day-ahead order and one
pooled FCR bid file that ``bidopt validate`` accepts, with every site's share (domain notes, V12)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from bidopt import time as btime
from bidopt.cli import main

DAY = "2024-03-14"


def _sites(folder, homes: int):
    """``homes`` site case files of V12 houses (2 kW heating load cut for FCR-D up) in ``folder``."""
    folder.mkdir()
    idx = btime.delivery_index(DAY, 60).strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp_utc": idx, "price_eur_per_mw_h": 20.0}).to_csv(folder / "up.csv", index=False)
    pd.DataFrame({"timestamp_utc": idx, "load_mw": 0.002}).to_csv(folder / "home.csv", index=False)
    for i in range(homes):
        (folder / f"home_{i:03d}.toml").write_text(f"""
[case]
name = "home_{i:03d}"
zone = "SE3"
mtu_minutes = 60
[prices]
dayahead = "synthetic"
fcr_d_up = "up.csv"
[grid]
import_limit_mw = 0.02
export_limit_mw = 0.02
[[assets]]
kind = "curtailable_load"
name = "house"
profile = "home.csv"
customer_type = "households"
offer_reserves = true
[solver]
threads = 1
[bidding]
n_scenarios = 3
""")


def test_fleet_command_writes_a_pooled_fcr_bid_that_validates(tmp_path):
    _sites(tmp_path / "sites", 50)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["fleet", str(tmp_path / "sites"), "--day", DAY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "fleet of 50 sites" in r.output and "fcr_d_up 2.4 MW h" in r.output
    bids = pd.read_csv(out / "fcr_bids.csv")
    assert list(bids.columns) == ["product", "auction", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"]
    assert len(bids) == 24 and (bids["volume_mw"] == 0.1).all() and (bids["product"] == "fcr_d_up").all()
    v = CliRunner().invoke(main, ["validate", str(out / "fcr_bids.csv")])
    assert v.exit_code == 0 and v.output.strip() == "valid", v.output
    shares = pd.read_csv(out / "capacity_shares.csv")
    assert shares["site"].nunique() == 50
    np.testing.assert_allclose(shares.groupby("hour_start_utc")["share_mw"].sum(), 0.1, atol=1e-9)
    assert (shares["share_mw"] <= shares["offered_mw"] + 1e-12).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sites"] == 50 and summary["capacity"]["fcr_d_up"]["pooled_mw_h"] == 2.4
    assert len(pd.read_csv(out / "sites.csv")) == 50
    assert CliRunner().invoke(main, ["validate", str(out / "dayahead_orders.json")]).exit_code == 0


def test_fleet_of_49_homes_writes_an_empty_bid_file(tmp_path):
    """Below the minimum bid nothing is offered: the file has its header and no rows (still valid)."""
    _sites(tmp_path / "sites", 49)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["fleet", str(tmp_path / "sites"), "--day", DAY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out / "fcr_bids.csv").empty
    assert (pd.read_csv(out / "capacity_shares.csv")["share_mw"] == 0).all()


def test_fleet_command_bad_input_is_exit_2(tmp_path):
    r = CliRunner().invoke(main, ["fleet", str(tmp_path / "missing.toml"), "--day", DAY, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "missing.toml" in r.output
    r = CliRunner().invoke(main, ["fleet", str(tmp_path), "--day", DAY, "--workers", "2", "--scheduler", "tcp://x:1",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--workers" in r.output
