"""What a heat pump (``bidopt.assets.heat_pump``) can do before any model is built: the RC
building's exact one-MTU step (``_rc_coefficients``), the reachable end-of-MTU temperatures
(``_temperature_bounds``), the feasibility checks that name the constraint a day breaks
(``check``: comfort band, final temperature, heat stores) and the thermostat of the unmanaged
baseline (``setpoint_c``, ``unmanaged_indoor_c``). Temperatures °C, heat MW, stores MWh heat.
"""

from __future__ import annotations

import math

import numpy as np

from bidopt.data.local_time import KW_PER_MW
from bidopt.errors import InfeasibleError
from bidopt.horizon import Horizon


class HeatPumpChecks:
    """Feasibility and thermostat; mixed into ``HeatPump``, whose fields they read."""

    def _rc_coefficients(self, horizon: Horizon, data: dict):
        c, ua = self.thermal_capacity_mwh_per_k, self.heat_loss_mw_per_k
        a = math.exp(-ua * horizon.dt_h / c)
        gain = (1.0 - a) / ua  # K per MW of heat held over the MTU
        forcing = (1.0 - a) * data["outdoor_c"] + gain * (data["solar_mw"] + self.internal_gain_mw)
        return a, gain, forcing

    def _temperature_bounds(self, horizon: Horizon, data: dict) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on the end-of-MTU temperature T_t: band_t ∩ band_{t+1} (the last MTU: band_t).

        The heat pump cannot cool: where the gains alone (no heat at all, from the coolest reachable
        start) leave the building warmer than the comfort maximum, the upper bound is raised to
        that passive temperature, so a warm spell is not "infeasible" for a heater.
        """
        lo_b, hi_b = data["band_min_c"], data["band_max_c"]
        lo_e = np.r_[np.maximum(lo_b[:-1], lo_b[1:]), lo_b[-1]]
        hi_e = np.r_[np.minimum(hi_b[:-1], hi_b[1:]), hi_b[-1]]
        a, _, forcing = self._rc_coefficients(horizon, data)
        coolest = self.indoor_start
        for t in range(horizon.n):
            coolest = max(lo_e[t], a * coolest + forcing[t])
            hi_e[t] = max(hi_e[t], coolest)
        return lo_e, hi_e

    def check(self, horizon: Horizon, data: dict) -> None:
        when = horizon.local
        qmax = data["cop"] * self.max_power_mw
        if self.mode == "rc":
            lo_b, hi_b = data["band_min_c"], data["band_max_c"]
            t0 = self.indoor_start
            if not lo_b[0] - 1e-9 <= t0 <= hi_b[0] + 1e-9:
                raise InfeasibleError(
                    self.name, "comfort_band",
                    f"initial indoor temperature {t0} °C outside the band [{lo_b[0]}, {hi_b[0]}] at {when[0]}",
                )
            a, gain, forcing = self._rc_coefficients(horizon, data)
            lo_e, hi_e = self._temperature_bounds(horizon, data)
            qmax = qmax + self.aux_max_mw
            hi = t0
            for t in range(horizon.n):  # warmest reachable T_t inside the band (exact: dynamics are monotone)
                reach_hi = a * hi + gain * qmax[t] + forcing[t]
                if reach_hi < lo_e[t] - 1e-7:
                    raise InfeasibleError(
                        self.name, "comfort_band",
                        f"at {when[t]} the indoor temperature reaches at most {reach_hi:.2f} °C with full heat "
                        f"({qmax[t] * KW_PER_MW:.1f} kW heat at COP {data['cop'][t]:.2f}, outdoor "
                        f"{data['outdoor_c'][t]:.1f} °C), below the comfort minimum {lo_e[t]:g} °C",
                    )
                if lo_e[t] > hi_e[t] + 1e-9:
                    raise InfeasibleError(
                        self.name, "comfort_band",
                        f"at {when[t]} the comfort bands of neighbouring hours do not overlap "
                        f"(minimum {lo_e[t]:g} °C, maximum {hi_e[t]:g} °C)",
                    )
                hi = min(hi_e[t], reach_hi)
            if self.final_at_least_initial and hi + 1e-7 < t0:
                raise InfeasibleError(
                    self.name, "final_temperature",
                    f"the indoor temperature can end at most at {hi:.2f} °C, below the initial {t0} °C",
                )
            return
        space_heat_max = qmax + self.aux_max_mw
        self._check_store(horizon, space_heat_max, data["demand_mw"], self.storage_mwh_heat, self.storage_start,
                          self.storage_loss_per_h, "heat_demand")
        if self.has_tank:
            self._check_store(horizon, qmax * self.hot_water_cop_factor, data["hot_water_demand_mw"],
                              self.hot_water_tank_mwh_heat, self.hot_water_start, self.hot_water_loss_per_h,
                              "hot_water_demand")

    def _check_store(self, horizon, heat_max, demand, cap, start, loss, constraint) -> None:
        dt_h = horizon.dt_h
        r = (1.0 - loss) ** dt_h
        hi = start
        for t in range(horizon.n):
            hi = min(cap, r * hi + (heat_max[t] - demand[t]) * dt_h)
            if hi < -1e-7:
                raise InfeasibleError(
                    self.name, constraint,
                    f"at {horizon.local[t]} the demand {demand[t] * KW_PER_MW:.1f} kW heat exceeds what the heat pump "
                    f"(and aux heater) can deliver, {heat_max[t] * KW_PER_MW:.1f} kW heat, and the store is empty",
                )
        if self.final_at_least_initial and hi + 1e-7 < start:
            raise InfeasibleError(
                self.name, constraint, f"the store can end at most at {hi:.4g} MWh heat, below its initial {start:.4g}"
            )

    def setpoint_c(self, data: dict) -> np.ndarray:
        """The thermostat set point of an unmanaged RC building at the end of each MTU (°C): the
        middle of the comfort band both ends of the MTU must lie in (band_t ∩ band_{t+1}, as
        configured, before any warm-spell raise), so with the default start (the middle of the
        hour-0 band) the set point is where the day starts."""
        lo_b, hi_b = data["band_min_c"], data["band_max_c"]
        lo = np.r_[np.maximum(lo_b[:-1], lo_b[1:]), lo_b[-1]]
        hi = np.r_[np.minimum(hi_b[:-1], hi_b[1:]), hi_b[-1]]
        return (lo + hi) / 2.0

    def unmanaged_indoor_c(self, horizon: Horizon, data: dict) -> np.ndarray:
        """Indoor temperature (°C, end of each MTU) under a thermostat: each MTU the heat (heat pump
        first, then aux) that brings the building to ``setpoint_c``, none when it is warmer, at most
        full power when colder."""
        a, gain, forcing = self._rc_coefficients(horizon, data)
        qmax = data["cop"] * self.max_power_mw + self.aux_max_mw
        s = self.setpoint_c(data)
        out, prev = np.zeros(horizon.n), self.indoor_start
        for t in range(horizon.n):
            heat = min(max((s[t] - a * prev - forcing[t]) / gain, 0.0), qmax[t])
            prev = out[t] = a * prev + gain * heat + forcing[t]
        return out
