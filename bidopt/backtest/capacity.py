"""Capacity products in a backtest: every offered product settled through the product seam.

For each market product the case offers capacity in (``bidopt.markets.capacity_products``), a
strategy day takes the bids it submitted (FCR: ``Bids.fcr_bids``; a plug-in product:
``Bids.capacity_bids[name]``, else its ``bid_table``), settles them at the realised clearing prices
under the product's clearing rule and the pricing in force on the day (``Product.settle_bids``,
``bidopt.markets.capacity_settlement``), holds the accepted volume per stream and hour in the
delivery re-plan (``Product.fix_capacity``; streams and hours without an accepted bid at 0) and, once
solved, swaps the re-plan's capacity value of that volume for the settled payments.

Outputs per product ``<name>``: daily.csv ``<name>_offered_mw_h`` (MW summed over the day's bids, one
hour each), ``<name>_accepted_mw_h`` and, when offered, ``<name>_pricing``; summary.json
``capacity_products`` ({name: label, streams, revenue_eur, offered_mw_h, accepted_mw_h, days per
pricing rule}) plus the product's own keys (``Product.settlement_summary``, FCR's ``fcr_rules``).
Money EUR, capacity MW, MW·h = MW held for one hour.
"""

from __future__ import annotations

import pandas as pd

from bidopt import markets
from bidopt.errors import InputError
from bidopt.markets.base import BID_COLUMNS, Product
from bidopt.markets.capacity_settlement import accepted_volumes, swap_capacity_value


def reported(case) -> list[Product]:
    """The capacity products with columns in daily.csv: the offered ones, and the always-listed
    capacity products (FCR) even when not offered (their columns are 0)."""
    offered = {p.name for p in markets.capacity_products(case)}
    return [p for p in markets.registered()
            if p.name in offered or (p.always_listed and type(p).offered is not Product.offered)]


def submitted(case, bids, horizon) -> dict[str, pd.DataFrame]:
    """{product name: the day's bids} of every offered capacity product (``BID_COLUMNS`` rows; FCR's
    with ``auction``); a product that bid nothing has an empty table."""
    given = {"fcr": bids.fcr_bids, **(getattr(bids, "capacity_bids", None) or {})}
    caps = getattr(bids.result.model, "capacities", {})
    out = {}
    for prod in markets.capacity_products(case):
        table = given.get(prod.name)
        if table is None and prod.name in caps:
            table = prod.bid_table(caps[prod.name], horizon)
        out[prod.name] = table if table is not None else pd.DataFrame(columns=list(BID_COLUMNS))
    return out


def settle_day(case, tables: dict[str, pd.DataFrame], horizon, day) -> dict[str, pd.DataFrame]:
    """{product name: its bids settled} (``Product.settle_bids``) at the realised clearing prices."""
    return {name: markets.product(name).settle_bids(case, bids, horizon, day) for name, bids in tables.items()}


def hold_accepted(pm, settled: dict[str, pd.DataFrame], horizon) -> None:
    """Fix each product's capacity in the delivery re-plan ``pm`` to its accepted volume."""
    for name, s in settled.items():
        cap = pm.site.capacities.get(name)
        if cap is None:
            if len(s) and s["accepted"].astype(bool).any():
                raise InputError(None, f"{name} bids", f"{name} capacity was sold but the case offers none of it now")
            continue
        markets.product(name).fix_capacity(cap, accepted_volumes(s, cap, horizon))


def swap_values(rev: dict[str, float], site, settled: dict[str, pd.DataFrame]) -> None:
    """In ``rev``, each product's capacity value replaced by its settled payments (activation and
    other terms of the product stay as the re-plan valued them)."""
    for name, s in settled.items():
        swap_capacity_value(rev, site.capacities.get(name), s)


def record_columns(case, settled: dict[str, pd.DataFrame], day) -> dict:
    """The day's per-product columns of daily.csv: offered and accepted MW·h, and the pricing rule."""
    out = {}
    for prod in reported(case):
        s = settled.get(prod.name)
        has = s is not None and len(s) > 0
        out[f"{prod.name}_offered_mw_h"] = float(s["volume_mw"].astype(float).sum()) if has else 0.0
        acc = s[s["accepted"].astype(bool)] if has else None
        out[f"{prod.name}_accepted_mw_h"] = float(acc["volume_mw"].astype(float).sum()) if has else 0.0
        if s is not None:
            out[f"{prod.name}_pricing"] = prod.pricing(case, day)  # the rule the day was settled by
    return out


def fingerprint_text(bids, tables: dict[str, pd.DataFrame]) -> str:
    """The submitted capacity bids as text for ``orders_sha256``: FCR's bid file as always, then each
    other product's non-empty bids under its name."""
    text = bids.fcr_bids.to_csv(index=False)
    for name, t in tables.items():
        if name != "fcr" and len(t):
            text += f"{name}\n" + t.to_csv(index=False)
    return text


def summary_keys(case, days, daily: pd.DataFrame) -> dict:
    """summary.json: each offered product's own keys (``settlement_summary``) and
    ``capacity_products`` {name: label, streams, revenue_eur, offered/accepted MW·h, pricing days}."""
    out, per = {}, {}
    for prod in markets.capacity_products(case):
        out.update(prod.settlement_summary(case, days))
        streams = list(prod.streams)
        entry = {"label": prod.label or prod.name, "streams": streams,
                 "revenue_eur": float(sum(daily[f"{s}_eur"].sum() for s in streams if f"{s}_eur" in daily))}
        for k in ("offered_mw_h", "accepted_mw_h"):
            if f"{prod.name}_{k}" in daily:
                entry[k] = float(daily[f"{prod.name}_{k}"].sum())
        if f"{prod.name}_pricing" in daily:
            entry["pricing_days"] = {str(k): int(v) for k, v in daily[f"{prod.name}_pricing"].value_counts().sort_index().items()}
        per[prod.name] = entry
    return {**out, **({"capacity_products": per} if per else {})}
