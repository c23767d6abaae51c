"""Re-planning with built models (``bidopt.replan.Replanner``) gives exactly what rebuilding gives.

Days are chained as in a backtest (the battery's SoC and the month's peaks carried). Each day is
planned twice: on a model refreshed from earlier days and on a model built from scratch. Schedules
and money must be equal to the bit, because the arrays handed to HiGHS are laid out as a fresh
compile lays them out; a resumed backtest relies on it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

import bidopt
from bidopt.backtest.day import perfect_foresight_day
from bidopt.backtest.state import EMPTY
from bidopt.replan import Replanner
from tests.conftest import REPO


def demo(mtu: int = 15):
    case = bidopt.load_case(REPO / "cases" / "demo")
    case.case.mtu_minutes = mtu
    return case


def chain_both_ways(case, days):
    rp = Replanner()
    state_a = state_b = EMPTY
    for i, d in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else d + dt.timedelta(days=1)
        a = perfect_foresight_day(case, d, state_a, next_day=nxt, replanner=rp)
        b = perfect_foresight_day(case, d, state_b, next_day=nxt)
        assert a.record == b.record, d
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
        assert a.state == b.state, d
        state_a, state_b = a.state, b.state
    return rp


def span(first: str, n: int) -> list[dt.date]:
    d0 = dt.date.fromisoformat(first)
    return [d0 + dt.timedelta(days=i) for i in range(n)]


def test_demo_days_across_dst_and_a_month_change_equal_rebuilt_models():
    """2025-10-20 .. 11-05 at 15 min: weekdays and weekends (peak window or not), the 100-MTU DST
    day, and November (new month: peaks reset, winter rate)."""
    rp = chain_both_ways(demo(15), span("2025-10-20", 17))
    assert rp.refreshes >= 12  # most days reuse a model
    assert rp.builds <= 5


def test_hourly_mtu_and_negative_price_days_equal_rebuilt_models():
    """Summer days at 60 min, where negative synthetic prices bring the battery's binaries in and
    out: LP and MIP models are kept apart (one per shape)."""
    case = demo(60)
    rp = chain_both_ways(case, span("2024-08-20", 12))
    kinds = {k[2] for k in rp.models}
    assert kinds == {True, False}  # both LP and MIP days met
    assert rp.refreshes >= 6


def test_not_refreshable_assets_are_rebuilt_every_day(shared_data):
    """A heat pump has no ``refresh``: every day is built anew, with the same results."""
    case = bidopt.load_case(REPO / "cases" / "se3_apartment_heatpump_pv")
    rp = chain_both_ways(case, span("2020-01-14", 3))
    assert rp.refreshes == 0 and rp.builds == 3


def test_refresh_refuses_another_shape():
    case = demo(15)
    rp = Replanner()
    from bidopt import time as btime
    from bidopt.horizon import Horizon

    def h(day):
        return Horizon(btime.delivery_index(dt.date.fromisoformat(day), 15, case.case.timezone), case.case.timezone)

    pm = rp.model(case, h("2025-10-24"))
    assert not pm.refresh(case, h("2025-10-26"))  # 100 MTUs
    c2 = case.model_copy(deep=True)
    c2.grid.import_limit_mw = 1.5
    assert rp.model(c2, h("2025-10-27")) is not pm  # another grid: built anew
    assert rp.builds == 2


def test_real_prices_se3_battery_equal_rebuilt_models(shared_data):
    case = bidopt.load_case(REPO / "cases" / "se3_battery_2022")
    rp = chain_both_ways(case, span("2022-03-25", 10))
    assert rp.refreshes >= 5


def test_plan_with_a_replanner_equals_plan():
    """``bidopt.plan(..., replanner=rp)``: the library's re-plan path gives plan's schedule and
    summary (money, binaries) on consecutive days, the 23-hour day included, building once per shape."""
    case = demo(15)
    rp = bidopt.Replanner()
    for d in ["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]:
        got, want = bidopt.plan(case, d, replanner=rp), bidopt.plan(case, d)
        pd.testing.assert_frame_equal(got.schedule, want.schedule, check_exact=True)
        assert got.summary["revenue_eur"] == want.summary["revenue_eur"]
        assert got.summary["binaries"] == want.summary["binaries"]
    assert rp.refreshes >= 2 and rp.builds <= 3
