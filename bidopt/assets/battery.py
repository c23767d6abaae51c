"""Battery energy storage.

Variables per MTU t (MW, MWh): charge power c_t, discharge power d_t, state of charge s_t at the END
of MTU t. Dynamics: s_t = s_{t-1} + (eta_c c_t - d_t / eta_d) dt, with s_{-1} = soc_initial_mwh.
Bounds: 0 <= c_t <= charge power, 0 <= d_t <= discharge power, soc_min <= s_t <= soc_max, optional
final SoC (s_last >= soc_final_mwh), optional daily cycle limit (discharged energy per local day <=
max_cycles_per_day * (soc_max - soc_min), the usable energy). Degradation costs degradation_eur_per_mwh per MWh of throughput
(charged + discharged energy).

Charge/discharge exclusivity needs a binary u_t (c_t <= P_c u_t, d_t <= P_d (1 - u_t)) only when
burning energy in round-trip losses can pay: when a MWh can have a negative value (negative import
cost or export value). ``exclusive = "auto"`` adds them exactly then; true/false force it.

Reserves: a battery offers flexibility both ways, continuous and fast (``flexibility``), up to its
rated power per direction or ``prequalified_mw``; ``reserves`` restricts which reserve streams it
sells. It is a limited energy reservoir (``ler = true`` by default), which the reserve products'
own rules read. The headroom the products ask for is held by ``add_reserve_headroom``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, model_validator

from bidopt.assets.base import AssetBase, Flexibility, values
from bidopt.case import register_asset
from bidopt.errors import InfeasibleError
from bidopt.horizon import Horizon
from bidopt.params import data_objects

FAST_RESPONSE_S = 0.5  # s to full activation declared for a battery inverter (typical; UNVERIFIED)


@register_asset
class Battery(AssetBase):
    kind: Literal["battery"] = "battery"
    ler_default: ClassVar[bool] = True  # a limited energy reservoir (MARKET_RULES 3.3)
    power_mw: float | None = Field(None, ge=0)
    charge_power_mw: float | None = Field(None, ge=0)
    discharge_power_mw: float | None = Field(None, ge=0)
    energy_mwh: float = Field(gt=0)
    charge_efficiency: float = Field(0.95, gt=0, le=1)
    discharge_efficiency: float = Field(0.95, gt=0, le=1)
    soc_min_mwh: float = Field(0.0, ge=0)
    soc_max_mwh: float | None = Field(None, ge=0)
    soc_initial_mwh: float | None = Field(None, ge=0)
    soc_final_mwh: float | None = Field(None, ge=0)
    degradation_eur_per_mwh: float = Field(0.0, ge=0)
    max_cycles_per_day: float | None = Field(None, gt=0)
    exclusive: Literal["auto", True, False] = "auto"
    prequalified_mw: float | None = Field(None, ge=0)  # reserve capacity cap per direction; default rated power
    # reserve streams the battery may sell (names checked against bidopt.markets); None: any it can
    reserves: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.power_mw is None and (self.charge_power_mw is None or self.discharge_power_mw is None):
            raise ValueError("give power_mw, or both charge_power_mw and discharge_power_mw")
        smax = self.soc_max
        if smax > self.energy_mwh + 1e-9:
            raise ValueError(f"soc_max_mwh ({smax}) above energy_mwh ({self.energy_mwh})")
        if self.soc_min_mwh > smax:
            raise ValueError(f"soc_min_mwh ({self.soc_min_mwh}) above soc_max_mwh ({smax})")
        for field in ("soc_initial_mwh", "soc_final_mwh"):
            v = getattr(self, field)
            if v is not None and not (self.soc_min_mwh - 1e-9 <= v <= smax + 1e-9):
                raise ValueError(f"{field} ({v}) outside [soc_min_mwh, soc_max_mwh] = [{self.soc_min_mwh}, {smax}]")
        return self

    @property
    def soc_max(self) -> float:
        return self.energy_mwh if self.soc_max_mwh is None else self.soc_max_mwh

    @property
    def p_charge(self) -> float:
        return self.power_mw if self.charge_power_mw is None else self.charge_power_mw

    @property
    def p_discharge(self) -> float:
        return self.power_mw if self.discharge_power_mw is None else self.discharge_power_mw

    @property
    def soc_start(self) -> float:
        return (self.soc_min_mwh + self.soc_max) / 2 if self.soc_initial_mwh is None else self.soc_initial_mwh

    def soc_state(self) -> tuple[str, float, float, float]:
        return ("soc_initial_mwh", self.soc_min_mwh, self.soc_max, self.soc_start)

    def check(self, horizon: Horizon, data: dict) -> None:
        if self.soc_final_mwh is None:
            return
        hours = horizon.n * horizon.dt_h
        reach_up = self.soc_start + self.p_charge * self.charge_efficiency * hours
        if reach_up + 1e-9 < self.soc_final_mwh:
            raise InfeasibleError(
                self.name,
                "soc_final_mwh",
                f"final SoC {self.soc_final_mwh} MWh cannot be reached from {self.soc_start} MWh "
                f"in {hours:g} h at {self.p_charge} MW charge (at most {reach_up:.4g} MWh)",
            )

    def needs_binaries(self, energy_value_can_be_negative: bool) -> bool:
        if self.exclusive == "auto":
            return energy_value_can_be_negative
        return bool(self.exclusive)

    # the spec's numbers, held in mutable Params (``_set_numbers``): a built block takes another
    # battery of the same structure (``refresh``), e.g. the next home of a fleet
    NUMBERS: ClassVar[tuple[str, ...]] = (
        "power_mw", "charge_power_mw", "discharge_power_mw", "energy_mwh", "charge_efficiency",
        "discharge_efficiency", "soc_min_mwh", "soc_max_mwh", "soc_initial_mwh", "soc_final_mwh",
        "degradation_eur_per_mwh", "max_cycles_per_day")

    def build(self, blk, T, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        """The block's Params, variables and rows. Rows are written over lists of the variables'
        data objects (in T's order) rather than rules indexing T: the same expressions, built in
        the same order, without an index lookup per term (a cold plan's build is mostly this)."""
        self.same_build(blk, use_binaries, *self.NUMBERS)
        dt_h = horizon.dt_h
        for name in ("p_charge", "p_discharge", "soc_lo", "soc_hi", "soc_initial", "eta_c", "eta_d", "degradation"):
            blk.add_component(name, pyo.Param(mutable=True, initialize=0.0, domain=pyo.Any))
        blk.charge = pyo.Var(T, bounds=(0, blk.p_charge))
        blk.discharge = pyo.Var(T, bounds=(0, blk.p_discharge))
        blk.soc = pyo.Var(T, bounds=(blk.soc_lo, blk.soc_hi))
        charge, discharge, soc = data_objects(blk.charge), data_objects(blk.discharge), data_objects(blk.soc)
        eta_c, eta_d = blk.eta_c, blk.eta_d

        # energy moved by expected reserve activation (0 unless a market sets it)
        blk.activation_mwh = pyo.Expression(T, initialize=0.0)
        at_start = [blk.soc_initial, *soc[:-1]]  # s_{t-1}: the SoC at the start of each MTU
        terms = zip(T, soc, at_start, charge, discharge, data_objects(blk.activation_mwh), strict=True)
        # eta_c c_t - d_t / eta_d, with the coefficient -1/eta_d made once for all MTUs (Pyomo builds
        # the same term either way: a monomial whose coefficient is -(1/eta_d))
        minus_inv_eta_d = -(1 / eta_d)
        dynamics = {t: s == prev + (eta_c * c + minus_inv_eta_d * d) * dt_h - a for t, s, prev, c, d, a in terms}
        blk.soc_dynamics = pyo.Constraint(T, rule=lambda b, t: dynamics[t])
        if self.soc_final_mwh is not None:
            blk.soc_final = pyo.Param(initialize=0.0, mutable=True, domain=pyo.Any)
            blk.soc_final_target = pyo.Constraint(expr=soc[-1] >= blk.soc_final)
        if use_binaries:
            blk.charging = pyo.Var(T, within=pyo.Binary)
            charging = dict(zip(T, data_objects(blk.charging), strict=True))
            blk.charge_only_when_charging = pyo.Constraint(
                T, rule=lambda b, t: b.charge[t] <= b.p_charge * charging[t]
            )
            blk.discharge_only_when_not_charging = pyo.Constraint(
                T, rule=lambda b, t: b.discharge[t] <= b.p_discharge * (1 - charging[t])
            )
        if self.max_cycles_per_day is not None:
            blk.day_members = _day_members(T, horizon)
            members = blk.day_members
            blk.DAYS = pyo.RangeSet(0, len(members) - 1)
            blk.cycle_limit = pyo.Param(mutable=True, initialize=0.0, domain=pyo.Any)
            blk.daily_cycle_limit = pyo.Constraint(
                blk.DAYS, rule=lambda b, i: sum(b.discharge[t] for t in members[i]) * dt_h <= b.cycle_limit
            )
        net = {t: c - d for t, c, d in zip(T, charge, discharge, strict=True)}
        blk.net_mw = pyo.Expression(T, rule=lambda b, t: net[t])
        blk.cost_eur = pyo.Expression(
            expr=blk.degradation * dt_h * sum(c + d for c, d in zip(charge, discharge, strict=True))
        )
        self._set_numbers(blk)

    def _set_numbers(self, blk) -> None:
        """The spec's numbers into the block's Params (MW, MWh, EUR/MWh, per-unit efficiencies)."""
        for name, v in (("p_charge", self.p_charge), ("p_discharge", self.p_discharge), ("soc_lo", self.soc_min_mwh),
                        ("soc_hi", self.soc_max), ("soc_initial", self.soc_start), ("eta_c", self.charge_efficiency),
                        ("eta_d", self.discharge_efficiency), ("degradation", self.degradation_eur_per_mwh)):
            blk.component(name).set_value(v)
        if self.soc_final_mwh is not None:
            blk.soc_final.set_value(self.soc_final_mwh)
        if self.max_cycles_per_day is not None:
            blk.cycle_limit.set_value(self.max_cycles_per_day * (self.soc_max - self.soc_min_mwh))

    def refresh(self, blk, horizon: Horizon, data: dict, use_binaries: bool) -> bool:
        """A new day, or another battery of the same structure (the same binaries, final-SoC target
        and cycle limit present or not, the same local days): its numbers into the Params."""
        if (not self.same_build(blk, use_binaries, *self.NUMBERS)
                or (self.soc_final_mwh is None) != (blk.component("soc_final") is None)
                or (self.max_cycles_per_day is None) != (blk.component("DAYS") is None)
                or (self.max_cycles_per_day is not None
                    and blk.day_members != _day_members(blk.charge.index_set(), horizon))):
            return False
        self._set_numbers(blk)
        return True

    def fix_unmanaged(self, blk, horizon: Horizon, data: dict) -> None:
        """Unmanaged, a battery idles: no charge, no discharge, so it holds its initial SoC (an
        end-of-day target above it is dropped)."""
        for var in (blk.charge, blk.discharge):
            for t in var:
                var[t].fix(0.0)
        if hasattr(blk, "charging"):
            for t in blk.charging:
                blk.charging[t].fix(0)
        if hasattr(blk, "soc_final_target"):
            blk.soc_final_target.deactivate()

    def round_trip_efficiency(self) -> float:
        return self.charge_efficiency * self.discharge_efficiency

    def reserve_choice(self) -> list[str] | None:
        return self.reserves

    def flexibility(self) -> Flexibility:
        """Both ways, continuous, fast (an inverter: FAST_RESPONSE_S). Prequalified capacity: the rated
        power in each direction (a charging position may add headroom, but not capacity beyond what
        the unit is prequalified for), or ``prequalified_mw``."""
        q = self.prequalified_mw
        return Flexibility(up=True, down=True, up_limit_mw=self.p_discharge if q is None else q,
                           down_limit_mw=self.p_charge if q is None else q, continuous=True,
                           response_s=FAST_RESPONSE_S)

    def add_reserve_headroom(self, blk, T, horizon, up_mw, down_mw, up_mwh, down_mwh, expected_up_mw=None) -> None:
        """LER headroom on top of the schedule. Power: stopping a charge and discharging up to P_d
        both count upwards (up <= P_d - d_t + c_t), and vice versa downwards. Energy must be there at
        the start and the end of every MTU: (s - soc_min) * eta_d >= up_mwh, (soc_max - s) / eta_c >=
        down_mwh, so full activation for the endurance time never leaves the SoC window."""
        eta_c, eta_d = self.charge_efficiency, self.discharge_efficiency
        first = T.first()

        def start(b, t):
            return b.soc_initial if t == first else b.soc[T.prev(t)]

        blk.reserve_power_up = pyo.Constraint(
            T, rule=lambda b, t: up_mw[t] <= self.p_discharge - b.discharge[t] + b.charge[t]
        )
        blk.reserve_power_down = pyo.Constraint(
            T, rule=lambda b, t: down_mw[t] <= self.p_charge - b.charge[t] + b.discharge[t]
        )
        blk.reserve_energy_up_end = pyo.Constraint(
            T, rule=lambda b, t: up_mwh[t] <= (b.soc[t] - self.soc_min_mwh) * eta_d
        )
        blk.reserve_energy_up_start = pyo.Constraint(
            T, rule=lambda b, t: up_mwh[t] <= (start(b, t) - self.soc_min_mwh) * eta_d
        )
        blk.reserve_energy_down_end = pyo.Constraint(
            T, rule=lambda b, t: down_mwh[t] <= (self.soc_max - b.soc[t]) / eta_c
        )
        blk.reserve_energy_down_start = pyo.Constraint(
            T, rule=lambda b, t: down_mwh[t] <= (self.soc_max - start(b, t)) / eta_c
        )
        if expected_up_mw is not None:
            # signed expected activation: upward drains at 1/eta_d, downward fills at eta_c; a
            # symmetric average is used (exact when activation is one-signed within an MTU)
            mean_eff = 0.5 * (1.0 / eta_d + eta_c)
            for t in T:
                blk.activation_mwh[t].set_value(expected_up_mw[t] * horizon.dt_h * mean_eff)

    def carry_state(self, schedule) -> dict:
        """The next day starts from this day's final SoC (clipped into the SoC window)."""
        soc = float(schedule[f"{self.name}_soc_mwh"].iloc[-1])
        return {"soc_initial_mwh": min(max(soc, self.soc_min_mwh), self.soc_max)}

    def schedule(self, blk, horizon: Horizon) -> dict[str, np.ndarray]:
        return {
            f"{self.name}_charge_mw": values(blk.charge),
            f"{self.name}_discharge_mw": values(blk.discharge),
            f"{self.name}_soc_mwh": values(blk.soc),
        }


def _day_members(T, horizon: Horizon) -> dict[int, list]:
    """The MTUs of each local day of the horizon, days in order (the daily cycle limit's groups)."""
    days = horizon.local_date
    return {i: [t for t in T if days[t] == d] for i, d in enumerate(sorted(set(days)))}
