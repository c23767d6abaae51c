"""Discover the modules of a package so each registers its kind on import.

A new asset kind or tariff is one new module in ``bidopt/assets/`` or ``bidopt/tariffs/``: importing
the package imports every module in it, and each module's ``register_*`` decorator does the rest.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_all(package_name: str, package_path) -> None:
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
