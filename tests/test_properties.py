"""Physical invariants of every planned schedule, over hypothesis-generated cases.

For any battery, prices (negative ones included), load, PV, grid limits, MTU length and day
(23/24/25 h): SoC stays within bounds and follows the flows and efficiencies; power stays within
limits; the site balances in every MTU; charge and discharge never overlap when binaries are on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import time as btime
from bidopt.data import synthetic

TOL = 1e-6
DAYS = ["2024-03-31", "2024-10-27", "2024-06-12", "2025-01-15"]


@st.composite
def cases(draw):
    day = draw(st.sampled_from(DAYS))
    mtu = draw(st.sampled_from([15, 60]))
    energy = draw(st.floats(0.1, 5.0))
    smin = draw(st.floats(0.0, 0.3)) * energy
    smax = smin + draw(st.floats(0.2, 1.0)) * (energy - smin)
    s0 = draw(st.floats(0.0, 1.0)) * (smax - smin) + smin
    pc = draw(st.floats(0.05, 2.0))
    pd_ = draw(st.floats(0.05, 2.0))
    eta_c = draw(st.floats(0.7, 1.0))
    eta_d = draw(st.floats(0.7, 1.0))
    load_peak = draw(st.floats(0.01, 1.0))
    pv_cap = draw(st.floats(0.01, 1.0))
    seed = draw(st.integers(0, 10_000))
    n_hours = len(btime.delivery_index(day, 60))
    prices = draw(st.lists(st.floats(-100, 500, allow_nan=False), min_size=n_hours, max_size=n_hours))
    battery = {
        "kind": "battery", "name": "bess", "charge_power_mw": pc, "discharge_power_mw": pd_,
        "energy_mwh": energy, "charge_efficiency": eta_c, "discharge_efficiency": eta_d,
        "soc_min_mwh": smin, "soc_max_mwh": smax, "soc_initial_mwh": s0,
        "degradation_eur_per_mwh": draw(st.floats(0, 5)),
    }
    # a reachable final target keeps the case feasible by construction
    if draw(st.booleans()):
        battery["soc_final_mwh"] = s0
    data = {
        "case": {"zone": "SE3", "mtu_minutes": mtu},
        "prices": {"dayahead": "p.csv"},
        "synthetic": {"seed": seed},
        "grid": {"import_limit_mw": load_peak * 3 + pc + 0.1, "export_limit_mw": pv_cap + pd_ + 0.1},
        "assets": [
            battery,
            {"kind": "load", "name": "house", "peak_mw": load_peak},
            {"kind": "pv", "name": "roof", "capacity_mw": pv_cap, "curtailable": draw(st.booleans())},
        ],
    }
    return day, data, prices


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases())
def test_schedule_invariants(tmp_path, drawn):
    day, data, prices = drawn
    idx = btime.delivery_index(day, 60)
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mwh": prices}).to_csv(
        tmp_path / "p.csv", index=False
    )
    case = bidopt.case_from_dict(data, base_dir=tmp_path)
    res = bidopt.plan(case, day)
    s = res.schedule
    b = data["assets"][0]
    dt_h = data["case"]["mtu_minutes"] / 60
    n = len(btime.delivery_index(day, data["case"]["mtu_minutes"]))
    assert len(s) == n

    c, d, soc = s.bess_charge_mw.to_numpy(), s.bess_discharge_mw.to_numpy(), s.bess_soc_mwh.to_numpy()
    # power within limits
    assert (c >= -TOL).all() and (c <= b["charge_power_mw"] + TOL).all()
    assert (d >= -TOL).all() and (d <= b["discharge_power_mw"] + TOL).all()
    # SoC within bounds and consistent with the flows and efficiencies
    assert (soc >= b["soc_min_mwh"] - TOL).all() and (soc <= b["soc_max_mwh"] + TOL).all()
    expected = b["soc_initial_mwh"] + np.cumsum((b["charge_efficiency"] * c - d / b["discharge_efficiency"]) * dt_h)
    np.testing.assert_allclose(soc, expected, atol=1e-5)
    if "soc_final_mwh" in b:
        assert soc[-1] >= b["soc_final_mwh"] - TOL
    # grid within limits and balanced in every MTU
    imp, exp = s.grid_import_mw.to_numpy(), s.grid_export_mw.to_numpy()
    assert (imp >= -TOL).all() and (imp <= data["grid"]["import_limit_mw"] + TOL).all()
    assert (exp >= -TOL).all() and (exp <= data["grid"]["export_limit_mw"] + TOL).all()
    net_assets = c - d + s.house_power_mw.to_numpy() + s.roof_power_mw.to_numpy()
    np.testing.assert_allclose(imp - exp, net_assets, atol=1e-6)
    # PV between zero and what the sun gives (power is negative = generation); must-take if not curtailable
    pv = data["assets"][2]
    sun = synthetic.pv_profile(s.index, capacity_mw=pv["capacity_mw"], seed=data["synthetic"]["seed"]).to_numpy()
    out = -s.roof_power_mw.to_numpy()
    assert (out >= -TOL).all() and (out <= sun + TOL).all()
    if not pv["curtailable"]:
        np.testing.assert_allclose(out, sun, atol=1e-6)
    # exclusivity wherever the model chose binaries
    if res.summary["binaries"]:
        assert (np.minimum(c, d) <= TOL).all()
    # the summary adds up
    assert res.summary["objective_eur"] == sum(res.summary["revenue_eur"].values())
