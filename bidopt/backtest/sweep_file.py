"""The sweep file of ``bidopt sweep``, typed: ``cases = [paths]``, ``strategies = [...]`` and
``[[periods]] start, end`` (local delivery days, YYYY-MM-DD).

``read`` validates the whole file before any backtest runs; every problem is an ``InputError``
naming the sweep file and the key (``strategies[1]``, ``periods[0].end``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from bidopt.case_base import Strict
from bidopt.case_tables import STRATEGIES
from bidopt.errors import InputError
from bidopt.numbers import check_day_range


def _strategy(v: str) -> str:
    if v not in STRATEGIES:
        raise ValueError(f"unknown strategy; known: {', '.join(STRATEGIES)}")
    return v


def _case_path(v: str) -> str:
    if not v.strip():
        raise ValueError("must be the path of a case file or folder (a string)")
    return v


class Period(Strict):
    """One backtest period: first and last delivery day (inclusive)."""

    start: dt.date
    end: dt.date

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, v: dt.date) -> dt.date:
        try:
            return check_day_range(v)
        except InputError as e:
            raise ValueError(e.message) from None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class SweepFile(Strict):
    """A sweep file: every case x strategy x period is one backtest job."""

    cases: list[Annotated[str, AfterValidator(_case_path)]] = Field(min_length=1)
    strategies: list[Annotated[str, AfterValidator(_strategy)]] = Field(["bid"], min_length=1)
    periods: list[Period] = Field(min_length=1)

    def jobs(self, folder: Path) -> list[dict]:
        """The jobs, case paths resolved against ``folder`` (the sweep file's)."""
        out = []
        for c in self.cases:
            path = Path(c) if Path(c).is_absolute() else folder / c
            out += [{"case": path, "strategy": st, "start": str(p.start), "end": str(p.end)}
                    for st in self.strategies for p in self.periods]
        return out


def read(path: Path) -> SweepFile:
    """The sweep file at ``path``, validated (module docstring)."""
    from bidopt.case import read_toml

    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "file not found")
    try:
        return SweepFile.model_validate(read_toml(path))
    except ValidationError as e:
        raise InputError(path, *_where_and_why(e.errors()[0])) from None


def _where_and_why(err: dict) -> tuple[str, str]:
    """(field, message) of one pydantic error: ``periods[0].end``; a cross-field check of a period
    names ``end``."""
    loc = list(err["loc"])
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        owner = Period if len(loc) > 1 else SweepFile
        msg = f"unknown key; known: {', '.join(owner.model_fields)}"
    elif kind == "missing":
        msg = "missing"
    elif kind == "too_short":
        msg = "must be a non-empty array"
    elif kind in ("date_from_datetime_parsing", "date_type", "date_parsing"):
        msg = "must be a date (YYYY-MM-DD)"
    elif kind == "model_type" and len(loc) == 2:
        msg = "needs start and end"
    if len(loc) == 2 and loc[0] == "periods" and kind == "value_error" and "before start" in msg:
        loc.append("end")
    field = ""
    for p in loc:
        field += f"[{p}]" if isinstance(p, int) else (f".{p}" if field else str(p))
    return field, msg
