"""FCR auction rules by delivery day (bidopt/defaults/fcr_rules.toml): pricing, gates, settlement.

A 2021 replay must use the rules of 2021 (pay-as-bid, auction 1 at D-2 15:00), a June 2024 replay
today's (marginal pricing, auction 1 at D-1 00:30): MARKET_RULES 3.2 [S21][S22][S24].
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import time as btime
from bidopt.backtest import settlement
from bidopt.backtest.day import strategy_day
from bidopt.bids import dayahead
from bidopt.errors import InputError
from bidopt.markets import fcr

OLD, NEW = "2021-03-10", "2024-06-10"  # pay-as-bid / D-2 gate, and marginal / D-1 gate


# --------------------------------------------------------------------------------------- the table


def test_rules_table_loads_sorted_and_sourced():
    table = fcr.rules_table()
    assert len(table) >= 3
    dates = [e.valid_from for e in table]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    for e in table:
        assert "MARKET_RULES" in e.source and "[S2" in e.source  # names its sources
        assert e.pricing in ("pay_as_bid", "marginal") and e.lot_mw == pytest.approx(0.1)
    assert {e.valid_from: e.pricing for e in table}[dt.date(2024, 2, 1)] == "marginal"  # [S24]


@pytest.mark.parametrize("day, pricing, gate1, gate2", [
    (OLD, "pay_as_bid", "2021-03-08T14:00Z", "2021-03-09T17:00Z"),  # 15:00 CET on D-2, 18:00 CET on D-1
    ("2023-05-31", "pay_as_bid", "2023-05-29T13:00Z", "2023-05-30T16:00Z"),  # last day of the D-2 gate
    ("2023-06-01", "pay_as_bid", "2023-05-30T22:30Z", "2023-05-31T16:00Z"),  # 00:30 CEST on D-1
    ("2024-01-31", "pay_as_bid", "2024-01-29T23:30Z", "2024-01-30T17:00Z"),
    ("2024-02-01", "marginal", "2024-01-30T23:30Z", "2024-01-31T17:00Z"),
    (NEW, "marginal", "2024-06-08T22:30Z", "2024-06-09T16:00Z"),
])
def test_rules_in_force_on_each_delivery_day(day, pricing, gate1, gate2):
    r = fcr.rules_in_force(day)
    assert r.pricing == pricing
    assert r.gate_utc(day, 1) == pd.Timestamp(gate1)
    assert r.gate_utc(day, 2) == pd.Timestamp(gate2)


def _case(tmp_path, markets=None, bidding=None):
    data = {"case": {"zone": "SE3", "mtu_minutes": 60},
            "prices": {"dayahead": "da.csv", "fcr_d_up": "up.csv"},
            "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
            "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 1.0,
                        "charge_efficiency": 1.0, "discharge_efficiency": 1.0, "soc_initial_mwh": 0.5,
                        "reserves": ["fcr_d_up"]}],
            "bidding": {"n_scenarios": 4, "lookback_days": 7, "fcr_lookback_days": 7, **(bidding or {})},
            "solver": {"mip_gap": 1e-6}}
    if markets:
        data["markets"] = markets
    return bidopt.case_from_dict(data, base_dir=tmp_path)


def test_a_case_overrides_the_table(tmp_path):
    c = _case(tmp_path, {"fcr": {"pricing": "marginal", "auction1_gate": "00:30", "auction1_days_before": 1}})
    r = fcr.auction_rules(c, OLD)
    assert r.pricing == "marginal" and fcr.gate_utc(c, OLD, 1) == pd.Timestamp("2021-03-08T23:30Z")
    assert "overridden in [markets.fcr]" in r.source and "pricing = marginal" in r.source
    assert fcr.auction_rules(_case(tmp_path), OLD).pricing == "pay_as_bid"
    late = _case(tmp_path, {"fcr": {"auction2_gate": "17:00"}})
    assert fcr.gate_utc(late, NEW, 2) == pd.Timestamp("2024-06-09T15:00Z")  # 17:00 CEST on D-1
    assert fcr.auction_rules(late, NEW).pricing == "marginal"  # the rest stays as in force
    with pytest.raises(InputError, match="markets.fcr.pricing"):
        fcr.auction_rules(_case(tmp_path, {"fcr": {"pricing": "uniform"}}), OLD)


# ------------------------------------------------------------------------------------- settlement


def test_capacity_payments_by_hand():
    """0.3 MW at 10 (clears at 25): accepted; 0.2 MW at 30 (clears at 25): rejected; 0.5 MW at 12
    (clears at 12): accepted. Pay-as-bid: 0.3*10 + 0.5*12 = 9.0 EUR; marginal: 0.3*25 + 0.5*12 = 13.5."""
    h0, h1 = "2021-03-09T23:00:00Z", "2021-03-10T00:00:00Z"
    bids = pd.DataFrame({"product": ["fcr_d_up", "fcr_d_up", "fcr_n"], "auction": [1, 1, 1],
                         "hour_start_utc": [h0, h0, h1], "volume_mw": [0.3, 0.2, 0.5],
                         "price_eur_per_mw_h": [10.0, 30.0, 12.0]})
    clearing = {("fcr_d_up", 1, h0): 25.0, ("fcr_n", 1, h1): 12.0}
    pab = fcr.capacity_payments(bids, clearing, "pay_as_bid")
    assert list(pab.accepted) == [True, False, True]
    assert pab.payment_eur.sum() == pytest.approx(9.0)
    assert fcr.capacity_payments(bids, clearing, "marginal").payment_eur.sum() == pytest.approx(13.5)
    assert settlement.fcr_capacity_by_product(pab) == pytest.approx({"fcr_d_up": 3.0, "fcr_n": 6.0})


def test_pay_as_bid_shortfall_by_hand():
    """Ladder 0.1 MW at 10, 0.2 MW more at 20, 0.1 MW more at 30 (cumulative lots 1, 3, 4); a scenario
    clearing at 30 accepts all: marginal 0.4 * 30 = 12, pay-as-bid 0.1*10 + 0.2*20 + 0.1*30 = 8,
    so marginal overstates by 4 = 0.1 * ((20-10)*1 + (30-20)*3)."""
    lots = [1, 3, 4]
    assert fcr.pay_as_bid_shortfall(lambda k: lots[k], [10.0, 20.0, 30.0], 2, 0.1) == pytest.approx(4.0)
    assert fcr.pay_as_bid_shortfall(lambda k: lots[k], [10.0, 20.0, 30.0], 0, 0.1) == 0.0
    bids = pd.DataFrame({"product": ["fcr_n"] * 3, "auction": [1] * 3, "hour_start_utc": ["h"] * 3,
                         "volume_mw": [0.1, 0.2, 0.1], "price_eur_per_mw_h": [10.0, 20.0, 30.0]})
    paid = {r: fcr.capacity_payments(bids, {("fcr_n", 1, "h"): 30.0}, r).payment_eur.sum()
            for r in ("marginal", "pay_as_bid")}
    assert paid["marginal"] - paid["pay_as_bid"] == pytest.approx(4.0)


def _prices(tmp_path, days=(OLD,), d1_bump=0.0, d2_bump=0.0):
    """Day-ahead and FCR-D up prices for the 40 days up to each day: varied FCR prices (the
    scenarios spread, so the stepped bids have several prices). ``dK_bump`` adds to the FCR prices of
    the K-th day before each day."""
    da, up = [], []
    for d in days:
        start = pd.Timestamp(d) - pd.Timedelta(days=40)
        idx = btime.horizon_index(start.date(), btime.as_date(d) + dt.timedelta(days=1), 60)
        rng = np.random.default_rng(int(start.strftime("%Y%m%d")))
        da.append(pd.Series(40 + 10 * np.sin(np.arange(len(idx)) / 3.0), index=idx))
        price = pd.Series(rng.uniform(5, 40, len(idx)), index=idx)
        for k, bump in ((1, d1_bump), (2, d2_bump)):
            price[price.index.isin(btime.delivery_index(btime.as_date(d) - dt.timedelta(days=k), 60))] += bump
        up.append(price)
    for name, parts, col in (("da.csv", da, "price_eur_per_mwh"), ("up.csv", up, "price_eur_per_mw_h")):
        s = pd.concat(parts).sort_index()
        pd.DataFrame({"timestamp_utc": s.index.strftime("%Y-%m-%dT%H:%M:%SZ"), col: s.to_numpy()}).to_csv(
            tmp_path / name, index=False)


@pytest.mark.parametrize("day, pricing", [(OLD, "pay_as_bid"), (NEW, "marginal")])
def test_settle_fcr_uses_the_rule_of_the_delivery_day(tmp_path, day, pricing):
    _prices(tmp_path, (day,))
    c = _case(tmp_path)
    hours = btime.delivery_index(day, 60)
    clearing = float(bidopt.data.sources.reserve_prices(c, "fcr_d_up", hours[:1])[0])
    bids = pd.DataFrame({"product": ["fcr_d_up"] * 2, "auction": [1, 1],
                         "hour_start_utc": [hours[0].strftime("%Y-%m-%dT%H:%M:%SZ")] * 2,
                         "volume_mw": [0.4, 0.1], "price_eur_per_mw_h": [round(clearing / 2, 2), clearing + 1]})
    settled, rule = settlement.settle_fcr(c, bids, hours, day)
    assert rule == pricing
    paid = round(clearing / 2, 2) if pricing == "pay_as_bid" else clearing
    assert settled.payment_eur.sum() == pytest.approx(0.4 * paid)


# ---------------------------------------------------------------------- what the forecaster knows


def _fcr_cube(tmp_path, day, **bump):
    _prices(tmp_path, (day,), **bump)
    c = _case(tmp_path)
    return dayahead.fcr_price_scenarios(c, day, 4, dayahead.settings(c))["fcr_d_up"]


def test_2021_forecaster_does_not_know_d_minus_1(tmp_path):
    """Auction 1 for a 2021 day closed D-2 15:00, before D-1's FCR prices were published (D-2 19:00):
    changing them changes nothing; D-2's were known and move the scenarios."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    base = _fcr_cube(tmp_path / "a", OLD)
    assert np.array_equal(_fcr_cube(tmp_path / "b", OLD, d1_bump=25.0), base)
    assert not np.array_equal(_fcr_cube(tmp_path / "c", OLD, d2_bump=25.0), base)


def test_2024_forecaster_knows_d_minus_1(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    assert not np.array_equal(_fcr_cube(tmp_path / "a", NEW), _fcr_cube(tmp_path / "b", NEW, d1_bump=25.0))


# ---------------------------------------------------------------------------------- whole replay


@pytest.mark.parametrize("day, pricing", [(OLD, "pay_as_bid"), (NEW, "marginal")])
def test_replay_settles_fcr_under_the_rules_of_the_day(tmp_path, day, pricing):
    """One backtest day: the FCR-D up revenue is what the auction paid the submitted bids under the
    day's rule, computed here from the bids and the realised prices by hand."""
    _prices(tmp_path, (day,))
    c = _case(tmp_path)
    out = strategy_day(c, day, {}, "bid")
    assert out.record["fcr_pricing"] == pricing
    bids = bidopt.bid(c, day).fcr_bids  # the same bids (deterministic per seed and day)
    assert len(bids) > 1 and bids.price_eur_per_mw_h.nunique() > 1  # stepped: several prices
    hours = btime.delivery_index(day, 60)
    realised = dict(zip(hours.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        bidopt.data.sources.reserve_prices(c, "fcr_d_up", hours), strict=True))
    paid = 0.0
    marginal = 0.0
    for r in bids.itertuples():
        q = realised[r.hour_start_utc]
        if r.price_eur_per_mw_h <= q + 1e-9:
            paid += r.volume_mw * (r.price_eur_per_mw_h if pricing == "pay_as_bid" else q)
            marginal += r.volume_mw * q
    assert paid > 0
    assert out.record["fcr_d_up_eur"] == pytest.approx(paid, abs=1e-6)
    if pricing == "pay_as_bid":
        assert paid < marginal - 1e-6  # today's rule would have paid more: the look-back error of issue 12
