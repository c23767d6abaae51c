"""The distributed path for real: ``--scheduler ADDRESS`` against a Dask scheduler and two workers
that this module starts on 127.0.0.1 as separate processes (``python -m distributed.cli.dask_*``
of this venv, so the workers import this bidopt). A backtest and a sweep through the cluster write
the same bytes as ``--workers 1``; a worker killed (SIGKILL) while it runs the strategy chain is
restarted by its nanny, the chain reruns from the lost attempt's checkpoints, and the files are
still the same bytes; a scheduler killed mid-run, an unreachable or malformed address are exit 2
with one line, the latter two in seconds.

Deselect with ``-m "not cluster"``. The cluster's processes run in their own process groups,
killed at teardown and at exit; should this process die first, the workers stop when the
scheduler goes (``--death-timeout``) and the scheduler after ``IDLE_SECONDS`` without tasks.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_backtest import small_case

BIDOPT = [sys.executable, "-c", "import sys; from bidopt.cli import main; sys.exit(main())"]
CONSOLE = Path(sys.executable).parent / "bidopt"
if CONSOLE.exists():  # the installed console script, as users run it
    BIDOPT = [str(CONSOLE)]
CONTRACT = ("daily.csv", "timeseries.csv", "summary.json", "report.html")  # timing.csv is run-specific
START, END, N_DAYS = "2024-03-04", "2024-03-11", 8  # the strategy chain runs long enough to be killed
IDLE_SECONDS = 120
_groups: list[subprocess.Popen] = []


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process group, SIGKILL what is left after 1 s (nothing of theirs is kept)."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 1
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # also the nanny's worker process, in the same group
        except ProcessLookupError:
            pass
        p.wait(timeout=5)


atexit.register(lambda: _stop(_groups))


def _spawn(args: list[str], log: Path, cwd: Path) -> subprocess.Popen:
    with open(log, "wb") as f:
        p = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    _groups.append(p)
    return p


class Cluster:
    def __init__(self, address: str, folder: Path, procs: list[subprocess.Popen]):
        self.address, self.folder, self.procs = address, folder, procs

    def client(self):
        from distributed import Client

        return Client(self.address, timeout="10s")

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n" + f.read_text(errors="replace")[-3000:]
                         for f in sorted(self.folder.glob("*.log")))


@contextlib.contextmanager
def _started(folder: Path, n_workers: int, nanny: bool = True):
    """``dask scheduler`` + ``n_workers`` ``dask worker`` (one thread each; with ``nanny`` a killed
    worker process is restarted), ready within 60 s or the test fails; stopped on leaving."""
    sched_file = folder / "scheduler.json"
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
                     str(sched_file), "--idle-timeout", f"{IDLE_SECONDS}s"], folder / "scheduler.log", folder)]
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None:
            assert procs[0].poll() is None, "dask scheduler exited:\n" + (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler not ready in 60 s"
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        for i in range(1, n_workers + 1):
            procs.append(_spawn(["distributed.cli.dask_worker", address, "--name", f"w{i}", "--nthreads", "1",
                                 "--nworkers", "1", "--no-dashboard", "--death-timeout", "20s",
                                 "--nanny" if nanny else "--no-nanny",
                                 "--local-directory", str(folder / f"w{i}")], folder / f"worker{i}.log", folder))
        c = Cluster(address, folder, procs)
        if n_workers:
            with c.client() as client:
                client.wait_for_workers(n_workers, timeout=max(5.0, deadline - time.monotonic()))
        yield c
    finally:
        _stop(procs)
        for p in procs:
            _groups.remove(p)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The module's cluster: a scheduler and two workers under nannies, on 127.0.0.1."""
    with _started(tmp_path_factory.mktemp("cluster"), 2) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The case and its ``--workers 1`` backtest over START..END, as the cluster runs' reference."""
    folder = tmp_path_factory.mktemp("reference")
    case = small_case(folder / "case")
    _in_process("backtest", case, "--start", START, "--end", END, "--out", folder / "w1")
    return case, folder / "w1"


def _in_process(*args) -> None:
    """A ``--workers 1`` reference run in this process (it has bidopt imported: seconds saved)."""
    from click.testing import CliRunner

    from bidopt.cli import main

    r = CliRunner().invoke(main, [*map(str, args), "--no-progress"])
    assert r.exit_code == 0, r.output


def _bidopt(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*BIDOPT, *map(str, args), "--no-progress"], capture_output=True, text=True,
                          timeout=timeout)


def _same_files(a: Path, b: Path, names=CONTRACT) -> None:
    for f in names:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f"{f} differs between {a} and {b}"


@pytest.mark.cluster
def test_backtest_on_the_cluster_writes_the_same_bytes(cluster, reference, tmp_path):
    case, ref = reference
    r = _bidopt("backtest", case, "--start", START, "--end", END, "--out", tmp_path / "dask",
                "--scheduler", cluster.address)
    assert r.returncode == 0, r.stderr + cluster.logs()
    _same_files(tmp_path / "dask", ref)
    assert json.loads((tmp_path / "dask" / "summary.json").read_text())["computed_days"] == N_DAYS


@pytest.mark.cluster
def test_sweep_on_the_cluster_writes_the_same_bytes(cluster, tmp_path):
    case = small_case(tmp_path / "c", name="site", seed=3)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'cases = ["{case}"]\nstrategies = ["bid", "expected"]\n'
                     '[[periods]]\nstart = 2024-03-04\nend = 2024-03-04\n')
    _in_process("sweep", sweep, "--out", tmp_path / "w1")
    dask = _bidopt("sweep", sweep, "--out", tmp_path / "dask", "--scheduler", cluster.address)
    assert dask.returncode == 0, dask.stderr + cluster.logs()
    _same_files(tmp_path / "dask", tmp_path / "w1", ["comparison.csv"])
    jobs = sorted(p.name for p in (tmp_path / "w1").iterdir() if p.is_dir())
    assert len(jobs) == 2 and jobs == sorted(p.name for p in (tmp_path / "dask").iterdir() if p.is_dir())
    for job in jobs:
        _same_files(tmp_path / "dask" / job, tmp_path / "w1" / job)


@pytest.mark.cluster
def test_a_worker_killed_mid_run_changes_nothing(cluster, reference, tmp_path):
    """SIGKILL the worker running the strategy chain once it has checkpointed a day: Dask reruns the
    chain, which reloads the lost attempt's days and computes the rest; summary.json still says every
    day was computed in this run, as an uninterrupted run's does."""
    case, ref = reference
    out = tmp_path / "dask"
    with cluster.client() as client:
        pids = client.run(os.getpid)
        run = subprocess.Popen([*BIDOPT, "backtest", str(case), "--start", START, "--end", END, "--out",
                                str(out), "--scheduler", cluster.address, "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            killed, deadline = None, time.monotonic() + 60
            while killed is None and run.poll() is None and time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items()
                        if any("bidopt-strategy-" in str(k) for k in keys)]
                done = len(list((out / ".checkpoints" / "strategy").glob("*.json")))
                if busy and done:
                    killed = pids[busy[0]]
                    os.kill(killed, signal.SIGKILL)
                else:
                    time.sleep(0.005)
            stdout, stderr = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        assert killed is not None, "the strategy chain ended before a worker could be killed"
        assert 1 <= done < N_DAYS  # days the lost attempt had checkpointed when its worker died
        assert run.returncode == 0, stderr + cluster.logs()
        _same_files(out, ref)
        client.wait_for_workers(2, timeout=30)  # the nanny's new worker, for the other tests
        assert killed not in client.run(os.getpid).values()


@pytest.mark.cluster
def test_a_scheduler_lost_mid_run_is_exit_2_on_one_line(tmp_path):
    """The scheduler dies (SIGKILL) while it holds the backtest's tasks: exit 2, one line naming the
    address, no contract file. A scheduler without workers keeps the tasks waiting: no worker
    process, no bidopt import there, nothing to race."""
    case = small_case(tmp_path / "c")
    out = tmp_path / "out"

    def count_tasks(dask_scheduler=None) -> int:  # runs in the scheduler (pickled by value)
        return sum(str(k).startswith("bidopt-") for k in dask_scheduler.tasks)

    with _started(tmp_path, 0) as c, c.client() as client:
        run = subprocess.Popen([*BIDOPT, "backtest", str(case), "--start", START, "--end", END, "--out", str(out),
                                "--scheduler", c.address, "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while run.poll() is None and time.monotonic() < deadline \
                    and client.run_on_scheduler(count_tasks) < 2:
                time.sleep(0.02)
            os.killpg(c.procs[0].pid, signal.SIGKILL)
            _, stderr = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert run.returncode == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        f"error: --scheduler: the Dask scheduler at '{re.escape(c.address)}' went away during task "
        "'(strategy|perfect_foresight)'; run the command again: it resumes from the checkpoints", lines[0]), stderr
    assert not any((out / f).exists() for f in CONTRACT)


def test_an_unreachable_scheduler_is_exit_2_in_seconds(tmp_path):
    """Through the console script: nothing listens on port 1, and nothing is written."""
    case = small_case(tmp_path / "c")
    t0 = time.monotonic()
    r = _bidopt("backtest", case, "--start", START, "--end", END, "--out", tmp_path / "o", "--fresh",
                "--scheduler", "tcp://127.0.0.1:1", timeout=30)
    seconds = time.monotonic() - t0
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == ["error: --scheduler: cannot reach a Dask scheduler at 'tcp://127.0.0.1:1': "
                                     "Connection refused"]
    assert seconds < 10, f"{seconds:.1f} s"  # the interpreter and imports included (~2 s unloaded)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["backtest", "sweep"])
def test_a_malformed_address_is_exit_2_before_anything_is_read(tmp_path, command):
    from click.testing import CliRunner

    from bidopt.cli import main

    first = [str(tmp_path / "missing.toml")]  # never opened: the address is checked first
    if command == "backtest":
        first += ["--start", START, "--end", END]
    r = CliRunner().invoke(main, [command, *first, "--out", str(tmp_path / "o"), "--scheduler", "not an address",
                                  "--no-progress"])
    assert r.exit_code == 2
    assert r.output.splitlines() == ["error: --scheduler: 'not an address' is not a Dask scheduler address "
                                     "(expected tcp://HOST:PORT)"]
    assert not (tmp_path / "o").exists()
    both = CliRunner().invoke(main, [command, *first, "--out", str(tmp_path / "o"), "--workers", "2",
                                     "--scheduler", "tcp://127.0.0.1:1", "--no-progress"])
    assert both.exit_code == 2
    assert both.output.splitlines() == ["error: --workers: give --workers or --scheduler, not both"]


def _server(reply: bytes | None) -> tuple[socket.socket, str]:
    """A TCP port on 127.0.0.1 that accepts connections and sends ``reply`` (None: nothing)."""
    import threading

    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        conns = []  # kept open: the client sees no EOF, only silence
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conns.append(conn)
            if reply is not None:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return srv, f"tcp://127.0.0.1:{srv.getsockname()[1]}"


def test_addresses_are_checked_before_connecting(monkeypatch):
    from bidopt import cluster
    from bidopt.errors import InputError

    for bad in ("tcp://127.0.0.1", "tcp://127.0.0.1:99999", "tcp://:8786", "foo://127.0.0.1:8786",
                "127.0.0.1:port", "", "x" * 500):
        with pytest.raises(InputError, match="is not a Dask scheduler address") as e:
            cluster.check_address(bad)
        assert len(str(e.value)) < 200
    t0 = time.monotonic()
    with pytest.raises(InputError, match="cannot reach a Dask scheduler at 'tcp://no-such-host.invalid:8786'"):
        cluster.check_address("tcp://no-such-host.invalid:8786")
    assert time.monotonic() - t0 < 5
    # a port that accepts and stays silent (Dask's Client would wait without end): bounded
    monkeypatch.setattr(cluster, "HANDSHAKE_SECONDS", 0.5)
    srv, addr = _server(None)
    with srv, pytest.raises(InputError, match=f"no Dask scheduler answers at '{addr}' .*sent nothing"):
        cluster.check_address(addr)


def test_a_server_that_is_not_dask_is_exit_2():
    """An open port whose server speaks another protocol (here: HTTP) is named as such, through the
    library's entry point too."""
    from bidopt.cluster import run_parallel
    from bidopt.errors import InputError

    srv, addr = _server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    with srv, pytest.raises(InputError) as e:
        run_parallel({"x": (len, "abc")}, scheduler=addr)
    assert str(e.value) == f"--scheduler: the server at '{addr}' is not a Dask scheduler (it speaks another protocol)"
