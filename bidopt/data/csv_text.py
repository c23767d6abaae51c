"""Reading a CSV file as text cells, with one clear error for files that cannot be used.

Every loader (prices, reserve prices, EV sessions, scenarios, local-time measurements) reads its
file through ``read_text_csv`` (or ``read_text_table``) and then parses the cells itself; a missing,
empty or malformed file is an ``InputError`` naming the file.

Lines are counted as an editor shows them: from 1, header line(s) included, a quoted field running
over several lines counting each of them; a row is named by the line it starts on. Blank lines are
skipped (they are not rows) but counted.

Field counts are checked (``check_fields``):

* a row with **more fields than the header** is an error naming its line. This is what a decimal
  comma in a comma-separated file looks like (``2023-01-01T00:00:00Z,9,57``): the value would be cut
  at the comma;
* a row with **fewer fields** than the other rows is an error naming its line and the missing
  columns. Columns that no row fills are header-only labels and may be left out by every row: the
  ``BZN|SE3`` column of an ENTSO-E export, the empty column after the trailing ``;`` of a Mimer
  header. A field left empty (``a,,c``) is not missing; the loader decides what an empty cell means.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.errors import InputError

# pandas' default NA strings (``keep_default_na=True``), as ``pd.read_csv`` reads them
NA_VALUES = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
     "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _open_text(path: Path):
    """A text handle on ``path`` (UTF-8, BOM dropped, line endings untranslated); compressed files by
    name (``.gz``, ``.bz2``, ``.xz``, a ``.zip`` holding one file)."""
    suffix = path.suffix.lower()
    if suffix in _OPENERS:
        return _OPENERS[suffix](path, "rt", encoding="utf-8-sig", newline="")
    if suffix == ".zip":
        z = zipfile.ZipFile(path)
        names = [n for n in z.namelist() if not n.endswith("/")]
        if len(names) != 1:
            z.close()
            raise InputError(path, None, f"cannot read CSV: a .zip must hold one file, this one holds {len(names)}")
        return io.TextIOWrapper(z.open(names[0]), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _failure(path, e: Exception) -> InputError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return InputError(path, None, f"cannot read CSV: {msg}")


def header_separator(path: str | Path) -> str:
    """``;`` when the header line has more semicolons than commas (Mimer, Excel exports), else ``,``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    try:
        with _open_text(p) as f:
            header = ""
            for header in f:
                if header.strip():
                    break
    except (OSError, EOFError, UnicodeDecodeError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise _failure(path, e) from None
    return ";" if header.count(";") > header.count(",") else ","


@dataclass
class TextTable:
    """A CSV file as text cells (``frame``) with, per row, the line it starts on (``lines``) and its
    number of fields (``fields``); ``header_line`` is the header's line."""

    file: str
    frame: pd.DataFrame
    lines: np.ndarray
    fields: np.ndarray
    header_line: int
    sep: str

    def check_fields(self, keep: np.ndarray | None = None) -> None:
        """Field counts of the rows (all, or those where ``keep``) as the module describes."""
        check_fields(self, keep)


def _column_names(header: list[str]) -> list[str]:
    """Header cells -> column names as pandas makes them: stripped, ``Unnamed: i`` for an empty
    name, ``name.1``, ``name.2`` for repeats."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip() or f"Unnamed: {i}"
        base = name
        while name in seen:
            seen[base] += 1
            name = f"{base}.{seen[base]}"
        seen.setdefault(name, 0)
        names.append(name)
    return names


def read_text_table(path: str | Path, sep: str | None = None, skipinitialspace: bool = False,
                    keep_default_na: bool = True) -> TextTable:
    """All cells as text with their line numbers; field counts are not checked (``check_fields``).

    ``sep`` None: the header decides (``header_separator``). With ``keep_default_na`` the cells pandas
    reads as NA (``NA_VALUES``: empty, ``N/A``, ``nan``, ...) are NaN, else they stay text; a field a
    short row lacks is an empty cell (NaN with ``keep_default_na``). Column names are stripped.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(path, None, "file not found" if not p.exists() else "not a file")
    sep = header_separator(p) if sep is None else sep
    header: list[str] | None = None
    header_line = 0
    records: list[list[str]] = []
    starts: list[int] = []
    try:
        with _open_text(p) as f:
            reader = csv.reader(f, delimiter=sep, skipinitialspace=skipinitialspace)
            end = 0  # last line read so far
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # a blank line
                if header is None:
                    header, header_line = record, start
                else:
                    records.append(record)
                    starts.append(start)
    except (csv.Error, OSError, EOFError, UnicodeDecodeError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise _failure(path, e) from None
    if header is None:
        raise InputError(path, None, "empty file")

    names = _column_names(header)
    n = len(names)
    fields = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records))
    columns: dict[str, pd.Series] = {}
    if records:
        width = max(n, int(fields.max()))
        short = fields < width
        if short.any():
            pad = [""] * width  # as pandas: an absent field is an empty cell
            records = [r + pad[len(r):] if len(r) < width else r for r in records]
        cells = np.array(records, dtype=object)[:, :n]
        for j, name in enumerate(names):
            col = cells[:, j]
            if keep_default_na:
                col = np.where(pd.Series(col).isin(NA_VALUES).to_numpy(), None, col)
            columns[name] = pd.Series(col, dtype=str)
    else:
        columns = {name: pd.Series([], dtype=str) for name in names}
    frame = pd.DataFrame(columns)
    return TextTable(str(path), frame, np.asarray(starts, dtype=np.int64), fields, header_line, sep)


def check_fields(table: TextTable, keep: np.ndarray | None = None) -> None:
    """An ``InputError`` naming the file and ``line N`` for the first row (of those where ``keep``)
    with more fields than the header, or fewer than the widest row fills."""
    names = list(table.frame.columns)
    n = len(names)
    fields, lines = table.fields, table.lines
    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        fields, lines = fields[keep], lines[keep]
    if len(fields) == 0:
        return
    extra = fields > n
    if extra.any():
        i = int(np.argmax(extra))
        hint = ""
        if table.sep == ",":
            hint = ("; a decimal comma in a comma-separated file? write decimal points, or separate the "
                    "fields with ';'")
        raise InputError(
            table.file, f"line {int(lines[i])}",
            f"{int(fields[i])} fields, but the header (line {table.header_line}) has {n}{hint}",
        )
    width = int(fields.max())
    short = fields < width
    if short.any():
        i = int(np.argmax(short))
        k = int(fields[i])
        missing = ", ".join(names[k:width])
        raise InputError(
            table.file, f"line {int(lines[i])}",
            f"{k} field{'s' if k != 1 else ''}, but other rows have {width}: no {missing}",
        )


def read_text_csv(path: str | Path, sep: str | None = None, skipinitialspace: bool = False,
                  keep_default_na: bool = True) -> pd.DataFrame:
    """All cells as text (UTF-8, BOM allowed), column names stripped, field counts checked
    (``check_fields``). ``sep`` None: the header decides (``,`` or ``;``)."""
    table = read_text_table(path, sep=sep, skipinitialspace=skipinitialspace, keep_default_na=keep_default_na)
    table.check_fields()
    return table.frame
