"""mFRR capacity (up and down, per hour, EUR/MW/h) and mFRR energy activation (EAM, 15-minute energy
bids, EUR/MWh).

**Capacity** (Svenska kraftnät's national D-1 mFRR capacity market, first delivery 18 Sep 2023;
MARKET_RULES section 3.7): offered when ``[markets.mfrr] prices`` names a capacity price file
(``bidopt.data.mfrr_prices.read_mfrr_capacity``: an Energinet mFRR capacity download, or a CSV
``timestamp_utc,up_price_eur_per_mw_h,down_price_eur_per_mw_h``). Streams ``mfrr_up`` and
``mfrr_down``: per stream p and UTC hour h the portfolio sells C_{p,h} = lot * n_{p,h} MW (n integer),
split over the providing assets (``Product.build_capacity``), paid price_{p,h} * C_{p,h} * 1 h
(price-taking, accepted whole). Capacity is 0 outside SvK's procurement window (``up_hours`` /
``down_hours`` local, on ``weekdays``), in hours the file has no price and, with ``procured_only``, in
hours the file's bought volume of that direction is 0.

Who provides it: an asset with flexibility in the stream's direction whose declared response time
is within ``activation_time_s`` (15 min; mFRR is a scheduled step, not a continuous signal), up to
its prequalified power in that direction. Headroom asked of a providing asset with capacities
u = c_{a,up,h}, d = c_{a,down,h} in every MTU t of hour h:

    power up = u     power down = d     energy up = u * endurance_h     energy down = d * endurance_h

**Energy activation (EAM)**, modelled when ``activation_prices`` names a price series. The capacity is
the first stage; a capacity provider must offer matching energy bids: per EAM MTU e (15 min) and
direction, a bid of the capacity sold in e's hour at the price ref_e + margin_up (up) or
ref_e - margin_down (down), ref_e the day-ahead price of e (``eam_bid_table``,
``mfrr_eam_bids.csv``). Activation rule (``activated``): an up bid is activated when the activation
up-price of e is >= its price, a down bid when the activation down-price is <= its price; activated
energy is the bid volume over the whole EAM MTU, paid the activation price (down: the provider pays
it). Per MTU t the activated share a_{p,t} (the fraction of t's EAM MTUs activated) and the mean
activation price pi_{p,t} are Params of the product's site terms: expected net activation
a_up * u - a_down * d (MW) moves the SoC (``Headroom.expected_up_mw``) and the money is
sum_t dt * (a_up pi_up u - a_down pi_down d). The plan uses a_p = ``planned_activation_share`` (0: no
activation expected) at the bid prices; the backtest's delivery re-plan and perfect-foresight plan set
the realised a and pi (``activate_at_delivery``), so activation changes the carried SoC. The activated
energy is settled outside the BRP position (the grid flows and the imbalance do not include it).

Zone proxy: with ``activation_dayahead`` (day-ahead prices of the activation prices' zone), the
activation price is the case's day-ahead price plus the activation zone's premium over its own
day-ahead price (pi = spot + act - spot_zone): Energinet's DK2 regulating prices stand in for SE.

Sources and status (MARKET_RULES 3.7): D-1 capacity auction, up hours 7-22 and down hours 1-6 and
23-24 on weekdays (SvK), min bid 1 MW (Fingrid; default lot), EAM 15-min bids, 1 MW minimum, full
activation within 15 min, only activated energy paid in EAM. **UNVERIFIED** and configurable in
``[markets.mfrr]``: the weekend window (not offered by default), the capacity gate (07:30 local D-1),
the full-activation duration the energy headroom holds (``endurance_h`` 1 h), the EAM gate
(``eam_gate_minutes`` 45 before the MTU), the bid margins and the planned activation share.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field

from bidopt.case import Strict
from bidopt.data import mfrr_prices
from bidopt.horizon import Horizon
from bidopt.markets.base import Headroom, register_product
from bidopt.markets.two_way import Direction, TwoWayCapacity

UP, DOWN = "mfrr_up", "mfrr_down"
DIRECTION = {UP: "up", DOWN: "down"}
SIGN = {UP: 1.0, DOWN: -1.0}  # activated energy: up delivered (+), down absorbed (-)
EAM_FILE = "mfrr_eam_bids.csv"
EAM_COLUMNS = ("mtu_start_utc", "direction", "volume_mw", "price_eur_per_mwh")

LocalHour = Annotated[int, Field(ge=0, le=23)]  # a local hour start, 0..23
Weekday = Annotated[int, Field(ge=0, le=6)]  # 0 = Monday .. 6 = Sunday


class MfrrRules(Strict):
    """``[markets.mfrr]``: the price files and the product rules."""

    prices: str | None = None  # capacity prices (Energinet mFRR download or plain CSV); None: not offered
    directions: list[Direction] = ["up", "down"]  # which directions are offered
    lot_mw: float = Field(1.0, ge=0)  # bid lot; MARKET_RULES 3.7 min bid 1 MW (Fingrid)
    endurance_h: float = Field(1.0, ge=0)  # full activation held this long (energy headroom); UNVERIFIED
    activation_time_s: float = Field(900.0, gt=0)  # full activation within 15 min (MARKET_RULES 3.7)
    procured_only: bool = True  # sell only in hours the file's bought volume of that direction is > 0
    up_hours: list[LocalHour] = list(range(6, 22))  # local hour starts of up procurement (SvK hours 7-22)
    down_hours: list[LocalHour] = [0, 1, 2, 3, 4, 5, 22, 23]  # ... of down procurement (SvK hours 1-6, 23-24)
    weekdays: list[Weekday] = [0, 1, 2, 3, 4]  # procured local weekdays (0 = Monday); weekends UNVERIFIED
    gate_time: dt.time = dt.time(7, 30)  # capacity gate closure, local clock time; UNVERIFIED
    gate_days_before: int = Field(1, ge=0)  # ... this many days before delivery (D-1, MARKET_RULES 3.7)
    activation_prices: str | None = None  # EAM activation prices; None: activation not modelled
    activation_dayahead: str | None = None  # day-ahead prices of the activation prices' zone (zone proxy)
    activation_dayahead_zone: str | None = None  # its zone if the file holds several (None: the only one)
    eam_mtu_minutes: Literal[15, 30, 60] = 15  # EAM bid period (MARKET_RULES 3.7: 15 min)
    eam_min_bid_mw: float = Field(1.0, ge=0)  # EAM minimum bid (MARKET_RULES 3.7: 1 MW)
    eam_gate_minutes: float = Field(45.0, ge=0)  # EAM bids close this long before the MTU; UNVERIFIED
    eam_margin_up_eur_per_mwh: float = 5.0  # up bid price = day-ahead + this (a strategy choice)
    eam_margin_down_eur_per_mwh: float = 5.0  # down bid price = day-ahead - this
    planned_activation_share: float = Field(0.0, ge=0, le=1)  # activated share the plan expects; UNVERIFIED
    eam_shortfall_eur_per_mwh: float = Field(1000.0, ge=0)  # activated energy not delivered costs this; UNVERIFIED



def activated(direction: str, bid_price, activation_price) -> np.ndarray:
    """The EAM activation rule on numbers: an up bid is activated when the activation up-price is
    >= its price, a down bid when the activation down-price is <= its price; no price: not activated."""
    bid, act = np.asarray(bid_price, float), np.asarray(activation_price, float)
    with np.errstate(invalid="ignore"):
        hit = act >= bid if direction == "up" else act <= bid
    return hit & np.isfinite(act) & np.isfinite(bid)


@register_product
class Mfrr(TwoWayCapacity):
    """mFRR capacity (up, down, hourly) with EAM energy activation, through the product seam."""

    name = "mfrr"
    streams = (UP, DOWN)
    order = 40
    table = MfrrRules

    # --- capacity ----------------------------------------------------------------------------------
    def _table(self, case, horizon: Horizon) -> pd.DataFrame:
        return mfrr_prices.cached_mfrr_capacity(case.resolve(self.rules(case).prices)).reindex(horizon.hour_starts)

    def open_hours(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Per UTC hour: in the local window of the direction, priced, and (``procured_only``) not
        marked as unprocured by a bought volume of 0."""
        r, t = self.rules(case), self._table(case, horizon)
        d = DIRECTION[stream]
        local = horizon.hour_starts.tz_convert(horizon.tz)
        hours = r.up_hours if stream == UP else r.down_hours
        ok = np.isin(np.asarray(local.hour), hours) & np.isin(np.asarray(local.day_of_week), r.weekdays)
        ok &= np.isfinite(t[f"{d}_price_eur_per_mw_h"].to_numpy(float))
        if r.procured_only:
            ok &= ~(t[f"{d}_volume_mw"].to_numpy(float) == 0)
        return ok

    # --- headroom and activation on the site -------------------------------------------------------
    def _eam_terms(self, cap, blk, T, horizon: Horizon, case):
        """The activation on the site terms ``blk`` (built once; None when activation is not
        modelled): Params share a[p, t], price pi[p, t] (EUR/MWh) and the shortfall penalty (EUR/MWh),
        and per providing asset the delivered activation ``delivered[a, p, t]`` (MW) <= a * c."""
        r = self.rules(case)
        if not r.activation_prices:
            return None
        if blk.component("eam_share") is None:
            hour_of = horizon.hour_group
            blk.eam_share = pyo.Param(list(self.streams), T, initialize=r.planned_activation_share, mutable=True)
            blk.eam_price = pyo.Param(list(self.streams), T, initialize=0.0, mutable=True)
            blk.eam_penalty = pyo.Param(initialize=r.eam_shortfall_eur_per_mwh, mutable=True)
            blk.delivered = pyo.Var(cap.AP, T, bounds=(0, None))
            blk.delivered_max = pyo.Constraint(cap.AP, T, rule=lambda b, a, p, t: b.delivered[a, p, t]
                                               <= b.eam_share[p, t] * cap.cap[a, p, hour_of[t]])
        return blk

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        hour_of, hold_h = horizon.hour_group, self.rules(case).endurance_h
        eam = self._eam_terms(cap, blk, T, horizon, case)
        pairs = set(cap.AP)
        out = {}
        for a in sorted({a for a, _ in pairs}):
            per = {s: [cap.cap[a, s, hour_of[t]] if (a, s) in pairs else 0.0 for t in T] for s in self.streams}
            up, down = per[UP], per[DOWN]
            expected = None if eam is None else [
                sum(SIGN[s] * eam.delivered[a, s, t] for s in self.streams if (a, s) in pairs) for t in T]
            out[a] = Headroom(up, down, [hold_h * c for c in up], [hold_h * c for c in down], expected)
        return out

    def site_value(self, cap, blk, T, horizon: Horizon, case, spot: np.ndarray):
        """Activated energy (``blk.activation_eur`` per stream, EUR): delivered energy paid the
        activation price (down: paying it), activation not delivered charged the shortfall penalty."""
        eam = self._eam_terms(cap, blk, T, horizon, case)
        if eam is None:
            return 0.0
        blk._eam_case = case  # plain data for update_spot
        self.update_spot(blk, spot)
        hour_of, dt_h = horizon.hour_group, horizon.dt_h
        blk.activation_eur = pyo.Expression(list(self.streams), rule=lambda b, s: sum(
            dt_h * (SIGN[s] * b.eam_price[s, t] * b.delivered[a, s, t]
                    - b.eam_penalty * (b.eam_share[s, t] * cap.cap[a, s, hour_of[t]] - b.delivered[a, s, t]))
            for a, p in cap.AP if p == s for t in T))
        return sum(blk.activation_eur[s] for s in self.streams)

    def update_spot(self, blk, spot: np.ndarray) -> None:
        """The plan values activated energy at its bid price: day-ahead +- the margin."""
        case = getattr(blk, "_eam_case", None)
        if blk.component("eam_price") is None:
            return
        r = self.rules(case) if case is not None else MfrrRules()
        for i, t in enumerate(sorted({t for _, t in blk.eam_price})):
            blk.eam_price[UP, t] = float(spot[i]) + r.eam_margin_up_eur_per_mwh
            blk.eam_price[DOWN, t] = float(spot[i]) - r.eam_margin_down_eur_per_mwh

    def revenue(self, cap, blk) -> dict[str, float]:
        """EUR per stream: the capacity value plus the activated energy (when modelled)."""
        out = super().revenue(cap, blk)
        act = None if blk is None else blk.component("activation_eur")
        for s in [] if act is None else self.streams:
            out[s] = out.get(s, 0.0) + float(pyo.value(act[s]))
        return out

    def schedule(self, cap, horizon: Horizon) -> dict[str, np.ndarray]:
        """The capacity columns, and per asset the net activated power ``<asset>_mfrr_activated_mw``
        (MW, + = up) and the activation not delivered ``<asset>_mfrr_shortfall_mw`` (MW) when the site's
        terms carry an activation."""
        cols = super().schedule(cap, horizon)
        parent = cap.parent_block()
        terms = None if parent is None else parent.component(f"{self.name}_site")
        if terms is None or terms.component("eam_share") is None:
            return cols
        T, hour_of = sorted({t for _, t in terms.eam_share}), horizon.hour_group
        for a in sorted({a for a, _ in cap.AP}):
            mine = [s for a2, s in cap.AP if a2 == a]
            done = {s: np.array([terms.delivered[a, s, t].value or 0.0 for t in T]) for s in mine}
            asked = {s: np.array([pyo.value(terms.eam_share[s, t]) * (cap.cap[a, s, hour_of[t]].value or 0.0)
                                  for t in T]) for s in mine}
            cols[f"{a}_mfrr_activated_mw"] = sum(SIGN[s] * done[s] for s in mine)
            cols[f"{a}_mfrr_shortfall_mw"] = np.clip(sum(asked[s] - done[s] for s in mine), 0.0, None)
        return cols

    # --- EAM bids and activation at delivery ------------------------------------------------------
    def eam_periods(self, case, horizon: Horizon, spot: np.ndarray) -> pd.DataFrame:
        """Per EAM MTU e of the horizon (index: UTC starts): ``reference_eur_per_mwh`` (the day-ahead
        price, mean over e), the bid prices ``up_bid``/``down_bid`` and, with ``activation_prices``,
        the activation prices ``up_activation``/``down_activation`` (EUR/MWh; NaN: none)."""
        r = self.rules(case)
        mtu = int(round(horizon.dt_h * 60))
        g = math.gcd(mtu, r.eam_mtu_minutes)
        fine = pd.date_range(horizon.index[0], periods=horizon.n * mtu // g, freq=f"{g}min")
        ref = pd.Series(np.repeat(np.asarray(spot, float), mtu // g), index=fine)
        ref = ref.groupby(fine.floor(f"{r.eam_mtu_minutes}min")).mean()
        out = pd.DataFrame({"reference_eur_per_mwh": ref.to_numpy()}, index=ref.index.rename("mtu_start_utc"))
        out["up_bid"] = out.reference_eur_per_mwh + r.eam_margin_up_eur_per_mwh
        out["down_bid"] = out.reference_eur_per_mwh - r.eam_margin_down_eur_per_mwh
        if r.activation_prices:
            act = mfrr_prices.on_periods(mfrr_prices.cached_activation_prices(case.resolve(r.activation_prices)),
                                         out.index, r.eam_mtu_minutes)
            premium = 0.0
            if r.activation_dayahead:
                zone_da = mfrr_prices.cached_dayahead(case.resolve(r.activation_dayahead), r.activation_dayahead_zone)
                other = mfrr_prices.on_periods(zone_da.to_frame("p"), out.index, r.eam_mtu_minutes)["p"].to_numpy()
                premium = out.reference_eur_per_mwh.to_numpy() - other
            out["up_activation"] = act["up_price_eur_per_mwh"].to_numpy() + premium
            out["down_activation"] = act["down_price_eur_per_mwh"].to_numpy() + premium
        return out

    def eam_bid_table(self, case, horizon: Horizon, volumes: dict, spot: np.ndarray) -> pd.DataFrame:
        """The EAM energy bids (``mfrr_eam_bids.csv``): per EAM MTU and direction with capacity,
        volume = the capacity sold in the MTU's hour (MW) at the bid price (EUR/MWh)."""
        per = self.eam_periods(case, horizon, spot)
        hour = {ts: h for h, ts in enumerate(horizon.hour_starts)}
        rows = []
        for e, row in per.iterrows():
            for s in self.streams:
                v = volumes.get((s, hour.get(e.floor("h"), -1)), 0.0)
                if v > 1e-9:
                    rows.append({"mtu_start_utc": e, "direction": DIRECTION[s], "volume_mw": round(v, 6),
                                 "price_eur_per_mwh": round(float(row[f"{DIRECTION[s]}_bid"]), 2)})
        return pd.DataFrame(rows, columns=list(EAM_COLUMNS))

    def activate_at_delivery(self, cap, terms, horizon: Horizon, case, spot: np.ndarray) -> None:
        """Set the realised activation on the site ``terms``: per MTU the share of its EAM MTUs whose
        bid the activation price passed (``activated``) and the mean activation price over them."""
        if terms is None or not self.rules(case).activation_prices or terms.component("eam_share") is None:
            return
        per = self.eam_periods(case, horizon, spot)
        mtu = int(round(horizon.dt_h * 60))
        g = math.gcd(mtu, self.rules(case).eam_mtu_minutes)
        fine = pd.date_range(horizon.index[0], periods=horizon.n * mtu // g, freq=f"{g}min")
        at = per.reindex(fine.floor(f"{self.rules(case).eam_mtu_minutes}min"))
        for s in self.streams:
            d = DIRECTION[s]
            hit = activated(d, at[f"{d}_bid"], at[f"{d}_activation"]).reshape(horizon.n, mtu // g)
            price = np.nan_to_num(at[f"{d}_activation"].to_numpy(float)).reshape(horizon.n, mtu // g)
            share = hit.mean(axis=1)
            paid = np.where(hit.any(axis=1), (hit * price).sum(axis=1) / np.maximum(hit.sum(axis=1), 1), 0.0)
            for i, t in enumerate(sorted({t for _, t in terms.eam_share})):
                terms.eam_share[s, t] = float(share[i])
                terms.eam_price[s, t] = float(paid[i])

    def extra_bid_files(self, cap, horizon: Horizon, case, spot: np.ndarray) -> dict[str, pd.DataFrame]:
        """``mfrr_eam_bids.csv``: the energy bids matching the capacity sold (at ``spot``, the
        planned day-ahead price)."""
        table = self.eam_bid_table(case, horizon, self.capacity_volumes(cap), spot)
        table["mtu_start_utc"] = pd.DatetimeIndex(table["mtu_start_utc"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {EAM_FILE: table}

    extra_bid_columns = EAM_COLUMNS

    def check_extra_bids(self, rows: pd.DataFrame) -> list[str]:
        """Problems of an EAM bid file (read as text), one line each: a direction up/down, an MTU start
        in UTC on the EAM MTU, a volume >= the minimum bid, a finite price."""
        r, out = MfrrRules(), []
        for i, (ts, d, vol, price) in enumerate(rows[list(EAM_COLUMNS)].itertuples(index=False), start=1):
            where = f"mfrr EAM bid row {i}"
            if d not in ("up", "down"):
                out.append(f"{where}: direction {d!r} is not up or down")
            t = pd.to_datetime(ts, utc=True, errors="coerce", format="ISO8601")
            if pd.isna(t) or not str(ts).endswith("Z") or t != t.floor(f"{r.eam_mtu_minutes}min"):
                out.append(f"{where}: mtu_start_utc {ts!r} is not a UTC start of a {r.eam_mtu_minutes}-minute MTU")
            v, q = pd.to_numeric(pd.Series([vol, price]), errors="coerce").to_numpy(float)
            if not np.isfinite(v) or v < r.eam_min_bid_mw - 1e-9:
                out.append(f"{where}: volume_mw {vol!r} is not a number >= the minimum bid {r.eam_min_bid_mw:g} MW")
            if not np.isfinite(q):
                out.append(f"{where}: price_eur_per_mwh {price!r} is not a number")
        return out
