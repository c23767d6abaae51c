"""Local flexibility market: a DSO buys reduced import in a window (congestion product), MW; EUR.

In the style of sthlmflex and CoordiNet: a distribution system operator (DSO) that expects
congestion posts requests, each a window [start, end) of whole UTC hours in which it wants the
site's import reduced, with the most it buys (``requested_mw``), an availability payment, an
activation payment per MWh and a notice time. The requests come from a CSV file,
``[markets.local_flex] requests`` (``read_requests``: columns ``window_start_utc, window_end_utc,
requested_mw, availability_eur_per_mw, activation_eur_per_mwh, notice_minutes``; optional
``request_id``, ``published_utc``, ``activated`` and ``baseline_mw``). Stream ``local_flex``.

Decision: for each request k open at the gate, the site sells C_k MW (``lot_mw`` * integer lots), the
same in every hour of the window and at most ``requested_mw``; 0 in hours outside every window.
Through the seam (``Product.build_capacity``) C is ``total_mw[local_flex, h]``, tied equal over the
hours of one window, split over the assets with upward flexibility.

Reduced import (``docs/formulation.md``, local flexibility): the baseline is the planned schedule
(``schedule.csv``: grid import minus export per MTU, which contains no activation). Selling C means
the site can bring its net import to baseline - C in every MTU of the window, activated from the
window's start to its end. Per providing asset a with share c_{a,h}, in every MTU t of the window:

    power up = c_{a,h(t)}     energy up = rho_h * dt * sum of c_{a,h(tau)} over the window's MTUs tau <= t
    expected activation = s_h * c_{a,h(t)}    (moves the asset's energy, Headroom.expected_up_mw)

The energy term is the energy a full activation has taken by the end of MTU t (a storage asset
must hold it above its floor on top of its planned schedule, ``AssetBase.add_reserve_headroom``),
so the cut can be held to the window's end whatever the plan does inside the window (adjacent
windows count as one run). When bidding rho = 1: the whole of a full activation on top of the
expected one (safe whatever the asset's efficiency); once the activation is realised (delivery
re-plan, perfect foresight: ``activate_at_delivery``) rho = 1 - s, the activated part being in the
SoC path. The grid connection must take the cut: baseline_t - C >= -export_limit_mw. A plan may
raise its import in the window to sell the cut of it (a heat pump heating only to be cut); a
request with the DSO's own ``baseline_mw`` (e.g. from metered history) prevents that: a window sold
against it is planned at or below it.

Money: availability A_k * C_k (A_k per MW for the window; with ``availability_per = "mw_h"`` the
file's price is per MW and hour, times the window's hours), plus the expected activation
s * C_k * D_k * (activation price + day-ahead price when ``activated_energy_at_spot``: the import not
bought), s = ``activation_probability`` at bidding. At delivery (the backtest's re-plan and its
perfect-foresight plan call ``activate_at_delivery``) s becomes the realised share: the request's
``activated`` column (0..1, the share of the window's energy C_k * D_k activated), else
``settled_activation_share``. Holding capacity (``fix_capacity``, the seam's) sets no activation, so
a fleet's check of its shares or any re-solve at bid time sees only the expected one.

Gate and notice: bids for delivery day D are made at ``gate_time`` local on D - ``gate_days_before``.
A request is bid only if it is published by then (``published_utc``, when given) and its notice has
not passed: window start - notice >= gate. Overlapping windows in one file are bad input.

Sources and status. MARKET_RULES has no local flexibility market rules; everything here is
**UNVERIFIED** and configurable in ``[markets.local_flex]``: the lot (0.1 MW), the availability unit
(per MW for the window), the activation probability (0.1), the settled share without an
``activated`` column (the probability), whether activated energy also earns the day-ahead price
(yes, as FCR-N's activation energy), and the gate (D-1 10:00 local, before the day-ahead gate).
Bids are price-taking (``price_eur_per_mw_h`` 0: the DSO's posted price is accepted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pydantic import Field

from bidopt.case import Strict
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.markets.base import BID_COLUMNS, Headroom, Product, register_product

STREAM = "local_flex"
REQUIRED = ("window_start_utc", "window_end_utc", "requested_mw", "availability_eur_per_mw",
            "activation_eur_per_mwh", "notice_minutes")
OPTIONAL = ("request_id", "published_utc", "activated", "baseline_mw")
BID_EXTRA = ("request_id", "window_start_utc", "window_end_utc", "availability_eur_per_mw_h", "activation_eur_per_mwh")
ISO = "%Y-%m-%dT%H:%M:%SZ"


class LocalFlexRules(Strict):
    """``[markets.local_flex]``: the DSO request file and the product rules (all UNVERIFIED)."""

    requests: str | None = None  # CSV of DSO requests (read_requests); None: not offered
    availability_per: Literal["mw", "mw_h"] = "mw"  # availability_eur_per_mw is per MW for the window, or per MW and hour
    lot_mw: float = Field(0.1, ge=0)  # bid lot; 0: continuous volumes
    activation_probability: float = Field(0.1, ge=0, le=1)  # expected share of a sold window's energy activated
    settled_activation_share: float | None = Field(None, ge=0, le=1)  # backtest without an `activated` column; None: the probability
    activated_energy_at_spot: bool = True  # activated (not imported) energy also earns the day-ahead price
    gate_time: dt.time = dt.time(10, 0)  # bids for day D made at this local clock time ...
    gate_days_before: int = Field(1, ge=0)  # ... this many days before D


@dataclass(frozen=True)
class Request:
    """One DSO request (a row of the request file): window [start, end) in UTC, whole hours."""

    request_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    requested_mw: float
    availability_eur_per_mw: float  # as in the file (unit: [markets.local_flex] availability_per)
    activation_eur_per_mwh: float
    notice_minutes: float
    published: pd.Timestamp | None = None  # None: known at any gate
    activated: float | None = None  # realised share of the window's energy; None: not in the file
    baseline_mw: float | None = None  # the DSO's baseline net import for the window (MW); None: the plan

    @property
    def hours(self) -> float:
        return (self.end - self.start) / pd.Timedelta(hours=1)

    def availability_per_mw_h(self, per: str) -> float:
        """The availability payment per MW and hour of the window (EUR/MW/h)."""
        return self.availability_eur_per_mw if per == "mw_h" else self.availability_eur_per_mw / self.hours


@dataclass(frozen=True)
class Window:
    """A request open for a horizon, with the positions of its UTC hours in ``horizon.hour_starts``."""

    request: Request
    hours: tuple[int, ...]


def _times(path, df: pd.DataFrame, col: str, optional: bool = False) -> pd.Series:
    text = df[col].str.strip()
    ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    for i in np.flatnonzero(ts.isna().to_numpy() & ~(optional & (text == "").to_numpy())):
        raise InputError(path, f"{col} (row {i + 1})", "not an ISO 8601 time (e.g. 2024-06-12T15:00:00Z)")
    return ts


def _numbers(path, df: pd.DataFrame, col: str, lo: float, hi: float = np.inf, lo_open: bool = False,
             optional: bool = False) -> pd.Series:
    text = df[col].str.strip()
    x = pd.to_numeric(text, errors="coerce")
    blank = (text == "").to_numpy() & optional
    v = x.to_numpy(float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v) & ((v > lo) if lo_open else (v >= lo)) & (v <= hi)
    for i in np.flatnonzero(~blank & ~ok):
        bound = ((f" > {lo:g}" if lo_open else f" >= {lo:g}") if np.isfinite(lo) else "") + (
            f" and <= {hi:g}" if np.isfinite(hi) else "")
        raise InputError(path, f"{col} (row {i + 1})", f"not a number{bound}")
    return x


@lru_cache(maxsize=16)
def _read(path: str, stat: tuple) -> tuple[Request, ...]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputError(path, None, f"not a readable CSV request file ({type(e).__name__})") from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in REQUIRED:
        if col not in df.columns:
            raise InputError(path, col, f"missing column (a request file has {', '.join(REQUIRED)})")
    start, end = _times(path, df, "window_start_utc"), _times(path, df, "window_end_utc")
    for col, ts in (("window_start_utc", start), ("window_end_utc", end)):
        for i in np.flatnonzero((ts != ts.dt.floor("h")).to_numpy()):
            raise InputError(path, f"{col} (row {i + 1})", "windows start and end on whole UTC hours")
    for i in np.flatnonzero((end <= start).to_numpy()):
        raise InputError(path, f"window_end_utc (row {i + 1})", "the window ends at or before its start")
    mw = _numbers(path, df, "requested_mw", 0.0, lo_open=True)
    avail, act = _numbers(path, df, "availability_eur_per_mw", 0.0), _numbers(path, df, "activation_eur_per_mwh", 0.0)
    notice = _numbers(path, df, "notice_minutes", 0.0)
    pub = _times(path, df, "published_utc", optional=True) if "published_utc" in df else None
    done = _numbers(path, df, "activated", 0.0, 1.0, optional=True) if "activated" in df else None
    base = _numbers(path, df, "baseline_mw", -np.inf, optional=True) if "baseline_mw" in df else None
    ids = df["request_id"].str.strip() if "request_id" in df else pd.Series([f"R{i + 1}" for i in range(len(df))])
    for i in np.flatnonzero(ids.duplicated().to_numpy() | (ids == "").to_numpy()):
        raise InputError(path, f"request_id (row {i + 1})", "empty or used by an earlier row")
    out = [Request(ids.iloc[i], start.iloc[i], end.iloc[i], float(mw.iloc[i]), float(avail.iloc[i]), float(act.iloc[i]),
                   float(notice.iloc[i]), None if pub is None or pd.isna(pub.iloc[i]) else pub.iloc[i],
                   None if done is None or pd.isna(done.iloc[i]) else float(done.iloc[i]),
                   None if base is None or pd.isna(base.iloc[i]) else float(base.iloc[i])) for i in range(len(df))]
    order = sorted(range(len(out)), key=lambda i: out[i].start)
    for prev, i in zip(order, order[1:], strict=False):
        if out[i].start < out[prev].end:
            raise InputError(path, f"window_start_utc (row {i + 1})", f"the window overlaps row {prev + 1}'s; "
                             "one site's requests may not overlap")
    return tuple(out)


def read_requests(path: str | Path) -> tuple[Request, ...]:
    """The DSO requests of a CSV file (module docstring), checked: bad input names the file, the
    column and the row (never a value read from the file). Parsed once per file content."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise InputError(p, None, "request file not found") from None
    return _read(str(p), (st.st_mtime_ns, st.st_size, st.st_ino))


@register_product
class LocalFlex(Product):
    """DSO congestion product (reduced import in a window) through the product seam."""

    name = "local_flex"
    streams = (STREAM,)
    order = 60
    label: ClassVar[str] = "local flexibility (DSO)"
    price_known_at_gate = True  # the request file's prices are the DSO's, posted before the gate
    pools = False  # a request is for the sites of one congestion area: a fleet does not pool it (yet)
    table = LocalFlexRules

    def offered(self, case) -> list[str]:
        return [STREAM] if self.rules(case).requests else []

    def provides(self, asset, stream: str, case=None) -> bool:
        f = asset.flexibility()
        return f is not None and stream == STREAM and f.up and asset.offers(stream)

    def limit_mw(self, asset, stream: str) -> float | None:
        return asset.flexibility().up_limit_mw

    def lot_mw(self, case, horizon: Horizon) -> float:
        return self.rules(case).lot_mw

    def open_at_gate(self, case, req: Request) -> bool:
        """Whether ``req`` can be bid: published by the gate of its window's local day, and its
        notice not passed then (window start - notice >= gate)."""
        gate = self.gate_utc(case, req.start.tz_convert(case.case.timezone).date())
        published = req.published is None or req.published <= gate
        return published and req.start - pd.Timedelta(minutes=req.notice_minutes) >= gate

    def windows(self, case, horizon: Horizon) -> list[Window]:
        """The requests open at their gate whose windows lie inside the horizon, with their hours."""
        r = self.rules(case)
        if not r.requests:
            return []
        hours = horizon.hour_starts
        first, end = horizon.index[0], horizon.index[-1] + pd.Timedelta(hours=horizon.dt_h)
        out = []
        for req in read_requests(case.resolve(r.requests)):
            if req.start >= first and req.end <= end and self.open_at_gate(case, req):
                pos = np.flatnonzero((hours >= req.start) & (hours < req.end))
                out.append(Window(req, tuple(int(h) for h in pos)))
        return out

    def prices(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        """Availability per MW and hour in each window's hours (EUR/MW/h), 0 elsewhere."""
        per = self.rules(case).availability_per
        price = np.zeros(len(horizon.hour_starts))
        for w in self.windows(case, horizon):
            price[list(w.hours)] = w.request.availability_per_mw_h(per)
        return price

    def open_hours(self, case, stream: str, horizon: Horizon) -> np.ndarray:
        mask = np.zeros(len(horizon.hour_starts), dtype=bool)
        for w in self.windows(case, horizon):
            mask[list(w.hours)] = True
        return mask

    def build_capacity(self, blk, horizon: Horizon, case, assets: dict, prices: dict | None = None,
                       continuous: bool = False) -> None:
        """The seam's hourly capacity, plus: one volume per window (equal in its hours, at most the
        request's MW) and ``activation_share[h]`` (mutable: the expected share when bidding, the
        realised one once ``activate_at_delivery`` sets it)."""
        super().build_capacity(blk, horizon, case, assets, prices, continuous)
        r = self.rules(case)
        wins = self.windows(case, horizon)
        settled = r.activation_probability if r.settled_activation_share is None else r.settled_activation_share
        blk._local_flex = {  # plain data for headroom, site_value, fix_capacity and bid_table
            "windows": wins, "per": r.availability_per,
            "settled": {h: (settled if w.request.activated is None else w.request.activated) for w in wins for h in w.hours},
        }
        share = {h: r.activation_probability for w in wins for h in w.hours}
        blk.activation_share = pyo.Param(blk.H, initialize=lambda b, h: share.get(h, 0.0), mutable=True)
        blk.energy_reserve_share = pyo.Param(blk.H, initialize=1.0, mutable=True)  # 1 - realised share at delivery
        if STREAM not in blk.P:
            return
        same = [(w.hours[0], h) for w in wins for h in w.hours[1:]]
        blk.same_in_window = pyo.Constraint(range(len(same)), rule=lambda b, k: (
            b.total_mw[STREAM, same[k][1]] == b.total_mw[STREAM, same[k][0]]))
        blk.within_request = pyo.Constraint(range(len(wins)), rule=lambda b, k: (
            b.total_mw[STREAM, wins[k].hours[0]] <= wins[k].request.requested_mw))

    def headroom(self, cap, blk, T, horizon: Horizon, case, assets: dict) -> dict[str, Headroom]:
        """Power up = the asset's share; energy up = what a full activation from the window's start
        has taken by the end of each MTU; expected activation = share * activation_share. The grid
        connection takes the cut: planned net import - C >= -export_limit in every window MTU."""
        hour_of, dt_h = horizon.hour_group, horizon.dt_h
        window_of = {h: k for k, w in enumerate(cap._local_flex["windows"]) for h in w.hours}
        if STREAM not in cap.P:
            return {}
        out = {}
        for a in sorted({a for a, _ in cap.AP}):
            up, energy, taken, last = [], [], 0.0, None
            for t in T:
                h = int(hour_of[t])
                up.append(cap.cap[a, STREAM, h])
                k = window_of.get(h)
                taken = 0.0 if k is None else (taken if last is not None else 0.0) + dt_h * up[-1]
                energy.append(0.0 if k is None else cap.energy_reserve_share[h] * taken)
                last = k
            expected = [cap.activation_share[int(hour_of[t])] * u for t, u in zip(T, up, strict=True)]
            zeros = [0.0] * len(up)
            out[a] = Headroom(up, zeros, energy, zeros, expected)
        parent = blk.parent_block()
        grid = None if parent is None else parent.component("grid")
        if grid is not None:
            self._grid_terms(cap, blk, grid, [t for t in T if int(hour_of[t]) in window_of], hour_of, case)
        return out

    def _grid_terms(self, cap, blk, grid, cut: list, hour_of, case) -> None:
        """The connection takes the cut (planned net import - C >= -export limit), and a window sold
        against the DSO's ``baseline_mw`` is planned at or below it (binary ``selling[k]``: nothing
        sold, no limit), so the cut is real against the DSO's reference, not an inflated plan."""
        def net(t):
            return grid.import_mw[t] - grid.export_mw[t]

        blk.export_room = pyo.Constraint(cut, rule=lambda b, t: (
            net(t) - cap.total_mw[STREAM, int(hour_of[t])] >= -case.grid.export_limit_mw))
        wins = cap._local_flex["windows"]
        ks = [k for k, w in enumerate(wins) if w.request.baseline_mw is not None]
        if not ks:
            return
        big = case.grid.import_limit_mw + case.grid.export_limit_mw + max(abs(wins[k].request.baseline_mw) for k in ks)
        blk.selling = pyo.Var(ks, within=pyo.Binary)
        blk.sold_only_if_selling = pyo.Constraint(ks, rule=lambda b, k: (
            cap.total_mw[STREAM, wins[k].hours[0]] <= wins[k].request.requested_mw * b.selling[k]))
        at = [(k, t) for k in ks for t in cut if int(hour_of[t]) in wins[k].hours]
        blk.at_most_baseline = pyo.Constraint(at, rule=lambda b, k, t: (
            net(t) <= wins[k].request.baseline_mw + big * (1 - b.selling[k])))

    def site_value(self, cap, blk, T, horizon: Horizon, case, spot: np.ndarray):
        """Expected activation (EUR, ``blk.activation_eur``): activation_share * C * dt per window MTU
        at the request's activation price, plus the day-ahead price when ``activated_energy_at_spot``."""
        if STREAM not in cap.P:
            return 0.0
        hour_of, dt_h = horizon.hour_group, horizon.dt_h
        act = {h: w.request.activation_eur_per_mwh for w in cap._local_flex["windows"] for h in w.hours}
        blk.spot = pyo.Param(T, initialize=dict(enumerate(np.asarray(spot, float))), mutable=True)
        at_spot = 1.0 if self.rules(case).activated_energy_at_spot else 0.0

        def mtu(t):
            h = int(hour_of[t])
            return cap.activation_share[h] * dt_h * (act[h] + at_spot * blk.spot[t]) * cap.total_mw[STREAM, h]

        blk.activation_eur = pyo.Expression(expr=sum(mtu(t) for t in T if int(hour_of[t]) in act))
        return blk.activation_eur

    def update_spot(self, blk, spot: np.ndarray) -> None:
        if blk.component("spot") is not None:
            for t, v in enumerate(spot):
                blk.spot[t] = float(v)

    def revenue(self, cap, blk) -> dict[str, float]:
        """EUR: the availability payment plus the expected (or, at delivery, settled) activation."""
        out = super().revenue(cap, blk)
        act = None if blk is None else blk.component("activation_eur")
        if act is not None:
            out[STREAM] = out.get(STREAM, 0.0) + float(pyo.value(act))
        return out

    def activate_at_delivery(self, cap, terms, horizon: Horizon, case, spot: np.ndarray) -> None:
        """The realised activation (the request file's ``activated``, else ``settled_activation_share``)
        on a built model: for perfect foresight, which plans knowing it, and the delivery re-plan. The
        activation share s pays and moves the energy; the energy held on top shrinks to (1 - s) of a
        full activation (the activated part is in the SoC path); the power and the grid's room stay."""
        if cap is not None and cap.component("activation_share") is not None:
            for h, share in cap._local_flex["settled"].items():
                cap.activation_share[h] = share
                cap.energy_reserve_share[h] = 1.0 - share  # the realised part is in the SoC path already

    def bid_table(self, cap, horizon: Horizon) -> pd.DataFrame:
        """``local_flex_bids.csv``: one row per hour of each window sold (the seam's columns, price 0:
        the DSO's posted price is taken) plus the request, its window, and its prices."""
        vol = self.capacity_volumes(cap)
        rows = []
        for w in cap._local_flex["windows"]:
            req = w.request
            for h in w.hours:
                v = vol.get((STREAM, h), 0.0)
                if v > 1e-9:
                    rows.append({"product": STREAM, "hour_start_utc": horizon.hour_starts[h], "volume_mw": round(v, 6),
                                 "price_eur_per_mw_h": 0.0, "request_id": req.request_id,
                                 "window_start_utc": req.start.strftime(ISO), "window_end_utc": req.end.strftime(ISO),
                                 "availability_eur_per_mw_h": req.availability_per_mw_h(cap._local_flex["per"]),
                                 "activation_eur_per_mwh": req.activation_eur_per_mwh})
        return pd.DataFrame(rows, columns=[*BID_COLUMNS, *BID_EXTRA])

    def check_bids(self, rows: pd.DataFrame, first_row: int = 1) -> list[str]:
        """The seam's row checks, plus: the request columns present, the window whole UTC hours
        holding the row's hour, prices numbers >= 0."""
        out = super().check_bids(rows, first_row)
        missing = [c for c in BID_EXTRA if c not in rows.columns]
        if missing:
            return [*out, f"{self.name} bids: missing column(s) {', '.join(missing)}"]
        for i, row in enumerate(rows[list(BID_EXTRA) + ["hour_start_utc"]].itertuples(index=False), start=first_row):
            out += _check_bid_row(f"{self.name} bid row {i}", *row)
        return out


def _check_bid_row(where: str, request_id, start, end, avail, act, hour) -> list[str]:
    out = [] if str(request_id).strip() else [f"{where}: request_id is empty"]
    ts = {}
    for col, text in (("window_start_utc", start), ("window_end_utc", end)):
        t = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        if pd.isna(t) or not str(text).endswith("Z") or t != t.floor("h"):
            out.append(f"{where}: {col} {text!r} is not a UTC hour start (e.g. 2024-06-12T15:00:00Z)")
        else:
            ts[col] = t
    h = pd.to_datetime(hour, utc=True, errors="coerce", format="ISO8601")
    if len(ts) == 2 and not pd.isna(h) and not ts["window_start_utc"] <= h < ts["window_end_utc"]:
        out.append(f"{where}: hour_start_utc is not inside the window")
    for col, text in (("availability_eur_per_mw_h", avail), ("activation_eur_per_mwh", act)):
        x = pd.to_numeric(pd.Series([text]), errors="coerce").to_numpy(float)[0]
        if not np.isfinite(x) or x < 0:
            out.append(f"{where}: {col} {text!r} is not a number >= 0")
    return out
