"""What every asset kind provides to the portfolio model.

An asset adds a Pyomo Block holding its variables and constraints and an expression ``net_mw[t]``:
its power at the site's connection point in MW, positive = consumption (the same sign as grid
import). It may add an objective cost ``cost_eur`` (e.g. degradation) and report schedule columns.
Assets know nothing of markets or tariffs.
"""

from __future__ import annotations

from operator import attrgetter
from typing import ClassVar, NamedTuple

import numpy as np
import pyomo.environ as pyo
from pydantic import Field

from bidopt.case import AssetSpec
from bidopt.errors import InputError
from bidopt.expr_value import linear_value
from bidopt.horizon import Horizon
from bidopt.params import data_objects


class Flexibility(NamedTuple):
    """What an asset can do on top of its schedule, whichever product asks (MW, seconds).

    ``up``: raise output or cut consumption; ``down``: the other way; ``up_limit_mw`` /
    ``down_limit_mw``: the most capacity it is prequalified for in that direction (None: no cap);
    ``continuous``: it can follow a continuous two-way signal around its schedule (storage can;
    loads switched on an event cannot); ``response_s``: how fast it reaches full activation (None:
    not declared, i.e. not a fast responder)."""

    up: bool = True
    down: bool = True
    up_limit_mw: float | None = None
    down_limit_mw: float | None = None
    continuous: bool = False
    response_s: float | None = None


class AssetBase(AssetSpec):
    """Default behaviour shared by asset kinds."""

    #: the summary.json revenue stream the asset's own cost (``blk.cost_eur``) is reported under
    cost_stream: ClassVar[str] = "degradation"
    #: whether an asset of this kind is a limited energy reservoir unless its ``ler`` field says
    ler_default: ClassVar[bool] = False

    # a limited energy reservoir (LER: a reservoir smaller than 2 h of full activation of its reserve
    # capacity, MARKET_RULES 3.3): reserves keep the LER reservation (energy management power on top
    # of the activation); None: the kind's default (``limited_energy_reservoir``)
    ler: bool | None = Field(None)

    def prepare(self, case, horizon: Horizon) -> dict:
        """Load data the asset needs (profiles) for ``horizon``; returned dict goes to build()."""
        return {}

    def check(self, horizon: Horizon, data: dict) -> None:
        """Raise InfeasibleError before solving when the asset alone cannot be feasible."""

    def needs_binaries(self, energy_value_can_be_negative: bool) -> bool:
        """Whether this asset needs its binaries (e.g. charge/discharge exclusivity) on this horizon."""
        return False

    def build(self, blk: pyo.Block, T: pyo.Set, horizon: Horizon, data: dict, use_binaries: bool) -> None:
        raise NotImplementedError

    def refresh(self, blk: pyo.Block, horizon: Horizon, data: dict, use_binaries: bool) -> bool:
        """Put a new horizon's data into a block ``build`` made (same number of MTUs), by setting its
        mutable Params; False when the block's structure does not fit (the model is then rebuilt).
        Default: not refreshable. An asset that refreshes keeps every day-dependent number in a
        Param and checks in ``same_build`` that nothing else changed."""
        return False

    def same_build(self, blk: pyo.Block, use_binaries: bool, *state_fields: str) -> bool:
        """Whether ``blk`` was built by an asset equal to this one up to ``state_fields`` (the fields
        a backtest carries from day to day) and with the same binaries; records it on first use."""
        key = (self.model_dump_json(exclude=set(state_fields)), use_binaries)
        built = getattr(blk, "_built_as", None)
        if built is None:
            blk._built_as = key
            return True
        return built == key

    def must_run_mw(self, data: dict, negative_price: bool = False) -> np.ndarray | None:
        """The part of the asset's net power (MW per MTU, + = consumption) that stays whatever the
        day-ahead price (of that sign: ``negative_price``): what the bid curves keep buying (or
        selling) beyond the scenario prices (``bidopt.bids.tails``). None: fully price-flexible
        (storage, shiftable and thermal loads, EVs), i.e. 0."""
        return None

    def round_trip_efficiency(self) -> float | None:
        """Grid-to-grid efficiency of energy the asset stores and gives back (storage), else None."""
        return None

    # --- reserves: the small interface every asset that can provide reserves implements ----------
    def flexibility(self) -> Flexibility | None:
        """The up/down flexibility the asset offers to reserve products (``bidopt.markets`` asks it);
        None by default: it offers none."""
        return None

    def reserve_choice(self) -> list[str] | None:
        """The reserve streams the user restricted this asset to (a case field), None = any it can."""
        return None

    def offers(self, stream: str) -> bool:
        """Whether the user lets the asset sell reserve ``stream`` (a name a product passes)."""
        choice = self.reserve_choice()
        return choice is None or stream in choice

    def limited_energy_reservoir(self) -> bool:
        """Whether the asset is a limited energy reservoir: its ``ler`` field, else the kind's default
        (batteries yes; loads, heat pumps and one-way EV charging no)."""
        return self.ler_default if self.ler is None else bool(self.ler)

    def add_reserve_headroom(
        self, blk: pyo.Block, T: pyo.Set, horizon: Horizon, up_mw, down_mw, up_mwh, down_mwh, expected_up_mw=None
    ) -> None:
        """Constrain the asset so that, on top of its planned schedule, in every MTU t it can

        - raise its output or cut its consumption by ``up_mw[t]`` (MW at the connection point) and
          sustain that for ``up_mwh[t]`` MWh, and
        - lower its output or raise its consumption by ``down_mw[t]`` and absorb ``down_mwh[t]`` MWh.

        ``expected_up_mw[t]`` is the expected net activation (MW, + = upward), which moves the energy
        of a storage asset. Arguments are Pyomo expressions indexed by ``T``, built by the market module from the sold
        capacities and the product rules (e.g. the LER multipliers), summed over every product the
        asset provides. Called only when ``flexibility()`` is not None. Markets never look inside the
        asset; assets never know which product asked.
        """
        raise NotImplementedError

    def schedule(self, blk: pyo.Block, horizon: Horizon) -> dict[str, np.ndarray]:
        """Schedule columns of this asset (name-prefixed), one value per MTU."""
        raise NotImplementedError

    def carry_state(self, schedule) -> dict:
        """Fields to set on this asset's spec for the next day, read from the end of a delivered
        schedule (a DataFrame of ``schedule.csv`` columns): the rolling backtest's state. Default:
        nothing is carried (the asset starts each day from its case values)."""
        return {}

    def soc_state(self) -> tuple[str, float, float, float] | None:
        """For an asset that stores energy: (the field holding its stored energy at the start of the
        horizon in MWh, the lowest and highest value it may take, the value a plan starts from). It
        lets a caller set today's state (``bidopt.with_state``, ``--soc NAME=MWH``). Default: None,
        the asset stores no energy."""
        return None

    # --- the no_flex baseline: how the asset runs without optimisation -----------------------------
    def fix_unmanaged(self, blk: pyo.Block, horizon: Horizon, data: dict) -> None:
        """Fix the decisions ``build`` made on ``blk`` to how the asset runs with nobody optimising
        it (the ``no_flex`` baseline of a backtest, ``bidopt.backtest.baselines``): each kind says
        what that is (a battery idles, an EV charges on arrival, ...). Default: an asset without
        decision variables (a fixed load) has nothing to fix; any other kind that does not
        override this cannot run unmanaged, which is bad input naming the asset."""
        if next(iter(blk.component_objects(pyo.Var, descend_into=True)), None) is not None:
            raise InputError(None, f"assets.{self.name}", f"asset kind {self.kind!r} defines no unmanaged "
                             "behaviour (fix_unmanaged), so the no_flex baseline cannot run it")

    def cost_eur(self, blk: pyo.Block) -> float:
        """The asset's own cost in the solved schedule (EUR, positive = cost)."""
        cost = blk.component("cost_eur")
        return 0.0 if cost is None else linear_value(cost)


_VALUE = attrgetter("value")


def values(var) -> np.ndarray:
    """Solved values of an indexed component as an array in index order (missing -> 0)."""
    out = np.array(list(map(_VALUE, data_objects(var))), dtype=float)  # None (no value) becomes nan
    out[np.isnan(out)] = 0.0
    return out
