"""Auction and contract ids for Nord Pool auctions (day-ahead and intraday auctions).

Everything that *names* an auction or a contract goes through one function,
``auction_and_contracts(product_id, day)``. The exporter (``bidopt.bids.export.empty_orders``) and
the validator (``bidopt.bids.rules.validate``) take it as a parameter (``make_ids=``), so when Nord
Pool's real naming differs, pass a replacement - e.g. one that reads the contracts from
``GET /auctions/{auctionId}`` - without touching anything else.

Conventions used by the default function (MARKET_RULES 1.1, 1.6):

- auction id ``{productId}-{closeForBiddingDate YYYYMMDD}``; day-ahead bidding closes on D-1, so
  delivery 2026-04-05 gives ``NOR_QH_DA_1-20260404`` (pattern confirmed for ``NOR_H_DA_1`` by a
  Nord Pool operational message [S11]; the QH example is third-party [S9]).
- contract id ``{productId}-{deliveryDate YYYYMMDD}-{NN}``, NN the 1-based number of the MTU within
  the *local* delivery day (Europe/Stockholm), zero-padded to 2 digits; numbers above 99 (quarter
  hours 100 on a 25-hour day) simply have 3 digits: ``-01`` ... ``-99``, ``-100``.
  **UNVERIFIED** for quarter-hour products (MARKET_RULES 1.6: "always read contract ids from
  ``GET /auctions/{id}`` rather than constructing them"); likewise for the intraday auctions.
- A delivery day has 23, 24 or 25 hours (92/96/100 quarter-hours); MTUs come from
  ``bidopt.time.delivery_index``.

Products (``PRODUCTS``): ``NOR_H_DA_1`` (60 min, last delivery day 2025-09-30), ``NOR_QH_DA_1``
(15 min, from delivery day 2025-10-01, MARKET_RULES 1.2), and the intraday auctions
``NOR_IDA1_1``, ``NOR_IDA2_1``, ``NOR_IDA3_1`` (15 min in the Swedish zones, from 2024-06-13;
IDA1/IDA2 close D-1 and cover the whole day D, IDA3 closes on D and covers D 12:00-24:00,
MARKET_RULES 2.2). The intraday product ids are **UNVERIFIED** guesses in Nord Pool's naming style.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bidopt.bids.orders import ContractInfo
from bidopt.time import STOCKHOLM, day_of, delivery_index


@dataclass(frozen=True)
class Product:
    """An auction product: its MTU, when bidding closes, what part of the day it covers."""

    product_id: str
    market: Literal["dayahead", "intraday_auction"]
    mtu_minutes: int
    close_days_before: int  # closeForBidding date = delivery day - this many days
    first_local_hour: int = 0  # first delivery hour covered (IDA3: 12)
    first_delivery: dt.date | None = None  # first delivery day the product exists for
    last_delivery: dt.date | None = None  # last delivery day it exists for
    verified: bool = True  # False: id or details are UNVERIFIED


PRODUCTS: dict[str, Product] = {
    p.product_id: p
    for p in (
        # the hourly auction ended with the 15-min go-live (MARKET_RULES 1.2)
        Product("NOR_H_DA_1", "dayahead", 60, 1, last_delivery=dt.date(2025, 9, 30)),
        Product("NOR_QH_DA_1", "dayahead", 15, 1, first_delivery=dt.date(2025, 10, 1)),
        Product("NOR_IDA1_1", "intraday_auction", 15, 1, first_delivery=dt.date(2024, 6, 13), verified=False),
        Product("NOR_IDA2_1", "intraday_auction", 15, 1, first_delivery=dt.date(2024, 6, 13), verified=False),
        Product("NOR_IDA3_1", "intraday_auction", 15, 0, first_local_hour=12,
                first_delivery=dt.date(2024, 6, 13), verified=False),
    )
}


@dataclass(frozen=True)
class AuctionContracts:
    """The auction id and the contracts (MTUs, in delivery order) of one product and day."""

    product_id: str
    auction_id: str
    delivery_day: dt.date
    contracts: list[ContractInfo] = field(default_factory=list)

    @property
    def contract_ids(self) -> list[str]:
        return [c.contract_id for c in self.contracts]


IdMaker = Callable[[str, dt.date], AuctionContracts]
"""Signature of a contract-naming function: (product_id, delivery_day) -> AuctionContracts."""


def auction_and_contracts(product_id: str, day, tz: str = STOCKHOLM) -> AuctionContracts:
    """Auction id and contract ids/periods of ``product_id`` for local delivery day ``day``.

    Replaceable (see the module docstring); the contract-id suffix is **UNVERIFIED**.
    Raises ValueError for an unknown product.
    """
    try:
        product = PRODUCTS[product_id]
    except KeyError:
        raise ValueError(f"unknown product '{product_id}' (known: {', '.join(PRODUCTS)})") from None
    d = day_of(day)
    close = d - dt.timedelta(days=product.close_days_before)
    auction_id = f"{product_id}-{close:%Y%m%d}"
    idx = delivery_index(d, product.mtu_minutes, tz)
    step = dt.timedelta(minutes=product.mtu_minutes)
    contracts = []
    for n, start in enumerate(idx, start=1):
        if start.tz_convert(tz).hour < product.first_local_hour:
            continue
        s = start.to_pydatetime()
        contracts.append(ContractInfo(contract_id=f"{product_id}-{d:%Y%m%d}-{n:02d}",
                                      delivery_start=s, delivery_end=s + step))
    return AuctionContracts(product_id, auction_id, d, contracts)


DAYAHEAD_PRODUCTS = {60: "NOR_H_DA_1", 15: "NOR_QH_DA_1"}  # day-ahead product per MTU length (minutes)


def exists_on(product: Product, day) -> bool:
    """Whether ``product`` is traded for delivery day ``day``."""
    d = day_of(day)
    return not ((product.first_delivery and d < product.first_delivery)
                or (product.last_delivery and d > product.last_delivery))


def dayahead_mtu(day) -> int:
    """The day-ahead MTU in force for delivery day ``day``: 60 minutes up to 2025-09-30, 15 minutes
    from 2025-10-01 (MARKET_RULES 1.2), read from the products' delivery dates."""
    for pid in DAYAHEAD_PRODUCTS.values():
        if exists_on(PRODUCTS[pid], day):
            return PRODUCTS[pid].mtu_minutes
    raise ValueError(f"no day-ahead product is known for delivery day {day_of(day)}")


def dayahead_mtu_note(day) -> str:
    """'the day-ahead MTU is 15 minutes from 2025-10-01' (or '60 minutes up to 2025-09-30')."""
    p = PRODUCTS[DAYAHEAD_PRODUCTS[dayahead_mtu(day)]]
    since = f"from {p.first_delivery}" if p.first_delivery else f"up to {p.last_delivery}"
    return f"the day-ahead MTU is {p.mtu_minutes} minutes {since}"


def bidding_mtu(mtu_minutes: int, day) -> int:
    """The MTU day-ahead bidding for ``day`` runs at: ``mtu_minutes`` (the case's) when the day-ahead
    market has a product of that length on ``day``, otherwise the exchange's MTU in force then
    (``dayahead_mtu``). A 60-minute case bids hourly up to 2025-09-30 and in quarter-hours from
    2025-10-01; a 15-minute case bids hourly before 2025-10-01."""
    pid = DAYAHEAD_PRODUCTS.get(mtu_minutes)
    if pid is not None and exists_on(PRODUCTS[pid], day):
        return mtu_minutes
    return dayahead_mtu(day)


def dayahead_product(day, mtu_minutes: int) -> str:
    """The day-ahead product for a delivery day and MTU length (60 -> NOR_H_DA_1, 15 -> NOR_QH_DA_1).

    Raises ValueError when that product does not exist on ``day`` (hourly auction after
    2025-09-30, quarter-hour auction before 2025-10-01) or for another MTU length.
    """
    d = day_of(day)
    pid = DAYAHEAD_PRODUCTS.get(mtu_minutes)
    if pid is None:
        raise ValueError(f"no day-ahead product is known for {mtu_minutes}-minute MTUs")
    if not exists_on(PRODUCTS[pid], d):
        raise ValueError(f"product {pid} does not exist for delivery day {d}")
    return pid
