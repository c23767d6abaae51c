"""Preloaded synthetic series (``sources.preloaded``) equal per-day generation, and fall back cleanly."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt.assets.load import demand_profile
from bidopt.data import preload, sources, synthetic
from bidopt.horizon import Horizon
from bidopt.time import delivery_index, horizon_index

DEMO = Path(__file__).resolve().parents[1] / "cases" / "demo"
FIRST, LAST = dt.date(2025, 3, 20), dt.date(2025, 11, 5)
DST = [dt.date(2025, 3, 30), dt.date(2025, 10, 26)]
# both DST days and their neighbours, every 10th day, and the range ends
DAYS = sorted({*DST, dt.date(2025, 3, 29), dt.date(2025, 3, 31), dt.date(2025, 10, 25), dt.date(2025, 10, 27),
               FIRST, LAST, *(FIRST + dt.timedelta(days=i) for i in range(0, (LAST - FIRST).days, 10))})


def _case(zone: str = "SE3", seed: int = 7):
    return bidopt.case_from_dict({
        "case": {"zone": zone},
        "prices": {"dayahead": "synthetic"},
        "synthetic": {"seed": seed},
        "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
    })


def _demo(mtu: int):
    case = bidopt.load_case(DEMO)
    case.case.mtu_minutes = mtu
    return case


def _pv_fn(capacity_mw: float, calls: list | None = None):
    def fn(idx):
        if calls is not None:
            calls.append(len(idx))
        return synthetic.pv_profile(idx, capacity_mw=capacity_mw, seed=7)
    return fn


@pytest.fixture(autouse=True)
def _no_leftover_preload():
    yield
    sources.clear_preload()


def test_dst_days_have_92_and_100_quarter_hours():
    assert [len(delivery_index(d, 15)) for d in DST] == [92, 100]


@pytest.mark.parametrize("mtu", [15, 60])
@pytest.mark.parametrize("zone", sorted(synthetic.ZONES))
def test_prices_sliced_equal_day_alone(zone, mtu):
    case = _case(zone)
    alone = {d: sources.dayahead_prices(case, delivery_index(d, mtu)) for d in DAYS}
    with sources.preloaded(case, horizon_index(FIRST, LAST, mtu)) as p:
        for d in DAYS:
            np.testing.assert_array_equal(sources.dayahead_prices(case, delivery_index(d, mtu)), alone[d])
    assert (p.hits, p.misses) == (len(DAYS), 0)


@pytest.mark.parametrize("mtu", [15, 60])
def test_demo_pv_and_load_sliced_equal_day_alone(mtu):
    """Through the real asset code, on a deep copy of the case per day (as backtest.state.with_state)."""
    base = _demo(mtu)
    pv, load = base.assets[1], base.assets[2]
    assert (pv.kind, load.kind) == ("pv", "load")

    def day(case, d):
        h = Horizon.for_days(d, mtu_minutes=mtu)
        return (sources.dayahead_prices(case, h.index), case.assets[1].prepare(case, h)["generation_mw"],
                demand_profile(case.assets[2], case, h))

    alone = {d: day(base, d) for d in DAYS}
    with sources.preloaded(base, horizon_index(FIRST, LAST, mtu)) as p:
        for d in DAYS:
            for got, want in zip(day(base.model_copy(deep=True), d), alone[d], strict=True):
                np.testing.assert_array_equal(got, want)
    assert (p.hits, p.misses) == (3 * len(DAYS), 0)
    assert sum(a.sum() for d in DAYS for a in alone[d][1:]) > 0


def test_profile_generated_once_for_the_range():
    calls: list[int] = []
    case = _case()
    full = horizon_index(FIRST, LAST, 15)
    with sources.preloaded(case, full):
        for d in DAYS:
            sources.profile(case, "synthetic", "assets.pv.profile", delivery_index(d, 15), _pv_fn(0.1, calls))
    assert calls == [len(full)]


def test_outside_scope_and_outside_range_generate_per_call(monkeypatch):
    case = _case()
    gen = []
    real = synthetic.dayahead_prices
    monkeypatch.setattr(synthetic, "dayahead_prices", lambda idx, **kw: gen.append(len(idx)) or real(idx, **kw))
    day = delivery_index("2025-06-01", 60)
    outside = delivery_index("2025-12-01", 60)
    straddling = horizon_index("2025-06-30", "2025-07-01", 60)

    sources.dayahead_prices(case, day)  # no scope: as before
    assert gen == [24]
    with sources.preloaded(case, horizon_index("2025-06-01", "2025-06-30", 60)) as p:
        assert gen[1:] == [30 * 24]  # the one-off generation
        np.testing.assert_array_equal(sources.dayahead_prices(case, outside), real(outside, seed=7).to_numpy())
        np.testing.assert_array_equal(sources.dayahead_prices(case, straddling),
                                      real(straddling, seed=7).to_numpy())
        assert gen[2:] == [24, 48] and p.misses == 2
        calls: list[int] = []
        pv = sources.profile(case, "synthetic", "assets.pv.profile", outside, _pv_fn(0.1, calls))
        np.testing.assert_array_equal(pv, synthetic.pv_profile(outside, capacity_mw=0.1, seed=7).to_numpy())
        assert calls == [24]
    sources.dayahead_prices(case, day)
    assert gen[-1] == 24 and p.hits == 0
    assert preload._ACTIVE.get() == ()


def test_field_not_preloadable_falls_back():
    """A callable that is not a plain function (here a partial) is called per request."""
    case = _case()
    idx = delivery_index("2025-06-01", 15)
    fn = functools.partial(synthetic.base_load, peak_mw=0.3, seed=7)
    with sources.preloaded(case, horizon_index("2025-05-01", "2025-07-31", 15)) as p:
        got = sources.profile(case, "synthetic", "assets.building.profile", idx, fn)
    np.testing.assert_array_equal(got, fn(idx).to_numpy())
    assert p.misses == 1 and p.hits == 0


def test_changed_parameters_or_other_case_never_get_a_stale_series():
    idx = delivery_index("2025-06-01", 15)
    a, b = _case(seed=7), _case(seed=8)
    with sources.preloaded(a, horizon_index("2025-05-01", "2025-07-31", 15)):
        small = sources.profile(a, "synthetic", "assets.pv.profile", idx, _pv_fn(0.1))
        big = sources.profile(a, "synthetic", "assets.pv.profile", idx, _pv_fn(0.5))  # same field, new capacity
        other = sources.profile(b, "synthetic", "assets.pv.profile", idx,
                                lambda i: synthetic.pv_profile(i, capacity_mw=0.1, seed=b.synthetic.seed))
        price_b = sources.dayahead_prices(b, idx)
    np.testing.assert_array_equal(small, synthetic.pv_profile(idx, capacity_mw=0.1, seed=7).to_numpy())
    np.testing.assert_array_equal(big, synthetic.pv_profile(idx, capacity_mw=0.5, seed=7).to_numpy())
    np.testing.assert_array_equal(other, synthetic.pv_profile(idx, capacity_mw=0.1, seed=8).to_numpy())
    np.testing.assert_array_equal(price_b, synthetic.dayahead_prices(idx, seed=8).to_numpy())
    assert big.max() > small.max() > 0


def test_other_mtu_odd_indexes_and_errors_match_generation():
    case = _case()
    hist = horizon_index("2025-05-03", "2025-06-01", 60)  # bidding history: hourly, inside a 15-min preload
    contracts = pd.DatetimeIndex(list(delivery_index("2025-06-01", 15)[[5, 0, 9, 1]]))  # unsorted, no freq
    lone = [pd.DatetimeIndex([pd.Timestamp("2025-06-01 10:00", tz="UTC")]),
            pd.DatetimeIndex([pd.Timestamp("2025-06-01 10:15", tz="UTC")])]
    naive = delivery_index("2025-06-01", 30).tz_localize(None)
    with sources.preloaded(case, horizon_index("2025-05-01", "2025-07-31", 15)) as p:
        for idx in [hist, contracts, *lone, naive]:
            np.testing.assert_array_equal(sources.dayahead_prices(case, idx),
                                          synthetic.dayahead_prices(idx, seed=7).to_numpy())
        assert (p.hits, p.misses) == (5, 0)
        shifted = delivery_index("2025-06-01", 15) + pd.Timedelta(minutes=5)
        with pytest.raises(ValueError, match="not aligned to 15-minute"):
            sources.dayahead_prices(case, shifted)
        with pytest.raises(ValueError, match="MTU must be one of"):
            sources.dayahead_prices(case, delivery_index("2025-06-01", 15)[[0, 3]])
        assert p.misses == 2
        assert len(sources.dayahead_prices(case, pd.DatetimeIndex([], tz="UTC"))) == 0


def test_plain_preload_nesting_and_threads():
    case = _case()
    june, july = delivery_index("2025-06-10", 60), delivery_index("2025-07-10", 60)
    outer = sources.preload(case, horizon_index("2025-05-01", "2025-07-31", 60))
    with sources.preloaded(case, horizon_index("2025-06-01", "2025-06-30", 60)) as inner:
        sources.dayahead_prices(case, june)
        sources.dayahead_prices(case, july)  # not in the inner range: the outer one serves it
        seen = []
        t = threading.Thread(target=lambda: seen.append(preload._ACTIVE.get()))
        t.start()
        t.join()
    assert (inner.hits, inner.misses, outer.hits) == (1, 1, 1)
    assert seen == [()]  # a new thread starts without preloads
    assert preload._ACTIVE.get() == (outer,)
    sources.clear_preload()
    assert preload._ACTIVE.get() == ()
