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

import importlib
import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bidopt.case_base import DEFAULTS_DIR, Dated, Strict, dated_value, default_dated  # noqa: F401 (re-exported)
from bidopt.case_tables import BacktestSettings, BiddingSettings, validate_markets
from bidopt.errors import InputError, excerpt, short_name

_ASSET_KINDS: dict[str, type[AssetSpec]] = {}
_TARIFF_KINDS: dict[str, type[TariffSpec]] = {}


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
    mtu_minutes: Literal[15, 60] = 60  # the day-ahead MTUs of the contract (60 until 2025-09-30, then 15)
    currency: Literal["EUR"] = "EUR"
    sek_per_eur: float = Field(11.5, gt=0)
    timezone: str = "Europe/Stockholm"
    # every data and template path inside the case's folder (bidopt.case.confined): for backends
    # that load cases their users send; load_case(path, confine=True) sets it
    confine_paths: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("unknown time zone (an IANA name such as Europe/Stockholm)") from None
        return v


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


class ExportPolicy(Strict):
    """What one exported kWh earns. ``spot``: spot price - handling fee (+ grid benefit, + the
    micro-production tax reduction on renewable export where eligible: ``bidopt.tariffs.tax_reduction``).
    ``net_billing``: the full retail import price of the same MTU."""

    policy: Literal["spot", "net_billing"] = "spot"
    handling_fee_sek_per_kwh: float = 0.0
    grid_benefit_sek_per_kwh: float = 0.0
    tax_reduction: bool = False
    tax_reduction_sek_per_kwh: list[Dated] = Field(
        default_factory=lambda: default_dated("se_taxes.toml", "micro_production_tax_reduction_sek_per_kwh")
    )
    # reducible export capped by the renewable output of each local day ("day") or of each MTU ("mtu")
    tax_reduction_basis: Literal["day", "mtu"] = "day"
    # kWh of the year's reduction base left when the horizon starts; None: the yearly cap below
    tax_reduction_remaining_kwh: float | None = Field(None, ge=0)
    tax_reduction_cap_kwh_per_year: list[Dated] = Field(
        default_factory=lambda: default_dated("se_taxes.toml", "micro_production_tax_reduction_cap_kwh_per_year")
    )


class Retail(Strict):
    """What the site pays per imported kWh on top of spot, and what export earns."""

    supplier_fee_sek_per_kwh: float = 0.0
    pays_energy_tax: bool = False
    energy_tax_sek_per_kwh: list[Dated] = Field(
        default_factory=lambda: default_dated("se_taxes.toml", "energy_tax_sek_per_kwh")
    )
    pays_vat: bool = False
    vat_rate: list[Dated] = Field(default_factory=lambda: default_dated("se_taxes.toml", "vat_rate"))
    export: ExportPolicy = Field(default_factory=ExportPolicy)


class SolverOptions(Strict):
    time_limit_s: float | None = Field(60.0, gt=0)
    mip_gap: float = Field(1e-4, ge=0, lt=1)
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
    # [markets.<product>]: the model its product registered (bidopt.case_tables.register_market_table);
    # a table no product registered stays a dict (rejected by bidopt.model.prepare_assets)
    markets: dict[str, Any] = Field(default_factory=dict)
    bidding: BiddingSettings = Field(default_factory=BiddingSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
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

    @field_validator("markets", mode="before")
    @classmethod
    def _markets(cls, v: Any) -> dict:
        return validate_markets(v)

    @model_validator(mode="after")
    def _unique_names(self) -> Case:
        seen: set[str] = set()
        for a in self.assets:
            if a.name in seen:
                raise ValueError(f"duplicate asset name '{a.name}'")
            seen.add(a.name)
        return self

    def resolve(self, path: str | Path) -> Path:
        """A data path from the case file, resolved against the case's folder (with ``[case]
        confine_paths``: refused unless it stays inside, ``confined``)."""
        if self.case.confine_paths:
            return confined(path, self.base_dir, self.label, None)
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


def confined(path: str | Path, root: Path, file, field: str | None) -> Path:
    """``path`` (relative to ``root``) if it stays inside ``root`` once resolved: not absolute, no
    ``..`` leaving it, no symlink pointing out, and, where it exists, a regular file or folder (no
    device, pipe or socket). Else an ``InputError`` naming ``file`` and ``field``; it does not quote
    the path (it may come from a template)."""
    why = None
    p = Path(path)
    if p.is_absolute() or "\0" in str(path):
        why = "an absolute path"
    else:
        base = Path(root).resolve()
        real = (base / p).resolve()
        if real != base and not real.is_relative_to(base):
            why = "a path leaving the case folder (.. or a link)"
        elif real.exists() and not (real.is_file() or real.is_dir()):
            why = "a special file (device, pipe or socket)"
    if why is not None:
        raise InputError(file, field, f"{why}: with confine_paths every data and template path must lie "
                                      "inside the case's folder")
    return Path(root) / p


def _merge_templates(table: dict, base_dir: Path, file: Path, where: str, depth: int = 0,
                     root: Path | None = None) -> dict:
    """Fill a table from its ``template`` file (keys in the table win); templates may chain. With
    ``root`` (``confine_paths``) every template must lie inside that folder."""
    if "template" not in table:
        return table
    if depth > 8:
        raise InputError(file, f"{where}.template", "templates nest more than 8 deep (a loop?)")
    if not isinstance(table["template"], str) or not table["template"].strip():
        raise InputError(file, f"{where}.template", "must be the path of a TOML file (a string)")
    tpath = Path(table["template"])
    if root is not None:  # relative to the case's folder (a chained template: from its own folder)
        confined(tpath if tpath.is_absolute() else os.path.relpath(base_dir / tpath, root), root, file,
                 f"{where}.template")
    tpath = tpath if tpath.is_absolute() else base_dir / tpath
    if not tpath.exists():
        raise InputError(file, f"{where}.template", f"template file not found: {tpath}")
    if tpath.is_dir():
        raise InputError(file, f"{where}.template", f"{tpath} is a folder, not a TOML file")
    tdata = read_toml(tpath)
    if not isinstance(tdata, dict):
        raise InputError(tpath, None, "expected TOML tables")
    tdata = _merge_templates(tdata, tpath.parent, tpath, where, depth + 1, root)
    merged = {**tdata, **{k: v for k, v in table.items() if k != "template"}}
    return merged


# The packages whose modules register asset and tariff kinds (``register_asset``/``register_tariff``).
# They sit above the case in the layers (they build on its specs), so the case names them instead
# of importing them: a plug-in list, loaded on first use; importing a package registers its kinds.
KIND_PACKAGES = ["bidopt.assets", "bidopt.tariffs", "bidopt.markets"]  # each registers its kinds / tables


def _register_builtin_kinds() -> None:
    for name in KIND_PACKAGES:
        importlib.import_module(name)


def case_from_dict(data: dict, base_dir: Path | str = ".", source: Path | str | None = None,
                   confine: bool = False) -> Case:
    """Validate a case given as a dict (the parsed TOML). Raises InputError naming the field.

    ``confine`` (or ``[case] confine_paths = true``): every data and template path must lie inside
    ``base_dir`` (``confined``); for cases that come from users."""
    _register_builtin_kinds()
    base_dir = Path(base_dir)
    label = source if source is not None else "case"
    data = dict(data)
    info = data.get("case")
    if confine or (isinstance(info, dict) and info.get("confine_paths") is True):
        confine = True
        data["case"] = {**(info if isinstance(info, dict) else {}), "confine_paths": True}
    for key, registry in (("assets", _ASSET_KINDS), ("tariffs", _TARIFF_KINDS)):
        items = data.get(key, [])
        if not isinstance(items, list):
            raise InputError(label, key, f"'{key}' must be an array of tables ([[{key}]])")
        data[key] = [_validate_item(t, i, key, registry, base_dir, label, base_dir if confine else None)
                     for i, t in enumerate(items)]
    try:
        case = Case.model_validate({**data, "base_dir": base_dir, "source": source})
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(label, _field_name(err["loc"]), _msg(err)) from None
    if confine:
        _check_confined(case)
    return case


_NOT_PATHS = {"name", "kind", "zone", "timezone", "currency", "source"}  # strings that never name a file


def _check_confined(case: Case) -> None:
    """Every string of the case that would name a path (``data.sources.data_files`` reads them all
    this way) stays inside the case's folder: errors name the field."""
    def walk(obj, where: str):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from walk(v, f"{where}[{i}]")
        elif isinstance(obj, str) and obj and obj != "synthetic" and len(obj) <= 4096 \
                and where.rsplit(".", 1)[-1] not in _NOT_PATHS:
            yield where, obj

    for where, text in walk(case.model_dump(mode="json", serialize_as_any=True), ""):
        confined(text, case.base_dir, case.label, short_name(where, 80))


def _validate_item(item: Any, i: int, key: str, registry: dict, base_dir: Path, label,
                   root: Path | None = None) -> Any:
    """Validate one asset/tariff table so errors name it: ``assets[0] (bess).power_mw``. A value a
    template supplied is never quoted (``errors`` module docstring)."""
    where = f"{key}[{i}]"
    if not isinstance(item, dict):
        raise InputError(label, where, "must be a table")
    own = set(item) - {"template"}  # keys written in the case file itself
    own_template = item.get("template")
    item = _merge_templates(item, base_dir, Path(str(label)), where, root=root)
    if item.get("name") and "name" in own:
        where = f"{where} ({short_name(item['name'])})"
    kind = item.get("kind")
    if kind not in registry:
        known = ", ".join(sorted(registry))
        got = excerpt(kind) if "kind" in own else "(from its template)"
        raise InputError(label, f"{where}.kind", f"unknown {key[:-1]} kind {got}; known: {known}")
    try:
        return registry[kind].model_validate(item)
    except ValidationError as e:
        err = e.errors()[0]
        top = err["loc"][0] if err["loc"] else None
        from_case = top in own if top is not None else not (set(item) - own)
        msg = _msg(err, quote=from_case)
        if not from_case:
            msg = _scrub(msg, item, own) + f" (set in {excerpt(str(own_template), 80)} or a template it names)"
        sub = _field_path(err["loc"])
        first_word = msg.split(" ", 1)[0]
        if not sub and first_word in registry[kind].model_fields:
            sub = first_word  # a cross-field check names its field first
        return _raise(InputError(label, f"{where}.{sub}" if sub else where, msg))


def _scrub(msg: str, item: dict, own: set) -> str:
    """``msg`` without any value a template supplied (a validator may have written one into it)."""
    for k, v in item.items():
        if k not in own and isinstance(v, str | int | float) and not isinstance(v, bool):
            text = str(v)
            if len(text) >= 3 and text in msg:
                msg = msg.replace(text, "(a value from the template)")
    return msg


def _raise(e: Exception):
    raise e from None


def _msg(err: dict, quote: bool = True) -> str:
    """Pydantic's message; with ``quote`` (a value from the case file itself) and a scalar input,
    ``(got <excerpt>)``."""
    msg = err["msg"].removeprefix("Value error, ")
    if quote and err.get("type") not in ("value_error", "missing") and "input" in err \
            and not isinstance(err["input"], dict | list):
        msg = f"{msg} (got {excerpt(err['input'])})"
    return msg


_DOTTED = ("bidding", "backtest", "markets")  # tables named the way their readers always named them


def _field_name(loc: tuple) -> str | None:
    """The field an error of ``Case`` names: ``grid.import_limit_mw``, ``retail.vat_rate[0].value``;
    in ``[bidding]``, ``[backtest]`` and ``[markets.*]`` dotted all through (``bidding.blocks.0.side``,
    the form their errors have always had)."""
    if loc and loc[0] in _DOTTED:
        return ".".join(map(str, loc))
    return _field_path(loc) or None


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        else:
            parts.append(short_name(p))
    return ".".join(parts)


def load_case(path: str | Path, confine: bool = False) -> Case:
    """Load a case from a TOML file, or from a folder holding ``case.toml``. ``confine``: every data
    and template path must lie inside the case's folder (as ``[case] confine_paths = true``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "case.toml"
    if not p.exists():
        raise InputError(p, None, "case file not found")
    return case_from_dict(read_toml(p), base_dir=p.parent, source=p, confine=confine)


def read_toml(path: Path) -> dict:
    """A TOML file as a dict; anything unreadable is an ``InputError`` naming the file (a folder,
    not UTF-8, invalid or too deeply nested TOML, no permission)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except IsADirectoryError:
        raise InputError(path, None, "is a folder, not a TOML file") from None
    except UnicodeDecodeError as e:
        raise InputError(path, None, f"not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, None, f"invalid TOML: {e}") from None
    except RecursionError:
        raise InputError(path, None, "invalid TOML: arrays or tables nested too deeply") from None
    except OSError as e:
        raise InputError(path, None, f"cannot read: {e.strerror or e}") from None
