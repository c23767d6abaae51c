"""Out-of-sample evaluation of the day-ahead price forecasters on real SE1-SE4 prices (EUR/MWh).

Every day of the period, every zone: each forecaster gets the zone's whole price history and the
gate (D-1 12:00 local; it drops everything published later itself), and is scored against the
day's actual prices on the day's UTC MTUs (23/24/25 hours):

* MAE of the point forecast (``attrs["point_by_clock_hour"]``: LEAR's model forecast, the baselines'
  lagged prices),
* CRPS of the scenario ensemble (``scoringrules.crps_ensemble``, the ensemble as given, equal weights),
* 80 % band coverage: share of hours whose actual price lies within the ensemble's 10 %-90 %
  empirical quantiles (np.quantile, linear),
* decision value ("capture"): a battery (1 MW / 2 MWh, 95 % / 95 %, 1 MWh at the start and at
  least 1 MWh at the end of the day, 2 EUR/MWh degradation: the demo battery of
  ``cases/se3_battery_2022``) is planned on the point forecast and paid the day's actual prices,
  divided by the same battery planned on the actual prices (perfect foresight). A small LP of its
  own (``battery_plan``, scipy's HiGHS), independent of bidopt's model: what a forecast is worth
  to the decision the bids are made for, which MAE does not measure (it rewards the day's level; a
  battery's plan depends on the order of the hours).

Methods: ``naive`` (the last published day, D-1, at the same clock hour: baseline blend with
weight_last = 1), ``seasonal`` (D-7: weight_last = 0), ``blend`` (the current default: 0.7 D-1 +
0.3 D-7), ``lear`` (bidopt.forecast.lear with the other three zones' prices as extra features),
``ensemble`` (bidopt.forecast.ensemble: LEAR as above averaged with the 7- and 14-day mean profiles).
All draw 20 scenarios (seed 0) from their own residual days.

    python benchmarks/forecast.py                      # 2021-2022, SE1-SE4, writes docs/forecasting.md
    python benchmarks/forecast.py --start 2022-03-01 --end 2022-03-31 --zones SE3 --no-write
    python benchmarks/forecast.py --csv days.csv ...   # a rerun with the same --csv resumes
    python benchmarks/forecast.py --from-csv days.csv  # tabulate only

Needs ../shared/data and ``pip install bidopt[bench]`` (scoringrules).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scoringrules as sr  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

from bidopt.data.prices import read_price_csv  # noqa: E402
from bidopt.forecast import baseline, ensemble, lear  # noqa: E402
from bidopt.forecast import scenarios as sc  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BIDOPT_SHARED_DATA", ROOT.parent / "shared" / "data"))
FILE = DATA / "dayahead" / "se1-se4_dayahead_2016-2022_utc.csv.gz"
ZONES = ("SE1", "SE2", "SE3", "SE4")
METHODS = ("naive", "seasonal", "blend", "lear", "ensemble")
BATTERY = {"power_mw": 1.0, "energy_mwh": 2.0, "eta_charge": 0.95, "eta_discharge": 0.95, "soc0_mwh": 1.0,
           "soc_end_min_mwh": 1.0, "degradation_eur_per_mwh": 2.0}
DOC = ROOT / "docs" / "forecasting.md"
START, END = "<!-- forecast-table:start -->", "<!-- forecast-table:end -->"


HISTORY_DAYS = 460  # what the forecasters read before D (LEAR: 364 + 28 + 7 + 14 days, and a margin)


def forecast(method: str, zone: str, hist: dict[str, pd.Series], day: dt.date):
    lo, hi = pd.Timestamp(day - dt.timedelta(days=HISTORY_DAYS), tz="UTC"), pd.Timestamp(day + dt.timedelta(days=2), tz="UTC")
    hist = {z: s[(s.index >= lo) & (s.index < hi)] for z, s in hist.items()}  # the same result, less to sort through
    if method in ("lear", "ensemble"):
        others = {z: hist[z] for z in hist if z != zone}
        make = lear.lear_price_scenarios if method == "lear" else ensemble.ensemble_price_scenarios
        return make(hist[zone], day, zones=others)
    w = {"naive": 1.0, "seasonal": 0.0, "blend": 0.7}[method]
    return baseline.price_scenarios(hist[zone], day, method="blend", weight_last=w)


def battery_plan(price: np.ndarray, b: dict = BATTERY) -> np.ndarray:
    """Net purchase per hour (MW, + = buy) of the battery ``b`` planned on ``price`` (EUR/MWh): an LP
    in charge c, discharge d and state of charge e, max sum(p (d - c)) - deg (c + d), with
    e_t = e_{t-1} + eta_c c_t - d_t / eta_d."""
    n = len(price)
    cost = np.concatenate([price + b["degradation_eur_per_mwh"], -price + b["degradation_eur_per_mwh"], np.zeros(n)])
    eye = sparse.identity(n, format="csr")
    prev = sparse.eye(n, k=-1, format="csr")
    A = sparse.hstack([-b["eta_charge"] * eye, eye / b["eta_discharge"], eye - prev], format="csr")
    rhs = np.zeros(n)
    rhs[0] = b["soc0_mwh"]
    P, E = b["power_mw"], b["energy_mwh"]
    bounds = [(0, P)] * (2 * n) + [(0, E)] * (n - 1) + [(b["soc_end_min_mwh"], E)]
    x = linprog(cost, A_eq=A, b_eq=rhs, bounds=bounds, method="highs").x
    return x[:n] - x[n:2 * n]


def battery_value(net: np.ndarray, price: np.ndarray, b: dict = BATTERY) -> float:
    """EUR the schedule ``net`` earns at ``price``, degradation included."""
    return float(-(net * price).sum() - b["degradation_eur_per_mwh"] * np.abs(net).sum())


def score(cube, actual: pd.Series) -> dict[str, float]:
    idx = sc.time_index(cube)
    y = actual.reindex(idx).to_numpy(float)
    ens = np.asarray(cube.values, float).T  # (T, S)
    point = lear.point_forecast(cube)
    lo, hi = np.quantile(ens, [0.1, 0.9], axis=1)
    return {
        "battery_eur": battery_value(battery_plan(point), y),
        "battery_pf_eur": battery_value(battery_plan(y), y),
        "abs_err": float(np.abs(point - y).sum()),
        "crps": float(np.asarray(sr.crps_ensemble(y, ens)).sum()),
        "covered": float(((y >= lo) & (y <= hi)).sum()),
        "hours": float(len(y)),
    }


def run(zones, start: dt.date, end: dt.date, methods, csv: Path | None = None) -> pd.DataFrame:
    """Score every day of ``start`` .. ``end`` for each zone and method. With ``csv`` each zone's method
    is appended there as soon as it is done, and the (zone, method) pairs already in the file are
    read back instead of run again, so an interrupted run resumes."""
    hist = {z: read_price_csv(FILE, zone=z) for z in ZONES}
    done = pd.read_csv(csv, parse_dates=["day"]) if csv is not None and csv.is_file() else pd.DataFrame()
    frames = [done] if len(done) else []
    for zone in zones:
        for method in methods:
            if len(done) and ((done["zone"] == zone) & (done["method"] == method)).any():
                continue
            rows = []
            t0, c0 = time.perf_counter(), time.process_time()
            d = start
            while d <= end:
                s = score(forecast(method, zone, hist, d), hist[zone])
                rows.append({"zone": zone, "method": method, "year": d.year, "day": d, **s})
                d += dt.timedelta(days=1)
            sec, cpu = time.perf_counter() - t0, time.process_time() - c0
            for r in rows:
                r["seconds"], r["cpu_seconds"] = sec / len(rows), cpu / len(rows)
            print(f"{zone} {method}: {sec:.1f} s ({1000 * sec / len(rows):.0f} ms/day)", file=sys.stderr, flush=True)
            frame = pd.DataFrame(rows)
            if csv is not None:
                frame.to_csv(csv, mode="a", header=not csv.is_file(), index=False)
            frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    keep = out["zone"].isin(zones) & out["method"].isin(methods)
    return out[keep].reset_index(drop=True)


def summarise(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=False)
    out = pd.DataFrame({
        "days": g.size(),
        "MAE": g["abs_err"].sum() / g["hours"].sum(),
        "CRPS": g["crps"].sum() / g["hours"].sum(),
        "cover80": 100 * g["covered"].sum() / g["hours"].sum(),
        "capture": g["battery_eur"].sum() / g["battery_pf_eur"].sum() if "battery_eur" in df else np.nan,
        "ms/day": 1000 * g["seconds"].mean(),
        "cpu ms/day": 1000 * g["cpu_seconds"].mean() if "cpu_seconds" in df else np.nan,
    })
    return out.reset_index()


def markdown(df: pd.DataFrame, start: dt.date, end: dt.date) -> str:
    lines = [f"Every day {start} .. {end}, out of sample (gate D-1 12:00 local). MAE of the point forecast "
             "and CRPS of the 20-scenario ensemble in EUR/MWh (lower is better), cover80 = % of hours inside "
             "the ensemble's 10-90 % band (80 is right), capture = the battery planned on the point forecast and "
             "paid actual prices, as a share of the same battery on perfect foresight (higher is better), ms/day = wall time per forecast (scoring included) "
             "on the benchmark machine, shared and busy (compare within a column), cpu ms/day = process CPU "
             "time per forecast where recorded. Generated by `benchmarks/forecast.py`.", ""]

    def table(t: pd.DataFrame, keys: list[str]) -> None:
        head = keys + ["days", "MAE", "CRPS", "cover80", "capture", "ms/day", "cpu ms/day"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for _, r in t.iterrows():
            lines.append("| " + " | ".join([str(r[k]) for k in keys] + [
                f"{int(r['days'])}", f"{r['MAE']:.2f}", f"{r['CRPS']:.2f}", f"{r['cover80']:.1f}",
                "-" if np.isnan(r["capture"]) else f"{r['capture']:.3f}",
                f"{r['ms/day']:.0f}", "-" if np.isnan(r["cpu ms/day"]) else f"{r['cpu ms/day']:.0f}"]) + " |")
        lines.append("")

    lines.append("By zone and method:")
    lines.append("")
    table(summarise(df, ["zone", "method"]), ["zone", "method"])
    lines.append("By zone, year and method:")
    lines.append("")
    table(summarise(df, ["zone", "year", "method"]), ["zone", "year", "method"])
    lines.append("All zones:")
    lines.append("")
    table(summarise(df, ["method"]), ["method"])
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    a, b = doc.index(START) + len(START), doc.index(END)
    DOC.write_text(doc[:a] + "\n" + text + "\n" + doc[b:])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="2021-01-01")
    ap.add_argument("--end", default="2022-12-31")
    ap.add_argument("--zones", nargs="+", default=list(ZONES))
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--csv", type=Path, help="per-day scores: appended per zone and method as they finish; "
                    "pairs already there are reused (a rerun resumes)")
    ap.add_argument("--from-csv", help="tabulate per-day scores an earlier run wrote with --csv (no forecasts)")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave docs/forecasting.md")
    a = ap.parse_args(argv)
    if a.from_csv:
        df = pd.read_csv(a.from_csv, parse_dates=["day"])
        start, end = df["day"].min().date(), df["day"].max().date()
    else:
        start, end = dt.date.fromisoformat(a.start), dt.date.fromisoformat(a.end)
        df = run(a.zones, start, end, a.methods, a.csv)
    text = markdown(df, start, end)
    print(text)
    if not a.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
