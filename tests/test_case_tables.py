"""The case's ``[bidding]``, ``[backtest]`` and ``[markets.*]`` tables and the sweep file are typed
models validated when they are read (issue 15, item 4): a bad value is exit 2 with one line naming
the file and the field, before any work starts."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

import bidopt
from bidopt.case_tables import BacktestSettings, BiddingSettings, BlockCandidate, market_tables
from bidopt.cli import main
from bidopt.errors import InputError

CASE = """
[case]
name = "t"
[prices]
dayahead = "synthetic"
[grid]
import_limit_mw = 1.0
export_limit_mw = 1.0
[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
soc_initial_mwh = 1.0
"""


def _run(tmp_path, args, extra: str = "", sweep: str | None = None):
    (tmp_path / "case.toml").write_text(CASE + extra)
    if sweep is not None:
        (tmp_path / "sweep.toml").write_text(sweep)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _one_line(r, file: str, field: str):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert lines[0].startswith("error: ") and file in lines[0] and field in lines[0], lines[0]


@pytest.mark.parametrize("extra, field", [
    ("[bidding]\nn_scenarios = 0\n", "bidding.n_scenarios"),
    ("[bidding]\nforecaster = \"crystal_ball\"\n", "bidding.forecaster"),
    ("[bidding]\nmax_buy_price_eur_per_mwh = 5000.0\n", "bidding.max_buy_price_eur_per_mwh"),
    ("[bidding]\nn_scenarioz = 4\n", "bidding.n_scenarioz"),  # a typo is no silent default
    ("[[bidding.blocks]]\nname = \"b\"\nside = \"up\"\nmax_volume_mw = 1.0\nmtus = [1]\n", "bidding.blocks.0.side"),
    ("[backtest]\nstrategy = \"magic\"\n", "backtest.strategy"),
    ("[backtest]\nintraday = 1\n", "backtest.intraday"),
    ("[backtest]\nreport_weeks = \"2024-03-04\"\n", "backtest.report_weeks"),
    ("[backtest]\nreport_week = \"soon\"\n", "backtest.report_week"),
])
@pytest.mark.parametrize("command", ["plan", "bid"])
def test_a_bad_value_in_a_table_is_named_when_the_case_loads(tmp_path, extra, field, command):
    r = _run(tmp_path, [command, str(tmp_path / "case.toml"), "--day", "2024-03-14", "--out", str(tmp_path / "o")],
             extra)
    _one_line(r, "case.toml", field)
    assert not (tmp_path / "o").exists()


def test_a_bad_market_table_is_named(tmp_path):
    r = _run(tmp_path, ["plan", str(tmp_path / "case.toml"), "--day", "2024-03-14", "--out", str(tmp_path / "o")],
             "[markets.fcr]\nstep_mw = -1.0\n")
    _one_line(r, "case.toml", "markets.fcr.step_mw")


@pytest.mark.parametrize("product, table, field", [
    ("fcr", {"step_mw": -1.0}, "step_mw"),
    ("intraday", {"fee_eur_per_mwh": "cheap"}, "fee_eur_per_mwh"),
    ("imbalance", {"model": "three_price"}, "model"),
])
def test_the_products_tables_are_validated_when_the_case_loads(product, table, field):
    data = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1}}
    case = bidopt.case_from_dict({**data, "markets": {product: {}}})
    assert isinstance(case.markets[product], market_tables()[product])  # the product's model, typed
    with pytest.raises(InputError) as e:
        bidopt.case_from_dict({**data, "markets": {product: table}})  # before any model is built
    assert e.value.field == f"markets.{product}.{field}"


def test_the_tables_are_typed_models_after_loading(tmp_path):
    (tmp_path / "case.toml").write_text(CASE + "[bidding]\nn_scenarios = 4\n[[bidding.blocks]]\nname = \"b\"\n"
                                        "side = \"sell\"\nmax_volume_mw = 0.5\nstart_hour = 17\nend_hour = 20\n"
                                        "[backtest]\nstrategy = \"expected\"\nreport_week = 2024-03-04\n")
    case = bidopt.load_case(tmp_path / "case.toml")
    assert isinstance(case.bidding, BiddingSettings) and case.bidding.n_scenarios == 4
    assert case.bidding.lookback_days == BiddingSettings().lookback_days  # defaults kept
    assert isinstance(case.bidding.blocks[0], BlockCandidate) and case.bidding.blocks[0].end_hour == 20
    assert isinstance(case.backtest, BacktestSettings) and case.backtest.strategy == "expected"
    assert case.backtest.report_week == dt.date(2024, 3, 4)  # a day, parsed once
    assert BacktestSettings(report_week="2024-03-04").report_week == dt.date(2024, 3, 4)  # quoted: the same
    case.bidding = {"n_scenarios": 6}  # a dict set in code is validated into the model
    assert isinstance(case.bidding, BiddingSettings) and case.bidding.n_scenarios == 6
    with pytest.raises(ValueError, match="n_scenarios"):
        case.bidding = {"n_scenarios": -1}


def test_a_registered_market_table_is_validated_at_load(monkeypatch):
    from bidopt import case_tables
    from bidopt.case_base import Strict

    class Toy(Strict):
        lot_mw: float = 0.1

    monkeypatch.setitem(case_tables._MARKET_TABLES, "toy", Toy)
    data = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1}}
    case = bidopt.case_from_dict({**data, "markets": {"toy": {"lot_mw": 0.5}}})
    assert isinstance(case.markets["toy"], Toy) and case.markets["toy"].lot_mw == 0.5
    assert "toy" in market_tables()
    with pytest.raises(InputError) as e:
        bidopt.case_from_dict({**data, "markets": {"toy": {"lot_mw": "big"}}})
    assert e.value.field == "markets.toy.lot_mw"
    with pytest.raises(InputError) as e:
        bidopt.case_from_dict({**data, "markets": {"toy": {"lot": 0.5}}})
    assert e.value.field == "markets.toy.lot"
    with pytest.raises(InputError) as e:  # any [markets.<name>] must be a table, registered or not
        bidopt.case_from_dict({**data, "markets": {"bogus": 3}})
    assert e.value.field == "markets.bogus"


SWEEP = 'cases = ["case.toml"]\nstrategies = ["bid"]\n[[periods]]\nstart = 2024-03-12\nend = 2024-03-12\n'


@pytest.mark.parametrize("text, field", [
    (SWEEP.replace('["bid"]', '["bid", "magic"]'), "strategies[1]"),
    (SWEEP.replace('["case.toml"]', '[""]'), "cases[0]"),
    (SWEEP.replace('["case.toml"]', "[]"), "cases"),
    (SWEEP.replace("end = 2024-03-12", "end = 2024-03-11"), "periods[0].end"),
    (SWEEP.replace("end = 2024-03-12", 'end = "soon"'), "periods[0].end"),
    (SWEEP.replace("end = 2024-03-12", "end = 2024-03-12\nstop = 2024-03-13"), "periods[0].stop"),
    (SWEEP + "workers = 3\n", "workers"),
    ('strategies = ["bid"]\n[[periods]]\nstart = 2024-03-12\nend = 2024-03-12\n', "cases"),
])
def test_a_bad_sweep_file_names_the_field(tmp_path, text, field):
    r = _run(tmp_path, ["sweep", str(tmp_path / "sweep.toml"), "--out", str(tmp_path / "o"), "--no-progress"],
             sweep=text)
    _one_line(r, "sweep.toml", field)
    assert not (tmp_path / "o").exists()


def test_a_good_sweep_file_gives_its_jobs(tmp_path):
    from bidopt.backtest.scale import read_sweep

    (tmp_path / "sweep.toml").write_text(SWEEP.replace('["bid"]', '["bid", "expected"]'))
    jobs = read_sweep(tmp_path / "sweep.toml")
    assert jobs == [{"case": tmp_path / "case.toml", "strategy": s, "start": "2024-03-12", "end": "2024-03-12"}
                    for s in ("bid", "expected")]
