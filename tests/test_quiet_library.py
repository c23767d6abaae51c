"""Library calls print nothing: HiGHS's banner ("Running HiGHS ...") must not reach stdout.

HiGHS writes from C, so the check captures the file descriptors (``capfd``), in a fresh process:
the banner is printed once per process, at the first ``highspy.Highs`` whose output is on.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import bidopt
case = bidopt.load_case({demo!r})
res = bidopt.plan(case, "2024-03-14")
assert res.summary["solver"]["status"] == "optimal"
"""


def test_plan_prints_nothing_in_a_fresh_process():
    r = subprocess.run([sys.executable, "-c", SCRIPT.format(demo=str(REPO / "cases" / "demo"))],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "HiGHS" not in r.stderr


def test_plan_prints_nothing(capfd):
    import bidopt
    from bidopt import solver

    bidopt.plan(bidopt.load_case(REPO / "cases" / "demo"), "2024-03-15")
    flag = solver.new_highs().getOptionValue("output_flag")
    assert (flag[1] if isinstance(flag, tuple) else flag) is False  # (status, value) in highspy 1.16
    out, err = capfd.readouterr()
    assert out == "" and "Running HiGHS" not in err
