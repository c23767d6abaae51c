"""Writing result files atomically: all files of a command appear together or not at all.

Files are written to a temporary folder beside the target and moved into place only after every
one of them was written; on any error nothing new is left in the output folder.

Numbers in CSV files are clean (``clean_numbers``, the one place every CSV writer goes through):
floats rounded to 6 decimals (1 W, 1 Wh, 1e-6 EUR), so solver noise and binary fractions do not
show (``0.30000000000000004`` is written ``0.3``, a 0.1 MW lot times 3 is ``0.3``), and no negative
zero (``-0.0`` and ``-0.000000`` become ``0``). Schedules keep six fixed decimals per value.
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


DECIMALS = 6  # in MW, MWh and EUR: 1 W, 1 Wh, 1e-6 EUR


def _clean_value(v, decimals: int):
    if isinstance(v, float) and not isinstance(v, bool):  # np.float64 too
        return round(v, decimals) + 0.0 if math.isfinite(v) else v
    return v


def clean_numbers(df: pd.DataFrame, decimals: int = DECIMALS) -> pd.DataFrame:
    """A copy of ``df`` whose floats (float columns, and floats inside object columns) are rounded
    to ``decimals`` and have no negative zero. Other columns are left as they are."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_float_dtype(col):
            out[c] = col.round(decimals) + 0.0  # -0.0 + 0.0 == +0.0
        elif col.dtype == object:
            out[c] = col.map(lambda v: _clean_value(v, decimals))
    return out


def table_csv(df: pd.DataFrame, path: Path, **kwargs) -> None:
    """``df`` as CSV without its index (unless ``index=True``), with clean numbers."""
    kwargs.setdefault("index", False)
    clean_numbers(df).to_csv(path, lineterminator="\n", **kwargs)


def schedule_csv(df: pd.DataFrame, path: Path) -> None:
    """A schedule (or a backtest's time series): ``timestamp_utc`` then one column per series, six
    fixed decimals, no negative zero."""
    out = clean_numbers(df)
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
