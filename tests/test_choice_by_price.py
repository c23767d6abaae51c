"""Choice among reserve products by price (issue 16, "Done when"): a 1 MW / 2 MWh battery planned
over a week (one 168-hour horizon) with FCR-D up/down, aFRR up/down and mFRR up/down capacity
prices and day-ahead prices sells the capacity where it pays: raise one product's price (both
directions) and its share of the sold capacity rises, for each product.

Prices are synthetic but of realistic shape and level (EUR/MW/h; day-ahead EUR/MWh): daily cycles,
weekday/weekend differences and noise, written as CSV files in ``tmp_path`` (aFRR as a Mimer export,
mFRR as a plain capacity price CSV). Volumes are continuous (lots 0): the plan is a linear
programme, whose optimal sold volume of a product is monotone in that product's price (the exchange
argument of parametric LP), so the test checks the model rather than a MIP gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import time as btime
from bidopt.horizon import Horizon
from bidopt.model import PortfolioModel
from tests.test_afrr import write_mimer

FIRST, LAST = "2024-06-10", "2024-06-16"  # Monday .. Sunday
FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
PRODUCTS = {"fcr_d": ("fcr_d_up", "fcr_d_down"), "afrr": ("afrr_up", "afrr_down"), "mfrr": ("mfrr_up", "mfrr_down")}


def week_prices(seed: int = 16) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray], np.ndarray]:
    """Hourly UTC index of the week, capacity prices per stream (EUR/MW/h) and day-ahead prices
    (EUR/MWh): levels of the Swedish markets around 2023-2024 (MARKET_RULES 3.5: FCR-D tens of
    EUR/MW/h falling to single digits; aFRR capacity tens of EUR/MW/h)."""
    idx = btime.horizon_index(FIRST, LAST, 60)
    local = idx.tz_convert(btime.STOCKHOLM)
    hour = np.asarray(local.hour, float)
    weekend = np.asarray(local.day_of_week >= 5)
    rng = np.random.default_rng(seed)

    def noisy(level, swing, phase):
        v = level + swing * np.cos(2 * np.pi * (hour - phase) / 24) + rng.normal(0, 0.15 * level, len(idx))
        return np.round(np.clip(v * np.where(weekend, 0.8, 1.0), 0.5, None), 3)

    cap = {"fcr_d_up": noisy(9.0, 3.0, 3), "fcr_d_down": noisy(7.0, 2.0, 14),
           "afrr_up": noisy(12.0, 5.0, 18), "afrr_down": noisy(10.0, 4.0, 3),
           "mfrr_up": noisy(11.0, 3.0, 17), "mfrr_down": noisy(9.0, 2.0, 2)}
    da = 60.0 + 35.0 * np.cos(2 * np.pi * (hour - 18) / 24) + rng.normal(0, 8.0, len(idx))
    return idx, cap, np.round(np.where(weekend, 0.7 * da, da), 2)


def week_case(folder, factor: dict[str, float]):
    """The battery's case with each product's prices times ``factor[product]`` (default 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    idx, cap, da = week_prices()
    cap = {s: np.round(v * factor.get(p, 1.0), 3) for p, streams in PRODUCTS.items() for s in streams
           for v in [cap[s]]}
    utc = idx.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp_utc": utc, "price_eur_per_mwh": da}).to_csv(folder / "da.csv", index=False)
    for s in ("fcr_d_up", "fcr_d_down"):
        pd.DataFrame({"timestamp_utc": utc, "price_eur_per_mw_h": cap[s]}).to_csv(folder / f"{s}.csv", index=False)
    days = [str(d.date()) for d in pd.date_range(FIRST, LAST)]
    write_mimer(folder / "afrr.csv", days, cap["afrr_up"], cap["afrr_down"])
    pd.DataFrame({"timestamp_utc": utc, "up_price_eur_per_mw_h": cap["mfrr_up"],
                  "down_price_eur_per_mw_h": cap["mfrr_down"]}).to_csv(folder / "mfrr.csv", index=False)
    mk = {"fcr": {"step_mw": 0.0}, "afrr": {"prices": "afrr.csv", "lot_mw": 0.0},
          "mfrr": {"prices": "mfrr.csv", "lot_mw": 0.0}}  # mFRR in Svenska kraftnät's weekday window
    data = {"case": {"zone": "SE3", "mtu_minutes": 60},
            "prices": {"dayahead": "da.csv", "fcr_d_up": "fcr_d_up.csv", "fcr_d_down": "fcr_d_down.csv"},
            "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
            "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0,
                        "charge_efficiency": 0.95, "discharge_efficiency": 0.95, "soc_initial_mwh": 1.0,
                        "soc_final_mwh": 1.0, "degradation_eur_per_mwh": 2.0}],
            "markets": mk}
    return bidopt.case_from_dict(data, base_dir=folder)


def sold_mw_h(case) -> dict[str, float]:
    """MW·h of capacity sold per product over the week (one 168-hour plan)."""
    pm = PortfolioModel(case, Horizon.for_days(FIRST, LAST, mtu_minutes=60))
    pm.solve()
    s = pm.schedule()
    return {p: float(sum(s[f"bess_{x}_mw"].sum() for x in streams if f"bess_{x}_mw" in s))
            for p, streams in PRODUCTS.items()}


def test_the_week_sells_every_product_at_base_prices(tmp_path):
    """At the base prices each product is the best use of the battery in some hours."""
    sold = sold_mw_h(week_case(tmp_path / "base", {}))
    assert all(v / sum(sold.values()) >= 0.05 for v in sold.values()), sold


@pytest.mark.parametrize("raised", list(PRODUCTS))
def test_raising_a_products_price_raises_its_share(tmp_path, raised):
    """The product's share of all capacity sold over the week (MW·h) never falls as its prices are
    multiplied by 0.25, 0.5, 1, 2, 4, and rises by at least 20 points over the range."""
    shares, sold = [], []
    for k in FACTORS:
        v = sold_mw_h(week_case(tmp_path / f"x{k}", {raised: k}))
        sold.append(v)
        shares.append(v[raised] / sum(v.values()))
    assert all(b >= a - 1e-6 for a, b in zip(shares, shares[1:], strict=False)), (shares, sold)
    assert shares[-1] - shares[0] >= 0.2, (shares, sold)
