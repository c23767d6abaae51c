"""Which numbers an input may hold: finite, typed (no ``true`` for 1.0, no ``"2"`` for 2.0) and
within documented ranges, by the unit its name ends with.

Used by every case model (``bidopt.case.Strict``) and by the data-file readers
(``bidopt.data.prices.check_series``). The ranges are far outside anything real, and well inside
what the solver handles (HiGHS treats 1e20 as infinity; a 1e300 MWh battery or a 1e20 EUR/MWh price
makes the compiled model unusable). docs/case-file.md lists them.

Units: power MW, energy MWh, prices EUR/MWh (or EUR/MW/h), SEK per kWh.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from pathlib import Path

from bidopt.errors import InputError

#: any number from a case or data file: |x| <= this
MAX_ABS = 1e9
#: |price| in EUR/MWh or EUR/MW/h, in case fields and in every data file (the SDAC harmonised
#: limits are -500 and +4 000 EUR/MWh; FCR prices have stayed below a few thousand EUR/MW/h)
MAX_ABS_PRICE = 1e6
#: by the suffix of a field's name: (suffix, bound on |x|, what)
LIMITS: tuple[tuple[str, float, str], ...] = (
    ("_eur_per_mwh", MAX_ABS_PRICE, "EUR/MWh"),
    ("_eur_per_mw_h", MAX_ABS_PRICE, "EUR/MW/h"),
    ("_sek_per_kwh", 1e4, "SEK/kWh"),
    ("_mwh", 1e6, "MWh"),
    ("_mwh_heat", 1e6, "MWh"),
    ("_mw", 1e4, "MW"),
    ("seed", 2.0**63, ""),
)


def limit_for(name: str) -> tuple[float, str]:
    """The bound on |x| for a field called ``name`` and its unit ("" when only the generic bound)."""
    for suffix, bound, unit in LIMITS:
        if name.endswith(suffix):
            return bound, unit
    return MAX_ABS, ""


def _leaves(annotation, out: set) -> set:
    """The scalar types a field annotation admits (dict keys left out: TOML keys are strings)."""
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        out.add(typing.Any)
    elif origin is typing.Literal:
        out.update(type(a) for a in typing.get_args(annotation))
    elif origin is typing.Annotated:
        _leaves(typing.get_args(annotation)[0], out)
    elif origin in (typing.Union, types.UnionType):
        for a in typing.get_args(annotation):
            _leaves(a, out)
    elif origin in (dict, typing.Mapping):
        args = typing.get_args(annotation)
        _leaves(args[1] if len(args) == 2 else typing.Any, out)
    elif origin in (list, tuple, set, frozenset):
        for a in typing.get_args(annotation) or (typing.Any,):
            if a is not Ellipsis:
                _leaves(a, out)
    elif isinstance(annotation, type):
        out.add(annotation)
    else:
        out.add(typing.Any)
    return out


_LEAVES: dict = {}


def leaves(annotation) -> frozenset:
    key = repr(annotation)
    if key not in _LEAVES:
        _LEAVES[key] = frozenset(_leaves(annotation, set()))
    return _LEAVES[key]


def _scalars(value):
    """The value itself, or the items of a list / values of a dict (tables inside are models)."""
    if isinstance(value, list | tuple):
        return [v for v in value if not isinstance(v, dict | list | tuple)]
    if isinstance(value, dict):
        return [v for v in value.values() if not isinstance(v, dict | list | tuple)]
    return [value]


def check_type(value, annotation):
    """Refuse a bool or a numeric string where the annotation wants a number (pydantic's lax mode
    would read ``true`` as 1.0 and ``"2"`` as 2.0). Raises ValueError; returns the value."""
    kinds = leaves(annotation)
    if typing.Any in kinds or not (kinds & {int, float}):
        return value
    text_ok = bool(kinds & {str, dt.date, dt.datetime, dt.time, Path})
    for v in _scalars(value):
        if isinstance(v, bool) and bool not in kinds:
            raise ValueError(f"must be a number, not {str(v).lower()}")
        if isinstance(v, str) and not text_ok:
            raise ValueError("must be a number, not a string")
    return value


def check_range(value, name: str):
    """Refuse a number beyond the bound for ``name`` (``limit_for``). Raises ValueError."""
    bound, unit = limit_for(name)
    for v in _scalars(value):
        if isinstance(v, int | float) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise ValueError("must be a finite number")
            if abs(v) > bound:
                raise ValueError(f"{v:g} is out of range (|value| <= {bound:g}{' ' + unit if unit else ''})")
    return value


FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2199, 12, 31)  # delivery days bidopt handles


def check_day_range(day: dt.date, field: str = "day") -> dt.date:
    """``day`` if it lies in [FIRST_DAY, LAST_DAY] (pandas' UTC timestamps end in 2262), else
    ``InputError`` naming ``field``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(None, field, f"{day.isoformat()} is outside the days bidopt handles "
                                      f"({FIRST_DAY.isoformat()} .. {LAST_DAY.isoformat()})")
    return day
