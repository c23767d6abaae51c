"""The market-product seam: what one product module declares, and the registry of products.

A product is a class derived from ``Product`` and registered with ``@register_product``; importing
``bidopt.markets`` imports every module of the package, so the registration is all a new product
needs (``docs/adding-a-market-product.md``). The site (``bidopt.site``), the ``[markets]`` check
(``bidopt.model.MARKET_RULES``) and the revenue streams iterate over the registry.

Units: capacity in MW, capacity prices in EUR/MW/h (one value per UTC hour), energy in MWh, money
in EUR. A capacity product's decision is the capacity sold per stream and hour (``total_mw[p, h]``),
split over the providing assets (``cap[a, p, h]``); it reserves power and energy headroom per
direction through the product-neutral asset interface (``Headroom``, summed over products by the
site and passed to ``AssetBase.add_reserve_headroom``).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import ValidationError

from bidopt import time as btime
from bidopt.case_tables import register_market_table
from bidopt.errors import InputError
from bidopt.horizon import Horizon

BID_COLUMNS = ("product", "hour_start_utc", "volume_mw", "price_eur_per_mw_h")  # bid_table, <name>_bids.csv


class Headroom(NamedTuple):
    """What one product asks of one asset per MTU t (Pyomo expressions or numbers indexed by t):
    power up / down (MW), energy up / down (MWh) and the expected net activation (MW, + = up)."""

    up_mw: object
    down_mw: object
    up_mwh: object
    down_mwh: object
    expected_up_mw: object


class Product:
    """Defaults for a market product; a capacity product overrides the capacity hooks."""

    name: ClassVar[str]  # registry key and [markets.<name>] table
    streams: ClassVar[tuple[str, ...]] = ()  # revenue streams (summary.json, daily.csv <stream>_eur)
    order: ClassVar[int] = 50  # position of the streams among the products'
    label: ClassVar[str] = ""  # name in the backtest report (default: ``name``)
    always_listed: ClassVar[bool] = False  # streams listed (as 0) even when the case does not offer it
    has_table: ClassVar[bool] = True  # whether [markets.<name>] exists
    own_bid_path: ClassVar[bool] = False  # bids, clearing and settlement on a path of its own (FCR's)
    table: ClassVar[type | None] = None  # the model of [markets.<name>], validated when a case is loaded

    # --- the [markets.<name>] table ---------------------------------------------------------------
    def rules(self, case):
        """The validated ``[markets.<name>]`` table (errors name ``markets.<name>.<field>``): the
        ``table`` model, or None without one."""
        return None if self.table is None else self.validate(self.table, case)

    def validate(self, model_cls, case):
        """``model_cls`` validated from ``[markets.<name>]``, as an InputError naming the field."""
        raw = case.markets.get(self.name, {})
        if isinstance(raw, model_cls):  # validated when the case was loaded
            return raw
        try:
            return model_cls.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            raise InputError(case.label, f"markets.{self.name}." + ".".join(map(str, err["loc"])), err["msg"]) from None

    # --- capacity: what the case offers and who provides it ----------------------------------------
    def offered(self, case) -> list[str]:
        """The capacity streams the case offers (their price inputs are given); [] = no capacity."""
        return []

    def provides(self, asset, stream: str, case=None) -> bool:
        """Whether ``asset`` can provide ``stream`` (asks ``asset.flexibility()``) under ``case``'s
        rules (None: the product's default rules)."""
        return False

    def limit_mw(self, asset, stream: str) -> float | None:
        """The most capacity of ``stream`` ``asset`` is prequalified for (MW), None = no cap."""
        return None

    def prices(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Capacity price per UTC hour of the horizon (EUR/MW/h)."""
        raise NotImplementedError

    def lot_mw(self, case, horizon: Horizon) -> float:
        """The bid lot (MW): volumes are whole lots; 0 = continuous volumes."""
        return 0.0

    def min_bid_mw(self, case, horizon: Horizon) -> float:
        """The smallest bid (MW) the auction takes (a fleet's pool applies it, ``bids/fleet_pool``); default the lot."""
        return self.lot_mw(case, horizon)

    def open_hours(self, case, stream: str, horizon: Horizon) -> np.ndarray | None:
        """Per UTC hour of the horizon, whether ``stream`` is procured (a seasonal or daily window);
        None = every hour. Capacity in a closed hour is 0."""
        return None

    # --- stepped bids over clearing-price scenarios (bidopt.bids.capacity_steps) --------------------
    price_published: ClassVar[dt.time] = dt.time(12, 0)  # local time on D-1 a day D's clearing prices are public
    price_taking_key: ClassVar[str] = ""  # the setting that makes the bids price-taking (named in errors)
    # price-taking bids take the case's price series as known: true of a price the buyer posts before
    # the gate (a DSO request), hindsight for an auction's clearing price (the backtest warns)
    price_known_at_gate: ClassVar[bool] = False
    pools: ClassVar[bool] = True  # a fleet may pool its sites' capacity into one bid (bids/fleet_pool)

    def stepped_bids(self, case) -> bool:
        """Whether ``bid`` offers stepped bids over clearing-price scenarios forecast from
        ``price_history`` (else one volume per stream and hour at the case's prices, taken as known)."""
        return False

    def price_lookback_days(self, case) -> int:
        """Days of price history the scenarios' errors are drawn from."""
        return 28

    def price_history(self, case, stream: str, index: pd.DatetimeIndex) -> pd.Series:
        """Realised clearing price per UTC hour of ``index`` (EUR/MW/h), NaN where unknown."""
        return pd.Series(self.prices(case, stream, Horizon(index, case.case.timezone)), index=index)

    def gate_utc(self, case, day) -> pd.Timestamp:
        """Gate closure for delivery ``day`` in UTC: the table's local ``gate_time``,
        ``gate_days_before`` days before (NotImplementedError for a table without them)."""
        r = self.rules(case)
        if not hasattr(r, "gate_time"):
            raise NotImplementedError(f"{self.name}: no gate")
        d = btime.day_of(day) - dt.timedelta(days=r.gate_days_before)
        local = pd.Timestamp(dt.datetime.combine(d, r.gate_time))
        return local.tz_localize(case.case.timezone, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")

    def bid_gate_utc(self, case, day) -> pd.Timestamp:
        """Gate closure (UTC) of the product's bids for delivery ``day``: what is known when bidding
        (default ``gate_utc``)."""
        return self.gate_utc(case, day)

    def accept_limit_mw(self, case, stream: str, horizon: Horizon) -> np.ndarray | None:
        """The most volume the auction can accept per UTC hour of the horizon (MW, e.g. the volume
        the TSO procured), None = no limit: steps accepted in ascending price while they fit."""
        return None

    def build_capacity(self, blk, horizon: Horizon, case, assets: dict, prices: dict | None = None,
                       continuous: bool = False) -> None:
        """Capacity per stream p and UTC hour h on ``blk``: ``total_mw[p, h]`` (``lot_mw`` times
        integer ``lots[p, h]``: bids clear whole, the relaxation would sell fractions; a Var when the
        lot is 0 or ``continuous``, i.e. volumes set elsewhere in lots, the stepped bids of the
        bidding model), split over the providing assets as ``cap[a, p, h]`` (each up to
        ``limit_mw``, 0 outside ``open_hours``), ``price[p, h]`` (the case's, or ``prices`` {stream:
        per hour}) and ``capacity_value_eur[p]`` = sum_h price * total_mw * 1 h (EUR)."""
        lot = self.lot_mw(case, horizon)
        H = pyo.RangeSet(0, len(horizon.hour_starts) - 1)
        blk.H = H
        providers = {p: [a for a in assets if self.provides(assets[a], p, case)] for p in self.offered(case)}
        products = [p for p in providers if providers[p]]
        blk.P = pyo.Set(initialize=products)
        price = {p: (self.prices(case, p, horizon) if prices is None else np.asarray(prices[p])) for p in products}
        blk.price = pyo.Param(blk.P, H, initialize={(p, h): float(price[p][h]) for p in products for h in H}, mutable=True)
        blk._lot_mw = lot  # plain data for fix_capacity
        if lot > 0 and not continuous:
            blk.lots = pyo.Var(blk.P, H, within=pyo.NonNegativeIntegers)
            blk.total_mw = pyo.Expression(blk.P, H, rule=lambda b, p, h: lot * b.lots[p, h])
        else:
            blk.total_mw = pyo.Var(blk.P, H, bounds=(0, None))
        pairs = [(a, p) for p in products for a in providers[p]]
        blk.AP = pyo.Set(initialize=pairs, dimen=2)
        blk.cap = pyo.Var(blk.AP, H, bounds=(0, None))
        blk.split = pyo.Constraint(
            blk.P, H, rule=lambda b, p, h: sum(b.cap[a, p, h] for a in providers[p]) == b.total_mw[p, h]
        )
        window = {p: self.open_hours(case, p, horizon) for p in products}
        for a, p in pairs:
            lim = self.limit_mw(assets[a], p)
            for h in H:
                ub = 0.0 if window[p] is not None and not window[p][h] else lim
                if ub is not None:
                    blk.cap[a, p, h].setub(ub)
        blk.capacity_value_eur = pyo.Expression(blk.P, rule=lambda b, p: sum(b.price[p, h] * b.total_mw[p, h] for h in H))

    def capacity_volumes(self, cap) -> dict[tuple[str, int], float]:
        """The solved capacity of ``cap`` per (stream, hour), MW: what the bid offers."""
        return {(p, h): float(pyo.value(cap.total_mw[p, h])) for p in cap.P for h in cap.H}

    def fix_capacity(self, cap, volumes: dict[tuple[str, int], float]) -> None:
        """Hold a built capacity block at ``volumes`` {(stream, hour): MW} (the bid's capacity at
        delivery; the default clearing rule: a price-taking bid is accepted whole and paid the
        clearing price, here the case's price series)."""
        lot = getattr(cap, "_lot_mw", 0.0)
        for (p, h), v in volumes.items():
            if p in cap.P:
                if cap.component("lots") is not None:
                    cap.lots[p, h].fix(round(v / lot))
                else:
                    cap.total_mw[p, h].fix(v)

    # --- clearing and settlement (the backtest; bidopt.markets.capacity_settlement) -----------------
    def clearing_prices(self, case, stream: str, horizon: Horizon, auction: int = 1) -> np.ndarray:
        """Realised clearing price per UTC hour of the horizon that bids of ``stream`` in ``auction``
        are settled against (EUR/MW/h), NaN where nothing clears: the price series, closed hours NaN."""
        price = np.array(self.prices(case, stream, horizon), dtype=float)
        window = self.open_hours(case, stream, horizon)
        if window is not None:
            price[~np.asarray(window, dtype=bool)] = np.nan
        return price

    def accept(self, bid_price, clearing_price) -> np.ndarray:
        """The clearing rule per bid: accepted whole when its price is at or below the clearing price."""
        from bidopt.markets.capacity_settlement import accepted_by_price

        return accepted_by_price(bid_price, clearing_price)

    def pricing(self, case, day) -> str:
        """What an accepted bid is paid on delivery ``day``: ``"marginal"`` (the clearing price) or
        ``"pay_as_bid"`` (its own price)."""
        return "marginal"

    def settle_bids(self, case, bids: pd.DataFrame, horizon: Horizon, day) -> pd.DataFrame:
        """The day's bids (``BID_COLUMNS``, optionally ``auction``) settled at the realised clearing
        prices: with ``clearing_eur_per_mw_h``, ``accepted``, ``paid_eur_per_mw_h``, ``payment_eur``."""
        from bidopt.markets.capacity_settlement import settle

        return settle(self, case, bids, horizon, day)

    def settlement_summary(self, case, days) -> dict:
        """Keys the backtest's summary.json adds for this product over ``days`` (e.g. FCR's dated rules)."""
        return {}

    # --- activation at delivery and bid files of its own (mFRR's energy bids) ----------------------
    extra_bid_columns: ClassVar[tuple[str, ...]] = ()  # header of the product's own bid file (bidopt validate)

    def activate_at_delivery(self, cap, terms, horizon: Horizon, case, spot: np.ndarray) -> None:
        """The backtest's delivery re-plan and perfect-foresight plan, before the solve: set on the
        product's site ``terms`` what the TSO activated at the realised prices (it moves the SoC through
        ``Headroom.expected_up_mw`` and is paid through ``site_value``); ``spot``: the realised
        day-ahead price per MTU. Default: nothing is activated."""

    def extra_bid_files(self, cap, horizon: Horizon, case, spot: np.ndarray) -> dict[str, pd.DataFrame]:
        """The product's bid files besides ``<name>_bids.csv`` ({file name: table with the columns
        ``extra_bid_columns``}) for a solved ``cap``, ``spot`` the planned day-ahead price per MTU
        (mFRR: ``mfrr_eam_bids.csv``); ``bidopt bid`` writes them. Default: none."""
        return {}

    def check_extra_bids(self, rows: pd.DataFrame) -> list[str]:
        """Problems of the product's own bid file (columns ``extra_bid_columns``, read as text), one
        line each (empty: valid)."""
        return []

    def bid_table(self, cap, horizon: Horizon) -> pd.DataFrame:
        """The capacity bids of a solved ``cap`` (the default bid format): one row per stream and hour
        with capacity, columns ``product, hour_start_utc, volume_mw, price_eur_per_mw_h``; offered at
        price 0 (price-taking), the rule ``fix_capacity`` settles."""
        vol = self.capacity_volumes(cap)
        rows = [{"product": p, "hour_start_utc": horizon.hour_starts[h], "volume_mw": round(v, 6),
                 "price_eur_per_mw_h": 0.0} for (p, h), v in vol.items() if v > 1e-9]
        return pd.DataFrame(rows, columns=list(BID_COLUMNS))

    def check_bids(self, rows: pd.DataFrame, first_row: int = 1) -> list[str]:
        """Problems of this product's rows of a bid file (``BID_COLUMNS``, read as text), one line
        each (empty: valid): a stream of the product, a UTC hour start, a volume >= 0 in whole lots
        of the default table's lot, a finite price."""
        lot = float(getattr(self.table(), "lot_mw", 0.0) or 0.0) if self.table is not None else 0.0
        out = []
        for i, (p, hour, vol, price) in enumerate(rows[list(BID_COLUMNS)].itertuples(index=False), start=first_row):
            where = f"{self.name} bid row {i}"
            if p not in self.streams:
                out.append(f"{where}: product {p!r} is not one of {', '.join(self.streams)}")
            ts = pd.to_datetime(hour, utc=True, errors="coerce", format="ISO8601")
            if pd.isna(ts) or not str(hour).endswith("Z") or ts != ts.floor("h"):
                out.append(f"{where}: hour_start_utc {hour!r} is not a UTC hour start (e.g. 2024-06-12T10:00:00Z)")
            v, q = pd.to_numeric(pd.Series([vol, price]), errors="coerce").to_numpy(float)
            if not np.isfinite(v) or v < 0:
                out.append(f"{where}: volume_mw {vol!r} is not a number >= 0")
            elif lot > 0 and abs(v / lot - round(v / lot)) > 1e-6:
                out.append(f"{where}: volume {v:g} MW is not a multiple of the lot {lot:g} MW")
            if not np.isfinite(q):
                out.append(f"{where}: price_eur_per_mw_h {price!r} is not a number")
        return out

    def without(self, case):
        """``case`` offering none of this product (the no_flex baseline sells no reserves)."""
        return case.model_copy(update={"markets": {k: v for k, v in case.markets.items() if k != self.name}})

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        """Per providing asset, the headroom ``cap``'s capacities ask of it (built on ``blk``)."""
        return {}

    def site_value(self, cap, blk, T, horizon: Horizon, case, spot: np.ndarray):
        """Value (EUR) one price path earns besides the capacity value (e.g. activation energy)."""
        return 0.0

    def update_spot(self, blk, spot: np.ndarray) -> None:
        """New spot prices on the terms ``site_value`` built on ``blk``."""

    def revenue(self, cap, blk) -> dict[str, float]:
        """EUR per stream: the capacity value (when ``cap`` is given) plus ``site_value``'s terms."""
        return {p: float(pyo.value(cap.capacity_value_eur[p])) for p in cap.P} if cap is not None else {}

    def schedule(self, cap, horizon: Horizon) -> dict[str, np.ndarray]:
        """Per asset and stream, the capacity sold in each MTU's hour (MW): ``<asset>_<stream>_mw``."""
        hour_of = horizon.hour_group
        cols = {}
        for a, p in cap.AP:
            per_hour = np.array([cap.cap[a, p, h].value or 0.0 for h in cap.H])
            cols[f"{a}_{p}_mw"] = per_hour[hour_of]
        return cols


_PRODUCTS: dict[str, Product] = {}


def register_product(cls):
    """Class decorator: register one instance of ``cls`` under ``cls.name``, and its ``table`` so a
    case validates ``[markets.<name>]`` when it is loaded (``bidopt.case_tables``)."""
    if cls.name in _PRODUCTS and type(_PRODUCTS[cls.name]) is not cls:
        raise ValueError(f"market product {cls.name!r} registered twice")
    _PRODUCTS[cls.name] = cls()
    if cls.table is not None:
        register_market_table(cls.name, cls.table)
    return cls


def registered() -> list[Product]:
    """Every registered product, in stream order."""
    return sorted(_PRODUCTS.values(), key=lambda p: (p.order, p.name))


def product(name: str) -> Product:
    return _PRODUCTS[name]
