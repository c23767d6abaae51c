"""Shared fixtures: where the real data lives, and small cases built in code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BIDOPT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def write_prices(path: Path, start_utc: str, prices) -> Path:
    """A plain price CSV (timestamp_utc, price_eur_per_mwh), hourly from ``start_utc``."""
    idx = pd.date_range(start_utc, periods=len(prices), freq="h", tz="UTC")
    pd.DataFrame(
        {"timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mwh": np.asarray(prices, float)}
    ).to_csv(path, index=False)
    return path


def battery_case(prices_file: str = "synthetic", **battery) -> dict:
    """A battery-only case as a dict (the parsed TOML)."""
    bat = {
        "kind": "battery",
        "name": "bess",
        "power_mw": 1.0,
        "energy_mwh": 2.0,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
        "soc_initial_mwh": 1.0,
        "soc_final_mwh": 1.0,
    }
    bat.update(battery)
    return {
        "case": {"zone": "SE3", "mtu_minutes": 60},
        "prices": {"dayahead": prices_file},
        "grid": {"import_limit_mw": 2.0, "export_limit_mw": 2.0},
        "assets": [bat],
    }


# --- test order: pytest-randomly shuffles it; its seed line is a header, which ``-q`` (our addopts)
# hides, so the seed is written at the start and in the summary to rerun an order that failed.


def _randomly_seed(config):
    if not config.pluginmanager.hasplugin("randomly"):
        return None
    return getattr(config.option, "randomly_seed", None)


def pytest_sessionstart(session):
    seed = _randomly_seed(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if seed is not None and reporter is not None and session.config.option.verbose < 0:
        reporter.write_line(f"Using --randomly-seed={seed}")


def pytest_terminal_summary(terminalreporter, config):
    seed = _randomly_seed(config)
    if seed is not None:
        terminalreporter.write_line(f"Using --randomly-seed={seed} (same order again: pytest -p randomly "
                                    f"--randomly-seed={seed}; none: -p no:randomly)")
