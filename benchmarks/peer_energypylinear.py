"""bidopt against energypylinear on the same battery arbitrage problem (issue 6, target "Peer").

    python benchmarks/peer_energypylinear.py                 # 1 and 28 days from 2022-08-01, best of 3
    python benchmarks/peer_energypylinear.py --repeats 5 --write   # and update docs/performance.md

energypylinear (https://pypi.org/project/energypylinear/) is a MILP library for energy assets
built on PuLP and CBC. It needs numpy < 2 and is not a bidopt dependency, so it runs in a virtual
environment of its own: the script creates it (``--peer-venv``, by default under
``~/.cache/bidopt-bench``) and pip-installs ``energypylinear==<--peer-version>`` and ``numpy<2``
there if that version is not installed yet. ``peer_energypylinear_worker.py`` is run with that
environment's interpreter; it builds, solves and reads the peer's problem and prints JSON.

The problem (what both tools solve; see ``case_dict`` and ``peer_problem``):

- SE3 day-ahead prices of 2022 (``dayahead/entsoe_SE3_2022.csv`` in the shared data, ENTSO-E,
  hourly), put on 15-minute MTUs by bidopt's own loader (each hour held over its four quarters).
  The same array of prices is handed to both tools.
- 1 and 28 local (Europe/Stockholm) delivery days from ``--first-day``.
- A 1 MW / 2 MWh battery, 90 % round trip, starting and ending full; nothing else on the site (no
  load, PV, tariffs, taxes, degradation cost or cycle limit); site limits of 10 000 MW that never bind.

How energypylinear 1.4.x models the battery (read from its source, ``assets/battery.py``,
``assets/site.py``, ``objectives.py``, ``optimizer.py``, ``freq.py``) and how bidopt is set to match:

- Variables are MWh per interval; charge and discharge are bounded by power * freq_mins / 60.
  bidopt uses MW and multiplies by dt = 0.25 h: the same bounds and money.
- ``efficiency_pct`` is the round-trip efficiency and is applied entirely on charging
  (loss = charge * (1 - efficiency_pct)); discharging is lossless. bidopt: ``charge_efficiency`` =
  0.9, ``discharge_efficiency`` = 1.0.
- The state of charge lies in [0, capacity_mwh]; the initial charge is fixed and the final charge
  is fixed by an *equality* to ``final_charge_mwh`` (default: the initial charge). bidopt's
  ``soc_final_mwh`` is a lower bound, so both start and end full: "end >= full" with SoC <= full
  is "end = full", the same constraint for any prices.
- Binaries forbid charging and discharging in the same interval (charge_bin + discharge_bin <= 1,
  big-M = capacity), and a second pair makes site import and export exclusive. bidopt's default
  (``exclusive = "auto"``) adds battery binaries only when a MWh can have a negative value; with
  non-negative prices the LP has the same optimum (netting simultaneous charge and discharge keeps
  the SoC path and never costs more). Site binaries change nothing either, because import and
  export settle at the same price. The script also times bidopt with ``exclusive = true``, the
  battery binaries of the peer.
- The "price" objective minimises sum over intervals of (import_mwh - export_mwh) * price; the
  export price is the import price when none is given. It is reported as ``status.objective``, a
  cost. bidopt maximises sum (export - import) MW * price * dt, so bidopt's objective = - peer's.
- No degradation or cycle cost exists in the peer: bidopt's ``degradation_eur_per_mwh`` = 0, no
  ``max_cycles_per_day``, no reserves. ``[retail]`` is all zero (no supplier fee, energy tax, VAT,
  handling fee, grid benefit or tax reduction), so bidopt's import cost = export value = spot.
- The peer solves with CBC through PuLP (``PULP_CBC_CMD``, relative gap 0, presolve on); version
  1.4.x offers no way to pick another solver. bidopt solves with HiGHS, ``mip_gap`` = 0.

What is timed, per tool, best of ``--repeats`` runs after one untimed warm-up, each tool in its own
process on the same machine, the runs interleaved round by round (peer, bidopt, bidopt with
``exclusive = true``) so that load from elsewhere on a shared machine falls on all alike: everything
from the problem's data in memory (the 15-minute price array) to the objective and the dispatch
read back.

- bidopt: ``case_from_dict`` + ``Horizon`` + ``PortfolioModel`` (Pyomo build) + ``solve()``
  (translation to highspy, HiGHS, loading the solution) + ``summary()`` + ``schedule()``.
- energypylinear: ``epl.Battery`` + ``epl.Site`` + ``site.optimize(objective="price")`` (PuLP
  build, CBC, results extraction and checks) + reading the objective and dispatch.

The objectives must agree to 1e-6 relative (exit 1 otherwise). The ratio is peer time / bidopt time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_day import cpu_model  # noqa: E402

import bidopt
from bidopt.data import sources
from bidopt.horizon import Horizon

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().with_name("peer_energypylinear_worker.py")
DOC = REPO / "docs" / "performance.md"
START, END = "<!-- peer:start -->", "<!-- peer:end -->"

PEER = "energypylinear"
PEER_VERSION = "1.4.1"  # newest release; installs on Python 3.11 with numpy 1.26
PRICE_FILE = Path("dayahead") / "entsoe_SE3_2022.csv"
ZONE = "SE3"
MTU_MINUTES = 15
FIRST_DAY = "2022-08-01"
HORIZON_DAYS = (1, 28)
POWER_MW = 1.0
ENERGY_MWH = 2.0
ROUND_TRIP_EFFICIENCY = 0.9
SITE_LIMIT_MW = 10_000.0  # energypylinear's default site limits; a 1 MW battery never reaches them
REL_TOL = 1e-6
TARGET_RATIO = 3.0


def shared_data_dir() -> Path:
    return Path(os.environ.get("BIDOPT_SHARED_DATA", REPO.parent / "shared" / "data"))


def default_peer_venv(version: str = PEER_VERSION) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "bidopt-bench" / f"{PEER}-{version}"


# --- the problem ------------------------------------------------------------------------------------
def case_dict(prices_file: Path | str, exclusive: str | bool = "auto") -> dict:
    """The benchmark's bidopt case (the parsed TOML): one battery matching energypylinear's model."""
    return {
        "case": {"name": "peer_energypylinear", "zone": ZONE, "mtu_minutes": MTU_MINUTES},
        "prices": {"dayahead": str(prices_file)},
        "grid": {"import_limit_mw": SITE_LIMIT_MW, "export_limit_mw": SITE_LIMIT_MW},
        # every adder zero (these are also the defaults): import cost = export value = spot
        "retail": {
            "supplier_fee_sek_per_kwh": 0.0,
            "pays_energy_tax": False,
            "pays_vat": False,
            "export": {
                "policy": "spot",
                "handling_fee_sek_per_kwh": 0.0,
                "grid_benefit_sek_per_kwh": 0.0,
                "tax_reduction": False,
            },
        },
        "assets": [
            {
                "kind": "battery",
                "name": "battery",
                "power_mw": POWER_MW,
                "energy_mwh": ENERGY_MWH,
                # energypylinear takes the whole round-trip loss on charging
                "charge_efficiency": ROUND_TRIP_EFFICIENCY,
                "discharge_efficiency": 1.0,
                "soc_min_mwh": 0.0,
                "soc_max_mwh": ENERGY_MWH,
                # start and end full: bidopt's final SoC is a lower bound, the peer's an equality;
                # at the top of the SoC window the two are the same constraint
                "soc_initial_mwh": ENERGY_MWH,
                "soc_final_mwh": ENERGY_MWH,
                "degradation_eur_per_mwh": 0.0,
                "exclusive": exclusive,
                "reserves": [],
            }
        ],
        "solver": {"time_limit_s": 600.0, "mip_gap": 0.0},
    }


def horizon_for(first_day: str | dt.date, days: int) -> Horizon:
    first = dt.date.fromisoformat(str(first_day))
    return Horizon.for_days(first, first + dt.timedelta(days=days - 1), MTU_MINUTES)


def spot_prices(data: dict, horizon: Horizon) -> np.ndarray:
    """Day-ahead prices on the horizon's MTUs (EUR/MWh), read by bidopt's own loader."""
    return sources.dayahead_prices(bidopt.case_from_dict(data), horizon.index)


def peer_problem(name: str, spot: np.ndarray) -> dict:
    """The same problem in energypylinear's terms (see the module docstring)."""
    return {
        "name": name,
        "prices_eur_per_mwh": [float(p) for p in spot],
        "freq_mins": MTU_MINUTES,
        "battery": {
            "power_mw": POWER_MW,
            "capacity_mwh": ENERGY_MWH,
            "efficiency_pct": ROUND_TRIP_EFFICIENCY,
            "initial_charge_mwh": ENERGY_MWH,
            "final_charge_mwh": ENERGY_MWH,
        },
        "import_limit_mw": SITE_LIMIT_MW,
        "export_limit_mw": SITE_LIMIT_MW,
    }


def solve_bidopt(data: dict, first_day, days: int, spot: np.ndarray) -> dict:
    """One timed bidopt run: case, horizon, model, solve, results. Returns times and results."""
    t0 = time.perf_counter()
    case = bidopt.case_from_dict(data)
    horizon = horizon_for(first_day, days)
    pm = bidopt.PortfolioModel(case, horizon, spot_eur_per_mwh=spot)
    t1 = time.perf_counter()
    pm.solve()
    t2 = time.perf_counter()
    summary = pm.summary()
    schedule = pm.schedule()
    t3 = time.perf_counter()
    return {
        "seconds": t3 - t0,
        "build": t1 - t0,
        "solve": t2 - t1,
        "results": t3 - t2,
        "objective_eur": summary["objective_eur"],
        "status": summary["solver"]["status"],
        "charged_mwh": float(schedule["battery_charge_mw"].sum() * horizon.dt_h),
        "discharged_mwh": float(schedule["battery_discharge_mw"].sum() * horizon.dt_h),
        "model": pm,
    }


def model_size(pm: bidopt.PortfolioModel) -> dict:
    import pyomo.environ as pyo

    variables = list(pm.m.component_data_objects(pyo.Var, active=True))
    return {
        "n_variables": len(variables),
        "n_binaries": sum(1 for v in variables if v.is_binary()),
        "n_constraints": sum(1 for _ in pm.m.component_data_objects(pyo.Constraint, active=True)),
    }


def solve_split(pm: bidopt.PortfolioModel) -> dict:
    """An extra, instrumented solve of a built model: Pyomo's translation to highspy, the HiGHS run
    and loading the solution, in seconds (the timer adds a little overhead of its own)."""
    from pyomo.common.timing import HierarchicalTimer
    from pyomo.contrib.solver.solvers.highs import Highs

    timer = HierarchicalTimer()
    Highs().solve(pm.m, timer=timer, load_solutions=True, rel_gap=0.0, time_limit=600.0)
    keys = ("set_instance", "optimize", "load solution")
    return {k: timer.get_total_time(k) if k in timer.timers else 0.0 for k in keys}


def best_bidopt(runs: list[dict]) -> dict:
    """The fastest of bidopt's runs, with its model's size and an instrumented solve split."""
    best = min(runs, key=lambda r: r["seconds"])
    out = {k: v for k, v in best.items() if k != "model"}
    out.update(model_size(best["model"]))
    out["split"] = solve_split(best["model"])
    out["all_seconds"] = [r["seconds"] for r in runs]
    return out


# --- the peer's environment -------------------------------------------------------------------------
def installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    r = subprocess.run(
        [str(python), "-c", f"from importlib import metadata; print(metadata.version('{PEER}'))"],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_peer_venv(venv: Path, version: str) -> Path:
    """The peer's interpreter, creating the venv and installing the peer there if needed."""
    python = venv / "bin" / "python"
    if installed_version(python) == version:
        return python
    if not python.exists():
        print(f"creating the peer's virtual environment at {venv}", file=sys.stderr)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing {PEER}=={version} (numpy<2) into {venv}", file=sys.stderr)
    r = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{PEER}=={version}",
            "numpy<2",
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or installed_version(python) != version:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"could not install {PEER}=={version} into {venv}")
    return python


class Peer:
    """The worker running in the peer's venv, serving one timed run per request."""

    def __init__(self, python: Path, problems: list[dict]):
        self._tmp = tempfile.TemporaryDirectory()
        spec = Path(self._tmp.name) / "problems.json"
        spec.write_text(json.dumps({"problems": problems}))
        self._stderr_path = Path(self._tmp.name) / "stderr.txt"
        self._stderr = open(self._stderr_path, "w")  # a file, not a pipe: warnings can never block the worker
        self.proc = subprocess.Popen(
            [str(python), str(WORKER), str(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self._stderr.flush()
            sys.stderr.write(self._stderr_path.read_text())
            raise SystemExit(f"the {PEER} worker failed (exit {self.proc.returncode})")
        return json.loads(line)

    def run(self, name: str) -> dict:
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        self._stderr.close()
        self._tmp.cleanup()


# --- machine and report -----------------------------------------------------------------------------
def machine() -> dict:
    import highspy
    import pyomo

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "pyomo": pyomo.version.version,
        "highspy": f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}",
        "numpy": np.__version__,
        "load": load,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def rel_diff(bidopt_objective: float, peer_cost: float) -> float:
    """Relative difference between bidopt's objective and minus the peer's cost."""
    return abs(bidopt_objective + peer_cost) / max(abs(peer_cost), 1e-9)


def command(args) -> str:
    parts = ["python benchmarks/peer_energypylinear.py"]
    if args.first_day != FIRST_DAY:
        parts.append(f"--first-day {args.first_day}")
    if args.days != ",".join(map(str, HORIZON_DAYS)):
        parts.append(f"--days {args.days}")
    parts.append(f"--repeats {args.repeats}")
    if args.peer_version != PEER_VERSION:
        parts.append(f"--peer-version {args.peer_version}")
    return " ".join(parts)


def horizon_label(days: int) -> str:
    return f"{days} day{'s' if days > 1 else ''}"


def verdict(rows: list[dict]) -> list[str]:
    """The paragraph on the issue's target: the same objective at least TARGET_RATIO times faster."""

    def listing(key: str) -> str:
        return ", ".join(f"{r[key]:.1f}x at {horizon_label(r['days'])}" for r in rows)

    def met(key: str) -> str:
        missed = [horizon_label(r["days"]) for r in rows if r[key] < TARGET_RATIO]
        return "met on every horizon" if not missed else f"**not** met at {', '.join(missed)}"

    short = min(rows, key=lambda r: r["days"])
    a = short["auto"]
    return [
        f"**Against the target** (the same objective, at least {TARGET_RATIO:g}x faster): bidopt as a user "
        f"runs it is {listing('ratio_auto')}, so the target is {met('ratio_auto')}. With the peer's battery "
        f"binaries forced (`exclusive = true`) it is {listing('ratio_strict')}: {met('ratio_strict')}. "
        f"On the {short['days']}-day problem most of bidopt's {ms(a['seconds'])} is Pyomo's "
        f"translation of the model into highspy (about {ms(a['split']['set_instance'])} in the "
        f"instrumented solve); HiGHS itself runs in {ms(a['split']['optimize'])}. The margin there is "
        "thin and moves with the machine's load.",
    ]


def render(rows: list[dict], peer: dict, info: dict, args, price_range: tuple[float, float]) -> str:
    v = peer["versions"]
    pv = v[PEER]
    lo, hi = price_range
    lines = [
        START,
        "## Against energypylinear (the same battery problem)",
        "",
        f"Written by `{command(args)} --write` on {dt.date.today().isoformat()}. The same battery arbitrage "
        f"problem is solved by bidopt and by [energypylinear](https://pypi.org/project/energypylinear/) "
        f"{pv}, a MILP library for energy assets built on PuLP and the CBC solver. The peer runs in its own "
        "virtual environment, which the script creates, because it needs numpy < 2. It is not a bidopt "
        "dependency. How the peer models a battery was read from its source; the script's docstring "
        "lists each point.",
        "",
        "**The problem.**",
        "",
        f"- Prices: SE3 day-ahead prices from `{PRICE_FILE.as_posix()}` in the shared data (ENTSO-E, "
        "hourly). bidopt's loader holds each hour over its four quarter-hours, and the same 15-minute "
        f"array goes to both tools. Over the longest horizon the prices range from {lo:.2f} to {hi:.2f} "
        "EUR/MWh.",
        f"- Horizons: 1 and 28 Stockholm delivery days from {args.first_day}, at a 15-minute MTU.",
        f"- Battery: {POWER_MW:g} MW / {ENERGY_MWH:g} MWh, {ROUND_TRIP_EFFICIENCY:.0%} round trip. It starts "
        "and ends full and has no degradation cost and no cycle limit.",
        f"- Site: limits of {SITE_LIMIT_MW:,.0f} MW that never bind. No load, PV, tariffs or taxes.",
        "",
        f"| aspect | energypylinear {pv} | bidopt case |",
        "|---|---|---|",
        "| efficiency | `efficiency_pct` is the round trip, all taken on charging (loss = charge × (1 − η)); "
        "discharging is lossless | `charge_efficiency = 0.9`, `discharge_efficiency = 1.0` |",
        "| power, energy | MWh per interval, at most power × `freq_mins`/60; charge within [0, capacity] | "
        "`power_mw = 1`, `soc_min_mwh = 0`, `soc_max_mwh = 2`; MW × 0.25 h |",
        "| start and end | initial charge fixed; final charge *equal* to `final_charge_mwh` | "
        "`soc_initial_mwh = 2`; `soc_final_mwh = 2` is a lower bound, which is an equality at a full "
        "battery |",
        "| charge and discharge at once | forbidden by a binary per interval; another binary pair makes "
        'import and export exclusive | `exclusive = "auto"`: no binaries while no MWh can have a negative '
        "value, since the LP then has the same optimum. Also timed with `exclusive = true`. Import and "
        "export have the same price, so exclusivity between them changes nothing |",
        "| costs | energy only | `degradation_eur_per_mwh = 0`, no tariffs, `[retail]` all zero "
        "(import cost = export value = spot) |",
        "| objective | minimises Σ (import − export) MWh × price; `status.objective` is a cost | maximises "
        "Σ (export − import) MW × price × 0.25 h, so bidopt's objective = − peer's |",
        f"| solver | CBC {peer.get('cbc_version') or ''} via PuLP {v.get('pulp')} (`PULP_CBC_CMD`, "
        "relative gap 0, presolve on); no other solver can be chosen | HiGHS via Pyomo, `mip_gap = 0` |",
        "",
        "**What is timed.** Each tool runs in its own process on the same machine. The runs are "
        "interleaved (peer, bidopt, bidopt with `exclusive = true`, round after round), so that load from "
        f"elsewhere falls on all alike. Each figure is the best of {args.repeats} runs after one untimed "
        "warm-up. A run starts from the price array in memory and ends with the objective and dispatch "
        "read back:",
        "",
        "- bidopt: `case_from_dict`, `Horizon`, `PortfolioModel` (Pyomo build), `solve()` (translation "
        "to highspy, HiGHS, loading the solution), `summary()` and `schedule()`.",
        '- energypylinear: `epl.Battery`, `epl.Site`, `site.optimize(objective="price")` (PuLP build, '
        "CBC, results extraction and checks), and reading the result.",
        "",
        "**Results.**",
        "",
        "| horizon | MTUs | energypylinear | bidopt | ratio | bidopt, `exclusive = true` | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['days']} day{'s' if r['days'] > 1 else ''} | {r['n']} | {ms(r['peer']['best'])} | "
            f"{ms(r['auto']['seconds'])} | **{r['ratio_auto']:.1f}x** | {ms(r['strict']['seconds'])} | "
            f"{r['ratio_strict']:.1f}x |"
        )
    lines += [
        "",
        "| horizon | energypylinear cost (EUR) | bidopt objective (EUR) | `exclusive = true` (EUR) | "
        "relative difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        worst = max(r["diff_auto"], r["diff_strict"])
        lines.append(
            f"| {r['days']} day{'s' if r['days'] > 1 else ''} | {r['peer']['objective_cost_eur']:.6f} | "
            f"{r['auto']['objective_eur']:.6f} | {r['strict']['objective_eur']:.6f} | {worst:.1e} |"
        )
    lines += ["", *verdict(rows)]
    lines += [
        "",
        "Where each tool's time goes, and the model sizes:",
        "",
        "| horizon | tool | build | solve | translation / solver run | results | variables (binaries) "
        "| constraints |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        h = f"{r['days']} day{'s' if r['days'] > 1 else ''}"
        for label, b in (("bidopt", r["auto"]), ("bidopt, `exclusive = true`", r["strict"])):
            lines.append(
                f"| {h} | {label} | {ms(b['build'])} | {ms(b['solve'])} | {ms(b['split']['set_instance'])} / "
                f"{ms(b['split']['optimize'])} | {ms(b['results'])} | "
                f"{b['n_variables']} ({b['n_binaries']}) | {b['n_constraints']} |"
            )
        p = r["peer"]
        lines.append(
            f"| {h} | energypylinear | {ms(p['best'] - p['best_solve'])} (build + results) | "
            f"{ms(p['best_solve'])} | | | {p['n_variables']} ({p['n_binaries']}) | {p['n_constraints']} |"
        )
    lines += [
        "",
        "bidopt's *solve* is Pyomo's translation to highspy, the HiGHS run and loading the solution; "
        "the *translation / solver run* column splits it, from one extra instrumented solve of the same "
        "model. The peer's *solve* is PuLP writing an MPS file, the CBC process and reading the solution "
        "back; its *build + results* is everything else (the PuLP model and the results extraction).",
        "",
        f'Machine: {info["cores"]} usable cores, CPU "{info["cpu"]}", {info["platform"]}, load average '
        f"{info['load']} when the run started. bidopt: Python {info['python']}, Pyomo {info['pyomo']}, "
        f"highspy {info['highspy']}, numpy {info['numpy']}. Peer: Python {peer['python']}, energypylinear "
        f"{pv}, PuLP {v.get('pulp')}, numpy {v.get('numpy')}, pandas {v.get('pandas')}. These are ratios "
        "from one run on one shared machine; the absolute times move between runs.",
        "",
        "Reproduce (the first run creates the peer's virtual environment under `~/.cache/bidopt-bench`; "
        "`--peer-venv` picks another place):",
        "",
        "```sh",
        f"{command(args)}          # prints the tables",
        f"{command(args)} --write  # and rewrites this section",
        "```",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str, path: Path = DOC) -> None:
    """Replace the text between the peer markers in ``path`` (append the section if absent)."""
    text = path.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--first-day", default=FIRST_DAY, help="first Stockholm delivery day (default %(default)s)"
    )
    ap.add_argument(
        "--days",
        default=",".join(map(str, HORIZON_DAYS)),
        help="horizon lengths in days (default %(default)s)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per tool and horizon; the best counts")
    ap.add_argument("--data", type=Path, default=shared_data_dir(), help="the shared data folder")
    ap.add_argument(
        "--peer-venv", type=Path, default=None, help="the peer's venv (default ~/.cache/bidopt-bench/...)"
    )
    ap.add_argument("--peer-version", default=PEER_VERSION)
    ap.add_argument(
        "--write", action="store_true", help=f"rewrite the peer section of {DOC.relative_to(REPO)}"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the key figures there (run_all.py)")
    args = ap.parse_args(argv)

    prices_file = args.data / PRICE_FILE
    if not prices_file.is_file():
        raise SystemExit(f"price file not found: {prices_file} (set --data or BIDOPT_SHARED_DATA)")
    info = machine()
    days_list = [int(d) for d in args.days.split(",")]
    auto, strict = case_dict(prices_file, "auto"), case_dict(prices_file, True)

    spots = {d: spot_prices(auto, horizon_for(args.first_day, d)) for d in days_list}
    for d, spot in spots.items():  # the price stack is the plain spot price (checked, not timed)
        pm = bidopt.PortfolioModel(
            bidopt.case_from_dict(auto), horizon_for(args.first_day, d), spot_eur_per_mwh=spot
        )
        assert np.array_equal(pm.site.import_cost, spot) and np.array_equal(pm.site.export_value, spot), (
            "price stack != spot"
        )
    longest = spots[max(days_list)]
    price_range = (float(longest.min()), float(longest.max()))

    python = ensure_peer_venv(args.peer_venv or default_peer_venv(args.peer_version), args.peer_version)
    print(f"starting {PEER} {args.peer_version} ({python}) ...", file=sys.stderr)
    peer = Peer(python, [peer_problem(f"{d}d", spots[d]) for d in days_list])  # warms itself up
    first = min(days_list)
    solve_bidopt(auto, args.first_day, first, spots[first])  # bidopt's warm-up: imports, caches
    solve_bidopt(strict, args.first_day, first, spots[first])
    # rounds of (peer, bidopt, bidopt exclusive) per horizon, so that load from elsewhere on the
    # machine falls on all three alike
    runs = {d: {"peer": [], "auto": [], "strict": []} for d in days_list}
    try:
        for k in range(args.repeats):
            print(f"round {k + 1} of {args.repeats}", file=sys.stderr)
            for d in days_list:
                gc.collect()
                runs[d]["peer"].append(peer.run(f"{d}d"))
                for variant, data in (("auto", auto), ("strict", strict)):
                    gc.collect()
                    runs[d][variant].append(solve_bidopt(data, args.first_day, d, spots[d]))
    finally:
        peer.close()
    rows = []
    for d in days_list:
        p = dict(min(runs[d]["peer"], key=lambda r: r["seconds"]))
        p.update(
            best=p["seconds"],
            best_solve=p["solve_seconds"],
            all_seconds=[r["seconds"] for r in runs[d]["peer"]],
        )
        a, s = best_bidopt(runs[d]["auto"]), best_bidopt(runs[d]["strict"])
        runs[d] = None  # free the models
        rows.append(
            {
                "days": d,
                "n": len(spots[d]),
                "peer": p,
                "auto": a,
                "strict": s,
                "ratio_auto": p["best"] / a["seconds"],
                "ratio_strict": p["best"] / s["seconds"],
                "diff_auto": rel_diff(a["objective_eur"], p["objective_cost_eur"]),
                "diff_strict": rel_diff(s["objective_eur"], p["objective_cost_eur"]),
            }
        )

    section = render(rows, peer.info, info, args, price_range)
    print(section)
    ok = True
    for r in rows:
        agree = r["peer"]["status"] == "Optimal" and max(r["diff_auto"], r["diff_strict"]) <= REL_TOL
        ok &= agree
        print(
            f"{r['days']:>3} days: objectives {'agree' if agree else 'DISAGREE'} "
            f"(bidopt {r['auto']['objective_eur']:.6f}, peer -({r['peer']['objective_cost_eur']:.6f})); "
            f"ratio {r['ratio_auto']:.1f}x ({'meets' if r['ratio_auto'] >= TARGET_RATIO else 'MISSES'} "
            f">= {TARGET_RATIO:g}x); with exclusive=true {r['ratio_strict']:.1f}x "
            f"({'meets' if r['ratio_strict'] >= TARGET_RATIO else 'misses'})"
        )
    if args.json:
        args.json.write_text(json.dumps([
            {"days": r["days"], "peer_s": r["peer"]["best"], "bidopt_s": r["auto"]["seconds"],
             "strict_s": r["strict"]["seconds"], "ratio": r["ratio_auto"], "ratio_strict": r["ratio_strict"],
             "agree": r["peer"]["status"] == "Optimal" and max(r["diff_auto"], r["diff_strict"]) <= REL_TOL}
            for r in rows]))
    if args.write:
        if not ok:
            print("objectives disagree: docs not written", file=sys.stderr)
        else:
            write_section(section)
            print(f"wrote the peer section of {DOC}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
