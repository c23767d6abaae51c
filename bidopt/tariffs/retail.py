"""Retail price build-up: what one imported MWh costs and one exported MWh earns, per stream.

Per MTU t, in EUR/MWh ex VAT unless said (S = sek_per_eur, 1000 kWh/MWh):

    dayahead  import: spot_t + supplier_fee*1000/S          export: spot_t - handling_fee*1000/S
    tariff    import: sum of tariffs' unit import costs       export: their unit export values + grid_benefit*1000/S
    tax       import: energy_tax*1000/S (if pays_energy_tax) export: 0
    VAT       (if pays_vat) vat * (dayahead + tariff + tax import costs) is added to the tax stream
    net billing: every stream's export value equals its import cost (export earns the retail price).

This reproduces the NEPP 2014 build-up (domain notes 2.2): (40 + 20.6 + 29) * 1.25 = 112 ore/kWh
import, 40 - 0.2 = 39.8 export.

The micro-production tax reduction is not a price on every exported MWh: it is paid only on
renewable production fed in, within annual caps, so the model holds it as its own variable
(``bidopt.tariffs.tax_reduction``; ``tax_reduction.value_eur_per_mwh`` gives its rate per MTU).
"""

from __future__ import annotations

import numpy as np

from bidopt.case import dated_value
from bidopt.horizon import Horizon
from bidopt.tariffs.base import KWH_PER_MWH, per_day

STREAMS = ("dayahead", "tariff", "tax")


def sek_per_kwh_to_eur_per_mwh(case) -> float:
    return KWH_PER_MWH / case.case.sek_per_eur


def vat_factor(case, horizon: Horizon) -> float:
    """1 + VAT on the horizon's first day if the site pays VAT, else 1."""
    if not case.retail.pays_vat:
        return 1.0
    return 1.0 + dated_value(case.retail.vat_rate, horizon.first_day, "retail.vat_rate")


def coefficients(case, horizon: Horizon, spot_eur_per_mwh: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{stream: (import cost, export value)} per MTU, EUR/MWh; costs and values positive."""
    r = case.retail
    k = sek_per_kwh_to_eur_per_mwh(case)
    n = horizon.n
    spot = np.asarray(spot_eur_per_mwh, dtype=float)
    da_imp = spot + r.supplier_fee_sek_per_kwh * k
    da_exp = spot - r.export.handling_fee_sek_per_kwh * k
    tar_imp = np.zeros(n)
    tar_exp = np.full(n, r.export.grid_benefit_sek_per_kwh * k)
    for t in case.tariffs:
        uc = t.unit_costs(case, horizon)
        if uc is not None:
            tar_imp = tar_imp + uc[0]
            tar_exp = tar_exp + uc[1]
    tax_imp = np.zeros(n)
    if r.pays_energy_tax:
        tax_imp = per_day(lambda d: dated_value(r.energy_tax_sek_per_kwh, d, "retail.energy_tax_sek_per_kwh"), horizon) * k
    tax_exp = np.zeros(n)  # the tax reduction on renewable export: bidopt.tariffs.tax_reduction
    if r.pays_vat:
        vat = per_day(lambda d: dated_value(r.vat_rate, d, "retail.vat_rate"), horizon)
        tax_imp = tax_imp + vat * (da_imp + tar_imp + tax_imp)
    out = {"dayahead": (da_imp, da_exp), "tariff": (tar_imp, tar_exp), "tax": (tax_imp, tax_exp)}
    if r.export.policy == "net_billing":
        out = {s: (imp, imp.copy()) for s, (imp, _) in out.items()}
    return out


def totals(coefs: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    imp = sum(c[0] for c in coefs.values())
    exp = sum(c[1] for c in coefs.values())
    return imp, exp
