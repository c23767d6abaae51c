"""A capacity product bid price-taking at its own clearing prices knew, at the gate, the price the
auction would clear at: the backtest says so in the day's warnings (summary.json), and stays quiet
for a product whose price the buyer posts before the gate (a DSO request) or that bids in steps
over forecast prices."""

from __future__ import annotations

from bidopt.backtest.day import strategy_day
from bidopt.markets import capacity_products
from tests.test_afrr import DAY as AFRR_DAY
from tests.test_afrr import afrr_case
from tests.test_ffr import SUMMER, ffr_case
from tests.test_local_flex import DAY as FLEX_DAY
from tests.test_local_flex import flex_case


def hindsight(warnings: list[str], name: str) -> list[str]:
    return [w for w in warnings if w.startswith(f"{name}: capacity bid at the day's own clearing prices")]


def test_a_price_taking_ffr_bid_is_flagged_as_hindsight(tmp_path):
    case = ffr_case(tmp_path, no_spot_trade=False, da_price=None)
    [w] = hindsight(strategy_day(case, SUMMER, {}).warnings, "ffr")
    assert "upper bound" in w and "no price forecast" in w


def test_a_dso_request_posted_before_the_gate_is_not_hindsight(tmp_path):
    case = flex_case(tmp_path, da="synthetic")
    assert [p.name for p in capacity_products(case)] == ["local_flex"]
    assert hindsight(strategy_day(case, FLEX_DAY, {}).warnings, "local_flex") == []


def test_price_taking_afrr_bids_are_flagged_with_the_setting_that_makes_them_so(tmp_path):
    case = afrr_case(tmp_path, afrr={"bids": "price_taking"}, da=None)
    [w] = hindsight(strategy_day(case, AFRR_DAY, {}).warnings, "afrr")
    assert '[markets.afrr] bids = "price_taking"' in w


def test_stepped_bids_are_not_flagged():
    """Stepped bids forecast the clearing price from history published before the gate
    (tests/test_capacity_steps.py), so nothing is taken as known."""
    from bidopt.backtest.day import _hindsight

    class Stepped:
        name, price_known_at_gate, price_taking_key = "toy", False, ""

        def stepped_bids(self, case):
            return True

    import bidopt.backtest.day as day

    real = day.markets.capacity_products
    try:
        day.markets.capacity_products = lambda c: [Stepped()]
        assert _hindsight(None) == []
        Stepped.stepped_bids = lambda self, case: False
        assert len(_hindsight(None)) == 1
    finally:
        day.markets.capacity_products = real
