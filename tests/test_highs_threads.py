"""HiGHS's thread scheduler outlives a solve: solves with different ``threads`` in one process.

HiGHS keeps one task scheduler per OS thread, sized by the first run in that thread. Before
``bidopt.solver.use_threads`` a solve asking for another thread count was refused ("solver stopped
without a solution: unknown"): ``bidopt.plan`` with the default count, then ``fleet_bid`` (homes on
one thread) failed in one process with highspy 1.16. Each scenario here runs in a new OS thread, so
it starts from a scheduler no earlier test sized (the state a fresh process has).
"""

from __future__ import annotations

import threading

import pyomo.environ as pyo
import pytest

import bidopt
from bidopt import solver as hd
from bidopt.bids.fleet import fleet_bid
from bidopt.data.demo_sites import home_sites
from bidopt.solver import Persistent
from tests.conftest import REPO
from tests.test_fcr import ALONE, ler_case


def in_new_thread(fn):
    """Run ``fn`` in a new OS thread (a HiGHS scheduler of its own); re-raise what it raised."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def small_mip():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.n = pyo.Var(domain=pyo.Integers, bounds=(0, 5))
    m.p = pyo.Param(initialize=2.5, mutable=True)
    m.c = pyo.Constraint(expr=m.x + 2 * m.n >= m.p)
    m.o = pyo.Objective(expr=m.x + 1.5 * m.n)
    return m


def test_direct_solves_with_changing_thread_counts():
    def run():
        out = []
        for threads in (None, 1, 2, 1, None, 2, None):
            res = hd.solve_matrix(small_mip(), threads=threads)
            out.append((res.solution_status.name, round(res.incumbent_objective, 9)))
        return out

    assert in_new_thread(run) == [("optimal", 2.0)] * 7


def test_persistent_solves_after_another_thread_count():
    def run():
        m = small_mip()
        p = Persistent(m)
        out = [p.solve(threads=1).incumbent_objective]
        out.append(hd.solve_matrix(small_mip(), threads=2).incumbent_objective)  # a scheduler of two threads
        m.p = 4.0
        out.append(p.solve(threads=1).incumbent_objective)  # the kept Highs object, one thread again
        out.append(p.solve().incumbent_objective)
        return out

    assert in_new_thread(run) == pytest.approx([2.0, 2.0, 3.0, 3.0])


def test_pyomo_interface_after_another_thread_count():
    demo = bidopt.load_case(REPO / "cases" / "demo")
    one = demo.model_copy(deep=True)
    one.solver.interface, one.solver.threads = "pyomo", 1

    def run():
        a = bidopt.plan(demo, "2024-03-14").summary["objective_eur"]
        b = bidopt.plan(one, "2024-03-14").summary["objective_eur"]
        return a, b

    a, b = in_new_thread(run)
    assert b == pytest.approx(a, rel=1e-9)


def test_plan_then_fleet_bid_in_one_process():
    """The issue's sequence: a plan (HiGHS's default thread count), then a fleet of homes on one
    thread each."""
    demo = bidopt.load_case(REPO / "cases" / "demo")
    sites = home_sites(6, seed=11, day="2024-01-17")

    def run():
        bidopt.plan(demo, "2024-03-14")
        return fleet_bid(sites, "2024-01-17", chunk=4)

    fleet = in_new_thread(run)
    alone = in_new_thread(lambda: fleet_bid(sites, "2024-01-17", chunk=4))
    assert fleet.summary["n_sites"] == 6
    assert fleet.sites.objective_eur.tolist() == alone.sites.objective_eur.tolist()


def test_fleet_bid_after_an_fcr_mip_on_two_threads(tmp_path):
    """An FCR plan (a MIP: lots) asking for two threads, then one-thread homes: the count differs
    on any machine, whatever HiGHS's default is."""
    fcr = ler_case(tmp_path, ["fcr_n"], **ALONE)
    fcr.solver.threads = 2
    sites = home_sites(2, seed=11, day="2024-01-17")

    def run():
        plan = bidopt.plan(fcr, "2024-03-14")
        assert plan.summary["binaries"]
        return fleet_bid(sites, "2024-01-17", chunk=2), bidopt.plan(fcr, "2024-03-14")

    fleet, again = in_new_thread(run)
    assert fleet.summary["n_sites"] == 2
    assert again.summary["solver"]["status"] == "optimal"
