"""Solving the sites of a fleet bid (``bidopt.bids.fleet``): one site's stochastic curve model
(``bid_site``), built or taken from the worker's models kept per site shape and refreshed
(``ModelCache``), a chunk of sites in one worker process (``solve_chunk``, plain numpy results), and
the chunks in this process or on a Dask cluster (``solve_sites``).

Units: volumes and powers in MW (+ = buy / import), money in EUR, times in seconds. A site's error
travels back as a picklable record (``error_record``) and is raised again, naming the site, here
(``raise_site_error``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import multiprocessing
import time as _time
import traceback
import uuid
from collections import OrderedDict

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from bidopt import time as btime
from bidopt.assets.base import values
from bidopt.bids import fleet_pool
from bidopt.bids.dayahead import settings
from bidopt.case import Case
from bidopt.errors import BidoptError, InfeasibleError, InputError, SolverError
from bidopt.horizon import Horizon


def error_record(name: str, e: Exception) -> dict:
    """A picklable description of a site's error (bidopt's exceptions do not survive pickling)."""
    if isinstance(e, InputError):
        return {"site": name, "kind": "input", "args": (e.file, e.field, e.message)}
    if isinstance(e, InfeasibleError):
        return {"site": name, "kind": "infeasible", "args": (e.asset, e.constraint, e.message)}
    return {"site": name, "kind": "solver" if isinstance(e, SolverError) else type(e).__name__, "args": (str(e),)}


def raise_site_error(err: dict) -> None:
    site, args = err["site"], err["args"]
    if err["kind"] == "input":
        raise InputError(args[0], args[1], f"{args[2]} (fleet site '{site}')")
    if err["kind"] == "infeasible":
        raise InfeasibleError(args[0], args[1], f"{args[2]} (fleet site '{site}')")
    if err["kind"] == "solver":
        raise SolverError(f"fleet site '{site}': {args[0]}")
    raise RuntimeError(f"fleet site '{site}': {err['kind']}: {args[0]}")


class ModelCache:
    """Built site models kept in a worker for the next sites of the same shape (``bid_site``): the
    same horizon and scenario cube (so the same curve points), risk settings, asset names and kinds,
    tariff kinds and grid limits. A kept model takes the next site through ``BiddingModel.refresh``
    (its Params set, the compiled arrays renewed by ``bidopt.solver.Persistent``); a site it cannot
    take is built anew and replaces it. Only sites whose every asset kind has a ``refresh`` are kept;
    at most ``keep`` shapes (least recently used dropped). ``builds`` / ``refreshes`` count."""

    def __init__(self, keep: int = 12):
        self.keep = keep
        self.models: OrderedDict[tuple, object] = OrderedDict()
        self.builds = self.refreshes = 0

    @staticmethod
    def shape(case: Case, horizon: Horizon, cube_key: bytes, risk) -> tuple | None:
        """The key of the site's shape, or None when one of its asset kinds cannot be refreshed."""
        from bidopt.assets.base import AssetBase

        if any(type(a).refresh is AssetBase.refresh for a in case.assets):
            return None
        return (cube_key, horizon.index[0], horizon.n, horizon.dt_h, risk.beta, risk.alpha,
                tuple((a.name, a.kind) for a in case.assets), tuple(t.kind for t in case.tariffs),
                case.grid.import_limit_mw, case.grid.export_limit_mw)

    def model(self, case: Case, horizon: Horizon, cube: xr.DataArray, cube_key: bytes, risk):
        """A ``BiddingModel`` of ``case`` on ``horizon`` and ``cube``: a kept one refreshed, or built
        (and kept when refreshable). Returns (model, whether it was built now)."""
        from bidopt.bids.stochastic import BiddingModel

        key = self.shape(case, horizon, cube_key, risk)
        bm = self.models.pop(key, None) if key is not None else None
        if bm is not None and bm.refresh(case):
            self.refreshes += 1
            self.models[key] = bm
            return bm, False
        bm = BiddingModel(case, horizon, cube, risk, reuse=key is not None)
        self.builds += 1
        if key is not None:
            self.models[key] = bm
            while len(self.models) > self.keep:
                self.models.popitem(last=False)
        return bm, True


CACHE = ModelCache()  # per process: a Dask worker keeps its models from one chunk to the next


def cube_key(cube: xr.DataArray) -> bytes:
    """A digest of the cube's prices, probabilities and MTUs (which models a kept model fits)."""
    h = hashlib.blake2b(np.ascontiguousarray(cube.transpose("scenario", "time").values, dtype=float).tobytes())
    for name in ("probability", "time"):
        if name in cube.coords:
            h.update(",".join(map(str, cube.coords[name].to_index())).encode())
    return h.digest()


def bid_site(case: Case, horizon: Horizon, cube: xr.DataArray, points: list[np.ndarray],
              time_limit_s: float | None, mip_gap: float | None, cache: ModelCache | None = None,
              key: bytes = b"", pool_keys: list | None = None) -> dict:
    """One site's curve model solved (``cache``: reuse a built model of the site's shape, else a
    fresh build); plain numpy results, times (s) and whether the model was built (``built``).
    ``pool_keys``: the fleet pools capacity (``bidopt.bids.fleet_pool``); a site offering some is
    built with continuous capacity (not refreshed) and returns its offer per key (``capacity``)."""
    from bidopt.bids.stochastic import BiddingModel, RiskSettings

    t0, c0 = _time.perf_counter(), _time.process_time()
    st = settings(case)
    risk = RiskSettings(beta=st.risk_beta, alpha=st.risk_alpha)
    pooled = False
    if pool_keys is not None:
        case, pooled = fleet_pool.pooled_case(case)
    if pooled:
        bm, built = BiddingModel(case, horizon, cube, risk, continuous_capacity=True), True
    elif cache is None:
        bm, built = BiddingModel(case, horizon, cube, risk), True
    else:
        bm, built = cache.model(case, horizon, cube, key, risk)
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
    for s, site in enumerate(bm.sites):
        p = float(bm.prob[s])
        imp += p * values(site.blk.grid.import_mw)
        exp += p * values(site.blk.grid.export_mw)
    obj = bm.solve_info.objective  # risk-neutral, no first stage: the objective is sum_s p_s V_s
    if obj is None or bm.risk.beta > 0 or bm.capacities:  # else Pyomo evaluates it (~5 ms per site)
        obj = sum(float(bm.prob[s]) * float(pyo.value(m.site[s].value_eur)) for s in range(len(bm.sites)))
        obj += sum(float(pyo.value(c.capacity_value_eur[p])) for c in bm.capacities.values() for p in c.P)
    if built:  # the structure's property: kept with a reused model
        bm.binaries = any(v.is_binary() or v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))
    out = {}
    if pool_keys is not None:
        out["capacity"], out["capacity_price"] = (fleet_pool.site_capacity(bm, pool_keys) if pooled
                                                  else (np.zeros(len(pool_keys)), np.zeros(len(pool_keys))))
    t3, c3 = _time.perf_counter(), _time.process_time()
    return {**out, "volumes": vol, "import": imp, "export": exp, "objective": obj, "seconds": t3 - t0,
            "build_s": t1 - t0, "solve_s": t2 - t1, "cpu_s": c3 - c0, "binaries": bm.binaries, "built": built}


def solve_chunk(cases: list[Case], day, mtu: int, cube: xr.DataArray, points: list[np.ndarray],
                 time_limit_s: float | None, mip_gap: float | None, reuse: bool = True,
                 pool_keys: list | None = None) -> dict:
    """Bid every site of ``cases`` against ``cube``; stacked numpy results, or the first site's error.
    ``reuse``: through this process's ``CACHE`` of built models (else a model built per site).
    ``pool_keys``: also each site's capacity offer per key (``bid_site``)."""
    horizon = Horizon(btime.delivery_index(day, mtu, cases[0].case.timezone), cases[0].case.timezone)
    cache, key = (CACHE, cube_key(cube)) if reuse else (None, b"")
    rows = []
    # Garbage collection: a site's Pyomo model is a few 100 000 objects in reference cycles. With the
    # objects alive before the chunk frozen (modules, cases) and automatic collection off, one
    # collection after each site frees its model and scans nothing else (about 20 % less time
    # per site than Python's default thresholds, which rescan the whole heap as models pile up).
    # Models kept for reuse are frozen after the collection that follows their build.
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        for case in cases:
            try:
                rows.append(bid_site(case, horizon, cube, points, time_limit_s, mip_gap, cache, key, pool_keys))
            except BidoptError as e:
                return {"error": error_record(case.case.name, e)}
            except Exception as e:  # a bug: still name the site, with where it happened
                err = error_record(case.case.name, e)
                err["args"] = (f"{e}\n{''.join(traceback.format_exception(e)[-4:])}",)
                return {"error": err}
            gc.collect()
            if cache is not None and rows[-1]["built"]:
                gc.freeze()
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
    pool = {k: np.stack([r[k] for r in rows]) for k in ("capacity", "capacity_price")} if pool_keys is not None else {}
    return {
        **pool,
        "volumes": np.stack([r["volumes"] for r in rows]),
        "import": np.stack([r["import"] for r in rows]),
        "export": np.stack([r["export"] for r in rows]),
        "stats": np.array([[r["objective"], r["seconds"], r["build_s"], r["solve_s"], r["cpu_s"], r["binaries"],
                            r["built"]] for r in rows]),
    }


def auto_chunk(n: int, workers: int) -> int:
    """Up to 50 sites per task, and at least about 16 tasks per worker so the last tasks finish
    close together (a Dask task costs a few ms; a home site about 0.1 s)."""
    if workers <= 1:
        return max(1, min(50, n))
    return max(1, min(50, math.ceil(n / (16 * workers))))


def solve_sites(cases: list[Case], args: tuple, workers: int, scheduler: str | None,
                 chunk: int | None) -> tuple[list[dict], int, int]:
    """Chunk results in site order, the chunk size and the number of workers: in this process, or
    on Dask (``run_dask``)."""
    if scheduler is not None or workers > 1:
        return run_dask(cases, chunk, args, workers, scheduler)
    size = chunk or auto_chunk(len(cases), 1)
    ordered = []
    for a in range(0, len(cases), size):
        res = solve_chunk(cases[a:a + size], *args)
        if "error" in res:
            raise_site_error(res["error"])
        ordered.append(res)
    return ordered, size, 1


@contextlib.contextmanager
def fast_worker_start():
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


def run_dask(cases, chunk: int | None, args, workers: int, scheduler: str | None) -> tuple[list[dict], int, int]:
    """Chunk results in site order, the chunk size and the number of worker threads."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        with fast_worker_start():
            cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    else:
        from bidopt.cluster import connect

        client = connect(scheduler)  # a bad or unreachable address: InputError within seconds
    try:
        n_workers = max(1, sum(client.nthreads().values()))
        size = chunk or auto_chunk(len(cases), max(n_workers, 2))
        day, mtu, cube, points, time_limit_s, mip_gap, reuse, pool_keys = args
        cube_f, points_f = client.scatter([cube, points], broadcast=True)
        starts = list(range(0, len(cases), size))
        # a few tasks per worker in flight, the next submitted as one finishes: the scheduler holds
        # a handful of chunks of cases, not the whole fleet
        in_flight = 4 * n_workers
        futures: dict = {}

        def submit(j: int):
            a = starts[j]
            f = client.submit(solve_chunk, cases[a:a + size], day, mtu, cube_f, points_f, time_limit_s, mip_gap, reuse,
                              pool_keys, key=f"fleet-chunk-{uuid.uuid4().hex}-{j}", pure=False)
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
                raise_site_error(res["error"])
            results[j] = res
            if nxt < len(starts):
                pending.add(submit(nxt))
                nxt += 1
        return [results[j] for j in range(len(starts))], size, n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
