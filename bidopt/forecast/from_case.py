"""Day-ahead price scenarios (EUR/MWh) for a case and delivery day, by the ``[bidding] forecaster``.

``"blend"`` (default): ``bidopt.forecast.baseline.price_scenarios`` on ``lookback_days + 8`` days of
the case's prices. ``"lear"``: ``bidopt.forecast.lear.lear_price_scenarios``, and ``"ensemble"``:
``bidopt.forecast.ensemble.ensemble_price_scenarios`` (LEAR averaged with recent-profile means), on
the days LEAR's calibration window, residual days and refit schedule need, with the prices of the zones in
``[bidding] forecast_zones`` (other columns of the same multi-zone ``[prices] dayahead`` file, e.g.
``se1-se4_dayahead_2016-2022_utc.csv.gz``; synthetic prices for a synthetic case) as extra features.
Every series goes through ``bidopt.data.sources`` (recorded for backtest resume); the forecasters
drop whatever was published after the gate.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import xarray as xr

from bidopt import time as btime
from bidopt.data import sources, synthetic
from bidopt.errors import InputError


def history_days(st) -> int:
    """Days of price history before the delivery day the chosen forecaster reads."""
    if st.forecaster in ("lear", "ensemble"):
        return st.lear_lookback_days + st.lear_residual_days + st.lear_refit_days + 14
    return st.lookback_days + 8


def _zone_prices(case, zone: str, index: pd.DatetimeIndex) -> np.ndarray:
    ref = case.prices.dayahead
    if ref == sources.SYNTHETIC:
        if zone not in synthetic.ZONES:
            raise InputError(case.label, "bidding.forecast_zones", f"no synthetic prices for zone {zone!r}; "
                             f"known: {', '.join(sorted(synthetic.ZONES))}")
        return synthetic.dayahead_prices(index, zone=zone, seed=case.synthetic.seed).to_numpy(float)
    # the same recorded reader as the case's own prices, for another column of the file
    return sources._sliced("prices", case.resolve(ref), (zone,), index, "bidding.forecast_zones")


def dayahead_scenarios(case, day, mtu_minutes: int, st) -> xr.DataArray:
    """The day's price scenarios from the case's history, by ``st.forecaster`` (module docstring)."""
    from bidopt.forecast import baseline

    D = btime.day_of(day)
    need = history_days(st)
    hist_index = btime.horizon_index(D - dt.timedelta(days=need), D, 60, case.case.timezone)
    what = f"bidding needs {need} days of history for the {st.forecaster} forecaster"
    try:
        history = pd.Series(sources.dayahead_prices(case, hist_index), index=hist_index)
        zones = {z: pd.Series(_zone_prices(case, z, hist_index), index=hist_index)
                 for z in st.forecast_zones if z != case.case.zone} if st.forecaster != "blend" else {}
    except InputError as e:
        raise InputError(e.file, e.field, f"{e.message} ({what})") from None
    if st.forecaster in ("lear", "ensemble"):
        # scikit-learn: ~1 s of CPU to import, only when used
        from bidopt.forecast import ensemble, lear

        make = lear.lear_price_scenarios if st.forecaster == "lear" else ensemble.ensemble_price_scenarios
        return make(history, D, n_scenarios=st.n_scenarios, mtu_minutes=mtu_minutes, seed=st.seed,
                    lookback_days=st.lear_lookback_days, tz=case.case.timezone, zones=zones,
                    refit_days=st.lear_refit_days, residual_days=st.lear_residual_days)
    return baseline.price_scenarios(history, D, n_scenarios=st.n_scenarios, mtu_minutes=mtu_minutes, seed=st.seed,
                                    lookback_days=st.lookback_days, tz=case.case.timezone)
