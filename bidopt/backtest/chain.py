"""One chain of a backtest: its delivery days in order, with state carried and each day checkpointed.

A chain is the strategy, the perfect-foresight benchmark or the baseline (``bidopt.backtest.engine``
runs two or three over the same days). Each finished day is written as a checkpoint
(``DIR/.checkpoints/<chain>/<day>.json``: the day's record, its per-MTU series, the state after it
and what it was computed from) by an atomic rename. A run reuses a checkpoint only while the day's
inputs are unchanged (``_Inputs``): every field of the case, the content of every data file the case
names (for a file the day read only through the recorded slices of ``bidopt.data.sources``: the
values of those slices) and the previous day's fingerprint, which each day's fingerprint includes.
Floats go through JSON unchanged, so a resumed run writes byte-identical files.
Money EUR (positive = earned), energy MWh, power MW.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from bidopt import output
from bidopt import time as btime
from bidopt.backtest.state import EMPTY
from bidopt.case import Case
from bidopt.case_tables import BacktestSettings
from bidopt.data import sources
from bidopt.errors import InputError


def intraday_on(case) -> bool:
    mode = settings(case).intraday
    return mode == "on" or (mode == "auto" and case.prices.intraday is not None)


def settings(case) -> BacktestSettings:
    try:
        return BacktestSettings.model_validate(getattr(case, "backtest", None) or {})
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(case.label, "backtest." + ".".join(map(str, err["loc"])), err["msg"]) from None


CHECKPOINT_FORMAT = 2  # the layout of a checkpoint file; another value is never resumed


def case_fingerprint(case: Case, chain: str, strategy: str, start: dt.date) -> str:
    """The root of a chain's fingerprints: every field of the case (each asset and tariff dumped as
    its own kind, ``[markets]``, ``[bidding]``, ``[backtest]``, ``[synthetic]`` seed...), the bundled
    defaults files, the bidopt version, the chain, the strategy and the start day."""
    import bidopt
    from bidopt.case import DEFAULTS_DIR

    head = f"bidopt {bidopt.__version__} checkpoint {CHECKPOINT_FORMAT}|{chain}|{strategy}|{start}|"
    h = hashlib.sha256(head.encode())
    h.update(case.model_dump_json(serialize_as_any=True).encode())
    for f in sorted(DEFAULTS_DIR.rglob("*")):
        if f.is_file():
            h.update(f"|{f.relative_to(DEFAULTS_DIR)}={sources.file_digest(f)}".encode())
    return h.hexdigest()[:32]


def _day_fingerprint(previous: str, root: str, day: str, files: dict[str, str], reads: list[dict]) -> str:
    """A day's fingerprint: the previous day's (the state it starts from), the case's, the digests
    of the data files hashed whole and the slices the day read."""
    text = json.dumps([previous, root, day, sorted(files.items()), reads], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class _Inputs:
    """What a chain's days are checked against: the case's fingerprint and its data files' digests."""

    root: str
    files: dict[str, str]  # real path -> digest, every file the case names

    @classmethod
    def of(cls, case: Case, chain: str, strategy: str, start: dt.date) -> _Inputs:
        return cls(case_fingerprint(case, chain, strategy, start),
                   {f: sources.file_digest(f) for f in sources.data_files(case)})

    def reusable(self, saved: dict, previous: str) -> bool:
        """Whether a checkpoint holds what this run would compute: same case and previous day, the
        same content of every file hashed whole, and every recorded slice reads the same values now."""
        try:
            if saved.get("format") != CHECKPOINT_FORMAT or saved["root"] != self.root \
                    or saved["previous"] != previous:
                return False
            whole, sliced = saved["files"], set(saved["sliced_files"])
            if set(self.files) != set(whole) | sliced or any(self.files[f] != d for f, d in whole.items()):
                return False
            if saved["fingerprint"] != _day_fingerprint(previous, self.root, saved["day"], whole,
                                                        saved["reads"]):
                return False
            return sources.replay(saved["reads"])
        except (KeyError, TypeError, AttributeError):
            return False

    def fingerprint(self, previous: str, day: str, log: sources.ReadLog) -> dict:
        """The checkpoint fields of a day just computed with the reads in ``log``. A case file whose
        every read went through recorded slices is left out of the whole-file digests: a change
        outside the slices a day read does not touch that day."""
        sliced = sorted(f for f in log.files() if f in self.files and not sources.read_unrecorded(f))
        whole = {f: d for f, d in self.files.items() if f not in sliced}
        reads = log.records()
        return {"format": CHECKPOINT_FORMAT, "root": self.root, "previous": previous, "files": whole,
                "sliced_files": sliced, "reads": reads,
                "fingerprint": _day_fingerprint(previous, self.root, day, whole, reads)}


def _ts_to_json(ts: pd.DataFrame) -> dict:
    return {"index": list(ts.index.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "columns": {c: [float(v) for v in ts[c].to_numpy(float)] for c in ts.columns}}


def _ts_from_json(d: dict) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(d["index"], utc=True), name="timestamp_utc")
    return pd.DataFrame(d["columns"], index=idx)


def _write_json_atomic(path: Path, obj) -> None:
    """A checkpoint through ``<day>.tmp<pid>`` and a rename; a write error names the output folder."""
    output.write_text_atomic(path, json.dumps(obj), folder=path.parent.parent.parent)


def run_chain(case: Case, chain: str, days: list[dt.date], strategy: str, ckpt_dir: Path | None,
              progress=None, run_id: str | None = None) -> list[dict]:
    """Run one chain over ``days``; returns per day {"day", "record", "timeseries", "warnings", "seconds",
    "resumed", "stale"}. ``strategy`` is the run's strategy (it sets each day's MTU for every
    chain); the ``baseline`` chain runs ``[backtest] baseline``.

    With ``ckpt_dir`` each day is checkpointed, and a day whose checkpoint still holds (``_Inputs.
    reusable``: same case, same previous day, same data it read) is loaded instead of recomputed;
    the state comes from the last loaded day. ``resumed``: loaded; ``stale``: recomputed although a
    checkpoint existed (its inputs changed). ``run_id``: the run this chain belongs to; a checkpoint
    that a lost earlier attempt of the same run wrote (a Dask task rerun after its worker died) is
    loaded but counts as computed, as it would have in an uninterrupted run."""
    folder = None
    if ckpt_dir is not None:
        folder = Path(ckpt_dir) / chain
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise output.folder_error(Path(ckpt_dir).parent, e) from None
    # synthetic series generated once for the chain's days and the bid strategy's price history
    history = dt.timedelta(days=PRICE_HISTORY_DAYS)
    with sources.preloaded(case, btime.horizon_index(days[0] - history, days[-1], case.case.mtu_minutes,
                                                     case.case.timezone)):
        inputs = _Inputs.of(case, chain, strategy, days[0]) if folder is not None else None
        return _run_days(case, chain, days, strategy, folder, inputs, progress, run_id)


PRICE_HISTORY_DAYS = 64  # the bid strategy's default look-back (56 days) plus its margin (8)


_ITEM = ("day", "record", "warnings", "seconds", "state")  # a day's result as the chain returns it


def _load_checkpoint(path: Path | None) -> dict | None:
    if path is None or not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def _run_days(case: Case, chain: str, days: list[dt.date], strategy: str, folder: Path | None,
              inputs: _Inputs | None, progress, run_id: str | None = None) -> list[dict]:
    from bidopt.backtest.day import day_mtu, run_day
    from bidopt.replan import Replanner

    state, out = EMPTY, []
    previous = inputs.root if inputs is not None else ""
    replanner = Replanner()  # this chain's built models, refreshed day by day
    runs = {"strategy": strategy, "perfect_foresight": "perfect_foresight", "baseline": settings(case).baseline}[chain]
    for i, day in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else day + dt.timedelta(days=1)
        path = folder / f"{day}.json" if folder else None
        saved = _load_checkpoint(path)
        if saved is not None and inputs.reusable({**saved, "day": str(day)}, previous):
            state, previous = saved["state"], saved["fingerprint"]
            this_run = run_id is not None and saved.get("run") == run_id  # written by a lost attempt
            out.append({**{k: saved[k] for k in _ITEM}, "timeseries": _ts_from_json(saved["timeseries"]),
                        "resumed": not this_run, "stale": this_run and bool(saved.get("run_stale"))})
            if progress:
                progress(chain)
            continue
        mtu = day_mtu(case, day, strategy)  # every chain: the MTU the strategy bids that day
        with sources.recording() as log:
            o = run_day(case, day, state, runs, next_day=nxt, trade_intraday=intraday_on(case), mtu_minutes=mtu,
                        replanner=replanner)
        state = o.state
        item = {"day": str(day), "record": o.record, "warnings": o.warnings, "seconds": o.seconds, "state": state}
        if path is not None:
            fp = inputs.fingerprint(previous, str(day), log)
            previous = fp["fingerprint"]
            # "submitted": the curves sent to the exchange, for the report (not part of a resumed item)
            _write_json_atomic(path, {**item, **fp, "timeseries": _ts_to_json(o.timeseries),
                                      "run": run_id, "run_stale": saved is not None,
                                      **({"submitted": o.submitted} if o.submitted is not None else {})})
        out.append({**item, "timeseries": o.timeseries, "resumed": False, "stale": saved is not None})
        if progress:
            progress(chain)
    return out
