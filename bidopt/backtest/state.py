"""What a rolling backtest carries from one delivery day to the next.

State is plain JSON-able data, so a checkpoint can store it and a resumed run restores it exactly:
``{"assets": {name: {field: value}}, "tariffs": {position: {field: value}}}`` — fields of the
case's asset and tariff specs (e.g. a battery's ``soc_initial_mwh``, a heat pump's
``indoor_initial_c``, a peak tariff's month-to-date ``peaks_so_far_mw``). Each asset and tariff
says what it carries (``carry_state``); the engine only applies it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bidopt.case import Case

EMPTY: dict = {"assets": {}, "tariffs": {}}


def with_state(case: Case, state: dict) -> Case:
    """A copy of ``case`` with the carried fields set (each validated as it is set). Only the
    assets and tariffs that carry something are copied; the rest is shared with ``case``, which is
    left as it was."""
    if not state.get("assets") and not state.get("tariffs"):
        return case
    carried = state.get("assets", {})
    assets = [_with_fields(a, carried[a.name]) if a.name in carried else a for a in case.assets]
    unknown = set(carried) - {a.name for a in case.assets}
    if unknown:
        raise KeyError(f"state names assets the case does not have: {sorted(unknown)}")
    tariffs = list(case.tariffs)
    for i, fields in state.get("tariffs", {}).items():
        tariffs[int(i)] = _with_fields(tariffs[int(i)], fields)
    return case.model_copy(update={"assets": assets, "tariffs": tariffs})


def _with_fields(spec, fields: dict):
    out = spec.model_copy()
    for k, v in fields.items():
        setattr(out, k, v)
    return out


def next_state(case: Case, schedule: pd.DataFrame, next_day: dt.date) -> dict:
    """The state for ``next_day`` after delivering ``schedule`` (schedule.csv columns, UTC index)."""
    assets = {a.name: a.carry_state(schedule) for a in case.assets}
    tariffs = {str(i): t.carry_state(case, schedule["grid_import_mw"], next_day) for i, t in enumerate(case.tariffs)}
    return {"assets": {k: v for k, v in assets.items() if v}, "tariffs": {k: v for k, v in tariffs.items() if v}}
