"""The market-product seam (bidopt/markets/base.py): a product registered from outside the package
(a toy upward reserve, defined here) is built, stacked with FCR, reported, bid and held through the
registry alone; FCR, day-ahead, intraday and imbalance are registered products."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import markets
from bidopt import time as btime
from bidopt.horizon import Horizon
from bidopt.markets import base
from bidopt.site import STREAM_ORDER

DAY = "2024-03-14"
# 100 SEK/kWh on import and on export (more than a day of reserves repays): no spot trade pays, so a
# battery keeps to its reserves; its 1 MW connection carries their full activation (the site checks it)
NO_SPOT_TRADE = {"supplier_fee_sek_per_kwh": 100.0, "export": {"handling_fee_sek_per_kwh": 100.0}}


class ToyUp(base.Product):
    """Upward capacity at 10 EUR/MW/h, 0.1 MW lots, holding 30 min of energy; offered by case name."""

    name = "toy"
    streams = ("toy",)
    order = 15
    has_table = False

    def offered(self, case):
        return ["toy"] if case.case.name == "toy_case" else []

    def provides(self, asset, stream, case=None):
        f = asset.flexibility()
        return f is not None and f.up and asset.offers(stream)

    def limit_mw(self, asset, stream):
        return asset.flexibility().up_limit_mw

    def prices(self, case, stream, horizon):
        return np.full(len(horizon.hour_starts), 10.0)

    def lot_mw(self, case, horizon):
        return 0.1

    def headroom(self, cap, blk, T, horizon, case, assets):
        hour_of = horizon.hour_group
        return {a: base.Headroom([cap.cap[a, "toy", hour_of[t]] for t in T], None,
                                 [0.5 * cap.cap[a, "toy", hour_of[t]] for t in T], None, None)
                for a in sorted({a for a, _ in cap.AP})}


@pytest.fixture
def toy():
    base.register_product(ToyUp)
    yield markets.product("toy")
    base._PRODUCTS.pop("toy")


def _case(tmp_path, name="toy_case", fcr_d_up=8.0, soc0=1.0, **battery):
    idx = btime.delivery_index(DAY, 60)
    for f, col, v in (("da.csv", "price_eur_per_mwh", 0.0), ("up.csv", "price_eur_per_mw_h", fcr_d_up)):
        pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), col: v}).to_csv(tmp_path / f, index=False)
    bat = {"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 1.0, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "soc_initial_mwh": soc0, **battery}
    return bidopt.case_from_dict({"case": {"name": name, "zone": "SE3", "mtu_minutes": 60},
                                  "prices": {"dayahead": "da.csv", "fcr_d_up": "up.csv"},
                                  "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0}, "retail": NO_SPOT_TRADE, "assets": [bat],
                                  "markets": {"fcr": {"step_mw": 0.1}}}, base_dir=tmp_path)


def test_builtin_products_are_registered_in_stream_order():
    names = [p.name for p in markets.registered()]
    assert names.index("dayahead") < names.index("fcr") < names.index("intraday") < names.index("imbalance")
    assert STREAM_ORDER == ("dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance", "tariff", "tax",
                            "degradation")
    assert list(markets.tables())[:1] == ["fcr"] and {"intraday", "imbalance"} <= set(markets.tables())


def test_a_new_product_is_planned_through_the_registry_alone(tmp_path, toy):
    res = bidopt.plan(_case(tmp_path), DAY)
    s, rev = res.schedule, res.summary["revenue_eur"]
    np.testing.assert_allclose(s.bess_toy_mw, 1.0, atol=1e-9)  # 10 EUR beats FCR-D up's 8 for the same power
    np.testing.assert_allclose(s.bess_fcr_d_up_mw, 0.0, atol=1e-9)
    assert rev["toy"] == pytest.approx(10.0 * 24)
    assert list(rev).index("fcr_d_up") < list(rev).index("toy") < list(rev).index("intraday")


def test_headroom_of_all_products_is_summed_on_the_asset(tmp_path, toy):
    """0.3 MWh in store: the toy holds 0.5 h per MW (0.6 MW at most) and FCR-D up (LER) 1/3 h per MW
    plus its power; together they never ask more power or energy than the battery has."""
    res = bidopt.plan(_case(tmp_path, fcr_d_up=9.0, soc0=0.3), DAY)
    s = res.schedule
    assert (s.bess_toy_mw + s.bess_fcr_d_up_mw <= 1.0 + 1e-9).all()
    assert (0.5 * s.bess_toy_mw + s.bess_fcr_d_up_mw / 3.0 <= 0.3 + 1e-9).all()
    assert float((s.bess_toy_mw + s.bess_fcr_d_up_mw).min()) > 0.5  # both are sold together


def test_cases_without_the_product_are_unchanged(tmp_path, toy):
    res = bidopt.plan(_case(tmp_path, name="plain"), DAY)
    assert "toy" not in res.summary["revenue_eur"] and "bess_toy_mw" not in res.schedule
    assert "toy" not in markets.stream_order(_case(tmp_path, name="plain"))
    assert "toy" in markets.provided_by(_case(tmp_path).assets[0])
    assert "toy" not in markets.provided_by(_case(tmp_path, reserves=["fcr_d_up"]).assets[0])


def test_bid_table_and_held_capacity(tmp_path, toy):
    from bidopt.model import PortfolioModel

    case = _case(tmp_path, fcr_d_up=20.0)
    h = Horizon(btime.delivery_index(DAY, 60))
    pm = PortfolioModel(case, h)
    cap = pm.site.capacities["toy"]
    toy.fix_capacity(cap, {("toy", k): 0.3 for k in range(24)})  # held although FCR-D up pays more
    pm.solve()
    table = toy.bid_table(cap, h)
    assert list(table.columns) == list(base.BID_COLUMNS) and len(table) == 24
    np.testing.assert_allclose(table.volume_mw, 0.3)
    assert (table.price_eur_per_mw_h == 0).all()
    np.testing.assert_allclose(pm.schedule().bess_fcr_d_up_mw, 0.7, atol=1e-9)
    assert toy.without(case).markets == case.markets  # the toy has no table: nothing to drop
    fcr = markets.product("fcr")
    assert not fcr.offered(fcr.without(case)) and fcr.offered(case)


def test_no_flex_baseline_sells_no_capacity_of_any_product(tmp_path, toy):
    from bidopt.backtest.baselines import without_reserves

    case = _case(tmp_path)
    assert [p.name for p in markets.capacity_products(case)] == ["fcr", "toy"]
    ToyUp.without = lambda self, c: c.model_copy(update={"case": c.case.model_copy(update={"name": "no_toy"})})
    try:
        assert markets.capacity_products(without_reserves(case)) == []
    finally:
        del ToyUp.without
