"""The inputs of a heat pump (``bidopt.assets.heat_pump``) per MTU, as ``HeatPump.prepare`` returns
them: outdoor temperature (°C) and COP, solar gains (MW heat) and the comfort band per MTU (°C) of an
RC building, or the space-heating and hot-water demand (MW heat) a store serves. Numbers, files
(``bidopt.data.local_time``) or ``"synthetic"``.

Inputs: ``outdoor_temp`` is a number (°C, constant), ``"synthetic"``
(``bidopt.data.synthetic_weather.synthetic_outdoor_temp``: a seeded seasonal + daily curve with
smooth day-to-day weather, deterministic per local day), a CSV with ``timestamp_utc`` and a °C
column, or a naive local-time file such as the Örebro measurements (``Date / Time``; ``,`` or ``;``
separated). Heat demand and solar gains are read the same way (``bidopt.data.local_time``: each
label is the END of its hour by default, ``local_time_labels``; gaps of up to ``max_gap_h`` hours
are interpolated, longer gaps are an input error when the horizon touches them).

``refresh`` puts another day's inputs, or another house's (RC mode, the same structure), into a
block ``build`` made: the spec's numbers that reach the model (powers, the RC coefficients, the
comfort bounds, the start) are mutable Params.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bidopt.data import local_time, sources, synthetic
from bidopt.data.local_time import KW_PER_MW
from bidopt.data.synthetic_weather import synthetic_outdoor_temp
from bidopt.errors import InputError, data_labels
from bidopt.horizon import Horizon
from bidopt.params import set_values


class HeatPumpInputs:
    """``prepare`` and its readers, ``refresh``; mixed into ``HeatPump``, whose fields they read."""

    # fields that reach the model only through Params (``_set_rc``, ``refresh``) or ``prepare``'s data
    NUMBERS: ClassVar[tuple[str, ...]] = (
        "max_power_mw", "aux_max_mw", "cop", "cop_at_0c", "cop_slope_per_k", "cop_min", "cop_max", "outdoor_temp",
        "outdoor_temp_column", "synthetic_annual_mean_c", "synthetic_seasonal_amplitude_k",
        "synthetic_daily_amplitude_k", "synthetic_weather_sigma_k", "local_time_labels", "max_gap_h",
        "thermal_capacity_mwh_per_k", "heat_loss_mw_per_k", "internal_gain_mw", "solar_gain", "solar_gain_column",
        "solar_gain_peak_mw", "latitude", "comfort_min_c", "comfort_max_c", "comfort_min_by_hour",
        "comfort_max_by_hour", "indoor_initial_c")

    def _set_rc(self, blk, horizon: Horizon, data: dict) -> None:
        """The RC model's numbers into its Params: a and gain of the dynamics, the forcing (°C), the
        bounds of T_t and of the start (°C), the start."""
        a, gain, forcing = self._rc_coefficients(horizon, data)
        lo_e, hi_e = self._temperature_bounds(horizon, data)
        for name, v in (("rc_a", a), ("rc_gain", gain), ("indoor_initial", self.indoor_start),
                        ("initial_min", float(data["band_min_c"][0])),
                        ("initial_max", max(float(data["band_max_c"][0]), self.indoor_start))):
            blk.component(name).set_value(v)
        for name, v in (("forcing", forcing), ("temp_min", lo_e), ("temp_max", hi_e)):
            set_values(blk.component(name), v)

    def refresh(self, blk, horizon: Horizon, data: dict, use_binaries: bool) -> bool:
        """Another day, or another house of the same structure, on a built RC block (the demand mode
        is rebuilt): its inputs and numbers into the Params."""
        if self.mode != "rc" or not self.same_build(blk, use_binaries, *self.NUMBERS):
            return False
        blk.p_max.set_value(self.max_power_mw)
        blk.aux_max.set_value(self.aux_max_mw)
        set_values(blk.outdoor, data["outdoor_c"])
        set_values(blk.cop, data["cop"])
        set_values(blk.reserve_heat_per_mwh, np.maximum(data["cop"], 1.0))
        self._set_rc(blk, horizon, data)
        return True

    def _series(self, case, ref: str, field: str, horizon: Horizon, column: str | None, synthetic_fn) -> np.ndarray:
        """A series per MTU from "synthetic", a timestamp_utc CSV or a naive local-time CSV."""
        return local_time.series_on(case, ref, field, horizon.index, column, synthetic_fn,
                                    self.local_time_labels, self.max_gap_h)

    def _demand(self, case, horizon: Horizon) -> tuple[np.ndarray, np.ndarray]:
        """(space-heating demand, hot-water demand) per MTU in MW heat."""
        field = f"assets.{self.name}.heat_demand"
        path = case.resolve(self.heat_demand)
        columns, get = local_time.column_reader(case, self.heat_demand, field, horizon.index,
                                                self.local_time_labels, self.max_gap_h)
        for c in [*(self.heat_demand_columns or []), *self.hot_water_columns]:
            if c not in columns:
                raise InputError(path, field, f"column {c!r} not found; columns are {data_labels(columns)}")
        space_cols = self.heat_demand_columns or [c for c in columns if c not in self.hot_water_columns]
        scale = 1.0 / KW_PER_MW if self.heat_demand_unit == "kw" else 1.0
        zero = np.zeros(horizon.n)
        space = sum((get(c) for c in space_cols), zero) * scale
        water = sum((get(c) for c in self.hot_water_columns), zero) * scale
        for what, arr in (("space", space), ("hot water", water)):
            if (arr < -1e-9).any():
                t = horizon.index[int(np.argmax(arr < -1e-9))]
                raise InputError(path, field, f"negative {what} heat demand at {t}")
        if not self.has_tank:
            space, water = space + water, zero
        return np.clip(space, 0, None), np.clip(water, 0, None)

    def prepare(self, case, horizon: Horizon) -> dict:
        seed = case.synthetic.seed
        if isinstance(self.outdoor_temp, int | float):
            t_out = np.full(horizon.n, float(self.outdoor_temp))
        else:
            t_out = self._series(
                case,
                self.outdoor_temp,
                f"assets.{self.name}.outdoor_temp",
                horizon,
                self.outdoor_temp_column,
                lambda idx: synthetic_outdoor_temp(
                    idx,
                    seed=seed,
                    annual_mean_c=self.synthetic_annual_mean_c,
                    seasonal_amplitude_k=self.synthetic_seasonal_amplitude_k,
                    daily_amplitude_k=self.synthetic_daily_amplitude_k,
                    weather_sigma_k=self.synthetic_weather_sigma_k,
                    tz=horizon.tz,
                ),
            )
        data: dict = {"outdoor_c": t_out, "cop": self.cop_series(t_out)}
        if self.mode == "rc":
            solar = np.zeros(horizon.n)
            if self.solar_gain is not None and not (self.solar_gain == sources.SYNTHETIC and self.solar_gain_peak_mw == 0):
                solar = self._series(
                    case,
                    self.solar_gain,
                    f"assets.{self.name}.solar_gain",
                    horizon,
                    self.solar_gain_column,
                    lambda idx: synthetic.pv_profile(
                        idx, capacity_mw=self.solar_gain_peak_mw, latitude=self.latitude, seed=seed
                    ),
                )
                solar = np.clip(solar, 0.0, None)
            lo_h, hi_h = self.band_by_hour()
            hours = np.asarray(horizon.local.hour)
            data["solar_mw"] = solar
            data["band_min_c"] = np.array([lo_h[h] for h in hours], dtype=float)
            data["band_max_c"] = np.array([hi_h[h] for h in hours], dtype=float)
        else:
            data["demand_mw"], data["hot_water_demand_mw"] = self._demand(case, horizon)
        return data
