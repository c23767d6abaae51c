"""Tests for bidopt.data.prices: real ENTSO-E/Energinet files (when present) and synthetic edge cases."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bidopt.data.prices import check_series, read_price_csv, read_series_csv, slice_day
from bidopt.errors import InputError
from bidopt.time import delivery_index

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIDOPT_SHARED_DATA", REPO.parent / "shared" / "data"))
DAYAHEAD = SHARED / "dayahead"
TZ = "Europe/Stockholm"


def shared(name: str) -> Path:
    p = DAYAHEAD / name
    if not p.is_file():
        pytest.skip(f"shared data file {p} not present")
    return p


@pytest.fixture(scope="module")
def se3_2022() -> pd.Series:
    return read_price_csv(shared("entsoe_SE3_2022.csv"))


def local_day(s: pd.Series, day: str) -> pd.Series:
    return s[s.index.tz_convert(TZ).strftime("%Y-%m-%d") == day]


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_entsoe_se3_2022_shape_and_index(se3_2022):
    s = se3_2022
    assert len(s) == 8760
    assert s.name == "price_eur_per_mwh"
    assert s.index.name == "timestamp_utc"
    assert str(s.index.tz) == "UTC"
    assert s.dtype == float
    assert s.index.is_monotonic_increasing and s.index.is_unique
    assert not s.isna().any()
    assert s.index[0] == pd.Timestamp("2021-12-31T23:00Z")
    assert s.index[-1] == pd.Timestamp("2022-12-31T22:00Z")
    assert (np.diff(s.index.asi8) == np.diff(s.index.asi8)[0]).all()  # gapless hourly UTC


@pytest.mark.realdata
def test_entsoe_dst_days(se3_2022):
    assert len(local_day(se3_2022, "2022-03-27")) == 23
    autumn = local_day(se3_2022, "2022-10-30")
    assert len(autumn) == 25
    # the local 02:00 hour appears twice: CEST (00:00Z) first, then CET (01:00Z)
    assert se3_2022[pd.Timestamp("2022-10-30T00:00Z")] == pytest.approx(15.47)
    assert se3_2022[pd.Timestamp("2022-10-30T01:00Z")] == pytest.approx(16.28)
    assert se3_2022[pd.Timestamp("2022-10-30T02:00Z")] == pytest.approx(16.44)


@pytest.mark.realdata
def test_known_means(se3_2022):
    assert se3_2022.mean() == pytest.approx(129, abs=1)
    se4 = read_price_csv(shared("entsoe_SE4_2022.csv"))
    aug = se4[se4.index.tz_convert(TZ).month == 8]
    assert len(aug) == 31 * 24
    assert aug.mean() == pytest.approx(289, abs=1)
    assert aug.max() == pytest.approx(799.97)


@pytest.mark.realdata
def test_entsoe_agrees_with_wide_table(se3_2022):
    wide = read_price_csv(shared("se1-se4_dayahead_2016-2022_utc.csv.gz"), zone="SE3")
    assert wide.index[0] == pd.Timestamp("2015-12-31T23:00Z")
    assert wide.index[-1] == pd.Timestamp("2022-12-31T22:00Z")
    part = wide.loc[se3_2022.index[0] : se3_2022.index[-1]]
    assert part.index.equals(se3_2022.index)
    np.testing.assert_allclose(part.to_numpy(), se3_2022.to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.realdata
def test_wide_table_needs_zone():
    path = shared("se1-se4_dayahead_2016-2022_utc.csv.gz")
    for zone in (None, "DK1"):
        with pytest.raises(InputError) as e:
            read_price_csv(path, zone=zone)
        assert e.value.field == "zone"
        assert str(path) in str(e.value) and "SE3" in str(e.value)


@pytest.mark.realdata
def test_energinet_dk2_loads_sorted():
    path = shared("energinet_elspot_DK2_2018-2022.csv")
    s = read_price_csv(path, zone="DK2")
    assert s.index.is_monotonic_increasing and s.index.is_unique
    assert s.index[0] == pd.Timestamp("2018-01-01T00:00Z")
    assert s.index[-1] == pd.Timestamp("2022-03-20T23:00Z")
    assert s[pd.Timestamp("2022-03-20T23:00Z")] == pytest.approx(16.44)
    # a zone the file does not hold is refused, naming both
    with pytest.raises(InputError) as e:
        read_price_csv(path, zone="SE3")
    assert e.value.field == "zone" and "DK2" in e.value.message and "SE3" in e.value.message


# ----------------------------------------------------------------------------------- synthetic files


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def plain(rows: list[tuple[str, str]]) -> str:
    return "timestamp_utc,price_eur_per_mwh\n" + "".join(f"{t},{v}\n" for t, v in rows)


def hours(n: int, start: str = "2022-01-01T00:00:00Z") -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in pd.date_range(start, periods=n, freq="h")]


def test_plain_csv_timestamp_forms(tmp_path):
    p = write(
        tmp_path,
        "prices.csv",
        plain(
            [
                ("2022-01-01T00:00:00Z", "10"),
                ("2022-01-01T01:00:00+00:00", "-5.5"),
                ("2022-01-01 02:00:00", "0"),
                ("2022-01-01T04:00:00+01:00", "12.25"),
            ]
        ),
    )
    s = read_price_csv(p)
    assert list(s.index) == list(pd.date_range("2022-01-01T00:00Z", periods=4, freq="h"))
    assert s.tolist() == [10.0, -5.5, 0.0, 12.25]
    assert s.index.name == "timestamp_utc" and s.name == "price_eur_per_mwh"


ERROR_CASES = {
    # name: (rows, editor line (header = line 1) and timestamp the message must name, words in the message)
    "duplicate": (
        [(t, "1") for t in hours(17)]
        + [(hours(17)[-1], "2")]
        + [(t, "1") for t in hours(5, "2022-01-01T17:00Z")],
        "line 19 (2022-01-01T16:00:00Z)",
        "duplicate",
    ),
    "unsorted": (
        [(t, "1") for t in hours(5)[:2] + [hours(5)[3], hours(5)[2]] + hours(5)[4:]],
        "line 5 (2022-01-01T02:00:00Z)",
        "order",
    ),
    "gap": ([(t, "1") for i, t in enumerate(hours(24)) if i != 9], "line 11 (2022-01-01T10:00:00Z)", "gap"),
    "non_numeric": (
        [(t, "abc" if i == 4 else "1") for i, t in enumerate(hours(24))],
        "line 6 (2022-01-01T04:00:00Z)",
        "not a number",  # the cell itself is not quoted (errors: no data-file values in messages)
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_plain_csv_errors_name_file_and_row(tmp_path, case):
    rows, where, word = ERROR_CASES[case]
    p = write(tmp_path, "prices.csv", plain(rows))
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: {where}: "), msg
    assert word in msg
    assert "\n" not in msg
    assert e.value.exit_code == 2


def test_plain_csv_missing_value_is_an_error_only_where_needed(tmp_path):
    rows = [(t, "" if i == 16 else "1") for i, t in enumerate(hours(48))]
    p = write(tmp_path, "prices.csv", plain(rows))
    s = read_price_csv(p)
    assert np.isnan(s.iloc[16]) and s.drop(s.index[16]).eq(1.0).all()
    # a day that does not need the hour plans; one that does names the line (header = line 1)
    assert slice_day(s, pd.date_range("2022-01-01T23:00Z", periods=24, freq="h"), p, "prices.dayahead").eq(1).all()
    with pytest.raises(InputError) as e:
        slice_day(s, pd.date_range("2022-01-01T00:00Z", periods=24, freq="h"), p, "prices.dayahead")
    assert str(e.value) == (f"{p}: line 18 (2022-01-01T16:00:00Z): price_eur_per_mwh: no value, "
                            "needed for prices.dayahead")


def test_gap_message_names_missing_mtu(tmp_path):
    rows = [(t, "1") for i, t in enumerate(hours(24)) if i not in (9, 10)]
    with pytest.raises(InputError, match=r"no data from 2022-01-01T09:00:00Z"):
        read_price_csv(write(tmp_path, "prices.csv", plain(rows)))


def test_bad_timestamp(tmp_path):
    rows = [(t, "1") for t in hours(3)] + [("yesterday", "1")]
    with pytest.raises(InputError, match=r"line 5: timestamp_utc: cannot parse timestamp$"):
        read_price_csv(write(tmp_path, "prices.csv", plain(rows)))


def test_missing_file(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    assert str(e.value) == f"{p}: file not found"
    with pytest.raises(InputError, match="file not found"):
        read_series_csv(p)


def test_unknown_columns(tmp_path):
    p = write(tmp_path, "weird.csv", "when,cost\n2022-01-01,3\n")
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    assert e.value.field == "columns"
    assert str(e.value).startswith(f"{p}: columns: unrecognised price file: expected")
    assert "when, cost" in str(e.value)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        read_price_csv(write(tmp_path, "empty.csv", ""))
    with pytest.raises(InputError, match="no data rows"):
        read_price_csv(write(tmp_path, "header.csv", "timestamp_utc,price_eur_per_mwh\n"))


def entsoe(rows: list[tuple[str, str]], zone: str = "SE3") -> str:
    head = f'"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|{zone}"\n'
    return head + "".join(f'"{label}","{v}","{"EUR" if v else ""}"\n' for label, v in rows)


def entsoe_labels(start_local: str, end_local: str, minutes: int, suffix: bool) -> list[str]:
    """ENTSO-E MTU labels for a local span, with DST repeats/blanks as the platform writes them."""
    utc = pd.date_range(
        pd.Timestamp(start_local, tz=TZ),
        pd.Timestamp(end_local, tz=TZ),
        freq=f"{minutes}min",
        inclusive="left",
    )
    labels = []
    for t in utc.tz_convert(TZ):
        a, b = t, t + pd.Timedelta(minutes=minutes)
        fa = a.strftime("%d.%m.%Y %H:%M") + (f" ({a.tzname()})" if suffix else "")
        fb = b.tz_convert(TZ).strftime("%d.%m.%Y %H:%M") + (
            f" ({b.tz_convert(TZ).tzname()})" if suffix else ""
        )
        labels.append(f"{fa} - {fb}")
    return labels


@pytest.mark.parametrize("suffix", [False, True])
@pytest.mark.parametrize("minutes", [60, 15])
def test_entsoe_variants_autumn(tmp_path, minutes, suffix):
    labels = entsoe_labels("2025-10-26", "2025-10-27", minutes, suffix)
    assert len(labels) == 25 * 60 // minutes
    p = write(tmp_path, "entsoe.csv", entsoe([(lab, f"{i}.5") for i, lab in enumerate(labels)]))
    s = read_price_csv(p)
    assert s.index.equals(delivery_index("2025-10-26", minutes))
    assert s.tolist() == [i + 0.5 for i in range(len(labels))]


@pytest.mark.parametrize("minutes", [60, 15])
def test_entsoe_variants_spring(tmp_path, minutes):
    labels = entsoe_labels("2025-03-30", "2025-03-31", minutes, False)
    # the platform also lists the non-existent 02:00 hour, with an empty price
    skipped = [
        f"30.03.2025 02:{m:02d} - 30.03.2025 {'03:00' if m + minutes == 60 else f'02:{m + minutes:02d}'}"
        for m in range(0, 60, minutes)
    ]
    k = 2 * 60 // minutes
    rows = (
        [(lab, "1") for lab in labels[:k]]
        + [(lab, "") for lab in skipped]
        + [(lab, "2") for lab in labels[k:]]
    )
    s = read_price_csv(write(tmp_path, "entsoe.csv", entsoe(rows)))
    assert s.index.equals(delivery_index("2025-03-30", minutes))
    assert len(s) == 23 * 60 // minutes


def test_entsoe_empty_price_elsewhere_is_missing(tmp_path):
    labels = entsoe_labels("2022-06-01", "2022-06-02", 60, False)
    rows = [(lab, "" if i == 5 else "1") for i, lab in enumerate(labels)]
    p = write(tmp_path, "entsoe.csv", entsoe(rows))
    s = read_price_csv(p)
    assert len(s) == 24 and np.isnan(s.iloc[5])
    with pytest.raises(InputError) as e:
        slice_day(s, delivery_index("2022-06-01", 15), p, "prices.dayahead")
    assert str(e.value).startswith(f"{p}: line 7 (2022-06-01T03:00:00Z): Day-ahead Price [EUR/MWh]: no value")


def test_entsoe_priced_nonexistent_hour_is_an_error(tmp_path):
    labels = entsoe_labels("2022-03-27", "2022-03-28", 60, False)
    rows = [(lab, "1") for lab in labels[:2]] + [("27.03.2022 02:00 - 27.03.2022 03:00", "7")]
    rows += [(lab, "1") for lab in labels[2:]]
    with pytest.raises(InputError, match=r"line 4: .*does not exist"):
        read_price_csv(write(tmp_path, "entsoe.csv", entsoe(rows)))


def test_energinet_newest_first_and_zone_filter(tmp_path):
    times = pd.date_range("2022-01-01T00:00Z", periods=6, freq="h")
    lines = ["\ufeffHourUTC,HourDK,PriceArea,SpotPriceDKK,SpotPriceEUR"]
    for area, off in (("DK1", 0.0), ("DK2", 100.0)):
        for i, t in enumerate(times):
            lines.append(
                f"{t:%Y-%m-%dT%H:%M:%S}+00:00,{t.tz_convert(TZ):%Y-%m-%dT%H:%M:%S},{area},0,{off + i}"
            )
    text = "\n".join([lines[0]] + lines[1:][::-1]) + "\n"  # newest first
    p = write(tmp_path, "elspot.csv", text)
    dk2 = read_price_csv(p, zone="DK2")
    assert dk2.index.equals(pd.DatetimeIndex(times, name="timestamp_utc"))
    assert dk2.tolist() == [100.0 + i for i in range(6)]
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    assert e.value.field == "zone" and "DK1, DK2" in str(e.value)


def test_energinet_error_uses_file_line(tmp_path):
    times = pd.date_range("2022-01-01T00:00Z", periods=6, freq="h")[::-1]
    lines = ["HourUTC,HourDK,PriceArea,SpotPriceDKK,SpotPriceEUR"]
    lines += [f"{t:%Y-%m-%dT%H:%M:%S}+00:00,x,DK2,0,{'' if i == 1 else i}" for i, t in enumerate(times)]
    p = write(tmp_path, "elspot.csv", "\n".join(lines) + "\n")
    s = read_price_csv(p, zone="DK2")
    with pytest.raises(InputError, match=r"line 3 \(2022-01-01T04:00:00Z\): SpotPriceEUR: no value"):
        slice_day(s, s.index, p, "prices.dayahead")
    lines[3] = lines[3].rsplit(",", 1)[0] + ",x"
    with pytest.raises(InputError, match=r"line 4 \(2022-01-01T03:00:00Z\): SpotPriceEUR: not a number$"):
        read_price_csv(write(tmp_path, "elspot.csv", "\n".join(lines) + "\n"), zone="DK2")


def test_gzip_wide_table(tmp_path):
    p = tmp_path / "wide.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("start_utc,SE1,SE2\n2022-01-01 00:00:00+00:00,1,2\n2022-01-01 01:00:00+00:00,3,4\n")
    assert read_price_csv(p, zone="SE2").tolist() == [2.0, 4.0]


def test_read_series_csv(tmp_path):
    p = write(
        tmp_path,
        "load.csv",
        "timestamp_utc,load_mw\n" + "".join(f"{t},{i}\n" for i, t in enumerate(hours(4))),
    )
    s = read_series_csv(p, name="load_mw")
    assert s.name == "load_mw" and s.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert str(s.index.tz) == "UTC" and s.index.name == "timestamp_utc"
    q = write(
        tmp_path,
        "two.csv",
        "timestamp_utc,a,b\n" + "".join(f"{t},{i},{-i}\n" for i, t in enumerate(hours(4))),
    )
    assert read_series_csv(q, value_column="b").tolist() == [0.0, -1.0, -2.0, -3.0]
    with pytest.raises(InputError) as e:
        read_series_csv(q)
    assert e.value.field == "columns"
    with pytest.raises(InputError) as e:
        read_series_csv(q, value_column="c")
    assert e.value.field == "c"
    bad = write(tmp_path, "bad.csv", "timestamp_utc,pv_mw\n" + "".join(f"{t},1\n" for t in hours(4)[::-1]))
    with pytest.raises(InputError, match=r"line 3 .*ascending"):
        read_series_csv(bad)


def test_check_series_accepts_change_to_15_minutes():
    idx = pd.date_range("2025-09-30T22:00Z", periods=4, freq="h").append(
        pd.date_range("2025-10-01T02:00Z", periods=8, freq="15min")
    )
    s = check_series(pd.Series(np.arange(12.0), index=idx), "f.csv", "price")
    assert len(s) == 12
    with pytest.raises(InputError, match="gap"):
        check_series(pd.Series(np.arange(11.0), index=idx.delete(4)), "f.csv", "price")


# ------------------------------------------------------------------------------------------ slice_day


@pytest.mark.realdata
@pytest.mark.parametrize(("day", "n_hours"), [("2022-03-27", 23), ("2022-06-01", 24), ("2022-10-30", 25)])
def test_slice_day_real(se3_2022, day, n_hours):
    hourly = slice_day(se3_2022, delivery_index(day, 60), "f", "prices.dayahead")
    assert len(hourly) == n_hours
    assert hourly.index.equals(delivery_index(day, 60))
    np.testing.assert_array_equal(hourly.to_numpy(), local_day(se3_2022, day).to_numpy())
    quarter = slice_day(se3_2022, delivery_index(day, 15), "f", "prices.dayahead")
    assert len(quarter) == 4 * n_hours
    np.testing.assert_array_equal(quarter.to_numpy(), np.repeat(hourly.to_numpy(), 4))
    # and back: averaging the quarter-hours gives the hourly prices
    back = slice_day(quarter, delivery_index(day, 60), "f", "prices.dayahead")
    np.testing.assert_allclose(back.to_numpy(), hourly.to_numpy())


@pytest.mark.parametrize(("day", "n_hours"), [("2022-03-27", 23), ("2022-06-01", 24), ("2022-10-30", 25)])
@pytest.mark.parametrize("minutes", [60, 15])
def test_slice_day_synthetic(day, n_hours, minutes):
    idx = pd.date_range("2022-01-01T00:00Z", "2022-12-31T23:45Z", freq="15min")
    fine = pd.Series(np.arange(len(idx), dtype=float), index=idx)
    out = slice_day(fine, delivery_index(day, minutes), "f", "load")
    assert len(out) == n_hours * 60 // minutes
    expected = (
        fine.loc[out.index[0] :].to_numpy()[: len(out) * minutes // 15].reshape(len(out), -1).mean(axis=1)
    )
    np.testing.assert_allclose(out.to_numpy(), expected)


@pytest.mark.realdata
def test_slice_day_not_covered(se3_2022):
    with pytest.raises(InputError) as e:
        slice_day(se3_2022, delivery_index("2023-05-01", 60), "prices.csv", "prices.dayahead")
    msg = str(e.value)
    assert msg.startswith("prices.csv: prices.dayahead: no data for 2023-04-30T22:00:00Z")
    assert "2021-12-31T23:00:00Z" in msg and "2022-12-31T22:00:00Z" in msg


def test_slice_day_hole_inside(tmp_path):
    idx = pd.date_range("2022-06-01T00:00Z", periods=48, freq="h")
    s = pd.Series(1.0, index=idx.delete(30))
    with pytest.raises(InputError, match=r"no data for 2022-06-02T06:00:00Z"):
        slice_day(s, delivery_index("2022-06-02", 15), "x.csv", "pv")
