"""Real data: a battery in SE4 with DK2 FCR-N / FCR-D up prices, every day of a month of 2021."""

from __future__ import annotations

import pandas as pd
import pytest

import bidopt
from tests.conftest import REPO

CASE = REPO / "cases" / "se4_battery_fcr_2021"


def test_march_2021_plans_every_day(shared_data):
    case = bidopt.load_case(CASE)
    # the case reads ../shared/data beside the repository; point it at the data the tests found
    case.prices.dayahead = str(shared_data / "dayahead" / "entsoe_SE4_2021.csv")
    fcr_file = str(shared_data / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv")
    case.prices.fcr_n = case.prices.fcr_d_up = fcr_file
    case.solver.mip_gap = 5e-3  # keeps the 31 MIPs to about a second each
    rows = []
    for day in pd.date_range("2021-03-01", "2021-03-31", freq="D"):
        res = bidopt.plan(case, day.date())
        s, summ = res.schedule, res.summary
        assert len(s) == (23 if day.day == 28 else 24)
        assert summ["solver"]["status"] == "optimal"
        # LER: power and energy reservation hold in every hour
        up = 1.34 * s.bess_fcr_n_mw + s.bess_fcr_d_up_mw
        assert (s.bess_discharge_mw - s.bess_charge_mw + up <= 1.0 + 1e-6).all()
        assert (s.bess_soc_mwh >= s.bess_fcr_n_mw + s.bess_fcr_d_up_mw / 3 - 1e-6).all()
        assert (s.bess_soc_mwh <= 2.0 - 0.95 * s.bess_fcr_n_mw + 1e-6).all()  # 1 h of FCR-N down fills at eta_c
        assert (s[["bess_fcr_n_mw", "bess_fcr_d_up_mw"]] <= 1.0 + 1e-9).all().all()  # prequalified: rated power
        lots = (s[["bess_fcr_n_mw", "bess_fcr_d_up_mw"]] / 0.1).to_numpy()
        assert abs(lots - lots.round()).max() < 1e-6
        rows.append({"day": day.date(), **summ["revenue_eur"], "objective_eur": summ["objective_eur"]})
    month = pd.DataFrame(rows).set_index("day")
    totals = month.sum()
    print("\nSE4 battery, March 2021, EUR per stream:\n" + totals.round(2).to_string())
    # DK2 FCR-D up paid 19.7-74 EUR/MW/h in March 2021 against 13-23 for FCR-N: the battery sells its
    # full 1 MW of FCR-D up most hours, and FCR-N where a charging position leaves headroom.
    assert totals["fcr_d_up"] > 0.8 * 24 * 31 * 19.65
    assert totals["fcr_n"] >= 0.0
    assert totals["fcr_d_down"] == 0.0
    assert totals["objective_eur"] == pytest.approx(totals.drop("objective_eur").sum())


def test_fcr_price_file_with_missing_hours_is_exit_2(shared_data, tmp_path):
    from click.testing import CliRunner

    from bidopt.cli import main

    src = shared_data / "ancillary" / "energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv"
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "fcr.csv").write_text("\n".join(lines[:1000] + lines[1003:]) + "\n")
    text = (CASE / "case.toml").read_text()
    text = text.replace("../../../shared/data/dayahead/", f"{shared_data}/dayahead/")
    text = text.replace("../../../shared/data/ancillary/energinet_fcrreservesdk2_FCR-N_FCR-Dup_2021.csv", "fcr.csv")
    text = text.replace("../../models/", f"{REPO}/models/")
    (tmp_path / "case.toml").write_text(text)
    r = CliRunner().invoke(main, ["plan", str(tmp_path), "--day", "2021-03-10", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "fcr.csv" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
