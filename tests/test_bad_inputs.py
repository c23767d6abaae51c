"""Bad inputs through the installed ``bidopt`` console script (issue 14): every row of the table is
one subprocess and must end with the DESIGN exit code (2 bad input, 3 a real infeasibility, 1 for
``validate`` on an invalid file), exactly one line on stderr naming the file and the field (no
traceback), and nothing written to a fresh ``--out``.

The rows run in parallel (a thread pool over ``subprocess.run``), once per module; each test item
checks one row. Most rows fail at validation, before any model is built, so the table stays cheap:
a case error costs one interpreter start with pandas and Pyomo (about 0.8 s of CPU), an option error
about 0.05 s; the whole table took 86 s of CPU (user + sys), i.e. about 45 s on two idle cores
(1 min 57 s wall on the shared machine at load 6-10).
A few control rows (valid inputs, exit 0) show that the base files are good and each bad row fails
for the reason it names.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
BIDOPT = shutil.which("bidopt", path=str(BIN)) or shutil.which("bidopt")
pytestmark = pytest.mark.skipif(BIDOPT is None, reason="the bidopt console script is not installed")
DAY = "2024-03-14"
TIMEOUT_S = 60


# ------------------------------------------------------------------------------------ base files


def toml(data: dict) -> str:
    """A small TOML writer (tables, arrays of tables, scalars, arrays) for the rows below."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    def table(prefix: str, d: dict, out: list[str], array: bool = False) -> None:
        scalars = {k: v for k, v in d.items()
                   if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))}
        out.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        out += [f"{k} = {value(v)}" for k, v in scalars.items()]
        for k, v in d.items():
            if k in scalars:
                continue
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v, out)
            else:
                for item in v:
                    table(f"{prefix}.{k}", item, out, array=True)

    out: list[str] = []
    for k, v in data.items():
        if isinstance(v, dict):
            table(k, v, out)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                table(k, item, out, array=True)
        else:
            out.insert(0, f"{k} = {value(v)}")
    return "\n".join(out) + "\n"


def base_case(**tables) -> dict:
    """A small case: one battery on a 2 MW connection, hourly prices from prices.csv."""
    case = {
        "case": {"name": "bad", "zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": "prices.csv"},
        "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0},
        "assets": [{"kind": "battery", "name": "bess", "power_mw": 1.0, "energy_mwh": 2.0,
                    "soc_initial_mwh": 1.0}],
    }
    for k, v in tables.items():
        case[k] = v
    return case


def with_field(path: str, v, case: dict | None = None) -> dict:
    """``base_case()`` with ``path`` ("grid.import_limit_mw", "assets.0.energy_mwh") set to ``v``."""
    case = case or base_case()
    *parents, last = path.split(".")
    node = case
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    node[last] = v
    return case


def hours(start: str = "2024-03-01", end: str = "2024-03-20") -> list[str]:
    import pandas as pd

    idx = pd.date_range(start, end, freq="h", tz="UTC", inclusive="left")
    return list(idx.strftime("%Y-%m-%dT%H:%M:%SZ"))


def price_csv(edit=None, header: str = "timestamp_utc,price_eur_per_mwh") -> str:
    """Hourly prices 2024-03-01..19 (UTC); ``edit(rows)`` changes the list of [timestamp, price] rows."""
    rows = [[t, f"{50 + 30 * math.sin(i / 24 * 2 * math.pi):.2f}"] for i, t in enumerate(hours())]
    if edit:
        edit(rows)
    return header + "\n" + "\n".join(",".join(r) for r in rows) + "\n"


def at(ts: str):
    """The index of the row of ``ts`` in ``price_csv``."""
    return hours().index(ts)


NEEDED = "2024-03-14T08:00:00Z"  # an MTU of the delivery day (UTC)


def set_row(ts: str, *cells):
    def edit(rows):
        rows[at(ts)] = list(cells)
    return edit


def scenario_csv(edit=None, scenarios: int = 4) -> str:
    """Long scenario file for the delivery day: timestamp_utc, scenario, price_eur_per_mwh, probability."""
    day = hours("2024-03-13T23:00", "2024-03-14T23:00")
    rows = [[t, str(s), f"{40 + 10 * s + h:.2f}", f"{1 / scenarios:g}"] for s in range(scenarios)
            for h, t in enumerate(day)]
    if edit:
        edit(rows)
    return "timestamp_utc,scenario,price_eur_per_mwh,probability\n" + "\n".join(",".join(r) for r in rows) + "\n"


def fcr_csv(edit=None) -> str:
    rows = [[t, "12.50"] for t in hours()]
    if edit:
        edit(rows)
    return "timestamp_utc,price_eur_per_mw_h\n" + "\n".join(",".join(r) for r in rows) + "\n"


def orders(edit=None) -> str:
    """A valid day-ahead orders file (one hourly curve per contract) for validate rows."""
    cid = [f"NOR_H_DA_1-20240314-{h:02d}" for h in range(1, 25)]
    d = {"auctionId": "NOR_H_DA_1-20240313", "product": "NOR_H_DA_1", "deliveryDay": DAY,
         "curveOrders": [{"auctionId": "NOR_H_DA_1-20240313", "portfolio": "p", "areaCode": "SE3",
                          "curves": [{"contractId": c, "curvePoints": [{"price": -500.0, "volume": 0.5},
                                                                       {"price": 4000.0, "volume": -0.5}]}
                                     for c in cid]}]}
    if edit:
        edit(d)
    return json.dumps(d)


def summary(edit=None) -> str:
    streams = ("dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance", "tariff", "tax", "degradation")
    d = {"objective_eur": 1.0, "revenue_eur": {s: 0.0 for s in streams},
         "solver": {"status": "optimal", "seconds": 0.1, "mip_gap": 0.0}}
    d["revenue_eur"]["dayahead"] = 1.0
    if edit:
        edit(d)
    return json.dumps(d)


DAILY = ("date,dayahead_eur,tariff_eur,total_eur,perfect_foresight_eur\n"
         "2024-03-12,-10.0,-2.0,-12.0,-11.0\n2024-03-13,-9.0,-2.0,-11.0,-10.5\n")


def backtest_summary(edit=None) -> str:
    d = {"case": "bad", "strategy": "bid", "zone": "SE3", "start": "2024-03-12", "end": "2024-03-13",
         "n_days": 2, "mtu_minutes": 60, "objective_eur": -23.0, "revenue_eur": {"dayahead": -19.0, "tariff": -4.0},
         "perfect_foresight_eur": -21.5, "capture_ratio": None, "warnings": []}
    if edit:
        edit(d)
    return json.dumps(d)


def sweep_toml(**over) -> str:
    d = {"cases": ["case.toml"], "strategies": ["bid"], "periods": [{"start": "2024-03-12", "end": "2024-03-13"}]}
    d.update(over)
    return toml(d)


def deep(n: int = 100_000, open_="[", close="]") -> str:
    return open_ * n + close * n


# -------------------------------------------------------------------------------------- the table


@dataclass
class Row:
    id: str
    args: list[str]  # after "bidopt"; "{out}" is the row's fresh --out folder
    files: dict[str, str | bytes] = field(default_factory=dict)  # written into the row's folder
    code: int = 2
    names: tuple[str, ...] = ()  # the message names these (file, field, row); case-insensitive
    out: bool = True  # the command takes --out: add it unless args give one


ROWS: list[Row] = []


def row(id, args, files=None, code=2, names=(), out=True):
    assert id not in {r.id for r in ROWS}, id
    ROWS.append(Row(id, list(args), dict(files or {}), code, tuple(names), out))


def case_files(case: dict, prices: str | None = None, **extra) -> dict:
    return {"case.toml": toml(case), "prices.csv": prices or price_csv(), **extra}


PLAN = ["plan", "case.toml", "--day", DAY]
BID = ["bid", "case.toml", "--day", DAY]

# --- controls: the base files are good (exit 0) ------------------------------------------------
row("control-plan", PLAN, case_files(base_case()), code=0)
row("control-validate-orders", ["validate", "orders.json"], {"orders.json": orders()}, code=0, out=False)
row("control-validate-summary", ["validate", "summary.json"], {"summary.json": summary()}, code=0, out=False)
row("control-report", ["report", "."], {"daily.csv": DAILY, "summary.json": backtest_summary()}, code=0, out=False)

# --- case TOML: every number finite, typed, in range -------------------------------------------
BAD_NUMBERS = {"inf": math.inf, "nan": math.nan, "minus1": -1.0, "true": True, "text": "x", "1e300": 1e300}
NUMERIC_FIELDS = {
    "assets.0.power_mw": "assets[0] (bess).power_mw",
    "assets.0.energy_mwh": "assets[0] (bess).energy_mwh",
    "grid.import_limit_mw": "grid.import_limit_mw",
}
for path, named in NUMERIC_FIELDS.items():
    for label, v in BAD_NUMBERS.items():
        row(f"case-{path}-{label}", PLAN, case_files(with_field(path, v)), names=("case.toml", named))
for path, named, bad in [
    ("solver.mip_gap", "solver.mip_gap", {"one": 1.0}),
    ("solver.time_limit_s", "solver.time_limit_s", {"text": "60"}),
    ("assets.0.charge_efficiency", "assets[0] (bess).charge_efficiency", {"zero": 0.0}),
    ("grid.export_limit_mw", "grid.export_limit_mw", {"true": True}),
    ("case.sek_per_eur", "case.sek_per_eur", {"zero": 0.0}),
    ("assets.0.degradation_eur_per_mwh", "assets[0] (bess).degradation_eur_per_mwh", {"1e300": 1e300}),
    ("case.mtu_minutes", "case.mtu_minutes", {"30": 30}),
]:
    for label, v in bad.items():
        row(f"case-{path}-{label}", PLAN, case_files(with_field(path, v)), names=("case.toml", named))
for kind, extra, fld in [
    ("load", {"profile": "synthetic"}, "peak_mw"),
    ("pv", {}, "capacity_mw"),
]:
    for label in ("inf",) if kind == "load" else ("true",):
        c = base_case()
        c["assets"].append({"kind": kind, "name": "other", fld: BAD_NUMBERS[label], **extra})
        row(f"case-{kind}.{fld}-{label}", PLAN, case_files(c), names=("case.toml", f"assets[1] (other).{fld}"))
row("case-tariff-rate-inf", PLAN, case_files(base_case(tariffs=[{"kind": "energy_fee", "name": "fee",
    "rates": [{"valid_from": "2014-01-01", "sek_per_kwh": math.inf}]}])), names=("case.toml", "tariffs[0]"))
row("case-markets-fcr-step-1e300", PLAN, case_files(base_case(markets={"fcr": {"step_mw": 1e300}})),
    names=("case.toml", "step_mw"))

# --- case TOML: structure ------------------------------------------------------------------------
c = base_case()
del c["grid"]
row("case-no-grid", PLAN, case_files(c), names=("case.toml", "grid"))
row("case-unknown-key", PLAN, case_files(with_field("grid.imports_limit_mw", 1.0)), names=("case.toml", "imports_limit_mw"))
row("case-unknown-kind", PLAN, case_files(with_field("assets.0.kind", "flywheel")), names=("case.toml", "assets[0]", "kind"))
c = base_case()
c["assets"].append(dict(c["assets"][0]))
row("case-duplicate-asset", PLAN, case_files(c), names=("case.toml", "bess"))
row("case-timezone-mars", PLAN, case_files(with_field("case.timezone", "Mars/Olympus")), names=("case.toml", "case.timezone"))
row("case-market-unknown", PLAN, case_files(base_case(markets={"bogus": {"x": 1}})), names=("case.toml", "markets.bogus"))
row("case-not-utf8", PLAN, {"case.toml": b"\xff\xfe[case]\nname = 'x'\n", "prices.csv": price_csv()},
    names=("case.toml", "UTF-8"))
row("case-deep-array", PLAN, {"case.toml": "x = " + deep() + "\n"}, names=("case.toml", "nested"))
row("case-missing", PLAN, {}, names=("case.toml", "not found"))
for label, tpl, named in [
    ("folder", ".", "template"),
    ("number", 5, "template"),
    ("not-utf8", "t.toml", "t.toml"),
]:
    row(f"case-template-{label}", PLAN,
        case_files(with_field("assets.0.template", tpl), **{"t.toml": b"\xff kind = 1\n", "bad.toml": "kind = \n",
                                                           "deep.toml": "x = " + deep() + "\n"}),
        names=("template" if label in ("folder", "number", "list", "missing") else "", named))
row("case-template-bad-field", PLAN, case_files(with_field("assets.0.template", "t.toml"),
                                                **{"t.toml": "degradation_eur_per_mwh = inf\n"}),
    names=("case.toml", "degradation_eur_per_mwh"))

# --- price CSV (EUR/MWh): one file, one line named -------------------------------------------------
PRICE_ROWS = [
    ("1e20", set_row(NEEDED, NEEDED, "1e20"), ("prices.csv", "line", "range")),
    ("text", set_row(NEEDED, NEEDED, "abc"), ("prices.csv", "line", "not a number")),
    ("n/e-needed", set_row(NEEDED, NEEDED, "n/e"), ("prices.csv", "line")),
    ("duplicate", set_row(NEEDED, "2024-03-14T07:00:00Z", "50"), ("prices.csv", "line", "duplicate")),
    ("gap", lambda rows: rows.pop(at(NEEDED)), ("prices.csv", "line", "gap")),
]
for label, edit, names in PRICE_ROWS:
    row(f"price-{label}", PLAN, case_files(base_case(), price_csv(edit)), names=names)
row("price-not-covering-day", ["plan", "case.toml", "--day", "2024-04-14"], case_files(base_case()),
    names=("prices.csv", "no data"))
row("price-not-utf8", PLAN, case_files(base_case(), "timestamp_utc,price_eur_per_mwh\n\xff".encode("latin-1")),
    names=("prices.csv",))
row("price-missing-file", PLAN, {"case.toml": toml(base_case())}, names=("prices.csv", "not found"))

# --- FCR price files (EUR/MW/h), as [prices] fcr_n --------------------------------------------------
FCR_CASE = base_case(prices={"dayahead": "prices.csv", "fcr_n": "fcr.csv"})
for label, edit, names in [
    ("1e20", set_row(NEEDED, NEEDED, "1e20"), ("fcr.csv", "line", "range")),
    ("gap", lambda rows: rows.pop(at(NEEDED)), ("fcr.csv", "line", "gap")),
]:
    row(f"fcr-{label}", PLAN, case_files(FCR_CASE, **{"fcr.csv": fcr_csv(edit)}), names=names)
row("fcr-missing", PLAN, case_files(FCR_CASE), names=("fcr.csv", "not found"))

# --- scenario files ([bidding] scenarios), read by bid -----------------------------------------
SC_CASE = base_case(bidding={"scenarios": "sc.csv"})
for label, edit, names in [
    ("price-1e20", lambda r: r[5].__setitem__(2, "1e20"), ("sc.csv", "range")),
    ("probability-sum", lambda r: [x.__setitem__(3, "0.5") for x in r], ("sc.csv", "probab")),
]:
    row(f"scenario-{label}", BID, case_files(SC_CASE, **{"sc.csv": scenario_csv(edit)}), names=names)
row("scenario-other-day", ["bid", "case.toml", "--day", "2024-03-15"], case_files(SC_CASE, **{"sc.csv": scenario_csv()}),
    names=("sc.csv", "2024-03-14T23:00:00"))
row("scenario-not-utf8", BID, case_files(SC_CASE, **{"sc.csv": b"\xff\xfe\x00"}), names=("sc.csv",))

# --- command-line options ------------------------------------------------------------------------
GOOD = case_files(base_case())
BT = ["backtest", "case.toml", "--no-progress"]
for cmd in ("plan", "bid"):
    for v in ("2", "1", "-1", "nan", "inf"):
        row(f"cli-{cmd}-mip-gap-{v}", [cmd, "case.toml", "--day", DAY, "--mip-gap", v], GOOD, names=("--mip-gap",))
    for v in ("-1", "0", "nan", "inf"):
        row(f"cli-{cmd}-time-limit-{v}", [cmd, "case.toml", "--day", DAY, "--time-limit", v], GOOD,
            names=("--time-limit",))
    for v in ("9999-12-31", "0001-01-01", "2024-02-30", "tomorrow"):
        row(f"cli-{cmd}-day-{v}", [cmd, "case.toml", "--day", v], GOOD, names=("--day",))
    row(f"cli-{cmd}-mtu-30", [cmd, "case.toml", "--day", DAY, "--mtu", "30"], GOOD, names=("--mtu",))
    row(f"cli-{cmd}-no-day", [cmd, "case.toml"], GOOD, names=("--day",))
    row(f"cli-{cmd}-unknown-option", [cmd, "case.toml", "--day", DAY, "--bogus"], GOOD, names=("--bogus",))
row("cli-plan-soc-unknown-asset", PLAN + ["--soc", "nope=1"], GOOD, names=("--soc", "nope"))
row("cli-plan-soc-inf", PLAN + ["--soc", "bess=inf"], GOOD, names=("--soc", "bess"))
row("cli-plan-extra-argument", PLAN + ["other.toml"], GOOD, names=("other.toml",))
row("cli-plan-mtu-15-text", PLAN + ["--mtu", "quarter"], GOOD, names=("--mtu",))
row("cli-bid-day-time", ["bid", "case.toml", "--day", "2024-03-14T12:00"], GOOD, names=("--day",))
row("cli-plan-no-case", ["plan", "--day", DAY], GOOD, names=("CASE",))
row("cli-fcr2-time-limit", ["fcr2", "case.toml", "--day", DAY, "--position", ".", "--time-limit", "-1"], GOOD,
    names=("--time-limit",))
row("cli-fcr2-day", ["fcr2", "case.toml", "--day", "9999-12-31", "--position", "."], GOOD, names=("--day",))
row("cli-intraday-no-stage", ["intraday", "case.toml", "--day", DAY, "--position", "."], GOOD, names=("--stage",))
row("cli-intraday-day", ["intraday", "case.toml", "--day", "0001-01-01", "--position", ".", "--stage", "IDA1"], GOOD,
    names=("--day",))
row("cli-backtest-no-end", BT + ["--start", DAY], GOOD, names=("--end",))
row("cli-backtest-start-text", BT + ["--start", "March", "--end", DAY], GOOD, names=("--start",))
row("cli-sweep-workers-0", ["sweep", "sweep.toml", "--workers", "0"], GOOD, names=("--workers",))
row("cli-sweep-unknown-option", ["sweep", "sweep.toml", "--strategy", "bid"], GOOD, names=("--strategy",))
row("cli-report-day", ["report", ".", "--day", "2024-02-30"], GOOD, names=("--day",), out=False)
row("cli-report-unknown-option", ["report", ".", "--out", "x"], GOOD, names=("--out",), out=False)
row("cli-validate-no-file", ["validate"], GOOD, names=("FILE",), out=False)
row("cli-validate-two-files", ["validate", "a.json", "b.json"], GOOD, names=("b.json",), out=False)
row("cli-plan-out-no-value", PLAN + ["--out"], GOOD, names=("--out",), out=False)
row("cli-plan-peaks-no-value", PLAN + ["--peaks-so-far"], GOOD, names=("--peaks-so-far",), out=False)
row("cli-bid-soc-no-value", BID + ["--soc"], GOOD, names=("--soc",), out=False)
row("cli-bid-mtu-0", BID + ["--mtu", "0"], GOOD, names=("--mtu",))
row("cli-fcr2-day-empty", ["fcr2", "case.toml", "--day", "", "--position", "."], GOOD, names=("--day",))
row("cli-intraday-no-position", ["intraday", "case.toml", "--day", DAY, "--stage", "IDA1"], GOOD,
    names=("--position",))
row("cli-backtest-workers-text", BT + ["--start", DAY, "--end", DAY, "--workers", "two"], GOOD, names=("--workers",))
row("cli-backtest-strategy-empty", BT + ["--start", DAY, "--end", DAY, "--strategy", ""], GOOD, names=("--strategy",))
row("cli-sweep-no-file", ["sweep"], GOOD, names=("SWEEP",))
row("cli-report-no-dir", ["report"], GOOD, names=("DIR",), out=False)
row("cli-unknown-command", ["plam", "case.toml"], GOOD, names=("plam",), out=False)
row("cli-fcr2-no-position", ["fcr2", "case.toml", "--day", DAY], GOOD, names=("--position",))
row("cli-fcr2-mip-gap", ["fcr2", "case.toml", "--day", DAY, "--position", ".", "--mip-gap", "nan"], GOOD,
    names=("--mip-gap",))
row("cli-intraday-stage", ["intraday", "case.toml", "--day", DAY, "--position", ".", "--stage", "IDA9"], GOOD,
    names=("--stage",))
row("cli-intraday-now", ["intraday", "case.toml", "--day", DAY, "--position", ".", "--stage", "continuous",
                         "--now", "soon"], GOOD, names=("--now",))
row("cli-backtest-end-before-start", BT + ["--start", "2024-03-13", "--end", "2024-03-12"], GOOD, names=("--end",))
row("cli-backtest-start-9999", BT + ["--start", "9999-12-31", "--end", "9999-12-31"], GOOD, names=("--start",))
row("cli-backtest-workers-0", BT + ["--start", DAY, "--end", DAY, "--workers", "0"], GOOD, names=("--workers",))
row("cli-backtest-strategy", BT + ["--start", DAY, "--end", DAY, "--strategy", "magic"], GOOD, names=("--strategy",))
row("cli-backtest-report-week", BT + ["--start", DAY, "--end", DAY],
    case_files(base_case(backtest={"report_week": "soon"})), names=("case.toml", "report_week"))
row("cli-backtest-scheduler", BT + ["--start", DAY, "--end", DAY, "--scheduler", "not an address"], GOOD,
    names=("--scheduler",))
row("cli-report-week", ["report", ".", "--week", "soon"], {"daily.csv": DAILY, "summary.json": backtest_summary()},
    names=("--week",), out=False)

# --- validate inputs (exit 2: cannot be read; exit 1: read, and invalid) ---------------------------
VALIDATE = [
    ("deep-json", "x.json", deep(), 2, ("x.json", "nested")),
    ("not-utf8", "x.json", b"\xff\xfe{}", 2, ("x.json",)),
    ("unknown-csv", "x.csv", "a,b\n1,2\n", 2, ("x.csv",)),
    ("missing", "nope.json", None, 2, ("nope.json", "not found")),
    ("orders-price-text", "o.json",
     orders(lambda d: d["curveOrders"][0]["curves"][0]["curvePoints"][0].__setitem__("price", "x")), 2,
     ("o.json", "price")),
    ("orders-block-1e308", "o.json", orders(lambda d: d.__setitem__("blockOrders", [{
        "auctionId": "NOR_H_DA_1-20240313", "portfolio": "p", "areaCode": "SE3", "blocks": [{
            "name": "b1", "price": 1e308, "minimumAcceptanceRatio": 1.0,
            "periods": [{"contractId": f"NOR_H_DA_1-20240314-{h:02d}", "volume": 0.5} for h in (1, 2)]}]}])),
     1, ("b1", "price")),
    ("fcr-bids-volume-negative", "fcr_bids.csv",
     "product,auction,hour_start_utc,volume_mw,price_eur_per_mw_h\nfcr_n,1,2024-03-13T23:00:00Z,-1.0,10.0\n", 1,
     ("volume",)),
    ("fcr-bids-price-text", "fcr_bids.csv",
     "product,auction,hour_start_utc,volume_mw,price_eur_per_mw_h\nfcr_n,1,2024-03-13T23:00:00Z,1.0,x\n", 1,
     ("price_eur_per_mw_h",)),
    ("schedule-nan", "schedule.csv", "timestamp_utc,grid_import_mw,grid_export_mw\n"
     "2024-03-13T23:00:00Z,nan,0.0\n2024-03-14T00:00:00Z,1.0,0.0\n", 1, ("grid_import_mw",)),
    ("summary-objective-text", "summary.json", summary(lambda d: d.__setitem__("objective_eur", "x")), 1,
     ("objective_eur",)),
]
for label, name, content, code, names in VALIDATE:
    files = {} if content is None else {name: content}
    row(f"validate-{label}", ["validate", name], files, code=code if code is not None else 2, names=names, out=False)

# --- report on a malformed backtest folder ---------------------------------------------------------
REPORT = [
    ("daily-text", DAILY.replace("-12.0", "abc"), backtest_summary(), ("daily.csv", "line 2", "total_eur")),
    ("daily-date", DAILY.replace("2024-03-13", "2024-13-45"), backtest_summary(), ("daily.csv", "line 3", "date")),
    ("daily-duplicate-date", DAILY.replace("2024-03-13", "2024-03-12"), backtest_summary(), ("daily.csv", "line 3")),
    ("summary-objective-text", DAILY, backtest_summary(lambda d: d.__setitem__("objective_eur", "x")),
     ("summary.json", "objective_eur")),
    ("summary-deep", DAILY, deep(), ("summary.json",)),
]
for label, daily, summ, names in REPORT:
    files = {"daily.csv": daily, **({} if summ is None else {"summary.json": summ})}
    row(f"report-{label}", ["report", "."], files, names=names, out=False)
row("report-timeseries-time", ["report", "."], {"daily.csv": DAILY, "summary.json": backtest_summary(),
                                                "timeseries.csv": "timestamp_utc,x_mw\nsoon,1\n"},
    names=("timeseries.csv", "line 2"), out=False)

# --- sweep files ----------------------------------------------------------------------------------
SWEEP = ["sweep", "sweep.toml", "--no-progress"]
for label, text, names in [
    ("no-cases", sweep_toml(cases=[]), ("sweep.toml", "cases")),
    ("strategy-unknown", sweep_toml(strategies=["bid", "magic"]), ("sweep.toml", "strategies[1]")),
    ("period-end-before-start", sweep_toml(periods=[{"start": "2024-03-13", "end": "2024-03-12"}]),
     ("sweep.toml", "periods[0].end")),
    ("period-bad-date", sweep_toml(periods=[{"start": "2024-03-12", "end": "soon"}]), ("sweep.toml", "periods[0].end")),
    ("period-9999", sweep_toml(periods=[{"start": "9999-12-30", "end": "9999-12-31"}]),
     ("sweep.toml", "periods[0].start")),
    ("case-missing", sweep_toml(cases=["nope.toml"]), ("nope.toml", "not found")),
]:
    row(f"sweep-{label}", SWEEP, {"sweep.toml": text, **GOOD}, names=names)
row("sweep-case-bad-number", SWEEP, {"sweep.toml": sweep_toml(), **case_files(with_field("grid.import_limit_mw", math.inf))},
    names=("case.toml", "grid.import_limit_mw"))

# --- environment: an unusable --out (exit 2, one line naming it; nothing written) -------------------
row("env-out-is-a-file", PLAN + ["--out", "taken"], {**GOOD, "taken": "x"}, names=("taken",))
row("env-out-under-a-file", PLAN + ["--out", "taken/sub"], {**GOOD, "taken": "x"}, names=("taken",))
row("env-out-dev-null", PLAN + ["--out", "/dev/null"], GOOD, names=("/dev/null",))

# --- infeasible: exit 3 naming the asset and constraint ---------------------------------------------
row("infeasible-soc-final", PLAN, case_files(with_field("assets.0.soc_final_mwh", 2.0,
                                                        with_field("assets.0.power_mw", 0.01))), code=3,
    names=("bess",))


# -------------------------------------------------------------------------------------- running


def _run(r: Row, root: Path) -> dict:
    folder = root / r.id.replace("/", "_")
    folder.mkdir(parents=True)
    for name, content in r.files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    out = folder / "out"
    args = [BIDOPT, *r.args]
    if r.out and "--out" not in r.args:
        args += ["--out", str(out)]
    before = {p.relative_to(folder) for p in folder.rglob("*")}
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    try:
        p = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        res = {"code": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
    except subprocess.TimeoutExpired:
        res = {"code": None, "stdout": "", "stderr": f"timed out after {TIMEOUT_S} s"}
    res["seconds"] = time.perf_counter() - t0
    res["out_files"] = sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []
    res["new_files"] = sorted(str(p) for p in {p.relative_to(folder) for p in folder.rglob("*")} - before
                              if not (r.out and str(p).startswith("out")))
    return res


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("bad_inputs")
    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2))) as pool:
        futures = {r.id: pool.submit(_run, r, root) for r in ROWS}
        return {k: f.result() for k, f in futures.items()}


def test_table_covers_every_group():
    groups = {r.id.split("-")[0] for r in ROWS}
    assert {"case", "price", "fcr", "scenario", "cli", "validate", "report", "sweep", "env"} <= groups
    assert len([r for r in ROWS if r.code != 0]) >= 150


@pytest.mark.parametrize("r", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(r: Row, results):
    res = results[r.id]
    said = f"exit {res['code']}\nstderr: {res['stderr']!r}\nstdout: {res['stdout'][-500:]!r}"
    assert res["code"] == r.code, said
    assert "Traceback" not in res["stderr"], said
    if r.code == 0:
        return
    if r.code == 1:  # validate: one line per problem on stdout, nothing on stderr
        text = res["stdout"]
        assert res["stderr"] == "", said
        assert text.strip() and text.strip() != "valid", said
    else:
        lines = res["stderr"].strip().splitlines()
        assert len(lines) == 1, said
        assert lines[0].startswith("error: "), said
        text = lines[0]
    for name in r.names:
        assert name.lower() in text.lower(), f"{name!r} not named\n{said}"
    assert res["out_files"] == [], f"left in --out: {res['out_files']}\n{said}"
    assert res["new_files"] == [], f"left beside the inputs: {res['new_files']}\n{said}"
