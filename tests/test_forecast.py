"""Scenario cubes (bidopt.forecast.scenarios) and the baseline forecasters (bidopt.forecast.baseline)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bidopt.data import synthetic
from bidopt.data.prices import read_price_csv
from bidopt.errors import InputError
from bidopt.forecast import baseline as bl
from bidopt.forecast import scenarios as sc
from bidopt.time import delivery_index, horizon_index
from tests.conftest import SHARED_DATA

DA_2022 = SHARED_DATA / "dayahead" / "entsoe_SE3_2022.csv"
DA_2021 = SHARED_DATA / "dayahead" / "entsoe_SE3_2021.csv"
FCR_2021 = SHARED_DATA / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv"


def _index(n=4, start="2022-01-01T00:00Z", freq="h"):
    return pd.date_range(start, periods=n, freq=freq, tz="UTC")


# ------------------------------------------------------------------------------------------ the cube


def test_make_scenarios_builds_a_cube():
    idx = _index(3)
    cube = sc.make_scenarios([[1, 2, 3], [4, 5, 6]], idx, [0.25, 0.75])
    assert cube.dims == ("scenario", "time")
    assert cube.name == "price_eur_per_mwh" and cube.attrs["units"] == "EUR/MWh"
    assert cube.coords["probability"].values.sum() == pytest.approx(1.0)
    t = sc.time_index(cube)
    assert str(t.tz) == "UTC" and t.name == "timestamp_utc" and (t == idx).all()
    assert sc.expected(cube).tolist() == pytest.approx([3.25, 4.25, 5.25])
    assert sc.quantiles(cube, 0.5).iloc[:, 0].tolist() == [4, 5, 6]
    assert sc.quantiles(cube, 0.2).iloc[:, 0].tolist() == [1, 2, 3]
    # naive timestamps are UTC
    naive = sc.make_scenarios([[1, 2, 3]], idx.tz_localize(None))
    assert (sc.time_index(naive) == idx).all()
    assert sc.validate(cube).equals(cube)


@pytest.mark.parametrize(
    "values, probs, kwargs, field, text",
    [
        ([1, 2, 3, 4], None, {}, "values", "2-D"),
        ([[1, 2, 3]], None, {}, "values", "3 values per scenario but the time index has 4"),
        ([[1, 2, np.nan, 4]], None, {}, "values", "2022-01-01T02:00:00Z"),
        ([[1, 2, 3, np.inf]], None, {}, "values", "not a finite number"),
        ([[1, 2, 3, 4], [1, 2, 3, 4]], [0.5, 0.6], {}, "probability", "sum to 1.1"),
        ([[1, 2, 3, 4], [1, 2, 3, 4]], [1.5, -0.5], {}, "probability", "negative"),
        ([[1, 2, 3, 4], [1, 2, 3, 4]], [1.0], {}, "probability", "1 probabilities for 2 scenarios"),
        ([[1, 2, 3, 4], [1, 2, 3, 4]], [0.5, np.nan], {}, "probability", "finite"),
        ([[1, 2, 3, 4], [1, 2, 3, 4]], None, {"scenarios": ["a", "a"]}, "scenario", "duplicate"),
        (np.zeros((0, 4)), None, {}, "values", "no scenarios"),
    ],
)
def test_make_scenarios_rejects_bad_input(values, probs, kwargs, field, text):
    with pytest.raises(InputError) as e:
        sc.make_scenarios(values, _index(4), probs, file="f.csv", **kwargs)
    assert e.value.file == "f.csv" and e.value.field == field and text in e.value.message


def test_make_scenarios_rejects_bad_index():
    idx = _index(3)[[0, 2, 1]]
    with pytest.raises(InputError, match="strictly increasing") as e:
        sc.make_scenarios([[1, 2, 3]], idx)
    assert e.value.field == "index"
    with pytest.raises(InputError, match="duplicate"):
        sc.make_scenarios([[1, 2, 3]], _index(3)[[0, 1, 1]])


def test_identical():
    s = pd.Series([10.0, -5.0, 30.0], index=_index(3), name="price_eur_per_mwh")
    cube = sc.identical(5, s)
    assert cube.shape == (5, 3)
    assert np.allclose(cube.values, s.to_numpy()[None, :])
    assert np.allclose(cube.coords["probability"].values, 0.2)
    pd.testing.assert_series_equal(sc.expected(cube), s.rename_axis("timestamp_utc"), check_freq=False)
    with pytest.raises(InputError):
        sc.identical(0, s)


def test_slice_holds_hourly_values_over_quarter_hours():
    day = delivery_index("2022-03-27", 60)  # 23 h
    cube = sc.make_scenarios(np.arange(46.0).reshape(2, 23), day, [0.4, 0.6])
    q = sc.for_day(cube, "2022-03-27", mtu_minutes=15)
    assert q.shape == (2, 92)
    assert np.array_equal(q.values, np.repeat(cube.values, 4, axis=1))
    assert np.allclose(q.coords["probability"].values, [0.4, 0.6])
    back = sc.slice_scenarios(q, day)  # finer -> coarser averages
    assert np.allclose(back.values, cube.values)
    with pytest.raises(InputError, match="no data for"):
        sc.for_day(cube, "2022-03-28")


# ------------------------------------------------------------------------------------------ files


def _cube():
    idx = horizon_index("2022-10-30", "2022-10-30", 60)  # 25 h
    rng = np.random.default_rng(1)
    return sc.make_scenarios(rng.normal(80, 40, (3, len(idx))), idx, [0.2, 0.3, 0.5])


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_csv_round_trip(tmp_path, layout):
    cube = _cube()
    path = sc.write_scenarios(cube, tmp_path / f"s_{layout}.csv", layout=layout)
    back = sc.read_scenarios(path)
    assert back.dims == cube.dims and back.name == cube.name
    assert np.array_equal(back.values, cube.values)  # exact float round-trip
    assert (sc.time_index(back) == sc.time_index(cube)).all()
    assert back.coords["scenario"].values.tolist() == [0, 1, 2]
    assert np.allclose(back.coords["probability"].values, [0.2, 0.3, 0.5])


def test_read_long_csv_any_row_order_and_equal_probabilities(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(
        "timestamp_utc,scenario,price_eur_per_mwh\n"
        "2022-01-01T01:00:00Z,high,12\n"
        "2022-01-01T00:00:00Z,low,1\n"
        "2022-01-01T00:00:00+00:00,high,11\n"
        "2022-01-01T01:00:00,low,2\n"
    )
    cube = sc.read_scenarios(path)
    assert cube.coords["scenario"].values.tolist() == ["high", "low"]
    assert cube.values.tolist() == [[11, 12], [1, 2]]
    assert np.allclose(cube.coords["probability"].values, 0.5)
    q = sc.read_scenarios(path, index=pd.date_range("2022-01-01", periods=8, freq="15min", tz="UTC"))
    assert q.values[0].tolist() == [11] * 4 + [12] * 4
    over = sc.read_scenarios(path, probabilities=[0.9, 0.1])
    assert np.allclose(over.coords["probability"].values, [0.9, 0.1])


def test_read_wide_csv_with_probability_row(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(
        "timestamp_utc,dry,wet\n"
        "probability,0.25,0.75\n"
        "2022-06-01T00:00:00Z,50,20\n"
        "2022-06-01T01:00:00Z,55,21\n"
    )
    cube = sc.read_scenarios(path)
    assert cube.coords["scenario"].values.tolist() == ["dry", "wet"]
    assert np.allclose(cube.coords["probability"].values, [0.25, 0.75])
    assert sc.expected(cube).tolist() == pytest.approx([27.5, 29.5])


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("timestamp_utc,scenario,price_eur_per_mwh\n2022-01-01T00:00Z,0,1\n2022-01-01T00:00Z,1,\n",
         "row 2 (2022-01-01T00:00:00Z)", "missing value"),
        ("timestamp_utc,scenario,price_eur_per_mwh\n2022-01-01T00:00Z,0,1\n2022-01-01T01:00Z,0,x\n",
         "row 2 (2022-01-01T01:00:00Z)", "not a number"),
        ("timestamp_utc,scenario,price_eur_per_mwh\n2022-01-01T00:00Z,0,1\n2022-01-01T01:00Z,0,2\n"
         "2022-01-01T00:00Z,1,3\n", "scenario", "scenario 1 has no value for 2022-01-01T01:00:00Z"),
        ("timestamp_utc,scenario,price_eur_per_mwh\n2022-01-01T00:00Z,0,1\n2022-01-01T00:00Z,0,2\n",
         "row 2 (2022-01-01T00:00:00Z)", "duplicate"),
        ("timestamp_utc,scenario,price_eur_per_mwh,probability\n2022-01-01T00:00Z,0,1,0.5\n"
         "2022-01-01T01:00Z,0,1,0.4\n2022-01-01T00:00Z,1,1,0.5\n2022-01-01T01:00Z,1,1,0.5\n",
         "row 2", "different probabilities"),
        ("timestamp_utc,scenario,price_eur_per_mwh,probability\n2022-01-01T00:00Z,0,1,0.5\n"
         "2022-01-01T00:00Z,1,1,0.6\n", "probability", "sum to 1.1"),
        ("timestamp_utc,scenario,price_eur_per_mwh\n2022-01-01T00:00Z,0,1\n2022-01-01T03:00Z,0,1\n"
         "2022-01-01T04:00Z,0,1\n2022-01-01T05:00Z,0,1\n", "row 2 (2022-01-01T03:00:00Z)", "gap"),
        ("timestamp_utc,a,b\n2022-01-01T00:00Z,1,2\nnot a time,1,2\n", "row 2", "cannot parse timestamp"),
        ("time,a,b\n2022-01-01T00:00Z,1,2\n", "columns", "timestamp_utc"),
    ],
)
def test_read_scenarios_errors_name_the_row(tmp_path, text, field, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        sc.read_scenarios(path)
    assert e.value.file == str(path) and e.value.field == field and message in e.value.message


def test_read_scenarios_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        sc.read_scenarios(tmp_path / "nope.csv")


def test_parquet(tmp_path):
    cube = _cube()
    path = tmp_path / "s.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pyarrow"):
            sc.write_scenarios(cube, path)
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(InputError, match="install pyarrow"):
            sc.read_scenarios(path)
        return
    back = sc.read_scenarios(sc.write_scenarios(cube, path))
    assert np.array_equal(back.values, cube.values)
    assert np.allclose(back.coords["probability"].values, cube.coords["probability"].values)


# ------------------------------------------------------------------------------------ publication


def test_publication_time_and_gate():
    # values of local day 2022-03-27 (CET -> CEST) were published 2022-03-26 12:45 CET = 11:45Z
    idx = delivery_index("2022-03-27", 60)
    pub = bl.publication_time(idx)
    assert (pub == pd.Timestamp("2022-03-26T11:45Z")).all()
    # a summer day: 12:45 CEST = 10:45Z; the first UTC hour of a local day belongs to that day
    assert bl.publication_time(pd.DatetimeIndex([pd.Timestamp("2022-06-30T22:00Z")]))[0] == pd.Timestamp(
        "2022-06-30T10:45Z"
    )
    assert bl.gate_time("2022-03-28") == pd.Timestamp("2022-03-27T10:00Z")  # 12:00 CEST
    assert bl.gate_time("2022-10-31", bl.FCR_GATE) == pd.Timestamp("2022-10-29T22:30Z")  # 00:30 CEST
    assert bl.gate_time("2022-11-02", bl.FCR_GATE) == pd.Timestamp("2022-10-31T23:30Z")  # 00:30 CET


# ------------------------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def se3() -> pd.Series:
    if not DA_2022.is_file():
        pytest.skip(f"real data not found at {DA_2022}")
    parts = [read_price_csv(p) for p in (DA_2021, DA_2022) if p.is_file()]
    return pd.concat(parts).sort_index()


@pytest.fixture(scope="module")
def fcr_n() -> pd.Series:
    if not FCR_2021.is_file():
        pytest.skip(f"real data not found at {FCR_2021}")
    from bidopt.data.reserve_prices import read_reserve_prices

    return read_reserve_prices(FCR_2021, "fcr_n")


@pytest.mark.realdata
def test_price_scenarios_shape_and_probabilities(se3):
    cube = bl.price_scenarios(se3, "2022-06-15", n_scenarios=20, seed=3)
    assert cube.shape == (20, 24) and cube.name == "price_eur_per_mwh"
    assert np.allclose(cube.coords["probability"].values, 1 / 20)
    assert (sc.time_index(cube) == delivery_index("2022-06-15", 60)).all()
    assert np.isfinite(cube.values).all()
    assert cube.attrs["gate_utc"] == "2022-06-14T10:00:00Z" and cube.attrs["residual_days"] == 56
    again = bl.price_scenarios(se3, "2022-06-15", n_scenarios=20, seed=3)
    assert np.array_equal(again.values, cube.values)  # deterministic per seed
    other = bl.price_scenarios(se3, "2022-06-15", n_scenarios=20, seed=4)
    assert not np.array_equal(other.values, cube.values)
    many = bl.price_scenarios(se3, "2022-06-15", n_scenarios=200)  # more than the residual days
    assert many.shape == (200, 24)
    naive = bl.price_scenarios(se3, "2022-06-15", method="naive")
    assert naive.shape == (20, 24)


@pytest.mark.realdata
@pytest.mark.parametrize("day, hours", [("2022-03-27", 23), ("2022-10-30", 25), ("2022-03-28", 24)])
def test_price_scenarios_dst_days(se3, day, hours):
    hourly = bl.price_scenarios(se3, day)
    assert hourly.shape == (20, hours)
    quarter = bl.price_scenarios(se3, day, mtu_minutes=15)
    assert quarter.shape == (20, 4 * hours)
    assert (sc.time_index(quarter) == delivery_index(day, 15)).all()
    # hourly scenario values held over the four quarter-hours of each hour
    assert np.array_equal(quarter.values, np.repeat(hourly.values, 4, axis=1))


@pytest.mark.realdata
@pytest.mark.parametrize("day", ["2022-03-27", "2022-08-16", "2022-10-30", "2022-12-12"])
def test_no_look_ahead(se3, day):
    """Values published after the gate (prices of D and later) can change arbitrarily: no effect."""
    base = bl.price_scenarios(se3, day, seed=7)
    gate = bl.gate_time(day)
    late = np.asarray(bl.publication_time(se3.index) > gate)
    d_idx = delivery_index(day, 60)
    assert late[se3.index.isin(d_idx)].all()  # the forecast day itself is unpublished at the gate
    assert not late[se3.index.isin(delivery_index(pd.Timestamp(day) - pd.Timedelta(days=1), 60))].any()
    tampered = se3.copy()
    tampered[late] = tampered[late] * -7.0 + 1000.0
    assert np.array_equal(bl.price_scenarios(tampered, day, seed=7).values, base.values)
    # dropping them is the same as changing them
    assert np.array_equal(bl.price_scenarios(se3[~late], day, seed=7).values, base.values)
    # positive control: D-1 (published D-2 12:45, before the gate) is used
    d1 = se3.index.isin(delivery_index(pd.Timestamp(day) - pd.Timedelta(days=1), 60))
    changed = se3.copy()
    changed[d1] += 50.0
    assert not np.array_equal(bl.price_scenarios(changed, day, seed=7).values, base.values)
    # an earlier gate (D-2 12:00) hides D-1 as well
    early = bl.gate_time(day, days_before=2)
    hidden = bl.price_scenarios(se3, day, seed=7, gate_utc=early)
    assert np.array_equal(bl.price_scenarios(changed, day, seed=7, gate_utc=early).values, hidden.values)


@pytest.mark.realdata
def test_coverage_and_error_over_a_month(se3):
    """Median-scenario error is finite and the 10-90 % band covers the realised price fairly often.

    Measured (SE3, 2022-09-01 .. 2022-09-30, a volatile month: mean price 212 EUR/MWh, std 161; 20
    scenarios, defaults): MAE 96.8 EUR/MWh, bias +13.6, 80 % band coverage 0.76. (Every day
    2021-03 .. 2022-12: MAE 42.9 EUR/MWh, coverage 0.73.)
    """
    err, inside = [], []
    for day in pd.date_range("2022-09-01", "2022-09-30").date:
        cube = bl.price_scenarios(se3, day)
        actual = se3.reindex(sc.time_index(cube)).to_numpy()
        q = sc.quantiles(cube, [0.1, 0.5, 0.9]).to_numpy()
        err.append(q[:, 1] - actual)
        inside.append((actual >= q[:, 0]) & (actual <= q[:, 2]))
    err, inside = np.concatenate(err), np.concatenate(inside)
    mae, coverage = float(np.abs(err).mean()), float(inside.mean())
    print(f"SE3 Sept 2022: MAE {mae:.1f} EUR/MWh, bias {err.mean():+.1f}, 80% band coverage {coverage:.2f}")
    assert np.isfinite(err.mean()) and np.isfinite(mae)
    assert coverage > 0.3
    assert mae < 200.0


@pytest.mark.realdata
def test_fcr_scenarios_and_no_look_ahead(fcr_n):
    """2021 rules (bidopt/defaults/fcr_rules.toml): auction 1 for D closed D-2 15:00, so neither D's
    nor D-1's FCR prices (published D-2 19:00, after auction 2) are known; D-2's are."""
    day = "2021-10-31"  # 25 h
    cube = bl.fcr_price_scenarios(fcr_n, day, n_scenarios=10)
    assert cube.shape == (10, 25) and cube.name == "price_eur_per_mw_h" and cube.attrs["units"] == "EUR/MW/h"
    assert (cube.values >= 0).all()
    assert cube.attrs["gate_utc"] == "2021-10-29T13:00:00Z"  # 15:00 CEST on D-2
    assert cube.attrs["lag_days"] == 2
    gate = bl.fcr_gate_time(day)
    late = np.asarray(bl.publication_time(fcr_n.index, bl.FCR_PUBLICATION) > gate)
    tampered = fcr_n.copy()
    tampered[late] = 999.0
    assert np.array_equal(bl.fcr_price_scenarios(tampered, day, n_scenarios=10).values, cube.values)
    # D-1's FCR prices are published after the gate (no effect); D-2's before it (they move the forecast)
    d1 = fcr_n.index.isin(delivery_index("2021-10-30", 60))
    d2 = fcr_n.index.isin(delivery_index("2021-10-29", 60))
    assert late[d1].all() and not late[d2].any()
    for days_ago, known in ((d1, False), (d2, True)):
        moved = fcr_n.copy()
        moved[days_ago] += 10.0
        same = np.array_equal(bl.fcr_price_scenarios(moved, day, n_scenarios=10).values, cube.values)
        assert same is not known
    # today's gate (auction 1 at D-1 00:30) would have seen D-1
    today = bl.gate_time(day, bl.FCR_GATE)
    moved = fcr_n.copy()
    moved[d1] += 10.0
    assert not np.array_equal(bl.fcr_price_scenarios(moved, day, n_scenarios=10, gate_utc=today).values,
                              bl.fcr_price_scenarios(fcr_n, day, n_scenarios=10, gate_utc=today).values)


# ------------------------------------------------------------------------- synthetic, 15-min history


def test_quarter_hour_history_and_errors():
    idx = horizon_index("2025-10-01", "2025-11-30", 15)
    hist = synthetic.dayahead_prices(idx, zone="SE3", seed=1)
    cube = bl.price_scenarios(hist, "2025-10-26", mtu_minutes=15, n_scenarios=8)  # 25 h, 100 quarters
    assert cube.shape == (8, 100)
    hourly = bl.price_scenarios(hist, "2025-10-26", mtu_minutes=60, n_scenarios=8)
    assert np.array_equal(cube.values, np.repeat(hourly.values, 4, axis=1))
    # too little known history
    with pytest.raises(InputError, match="at least 8 days"):
        bl.price_scenarios(hist, "2025-10-05")
    with pytest.raises(InputError, match="no complete local day"):
        bl.price_scenarios(hist, "2025-10-01")
    with pytest.raises(InputError) as e:
        bl.price_scenarios(hist, "2025-11-10", method="magic")
    assert e.value.field == "method"
    with pytest.raises(InputError):
        bl.price_scenarios(hist, "2025-11-10", weight_last=1.5)


def test_gate_after_publication_still_never_uses_the_day_itself():
    idx = horizon_index("2025-10-01", "2025-11-30", 60)
    hist = synthetic.dayahead_prices(idx, zone="SE3", seed=2)
    day = dt.date(2025, 11, 10)
    late_gate = pd.Timestamp("2025-11-11T00:00Z")
    a = bl.price_scenarios(hist, day, gate_utc=late_gate)
    b = bl.price_scenarios(hist[hist.index < delivery_index(day)[0]], day, gate_utc=late_gate)
    assert np.array_equal(a.values, b.values)
