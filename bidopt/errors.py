"""Error types that map to the CLI's exit codes.

``InputError`` (exit 2) names the file and the field or row that is wrong; ``InfeasibleError``
(exit 3) names the asset and the constraint that cannot be met; ``SolverError`` (exit 3) is any
other solver failure.

What a message may quote: a value written in the case file itself, as a short printable excerpt
(``excerpt``); never a value read from a template or a data file (a template may be any TOML file
and a data path any file, so their content could be a secret): those messages name the file, the
key or line, and what is wrong, not the value. Labels read from a data file (column names, zones)
are listed only where they look like labels (``data_labels``).
"""

from __future__ import annotations

import re
from pathlib import Path

EXCERPT_CHARS = 40


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """A short printable quote of ``value`` (a value from the case file): ``repr`` of at most
    ``limit`` characters, non-printable characters escaped, ``...`` where it was cut."""
    if isinstance(value, str):
        cut = value[:limit]
        return repr(cut) + ("..." if len(value) > limit else "")
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def short_name(name, limit: int = EXCERPT_CHARS) -> str:
    """A key or label for a field path: printable, at most ``limit`` characters."""
    text = str(name)
    if text.isprintable() and len(text) <= limit:
        return text
    return excerpt(text, limit)


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _|().%/-]{0,31}")


def data_labels(names, limit: int = 8) -> str:
    """Column names or zone labels read from a data file, for a message: those that look like labels
    (up to 32 letters, digits, spaces and ``_|().%/-``), at most ``limit``; the others are counted,
    not shown (a data path may name any file, e.g. ``/proc/self/environ``)."""
    names = [str(n) for n in names]
    shown = [n for n in names if _LABEL.fullmatch(n)][:limit]
    hidden = len(names) - len(shown)
    parts = shown + ([f"{hidden} other{'s' if hidden != 1 else ''} not shown"] if hidden else [])
    return ", ".join(parts) if parts else "none"


class BidoptError(Exception):
    """Base class for errors reported to users without a traceback."""

    exit_code = 1


class InputError(BidoptError, ValueError):
    """Bad input: a case file, data file, option or argument. Exit code 2.

    Also a ``ValueError``: library callers that catch ``ValueError`` for a bad argument (a day that
    is not YYYY-MM-DD, an MTU length bidopt does not know) catch this too."""

    exit_code = 2

    def __init__(self, file: str | Path | None, field: str | None, message: str):
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        return f"{where}: {self.message}" if where else self.message


class InfeasibleError(BidoptError):
    """The model has no feasible solution. Exit code 3; names the asset and constraint."""

    exit_code = 3

    def __init__(self, asset: str, constraint: str, message: str):
        self.asset = asset
        self.constraint = constraint
        self.message = message
        super().__init__(f"infeasible: asset '{asset}', constraint '{constraint}': {message}")


class SolverError(BidoptError):
    """The solver failed or stopped without a usable solution. Exit code 3."""

    exit_code = 3
