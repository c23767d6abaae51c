"""Reserve price loaders: Energinet FCR, Svenska kraftnät Mimer (FCR, aFRR) and plain CSV files.

Real files are checked against facts the loader did not produce: the row counts of a calendar year,
the DKK/EUR peg between two columns of the same file, and Mimer's own ``Summa`` row of column totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bidopt.data.reserve_prices import PRICE, read_mimer_afrr, read_reserve_prices
from bidopt.errors import InputError
from tests.conftest import SHARED_DATA

ANCILLARY = SHARED_DATA / "ancillary"
ENERGINET = ANCILLARY / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv"
AFRR = sorted(ANCILLARY.glob("svk_mimer_SE_AFRR_*.csv")) if ANCILLARY.is_dir() else []


def _hourly(index) -> bool:
    return bool((np.diff(pd.DatetimeIndex(index).as_unit("ns").asi8) == pd.Timedelta(hours=1).value).all())


def _need(path):
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


# ------------------------------------------------------------------------------ Energinet (real file)


@pytest.mark.realdata
def test_energinet_fcr_n_2021_has_8760_hourly_prices():
    s = read_reserve_prices(_need(ENERGINET), "fcr_n")
    assert s.name == PRICE and s.index.name == "timestamp_utc" and str(s.index.tz) == "UTC"
    assert len(s) == 8784  # the download runs 2020-12-31T00Z .. 2021-12-31T23Z
    y2021 = s[(s.index >= "2021-01-01") & (s.index < "2022-01-01")]
    assert len(y2021) == 8760
    assert _hourly(y2021.index)
    assert y2021.notna().all() and (y2021 >= 0).all()


@pytest.mark.realdata
def test_energinet_known_rows_and_autumn_order():
    n = read_reserve_prices(_need(ENERGINET), "fcr_n")
    up = read_reserve_prices(ENERGINET, "fcr_d_up")
    # first data line: 2020-12-31T00:00:00,...,142.25,19.12,122.6,16.48
    assert n.iloc[0] == pytest.approx(19.12) and up.iloc[0] == pytest.approx(16.48)
    # the file lists 2021-10-31 01:00Z before 00:00Z (ordered by Danish time); the loader sorts by UTC
    assert n["2021-10-31T00:00Z"] == pytest.approx(47.98)
    assert n["2021-10-31T01:00Z"] == pytest.approx(44.28)
    assert n.index.is_monotonic_increasing and n.index.is_unique


@pytest.mark.realdata
def test_energinet_eur_column_not_dkk():
    """The same file's DKK column divided by the loaded EUR prices gives the DKK peg (about 7.44)."""
    s = read_reserve_prices(_need(ENERGINET), "fcr_n")
    raw = pd.read_csv(ENERGINET, encoding="utf-8-sig")
    dkk = pd.Series(raw["FCR_N_PriceDKK"].to_numpy(), index=pd.to_datetime(raw["HourUTC"], utc=True)).sort_index()
    ratio = (dkk / s.to_numpy())[s.to_numpy() > 1]
    assert ratio.median() == pytest.approx(7.44, abs=0.01)


@pytest.mark.realdata
def test_energinet_has_no_fcr_d_down():
    with pytest.raises(InputError) as e:
        read_reserve_prices(_need(ENERGINET), "fcr_d_down")
    assert e.value.field == "fcr_d_down" and e.value.file == str(ENERGINET)


def test_energinet_missing_hour(tmp_path):
    idx = pd.date_range("2021-03-01", periods=6, freq="h")
    lines = ["\ufeffHourUTC,HourDK,FCR_N_PriceDKK,FCR_N_PriceEUR,FCR_D_UpPriceDKK,FCR_D_UpPriceEUR"]
    for i, t in enumerate(idx):
        if i == 3:
            continue
        lines.append(f"{t:%Y-%m-%dT%H:%M:%S},{t + pd.Timedelta(hours=1):%Y-%m-%dT%H:%M:%S},1,{10 + i},1,{20 + i}")
    f = tmp_path / "fcr.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "fcr_n")
    assert e.value.file == str(f) and e.value.field.startswith("line 5 (2021-03-01T04:00:00Z)")
    assert "gap" in e.value.message


# ------------------------------------------------------------------------------ Mimer aFRR (real files)


def _summa(path) -> list[float]:
    """The file's own last row: 'Summa;<up price>;<up volume>;<down price>;<down volume>;'."""
    last = path.read_text(encoding="utf-8-sig").strip().splitlines()[-1]
    cells = [c for c in last.split(";")[1:] if c.strip()]
    return [float(c.replace(",", ".")) for c in cells]


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["2020", "2021", "2022_1", "2022_2"])
def test_mimer_afrr_totals_match_summa_row(name):
    path = _need(ANCILLARY / f"svk_mimer_SE_AFRR_{name}.csv")
    df = read_mimer_afrr(path)
    assert list(df.columns) == ["zone", "up_price_eur_per_mw_h", "up_volume_mw", "down_price_eur_per_mw_h",
                                "down_volume_mw"]
    got = df[["up_price_eur_per_mw_h", "up_volume_mw", "down_price_eur_per_mw_h", "down_volume_mw"]].sum()
    np.testing.assert_allclose(got.to_numpy(), _summa(path), rtol=0, atol=1e-6)
    data_rows = len(path.read_text(encoding="utf-8-sig").strip().splitlines()) - 2  # header, Summa
    assert len(df) == data_rows


@pytest.mark.realdata
def test_mimer_afrr_2021_local_time_and_dst():
    df = read_mimer_afrr(_need(ANCILLARY / "svk_mimer_SE_AFRR_2021.csv"))
    assert set(df.zone) == {"SE"} and df.index.is_unique
    # local 2021-01-01 00:00 .. 2022-01-01 23:00: 366 local days, one 23 h and one 25 h day
    assert len(df) == 366 * 24
    assert df.index[0] == pd.Timestamp("2020-12-31T23:00Z") and df.index[-1] == pd.Timestamp("2022-01-01T22:00Z")
    assert _hourly(df.index)  # no gap at DST, no duplicate
    # "2021-01-01 00:00;;19,983;140;16,838;130" (decimal comma)
    first = df.iloc[0]
    assert first.up_price_eur_per_mw_h == pytest.approx(19.983) and first.down_volume_mw == 130


@pytest.mark.realdata
def test_mimer_afrr_zones_from_2022_05_11():
    df = read_mimer_afrr(_need(ANCILLARY / "svk_mimer_SE_AFRR_2022_2.csv"))
    assert set(df.zone) == {"SE", "SE1", "SE2", "SE3", "SE4"}
    se3 = read_mimer_afrr(ANCILLARY / "svk_mimer_SE_AFRR_2022_2.csv", zone="SE3")
    assert set(se3.zone) == {"SE3"} and se3.index.is_unique
    assert _hourly(se3.index)
    # "2022-05-11 00:00;SN1;120;30;150;30"
    se1 = read_mimer_afrr(ANCILLARY / "svk_mimer_SE_AFRR_2022_2.csv", zone="SN1").iloc[0]
    assert se1.up_price_eur_per_mw_h == 120 and se1.up_volume_mw == 30
    # before 2022-05-11 there is only the national price: a zone falls back to it
    early = read_mimer_afrr(_need(ANCILLARY / "svk_mimer_SE_AFRR_2022_1.csv"), zone="SE3")
    assert early.index.is_unique and set(early.zone) == {"SE", "SE3"}
    assert (early.loc[early.index >= "2022-05-10T22:00Z", "zone"] == "SE3").all()


# ------------------------------------------------------------------------------ Mimer FCR (synthetic)

MIMER_FCR_HEADER = (
    "Period;FCR-N Pris (EUR/MW);FCR-N Volym (MW);FCR-D upp Pris (EUR/MW);FCR-D upp Volym (MW);"
    "FCR-D ned Pris (EUR/MW);FCR-D ned Volym (MW);SE1 FCRN;SE2 FCRN;SE3 FCRN;SE4 FCRN;Publiceringstidpunkt;"
)


def _comma(x: float) -> str:
    return f"{x:.3f}".replace(".", ",")


def write_mimer_fcr(path, first_local_day: str, days: int, drop: int | None = None, header=MIMER_FCR_HEADER):
    """A Mimer FCR export in the shape of the real aFRR downloads: UTF-8 BOM, ';', decimal comma,
    trailing ';', local time 'YYYY-MM-DD HH:MM' (repeated autumn hour as 02:00 then 02:01), no
    spring-forward row, last row 'Summa'. Prices: FCR-N = 10 + i/8, up = 20 + i/8, down = 30 + i/8 for
    the i-th hour in UTC order. Returns the UTC index of the hours written."""
    start = pd.Timestamp(first_local_day).tz_localize("Europe/Stockholm")
    end = (pd.Timestamp(first_local_day) + pd.Timedelta(days=days)).tz_localize("Europe/Stockholm")
    utc = pd.date_range(start, end, freq="h", inclusive="left").tz_convert("UTC")
    local = utc.tz_convert("Europe/Stockholm")
    lines, sums = [header], np.zeros(3)
    seen: set[str] = set()
    for i, t in enumerate(local):
        label = t.strftime("%Y-%m-%d %H:%M")
        if label in seen:  # second 02:00 of the autumn day
            label = t.strftime("%Y-%m-%d %H:01")
        seen.add(label)
        if i == drop:
            continue
        n, u, d = 10 + i / 8, 20 + i / 8, 30 + i / 8
        sums += (n, u, d)
        lines.append(f"{label};{_comma(n)};110;{_comma(u)};250;{_comma(d)};240;10;20;{_comma(55.5)};15;"
                     f"{t:%Y-%m-%d} 08:05;")
    lines.append(f"Summa;{_comma(sums[0])};0;{_comma(sums[1])};0;{_comma(sums[2])};0;;;;;")
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return utc


def test_mimer_fcr_parses_all_products_across_autumn_dst(tmp_path):
    f = tmp_path / "mimer_fcr.csv"
    utc = write_mimer_fcr(f, "2023-10-28", 2)  # 24 + 25 hours
    assert len(utc) == 49
    for product, base in (("fcr_n", 10), ("fcr_d_up", 20), ("fcr_d_down", 30)):
        s = read_reserve_prices(f, product)
        assert s.name == PRICE and s.index.name == "timestamp_utc"
        assert s.index.equals(utc.rename("timestamp_utc"))
        np.testing.assert_allclose(s.to_numpy(), base + np.arange(49) / 8, atol=1e-9)
    s = read_reserve_prices(f, "fcr_n")
    # local 2023-10-29 02:00 (CEST) = 00:00Z, 02:01 (Mimer's second 02:00, CET) = 01:00Z
    assert s["2023-10-29T00:00Z"] == pytest.approx(10 + 26 / 8)
    assert s["2023-10-29T01:00Z"] == pytest.approx(10 + 27 / 8)


def test_mimer_fcr_spring_forward(tmp_path):
    f = tmp_path / "mimer_fcr.csv"
    utc = write_mimer_fcr(f, "2024-03-31", 1)
    s = read_reserve_prices(f, "fcr_d_up")
    assert len(s) == 23 and s.index.equals(utc.rename("timestamp_utc"))


def test_mimer_fcr_missing_hour_names_file_and_row(tmp_path):
    f = tmp_path / "mimer_fcr.csv"
    write_mimer_fcr(f, "2024-02-01", 1, drop=5)
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "fcr_n")
    # lines 2..6 are hours 0..4 (line 1 is the header); line 7 is hour 6 (2024-02-01 06:00 local = 05:00Z)
    assert e.value.file == str(f)
    assert e.value.field == "line 7 (2024-02-01T05:00:00Z)"
    assert "gap" in e.value.message


def test_mimer_fcr_without_down_column(tmp_path):
    f = tmp_path / "mimer_fcr.csv"
    header = "Period;FCR-N Pris (EUR/MW);FCR-N Volym (MW);FCR-D upp Pris (EUR/MW);FCR-D upp Volym (MW);Publiceringstidpunkt;"
    f.write_text("\ufeff" + header + "\n2024-02-01 00:00;10,5;1;20,5;2;2024-01-31 08:00;\nSumma;10,5;1;20,5;2;\n",
                 encoding="utf-8")
    assert read_reserve_prices(f, "fcr_n").iloc[0] == pytest.approx(10.5)
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "fcr_d_down")
    assert e.value.field == "fcr_d_down" and e.value.file == str(f)


def test_mimer_fcr_missing_value(tmp_path):
    f = tmp_path / "mimer_fcr.csv"
    write_mimer_fcr(f, "2024-02-01", 1)
    lines = f.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[3].split(";")
    cells[1] = ""
    lines[3] = ";".join(cells)
    f.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "fcr_n")
    assert e.value.field.startswith("line 4 (") and "missing value" in e.value.message


# ------------------------------------------------------------------------------ plain CSV and errors


def test_plain_csv(tmp_path):
    f = tmp_path / "fcr_d_up.csv"
    idx = pd.date_range("2024-03-13T23:00Z", periods=24, freq="h")
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), PRICE: np.arange(24.0)}).to_csv(f, index=False)
    s = read_reserve_prices(f, "fcr_d_up")
    assert s.name == PRICE and len(s) == 24 and s.index[0] == idx[0] and s.iloc[-1] == 23.0


def test_plain_csv_not_hourly(tmp_path):
    f = tmp_path / "fcr.csv"
    idx = pd.date_range("2024-03-13T23:00Z", periods=8, freq="15min")
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), PRICE: 1.0}).to_csv(f, index=False)
    with pytest.raises(InputError, match="hourly"):
        read_reserve_prices(f, "fcr_n")


def test_unknown_product_and_format(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "afrr_up")
    assert e.value.field == "product"
    with pytest.raises(InputError) as e:
        read_reserve_prices(f, "fcr_n")
    assert e.value.field == "columns" and "unrecognised" in e.value.message
    with pytest.raises(InputError, match="file not found"):
        read_reserve_prices(tmp_path / "none.csv", "fcr_n")
