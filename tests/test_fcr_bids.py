"""Stepped FCR bids over FCR price scenarios: acceptance by marginal price, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt.bids.rules import validate_fcr_bids
from bidopt.data.reserve_prices import read_reserve_prices
from tests.conftest import REPO

DAY = "2021-03-10"


def _case(shared_data, tmp_path, fcr_override=None):
    src = shared_data / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv"
    for p in ("fcr_n", "fcr_d_up"):
        s = read_reserve_prices(src, p)
        if fcr_override is not None:
            s = fcr_override(s)
        pd.DataFrame({"timestamp_utc": s.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "price_eur_per_mw_h": s.to_numpy()}).to_csv(tmp_path / f"{p}.csv", index=False)
    case = bidopt.load_case(REPO / "cases" / "se4_battery_fcr_2021")
    case.base_dir = tmp_path
    case.prices.dayahead = str(shared_data / "dayahead" / "entsoe_SE4_2021.csv")
    case.prices.fcr_n, case.prices.fcr_d_up = "fcr_n.csv", "fcr_d_up.csv"
    case.assets[0].energy_mwh = case.assets[0].soc_max_mwh = 2.0
    case.bidding = {"n_scenarios": 6}
    case.solver.mip_gap = 1e-3
    return case


def test_each_scenario_gets_the_steps_priced_at_or_below_its_clearing_price(shared_data, tmp_path):
    b = bidopt.bid(_case(shared_data, tmp_path), DAY)
    bm = b.result.model
    assert validate_fcr_bids(b.fcr_bids) == []
    assert len(b.fcr_bids) > 0
    hours = bm.horizon.hour_starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    for s, site in enumerate(bm.sites):
        for p in site.blk.fcr.P:
            for h in site.blk.fcr.H:
                clearing = bm.fcr_scenarios[p][s][h]
                bids = b.fcr_bids[(b.fcr_bids["product"] == p) & (b.fcr_bids.hour_start_utc == hours[h])]
                # bid prices are rounded to the 0.01 tick; the model used the exact scenario price
                accepted = bids[bids.price_eur_per_mw_h <= round(clearing, 2) + 1e-9].volume_mw.sum()
                assert site.blk.fcr_accepted.mw[p, h].value == pytest.approx(accepted, abs=1e-6)
                # the site holds headroom for everything the bids may get accepted, in every scenario
                offered = bids.volume_mw.sum()
                assert site.blk.fcr.total_mw[p, h].value == pytest.approx(offered, abs=1e-6)


def test_fcr_bids_do_not_look_ahead(shared_data, tmp_path):
    """FCR prices for D are published after auction 1 (D-1 00:30): changing them changes nothing."""
    (tmp_path / "a").mkdir()
    base = bidopt.bid(_case(shared_data, tmp_path / "a"), DAY)
    day_utc = pd.Timestamp("2021-03-09T23:00Z")

    def bump(s):
        s = s.copy()
        s[(s.index >= day_utc) & (s.index < day_utc + pd.Timedelta(hours=24))] *= 5.0
        return s

    (tmp_path / "b").mkdir()
    changed = bidopt.bid(_case(shared_data, tmp_path / "b", bump), DAY)
    pd.testing.assert_frame_equal(base.fcr_bids.reset_index(drop=True), changed.fcr_bids.reset_index(drop=True))
    np.testing.assert_allclose(base.summary["objective_eur"], changed.summary["objective_eur"])
