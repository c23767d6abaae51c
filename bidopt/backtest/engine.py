"""The rolling backtest: every delivery day from start to end, in order, with state carried.

Two chains run over the same days, each with its own state (SoC, month-to-date peaks, ...):
the **strategy** (``bidopt.backtest.day.strategy_day``: bid, clear, deliver, settle) and the
**perfect-foresight** benchmark (``perfect_foresight_day``: planned on the realised prices). With
``[backtest] baseline`` a third chain runs the **baseline** (``persistence`` or ``no_flex``,
``bidopt.backtest.baselines``) and the outputs say what the strategy added to it
(``value_added_eur``). The chains are independent, so ``workers >= 2`` runs them in parallel on a
``dask.distributed`` cluster.

Robust runs (``bidopt.backtest.chain``): each finished day is written as a checkpoint (``DIR/.checkpoints/<chain>/<day>.json``:
the day's record, its per-MTU series, the state after it and what it was computed from) by an
atomic rename. A run reuses a checkpoint only while the day's inputs are unchanged (``_Inputs``):
every field of the case, the content of every data file the case names (for a file the day read
only through the recorded slices of ``bidopt.data.sources``: the values of those slices) and the
previous day's fingerprint, which each day's fingerprint includes. A change reaching day k
recomputes day k and every later day; ``summary.json`` and the CLI say how many days were resumed.
Floats go through JSON unchanged, so a resumed run writes byte-identical files (the resume keys of
``summary.json`` aside). Outputs (DESIGN contract): ``daily.csv``, ``timeseries.csv``,
``summary.json`` and ``report.html``, written together at the end.
Money EUR (positive = earned), energy MWh, power MW.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt import notes, output
from bidopt import time as btime
from bidopt.backtest.chain import case_fingerprint, intraday_on, run_chain, settings  # noqa: F401 (re-exported)
from bidopt.bids.contracts import dayahead_mtu_note
from bidopt.case import Case
from bidopt.case_tables import STRATEGIES, BacktestSettings  # noqa: F401 (STRATEGIES: re-exported)
from bidopt.errors import InputError
from bidopt.site import STREAM_ORDER

CHAINS = ("strategy", "perfect_foresight")


@dataclass
class BacktestResult:
    daily: pd.DataFrame
    summary: dict
    timeseries: pd.DataFrame = field(repr=False)
    out_dir: Path | None = None


def days_between(start, end) -> list[dt.date]:
    a, b = btime.as_date(start, "start"), btime.as_date(end, "end")
    if b < a:
        raise InputError(None, "--end", f"end {b} is before start {a}")
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


# --- assembling the outputs ---------------------------------------------------------------------------


BENCHMARK_COLUMNS = ("total_eur", "perfect_foresight_eur", "baseline_eur")  # daily.csv: not streams


def _daily(strategy: list[dict], pf: list[dict], baseline: list[dict] | None = None) -> pd.DataFrame:
    rows = []
    for i, (s, p) in enumerate(zip(strategy, pf, strict=True)):
        rows.append({"date": s["day"], **s["record"], "perfect_foresight_eur": p["record"]["total_eur"],
                     **({"baseline_eur": baseline[i]["record"]["total_eur"]} if baseline is not None else {})})
    df = pd.DataFrame(rows)
    streams = [f"{k}_eur" for k in STREAM_ORDER]
    extra = [c for c in df.columns if c.endswith("_eur") and c not in streams and c not in BENCHMARK_COLUMNS]
    first = ["date", *streams, *extra, *[c for c in BENCHMARK_COLUMNS if c in df]]
    for c in streams:
        if c not in df:
            df[c] = 0.0
    return df[first + [c for c in df.columns if c not in first]]


def _timeseries(strategy: list[dict], pf: list[dict]) -> pd.DataFrame:
    ts = pd.concat([d["timeseries"] for d in strategy])
    pts = pd.concat([d["timeseries"] for d in pf])
    ts["pf_grid_import_mw"] = pts["grid_import_mw"].reindex(ts.index).to_numpy()
    ts["pf_grid_export_mw"] = pts["grid_export_mw"].reindex(ts.index).to_numpy()
    lead = [c for c in ("price_eur_per_mwh", "position_mw", "intraday_mw", "imbalance_mw") if c in ts]
    return ts[lead + [c for c in ts.columns if c not in lead]]


def _tariff_windows(case) -> list[dict]:
    out = []
    for t in case.tariffs:
        w = getattr(t, "window", None)
        if w is not None:
            out.append({"name": t.name or t.kind, "months": list(w.months), "weekdays": list(w.weekdays),
                        "hours": list(w.hours)})
    return out


def _resume_counts(chains: dict[str, list[dict]]) -> dict:
    """``resumed_days``: days loaded from checkpoints in every chain; ``computed_days``: the others;
    ``stale_days``: days computed although a checkpoint existed (an input of theirs or of an earlier
    day changed); ``resumed_by_chain``: days loaded per chain (an interrupted run may have finished
    more days of one chain than of the other)."""
    lists = {name: c for name, c in chains.items()}
    n = len(next(iter(lists.values())))
    resumed = sum(all(c[i].get("resumed", False) for c in lists.values()) for i in range(n))
    stale = sum(any(c[i].get("stale", False) for c in lists.values()) for i in range(n))
    return {"resumed_days": resumed, "computed_days": n - resumed, "stale_days": stale,
            "resumed_by_chain": {name: sum(d.get("resumed", False) for d in c) for name, c in lists.items()}}


def resume_message(summary: dict, out_dir) -> str:
    """One line on what a run took from the checkpoints in ``out_dir``."""
    n, resumed = summary["n_days"], summary.get("resumed_days", 0)
    computed, stale = summary.get("computed_days", n), summary.get("stale_days", 0)
    by_chain = summary.get("resumed_by_chain") or {}
    if resumed == 0 and stale == 0 and not any(by_chain.values()):
        return f"computed {n} day{'s' if n != 1 else ''} (no checkpoints to resume in {out_dir})"
    head = f"resumed {resumed} of {n} days from {out_dir}"
    if len(set(by_chain.values())) > 1:
        head += " (" + ", ".join(f"{c.replace('_', ' ')} {k}" for c, k in by_chain.items()) + ")"
    parts = [head]
    if stale:
        parts.append(f"recomputed {stale} (inputs changed)")
    if computed - stale:
        parts.append(f"computed {computed - stale} (no checkpoint)")
    return "; ".join(parts)


def _baseline_keys(case, daily: pd.DataFrame, total: float, pf: float) -> dict:
    """``baseline`` (its name), ``baseline_eur`` (its result over the days), ``value_added_eur``
    (the strategy's result minus it), ``baseline_capture_ratio`` (its share of perfect foresight,
    as ``capture_ratio``) and ``value_capture_ratio``: the share of what perfect foresight gains
    over the baseline that the strategy gained, (strategy - baseline) / (perfect foresight -
    baseline), defined where that gain is positive (also for a consumer site whose results are all
    costs, where ``capture_ratio`` is not); nothing without a baseline. A case with SEK tariffs
    (a tariff field named in SEK) also gets ``baseline_sek`` and ``value_added_sek``, at the case's
    ``sek_per_eur``."""
    name = settings(case).baseline
    if name is None or "baseline_eur" not in daily:
        return {}
    base = float(daily["baseline_eur"].sum())
    out = {"baseline": name, "baseline_eur": base, "value_added_eur": total - base,
           "baseline_capture_ratio": base / pf if pf > 1e-9 else None,
           "value_capture_ratio": (total - base) / (pf - base) if pf - base > 1e-9 else None}
    if any(_names_sek(t.model_dump()) for t in case.tariffs):
        rate = case.case.sek_per_eur
        out.update(baseline_sek=base * rate, value_added_sek=(total - base) * rate)
    return out


def _names_sek(value) -> bool:
    """Whether a dumped spec has a field in SEK (a key with ``sek`` in it, at any depth)."""
    if isinstance(value, dict):
        return any("sek" in str(k) or _names_sek(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_names_sek(v) for v in value)
    return False


def _summary(case, strategy: str, days, daily: pd.DataFrame, warnings: list[str], resume: dict) -> dict:
    from bidopt.backtest.capacity import summary_keys

    streams = {c[:-4]: float(daily[c].sum()) for c in daily.columns
               if c.endswith("_eur") and c not in BENCHMARK_COLUMNS}
    total = float(daily["total_eur"].sum())
    pf = float(daily["perfect_foresight_eur"].sum())
    return {
        "case": case.case.name,
        "strategy": strategy,
        "zone": case.case.zone,
        "start": str(days[0]),
        "end": str(days[-1]),
        "n_days": len(days),
        "mtu_minutes": case.case.mtu_minutes,
        "objective_eur": total,
        "revenue_eur": streams,
        "perfect_foresight_eur": pf,
        # the share of the perfect-foresight result the strategy reached; undefined unless the
        # benchmark earns money
        "capture_ratio": total / pf if pf > 1e-9 else None,
        **_baseline_keys(case, daily, total, pf),
        "warnings": warnings,
        "tariff_windows": _tariff_windows(case),
        # per capacity product: its own keys (FCR: "fcr_rules", the auction rules the days were settled
        # under) and "capacity_products" (revenue, offered and accepted MW h, days per pricing rule)
        **summary_keys(case, days, daily),
        "assumptions": ["price-taker: the site's orders do not move any clearing price",
                        "no look-ahead: forecasts use only data published before each gate",
                        "loads, PV and EV sessions are known at delivery as in the case data"],
        # the only keys that differ between a resumed and an uninterrupted run
        **resume,
    }


def _mtu_note(case, days, mtus: list[int]) -> list[str]:
    """A warning when days ran at another MTU than the case's (``day.day_mtu``)."""
    other = [(d, m) for d, m in zip(days, mtus, strict=True) if m != case.case.mtu_minutes]
    if not other:
        return []
    by_mtu: dict[int, list] = {}
    for d, m in other:
        by_mtu.setdefault(m, []).append(d)
    parts = [f"{len(ds)} day(s) from {ds[0]} to {ds[-1]} ran at {m} minutes ({dayahead_mtu_note(ds[0])})"
             for m, ds in sorted(by_mtu.items())]
    return [f"MTU: no {case.case.mtu_minutes}-minute day-ahead product on some days, so they ran at the "
            f"exchange's MTU: {'; '.join(parts)}"]


def _assemble(case, strategy_name, days, chains: dict[str, list[dict]], out_dir: Path | None,
              week: str | None) -> BacktestResult:
    from bidopt.backtest.day import day_mtu

    s, p = chains["strategy"], chains["perfect_foresight"]
    daily = _daily(s, p, chains.get("baseline"))
    mtus = [day_mtu(case, d, strategy_name) for d in days]
    daily["mtu_minutes"] = mtus
    ts = _timeseries(s, p)
    warnings = sorted({w for d in s for w in d["warnings"]}) + _mtu_note(case, days, mtus)
    warnings = notes.backtest_warnings(warnings, [d["warnings"] for d in s], ts)
    summary = _summary(case, strategy_name, days, daily, warnings, _resume_counts(chains))
    if out_dir is not None:
        from bidopt.backtest.report import build_html

        ckpt_dir = out_dir / ".checkpoints"
        timing = pd.DataFrame({"date": [d["day"] for d in s], "strategy_seconds": [d["seconds"] for d in s],
                               "perfect_foresight_seconds": [d["seconds"] for d in p],
                               **({"baseline_seconds": [d["seconds"] for d in chains["baseline"]]}
                                  if "baseline" in chains else {})})
        output.write_all(out_dir, {
            "daily.csv": lambda f: output.table_csv(daily, f),
            "timeseries.csv": lambda f: output.schedule_csv(ts, f),
            "summary.json": lambda f: output.summary_json(summary, f),
            "timing.csv": lambda f: timing.to_csv(f, index=False, float_format="%.3f"),
            # from the files staged beside it: the five files are published together
            "report.html": lambda f: f.write_bytes(build_html(f.parent, week, checkpoints=ckpt_dir).encode("utf-8")),
        })
    return BacktestResult(daily, summary, ts, out_dir)


# --- entry point ---------------------------------------------------------------------------------------


def backtest(case: Case, start, end, out_dir=None, strategy: str | None = None, workers: int = 1,
             scheduler: str | None = None, progress: bool = False, fresh: bool = False,
             run_id: str | None = None) -> BacktestResult:
    """Backtest ``case`` over the local delivery days ``start``..``end`` (inclusive).

    ``out_dir``: write the contract files there and checkpoint each day (a rerun reuses the days
    whose inputs are unchanged, see the module docstring; ``fresh`` deletes the checkpoints first).
    ``workers``: run the strategy and perfect-foresight chains on a local Dask cluster of that many
    processes (1: in this process); ``scheduler``: the address of an existing Dask scheduler instead.
    ``run_id``: names this run in its checkpoints (default: a new one), so that a chain rerun after
    a lost Dask worker counts the days it reloads from its own lost attempt as computed, not resumed."""
    st = settings(case)
    strategy = strategy or st.strategy
    if strategy not in STRATEGIES:
        raise InputError(None, "--strategy", f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    days = days_between(start, end)
    _check_report_week(case, st, days)  # before the run, not after it
    if out_dir is None:
        return _backtest(case, strategy, days, None, workers, scheduler, progress, fresh, st, run_id)
    with output.locked(out_dir):  # one writer per folder, for the checkpoints and the final files
        return _backtest(case, strategy, days, Path(out_dir), workers, scheduler, progress, fresh, st, run_id)


def _check_report_week(case, st: BacktestSettings, days: list[dt.date]) -> None:
    """``[backtest] report_week``: a YYYY-MM-DD day within the run (the report plots that week)."""
    week = st.report_week  # a date: parsed when the case was loaded
    if week is None:
        return
    if not days[0] <= week <= days[-1]:
        raise InputError(case.label, "backtest.report_week",
                         f"{week} is outside the backtest ({days[0]} to {days[-1]})")


def _backtest(case, strategy, days, out_dir: Path | None, workers, scheduler, progress, fresh,
              st: BacktestSettings, run_id: str | None = None) -> BacktestResult:
    ckpt = None
    if out_dir is not None:
        ckpt = out_dir / ".checkpoints"
        if fresh and ckpt.exists():
            shutil.rmtree(ckpt)
    names = ("perfect_foresight",) if strategy == "perfect_foresight" else CHAINS  # one chain serves both
    if st.baseline is not None and st.baseline != strategy:  # a baseline run as the strategy is that chain
        names = (*names, "baseline")
    run_id = run_id or uuid.uuid4().hex
    if workers > 1 or scheduler:
        from bidopt.cluster import run_parallel

        tasks = {name: (run_chain, case, name, days, strategy, ckpt, None, run_id) for name in names}
        chains = run_parallel(tasks, workers=workers, scheduler=scheduler, progress=progress)
    else:
        chains = _run_serial(case, names, days, strategy, ckpt, progress, run_id)
    chains.setdefault("strategy", chains["perfect_foresight"])
    if st.baseline is not None:
        chains.setdefault("baseline", chains["strategy"])
    return _assemble(case, strategy, days, chains, out_dir, st.report_week and st.report_week.isoformat())


def _run_serial(case, names, days, strategy, ckpt, progress, run_id=None) -> dict[str, list[dict]]:
    if not progress:
        return {name: run_chain(case, name, days, strategy, ckpt, run_id=run_id) for name in names}
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} days"),
                  TimeRemainingColumn(), transient=False) as bar:
        out = {}
        for name in names:
            task = bar.add_task(name.replace("_", " "), total=len(days))
            out[name] = run_chain(case, name, days, strategy, ckpt, run_id=run_id,
                                  progress=lambda _c, task=task: bar.advance(task))
        return out


def summary_numbers(result: BacktestResult) -> dict:
    """Key figures for one comparison-table row."""
    s = result.summary
    return {"case": s["case"], "strategy": s["strategy"], "start": s["start"], "end": s["end"],
            "objective_eur": s["objective_eur"], "perfect_foresight_eur": s["perfect_foresight_eur"],
            "capture_ratio": s["capture_ratio"] if s["capture_ratio"] is not None else np.nan,
            **({"baseline": s["baseline"], "baseline_eur": s["baseline_eur"], "value_added_eur": s["value_added_eur"]}
               if s.get("baseline") else {})}
