import datetime as dt

import pandas as pd
import pytest

from bidopt import time as btime


@pytest.mark.parametrize(
    "day,hours", [("2024-03-31", 23), ("2024-10-27", 25), ("2024-06-01", 24), ("2022-03-27", 23), ("2022-10-30", 25)]
)
@pytest.mark.parametrize("mtu", [15, 30, 60])
def test_day_lengths(day, hours, mtu):
    idx = btime.delivery_index(day, mtu)
    assert len(idx) == hours * 60 // mtu
    assert str(idx.tz) == "UTC"
    # the local day starts at local midnight and the index is contiguous
    assert idx[0].tz_convert("Europe/Stockholm").hour == 0
    assert (idx[1:] - idx[:-1] == pd.Timedelta(minutes=mtu)).all()
    end = idx[-1] + pd.Timedelta(minutes=mtu)
    assert end.tz_convert("Europe/Stockholm").date() == dt.date.fromisoformat(day) + dt.timedelta(days=1)


def test_horizon_spans_days():
    idx = btime.horizon_index("2024-03-30", "2024-04-01", 60)
    assert len(idx) == 24 + 23 + 24
    assert btime.local_days(idx) == [dt.date(2024, 3, 30), dt.date(2024, 3, 31), dt.date(2024, 4, 1)]


def test_hourly_to_quarter_and_back():
    hourly = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"))
    q = btime.to_mtu(hourly, pd.date_range("2024-01-01", periods=12, freq="15min", tz="UTC"))
    assert list(q) == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    assert list(btime.to_hourly(q)) == [1.0, 2.0, 3.0]


def test_to_mtu_refuses_uncovered():
    hourly = pd.Series([1.0], index=pd.date_range("2024-01-01", periods=1, freq="h", tz="UTC"))
    with pytest.raises(KeyError):
        btime.to_mtu(hourly, pd.date_range("2024-01-01", periods=8, freq="15min", tz="UTC"))


def test_bad_mtu():
    with pytest.raises(ValueError):
        btime.delivery_index("2024-01-01", 20)
