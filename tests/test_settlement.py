"""Imbalance settlement, balancing price files and realised monthly tariff bills.

The real Energinet file is checked against the raw CSV read independently with the ``csv`` module;
settlement arithmetic against hand-made numbers; monthly bills against the tariffs' published rates
computed here by hand (not through the tariff classes).
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bidopt
from bidopt.backtest import settlement as S
from bidopt.case import case_from_dict
from bidopt.data import balancing_prices as bp
from bidopt.errors import InputError
from tests.conftest import REPO, SHARED_DATA, battery_case

ENERGINET = SHARED_DATA / "ancillary" / "energinet_regulating_balancing_power_DK2_2021.csv"
HEADER = (
    "HourUTC,HourDK,PriceArea,ImbalanceSurplus,ImbalanceDeficit,RegulatingPowerDown,RegulatingPowerUp,"
    "BalancingPowerPriceUpDKK,BalancingPowerPriceUpEUR,BalancingPowerPriceDownDKK,BalancingPowerPriceDownEUR,"
    "BalancingPowerConsumptionPriceDKK,BalancingPowerConsumptionPriceEUR"
)


def _need(path):
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def _utc(*stamps):
    return pd.DatetimeIndex(list(stamps), tz="UTC")


# ------------------------------------------------------------------------ Energinet file (real data)


@pytest.mark.realdata
def test_energinet_dk2_2021_is_a_full_utc_year_with_the_dst_hour_filled():
    df = bp.read_balancing_prices(_need(ENERGINET))
    assert df.index.name == "timestamp_utc" and str(df.index.tz) == "UTC"
    assert len(df) == 8760  # the file has 8759 rows: one of the two local 02:00 of 31 Oct is absent
    assert df.index[0] == pd.Timestamp("2021-01-01T00:00Z") and df.index[-1] == pd.Timestamp("2021-12-31T23:00Z")
    assert (np.diff(df.index.as_unit("ns").asi8) == pd.Timedelta(hours=1).value).all()
    assert not df.isna().any().any()
    assert df.attrs["area"] == "DK2"
    assert list(df.index[df[bp.FILLED]]) == [pd.Timestamp("2021-10-31T00:00Z")]
    # filled from the row carrying the same local label (HourDK 2021-10-31T02:00 = 01:00Z)
    a, b = df.loc["2021-10-31T00:00Z"], df.loc["2021-10-31T01:00Z"]
    for c in bp.PRICE_COLUMNS:
        assert a[c] == b[c]


@pytest.mark.realdata
def test_energinet_values_match_the_raw_csv():
    df = bp.read_balancing_prices(_need(ENERGINET))
    with open(ENERGINET, encoding="utf-8-sig", newline="") as f:
        raw = list(csv.DictReader(f))
    assert len(raw) == 8759
    # spot checks: the first data line and a two-price hour (up != down)
    first = raw[0]
    assert first["HourUTC"] == "2021-12-31T23:00:00+00:00"
    row = df.loc[pd.Timestamp(first["HourUTC"])]
    assert row[bp.UP] == pytest.approx(46.59987898)
    assert row[bp.DOWN] == pytest.approx(46.59987898)
    assert row[bp.IMBALANCE] == pytest.approx(46.59987898)
    second = df.loc["2021-12-31T22:00Z"]
    assert second[bp.UP] == pytest.approx(46.55415854) and second[bp.DOWN] == pytest.approx(29.75996773)
    # and every present row, column by column
    stamps = pd.DatetimeIndex([r["HourUTC"] for r in raw])
    for col, src in ((bp.UP, "BalancingPowerPriceUpEUR"), (bp.DOWN, "BalancingPowerPriceDownEUR"),
                     (bp.IMBALANCE, "BalancingPowerConsumptionPriceEUR"),
                     ("regulating_up_mwh", "RegulatingPowerUp"), ("regulating_down_mwh", "RegulatingPowerDown")):
        expected = np.array([float(r[src]) for r in raw])
        np.testing.assert_allclose(df.loc[stamps, col].to_numpy(), expected, rtol=0, atol=1e-9)
    # the single (consumption) price is always the up or the down price of its hour
    assert ((df[bp.IMBALANCE] == df[bp.UP]) | (df[bp.IMBALANCE] == df[bp.DOWN])).all()


@pytest.mark.realdata
def test_energinet_wrong_area_is_an_error():
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(_need(ENERGINET), area="DK1")
    assert e.value.file == str(ENERGINET) and e.value.field == "area"


# ------------------------------------------------------------------------------- small files


def _energinet_file(tmp_path, rows, name="bal.csv"):
    lines = [HEADER]
    for ts, area, up, down, cons in rows:
        local = (pd.Timestamp(ts) + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{ts},{local},{area},,,0,0,,{up},,{down},,{cons}")
    p = tmp_path / name
    p.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return p


def _hours(start, n):
    return [t.strftime("%Y-%m-%dT%H:%M:%S+00:00") for t in pd.date_range(start, periods=n, freq="h", tz="UTC")]


def test_energinet_style_file_gaps_and_empty_cells_are_filled_nearest(tmp_path):
    hours = _hours("2021-03-01T00:00Z", 8)
    rows = [(h, "DK2", 10 + i, 5 + i, 5 + i) for i, h in enumerate(hours)]
    rows[2] = (hours[2], "DK2", "", 7, 7)  # empty up price
    del rows[5]  # an absent hour
    p = _energinet_file(tmp_path, list(reversed(rows)))  # newest first, like the downloads
    df = bp.read_balancing_prices(p)
    assert len(df) == 8 and not df.isna().any().any()
    assert df[bp.UP].iloc[2] == 13  # tie between 11 and 13 -> the later hour
    assert df[bp.UP].iloc[5] == 16 and df[bp.DOWN].iloc[5] == 11
    assert list(np.flatnonzero(df[bp.FILLED])) == [2, 5]


def test_energinet_style_file_errors_name_the_file(tmp_path):
    hours = _hours("2021-03-01T00:00Z", 10)
    # a 4-hour hole is longer than the 3 h that are filled
    rows = [(h, "DK2", 10, 5, 5) for i, h in enumerate(hours) if not 3 <= i <= 6]
    p = _energinet_file(tmp_path, rows, "gap.csv")
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(p)
    assert e.value.file == str(p) and "no rows from 2021-03-01T03:00Z" in e.value.message
    # text in a price cell
    rows = [(h, "DK2", 10, 5, 5) for h in hours]
    rows[4] = (hours[4], "DK2", "ten", 5, 5)
    p = _energinet_file(tmp_path, rows, "text.csv")
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(p)
    assert e.value.file == str(p) and e.value.field.startswith("row 5 ") and "not a number" in e.value.message
    # two areas and none chosen
    rows = [(h, a, 10, 5, 5) for h in hours for a in ("DK1", "DK2")]
    p = _energinet_file(tmp_path, rows, "two.csv")
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(p)
    assert e.value.file == str(p) and e.value.field == "area"
    assert len(bp.read_balancing_prices(p, area="DK1")) == 10
    # duplicate hour
    rows = [(h, "DK2", 10, 5, 5) for h in hours] + [(hours[0], "DK2", 1, 1, 1)]
    p = _energinet_file(tmp_path, rows, "dup.csv")
    with pytest.raises(InputError, match="duplicate"):
        bp.read_balancing_prices(p)


def test_plain_csv_with_and_without_up_down(tmp_path):
    p = tmp_path / "imb.csv"
    p.write_text("timestamp_utc,imbalance_price_eur_per_mwh\n2024-06-01T00:00Z,50\n2024-06-01T00:15Z,60\n")
    df = bp.read_balancing_prices(p)
    assert list(df[bp.UP]) == [50, 60] and list(df[bp.DOWN]) == [50, 60] and not df[bp.FILLED].any()
    q = tmp_path / "imb2.csv"
    q.write_text("timestamp_utc,imbalance_price_eur_per_mwh,up_price_eur_per_mwh,down_price_eur_per_mwh\n"
                 "2024-06-01T00:00:00,50,55,45\n2024-06-01T01:00:00,60,61,59\n")
    df = bp.read_balancing_prices(q)
    assert df.index[1] == pd.Timestamp("2024-06-01T01:00Z") and df[bp.DOWN].iloc[1] == 59


@pytest.mark.parametrize(
    "text, field",
    [
        ("timestamp_utc,imbalance_price_eur_per_mwh\n2024-06-01T00:00Z,\n2024-06-01T01:00Z,1\n", "row 1"),
        ("timestamp_utc,imbalance_price_eur_per_mwh\n2024-06-01T00:00Z,1\n2024-06-01T03:00Z,1\n"
         "2024-06-01T04:00Z,1\n", "row 2"),
        ("timestamp_utc,imbalance_price_eur_per_mwh,up_price_eur_per_mwh\n2024-06-01T00:00Z,1,2\n",
         "down_price_eur_per_mwh"),
        ("time,price\n2024-06-01T00:00Z,1\n", "columns"),
        ("", None),
    ],
)
def test_bad_plain_files_give_input_errors_naming_the_file(tmp_path, text, field):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(p)
    assert e.value.file == str(p)
    if field is not None:
        assert e.value.field.startswith(field)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as e:
        bp.read_balancing_prices(tmp_path / "nope.csv")
    assert e.value.file == str(tmp_path / "nope.csv")


# ------------------------------------------------------------------------------------ volumes


def test_volumes_15min_mtu_in_60min_isp_and_signs():
    idx = pd.date_range("2021-06-01T00:00Z", periods=8, freq="15min")
    planned = pd.Series(1.0, index=idx)
    actual = pd.Series([1, 2, 3, 4, 0, 0, 0, 0], index=idx, dtype=float)
    v = S.imbalance_volumes(planned, actual)
    assert list(v.index) == list(_utc("2021-06-01T00:00", "2021-06-01T01:00"))
    # (0 + 1 + 2 + 3) * 0.25 = 1.5 MWh short; 4 * -1 * 0.25 = -1 MWh long
    np.testing.assert_allclose(v.to_numpy(), [1.5, -1.0])


def test_volumes_60min_mtu_in_15min_isp():
    idx = pd.date_range("2024-06-01T00:00Z", periods=2, freq="h")
    v = S.imbalance_volumes(pd.Series([0.0, 1.0], index=idx), pd.Series([2.0, 0.0], index=idx))
    assert len(v) == 8 and v.index[1] == pd.Timestamp("2024-06-01T00:15Z")
    np.testing.assert_allclose(v.to_numpy(), [0.5] * 4 + [-0.25] * 4)


def test_volumes_switch_to_15min_isp_on_22_may_2023_cest():
    # 2023-05-21T21:00Z is 23:00 CEST on 21 May (hourly ISP); 22:00Z is 00:00 CEST on 22 May (15 min)
    idx = pd.date_range("2023-05-21T21:00Z", periods=8, freq="15min")
    v = S.imbalance_volumes(pd.Series(0.0, index=idx), pd.Series(4.0, index=idx))
    assert list(v.index) == list(pd.DatetimeIndex(["2023-05-21T21:00Z"]).append(
        pd.date_range("2023-05-21T22:00Z", periods=4, freq="15min")))
    np.testing.assert_allclose(v.to_numpy(), [4.0, 1.0, 1.0, 1.0, 1.0])
    # an explicit ISP length overrides the date rule
    v60 = S.imbalance_volumes(pd.Series(0.0, index=idx), pd.Series(4.0, index=idx), S.ImbalanceRules(isp_minutes=60))
    np.testing.assert_allclose(v60.to_numpy(), [4.0, 4.0])


def test_volumes_with_planned_hourly_and_actual_15min():
    hours = pd.date_range("2024-01-10T00:00Z", periods=1, freq="h")
    quarters = pd.date_range("2024-01-10T00:00Z", periods=4, freq="15min")
    # a one-value series needs its MTU length; the other's is read from its steps
    v = S.imbalance_volumes(pd.Series([1.0], index=hours), pd.Series([1, 2, 0, 1.0], index=quarters), mtu_minutes=60)
    np.testing.assert_allclose(v.to_numpy(), [0, 0.25, -0.25, 0])


def test_volumes_must_cover_the_same_time():
    a = pd.date_range("2024-01-10T00:00Z", periods=4, freq="h")
    with pytest.raises(ValueError, match="different times"):
        S.imbalance_volumes(pd.Series(1.0, index=a), pd.Series(1.0, index=a[:3]))


# -------------------------------------------------------------------------------------- money


def test_single_price_arithmetic():
    idx = _utc("2022-03-01T00:00", "2022-03-01T01:00")
    vol = pd.Series([2.0, -1.0], index=idx)
    money = S.settle_imbalance(vol, pd.Series([50.0, 80.0], index=idx), pd.Series([40.0, 40.0], index=idx))
    np.testing.assert_allclose(money.to_numpy(), [-100.0, 80.0])  # short pays 2*50, long gets 1*80
    assert money.name == "imbalance_eur"


def test_two_price_arithmetic_and_auto_switch_on_1_nov_2021():
    # 2021-10-31T22:00Z = 23:00 CET on 31 Oct (two-price); 23:00Z = 00:00 CET on 1 Nov (single price)
    idx = _utc("2021-10-31T21:00", "2021-10-31T22:00", "2021-10-31T23:00", "2021-11-01T00:00")
    prices = pd.DataFrame({bp.IMBALANCE: [60.0, 30.0, 60.0, 30.0], bp.UP: [60.0, 35.0, 60.0, 60.0],
                           bp.DOWN: [30.0, 30.0, 30.0, 30.0]}, index=idx)
    da = pd.Series(40.0, index=idx)
    vol = pd.Series([2.0, 2.0, 2.0, -1.0], index=idx)
    money = S.settle_imbalance(vol, prices, da)
    # two-price: short pays max(DA, up): 2*60, then 2*max(40, 35) = 80; single: 2*60, long gets 30
    np.testing.assert_allclose(money.to_numpy(), [-120.0, -80.0, -120.0, 30.0])
    long = S.settle_imbalance(pd.Series(-1.0, index=idx[:1]), prices.iloc[:1], da.iloc[:1])
    assert long.iloc[0] == pytest.approx(30.0)  # long gets min(DA, down) = 30
    up_down = pd.DataFrame({bp.IMBALANCE: [50.0], bp.UP: [45.0], bp.DOWN: [45.0]}, index=idx[:1])
    assert S.settle_imbalance(pd.Series(-1.0, index=idx[:1]), up_down, da.iloc[:1]).iloc[0] == pytest.approx(40.0)
    forced = S.settle_imbalance(vol, prices, da, model="single")
    np.testing.assert_allclose(forced.to_numpy(), [-120.0, -60.0, -120.0, 30.0])


# 1½-price model (Svk 2003, domain notes 7.2 and V11): "i huvudsak en tvåprismodell, där det mindre
# förmånliga priset, i stället för spotpriset, är genomsnittet av spot- och reglerkraftpriset". The
# wrong direction pays (or gets) the regulating price; the right direction gets (spot + regulating)/2
# instead of spot. Right direction = long (+ surplus) in an up-regulation ISP, short in a down one.
ONE_AND_HALF_CASES = [
    # (regulating price, DA, volume MWh (+ = short), EUR earned)
    (60.0, 40.0, 2.0, -2.0 * 60.0),  # up-regulation, short = wrong direction: pays the up price
    (60.0, 40.0, -1.0, 1.0 * 50.0),  # up-regulation, long = right direction: gets (40 + 60) / 2
    (20.0, 40.0, -1.0, 1.0 * 20.0),  # down-regulation, long = wrong direction: gets the down price
    (20.0, 40.0, 2.0, -2.0 * 30.0),  # down-regulation, short = right direction: pays (40 + 20) / 2
    (40.0, 40.0, 2.0, -2.0 * 40.0),  # no regulation (or equal up and down volumes): spot
    (40.0, 40.0, -3.0, 3.0 * 40.0),
    (-10.0, 30.0, 1.0, -1.0 * 10.0),  # negative down price: the short pays (30 - 10) / 2 = 10
]


@pytest.mark.parametrize("reg, da, vol, expected", ONE_AND_HALF_CASES)
def test_one_and_half_price_cases_from_the_notes(reg, da, vol, expected):
    idx = _utc("2003-02-03T08:00")
    money = S.settle_imbalance(pd.Series([vol], index=idx), pd.Series([reg], index=idx),
                               pd.Series([da], index=idx), model="one_and_half")
    assert money.iloc[0] == pytest.approx(expected)
    # the right direction earns half-way between two-price (spot) and one price (regulating price)
    single = S.settle_imbalance(pd.Series([vol], index=idx), pd.Series([reg], index=idx),
                                pd.Series([da], index=idx), model="single").iloc[0]
    two = S.settle_imbalance(pd.Series([vol], index=idx), pd.Series([reg], index=idx),
                             pd.Series([da], index=idx), model="two_price").iloc[0]
    right = (reg > da and vol < 0) or (reg < da and vol > 0)
    assert money.iloc[0] == pytest.approx((single + two) / 2 if right else two)


def test_one_and_half_price_direction_comes_from_the_imbalance_price():
    """With up and down prices both away from spot (up and down regulation in one ISP), the
    dominating direction is the one whose price the imbalance price is (004 Figure 3 (c))."""
    idx = _utc("2003-02-03T08:00", "2003-02-03T09:00")
    prices = pd.DataFrame({bp.IMBALANCE: [70.0, 25.0], bp.UP: [70.0, 70.0], bp.DOWN: [25.0, 25.0]}, index=idx)
    da = pd.Series(40.0, index=idx)
    long = S.settle_imbalance(pd.Series([-1.0, -1.0], index=idx), prices, da, model="one_and_half")
    np.testing.assert_allclose(long.to_numpy(), [55.0, 25.0])  # up ISP: (40 + 70) / 2; down ISP: 25
    short = S.settle_imbalance(pd.Series([1.0, 1.0], index=idx), prices, da, model="one_and_half")
    np.testing.assert_allclose(short.to_numpy(), [-70.0, -32.5])  # up ISP: 70; down ISP: (40 + 25) / 2


def test_one_and_half_price_from_the_case_table_and_proxy_rows_stay_two_price(tmp_path):
    case = _case(tmp_path, model="one_and_half")
    assert S.rules(case).model == "one_and_half"
    idx = _utc("2024-03-01T00:00", "2024-03-01T00:15")
    prices = pd.DataFrame({bp.IMBALANCE: [60.0, 40.0], bp.UP: [60.0, 50.0], bp.DOWN: [60.0, 30.0],
                           S.PROXY: [False, True], S.DAYAHEAD: [40.0, 40.0]}, index=idx)
    money = S.settle_imbalance(pd.Series([-1.0, -1.0], index=idx), prices, r=S.rules(case))
    np.testing.assert_allclose(money.to_numpy(), [50.0, 30.0])  # 1½: (40 + 60) / 2; proxy: min(DA, down)
    kinds = S.settlement_model(idx, None, S.rules(case))
    assert list(kinds) == ["one_and_half", "one_and_half"]


@pytest.mark.parametrize("model", ["one_and_a_half", "three_price", "Single"])
def test_unknown_settlement_model_is_an_input_error(model):
    idx = _utc("2024-03-01T00:00")
    with pytest.raises(InputError) as e:
        S.settle_imbalance(pd.Series([1.0], index=idx), pd.Series([50.0], index=idx),
                           pd.Series([40.0], index=idx), model=model)
    assert e.value.field == "model" and repr(model) in e.value.message and "one_and_half" in e.value.message


def test_fee_is_charged_on_both_sides():
    idx = _utc("2024-01-01T00:00", "2024-01-01T00:15")
    r = S.ImbalanceRules(fee_eur_per_mwh=1.5)
    money = S.settle_imbalance(pd.Series([1.0, -2.0], index=idx), pd.Series(10.0, index=idx),
                               pd.Series(10.0, index=idx), r=r)
    np.testing.assert_allclose(money.to_numpy(), [-10 - 1.5, 20 - 3.0])


def test_hourly_prices_on_15min_isps_and_15min_prices_on_hourly_isps():
    q_idx = pd.date_range("2024-02-01T00:00Z", periods=4, freq="15min")
    h_idx = pd.DatetimeIndex(["2024-02-01T00:00Z"])
    vol = pd.Series([1.0, 0.5, 0.0, -1.0], index=q_idx)
    money = S.settle_imbalance(vol, pd.Series([80.0], index=h_idx), pd.Series([50.0], index=h_idx))
    np.testing.assert_allclose(money.to_numpy(), [-80.0, -40.0, 0.0, 80.0])
    # 15-min prices averaged into an hourly ISP (here forced by the rules)
    r = S.ImbalanceRules(isp_minutes=60)
    m = S.settle_imbalance(pd.Series([2.0], index=h_idx), pd.Series([10.0, 20.0, 30.0, 40.0], index=q_idx),
                           pd.Series([25.0], index=h_idx), r=r)
    assert m.iloc[0] == pytest.approx(-2.0 * 25.0)


def test_proxy_rows_settle_two_price_around_dayahead():
    idx = _utc("2024-03-01T00:00")
    prices = pd.DataFrame({bp.IMBALANCE: [40.0], bp.UP: [50.0], bp.DOWN: [30.0], S.PROXY: [True],
                           S.DAYAHEAD: [40.0]}, index=idx)
    assert S.settle_imbalance(pd.Series([1.0], index=idx), prices).iloc[0] == pytest.approx(-50.0)
    assert S.settle_imbalance(pd.Series([-1.0], index=idx), prices).iloc[0] == pytest.approx(30.0)


_price = st.floats(-500, 4000, allow_nan=False)
_isp = st.tuples(st.floats(-50, 50, allow_nan=False), _price, _price, _price, _price)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_isp, min_size=1, max_size=24), model=st.sampled_from(["single", "two_price", "auto"]),
       day=st.sampled_from(["2021-06-01", "2024-06-01"]))
def test_zero_imbalance_is_zero_money_and_two_price_never_beats_dayahead(rows, model, day):
    vol, da, up, down, imb = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    idx = pd.date_range(f"{day}T00:00Z", periods=len(rows), freq="h")  # "auto": two-price in 2021, single in 2024
    prices = pd.DataFrame({bp.IMBALANCE: imb, bp.UP: up, bp.DOWN: down}, index=idx)
    dap = pd.Series(da, index=idx)
    r = S.ImbalanceRules(isp_minutes=60)
    zero = S.settle_imbalance(pd.Series(0.0, index=idx), prices, dap, model, r=r)
    assert (zero == 0.0).all()
    two = S.settle_imbalance(pd.Series(vol, index=idx), prices, dap, "two_price", r=r).to_numpy()
    at_da = S.settle_imbalance(pd.Series(vol, index=idx), dap, dap, "single", r=r).to_numpy()
    np.testing.assert_allclose(at_da, -vol * da)
    assert (two <= at_da + 1e-9 * np.maximum(1.0, np.abs(at_da))).all()


def test_equal_plan_and_actual_settle_to_zero():
    idx = pd.date_range("2023-05-21T20:00Z", periods=16, freq="15min")
    p = pd.Series(np.linspace(-1, 1, 16), index=idx)
    vol = S.imbalance_volumes(p, p.copy())
    money = S.settle_imbalance(vol, pd.Series(123.0, index=idx), pd.Series(45.0, index=idx))
    assert (vol == 0).all() and (money == 0).all()


# ------------------------------------------------------------------------ case-level prices


def _case(tmp_path, **imbalance):
    data = battery_case()
    data["markets"] = {"imbalance": imbalance} if imbalance else {}
    return case_from_dict(data, base_dir=tmp_path, source=tmp_path / "case.toml")


def test_proxy_without_a_file(tmp_path):
    case = _case(tmp_path)
    idx = pd.date_range("2024-03-01T00:00Z", periods=3, freq="h")
    da = np.array([10.0, 20.0, 30.0])
    prices, label = S.imbalance_prices(case, idx, da)
    assert label.startswith("PROXY") and "10 EUR/MWh" in label
    np.testing.assert_allclose(prices[bp.UP], da + 10) and np.testing.assert_allclose(prices[bp.DOWN], da - 10)
    assert prices[S.PROXY].all()


def test_file_prices_with_proxy_outside_the_file(tmp_path):
    f = tmp_path / "imb.csv"
    f.write_text("timestamp_utc,imbalance_price_eur_per_mwh\n2024-03-01T00:00Z,100\n2024-03-01T01:00Z,200\n")
    case = _case(tmp_path, prices="imb.csv", proxy_penalty_eur_per_mwh=5)
    idx = pd.date_range("2024-03-01T00:00Z", periods=3, freq="h")
    prices, label = S.imbalance_prices(case, idx, np.array([1.0, 2.0, 3.0]))
    assert list(prices[bp.IMBALANCE]) == [100, 200, 3] and list(prices[S.PROXY]) == [False, False, True]
    assert label.startswith("PROXY imbalance prices for 1 of 3 MTUs") and "imb.csv" in label
    full, label = S.imbalance_prices(case, idx[:2], np.array([1.0, 2.0]))
    assert label == "imbalance prices from imb.csv" and not full[S.PROXY].any()
    strict = _case(tmp_path, prices="imb.csv", proxy_outside_file=False)
    with pytest.raises(InputError) as e:
        S.imbalance_prices(strict, idx, np.array([1.0, 2.0, 3.0]))
    assert e.value.file == str(f) and "2024-03-01T02:00Z" in e.value.message


def test_settle_case_end_to_end(tmp_path):
    f = tmp_path / "imb.csv"
    f.write_text("timestamp_utc,imbalance_price_eur_per_mwh\n2024-03-01T00:00Z,100\n")
    case = _case(tmp_path, prices="imb.csv")
    idx = pd.date_range("2024-03-01T00:00Z", periods=1, freq="h")
    out, label = S.settle_case(case, pd.Series([1.0], index=idx), pd.Series([2.0], index=idx),
                               dayahead=pd.Series([50.0], index=idx))
    assert len(out) == 4 and (out["isp_minutes"] == 15).all() and (out["model"] == "single").all()
    np.testing.assert_allclose(out[S.MONEY], -0.25 * 100)


def test_bad_imbalance_table_names_the_field(tmp_path):
    with pytest.raises(InputError) as e:  # the table is validated when the case is loaded
        S.rules(_case(tmp_path, model="three_price"))
    assert e.value.field == "markets.imbalance.model"


# ------------------------------------------------------------------------ monthly tariff bills


def test_monthly_bills_on_the_demo_case():
    case = bidopt.load_case(REPO / "cases" / "demo")
    tz = case.case.timezone
    start = pd.Timestamp("2024-01-01").tz_localize(tz).tz_convert("UTC")
    end = pd.Timestamp("2024-03-06").tz_localize(tz).tz_convert("UTC")
    idx = pd.date_range(start, end, freq="h", inclusive="left", name="timestamp_utc")
    rng = np.random.default_rng(3)
    imp = pd.Series(rng.uniform(0, 1.5, len(idx)), index=idx)
    exp = pd.Series(rng.uniform(0, 0.3, len(idx)), index=idx)
    bills = S.monthly_tariff_bills(case, imp, exp)
    assert list(bills.month.unique()) == ["2024-01", "2024-02", "2024-03"]
    assert list(bills.complete_month) == [True] * 6 + [False] * 3
    assert (bills.vat_factor == 1.0).all()  # the demo site does not pay VAT
    by = bills.set_index(["month", "tariff"])["bill_ex_vat_eur"]

    sek = case.case.sek_per_eur
    local = idx.tz_convert(tz)
    for month, hours in (("2024-01", 744), ("2024-02", 696), ("2024-03", 5 * 24)):
        m = np.asarray(local.strftime("%Y-%m") == month)
        # energy fee 0.084 SEK/kWh on import
        assert by[(month, "transfer")] == pytest.approx(imp[m].sum() * 84 / sek)
        # fixed fee 3151 SEK/year over the 8784 h of 2024
        assert by[(month, "subscription")] == pytest.approx(3151 / sek * hours / 8784)
        # peak: mean of the 5 highest hours on weekdays 07-19 local, rate incl. 25 % VAT
        window = m & np.asarray(local.day_of_week < 5) & np.asarray((local.hour >= 7) & (local.hour <= 18))
        top5 = np.sort(imp[window].to_numpy())[-5:]
        assert by[(month, "sala_heby_power")] == pytest.approx(104.0 * 1000 / 1.25 / sek * top5.mean())  # Nov-Mar rate
    # the additive tariffs' monthly bills sum to their bill over the whole period
    for t in case.tariffs:
        if t.kind in ("energy_fee", "fixed_fee"):
            assert bills[bills.tariff == t.name].bill_ex_vat_eur.sum() == pytest.approx(t.bill_eur(case, imp, exp))


def test_monthly_bills_with_vat_and_peak_state_ignored():
    case = bidopt.load_case(REPO / "cases" / "demo")
    retail = case.retail.model_copy(update={"pays_vat": True})
    tariffs = [t.model_copy(update={"peaks_so_far_mw": [9.0]}) if t.kind == "peak_power" else t for t in case.tariffs]
    vat_case = case.model_copy(update={"retail": retail, "tariffs": tariffs})
    idx = pd.date_range("2024-05-31T22:00Z", periods=24 * 30, freq="h")  # June 2024, local
    imp = pd.Series(0.5, index=idx)
    plain = S.monthly_tariff_bills(case, imp)
    vat = S.monthly_tariff_bills(vat_case, imp)
    assert (vat.vat_factor == 1.25).all() and vat.complete_month.all()
    np.testing.assert_allclose(vat.bill_incl_vat_eur, 1.25 * plain.bill_ex_vat_eur)
    np.testing.assert_allclose(vat.bill_ex_vat_eur, plain.bill_ex_vat_eur)
    peak = plain.set_index("tariff").loc["sala_heby_power", "bill_ex_vat_eur"]
    assert peak == pytest.approx(43.0 * 1000 / 1.25 / case.case.sek_per_eur * 0.5)  # Apr-Oct rate, prior peak ignored
