"""Dask: running named tasks in parallel (``run_parallel``) and connecting to an existing cluster
(``--scheduler ADDRESS``), failing fast and on one line.

``run_parallel`` runs named tasks (a function and its arguments, e.g. the strategy and the
perfect-foresight chain of one backtest, or the jobs of a sweep) on a local cluster of ``workers``
single-threaded processes, or on an existing cluster at ``scheduler``; results come back by name,
so the outcome does not depend on which task finished first.

``check_address`` runs before anything is read or written: an address that is not
``scheme://HOST:PORT`` (schemes Dask knows: tcp, tls, ws, wss, ucx, inproc), a host that does not
resolve, a port that refuses or does not accept a TCP connection within ``CONNECT_SECONDS``, or (for
``tcp://``) a server that does not start Dask's handshake within ``HANDSHAKE_SECONDS`` is an
``InputError`` (exit 2) naming the address. Dask's own ``Client`` would retry a refused port for its
whole timeout and waits without end on a server that accepts but never answers.

The handshake check reads the first 8 bytes a Dask TCP listener sends on accepting a connection:
the little-endian length of its handshake message (tens of bytes; ``distributed.comm.tcp``).
Times in seconds.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from bidopt.errors import InputError

CONNECT_SECONDS = 3  # the scheduler's port must accept a TCP connection within this
HANDSHAKE_SECONDS = 5  # ... and a tcp:// scheduler send the start of its handshake within this
CLIENT_SECONDS = 10  # Dask's Client: connect and register
_MAX_HANDSHAKE = 1 << 20  # a first message longer than this is not a Dask handshake


def _excerpt(text: str) -> str:
    """A short printable quote of a command-line value, for a one-line error."""
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def _error(scheduler: str, what: str) -> InputError:
    return InputError(None, "--scheduler", what.replace("{where}", _excerpt(scheduler)))


def check_address(scheduler: str) -> None:
    """``InputError`` unless a Dask scheduler can be at ``scheduler`` (see the module docstring)."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    bad = _error(scheduler, "{where} is not a Dask scheduler address (expected tcp://HOST:PORT)")
    try:
        scheme, loc = parse_address(scheduler, strict=False)
        if scheme == "inproc":
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError):
        raise bad from None
    if scheme not in backends or not host or not 0 < port < 65536:
        raise bad
    if scheme == "ucx":
        return
    try:
        conn = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except (OSError, UnicodeError) as e:
        why = " ".join(str(getattr(e, "strerror", None) or e or type(e).__name__).split())
        raise _error(scheduler, f"cannot reach a Dask scheduler at {{where}}: {why}") from None
    with conn:
        if scheme != "tcp":  # tls, ws, wss: the client speaks first
            return
        conn.settimeout(HANDSHAKE_SECONDS)
        head = b""
        try:
            while len(head) < 8 and (chunk := conn.recv(8 - len(head))):
                head += chunk
        except OSError:
            pass
    if len(head) < 8:
        raise _error(scheduler, f"no Dask scheduler answers at {{where}} (the server there sent "
                                f"{'nothing' if not head else 'too little'} in {HANDSHAKE_SECONDS} s)")
    if not 0 < int.from_bytes(head, "little") < _MAX_HANDSHAKE:
        raise _error(scheduler, "the server at {where} is not a Dask scheduler (it speaks another protocol)")


def connect(scheduler: str):
    """A ``distributed.Client`` on the scheduler at ``scheduler``, after ``check_address``."""
    from distributed import Client

    check_address(scheduler)
    try:
        return Client(scheduler, timeout=f"{CLIENT_SECONDS}s")
    except OSError as e:  # includes the Client's TimeoutError
        why = " ".join(str(e).split()) or type(e).__name__
        raise _error(scheduler, f"no Dask scheduler answered at {{where}}: {why}") from None
    except Exception as e:  # a reply that is not Dask's decodes to anything (MemoryError, ...)
        raise _error(scheduler, f"the server at {{where}} is not a Dask scheduler ({type(e).__name__})") from None


def lost(scheduler: str | None, task: str, e: Exception) -> InputError:
    """The one-line error for a task Dask gave up on: its scheduler connection was lost
    (``FutureCancelledError``), or it lost more workers than ``distributed.scheduler.allowed-failures``
    (``KilledWorker``). The days finished so far stay checkpointed: a rerun resumes from them."""
    from distributed import KilledWorker

    field = "--scheduler" if scheduler else "--workers"
    where = f"the Dask scheduler at {_excerpt(scheduler)}" if scheduler else "the local Dask cluster"
    if isinstance(e, KilledWorker):
        why = (f"task {task!r} was running on every worker that died, "
               "more often than distributed.scheduler.allowed-failures allows")
    else:
        why = f"{where} went away during task {task!r}"
    return InputError(None, field, f"{why}; run the command again: it resumes from the checkpoints")


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Keep the Dask client's log lines (a lost connection's tracebacks, reconnect attempts) off
    stderr while bidopt's own one-line error says what happened: a filter on the handlers of the
    ``distributed`` logger, which its child loggers propagate to."""
    handlers = list(logging.getLogger("distributed").handlers)

    def drop(_record) -> bool:
        return False

    for h in handlers:
        h.addFilter(drop)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(drop)


def _client(workers: int, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return connect(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_parallel(tasks: dict[str, tuple], workers: int = 2, scheduler: str | None = None,
                 progress: bool = False) -> dict:
    """{name: fn(*args)} for ``tasks`` = {name: (fn, *args)}, computed on Dask workers. A task Dask
    gives up on (scheduler lost, too many of its workers died) is an ``InputError`` (``cluster.lost``)."""
    with quiet_logs():
        return _run(tasks, workers, scheduler, progress)


def _run(tasks, workers, scheduler, progress) -> dict:
    from concurrent.futures import CancelledError

    from dask.distributed import KilledWorker, as_completed

    client, cluster = _client(workers, scheduler)
    try:
        futures = {client.submit(t[0], *t[1:], key=f"bidopt-{name}-{id(tasks)}", pure=False): name
                   for name, t in tasks.items()}
        results = {}
        bar = _bar(progress, len(futures))
        for fut in as_completed(list(futures)):
            try:
                results[futures[fut]] = fut.result()  # re-raises a task's error (InputError keeps its exit code)
            except (CancelledError, KilledWorker) as e:
                raise lost(scheduler, futures[fut], e) from None
            if bar:
                bar[0].advance(bar[1])
        if bar:
            bar[0].stop()
        return {name: results[name] for name in tasks}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _bar(progress: bool, total: int):
    if not progress:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("tasks"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    p.start()
    return p, p.add_task("tasks", total=total)
