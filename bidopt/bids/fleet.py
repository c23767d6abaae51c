"""Fleet bidding: one day-ahead portfolio bid for many small sites, solved site by site.

``fleet_bid(cases, day)`` bids a fleet of sites (homes with a battery, a heat pump or an EV charger,
each with its own tariff) as one portfolio in one bidding zone:

1. **One scenario cube for the fleet.** The day-ahead price scenarios are forecast once, with the
   bidding forecaster of ``bidopt.bids.dayahead.price_scenarios`` and the ``[bidding]`` settings
   (``n_scenarios``, ``seed``, ``lookback_days``, ``scenarios``) of the *first* case, unless a cube
   is given. Every site is bid against this same cube, so every site's curve has its points at the
   same prices in each MTU (the distinct scenario prices, ``bidopt.bids.stochastic``).
2. **Each site solved on its own.** Each site gets the stochastic curve model of
   ``bidopt.bids.stochastic.BiddingModel`` (one copy of the site per scenario, one monotone curve
   per MTU, expected value, plus the site's own CVaR term if its ``risk_beta`` > 0), exactly the
   model ``bidopt.bid(case, day, scenarios=cube)`` solves for that site (``bidopt.bids.fleet_sites``). Sites are solved in chunks
   (``chunk`` sites per task): in this process with ``workers=1``, on a local Dask cluster
   (``LocalCluster(processes=True, threads_per_worker=1)``) with ``workers > 1``, or on an existing
   Dask scheduler (``scheduler="tcp://host:8786"``). Local workers start from a fork server that
   has imported bidopt once (Linux), not each importing it again. Only small results come back from a task:
   per site the curve volumes, the expected grid import and export (numpy arrays), the expected
   objective and the solve times. No Pyomo model leaves a worker. A worker keeps one built model per
   site shape (horizon, cube, risk settings, asset names and kinds, tariff kinds, grid limits) and
   refreshes it for the next site of that shape: the site's numbers go into its Params and only the
   arrays they reach are renewed (``fleet_sites.ModelCache``; the same bits as a model built per site,
   ``reuse_models=False``). Homes with an asset kind that has no ``refresh`` (EV) are built per site.
3. **Aggregation.** The portfolio curve of an MTU is the sum of the site curves. In general that sum
   is taken at the union of the sites' price points, each site curve interpolated linearly (and held
   flat beyond its end points), as the exchange reads a curve (``sum_curves``). Here all sites share
   the cube's price points, so the union is those points and the sum is a plain sum of volumes. A
   sum of non-increasing curves is non-increasing; that is asserted (up to solver tolerance per site).
4. **Export.** One Auction API orders file with one curve order for the area and portfolio (the
   first case's ``[bidding] portfolio``), the curve of each MTU through the summed points, flat to the
   price limits, volumes on the 0.1 MW lot and prices on the 0.01 EUR/MWh tick
   (``bidopt.bids.dayahead.curve_for``); at most ``n_scenarios`` + 2 <= 200 points. The file must pass
   ``bidopt.bids.rules.validate``. A single home (a few kW) would round to 0 MW on its own; only the
   portfolio is rounded.

Units: volumes and powers in MW (+ = buy / import), prices in EUR/MWh, money in EUR, times in
seconds. ``FleetBids.schedule`` is the summed probability-weighted grid import and export per MTU
(UTC MTU starts), ``FleetBids.sites`` one row per site (``site``, ``objective_eur`` = the site's
expected result as in its own ``bid`` summary, ``seconds`` = its build + solve + extraction time,
``build_s`` (data and Pyomo model), ``solve_s`` (HiGHS, with the model's translation),
``cpu_s`` (CPU time of the three), ``binaries`` (whether the site's model is a MIP)).

Why solving sites one by one is exact here. The fleet's order is the sum of the site curves, and
each site delivers what its own curve clears (that is what each site's model assumes: its grid flow
follows its curve in every scenario). Under that rule the sites share no constraint and no variable
(each has its own grid connection, assets, tariff and peak charge), the fleet's expected result is
the sum of the sites' expected results, and the cleared fleet volume at any price is the sum of
what each site's curve clears at that price, because the exchange reads every curve at the same
clearing price. So the fleet problem separates into one problem per site and its optimum is the sum
of the per-site optima; solving them one by one loses nothing. Two things would change that:

- **Coupling between sites** makes the problem one problem again: a shared grid connection, feeder
  or transformer limit (several homes behind one fuse), a tariff charged on the sum of several
  sites (an aggregated peak charge), a portfolio-level risk term (CVaR of the *fleet* result is not
  the sum of per-site CVaRs; here each site's own ``risk_beta`` applies to that site alone, so only
  risk-neutral fleets are exact), portfolio-level orders (block orders, a volume limit on the
  portfolio curve, rounding to the 0.1 MW lot inside the optimisation - here only the sum is
  rounded). Reserve capacity bid as one pool (lots and minimum bid on the pooled capacity) is
  handled by solving each site with continuous capacity and rounding the pool down
  (``bidopt.bids.fleet_pool``): exact up to the rounding loss, below one lot per stream and hour.
- **Pooled delivery** is a larger problem: if the aggregator only has to make the fleet's total
  grid flow follow the fleet's cleared volume (one balance-responsible party re-dispatching its
  homes after the auction), a site's flow need not follow a monotone curve of its own - only the
  sum must - and sites could offset each other within a scenario. The per-site solution is
  feasible for that problem, so its value is a lower bound there; the gain from pooling is not
  captured by this module.

Reserve capacity (FCR-N, FCR-D, and every other capacity product ``bidopt.markets`` registers,
offered when a site's case gives its prices) is bid as a **pool** (``bidopt.bids.fleet_pool``):
each offering site is solved with its capacity in MW (price-taking at its case's capacity prices,
built per site: such models are not refreshed), the fleet's offer per stream and hour is rounded
down to the product's lot and minimum bid, and each site gets a share within its own offer
(``FleetBids.capacity``: the pooled bids, ``fcr_bids`` in the ``fcr_bids.csv`` layout, and the
per-site shares). Out of scope: block orders; a site case with ``[bidding] blocks`` is an ``InputError``. All sites must be in one bidding zone and one time
zone (``InputError`` naming the first site that differs), with unique ``[case] name`` values. A site
whose model is infeasible (or fails to solve) stops the fleet with the error of that site and its name.

``bidopt.data.demo_sites.home_sites(n, seed, zone)`` builds a reproducible fleet of home cases in
code for tests and benchmarks (see its docstring).
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from bidopt import time as btime
from bidopt.bids import fleet_pool, fleet_sites
from bidopt.bids.dayahead import check_valid, curve_order_file, price_scenarios, product_for, settings
from bidopt.bids.orders import OrdersFile
from bidopt.case import Case
from bidopt.errors import InputError
from bidopt.forecast.scenarios import time_index
from bidopt.horizon import Horizon

MONOTONE_TOL_MW = 1e-6  # per site: how much a solved curve may rise with price from solver tolerance


@dataclass
class FleetBids:
    orders: OrdersFile  # one curve order for the fleet's area and portfolio
    curves: dict[int, list[tuple[float, float]]]  # MTU position -> summed [(price, MW)], before rounding
    schedule: pd.DataFrame  # summed expected grid_import_mw, grid_export_mw, net_mw per MTU (UTC index)
    sites: pd.DataFrame  # one row per site: site, objective_eur, seconds, build_s, solve_s, cpu_s, binaries
    summary: dict
    scenarios: xr.DataArray = field(repr=False)
    points: list[np.ndarray] = field(repr=False, default_factory=list)  # per MTU the shared price points
    site_volumes: np.ndarray | None = field(repr=False, default=None)  # sites x points (MTU by MTU, then point)
    capacity: fleet_pool.CapacityPool | None = None  # pooled reserve bids and per-site shares

    @property
    def fcr_bids(self) -> pd.DataFrame:
        """The pooled FCR bids as ``fcr_bids.csv`` rows (none without FCR)."""
        if self.capacity is None:
            return pd.DataFrame(columns=["product", "auction", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"])
        return self.capacity.fcr_bids()

    @property
    def orders_dict(self) -> dict:
        return self.orders.to_dict()

    def site_curves(self, i: int) -> dict[int, list[tuple[float, float]]]:
        """Site ``i``'s own curves (as ``bid(...).result.curves``), from the stored volumes."""
        out, pos = {}, 0
        for t, pts in enumerate(self.points):
            out[t] = [(float(p), float(v)) for p, v in zip(pts, self.site_volumes[i, pos:pos + len(pts)], strict=True)]
            pos += len(pts)
        return out


# --------------------------------------------------------------------------------------------------
# curves


def price_points(cube: xr.DataArray) -> list[np.ndarray]:
    """Per MTU the sorted distinct scenario prices: the price points of every site's curve
    (as ``BiddingModel`` makes them)."""
    prices = np.asarray(cube.transpose("scenario", "time").values, dtype=float)
    return [np.unique(prices[:, t]) for t in range(prices.shape[1])]


def sum_curves(curves: Sequence[Sequence[tuple[float, float]]]) -> list[tuple[float, float]]:
    """The sum of piecewise-linear curves [(price, volume)] (prices ascending), at the union of their
    price points: each curve interpolated linearly between its points and flat beyond its ends (the
    way the exchange reads a curve). Non-increasing curves give a non-increasing sum."""
    curves = [c for c in curves if len(c)]
    if not curves:
        return []
    prices = np.unique(np.concatenate([np.asarray([p for p, _ in c], dtype=float) for c in curves]))
    total = np.zeros(len(prices))
    for c in curves:
        arr = np.asarray(c, dtype=float)
        total += np.interp(prices, arr[:, 0], arr[:, 1])
    return [(float(p), float(v)) for p, v in zip(prices, total, strict=True)]


# --------------------------------------------------------------------------------------------------
# the fleet


def _check_fleet(cases: list[Case]) -> None:
    if not cases:
        raise InputError(None, "cases", "a fleet needs at least one site")
    first = cases[0]
    names: set[str] = set()
    for c in cases:
        where = f"{c.label} (site '{c.case.name}')"
        if c.case.zone != first.case.zone:
            raise InputError(where, "case.zone", f"'{c.case.zone}' differs from the fleet's zone '{first.case.zone}' "
                             f"(of site '{first.case.name}'); a fleet bid is for one bidding zone")
        if c.case.timezone != first.case.timezone:
            raise InputError(where, "case.timezone", f"'{c.case.timezone}' differs from the fleet's "
                             f"'{first.case.timezone}'")
        if c.case.name in names:
            raise InputError(where, "case.name", f"site name '{c.case.name}' is used twice; fleet sites need unique names")
        names.add(c.case.name)
        st = settings(c)
        if st.blocks:
            raise InputError(where, "bidding.blocks", "block orders are not supported in a fleet bid "
                             "(sites are bid as curves only); remove [[bidding.blocks]]")


def _fleet_cube(first: Case, day, mtu: int, st, scenarios: xr.DataArray | None) -> tuple[xr.DataArray, pd.DatetimeIndex]:
    """The fleet's price cube (given, or forecast once from the first case) and the day's MTU index;
    a given cube must be on the day's MTUs."""
    cube = scenarios if scenarios is not None else price_scenarios(first, day, mtu, st)
    index = btime.delivery_index(day, mtu, first.case.timezone)
    if cube.sizes.get("time") != len(index):
        raise InputError(None, "scenarios", f"the cube has {cube.sizes.get('time')} MTUs, the day {len(index)}")
    if "time" in cube.indexes and not time_index(cube).equals(index.rename("timestamp_utc")):
        raise InputError(None, "scenarios", f"the cube's MTUs ({time_index(cube)[0]} ..) are not those of "
                         f"delivery day {btime.day_of(day)} ({index[0]} ..)")
    return cube, index


def _fleet_curves(points: list[np.ndarray], total: np.ndarray, n: int) -> dict[int, list[tuple[float, float]]]:
    """The summed curve of each MTU at the shared price points (``total``: the summed volumes, MTU
    by MTU, then point); a sum of non-increasing curves cannot rise (``MONOTONE_TOL_MW`` per site)."""
    curves: dict[int, list[tuple[float, float]]] = {}
    pos = 0
    for t, pts in enumerate(points):
        k = len(pts)
        v = total[pos:pos + k]
        rise = np.diff(v)
        if k > 1 and rise.max() > MONOTONE_TOL_MW * n:
            raise AssertionError(f"fleet curve of MTU {t} rises with price by {rise.max():.3g} MW")
        curves[t] = [(float(p), float(x)) for p, x in zip(pts, v, strict=True)]
        pos += k
    return curves


def _sites_table(cases: list[Case], stats: np.ndarray) -> pd.DataFrame:
    """One row per site: objective (EUR) and times (s) from the ``stats`` columns of ``fleet_sites.bid_site``."""
    return pd.DataFrame({
        "site": [c.case.name for c in cases],
        "objective_eur": stats[:, 0],
        "seconds": stats[:, 1],
        "build_s": stats[:, 2],
        "solve_s": stats[:, 3],
        "cpu_s": stats[:, 4],
        "binaries": stats[:, 5].astype(bool),
        "built": stats[:, 6].astype(bool),
    })


def _pool(cases: list[Case], keys, ordered: list[dict], horizon: Horizon, day) -> fleet_pool.CapacityPool | None:
    """The fleet's pooled capacity from the chunks' offers (None when no site offers capacity)."""
    if not keys:
        return None
    return fleet_pool.pool_capacity(cases, keys, np.concatenate([r["capacity"] for r in ordered]),
                                    np.concatenate([r["capacity_price"] for r in ordered]), horizon, day)


def fleet_bid(cases: list[Case], day, scenarios: xr.DataArray | None = None, workers: int = 1,
              scheduler: str | None = None, chunk: int | None = None, mtu_minutes: int | None = None,
              time_limit_s: float | None = None, mip_gap: float | None = None,
              keep_site_curves: bool = True, reuse_models: bool = True) -> FleetBids:
    """One day-ahead portfolio bid for ``cases`` (sites in one zone) on delivery ``day``.

    ``scenarios``: the price cube for the day (default: forecast once from the first case).
    ``workers``: 1 = in this process; > 1 = a local Dask cluster of that many single-threaded worker
    processes (started and closed here). ``scheduler``: address of a running Dask scheduler (then
    ``workers`` is ignored). ``chunk``: sites per task (default: up to 50 and about 16 tasks per
    worker thread). With ``workers`` > 1 call this under ``if __name__ == "__main__":`` in a script
    (worker processes are started, not forked from the caller). ``mtu_minutes``: default the first case's. ``keep_site_curves``: keep every site's volumes
    in ``FleetBids.site_volumes`` (sites x points floats). ``reuse_models``: a worker keeps one built
    model per site shape and refreshes it for the next site of that shape (``fleet_sites.ModelCache``;
    the same results as a model built per site, which ``False`` does).
    """
    cases = list(cases)
    _check_fleet(cases)
    first = cases[0]
    day = btime.DeliveryDay.parse(day, first.case.timezone)  # the edge: parsed once, typed below
    st = settings(first)
    mtu = mtu_minutes or first.case.mtu_minutes
    product = product_for(first, day, mtu)
    t_start = _time.perf_counter()
    cube, index = _fleet_cube(first, day, mtu, st, scenarios)
    points = price_points(cube)
    t_forecast = _time.perf_counter() - t_start

    n = len(cases)
    horizon = Horizon(index, first.case.timezone)
    keys = fleet_pool.pool_keys(cases, horizon) or None
    ordered, size, n_workers = fleet_sites.solve_sites(
        cases, (day, mtu, cube, points, time_limit_s, mip_gap, reuse_models, keys), workers, scheduler, chunk)
    site_volumes = np.concatenate([r["volumes"] for r in ordered])  # sites x points, site order
    stats = np.concatenate([r["stats"] for r in ordered])
    imp = np.concatenate([r["import"] for r in ordered]).sum(axis=0)
    exp = np.concatenate([r["export"] for r in ordered]).sum(axis=0)
    curves = _fleet_curves(points, site_volumes.sum(axis=0), n)
    orders, rules = curve_order_file(product, day, first.case.zone, st.portfolio, curves)
    check_valid(orders, rules)

    schedule = pd.DataFrame({"grid_import_mw": imp, "grid_export_mw": exp, "net_mw": imp - exp},
                            index=pd.DatetimeIndex(index, name="timestamp_utc"))
    sites = _sites_table(cases, stats)
    pool = _pool(cases, keys, ordered, horizon, day)
    wall = _time.perf_counter() - t_start
    summary = {
        "zone": first.case.zone,
        "day": str(btime.day_of(day)),
        "mtu_minutes": mtu,
        "n_sites": n,
        "n_scenarios": int(cube.sizes["scenario"]),
        # the sites' expected results, less the capacity value the pool's rounding does not sell
        "objective_eur": float(stats[:, 0].sum()) - (
            sum(s["rounding_loss_eur"] for s in pool.summary.values()) if pool else 0.0),
        "site_seconds": float(stats[:, 1].sum()),
        "site_cpu_seconds": float(stats[:, 4].sum()),
        "forecast_seconds": round(t_forecast, 4),
        "wall_seconds": round(wall, 4),
        "workers": n_workers, "scheduler": scheduler, "chunk": size, "n_chunks": len(ordered),
        "sites_with_binaries": int(stats[:, 5].sum()), "models_built": int(stats[:, 6].sum()),
        "auction_id": orders.auction_id, "product": product, "portfolio": st.portfolio,
        "capacity": pool.summary if pool else {},
    }
    return FleetBids(orders, curves, schedule, sites, summary, cube, points,
                     site_volumes if keep_site_curves else None, pool)


__all__ = ["FleetBids", "fleet_bid", "price_points", "sum_curves"]
