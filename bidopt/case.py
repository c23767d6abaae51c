"""Case files: pydantic models of a TOML case and ``load_case``.

A case describes one site (bidding zone, MTU length, grid connection), its assets, its tariffs and
taxes, and where its data comes from. Units follow the names: ``_mw``, ``_mwh``, ``_eur_per_mwh``,
``_sek_per_kwh``... Money is EUR unless a field says SEK; SEK converts with ``case.sek_per_eur``.

Asset kinds and tariff kinds are registered by their own modules (``register_asset``,
``register_tariff``), so adding one never edits this file. Relative paths resolve against the case
file's folder. An asset or tariff table may name a ``template`` TOML file (e.g. under ``models/``)
whose keys it inherits and may override.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bidopt.errors import InputError

_ASSET_KINDS: dict[str, type[AssetSpec]] = {}
_TARIFF_KINDS: dict[str, type[TariffSpec]] = {}
DEFAULTS_DIR = Path(__file__).parent / "defaults"


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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


class AssetSpec(Strict):
    """Base of every asset kind; subclasses live in ``bidopt/assets/`` and register themselves."""

    kind: str
    name: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")

    def build_model(self):  # pragma: no cover - interface
        raise NotImplementedError


class TariffSpec(Strict):
    """Base of every tariff kind; subclasses live in ``bidopt/tariffs/`` and register themselves."""

    kind: str
    name: str = ""
    includes_vat: bool = False  # rates published incl. VAT are divided by (1 + VAT) to store them ex-VAT
    stream: ClassVar[str] = "tariff"


def register_asset(cls: type[AssetSpec]) -> type[AssetSpec]:
    kind = cls.model_fields["kind"].default
    _ASSET_KINDS[kind] = cls
    return cls


def register_tariff(cls: type[TariffSpec]) -> type[TariffSpec]:
    kind = cls.model_fields["kind"].default
    _TARIFF_KINDS[kind] = cls
    return cls


def asset_kinds() -> list[str]:
    return sorted(_ASSET_KINDS)


def tariff_kinds() -> list[str]:
    return sorted(_TARIFF_KINDS)


class CaseInfo(Strict):
    name: str = "case"
    zone: str = "SE3"
    mtu_minutes: Literal[15, 30, 60] = 60
    currency: Literal["EUR"] = "EUR"
    sek_per_eur: float = Field(11.5, gt=0)
    timezone: str = "Europe/Stockholm"


class Prices(Strict):
    """Price data sources: a CSV path, or "synthetic" for the seeded demo generator."""

    dayahead: str
    fcr_n: str | None = None
    fcr_d_up: str | None = None
    fcr_d_down: str | None = None
    # FCR auction 2 (D-1 18:00) clearing prices; without them auction 2 uses the auction-1 series as
    # a documented proxy (the shared data has one FCR price per hour)
    fcr_n_auction2: str | None = None
    fcr_d_up_auction2: str | None = None
    fcr_d_down_auction2: str | None = None
    intraday: str | None = None  # intraday price forecast (EUR/MWh); the day-ahead price is the proxy


class Grid(Strict):
    import_limit_mw: float = Field(ge=0)
    export_limit_mw: float = Field(ge=0)


def _default_dated(file: str, key: str) -> list[Dated]:
    with open(DEFAULTS_DIR / file, "rb") as f:
        data = tomllib.load(f)
    return [Dated(**e) for e in data[key]]


class ExportPolicy(Strict):
    """What one exported kWh earns. ``spot``: spot price - handling fee (+ grid benefit, + the
    micro-production tax reduction on renewable export where eligible: ``bidopt.tariffs.tax_reduction``).
    ``net_billing``: the full retail import price of the same MTU."""

    policy: Literal["spot", "net_billing"] = "spot"
    handling_fee_sek_per_kwh: float = 0.0
    grid_benefit_sek_per_kwh: float = 0.0
    tax_reduction: bool = False
    tax_reduction_sek_per_kwh: list[Dated] = Field(
        default_factory=lambda: _default_dated("se_taxes.toml", "micro_production_tax_reduction_sek_per_kwh")
    )
    # reducible export capped by the renewable output of each local day ("day") or of each MTU ("mtu")
    tax_reduction_basis: Literal["day", "mtu"] = "day"
    # kWh of the year's reduction base left when the horizon starts; None: the yearly cap below
    tax_reduction_remaining_kwh: float | None = Field(None, ge=0)
    tax_reduction_cap_kwh_per_year: list[Dated] = Field(
        default_factory=lambda: _default_dated("se_taxes.toml", "micro_production_tax_reduction_cap_kwh_per_year")
    )


class Retail(Strict):
    """What the site pays per imported kWh on top of spot, and what export earns."""

    supplier_fee_sek_per_kwh: float = 0.0
    pays_energy_tax: bool = False
    energy_tax_sek_per_kwh: list[Dated] = Field(
        default_factory=lambda: _default_dated("se_taxes.toml", "energy_tax_sek_per_kwh")
    )
    pays_vat: bool = False
    vat_rate: list[Dated] = Field(default_factory=lambda: _default_dated("se_taxes.toml", "vat_rate"))
    export: ExportPolicy = Field(default_factory=ExportPolicy)


class SolverOptions(Strict):
    time_limit_s: float | None = Field(60.0, gt=0)
    mip_gap: float = Field(1e-4, ge=0)
    threads: int | None = Field(None, ge=1)
    interface: Literal["matrix", "pyomo"] = "matrix"  # how the model reaches HiGHS (bidopt.model.solve_model)


class Synthetic(Strict):
    seed: int = 0


class Case(Strict):
    """A whole case. ``base_dir`` is the folder relative paths resolve against."""

    case: CaseInfo = Field(default_factory=CaseInfo)
    prices: Prices
    grid: Grid
    retail: Retail = Field(default_factory=Retail)
    assets: list[AssetSpec] = Field(default_factory=list)
    tariffs: list[TariffSpec] = Field(default_factory=list)
    solver: SolverOptions = Field(default_factory=SolverOptions)
    synthetic: Synthetic = Field(default_factory=Synthetic)
    markets: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per product, validated by its module
    bidding: dict[str, Any] = Field(default_factory=dict)  # [bidding], validated by bidopt.bids.dayahead
    backtest: dict[str, Any] = Field(default_factory=dict)  # [backtest], validated by bidopt.backtest.engine
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    source: Path | None = Field(None, exclude=True)

    @field_validator("assets", mode="before")
    @classmethod
    def _assets(cls, v: Any) -> list:
        return [_dispatch(item, _ASSET_KINDS, "asset") for item in v or []]

    @field_validator("tariffs", mode="before")
    @classmethod
    def _tariffs(cls, v: Any) -> list:
        return [_dispatch(item, _TARIFF_KINDS, "tariff") for item in v or []]

    @model_validator(mode="after")
    def _unique_names(self) -> Case:
        seen: set[str] = set()
        for a in self.assets:
            if a.name in seen:
                raise ValueError(f"duplicate asset name '{a.name}'")
            seen.add(a.name)
        return self

    def resolve(self, path: str | Path) -> Path:
        """A data path from the case file, resolved against the case's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def label(self) -> str:
        return str(self.source) if self.source else "case"


def _dispatch(item: Any, registry: dict, what: str):
    if isinstance(item, BaseModel):
        return item
    if not isinstance(item, dict):
        raise ValueError(f"each {what} must be a table")
    kind = item.get("kind")
    if kind not in registry:
        raise ValueError(f"unknown {what} kind {kind!r}; known: {', '.join(sorted(registry))}")
    return registry[kind].model_validate(item)


def _merge_templates(table: dict, base_dir: Path, file: Path, where: str, depth: int = 0) -> dict:
    """Fill a table from its ``template`` file (keys in the table win); templates may chain."""
    if "template" not in table:
        return table
    if depth > 8:
        raise InputError(file, f"{where}.template", "templates nest more than 8 deep (a loop?)")
    tpath = Path(table["template"])
    tpath = tpath if tpath.is_absolute() else base_dir / tpath
    try:
        with open(tpath, "rb") as f:
            tdata = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(file, f"{where}.template", f"template file not found: {tpath}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(tpath, None, f"invalid TOML: {e}") from None
    tdata = _merge_templates(tdata, tpath.parent, tpath, where, depth + 1)
    merged = {**tdata, **{k: v for k, v in table.items() if k != "template"}}
    return merged


def _register_builtin_kinds() -> None:
    # importing the packages runs their register_* decorators
    import bidopt.assets  # noqa: F401
    import bidopt.tariffs  # noqa: F401


def case_from_dict(data: dict, base_dir: Path | str = ".", source: Path | str | None = None) -> Case:
    """Validate a case given as a dict (the parsed TOML). Raises InputError naming the field."""
    _register_builtin_kinds()
    base_dir = Path(base_dir)
    label = source if source is not None else "case"
    data = dict(data)
    for key, registry in (("assets", _ASSET_KINDS), ("tariffs", _TARIFF_KINDS)):
        items = data.get(key, [])
        if not isinstance(items, list):
            raise InputError(label, key, f"'{key}' must be an array of tables ([[{key}]])")
        data[key] = [_validate_item(t, i, key, registry, base_dir, label) for i, t in enumerate(items)]
    try:
        case = Case.model_validate({**data, "base_dir": base_dir, "source": source})
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(label, _field_path(err["loc"]) or None, _msg(err)) from None
    return case


def _validate_item(item: Any, i: int, key: str, registry: dict, base_dir: Path, label) -> Any:
    """Validate one asset/tariff table so errors name it: ``assets[0] (bess).power_mw``."""
    where = f"{key}[{i}]"
    if not isinstance(item, dict):
        raise InputError(label, where, "must be a table")
    item = _merge_templates(item, base_dir, Path(str(label)), where)
    if item.get("name"):
        where = f"{where} ({item['name']})"
    kind = item.get("kind")
    if kind not in registry:
        known = ", ".join(sorted(registry))
        raise InputError(label, f"{where}.kind", f"unknown {key[:-1]} kind {kind!r}; known: {known}")
    try:
        return registry[kind].model_validate(item)
    except ValidationError as e:
        err = e.errors()[0]
        sub = _field_path(err["loc"])
        first_word = _msg(err).split(" ", 1)[0]
        if not sub and first_word in registry[kind].model_fields:
            sub = first_word  # a cross-field check names its field first
        return _raise(InputError(label, f"{where}.{sub}" if sub else where, _msg(err)))


def _raise(e: Exception):
    raise e from None


def _msg(err: dict) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") not in ("value_error", "missing") and "input" in err and not isinstance(err["input"], dict | list):
        msg = f"{msg} (got {err['input']!r})"
    return msg


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        else:
            parts.append(str(p))
    return ".".join(parts)


def load_case(path: str | Path) -> Case:
    """Load a case from a TOML file, or from a folder holding ``case.toml``."""
    p = Path(path)
    if p.is_dir():
        p = p / "case.toml"
    if not p.exists():
        raise InputError(p, None, "case file not found")
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InputError(p, None, f"invalid TOML: {e}") from None
    return case_from_dict(data, base_dir=p.parent, source=p)
