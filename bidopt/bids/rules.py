"""Exchange rules and the validator for order files and FCR bids.

``ExchangeRules`` holds the parameters (dated where they change over time); its defaults come from
``bidopt/defaults/exchange_rules.toml`` with their sources. ``validate(orders)`` checks an
``OrdersFile`` against them and returns one human-readable line per problem (empty list = valid);
``validate_fcr_bids(df)`` does the same for Svenska kraftnät FCR capacity bids and
``validate_continuous_orders(df)`` for continuous intraday orders (``intraday_orders.csv``).
``bidopt.bids.files`` tells which of them (or the schedule and summary checks) a file needs.

Checked for day-ahead / intraday-auction orders (MARKET_RULES 1.3-1.6, 2.2):

- file: known product that exists on the delivery day, auction id consistent with product and day,
  resolution = the product's MTU, contracts (when listed) inside the local delivery day and one MTU
  long, every order in the file's auction;
- curve orders: one per area and portfolio, every curve at least 2 and at most 200 points, prices
  strictly increasing, first point at the minimum and last at the maximum price of the day
  (dated HMMCP limits, MARKET_RULES 1.5), prices on the 0.01 EUR/MWh tick, volumes on the 0.1 MW
  lot, net volume non-increasing in price (positive = buy), contracts of the auction, one curve per
  contract;
- blocks (block orders and linked exclusive-group orders): non-empty names unique per portfolio
  and area, price within the limits and on the tick, minimumAcceptanceRatio in (0, 1], at least one
  period, periods on consecutive contracts of the auction (when contracts are listed), no contract
  twice, |volume| <= 900 MW per period and on the lot, not all volumes zero; ``linkedTo`` names a
  block of the same order, not itself, without cycles; exclusive groups have a non-empty name and
  are not split over orders; a block order does not mix links and exclusive groups (that is what
  linked exclusive-group orders are for); in a linked exclusive-group order every parent is in an
  exclusive group, a child carries its parent's group (or none), links only to a parent, and a
  parent has at most one child; at most 3 linked exclusive-group orders per portfolio.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import ConfigDict, Field, ValidationError

from bidopt.bids.contracts import PRODUCTS, IdMaker, Product, auction_and_contracts
from bidopt.bids.orders import Block, BlockOrder, Curve, CurveOrder, OrdersFile
from bidopt.case import DEFAULTS_DIR, Dated, Strict, dated_value
from bidopt.errors import InputError
from bidopt.time import day_bounds_utc

RULES_FILE = DEFAULTS_DIR / "exchange_rules.toml"
GRID_TOL = 1e-9  # a value is on a tick/lot grid if it is within this of a multiple
FCR_COLUMNS = ("product", "auction", "hour_start_utc", "volume_mw", "price_eur_per_mw_h")
CONTINUOUS_COLUMNS = ("timestamp_utc", "side", "volume_mw", "limit_price_eur_per_mwh")  # intraday_orders.csv


@cache
def _defaults() -> dict[str, Any]:
    with open(RULES_FILE, "rb") as f:
        return tomllib.load(f)


def _default(key: str):
    return lambda: _defaults()[key]


class ExchangeRules(Strict):
    """Exchange parameters; every default is read from ``defaults/exchange_rules.toml``."""

    model_config = ConfigDict(validate_default=True)

    dayahead_price_min_eur_per_mwh: list[Dated] = Field(default_factory=_default("dayahead_price_min_eur_per_mwh"), min_length=1)
    dayahead_price_max_eur_per_mwh: list[Dated] = Field(default_factory=_default("dayahead_price_max_eur_per_mwh"), min_length=1)
    intraday_auction_price_min_eur_per_mwh: list[Dated] = Field(
        default_factory=_default("intraday_auction_price_min_eur_per_mwh"), min_length=1)
    intraday_auction_price_max_eur_per_mwh: list[Dated] = Field(
        default_factory=_default("intraday_auction_price_max_eur_per_mwh"), min_length=1)
    intraday_continuous_price_min_eur_per_mwh: list[Dated] = Field(
        default_factory=_default("intraday_continuous_price_min_eur_per_mwh"), min_length=1)
    intraday_continuous_price_max_eur_per_mwh: list[Dated] = Field(
        default_factory=_default("intraday_continuous_price_max_eur_per_mwh"), min_length=1)
    intraday_continuous_product_start_minutes: int = Field(
        default_factory=_default("intraday_continuous_product_start_minutes"), gt=0)
    tick_eur_per_mwh: float = Field(default_factory=_default("tick_eur_per_mwh"), gt=0)
    lot_mw: float = Field(default_factory=_default("lot_mw"), gt=0)
    min_curve_points: int = Field(default_factory=_default("min_curve_points"), ge=2)
    max_curve_points: int = Field(default_factory=_default("max_curve_points"), ge=2)
    max_block_volume_mw: float = Field(default_factory=_default("max_block_volume_mw"), gt=0)
    max_linked_eg_orders_per_portfolio: int = Field(
        default_factory=_default("max_linked_eg_orders_per_portfolio"), ge=0)
    fcr_min_volume_mw: float = Field(default_factory=_default("fcr_min_volume_mw"), ge=0)
    fcr_step_mw: float = Field(default_factory=_default("fcr_step_mw"), gt=0)
    fcr_products: list[str] = Field(default_factory=_default("fcr_products"))
    fcr_auctions: list[int] = Field(default_factory=_default("fcr_auctions"))

    def price_limits(self, day, market: str = "dayahead") -> tuple[float, float]:
        """(min, max) clearing price in force for delivery ``day`` in ``market``
        ("dayahead", "intraday_auction" or "intraday_continuous"). Raises InputError if no limit
        holds yet on that day."""
        d = pd.Timestamp(day).date()
        lo = getattr(self, f"{market}_price_min_eur_per_mwh")
        hi = getattr(self, f"{market}_price_max_eur_per_mwh")
        return (dated_value(lo, d, f"{market}_price_min_eur_per_mwh"),
                dated_value(hi, d, f"{market}_price_max_eur_per_mwh"))

    def latest_price_limits(self, market: str = "dayahead") -> tuple[float, float]:
        lo = getattr(self, f"{market}_price_min_eur_per_mwh")
        hi = getattr(self, f"{market}_price_max_eur_per_mwh")
        return (max(lo, key=lambda e: e.valid_from).value, max(hi, key=lambda e: e.valid_from).value)


def load_rules(path: str | Path | None = None) -> ExchangeRules:
    """Rules from a TOML file with any subset of the keys of the defaults file (others default)."""
    if path is None:
        return ExchangeRules()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InputError(path, None, f"cannot read exchange rules: {e}") from None
    try:
        return ExchangeRules(**data)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(path, ".".join(map(str, err["loc"])), err["msg"]) from None


# --------------------------------------------------------------------------------------------------
# helpers


def _fmt(x: float) -> str:
    return format(x, ".10g")


def on_grid(x: float, step: float, tol: float = GRID_TOL) -> bool:
    """True if ``x`` is a multiple of ``step`` within ``tol`` (never for a number too large to say)."""
    q = x / step
    return math.isfinite(q) and abs(x - round(q) * step) <= tol


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= GRID_TOL * max(1.0, abs(a), abs(b))


def _order_label(kind: str, i: int, order: CurveOrder | BlockOrder) -> str:
    return f"{kind} {i + 1} (portfolio '{order.portfolio}', area '{order.area_code}')"


def _first_and_count(bad: list[str]) -> str:
    return bad[0] if len(bad) == 1 else f"{bad[0]} (and {len(bad) - 1} more)"


# --------------------------------------------------------------------------------------------------
# day-ahead / intraday-auction orders


def validate(orders: OrdersFile, rules: ExchangeRules | None = None,
             make_ids: IdMaker | None = None) -> list[str]:
    """All rule violations of ``orders``, one human-readable line each (empty: valid).

    ``make_ids`` is the contract-naming function used to check the auction id
    (default ``contracts.auction_and_contracts``).
    """
    return _Validator(orders, rules or ExchangeRules(), make_ids or auction_and_contracts).run()


class _Validator:
    def __init__(self, orders: OrdersFile, rules: ExchangeRules, make_ids: IdMaker):
        self.o = orders
        self.rules = rules
        self.make_ids = make_ids
        self.problems: list[str] = []
        self.product: Product | None = None
        self.day: dt.date | None = None
        self.pmin, self.pmax = rules.latest_price_limits()
        self.contract_pos: dict[str, int] | None = None  # contract id -> position in delivery order

    def add(self, msg: str) -> None:
        self.problems.append(msg)

    def run(self) -> list[str]:
        self.check_header()
        self.check_contracts()
        self.check_curve_orders()
        self.check_block_orders()
        return self.problems

    # ---- file level

    def check_header(self) -> None:
        o = self.o
        self.product = PRODUCTS.get(o.product)
        if self.product is None:
            self.add(f"product '{o.product}' is unknown (known: {', '.join(PRODUCTS)})")
        self.day = o.delivery_day
        if self.product is not None:
            p = self.product
            if self.day is None:
                m = re.fullmatch(re.escape(p.product_id) + r"-(\d{8})", o.auction_id)
                try:
                    close = dt.datetime.strptime(m.group(1), "%Y%m%d").date() if m else None
                except ValueError:
                    close = None
                if close is None:
                    self.add(f"auctionId '{o.auction_id}' does not have the form {p.product_id}-YYYYMMDD "
                             "and deliveryDay is not given: price limits of the latest rules used")
                else:
                    self.day = close + dt.timedelta(days=p.close_days_before)
            else:
                try:
                    expected = self.make_ids(p.product_id, self.day).auction_id
                except Exception as e:  # a replaced id function may fail in its own way
                    expected = None
                    self.add(f"cannot name the auction of {p.product_id} for {self.day}: {e}")
                if expected is not None and o.auction_id != expected:
                    self.add(f"auctionId '{o.auction_id}' does not match product {p.product_id} and "
                             f"delivery day {self.day} (expected '{expected}')")
            if self.day is not None:
                if p.first_delivery and self.day < p.first_delivery:
                    self.add(f"product {p.product_id} does not exist for delivery day {self.day} "
                             f"(first delivery day {p.first_delivery})")
                if p.last_delivery and self.day > p.last_delivery:
                    self.add(f"product {p.product_id} does not exist for delivery day {self.day} "
                             f"(last delivery day {p.last_delivery})")
            if o.resolution_seconds is not None and o.resolution_seconds != p.mtu_minutes * 60:
                self.add(f"resolutionSeconds {o.resolution_seconds} does not match product {p.product_id} "
                         f"({p.mtu_minutes * 60} s)")
        market = self.product.market if self.product else "dayahead"
        if self.day is not None:
            try:
                self.pmin, self.pmax = self.rules.price_limits(self.day, market)
            except InputError as e:
                self.add(f"no price limits known for delivery day {self.day}: {e.message}")
                self.pmin, self.pmax = self.rules.latest_price_limits(market)
        else:
            self.pmin, self.pmax = self.rules.latest_price_limits(market)

    def check_contracts(self) -> None:
        o = self.o
        if o.contracts is None:
            return
        ids = [c.contract_id for c in o.contracts]
        for cid, n in Counter(ids).items():
            if n > 1:
                self.add(f"contracts: '{cid}' is listed {n} times")
        ordered = sorted(o.contracts, key=lambda c: c.delivery_start)
        self.contract_pos = {c.contract_id: k for k, c in enumerate(ordered)}
        seconds = self.product.mtu_minutes * 60 if self.product else o.resolution_seconds
        bounds = None
        if self.day is not None:
            try:
                ZoneInfo(o.time_zone)
                bounds = day_bounds_utc(self.day, o.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                self.add(f"timeZone '{o.time_zone}' is not a known time zone")
        outside = []
        wrong_len = []
        for c in o.contracts:
            start, end = pd.Timestamp(c.delivery_start), pd.Timestamp(c.delivery_end)
            if bounds is not None and (start < bounds[0] or end > bounds[1]):
                outside.append(f"'{c.contract_id}' ({start:%Y-%m-%dT%H:%MZ}-{end:%H:%MZ})")
            length = (end - start).total_seconds()
            if seconds is not None and length != seconds:
                wrong_len.append(f"'{c.contract_id}' lasts {length:g} s")
        if outside:
            self.add(f"contracts outside delivery day {self.day} ({o.time_zone}): {_first_and_count(outside)}")
        if wrong_len:
            self.add(f"contracts not one MTU ({seconds} s) long: {_first_and_count(wrong_len)}")

    def check_order_header(self, label: str, order: CurveOrder | BlockOrder) -> None:
        if order.auction_id != self.o.auction_id:
            self.add(f"{label}: auctionId '{order.auction_id}' differs from the file's '{self.o.auction_id}'")
        if not order.portfolio.strip():
            self.add(f"{label}: portfolio is empty")
        if not order.area_code.strip():
            self.add(f"{label}: areaCode is empty")
        elif self.o.area is not None and order.area_code != self.o.area:
            self.add(f"{label}: areaCode '{order.area_code}' differs from the file's area '{self.o.area}'")

    def check_known_contract(self, where: str, contract_id: str) -> bool:
        if self.contract_pos is not None and contract_id not in self.contract_pos:
            self.add(f"{where}: contract '{contract_id}' is not a contract of auction '{self.o.auction_id}'"
                     + (f" (delivery day {self.day})" if self.day else ""))
            return False
        return True

    # ---- curve orders

    def check_curve_orders(self) -> None:
        seen: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, order in enumerate(self.o.curve_orders):
            label = _order_label("curve order", i, order)
            seen[(order.area_code, order.portfolio)].append(i + 1)
            self.check_order_header(label, order)
            if not order.curves:
                self.add(f"{label}: has no curves")
            for cid, n in Counter(c.contract_id for c in order.curves).items():
                if n > 1:
                    self.add(f"{label}: contract '{cid}' has {n} curves; one is allowed")
            for curve in order.curves:
                self.check_known_contract(label, curve.contract_id)
                self.check_curve(f"{label}, contract '{curve.contract_id}'", curve)
        for (area, portfolio), idx in seen.items():
            if len(idx) > 1:
                self.add(f"{len(idx)} curve orders for area '{area}' and portfolio '{portfolio}' "
                         f"(curve orders {', '.join(map(str, idx))}); one curve order per area and portfolio is allowed")

    def check_curve(self, where: str, curve: Curve) -> None:
        r = self.rules
        pts = curve.curve_points
        prices = [p.price for p in pts]
        vols = [p.volume for p in pts]
        n = len(pts)
        if n < r.min_curve_points:
            self.add(f"{where}: has {n} point(s); at least {r.min_curve_points} are needed "
                     f"(at the minimum {_fmt(self.pmin)} and maximum {_fmt(self.pmax)} EUR/MWh)")
        if n > r.max_curve_points:
            self.add(f"{where}: has {n} points; at most {r.max_curve_points} are allowed")
        increasing = True
        for k in range(1, n):
            if not prices[k] > prices[k - 1]:
                self.add(f"{where}: prices must strictly increase along the curve "
                         f"(point {k + 1}: {_fmt(prices[k])} after {_fmt(prices[k - 1])} EUR/MWh)")
                increasing = False
                break
        below = [p for p in prices if p < self.pmin - GRID_TOL]
        above = [p for p in prices if p > self.pmax + GRID_TOL]
        if below:
            self.add(f"{where}: price {_fmt(min(below))} EUR/MWh is below the minimum price {_fmt(self.pmin)}")
        if above:
            self.add(f"{where}: price {_fmt(max(above))} EUR/MWh is above the maximum price {_fmt(self.pmax)}")
        if n and not below and not _close(min(prices), self.pmin):
            self.add(f"{where}: the curve must have a point at the minimum price {_fmt(self.pmin)} EUR/MWh "
                     f"(lowest is {_fmt(min(prices))})")
        if n and not above and not _close(max(prices), self.pmax):
            self.add(f"{where}: the curve must have a point at the maximum price {_fmt(self.pmax)} EUR/MWh "
                     f"(highest is {_fmt(max(prices))})")
        off_tick = [_fmt(p) for p in prices if not on_grid(p, r.tick_eur_per_mwh)]
        if off_tick:
            self.add(f"{where}: price {_first_and_count(off_tick)} is not a multiple of the tick "
                     f"{_fmt(r.tick_eur_per_mwh)} EUR/MWh")
        off_lot = [_fmt(v) for v in vols if not on_grid(v, r.lot_mw)]
        if off_lot:
            self.add(f"{where}: volume {_first_and_count(off_lot)} MW is not a multiple of the lot {_fmt(r.lot_mw)} MW")
        if increasing:
            for k in range(1, n):
                if vols[k] > vols[k - 1] + GRID_TOL:
                    self.add(f"{where}: volume must not increase with price (positive = buy): "
                             f"{_fmt(vols[k])} MW at {_fmt(prices[k])} EUR/MWh after "
                             f"{_fmt(vols[k - 1])} MW at {_fmt(prices[k - 1])} EUR/MWh")
                    break

    # ---- block orders

    def check_block_orders(self) -> None:
        groups = [("block order", self.o.block_orders, False),
                  ("linked exclusive-group order", self.o.linked_exclusive_group_orders, True)]
        names: dict[tuple[str, str], Counter] = defaultdict(Counter)
        eg_orders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for kind, orders, linked_eg in groups:
            for i, order in enumerate(orders):
                label = _order_label(kind, i, order)
                self.check_order_header(label, order)
                if not order.blocks:
                    self.add(f"{label}: has no blocks")
                for b in order.blocks:
                    names[(order.portfolio, order.area_code)][b.name] += 1
                    self.check_block(f"{label}, block '{b.name}'", b)
                    if b.exclusive_group is not None:
                        eg_orders[(order.portfolio, order.area_code, b.exclusive_group)].add(f"{kind} {i + 1}")
                self.check_links(label, order, linked_eg)
        for (portfolio, area), counts in names.items():
            for name, n in counts.items():
                if name.strip() and n > 1:
                    self.add(f"block name '{name}' is used by {n} blocks in portfolio '{portfolio}', area '{area}'; "
                             "block names must be unique")
        for (portfolio, area, eg), where in eg_orders.items():
            if len(where) > 1:
                self.add(f"exclusive group '{eg}' (portfolio '{portfolio}', area '{area}') is split over "
                         f"{', '.join(sorted(where))}; a group must be in one order")
        per_portfolio = Counter(o.portfolio for o in self.o.linked_exclusive_group_orders)
        limit = self.rules.max_linked_eg_orders_per_portfolio
        for portfolio, n in per_portfolio.items():
            if n > limit:
                self.add(f"portfolio '{portfolio}' has {n} linked exclusive-group orders; at most {limit} are allowed")

    def check_block(self, where: str, b: Block) -> None:
        r = self.rules
        if not b.name.strip():
            self.add(f"{where}: block name is empty")
        if b.price < self.pmin - GRID_TOL or b.price > self.pmax + GRID_TOL:
            self.add(f"{where}: price {_fmt(b.price)} EUR/MWh is outside the limits "
                     f"[{_fmt(self.pmin)}, {_fmt(self.pmax)}]")
        if not on_grid(b.price, r.tick_eur_per_mwh):
            self.add(f"{where}: price {_fmt(b.price)} is not a multiple of the tick {_fmt(r.tick_eur_per_mwh)} EUR/MWh")
        if not 0 < b.minimum_acceptance_ratio <= 1:
            self.add(f"{where}: minimumAcceptanceRatio {_fmt(b.minimum_acceptance_ratio)} is not in (0, 1]")
        if b.exclusive_group is not None and not b.exclusive_group.strip():
            self.add(f"{where}: exclusiveGroup is empty (use null for no group)")
        if b.linked_to is not None and not b.linked_to.strip():
            self.add(f"{where}: linkedTo is empty (use null for no parent)")
        if not b.periods:
            self.add(f"{where}: has no periods")
            return
        for cid, n in Counter(p.contract_id for p in b.periods).items():
            if n > 1:
                self.add(f"{where}: contract '{cid}' appears {n} times")
        known = [self.check_known_contract(where, p.contract_id) for p in b.periods]
        if self.contract_pos is not None and all(known):
            pos = sorted({self.contract_pos[p.contract_id] for p in b.periods})
            if pos[-1] - pos[0] + 1 != len(pos):
                self.add(f"{where}: periods are not consecutive contracts (a block spans consecutive MTUs)")
        too_big = [f"{_fmt(p.volume)} MW in '{p.contract_id}'" for p in b.periods
                   if abs(p.volume) > r.max_block_volume_mw + GRID_TOL]
        if too_big:
            self.add(f"{where}: volume {_first_and_count(too_big)} exceeds the maximum block volume "
                     f"{_fmt(r.max_block_volume_mw)} MW")
        off_lot = [_fmt(p.volume) for p in b.periods if not on_grid(p.volume, r.lot_mw)]
        if off_lot:
            self.add(f"{where}: volume {_first_and_count(off_lot)} MW is not a multiple of the lot {_fmt(r.lot_mw)} MW")
        if all(abs(p.volume) <= GRID_TOL for p in b.periods):
            self.add(f"{where}: all period volumes are zero (no zero-volume blocks)")

    def check_links(self, label: str, order: BlockOrder, linked_eg: bool) -> None:
        by_name = {b.name: b for b in order.blocks}
        children: dict[str, list[str]] = defaultdict(list)
        for b in order.blocks:
            if b.linked_to is None or not b.linked_to.strip():
                continue
            where = f"{label}, block '{b.name}'"
            if b.linked_to == b.name:
                self.add(f"{where}: is linked to itself")
            elif b.linked_to not in by_name:
                self.add(f"{where}: linkedTo '{b.linked_to}' is not a block of this order")
            else:
                children[b.linked_to].append(b.name)
        # cycles (a chain of parents that comes back to a block)
        reported: set[frozenset[str]] = set()
        for b in order.blocks:
            path: list[str] = []
            cur: str | None = b.name
            while cur is not None and cur in by_name and cur not in path:
                path.append(cur)
                nxt = by_name[cur].linked_to
                cur = nxt if nxt != cur else None
            if cur is not None and cur in path:
                cycle = path[path.index(cur):]
                key = frozenset(cycle)
                if len(cycle) > 1 and key not in reported:
                    reported.add(key)
                    self.add(f"{label}: linked blocks form a cycle: {' -> '.join(cycle + [cur])}")
        for b in order.blocks:
            where = f"{label}, block '{b.name}'"
            parent = by_name.get(b.linked_to) if b.linked_to else None
            eg = b.exclusive_group if b.exclusive_group and b.exclusive_group.strip() else None
            if not linked_eg:
                if eg is not None and parent is not None:
                    self.add(f"{where}: is in exclusive group '{eg}' and linked to '{b.linked_to}'; "
                             "use a linked exclusive-group order")
                elif eg is not None and children.get(b.name):
                    self.add(f"{where}: in exclusive group '{eg}' is the parent of linked block "
                             f"'{children[b.name][0]}'; use a linked exclusive-group order")
                continue
            if b.linked_to is None:
                if eg is None:
                    self.add(f"{where}: has no exclusiveGroup; every parent block of a linked "
                             "exclusive-group order belongs to one")
                if len(children.get(b.name, [])) > 1:
                    self.add(f"{where}: is the parent of {len(children[b.name])} linked blocks "
                             f"({', '.join(children[b.name])}); an exclusive-group block can be the parent of one")
            elif parent is not None and parent is not b:
                if parent.linked_to is not None:
                    self.add(f"{where}: is linked to '{parent.name}', which is itself linked; "
                             "in a linked exclusive-group order a child links to an exclusive-group block")
                if eg is not None and parent.exclusive_group is not None and eg != parent.exclusive_group:
                    self.add(f"{where}: exclusiveGroup '{eg}' differs from its parent's "
                             f"'{parent.exclusive_group}'")


# --------------------------------------------------------------------------------------------------
# FCR bids


def validate_fcr_bids(df: pd.DataFrame, rules: ExchangeRules | None = None) -> list[str]:
    """Problems of FCR capacity bids, one line each (empty: valid). Rows are numbered from 1.

    Columns: product (fcr_n, fcr_d_up, fcr_d_down), auction (1 or 2), hour_start_utc (UTC, on the
    hour), volume_mw (>= 0.1, in 0.1 MW steps), price_eur_per_mw_h (>= 0). MARKET_RULES 3.2.
    """
    r = rules or ExchangeRules()
    missing = [c for c in FCR_COLUMNS if c not in df.columns]
    if missing:
        return [f"fcr bids: missing column(s) {', '.join(missing)} (need {', '.join(FCR_COLUMNS)})"]
    out: list[str] = []
    for i, row in enumerate(df[list(FCR_COLUMNS)].itertuples(index=False), start=1):
        where = f"fcr bid row {i}"
        product, auction, hour, volume, price = row
        if product not in r.fcr_products:
            out.append(f"{where}: product '{product}' is not one of {', '.join(r.fcr_products)}")
        a = _number(auction)
        if a is None or a != int(a) or int(a) not in r.fcr_auctions:
            out.append(f"{where}: auction '{auction}' is not one of {', '.join(map(str, r.fcr_auctions))}")
        ts = _utc(hour)
        if ts is None:
            out.append(f"{where}: hour_start_utc '{hour}' is not a UTC time (e.g. 2024-03-14T10:00:00Z)")
        elif ts != ts.floor("h"):
            out.append(f"{where}: hour_start_utc {ts:%Y-%m-%dT%H:%M:%SZ} is not on the hour (FCR products are hourly)")
        v = _number(volume)
        if v is None:
            out.append(f"{where}: volume_mw '{volume}' is not a number")
        else:
            if v < r.fcr_min_volume_mw - GRID_TOL:
                out.append(f"{where}: volume {_fmt(v)} MW is below the minimum bid {_fmt(r.fcr_min_volume_mw)} MW")
            elif not on_grid(v, r.fcr_step_mw):
                out.append(f"{where}: volume {_fmt(v)} MW is not a multiple of {_fmt(r.fcr_step_mw)} MW")
        p = _number(price)
        if p is None:
            out.append(f"{where}: price_eur_per_mw_h '{price}' is not a number")
        elif p < 0:
            out.append(f"{where}: price {_fmt(p)} EUR/MW/h is negative")
    return out


# --------------------------------------------------------------------------------------------------
# continuous intraday orders


def validate_continuous_orders(df: pd.DataFrame, rules: ExchangeRules | None = None,
                               tz: str = "Europe/Stockholm") -> list[str]:
    """Problems of continuous intraday orders (``intraday_orders.csv``), one line each (empty:
    valid). Rows are numbered from 1.

    Columns: timestamp_utc (UTC start of the product, on the quarter-hour), side (buy or sell),
    volume_mw (> 0, on the 0.1 MW lot), limit_price_eur_per_mwh (on the 0.01 tick, within the SIDC
    limits of the delivery day in ``tz``). MARKET_RULES 2.1-2.2.
    """
    r = rules or ExchangeRules()
    missing = [c for c in CONTINUOUS_COLUMNS if c not in df.columns]
    if missing:
        return [f"intraday orders: missing column(s) {', '.join(missing)} (need {', '.join(CONTINUOUS_COLUMNS)})"]
    out: list[str] = []
    step = r.intraday_continuous_product_start_minutes
    for i, row in enumerate(df[list(CONTINUOUS_COLUMNS)].itertuples(index=False), start=1):
        where = f"intraday order row {i}"
        stamp, side, volume, price = row
        ts = _utc(stamp)
        if ts is None:
            out.append(f"{where}: timestamp_utc '{stamp}' is not a UTC time (e.g. 2025-11-12T10:15:00Z)")
        elif ts != ts.floor(f"{step}min"):
            out.append(f"{where}: timestamp_utc {ts:%Y-%m-%dT%H:%M:%SZ} is not the start of a product "
                       f"(continuous intraday products start every {step} minutes)")
        if str(side).strip().lower() not in ("buy", "sell"):
            out.append(f"{where}: side '{side}' is not buy or sell")
        v = _number(volume)
        if v is None:
            out.append(f"{where}: volume_mw '{volume}' is not a number")
        elif v <= GRID_TOL:
            out.append(f"{where}: volume {_fmt(v)} MW is not positive (the side says buy or sell)")
        elif not on_grid(v, r.lot_mw):
            out.append(f"{where}: volume {_fmt(v)} MW is not a multiple of the lot {_fmt(r.lot_mw)} MW")
        p = _number(price)
        if p is None:
            out.append(f"{where}: limit_price_eur_per_mwh '{price}' is not a number")
            continue
        if not on_grid(p, r.tick_eur_per_mwh):
            out.append(f"{where}: limit price {_fmt(p)} is not a multiple of the tick {_fmt(r.tick_eur_per_mwh)} EUR/MWh")
        if ts is not None:
            day = ts.tz_convert(tz).date()
            try:
                lo, hi = r.price_limits(day, "intraday_continuous")
            except InputError as e:
                out.append(f"{where}: no intraday price limits known for delivery day {day}: {e.message}")
                continue
            if not lo - GRID_TOL <= p <= hi + GRID_TOL:
                out.append(f"{where}: limit price {_fmt(p)} EUR/MWh is outside the limits [{_fmt(lo)}, {_fmt(hi)}]")
    return out


def _number(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _utc(x) -> pd.Timestamp | None:
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT or ts.tzinfo is None:
        return None
    return ts.tz_convert("UTC")
