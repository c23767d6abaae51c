"""The typed ``[bidding]``, ``[backtest]`` and ``[markets.<product>]`` tables of a case file.

``bidopt.case.Case`` validates them when the case is loaded, so a bad value is an ``InputError``
naming the case file and the field (``bidding.n_scenarios``, ``markets.fcr.step_mw``) before any
work starts; the code that reads them gets typed models (attribute access), not dicts. Money in EUR,
prices EUR/MWh, power MW, durations in days or hours as the field names say.

``[markets.<product>]`` tables belong to their product modules (``bidopt/markets/``), which register
the model of their table with ``register_market_table``; a table no product registered stays a dict
for the model's check to reject (``bidopt.model.prepare_assets``: ``markets.<name>``, unknown market).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from bidopt.case_base import Strict, default_dated

STRATEGIES = ("bid", "expected", "persistence", "no_flex", "perfect_foresight")  # [backtest] strategy, sweep files
RULES_FILE = "exchange_rules.toml"  # the day-ahead price limits [bidding] prices must lie within
_MARKET_TABLES: dict[str, type[Strict]] = {}


def register_market_table(name: str, model: type[Strict]) -> type[Strict]:
    """Declare that ``[markets.<name>]`` is validated with ``model`` when a case is loaded."""
    _MARKET_TABLES[name] = model
    return model


def market_tables() -> dict[str, type[Strict]]:
    """The registered ``[markets.<name>]`` tables and their models."""
    return dict(_MARKET_TABLES)


def validate_markets(v: Any) -> dict:
    """``[markets]``: each registered table validated into its model (an error names
    ``<name>.<field>``), any other kept as the table it is; every value must be a table."""
    if not isinstance(v, dict):
        raise ValueError("must be a table of [markets.<product>] tables")
    out = {}
    for name, table in v.items():
        if not isinstance(table, dict | BaseModel):
            raise ValidationError.from_exception_data("Case", [{"type": "dict_type", "loc": (name,), "input": table}])
        try:
            out[name] = _MARKET_TABLES[name].model_validate(table) if name in _MARKET_TABLES else table
        except ValidationError as e:  # name the product: markets.<name>.<field>
            raise ValidationError.from_exception_data(e.title, [
                {"type": x["type"], "loc": (name, *x["loc"]), "input": x["input"],
                 **({"ctx": x["ctx"]} if "ctx" in x else {})} for x in e.errors()]) from None
    return out


class BlockCandidate(Strict):
    """One block the model may submit (``[[bidding.blocks]]`` in a case file)."""

    name: str = Field(min_length=1)
    side: Literal["buy", "sell"]
    kind: Literal["regular", "profile", "curtailable"] = "regular"
    start_hour: int | None = Field(None, ge=0, le=23)  # local hour of the delivery day (first day of the horizon)
    end_hour: int | None = Field(None, ge=1, le=24)  # exclusive
    mtus: list[int] | None = Field(None, min_length=1)  # or explicit MTU positions (0-based, consecutive)
    price_eur_per_mwh: float | Literal["expected"] = "expected"
    max_volume_mw: float = Field(gt=0)
    minimum_acceptance_ratio: float = Field(1.0, gt=0, le=1)
    linked_to: str | None = None  # the parent candidate's name
    exclusive_group: str | None = None

    @field_validator("name", "linked_to", "exclusive_group")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("end_hour")
    @classmethod
    def _after_start(cls, v: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start_hour")
        if v is not None and start is not None and v <= start:
            raise ValueError(f"end_hour ({v}) must be after start_hour ({start})")
        return v

    @field_validator("mtus")
    @classmethod
    def _consecutive(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if any(p < 0 for p in v):
            raise ValueError("MTU positions must be >= 0")
        pos = sorted(v)
        if len(set(pos)) != len(pos) or pos[-1] - pos[0] + 1 != len(pos):
            raise ValueError("MTU positions must be consecutive and distinct (a block spans consecutive MTUs)")
        return pos

    @field_validator("minimum_acceptance_ratio")
    @classmethod
    def _mar_for_kind(cls, v: float, info: ValidationInfo) -> float:
        kind = info.data.get("kind")
        if kind in ("regular", "profile") and v != 1:
            raise ValueError(f"must be 1 for a {kind} block (only curtailable blocks have a ratio below 1)")
        return v

    @model_validator(mode="after")
    def _when(self) -> BlockCandidate:
        hours = self.start_hour is not None or self.end_hour is not None
        if hours and self.mtus is not None:
            raise ValueError("give start_hour and end_hour, or mtus, not both")
        if not hours and self.mtus is None:
            raise ValueError("give start_hour and end_hour (local hours) or mtus (MTU positions)")
        if hours and (self.start_hour is None or self.end_hour is None):
            raise ValueError("start_hour and end_hour go together")
        return self


class BiddingSettings(Strict):
    """``[bidding]`` in a case file."""

    n_scenarios: int = Field(20, ge=1, le=198)  # a curve holds at most 200 points with its two ends
    seed: int = 0
    lookback_days: int = Field(56, ge=7)
    scenarios: str | None = None  # CSV/Parquet scenario file (bidopt.forecast.scenarios formats)
    portfolio: str = "bidopt"
    risk_beta: float = Field(0.0, ge=0)
    risk_alpha: float = Field(0.95, gt=0, lt=1)
    blocks: list[BlockCandidate] = Field(default_factory=list)  # block candidates (bidopt.bids.blocks)
    max_blocks: dict[Literal["regular", "profile", "curtailable"], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict)  # at most this many submitted blocks per kind (a kind not listed: no limit)
    # FCR bids: "stepped" = price steps over FCR price scenarios forecast before auction 1 (no
    # look-ahead); "price_taking" = the volume worth selling at the case's FCR prices, bid at 0
    fcr_bids: Literal["stepped", "price_taking"] = "stepped"
    fcr_lookback_days: int = Field(28, ge=7)
    # day-ahead price forecaster when no scenario file is given (bidopt.forecast.from_case)
    forecaster: Literal["blend", "lear", "ensemble"] = "blend"
    # the curve between the tail points: "scenarios" = a volume per scenario price (price-responsive),
    # "flat" = one volume per MTU at every scenario price, the best expected result over the scenarios
    curve: Literal["scenarios", "flat"] = "scenarios"
    # close each curve with its floor and ceiling tail points (bidopt.bids.tails); false: the model's
    # volumes hold to the price limits (what cleared is the planned day at any price)
    tail_points: bool = True
    lear_lookback_days: int = Field(364, ge=120)
    lear_refit_days: int = Field(7, ge=1, le=28)
    lear_residual_days: int = Field(28, ge=7)
    forecast_zones: list[str] = Field(default_factory=list)  # other zones of the price file as LEAR features
    # never buy above / sell below these prices beyond the must-run volume (bidopt.bids.tails)
    max_buy_price_eur_per_mwh: float | None = None
    min_sell_price_eur_per_mwh: float | None = None

    @field_validator("max_buy_price_eur_per_mwh", "min_sell_price_eur_per_mwh")
    @classmethod
    def _within_price_limits(cls, v: float | None) -> float | None:
        if v is None:
            return v
        lo = min(e.value for e in default_dated(RULES_FILE, "dayahead_price_min_eur_per_mwh"))
        hi = max(e.value for e in default_dated(RULES_FILE, "dayahead_price_max_eur_per_mwh"))
        if not lo <= v <= hi:
            raise ValueError(f"must lie within the day-ahead price limits {lo:g} .. {hi:g} EUR/MWh")
        return v


class BacktestSettings(Strict):
    """``[backtest]`` in a case file."""

    strategy: Literal["bid", "expected", "persistence", "no_flex", "perfect_foresight"] = "bid"
    # a baseline chain run beside the strategy: summary.json baseline_eur and value_added_eur
    baseline: Literal["persistence", "no_flex"] | None = None
    # intraday trades at delivery: "auto" = only with an intraday price series ([prices] intraday);
    # with the day-ahead price as proxy, intraday would re-optimise the day at known prices for the
    # fee and hide what the day-ahead bid was worth
    intraday: Literal["auto", "on", "off"] = "auto"
    report_week: dt.date | None = None  # first day (YYYY-MM-DD) of the week the report plots

    @field_validator("report_week", mode="before")
    @classmethod
    def _a_day(cls, v):
        """A TOML date or a quoted 'YYYY-MM-DD', parsed here once (a datetime is not a day)."""
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(f"expected YYYY-MM-DD, got {v[:40]!r}") from None
        if isinstance(v, dt.datetime):
            raise ValueError("expected a day (YYYY-MM-DD), not a time")
        return v
