"""Run inside the energypylinear virtual environment: build, solve and read battery problems.

    <peer-venv>/bin/python benchmarks/peer_energypylinear_worker.py PROBLEM.json

``benchmarks/peer_energypylinear.py`` writes PROBLEM.json and runs this script with the peer's own
interpreter (energypylinear needs numpy < 2 and is not a bidopt dependency). This file imports
nothing from bidopt. PROBLEM.json holds ``problems``, a list of:

    name                 label echoed back
    prices_eur_per_mwh   one price per interval (import and export alike), EUR/MWh
    freq_mins            interval length, minutes
    battery              power_mw, capacity_mwh, efficiency_pct, initial_charge_mwh, final_charge_mwh
    import_limit_mw, export_limit_mw

One timed run is what a user of energypylinear does: ``epl.Battery(...)`` and
``epl.Site(assets=[battery], electricity_prices=..., freq_mins=...)`` (asset and site
configuration), ``site.optimize(objective="price")`` (PuLP model, CBC run, results extraction and
checks) and reading the objective and the dispatch back from the result.

The worker runs one untimed warm-up on the smallest problem, prints one JSON line (``ready``, the
package versions) and then serves: for each problem name read from stdin it runs that problem once
and prints one JSON line with the run's seconds (and the part spent in ``Optimizer.solve``), the
objective as energypylinear reports it (a cost, EUR, to be minimised), the solver status and the
model size. It stops at the end of stdin. Serving one run at a time lets the benchmark interleave
the peer's runs with bidopt's, so changing load on a shared machine hits both alike.
"""

from __future__ import annotations

import gc
import json
import platform
import sys
import time
from importlib import metadata

_SOLVE_SECONDS: list[float] = []


def instrument(epl) -> None:
    """Record how long each ``Optimizer.solve`` (writing the MPS file, running CBC, reading the
    solution back into PuLP) takes, to split the peer's time; the method itself runs unchanged."""
    original = epl.optimizer.Optimizer.solve

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _SOLVE_SECONDS.append(time.perf_counter() - t0)

    epl.optimizer.Optimizer.solve = timed


def run_once(epl, problem: dict) -> tuple[float, dict]:
    b = problem["battery"]
    _SOLVE_SECONDS.clear()
    t0 = time.perf_counter()
    asset = epl.Battery(
        power_mw=b["power_mw"],
        capacity_mwh=b["capacity_mwh"],
        efficiency_pct=b["efficiency_pct"],
        initial_charge_mwh=b["initial_charge_mwh"],
        final_charge_mwh=b["final_charge_mwh"],
        freq_mins=problem["freq_mins"],
    )
    site = epl.Site(
        assets=[asset],
        electricity_prices=problem["prices_eur_per_mwh"],
        freq_mins=problem["freq_mins"],
        import_limit_mw=problem["import_limit_mw"],
        export_limit_mw=problem["export_limit_mw"],
    )
    result = site.optimize(objective="price", verbose=False)
    sim = result.results
    charge = sim["battery-electric_charge_mwh"].to_numpy()
    discharge = sim["battery-electric_discharge_mwh"].to_numpy()
    seconds = time.perf_counter() - t0
    opt = site.optimizer
    variables = opt.variables()
    info = {
        "solve_seconds": sum(_SOLVE_SECONDS),
        "status": result.status.status,
        "objective_cost_eur": float(result.status.objective),
        "charged_mwh": float(charge.sum()),
        "discharged_mwh": float(discharge.sum()),
        "n_variables": len(variables),
        "n_binaries": sum(1 for v in variables if v.cat == "Integer" and v.lowBound == 0 and v.upBound == 1),
        "n_constraints": len(opt.constraints()),
        "solver": type(opt.solver).__name__,
        "solver_options": {
            "gapRel": opt.cfg.relative_tolerance,
            "presolve": opt.cfg.presolve,
            "timeLimit": opt.cfg.timeout,
        },
    }
    return seconds, info


def cbc_version() -> str | None:
    """The version line of the CBC binary PuLP ships (not timed)."""
    import subprocess

    import pulp

    try:
        r = subprocess.run(
            [pulp.PULP_CBC_CMD().path, "-quit"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in r.stdout.splitlines():
        if line.strip().startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        problems = {p["name"]: p for p in json.load(f)["problems"]}
    import energypylinear as epl

    instrument(epl)
    smallest = min(problems.values(), key=lambda p: len(p["prices_eur_per_mwh"]))
    run_once(epl, smallest)  # warm-up: imports, the first CBC start
    versions = {}
    for pkg in ("energypylinear", "pulp", "numpy", "pandas", "pydantic"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    ready = {
        "ready": True,
        "versions": versions,
        "cbc_version": cbc_version(),
        "python": platform.python_version(),
    }
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        gc.collect()
        seconds, info = run_once(epl, problems[name])
        print(json.dumps({"name": name, "seconds": seconds, **info}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
