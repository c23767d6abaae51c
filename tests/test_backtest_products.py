"""The backtest settles every capacity product through the product seam (bidopt/backtest/capacity.py,
bidopt/markets/capacity_settlement.py): aFRR beside FCR in daily.csv, summary.json and report.html,
settled by hand from the submitted bids and the realised prices; the settlement rules on toy bids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bidopt
from bidopt import time as btime
from bidopt.backtest import capacity
from bidopt.backtest.day import strategy_day
from bidopt.backtest.report_plots import plot_volumes
from bidopt.cli import main
from bidopt.horizon import Horizon
from bidopt.markets import capacity_settlement, product

FIRST, LAST = "2022-02-10", "2022-02-11"
HISTORY_DAYS = 40
HEADER = ("Period;Elområde;aFRR Upp Pris (EUR/MW);aFRR Upp Volym (MW);aFRR Ned Pris (EUR/MW);"
          "aFRR Ned Volym (MW);Publiceringstidpunkt;")


def _num(v) -> str:
    return f"{float(v):.3f}".replace(".", ",")


def _index():
    first = pd.Timestamp(FIRST) - pd.Timedelta(days=HISTORY_DAYS)
    return btime.horizon_index(first.date(), btime.as_date(LAST), 60)


def up_price(idx) -> np.ndarray:
    """aFRR up price (EUR/MW/h) per hour: varies by hour and day, so bids at a price can be rejected."""
    h = np.arange(len(idx))
    return np.round(30 + 12 * np.sin(h / 5.0) + 6 * np.cos(h / 37.0), 3)


def fcr_price(idx) -> np.ndarray:
    h = np.arange(len(idx))
    return np.round(8 + 3 * np.sin(h / 7.0), 3)


def write_case(tmp_path):
    """A 1 MW / 2 MWh battery offering day-ahead, FCR-D up and aFRR (up and down) with 40 days of
    price history before the two backtest days (enough for stepped bids of either product)."""
    idx = _index()
    local = idx.tz_convert(btime.STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    up = up_price(idx)
    lines = [HEADER] + [f"{t};SN3;{_num(up[i])};{_num(10)};{_num(20)};{_num(10)};2022-01-01 12:00"
                        for i, t in enumerate(local)]
    (tmp_path / "afrr.csv").write_text("\ufeff" + "\n".join(lines + ["Summa;0;0;0;0;"]) + "\n", encoding="utf-8")
    stamps = idx.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp_utc": stamps, "price_eur_per_mw_h": fcr_price(idx)}).to_csv(tmp_path / "fcrd.csv",
                                                                                        index=False)
    (tmp_path / "case.toml").write_text("""
[case]
name = "afrr-and-fcr"
zone = "SE3"
mtu_minutes = 60

[prices]
dayahead = "synthetic"
fcr_d_up = "fcrd.csv"

[grid]
import_limit_mw = 2.0
export_limit_mw = 2.0

[[assets]]
kind = "battery"
name = "bess"
power_mw = 1.0
energy_mwh = 2.0
charge_efficiency = 0.95
discharge_efficiency = 0.95
soc_initial_mwh = 1.0

[markets.afrr]
prices = "afrr.csv"

[bidding]
n_scenarios = 4
""")
    return bidopt.load_case(tmp_path / "case.toml")


def _realised(case, day) -> dict[tuple[str, str], float]:
    """{(stream, hour_start_utc): realised clearing price} of aFRR on ``day``, from the prices the
    test wrote (up varies, down 20 EUR/MW/h)."""
    idx = _index()
    day_idx = btime.delivery_index(day, 60)
    up = pd.Series(up_price(idx), index=idx).reindex(day_idx).to_numpy()
    keys = day_idx.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**{("afrr_up", k): float(v) for k, v in zip(keys, up, strict=True)},
            **{("afrr_down", k): 20.0 for k in keys}}


def test_a_strategy_day_settles_afrr_bids_by_hand(tmp_path):
    """The aFRR streams of a strategy day are the submitted aFRR bids settled by hand: accepted when
    the bid price is at or below the realised price, paid that price (marginal); the accepted volume
    is held at delivery and reported as afrr_accepted_mw_h."""
    case = write_case(tmp_path)
    out = strategy_day(case, FIRST, {}, "bid")
    bids = bidopt.bid(case, FIRST)  # the same bids (deterministic per seed and day)
    h = Horizon(btime.delivery_index(FIRST, 60))
    table = capacity.submitted(case, bids, h)["afrr"]
    assert len(table) > 0
    realised = _realised(case, FIRST)
    paid = {"afrr_up": 0.0, "afrr_down": 0.0}
    accepted = 0.0
    for r in table.itertuples():
        key = (r.product, pd.Timestamp(r.hour_start_utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if float(r.price_eur_per_mw_h) <= realised[key] + 1e-9:
            paid[r.product] += float(r.volume_mw) * realised[key]
            accepted += float(r.volume_mw)
    assert accepted > 0
    assert out.record["afrr_up_eur"] == pytest.approx(paid["afrr_up"], abs=1e-6)
    assert out.record["afrr_down_eur"] == pytest.approx(paid["afrr_down"], abs=1e-6)
    assert out.record["afrr_offered_mw_h"] == pytest.approx(float(table.volume_mw.astype(float).sum()))
    assert out.record["afrr_accepted_mw_h"] == pytest.approx(accepted)
    assert out.record["afrr_pricing"] == "marginal"
    held = out.timeseries[["bess_afrr_up_mw", "bess_afrr_down_mw"]].to_numpy().sum()
    assert held == pytest.approx(accepted, abs=1e-6)  # hourly MTUs: MW per hour = MW·h
    for k in ("fcr_offered_mw_h", "fcr_accepted_mw_h", "fcr_pricing"):  # FCR's columns as before
        assert k in out.record


def test_backtest_reports_afrr_revenue_and_capacity(tmp_path):
    """Two days with aFRR and FCR-D up from the command line: daily.csv has aFRR's streams and capacity
    columns, summary.json a capacity_products entry per product, report.html a row per product with
    its money and a capacity panel per product, and the command prints aFRR's line."""
    write_case(tmp_path)
    out = tmp_path / "bt"
    r = CliRunner().invoke(main, ["backtest", str(tmp_path / "case.toml"), "--start", FIRST, "--end", LAST,
                                  "--strategy", "bid", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(out / "daily.csv")
    for col in ("afrr_up_eur", "afrr_down_eur", "afrr_offered_mw_h", "afrr_accepted_mw_h", "afrr_pricing",
                "fcr_offered_mw_h", "fcr_accepted_mw_h", "fcr_pricing"):
        assert col in daily, col
    assert (daily.afrr_accepted_mw_h <= daily.afrr_offered_mw_h + 1e-9).all()
    assert daily.afrr_accepted_mw_h.sum() > 0
    afrr_eur = float(daily.afrr_up_eur.sum() + daily.afrr_down_eur.sum())
    assert afrr_eur > 0
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["capacity_products"]["afrr"]
    label = product("afrr").label or "afrr"
    assert entry["revenue_eur"] == pytest.approx(afrr_eur)
    assert entry["accepted_mw_h"] == pytest.approx(float(daily.afrr_accepted_mw_h.sum()))
    assert entry["pricing_days"] == {"marginal": 2}
    assert set(summary["capacity_products"]) == {"fcr", "afrr"}
    assert "fcr_rules" in summary
    accepted, offered = entry["accepted_mw_h"], entry["offered_mw_h"]
    assert f"{label}: {entry['revenue_eur']:.2f} EUR, accepted {accepted:.1f} of {offered:.1f} MW h offered" in r.output
    html = (out / "report.html").read_text()
    assert "Result by product" in html
    row = html[html.index(f"<td>{label}</td>"):]
    row = row[: row.index("</tr>")]
    assert "afrr_up, afrr_down" in row
    assert f"{afrr_eur:,.0f}".replace(",", "\u2009") in row
    assert f"{daily.afrr_accepted_mw_h.sum():,.1f}".replace(",", "\u2009") in row
    labels = [ax.get_ylabel() for ax in plot_volumes(daily.assign(date=pd.to_datetime(daily["date"]))).axes]
    assert labels == ["day-ahead MWh", f"{product('fcr').label} MW·h", f"{label} MW·h", "blocks"]


def _bids(rows):
    return pd.DataFrame(rows, columns=["product", "hour_start_utc", "volume_mw", "price_eur_per_mw_h"])


def test_default_settlement_rules_by_hand():
    """Toy aFRR bids for one hour clearing at 30: 1 MW at 0 and 1 MW at 30 accepted, 1 MW at 31 not;
    marginal pays 30 on 2 MW = 60 EUR. An hour outside the product's window clears nothing."""
    h = Horizon(btime.delivery_index(FIRST, 60))
    k0 = h.hour_starts[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    bids = _bids([("afrr_up", h.hour_starts[0], 1.0, 0.0), ("afrr_up", k0, 1.0, 30.0), ("afrr_up", k0, 1.0, 31.0)])
    out = capacity_settlement.payments(capacity_settlement.typed(bids), {("afrr_up", 1, k0): 30.0}, "marginal",
                                       product("afrr").accept)
    assert list(out.accepted) == [True, True, False]
    assert out.payment_eur.sum() == pytest.approx(60.0)
    assert capacity_settlement.by_stream(out) == pytest.approx({"afrr_up": 60.0})
    pab = capacity_settlement.payments(capacity_settlement.typed(bids), {("afrr_up", 1, k0): 30.0}, "pay_as_bid")
    assert pab.payment_eur.sum() == pytest.approx(30.0)
    none = capacity_settlement.payments(capacity_settlement.typed(bids), {}, "marginal")
    assert not none.accepted.any() and none.payment_eur.sum() == 0.0


def test_accepted_volume_is_cut_to_the_limit_in_price_order():
    """A limit of 1.5 MW in the hour: the cheapest accepted bids stay while they fit (1 MW at 5), the
    next whole bid (1 MW at 10) would exceed it and is rejected; an unlimited hour keeps all."""
    h = Horizon(btime.delivery_index(FIRST, 60))
    k0, k1 = (h.hour_starts[i].strftime("%Y-%m-%dT%H:%M:%SZ") for i in (0, 1))
    bids = capacity_settlement.typed(_bids([("afrr_up", k0, 1.0, 10.0), ("afrr_up", k0, 1.0, 5.0),
                                            ("afrr_up", k1, 2.0, 5.0)]))
    out = capacity_settlement.payments(bids, {("afrr_up", 1, k0): 20.0, ("afrr_up", 1, k1): 20.0}, "marginal")
    limit = np.full(24, np.nan)
    limit[0] = 1.5
    cut = capacity_settlement.within_limits(out, {"afrr_up": limit}, h)
    assert list(cut.accepted) == [False, True, True]
    assert cut.payment_eur.sum() == pytest.approx(20.0 + 40.0)


def test_report_groups_streams_by_product_from_the_files(tmp_path):
    """A backtest folder with FFR columns beside FCR's: the report's product table sums each
    product's streams (FCR: fcr_n + fcr_d_up + fcr_d_down), gives its offered and accepted MW·h and
    pricing days, puts the site's own streams last, and the volume plot has a panel per product in
    the registry's order."""
    from bidopt.backtest.report import build_html
    from tests.test_report import make_backtest

    out = make_backtest(tmp_path / "bt", "2024-06-01", 10, 60)
    daily = pd.read_csv(out / "daily.csv")
    daily["ffr_eur"] = 5.0
    daily["ffr_offered_mw_h"] = 12.0
    daily["ffr_accepted_mw_h"] = 6.0
    daily["ffr_pricing"] = "marginal"
    daily.to_csv(out / "daily.csv", index=False)
    html = build_html(out)
    table = html[html.index("Result by product"):]
    table = table[: table.index("</table>")]
    rows = table.split("<tr>")[2:]
    names = [r.split("</td>")[0].removeprefix("<td>") for r in rows]
    ffr_label = product("ffr").label or "ffr"
    assert names == ["dayahead", "FCR", ffr_label, "intraday", "imbalance", "site and other streams"]
    ffr = rows[names.index(ffr_label)]
    assert ">50<" in ffr and ">5<" in ffr  # EUR over 10 days, EUR/day
    assert ">120.0<" in ffr and ">60.0<" in ffr and "marginal 10 d" in ffr
    fcr_eur = sum(float(daily[f"{s}_eur"].sum()) for s in ("fcr_n", "fcr_d_up", "fcr_d_down"))
    fcr = rows[names.index("FCR")]
    assert f">{fcr_eur:,.0f}<".replace(",", "\u2009") in fcr
    assert f">{10 * 24.0:,.1f}<" in fcr  # fcr_offered_mw_h: 24 a day
    assert "tariff, tax, degradation" in rows[-1]
    labels = [ax.get_ylabel() for ax in plot_volumes(daily.assign(date=pd.to_datetime(daily["date"]))).axes]
    assert labels == ["day-ahead MWh", "FCR MW·h", f"{ffr_label} MW·h", "blocks"]
