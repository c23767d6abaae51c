"""Forecasts as scenario cubes, and baseline forecasters that use only data known at the gate.

``bidopt.forecast.scenarios``: the scenario cube (an ``xarray.DataArray`` with dims ``("scenario",
"time")`` and a ``probability`` coordinate), its validation, CSV/Parquet I/O, slicing to a delivery
day, the expected series and identical-scenario cubes.

``bidopt.forecast.baseline``: a seasonal-naive day-ahead price forecaster and an FCR capacity price
forecaster with bootstrapped historical errors; history values are filtered by their publication time
against the gate, so no price published after the gate can reach a forecast.

``bidopt.forecast.lear``: the LEAR forecaster (one Lasso model per clock hour on asinh-transformed
prices, scikit-learn) with out-of-sample residual days as scenarios; ``bidopt.forecast.from_case``
picks the forecaster a case's ``[bidding] forecaster`` names. Neither is imported here (scikit-learn
loads only when LEAR is used).
"""

from bidopt.forecast.baseline import fcr_price_scenarios, price_scenarios, publication_time
from bidopt.forecast.scenarios import (
    expected,
    identical,
    make_scenarios,
    read_scenarios,
    slice_scenarios,
    write_scenarios,
)

__all__ = [
    "expected",
    "fcr_price_scenarios",
    "identical",
    "make_scenarios",
    "price_scenarios",
    "publication_time",
    "read_scenarios",
    "slice_scenarios",
    "write_scenarios",
]
