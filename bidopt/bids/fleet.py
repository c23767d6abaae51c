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
   model ``bidopt.bid(case, day, scenarios=cube)`` solves for that site. Sites are solved in chunks
   (``chunk`` sites per task): in this process with ``workers=1``, on a local Dask cluster
   (``LocalCluster(processes=True, threads_per_worker=1)``) with ``workers > 1``, or on an existing
   Dask scheduler (``scheduler="tcp://host:8786"``). Local workers start from a fork server that
   has imported bidopt once (Linux), not each importing it again. Only small results come back from a task:
   per site the curve volumes, the expected grid import and export (numpy arrays), the expected
   objective and the solve times. No Pyomo model leaves a worker.
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
  rounded), or FCR bid as one pool (minimum bid and lots on the pooled capacity).
- **Pooled delivery** is a larger problem: if the aggregator only has to make the fleet's total
  grid flow follow the fleet's cleared volume (one balance-responsible party re-dispatching its
  homes after the auction), a site's flow need not follow a monotone curve of its own - only the
  sum must - and sites could offset each other within a scenario. The per-site solution is
  feasible for that problem, so its value is a lower bound there; the gain from pooling is not
  captured by this module.

Out of scope: block orders and FCR bids. A site case with ``[bidding] blocks`` or with FCR price
files (``[prices] fcr_*``) is an ``InputError``. All sites must be in one bidding zone and one time
zone (``InputError`` naming the first site that differs), with unique ``[case] name`` values. A site
whose model is infeasible (or fails to solve) stops the fleet with the error of that site and its name.

``home_sites(n, seed, zone)`` builds a reproducible fleet of home cases in code for tests and
benchmarks (see its docstring).
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import time as _time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import xarray as xr

from bidopt import time as btime
from bidopt.assets.base import values
from bidopt.bids.dayahead import check_valid, curve_order_file, price_scenarios, product_for, settings
from bidopt.bids.orders import OrdersFile
from bidopt.case import Case, case_from_dict
from bidopt.errors import BidoptError, InfeasibleError, InputError, SolverError
from bidopt.forecast.scenarios import time_index
from bidopt.horizon import Horizon
from bidopt.markets import fcr

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
# one chunk of sites (runs in a worker process; returns plain numpy)


def _error_record(name: str, e: Exception) -> dict:
    """A picklable description of a site's error (bidopt's exceptions do not survive pickling)."""
    if isinstance(e, InputError):
        return {"site": name, "kind": "input", "args": (e.file, e.field, e.message)}
    if isinstance(e, InfeasibleError):
        return {"site": name, "kind": "infeasible", "args": (e.asset, e.constraint, e.message)}
    return {"site": name, "kind": "solver" if isinstance(e, SolverError) else type(e).__name__, "args": (str(e),)}


def _raise_site_error(err: dict) -> None:
    site, args = err["site"], err["args"]
    if err["kind"] == "input":
        raise InputError(args[0], args[1], f"{args[2]} (fleet site '{site}')")
    if err["kind"] == "infeasible":
        raise InfeasibleError(args[0], args[1], f"{args[2]} (fleet site '{site}')")
    if err["kind"] == "solver":
        raise SolverError(f"fleet site '{site}': {args[0]}")
    raise RuntimeError(f"fleet site '{site}': {err['kind']}: {args[0]}")


def _bid_site(case: Case, horizon: Horizon, cube: xr.DataArray, points: list[np.ndarray],
              time_limit_s: float | None, mip_gap: float | None) -> dict:
    from bidopt.bids.stochastic import BiddingModel, RiskSettings

    t0, c0 = _time.perf_counter(), _time.process_time()
    st = settings(case)
    bm = BiddingModel(case, horizon, cube, RiskSettings(beta=st.risk_beta, alpha=st.risk_alpha))
    t1 = _time.perf_counter()
    bm.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    t2 = _time.perf_counter()
    m = bm.m
    for t, pts in enumerate(bm.points):  # the same cube gives the same points (a bug otherwise)
        if len(pts) != len(points[t]) or not np.array_equal(pts, points[t]):
            raise RuntimeError(f"site '{case.case.name}': MTU {t} has price points {pts}, the fleet {points[t]}")
    vol = np.array([m.volume[t, k].value or 0.0 for t, pts in enumerate(points) for k in range(len(pts))], float)
    imp = np.zeros(horizon.n)
    exp = np.zeros(horizon.n)
    obj = 0.0
    for s, site in enumerate(bm.sites):
        p = float(bm.prob[s])
        imp += p * values(site.blk.grid.import_mw)
        exp += p * values(site.blk.grid.export_mw)
        obj += p * float(pyo.value(m.site[s].value_eur))
    binaries = any(v.is_binary() or v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))
    t3, c3 = _time.perf_counter(), _time.process_time()
    return {"volumes": vol, "import": imp, "export": exp, "objective": obj, "seconds": t3 - t0,
            "build_s": t1 - t0, "solve_s": t2 - t1, "cpu_s": c3 - c0, "binaries": binaries}


def _solve_chunk(cases: list[Case], day, mtu: int, cube: xr.DataArray, points: list[np.ndarray],
                 time_limit_s: float | None, mip_gap: float | None) -> dict:
    """Bid every site of ``cases`` against ``cube``; stacked numpy results, or the first site's error."""
    horizon = Horizon(btime.delivery_index(day, mtu, cases[0].case.timezone), cases[0].case.timezone)
    rows = []
    # Garbage collection: a site's Pyomo model is a few 100 000 objects in reference cycles. With the
    # objects alive before the chunk frozen (modules, cases) and automatic collection off, one
    # collection after each site frees its model and scans nothing else (about 20 % less time
    # per site than Python's default thresholds, which rescan the whole heap as models pile up).
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        for case in cases:
            try:
                rows.append(_bid_site(case, horizon, cube, points, time_limit_s, mip_gap))
            except BidoptError as e:
                return {"error": _error_record(case.case.name, e)}
            except Exception as e:  # a bug: still name the site, with where it happened
                err = _error_record(case.case.name, e)
                err["args"] = (f"{e}\n{''.join(traceback.format_exception(e)[-4:])}",)
                return {"error": err}
            gc.collect()
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
    return {
        "volumes": np.stack([r["volumes"] for r in rows]),
        "import": np.stack([r["import"] for r in rows]),
        "export": np.stack([r["export"] for r in rows]),
        "stats": np.array([[r["objective"], r["seconds"], r["build_s"], r["solve_s"], r["cpu_s"], r["binaries"]]
                           for r in rows]),
    }


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
        offered = fcr.offered(c)
        if offered:
            raise InputError(where, f"prices.{offered[0]}", "FCR is not supported in a fleet bid "
                             "(day-ahead curves only); remove the [prices] fcr_* files")


def _auto_chunk(n: int, workers: int) -> int:
    """Up to 50 sites per task, and at least about 16 tasks per worker so the last tasks finish
    close together (a Dask task costs a few ms; a home site about 0.1 s)."""
    if workers <= 1:
        return max(1, min(50, n))
    return max(1, min(50, math.ceil(n / (16 * workers))))


def fleet_bid(cases: list[Case], day, scenarios: xr.DataArray | None = None, workers: int = 1,
              scheduler: str | None = None, chunk: int | None = None, mtu_minutes: int | None = None,
              time_limit_s: float | None = None, mip_gap: float | None = None,
              keep_site_curves: bool = True) -> FleetBids:
    """One day-ahead portfolio bid for ``cases`` (sites in one zone) on delivery ``day``.

    ``scenarios``: the price cube for the day (default: forecast once from the first case).
    ``workers``: 1 = in this process; > 1 = a local Dask cluster of that many single-threaded worker
    processes (started and closed here). ``scheduler``: address of a running Dask scheduler (then
    ``workers`` is ignored). ``chunk``: sites per task (default: up to 50 and about 16 tasks per
    worker thread). With ``workers`` > 1 call this under ``if __name__ == "__main__":`` in a script
    (worker processes are started, not forked from the caller). ``mtu_minutes``: default the first case's. ``keep_site_curves``: keep every site's volumes
    in ``FleetBids.site_volumes`` (sites x points floats).
    """
    cases = list(cases)
    _check_fleet(cases)
    first = cases[0]
    st = settings(first)
    mtu = mtu_minutes or first.case.mtu_minutes
    product = product_for(first, day, mtu)
    t_start = _time.perf_counter()
    cube = scenarios if scenarios is not None else price_scenarios(first, day, mtu, st)
    index = btime.delivery_index(day, mtu, first.case.timezone)
    if cube.sizes.get("time") != len(index):
        raise InputError(None, "scenarios", f"the cube has {cube.sizes.get('time')} MTUs, the day {len(index)}")
    if "time" in cube.indexes and not time_index(cube).equals(index.rename("timestamp_utc")):
        raise InputError(None, "scenarios", f"the cube's MTUs ({time_index(cube)[0]} ..) are not those of "
                         f"delivery day {btime.as_date(day)} ({index[0]} ..)")
    points = price_points(cube)
    t_forecast = _time.perf_counter() - t_start

    n = len(cases)
    args = (day, mtu, cube, points, time_limit_s, mip_gap)
    if scheduler is None and workers <= 1:
        size = chunk or _auto_chunk(n, 1)
        ordered = []
        for a in range(0, n, size):
            res = _solve_chunk(cases[a:a + size], *args)
            if "error" in res:
                _raise_site_error(res["error"])
            ordered.append(res)
        n_workers = 1
    else:
        ordered, size, n_workers = _run_dask(cases, chunk, args, workers, scheduler)

    site_volumes = np.concatenate([r["volumes"] for r in ordered])  # sites x points, site order
    stats = np.concatenate([r["stats"] for r in ordered])
    imp = np.concatenate([r["import"] for r in ordered]).sum(axis=0)
    exp = np.concatenate([r["export"] for r in ordered]).sum(axis=0)
    total = site_volumes.sum(axis=0)

    curves: dict[int, list[tuple[float, float]]] = {}
    pos = 0
    for t, pts in enumerate(points):
        k = len(pts)
        v = total[pos:pos + k]
        rise = np.diff(v)
        if k > 1 and rise.max() > MONOTONE_TOL_MW * n:  # a sum of non-increasing curves cannot rise
            raise AssertionError(f"fleet curve of MTU {t} rises with price by {rise.max():.3g} MW")
        curves[t] = [(float(p), float(x)) for p, x in zip(pts, v, strict=True)]
        pos += k

    orders, rules = curve_order_file(product, day, first.case.zone, st.portfolio, curves)
    check_valid(orders, rules)

    schedule = pd.DataFrame({"grid_import_mw": imp, "grid_export_mw": exp, "net_mw": imp - exp},
                            index=pd.DatetimeIndex(index, name="timestamp_utc"))
    sites = pd.DataFrame({
        "site": [c.case.name for c in cases],
        "objective_eur": stats[:, 0],
        "seconds": stats[:, 1],
        "build_s": stats[:, 2],
        "solve_s": stats[:, 3],
        "cpu_s": stats[:, 4],
        "binaries": stats[:, 5].astype(bool),
    })
    wall = _time.perf_counter() - t_start
    summary = {
        "zone": first.case.zone,
        "day": str(btime.as_date(day)),
        "mtu_minutes": mtu,
        "n_sites": n,
        "n_scenarios": int(cube.sizes["scenario"]),
        "objective_eur": float(stats[:, 0].sum()),
        "site_seconds": float(stats[:, 1].sum()),
        "site_cpu_seconds": float(stats[:, 4].sum()),
        "forecast_seconds": round(t_forecast, 4),
        "wall_seconds": round(wall, 4),
        "workers": n_workers,
        "scheduler": scheduler,
        "chunk": size,
        "n_chunks": len(ordered),
        "sites_with_binaries": int(stats[:, 5].sum()),
        "auction_id": orders.auction_id,
        "product": product,
        "portfolio": st.portfolio,
    }
    return FleetBids(orders, curves, schedule, sites, summary, cube, points,
                     site_volumes if keep_site_curves else None)


@contextlib.contextmanager
def _fast_worker_start():
    """Start local Dask workers from a fork server that has imported bidopt once, instead of each
    spawned worker importing it again (about 2-5 s per worker): only where the fork server exists and
    Dask's start method is the default ``spawn``."""
    import dask
    from distributed import utils as dutils

    if (dask.config.get("distributed.worker.multiprocessing-method") != "spawn"
            or "forkserver" not in multiprocessing.get_all_start_methods()):
        yield
        return
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        ctx = dutils.get_mp_context()  # Dask sets its preload list once; ours adds bidopt (and all it imports)
        ctx.set_forkserver_preload(["distributed", "bidopt.bids.fleet"])
        yield


def _run_dask(cases, chunk: int | None, args, workers: int, scheduler: str | None) -> tuple[list[dict], int, int]:
    """Chunk results in site order, the chunk size and the number of worker threads."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        with _fast_worker_start():
            cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    else:
        from bidopt.cluster import connect

        client = connect(scheduler)  # a bad or unreachable address: InputError within seconds
    try:
        n_workers = max(1, sum(client.nthreads().values()))
        size = chunk or _auto_chunk(len(cases), max(n_workers, 2))
        day, mtu, cube, points, time_limit_s, mip_gap = args
        cube_f, points_f = client.scatter([cube, points], broadcast=True)
        starts = list(range(0, len(cases), size))
        # a few tasks per worker in flight, the next submitted as one finishes: the scheduler holds
        # a handful of chunks of cases, not the whole fleet
        in_flight = 4 * n_workers
        futures: dict = {}

        def submit(j: int):
            a = starts[j]
            f = client.submit(_solve_chunk, cases[a:a + size], day, mtu, cube_f, points_f, time_limit_s, mip_gap,
                              key=f"fleet-chunk-{uuid.uuid4().hex}-{j}", pure=False)
            futures[f] = j
            return f

        pending = as_completed([submit(j) for j in range(min(in_flight, len(starts)))])
        nxt = min(in_flight, len(starts))
        results: dict[int, dict] = {}
        for f in pending:
            res = f.result()
            j = futures.pop(f)
            f.release()
            if "error" in res:
                for g in futures:
                    g.cancel()
                _raise_site_error(res["error"])
            results[j] = res
            if nxt < len(starts):
                pending.add(submit(nxt))
                nxt += 1
        return [results[j] for j in range(len(starts))], size, n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------------
# a reproducible fleet of homes


# the kinds of home in every 10 consecutive sites: 5 battery + PV, 3 heat pump, 2 EV (any 4 have all)
_MIX = ("battery", "heat_pump", "battery", "ev", "battery", "heat_pump", "battery", "ev", "battery", "heat_pump")


def home_sites(n: int, seed: int = 0, zone: str = "SE3", day="2024-01-17", n_scenarios: int = 5) -> list[Case]:
    """``n`` home cases built in code, reproducible from ``seed`` (site ``i`` is the same whatever
    ``n``). A fixed mix in every 10 consecutive sites: 5 homes with a battery, a base load and
    rooftop PV, 3 houses with a heat pump (an RC building model) and a base load, 2 homes with an EV
    charger and a base load (any 4 consecutive sites hold all three kinds). Each has its own size
    (battery 5-15 kWh, PV 3-10 kWp, heat pump 2-4 kW, charger 3.7/7.4/11 kW, base load 2-5 kW peak),
    fuse (11/14/17 kW), synthetic-profile seed and tariff: a peak-power charge
    (Ellevio-style mean of the 3 highest daily peaks, nights at half weight, 40-130 SEK/kW/month incl.
    VAT), a time-of-use or a flat energy fee (SEK/kWh incl. VAT); households pay energy tax and VAT.
    Prices are ``"synthetic"`` for ``zone``, 60-minute MTUs, ``[bidding] n_scenarios`` =
    ``n_scenarios``, HiGHS on one thread.

    EV sessions are dated: the car is plugged in from the evening before ``day`` to the morning of
    ``day`` and from the evening of ``day`` to the next morning (the part of each session inside the
    day must be charged). Planned on another day, the EV homes have no car plugged in.
    """
    return [case_from_dict(home_site_data(i, seed, zone, day, n_scenarios), source=f"home_sites(seed={seed})[{i}]")
            for i in range(n)]


def home_site_data(i: int, seed: int = 0, zone: str = "SE3", day="2024-01-17", n_scenarios: int = 5) -> dict:
    """Site ``i`` of ``home_sites(n, seed, zone, day, n_scenarios)`` as a case dict (the parsed TOML)."""
    d = pd.Timestamp(btime.as_date(day))
    tz = "Europe/Stockholm"
    rng = np.random.default_rng([seed, i])
    kind = _MIX[i % len(_MIX)]
    fuse = float(rng.choice([0.011, 0.014, 0.017]))
    assets: list[dict] = [{"kind": "load", "name": "house", "profile": "synthetic",
                           "peak_mw": round(float(rng.uniform(0.002, 0.005)), 5)}]
    if kind == "battery":
        e = round(float(rng.uniform(0.005, 0.015)), 4)
        assets += [
            {"kind": "battery", "name": "battery", "power_mw": round(e / 2, 5), "energy_mwh": e,
             "charge_efficiency": 0.96, "discharge_efficiency": 0.96, "soc_min_mwh": round(0.1 * e, 6),
             "soc_max_mwh": round(0.9 * e, 6), "soc_initial_mwh": round(0.5 * e, 6),
             "soc_final_mwh": round(0.5 * e, 6), "max_cycles_per_day": 1.0, "degradation_eur_per_mwh": 10.0},
            {"kind": "pv", "name": "pv", "capacity_mw": round(float(rng.uniform(0.003, 0.010)), 4),
             "curtailable": True},
        ]
    elif kind == "heat_pump":
        ua = float(rng.uniform(0.00012, 0.00025))  # MW/K: a house losing 120-250 W/K
        assets.append({
            "kind": "heat_pump", "name": "heat_pump", "mode": "rc",
            "max_power_mw": round(float(rng.uniform(0.002, 0.004)), 5), "aux_max_mw": 0.006,
            "cop_at_0c": round(float(rng.uniform(2.6, 3.4)), 2), "cop_slope_per_k": 0.08, "cop_min": 1.5,
            "cop_max": 5.0, "outdoor_temp": "synthetic",
            "thermal_capacity_mwh_per_k": round(ua * float(rng.uniform(40.0, 90.0)), 6),  # 40-90 h
            "heat_loss_mw_per_k": round(ua, 6), "internal_gain_mw": 0.0005,
            "comfort_min_c": 20.0, "comfort_max_c": 23.0,
            "comfort_min_by_hour": {str(h): 18.5 for h in (22, 23, 0, 1, 2, 3, 4, 5)},
            "indoor_initial_c": 20.5,
        })
    else:
        power = float(rng.choice([0.0037, 0.0074, 0.011]))
        sessions = []
        for k, start in enumerate((d - pd.Timedelta(days=1), d)):
            arr = pd.Timestamp(start + pd.Timedelta(hours=float(rng.uniform(16.5, 20.0)))).tz_localize(tz)
            dep = pd.Timestamp(start + pd.Timedelta(days=1, hours=float(rng.uniform(6.0, 8.0)))).tz_localize(tz)
            hours = (dep - arr).total_seconds() / 3600
            energy = min(float(rng.uniform(0.004, 0.025)), 0.9 * power * 0.95 * hours)
            sessions.append({"id": f"night{k}", "arrival": arr.tz_convert("UTC").isoformat(),
                             "departure": dep.tz_convert("UTC").isoformat(), "energy_mwh": round(energy, 5)})
        assets.append({"kind": "ev", "name": "ev", "charger_power_mw": power, "charger_efficiency": 0.95,
                       "sessions": sessions})
    tariff_kind = rng.choice(["peak", "tou", "flat"], p=[0.5, 0.3, 0.2])
    if tariff_kind == "peak":
        tariffs = [{"kind": "peak_power", "name": "power_charge", "n_peaks": 3, "one_per_day": True,
                    "includes_vat": True, "hour_weights": {str(h): 0.5 for h in (22, 23, 0, 1, 2, 3, 4, 5)},
                    "rates": [{"valid_from": "2014-01-01",
                               "sek_per_kw_month": round(float(rng.uniform(40.0, 130.0)), 2)}]},
                   {"kind": "energy_fee", "name": "transfer", "includes_vat": True,
                    "rates": [{"valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.05, 0.1)), 4)}]}]
    elif tariff_kind == "tou":
        high = round(float(rng.uniform(0.3, 0.6)), 4)
        tariffs = [{"kind": "energy_fee", "name": "transfer_tou", "includes_vat": True, "rates": [{
            "valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.08, 0.15)), 4),
            "windows": [{"months": [1, 2, 3, 11, 12], "weekdays": [0, 1, 2, 3, 4], "hours": list(range(6, 22)),
                         "sek_per_kwh": high}]}]}]
    else:
        tariffs = [{"kind": "energy_fee", "name": "transfer", "includes_vat": True,
                    "rates": [{"valid_from": "2014-01-01", "sek_per_kwh": round(float(rng.uniform(0.2, 0.4)), 4)}]}]
    data = {
        "case": {"name": f"home_{i:05d}", "zone": zone, "mtu_minutes": 60},
        "prices": {"dayahead": "synthetic"},
        "synthetic": {"seed": int(rng.integers(0, 2**31 - 1))},
        "grid": {"import_limit_mw": fuse, "export_limit_mw": fuse},
        "retail": {"supplier_fee_sek_per_kwh": round(float(rng.uniform(0.0, 0.05)), 4), "pays_energy_tax": True,
                   "pays_vat": True,
                   "export": {"policy": "spot", "handling_fee_sek_per_kwh": 0.02, "tax_reduction": True}},
        "assets": assets,
        "tariffs": tariffs,
        "solver": {"threads": 1},
        "bidding": {"n_scenarios": n_scenarios},
    }
    return data


__all__ = ["FleetBids", "fleet_bid", "home_site_data", "home_sites", "price_points", "sum_curves"]
