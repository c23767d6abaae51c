"""Stacking (issue 16 item 5): one battery sells FCR-N, FCR-D up/down, aFRR up/down, mFRR up/down
and FFR on the same day; the headroom of every product held at once never exceeds
the asset.

The check is independent of the model's constraints: it reads the solved schedule (charge,
discharge, SoC, capacity per stream) and recomputes, with numpy, the power and energy each product
must hold by the rules documented in its module and MARKET_RULES:

- FCR on a limited energy reservoir (MARKET_RULES 3.3, ``bidopt/markets/fcr.py``): power up
  1.34 N + Du + 0.20 Dd, power down 1.34 N + 0.20 Du + Dd, energy up 1 h N + 1/3 h Du, energy down
  1 h N + 1/3 h Dd;
- aFRR (``bidopt/markets/afrr.py``): power u up, d down, energy u * endurance_h and d * endurance_h;
- mFRR capacity (``bidopt/markets/mfrr.py``): power u up, d down, energy u * endurance_h and
  d * endurance_h (no EAM activation planned);
- FFR (``bidopt/markets/ffr.py``): power c up, energy c * endurance_s / 3600 h up.

Columns add up when products are combined (MARKET_RULES 3.3: the same MW is never sold twice).
Held by a battery with charge c_t, discharge d_t, SoC s at the start and the end of MTU t:
up <= P_d - d_t + c_t, down <= P_c - c_t + d_t, s - E_up / eta_d >= soc_min and
s + E_down * eta_c <= soc_max.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import bidopt
from bidopt import markets
from bidopt import time as btime
from bidopt.errors import InfeasibleError
from bidopt.horizon import Horizon
from bidopt.model import PortfolioModel
from tests.test_afrr import write_mimer

TOL = 1e-6
DAYS = ["2024-06-12", "2024-10-27", "2024-03-31"]  # FFR in season, a 25-hour day in season, out of season
FCR = ("fcr_n", "fcr_d_up", "fcr_d_down")
FAST = (Phase.explicit, Phase.reuse, Phase.generate)  # no shrinking: a solve per step is slow
STREAMS = ("fcr_n", "fcr_d_up", "fcr_d_down", "afrr_up", "afrr_down", "mfrr_up", "mfrr_down", "ffr")
LOT = {"fcr_n": 0.1, "fcr_d_up": 0.1, "fcr_d_down": 0.1, "afrr_up": 1.0, "afrr_down": 1.0, "mfrr_up": 1.0,
       "mfrr_down": 1.0, "ffr": 0.1}  # the default lots of the products
ALL_HOURS = {"weekdays": list(range(7)), "up_hours": list(range(24)), "down_hours": list(range(24))}


# ------------------------------------------------------------------------------ the independent check


def held_headroom(s: pd.DataFrame, rules: dict) -> dict[str, np.ndarray]:
    """Per MTU, the power (MW) and energy (MWh) all products sold by ``bess`` ask of it together,
    from the schedule's capacity columns and the documented rules (``rules``: aFRR and mFRR
    endurance_h, FFR endurance_s)."""
    def col(stream):
        return s[f"bess_{stream}_mw"].to_numpy(float) if f"bess_{stream}_mw" in s else np.zeros(len(s))

    n, du, dd = col("fcr_n"), col("fcr_d_up"), col("fcr_d_down")
    au, ad, mu, md, ffr = col("afrr_up"), col("afrr_down"), col("mfrr_up"), col("mfrr_down"), col("ffr")
    ea, em = rules["afrr_endurance_h"], rules.get("mfrr_endurance_h", 1.0)
    up = 1.34 * n + du + 0.20 * dd + au + mu + ffr
    down = 1.34 * n + 0.20 * du + dd + ad + md
    e_up = 1.0 * n + du / 3.0 + au * ea + mu * em + ffr * rules["ffr_endurance_s"] / 3600.0
    e_down = 1.0 * n + dd / 3.0 + ad * ea + md * em
    return {"up_mw": up, "down_mw": down, "up_mwh": e_up, "down_mwh": e_down}


def violations(s: pd.DataFrame, bat: dict, rules: dict) -> dict[str, float]:
    """How far (MW or MWh, > 0 = violated) the stacked headroom exceeds the battery in the worst MTU."""
    h = held_headroom(s, rules)
    c, d = s["bess_charge_mw"].to_numpy(float), s["bess_discharge_mw"].to_numpy(float)
    end = s["bess_soc_mwh"].to_numpy(float)
    start = np.concatenate([[bat["soc_initial_mwh"]], end[:-1]])
    out = {"power_up": h["up_mw"] - (bat["discharge_power_mw"] - d + c),
           "power_down": h["down_mw"] - (bat["charge_power_mw"] - c + d)}
    for name, soc in (("start", start), ("end", end)):
        out[f"energy_up_{name}"] = bat["soc_min_mwh"] - (soc - h["up_mwh"] / bat["discharge_efficiency"])
        out[f"energy_down_{name}"] = soc + h["down_mwh"] * bat["charge_efficiency"] - bat["soc_max_mwh"]
    return {k: float(v.max()) for k, v in out.items()}


def assert_stacked_headroom_holds(s: pd.DataFrame, bat: dict, rules: dict) -> None:
    worst = violations(s, bat, rules)
    assert all(v <= TOL for v in worst.values()), worst


# --------------------------------------------------------------------------------------- the case


def _utc(idx) -> list[str]:
    return list(idx.strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_capacity_prices(path, day, values) -> str:
    idx = btime.delivery_index(day, 60)
    pd.DataFrame({"timestamp_utc": _utc(idx), "price_eur_per_mw_h": values}).to_csv(path, index=False)
    return path.name


def stacked_case(folder, day, bat: dict, prices: dict, da, rules: dict, lots: bool = False):
    """A battery-only case offering every stream of ``prices`` {stream: EUR/MW/h per hour};
    ``da`` the day-ahead price per hour; volumes continuous unless ``lots``."""
    folder.mkdir(parents=True)
    idx = btime.delivery_index(day, 60)
    pd.DataFrame({"timestamp_utc": _utc(idx), "price_eur_per_mwh": da}).to_csv(folder / "da.csv", index=False)
    case_prices = {"dayahead": "da.csv"}
    for p in FCR:
        if p in prices:
            case_prices[p] = write_capacity_prices(folder / f"{p}.csv", day, prices[p])
    mk = {"fcr": {"step_mw": 0.1 if lots else 0.0}}
    if "afrr_up" in prices or "afrr_down" in prices:
        up, down = prices.get("afrr_up", 0.0), prices.get("afrr_down", 0.0)
        write_mimer(folder / "afrr.csv", [day], up, down, up_vol=np.where(np.asarray(up) > 0, 10.0, 0.0),
                    down_vol=np.where(np.asarray(down) > 0, 10.0, 0.0))
        mk["afrr"] = {"prices": "afrr.csv", "lot_mw": 1.0 if lots else 0.0, "endurance_h": rules["afrr_endurance_h"]}
        if rules.get("afrr_activation"):  # expected activated energy moves the SoC (su * u - sd * d per MTU)
            mtus = btime.delivery_index(day, rules["mtu"])
            pd.DataFrame({"timestamp_utc": _utc(mtus), "up_eur_per_mwh": 120.0, "down_eur_per_mwh": 20.0}).to_csv(
                folder / "afrr_act.csv", index=False)
            su, sd = rules["afrr_activation"]
            mk["afrr"].update(activation_prices="afrr_act.csv", activation_share_up=su, activation_share_down=sd)
    if "mfrr_up" in prices or "mfrr_down" in prices:
        pd.DataFrame({"timestamp_utc": _utc(idx), "up_price_eur_per_mw_h": prices.get("mfrr_up", 0.0),
                      "down_price_eur_per_mw_h": prices.get("mfrr_down", 0.0)}).to_csv(folder / "mfrr.csv", index=False)
        window = ALL_HOURS if rules.get("mfrr_window") == "all" else {}  # else Svenska kraftnät's (default)
        mk["mfrr"] = {"prices": "mfrr.csv", "lot_mw": 1.0 if lots else 0.0,
                      "endurance_h": rules.get("mfrr_endurance_h", 1.0), **window}
    if "ffr" in prices:
        mk["ffr"] = {"prices": write_capacity_prices(folder / "ffr.csv", day, prices["ffr"]),
                     "lot_mw": 0.1 if lots else 0.0, "endurance_s": rules["ffr_endurance_s"]}
    data = {"case": {"zone": "SE3", "mtu_minutes": rules["mtu"]}, "prices": case_prices,
            "grid": {"import_limit_mw": 10.0, "export_limit_mw": 10.0},
            "assets": [{"kind": "battery", "name": "bess", **bat}], "markets": mk}
    return bidopt.case_from_dict(data, base_dir=folder)


@st.composite
def stacked_days(draw):
    """A battery, a day, an MTU, random capacity prices for a random set of streams (hours without a
    price or volume are closed) and random day-ahead prices."""
    day = draw(st.sampled_from(DAYS))
    n = len(btime.delivery_index(day, 60))
    energy = draw(st.floats(0.3, 4.0))
    smin = draw(st.floats(0.0, 0.2)) * energy
    smax = smin + draw(st.floats(0.5, 1.0)) * (energy - smin)
    bat = {"charge_power_mw": draw(st.floats(0.2, 2.0)), "discharge_power_mw": draw(st.floats(0.2, 2.0)),
           "energy_mwh": energy, "soc_min_mwh": smin, "soc_max_mwh": smax,
           "soc_initial_mwh": smin + draw(st.floats(0.0, 1.0)) * (smax - smin),
           "charge_efficiency": draw(st.floats(0.8, 1.0)), "discharge_efficiency": draw(st.floats(0.8, 1.0)),
           "degradation_eur_per_mwh": draw(st.floats(0.0, 5.0))}
    hourly = st.lists(st.floats(0.0, 80.0).map(lambda v: round(v, 3)), min_size=n, max_size=n)  # Mimer: 3 decimals
    chosen = draw(st.lists(st.sampled_from(STREAMS), min_size=2, max_size=len(STREAMS), unique=True))
    prices = {p: draw(hourly) for p in chosen}
    da = draw(st.lists(st.floats(-20.0, 300.0), min_size=n, max_size=n))
    rules = {"mtu": draw(st.sampled_from([15, 60])), "afrr_endurance_h": draw(st.floats(0.25, 2.0)),
             "ffr_endurance_s": draw(st.floats(5.0, 900.0)), "mfrr_endurance_h": draw(st.floats(0.25, 2.0)),
             "mfrr_window": draw(st.sampled_from(["svk", "all"])),
             "afrr_activation": draw(st.none() | st.tuples(st.floats(0.0, 0.5), st.floats(0.0, 0.5)))}
    return day, bat, prices, da, rules


def hourly_capacity(s: pd.DataFrame, horizon: Horizon, stream: str) -> np.ndarray:
    """The capacity of ``stream`` per UTC hour (checked constant within the hour)."""
    v = s[f"bess_{stream}_mw"].to_numpy(float)
    hour_of = np.asarray(horizon.hour_group)
    per_hour = np.array([v[hour_of == h] for h in range(len(horizon.hour_starts))])
    assert np.ptp(per_hour, axis=1).max() <= TOL, f"{stream}: capacity changes within an hour"
    return per_hour[:, 0]


# ------------------------------------------------------------------------------------------- tests


@settings(max_examples=15, deadline=None, phases=FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stacked_days())
def test_stacked_headroom_of_the_plan_fits_the_battery(tmp_path, drawn):
    """Random prices for a random set of streams (aFRR with or without expected activation moving
    the SoC): whatever the plan sells, every product's headroom held at once fits the battery's power
    and SoC window in every MTU; capacity is hourly, 0 where
    the product is not bought (FFR out of season, aFRR hours without procured volume)."""
    day, bat, prices, da, rules = drawn
    case = stacked_case(tmp_path / uuid.uuid4().hex, day, bat, prices, da, rules)
    res = bidopt.plan(case, day)
    s = res.schedule
    assert_stacked_headroom_holds(s, bat, rules)
    h = Horizon.for_days(day, mtu_minutes=rules["mtu"])
    for p, price in prices.items():
        per_hour = hourly_capacity(s, h, p)
        assert per_hour.min() >= -TOL
        closed = (np.asarray(price) <= 0) if p.startswith("afrr") else np.zeros(len(price), bool)
        if p == "ffr" and day == "2024-03-31":
            closed[:] = True
        if p.startswith("mfrr") and rules["mfrr_window"] == "svk":  # weekdays, up 06-22, down 22-06 local
            local = h.hour_starts.tz_convert(btime.STOCKHOLM)
            hours = np.asarray(local.hour)
            inside = (hours >= 6) & (hours < 22) if p == "mfrr_up" else (hours < 6) | (hours >= 22)
            closed |= ~inside | (np.asarray(local.day_of_week) >= 5)
        assert per_hour[closed].max(initial=0.0) <= TOL, f"{p} sold in a closed hour"
        if not (p.startswith("afrr") and rules["afrr_activation"]):  # else activated energy is paid too
            assert res.summary["revenue_eur"][p] == pytest.approx(float(np.dot(price, per_hour)), abs=1e-6)


def accepted_steps(volumes: dict, lot: dict, draw) -> dict:
    """Random accepted volumes: per stream and hour a whole number of lots up to the volume sold
    rounded down to lots (the steps of the bid that cleared)."""
    out = {}
    for (p, h), v in volumes.items():
        n = int(np.floor(v / lot[p] + 1e-9))
        out[(p, h)] = lot[p] * draw(st.integers(0, n))
    return out


@settings(max_examples=12, deadline=None, phases=FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stacked_days(), st.data())
def test_any_accepted_steps_fit_at_delivery(tmp_path, drawn, data):
    """The plan's capacities cut into lots, a random number of lots accepted per stream and hour,
    held in a delivery re-plan at new day-ahead prices: the stacked headroom still fits."""
    day, bat, prices, da, rules = drawn
    case = stacked_case(tmp_path / uuid.uuid4().hex, day, bat, prices, da, rules)
    h = Horizon.for_days(day, mtu_minutes=rules["mtu"])
    pm = PortfolioModel(case, h)
    pm.solve()
    lot, n = LOT, h.n
    spot = np.asarray(data.draw(st.lists(st.floats(-20.0, 300.0), min_size=n, max_size=n)), float)
    again = PortfolioModel(case, h, spot)
    accepted = {}
    for name, cap in pm.site.capacities.items():
        prod = markets.product(name)
        accepted[name] = accepted_steps(prod.capacity_volumes(cap), lot, data.draw)
        prod.fix_capacity(again.site.capacities[name], accepted[name])
    again.solve()
    assert_stacked_headroom_holds(again.schedule(), bat, rules)
    for name, cap in again.site.capacities.items():  # the accepted volumes were held
        held = markets.product(name).capacity_volumes(cap)
        assert held == pytest.approx(accepted[name], abs=1e-9)


def test_all_products_stack_and_the_check_is_tight(tmp_path):
    """One day with every stream offered, each the best-paid in some hours: the battery sells all
    eight streams, three or more in the same hour, the stacked headroom fits and binds (the upward
    power room is full in some hour); 0.05 MW more FCR-D up than the plan sold is reported as a power
    violation of 0.05 MW, so the independent check is not vacuous."""
    day, n = "2024-06-12", 24
    bat = {"charge_power_mw": 1.0, "discharge_power_mw": 1.0, "energy_mwh": 2.0, "soc_min_mwh": 0.0,
           "soc_max_mwh": 2.0, "soc_initial_mwh": 1.0, "charge_efficiency": 0.95, "discharge_efficiency": 0.95}
    rules = {"mtu": 60, "afrr_endurance_h": 1.0, "ffr_endurance_s": 30.0, "mfrr_window": "all"}
    prices = {p: [60.0 if h % len(STREAMS) == i else 5.0 + i for h in range(n)]  # each the best somewhere
              for i, p in enumerate(STREAMS)}
    s = bidopt.plan(stacked_case(tmp_path / "c", day, bat, prices, [50.0] * n, rules), day).schedule
    sold = s[[f"bess_{p}_mw" for p in prices]] > 1e-6
    assert sold.any().all(), sold.any()  # every stream sold in some hour
    assert sold.sum(axis=1).max() >= 3  # several products held at once
    assert_stacked_headroom_holds(s, bat, rules)
    assert violations(s, bat, rules)["power_up"] == pytest.approx(0.0, abs=1e-6)  # the room is full
    more = s.copy()
    more["bess_fcr_d_up_mw"] += 0.05
    assert violations(more, bat, rules)["power_up"] == pytest.approx(0.05, abs=1e-6)


def test_the_check_is_independent_of_the_model(tmp_path):
    """A case configuring a weaker FCR-N reservation than the documented LER rule (power factor 1.0
    instead of 1.34, ``[markets.fcr] fcr_n_power_factor``) lets the model sell more FCR-N than the
    rule allows: the check, which applies 1.34 itself, reports it."""
    day, n = "2024-06-12", 24
    bat = {"charge_power_mw": 1.0, "discharge_power_mw": 1.0, "energy_mwh": 4.0, "soc_min_mwh": 0.0,
           "soc_max_mwh": 4.0, "soc_initial_mwh": 2.0, "charge_efficiency": 1.0, "discharge_efficiency": 1.0}
    rules = {"mtu": 60, "afrr_endurance_h": 1.0, "ffr_endurance_s": 30.0}
    case = stacked_case(tmp_path / "c", day, bat, {"fcr_n": [30.0] * n, "fcr_d_up": [1.0] * n}, [0.0] * n, rules)
    assert_stacked_headroom_holds(bidopt.plan(case, day).schedule, bat, rules)
    weak = case.model_copy(update={"markets": {**case.markets, "fcr": {"step_mw": 0.0, "fcr_n_power_factor": 1.0}}})
    s = bidopt.plan(weak, day).schedule
    assert s.bess_fcr_n_mw.max() > 0.75  # more than 1 / 1.34 MW
    assert violations(s, bat, rules)["power_up"] > 0.2


def test_the_same_mw_is_not_sold_twice(tmp_path):
    """MARKET_RULES 3.3: capacities add up when products are combined. A 1 MW battery that cannot
    charge (charge power 0, so no charging position adds upward room) and is paid for FCR-D up,
    aFRR up, mFRR up and FFR sells at most 1 MW upwards in all four together, the best-paid first; held at
    1 MW in two of them at once it is infeasible (exit 3), not sold twice."""
    day, n = "2024-06-12", 24
    bat = {"charge_power_mw": 0.0, "discharge_power_mw": 1.0, "energy_mwh": 10.0, "soc_min_mwh": 0.0,
           "soc_max_mwh": 10.0, "soc_initial_mwh": 5.0, "charge_efficiency": 1.0, "discharge_efficiency": 1.0}
    rules = {"mtu": 60, "afrr_endurance_h": 1.0, "ffr_endurance_s": 30.0}
    prices = {"fcr_d_up": [30.0] * n, "afrr_up": [40.0] * n, "mfrr_up": [35.0] * n, "ffr": [20.0] * n}
    case = stacked_case(tmp_path / "c", day, bat, prices, [0.0] * n, rules, lots=True)
    s = bidopt.plan(case, day).schedule
    up = s.bess_fcr_d_up_mw + s.bess_afrr_up_mw + s.bess_mfrr_up_mw + s.bess_ffr_mw
    np.testing.assert_allclose(up, 1.0, atol=1e-6)  # all the upward room sold, once
    np.testing.assert_allclose(s.bess_afrr_up_mw, 1.0, atol=1e-6)  # to the best-paid product
    h = Horizon.for_days(day, mtu_minutes=60)
    pm = PortfolioModel(case, h)
    for name, stream in (("fcr", "fcr_d_up"), ("afrr", "afrr_up")):
        markets.product(name).fix_capacity(pm.site.capacities[name], {(stream, hh): 1.0 for hh in range(n)})
    with pytest.raises(InfeasibleError):
        pm.solve()


def test_the_grid_connection_carries_the_full_activation(tmp_path):
    """Full activation of every reserve moves the site's net import by the summed headroom; with a
    0.2 MW connection it must stay within -0.2..0.2 MW."""
    day, n = "2024-06-12", 24
    bat = {"charge_power_mw": 1.0, "discharge_power_mw": 1.0, "energy_mwh": 2.0, "soc_min_mwh": 0.0,
           "soc_max_mwh": 2.0, "soc_initial_mwh": 1.0, "charge_efficiency": 0.95, "discharge_efficiency": 0.95}
    rules = {"mtu": 60, "afrr_endurance_h": 1.0, "ffr_endurance_s": 30.0}
    prices = {"fcr_d_up": [30.0] * n, "fcr_d_down": [30.0] * n, "afrr_up": [30.0] * n}
    case = stacked_case(tmp_path / "c", day, bat, prices, [50.0] * n, rules)
    case = case.model_copy(update={"grid": case.grid.model_copy(update={"import_limit_mw": 0.2,
                                                                        "export_limit_mw": 0.2})})
    s = bidopt.plan(case, day).schedule
    h = held_headroom(s, rules)
    net = (s.grid_import_mw - s.grid_export_mw).to_numpy()
    assert (net - h["up_mw"] >= -0.2 - TOL).all() and (net + h["down_mw"] <= 0.2 + TOL).all()
