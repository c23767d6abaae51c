"""Sweeps: many backtests (cases x strategies x periods from a sweep file) as one comparison table.

``sweep`` runs the jobs in this process, on a local Dask cluster of ``workers`` single-threaded
processes, or on an existing cluster at ``scheduler``.

The tasks run through ``bidopt.cluster.run_parallel`` (a bad or unreachable address is exit 2
within seconds). A task whose worker dies is rerun by Dask on another worker (up to
``distributed.scheduler.allowed-failures`` times); the backtest's checkpoints let the rerun resume
where the lost attempt stopped, with the same results (``engine.run_chain``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bidopt.cluster import run_parallel
from bidopt.errors import InputError


def read_sweep(path: Path) -> list[dict]:
    """Jobs of a sweep file: ``cases = [paths]``, ``strategies = [...]``, ``[[periods]] start, end``.

    Every problem is an ``InputError`` naming the sweep file and the key (``strategies[1]``,
    ``periods[0].end``), found before any backtest runs."""
    import datetime as dt

    from bidopt.backtest.engine import STRATEGIES
    from bidopt.case import read_toml
    from bidopt.time import check_day_range

    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "file not found")
    data = read_toml(path)
    for key in ("cases", "periods"):
        if not data.get(key):
            raise InputError(path, key, "missing or empty")
    unknown = set(data) - {"cases", "strategies", "periods"}
    if unknown:
        raise InputError(path, sorted(unknown)[0], "unknown key; known: cases, strategies, periods")
    strategies = data.get("strategies", ["bid"])
    for key, values in (("cases", data["cases"]), ("strategies", strategies), ("periods", data["periods"])):
        if not isinstance(values, list) or not values:
            raise InputError(path, key, "must be a non-empty array")
    for i, c in enumerate(data["cases"]):
        if not isinstance(c, str) or not c.strip():
            raise InputError(path, f"cases[{i}]", "must be the path of a case file or folder (a string)")
    for i, st in enumerate(strategies):
        if st not in STRATEGIES:
            raise InputError(path, f"strategies[{i}]", f"unknown strategy; known: {', '.join(STRATEGIES)}")
    periods = []
    for i, p in enumerate(data["periods"]):
        if not isinstance(p, dict) or "start" not in p or "end" not in p:
            raise InputError(path, f"periods[{i}]", "needs start and end")
        if set(p) - {"start", "end"}:
            raise InputError(path, f"periods[{i}].{sorted(set(p) - {'start', 'end'})[0]}", "unknown key; known: start, end")
        days = {}
        for k in ("start", "end"):
            v = p[k]
            try:
                d = v if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else dt.date.fromisoformat(v)
                days[k] = check_day_range(d, f"periods[{i}].{k}")
            except InputError as e:
                raise InputError(path, e.field, e.message) from None
            except (TypeError, ValueError):
                raise InputError(path, f"periods[{i}].{k}", "must be a date (YYYY-MM-DD)") from None
        if days["end"] < days["start"]:
            raise InputError(path, f"periods[{i}].end", f"{days['end']} is before start {days['start']}")
        periods.append(days)
    jobs = []
    for c in data["cases"]:
        cp = Path(c) if Path(c).is_absolute() else path.parent / c
        for st in strategies:
            for days in periods:
                jobs.append({"case": cp, "strategy": st, "start": str(days["start"]), "end": str(days["end"])})
    return jobs


def _sweep_job(job: dict, out_dir: Path) -> dict:
    from bidopt import output
    from bidopt.backtest.engine import backtest, summary_numbers
    from bidopt.case import load_case

    case = load_case(job["case"])
    where = output.child(out_dir, job.get("folder") or job_folder(case.case.name, job), "[case] name")
    return summary_numbers(backtest(case, job["start"], job["end"], out_dir=where, strategy=job["strategy"],
                                    run_id=job.get("run_id")))


def job_folder(case_name: str, job: dict) -> str:
    """A job's folder under ``--out``: ``<case name>-<strategy>-<start>_<end>``, slugged to one safe
    path component (``output.slug``: a name like ``../../x`` or ``/tmp/x`` stays inside ``--out``)."""
    from bidopt import output

    return output.slug(f"{case_name}-{job['strategy']}-{job['start']}_{job['end']}", limit=120)


def _job_folders(path: Path, jobs: list[dict]) -> list[dict]:
    """Each job with its ``folder``; two jobs that would share one is an error naming the sweep file."""
    from bidopt.case import load_case

    names: dict[Path, str] = {}
    seen: dict[str, int] = {}
    out = []
    for i, j in enumerate(jobs):
        if j["case"] not in names:
            names[j["case"]] = load_case(j["case"]).case.name
        folder = job_folder(names[j["case"]], j)
        if folder in seen:
            raise InputError(path, "cases", f"jobs {seen[folder]} and {i} would both write to the folder "
                                            f"{folder!r} (give the cases different [case] names)")
        seen[folder] = i
        out.append({**j, "folder": folder})
    return out


def sweep(path: Path, out_dir: Path, workers: int = 1, scheduler: str | None = None, progress: bool = False,
          runner: Callable | None = None) -> pd.DataFrame:
    """Run every job of the sweep file; write and return ``out_dir/comparison.csv``."""
    from bidopt import output

    jobs = _job_folders(path, read_sweep(path))
    with output.locked(out_dir):
        return _sweep(jobs, out_dir, workers, scheduler, progress, runner)


def _sweep(jobs, out_dir, workers, scheduler, progress, runner) -> pd.DataFrame:
    from bidopt import output

    # one run id per job, kept if Dask reruns the job after losing its worker (engine.run_chain)
    tasks = {f"{i:03d}": (runner or _sweep_job, {**j, "run_id": uuid.uuid4().hex}, Path(out_dir))
             for i, j in enumerate(jobs)}
    if workers > 1 or scheduler:
        rows = run_parallel(tasks, workers, scheduler, progress)
    else:
        rows = {k: t[0](*t[1:]) for k, t in tasks.items()}
    table = pd.DataFrame([rows[k] for k in tasks])
    output.write_all(out_dir, {"comparison.csv": lambda f: output.table_csv(table, f)})
    return table
