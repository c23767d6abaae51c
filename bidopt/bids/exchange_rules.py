"""Exchange parameters: ``ExchangeRules`` (dated where they change over time), read from
``bidopt/defaults/exchange_rules.toml`` with their sources, or from a user's TOML file
(``load_rules``); and the small number checks the validators share (``on_grid``: a value on a tick
or lot grid). Prices in EUR/MWh, volumes in MW, FCR prices in EUR/MW/h.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ConfigDict, Field, ValidationError

from bidopt.case import DEFAULTS_DIR, Dated, Strict, dated_value
from bidopt.errors import InputError

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
# number checks shared by the validators


def fmt(x: float) -> str:
    """A number for a message: up to 10 significant digits, no trailing zeros."""
    return format(x, ".10g")


def on_grid(x: float, step: float, tol: float = GRID_TOL) -> bool:
    """True if ``x`` is a multiple of ``step`` within ``tol`` (never for a number too large to say)."""
    q = x / step
    return math.isfinite(q) and abs(x - round(q) * step) <= tol


def nearly_equal(a: float, b: float) -> bool:
    return abs(a - b) <= GRID_TOL * max(1.0, abs(a), abs(b))


def first_and_count(bad: list[str]) -> str:
    return bad[0] if len(bad) == 1 else f"{bad[0]} (and {len(bad) - 1} more)"
