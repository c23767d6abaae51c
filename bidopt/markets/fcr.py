"""Svenska kraftnät FCR-N, FCR-D up and FCR-D down capacity (hourly, EUR/MW/h).

A product is offered when the case gives its price series (``[prices] fcr_n = "..."`` etc.). For
each product p and UTC hour h the portfolio sells K_{p,h} = step * n_{p,h} MW (n integer: bids come
in 0.1 MW lots, MARKET_RULES 3.2), split over the assets that can provide p (cap_{a,p,h} >= 0,
sum_a cap_{a,p,h} = K_{p,h}). Revenue: sum_{p,h} price_{p,h} * K_{p,h} * 1 h.

Each asset must keep, in every MTU t of hour h, the headroom of the Limited Energy Reservoir rules
(MARKET_RULES 3.3, Nordic FCR technical requirements v1.1 section 3.5), with N = cap_N, U = cap_Du,
D = cap_Dd:

    power up   = 1.34 N + U + 0.20 D        energy up   = 1 h * N + 1/3 h * U
    power down = 1.34 N + 0.20 U + D        energy down = 1 h * N + 1/3 h * D

The factors are configurable (``[markets.fcr]``); the asset turns them into constraints on its own
schedule (``AssetBase.add_reserve_headroom``). Expected activation (a frequency series, or the
documented default of no net activation) shifts the asset's energy by alpha_{p,t} * cap per MTU;
FCR-N activation energy is paid at the day-ahead price (MARKET_RULES 3.2: FCR-D energy is not paid).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, ValidationError

from bidopt.case import Strict
from bidopt.errors import InputError
from bidopt.horizon import Horizon

PRODUCTS = ("fcr_n", "fcr_d_up", "fcr_d_down")


class FcrRules(Strict):
    """Bid lot and LER reservation factors; defaults from MARKET_RULES 3.2-3.3."""

    step_mw: float = Field(0.1, ge=0)  # 0: continuous volumes
    fcr_n_power_factor: float = Field(1.34, ge=1)
    fcr_d_opposite_power_factor: float = Field(0.20, ge=0)
    fcr_n_energy_h: float = Field(1.0, ge=0)
    fcr_d_energy_h: float = Field(1.0 / 3.0, ge=0)
    frequency: str | None = None  # CSV timestamp_utc,frequency_hz; expected activation from it


def rules(case) -> FcrRules:
    try:
        return FcrRules.model_validate(case.markets.get("fcr", {}))
    except ValidationError as e:
        err = e.errors()[0]
        field = "markets.fcr." + ".".join(str(x) for x in err["loc"])
        raise InputError(case.label, field, err["msg"]) from None


def offered(case) -> list[str]:
    return [p for p in PRODUCTS if getattr(case.prices, p, None)]


def activation_fractions(frequency_hz: pd.Series, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Mean activation per MTU as a share of capacity, signed (+ = upward, more power to the grid).

    FCR-N: clip((50 - f)/0.1, -1, 1); FCR-D up: clip((49.9 - f)/0.4, 0, 1); FCR-D down:
    -clip((f - 50.1)/0.4, 0, 1) (MARKET_RULES 3.4), averaged over the samples in each MTU.
    """
    f = frequency_hz.astype(float)
    act = pd.DataFrame(
        {
            "fcr_n": np.clip((50.0 - f) / 0.1, -1, 1),
            "fcr_d_up": np.clip((49.9 - f) / 0.4, 0, 1),
            "fcr_d_down": -np.clip((f - 50.1) / 0.4, 0, 1),
        },
        index=f.index,
    )
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(hours=1)
    binned = act.groupby(act.index.floor(step)).mean()
    return binned.reindex(index).fillna(0.0)


def _expected_activation(case, r: FcrRules, horizon: Horizon) -> pd.DataFrame:
    if r.frequency is None:
        # statistical default: no net activation energy (FCR-N is symmetric around 50 Hz; FCR-D is
        # activated minutes per week). Documented in docs/formulation.md.
        return pd.DataFrame(0.0, index=horizon.index, columns=list(PRODUCTS))
    from bidopt.data import prices as files

    path = case.resolve(r.frequency)
    f = files.read_series_csv(path, value_column="frequency_hz")
    return activation_fractions(f, horizon.index)


def reserve_prices(case, product: str, horizon: Horizon) -> np.ndarray:
    """Price per UTC hour of the horizon (EUR/MW/h)."""
    from bidopt.data import sources

    return sources.reserve_prices(case, product, horizon.hour_starts)


def build_capacity(blk, horizon: Horizon, case, assets: dict, prices: dict | None = None,
                   continuous: bool = False) -> None:
    """FCR capacity on ``blk``: lots per product and hour, split over the providing assets, and
    ``capacity_value_eur[p]`` (EUR) at the case's FCR prices or the given ``prices`` {product: per
    hour}. ``continuous``: volumes are set elsewhere in lots (the stepped bids of the bidding model)."""
    r = rules(case)
    H = pyo.RangeSet(0, len(horizon.hour_starts) - 1)
    blk.H = H
    providers = {p: [a for a in assets if p in assets[a].reserve_products()] for p in offered(case)}
    products = [p for p in providers if providers[p]]
    blk.P = pyo.Set(initialize=products)
    price = {p: (reserve_prices(case, p, horizon) if prices is None else np.asarray(prices[p])) for p in products}
    blk.price = pyo.Param(blk.P, H, initialize={(p, h): float(price[p][h]) for p in products for h in H}, mutable=True)
    if r.step_mw > 0 and not continuous:
        # integer lots: bids clear whole (MARKET_RULES 3.2); the relaxation would sell fractions
        blk.lots = pyo.Var(blk.P, H, within=pyo.NonNegativeIntegers)
        blk.total_mw = pyo.Expression(blk.P, H, rule=lambda b, p, h: r.step_mw * b.lots[p, h])
    else:
        blk.total_mw = pyo.Var(blk.P, H, bounds=(0, None))
    pairs = [(a, p) for p in products for a in providers[p]]
    blk.AP = pyo.Set(initialize=pairs, dimen=2)
    blk.cap = pyo.Var(blk.AP, H, bounds=(0, None))
    blk.split = pyo.Constraint(
        blk.P, H, rule=lambda b, p, h: sum(b.cap[a, p, h] for a in providers[p]) == b.total_mw[p, h]
    )
    limits = {(a, p): assets[a].reserve_limit_mw(p) for a, p in pairs}
    for (a, p), lim in limits.items():
        if lim is not None:
            for h in H:
                blk.cap[a, p, h].setub(lim)
    blk.capacity_value_eur = pyo.Expression(blk.P, rule=lambda b, p: sum(b.price[p, h] * b.total_mw[p, h] for h in H))


def build_site_terms(cap, blk, T, horizon: Horizon, case, assets: dict, asset_blocks: dict, spot: np.ndarray) -> None:
    """Per price path: LER headroom on each providing asset for the capacities in ``cap``, and
    ``blk.activation_value_eur`` (FCR-N activation energy at the day-ahead price)."""
    r = rules(case)
    alpha = _expected_activation(case, r, horizon)
    hour_of = horizon.hour_group

    def c(a, p, t):
        return cap.cap[a, p, hour_of[t]] if (a, p) in cap.AP else 0.0

    for a in sorted({a for a, _ in cap.AP}):
        ab = pyo.Block()
        blk.add_component(f"headroom_{a}", ab)
        _headroom(ab, T, lambda p, t, a=a: c(a, p, t), r, alpha)
        assets[a].add_reserve_headroom(
            asset_blocks[a], T, horizon, ab.up_mw, ab.down_mw, ab.up_mwh, ab.down_mwh, ab.expected_up_mw
        )
    n_providers = [a for a, p in cap.AP if p == "fcr_n"]
    blk.spot = pyo.Param(T, initialize=dict(enumerate(np.asarray(spot, float))), mutable=True)
    dt_h = horizon.dt_h
    alpha_n = alpha["fcr_n"].to_numpy()
    blk.activation_value_eur = pyo.Expression(
        expr=sum(
            float(alpha_n[t]) * dt_h * blk.spot[t] * cap.cap[a, "fcr_n", hour_of[t]]
            for a in n_providers for t in T if alpha_n[t] != 0.0
        )
    )


def update_spot(blk, spot: np.ndarray) -> None:
    for t, v in enumerate(spot):
        blk.spot[t] = float(v)


def _headroom(ab, T, cap, r: FcrRules, alpha: pd.DataFrame) -> None:
    """The LER power and energy one asset must hold, per MTU, from its sold capacities cap(p, t)."""
    kN, kD = r.fcr_n_power_factor, r.fcr_d_opposite_power_factor
    eN, eD = r.fcr_n_energy_h, r.fcr_d_energy_h
    ab.up_mw = pyo.Expression(T, rule=lambda b, t: kN * cap("fcr_n", t) + cap("fcr_d_up", t) + kD * cap("fcr_d_down", t))
    ab.down_mw = pyo.Expression(T, rule=lambda b, t: kN * cap("fcr_n", t) + kD * cap("fcr_d_up", t) + cap("fcr_d_down", t))
    ab.up_mwh = pyo.Expression(T, rule=lambda b, t: eN * cap("fcr_n", t) + eD * cap("fcr_d_up", t))
    ab.down_mwh = pyo.Expression(T, rule=lambda b, t: eN * cap("fcr_n", t) + eD * cap("fcr_d_down", t))
    ab.expected_up_mw = pyo.Expression(T, rule=lambda b, t: sum(float(alpha[p].iloc[t]) * cap(p, t) for p in PRODUCTS))


def revenue(cap, site_terms) -> dict[str, float]:
    """EUR per product: capacity value (when ``cap`` is given) plus FCR-N activation energy."""
    out = {p: float(pyo.value(cap.capacity_value_eur[p])) for p in cap.P} if cap is not None else {}
    if site_terms is not None:
        out["fcr_n"] = out.get("fcr_n", 0.0) + float(pyo.value(site_terms.activation_value_eur))
    return out


def schedule(blk, horizon: Horizon) -> dict[str, np.ndarray]:
    """Per asset and product, the capacity sold in each MTU's hour (MW)."""
    hour_of = horizon.hour_group
    cols = {}
    for a, p in blk.AP:
        per_hour = np.array([blk.cap[a, p, h].value or 0.0 for h in blk.H])
        cols[f"{a}_{p}_mw"] = per_hour[hour_of]
    return cols
