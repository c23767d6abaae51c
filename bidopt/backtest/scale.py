"""Independent backtest work in parallel on ``dask.distributed``.

``run_parallel`` runs named tasks (a function and its arguments, e.g. the strategy and the
perfect-foresight chain of one backtest, or the jobs of a sweep) on a local cluster of ``workers``
single-threaded processes, or on an existing cluster at ``scheduler``; results come back by name,
so the outcome does not depend on which task finished first. ``sweep`` runs cases x strategies x
periods from a sweep file and returns one comparison table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bidopt.errors import InputError


def _client(workers: int, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except OSError as e:
            raise InputError(None, "--scheduler", f"cannot reach a Dask scheduler at {scheduler}: {e}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_parallel(tasks: dict[str, tuple], workers: int = 2, scheduler: str | None = None,
                 progress: bool = False) -> dict:
    """{name: fn(*args)} for ``tasks`` = {name: (fn, *args)}, computed on Dask workers."""
    from dask.distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        futures = {client.submit(t[0], *t[1:], key=f"bidopt-{name}-{id(tasks)}", pure=False): name
                   for name, t in tasks.items()}
        results = {}
        bar = _bar(progress, len(futures))
        for fut in as_completed(list(futures)):
            results[futures[fut]] = fut.result()  # re-raises a task's error (InputError keeps its exit code)
            if bar:
                bar[0].advance(bar[1])
        if bar:
            bar[0].stop()
        return {name: results[name] for name in tasks}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _bar(progress: bool, total: int):
    if not progress:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("tasks"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    p.start()
    return p, p.add_task("tasks", total=total)


def read_sweep(path: Path) -> list[dict]:
    """Jobs of a sweep file: ``cases = [paths]``, ``strategies = [...]``, ``[[periods]] start, end``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, None, f"not valid TOML: {e}") from None
    for key in ("cases", "periods"):
        if not data.get(key):
            raise InputError(path, key, "missing or empty")
    unknown = set(data) - {"cases", "strategies", "periods"}
    if unknown:
        raise InputError(path, sorted(unknown)[0], "unknown key; known: cases, strategies, periods")
    jobs = []
    for c in data["cases"]:
        cp = Path(c) if Path(c).is_absolute() else path.parent / c
        for s in data.get("strategies", ["bid"]):
            for i, p in enumerate(data["periods"]):
                if not isinstance(p, dict) or "start" not in p or "end" not in p:
                    raise InputError(path, f"periods[{i}]", "needs start and end")
                jobs.append({"case": cp, "strategy": s, "start": str(p["start"]), "end": str(p["end"])})
    return jobs


def _sweep_job(job: dict, out_dir: Path) -> dict:
    from bidopt.backtest.engine import backtest, summary_numbers
    from bidopt.case import load_case

    case = load_case(job["case"])
    where = Path(out_dir) / f"{case.case.name}-{job['strategy']}-{job['start']}_{job['end']}"
    return summary_numbers(backtest(case, job["start"], job["end"], out_dir=where, strategy=job["strategy"]))


def sweep(path: Path, out_dir: Path, workers: int = 1, scheduler: str | None = None, progress: bool = False,
          runner: Callable | None = None) -> pd.DataFrame:
    """Run every job of the sweep file; write and return ``out_dir/comparison.csv``."""
    from bidopt import output

    jobs = read_sweep(path)
    tasks = {f"{i:03d}": (runner or _sweep_job, j, Path(out_dir)) for i, j in enumerate(jobs)}
    if workers > 1 or scheduler:
        rows = run_parallel(tasks, workers, scheduler, progress)
    else:
        rows = {k: t[0](*t[1:]) for k, t in tasks.items()}
    table = pd.DataFrame([rows[k] for k in tasks])
    output.write_all(out_dir, {"comparison.csv": lambda f: output.table_csv(table, f)})
    return table
