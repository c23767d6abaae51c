"""FCR auction 2 (D-1 18:00): stepped bids on top of auction 1, with the day-ahead position fixed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt.bids import export
from bidopt.bids.fcr_auction2 import auction2
from bidopt.bids.intraday import accepted_fcr, sold_by_hour
from bidopt.bids.rules import validate_fcr_bids
from bidopt.cli import main
from tests.conftest import REPO, SHARED_DATA
from tests.test_fcr_bids import DAY
from tests.test_fcr_bids import _case as fcr_case


@pytest.fixture(scope="module")
def position(tmp_path_factory):
    """What `bid` wrote for DAY on the SE4 FCR case (auction 1 and day-ahead)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    d = tmp_path_factory.mktemp("fcr2")
    case = fcr_case(SHARED_DATA, d)
    b = bidopt.bid(case, DAY)
    export.write_orders(b.orders, d / "dayahead_orders.json")
    export.write_fcr_bids(b.fcr_bids, d / "fcr_bids.csv")
    return case, d


def test_auction2_steps_clear_on_top_of_auction1(position):
    case, d = position
    r = auction2(case, DAY, d)
    am = r.model
    assert validate_fcr_bids(r.fcr_bids) == []
    a1 = export.read_fcr_bids(d / "fcr_bids.csv")
    assert (r.fcr_bids["auction"] == 1).sum() == len(a1)
    new = r.fcr_bids[r.fcr_bids["auction"] == 2]
    hours = am.horizon.hour_starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    sold1 = sold_by_hour(case, a1.astype({"auction": int, "volume_mw": float, "price_eur_per_mw_h": float}),
                         am.horizon.hour_starts)
    for s, site in enumerate(am.sites):
        for p in site.blk.fcr.P:
            for h in site.blk.fcr.H:
                mine = new[(new["product"] == p) & (new.hour_start_utc == hours[h])]
                clearing = round(am.scenarios[p][s][h], 2)
                accepted2 = mine[mine.price_eur_per_mw_h <= clearing + 1e-9].volume_mw.sum()
                total = site.blk.fcr_accepted.mw[p, h].value
                assert total == pytest.approx(sold1.get((p, h), 0.0) + accepted2, abs=1e-6)
                held = site.blk.fcr.total_mw[p, h].value  # headroom for every auction-2 step at once
                assert held == pytest.approx(sold1.get((p, h), 0.0) + mine.volume_mw.sum(), abs=1e-6)
    # the reported result is the mean of the scenario results, auction-1 capacity at its own price
    assert r.summary["objective_eur"] == pytest.approx(sum(r.summary["revenue_eur"].values()))


def test_auction2_sells_the_rest_when_its_price_is_high_and_nothing_when_zero(position):
    case, d = position
    hours = 24
    high = {"fcr_n": np.zeros((3, hours)), "fcr_d_up": np.full((3, hours), 500.0)}
    r = auction2(case, DAY, d, scenarios=high)
    bess = case.assets[0]
    for site in r.model.sites:
        up = [site.blk.fcr.total_mw["fcr_d_up", h].value for h in site.blk.fcr.H]
        # all the LER rules allow: FCR-D up alone reserves C of upward power, capped by the
        # prequalified volume; the day-ahead position can only lower it
        assert max(up) <= bess.power_mw + 1e-6
        assert max(up) >= 0.5 * bess.power_mw
    assert (r.fcr_bids["auction"] == 2).any()
    zero = {"fcr_n": np.zeros((3, hours)), "fcr_d_up": np.zeros((3, hours))}
    r0 = auction2(case, DAY, d, scenarios=zero)
    assert not (r0.fcr_bids["auction"] == 2).any()


def test_auction2_does_not_look_ahead(shared_data, position, tmp_path):
    """Auction-2 prices of D are published after its gate (D-1 18:00): changing them changes nothing."""
    case, d = position
    base = auction2(case, DAY, d)
    bumped = fcr_case(shared_data, tmp_path)  # the day-ahead and auction-1 prices as before
    src = tmp_path / "fcr_d_up.csv"
    s = pd.read_csv(src)
    ts = pd.to_datetime(s.timestamp_utc, utc=True)
    on_day = (ts >= pd.Timestamp("2021-03-09T23:00Z")) & (ts < pd.Timestamp("2021-03-10T23:00Z"))
    s.loc[on_day, "price_eur_per_mw_h"] *= 7.0
    s.to_csv(tmp_path / "fcr_d_up_a2.csv", index=False)
    bumped.prices.fcr_d_up_auction2 = "fcr_d_up_a2.csv"
    changed = auction2(bumped, DAY, d)
    pd.testing.assert_frame_equal(base.fcr_bids, changed.fcr_bids)
    assert base.summary["auction2_prices"]["fcr_d_up"] == "auction-1 proxy"
    assert changed.summary["auction2_prices"]["fcr_d_up"] == "prices.fcr_d_up_auction2"


def test_each_auction_clears_at_its_own_price(shared_data, tmp_path):
    case = fcr_case(shared_data, tmp_path)
    hour = pd.DatetimeIndex([pd.Timestamp("2021-03-10T09:00Z")])
    p1 = float(bidopt.data.sources.reserve_prices(case, "fcr_d_up", hour)[0])
    a2 = pd.DataFrame({"timestamp_utc": hour.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mw_h": [p1 + 10.0]})
    a2.to_csv(tmp_path / "a2.csv", index=False)
    case.prices.fcr_d_up_auction2 = "a2.csv"
    bids = pd.DataFrame({"product": ["fcr_d_up"] * 2, "auction": [1, 2],
                         "hour_start_utc": ["2021-03-10T09:00:00Z"] * 2, "volume_mw": [0.3, 0.2],
                         "price_eur_per_mw_h": [p1 + 5.0, p1 + 5.0]})
    got = accepted_fcr(case, bids, hour)
    assert list(got["auction"]) == [2]  # too dear for auction 1, accepted in auction 2


def test_cli_fcr2_writes_valid_bids(position, tmp_path):
    case, d = position
    toml = d / "case.toml"
    toml.write_text(f"""
[case]
zone = "SE4"
[prices]
dayahead = "{case.prices.dayahead}"
fcr_n = "fcr_n.csv"
fcr_d_up = "fcr_d_up.csv"
[grid]
import_limit_mw = 1.0
export_limit_mw = 1.0
[[assets]]
name = "bess"
template = "{REPO / 'models' / 'assets' / 'battery_1mw_2mwh.toml'}"
energy_mwh = 2.0
soc_max_mwh = 2.0
[bidding]
n_scenarios = 6
[solver]
mip_gap = 1e-3
""")
    r = CliRunner().invoke(main, ["fcr2", str(toml), "--day", DAY, "--position", str(d), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert CliRunner().invoke(main, ["validate", str(tmp_path / "fcr_bids.csv")]).exit_code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stage"] == "FCR2"
    assert len(pd.read_csv(tmp_path / "schedule.csv")) == 24


def test_cli_fcr2_needs_fcr_prices(tmp_path):
    r = CliRunner().invoke(main, ["fcr2", str(REPO / "cases" / "demo"), "--day", "2024-03-14",
                                  "--position", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "prices" in r.output and "FCR" in r.output
    assert not (tmp_path / "o").exists()
