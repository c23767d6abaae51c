"""Svenska kraftnät fast frequency reserve (FFR): upward capacity per hour, EUR/MW/h.

FFR is bought to hold the frequency after a large loss of production when the system's inertia is
low; it must reach full activation within about one second of a fast frequency drop and hold it
for a short support duration. The product is offered when ``[markets.ffr] prices`` names a price
file (CSV ``timestamp_utc,price_eur_per_mw_h``, hourly, UTC hour starts, EUR/MW/h).

For each UTC hour h of the horizon the portfolio sells C_h = lot * n_h MW (n integer), split over
the providing assets (``bidopt.markets.base.Product.build_capacity``). Revenue:
sum_h price_h * C_h * 1 h. Only hours inside the procurement window (the season and the local hours
of the day) may hold capacity.

Who provides it: an asset with upward flexibility that reaches full activation within
``activation_time_s`` (``Flexibility.response_s``; a battery inverter declares it, loads switched
on an event do not), up to its upward prequalified power.

Headroom asked of a providing asset a with capacity c_{a,h} in every MTU t of hour h:

    power up = c      energy up = c * endurance_s / 3600 h      (nothing downwards)

Activated energy is not paid and the expected activation is taken as 0 (activations are rare and
last seconds).

Sources and status. MARKET_RULES gives only Svenska kraftnät's FFR volume need (<= 100 MW in 2024,
<= 113 MW in 2026, section 3.1). Everything else here is **UNVERIFIED** and configurable in
``[markets.ffr]``: the lot (0.1 MW, as FCR), the activation time (1.3 s, the slowest activation
level), the support duration (30 s, the long-support variant), the season (1 May to 31 October),
the hours of the day (all) and the gate (D-1 15:00 local). Bids are price-taking (price 0) and paid
the price series (``Product.bid_table``, ``Product.fix_capacity``); the price is taken as known
when bidding.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import Field, model_validator

from bidopt.case import Strict
from bidopt.data import sources
from bidopt.horizon import Horizon
from bidopt.markets.base import Headroom, Product, register_product

STREAM = "ffr"
PRICE_COLUMN = "price_eur_per_mw_h"


class FfrRules(Strict):
    """``[markets.ffr]``: the price file and the product rules (all UNVERIFIED defaults)."""

    prices: str | None = None  # CSV timestamp_utc,price_eur_per_mw_h (EUR/MW/h); None: FFR not offered
    lot_mw: float = Field(0.1, ge=0)  # bid lot; 0: continuous volumes
    activation_time_s: float = Field(1.3, gt=0)  # full activation within this (s)
    endurance_s: float = Field(30.0, ge=0)  # support duration held at full activation (s)
    season_start: str = "05-01"  # first procured day, MM-DD (local)
    season_end: str = "10-31"  # last procured day, MM-DD (local); before season_start: across New Year
    hour_start: int = Field(0, ge=0, le=23)  # first procured local hour of the day
    hour_end: int = Field(24, ge=1, le=24)  # procured local hours are hour_start <= hour < hour_end
    gate_time: dt.time = dt.time(15, 0)  # gate closure, local clock time ...
    gate_days_before: int = Field(1, ge=0)  # ... this many days before delivery

    @model_validator(mode="after")
    def _window(self):
        for name in ("season_start", "season_end"):
            try:
                dt.datetime.strptime("2000-" + getattr(self, name), "%Y-%m-%d")
            except ValueError:
                raise ValueError(f"{name} must be a day of the year as MM-DD, e.g. 05-01") from None
        if self.hour_end <= self.hour_start:
            raise ValueError("hour_end must be after hour_start")
        return self

    def in_season(self, days: np.ndarray) -> np.ndarray:
        """Whether each local date (``datetime.date``) falls in the procurement season."""
        md = np.array([d.strftime("%m-%d") for d in days])
        if self.season_start <= self.season_end:
            return (md >= self.season_start) & (md <= self.season_end)
        return (md >= self.season_start) | (md <= self.season_end)


@register_product
class Ffr(Product):
    """FFR capacity (upward, hourly) through the product seam."""

    name = "ffr"
    streams = (STREAM,)
    order = 20
    table = FfrRules

    def offered(self, case) -> list[str]:
        return [STREAM] if self.rules(case).prices else []

    def provides(self, asset, stream: str, case=None) -> bool:
        f = asset.flexibility()
        if f is None or stream != STREAM or not f.up or not asset.offers(stream) or f.response_s is None:
            return False
        return f.response_s <= (FfrRules() if case is None else self.rules(case)).activation_time_s

    def limit_mw(self, asset, stream: str) -> float | None:
        return asset.flexibility().up_limit_mw

    def prices(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        return sources.profile(case, self.rules(case).prices, "markets.ffr.prices", horizon.hour_starts, None,
                               column=PRICE_COLUMN)

    def lot_mw(self, case, horizon: Horizon) -> float:
        return self.rules(case).lot_mw

    def open_hours(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Per UTC hour: in the season and in the procured local hours (by the hour's local start)."""
        r = self.rules(case)
        local = horizon.hour_starts.tz_convert(horizon.tz)
        hours = np.asarray(local.hour)
        return r.in_season(np.asarray(local.date)) & (hours >= r.hour_start) & (hours < r.hour_end)

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        hour_of = horizon.hour_group
        hold_h = self.rules(case).endurance_s / 3600.0
        out = {}
        for a in sorted({a for a, _ in cap.AP}):
            up = [cap.cap[a, STREAM, hour_of[t]] for t in T]
            out[a] = Headroom(up, [0.0] * len(up), [hold_h * c for c in up], [0.0] * len(up), None)
        return out
