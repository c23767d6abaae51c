"""Issue 12 (items 7, 8): real downloads and malformed rows.

* a current-year ENTSO-E export ends in ``n/e`` rows (not yet published): only the hours a command
  needs must be numbers; a needed ``n/e`` hour is an error naming the editor line and timestamp;
* an ENTSO-E file whose header names another bidding zone than the case's is refused, naming both;
* a row with more fields than the header (a decimal comma in a comma-separated file) or fewer than
  the other rows is refused, naming the file and the editor line.

Through the library (readers, ``bidopt.plan``) and the CLI (``bidopt plan``: exit 2, one line).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.cli import main
from bidopt.data.csv_text import read_text_csv, read_text_table
from bidopt.data.prices import read_price_csv, read_series_csv, slice_day
from bidopt.data.reserve_prices import read_mimer_afrr, read_reserve_prices
from bidopt.errors import InputError
from bidopt.forecast.scenarios import read_scenarios
from bidopt.time import delivery_index

TZ = "Europe/Stockholm"
PUBLISHED_UNTIL = pd.Timestamp("2024-10-04T22:00Z")  # first unpublished hour: 2024-10-05 00:00 local

CASE = """
[case]
zone = "{zone}"
mtu_minutes = 60

[prices]
dayahead = "{prices}"

[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0

[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
soc_initial_mwh = 1.0
"""


def entsoe_year(path: Path, year: int = 2024, zone: str = "SE1", published_until=PUBLISHED_UNTIL) -> Path:
    """An ENTSO-E day-ahead export of a whole local year as the platform writes it during that year:
    the spring-forward hour as a row with an empty price, the autumn hour twice, ``n/e`` from
    ``published_until`` on, three fields per row under a four-column header."""
    utc = pd.date_range(pd.Timestamp(f"{year}-01-01", tz=TZ), pd.Timestamp(f"{year + 1}-01-01", tz=TZ),
                        freq="h", inclusive="left").tz_convert("UTC")
    out = [f'"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|{zone}"']
    fmt = "%d.%m.%Y %H:%M"
    for i, t in enumerate(utc):
        a, b = t.tz_convert(TZ), (t + pd.Timedelta(hours=1)).tz_convert(TZ)
        if b.hour - a.hour == 2:  # clocks go forward after this hour: the platform lists 02:00 empty
            out.append(f'"{a:{fmt}} - {a.replace(hour=2):{fmt}}","{40 + i % 24:.2f}","EUR"')
            skipped = a.replace(hour=2)
            out.append(f'"{skipped:{fmt}} - {b:{fmt}}","",""')
            continue
        price = f"{40 + i % 24:.2f}" if t < published_until else "n/e"
        out.append(f'"{a:{fmt}} - {b:{fmt}}","{price}","EUR"')
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The editor line (from 1) of the first line of ``path`` containing ``needle``."""
    for n, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if needle in text:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def make_case(tmp_path: Path, prices: str = "entsoe.csv", zone: str = "SE1") -> Path:
    (tmp_path / "case.toml").write_text(CASE.format(zone=zone, prices=prices))
    return tmp_path


def plan_cli(case_dir: Path, day: str):
    return CliRunner().invoke(main, ["plan", str(case_dir), "--day", day, "--out", str(case_dir / "out")])


def one_line_error(r, *needles) -> str:
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------- n/e rows


@pytest.fixture
def current_year(tmp_path) -> Path:
    return entsoe_year(tmp_path / "entsoe.csv")


def test_current_year_export_reads_unpublished_hours_as_missing(current_year):
    s = read_price_csv(current_year, zone="SE1")
    assert len(s) == 8784  # 2024 is a leap year; the spring-forward row is dropped
    assert s[s.index < PUBLISHED_UNTIL].notna().all()
    assert s[s.index >= PUBLISHED_UNTIL].isna().all()
    march = slice_day(s, delivery_index("2024-03-14", 60), current_year, "prices.dayahead")
    assert march.notna().all() and len(march) == 24


def test_needed_unpublished_hour_names_editor_line(current_year):
    s = read_price_csv(current_year, zone="SE1")
    line = line_of(current_year, '"05.10.2024 00:00 - 05.10.2024 01:00"')
    with pytest.raises(InputError) as e:
        slice_day(s, delivery_index("2024-10-05", 15), current_year, "prices.dayahead")
    assert str(e.value) == (f"{current_year}: line {line} (2024-10-04T22:00:00Z): Day-ahead Price [EUR/MWh]: "
                            "no value ('n/e'), needed for prices.dayahead")
    # the day before is fully published
    assert slice_day(s, delivery_index("2024-10-04", 60), current_year, "f").notna().all()


def test_plan_march_day_on_current_year_export(current_year):
    case = bidopt.load_case(make_case(current_year.parent))
    res = bidopt.plan(case, "2024-03-14")
    assert len(res.schedule) == 24
    r = plan_cli(current_year.parent, "2024-03-14")
    assert r.exit_code == 0, r.output
    assert (current_year.parent / "out" / "schedule.csv").is_file()


def test_plan_unpublished_day_names_file_line_and_timestamp(current_year):
    line = line_of(current_year, '"05.10.2024 00:00 - 05.10.2024 01:00"')
    case = bidopt.load_case(make_case(current_year.parent))
    with pytest.raises(InputError) as e:
        bidopt.plan(case, "2024-10-05")
    assert e.value.file == str(current_year) and e.value.field == f"line {line} (2024-10-04T22:00:00Z)"
    r = plan_cli(current_year.parent, "2024-10-05")
    one_line_error(r, "entsoe.csv", f"line {line} (2024-10-04T22:00:00Z)", "'n/e'", "prices.dayahead")
    assert not (current_year.parent / "out").exists()


def test_dash_and_na_markers_are_missing_too(tmp_path):
    p = tmp_path / "entsoe.csv"
    labels = [f"01.06.2024 {h:02d}:00 - 01.06.2024 {h + 1:02d}:00" for h in range(23)]
    labels.append("01.06.2024 23:00 - 02.06.2024 00:00")
    marks = {3: "-", 4: "N/A", 5: ""}
    body = "".join(f'"{lab}","{marks.get(i, "1.5")}","EUR"\n' for i, lab in enumerate(labels))
    p.write_text('"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|SE3"\n' + body)
    s = read_price_csv(p, zone="SE3")
    assert s.isna().sum() == 3
    with pytest.raises(InputError, match=r"line 5 \(2024-06-01T01:00:00Z\): .*no value \('-'\)"):
        slice_day(s, s.index, p, "prices.dayahead")
    # any other text is not a number, wherever it is
    p.write_text(p.read_text().replace('"-"', '"tbd"'))
    with pytest.raises(InputError, match=r"line 5 \(2024-06-01T01:00:00Z\): .*not a number$"):
        read_price_csv(p, zone="SE3")


# ------------------------------------------------------------------------------------- zones


def test_entsoe_zone_must_be_the_case_zone(tmp_path):
    p = entsoe_year(tmp_path / "entsoe.csv", zone="SE4")
    with pytest.raises(InputError) as e:
        read_price_csv(p, zone="SE1")
    assert e.value.file == str(p) and e.value.field == "zone"
    assert "SE4" in e.value.message and "SE1" in e.value.message
    assert read_price_csv(p, zone="SE4").notna().any()  # its own zone, or none given, reads
    assert read_price_csv(p).index.equals(read_price_csv(p, zone="se4").index)

    case = bidopt.load_case(make_case(tmp_path, zone="SE1"))
    with pytest.raises(InputError, match="SE4.*SE1"):
        bidopt.plan(case, "2024-03-14")
    line = one_line_error(plan_cli(tmp_path, "2024-03-14"), "entsoe.csv", "SE4", "SE1")
    assert "BZN|SE4" in line


def test_entsoe_area_column_names_the_zone(tmp_path):
    p = tmp_path / "new_format.csv"
    rows = [f'"01.06.2024 {h:02d}:00:00 - 01.06.2024 {h + 1:02d}:00:00","BZN|SE4","{h}.5"' for h in range(6)]
    p.write_text('"MTU (CET/CEST)","Area","Day-ahead Price (EUR/MWh)"\n' + "\n".join(rows) + "\n")
    assert read_price_csv(p, zone="SE4").iloc[0] == pytest.approx(0.5)
    with pytest.raises(InputError, match=r"zone: .*SE4 \(Area column\).*SE3"):
        read_price_csv(p, zone="SE3")


def test_energinet_single_area_must_be_the_case_zone(tmp_path):
    p = tmp_path / "elspot.csv"
    times = pd.date_range("2022-01-01T00:00Z", periods=4, freq="h")[::-1]
    p.write_text("HourUTC,HourDK,PriceArea,SpotPriceDKK,SpotPriceEUR\n"
                 + "".join(f"{t:%Y-%m-%dT%H:%M:%S},x,DK2,0,{i}\n" for i, t in enumerate(times)))
    assert len(read_price_csv(p, zone="DK2")) == 4
    with pytest.raises(InputError, match=r"zone: .*price area DK2.*SE3"):
        read_price_csv(p, zone="SE3")


# ------------------------------------------------------------------------------------- field counts


def plain_prices(path: Path, cells: list[str], start: str = "2024-03-13T23:00Z") -> Path:
    idx = pd.date_range(start, periods=len(cells), freq="h")
    path.write_text("timestamp_utc,price_eur_per_mwh\n"
                    + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ},{c}\n" for t, c in zip(idx, cells, strict=True)))
    return path


def test_decimal_comma_in_comma_file_is_refused(tmp_path):
    p = plain_prices(tmp_path / "p.csv", ["9,57", "4,57"] + ["30"] * 46)
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    assert e.value.file == str(p) and e.value.field == "line 2"
    assert "3 fields" in e.value.message and "header (line 1) has 2" in e.value.message
    assert "decimal comma" in e.value.message
    one_line_error(plan_cli(make_case(tmp_path, "p.csv", "SE3"), "2024-03-14"), "p.csv", "line 2", "decimal comma")


def test_extra_field_in_one_row_is_refused(tmp_path):
    cells = ["30"] * 48
    cells[6] = "30,x"
    p = plain_prices(tmp_path / "p.csv", cells)
    with pytest.raises(InputError, match=r"p.csv: line 8: 3 fields, but the header \(line 1\) has 2"):
        read_price_csv(p)
    case = bidopt.load_case(make_case(tmp_path, "p.csv", "SE3"))
    with pytest.raises(InputError, match="line 8"):
        bidopt.plan(case, "2024-03-14")
    one_line_error(plan_cli(tmp_path, "2024-03-14"), "p.csv", "line 8", "3 fields")


def test_short_row_is_refused(tmp_path):
    p = plain_prices(tmp_path / "p.csv", ["30"] * 48)
    lines = p.read_text().splitlines()
    lines[9] = lines[9].split(",")[0]  # line 10 loses its price and its comma
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as e:
        read_price_csv(p)
    assert e.value.field == "line 10" and "no price_eur_per_mwh" in e.value.message
    one_line_error(plan_cli(make_case(tmp_path, "p.csv", "SE3"), "2024-03-14"), "p.csv", "line 10")


def test_semicolon_file_with_decimal_commas_still_reads(tmp_path):
    idx = pd.date_range("2024-03-13T23:00Z", periods=3, freq="h")
    p = tmp_path / "p.csv"
    p.write_text("timestamp_utc;price_eur_per_mwh\n" + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ};9,57\n" for t in idx))
    assert read_price_csv(p).tolist() == [9.57] * 3


def test_line_numbers_count_blank_and_continued_lines(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text('\ufefftimestamp_utc,note,load_mw\n\n2024-01-01T00:00Z,"two\nlines",1\n\n'
                 "2024-01-01T01:00Z,x,2\n2024-01-01T03:00Z,y,3\n")
    t = read_text_table(p)
    assert t.header_line == 1 and t.lines.tolist() == [3, 6, 7]
    with pytest.raises(InputError, match=r"line 7 \(2024-01-01T03:00:00Z\): gap"):
        read_series_csv(p, value_column="load_mw")


def test_header_only_columns_may_be_left_out(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n1,2\n3,4\n")  # no row fills "label": a header-only column
    assert read_text_csv(p)["b"].tolist() == ["2", "4"]
    p.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(InputError, match=r"line 3: 2 fields, but other rows have 3: no c"):
        read_text_csv(p)
    p.write_text("a,b,c\n1,2,3\n4,5,\n")  # an empty field is not a missing one
    assert read_text_csv(p, keep_default_na=False)["c"].tolist() == ["3", ""]


def test_gzip_file_rows_are_checked(tmp_path):
    p = tmp_path / "wide.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("start_utc,SE1,SE2\n2022-01-01T00:00Z,1,2\n2022-01-01T01:00Z,3,4,5\n")
    with pytest.raises(InputError, match=r"wide.csv.gz: line 3: 4 fields"):
        read_price_csv(p, zone="SE1")


def test_reserve_price_files_check_fields(tmp_path):
    p = tmp_path / "fcr.csv"
    p.write_text("timestamp_utc,price_eur_per_mw_h\n2024-01-01T00:00Z,12,5\n2024-01-01T01:00Z,13,5\n")
    with pytest.raises(InputError, match=r"fcr.csv: line 2: 3 fields.*decimal comma"):
        read_reserve_prices(p, "fcr_n")
    # Mimer: a trailing ';' on every line and a shorter "Summa" row are the export's own shape
    m = tmp_path / "mimer.csv"
    head = "Period;FCR-N Pris (EUR/MW);FCR-D upp Pris (EUR/MW);FCR-D ned Pris (EUR/MW);"
    rows = [f"2024-02-01 {h:02d}:00;1{h},5;2{h},5;3,0;" for h in range(3)]
    m.write_text("\ufeff" + "\n".join([head, *rows, "Summa;1,5;2;"]) + "\n", encoding="utf-8")
    assert read_reserve_prices(m, "fcr_n").tolist() == [10.5, 11.5, 12.5]
    rows[1] = rows[1] + "9;"
    m.write_text("\ufeff" + "\n".join([head, *rows, "Summa;1,5;2;"]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"mimer.csv: line 3: 6 fields, but the header \(line 1\) has 5"):
        read_reserve_prices(m, "fcr_n")


def test_mimer_afrr_missing_value_names_line(tmp_path):
    m = tmp_path / "afrr.csv"
    head = ("Period;Elområde;aFRR Upp Pris (EUR/MW);aFRR Upp Volym (MW);aFRR Ned Pris (EUR/MW);"
            "aFRR Ned Volym (MW);Publiceringstidpunkt;")
    rows = [f"2024-02-01 {h:02d}:00;;1,5;10;2,5;10;2024-01-31 08:00" for h in range(4)]
    rows[2] = rows[2].replace("1,5", "")
    m.write_text("\ufeff" + "\n".join([head, *rows, "Summa;4,5;40;10;40;"]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_mimer_afrr(m)
    assert e.value.field == "line 4 (2024-02-01T01:00:00Z)" and "missing value" in e.value.message


def test_scenario_and_series_files_check_fields(tmp_path):
    s = tmp_path / "scen.csv"
    s.write_text("timestamp_utc,scenario,price\n2024-01-01T00:00Z,1,3,5\n")
    with pytest.raises(InputError, match=r"scen.csv: line 2: 4 fields"):
        read_scenarios(s)
    v = tmp_path / "load.csv"
    v.write_text("timestamp_utc,load_mw\n2024-01-01T00:00Z,0,5\n")
    with pytest.raises(InputError, match=r"load.csv: line 2: 3 fields"):
        read_series_csv(v)


def test_missing_values_survive_the_file_cache(current_year):
    """The planner reads through sources' cache: the n/e lines are still named from the cached series."""
    case = bidopt.load_case(make_case(current_year.parent))
    bidopt.plan(case, "2024-03-14")
    with pytest.raises(InputError, match=r"line \d+ \(2024-10-04T22:00:00Z\)"):
        bidopt.plan(case, "2024-10-05")
    assert np.isfinite(bidopt.plan(case, "2024-10-04").schedule["grid_import_mw"]).all()
