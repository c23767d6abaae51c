"""Result files print clean numbers: no negative zero, no float noise like 0.30000000000000004."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bidopt import output
from bidopt.bids import export

NOISE = re.compile(r"\d\.\d*(0000000\d|9999999\d)")  # 17 significant digits of binary noise
NEG_ZERO = re.compile(r"(^|,)-0(\.0+)?(,|$)", re.M)


def _assert_clean(text: str) -> None:
    assert not NEG_ZERO.search(text), text
    assert not NOISE.search(text), text


def test_clean_numbers_rounds_and_drops_negative_zero():
    df = pd.DataFrame({"a": [-0.0, -1e-9, 0.1 + 0.2, 3 * 0.1, 1.23456789], "n": [1, 2, 3, 4, 5],
                       "o": pd.Series([-0.0, 0.30000000000000004, "x", None, 2], dtype=object)})
    out = output.clean_numbers(df)
    assert list(out["a"]) == [0.0, 0.0, 0.3, 0.3, 1.234568]
    assert all(np.copysign(1.0, v) == 1.0 for v in out["a"])
    assert list(out["n"]) == [1, 2, 3, 4, 5] and out["n"].dtype == df["n"].dtype
    assert list(out["o"][:3]) == [0.0, 0.3, "x"] and np.copysign(1.0, out["o"][0]) == 1.0
    assert df["a"][0] == 0.0 and np.copysign(1.0, df["a"][0]) == -1.0  # the input is left alone


def test_schedule_csv_has_no_negative_zero(tmp_path):
    idx = pd.date_range("2024-03-13T23:00Z", periods=3, freq="h")
    df = pd.DataFrame({"grid_import_mw": [0.1 + 0.2, -0.0, -4e-9], "pv_power_mw": [-0.0, -0.5, 1e-12]}, index=idx)
    output.schedule_csv(df, tmp_path / "s.csv")
    text = (tmp_path / "s.csv").read_text()
    _assert_clean(text)
    assert "-0.000000" not in text and "0.300000" in text


def test_fcr_bids_and_continuous_orders_print_lots_exactly(tmp_path):
    bids = pd.DataFrame({"product": ["fcr_n", "fcr_d_up"], "auction": [1, 2],
                         "hour_start_utc": ["2024-03-13T23:00:00Z", "2024-03-14T00:00:00Z"],
                         "volume_mw": pd.Series([3 * 0.1, 0.1 + 0.2], dtype=object),
                         "price_eur_per_mw_h": [12345.67, -0.0]})
    export.write_fcr_bids(bids, tmp_path / "fcr_bids.csv")
    text = (tmp_path / "fcr_bids.csv").read_text()
    _assert_clean(text)
    assert "fcr_n,1,2024-03-13T23:00:00Z,0.3,12345.67" in text  # no %.6g: 12345.67 stays 12345.67
    orders = pd.DataFrame({"timestamp_utc": ["2024-03-14T10:00:00Z", "2024-03-14T10:15:00Z"],
                           "side": ["buy", "sell"], "volume_mw": [3 * 0.1, 0.7000000000000001],
                           "limit_price_eur_per_mwh": [50.5 + 0.01, -0.0]})
    export.write_continuous_orders(orders, tmp_path / "intraday_orders.csv")
    text = (tmp_path / "intraday_orders.csv").read_text()
    _assert_clean(text)
    assert text.splitlines()[1:] == ["2024-03-14T10:00:00Z,buy,0.3,50.51", "2024-03-14T10:15:00Z,sell,0.7,0.0"]


def test_table_csv(tmp_path):
    df = pd.DataFrame({"date": ["2024-03-14"], "x_mwh": [6.300000000000001], "y_eur": [-0.0], "k": [3]})
    output.table_csv(df, tmp_path / "daily.csv")
    assert (tmp_path / "daily.csv").read_text().splitlines() == ["date,x_mwh,y_eur,k", "2024-03-14,6.3,0.0,3"]


@pytest.mark.parametrize("day", ["2024-03-14"])
def test_demo_plan_and_backtest_files_are_clean(tmp_path, day):
    from click.testing import CliRunner

    from bidopt.cli import main
    from tests.conftest import REPO

    r = CliRunner().invoke(main, ["plan", str(REPO / "cases" / "demo"), "--day", day, "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    _assert_clean((tmp_path / "p" / "schedule.csv").read_text())
    r = CliRunner().invoke(main, ["backtest", str(REPO / "cases" / "demo"), "--start", day, "--end", day,
                                  "--out", str(tmp_path / "b"), "--no-progress"])
    assert r.exit_code == 0, r.output
    for f in ("daily.csv", "timeseries.csv"):
        _assert_clean((tmp_path / "b" / f).read_text())
