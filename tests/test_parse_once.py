"""Parse once at the edge: a delivery day is parsed into a ``bidopt.time.DeliveryDay`` by ``plan`` /
``bid`` and passed down typed; nothing below parses it again (issue 15, item 4)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import pytest

import bidopt
from bidopt import time as btime
from bidopt.errors import InputError

DEMO = Path(__file__).resolve().parents[1] / "cases" / "demo"


@pytest.fixture
def as_date_calls(monkeypatch):
    """Count every call of ``bidopt.time.as_date``, under any name a bidopt module bound it to."""
    calls = []
    real = btime.as_date

    def counting(day, field="day"):
        calls.append(day)
        return real(day, field)

    monkeypatch.setattr(btime, "as_date", counting)
    for name, module in list(sys.modules.items()):
        if name.startswith("bidopt") and getattr(module, "as_date", None) is real:
            monkeypatch.setattr(module, "as_date", counting)
    return calls


def test_bid_parses_the_delivery_day_once(as_date_calls):
    case = bidopt.load_case(DEMO)
    b = bidopt.bid(case, day="2024-03-14")
    assert b.orders.delivery_day == dt.date(2024, 3, 14)
    assert as_date_calls == ["2024-03-14"]


def test_plan_parses_the_delivery_day_once(as_date_calls):
    case = bidopt.load_case(DEMO)
    res = bidopt.plan(case, day="2024-03-31")  # DST: 23 hours
    assert len(res.schedule) == 23
    assert as_date_calls == ["2024-03-31"]


def test_a_typed_day_is_not_parsed_again(as_date_calls):
    case = bidopt.load_case(DEMO)
    day = btime.DeliveryDay.parse("2024-03-14", case.case.timezone)
    as_date_calls.clear()
    bidopt.plan(case, day=day)
    assert as_date_calls == []


def test_the_cli_parses_the_day_in_its_option_only(as_date_calls, tmp_path):
    from click.testing import CliRunner

    from bidopt.cli import main

    r = CliRunner().invoke(main, ["bid", str(DEMO), "--day", "2024-03-14", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert as_date_calls == []  # --day is a date when bid gets it: nothing below parses text


def test_a_backtest_parses_its_start_and_end_once(as_date_calls, tmp_path):
    case = bidopt.load_case(DEMO)
    bidopt.backtest(case, "2024-03-12", "2024-03-13", out_dir=tmp_path / "bt")
    assert as_date_calls == ["2024-03-12", "2024-03-13"]  # the days below are typed: never parsed again


def test_delivery_day_holds_its_zone_and_mtus():
    d = btime.DeliveryDay.parse("2024-10-27")
    assert d.date == dt.date(2024, 10, 27) and d.tz == btime.STOCKHOLM
    assert str(d) == "2024-10-27" and f"{d:%Y%m%d}" == "20241027"
    assert len(d.index(60)) == 25 and len(d.index(15)) == 100
    assert d.bounds_utc() == btime.day_bounds_utc("2024-10-27")
    assert d.shifted(1).date == dt.date(2024, 10, 28)
    assert btime.DeliveryDay.parse(d) is d  # already typed: as it is
    helsinki = btime.DeliveryDay.parse(d, "Europe/Helsinki")
    assert helsinki.tz == "Europe/Helsinki" and helsinki.bounds_utc()[0].hour == 21  # 00:00 EEST
    assert btime.as_date(d) == d.date and btime.day_of(d) == d.date
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.date = dt.date(2024, 1, 1)


@pytest.mark.parametrize("bad", ["2024-13-01", "tomorrow", 3.5, None])
def test_a_bad_day_is_an_input_error_naming_the_field(bad):
    with pytest.raises(InputError) as e:
        btime.DeliveryDay.parse(bad, field="start")
    assert e.value.field == "start"
