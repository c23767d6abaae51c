"""Files a newcomer can hold in their head: no module of ``bidopt/`` over ``MAX_MODULE_LINES`` lines,
no function over ``MAX_FUNCTION_LINES`` (DESIGN's "~450" and "~60", with a margin so a small edit
does not fail the suite; a file that needs the margin is a file to split next).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bidopt"
MAX_MODULE_LINES = 480
MAX_FUNCTION_LINES = 70  # docstring included

# module (relative to bidopt/) -> why it may be longer for now. Keep this empty.
LONGER: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_too_long():
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
            and str(p.relative_to(PACKAGE)) not in LONGER]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split where a name explains the part):\n" + "\n".join(long)


def test_no_function_is_too_long():
    long = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_exceptions_are_still_needed():
    stale = [m for m in LONGER if not (PACKAGE / m).exists()
             or len((PACKAGE / m).read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES]
    assert not stale, f"LONGER entries no longer needed (remove them): {stale}"
