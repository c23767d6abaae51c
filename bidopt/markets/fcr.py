"""Svenska kraftnät FCR-N, FCR-D up and FCR-D down capacity (hourly, EUR/MW/h), and the dated auction rules.

A product is offered when the case gives its price series (``[prices] fcr_n = "..."`` etc.). For
each product p and UTC hour h the portfolio sells K_{p,h} = step * n_{p,h} MW (n integer: bids come
in 0.1 MW lots, MARKET_RULES 3.2), split over the assets that can provide p (cap_{a,p,h} >= 0,
sum_a cap_{a,p,h} = K_{p,h}). Revenue: sum_{p,h} price_{p,h} * K_{p,h} * 1 h.

Headroom. Each providing asset must keep, in every MTU t of hour h, room for what it sold, with
N = cap_N, U = cap_Du, D = cap_Dd (MW) of that asset. A **limited energy reservoir** (LER: a
reservoir smaller than 2 h of full activation, MARKET_RULES 3.3; the asset's ``ler`` field, on by
default for batteries) keeps the LER reservation of the Nordic FCR technical requirements v1.1
section 3.5, which includes the power its energy management (NEM) needs on top of the activation:

    power up   = 1.34 N + U + 0.20 D        energy up   = 1 h * N + 1/3 h * U
    power down = 1.34 N + 0.20 U + D        energy down = 1 h * N + 1/3 h * D

Any other asset (curtailable and shiftable loads, heat pumps, one-way EV charging by default)
reserves exactly what it sold, in the direction sold, and the same activation energy (which its own
physics turns into constraints, or none where it has no reservoir):

    power up   = N + U                      energy up   = e_N N + e_D U
    power down = N + D                      energy down = e_N N + e_D D

with e_N, e_D = 1 h, 1/3 h unless ``non_ler_fcr_n_energy_h`` / ``non_ler_fcr_d_energy_h`` say
otherwise (e.g. 2 h, the endurance that makes a reservoir non-LER). The factors are configurable
(``[markets.fcr]``); the asset turns them into constraints on its own schedule
(``AssetBase.add_reserve_headroom``, summed with other products' by the site). Expected activation (a frequency series, or the documented
default of no net activation) shifts the asset's energy by alpha_{p,t} * cap per MTU; FCR-N
activation energy is paid at the day-ahead price (MARKET_RULES 3.2: FCR-D energy is not paid).

Auction rules (``bidopt/defaults/fcr_rules.toml``, each entry with its source): per delivery day
the pricing rule ("pay_as_bid" before 1 Feb 2024, "marginal" from then), the gate closure of each
auction (auction 1: 15:00 D-2 before 1 Jun 2023, 00:30 D-1 from then; auction 2: 18:00 D-1), the
lot and the minimum bid. ``auction_rules(case, day)`` gives the entry in force on a delivery day with
the case's ``[markets.fcr]`` overrides; ``capacity_payments`` settles bids under either pricing rule.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, ValidationError

from bidopt import time as btime
from bidopt.case import DEFAULTS_DIR, Strict
from bidopt.case_tables import BiddingSettings
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets.base import Headroom, Product, product, register_product

PRODUCTS = ("fcr_n", "fcr_d_up", "fcr_d_down")
RULES_FILE = DEFAULTS_DIR / "fcr_rules.toml"
Pricing = Literal["pay_as_bid", "marginal"]


# --- auction rules by delivery day --------------------------------------------------------------------


class AuctionRules(Strict):
    """The FCR auction rules in force from delivery day ``valid_from`` on (until the next entry)."""

    valid_from: dt.date
    pricing: Pricing
    auction1_gate: dt.time  # local clock time (Europe/Stockholm) ...
    auction1_days_before: int = Field(ge=0)  # ... on this many days before the delivery day
    auction2_gate: dt.time
    auction2_days_before: int = Field(ge=0)
    lot_mw: float = Field(gt=0)
    min_bid_mw: float = Field(ge=0)
    source: str = Field(min_length=1)

    def gate_utc(self, day, auction: int, tz: str = btime.STOCKHOLM) -> pd.Timestamp:
        """Gate closure of ``auction`` (1 or 2) for delivery ``day``, in UTC."""
        if auction not in (1, 2):
            raise ValueError(f"FCR auction {auction!r}: there are auctions 1 and 2")
        at = self.auction1_gate if auction == 1 else self.auction2_gate
        before = self.auction1_days_before if auction == 1 else self.auction2_days_before
        d = btime.day_of(day) - dt.timedelta(days=before)
        local = pd.Timestamp(dt.datetime.combine(d, at))
        return local.tz_localize(tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")


@lru_cache(maxsize=1)
def rules_table() -> tuple[AuctionRules, ...]:
    """The entries of ``fcr_rules.toml`` in date order (the file must list them so)."""
    with open(RULES_FILE, "rb") as f:
        data = tomllib.load(f)
    try:
        table = tuple(AuctionRules.model_validate(e) for e in data["auction"])
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(RULES_FILE, ".".join(map(str, err["loc"])), err["msg"]) from None
    dates = [e.valid_from for e in table]
    if not table or any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
        raise InputError(RULES_FILE, "auction.valid_from", "entries must be listed in strictly increasing date order")
    return table


def rules_in_force(day) -> AuctionRules:
    """The default entry in force on delivery ``day`` (the latest with ``valid_from`` <= day)."""
    d = btime.day_of(day)
    table = rules_table()
    best = [e for e in table if e.valid_from <= d]
    if not best:
        raise InputError(RULES_FILE, "auction", f"no FCR auction rules in force on {d} (the first hold from {table[0].valid_from})")
    return best[-1]


# --- the [markets.fcr] table -----------------------------------------------------------------------------


class FcrRules(Strict):
    """``[markets.fcr]``: bid lot, LER reservation factors (MARKET_RULES 3.3) and overrides of the
    dated auction rules (every day; unset = the entry of ``fcr_rules.toml`` in force)."""

    step_mw: float | None = Field(None, ge=0)  # bid lot; None: the lot in force; 0: continuous volumes
    # LER reservation (limited energy reservoirs only)
    fcr_n_power_factor: float = Field(1.34, ge=1)
    fcr_d_opposite_power_factor: float = Field(0.20, ge=0)
    fcr_n_energy_h: float = Field(1.0, ge=0)
    fcr_d_energy_h: float = Field(1.0 / 3.0, ge=0)
    # activation energy held by assets that are not LER; None: as for a LER (fcr_n/fcr_d_energy_h)
    non_ler_fcr_n_energy_h: float | None = Field(None, ge=0)
    non_ler_fcr_d_energy_h: float | None = Field(None, ge=0)
    frequency: str | None = None  # CSV timestamp_utc,frequency_hz; expected activation from it
    # auction rules for every day (override fcr_rules.toml)
    pricing: Pricing | None = None
    auction1_gate: dt.time | None = None
    auction1_days_before: int | None = Field(None, ge=0)
    auction2_gate: dt.time | None = None
    auction2_days_before: int | None = Field(None, ge=0)
    min_bid_mw: float | None = Field(None, ge=0)

    def non_ler_energy_h(self) -> tuple[float, float]:
        """(FCR-N, FCR-D) hours of activation energy a non-LER asset holds."""
        n = self.fcr_n_energy_h if self.non_ler_fcr_n_energy_h is None else self.non_ler_fcr_n_energy_h
        d = self.fcr_d_energy_h if self.non_ler_fcr_d_energy_h is None else self.non_ler_fcr_d_energy_h
        return n, d


_OVERRIDES = ("pricing", "auction1_gate", "auction1_days_before", "auction2_gate", "auction2_days_before",
              "min_bid_mw")


def rules(case, day=None) -> FcrRules:
    """The case's ``[markets.fcr]`` rules; an unset ``step_mw`` is the lot in force on ``day`` (the
    latest entry's without a day; every entry so far has 0.1 MW)."""
    r = product("fcr").validate(FcrRules, case)
    if r.step_mw is None:
        lot = (rules_in_force(day) if day is not None else rules_table()[-1]).lot_mw
        r = r.model_copy(update={"step_mw": lot})
    return r


def auction_rules(case, day) -> AuctionRules:
    """The auction rules in force on delivery ``day``, with the case's ``[markets.fcr]`` overrides."""
    base = rules_in_force(day)
    r = rules(case, day)
    update = {k: getattr(r, k) for k in _OVERRIDES if getattr(r, k) is not None and getattr(r, k) != getattr(base, k)}
    raw = case.markets.get("fcr", {})
    given = raw.model_fields_set if isinstance(raw, FcrRules) else raw  # the keys the case sets
    if "step_mw" in given and r.step_mw and r.step_mw != base.lot_mw:
        update["lot_mw"] = r.step_mw  # 0 (continuous volumes) leaves the lot of the rules as it is
    if not update:
        return base
    names = ", ".join(f"{'step_mw' if k == 'lot_mw' else k} = {v}" for k, v in sorted(update.items()))
    return base.model_copy(update={**update, "source": f"{base.source}; overridden in [markets.fcr]: {names}"})


def gate_utc(case, day, auction: int = 1) -> pd.Timestamp:
    """Gate closure (UTC) of FCR ``auction`` for delivery ``day`` under the rules in force."""
    return auction_rules(case, day).gate_utc(day, auction, case.case.timezone)


def _gate_text(at: dt.time, days_before: int) -> str:
    return f"D-{days_before} {at:%H:%M}" if days_before else f"D {at:%H:%M}"


def rules_used(case, days) -> list[dict]:
    """The auction rules in force over ``days`` (delivery days, in order) as one dict per run of
    consecutive days under the same rules: first and last day, pricing, gates ("D-2 15:00", local
    time), lot, minimum bid and source."""
    out: list[dict] = []
    for d in days:
        r = auction_rules(case, d)
        row = {"pricing": r.pricing, "auction1_gate": _gate_text(r.auction1_gate, r.auction1_days_before),
               "auction2_gate": _gate_text(r.auction2_gate, r.auction2_days_before), "lot_mw": r.lot_mw,
               "min_bid_mw": r.min_bid_mw, "valid_from": str(r.valid_from), "source": r.source}
        if out and all(out[-1][k] == v for k, v in row.items()):
            out[-1]["last_day"] = str(btime.day_of(d))
        else:
            out.append({"first_day": str(btime.day_of(d)), "last_day": str(btime.day_of(d)), **row})
    return out


def capacity_payments(bids: pd.DataFrame, clearing: Mapping[tuple[str, int, str], float],
                      pricing: Pricing) -> pd.DataFrame:
    """Settle FCR capacity bids (rows: product, auction, hour_start_utc, volume_mw, price_eur_per_mw_h)
    against ``clearing`` {(product, auction, hour_start_utc): EUR/MW/h}.

    A bid is accepted whole when its price is at or below the clearing price (both rules, MARKET_RULES
    3.2); an accepted bid is paid its own price under ``"pay_as_bid"`` and the clearing price under
    ``"marginal"``, for one hour. A bid without a clearing price is not accepted. Returns the bids with
    ``clearing_eur_per_mw_h``, ``accepted``, ``paid_eur_per_mw_h`` and ``payment_eur`` (EUR)
    (``bidopt.markets.capacity_settlement.payments``)."""
    from bidopt.markets.capacity_settlement import payments

    return payments(bids, clearing, pricing)


PAY_AS_BID_NOTE = ("pay-as-bid days: accepted FCR bids are paid their own price; the bidding model still values "
                   "its bid steps at the clearing price (marginal pricing), and acceptance is judged against the "
                   "published hourly price (an average of accepted bids before 2024)")


def pay_as_bid_shortfall(lots, points, k_clear: int, unit: float):
    """How much valuing a bid ladder at the clearing price (marginal pricing) overstates what it is
    paid under pay-as-bid, for one product, hour and scenario (EUR for the hour).

    ``points`` are the ladder's prices q_1 < ... < q_K (EUR/MW/h), ``lots(k)`` the cumulative lots
    offered at prices up to q_k (a number or a Pyomo expression), ``k_clear`` the index of the
    scenario's clearing price and ``unit`` the lot (MW). Steps k <= k_clear are accepted; marginal
    pays q_{k_clear} on all of them, pay-as-bid q_k on step k, and the difference is

        unit * sum_{k < k_clear} (q_{k+1} - q_k) * lots(k)      (>= 0; linear in the lots)

    A bidding model for pay-as-bid days subtracts it, probability-weighted, from each scenario's
    capacity value (not wired into ``bidopt.bids`` yet: the bids are valued as under marginal
    pricing and the backtest settles them pay-as-bid)."""
    q = np.asarray(points, dtype=float)
    return unit * sum(float(q[k + 1] - q[k]) * lots(k) for k in range(int(k_clear)))


# --- products, prices and capacity ------------------------------------------------------------------------


def offered(case) -> list[str]:
    return [p for p in PRODUCTS if getattr(case.prices, p, None)]


def provides(asset, product: str) -> bool:
    """FCR-N asks for flexibility both ways that follows a continuous signal; FCR-D up (down) for
    upward (downward) flexibility; and the asset's user must allow the product."""
    f = asset.flexibility()
    if f is None or not asset.offers(product):
        return False
    return {"fcr_n": f.up and f.down and f.continuous, "fcr_d_up": f.up, "fcr_d_down": f.down}[product]


def limit_mw(asset, product: str) -> float | None:
    """Prequalified capacity in the product's direction (FCR-N: the upward one), None = no cap."""
    f = asset.flexibility()
    return f.down_limit_mw if product == "fcr_d_down" else f.up_limit_mw


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


def headroom(cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
    """Per providing asset, the headroom for the capacities in ``cap``: the LER reservation for
    limited energy reservoirs, the sold capacity for the others (``_headroom``), on ``blk``."""
    r = rules(case, horizon.first_day)
    alpha = _expected_activation(case, r, horizon)
    blk._fcr_alpha = alpha  # plain data for site_value
    hour_of = horizon.hour_group

    def c(a, p, t):
        return cap.cap[a, p, hour_of[t]] if (a, p) in cap.AP else 0.0

    out = {}
    for a in sorted({a for a, _ in cap.AP}):
        ab = pyo.Block()
        blk.add_component(f"headroom_{a}", ab)
        _headroom(ab, T, lambda p, t, a=a: c(a, p, t), r, alpha, ler=assets[a].limited_energy_reservoir())
        out[a] = Headroom(ab.up_mw, ab.down_mw, ab.up_mwh, ab.down_mwh, ab.expected_up_mw)
    return out


def site_value(cap, blk, T, horizon: Horizon, spot: np.ndarray):
    """``blk.activation_value_eur``: FCR-N activation energy at the day-ahead price (EUR)."""
    hour_of = horizon.hour_group
    n_providers = [a for a, p in cap.AP if p == "fcr_n"]
    blk.spot = pyo.Param(T, initialize=dict(enumerate(np.asarray(spot, float))), mutable=True)
    dt_h = horizon.dt_h
    alpha_n = blk._fcr_alpha["fcr_n"].to_numpy()
    blk.activation_value_eur = pyo.Expression(
        expr=sum(
            float(alpha_n[t]) * dt_h * blk.spot[t] * cap.cap[a, "fcr_n", hour_of[t]]
            for a in n_providers for t in T if alpha_n[t] != 0.0
        )
    )
    return blk.activation_value_eur


def update_spot(blk, spot: np.ndarray) -> None:
    for t, v in enumerate(spot):
        blk.spot[t] = float(v)


def headroom_factors(r: FcrRules, ler: bool) -> dict[str, float]:
    """The multipliers of ``_headroom``: power kN (FCR-N both ways) and kD (FCR-D, opposite
    direction), energy eN, eD (hours) -- the LER reservation, or the sold capacity for other assets."""
    if ler:
        return {"kN": r.fcr_n_power_factor, "kD": r.fcr_d_opposite_power_factor,
                "eN": r.fcr_n_energy_h, "eD": r.fcr_d_energy_h}
    eN, eD = r.non_ler_energy_h()
    return {"kN": 1.0, "kD": 0.0, "eN": eN, "eD": eD}


def _headroom(ab, T, cap, r: FcrRules, alpha: pd.DataFrame, ler: bool = True) -> None:
    """The power and energy one asset must hold, per MTU, from its sold capacities cap(p, t)."""
    f = headroom_factors(r, ler)
    kN, kD, eN, eD = f["kN"], f["kD"], f["eN"], f["eD"]
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


@register_product
class Fcr(Product):
    """FCR-N, FCR-D up and FCR-D down capacity as a registered product (the functions above)."""

    name = "fcr"
    streams = PRODUCTS
    order = 10
    always_listed = True
    table = FcrRules
    own_bid_path = True  # fcr_bids.csv: two auctions, pay-as-bid days (bids.fcr_auction2, settlement.settle_fcr)

    def without(self, case):
        return case.model_copy(update={"prices": case.prices.model_copy(update={p: None for p in PRODUCTS})})

    def rules(self, case) -> FcrRules:
        return rules(case)

    def offered(self, case) -> list[str]:
        return offered(case)

    def provides(self, asset, stream: str, case=None) -> bool:
        return stream in PRODUCTS and provides(asset, stream)

    def limit_mw(self, asset, stream: str) -> float | None:
        return limit_mw(asset, stream)

    def prices(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        return reserve_prices(case, stream, horizon)

    def lot_mw(self, case, horizon: Horizon) -> float:
        """Bids clear whole in lots (MARKET_RULES 3.2): ``[markets.fcr] step_mw`` or the lot in force."""
        return rules(case, horizon.first_day).step_mw

    def min_bid_mw(self, case, horizon: Horizon) -> float:  # MARKET_RULES 3.2: 0.1 MW; [markets.fcr] min_bid_mw
        return auction_rules(case, horizon.first_day).min_bid_mw

    # stepped bids for auction 1 (bidopt.bids.capacity_steps): [bidding] fcr_bids, fcr_lookback_days
    price_published = dt.time(19, 0)  # a day's prices final after auction 2 (gate 18:00 D-1), assumed lag
    price_taking_key = '[bidding] fcr_bids = "price_taking"'

    def stepped_bids(self, case) -> bool:
        return BiddingSettings.model_validate(case.bidding).fcr_bids == "stepped"

    def price_lookback_days(self, case) -> int:
        return BiddingSettings.model_validate(case.bidding).fcr_lookback_days

    def bid_gate_utc(self, case, day) -> pd.Timestamp:
        return gate_utc(case, day, 1)

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        return headroom(cap, blk, T, horizon, case, assets)

    def site_value(self, cap, blk, T, horizon: Horizon, case, spot: np.ndarray):
        return site_value(cap, blk, T, horizon, spot)

    def update_spot(self, blk, spot: np.ndarray) -> None:
        update_spot(blk, spot)

    def revenue(self, cap, blk) -> dict[str, float]:
        return revenue(cap, blk)

    # clearing and settlement (bidopt.markets.capacity_settlement): two auctions, pricing by date
    label = "FCR"

    def clearing_prices(self, case, stream: str, horizon: Horizon, auction: int = 1) -> np.ndarray:
        """``[prices] <stream>`` per UTC hour; auction 2 ``<stream>_auction2`` (else auction 1's)."""
        from bidopt.data import sources

        return sources.reserve_prices(case, stream, horizon.hour_starts, auction=auction)

    def pricing(self, case, day) -> str:
        return auction_rules(case, day).pricing

    def settlement_summary(self, case, days) -> dict:
        """``fcr_rules``: the auction rules over ``days`` (``rules_used``), a note on pay-as-bid days."""
        used = rules_used(case, days)
        for r in used:
            if r["pricing"] == "pay_as_bid":
                r["note"] = PAY_AS_BID_NOTE
        return {"fcr_rules": used}
