"""The SE3 2022 battery case over the whole year: the backtest runs in CI, and its perfect-foresight
total is the sum of the daily optima planned independently here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt.backtest.engine import backtest
from bidopt.model import plan
from tests.conftest import REPO

pytestmark = pytest.mark.realdata


def test_se3_battery_2022_full_year(shared_data, tmp_path):
    case = bidopt.load_case(REPO / "cases" / "se3_battery_2022")
    res = backtest(case, "2022-01-01", "2022-12-31", out_dir=tmp_path)
    daily = pd.read_csv(tmp_path / "daily.csv")
    assert len(daily) == 365
    summary = json.loads((tmp_path / "summary.json").read_text())
    # the battery starts and ends each day at 1 MWh and there is no tariff: days are independent,
    # so perfect foresight over the year is the sum of 365 separate daily plans
    days = pd.date_range("2022-01-01", "2022-12-31", freq="D").date
    optima = np.array([plan(case, d).summary["objective_eur"] for d in days])
    assert summary["perfect_foresight_eur"] == pytest.approx(optima.sum(), rel=1e-7)
    np.testing.assert_allclose(daily.perfect_foresight_eur, optima, rtol=1e-7, atol=1e-6)
    ratio = summary["capture_ratio"]
    assert ratio == pytest.approx(summary["objective_eur"] / summary["perfect_foresight_eur"])
    assert 0.0 < ratio < 1.0
    for stream in ("dayahead", "intraday", "imbalance", "tariff", "tax", "degradation"):
        assert stream in summary["revenue_eur"]
    assert summary["objective_eur"] == pytest.approx(sum(summary["revenue_eur"].values()))
    # 2022-03-27 has 23 hours and 2022-10-30 has 25
    ts = pd.read_csv(tmp_path / "timeseries.csv")
    assert len(ts) == 365 * 24
    print(f"\nSE3 2022: strategy {summary['objective_eur']:.0f} EUR, perfect foresight "
          f"{summary['perfect_foresight_eur']:.0f} EUR, capture ratio {ratio:.3f}")
    assert res.summary == summary
