"""Market products, one module each, registered like asset kinds (``bidopt.markets.base``).

Importing the package imports every module in it, so each module's ``@register_product`` runs; the
helpers below are what the site, the model and the outputs ask of the registry.
"""

from bidopt.markets.base import Headroom, Product, product, register_product, registered
from bidopt.registry import import_all

import_all(__name__, __path__)

FIXED_STREAMS = ("tariff", "tax", "degradation")  # the site's own streams, after every product's


def tables() -> dict:
    """``{name: rules}`` of the products with a ``[markets.<name>]`` table, in stream order."""
    return {p.name: p.rules for p in registered() if p.has_table}


def capacity_products(case) -> list[Product]:
    """The products whose capacity the case offers (their price inputs are given), in stream order."""
    return [p for p in registered() if p.offered(case)]


def listed_streams() -> tuple[str, ...]:
    """The streams every revenue dict lists (as 0 when not earned): the always-listed products'
    and the site's own, in order."""
    head = [s for p in registered() if p.always_listed for s in p.streams]
    return (*head, *FIXED_STREAMS)


def stream_order(case) -> tuple[str, ...]:
    """The listed streams plus those of the products ``case`` offers, in registry order."""
    head = [s for p in registered() if p.always_listed or p.offered(case) for s in p.streams]
    return (*head, *FIXED_STREAMS)


def provided_by(asset, case=None) -> set[str]:
    """The capacity streams ``asset`` can provide (of every registered product; under ``case``'s
    rules, else the products' defaults)."""
    return {s for p in registered() for s in p.streams if p.provides(asset, s, case)}


def bid_file_products() -> dict[str, Product]:
    """{stream: product} of the products whose bids go in ``<name>_bids.csv`` (not on a path of
    their own, as FCR's ``fcr_bids.csv``)."""
    return {s: p for p in registered() if not p.own_bid_path and p.has_table for s in p.streams}


def check_capacity_bids(df) -> list[str]:
    """Problems of a capacity bid file (``<name>_bids.csv``, ``Product.bid_table``'s columns, read
    as text), one line each (empty: valid): each row checked by its product (``check_bids``)."""
    from bidopt.markets.base import BID_COLUMNS

    missing = [c for c in BID_COLUMNS if c not in df.columns]
    if missing:
        return [f"capacity bids: missing column(s) {', '.join(missing)} (need {', '.join(BID_COLUMNS)})"]
    known, out = bid_file_products(), []
    for i, p in enumerate(df["product"], start=1):
        if p not in known:
            out.append(f"capacity bid row {i}: product {p!r} is not one of {', '.join(known)}")
        else:
            out += known[p].check_bids(df.iloc[i - 1:i], i)
    return out


def check_asset_choices(case) -> None:
    """An asset's chosen reserve streams (``reserve_choice()``) must be registered streams."""
    from bidopt.errors import InputError

    known = [s for p in registered() for s in p.streams if p.provides.__func__ is not Product.provides]
    for a in case.assets:
        for s in a.reserve_choice() or ():
            if s not in known:
                raise InputError(case.label, f"assets.{a.name}.reserves",
                                 f"unknown reserve product {s!r}; known: {', '.join(known)}")


__all__ = ["FIXED_STREAMS", "Headroom", "Product", "bid_file_products", "capacity_products", "check_asset_choices",
           "check_capacity_bids", "listed_streams",
           "product", "provided_by", "register_product", "registered", "stream_order", "tables"]
