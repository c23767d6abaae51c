"""Run every benchmark of issue 6 in turn and update docs/performance.md where a script can.

    python benchmarks/run_all.py [--quick] [--skip-peer] [--skip-fleet]

1. ``plan_day.py`` on the LP day (2024-01-17) and the MIP day (2024-08-27): one demo day, bidopt vs
   the same model straight in highspy, cold and re-planned on a built model;
2. ``backtest_year.py --write``: 365 daily plans with carried state vs summed highspy;
3. ``peer_energypylinear.py --write``: the peer in its own virtual environment (needs network once);
4. ``fleet.py --write``: 100 / 1,000 / 10,000 home sites on two Dask workers.

``--quick`` runs fewer repeats, 60 backtest days and fleets of 100 and 1,000. The summary table at
the top of docs/performance.md is written by hand from these outputs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-fleet", action="store_true")
    a = ap.parse_args(argv)
    repeats = "5" if a.quick else "30"
    runs = [
        ["plan_day.py", "--repeats", repeats],
        ["plan_day.py", "--repeats", repeats, "--day", "2024-08-27"],
        ["backtest_year.py", *(["--days", "60"] if a.quick else ["--write"])],
    ]
    if not a.skip_peer:
        runs.append(["peer_energypylinear.py", "--repeats", "1" if a.quick else "3", *([] if a.quick else ["--write"])])
    if not a.skip_fleet:
        runs.append(["fleet.py", *(["--sizes", "100,1000"] if a.quick else ["--write"])])
    failed = []
    for args in runs:
        print(f"\n## {' '.join(args)}\n", flush=True)
        if subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]]).returncode != 0:
            failed.append(args[0])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
