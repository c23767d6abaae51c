"""Pydantic models of Nord Pool Auction API order bodies, and of ``dayahead_orders.json``.

The order models mirror the JSON bodies of the Auction API (MARKET_RULES 1.6, Nord Pool's
Postman collection [S8]) field for field: JSON names are camelCase (``auctionId``,
``minimumAcceptanceRatio``...), Python attributes snake_case (``auction_id``...); both are
accepted when building a model in code. Unknown keys are errors, so a misspelt field cannot pass
silently. Volumes are MW with **positive = buy, negative = sell**; prices are EUR/MWh.

- ``CurveOrder`` is the body of ``POST /curveorders``: one ``Curve`` per contract (MTU), each a
  list of ``CurvePoint`` (price, volume), volumes interpolated linearly between points.
- ``BlockOrder`` is the body of ``POST /blockorders``; the body of ``POST /linkedegorders``
  (linked exclusive-group orders) has the same shape (MARKET_RULES 1.6: the same block fields are
  seen in its examples - the exact body is **UNVERIFIED**).

``dayahead_orders.json`` (``OrdersFile``) bundles everything one command submits to one auction
(day-ahead or an intraday auction), plus the metadata needed to check it::

    {
      "auctionId": "NOR_QH_DA_1-20260404",        # {productId}-{closeForBiddingDate YYYYMMDD}
      "product": "NOR_QH_DA_1",                   # NOR_H_DA_1 | NOR_QH_DA_1 | NOR_IDA1_1 | ...
      "deliveryDay": "2026-04-05",                # local delivery day (timeZone)
      "timeZone": "Europe/Stockholm",
      "area": "SE3",                              # bidding zone the orders are for
      "resolutionSeconds": 900,                   # MTU length of the contracts
      "curveOrders": [ {CurveOrder}, ... ],       # POST /curveorders bodies (one per area+portfolio)
      "blockOrders": [ {BlockOrder}, ... ],       # POST /blockorders bodies
      "linkedExclusiveGroupOrders": [ {BlockOrder}, ... ],   # POST /linkedegorders bodies
      "contracts": [                              # the auction's contracts (MTUs), in delivery order
        {"contractId": "NOR_QH_DA_1-20260405-01",
         "deliveryStart": "2026-04-04T22:00:00Z", "deliveryEnd": "2026-04-04T22:15:00Z"}, ...
      ]
    }

Only ``auctionId`` and ``product`` are required; the metadata fields may be null (``contracts``
null means "not known": contract ids are then not checked against the delivery day). Upload each
entry of ``curveOrders`` / ``blockOrders`` / ``linkedExclusiveGroupOrders`` as it stands
(``OrdersFile.submissions()`` lists them with their endpoints).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bidopt.time import STOCKHOLM


class ApiModel(BaseModel):
    """Base: camelCase JSON names, snake_case attributes, unknown keys rejected, finite numbers."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", allow_inf_nan=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict with the API's camelCase names, in field order."""
        return self.model_dump(mode="json", by_alias=True)


class CurvePoint(ApiModel):
    price: float
    volume: float


class Curve(ApiModel):
    contract_id: str
    curve_points: list[CurvePoint]


class CurveOrder(ApiModel):
    auction_id: str
    portfolio: str
    area_code: str
    curves: list[Curve]


class BlockPeriod(ApiModel):
    contract_id: str
    volume: float


class Block(ApiModel):
    name: str
    price: float
    minimum_acceptance_ratio: float
    linked_to: str | None = None
    exclusive_group: str | None = None
    periods: list[BlockPeriod]
    is_spread_block: bool = False


class BlockOrder(ApiModel):
    auction_id: str
    portfolio: str
    area_code: str
    blocks: list[Block]


LinkedExclusiveGroupOrder = BlockOrder  # same body shape (UNVERIFIED, see module docstring)


class ContractInfo(ApiModel):
    """One contract (MTU) of an auction: its id and UTC delivery period."""

    contract_id: str
    delivery_start: AwareDatetime
    delivery_end: AwareDatetime


class OrdersFile(ApiModel):
    """Everything submitted to one auction, plus metadata (see the module docstring)."""

    auction_id: str
    product: str
    delivery_day: dt.date | None = None
    time_zone: str = STOCKHOLM
    area: str | None = None
    resolution_seconds: int | None = None
    curve_orders: list[CurveOrder] = Field(default_factory=list)
    block_orders: list[BlockOrder] = Field(default_factory=list)
    linked_exclusive_group_orders: list[BlockOrder] = Field(default_factory=list)
    contracts: list[ContractInfo] | None = None

    def to_json(self, indent: int | None = 2) -> str:
        """Pretty JSON with a stable key order (the field order above)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> OrdersFile:
        """Parse JSON text; raises pydantic.ValidationError on a wrong shape."""
        return cls.model_validate_json(text)

    def submissions(self) -> list[tuple[str, dict[str, Any]]]:
        """(endpoint, body) pairs to POST to the Auction API, in a sensible order."""
        out: list[tuple[str, dict[str, Any]]] = []
        out += [("/curveorders", o.to_dict()) for o in self.curve_orders]
        out += [("/blockorders", o.to_dict()) for o in self.block_orders]
        out += [("/linkedegorders", o.to_dict()) for o in self.linked_exclusive_group_orders]
        return out
