"""The rolling backtest: every delivery day from start to end, in order, with state carried.

Two chains run over the same days, each with its own state (SoC, month-to-date peaks, ...):
the **strategy** (``bidopt.backtest.day.strategy_day``: bid, clear, deliver, settle) and the
**perfect-foresight** benchmark (``perfect_foresight_day``: planned on the realised prices). They
are independent, so ``workers >= 2`` runs them in parallel on a ``dask.distributed`` cluster.

Robust runs: each finished day is written as a checkpoint (``DIR/.checkpoints/<chain>/<day>.json``:
the day's record, its per-MTU series and the state after it) by an atomic rename; a run that finds
checkpoints of the same case and period resumes after the last one. Floats go through JSON
unchanged, so a resumed run writes byte-identical files. Outputs (DESIGN contract): ``daily.csv``,
``timeseries.csv``, ``summary.json`` and ``report.html``, written together at the end.
Money EUR (positive = earned), energy MWh, power MW.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import ValidationError

from bidopt import notes, output
from bidopt import time as btime
from bidopt.backtest.state import EMPTY
from bidopt.bids.contracts import dayahead_mtu_note
from bidopt.case import Case, Strict
from bidopt.data import sources
from bidopt.errors import InputError
from bidopt.site import STREAM_ORDER

STRATEGIES = ("bid", "expected", "perfect_foresight")
CHAINS = ("strategy", "perfect_foresight")


class BacktestSettings(Strict):
    """``[backtest]`` in a case file."""

    strategy: Literal["bid", "expected", "perfect_foresight"] = "bid"
    # intraday trades at delivery: "auto" = only with an intraday price series ([prices] intraday);
    # with the day-ahead price as proxy, intraday would re-optimise the day at known prices for the
    # fee and hide what the day-ahead bid was worth
    intraday: Literal["auto", "on", "off"] = "auto"
    report_week: str | None = None  # first day (YYYY-MM-DD) of the week the report plots


def intraday_on(case) -> bool:
    mode = settings(case).intraday
    return mode == "on" or (mode == "auto" and case.prices.intraday is not None)


def settings(case) -> BacktestSettings:
    try:
        return BacktestSettings.model_validate(getattr(case, "backtest", None) or {})
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(case.label, "backtest." + ".".join(map(str, err["loc"])), err["msg"]) from None


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


# --- one chain --------------------------------------------------------------------------------------


def _fingerprint(case: Case, chain: str, strategy: str, start: dt.date) -> str:
    """What a checkpoint belongs to: the case's content, the chain, the strategy and the start day."""
    text = case.model_dump_json() + f"|{chain}|{strategy}|{start}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ts_to_json(ts: pd.DataFrame) -> dict:
    return {"index": list(ts.index.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "columns": {c: [float(v) for v in ts[c].to_numpy(float)] for c in ts.columns}}


def _ts_from_json(d: dict) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(d["index"], utc=True), name="timestamp_utc")
    return pd.DataFrame(d["columns"], index=idx)


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def run_chain(case: Case, chain: str, days: list[dt.date], strategy: str, ckpt_dir: Path | None,
              progress=None) -> list[dict]:
    """Run one chain over ``days``; returns per day {"day", "record", "timeseries", "warnings", "seconds"}.

    With ``ckpt_dir`` each day is checkpointed, and days already checkpointed (same fingerprint)
    are loaded instead of recomputed; the state comes from the last loaded day."""
    fp = _fingerprint(case, chain, strategy, days[0])
    folder = None
    if ckpt_dir is not None:
        folder = Path(ckpt_dir) / chain
        folder.mkdir(parents=True, exist_ok=True)
    # synthetic series generated once for the chain's days and the bid strategy's price history
    history = dt.timedelta(days=PRICE_HISTORY_DAYS)
    with sources.preloaded(case, btime.horizon_index(days[0] - history, days[-1], case.case.mtu_minutes,
                                                     case.case.timezone)):
        return _run_days(case, chain, days, strategy, folder, fp, progress)


PRICE_HISTORY_DAYS = 64  # the bid strategy's default look-back (56 days) plus its margin (8)


def _run_days(case: Case, chain: str, days: list[dt.date], strategy: str, folder: Path | None, fp: str,
              progress) -> list[dict]:
    from bidopt.backtest.day import day_mtu, perfect_foresight_day, strategy_day
    from bidopt.replan import Replanner

    state, out = EMPTY, []
    replanner = Replanner()  # this chain's built models, refreshed day by day
    for i, day in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else day + dt.timedelta(days=1)
        path = folder / f"{day}.json" if folder else None
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            if saved.get("fingerprint") == fp:
                state = saved["state"]
                out.append({**saved, "timeseries": _ts_from_json(saved["timeseries"])})
                if progress:
                    progress(chain)
                continue
        mtu = day_mtu(case, day, strategy)  # both chains: the MTU the strategy bids that day
        if chain == "strategy" and strategy != "perfect_foresight":
            o = strategy_day(case, day, state, strategy, next_day=nxt, trade_intraday=intraday_on(case),
                             mtu_minutes=mtu)
        else:
            o = perfect_foresight_day(case, day, state, next_day=nxt, replanner=replanner, mtu_minutes=mtu)
        state = o.state
        item = {"day": str(day), "record": o.record, "warnings": o.warnings, "seconds": o.seconds, "state": state}
        if path is not None:
            _write_json_atomic(path, {**item, "fingerprint": fp, "timeseries": _ts_to_json(o.timeseries)})
        out.append({**item, "timeseries": o.timeseries})
        if progress:
            progress(chain)
    return out


# --- assembling the outputs ---------------------------------------------------------------------------


def _daily(strategy: list[dict], pf: list[dict]) -> pd.DataFrame:
    rows = []
    for s, p in zip(strategy, pf, strict=True):
        rows.append({"date": s["day"], **s["record"], "perfect_foresight_eur": p["record"]["total_eur"]})
    df = pd.DataFrame(rows)
    streams = [f"{k}_eur" for k in STREAM_ORDER]
    extra = [c for c in df.columns if c.endswith("_eur") and c not in streams
             and c not in ("total_eur", "perfect_foresight_eur")]
    first = ["date", *streams, *extra, "total_eur", "perfect_foresight_eur"]
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


def _summary(case, strategy: str, days, daily: pd.DataFrame, warnings: list[str]) -> dict:
    streams = {c[:-4]: float(daily[c].sum()) for c in daily.columns
               if c.endswith("_eur") and c not in ("total_eur", "perfect_foresight_eur")}
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
        "warnings": warnings,
        "tariff_windows": _tariff_windows(case),
        "assumptions": ["price-taker: the site's orders do not move any clearing price",
                        "no look-ahead: forecasts use only data published before each gate",
                        "loads, PV and EV sessions are known at delivery as in the case data"],
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
    daily = _daily(s, p)
    mtus = [day_mtu(case, d, strategy_name) for d in days]
    daily["mtu_minutes"] = mtus
    ts = _timeseries(s, p)
    warnings = sorted({w for d in s for w in d["warnings"]}) + _mtu_note(case, days, mtus)
    warnings = notes.backtest_warnings(warnings, [d["warnings"] for d in s], ts)
    summary = _summary(case, strategy_name, days, daily, warnings)
    if out_dir is not None:
        from bidopt.backtest.report import write_report

        timing = pd.DataFrame({"date": [d["day"] for d in s], "strategy_seconds": [d["seconds"] for d in s],
                               "perfect_foresight_seconds": [d["seconds"] for d in p]})
        output.write_all(out_dir, {
            "daily.csv": lambda f: daily.to_csv(f, index=False),
            "timeseries.csv": lambda f: output.schedule_csv(ts, f),
            "summary.json": lambda f: output.summary_json(summary, f),
            "timing.csv": lambda f: timing.to_csv(f, index=False, float_format="%.3f"),
        })
        write_report(out_dir, week=week)
    return BacktestResult(daily, summary, ts, out_dir)


# --- entry point ---------------------------------------------------------------------------------------


def backtest(case: Case, start, end, out_dir=None, strategy: str | None = None, workers: int = 1,
             scheduler: str | None = None, progress: bool = False, fresh: bool = False) -> BacktestResult:
    """Backtest ``case`` over the local delivery days ``start``..``end`` (inclusive).

    ``out_dir``: write the contract files there and checkpoint each day (resumes from checkpoints of
    the same case, strategy and start; ``fresh`` deletes them first). ``workers``: run the strategy
    and perfect-foresight chains on a local Dask cluster of that many processes (1: in this
    process); ``scheduler``: the address of an existing Dask scheduler instead."""
    st = settings(case)
    strategy = strategy or st.strategy
    if strategy not in STRATEGIES:
        raise InputError(None, "--strategy", f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    days = days_between(start, end)
    ckpt = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        ckpt = out_dir / ".checkpoints"
        if fresh and ckpt.exists():
            shutil.rmtree(ckpt)
    names = ("perfect_foresight",) if strategy == "perfect_foresight" else CHAINS  # one chain serves both
    if workers > 1 or scheduler:
        from bidopt.backtest.scale import run_parallel

        tasks = {name: (run_chain, case, name, days, strategy, ckpt) for name in names}
        chains = run_parallel(tasks, workers=workers, scheduler=scheduler, progress=progress)
    else:
        chains = _run_serial(case, names, days, strategy, ckpt, progress)
    chains.setdefault("strategy", chains["perfect_foresight"])
    return _assemble(case, strategy, days, chains, out_dir, st.report_week)


def _run_serial(case, names, days, strategy, ckpt, progress) -> dict[str, list[dict]]:
    if not progress:
        return {name: run_chain(case, name, days, strategy, ckpt) for name in names}
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} days"),
                  TimeRemainingColumn(), transient=False) as bar:
        out = {}
        for name in names:
            task = bar.add_task(name.replace("_", " "), total=len(days))
            out[name] = run_chain(case, name, days, strategy, ckpt,
                                  progress=lambda _c, task=task: bar.advance(task))
        return out


def summary_numbers(result: BacktestResult) -> dict:
    """Key figures for one comparison-table row."""
    s = result.summary
    return {"case": s["case"], "strategy": s["strategy"], "start": s["start"], "end": s["end"],
            "objective_eur": s["objective_eur"], "perfect_foresight_eur": s["perfect_foresight_eur"],
            "capture_ratio": s["capture_ratio"] if s["capture_ratio"] is not None else np.nan}
