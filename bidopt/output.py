"""Writing result files atomically: all files of a command appear together or not at all.

Files are written to a temporary folder beside the target and moved into place only after every
one of them was written; on any error nothing new is left in the output folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def schedule_csv(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "timestamp_utc"
    out.to_csv(path, float_format="%.6f")


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def summary_json(summary: dict, path: Path) -> None:
    path.write_text(json.dumps(_clean(summary), indent=2, sort_keys=False) + "\n")


def write_all(out_dir: Path, writers: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Run each writer on a temp path, then move all results into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".bidopt-", dir=out_dir))
    try:
        for name, write in writers.items():
            write(tmp / name)
        final = []
        for name in writers:
            os.replace(tmp / name, out_dir / name)
            final.append(out_dir / name)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
