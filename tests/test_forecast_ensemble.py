"""The ensemble forecaster (bidopt.forecast.ensemble): its point forecast is the mean of LEAR and
the 7- and 14-day mean profiles (recomputed here from the price series with pandas), no look-ahead,
scenarios centred on the point, every day length, and selection through a case."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bidopt.errors import InputError
from bidopt.forecast import ensemble, lear
from bidopt.forecast import scenarios as sc
from bidopt.time import day_bounds_utc

FAST = {"lookback_days": 120, "residual_days": 7, "refit_days": 14}
TZ = "Europe/Stockholm"


@pytest.fixture(scope="module")
def prices():
    """Synthetic hourly prices with a daily shape that drifts, a weekly cycle and noise (EUR/MWh)."""
    idx = pd.date_range("2021-06-01T00:00Z", "2022-12-31T23:00Z", freq="h")
    local = idx.tz_convert(TZ)
    rng = np.random.default_rng(7)
    day = np.asarray((local.tz_localize(None).normalize() - pd.Timestamp("2021-06-01")).days)
    shape = 30 * np.sin((local.hour - 6 + 3 * np.sin(day / 40)) / 24 * 2 * np.pi)
    level = 80 + 40 * np.sin(day / 60) + 15 * (local.day_of_week < 5)
    return pd.Series(level + shape + rng.normal(0, 12, len(idx)), index=idx)


def _profile_mean(s: pd.Series, D: dt.date, n: int) -> np.ndarray:
    """Mean price by local clock hour over the n local days before D (independent of the module)."""
    local = s.tz_convert(TZ)
    days = local.index.tz_localize(None).normalize()
    keep = (days >= pd.Timestamp(D - dt.timedelta(days=n))) & (days < pd.Timestamp(D))
    by_day_hour = local[keep].groupby([days[keep], local.index[keep].hour]).mean().unstack()
    return by_day_hour.mean(axis=0).reindex(range(24)).to_numpy()


@pytest.mark.parametrize("D", [dt.date(2022, 2, 15), dt.date(2022, 6, 1)])
def test_point_is_the_mean_of_lear_and_two_profiles(prices, D):
    cube = ensemble.ensemble_price_scenarios(prices, D, n_scenarios=4, **FAST)
    lear_point = np.asarray(lear.lear_price_scenarios(prices, D, n_scenarios=1, **FAST).attrs["point_by_clock_hour"])
    expect = (lear_point + _profile_mean(prices, D, 7) + _profile_mean(prices, D, 14)) / 3
    assert np.allclose(cube.attrs["point_by_clock_hour"], expect)
    # the scenarios are centred on the point forecast: the expected strategy plans on it
    assert np.allclose(sc.expected(cube).to_numpy(), lear.point_forecast(cube))


def test_only_prices_published_before_the_gate_matter(prices):
    D = dt.date(2022, 3, 10)
    base = ensemble.ensemble_price_scenarios(prices, D, n_scenarios=5, **FAST)
    start_D = day_bounds_utc(D)[0]
    late = prices.where(prices.index < start_D, prices * 3 + 50)  # D's prices: published after the gate
    assert np.array_equal(ensemble.ensemble_price_scenarios(late, D, n_scenarios=5, **FAST).values, base.values)
    start_D1 = day_bounds_utc(D - dt.timedelta(days=1))[0]
    early = prices.where((prices.index < start_D1) | (prices.index >= start_D), prices * 1.5)  # D-1: known
    assert not np.allclose(ensemble.ensemble_price_scenarios(early, D, n_scenarios=5, **FAST).values, base.values)


def test_scenarios_differ_in_shape(prices):
    v = np.asarray(ensemble.ensemble_price_scenarios(prices, dt.date(2022, 5, 3), n_scenarios=7, **FAST).values)
    assert len({tuple(np.argsort(r, kind="stable")) for r in v}) >= 2


@pytest.mark.parametrize("day, mtu, n", [("2022-03-27", 60, 23), ("2022-10-30", 60, 25), ("2022-03-27", 15, 92),
                                         ("2022-10-30", 15, 100), ("2022-02-15", 15, 96)])
def test_cube_is_valid_on_every_day_length(prices, day, mtu, n):
    cube = ensemble.ensemble_price_scenarios(prices, day, mtu_minutes=mtu, n_scenarios=3, **FAST)
    assert cube.sizes["time"] == n and sc.validate(cube).equals(cube)
    assert np.isfinite(np.asarray(cube.values)).all()


def test_too_little_history_is_bad_input(prices):
    with pytest.raises(InputError, match="complete days"):
        ensemble.ensemble_price_scenarios(prices["2022-01-01":], "2022-02-25", **FAST)


def test_case_selects_the_ensemble():
    import bidopt
    from bidopt.bids.dayahead import price_scenarios, settings
    from tests.conftest import battery_case

    data = battery_case()
    data["bidding"] = {"forecaster": "ensemble", "n_scenarios": 4, "lear_lookback_days": 120,
                       "lear_residual_days": 7, "lear_refit_days": 14}
    case = bidopt.case_from_dict(data)
    cube = price_scenarios(case, "2024-03-14", 60, settings(case))
    assert cube.attrs["method"].startswith("ensemble") and cube.sizes["scenario"] == 4
    bids = bidopt.bid(case, "2024-03-14")
    assert bids.summary["curves_total"] == 24
