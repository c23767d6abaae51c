import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bidopt.data.synthetic import base_load, dayahead_prices, demo_frame, main, pv_profile
from bidopt.time import STOCKHOLM, delivery_index, horizon_index

GENERATORS = [dayahead_prices, base_load, pv_profile]


@pytest.fixture(scope="module")
def year_prices() -> pd.Series:
    return dayahead_prices(horizon_index("2024-01-01", "2024-12-31", 60), zone="SE3", seed=0)


@pytest.mark.parametrize("fn", GENERATORS)
def test_deterministic_and_seed_dependent(fn):
    idx = horizon_index("2024-05-01", "2024-05-07", 15)
    a = fn(idx, seed=3)
    b = fn(idx, seed=3)
    c = fn(idx, seed=4)
    pd.testing.assert_series_equal(a, b)
    assert not np.array_equal(a.to_numpy(), c.to_numpy())
    assert a.index.equals(idx)


@pytest.mark.parametrize("fn", GENERATORS)
@pytest.mark.parametrize("mtu", [15, 30, 60])
@pytest.mark.parametrize("day", ["2024-03-15", "2024-03-31", "2024-10-27"])
def test_day_alone_equals_day_inside_range(fn, mtu, day):
    start = pd.Timestamp(day).replace(day=1).date()
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    month = fn(horizon_index(start, end, mtu), seed=11)
    alone = fn(delivery_index(day, mtu), seed=11)
    np.testing.assert_array_equal(alone.to_numpy(), month.loc[alone.index].to_numpy())


@pytest.mark.parametrize("day, quarters", [("2024-03-31", 92), ("2024-10-27", 100), ("2024-06-12", 96)])
def test_dst_days_15_and_60_min(day, quarters):
    q = demo_frame(delivery_index(day, 15), seed=1)
    h = demo_frame(delivery_index(day, 60), seed=1)
    assert len(q) == quarters and len(h) == quarters // 4
    assert list(q.columns) == ["price_eur_per_mwh", "load_mw", "pv_mw"]
    assert q.notna().all().all() and h.notna().all().all()
    # hourly mean of quarter-hour prices is the hourly price (up to the 0.01 tick rounding)
    hourly = q["price_eur_per_mwh"].groupby(q.index.floor("60min")).mean()
    np.testing.assert_allclose(hourly.to_numpy(), h["price_eur_per_mwh"].to_numpy(), atol=0.01)
    # and quarter-hours vary within the hour
    spread = q["price_eur_per_mwh"].groupby(q.index.floor("60min")).agg(lambda s: s.max() - s.min())
    assert (spread > 0).mean() > 0.8


def test_single_timestamp_and_empty():
    idx = delivery_index("2024-01-10", 15)
    one = dayahead_prices(idx[5:6])
    assert one.iloc[0] == dayahead_prices(idx).iloc[5]
    assert len(dayahead_prices(idx[:0])) == 0


def test_year_price_statistics(year_prices):
    p = year_prices
    assert len(p) == 8784
    assert 40 <= p.mean() <= 120
    n_neg = int((p < 0).sum())
    assert n_neg >= 20 and n_neg < 0.05 * len(p)
    assert (p > 250).sum() >= 1
    assert p.min() >= -500 and p.max() <= 4000
    month = p.index.tz_convert(STOCKHOLM).month
    assert p[month.isin([12, 1, 2])].mean() > p[month.isin([6, 7, 8])].mean()


def test_zone_levels_ordered():
    idx = horizon_index("2024-01-01", "2024-03-31", 60)
    means = {z: dayahead_prices(idx, zone=z).mean() for z in ["SE1", "SE2", "SE3", "SE4"]}
    assert means["SE1"] < means["SE3"] < means["SE4"]
    assert means["SE2"] < means["SE3"]
    with pytest.raises(ValueError):
        dayahead_prices(idx, zone="XX")


def test_pv_shape():
    june = delivery_index("2024-06-15", 15)
    pv = pv_profile(june, capacity_mw=0.1)
    local = pv.index.tz_convert(STOCKHOLM)
    assert pv[(local.hour == 0) & (local.minute == 0)].iloc[0] == 0.0
    assert pv[(local.hour == 12) & (local.minute == 0)].iloc[0] > 0.0
    assert (pv >= 0).all() and (pv <= 0.1).all()
    june_e = pv_profile(horizon_index("2024-06-01", "2024-06-30", 60)).sum()
    dec_e = pv_profile(horizon_index("2024-12-01", "2024-12-31", 60)).sum()
    assert june_e > 3 * dec_e


def test_load_positive_with_peaks():
    idx = horizon_index("2024-01-01", "2024-12-31", 60)
    load = base_load(idx, peak_mw=0.05)
    assert (load > 0).all()
    local = load.index.tz_convert(STOCKHOLM)
    by_hour = load.groupby(local.hour).mean()
    assert by_hour[18] > by_hour[3] and by_hour[8] > by_hour[3]
    month = local.month
    assert load[month == 1].mean() > load[month == 7].mean()


def test_year_of_quarter_hours_is_fast():
    idx = horizon_index("2024-01-01", "2024-12-31", 15)
    t0 = time.perf_counter()
    frame = demo_frame(idx)
    assert time.perf_counter() - t0 < 2.0
    assert len(frame) == 35136


def test_cli_writes_csv(tmp_path):
    out = tmp_path / "prices.csv"
    assert (
        main(
            ["--start", "2024-03-30", "--end", "2024-03-31", "--mtu", "60", "--seed", "7", "--out", str(out)]
        )
        == 0
    )
    df = pd.read_csv(out)
    assert list(df.columns) == ["timestamp_utc", "price_eur_per_mwh"]
    assert len(df) == 24 + 23
    assert df["timestamp_utc"].iloc[0] == "2024-03-29T23:00:00Z"
    ts = pd.to_datetime(df["timestamp_utc"], utc=True)
    expected = dayahead_prices(pd.DatetimeIndex(ts), seed=7)
    np.testing.assert_allclose(df["price_eur_per_mwh"].to_numpy(), expected.to_numpy(), atol=0.005)


def test_cli_module_entry_point(tmp_path):
    out = tmp_path / "p.csv"
    cmd = [sys.executable, "-m", "bidopt.data.synthetic", "--start", "2024-01-01", "--end", "2024-01-01"]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    subprocess.run([*cmd, "--out", str(out)], check=True, cwd=root, env=env)
    assert len(pd.read_csv(out)) == 24
