"""Output folders (issue 14, items 1, 3, 6, 7, 8): nothing is written outside ``--out``, an unusable
``--out`` is one line and exit 2, files are published as one set (a killed publish is completed by
the next run), one writer per folder, and contract files are byte-identical across reruns."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bidopt import output
from bidopt.cli import main
from bidopt.errors import InputError
from tests.conftest import REPO
from tests.test_backtest import small_case

DEMO = REPO / "cases" / "demo"
DAY = "2024-03-14"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def one_line_error(r, *names: str) -> str:
    text = r.output.strip()
    assert r.exit_code == 2, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for n in names:
        assert n in text, text
    return text


# --- item 1: names that become paths --------------------------------------------------------------


def test_sweep_with_hostile_case_names_writes_only_under_out(tmp_path):
    work = tmp_path / "work"
    outside = tmp_path / "outside"  # where "/.../outside/escaped" would land
    cases = [small_case(work / "a", name="../../../escaped"),
             small_case(work / "b", name=str(outside / "escaped"))]
    sweep = work / "sweep.toml"
    sweep.write_text("cases = [" + ", ".join(f'"{c}"' for c in cases) + ']\nstrategies = ["perfect_foresight"]\n'
                     '[[periods]]\nstart = 2024-03-04\nend = 2024-03-04\n')  # one chain: fast
    before = files_under(tmp_path)
    out = work / "o" / "p" / "q"
    r = CliRunner().invoke(main, ["sweep", str(sweep), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    new = files_under(tmp_path) - before
    assert new and all(p == out or out in p.parents or p in out.parents for p in new), sorted(new)
    assert not outside.exists()
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders[0] == "_escaped-perfect_foresight-2024-03-04_2024-03-04" and folders[1].startswith("_tmp_"), folders
    assert all((out / f / "daily.csv").is_file() for f in folders)


def test_two_jobs_sharing_a_folder_are_refused_before_running(tmp_path):
    cases = [small_case(tmp_path / "a", name="x/y"), small_case(tmp_path / "b", name="x y")]
    sweep = tmp_path / "sweep.toml"
    sweep.write_text("cases = [" + ", ".join(f'"{c}"' for c in cases) + ']\n'
                     '[[periods]]\nstart = 2024-03-04\nend = 2024-03-04\n')
    r = CliRunner().invoke(main, ["sweep", str(sweep), "--out", str(tmp_path / "o"), "--no-progress"])
    one_line_error(r, "sweep.toml", "x_y-bid")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a/../../x", ".", ""])
def test_child_refuses_paths_leaving_the_folder(tmp_path, name):
    with pytest.raises(InputError, match="outside the output folder"):
        output.child(tmp_path, name)


def test_child_refuses_a_symlink_pointing_out(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError):
        output.child(tmp_path / "out", "link/file")
    assert output.child(tmp_path / "out", "sub/file") == (tmp_path / "out" / "sub" / "file").resolve()


# --- item 3: an --out that cannot be written ----------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "under_file", "devnull"])
def test_out_that_is_no_folder_is_one_line_exit_2(tmp_path, where):
    (tmp_path / "f").write_text("x")
    out = {"file": tmp_path / "f", "under_file": tmp_path / "f" / "sub", "devnull": Path("/dev/null")}[where]
    r = CliRunner().invoke(main, ["plan", str(DEMO), "--day", DAY, "--out", str(out)])
    one_line_error(r, str(out))
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only")])
def test_full_or_read_only_disk_is_one_line_exit_2(tmp_path, monkeypatch, code, words):
    def fail(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(output, "schedule_csv", fail)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["plan", str(DEMO), "--day", DAY, "--out", str(out)])
    one_line_error(r, str(out), words)
    assert not out.exists() or not list(out.iterdir())


def test_read_only_folder_is_one_line_exit_2(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        r = CliRunner().invoke(main, ["plan", str(DEMO), "--day", DAY, "--out", str(out)])
        one_line_error(r, str(out))
    finally:
        out.chmod(0o755)


# --- item 6: no partial output ----------------------------------------------------------------------


def test_bad_report_week_is_refused_before_the_run(tmp_path):
    case = small_case(tmp_path / "c", extra='[backtest]\nreport_week = "2030-01-01"\n')
    out = tmp_path / "o"
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["backtest", str(case), "--start", "2024-03-04", "--end", "2024-03-05",
                                  "--out", str(out), "--no-progress"])
    one_line_error(r, "case.toml", "backtest.report_week", "2030-01-01")
    assert time.perf_counter() - t0 < 5  # nothing was solved
    assert not out.exists()


def _writers(tag: str) -> dict:
    return {n: (lambda p, n=n: p.write_text(f"{tag} {n}\n")) for n in ("a.csv", "b.json", "c.csv", "r.html")}


def test_a_killed_publish_is_completed_by_the_next_run(tmp_path, monkeypatch):
    out = tmp_path / "o"
    output.write_all(out, _writers("old"))
    real, moved = os.replace, []

    def dies_after_one_file(src, dst):
        contract = Path(dst).parent == out and not Path(dst).name.startswith(".")
        if contract and moved:
            raise KeyboardInterrupt  # the process is gone: no clean-up runs
        real(src, dst)
        if contract:
            moved.append(dst)

    monkeypatch.setattr(os, "replace", dies_after_one_file)
    with pytest.raises(KeyboardInterrupt):
        output.write_all(out, _writers("new"))
    monkeypatch.setattr(os, "replace", real)
    contents = {p.name: p.read_text().split()[0] for p in out.glob("[!.]*")}
    assert (out / output.MARKER_NAME).exists()  # a reader sees that a publish is under way
    assert sorted(contents.values()) == ["new", "old", "old", "old"]
    # fragments other runs left: a staging folder, a checkpoint fragment
    (out / ".bidopt-stale").mkdir()
    (out / ".checkpoints" / "strategy").mkdir(parents=True)
    (out / ".checkpoints" / "strategy" / "2024-03-04.tmp4242").write_text("{")
    with output.locked(out):  # any next run on the folder
        pass
    assert {p.name: p.read_text().split()[0] for p in out.glob("[!.]*")} == dict.fromkeys(_writers(""), "new")
    assert sorted(p.name for p in out.iterdir()) == [".checkpoints", "a.csv", "b.json", "c.csv", "r.html"]
    assert not list((out / ".checkpoints").rglob("*.tmp*"))


def test_a_failing_writer_leaves_the_old_set(tmp_path):
    out = tmp_path / "o"
    output.write_all(out, _writers("old"))

    def boom(p):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(InputError, match="disk full"):
        output.write_all(out, {**_writers("new"), "c.csv": boom})
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.json", "c.csv", "r.html"]
    assert {p.read_text().split()[0] for p in out.iterdir()} == {"old"}


# --- item 7: one writer per folder --------------------------------------------------------------------

HOLD = """
import sys, time
from bidopt import output
with output.locked(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holder_does_not_block(tmp_path):
    out = tmp_path / "o"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        bidopt = Path(sys.executable).with_name("bidopt")
        r = subprocess.run([str(bidopt), "plan", str(DEMO), "--day", DAY, "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        line = r.stderr.strip()
        assert len(line.splitlines()) == 1 and str(out) in line and f"pid {holder.pid}" in line, line
        assert not (out / "schedule.csv").exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up, the lock file stays
        holder.wait()
    assert (out / output.LOCK_NAME).exists()
    output.write_all(out, _writers("next"))  # the dead holder's lock is no obstacle
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.json", "c.csv", "r.html"]


# --- item 8: byte-identical reruns, one file mode -----------------------------------------------------


def _contract(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name != "timing.csv"}


@pytest.mark.parametrize("command", ["plan", "bid", "backtest"])
def test_reruns_write_byte_identical_contract_files_with_one_mode(tmp_path, command):
    case = small_case(tmp_path / "c")
    args = {"plan": ["--day", "2024-03-04"], "bid": ["--day", "2024-03-04"],
            "backtest": ["--start", "2024-03-04", "--end", "2024-03-04", "--no-progress"]}[command]
    outs = [tmp_path / "o1", tmp_path / "o2"]
    for out in outs:
        r = CliRunner().invoke(main, [command, str(case), *args, "--out", str(out)])
        assert r.exit_code == 0, r.output
    first, second = _contract(outs[0]), _contract(outs[1])
    assert len(first) >= 2 and first == second
    timing = (outs[0] / "timing.csv").read_text()
    assert "seconds" in timing.splitlines()[0]
    if command != "backtest":
        assert json.loads(first["summary.json"])["solver"]["seconds"] is None
        assert timing.splitlines()[1].startswith("solver.seconds,")
    modes = {p.name: p.stat().st_mode & 0o777 for p in outs[0].iterdir() if p.is_file()}
    assert set(modes.values()) == {output.file_mode()}, modes


KILL_IN_PUBLISH = """
import os, signal, sys
from pathlib import Path
import bidopt
real = os.replace
def replace(src, dst):
    real(src, dst)
    if Path(dst).name == "daily.csv":  # the first contract file is in: die like kill -9
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
case = bidopt.load_case(sys.argv[1])
bidopt.backtest(case, "2024-03-04", "2024-03-04", out_dir=sys.argv[2], strategy="perfect_foresight")
"""


def test_a_backtest_killed_while_publishing_is_completed_by_the_next_command(tmp_path):
    case = small_case(tmp_path / "c")
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-c", KILL_IN_PUBLISH, str(case), str(out)], capture_output=True,
                       timeout=300)
    assert p.returncode == -9, p.stderr.decode()
    assert (out / output.MARKER_NAME).exists() and (out / "daily.csv").exists()
    assert not (out / "summary.json").exists()  # a partial set, flagged by the marker
    r = CliRunner().invoke(main, ["report", str(out)])  # any next bidopt run on the folder
    assert r.exit_code == 0, r.output
    names = ["daily.csv", "report.html", "summary.json", "timeseries.csv", "timing.csv"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == names
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".checkpoints"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["start"] == summary["end"] == "2024-03-04" and "<img" in (out / "report.html").read_text()
