"""The validator for order files, and the one import for every exchange check.

``ExchangeRules`` (``bidopt.bids.exchange_rules``) holds the parameters (dated where they change
over time); its defaults come from ``bidopt/defaults/exchange_rules.toml`` with their sources.
``validate(orders)`` (here) checks an
``OrdersFile`` against them and returns one human-readable line per problem (empty list = valid);
``validate_fcr_bids(df)`` does the same for Svenska kraftnät FCR capacity bids and
``validate_continuous_orders(df)`` for continuous intraday orders (``intraday_orders.csv``), both in
``bidopt.bids.csv_rules``.
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
import re
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from bidopt.bids.contracts import PRODUCTS, IdMaker, Product, auction_and_contracts
from bidopt.bids.csv_rules import validate_continuous_orders, validate_fcr_bids
from bidopt.bids.exchange_rules import (
    CONTINUOUS_COLUMNS,
    FCR_COLUMNS,
    GRID_TOL,
    RULES_FILE,
    ExchangeRules,
    first_and_count,
    fmt,
    load_rules,
    nearly_equal,
    on_grid,
)
from bidopt.bids.orders import Block, BlockOrder, Curve, CurveOrder, OrdersFile
from bidopt.errors import InputError
from bidopt.time import day_bounds_utc


def _order_label(kind: str, i: int, order: CurveOrder | BlockOrder) -> str:
    return f"{kind} {i + 1} (portfolio '{order.portfolio}', area '{order.area_code}')"



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
            self.add(f"contracts outside delivery day {self.day} ({o.time_zone}): {first_and_count(outside)}")
        if wrong_len:
            self.add(f"contracts not one MTU ({seconds} s) long: {first_and_count(wrong_len)}")

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
                     f"(at the minimum {fmt(self.pmin)} and maximum {fmt(self.pmax)} EUR/MWh)")
        if n > r.max_curve_points:
            self.add(f"{where}: has {n} points; at most {r.max_curve_points} are allowed")
        increasing = True
        for k in range(1, n):
            if not prices[k] > prices[k - 1]:
                self.add(f"{where}: prices must strictly increase along the curve "
                         f"(point {k + 1}: {fmt(prices[k])} after {fmt(prices[k - 1])} EUR/MWh)")
                increasing = False
                break
        below = [p for p in prices if p < self.pmin - GRID_TOL]
        above = [p for p in prices if p > self.pmax + GRID_TOL]
        if below:
            self.add(f"{where}: price {fmt(min(below))} EUR/MWh is below the minimum price {fmt(self.pmin)}")
        if above:
            self.add(f"{where}: price {fmt(max(above))} EUR/MWh is above the maximum price {fmt(self.pmax)}")
        if n and not below and not nearly_equal(min(prices), self.pmin):
            self.add(f"{where}: the curve must have a point at the minimum price {fmt(self.pmin)} EUR/MWh "
                     f"(lowest is {fmt(min(prices))})")
        if n and not above and not nearly_equal(max(prices), self.pmax):
            self.add(f"{where}: the curve must have a point at the maximum price {fmt(self.pmax)} EUR/MWh "
                     f"(highest is {fmt(max(prices))})")
        off_tick = [fmt(p) for p in prices if not on_grid(p, r.tick_eur_per_mwh)]
        if off_tick:
            self.add(f"{where}: price {first_and_count(off_tick)} is not a multiple of the tick "
                     f"{fmt(r.tick_eur_per_mwh)} EUR/MWh")
        off_lot = [fmt(v) for v in vols if not on_grid(v, r.lot_mw)]
        if off_lot:
            self.add(f"{where}: volume {first_and_count(off_lot)} MW is not a multiple of the lot {fmt(r.lot_mw)} MW")
        if increasing:
            for k in range(1, n):
                if vols[k] > vols[k - 1] + GRID_TOL:
                    self.add(f"{where}: volume must not increase with price (positive = buy): "
                             f"{fmt(vols[k])} MW at {fmt(prices[k])} EUR/MWh after "
                             f"{fmt(vols[k - 1])} MW at {fmt(prices[k - 1])} EUR/MWh")
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
            self.add(f"{where}: price {fmt(b.price)} EUR/MWh is outside the limits "
                     f"[{fmt(self.pmin)}, {fmt(self.pmax)}]")
        if not on_grid(b.price, r.tick_eur_per_mwh):
            self.add(f"{where}: price {fmt(b.price)} is not a multiple of the tick {fmt(r.tick_eur_per_mwh)} EUR/MWh")
        if not 0 < b.minimum_acceptance_ratio <= 1:
            self.add(f"{where}: minimumAcceptanceRatio {fmt(b.minimum_acceptance_ratio)} is not in (0, 1]")
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
        too_big = [f"{fmt(p.volume)} MW in '{p.contract_id}'" for p in b.periods
                   if abs(p.volume) > r.max_block_volume_mw + GRID_TOL]
        if too_big:
            self.add(f"{where}: volume {first_and_count(too_big)} exceeds the maximum block volume "
                     f"{fmt(r.max_block_volume_mw)} MW")
        off_lot = [fmt(p.volume) for p in b.periods if not on_grid(p.volume, r.lot_mw)]
        if off_lot:
            self.add(f"{where}: volume {first_and_count(off_lot)} MW is not a multiple of the lot {fmt(r.lot_mw)} MW")
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


# the names other modules import from here: the rules and the file checks live in their own modules
__all__ = ["CONTINUOUS_COLUMNS", "FCR_COLUMNS", "GRID_TOL", "RULES_FILE", "ExchangeRules", "load_rules", "on_grid",
           "validate", "validate_continuous_orders", "validate_fcr_bids"]
