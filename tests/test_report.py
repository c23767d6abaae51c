"""The backtest HTML report: sections, embedded plots, determinism, tolerance, errors, atomic write."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bidopt.backtest.report import build_html, monthly_peaks, pick_week, write_report
from bidopt.errors import InputError

TZ = "Europe/Stockholm"
STREAMS = ["dayahead", "fcr_n", "fcr_d_up", "fcr_d_down", "intraday", "imbalance", "tariff", "tax", "degradation"]
WINDOWS = [{"name": "winter peak", "months": [1, 2, 3, 11, 12], "weekdays": [0, 1, 2, 3, 4], "hours": list(range(7, 20))}]


def make_backtest(out: Path, first_day: str, n_days: int, mtu: int, windows=WINDOWS) -> Path:
    """A synthetic engine output folder: summary.json, daily.csv and timeseries.csv."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    days = pd.date_range(first_day, periods=n_days, freq="D")
    idx = pd.date_range(days[0].tz_localize(TZ), (days[-1] + pd.Timedelta(days=1)).tz_localize(TZ),
                        freq=f"{mtu}min", inclusive="left").tz_convert("UTC")
    hours = idx.tz_convert(TZ).hour.to_numpy()
    n = len(idx)
    price = 50 + 30 * np.sin(2 * np.pi * (hours - 6) / 24) + rng.normal(0, 5, n)
    price[(idx >= idx[0] + pd.Timedelta(days=10)) & (idx < idx[0] + pd.Timedelta(days=12))] *= 3  # a spiky week
    soc = 1 + np.sin(2 * np.pi * hours / 24)
    ts = pd.DataFrame({
        "timestamp_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "price_eur_per_mwh": price,
        "position_mw": np.round(rng.normal(0, 1, n), 3), "intraday_mw": 0.0,
        "grid_import_mw": np.clip(rng.normal(1.5, 1, n), 0, None), "grid_export_mw": 0.0,
        "bess_soc_mwh": soc, "bess_power_mw": np.gradient(soc), "pf_grid_import_mw": 1.0, "pf_grid_export_mw": 0.0,
    })
    ts.to_csv(out / "timeseries.csv", index=False, float_format="%.6f")
    daily = pd.DataFrame({"date": days.strftime("%Y-%m-%d")})
    for i, s in enumerate(STREAMS):
        daily[f"{s}_eur"] = np.round(rng.normal(20 - 6 * i, 10, n_days), 2)
    daily["total_eur"] = daily[[f"{s}_eur" for s in STREAMS]].sum(axis=1)
    daily["perfect_foresight_eur"] = daily["total_eur"] + 40
    daily["da_expected_net_mwh"] = rng.normal(0, 2, n_days)
    daily["da_cleared_buy_mwh"] = rng.uniform(0, 4, n_days)
    daily["da_cleared_sell_mwh"] = rng.uniform(0, 4, n_days)
    daily["fcr_offered_mw_h"] = 24.0
    daily["fcr_accepted_mw_h"] = rng.integers(0, 24, n_days)
    daily["blocks_submitted"] = 4
    daily["blocks_accepted"] = rng.integers(0, 5, n_days)
    daily["peak_import_mw"] = 3.0
    daily["solve_seconds"] = 0.5
    daily.to_csv(out / "daily.csv", index=False, float_format="%.6f")
    summary = {
        "case": "bess <demo>", "strategy": "forecast-curves", "zone": "SE3", "start": str(days[0].date()),
        "end": str(days[-1].date()), "n_days": n_days, "mtu_minutes": mtu,
        "objective_eur": float(daily["total_eur"].sum()),
        "revenue_eur": {s: float(daily[f"{s}_eur"].sum()) for s in STREAMS},
        "perfect_foresight_eur": float(daily["perfect_foresight_eur"].sum()),
        "capture_ratio": 0.42, "warnings": ["intraday prices: day-ahead proxy used", "fcr <n> & d: estimated"],
        "tariff_windows": windows, "extra_key": {"ignored": True},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out


@pytest.fixture(scope="module")
def hourly(tmp_path_factory) -> Path:
    return make_backtest(tmp_path_factory.mktemp("bt") / "hourly", "2024-01-01", 40, 60)


@pytest.fixture(scope="module")
def hourly_html(hourly) -> str:
    return write_report(hourly).read_text()


def test_report_has_every_section(hourly, hourly_html):
    html = hourly_html
    for text in ("Key figures", "Warnings", "Cumulative result vs perfect foresight", "Result by stream",
                 "SoC and price, one week", "Monthly peaks vs tariff windows", "Accepted vs submitted volumes",
                 "SE3", "forecast-curves", "2024-01-01", "2024-02-09", "40 days", "MTU 60 min", "42.0 %",
                 "intraday prices: day-ahead proxy used", "degradation"):
        assert text in html, text
    assert html.count("<img") == 6  # the five plots and the capture histogram (no curves kept: a note)
    assert "bess &lt;demo&gt;" in html and "bess <demo>" not in html  # escaped
    assert "fcr &lt;n&gt; &amp; d" in html
    assert "http" not in html and "<script" not in html  # self-contained
    assert not list(hourly.glob(".report-*"))




def test_default_week_is_the_largest_spread_and_week_option(hourly, hourly_html):
    ts = pd.read_csv(hourly / "timeseries.csv", index_col=0)
    ts.index = pd.to_datetime(ts.index, utc=True)
    start = pick_week(ts, None)
    assert start.tzinfo is not None and start.hour == 0
    assert pd.Timestamp("2024-01-05", tz=TZ) <= start <= pd.Timestamp("2024-01-11", tz=TZ)  # covers the spikes
    assert f"one week from {start:%Y-%m-%d}" in hourly_html
    assert pick_week(ts, "2024-01-20") == pd.Timestamp("2024-01-20", tz=TZ)
    with pytest.raises(InputError, match="week"):
        pick_week(ts, "2024-05-01")
    with pytest.raises(InputError, match="week"):
        pick_week(ts, "20/01/2024")


def test_monthly_peaks_inside_and_outside_windows(tmp_path):
    idx = pd.date_range("2024-01-31T23:00Z", periods=48, freq="15min")  # 00:00-12:00 local on 1 Feb
    imp = np.zeros(48)
    imp[4 * 8: 4 * 8 + 4] = [4, 4, 2, 2]  # local 08:00-09:00, Thursday: inside the window, hourly mean 3
    imp[4 * 2] = 8  # local 02:00: outside, hourly mean 2
    peaks = monthly_peaks(pd.DataFrame({"grid_import_mw": imp}, index=idx), WINDOWS)
    assert list(peaks.index) == ["2024-02"]
    assert peaks.loc["2024-02", "inside"] == pytest.approx(3.0)
    assert peaks.loc["2024-02", "outside"] == pytest.approx(2.0)
    assert peaks.loc["2024-02", "all"] == pytest.approx(3.0)


@pytest.fixture(scope="module")
def dst(tmp_path_factory) -> Path:
    out = make_backtest(tmp_path_factory.mktemp("bt") / "dst", "2024-03-30", 3, 15, windows=[])
    write_report(out, week="2024-03-31")
    return out


def test_dst_day_at_15_minutes(dst):
    out = dst
    ts = pd.read_csv(out / "timeseries.csv")
    assert len(ts) == 96 + 92 + 96  # 31 March has 23 hours
    html = (out / "report.html").read_text()
    assert html.count("<img") == 6  # the five plots and the capture histogram (no curves kept: a note)
    assert "MTU 15 min" in html and "one week from 2024-03-31" in html
    assert "Monthly peaks</h2>" in html  # no windows: plain monthly maximum


def test_report_bytes_are_deterministic(dst):
    first = (dst / "report.html").read_bytes()
    assert write_report(dst, week="2024-03-31").read_bytes() == first  # a second, independent build


def test_missing_optional_columns_and_timeseries(tmp_path):
    out = make_backtest(tmp_path / "thin", "2024-01-01", 10, 60)
    daily = pd.read_csv(out / "daily.csv")[["date", "total_eur"]]
    daily.to_csv(out / "daily.csv", index=False)
    ts = pd.read_csv(out / "timeseries.csv")[["timestamp_utc", "price_eur_per_mwh"]]
    ts.to_csv(out / "timeseries.csv", index=False)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("revenue_eur", "capture_ratio", "warnings", "tariff_windows", "perfect_foresight_eur"):
        summary.pop(key)
    (out / "summary.json").write_text(json.dumps(summary))
    html = write_report(out).read_text()
    assert html.count("<img") == 2  # cumulative and the price-only week
    assert "no stream columns" in html and "no grid_import_mw column" in html and "no volume columns" in html
    (out / "timeseries.csv").unlink()
    html = build_html(out)
    assert html.count("<img") == 1 and "timeseries.csv not found" in html


def test_missing_daily_raises_input_error_and_leaves_no_report(tmp_path):
    out = make_backtest(tmp_path / "broken", "2024-01-01", 3, 60)
    (out / "daily.csv").unlink()
    with pytest.raises(InputError) as err:
        write_report(out)
    assert err.value.file.endswith("daily.csv")
    assert not (out / "report.html").exists()
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "timeseries.csv"]


def test_bad_inputs_name_file_and_field(tmp_path):
    out = make_backtest(tmp_path / "bad", "2024-01-01", 3, 60)
    pd.read_csv(out / "daily.csv").drop(columns="total_eur").to_csv(out / "daily.csv", index=False)
    with pytest.raises(InputError) as err:
        write_report(out)
    assert err.value.field == "total_eur"
    (out / "summary.json").write_text("{not json")
    with pytest.raises(InputError, match="summary.json"):
        write_report(out)
    assert not (out / "report.html").exists() and not list(out.glob(".report-*"))


def test_failed_rebuild_keeps_no_half_written_file(tmp_path, monkeypatch):
    out = make_backtest(tmp_path / "atomic", "2024-01-01", 3, 60)
    import bidopt.backtest.report as rep

    monkeypatch.setattr(rep, "build_html", lambda out_dir, week=None, *a, **k: "<html>" + "x" * 10_000)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(os, "replace", boom)  # every rename: the publish marker's and the file's
    with pytest.raises(RuntimeError):
        write_report(out)
    assert not (out / "report.html").exists()
    assert not [p for p in out.iterdir() if re.match(r"\.report-|\.bidopt", p.name)]
