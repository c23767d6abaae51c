"""The grid connection: import and export power (MW) within the connection's limits.

imp_t in [0, import_limit_mw], exp_t in [0, export_limit_mw], and the site balance
imp_t - exp_t = sum of assets' net power (consumption positive). Importing and exporting in the
same MTU only pays when export earns more than import costs; only then a binary z_t
(imp_t <= I z_t, exp_t <= E (1 - z_t)) keeps them exclusive.
"""

from __future__ import annotations

import pyomo.environ as pyo

from bidopt.params import data_objects


def build(blk, T, import_limit_mw: float, export_limit_mw: float, net_mw, use_binaries: bool) -> None:
    blk.import_mw = pyo.Var(T, bounds=(0, import_limit_mw))
    blk.export_mw = pyo.Var(T, bounds=(0, export_limit_mw))
    flows = zip(T, data_objects(blk.import_mw), data_objects(blk.export_mw), strict=True)
    balance = {t: imp - exp == net_mw(t) for t, imp, exp in flows}  # T's order, no index lookups
    blk.balance = pyo.Constraint(T, rule=lambda b, t: balance[t])
    if use_binaries:
        blk.importing = pyo.Var(T, within=pyo.Binary)
        blk.import_only_when_importing = pyo.Constraint(
            T, rule=lambda b, t: b.import_mw[t] <= import_limit_mw * b.importing[t]
        )
        blk.export_only_when_not_importing = pyo.Constraint(
            T, rule=lambda b, t: b.export_mw[t] <= export_limit_mw * (1 - b.importing[t])
        )
