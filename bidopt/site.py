"""One site on one price path: assets, grid connection, energy value, tariffs and reserve headroom
built onto a Pyomo block.

The deterministic planner builds one ``Site`` on its model; the stochastic bidding model builds one
per price scenario, all sharing the first-stage decisions (bid curves, reserve capacity). Asset
profiles are prepared once and shared; the price stack (import cost, export value per MTU) is the
site's own. Market products come from the registry (``bidopt.markets``): the site builds (or is
given) each offered product's capacity, sums the headroom every product asks of an asset and
passes it to the asset once, and reports each product's streams; it names no product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from bidopt import markets
from bidopt.assets import grid as grid_connection
from bidopt.assets.base import values
from bidopt.horizon import Horizon
from bidopt.markets import dayahead
from bidopt.params import data_objects
from bidopt.tariffs import retail, tax_reduction

STREAM_ORDER = markets.listed_streams()  # the streams every revenue dict lists, in order (the registry's)


def price_stack(case, horizon: Horizon, spot: np.ndarray) -> dict:
    """Per-MWh coefficients from spot prices and which binaries they call for."""
    coefs = retail.coefficients(case, horizon, spot)
    imp, exp = retail.totals(coefs)
    red = tax_reduction.value_eur_per_mwh(case, horizon)  # on reducible (renewable) export only
    negative = bool((imp < 0).any() or (exp < 0).any())
    return {
        "coefs": coefs,
        "import_cost": imp,
        "export_value": exp,
        "tax_reduction": red,
        # must-take generation (non-curtailable PV) can also leave energy with nowhere to go
        "energy_value_can_be_negative": negative or any(getattr(a, "curtailable", True) is False for a in case.assets),
        # importing and exporting at once pays where export (with the reduction it may earn) beats import
        "grid_needs_binaries": bool((exp + red > imp + 1e-9).any()),
    }


def tariff_labels(case) -> list[str]:
    """A unique label per tariff of the case: its name (else its kind), with ``#2``, ``#3`` on repeats."""
    out, seen = [], {}
    for t in case.tariffs:
        base = t.name or t.kind
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


def tariff_unit_costs(case, horizon: Horizon) -> list:
    """Each tariff's ``unit_costs`` (import cost, export value per MTU, EUR/MWh ex VAT) or None."""
    return [t.unit_costs(case, horizon) for t in case.tariffs]


class Site:
    """Builds the site onto ``blk``; ``value_eur`` is its money result (EUR, maximised)."""

    def __init__(self, case, horizon: Horizon, data: dict, spot: np.ndarray, blk: pyo.Block, T: pyo.Set,
                 fcr_capacity: pyo.Block | None = None, binaries: tuple[bool, bool] | None = None,
                 position_mw: np.ndarray | None = None, adjustments: dict | None = None,
                 fcr_prices: dict | None = None, capacities: dict | None = None,
                 scenario_prices: dict | None = None):
        """``capacities`` {product name: capacity block}: first-stage capacity built elsewhere and
        shared (else the site builds its own); ``scenario_prices`` {product name: {stream: price
        per hour}}: this path's own clearing prices for stepped bids (the bids decide volumes).
        ``fcr_capacity`` / ``fcr_prices``: the same for product ``fcr``."""
        self.case, self.horizon, self.data, self.blk = case, horizon, data, blk
        self.spot = np.asarray(spot, dtype=float)
        ps = price_stack(case, horizon, self.spot)
        self.coefs, self.import_cost, self.export_value = ps["coefs"], ps["import_cost"], ps["export_value"]
        self.tax_reduction = ps["tax_reduction"]
        self.energy_value_can_be_negative, self.grid_needs_binaries = (
            binaries if binaries is not None else (ps["energy_value_can_be_negative"], ps["grid_needs_binaries"])
        )
        self.vat_factor = retail.vat_factor(case, horizon)
        self.position_mw = None if position_mw is None else np.asarray(position_mw, dtype=float)
        self.adjustments = dict(adjustments or {})
        self.capacities = dict(capacities or {})
        self.scenario_prices = dict(scenario_prices or {})
        if fcr_capacity is not None:
            self.capacities["fcr"] = fcr_capacity
        if fcr_prices is not None:
            self.scenario_prices["fcr"] = fcr_prices
        self._build(T)

    def _build(self, T) -> None:
        case, h, blk = self.case, self.horizon, self.blk
        self.asset_blocks = {}
        for a in case.assets:
            ab = pyo.Block()
            blk.add_component(f"asset_{a.name}", ab)
            a.build(ab, T, h, self.data[a.name], a.needs_binaries(self.energy_value_can_be_negative))
            self.asset_blocks[a.name] = ab
        blocks = list(self.asset_blocks.values())
        nets = [dict(zip(T, data_objects(b.net_mw), strict=True)) for b in blocks]  # each asset's net_mw by t
        blk.grid = pyo.Block()
        grid_connection.build(blk.grid, T, case.grid.import_limit_mw, case.grid.export_limit_mw,
                              lambda t: sum(n[t] for n in nets), self.grid_needs_binaries)
        blk.dayahead = pyo.Block()
        dayahead.build(blk.dayahead, T, h.dt_h, blk.grid, self.import_cost, self.export_value)
        market_value = blk.dayahead.value_eur
        if tax_reduction.applies(case):  # 0.60 SEK/kWh on renewable export (2015-2025), own variable
            blk.tax_reduction = pyo.Block()
            tax_reduction.build(blk.tax_reduction, T, h, case, blk.grid,
                                tax_reduction.renewable_sources(case, self.asset_blocks), self.tax_reduction)
            market_value = market_value + blk.tax_reduction.value_eur
        products = self._build_products(T)
        if products is not None:
            market_value = market_value + products
        if self.position_mw is not None:
            market_value = market_value + self._build_position(T)
        self.tariff_blocks = {}
        for i, t in enumerate(case.tariffs):
            tb = pyo.Block()
            blk.add_component(f"tariff_{i}_{t.kind}", tb)
            t.build(tb, T, h, case, blk.grid.import_mw)
            if hasattr(tb, "cost_eur"):
                self.tariff_blocks[i] = tb
        self.fixed_cost_eur = sum(t.fixed_cost_eur(case, h) for t in case.tariffs)
        tariff_cost = sum(b.cost_eur for b in self.tariff_blocks.values())
        asset_cost = sum(b.cost_eur for b in blocks if hasattr(b, "cost_eur"))
        blk.vat = pyo.Param(initialize=self.vat_factor, mutable=True, domain=pyo.Any)
        blk.fixed_cost = pyo.Param(initialize=self.fixed_cost_eur, mutable=True, domain=pyo.Any)
        blk.value_eur = pyo.Expression(expr=market_value - blk.vat * (tariff_cost + blk.fixed_cost) - asset_cost)

    def _build_products(self, T):
        """Each offered product's capacity (built here unless given), its site terms and the headroom
        it asks of the assets, summed per asset (``_hold_headroom``). Returns the value (EUR), None
        without products."""
        case, h, blk = self.case, self.horizon, self.blk
        markets.check_asset_choices(case)
        assets = {a.name: a for a in case.assets}
        self.owned, self.market_terms = set(), {}
        value, asked = None, {}
        for prod in markets.capacity_products(case):
            name, cap, sp = prod.name, self.capacities.get(prod.name), self.scenario_prices.get(prod.name)
            if cap is None:
                cap = pyo.Block()
                blk.add_component(name, cap)
                prod.build_capacity(cap, h, case, assets, prices=sp, continuous=sp is not None)
                self.capacities[name] = cap
                self.owned.add(name)
                v = sum(cap.capacity_value_eur[p] for p in cap.P) if sp is None else self._build_accepted(name, cap)
                value = v if value is None else value + v
            terms = pyo.Block()
            blk.add_component(f"{name}_site", terms)
            for a, hr in prod.headroom(cap, terms, T, h, case, assets).items():
                asked.setdefault(a, []).append(hr)
            v = prod.site_value(cap, terms, T, h, case, self.spot)
            if not (isinstance(v, float) and v == 0.0):
                value = v if value is None else value + v
            self.market_terms[name] = terms
        self._hold_headroom(T, asked, assets)
        return value

    def _hold_headroom(self, T, asked: dict, assets: dict) -> None:
        """Pass each asset the headroom of every product it provides, summed (one product: as is),
        and have the grid connection carry all of it at once (``_grid_carries_reserves``)."""
        def at(e, t):
            return e[t] if hasattr(e, "__getitem__") else e

        held = []
        for a, parts in asked.items():
            hr = parts[0]
            if len(parts) > 1:
                rb = pyo.Block()
                self.blk.add_component(f"reserve_{a}", rb)
                for k in ("up_mw", "down_mw", "up_mwh", "down_mwh", "expected_up_mw"):
                    terms = [getattr(x, k) for x in parts if getattr(x, k) is not None]
                    if terms:
                        rb.add_component(k, pyo.Expression(T, rule=lambda b, t, ts=terms: sum(at(e, t) for e in ts)))
                hr = markets.Headroom(*(rb.component(k) for k in markets.Headroom._fields))
            assets[a].add_reserve_headroom(self.asset_blocks[a], T, self.horizon, *hr)
            held.append(hr)
        if held:
            self._grid_carries_reserves(T, held, at)

    def _grid_carries_reserves(self, T, held: list, at) -> None:
        """Full activation of every reserve held moves the site's net import imp - exp by the summed
        power headroom (the one the assets hold, e.g. FCR's 1.34 N + U + 0.20 D): down by the upward
        one (a battery discharging, a load consuming less), up by the downward one. The connection
        must take it: imp_t - exp_t - sum_a up_{a,t} >= -export limit and
        imp_t - exp_t + sum_a down_{a,t} <= import limit (MW). A direction no product asks for, or
        an infinite limit, adds no constraint."""
        g, lim = self.blk.grid, self.case.grid

        def parts(k):
            return [getattr(hr, k) for hr in held if getattr(hr, k) is not None]

        up, down = parts("up_mw"), parts("down_mw")
        if up and np.isfinite(lim.export_limit_mw):
            self.blk.reserve_up_fits_grid = pyo.Constraint(T, rule=lambda b, t: (
                g.import_mw[t] - g.export_mw[t] - sum(at(e, t) for e in up) >= -lim.export_limit_mw))
        if down and np.isfinite(lim.import_limit_mw):
            self.blk.reserve_down_fits_grid = pyo.Constraint(T, rule=lambda b, t: (
                g.import_mw[t] - g.export_mw[t] + sum(at(e, t) for e in down) <= lim.import_limit_mw))

    def refresh(self, case, horizon: Horizon, data: dict, spot: np.ndarray, stack: dict | None = None) -> bool:
        """Put a new horizon of the same length (a next day) with its case, data and prices into the
        built block: every asset and tariff sets its Params (``refresh``). False when something
        needs a different structure (binaries, asset or tariff shape, reserve capacity or a held position, which
        are not refreshed): the caller rebuilds. ``stack``: ``price_stack(case, horizon, spot)`` if
        the caller has it already."""
        if horizon.n != self.horizon.n or markets.capacity_products(case) or self.position_mw is not None:
            return False
        if [(a.name, a.kind) for a in case.assets] != [(a.name, a.kind) for a in self.case.assets]:
            return False
        if [t.kind for t in case.tariffs] != [t.kind for t in self.case.tariffs]:
            return False
        if (case.grid.import_limit_mw, case.grid.export_limit_mw) != (
                self.case.grid.import_limit_mw, self.case.grid.export_limit_mw):
            return False
        ps = price_stack(case, horizon, spot) if stack is None else stack
        if (ps["energy_value_can_be_negative"], ps["grid_needs_binaries"]) != (
                self.energy_value_can_be_negative, self.grid_needs_binaries):
            return False
        blk, T = self.blk, self.blk.grid.import_mw.index_set()
        red = blk.component("tax_reduction")
        if (red is not None) != tax_reduction.applies(case) or (
                red is not None and not tax_reduction.refresh(red, horizon, case, ps["tax_reduction"])):
            return False
        for a in case.assets:
            if not a.refresh(self.asset_blocks[a.name], horizon, data[a.name],
                             a.needs_binaries(self.energy_value_can_be_negative)):
                return False
        for i, t in enumerate(case.tariffs):
            if not t.refresh(blk.component(f"tariff_{i}_{t.kind}"), T, horizon, case, blk.grid.import_mw):
                return False
        self.case, self.horizon, self.data = case, horizon, data
        self.spot = np.asarray(spot, dtype=float)
        self.coefs, self.import_cost, self.export_value = ps["coefs"], ps["import_cost"], ps["export_value"]
        self.tax_reduction = ps["tax_reduction"]
        dayahead.update(blk.dayahead, self.import_cost, self.export_value)
        self.vat_factor = retail.vat_factor(case, horizon)
        self.fixed_cost_eur = sum(t.fixed_cost_eur(case, horizon) for t in case.tariffs)
        blk.vat.set_value(self.vat_factor)
        blk.fixed_cost.set_value(self.fixed_cost_eur)
        return True

    def _build_accepted(self, name: str, cap):
        """Stepped bids (``bidopt.bids.capacity_steps``): ``cap`` (``blk.<name>``) holds the headroom
        for every volume the bids may get accepted (the top of each bid ladder); this path earns its
        own clearing price on ``<name>_accepted.mw``, the volume its prices accept (MW per stream and
        hour, tied to the ladder by the bidding model). Returns the value (EUR)."""
        fa = pyo.Block()
        self.blk.add_component(f"{name}_accepted", fa)
        fa.mw = pyo.Var(cap.P, cap.H, bounds=(0, None))
        fa.value_eur = pyo.Expression(cap.P, rule=lambda b, p: sum(cap.price[p, h] * b.mw[p, h] for h in cap.H))
        return sum(fa.value_eur[p] for p in cap.P)

    def _build_position(self, T):
        """A day-ahead position already held (MW, + = bought) that the grid flow must follow, up to
        adjustments traded in named markets (``intraday``, ``imbalance``...) at their own buy and
        sell prices, only in the MTUs each market allows (gate closure). The physical flows are
        valued at spot in ``dayahead``; the adjustment term adds the difference to each market's
        price, so the total equals position at spot plus adjustments at their prices."""
        blk, dt_h = self.blk, self.horizon.dt_h
        names = list(self.adjustments)
        blk.position = pyo.Param(T, initialize=dict(enumerate(self.position_mw)), mutable=True)
        blk.ADJ = pyo.Set(initialize=names)
        blk.adj_buy = pyo.Var(blk.ADJ, T, bounds=(0, None))
        blk.adj_sell = pyo.Var(blk.ADJ, T, bounds=(0, None))
        for n in names:
            allowed = self.adjustments[n][2]
            for t in T:
                if allowed is not None and not allowed[t]:
                    blk.adj_buy[n, t].fix(0.0)
                    blk.adj_sell[n, t].fix(0.0)
        g = blk.grid
        blk.follows_position = pyo.Constraint(
            T, rule=lambda b, t: g.import_mw[t] - g.export_mw[t]
            == b.position[t] + sum(b.adj_buy[n, t] - b.adj_sell[n, t] for n in names)
        )
        spot = self.spot
        return -dt_h * sum(
            blk.adj_buy[n, t] * float(self.adjustments[n][0][t] - spot[t])
            - blk.adj_sell[n, t] * float(self.adjustments[n][1][t] - spot[t])
            for n in names for t in T
        )

    def adjustment_trades(self) -> pd.DataFrame:
        """Net traded volume per adjustment market and MTU (MW, + = bought)."""
        if self.position_mw is None:
            return pd.DataFrame(index=self.horizon.index)
        b = self.blk
        cols = {n: np.array([(b.adj_buy[n, t].value or 0.0) - (b.adj_sell[n, t].value or 0.0) for t in b.position])
                for n in b.ADJ}
        return pd.DataFrame(cols, index=self.horizon.index)

    def set_prices(self, spot: np.ndarray) -> bool:
        """New spot prices on the built block; False if they need binaries the block lacks."""
        ps = price_stack(self.case, self.horizon, spot)
        if (ps["energy_value_can_be_negative"] and not self.energy_value_can_be_negative) or (
            ps["grid_needs_binaries"] and not self.grid_needs_binaries
        ):
            return False
        self.spot = np.asarray(spot, dtype=float)
        self.coefs, self.import_cost, self.export_value = ps["coefs"], ps["import_cost"], ps["export_value"]
        dayahead.update(self.blk.dayahead, self.import_cost, self.export_value)
        for name, terms in self.market_terms.items():
            markets.product(name).update_spot(terms, self.spot)
        return True

    # --- results ----------------------------------------------------------------------------------
    def net_grid_flows(self) -> None:
        """Report import and export net of each other. Where export earns exactly what import costs
        the solver may do both at once at no cost; netting them changes no money, lowers no limit
        and can only lower a peak, so the reported schedule shows the physical flow."""
        g = self.blk.grid
        imp, exp = values(g.import_mw), values(g.export_mw)
        both = np.minimum(imp, exp)
        earns = np.asarray(self.export_value) + np.asarray(self.tax_reduction)
        net = (both > 0) & (earns <= np.asarray(self.import_cost) + 1e-9)
        imports, exports = data_objects(g.import_mw), data_objects(g.export_mw)
        red = self.blk.component("tax_reduction")
        reducible = data_objects(red.mw) if red is not None else None
        for k in np.flatnonzero(net).tolist():
            imports[k].set_value(float(imp[k] - both[k]), skip_validation=True)
            exports[k].set_value(float(exp[k] - both[k]), skip_validation=True)
            if reducible is not None and (reducible[k].value or 0.0) > exp[k] - both[k]:
                reducible[k].set_value(float(exp[k] - both[k]), skip_validation=True)  # only what is fed in

    def schedule(self) -> pd.DataFrame:
        blk = self.blk
        cols: dict[str, np.ndarray] = {
            "grid_import_mw": values(blk.grid.import_mw),
            "grid_export_mw": values(blk.grid.export_mw),
        }
        for a in self.case.assets:
            cols.update(a.schedule(self.asset_blocks[a.name], self.horizon))
        for name in self.market_terms:
            cols.update(markets.product(name).schedule(self.capacities[name], self.horizon))
        cols["price_eur_per_mwh"] = self.spot
        df = pd.DataFrame(cols, index=self.horizon.index)
        df.index.name = "timestamp_utc"
        return df

    def tariff_breakdown(self, unit_costs: list | None = None) -> dict[str, float]:
        """The ``tariff`` stream of ``revenue()`` per tariff (EUR ex VAT, costs negative; VAT on
        tariffs is in ``tax``), keyed by ``tariff_labels``: unit costs and export values, model
        costs (monthly peaks) and fixed fees; plus ``grid_benefit`` (``[retail.export]``) where
        exports earn it. Sums to ``revenue()["tariff"]``. ``unit_costs``: ``tariff_unit_costs``
        of this case and horizon, if the caller has them (several scenario sites share them)."""
        case, h = self.case, self.horizon
        imp, exp = values(self.blk.grid.import_mw), values(self.blk.grid.export_mw)
        net_billing = case.retail.export.policy == "net_billing"
        uc_all = tariff_unit_costs(case, h) if unit_costs is None else unit_costs
        out = {}
        for i, (t, label) in enumerate(zip(case.tariffs, tariff_labels(case), strict=True)):
            v = 0.0
            if uc_all[i] is not None:
                c_imp, c_exp = uc_all[i]
                v += float(np.sum((c_imp if net_billing else c_exp) * exp - c_imp * imp) * h.dt_h)
            if i in self.tariff_blocks:
                v -= float(pyo.value(self.tariff_blocks[i].cost_eur))
            out[label] = v - t.fixed_cost_eur(case, h)
        benefit = case.retail.export.grid_benefit_sek_per_kwh * retail.sek_per_kwh_to_eur_per_mwh(case)
        if not net_billing and benefit:
            out["grid_benefit"] = float(np.sum(benefit * exp) * h.dt_h)
        return out

    def charge_details(self) -> list[dict]:
        """Monthly charges booked by the tariffs that have them (``charge_detail``: peak tariffs)."""
        out = []
        for i, b in self.tariff_blocks.items():
            detail = getattr(self.case.tariffs[i], "charge_detail", None)
            if detail is not None:
                out += detail(b)
        return out

    def revenue(self, include_capacity: bool | None = None) -> dict[str, float]:
        """Result per stream in EUR (costs negative); sums to ``value_eur`` (plus the first-stage
        capacity value when the capacity is shared and ``include_capacity``)."""
        g, dt_h = self.blk.grid, self.horizon.dt_h
        imp, exp = values(g.import_mw), values(g.export_mw)
        out = {s: float(np.sum(c_exp * exp - c_imp * imp) * dt_h) for s, (c_imp, c_exp) in self.coefs.items()}
        tariff_cost = sum(pyo.value(b.cost_eur) for b in self.tariff_blocks.values()) + self.fixed_cost_eur
        out["tariff"] -= tariff_cost
        out["tax"] -= (self.vat_factor - 1.0) * tariff_cost
        red = self.blk.component("tax_reduction")
        if red is not None:  # the micro-production tax reduction on reducible export
            out["tax"] += float(np.sum(self.tax_reduction * values(red.mw)) * dt_h)
        out["degradation"] = 0.0
        for a in self.case.assets:
            out[a.cost_stream] = out.get(a.cost_stream, 0.0) - a.cost_eur(self.asset_blocks[a.name])
        order = markets.stream_order(self.case)
        for s in order:
            out.setdefault(s, 0.0)
        if self.position_mw is not None:
            b = self.blk
            for n in b.ADJ:
                buy_p, sell_p, _ = self.adjustments[n]
                buy = np.array([b.adj_buy[n, t].value or 0.0 for t in b.position])
                sell = np.array([b.adj_sell[n, t].value or 0.0 for t in b.position])
                out[n] = out.get(n, 0.0) - float(np.sum(buy * buy_p - sell * sell_p) * dt_h)
                out["dayahead"] += float(np.sum((buy - sell) * self.spot) * dt_h)  # dayahead: the position only
        for name, terms in self.market_terms.items():
            self._product_revenue(out, name, terms, include_capacity)
        return {**{k: out[k] for k in order}, **{k: v for k, v in out.items() if k not in order}}

    def _product_revenue(self, out: dict, name: str, terms, include_capacity: bool | None) -> None:
        """Add product ``name``'s streams to ``out``: its site terms, and its capacity value when the
        site owns the capacity (or ``include_capacity``); stepped bids earn on the accepted volume."""
        cap = self.capacities[name]
        with_capacity = (name in self.owned) if include_capacity is None else include_capacity
        accepted = self.blk.component(f"{name}_accepted")
        held = cap if with_capacity and accepted is None else None
        for p, v in markets.product(name).revenue(held, terms).items():
            out[p] = out.get(p, 0.0) + v
        if with_capacity and accepted is not None:
            for p in cap.P:
                out[p] = out.get(p, 0.0) + float(pyo.value(accepted.value_eur[p]))
