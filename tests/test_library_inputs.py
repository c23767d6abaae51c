"""The library's public entry points report bad arguments as ``InputError`` and print nothing.

``InputError`` is also a ``ValueError``, so callers that caught the bare ``ValueError`` these
raised before keep working.
"""

from __future__ import annotations

import pytest

import bidopt
from bidopt import time as btime
from bidopt.bids.fcr_auction2 import auction2
from bidopt.bids.intraday import replan
from bidopt.errors import InputError
from tests.conftest import REPO

DEMO = REPO / "cases" / "demo"


@pytest.fixture(scope="module")
def demo():
    return bidopt.load_case(DEMO)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError) and issubclass(InputError, bidopt.BidoptError)
    assert InputError(None, "day", "x").exit_code == 2


CALLS = {
    "plan": lambda c, day, **kw: bidopt.plan(c, day, **kw),
    "bid": lambda c, day, **kw: bidopt.bid(c, day, **kw),
    "backtest start": lambda c, day, **kw: bidopt.backtest(c, day, "2023-11-16", **kw),
    "backtest end": lambda c, day, **kw: bidopt.backtest(c, "2023-11-14", day, **kw),
    "fcr2": lambda c, day, **kw: auction2(c, day, "/nonexistent", **kw),
    "intraday IDA1": lambda c, day, **kw: replan(c, day, "/nonexistent", "IDA1", **kw),
    "intraday continuous": lambda c, day, **kw: replan(c, day, "/nonexistent", "continuous", **kw),
}


@pytest.mark.parametrize("entry", list(CALLS))
@pytest.mark.parametrize("day", ["15/11/2023", "2023-13-01", "", None, "tomorrow"])
def test_bad_day_is_input_error(demo, entry, day):
    with pytest.raises(InputError) as err:
        CALLS[entry](demo, day)
    e = err.value
    assert e.field in ("day", "start", "end")
    assert "YYYY-MM-DD" in e.message and "\n" not in str(e)


@pytest.mark.parametrize("entry", ["plan", "bid"])
@pytest.mark.parametrize("mtu", [5, 45, 120, "15"])
def test_bad_mtu_is_input_error(demo, entry, mtu):
    with pytest.raises(InputError) as err:
        CALLS[entry](demo, "2023-11-15", mtu_minutes=mtu)
    assert err.value.field == "mtu_minutes"
    assert str(mtu) in err.value.message and "15" in err.value.message and "60" in err.value.message


def test_time_helpers_raise_input_error():
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        btime.as_date("15/11/2023")
    with pytest.raises(InputError, match="mtu_minutes"):
        btime.delivery_index("2023-11-15", 5)
    with pytest.raises(ValueError):  # callers that caught ValueError still do
        btime.as_date("15/11/2023")


def test_bid_with_an_explicit_mtu_names_the_argument_not_the_case(demo):
    with pytest.raises(InputError) as err:
        bidopt.bid(demo, "2024-03-14", mtu_minutes=15)
    assert err.value.field == "mtu_minutes" and err.value.file is None
    assert "NOR_QH_DA_1" in err.value.message and "60" in err.value.message
