"""Measured value of day-ahead bidding (issue 13, item 4): capture ratios of the demo battery on
real 2022 prices, zone x month, per strategy, with perfect foresight beside.

The site is ``cases/se3_battery_2022`` (1 MW / 2 MWh battery, 95 % / 95 % one-way efficiencies, SoC
starts each day at 1 MWh and ends it with at least 1 MWh, 2 EUR/MWh degradation, day-ahead only,
prices from ``../shared/data``), with ``[case] zone`` set to each zone in turn. Every (zone, month,
strategy) is one ``bidopt.backtest(case, first day, last day, strategy=...)`` call: the strategy's
chain and the perfect-foresight chain (``plan`` on realised prices, the upper bound), both starting
the month from the case's initial state. Money EUR, positive = earned.

Strategies (the capture ratio is strategy result / perfect-foresight result over the same days):

* ``bid``: the case's ``bid`` (price scenarios forecast before the gate, curve orders);
* ``expected``: one scenario at the forecast's expected prices (price-independent volumes);
* ``persistence``: the baseline strategy of issue 13 (skipped with a note while bidopt lacks it);
* ``oracle``: ``bid`` with the realised prices as the only scenario (``[bidding] scenarios`` = a file
  written for the month), the same curve model and settlement: what is lost with a perfect forecast
  (export to lots, delivery, imbalance). It knows the prices: a diagnostic, not a strategy.

The gap to perfect foresight splits as: 1 - oracle (export and delivery), oracle - expected
(forecast error of the point forecast), bid - expected (what the curve's price response adds). The imbalance stream of each strategy is shown beside (the delivery re-plan may deviate from
the cleared position at the imbalance proxy price; positive = earned).

    python benchmarks/capture.py                                  # SE3, SE4 x 12 months x all strategies
    python benchmarks/capture.py --zones SE3 --months 1,2 --strategies bid,expected
    python benchmarks/capture.py --workers 2 --json out.json --write   # --write: docs/bidding.md table

Tasks run in a ``multiprocessing`` pool of ``--workers`` processes (one task = one month of one
strategy in one zone). ``--write`` rewrites the text between ``<!-- capture:start -->`` and
``<!-- capture:end -->`` in docs/bidding.md (``--section NAME``: between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``). ``--log FILE`` appends each month run as it ends and reuses the runs already
there, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASE = ROOT / "cases" / "se3_battery_2022"
DOC = ROOT / "docs" / "bidding.md"
ALL_STRATEGIES = ("bid", "expected", "persistence", "oracle")
TARGET_CAPTURE, TARGET_OVER_PERSISTENCE = 0.80, 0.10


def _months(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    if not out or any(m < 1 or m > 12 for m in out):
        raise argparse.ArgumentTypeError(f"months must be in 1..12: {text!r}")
    return sorted(set(out))


def known_strategies() -> tuple[str, ...]:
    from bidopt.backtest.engine import STRATEGIES

    return tuple(STRATEGIES)


def month_days(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def make_case(zone: str, bidding: dict | None = None, backtest: dict | None = None, markets: dict | None = None):
    """The demo battery case in ``zone``, with extra ``[bidding]`` / ``[backtest]`` keys and
    ``[markets.<table>]`` keys (``markets``: {"intraday.imbalance_penalty_eur_per_mwh": 1000.0})."""
    import bidopt

    case = bidopt.load_case(CASE)
    upd = {"case": case.case.model_copy(update={"zone": zone, "name": f"capture_{zone.lower()}"})}
    upd["bidding"] = type(case.bidding).model_validate({**case.bidding.model_dump(exclude_unset=True), **(bidding or {})})
    if backtest:
        upd["backtest"] = type(case.backtest).model_validate({**case.backtest.model_dump(exclude_unset=True), **backtest})
    if markets:
        m = {k: v.model_dump(exclude_unset=True) if hasattr(v, "model_dump") else dict(v) for k, v in case.markets.items()}
        for dotted, value in markets.items():
            table, _, key = dotted.partition(".")
            m.setdefault(table, {})[key] = value
    out = case.model_copy(update=upd)
    if markets:
        out.markets = m  # validated on assignment: the registered tables become their models
    return out


def oracle_file(case, first: dt.date, last: dt.date, folder: Path) -> Path:
    """A one-scenario file (wide CSV) holding the realised day-ahead prices of ``first``..``last``."""
    import pandas as pd

    from bidopt import time as btime
    from bidopt.data import sources

    idx = btime.horizon_index(first, last, case.case.mtu_minutes, case.case.timezone)
    prices = sources.dayahead_prices(case, idx)
    path = folder / f"oracle_{case.case.zone}_{first:%Y%m}.csv"
    pd.DataFrame({"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "0": prices}).to_csv(path, index=False)
    return path


def run_task(task: dict) -> dict:
    """One month of one strategy in one zone: the strategy's and perfect foresight's EUR and streams."""
    import bidopt

    zone, year, month, strategy = task["zone"], task["year"], task["month"], task["strategy"]
    first, last = month_days(year, month)
    extra = dict(task.get("bidding") or {})
    name = strategy
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp:
        if strategy == "oracle":
            extra["scenarios"] = str(oracle_file(make_case(zone), first, last, Path(tmp)))
            name = "bid"
        case = make_case(zone, extra, task.get("backtest"), task.get("markets"))
        res = bidopt.backtest(case, first, last, strategy=name)
    s = res.summary
    return {**{k: task[k] for k in ("zone", "year", "month", "strategy", "bidding", "backtest", "markets")}, "days": s["n_days"],
            "strategy_eur": s["objective_eur"], "perfect_foresight_eur": s["perfect_foresight_eur"],
            "revenue_eur": s["revenue_eur"], "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0}


def task_key(t: dict) -> str:
    """What makes two month runs the same: zone, month, strategy and the extra case keys."""
    return json.dumps([t["zone"], t["year"], t["month"], t["strategy"], t.get("bidding") or {},
                       t.get("backtest") or {}, t.get("markets") or {}], sort_keys=True)


def run_all(tasks: list[dict], workers: int, log: Path | None = None) -> list[dict]:
    """Run ``tasks``; with ``log`` (JSON lines) each finished task is appended as it ends, and tasks
    already in the log are read back instead of run again (an interrupted run resumes)."""
    done: dict[str, dict] = {}
    if log is not None and log.exists():
        for line in log.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[task_key(r)] = r
    todo = [t for t in tasks if task_key(t) not in done]
    out = [done[task_key(t)] for t in tasks if task_key(t) in done]

    def keep(r: dict) -> None:
        out.append(r)
        if log is not None:
            with log.open("a") as f:
                f.write(json.dumps(r) + "\n")
        print(f"done {r['zone']} {r['year']}-{r['month']:02d} {r['strategy']}: {r['strategy_eur']:.0f} / "
              f"{r['perfect_foresight_eur']:.0f} EUR ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)

    if workers <= 1:
        for t in todo:
            keep(run_task(t))
    elif todo:
        with mp.get_context("spawn").Pool(workers) as pool:
            for r in pool.imap_unordered(run_task, todo):
                keep(r)
    return out


# --- tables -------------------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 1e-9 else None


def _fmt(x: float | None, nd: int = 2) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def aggregate(results: list[dict]) -> dict:
    """{zone: {month or "year": {strategy: {"eur", "pf_eur", "ratio", "imbalance_eur"}}}}."""
    out: dict = {}
    for r in results:
        for key in (r["month"], "year"):
            cell = out.setdefault(r["zone"], {}).setdefault(key, {}).setdefault(
                r["strategy"], {"eur": 0.0, "pf_eur": 0.0, "imbalance_eur": 0.0, "days": 0, "seconds": 0.0})
            cell["eur"] += r["strategy_eur"]
            cell["pf_eur"] += r["perfect_foresight_eur"]
            cell["imbalance_eur"] += r["revenue_eur"].get("imbalance", 0.0)
            cell["days"] += r["days"]
            cell["seconds"] += r["seconds"]
    for zone in out.values():
        for row in zone.values():
            for cell in row.values():
                cell["ratio"] = _ratio(cell["eur"], cell["pf_eur"])
    return out


def total_label(rows: dict) -> str:
    """"year" when all twelve months ran, else "total" (the months run)."""
    return "year" if len([k for k in rows if k != "year"]) == 12 else "total"


def capture_tables(agg: dict, strategies: list[str]) -> list[str]:
    """Per zone: months x strategies, each cell the capture ratio, perfect foresight EUR beside."""
    lines = []
    for zone, rows in agg.items():
        head = "| month | perfect foresight (EUR) | " + " | ".join(f"`{s}`" for s in strategies) + " |"
        lines += [f"**{zone}**: capture ratio (strategy EUR / perfect-foresight EUR over the same days)", "",
                  head, "|---|---:|" + "---:|" * len(strategies)]
        for key in [k for k in sorted(k for k in rows if k != "year")] + (["year"] if "year" in rows else []):
            row = rows[key]
            pf = next(iter(row.values()))["pf_eur"]
            label = f"**{total_label(rows)}**" if key == "year" else calendar.month_abbr[key]
            cells = []
            for s in strategies:
                c = row.get(s)
                txt = "–" if c is None else _fmt(c["ratio"])
                cells.append(f"**{txt}**" if key == "year" else txt)
            lines.append(f"| {label} | {pf:,.0f} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def gap_table(agg: dict, strategies: list[str]) -> list[str]:
    """Per zone over the months run: where the value is lost, and the imbalance stream."""
    lines = ["Where the value goes, over the months run (EUR; shares of perfect foresight in brackets):", "",
             "| zone | perfect foresight | " + " | ".join(f"`{s}` result (imbalance)" for s in strategies)
             + " | export + delivery (1 − oracle) | forecast error (oracle − expected) | curve response (bid − expected) |",
             "|---|---:|" + "---:|" * len(strategies) + "---:|---:|---:|"]
    for zone, rows in agg.items():
        y = rows["year"]
        pf = next(iter(y.values()))["pf_eur"]
        cells = []
        for s in strategies:
            c = y.get(s)
            cells.append("–" if c is None else f"{c['eur']:,.0f} ({c['imbalance_eur']:+,.0f})")

        def share(a, b=None, y=y, pf=pf):
            if a not in y or (b is not None and b not in y) or pf <= 1e-9:
                return "–"
            v = y[a]["eur"] - (y[b]["eur"] if b else pf)
            return f"{v:+,.0f} ({v / pf:+.2f})"

        lines.append(f"| {zone} | {pf:,.0f} | " + " | ".join(cells)
                     + f" | {share('oracle')} | {share('expected', 'oracle')} | {share('bid', 'expected')} |")
    return lines + [""]


def target_lines(agg: dict) -> list[str]:
    """The issue's targets for ``bid``: capture >= 0.80, >= persistence + 0.10, every month above persistence."""
    out = []
    for zone, rows in agg.items():
        y = rows["year"]
        if "bid" not in y:
            continue
        b = y["bid"]["ratio"]
        parts = [f"capture {_fmt(b)} {'≥' if b is not None and b >= TARGET_CAPTURE else '<'} {TARGET_CAPTURE:.2f}"]
        if "persistence" in y:
            p = y["persistence"]["ratio"]
            ok = b is not None and p is not None and b >= p + TARGET_OVER_PERSISTENCE
            parts.append(f"persistence {_fmt(p)}, margin {_fmt(None if b is None or p is None else b - p)} "
                         f"({'meets' if ok else 'misses'} +{TARGET_OVER_PERSISTENCE:.2f})")
            below = [calendar.month_abbr[m] for m in sorted(k for k in rows if k != "year")
                     if "bid" in rows[m] and "persistence" in rows[m]
                     and (rows[m]["bid"]["eur"] <= rows[m]["persistence"]["eur"])]
            parts.append("every month above persistence" if not below
                         else f"not above persistence in {', '.join(below)}")
        else:
            parts.append("persistence not run")
        out.append(f"- {zone} `bid`: " + "; ".join(parts))
    return out


def render(agg: dict, strategies: list[str], notes: list[str], header: str) -> str:
    ran = [s for s in strategies if any(s in r for z in agg.values() for r in z.values())]
    body = [header, "", *capture_tables(agg, ran), *gap_table(agg, ran), "Targets (issue 13; benchmark figures, "
            "not test asserts):", "", *target_lines(agg)]
    body += [f"- {n}" for n in notes]
    return "\n".join(body)


def write_doc(text: str, section: str = "capture") -> None:
    """Rewrite the text between ``<!-- SECTION:start -->`` and ``<!-- SECTION:end -->``."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    s = DOC.read_text()
    block = f"{start}\n{text}\n{end}"
    if start in s:
        s = s[: s.index(start)] + block + s[s.index(end) + len(end):]
    else:
        s = s.rstrip() + "\n\n## Measured value: capture on 2022 prices\n\n" + block + "\n"
    DOC.write_text(s)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", default="SE3,SE4", help="comma-separated bidding zones (default SE3,SE4)")
    ap.add_argument("--months", type=_months, default=list(range(1, 13)), help="e.g. 1,2 or 1-6 (default 1-12)")
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--strategies", default=",".join(ALL_STRATEGIES),
                    help=f"comma-separated, from {', '.join(ALL_STRATEGIES)}")
    ap.add_argument("--workers", type=int, default=2, help="processes (1: in this process)")
    ap.add_argument("--bidding", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [bidding] key for every strategy, e.g. forecaster=lear (TOML value)")
    ap.add_argument("--backtest", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [backtest] key, e.g. intraday=off (TOML value)")
    ap.add_argument("--markets", action="append", default=[], metavar="TABLE.KEY=VALUE",
                    help="extra [markets.TABLE] key, e.g. intraday.imbalance_penalty_eur_per_mwh=4000 "
                         "(a delivery re-plan that deviates from the cleared position only where it must)")
    ap.add_argument("--json", type=Path, default=None, help="write every task's figures there")
    ap.add_argument("--log", type=Path, default=None,
                    help="JSON lines: each month run appended as it ends; runs already there are reused")
    ap.add_argument("--write", action="store_true", help="rewrite the capture section of docs/bidding.md")
    ap.add_argument("--section", default="capture", help="the markers --write rewrites (default capture)")
    a = ap.parse_args(argv)
    zones = [z.strip().upper() for z in a.zones.split(",") if z.strip()]
    wanted = [s.strip() for s in a.strategies.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_STRATEGIES]
    if unknown:
        ap.error(f"unknown strategies {unknown}; known: {', '.join(ALL_STRATEGIES)}")
    have = set(known_strategies()) | {"oracle"}
    notes = [f"`{s}` skipped: bidopt.backtest has no such strategy yet" for s in wanted if s not in have]
    strategies = [s for s in wanted if s in have]
    for n in notes:
        print(n, file=sys.stderr)
    bidding = _kv(a.bidding)
    backtest = _kv(a.backtest)
    markets = _kv(a.markets)
    tasks = [{"zone": z, "year": a.year, "month": m, "strategy": s, "bidding": bidding, "backtest": backtest,
              "markets": markets}
             for z in zones for m in a.months for s in strategies]
    t0 = time.perf_counter()
    n_logged = _logged(tasks, a.log)
    results = run_all(tasks, a.workers, a.log)
    reused_note = f", {n_logged} month runs read from {a.log.name}" if n_logged else ""
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: (zones.index(r["zone"]), r["month"], strategies.index(r["strategy"])))
    agg = aggregate(results)
    cpu = {s: sum(r["cpu_seconds"] for r in results if r["strategy"] == s) for s in strategies}
    months = f"{calendar.month_abbr[a.months[0]]}–{calendar.month_abbr[a.months[-1]]} {a.year}" \
        if len(a.months) > 1 else f"{calendar.month_abbr[a.months[0]]} {a.year}"
    opts = "".join(f" `--bidding {x}`" for x in a.bidding) + "".join(f" `--backtest {x}`" for x in a.backtest) \
        + "".join(f" `--markets {x}`" for x in a.markets)
    header = (f"Demo battery (`cases/se3_battery_2022` in each zone), {months}, each month backtested on its "
              f"own from the case's initial state; written by `python benchmarks/capture.py`{opts} on "
              f"{dt.date.today()} ({len(tasks)} month runs; CPU seconds summed over the month runs of each "
              f"strategy, its perfect-foresight chain included: "
              f"{', '.join(f'`{k}` {v:.0f}' for k, v in cpu.items())}; this call {wall:.0f} s wall on "
              f"{a.workers} process(es){reused_note}).")
    text = render(agg, strategies, notes, header)
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"results": results, "aggregate": _json_keys(agg), "notes": notes,
                                      "wall_seconds": wall, "workers": a.workers}, indent=1))
    if a.write:
        write_doc(text, a.section)
    return 0


def _logged(tasks: list[dict], log: Path | None) -> int:
    """How many of ``tasks`` the log already holds."""
    if log is None or not log.exists():
        return 0
    keys = {task_key(json.loads(x)) for x in log.read_text().splitlines() if x.strip()}
    return sum(task_key(t) in keys for t in tasks)


def _kv(items: list[str]) -> dict:
    import tomllib

    out = {}
    for it in items:
        k, _, v = it.partition("=")
        try:
            out[k.strip()] = tomllib.loads(f"x = {v}")["x"]
        except tomllib.TOMLDecodeError:
            out[k.strip()] = v  # a bare word: a string
    return out


def _json_keys(agg: dict) -> dict:
    return {z: {str(k): v for k, v in rows.items()} for z, rows in agg.items()}


if __name__ == "__main__":
    raise SystemExit(main())
