"""Micro-production tax reduction ("60-öringen") on exported renewable electricity.

The rule (inkomstskattelagen 67 kap. 27-33 §§; Skatteverket; MARKET_RULES 4.4): 0.60 SEK per kWh of
renewable electricity that a micro-producer (fuse <= 100 A) feeds into the grid at its connection
point; per calendar year at most as many kWh as it withdrew at that point and at most 30 000 kWh. In
force from 2015-01-01, abolished for electricity fed in from 2026-01-01 (dated rates in
``bidopt/defaults/se_taxes.toml``). Grid electricity stored in a battery and fed back is not
renewable production and earns nothing, so the reduction is not a price on every exported kWh.

In a plan (one horizon, usually a day), with ``exp_t`` the grid export (MW), ``g_t`` the renewable
output of the site (MW: the sum of ``renewable_output_mw`` over its assets, the PV output after
curtailment) and ``dt`` the MTU length (h), the reducible export ``r_t`` (MW, ``tax_reduction.mw``)
obeys

    0 <= r_t <= exp_t                                              (only energy fed in)
    sum_{t in d} r_t dt <= sum_{t in d} g_t dt   for each local day d   (basis "day", the default)
    r_t <= g_t                                    for each MTU t        (basis "mtu")
    sum_t r_t dt <= A                                              (the annual caps, see below)

and earns ``sum_t k rho_d(t) r_t dt`` (EUR) in the ``tax`` stream, ``rho_d`` the reduction in force
on local day d (SEK/kWh), ``k = 1000 / sek_per_eur``.

Basis "day" lets PV stored in a battery and fed in later that day earn the reduction, as the law
does; it is an upper bound, because it would also pay on grid energy fed in on a day whose PV was
used in the house. Basis "mtu" pays only on export up to the PV output of the same MTU: a lower
bound (PV exported later through a battery earns nothing). A site with no renewable output gets no
block and no reduction.

Annual caps. A day does not know the year: ``A`` is ``tax_reduction_remaining_kwh`` / 1000 (MWh),
the part of the year's reduction base still unused when the horizon starts, which the caller keeps:
min(30 000 kWh, the kWh the site will import at the connection point this year) minus the reducible
export already counted this year (a per-day share of it is the caller's choice too). Not given, A is
the yearly cap of the horizon's first day (``tax_reduction_cap_kwh_per_year``, 30 000 kWh): the
import cap is then taken as not binding. The allowance applies to the whole horizon.

Only under ``policy = "spot"``: with net billing an export already earns the retail price.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from bidopt.case import dated_value
from bidopt.horizon import Horizon
from bidopt.params import set_values
from bidopt.tariffs.base import KWH_PER_MWH, per_day


def renewable_sources(case, asset_blocks: dict) -> list:
    """The Pyomo components holding each renewable asset's output (MW per MTU): the assets that
    define ``renewable_output_mw(blk)`` (PV)."""
    out = []
    for a in case.assets:
        f = getattr(a, "renewable_output_mw", None)
        if f is not None:
            out.append(f(asset_blocks[a.name]))
    return out


def applies(case) -> bool:
    """The site claims the reduction (``[retail.export] tax_reduction``) under the spot policy and
    has an asset with renewable output."""
    e = case.retail.export
    return bool(e.tax_reduction and e.policy == "spot" and any(
        getattr(a, "renewable_output_mw", None) is not None for a in case.assets))


def value_eur_per_mwh(case, horizon: Horizon) -> np.ndarray:
    """The reduction per reducible MWh in each MTU (EUR/MWh); zeros where it does not apply."""
    if not applies(case):
        return np.zeros(horizon.n)
    e = case.retail.export
    rho = per_day(lambda d: dated_value(e.tax_reduction_sek_per_kwh, d, "retail.export.tax_reduction_sek_per_kwh"),
                  horizon)
    return rho * KWH_PER_MWH / case.case.sek_per_eur


def allowance_mwh(case, horizon: Horizon) -> float:
    """The reducible energy the horizon may use (MWh): the remaining allowance, else the yearly cap."""
    e = case.retail.export
    if e.tax_reduction_remaining_kwh is not None:
        return e.tax_reduction_remaining_kwh / KWH_PER_MWH
    return dated_value(e.tax_reduction_cap_kwh_per_year, horizon.first_day,
                       "retail.export.tax_reduction_cap_kwh_per_year") / KWH_PER_MWH


def _days(horizon: Horizon) -> tuple[tuple[int, ...], ...]:
    """MTU positions of each local day of the horizon, in order."""
    days = horizon.local_date
    out: dict = {}
    for i, d in enumerate(days.tolist()):
        out.setdefault(d, []).append(i)
    return tuple(tuple(v) for v in out.values())


def build(blk, T, horizon: Horizon, case, grid, sources: list, value: np.ndarray) -> None:
    """Reducible export ``blk.mw`` and its value ``blk.value_eur`` (EUR) on a built grid block."""
    e = case.retail.export
    dt_h = horizon.dt_h
    blk.basis = e.tax_reduction_basis
    blk.days = _days(horizon)
    blk.value = pyo.Param(T, initialize=dict(enumerate(np.asarray(value, dtype=float).tolist())), mutable=True)
    blk.allowance_mwh = pyo.Param(initialize=allowance_mwh(case, horizon), mutable=True)
    blk.mw = pyo.Var(T, bounds=(0, case.grid.export_limit_mw))

    def renewable(t):
        return sum(s[t] for s in sources)

    blk.within_export = pyo.Constraint(T, rule=lambda b, t: b.mw[t] <= grid.export_mw[t])
    if blk.basis == "mtu":
        blk.within_renewable = pyo.Constraint(T, rule=lambda b, t: b.mw[t] <= renewable(t))
    else:
        blk.D = pyo.RangeSet(0, len(blk.days) - 1)
        blk.within_renewable = pyo.Constraint(
            blk.D, rule=lambda b, k: sum(b.mw[t] for t in b.days[k]) <= sum(renewable(t) for t in b.days[k])
        )
    blk.within_allowance = pyo.Constraint(expr=dt_h * sum(blk.mw[t] for t in T) <= blk.allowance_mwh)
    blk.value_eur = pyo.Expression(expr=dt_h * sum(blk.value[t] * blk.mw[t] for t in T))


def refresh(blk, horizon: Horizon, case, value: np.ndarray) -> bool:
    """A new horizon's numbers into a built block; False when its days or basis differ (rebuild)."""
    if blk.basis != case.retail.export.tax_reduction_basis or (blk.basis == "day" and blk.days != _days(horizon)):
        return False
    set_values(blk.value, value)
    blk.allowance_mwh.set_value(allowance_mwh(case, horizon))
    return True
