"""A resumed backtest gives the bytes of one that ran through, on MIP days too (issue 15 item 2).

``tests/test_backtest_resume.py`` resumes LP days. Here the prices dip below zero every night, so
the battery's charge/discharge binaries are in every model (the bid strategy's scenario model and
the delivery and perfect-foresight plans are MIPs). A run stopped after the second day and resumed
from its checkpoints must write the same ``daily.csv`` and ``timeseries.csv`` bytes as an
uninterrupted run: HiGHS gets the same arrays (``bidopt.solver``) with the same options, and its
branch and bound is deterministic for a given input (fixed default ``random_seed``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import bidopt
from bidopt.backtest.engine import backtest
from bidopt.case import case_from_dict
from tests.conftest import battery_case, write_prices

START, MID, END = "2024-03-05", "2024-03-06", "2024-03-07"
FIRST_UTC = pd.Timestamp("2024-03-04T23:00Z") - pd.Timedelta(days=30)
HOURS = 24 * 36


def _negative_nights(folder: Path):
    rng = np.random.default_rng(3)
    hours = np.arange(HOURS)
    prices = 25 + 45 * np.sin((hours - 6) * 2 * np.pi / 24) + rng.normal(0, 6, HOURS)  # below 0 at night
    write_prices(folder / "prices.csv", str(FIRST_UTC), prices)
    data = battery_case("prices.csv")
    data["bidding"] = {"n_scenarios": 3, "lookback_days": 14}
    return case_from_dict(data, base_dir=folder)


def test_resumed_mip_backtest_writes_the_same_bytes(tmp_path):
    case = _negative_nights(tmp_path)
    assert bidopt.plan(case, START).summary["binaries"]  # the days are MIPs
    full = backtest(case, START, END, out_dir=tmp_path / "full")
    backtest(case, START, MID, out_dir=tmp_path / "resumed")  # stopped after the second day
    resumed = backtest(case, START, END, out_dir=tmp_path / "resumed")
    assert resumed.summary["resumed_days"] == 2 and resumed.summary["computed_days"] == 1
    assert full.summary["computed_days"] == 3
    for name in ("daily.csv", "timeseries.csv"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes(), name
