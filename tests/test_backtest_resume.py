"""Resuming a backtest: a checkpoint is reused only while everything its day depends on is unchanged.

Issue 12: the fingerprint was ``case.model_dump_json()``, which dumps a field typed as the base
``AssetSpec`` as ``{"kind", "name"}`` only, and read no data file. Changing a battery's power or the
prices in the price file and rerunning into the same folder reported the old result.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from bidopt.backtest.chain import case_fingerprint
from bidopt.backtest.engine import BacktestSettings, backtest
from bidopt.bids.dayahead import BiddingSettings
from bidopt.case import case_from_dict
from bidopt.cli import main
from bidopt.data import sources
from bidopt.markets.fcr import FcrRules
from tests.conftest import REPO, battery_case, write_prices

START, END = "2024-03-05", "2024-03-07"
FIRST_UTC = pd.Timestamp("2024-03-04T23:00Z") - pd.Timedelta(days=30)  # 22 days of history + margin
HOURS = 24 * 36


def _prices(scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    return scale * (50 + 30 * np.sin(np.arange(HOURS) * 2 * np.pi / 24) + rng.normal(0, 5, HOURS))


def _case_dict(**battery) -> dict:
    data = battery_case("prices.csv", **battery)
    data["bidding"] = {"n_scenarios": 3, "lookback_days": 14}
    return data


def _case(folder: Path, **battery):
    return case_from_dict(_case_dict(**battery), base_dir=folder)


def _toml(folder: Path, **battery) -> Path:
    """The battery case as a case.toml in ``folder``."""
    bat = {**battery_case()["assets"][0], **battery}
    lines = ['[case]', 'zone = "SE3"', 'mtu_minutes = 60', '[prices]', 'dayahead = "prices.csv"',
             '[grid]', 'import_limit_mw = 2.0', 'export_limit_mw = 2.0', '[bidding]', 'n_scenarios = 3',
             'lookback_days = 14', '[[assets]]', *(f"{k} = {json.dumps(v)}" for k, v in bat.items())]
    (folder / "case.toml").write_text("\n".join(lines) + "\n")
    return folder / "case.toml"


def _same_result(a, b) -> None:
    pd.testing.assert_frame_equal(a.daily, b.daily)
    assert a.summary["objective_eur"] == b.summary["objective_eur"]
    assert a.summary["perfect_foresight_eur"] == b.summary["perfect_foresight_eur"]


@pytest.fixture
def folder(tmp_path) -> Path:
    write_prices(tmp_path / "prices.csv", str(FIRST_UTC), _prices())
    return tmp_path


# --- the reproductions, through the library ---------------------------------------------------


def test_changed_battery_is_recomputed_not_resumed(folder):
    first = backtest(_case(folder), START, END, out_dir=folder / "out")
    assert first.summary["resumed_days"] == 0 and first.summary["computed_days"] == 3
    changed = dict(power_mw=0.5, degradation_eur_per_mwh=5.0)
    rerun = backtest(_case(folder, **changed), START, END, out_dir=folder / "out")
    fresh = backtest(_case(folder, **changed), START, END, out_dir=folder / "fresh")
    _same_result(rerun, fresh)
    assert rerun.summary["objective_eur"] != first.summary["objective_eur"]
    assert rerun.summary["resumed_days"] == 0 and rerun.summary["stale_days"] == 3


def test_changed_price_file_is_recomputed_not_resumed(folder):
    first = backtest(_case(folder), START, END, out_dir=folder / "out")
    write_prices(folder / "prices.csv", str(FIRST_UTC), _prices(3.0))
    rerun = backtest(_case(folder), START, END, out_dir=folder / "out")
    fresh = backtest(_case(folder), START, END, out_dir=folder / "fresh")
    _same_result(rerun, fresh)
    assert rerun.summary["objective_eur"] != first.summary["objective_eur"]
    assert rerun.summary["computed_days"] == 3 and rerun.summary["stale_days"] == 3


# --- the same through the CLI --------------------------------------------------------------------------


def _cli(case: Path, out: Path):
    r = CliRunner().invoke(main, ["backtest", str(case), "--start", START, "--end", END, "--out", str(out),
                                  "--no-progress"])
    assert r.exit_code == 0, r.output
    return r, json.loads((out / "summary.json").read_text())


RESUME_KEYS = ("resumed_days", "computed_days", "stale_days", "resumed_by_chain")


def _without_resume_keys(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in RESUME_KEYS}


def test_cli_changed_battery_is_recomputed_and_says_so(folder):
    case = _toml(folder)
    r, first = _cli(case, folder / "out")
    assert "computed 3 days (no checkpoints to resume in" in r.stderr
    _toml(folder, power_mw=0.5, degradation_eur_per_mwh=5.0)
    r, rerun = _cli(case, folder / "out")
    _, fresh = _cli(case, folder / "fresh")
    assert f"resumed 0 of 3 days from {folder / 'out'}; recomputed 3 (inputs changed)" in r.stderr
    assert _without_resume_keys(rerun) == _without_resume_keys(fresh) != _without_resume_keys(first)
    assert (folder / "out" / "daily.csv").read_bytes() == (folder / "fresh" / "daily.csv").read_bytes()
    r, again = _cli(case, folder / "out")  # nothing changed now
    assert f"resumed 3 of 3 days from {folder / 'out'}" in r.stderr
    assert again["resumed_days"] == 3 and again["computed_days"] == 0
    for f in ("daily.csv", "timeseries.csv", "report.html"):
        assert (folder / "out" / f).read_bytes() == (folder / "fresh" / f).read_bytes(), f


def test_cli_changed_price_file_is_recomputed_and_says_so(folder):
    case = _toml(folder)
    _, first = _cli(case, folder / "out")
    write_prices(folder / "prices.csv", str(FIRST_UTC), _prices(3.0))
    r, rerun = _cli(case, folder / "out")
    _, fresh = _cli(case, folder / "fresh")
    assert "recomputed 3 (inputs changed)" in r.stderr
    assert rerun["objective_eur"] == fresh["objective_eur"] != first["objective_eur"]
    for f in ("daily.csv", "timeseries.csv"):
        assert (folder / "out" / f).read_bytes() == (folder / "fresh" / f).read_bytes(), f


# --- only the days a change reaches are recomputed -----------------------------------------------------


def _hour(ts: str) -> int:
    return int((pd.Timestamp(ts) - FIRST_UTC) / pd.Timedelta(hours=1))


@pytest.mark.parametrize("changed_from, changed_to, resumed", [
    ("2024-03-06T23:00Z", "2024-03-07T23:00Z", 2),  # day 3 of 3: days 1-2 reused
    ("2024-03-05T23:00Z", "2024-03-06T23:00Z", 1),  # day 2: day 1 reused, 2 and 3 (carried state) not
    ("2024-02-04T23:00Z", "2024-02-05T23:00Z", 3),  # before any day's look-back: nothing recomputed
    ("2024-03-08T23:00Z", "2024-03-09T23:00Z", 3),  # after the last day (and its next day)
])
def test_a_price_change_recomputes_the_days_that_read_it_and_later(folder, changed_from, changed_to, resumed):
    backtest(_case(folder), START, END, out_dir=folder / "out")
    p = _prices()
    p[_hour(changed_from):_hour(changed_to)] *= 3.0
    write_prices(folder / "prices.csv", str(FIRST_UTC), p)
    rerun = backtest(_case(folder), START, END, out_dir=folder / "out")
    fresh = backtest(_case(folder), START, END, out_dir=folder / "fresh")
    _same_result(rerun, fresh)
    assert rerun.summary["resumed_days"] == resumed
    assert rerun.summary["stale_days"] == 3 - resumed


def test_a_lost_checkpoint_is_recomputed_and_later_days_still_resume(folder):
    ref = backtest(_case(folder), START, END, out_dir=folder / "out")
    (folder / "out" / ".checkpoints" / "strategy" / "2024-03-06.json").unlink()
    again = backtest(_case(folder), START, END, out_dir=folder / "out")
    _same_result(again, ref)
    # day 2 is computed again from the same inputs, so day 3's checkpoint still holds
    assert again.summary["resumed_days"] == 2 and again.summary["stale_days"] == 0


def test_a_file_read_whole_recomputes_every_day(folder):
    """A file read outside the recorded slices (here the scenario file, read whole) is hashed whole."""
    idx = pd.date_range("2024-03-04T23:00Z", periods=24 * 3, freq="h")
    rows = [{"timestamp_utc": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "scenario": s,
             "price_eur_per_mwh": 40.0 + 10 * s} for s in range(2) for t in idx]
    pd.DataFrame(rows).to_csv(folder / "scen.csv", index=False)
    data = _case_dict()
    data["bidding"]["scenarios"] = "scen.csv"
    backtest(case_from_dict(data, base_dir=folder), START, END, out_dir=folder / "out")
    saved = json.loads((folder / "out" / ".checkpoints" / "strategy" / f"{START}.json").read_text())
    assert str((folder / "scen.csv").resolve()) in saved["files"]
    assert saved["sliced_files"] == [str((folder / "prices.csv").resolve())]
    pd.DataFrame(rows).assign(price_eur_per_mwh=lambda d: d.price_eur_per_mwh + 1).to_csv(folder / "scen.csv",
                                                                                       index=False)
    rerun = backtest(case_from_dict(data, base_dir=folder), START, END, out_dir=folder / "out")
    assert rerun.summary["resumed_days"] == 0 and rerun.summary["stale_days"] == 3


# --- the fingerprint: every field of every table ------------------------------------------------------


def _perturb(v):
    """A different value of the same shape (JSON-level), to change one field."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float):
        return v + 0.25 if isinstance(v, float) else v + 1
    if isinstance(v, str):
        return v + "x"
    if v is None:
        return 1.0
    if isinstance(v, list):
        return v[:-1] if v else [1]
    if isinstance(v, dict):
        if not v:
            return {"x": 1}
        k = next(iter(v))
        return {**v, k: _perturb(v[k])}
    raise TypeError(type(v))


def _full_case():
    templates = sorted(glob.glob(str(REPO / "models" / "assets" / "*.toml")))
    assets = [{"name": f"a{i}", "template": f} for i, f in enumerate(templates)]
    assets.append({"kind": "load", "name": "building", "profile": "synthetic", "peak_mw": 0.6})
    tariffs = [{"template": f} for f in sorted(glob.glob(str(REPO / "models/tariffs/*.toml")))]
    return case_from_dict({
        "prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1.0, "export_limit_mw": 1.0},
        "assets": assets, "tariffs": tariffs,
        "markets": {"fcr": FcrRules().model_dump(mode="json")},
        "bidding": BiddingSettings().model_dump(mode="json"),
        "backtest": BacktestSettings().model_dump(mode="json"),
    })


def _fields() -> list[tuple[str, int | str, str]]:
    case = _full_case()
    out = [("assets", i, f) for i, a in enumerate(case.assets) for f in type(a).model_fields]
    out += [("tariffs", i, f) for i, t in enumerate(case.tariffs) for f in type(t).model_fields]
    out += [("markets", "fcr", f) for f in FcrRules.model_fields]
    out += [("bidding", "", f) for f in BiddingSettings.model_fields]
    out += [("backtest", "", f) for f in BacktestSettings.model_fields]
    return out


def _fp(case) -> str:
    return case_fingerprint(case, "strategy", "bid", dt.date(2024, 3, 5))


@pytest.mark.parametrize("table, which, field", _fields(), ids=lambda x: str(x))
def test_every_field_of_every_table_changes_the_fingerprint(table, which, field):
    case = _full_case()
    before = _fp(case)
    if table in ("assets", "tariffs"):
        items = getattr(case, table)
        item: BaseModel = items[which]
        value = _perturb(item.model_dump(mode="json", serialize_as_any=True)[field])
        items[which] = item.model_copy(update={field: value})  # unvalidated: the dump is what counts
    elif table == "markets":
        t = case.markets[which]
        if isinstance(t, dict):
            t[field] = _perturb(t[field])
        else:  # a registered table: its model (bidopt.case_tables)
            case.markets[which] = t.model_copy(update={field: _perturb(t.model_dump(mode="json")[field])})
    else:  # [bidding], [backtest]: typed tables, changed unvalidated (the dump is what counts)
        t = getattr(case, table)
        setattr(case, table, t.model_copy(update={field: _perturb(t.model_dump(mode="json")[field])}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns when it serialises an unvalidated value
        assert _fp(case) != before


def test_seed_template_and_period_change_the_fingerprint(tmp_path):
    template = tmp_path / "bat.toml"
    shutil.copy(REPO / "models" / "assets" / "battery_1mw_2mwh.toml", template)
    data = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1},
            "assets": [{"name": "bess", "template": str(template)}]}
    base = _fp(case_from_dict(data))
    assert _fp(case_from_dict({**data, "synthetic": {"seed": 1}})) != base
    template.write_text(template.read_text().replace("power_mw = 1.0", "power_mw = 0.8"))
    assert _fp(case_from_dict(data)) != base  # a template's keys are the asset's fields
    case = case_from_dict(data)
    assert case_fingerprint(case, "strategy", "bid", dt.date(2024, 3, 6)) != _fp(case)
    assert case_fingerprint(case, "strategy", "expected", dt.date(2024, 3, 5)) != _fp(case)


def test_data_files_are_found_in_any_field(tmp_path):
    for name in ("prices.csv", "sessions.csv", "imb.csv", "scen.csv", "other.csv"):
        (tmp_path / name).write_text("x\n")
    data = battery_case("prices.csv")
    data["assets"].append({"name": "garage", "template": str(REPO / "models/assets/ev_garage.toml"),
                           "sessions_file": "sessions.csv"})
    data["markets"] = {"imbalance": {"prices": "imb.csv"}, "future_market": {"deep": [{"file": "other.csv"}]}}
    data["bidding"] = {"scenarios": str(tmp_path / "scen.csv")}
    case = case_from_dict(data, base_dir=tmp_path)
    found = sources.data_files(case)
    assert found == sorted(str((tmp_path / n).resolve())
                           for n in ("prices.csv", "sessions.csv", "imb.csv", "scen.csv", "other.csv"))


# --- the read log: recorded slices, replay and reads outside them --------------------------------------


def test_recorded_slices_replay_until_the_values_they_read_change(tmp_path):
    write_prices(tmp_path / "p.csv", "2024-03-01T00:00Z", np.arange(96.0))
    case = case_from_dict(battery_case("p.csv"), base_dir=tmp_path)
    day1 = pd.date_range("2024-03-01T00:00Z", periods=24, freq="h")
    with sources.recording() as log:
        sources.dayahead_prices(case, day1)
        sources.dayahead_prices(case, day1)  # the same read once
    records = log.records()
    assert len(records) == 1 and log.files() == {str((tmp_path / "p.csv").resolve())}
    assert sources.replay(records)
    p = np.arange(96.0)
    p[50] = -1.0  # day 3: not read
    write_prices(tmp_path / "p.csv", "2024-03-01T00:00Z", p)
    sources.file_digest(tmp_path / "p.csv")
    assert sources.replay(records)
    p[5] = -1.0
    write_prices(tmp_path / "p.csv", "2024-03-01T00:00Z", p)
    sources.file_digest(tmp_path / "p.csv")
    assert not sources.replay(records)
    (tmp_path / "p.csv").unlink()
    assert not sources.replay(records)


def test_a_file_opened_outside_the_recorded_readers_is_noticed(tmp_path):
    f = tmp_path / "whole.csv"
    f.write_text("a\n1\n")
    assert not sources.read_unrecorded(f)  # writing is not reading
    sources.file_digest(f)
    assert not sources.read_unrecorded(f)
    pd.read_csv(f)
    assert sources.read_unrecorded(f)
