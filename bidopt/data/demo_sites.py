"""A reproducible fleet of home cases built in code, for tests, benchmarks and the fleet bidder's demo.

``home_sites(n, seed, zone, day)`` returns ``n`` validated cases; ``home_site_data(i, ...)`` site ``i``
as a case dict (the parsed TOML), so a test can change one field. The homes are described the way
a case file describes them (asset and tariff kinds by name), so this module needs nothing above the
case layer. Powers in MW, energies in MWh, tariff rates in SEK incl. VAT as the tariffs take them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bidopt import time as btime
from bidopt.case import Case, case_from_dict

# the kinds of home in every 10 consecutive sites: 5 battery + PV, 3 heat pump, 2 EV (any 4 have all)
_MIX = ("battery", "heat_pump", "battery", "ev", "battery", "heat_pump", "battery", "ev", "battery", "heat_pump")


def home_sites(n: int, seed: int = 0, zone: str = "SE3", day="2024-01-17", n_scenarios: int = 5) -> list[Case]:
    """``n`` home cases built in code, reproducible from ``seed`` (site ``i`` is the same whatever
    ``n``). A fixed mix in every 10 consecutive sites: 5 homes with a battery, a base load and
    rooftop PV, 3 houses with a heat pump (an RC building model) and a base load, 2 homes with an EV
    charger and a base load (any 4 consecutive sites hold all three kinds). Each has its own size
    (battery 5-15 kWh, PV 3-10 kWp, heat pump 2-4 kW, charger 3.7/7.4/11 kW, base load 2-5 kW peak),
    fuse (11/14/17 kW), synthetic-profile seed and tariff: a peak-power charge
    (Ellevio-style mean of the 3 highest daily peaks, nights at half weight, 40-130 SEK/kW/month incl.
    VAT), a time-of-use or a flat energy fee (SEK/kWh incl. VAT); households pay energy tax and VAT.
    Prices are ``"synthetic"`` for ``zone``, 60-minute MTUs, ``[bidding] n_scenarios`` =
    ``n_scenarios``, HiGHS on one thread.

    EV sessions are dated: the car is plugged in from the evening before ``day`` to the morning of
    ``day`` and from the evening of ``day`` to the next morning (the part of each session inside the
    day must be charged). Planned on another day, the EV homes have no car plugged in.
    """
    day = btime.as_date(day)  # parsed once for all the sites
    return [case_from_dict(home_site_data(i, seed, zone, day, n_scenarios), source=f"home_sites(seed={seed})[{i}]")
            for i in range(n)]


def home_site_data(i: int, seed: int = 0, zone: str = "SE3", day="2024-01-17", n_scenarios: int = 5) -> dict:
    """Site ``i`` of ``home_sites(n, seed, zone, day, n_scenarios)`` as a case dict (the parsed TOML)."""
    d = pd.Timestamp(btime.day_of(day))
    rng = np.random.default_rng([seed, i])
    kind = _MIX[i % len(_MIX)]
    fuse = float(rng.choice([0.011, 0.014, 0.017]))
    assets: list[dict] = [{"kind": "load", "name": "house", "profile": "synthetic",
                           "peak_mw": round(float(rng.uniform(0.002, 0.005)), 5)}]
    assets += _battery(rng) if kind == "battery" else _heat_pump(rng) if kind == "heat_pump" else _ev(rng, d)
    tariffs = _tariffs(rng)
    return {
        "case": {"name": f"home_{i:05d}", "zone": zone, "mtu_minutes": 60},
        "prices": {"dayahead": "synthetic"},
        "synthetic": {"seed": int(rng.integers(0, 2**31 - 1))},
        "grid": {"import_limit_mw": fuse, "export_limit_mw": fuse},
        "retail": {"supplier_fee_sek_per_kwh": round(float(rng.uniform(0.0, 0.05)), 4), "pays_energy_tax": True,
                   "pays_vat": True,
                   "export": {"policy": "spot", "handling_fee_sek_per_kwh": 0.02, "tax_reduction": True}},
        "assets": assets,
        "tariffs": tariffs,
        "solver": {"threads": 1},
        "bidding": {"n_scenarios": n_scenarios},
    }


def _battery(rng: np.random.Generator) -> list[dict]:
    """A home battery (5-15 kWh, 2 h) and rooftop PV (3-10 kWp)."""
    e = round(float(rng.uniform(0.005, 0.015)), 4)
    return [
        {"kind": "battery", "name": "battery", "power_mw": round(e / 2, 5), "energy_mwh": e,
         "charge_efficiency": 0.96, "discharge_efficiency": 0.96, "soc_min_mwh": round(0.1 * e, 6),
         "soc_max_mwh": round(0.9 * e, 6), "soc_initial_mwh": round(0.5 * e, 6),
         "soc_final_mwh": round(0.5 * e, 6), "max_cycles_per_day": 1.0, "degradation_eur_per_mwh": 10.0},
        {"kind": "pv", "name": "pv", "capacity_mw": round(float(rng.uniform(0.003, 0.010)), 4),
         "curtailable": True},
    ]


def _heat_pump(rng: np.random.Generator) -> list[dict]:
    """A heat pump (2-4 kW) heating a house (RC model, 40-90 h time constant)."""
    ua = float(rng.uniform(0.00012, 0.00025))  # MW/K: a house losing 120-250 W/K
    return [{
        "kind": "heat_pump", "name": "heat_pump", "mode": "rc",
        "max_power_mw": round(float(rng.uniform(0.002, 0.004)), 5), "aux_max_mw": 0.006,
        "cop_at_0c": round(float(rng.uniform(2.6, 3.4)), 2), "cop_slope_per_k": 0.08, "cop_min": 1.5,
        "cop_max": 5.0, "outdoor_temp": "synthetic",
        "thermal_capacity_mwh_per_k": round(ua * float(rng.uniform(40.0, 90.0)), 6),  # 40-90 h
        "heat_loss_mw_per_k": round(ua, 6), "internal_gain_mw": 0.0005,
        "comfort_min_c": 20.0, "comfort_max_c": 23.0,
        "comfort_min_by_hour": {str(h): 18.5 for h in (22, 23, 0, 1, 2, 3, 4, 5)},
        "indoor_initial_c": 20.5,
    }]


def _ev(rng: np.random.Generator, d: pd.Timestamp, tz: str = "Europe/Stockholm") -> list[dict]:
    """An EV charger (3.7/7.4/11 kW) with the car plugged in the night before and after day ``d``."""
    power = float(rng.choice([0.0037, 0.0074, 0.011]))
    sessions = []
    for k, start in enumerate((d - pd.Timedelta(days=1), d)):
        arr = pd.Timestamp(start + pd.Timedelta(hours=float(rng.uniform(16.5, 20.0)))).tz_localize(tz)
        dep = pd.Timestamp(start + pd.Timedelta(days=1, hours=float(rng.uniform(6.0, 8.0)))).tz_localize(tz)
        hours = (dep - arr).total_seconds() / 3600
        energy = min(float(rng.uniform(0.004, 0.025)), 0.9 * power * 0.95 * hours)
        sessions.append({"id": f"night{k}", "arrival": arr.tz_convert("UTC").isoformat(),
                         "departure": dep.tz_convert("UTC").isoformat(), "energy_mwh": round(energy, 5)})
    return [{"kind": "ev", "name": "ev", "charger_power_mw": power, "charger_efficiency": 0.95,
             "sessions": sessions}]


def _tariffs(rng: np.random.Generator) -> list[dict]:
    """A peak-power charge with an energy fee, a time-of-use fee or a flat fee (SEK incl. VAT)."""
    tariff_kind = rng.choice(["peak", "tou", "flat"], p=[0.5, 0.3, 0.2])
    if tariff_kind == "peak":
        return [{"kind": "peak_power", "name": "power_charge", "n_peaks": 3, "one_per_day": True,
                 "includes_vat": True, "hour_weights": {str(h): 0.5 for h in (22, 23, 0, 1, 2, 3, 4, 5)},
                 "rates": [{"valid_from": "2014-01-01",
                            "sek_per_kw_month": round(float(rng.uniform(40.0, 130.0)), 2)}]},
                {"kind": "energy_fee", "name": "transfer", "includes_vat": True,
                 "rates": [{"valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.05, 0.1)), 4)}]}]
    if tariff_kind == "tou":
        high = round(float(rng.uniform(0.3, 0.6)), 4)
        return [{"kind": "energy_fee", "name": "transfer_tou", "includes_vat": True, "rates": [{
            "valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.08, 0.15)), 4),
            "windows": [{"months": [1, 2, 3, 11, 12], "weekdays": [0, 1, 2, 3, 4], "hours": list(range(6, 22)),
                         "sek_per_kwh": high}]}]}]
    return [{"kind": "energy_fee", "name": "transfer", "includes_vat": True,
             "rates": [{"valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.2, 0.4)), 4)}]}]


__all__ = ["home_site_data", "home_sites"]
