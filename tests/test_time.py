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


@pytest.mark.parametrize("tz", ["Europe/Stockholm", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"])
def test_local_wall_matches_pandas(tz):
    """Wall-clock times equal pandas' conversion, every 30 minutes over two years, whole and day by
    day (all DST changes, half-hour zones and shifts)."""
    utc = pd.date_range("2024-01-01", "2026-01-01", freq="30min", tz="UTC", inclusive="left")
    want = utc.tz_convert(tz).tz_localize(None).to_numpy().astype("datetime64[s]")
    naive = utc.tz_localize(None).to_numpy()
    assert (btime.local_wall(naive, tz) == want).all()  # one long span: pandas
    for k in range(0, len(naive), 48):  # day by day: zoneinfo offsets
        assert (btime.local_wall(naive[k:k + 48], tz) == want[k:k + 48]).all(), naive[k]


def test_horizon_hours_over_dst_days():
    """The UTC hours of 23-, 24- and 25-hour days at every MTU length, as pandas' floor gives them."""
    import numpy as np

    from bidopt.horizon import Horizon

    for day in ("2026-03-29", "2026-10-25", "2026-05-05"):
        for mtu in btime.VALID_MTU_MINUTES:
            h = Horizon(btime.delivery_index(day, mtu))
            floor = h.index.floor("60min")
            assert h.hour_starts.equals(floor.unique())
            assert (h.hour_group == np.unique(floor, return_inverse=True)[1]).all()
            assert (h.hour_utc == floor.unique().tz_localize(None).to_numpy()).all()


@pytest.mark.parametrize("tz", ["Europe/Stockholm", "Australia/Lord_Howe", "America/St_Johns"])
def test_horizon_wall_clock_and_days_match_pandas_every_day(tz):
    """``Horizon.wall``, ``local_date``, ``month_key`` and ``first_day`` equal pandas' conversion
    for every local day of 2025 (one- and two-day horizons, at 15 and 60 minutes; half-hour zones
    and a half-hour DST shift included) and a ten-day horizon."""
    import numpy as np

    from bidopt.horizon import Horizon

    day = dt.date(2025, 1, 1)
    while day < dt.date(2026, 1, 1):
        for last, mtu in ((day, 15), (day + dt.timedelta(days=1), 60)):
            h = Horizon(btime.horizon_index(day, last, mtu, tz), tz)
            local = h.index.tz_convert(tz)
            assert (h.wall == local.tz_localize(None).to_numpy().astype("datetime64[s]")).all(), (day, mtu)
            assert (h.local_date == np.asarray(local.date)).all()
            assert (h.month_key == (local.year * 100 + local.month).to_numpy()).all()
            assert h.first_day == local[0].date() == day
        day += dt.timedelta(days=1)
    h = Horizon(btime.horizon_index(dt.date(2024, 3, 25), dt.date(2024, 4, 3), 15, tz), tz)
    assert (h.wall == h.index.tz_convert(tz).tz_localize(None).to_numpy().astype("datetime64[s]")).all()
