"""Reading a CSV file as text cells, with one clear error for files that cannot be used.

Every loader (prices, reserve prices, EV sessions, scenarios, local-time measurements) reads its
file through ``read_text_csv`` and then parses the cells itself; a missing, empty or malformed file
is an ``InputError`` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bidopt.errors import InputError


def header_separator(path: str | Path) -> str:
    """``;`` when the header line has more semicolons than commas (Mimer, Excel exports), else ``,``."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline()
    except OSError as e:
        raise InputError(path, None, f"cannot read CSV: {e}") from None
    return ";" if header.count(";") > header.count(",") else ","


def read_text_csv(path: str | Path, **kwargs) -> pd.DataFrame:
    """All cells as text (UTF-8, BOM allowed), column names stripped; ``kwargs`` go to ``pd.read_csv``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    try:
        df = pd.read_csv(p, dtype=str, encoding="utf-8-sig", index_col=False, **kwargs)
    except pd.errors.EmptyDataError:
        raise InputError(path, None, "empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, None, f"cannot read CSV: {msg}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df
