"""Error types that map to the CLI's exit codes.

``InputError`` (exit 2) names the file and the field or row that is wrong; ``InfeasibleError``
(exit 3) names the asset and the constraint that cannot be met; ``SolverError`` (exit 3) is any
other solver failure.
"""

from __future__ import annotations

from pathlib import Path


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
