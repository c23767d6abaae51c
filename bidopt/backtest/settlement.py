"""Realised settlement of a backtested day: imbalance volumes and money, and monthly tariff bills.

Imbalance (MARKET_RULES 5): per imbalance settlement period (ISP) the site's imbalance is the energy
it took from the grid beyond its traded position,

    volume_i = sum over the ISP of (actual_mw - planned_mw) * hours      (MWh; + = short, - = long)

where ``planned_mw`` is the net position bought in the markets (MW, + = bought) and ``actual_mw`` the
metered net grid import (MW, + = import). ISPs are 60 min before 22 May 2023 00:00 CEST and 15 min
from then [S31]; MTU values are spread evenly over their MTU (an hourly MTU is four equal quarters)
and summed into ISPs, so a 15-min MTU settles in a 60-min ISP and a 60-min MTU in 15-min ISPs.

Money per ISP (EUR; + = earned by the site), ``P`` the imbalance price, ``DA`` the day-ahead price:

    single price (from 1 Nov 2021 00:00 CET [S30]):  -volume * P
    two-price (before):  short pays max(DA, up price), long receives min(DA, down price):
                         -max(volume, 0) * max(DA, up) + max(-volume, 0) * min(DA, down)
    1½-price (``model = "one_and_half"``, never chosen by ``"auto"``):  with M = (DA + P) / 2,
                         -max(volume, 0) * max(P, M) + max(-volume, 0) * min(P, M)

minus ``fee_eur_per_mwh * |volume|`` (an imbalance fee exists, level UNVERIFIED: default 0). The
two-price rule is the pre-Nov-2021 Nordic *production* balance; consumption balances were then
settled at one price (Energinet's consumption price): set ``model = "single"`` for such a site.
Two-price settlement never pays more than settling the deviation at DA.

The 1½-price model is the Norwegian-Swedish proposal in Svenska kraftnät's 2003 report (domain notes
7.2, validation case V11): "in essence a two-price model where the less favourable price, instead of
the spot price, is the average of the spot and the regulating price". The ISP's regulating price is
the imbalance price P of its dominating direction: P > DA is an up-regulation ISP, P < DA a
down-regulation one, P = DA none (also the tie of equal up and down volumes, 004 Figure 3 (c)). The
imbalance in the wrong direction (short in an up ISP, long in a down ISP) pays or gets P, as under
two-price; the right direction gets M = (DA + P) / 2 instead of DA. So for the right direction 1½
pays exactly half-way between two-price (DA) and one price (P), and nothing changes when P = DA.
(The up and down columns are not read: with up and down regulation in one ISP, P already says which
direction dominated.) An unknown ``model`` is an ``InputError``.

Prices (``[markets.imbalance]``): a balancing/imbalance price file (``bidopt.data.balancing_prices``)
where it covers the period, else a PROXY: DA +- ``proxy_penalty_eur_per_mwh``. A proxy knows no
system direction, so its ISPs always settle two-price (short pays DA + penalty, long gets DA -
penalty) whatever ``model`` says. Default penalty 10 EUR/MWh (UNVERIFIED for Sweden and after 2021):
in the DK2 2021 file against DK2 day-ahead prices, the up price averaged 9.3 EUR/MWh above DA and
the down price 10.9 below, i.e. about what a deviation uncorrelated with the system cost under
two-price rules. (The intraday re-planner's 50 EUR/MWh is a planning deterrent, not a price.)

Monthly tariff bills: ``monthly_tariff_bills`` applies each tariff's ``bill_eur`` to each local month
of realised grid flows, ex VAT and with ``bidopt.tariffs.retail.vat_factor`` (1 when the site does
not pay VAT), to check that daily tariff attributions sum to the realised bill.

FCR capacity (``settle_fcr``, MARKET_RULES 3.2): each bid of the day (MW, EUR/MW/h) is accepted
whole when its price is at or below the realised clearing price of its product, hour and auction
(``[prices] <product>``, auction 2 ``<product>_auction2``), and paid for one hour

    pay-as-bid (delivery days before 1 Feb 2024):  volume * bid price
    marginal   (from 1 Feb 2024):                  volume * clearing price

under the rule in force on the delivery day (``bidopt/defaults/fcr_rules.toml``, or the case's
``[markets.fcr] pricing``). Before 2024 the published hourly price is an average of the accepted
bids (MARKET_RULES 3.5, "pay-as-bid averages"), not the highest accepted bid: taking it as the
acceptance threshold rejects bids priced between the average and the marginal accepted bid, so the
pay-as-bid settlement is on the low side.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from bidopt.data import balancing_prices as bp
from bidopt.data.prices import TIMESTAMP
from bidopt.errors import InputError
from bidopt.horizon import Horizon
from bidopt.site import tariff_labels
from bidopt.time import STOCKHOLM, utc_index

VOLUME = "imbalance_mwh"
MONEY = "imbalance_eur"
DAYAHEAD = "dayahead_price_eur_per_mwh"
PROXY = "proxy"
QUARTER = pd.Timedelta(minutes=15)
LEGAL_MINUTES = (15, 30, 60)

from bidopt.backtest.fcr_settlement import (  # noqa: E402,F401  (re-exported: settlement.settle_fcr etc.)
    PAY_AS_BID_NOTE,
    fcr_capacity_by_product,
    fcr_clearing_prices,
    fcr_summary,
    replace_fcr_capacity,
    settle_fcr,
)
from bidopt.markets.imbalance import MODELS, ImbalanceRules, Model, rules  # noqa: E402,F401  (re-exported)


def _switch(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(STOCKHOLM).tz_convert("UTC")


def isp_minutes(index, r: ImbalanceRules | None = None) -> np.ndarray:
    """ISP length (minutes) of the ISP each UTC timestamp falls in."""
    r = r or ImbalanceRules()
    idx = utc_index(index)
    if r.isp_minutes is not None:
        return np.full(len(idx), r.isp_minutes, dtype=int)
    return np.where(idx >= _switch(r.isp_15min_from), 15, 60)


def settlement_model(index, model: Model | None = None, r: ImbalanceRules | None = None) -> np.ndarray:
    """``"single"``, ``"two_price"`` or ``"one_and_half"`` per timestamp; ``"auto"`` (or None: the
    rules' model) by date. Any other name is an ``InputError`` (field ``model``)."""
    r = r or ImbalanceRules()
    model = model or r.model
    if model not in MODELS:
        raise InputError(None, "model", f"unknown imbalance settlement model {model!r} "
                                        f"(known: {', '.join(MODELS)})")
    idx = utc_index(index)
    if model != "auto":
        return np.full(len(idx), model, dtype=object)
    return np.where(idx >= _switch(r.single_price_from), "single", "two_price").astype(object)


# ------------------------------------------------------------------------------------ time grids


NS_PER_MIN = 60_000_000_000


def _ffill(x: np.ndarray) -> np.ndarray:
    pos = np.where(np.isnan(x), 0, np.arange(len(x)))
    np.maximum.accumulate(pos, out=pos)
    return x[pos]


def _minutes(index, default: int | None, what: str) -> np.ndarray:
    """Length (minutes) of each period of a sorted index: the step to the next timestamp where that
    is 15, 30 or 60 min; across a gap or at the end, the previous period's length (else the next's,
    else ``default``)."""
    idx = utc_index(index)
    ns = idx.as_unit("ns").asi8
    d = np.diff(ns) / NS_PER_MIN
    if (d <= 0).any():
        raise ValueError(f"{what}: timestamps must be unique and ascending")
    legal = np.isin(d, LEGAL_MINUTES)
    odd = (d < 60) & ~legal
    if odd.any():
        i = int(np.argmax(odd))
        raise ValueError(f"{what}: irregular step of {d[i]:g} min after {idx[i]}")
    dur = np.r_[np.where(legal, d, np.nan), np.nan]
    dur = _ffill(_ffill(dur)[::-1])[::-1]  # forward, then backward for leading gaps
    if np.isnan(dur).any():
        if default is None:
            raise ValueError(f"{what}: cannot tell the period length of a single value; give mtu_minutes")
        dur = np.where(np.isnan(dur), default, dur)
    out = dur.astype(np.int64)
    off = (ns % (out * NS_PER_MIN)) != 0
    if off.any():
        i = int(np.argmax(off))
        raise ValueError(f"{what}: {idx[i]} is not the start of a {out[i]}-min period")
    return out


def _expand(ns: np.ndarray, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quarter-hour starts (ns) of the periods [ns_i, ns_i + minutes_i), and each one's period."""
    reps = minutes // 15
    owner = np.repeat(np.arange(len(ns)), reps)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(reps) - reps, reps)
    return ns[owner] + offset * QUARTER.value, owner


def _quarters(s: pd.Series, default: int | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(quarter-hour starts in ns, values) of a series whose value holds over each of its periods."""
    s = s.sort_index() if not utc_index(s.index).is_monotonic_increasing else s
    ns = utc_index(s.index).as_unit("ns").asi8
    q, owner = _expand(ns, _minutes(s.index, default, what))
    return q, s.to_numpy(dtype=float)[owner]


def _on_periods(s: pd.Series, index, minutes: np.ndarray, default: int | None, what: str) -> np.ndarray:
    """Time-weighted mean of ``s`` over each period [index_i, index_i + minutes_i); NaN where ``s``
    does not cover the whole period. ``default``: the period length of a one-value ``s``."""
    q, vals = _quarters(s, default, what)
    wanted, owner = _expand(utc_index(index).as_unit("ns").asi8, np.asarray(minutes, dtype=np.int64))
    pos = np.clip(np.searchsorted(q, wanted), 0, max(len(q) - 1, 0))
    found = (pos < len(q)) & (q[pos] == wanted) if len(q) else np.zeros(len(wanted), bool)
    got = np.where(found, vals[pos] if len(q) else np.nan, np.nan)
    sums = np.bincount(owner, weights=got, minlength=len(minutes))  # NaN if any quarter is missing
    return sums / np.maximum(np.asarray(minutes) // 15, 1)


# --------------------------------------------------------------------------------------- volumes


def imbalance_volumes(
    planned_mw: pd.Series,
    actual_mw: pd.Series,
    r: ImbalanceRules | None = None,
    *,
    mtu_minutes: int | None = None,
) -> pd.Series:
    """Imbalance per ISP in MWh (+ = short: the site took more than it bought; - = long).

    ``planned_mw`` (net position bought, MW) and ``actual_mw`` (metered net import, MW) are per MTU
    on UTC indexes, at the same or different resolutions (15/30/60 min) but covering the same time.
    ``mtu_minutes`` is needed only for a one-value series. The result is indexed by ISP start; an ISP
    the series cover only in part holds the energy of the part they cover.
    """
    r = r or ImbalanceRules()
    q_plan, plan = _quarters(pd.Series(planned_mw, dtype=float), mtu_minutes, "planned_mw")
    q_act, act = _quarters(pd.Series(actual_mw, dtype=float), mtu_minutes, "actual_mw")
    if not np.array_equal(q_plan, q_act):
        diff = np.setxor1d(q_plan, q_act)
        first = pd.Timestamp(int(diff[0]), tz="UTC") if len(diff) else "the same number of quarter-hours"
        raise ValueError(f"planned_mw and actual_mw cover different times (first difference at {first})")
    bad = np.isnan(plan) | np.isnan(act)
    if bad.any():
        raise ValueError(f"missing power value at {pd.Timestamp(int(q_plan[np.argmax(bad)]), tz='UTC')}")
    energy = (act - plan) * 0.25
    width = isp_minutes(pd.to_datetime(q_plan, unit="ns", utc=True), r).astype(np.int64) * NS_PER_MIN
    out = pd.Series(energy).groupby(q_plan - q_plan % width).sum()  # ISP start of each quarter-hour
    starts = pd.to_datetime(out.index.to_numpy(), unit="ns", utc=True).rename(TIMESTAMP)
    return pd.Series(out.to_numpy(), index=starts, name=VOLUME)


# ---------------------------------------------------------------------------------------- money


def settle_imbalance(
    volumes_mwh: pd.Series,
    prices: pd.DataFrame | pd.Series,
    dayahead: pd.Series | None = None,
    model: Model | None = None,
    *,
    r: ImbalanceRules | None = None,
) -> pd.Series:
    """Imbalance money per ISP in EUR (+ = earned by the site) for ``volumes_mwh`` (+ = short).

    ``prices``: a Series of imbalance prices, or a DataFrame with ``imbalance_price_eur_per_mwh`` and
    optionally ``up_price_eur_per_mwh``/``down_price_eur_per_mwh`` (default: the imbalance price),
    ``proxy`` (bool; proxy rows settle two-price) and ``dayahead_price_eur_per_mwh`` (used when
    ``dayahead`` is None), as ``imbalance_prices`` returns; any resolution: coarser prices are held
    over an ISP, finer ones averaged (a one-value series counts as hourly unless
    ``prices.attrs["period_minutes"]`` says otherwise). ``model``: None = the rules' model (default
    ``"auto"``: by date; ``"one_and_half"``: the 1½-price model; any other name: ``InputError``).
    ``r`` gives ISP lengths, model dates and the fee (default rules).
    """
    r = r or ImbalanceRules()
    vol = pd.Series(volumes_mwh, dtype=float)
    idx = utc_index(vol.index)
    kinds = settlement_model(idx, model, r)  # checks the name before any other work
    frame = prices.to_frame(bp.IMBALANCE) if isinstance(prices, pd.Series) else prices
    if bp.IMBALANCE not in frame:
        raise ValueError(f"prices need a {bp.IMBALANCE} column (have {', '.join(map(str, frame.columns))})")
    if dayahead is None:
        if DAYAHEAD not in frame:
            raise ValueError("no day-ahead prices: pass dayahead or a prices frame with " + DAYAHEAD)
        dayahead = frame[DAYAHEAD]
    isp = isp_minutes(idx, r)
    single = frame.attrs.get("period_minutes", 60)  # the period of a one-value price series

    def on_isps(s: pd.Series, what: str) -> np.ndarray:
        v = _on_periods(pd.Series(s, dtype=float), idx, isp, single, what)
        if np.isnan(v).any():
            raise ValueError(f"{what}: no value for the ISP starting {idx[int(np.argmax(np.isnan(v)))]}")
        return v

    p = on_isps(frame[bp.IMBALANCE], bp.IMBALANCE)
    up = on_isps(frame[bp.UP], bp.UP) if bp.UP in frame else p
    down = on_isps(frame[bp.DOWN], bp.DOWN) if bp.DOWN in frame else p
    da = on_isps(dayahead, "dayahead")
    proxy = on_isps(frame[PROXY].astype(float), PROXY) > 0 if PROXY in frame else np.zeros(len(idx), bool)
    two = (kinds == "two_price") | proxy
    half = (kinds == "one_and_half") & ~proxy

    v = vol.to_numpy()
    short, long = np.maximum(v, 0.0), np.maximum(-v, 0.0)
    single_money = -v * p
    two_money = -short * np.maximum(da, up) + long * np.minimum(da, down)
    mid = 0.5 * (da + p)  # the right direction's 1½ price; the wrong direction's is p
    half_money = -short * np.maximum(p, mid) + long * np.minimum(p, mid)
    money = np.select([two, half], [two_money, half_money], single_money)
    money = money - r.fee_eur_per_mwh * np.abs(v) + 0.0  # no -0.0
    return pd.Series(money, index=idx.rename(TIMESTAMP), name=MONEY)


# --------------------------------------------------------------------------------------- prices


def imbalance_prices(case, index, dayahead=None) -> tuple[pd.DataFrame, str]:
    """Imbalance, up and down prices (EUR/MWh) on the UTC MTUs ``index``, and a label saying where
    they come from. Columns: ``imbalance_price_eur_per_mwh``, ``up_price_eur_per_mwh``,
    ``down_price_eur_per_mwh``, ``dayahead_price_eur_per_mwh``, ``proxy`` (bool).

    From ``[markets.imbalance] prices`` where the file covers an MTU; elsewhere (or without a file)
    the proxy DA +- penalty (imbalance price = DA), unless ``proxy_outside_file = false``, which makes
    an uncovered MTU an ``InputError``. The label starts with ``"PROXY"`` whenever a proxy is used.
    ``dayahead`` (EUR/MWh per MTU of ``index``) defaults to the case's day-ahead prices.
    """
    from bidopt.data import sources

    r = rules(case)
    idx = utc_index(index).rename(TIMESTAMP)
    minutes = _minutes(idx, case.case.mtu_minutes, "index")
    if dayahead is None:
        da = sources.dayahead_prices(case, idx)
    elif isinstance(dayahead, pd.Series):
        da = _on_periods(dayahead, idx, minutes, case.case.mtu_minutes, "dayahead")
        if np.isnan(da).any():
            raise ValueError(f"dayahead: no price for {idx[int(np.argmax(np.isnan(da)))]}")
    else:
        da = np.asarray(dayahead, dtype=float)
        if da.shape != (len(idx),):
            raise ValueError(f"dayahead: {da.shape[0]} values for {len(idx)} MTUs")
    pen = r.proxy_penalty_eur_per_mwh
    out = pd.DataFrame(
        {bp.IMBALANCE: da, bp.UP: da + pen, bp.DOWN: da - pen, DAYAHEAD: da, PROXY: True}, index=idx
    )
    out.attrs["period_minutes"] = int(minutes[-1]) if len(minutes) else case.case.mtu_minutes
    proxy_text = f"day-ahead price +- {pen:g} EUR/MWh, settled two-price"
    if r.prices is None:
        return out, f"PROXY imbalance prices: {proxy_text} (no [markets.imbalance] prices file)"

    path = case.resolve(r.prices)
    file = bp.cached_balancing_prices(path, area=r.area)
    period = file.attrs.get("period_minutes", 60)
    cols = {c: _on_periods(file[c], idx, minutes, period, c) for c in bp.PRICE_COLUMNS}
    covered = ~np.isnan(cols[bp.IMBALANCE])
    span = f"file covers {file.index[0]:%Y-%m-%dT%H:%MZ} .. {file.index[-1]:%Y-%m-%dT%H:%MZ}"
    if not covered.all() and not r.proxy_outside_file:
        first = idx[int(np.argmax(~covered))]
        raise InputError(path, "markets.imbalance.prices", f"no imbalance price for {first:%Y-%m-%dT%H:%MZ} ({span})")
    for c, v in cols.items():
        out.loc[covered, c] = v[covered]
    out[PROXY] = ~covered
    area = file.attrs.get("area")
    source = f"{Path(path).name}" + (f" (area {area})" if area else "")
    if covered.all():
        return out, f"imbalance prices from {source}"
    if not covered.any():
        return out, f"PROXY imbalance prices: {proxy_text} ({source}: {span})"
    return out, (f"PROXY imbalance prices for {int((~covered).sum())} of {len(idx)} MTUs: {proxy_text}; "
                 f"the rest from {source} ({span})")


def settle_case(case, planned_mw: pd.Series, actual_mw: pd.Series, dayahead=None) -> tuple[pd.DataFrame, str]:
    """Everything per ISP for a case: volume, prices, model, money; and the price-source label.

    ``dayahead`` (EUR/MWh per MTU of ``planned_mw``'s index) defaults to the case's day-ahead prices.
    """
    r = rules(case)
    index = utc_index(planned_mw.index)
    prices, label = imbalance_prices(case, index, dayahead)
    vol = imbalance_volumes(planned_mw, actual_mw, r, mtu_minutes=case.case.mtu_minutes)
    money = settle_imbalance(vol, prices, None, None, r=r)
    isp = isp_minutes(vol.index, r)
    out = pd.DataFrame({VOLUME: vol, "isp_minutes": isp}, index=vol.index)
    for c in (bp.IMBALANCE, bp.UP, bp.DOWN, DAYAHEAD):
        out[c] = _on_periods(prices[c], vol.index, isp, case.case.mtu_minutes, c)
    out[PROXY] = _on_periods(prices[PROXY].astype(float), vol.index, isp, case.case.mtu_minutes, PROXY) > 0
    out["model"] = np.where(out[PROXY], "two_price", settlement_model(vol.index, None, r))
    out[MONEY] = money
    return out, label


# ----------------------------------------------------------------------------------- tariff bills


def monthly_tariff_bills(case, import_mw: pd.Series, export_mw: pd.Series | None = None) -> pd.DataFrame:
    """Realised bill per local month and tariff, from grid flows per MTU (MW, UTC index).

    One row per (month, tariff) in case order: ``month`` ("YYYY-MM", local time), ``tariff`` (name or
    kind), ``bill_ex_vat_eur`` (the tariff's ``bill_eur`` on that month's MTUs), ``vat_factor``
    (``retail.vat_factor`` on the month: 1 + VAT if the site pays VAT, else 1), ``bill_incl_vat_eur``,
    and ``complete_month`` (the flows cover the whole local month: only then is a monthly charge the
    month's real bill). A planning state such as a peak tariff's ``peaks_so_far_mw`` is ignored: the
    bill is that of the flows given.
    """
    from bidopt.tariffs.retail import vat_factor

    imp = pd.Series(import_mw, dtype=float)
    imp.index = utc_index(imp.index)
    exp = None
    if export_mw is not None:
        exp = pd.Series(export_mw, dtype=float)
        exp.index = utc_index(exp.index)
        if not exp.index.equals(imp.index):
            raise ValueError("import_mw and export_mw must have the same index")
    tz = case.case.timezone
    idx = pd.DatetimeIndex(imp.index)
    minutes = _minutes(idx, case.case.mtu_minutes, "import_mw")
    local = idx.tz_convert(tz)
    keys = (local.year * 100 + local.month).to_numpy()
    names = tariff_labels(case)
    rows = []
    for key in dict.fromkeys(keys):
        sel = keys == key
        h = Horizon(idx[sel], tz)
        y, m = divmod(int(key), 100)
        start = pd.Timestamp(dt.date(y, m, 1)).tz_localize(tz)
        end = pd.Timestamp(dt.date(y + m // 12, m % 12 + 1, 1)).tz_localize(tz)
        complete = bool(np.isclose(minutes[sel].sum(), (end - start).total_seconds() / 60))
        f = vat_factor(case, h)
        for t, name in zip(case.tariffs, names, strict=True):
            t = _without_state(t)
            bill = float(t.bill_eur(case, imp[sel], None if exp is None else exp[sel]))
            rows.append({"month": f"{y:04d}-{m:02d}", "tariff": name, "bill_ex_vat_eur": bill, "vat_factor": f,
                         "bill_incl_vat_eur": bill * f, "complete_month": complete})
    cols = ["month", "tariff", "bill_ex_vat_eur", "vat_factor", "bill_incl_vat_eur", "complete_month"]
    return pd.DataFrame(rows, columns=cols)


def _without_state(tariff):
    if getattr(tariff, "peaks_so_far_mw", None):
        return tariff.model_copy(update={"peaks_so_far_mw": []})
    return tariff
