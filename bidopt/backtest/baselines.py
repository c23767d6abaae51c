"""Baseline strategies of a backtest: what the site would earn without the optimiser, so a result
can say what the optimiser added. Money EUR (positive = earned), power MW, prices EUR/MWh.

**persistence** (a naive bidder): plan day D on the prices of the last delivery day published
before the day-ahead gate (``source_day``: at the gate D-1 12:00 Europe/Stockholm the latest
published prices are D-1's, published D-2 12:45; ``bidopt.forecast.baseline.gate_time`` and
``publication_time`` decide, and ``known_at`` confirms nothing later was read), put on D's MTUs by
local clock time (``persistence_prices``), and submit the planned net volumes as a
price-independent curve (the same volume at every price from the exchange's floor to its cap, in
0.1 MW lots: ``bidopt.bids.dayahead.bid`` with this one price scenario, as the ``expected``
strategy does with its forecast). The rest of the day is the strategy's: cleared at the realised
price, delivered, imbalance for deviations (``bidopt.backtest.day.strategy_day``).

Clock-time mapping: the source day is read at D's MTU through the case's price loader (an hourly
file is held over quarter-hours), each D MTU takes the source value at the same local clock time;
a clock time the source day lacks (D's 02:00 hour after the spring 23-hour day) takes the value
before it (01:00), and a clock time it has twice (its autumn 25-hour day) takes their mean. D's own
repeated autumn hour gets the same value twice.

**no_flex** (nobody optimises): each asset runs its own unmanaged behaviour (``fix_unmanaged`` of
its kind: a battery idles at its initial SoC, a heat pump holds its thermostat set point, EVs
charge on arrival at full power, shiftable jobs start at the start of their window, curtailable
loads and PV are never curtailed), no reserves are sold, and the resulting grid flows are settled
by the same site settlement as the perfect-foresight plan: energy at the day-ahead price per MTU
(a spot-price contract; the supplier's balance responsibility, so no imbalance), tariffs, energy
tax, VAT. The day itself runs in ``bidopt.backtest.day.no_flex_day`` (``without_reserves`` here).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import xarray as xr

from bidopt import time as btime
from bidopt.data import sources

BASELINES = ("persistence", "no_flex")


def source_day(day, tz: str = btime.STOCKHOLM) -> dt.date:
    """The latest delivery day whose day-ahead prices are published by the gate of ``day`` (D-1
    under the SDAC gate D-1 12:00 and publication 12:45 on the day before delivery)."""
    from bidopt.forecast import baseline

    D = btime.day_of(day)
    gate = baseline.gate_time(D, tz=tz)
    for k in range(1, 8):
        first = btime.day_bounds_utc(D - dt.timedelta(days=k), tz)[0]
        if baseline.publication_time(pd.DatetimeIndex([first]), tz=tz)[0] <= gate:
            return D - dt.timedelta(days=k)
    raise RuntimeError(f"no day in the week before {D} is published by its gate {gate}")


def _clock_minutes(index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    local = index.tz_convert(tz)
    return np.asarray(local.hour * 60 + local.minute)


def persistence_prices(case, day, mtu_minutes: int) -> pd.Series:
    """Day ``day``'s MTUs (UTC index) priced at the source day's prices by local clock time (see
    the module docstring)."""
    from bidopt.forecast import baseline

    tz = case.case.timezone
    src = source_day(day, tz)
    src_index = btime.delivery_index(src, mtu_minutes, tz)
    history = pd.Series(sources.dayahead_prices(case, src_index), index=src_index)
    known = baseline.known_at(history, baseline.gate_time(day, tz=tz), tz=tz)
    if len(known) != len(history):  # a guard: the source day must be wholly known at the gate
        raise RuntimeError(f"persistence for {day} would read prices of {src} published after the gate")
    by_clock = known.groupby(_clock_minutes(known.index, tz)).mean()  # a repeated hour: its mean
    index = btime.delivery_index(day, mtu_minutes, tz)
    want = _clock_minutes(index, tz)
    full = by_clock.reindex(np.union1d(by_clock.index, want)).ffill().bfill()  # a missing hour: the one before
    return pd.Series(full.loc[want].to_numpy(float), index=index, name="price_eur_per_mwh")


def persistence_cube(case, day, mtu_minutes: int) -> xr.DataArray:
    """The one price scenario the persistence strategy plans on."""
    from bidopt.forecast import scenarios as sc

    p = persistence_prices(case, day, mtu_minutes)
    src = source_day(day, case.case.timezone)
    return sc.make_scenarios(p.to_numpy()[None, :], p.index, attrs={"method": f"persistence of {src}"})


def without_blocks(case):
    """``case`` without block candidates: persistence submits curve volumes only."""
    from bidopt.bids.dayahead import settings

    st = settings(case)  # the typed [bidding] (a dict put on a case copy is validated there)
    if not st.blocks:
        return case
    return case.model_copy(update={"bidding": st.model_copy(update={"blocks": [], "max_blocks": {}})})


def flat_orders(case, day, bids):
    """The planned net volume of ``bids`` (one price scenario: the plan) as one curve order whose
    every MTU curve has the same volume at every price, from the exchange's price floor to its cap,
    in 0.1 MW lots."""
    from bidopt.bids.dayahead import check_valid, curve_order_file, settings

    net = (bids.schedule["grid_import_mw"] - bids.schedule["grid_export_mw"]).to_numpy(float)
    orders, rules = curve_order_file(bids.summary["product"], day, case.case.zone, settings(case).portfolio,
                                     {t: [(0.0, float(v))] for t, v in enumerate(net)})
    check_valid(orders, rules)
    return orders


def without_reserves(case):
    """``case`` offering no reserve capacity (each offered market product's ``without``: FCR drops its
    price series, a plug-in product its table), so none is sold."""
    from bidopt import markets

    for prod in markets.capacity_products(case):
        case = prod.without(case)
    return case
