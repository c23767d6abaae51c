"""report.html panels of issue 13 item 6: the daily capture histogram, bids versus outcome on one
day (default the median-capture day) from the curves kept in the checkpoints, and several
backtest folders side by side (``bidopt report DIR OTHER...``)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bidopt.backtest import report_days
from bidopt.backtest.report import build_html
from bidopt.cli import main
from bidopt.errors import InputError
from tests.test_report import make_backtest


def test_daily_capture_with_and_without_baseline():
    d = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                      "total_eur": [5.0, -2.0, 3.0], "perfect_foresight_eur": [10.0, 4.0, -1.0]})
    r, what = report_days.daily_capture(d)
    np.testing.assert_allclose(r.to_numpy(), [0.5, -0.5, np.nan])  # undefined where perfect foresight loses
    assert what == "strategy / perfect foresight"
    d["baseline_eur"] = [0.0, -6.0, -3.0]
    r, what = report_days.daily_capture(d)
    np.testing.assert_allclose(r.to_numpy(), [0.5, 0.4, 3.0])  # (s - b) / (pf - b)
    assert "baseline" in what


def test_median_capture_day_and_day_option():
    d = pd.DataFrame({"date": pd.to_datetime([f"2024-01-0{i}" for i in range(1, 6)]),
                      "total_eur": [9.0, 1.0, 5.0, 7.0, 3.0], "perfect_foresight_eur": 10.0})
    # ratios .9 .1 .5 .7 .3; sorted .1 (01-02) .3 (01-05) .5 (01-03) .7 .9: the median is 2024-01-03
    assert report_days.pick_day(d, None) == pd.Timestamp("2024-01-03")
    d.loc[5] = [pd.Timestamp("2024-01-06"), 2.0, 10.0]  # six days: the lower median, .3 on 2024-01-05
    assert report_days.pick_day(d, None) == pd.Timestamp("2024-01-05")
    assert report_days.pick_day(d, "2024-01-02") == pd.Timestamp("2024-01-02")
    with pytest.raises(InputError, match="not a day of the backtest"):
        report_days.pick_day(d, "2024-02-01")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("panels")
    a = make_backtest(root / "a", "2024-01-01", 5, 60)
    b = make_backtest(root / "b", "2024-01-01", 5, 60)
    s = json.loads((b / "summary.json").read_text())
    s["strategy"] = "persist<ence>"
    s["baseline"], s["baseline_eur"], s["value_added_eur"] = "no_flex", -100.0, 123.0
    (b / "summary.json").write_text(json.dumps(s))
    # the curves of 2024-01-03 as day.submitted_curves keeps them: buy 1 MW below 40, sell 0.5 above 60
    ts = pd.read_csv(a / "timeseries.csv")
    idx = [t for t in ts.timestamp_utc if pd.Timestamp(t).tz_convert("Europe/Stockholm").day == 3]
    curves = [[[-500.0, 1.0], [40.0, 1.0], [60.0, -0.5], [4000.0, -0.5]] for _ in idx]
    (a / ".checkpoints" / "strategy").mkdir(parents=True)
    (a / ".checkpoints" / "strategy" / "2024-01-03.json").write_text(
        json.dumps({"day": "2024-01-03", "submitted": {"index": idx, "curves": curves, "blocks": 2}}))
    return a, b


def test_bid_panel_histogram_and_side_by_side(folders):
    a, b = folders
    page = build_html(a, day="2024-01-03", compare=[b])
    heads = re.findall(r"<h2>(.*?)</h2>", page)
    assert "Daily capture ratio" in heads
    assert "Bids vs outcome on 2024-01-03" in heads
    assert 'alt="bids vs outcome" src="data:image/png;base64,' in page
    assert "2 block order(s)" in page
    side = page[page.index("Strategies side by side"):]
    assert "forecast-curves (a)" in side and "persist&lt;ence&gt; (b)" in side  # escaped
    assert "<ence>" not in page
    assert re.search(r'<td class="n">123</td>', side)  # b's value added
    # a day without recorded curves says so instead of drawing
    page = build_html(a, day="2024-01-02")
    assert "no submitted curves recorded for 2024-01-02" in page


def test_bid_figure_marks_the_cleared_points(folders):
    a, _ = folders
    sub = report_days.submitted(a / ".checkpoints", pd.Timestamp("2024-01-03"))
    ts = pd.read_csv(a / "timeseries.csv")
    ts.index = pd.DatetimeIndex(pd.to_datetime(ts.pop("timestamp_utc"), utc=True))
    fig, note = report_days.bid_figure(sub, ts)
    assert fig is not None and note.startswith("24 MTUs")
    # the top panels hold the curve and the cleared point (the position at the realised price)
    day = ts.loc[pd.DatetimeIndex(sub["index"])]
    points = [ax.lines[1].get_data() for ax in fig.axes[:4]]
    prices = sorted(float(py[0]) for _, py in points)
    assert prices[0] == pytest.approx(day["price_eur_per_mwh"].min())  # the cheapest MTU is drawn
    assert prices[-1] == pytest.approx(day["price_eur_per_mwh"].max())  # and the dearest
    for px, py in points:  # each at its MTU's cleared position and realised price
        row = day[np.isclose(day["price_eur_per_mwh"], py[0])].iloc[0]
        assert px[0] == pytest.approx(row["position_mw"])


def test_report_cli_takes_several_folders_and_a_day(folders):
    a, b = folders
    r = CliRunner().invoke(main, ["report", str(a), str(b), "--day", "2024-01-03"])
    assert r.exit_code == 0, r.output
    assert "Strategies side by side" in (a / "report.html").read_text()
    r = CliRunner().invoke(main, ["report", str(a), "--day", "2023-12-31"])
    assert r.exit_code == 2 and "--day" in r.output
    with pytest.raises(InputError):
        build_html(a, day="3 January")
