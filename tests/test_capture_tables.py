"""benchmarks/capture.py's arithmetic: month parsing, capture ratios against perfect foresight, the
gap split and the issue-13 target lines, on hand-made month results (no backtest is run)."""

import argparse
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("capture_bench", REPO / "benchmarks" / "capture.py")
capture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(capture)


def _r(month, strategy, eur, pf, imbalance=0.0):
    return {"zone": "SE3", "year": 2022, "month": month, "strategy": strategy, "days": 30,
            "strategy_eur": eur, "perfect_foresight_eur": pf, "revenue_eur": {"imbalance": imbalance},
            "seconds": 1.0, "cpu_seconds": 1.0}


def test_months_parse_lists_and_ranges():
    assert capture._months("1,3-5,3") == [1, 3, 4, 5]
    with pytest.raises(argparse.ArgumentTypeError):
        capture._months("0-2")


def test_ratios_are_sums_over_months_not_mean_of_ratios():
    agg = capture.aggregate([_r(1, "bid", 90, 100), _r(2, "bid", 10, 300)])
    assert agg["SE3"][1]["bid"]["ratio"] == pytest.approx(0.9)
    assert agg["SE3"]["year"]["bid"]["ratio"] == pytest.approx(100 / 400)  # not (0.9 + 1/30) / 2


def test_gap_split_and_targets():
    res = [_r(1, "bid", 85, 100, imbalance=5), _r(1, "expected", 80, 100), _r(1, "oracle", 98, 100),
           _r(1, "persistence", 70, 100), _r(2, "bid", 60, 100), _r(2, "expected", 60, 100),
           _r(2, "oracle", 99, 100), _r(2, "persistence", 65, 100)]
    agg = capture.aggregate(res)
    text = capture.render(agg, ["bid", "expected", "persistence", "oracle"], [], "head")
    row = next(line for line in text.splitlines() if line.startswith("| SE3 | 200"))
    # 1 - oracle = -3 EUR, oracle - expected = -57, bid - expected = +5, bid's imbalance +5
    assert "-3 (-0.01)" in row and "-57 (-0.28)" in row and "+5 (+0.03)" in row and "145 (+5)" in row
    target = next(line for line in text.splitlines() if line.startswith("- SE3 `bid`"))
    assert "capture 0.72 < 0.80" in target and "misses +0.10" in target
    assert "not above persistence in Feb" in target
    assert "| **total** | 200 |" in text  # two months run: a total, not a year
