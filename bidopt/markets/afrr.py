"""aFRR capacity (automatic frequency restoration reserve), up and down, per hour, EUR/MW/h.

aFRR is bought by the Nordic TSOs the day before delivery (D-1) per bidding zone and direction,
hourly, at a marginal price (MARKET_RULES section 3.6). The product is offered when
``[markets.afrr] prices`` names Svenska kraftnät Mimer aFRR exports (read as they are by
``bidopt.data.reserve_prices.read_mimer_afrr``: capacity price ``aFRR Upp/Ned Pris (EUR/MW)`` per
hour and the procured volume in MW, per zone from 2022-05-11, nationally before).

Streams ``afrr_up`` and ``afrr_down``. For each stream p and UTC hour h the portfolio sells
C_{p,h} = lot * n_{p,h} MW (n integer), split over the providing assets
(``bidopt.markets.base.Product.build_capacity``). Revenue: sum_h price_{p,h} * C_{p,h} * 1 h, the
published marginal price taken as the clearing price (the bid does not move the price). Capacity is
0 in hours the files do not cover and, with ``procured_only``, in hours the TSO bought no volume of
that direction in the zone (Mimer: price 0 and volume 0 = not procured; the TSO's demand is taken
as known when bidding, UNVERIFIED).

Bids (``bids``). ``"stepped"`` (default): ``bid`` does not know the day's price; it offers stepped,
indivisible bids per stream and hour over clearing-price scenarios forecast from the Mimer prices
of earlier days published before the gate (``price_history``, ``bidopt.bids.capacity_steps``;
``price_lookback_days``), deliverable for any accepted prefix of every ladder. ``"price_taking"``:
one volume per stream and hour at price 0, the published price taken as known (an upper bound).
Clearing (the backtest): a step is accepted whole when its price is at or below the published
price and paid that price; with ``accept_up_to_procured`` (UNVERIFIED, off) steps in ascending
price are accepted only while their sum fits the volume the TSO procured in the hour.

Who provides it: an asset with flexibility in the stream's direction that follows a continuous
signal (``Flexibility.continuous``: aFRR follows the TSO's set-point continuously) and declares a
response time within ``activation_time_s``; up to its prequalified power in that direction.

Headroom asked of a providing asset a with capacities u = c_{a,up,h}, d = c_{a,down,h} in every MTU
of hour h:

    power up = u     power down = d     energy up = u * endurance_h     energy down = d * endurance_h

Activated energy is settled only when ``activation_prices`` names a price series (CSV
``timestamp_utc,up_eur_per_mwh,down_eur_per_mwh``, EUR/MWh): an expected share of the capacity is
activated in every MTU (``activation_share_up``/``_down``, UNVERIFIED), upward energy paid the up
price, downward energy (absorbed) paying the down price, and the expected net activation
su * u - sd * d (MW) moves the SoC. Without it activated energy is not modelled (expected
activation 0, nothing paid; MARKET_RULES: Nordic aFRR energy price rules UNVERIFIED).

Sources and status. From MARKET_RULES 3.6: D-1 procurement, hourly validity, marginal pricing, min
bid 1 MW (default lot 1 MW), gate closure between 07:00 and 10:00 D-1 (Fingrid: 08:30 Finnish time
= 07:30 CET; default 07:30 local Stockholm time), per direction and bidding zone. **UNVERIFIED**
and configurable in ``[markets.afrr]``: the lot as a step above the minimum, the full-activation
duration the energy headroom is sized for (``endurance_h`` 1 h), the full activation time
(``activation_time_s`` 300 s) and whether unprocured hours are closed (``procured_only``).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, field_validator

from bidopt.case import Strict
from bidopt.data import sources
from bidopt.horizon import Horizon
from bidopt.markets.base import Headroom, register_product
from bidopt.markets.two_way import Direction, TwoWayCapacity

UP, DOWN = "afrr_up", "afrr_down"
DIRECTION = {UP: "up", DOWN: "down"}


class AfrrRules(Strict):
    """``[markets.afrr]``: the Mimer price files and the product rules."""

    prices: list[str] | None = None  # Mimer aFRR export(s) (one path or a list); None: aFRR not offered
    zone: str | None = None  # bidding zone of the prices (SE1..SE4 or SN1..SN4); None: [case] zone
    directions: list[Direction] = ["up", "down"]  # which directions are offered
    lot_mw: float = Field(1.0, ge=0)  # bid lot; MARKET_RULES 3.6 min bid 1 MW (steps above: UNVERIFIED)
    endurance_h: float = Field(1.0, ge=0)  # full activation held this long (energy headroom); UNVERIFIED
    activation_time_s: float = Field(300.0, gt=0)  # full activation within this (s); UNVERIFIED
    procured_only: bool = True  # sell only in hours the TSO bought volume of that direction in the zone
    gate_time: dt.time = dt.time(7, 30)  # gate closure, local clock time (MARKET_RULES 3.6: 07:00-10:00 D-1)
    gate_days_before: int = Field(1, ge=0)  # ... this many days before delivery
    activation_prices: str | None = None  # CSV timestamp_utc,up_eur_per_mwh,down_eur_per_mwh; None: not modelled
    activation_share_up: float = Field(0.1, ge=0, le=1)  # expected activated share of up capacity; UNVERIFIED
    activation_share_down: float = Field(0.1, ge=0, le=1)  # ... of down capacity; UNVERIFIED
    bids: Literal["stepped", "price_taking"] = "stepped"  # stepped over price scenarios; or at price 0, price known
    price_lookback_days: int = Field(14, ge=1)  # days of Mimer prices the scenarios' errors come from
    accept_up_to_procured: bool = False  # clearing: accepted volume <= the TSO's procured volume; UNVERIFIED

    @field_validator("prices", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v



@register_product
class Afrr(TwoWayCapacity):
    """aFRR capacity, up and down, hourly, through the product seam."""

    name = "afrr"
    streams = (UP, DOWN)
    order = 30
    table = AfrrRules

    def _table(self, case, horizon: Horizon) -> pd.DataFrame:
        r = self.rules(case)
        return sources.afrr_prices(case, r.prices, r.zone or case.case.zone, horizon.hour_starts)

    def open_hours(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Per UTC hour: covered by the files and, with ``procured_only``, a volume was procured."""
        t = self._table(case, horizon)
        price = t[f"{DIRECTION[stream]}_price_eur_per_mw_h"].to_numpy(float)
        volume = t[f"{DIRECTION[stream]}_volume_mw"].to_numpy(float)
        ok = np.isfinite(price)
        if self.rules(case).procured_only:
            ok &= np.nan_to_num(volume, nan=0.0) > 0
        return ok

    price_published = dt.time(12, 0)  # local time on D-1 the D-1 auction's prices are public; UNVERIFIED
    price_taking_key = '[markets.afrr] bids = "price_taking"'

    def stepped_bids(self, case) -> bool:
        return self.rules(case).bids == "stepped"

    def price_lookback_days(self, case) -> int:
        return self.rules(case).price_lookback_days

    def price_history(self, case, stream: str, index: pd.DatetimeIndex) -> pd.Series:
        """Published price per UTC hour of ``index`` (EUR/MW/h); NaN where no file covers the hour."""
        r = self.rules(case)
        t = sources.afrr_prices(case, r.prices, r.zone or case.case.zone, index)
        return t[f"{DIRECTION[stream]}_price_eur_per_mw_h"].astype(float)

    def accept_limit_mw(self, case, stream: str, horizon: Horizon) -> np.ndarray | None:
        """With ``accept_up_to_procured``: the volume the TSO procured per UTC hour (MW; 0 where unknown)."""
        if not self.rules(case).accept_up_to_procured:
            return None
        return np.nan_to_num(self._table(case, horizon)[f"{DIRECTION[stream]}_volume_mw"].to_numpy(float), nan=0.0)

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        hour_of = horizon.hour_group
        r = self.rules(case)
        hold_h, su, sd = r.endurance_h, r.activation_share_up, r.activation_share_down
        pairs = set(cap.AP)
        out = {}
        for a in sorted({a for a, _ in pairs}):
            per = {s: [cap.cap[a, s, hour_of[t]] if (a, s) in pairs else 0.0 for t in T] for s in self.streams}
            up, down = per[UP], per[DOWN]
            expected = [su * u - sd * d for u, d in zip(up, down, strict=True)] if r.activation_prices else None
            out[a] = Headroom(up, down, [hold_h * c for c in up], [hold_h * c for c in down], expected)
        return out

    def site_value(self, cap, blk, T, horizon: Horizon, case, spot: np.ndarray):
        """Expected activated energy at ``activation_prices`` (EUR per stream, ``blk.activation_eur``):
        up energy su * u * dt paid the up price, down energy sd * d * dt paying the down price."""
        r = self.rules(case)
        if not r.activation_prices:
            return 0.0
        price = {s: sources.profile(case, r.activation_prices, "markets.afrr.activation_prices", horizon.index,
                                    None, column=f"{DIRECTION[s]}_eur_per_mwh") for s in self.streams}
        share = {UP: r.activation_share_up, DOWN: -r.activation_share_down}
        hour_of, dt_h = horizon.hour_group, horizon.dt_h
        blk.activation_eur = pyo.Expression(list(self.streams), rule=lambda b, s: sum(
            share[s] * dt_h * float(price[s][t]) * cap.cap[a, s, hour_of[t]]
            for a, p in cap.AP if p == s for t in T))
        return sum(blk.activation_eur[s] for s in self.streams)

    def revenue(self, cap, blk) -> dict[str, float]:
        """EUR per stream: the capacity value plus the expected activated energy (when settled)."""
        out = super().revenue(cap, blk)
        act = None if blk is None else blk.component("activation_eur")
        for s in [] if act is None else self.streams:
            out[s] = out.get(s, 0.0) + float(pyo.value(act[s]))
        return out
