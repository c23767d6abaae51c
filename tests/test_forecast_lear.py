"""The LEAR day-ahead forecaster (bidopt.forecast.lear): no look-ahead, scenario shapes, cube
validity on 23/24/25-hour days and 15-minute MTUs, scikit-learn doing the fitting, and an
out-of-sample comparison with the naive forecaster on real SE3 prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bidopt.data.prices import read_price_csv
from bidopt.errors import InputError
from bidopt.forecast import baseline as bl
from bidopt.forecast import lear
from bidopt.forecast import scenarios as sc
from bidopt.forecast.holidays_se import easter_sunday, holidays
from bidopt.time import day_bounds_utc

FAST = {"lookback_days": 120, "residual_days": 7, "refit_days": 14}  # small windows, few refits: fast


@pytest.fixture(scope="module")
def zones(request):
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "dayahead" / "se1-se4_dayahead_2016-2022_utc.csv.gz"
    if not path.is_file():
        pytest.skip(f"real data not found at {path}")
    se3 = read_price_csv(path, zone="SE3")["2020-06-01":"2022-12-31"]
    wide = pd.read_csv(path, index_col="start_utc")  # the other zones, on the same UTC hours
    idx = pd.to_datetime(wide.index, utc=True)
    return {"SE3": se3, **{z: pd.Series(wide[z].to_numpy(), index=idx).reindex(se3.index) for z in ("SE1", "SE4")}}


def _forecast(z, day, **kw):
    return lear.lear_price_scenarios(z["SE3"], day, zones={"SE1": z["SE1"], "SE4": z["SE4"]}, **{**FAST, **kw})


@pytest.mark.realdata
def test_only_prices_published_before_the_gate_matter(zones):
    D = dt.date(2022, 2, 15)
    base = _forecast(zones, D)
    start_D = day_bounds_utc(D)[0]  # D's prices are published D-1 12:45, after the gate D-1 12:00
    late = {z: s.where(s.index < start_D, s * 3 + 50) for z, s in zones.items()}
    after = _forecast(late, D)
    assert np.array_equal(after.values, base.values)
    # D-1's prices were published D-2 12:45: known, and they move the forecast
    start_D1 = day_bounds_utc(D - dt.timedelta(days=1))[0]
    early = dict(zones, SE3=zones["SE3"].where((zones["SE3"].index < start_D1) | (zones["SE3"].index >= start_D),
                                               zones["SE3"] * 1.5))
    assert not np.allclose(_forecast(early, D).values, base.values)
    # another zone's D-1 prices are features too
    early_se4 = dict(zones, SE4=zones["SE4"].where(zones["SE4"].index < start_D1, zones["SE4"] * 3))
    assert not np.allclose(lear.point_forecast(_forecast(early_se4, D)), lear.point_forecast(base))
    # with an earlier gate (D-2 12:00) D-1's prices are not known yet, so changing them changes nothing
    gate = bl.gate_time(D, days_before=2)
    g_base, g_early = _forecast(zones, D, gate_utc=gate), _forecast(early, D, gate_utc=gate)
    assert g_base.attrs["lag_days"] == 2
    assert np.array_equal(g_base.values, g_early.values)


@pytest.mark.realdata
def test_scenarios_put_cheap_and_dear_hours_in_different_places(zones):
    cube = _forecast(zones, dt.date(2022, 2, 15), n_scenarios=10)
    v = np.asarray(cube.values)
    orders = {tuple(np.argsort(row, kind="stable")) for row in v}
    assert len(orders) >= 2
    assert len({int(np.argmin(r)) for r in v}) >= 2 or len({int(np.argmax(r)) for r in v}) >= 2
    # not one shape shifted: the spread around the point forecast differs between hours
    dev = v - lear.point_forecast(cube)
    assert np.ptp(dev, axis=1).max() > 1.0


@pytest.mark.realdata
@pytest.mark.parametrize("day, mtu, n", [("2022-03-27", 60, 23), ("2022-10-30", 60, 25), ("2022-02-15", 60, 24),
                                         ("2022-02-15", 15, 96), ("2022-10-30", 15, 100)])
def test_cube_is_valid_on_every_day_length(zones, day, mtu, n):
    cube = _forecast(zones, day, mtu_minutes=mtu, n_scenarios=5)
    assert cube.sizes["time"] == n and cube.sizes["scenario"] == 5
    assert sc.validate(cube).equals(cube)
    t = sc.time_index(cube)
    assert t[0] == day_bounds_utc(day)[0] and t[-1] < day_bounds_utc(day)[1]
    if mtu == 15:  # hourly models held over the quarter-hours
        v = np.asarray(cube.values).reshape(5, -1, 4)
        assert np.array_equal(v, np.repeat(v[:, :, :1], 4, axis=2))


def test_scikit_learn_fits_every_hour_model(monkeypatch):
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.gamma(2.0, 30.0, size=(200, 30)), np.eye(8)[rng.integers(0, 8, 200)]])
    Y = 0.5 * X[:, :24] + 0.3 * X[:, 1:25] + rng.normal(0, 5, (200, 24)) + 20
    calls = []

    class CountingIC(lear.LassoLarsIC):
        def fit(self, X, y, copy_X=None):
            calls.append(("LassoLarsIC", self.criterion))
            return super().fit(X, y)

    class CountingLasso(lear.Lasso):
        def fit(self, X, y, sample_weight=None, check_input=True):
            calls.append(("Lasso", self.alpha))
            return super().fit(X, y)

    monkeypatch.setattr(lear, "LassoLarsIC", CountingIC)
    monkeypatch.setattr(lear, "Lasso", CountingLasso)
    m = lear.fit_hour_models(X, Y)
    assert [c[0] for c in calls] == ["LassoLarsIC", "Lasso"] * 24 and calls[0][1] == "aic"
    assert [c[1] for c in calls[1::2]] == pytest.approx(list(m.alpha))  # Lasso at the AIC penalty
    Xt, Yt = m.features(X), m.z(Y)
    for h in (0, 13):
        ic = lear.LassoLarsIC(criterion="aic", noise_variance=lear._ols_noise_variance(Xt, Yt)[h]).fit(Xt, Yt[:, h])
        assert m.alpha[h] == pytest.approx(max(ic.alpha_, lear.MIN_ALPHA))
        ref = lear.Lasso(alpha=m.alpha[h], max_iter=5000).fit(Xt, Yt[:, h])
        assert np.allclose(m.coef[h], ref.coef_) and m.intercept[h] == pytest.approx(ref.intercept_)
    assert (m.coef != 0).any() and (m.coef == 0).any()  # L1: some kept, some dropped
    assert np.allclose(m.prices(m.z(Y)), Y)  # the transform round-trips


@pytest.mark.realdata
def test_out_of_sample_mae_below_naive_on_30_days(zones):
    """Mechanism check: over 30 consecutive days LEAR's point forecast beats the naive one (D-1)."""
    days = [dt.date(2021, 4, 1) + dt.timedelta(days=i) for i in range(30)]
    err = {"lear": [], "naive": []}
    for d in days:
        cube = lear.lear_price_scenarios(zones["SE3"], d, n_scenarios=2, lookback_days=150, residual_days=7,
                                         refit_days=28,
                                         zones={"SE1": zones["SE1"], "SE4": zones["SE4"]})
        naive = bl.price_scenarios(zones["SE3"], d, n_scenarios=2, weight_last=1.0, lookback_days=7)
        actual = zones["SE3"].reindex(sc.time_index(cube)).to_numpy()
        err["lear"].append(np.abs(lear.point_forecast(cube) - actual))
        err["naive"].append(np.abs(lear.point_forecast(naive) - actual))
    mae = {k: float(np.mean(np.concatenate(v))) for k, v in err.items()}
    assert mae["lear"] < mae["naive"], mae


def test_too_little_history_is_bad_input():
    idx = pd.date_range("2022-01-01T00:00Z", periods=24 * 60, freq="h")
    s = pd.Series(50 + 10 * np.sin(np.arange(len(idx)) / 3.0), index=idx)
    with pytest.raises(InputError, match="complete days"):
        lear.lear_price_scenarios(s, "2022-02-25", **FAST)


def test_swedish_holidays():
    assert [easter_sunday(y) for y in (2021, 2022, 2024)] == [dt.date(2021, 4, 4), dt.date(2022, 4, 17),
                                                              dt.date(2024, 3, 31)]
    h = holidays(2022)
    for d in ("2022-01-06", "2022-04-15", "2022-04-18", "2022-05-26", "2022-06-05", "2022-06-06", "2022-06-24",
              "2022-06-25", "2022-11-05", "2022-12-24", "2022-12-31"):
        assert dt.date.fromisoformat(d) in h, d
    assert dt.date(2022, 6, 23) not in h and len(h) == 16


def test_case_selects_lear_with_other_zones():
    import bidopt
    from bidopt.bids.dayahead import price_scenarios, settings
    from tests.conftest import battery_case

    data = battery_case()
    data["bidding"] = {"forecaster": "lear", "forecast_zones": ["SE4", "SE3"], "n_scenarios": 4,
                       "lear_lookback_days": 120, "lear_residual_days": 7, "lear_refit_days": 14}
    case = bidopt.case_from_dict(data)
    cube = price_scenarios(case, "2024-03-14", 60, settings(case))
    assert cube.attrs["method"].startswith("lear") and cube.attrs["zones"] == "SE4"  # the case's own zone is not extra
    assert cube.sizes["scenario"] == 4 and cube.sizes["time"] == 24
    data["bidding"]["forecaster"] = "leer"
    with pytest.raises(InputError) as e:
        settings(bidopt.case_from_dict(data))
    assert e.value.field == "bidding.forecaster"
    data["bidding"].update(forecaster="lear", forecast_zones=["XX9"])
    with pytest.raises(InputError, match="XX9"):
        price_scenarios(bidopt.case_from_dict(data), "2024-03-14", 60, settings(bidopt.case_from_dict(data)))
