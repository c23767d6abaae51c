"""What a result's numbers do not say by themselves: the ``warnings`` and ``notes`` of summary.json.

**Warnings** point at a result that will not hold as it stands:

* *lot*: day-ahead volumes are whole lots (0.1 MW, ``defaults/exchange_rules.toml``). Per MTU the
  energy the site wants and the energy its orders can carry differ by up to half a lot; for a small
  site (an EV garage of a few kW) most of it does not fit and settles as imbalance. Measured as
  ``sum |wanted - in lots| * dt`` over the expected energy ``sum |net position| * dt`` (probability
  weighted over scenarios in ``bid``); warned above ``LOT_WARNING_SHARE``. A site well above the lot
  still shows about a quarter lot per MTU of rounding: the 1 MW demo battery site loses 3-7 % in
  winter and up to 20 % on summer days when its PV offsets the load, hence the 25 % threshold.
* *imbalance* (backtests): imbalance energy above ``IMBALANCE_WARNING_SHARE`` of the metered net
  grid energy.

**Notes** explain a figure: a monthly power charge booked on one day is the month's charge (or
what the day adds to it), not a daily cost.

Money EUR (ex VAT where a tariff is concerned), energy MWh, power MW.
"""

from __future__ import annotations

import tomllib
from functools import cache

import numpy as np
import pandas as pd

from bidopt.case import DEFAULTS_DIR
from bidopt.site import tariff_unit_costs

LOT_WARNING_SHARE = 0.25
IMBALANCE_WARNING_SHARE = 0.25


@cache
def exchange_lot_mw() -> float:
    """The day-ahead volume lot of the exchange rules (MW)."""
    with open(DEFAULTS_DIR / "exchange_rules.toml", "rb") as f:
        return float(tomllib.load(f)["lot_mw"])


def to_lots(mw, lot_mw: float) -> np.ndarray:
    """Volumes rounded to the nearest whole lot, as the exporter rounds them."""
    return np.round(np.asarray(mw, dtype=float) / lot_mw) * lot_mw


def lot_rounding(net_mw, not_in_lots_mw, dt_h: float, lot_mw: float, prob=None) -> dict:
    """``net_mw``: the net position the site wants (MW per MTU, + = buy), ``not_in_lots_mw`` the part
    of it the lot-rounded orders do not carry; arrays of shape (T,) or (scenarios, T) with ``prob``."""
    net = np.atleast_2d(np.asarray(net_mw, dtype=float))
    gap = np.atleast_2d(np.asarray(not_in_lots_mw, dtype=float))
    p = np.full(net.shape[0], 1.0 / net.shape[0]) if prob is None else np.asarray(prob, dtype=float)
    expected = float(p @ np.abs(net).sum(axis=1) * dt_h)
    missing = float(p @ np.abs(gap).sum(axis=1) * dt_h)
    return {"lot_mw": lot_mw, "expected_mwh": expected, "not_in_lots_mwh": missing,
            "share": missing / expected if expected > 1e-12 else 0.0}


def lot_warning(info: dict, what: str) -> str | None:
    """The warning for ``lot_rounding`` figures above ``LOT_WARNING_SHARE``; ``what`` names the energy."""
    if info["share"] <= LOT_WARNING_SHARE:
        return None
    return (f"lot: {info['not_in_lots_mwh']:.2f} of {info['expected_mwh']:.2f} MWh ({100 * info['share']:.0f} %) of "
            f"the {what} does not fit whole {info['lot_mw']:g} MW day-ahead lots (volumes per MTU rounded to the "
            "nearest lot); bid as it is, that energy settles as imbalance. The site is small for the exchange "
            "lot: bid it in a pool of sites (bidopt.bids.fleet)")


def imbalance_warning(imbalance_mwh: float, metered_mwh: float) -> str | None:
    """The warning for a backtest whose imbalance energy exceeds ``IMBALANCE_WARNING_SHARE`` of its
    metered net grid energy."""
    share = imbalance_mwh / metered_mwh if metered_mwh > 1e-12 else (np.inf if imbalance_mwh > 1e-12 else 0.0)
    if share <= IMBALANCE_WARNING_SHARE:
        return None
    pct = "all" if not np.isfinite(share) else f"{100 * share:.0f} %"
    return (f"imbalance: {imbalance_mwh:.2f} MWh settled as imbalance against {metered_mwh:.2f} MWh of metered net "
            f"grid energy ({pct}); the day-ahead position did not carry most of the energy")


LOT_DAY = "lot: most of the day's expected day-ahead energy is below the lot"  # a backtest day's marker


def backtest_warnings(warnings: list[str], per_day: list[list[str]], ts) -> list[str]:
    """A backtest's warnings with the lot markers of its days (``LOT_DAY``) replaced by one counted
    warning, and the imbalance warning from its time series (``imbalance_mw``, ``grid_import_mw``,
    ``grid_export_mw`` per MTU, UTC index) added."""
    out = [w for w in warnings if w != LOT_DAY]
    n_lot = sum(LOT_DAY in d for d in per_day)
    if n_lot:
        out.append(f"lot: on {n_lot} of {len(per_day)} days more than {100 * LOT_WARNING_SHARE:.0f} % of the expected "
                   f"day-ahead energy did not fit whole {exchange_lot_mw():g} MW lots and was not in the orders "
                   "(`bidopt bid` on such a day shows the figures)")
    if ts is not None and "imbalance_mw" in ts and len(ts) > 1:
        dt_h = np.diff(pd.DatetimeIndex(ts.index).as_unit("ns").asi8) / 3.6e12  # MTU lengths, hours
        dt_h = np.minimum(np.append(dt_h, dt_h[-1]), 1.0)  # the last MTU as the one before; no MTU > 1 h
        metered = float(np.sum(np.abs(ts["grid_import_mw"].to_numpy(float) - ts["grid_export_mw"].to_numpy(float)) * dt_h))
        imbalance = float(np.sum(np.abs(ts["imbalance_mw"].to_numpy(float)) * dt_h))
        w = imbalance_warning(imbalance, metered)
        if w:
            out.append(w)
    return out


def merge_charges(per_site: list[list[dict]], prob) -> list[dict]:
    """Probability-weighted monthly charge details of several scenario sites (same tariffs and months)."""
    if len(per_site) == 1:
        return per_site[0]
    p = np.asarray(prob, dtype=float)
    out = []
    for k, first in enumerate(per_site[0]):
        row = dict(first)
        for key in ("month_charge_eur", "prior_charge_eur", "booked_eur"):
            row[key] = float(sum(w * site[k][key] for w, site in zip(p, per_site, strict=True)))
        out.append(row)
    return out


def charge_notes(details: list[dict], expected: bool = False) -> list[str]:
    """One note per monthly charge booked on the horizon (``Site.charge_details``)."""
    out = []
    for d in details:
        if d["rate_eur_per_mw_month"] <= 0:
            continue  # no hour of the horizon counts for this month's charge: nothing booked
        booked = -d["booked_eur"]
        head = (f"tariff '{d['tariff']}': the {booked:.2f} EUR (ex VAT{', expected' if expected else ''}) this result "
                f"books for the monthly power charge of {d['month']} (mean of the {d['n_peaks']} highest) is not a "
                "daily cost: it")
        if d["peaks_so_far_mw"]:
            peaks = ", ".join(f"{v:.3g}" for v in d["peaks_so_far_mw"])
            out.append(f"{head} is what this day adds to the month's charge, {d['month_charge_eur']:.2f} EUR with "
                       f"this day against {d['prior_charge_eur']:.2f} EUR already set by the peaks so far "
                       f"({peaks} MW)")
        else:
            out.append(f"{head} is the whole month's charge as this day's peaks alone would set it, with no "
                       "peaks so far this month; give them (--peaks-so-far FILE, peaks_so_far_mw in the case, "
                       "or bidopt.with_state) to book only what the day adds")
    return out


def site_summary(sites: list, prob=None, lot: dict | None = None, lot_what: str = "") -> dict:
    """The summary keys of a planned or bid day: ``tariff_eur`` (the ``tariff`` stream per tariff),
    ``monthly_charges`` (``Site.charge_details``), ``lot_rounding``, ``warnings`` and ``notes``."""
    p = np.full(len(sites), 1.0 / len(sites)) if prob is None else np.asarray(prob, dtype=float)
    unit = tariff_unit_costs(sites[0].case, sites[0].horizon)
    per = [s.tariff_breakdown(unit) for s in sites]
    tariff = {k: float(sum(w * b[k] for w, b in zip(p, per, strict=True))) for k in per[0]}
    charges = merge_charges([s.charge_details() for s in sites], p)
    warnings = [w for w in [lot_warning(lot, lot_what) if lot else None] if w]
    out = {"tariff_eur": tariff, "monthly_charges": charges}
    if lot is not None:
        out["lot_rounding"] = lot
    out["warnings"] = warnings
    out["notes"] = charge_notes(charges, expected=len(sites) > 1)
    return out
