"""Writing result files: every file under ``--out``, published as one set, one writer at a time.

**Publishing** (``write_all``): the files of a command are written into a hidden staging folder
``DIR/.bidopt-XXXX/``, given one mode (``FILE_MODE`` less the umask: 0644 with the usual umask),
then a marker ``DIR/.bidopt.publish`` (JSON: the staging folder and the file names) is written by
an atomic rename, the files are moved into ``DIR`` one by one, and the marker is removed. A reader
that finds no marker sees a complete set (all new files, or all old ones); a run killed while the
marker exists is completed by the next bidopt run on ``DIR`` (``recover``: the remaining staged files
are moved in, the marker removed), which also deletes leftover staging folders and checkpoint
fragments (``<day>.tmp<pid>``). A writer that fails before the marker leaves nothing new in ``DIR``.

**Lock** (``locked``): one bidopt run writes into a folder at a time. The lock is ``fcntl.flock`` on
``DIR/.bidopt.lock``, which holds ``pid N on HOST since TIME`` of the holder; a second writer gets an
``InputError`` (exit 2) naming the holder. The kernel drops the lock when its process dies, so a
killed run never leaves a stale lock; the file is removed when the run ends.

**Paths** (``child``, ``slug``): a name that becomes a path (a sweep job's folder from ``[case]
name``) is slugged to ``[A-Za-z0-9._-]`` and resolved under ``DIR``; a path that would leave ``DIR``
(``..``, absolute, a symlink pointing out) is refused.

**Environment errors**: a ``--out`` that is a file, lies under a file, is read-only or whose disk is
full (any ``OSError`` while writing) is an ``InputError`` naming the folder: one line, exit 2.

Numbers in CSV files are clean (``clean_numbers``, the one place every CSV writer goes through):
floats rounded to 6 decimals (1 W, 1 Wh, 1e-6 EUR), so solver noise and binary fractions do not
show (``0.30000000000000004`` is written ``0.3``, a 0.1 MW lot times 3 is ``0.3``), and no negative
zero (``-0.0`` and ``-0.000000`` become ``0``). Schedules keep six fixed decimals per value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import math
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from bidopt.errors import InputError

DECIMALS = 6  # in MW, MWh and EUR: 1 W, 1 Wh, 1e-6 EUR


def _clean_value(v, decimals: int):
    if isinstance(v, float) and not isinstance(v, bool):  # np.float64 too
        return round(v, decimals) + 0.0 if math.isfinite(v) else v
    return v


def clean_numbers(df: pd.DataFrame, decimals: int = DECIMALS) -> pd.DataFrame:
    """A copy of ``df`` whose floats (float columns, and floats inside object columns) are rounded
    to ``decimals`` and have no negative zero. Other columns are left as they are."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_float_dtype(col):
            out[c] = col.round(decimals) + 0.0  # -0.0 + 0.0 == +0.0
        elif col.dtype == object:
            out[c] = col.map(lambda v: _clean_value(v, decimals))
    return out


def table_csv(df: pd.DataFrame, path: Path, **kwargs) -> None:
    """``df`` as CSV without its index (unless ``index=True``), with clean numbers."""
    kwargs.setdefault("index", False)
    clean_numbers(df).to_csv(path, lineterminator="\n", **kwargs)


def schedule_csv(df: pd.DataFrame, path: Path) -> None:
    """A schedule (or a backtest's time series): ``timestamp_utc`` then one column per series, six
    fixed decimals, no negative zero."""
    out = clean_numbers(df)
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "timestamp_utc"
    out.to_csv(path, float_format="%.6f")


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _is_timing(key) -> bool:
    return key == "seconds" or str(key).endswith("_seconds")


def _timings(obj, prefix: str = "") -> list[tuple[str, float]]:
    """(dotted key, value) of every wall-clock time (``seconds``, ``*_seconds``) in a summary."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            where = f"{prefix}.{k}" if prefix else str(k)
            if _is_timing(k) and isinstance(v, int | float) and not isinstance(v, bool):
                out.append((where, float(v)))
            else:
                out += _timings(v, where)
    return out


def _untimed(obj):
    if isinstance(obj, dict):
        return {k: (None if _is_timing(k) and isinstance(v, int | float) else _untimed(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_untimed(v) for v in obj]
    return obj


def summary_json(summary: dict, path: Path) -> None:
    """``summary`` as JSON, with every wall-clock time (``solver.seconds``...) written ``null``: the
    file is byte-identical across reruns; the times go to ``timing.csv`` (``timing_csv``)."""
    path.write_text(json.dumps(_clean(_untimed(summary)), indent=2, sort_keys=False) + "\n")


def timing_csv(summary: dict, path: Path) -> None:
    """The wall-clock times ``summary_json`` leaves out: ``what,seconds`` (e.g. ``solver.seconds,0.245``)."""
    rows = _timings(summary)
    pd.DataFrame(rows, columns=["what", "seconds"]).to_csv(path, index=False, lineterminator="\n",
                                                            float_format="%.4f")


FILE_MODE = 0o666  # less the umask: every published file gets the same mode (0644 with umask 022)
LOCK_NAME = ".bidopt.lock"
MARKER_NAME = ".bidopt.publish"
STAGING_PREFIX = ".bidopt-"


def file_mode() -> int:
    """``FILE_MODE`` less the process umask (from /proc where Linux shows it, else read by setting
    and restoring it)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        with _held_guard:
            mask = os.umask(0o022)
            os.umask(mask)
    return FILE_MODE & ~mask


def folder_error(folder, e: OSError) -> InputError:
    """An ``OSError`` met while writing under ``folder`` as one line naming the folder (exit 2)."""
    why = e.strerror or type(e).__name__
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        why += " (disk full)"
    elif e.errno == errno.EROFS:
        why += " (read-only file system)"
    return InputError(folder, None, f"cannot write the output folder: {why}")


def prepare(out_dir) -> Path:
    """``out_dir`` created if missing (with its parents); an ``InputError`` naming it when it is a
    file, lies under a file or cannot be created."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, None, "output folder: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise folder_error(out_dir, e) from None
    return out_dir


_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str, limit: int = 80) -> str:
    """``name`` as one safe path component: runs of other characters than ``A-Za-z0-9._-`` become
    ``_``, no leading dot (no hidden names, no ``..``), at most ``limit`` characters, never empty."""
    s = re.sub(r"\.{2,}", "_", _SLUG_BAD.sub("_", str(name)))
    s = re.sub(r"_{2,}", "_", s).lstrip(".")[:limit].rstrip(".")
    return s or "_"


def child(out_dir, name: str | Path, what: str = "name") -> Path:
    """``out_dir / name``, refused (``InputError`` naming ``what``) unless it stays inside ``out_dir``
    once resolved (``..``, absolute paths and symlinks pointing out are refused)."""
    base = Path(out_dir).resolve()
    target = (base / name).resolve()
    if Path(name).is_absolute() or target == base or not target.is_relative_to(base):
        raise InputError(None, what, f"{str(name)[:60]!r} would be written outside the output folder {out_dir}")
    return target


# --- the lock -----------------------------------------------------------------------------------------

_held: dict[str, list] = {}  # resolved folder -> [fd, depth]: this process's locks (re-entrant)
_held_guard = threading.RLock()


def _holder(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        text = ""
    return text[:120] if text else "holder unknown"


def _acquire(out_dir: Path) -> int:
    path = out_dir / LOCK_NAME
    import fcntl

    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(out_dir, None, f"another bidopt run is writing to this folder ({_holder(path)}); "
                                            "wait for it to end or choose another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its previous holder removed after we opened it
            os.ftruncate(fd, 0)
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {now}\n".encode())
            return fd
        os.close(fd)
    raise InputError(out_dir, None, "could not take the output folder's lock")  # pragma: no cover


@contextlib.contextmanager
def locked(out_dir) -> Iterator[Path]:
    """Hold ``out_dir``'s lock (creating the folder if needed) and complete or clean what an earlier
    run left (``recover``). Re-entrant within a process. A folder this call created is removed
    again if the block fails and leaves it empty."""
    out_dir = Path(out_dir)
    key = str(out_dir.resolve())
    with _held_guard:
        mine = key in _held
        if mine:
            _held[key][1] += 1
    if mine:
        try:
            yield out_dir
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    with _held_guard:
        created = not out_dir.exists()
        prepare(out_dir)
        try:
            fd = _acquire(out_dir)
        except OSError as e:
            raise folder_error(out_dir, e) from None
        _held[key] = [fd, 1]
    failed = False
    try:
        try:
            recover(out_dir)
        except OSError as e:
            raise folder_error(out_dir, e) from None
        yield out_dir
    except BaseException:
        failed = True
        raise
    finally:
        with _held_guard:
            _held.pop(key, None)
            with contextlib.suppress(OSError):
                (out_dir / LOCK_NAME).unlink()  # before unlocking: a waiter re-checks the inode
            os.close(fd)
            if failed and created:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()  # only if empty


# --- recovery -----------------------------------------------------------------------------------------


def recover(out_dir) -> list[str]:
    """Complete a publish a killed run left (the marker's remaining staged files are moved in), then
    delete leftover staging folders and fragments: ``.bidopt-*/``, ``.report-*.tmp``, ``.<file>.*``
    of ``export``'s writers, ``.checkpoints/*/*.tmp*``. Call it holding the lock. Returns what it did."""
    out_dir = Path(out_dir)
    done = []
    marker = out_dir / MARKER_NAME
    if marker.exists():
        try:
            info = json.loads(marker.read_text())
            if not re.fullmatch(r"\.bidopt-[\w]+", info["staging"]):
                raise ValueError(info["staging"])
            staging = out_dir / info["staging"]
            names = [n for n in info["files"] if n == slug(n)]
        except (OSError, ValueError, KeyError, TypeError):
            staging, names = None, []
        for name in names:
            src = staging / name if staging is not None else None
            if src is not None and src.is_file():
                os.replace(src, out_dir / name)
                done.append(f"published {name}")
        marker.unlink()
    for p in out_dir.iterdir():
        if p.name.startswith(STAGING_PREFIX) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p.name}/")
        elif p.is_file() and (re.fullmatch(r"\.report-.*\.tmp|\.bidopt\.tmp\d+", p.name) or re.fullmatch(r"\.[\w.-]+\.[\w]{8}", p.name)
                              and p.name[1:].rsplit(".", 1)[0] in _KNOWN_FILES):
            p.unlink(missing_ok=True)
            done.append(f"removed {p.name}")
    ckpt = out_dir / ".checkpoints"
    if ckpt.is_dir():
        for p in ckpt.glob("*/*.tmp*"):
            p.unlink(missing_ok=True)
            done.append(f"removed {p.relative_to(out_dir)}")
    return done


_KNOWN_FILES = {"dayahead_orders.json", "intraday_orders.json", "fcr_bids.csv", "intraday_orders.csv"}


def write_text_atomic(path: Path, text: str, folder=None) -> None:
    """``path`` written through ``<name>.tmp<pid>`` and an atomic rename; an ``OSError`` is an
    ``InputError`` naming ``folder`` (default: the file's folder) and leaves no fragment."""
    path = Path(path)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise folder_error(folder or path.parent, e) from None
        raise


# --- publishing ---------------------------------------------------------------------------------------


def write_all(out_dir: Path, writers: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Run each writer on a path in a staging folder, then publish them all into ``out_dir`` as one
    set under its lock (module docstring). Writers run in order and may read the files written
    before them from the staging folder. Returns the published paths."""
    out_dir = Path(out_dir)
    for name in writers:
        if name != slug(name):
            raise ValueError(f"not a plain file name: {name!r}")
    with locked(out_dir):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        except OSError as e:
            raise folder_error(out_dir, e) from None
        try:
            mode = file_mode()
            for name, write in writers.items():
                write(tmp / name)
                os.chmod(tmp / name, mode)
            write_text_atomic(out_dir / MARKER_NAME, json.dumps({"staging": tmp.name, "files": list(writers)}),
                              folder=out_dir)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, OSError):
                raise folder_error(out_dir, e) from None
            raise
        try:
            for name in writers:
                os.replace(tmp / name, out_dir / name)
            (out_dir / MARKER_NAME).unlink()
            shutil.rmtree(tmp, ignore_errors=True)
        except OSError as e:  # the marker and staged files stay: the next run completes the set
            raise folder_error(out_dir, e) from None
        return [out_dir / name for name in writers]
