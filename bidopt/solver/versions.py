"""The Pyomo and highspy releases the solver adapter is tested with, and the check against them.

The adapter (``bidopt.solver``) relies on private parts of both packages (expression node classes
and their ``_args_``, ``ParamData._value``, ``VarData._lb``/``_ub``/``_domain``, ``Block._decl``,
highspy's ``Highs`` constructor calling ``enableCallbacks``), which may change in any release.
``TESTED`` holds, per package, the lowest release it works with and the first release it is not
tested with (the same ranges ``pyproject.toml`` declares; ``tests/test_solver_adapter.py`` checks
they agree). ``untested(...)`` names the installed versions outside the range; the adapter warns
once at import (``warn_if_untested``) and the test suite fails (``tests/test_solver_adapter.py``).
"""

from __future__ import annotations

import re
import warnings
from importlib import metadata

TESTED = {"pyomo": ("6.10", "6.11"), "highspy": ("1.15", "1.17")}  # [lowest that works, first untested)


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string ("1.16.0rc1" -> (1, 16, 0))."""
    parts = []
    for p in version.split("."):
        m = re.match(r"\d+", p)
        if m is None:
            break
        parts.append(int(m.group()))
        if m.end() < len(p):
            break
    return tuple(parts)


def installed() -> dict[str, str | None]:
    """The installed version of each package in ``TESTED`` (None when not installed)."""
    out = {}
    for name in TESTED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def untested(versions: dict[str, str | None] | None = None) -> list[str]:
    """One message per package whose version (installed, or as given) is outside ``TESTED``."""
    versions = installed() if versions is None else versions
    problems = []
    for name, (low, high) in TESTED.items():
        v = versions.get(name)
        if v is None:
            problems.append(f"{name} is not installed (bidopt's solver adapter is tested with {name} >={low},<{high})")
        elif not _release(low) <= _release(v) < _release(high):
            problems.append(f"{name} {v} is installed; bidopt's solver adapter is tested with {name} >={low},<{high} "
                            "and relies on its internals")
    return problems


def warn_if_untested() -> None:
    """A ``RuntimeWarning`` naming the installed versions outside the tested ranges."""
    for msg in untested():
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
