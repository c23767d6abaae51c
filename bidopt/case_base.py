"""The base of every case-file model: ``Strict`` (unknown keys are errors, numbers typed and
finite), ``Dated`` values (a figure that holds from a date on) and the readers of the packaged
defaults (``bidopt/defaults/*.toml``). Units follow the field names (``_mw``, ``_eur_per_mwh``...).

``bidopt.case`` (the case and its loader) and ``bidopt.case_tables`` (its ``[bidding]``,
``[backtest]`` and ``[markets.*]`` tables) build on these; both re-export them.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from bidopt import numbers
from bidopt.errors import InputError

DEFAULTS_DIR = Path(__file__).parent / "defaults"


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not pass silently); numbers are finite, typed (no
    ``true`` or ``"2"`` for a number) and within the ranges of ``bidopt.numbers``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before", check_fields=False)
    @classmethod
    def _typed_numbers(cls, v: Any, info) -> Any:
        field = cls.model_fields.get(info.field_name)
        return numbers.check_type(v, field.annotation) if field is not None else v

    @field_validator("*", mode="after", check_fields=False)
    @classmethod
    def _numbers_in_range(cls, v: Any, info) -> Any:
        return numbers.check_range(v, info.field_name)


class Dated(Strict):
    """A value that holds from a date on (until the next entry's date); ``source`` cites where the
    figure comes from (free text, not read by the model)."""

    valid_from: dt.date
    value: float
    source: str | None = None


def dated_value(entries: list[Dated], day: dt.date, what: str = "value") -> float:
    """The value in force on ``day``: the entry with the latest ``valid_from`` <= day."""
    best = None
    for e in entries:
        if e.valid_from <= day and (best is None or e.valid_from >= best.valid_from):
            best = e
    if best is None:
        raise InputError(None, what, f"no rate in force on {day} (first holds from {min(e.valid_from for e in entries)})")
    return best.value


def default_dated(file: str, key: str) -> list[Dated]:
    """The dated entries ``key`` of the packaged defaults file ``file`` (``bidopt/defaults/``)."""
    with open(DEFAULTS_DIR / file, "rb") as f:
        data = tomllib.load(f)
    return [Dated(**e) for e in data[key]]
