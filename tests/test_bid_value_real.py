"""Do the curves earn their keep? SE3 2021-2022, 60 delivery days chosen in advance (every 11th day
from 2021-03-01), scenarios only from data published before each gate. Each strategy's exported
orders are cleared at the realised price and the battery then follows the cleared position, with
deviations settled as imbalance at the realised price +- 10 EUR/MWh (a documented proxy: no
imbalance prices for SE3 in the shared data). Strategy A: the stochastic curves. Strategy B: the plan
for the expected (scenario-mean) price, submitted as price-independent volumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt.bids.dayahead import bid, price_scenarios, settings
from bidopt.forecast.scenarios import expected
from bidopt.horizon import Horizon

DAYS = [d.date() for d in pd.date_range("2021-03-01", periods=60, freq="11D")]
PENALTY = 10.0


def cleared(orders, prices):
    """Net volume each exported curve clears at the realised price (linear interpolation)."""
    curves = orders.curve_orders[0].curves
    return np.array([np.interp(prices[t], [p.price for p in c.curve_points], [p.volume for p in c.curve_points])
                     for t, c in enumerate(curves)])


def settle(case, h, realised, position):
    imb = {"imbalance": (realised + PENALTY, realised - PENALTY, None)}
    pm = bidopt.PortfolioModel(case, h, realised, position_mw=position, adjustments=imb)
    pm.solve()
    return pm.summary()["objective_eur"]


@pytest.mark.realdata
def test_curves_beat_expected_price_volumes(shared_data):
    data = {
        "case": {"name": "se3_battery", "zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": str(shared_data / "dayahead" / "se1-se4_dayahead_2016-2022_utc.csv.gz")},
        "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
        "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0,
                    "soc_initial_mwh": 1.0, "soc_final_mwh": 1.0, "degradation_eur_per_mwh": 1.0}],
        "bidding": {"n_scenarios": 10, "seed": 1},
    }
    case = bidopt.case_from_dict(data)
    st = settings(case)
    rows = []
    for day in DAYS:
        h = Horizon.for_days(day)
        realised = bidopt.data.sources.dayahead_prices(case, h.index)
        cube = price_scenarios(case, day, 60, st)
        curves = bid(case, day, scenarios=cube)
        mean_plan = bidopt.PortfolioModel(case, h, expected(cube).to_numpy())
        mean_plan.solve()
        s = mean_plan.schedule()
        fixed = np.round((s.grid_import_mw - s.grid_export_mw).to_numpy(), 1)
        rows.append({"day": day, "curves": settle(case, h, realised, cleared(curves.orders, realised)),
                     "expected_price_volumes": settle(case, h, realised, fixed)})
    res = pd.DataFrame(rows).set_index("day")
    mean = res.mean()
    gap = mean["curves"] - mean["expected_price_volumes"]
    print(f"\n60 SE3 days, mean EUR/day: curves {mean['curves']:.2f}, expected-price volumes "
          f"{mean['expected_price_volumes']:.2f}, gap {gap:+.2f} (curves better on "
          f"{(res.curves > res.expected_price_volumes + 1e-6).sum()} days, worse on "
          f"{(res.curves < res.expected_price_volumes - 1e-6).sum()})")
    assert gap >= 0.0
