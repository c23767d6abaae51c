"""Sweeps: many backtests (cases x strategies x periods from a sweep file) as one comparison table.

``sweep`` runs the jobs in this process, on a local Dask cluster of ``workers`` single-threaded
processes, or on an existing cluster at ``scheduler``.

The tasks run through ``bidopt.cluster.run_parallel`` (a bad or unreachable address is exit 2
within seconds). A task whose worker dies is rerun by Dask on another worker (up to
``distributed.scheduler.allowed-failures`` times); the backtest's checkpoints let the rerun resume
where the lost attempt stopped, with the same results (``chain.run_chain``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bidopt.cluster import run_parallel
from bidopt.errors import InputError


def read_sweep(path: Path) -> list[dict]:
    """Jobs of a sweep file (``bidopt.backtest.sweep_file``: ``cases = [paths]``, ``strategies =
    [...]``, ``[[periods]] start, end``), case paths resolved against the sweep file's folder.

    Every problem is an ``InputError`` naming the sweep file and the key (``strategies[1]``,
    ``periods[0].end``), found before any backtest runs."""
    from bidopt.backtest import sweep_file

    return sweep_file.read(path).jobs(Path(path).parent)


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

    # one run id per job, kept if Dask reruns the job after losing its worker (chain.run_chain)
    tasks = {f"{i:03d}": (runner or _sweep_job, {**j, "run_id": uuid.uuid4().hex}, Path(out_dir))
             for i, j in enumerate(jobs)}
    if workers > 1 or scheduler:
        rows = run_parallel(tasks, workers, scheduler, progress)
    else:
        rows = {k: t[0](*t[1:]) for k, t in tasks.items()}
    table = pd.DataFrame([rows[k] for k in tasks])
    output.write_all(out_dir, {"comparison.csv": lambda f: output.table_csv(table, f)})
    return table
