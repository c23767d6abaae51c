"""Per-MTU grid price series per direction (Gotland / Sala-Heby "grid load fee" style)."""

import numpy as np
import pandas as pd
import pytest

import bidopt
from bidopt import time as btime
from bidopt.horizon import Horizon
from bidopt.tariffs import retail
from tests.conftest import battery_case, write_prices

DAY = "2024-01-10"


@pytest.fixture
def fee_case(tmp_path):
    idx = btime.delivery_index(DAY, 60)
    write_prices(tmp_path / "p.csv", idx[0].isoformat(), [50.0] * len(idx))
    fee = np.full(len(idx), 0.05)
    fee[17] = 2.0  # a loaded station at 17:00 UTC: 2 SEK/kWh, paid both ways (the pilot's maximum is 20)
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "import_sek_per_kwh": fee,
                  "export_sek_per_kwh": fee}).to_csv(tmp_path / "fee.csv", index=False)
    data = battery_case("p.csv", charge_efficiency=1.0, discharge_efficiency=1.0)
    data["case"]["sek_per_eur"] = 10.0
    data["assets"].append({"kind": "load", "name": "house", "peak_mw": 0.3})
    data["tariffs"] = [{"kind": "grid_fee_series", "name": "load_fee", "file": "fee.csv"}]
    return bidopt.case_from_dict(data, base_dir=tmp_path), fee


def test_fee_series_enters_price_stack_per_direction(fee_case):
    case, fee = fee_case
    h = Horizon.for_days(DAY)
    coefs = retail.coefficients(case, h, np.full(h.n, 50.0))
    imp, exp = coefs["tariff"]
    np.testing.assert_allclose(imp, fee * 1000 / 10.0)  # SEK/kWh -> EUR/MWh at 10 SEK/EUR
    np.testing.assert_allclose(exp, fee * 1000 / 10.0)


def test_battery_relieves_the_loaded_hour_and_bill_matches(fee_case):
    case, fee = fee_case
    res = bidopt.plan(case, DAY)
    s = res.schedule
    assert s.bess_discharge_mw.iloc[17] == pytest.approx(1.0)
    assert s.bess_discharge_mw.iloc[17] == s.bess_discharge_mw.max()
    tariff = case.tariffs[0]
    bill = tariff.bill_eur(case, s.grid_import_mw, s.grid_export_mw)
    assert -res.summary["revenue_eur"]["tariff"] == pytest.approx(bill, rel=1e-9)


def test_fee_file_missing_hours(tmp_path, fee_case):
    case, _ = fee_case
    fee = pd.read_csv(tmp_path / "fee.csv").drop(index=[5])
    fee.to_csv(tmp_path / "fee.csv", index=False)
    with pytest.raises(bidopt.InputError, match="fee.csv"):
        bidopt.plan(case, DAY)
