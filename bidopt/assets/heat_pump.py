"""Heat pump heating a building (``kind = "heat_pump"``).

Electric power of the heat pump ``p_t`` in [0, max_power_mw] (MW, consumption), heat delivered
``COP_t p_t`` (MW heat). The COP is a constant (``cop``) or linear in the outdoor temperature,
``COP_t = clip(cop_at_0c + cop_slope_per_k * T_out,t, cop_min, cop_max)``. An optional auxiliary
electric heater ``aux_t`` in [0, aux_max_mw] (COP 1) adds heat to the space-heating balance. The
asset's net power at the connection point is ``p_t + aux_t``.

Two modes.

**RC model** (``mode = "rc"``): one thermal capacity C (MWh/K, ``thermal_capacity_mwh_per_k``) at
the indoor temperature T_t (°C, at the END of MTU t), losing UA (MW/K, ``heat_loss_mw_per_k``) times
the indoor-outdoor difference, gaining heat Q_t = COP_t p_t + aux_t, solar gains S_t and internal
gains G (MW)::

    C dT/dt = Q_t + S_t + G - UA (T - T_out,t)

Discretisation: inputs are held constant over each MTU (zero-order hold) and the ODE is solved
exactly over the MTU, which is linear in the decisions::

    T_t = a T_{t-1} + (1 - a) (T_out,t + (Q_t + S_t + G) / UA),     a = exp(-UA dt / C)

with T_{-1} = ``indoor_initial_c``. To first order in dt this is the explicit form
C (T_t - T_{t-1}) = (Q_t + S_t + G - UA (T_{t-1} - T_out,t)) dt; unlike it, it is stable for any
dt and gives the same trajectory at 15 and 60 minutes for the same inputs. Inside an MTU the
temperature moves monotonically from T_{t-1} to T_t (an exponential towards its steady state), so
holding the comfort band at both ends of an MTU holds it throughout. The model therefore asks, for
every MTU t, that both T_{t-1} and T_t lie in the band of MTU t (the band of the MTU's local start
hour: ``comfort_min_c``/``comfort_max_c`` with per-hour overrides ``comfort_min_by_hour`` /
``comfort_max_by_hour``, keys = local hour 0-23). Equivalently T_t lies in band_t ∩ band_{t+1}: a
higher comfort level from 06:00 means 21 °C at 06:00, not somewhere during the hour.
The heat pump cannot cool: where the gains alone, with no heat from the coolest reachable start,
leave the building above the comfort maximum (a warm spell), that upper bound is raised to the
passive temperature instead of declaring the plan infeasible. With ``final_at_least_initial``
(default) the last temperature is at least the initial one, so a day cannot borrow heat from the
next. ``check()`` runs the same recursion with full heat (the reachable interval of T_t is exact
because the dynamics are monotone) and raises ``InfeasibleError(name, "comfort_band", ...)`` at the
first MTU that cannot reach its comfort minimum.

**Measured heat demand** (``mode = "demand"``): a heat demand series d_t (MW heat; a file in MW or
kW) is met through a store (the building's mass or a buffer tank) with energy e_t (MWh heat, end of
MTU) in [0, ``storage_mwh_heat``]::

    e_t = r e_{t-1} + (COP_t p^space_t + aux_t - d^space_t) dt,   r = (1 - storage_loss_per_h) ** dt

With a store of 0 MWh the heat pump follows the demand exactly (the thermostat baseline). An
optional hot-water tank (``hot_water_tank_mwh_heat``, losses ``hot_water_loss_per_h``) is a second
store that serves the columns named in ``hot_water_columns``; the heat pump splits its power
p_t = p^space_t + p^dhw_t and heats the tank at ``hot_water_cop_factor * COP_t`` (hot water needs
a higher supply temperature). Without a tank, hot-water columns are served like space heat. With
``final_at_least_initial`` each store ends at least as full as it started.

**Reserves** (``offer_reserves = true``): FCR-D up (cut consumption) and FCR-D down (raise it).
Power: up_t <= p_t + aux_t and down_t <= (max_power_mw - p_t) + (aux_max_mw - aux_t). Energy
(a conservative rule): an activation of up_mwh MWh electric removes at most COP_t up_mwh of heat
(COP_t >= 1 also covers the aux heater). In the RC model the temperature falls by at most
COP_t up_mwh / C (the reduced losses at a lower temperature are ignored, which is on the safe
side), so both ends of the MTU must keep that margin above the comfort minimum:
T_s - COP_t up_mwh_t / C >= min_t and T_s + COP_t down_mwh_t / C <= max_t for s in {t-1, t}. In
demand mode the space-heating store must hold it: e_s - COP_t up_mwh_t >= 0 and
e_s + COP_t down_mwh_t <= storage_mwh_heat. Recovery after an activation is left to the next
plan (FCR-D activations are short and rare). An expected activation ``expected_up_mw`` from the
market (a frequency series; zero by default) changes the heat delivered by -COP_t expected_up_mw_t
in the RC dynamics or the space-heating store.
Not a limited energy reservoir by default (``ler = false``): the power rows are the sold capacity
only, and the comfort band holds the activation energy. A building whose band holds less than 2 h
of full activation is a LER under MARKET_RULES 3.3 (classification UNVERIFIED for heat pumps):
set ``ler = true`` to keep the LER reservation.

Inputs (a number, ``"synthetic"``, a ``timestamp_utc`` CSV or a naive local-time file such as the
Örebro measurements): ``bidopt.assets.heat_pump_inputs``.

Schedule columns: ``<name>_power_mw`` (p + aux, consumption positive), ``<name>_heat_mw`` (heat
delivered), ``<name>_indoor_temp_c`` (RC), ``<name>_storage_mwh_heat`` and
``<name>_heat_demand_mw`` (demand mode), ``<name>_hot_water_mwh_heat`` (with a tank),
``<name>_aux_mw`` (with an aux heater), ``<name>_outdoor_temp_c`` and ``<name>_cop``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, field_validator, model_validator

from bidopt.assets.base import AssetBase, Flexibility, values
from bidopt.assets.heat_pump_checks import HeatPumpChecks
from bidopt.assets.heat_pump_inputs import HeatPumpInputs
from bidopt.case import register_asset
from bidopt.data import sources
from bidopt.horizon import Horizon

# ------------------------------------------------------------------------------------------ asset


def _hour_map(v: dict[int, float], field: str) -> dict[int, float]:
    for h in v:
        if not 0 <= h <= 23:
            raise ValueError(f"{field} has hour {h}, outside 0-23 (local hour starts)")
    return v


@register_asset
class HeatPump(HeatPumpInputs, HeatPumpChecks, AssetBase):
    kind: Literal["heat_pump"] = "heat_pump"
    mode: Literal["rc", "demand"] = "rc"
    max_power_mw: float = Field(gt=0)

    # COP: constant, or linear in outdoor temperature and clipped
    cop: float | None = Field(None, gt=0)
    cop_at_0c: float = Field(3.0, gt=0)
    cop_slope_per_k: float = 0.08
    cop_min: float = Field(1.5, gt=0)
    cop_max: float = Field(5.0, gt=0)

    # outdoor temperature
    outdoor_temp: float | str = "synthetic"
    outdoor_temp_column: str | None = None
    synthetic_annual_mean_c: float = 7.0
    synthetic_seasonal_amplitude_k: float = Field(10.0, ge=0)
    synthetic_daily_amplitude_k: float = Field(3.0, ge=0)
    synthetic_weather_sigma_k: float = Field(4.0, ge=0)
    local_time_labels: Literal["start", "end"] = "end"
    max_gap_h: int = Field(6, ge=0)

    # RC model
    thermal_capacity_mwh_per_k: float | None = Field(None, gt=0)
    heat_loss_mw_per_k: float | None = Field(None, gt=0)
    internal_gain_mw: float = Field(0.0, ge=0)
    solar_gain: str | None = None  # "synthetic" or a MW file
    solar_gain_column: str | None = None
    solar_gain_peak_mw: float = Field(0.0, ge=0)
    latitude: float = 59.3
    comfort_min_c: float = 20.0
    comfort_max_c: float = 23.0
    comfort_min_by_hour: dict[int, float] = Field(default_factory=dict)
    comfort_max_by_hour: dict[int, float] = Field(default_factory=dict)
    indoor_initial_c: float | None = None
    final_at_least_initial: bool = True

    # measured heat demand with a store
    heat_demand: str | None = None
    heat_demand_columns: list[str] | None = None
    hot_water_columns: list[str] = Field(default_factory=list)
    heat_demand_unit: Literal["mw", "kw"] = "mw"
    storage_mwh_heat: float = Field(0.0, ge=0)
    storage_initial_mwh_heat: float | None = Field(None, ge=0)
    storage_loss_per_h: float = Field(0.0, ge=0, lt=1)
    hot_water_tank_mwh_heat: float = Field(0.0, ge=0)
    hot_water_initial_mwh_heat: float | None = Field(None, ge=0)
    hot_water_loss_per_h: float = Field(0.0, ge=0, lt=1)
    hot_water_cop_factor: float = Field(1.0, gt=0, le=1)

    aux_max_mw: float = Field(0.0, ge=0)
    offer_reserves: bool = False

    @field_validator("comfort_min_by_hour")
    @classmethod
    def _min_hours(cls, v):
        return _hour_map(v, "comfort_min_by_hour")

    @field_validator("comfort_max_by_hour")
    @classmethod
    def _max_hours(cls, v):
        return _hour_map(v, "comfort_max_by_hour")

    @model_validator(mode="after")
    def _consistent(self):
        if self.cop_min > self.cop_max:
            raise ValueError(f"cop_min ({self.cop_min}) above cop_max ({self.cop_max})")
        if isinstance(self.outdoor_temp, str) and not self.outdoor_temp.strip():
            raise ValueError("outdoor_temp is empty: give a number (°C), 'synthetic' or a CSV path")
        if self.comfort_min_c > self.comfort_max_c:
            raise ValueError(
                f"comfort_min_c ({self.comfort_min_c}) above comfort_max_c ({self.comfort_max_c}): empty comfort band"
            )
        lo, hi = self.band_by_hour()
        for h in range(24):
            if lo[h] > hi[h]:
                field = "comfort_min_by_hour" if h in self.comfort_min_by_hour else "comfort_max_by_hour"
                raise ValueError(f"{field} leaves the comfort band empty at local hour {h} ({lo[h]} above {hi[h]})")
        if self.mode == "rc":
            for field in ("thermal_capacity_mwh_per_k", "heat_loss_mw_per_k"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field} is required when mode = 'rc'")
            t0 = self.indoor_start
            if not lo[0] - 1e-9 <= t0 <= hi[0] + 1e-9:
                raise ValueError(
                    f"indoor_initial_c ({t0}) outside the comfort band [{lo[0]}, {hi[0]}] at local hour 0"
                )
            if self.hot_water_tank_mwh_heat > 0:
                raise ValueError("hot_water_tank_mwh_heat needs mode = 'demand' (a measured hot-water demand)")
        else:
            if self.heat_demand is None or self.heat_demand in ("", sources.SYNTHETIC):
                raise ValueError("heat_demand is required when mode = 'demand' (a CSV path)")
            if self.storage_initial_mwh_heat is not None and self.storage_initial_mwh_heat > self.storage_mwh_heat + 1e-12:
                raise ValueError(
                    f"storage_initial_mwh_heat ({self.storage_initial_mwh_heat}) above storage_mwh_heat ({self.storage_mwh_heat})"
                )
            if self.hot_water_tank_mwh_heat > 0 and not self.hot_water_columns:
                raise ValueError("hot_water_columns must name the hot-water demand column(s) served by the tank")
            if (
                self.hot_water_initial_mwh_heat is not None
                and self.hot_water_initial_mwh_heat > self.hot_water_tank_mwh_heat + 1e-12
            ):
                raise ValueError(
                    f"hot_water_initial_mwh_heat ({self.hot_water_initial_mwh_heat}) above hot_water_tank_mwh_heat "
                    f"({self.hot_water_tank_mwh_heat})"
                )
        return self

    # --- derived ----------------------------------------------------------------------------------
    def band_by_hour(self) -> tuple[list[float], list[float]]:
        lo = [self.comfort_min_by_hour.get(h, self.comfort_min_c) for h in range(24)]
        hi = [self.comfort_max_by_hour.get(h, self.comfort_max_c) for h in range(24)]
        return lo, hi

    @property
    def indoor_start(self) -> float:
        if self.indoor_initial_c is not None:
            return self.indoor_initial_c
        lo, hi = self.band_by_hour()
        return (lo[0] + hi[0]) / 2.0

    @property
    def storage_start(self) -> float:
        s = self.storage_initial_mwh_heat
        return self.storage_mwh_heat / 2.0 if s is None else s

    @property
    def hot_water_start(self) -> float:
        s = self.hot_water_initial_mwh_heat
        return self.hot_water_tank_mwh_heat / 2.0 if s is None else s

    @property
    def has_tank(self) -> bool:
        return self.mode == "demand" and self.hot_water_tank_mwh_heat > 0

    def cop_series(self, outdoor_c: np.ndarray) -> np.ndarray:
        if self.cop is not None:
            return np.full(len(outdoor_c), float(self.cop))
        return np.clip(self.cop_at_0c + self.cop_slope_per_k * np.asarray(outdoor_c, float), self.cop_min, self.cop_max)

    # --- model ------------------------------------------------------------------------------------
    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        self.same_build(blk, use_binaries, *self.NUMBERS)
        dt_h = horizon.dt_h
        blk.p_max = pyo.Param(mutable=True, initialize=self.max_power_mw)
        blk.aux_max = pyo.Param(mutable=True, initialize=self.aux_max_mw)
        blk.outdoor = pyo.Param(T, initialize=dict(enumerate(data["outdoor_c"])), mutable=True)
        blk.cop = pyo.Param(T, initialize=dict(enumerate(data["cop"])), mutable=True)
        # MWh heat moved per MWh electric when a reserve activation changes consumption, at most
        # (the aux heater has COP 1 <= max(COP_t, 1)); used by add_reserve_headroom
        blk.reserve_heat_per_mwh = pyo.Param(
            T, initialize=dict(enumerate(np.maximum(data["cop"], 1.0))), mutable=True
        )
        blk.power = pyo.Var(T, bounds=lambda b, t: (0, b.p_max))
        blk.aux = pyo.Var(T, bounds=lambda b, t: (0, b.aux_max))
        if self.has_tank:
            blk.power_hot_water = pyo.Var(T, bounds=lambda b, t: (0, b.p_max))
            blk.hot_water_within_power = pyo.Constraint(T, rule=lambda b, t: b.power_hot_water[t] <= b.power[t])
            blk.space_heat = pyo.Expression(
                T, rule=lambda b, t: b.cop[t] * (b.power[t] - b.power_hot_water[t]) + b.aux[t]
            )
            blk.hot_water_heat = pyo.Expression(
                T, rule=lambda b, t: self.hot_water_cop_factor * b.cop[t] * b.power_hot_water[t]
            )
        else:
            blk.space_heat = pyo.Expression(T, rule=lambda b, t: b.cop[t] * b.power[t] + b.aux[t])
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: b.power[t] + b.aux[t])

        if self.mode == "rc":
            # a, gain of the dynamics, the forcing, the start and the bounds of T_t (band_t ∩ band_{t+1}:
            # both ends of every MTU inside its band) are Params, set by _set_rc
            for name in ("rc_a", "rc_gain", "indoor_initial", "initial_min", "initial_max"):
                blk.add_component(name, pyo.Param(mutable=True, initialize=0.0))
            for name in ("forcing", "temp_min", "temp_max"):
                blk.add_component(name, pyo.Param(T, mutable=True, initialize=0.0))
            self._set_rc(blk, horizon, data)
            blk.indoor = pyo.Var(T, bounds=lambda b, t: (b.temp_min[t], b.temp_max[t]))

            blk._rc = (blk.rc_a, blk.rc_gain)  # reused if a reserve market adds expected activation
            blk.indoor_dynamics = pyo.Constraint(T, rule=self._rc_rule(T, blk.rc_a, blk.rc_gain))
            if self.final_at_least_initial:
                blk.indoor_final = pyo.Constraint(expr=blk.indoor[T.last()] >= blk.indoor_initial)
        else:
            self._build_store(blk, T, dt_h, "storage", self.storage_mwh_heat, self.storage_start,
                              self.storage_loss_per_h, data["demand_mw"], blk.space_heat)
            if self.has_tank:
                self._build_store(blk, T, dt_h, "hot_water", self.hot_water_tank_mwh_heat, self.hot_water_start,
                                  self.hot_water_loss_per_h, data["hot_water_demand_mw"], blk.hot_water_heat)

    @staticmethod
    def _rc_rule(T, a, gain, extra_heat=None):
        """T_t = a T_{t-1} + gain (Q_t + extra_t) + forcing_t, as a constraint rule."""
        first = T.first()

        def rule(b, t):
            prev = b.indoor_initial if t == first else b.indoor[T.prev(t)]
            heat = b.space_heat[t] + (extra_heat(b, t) if extra_heat is not None else 0.0)
            return b.indoor[t] == a * prev + gain * heat + b.forcing[t]

        return rule

    @staticmethod
    def _store_rule(T, dt_h, r, name, heat, extra_heat=None):
        """e_t = r e_{t-1} + (heat_t + extra_t - demand_t) dt for the store ``name``, as a constraint rule."""
        first = T.first()

        def rule(b, t):
            level = b.component(f"{name}_level")
            prev = b.component(f"{name}_initial") if t == first else level[T.prev(t)]
            gain = heat[t] + (extra_heat(b, t) if extra_heat is not None else 0.0)
            return level[t] == r * prev + (gain - b.component(f"{name}_demand")[t]) * dt_h

        return rule

    def _build_store(self, blk, T, dt_h, name, cap, start, loss, demand, heat) -> None:
        r = (1.0 - loss) ** dt_h
        blk.add_component(f"{name}_demand", pyo.Param(T, initialize=dict(enumerate(demand)), mutable=True))
        blk.add_component(f"{name}_level", pyo.Var(T, bounds=(0, cap)))
        blk.add_component(f"{name}_initial", pyo.Param(initialize=start, mutable=True))
        blk.add_component(f"{name}_balance", pyo.Constraint(T, rule=self._store_rule(T, dt_h, r, name, heat)))
        if self.final_at_least_initial:
            level, initial = blk.component(f"{name}_level"), blk.component(f"{name}_initial")
            blk.add_component(f"{name}_final", pyo.Constraint(expr=level[T.last()] >= initial))

    # --- unmanaged (the no_flex baseline; setpoint_c, unmanaged_indoor_c: HeatPumpChecks) ----------
    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, the heat pump runs on its thermostat, not on prices. RC: the indoor
        temperature follows ``unmanaged_indoor_c`` (the set point when reachable; a warm spell may
        leave it above, so its bounds are lifted, and the end-of-day rule is dropped). Demand mode:
        every store holds its initial level, so the heat pump follows the demand (plus the store's
        losses). The heat is split between the heat pump and the aux heater at least cost (heat
        pump first)."""
        if self.mode == "rc":
            for t, v in zip(blk.indoor, self.unmanaged_indoor_c(horizon, data).tolist(), strict=True):
                blk.indoor[t].setlb(None)
                blk.indoor[t].setub(None)
                blk.indoor[t].fix(v)
            if hasattr(blk, "indoor_final"):
                blk.indoor_final.deactivate()
            return
        for name in ("storage", "hot_water"):
            level = blk.component(f"{name}_level")
            if level is not None:
                start = float(pyo.value(blk.component(f"{name}_initial")))
                for t in level:
                    level[t].fix(start)

    # --- reserves ---------------------------------------------------------------------------------
    def flexibility(self) -> Flexibility | None:
        """Both ways when ``offer_reserves``: a cut or a raise on an event, not a continuous signal."""
        return Flexibility(up=True, down=True) if self.offer_reserves else None

    def _expected_activation(self, blk, T, horizon: Horizon, expected_up_mw) -> None:
        """An expected activation (MW, + = consumption cut) changes the heat delivered by COP_t per MW:
        the indoor dynamics (RC) or the space-heating balance is replaced by one that includes it."""
        def activated(b, t):
            return -b.cop[t] * expected_up_mw[t]

        if self.mode == "rc":
            a, gain = blk._rc
            blk.indoor_dynamics.deactivate()
            blk.indoor_dynamics_activated = pyo.Constraint(T, rule=self._rc_rule(T, a, gain, activated))
        else:
            r = (1.0 - self.storage_loss_per_h) ** horizon.dt_h
            blk.storage_balance.deactivate()
            blk.storage_balance_activated = pyo.Constraint(
                T, rule=self._store_rule(T, horizon.dt_h, r, "storage", blk.space_heat, activated)
            )

    def add_reserve_headroom(
        self, blk, T, horizon: Horizon, up_mw, down_mw, up_mwh, down_mwh, expected_up_mw=None
    ) -> None:
        first = T.first()
        if expected_up_mw is not None:
            self._expected_activation(blk, T, horizon, expected_up_mw)
        headroom = self.max_power_mw + self.aux_max_mw
        blk.reserve_up_power = pyo.Constraint(T, rule=lambda b, t: up_mw[t] <= b.power[t] + b.aux[t])
        blk.reserve_down_power = pyo.Constraint(
            T, rule=lambda b, t: down_mw[t] <= headroom - b.power[t] - b.aux[t]
        )

        def heat_per_mwh(b, t):
            return b.reserve_heat_per_mwh[t]

        blk.ENDS = pyo.Set(initialize=[0, 1])  # 0: start of the MTU, 1: its end
        if self.mode == "rc":
            c = self.thermal_capacity_mwh_per_k

            def point(b, t, s):  # (temperature, its lower bound, its upper bound) at one end of MTU t
                if s == 1:
                    return b.indoor[t], b.temp_min[t], b.temp_max[t]
                if t == first:
                    return b.indoor_initial, b.initial_min, b.initial_max
                return b.indoor[T.prev(t)], b.temp_min[T.prev(t)], b.temp_max[T.prev(t)]

            def up_rule(b, t, s):
                temp, lo, _ = point(b, t, s)
                return temp - heat_per_mwh(b, t) * up_mwh[t] / c >= lo

            def down_rule(b, t, s):
                temp, _, hi = point(b, t, s)
                return temp + heat_per_mwh(b, t) * down_mwh[t] / c <= hi

            blk.reserve_up_energy = pyo.Constraint(T, blk.ENDS, rule=up_rule)
            blk.reserve_down_energy = pyo.Constraint(T, blk.ENDS, rule=down_rule)
        else:
            cap = self.storage_mwh_heat

            def level(b, t, s):
                return b.storage_level[t] if s == 1 else (b.storage_initial if t == first else b.storage_level[T.prev(t)])

            blk.reserve_up_energy = pyo.Constraint(
                T, blk.ENDS, rule=lambda b, t, s: level(b, t, s) - heat_per_mwh(b, t) * up_mwh[t] >= 0
            )
            blk.reserve_down_energy = pyo.Constraint(
                T, blk.ENDS, rule=lambda b, t, s: level(b, t, s) + heat_per_mwh(b, t) * down_mwh[t] <= cap
            )

    # --- results ----------------------------------------------------------------------------------
    def carry_state(self, schedule) -> dict:
        """The next day starts from this day's final indoor temperature (RC mode) or store levels."""
        last = schedule.iloc[-1]
        out = {}
        if self.mode == "rc":
            lo, hi = self.band_by_hour()  # a band that changes at midnight: start inside hour 0's
            out["indoor_initial_c"] = min(max(float(last[f"{self.name}_indoor_temp_c"]), lo[0]), hi[0])
        else:
            out["storage_initial_mwh_heat"] = min(max(float(last[f"{self.name}_storage_mwh_heat"]), 0.0),
                                                  self.storage_mwh_heat)
            if self.has_tank:
                out["hot_water_initial_mwh_heat"] = min(max(float(last[f"{self.name}_hot_water_mwh_heat"]), 0.0),
                                                        self.hot_water_tank_mwh_heat)
        return out

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        T = blk.power.index_set()
        power, aux = values(blk.power), values(blk.aux)
        cop = np.array([pyo.value(blk.cop[t]) for t in T])
        heat = np.array([pyo.value(blk.space_heat[t]) for t in T])
        if self.has_tank:
            heat = heat + np.array([pyo.value(blk.hot_water_heat[t]) for t in T])
        out = {f"{self.name}_power_mw": power + aux, f"{self.name}_heat_mw": heat}
        if self.mode == "rc":
            out[f"{self.name}_indoor_temp_c"] = values(blk.indoor)
        else:
            out[f"{self.name}_storage_mwh_heat"] = values(blk.storage_level)
            demand = np.array([pyo.value(blk.storage_demand[t]) for t in T])
            if self.has_tank:
                out[f"{self.name}_hot_water_mwh_heat"] = values(blk.hot_water_level)
                demand = demand + np.array([pyo.value(blk.hot_water_demand[t]) for t in T])
            out[f"{self.name}_heat_demand_mw"] = demand
        if self.aux_max_mw > 0:
            out[f"{self.name}_aux_mw"] = aux
        out[f"{self.name}_outdoor_temp_c"] = np.array([pyo.value(blk.outdoor[t]) for t in T])
        out[f"{self.name}_cop"] = cop
        return out
