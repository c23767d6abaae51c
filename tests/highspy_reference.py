"""An independent formulation of bidopt's one-day site optimisation, written straight against highspy.

Nothing here uses Pyomo or bidopt's model code: the inputs are plain arrays and numbers, the
constraint matrix is assembled with numpy as (row, column, value) triplets, converted to row-wise
sparse form by hand and handed to HiGHS in one ``passModel`` call. Tests compare bidopt's optimum to
this one; ``benchmarks/plan_day.py`` times it against bidopt.

The problem (maximise, EUR), per MTU t = 0..n-1 of length dt hours:

    variables   imp_t in [0, I], exp_t in [0, E]                    grid import / export (MW)
                c_t in [0, Pc], d_t in [0, Pd], s_t in [smin, smax]  battery charge, discharge, SoC at
                                                                     the end of MTU t (final MTU: s >= s_final)
                p_t in [0, g_t]                                      PV output if curtailable
                u_t, z_t in {0, 1}                                   optional exclusivity binaries
                tau_k >= 0, e_ki >= 0                                top-N peak terms
    balance     imp_t - exp_t - c_t + d_t + p_t = L_t                L_t = fixed net load (load - fixed PV)
    SoC         s_t - s_{t-1} - eta_c dt c_t + dt/eta_d d_t = 0      s_{-1} = s_initial
    exclusive   c_t <= Pc u_t,  d_t <= Pd (1 - u_t);   imp_t <= I z_t,  exp_t <= E (1 - z_t)
    peaks       e_ki >= w_ki * mean(imp over hour i) - tau_k         (and e_kj >= prior_kj - tau_k)
    objective   sum_t (v_t exp_t - c^imp_t imp_t) dt - deg dt sum_t (c_t + d_t)
                - sum_k rate_k / N_k (N_k tau_k + sum_i e_ki - sum of top-N prior_k) + constant

The sum of the N largest of a set of values is min over tau >= 0 of N tau + sum_i max(v_i - tau, 0)
(tau >= 0 pads with zeros when fewer than N values exist; all values are >= 0 here).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

INF = highspy.kHighsInf


@dataclass
class BatteryParams:
    charge_mw: float
    discharge_mw: float
    eta_charge: float
    eta_discharge: float
    soc_min_mwh: float
    soc_max_mwh: float
    soc_initial_mwh: float
    soc_final_mwh: float | None = None  # lower bound on the SoC at the end of the horizon
    degradation_eur_per_mwh: float = 0.0  # per MWh of throughput (charged + discharged)
    exclusive: bool = False  # binaries: never charge and discharge in the same MTU


@dataclass
class PeakTerm:
    """rate/N times the sum of the N largest weighted hourly mean imports among ``hours``."""

    hours: Sequence[Sequence[int]]  # MTU indices of each hour that counts
    weights: Sequence[float]  # weight of each of those hours
    n: int
    rate_eur_per_mw: float
    prior_mw: Sequence[float] = ()  # peaks already set; the charge they imply is subtracted


@dataclass
class ReferenceResult:
    objective_eur: float
    status: str
    import_mw: np.ndarray
    export_mw: np.ndarray
    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    soc_mwh: np.ndarray
    pv_mw: np.ndarray
    mip_gap: float
    is_mip: bool
    build_seconds: float
    solve_seconds: float
    n_cols: int
    n_rows: int
    extra: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0  # process CPU time of build + solve (less moved by other jobs than wall time)


class _Builder:
    """Columns with bounds/cost/integrality, rows as triplets; everything numpy arrays."""

    def __init__(self):
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.n_cols = 0
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.rlo: list[np.ndarray] = []
        self.rhi: list[np.ndarray] = []
        self.n_rows = 0

    def cols(self, n: int, lo, hi, cost=0.0, integer: bool = False) -> np.ndarray:
        idx = np.arange(self.n_cols, self.n_cols + n)
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (n,)).copy())
        self.integer.append(np.full(n, integer))
        self.n_cols += n
        return idx

    def rows(self, n: int, lo, hi) -> np.ndarray:
        idx = np.arange(self.n_rows, self.n_rows + n)
        self.rlo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self.rhi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        self.n_rows += n
        return idx

    def coef(self, rows, cols, vals) -> None:
        rows, cols = np.asarray(rows), np.asarray(cols)
        vals = np.broadcast_to(np.asarray(vals, float), rows.shape)
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(vals.ravel().copy())

    def lp(self, offset: float) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.num_row_ = self.n_rows
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lo)
        lp.col_upper_ = np.concatenate(self.hi)
        lp.row_lower_ = np.concatenate(self.rlo)
        lp.row_upper_ = np.concatenate(self.rhi)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.offset_ = float(offset)
        r = np.concatenate(self.r).astype(np.int64)
        c = np.concatenate(self.c).astype(np.int64)
        v = np.concatenate(self.v)
        keep = v != 0.0
        r, c, v = r[keep], c[keep], v[keep]
        order = np.lexsort((c, r))  # row-wise, columns ascending within a row
        r, c, v = r[order], c[order], v[order]
        start = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=self.n_rows), out=start[1:])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = self.n_cols
        lp.a_matrix_.num_row_ = self.n_rows
        lp.a_matrix_.start_ = start.astype(np.int32)
        lp.a_matrix_.index_ = c.astype(np.int32)
        lp.a_matrix_.value_ = v
        integer = np.concatenate(self.integer)
        if integer.any():
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer
            ]
        return lp


def solve(
    import_cost_eur_per_mwh,
    export_value_eur_per_mwh,
    dt_h: float,
    import_limit_mw: float,
    export_limit_mw: float,
    battery: BatteryParams | None = None,
    net_load_mw=None,
    pv_available_mw=None,
    pv_curtailable: bool = True,
    peaks: Sequence[PeakTerm] = (),
    constant_eur: float = 0.0,
    grid_exclusive: bool = False,
    mip_rel_gap: float = 1e-9,
    time_limit_s: float | None = None,
    threads: int | None = None,
) -> ReferenceResult:
    """Build and solve the day; returns the optimum (EUR, maximised, incl. ``constant_eur``)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    ci = np.asarray(import_cost_eur_per_mwh, float)
    cx = np.asarray(export_value_eur_per_mwh, float)
    n = len(ci)
    if len(cx) != n:
        raise ValueError("import cost and export value need the same length")
    load = np.zeros(n) if net_load_mw is None else np.asarray(net_load_mw, float).copy()
    pv = None if pv_available_mw is None else np.clip(np.asarray(pv_available_mw, float), 0.0, None)
    if pv is not None and not pv_curtailable:
        load = load - pv  # fixed output: part of the net load

    b = _Builder()
    imp = b.cols(n, 0.0, import_limit_mw, -ci * dt_h)
    exp = b.cols(n, 0.0, export_limit_mw, cx * dt_h)
    # balance: imp - exp - c + d + p = load
    bal = b.rows(n, load, load)
    b.coef(bal, imp, 1.0)
    b.coef(bal, exp, -1.0)

    if battery is not None:
        bt = battery
        deg = -bt.degradation_eur_per_mwh * dt_h
        ch = b.cols(n, 0.0, bt.charge_mw, deg)
        dis = b.cols(n, 0.0, bt.discharge_mw, deg)
        soc_hi = np.full(n, bt.soc_max_mwh)
        soc_lo = np.full(n, bt.soc_min_mwh)
        if bt.soc_final_mwh is not None:
            soc_lo[-1] = max(bt.soc_min_mwh, bt.soc_final_mwh)
        soc = b.cols(n, soc_lo, soc_hi)
        b.coef(bal, ch, -1.0)
        b.coef(bal, dis, 1.0)
        # s_t - s_{t-1} - eta_c dt c_t + dt/eta_d d_t = 0   (t = 0: = s_initial)
        rhs = np.zeros(n)
        rhs[0] = bt.soc_initial_mwh
        dyn = b.rows(n, rhs, rhs)
        b.coef(dyn, soc, 1.0)
        b.coef(dyn[1:], soc[:-1], -1.0)
        b.coef(dyn, ch, -bt.eta_charge * dt_h)
        b.coef(dyn, dis, dt_h / bt.eta_discharge)
        if bt.exclusive:
            u = b.cols(n, 0.0, 1.0, integer=True)
            r1 = b.rows(n, -INF, 0.0)  # c - Pc u <= 0
            b.coef(r1, ch, 1.0)
            b.coef(r1, u, -bt.charge_mw)
            r2 = b.rows(n, -INF, bt.discharge_mw)  # d + Pd u <= Pd
            b.coef(r2, dis, 1.0)
            b.coef(r2, u, bt.discharge_mw)
    else:
        ch = dis = soc = None

    if pv is not None and pv_curtailable:
        pvc = b.cols(n, 0.0, pv)
        b.coef(bal, pvc, 1.0)
    else:
        pvc = None

    if grid_exclusive:
        z = b.cols(n, 0.0, 1.0, integer=True)
        r1 = b.rows(n, -INF, 0.0)
        b.coef(r1, imp, 1.0)
        b.coef(r1, z, -import_limit_mw)
        r2 = b.rows(n, -INF, export_limit_mw)
        b.coef(r2, exp, 1.0)
        b.coef(r2, z, export_limit_mw)

    offset = float(constant_eur)
    for pk in peaks:
        k = len(pk.hours)
        if k == 0 and not pk.prior_mw:
            continue
        scale = pk.rate_eur_per_mw / pk.n
        tau = b.cols(1, 0.0, INF, -scale * pk.n)
        if k:
            exc = b.cols(k, 0.0, INF, -scale)
            rows = b.rows(k, 0.0, INF)  # e_i + tau - w_i/|h_i| sum imp >= 0
            b.coef(rows, exc, 1.0)
            b.coef(rows, np.full(k, tau[0]), 1.0)
            sizes = np.array([len(h) for h in pk.hours])
            rr = np.repeat(rows, sizes)
            tt = np.concatenate([np.asarray(h, dtype=np.int64) for h in pk.hours])
            ww = np.repeat(-np.asarray(pk.weights, float) / sizes, sizes)
            b.coef(rr, imp[tt], ww)
        if pk.prior_mw:
            pr = np.asarray(pk.prior_mw, float)
            exc_p = b.cols(len(pr), 0.0, INF, -scale)
            rows = b.rows(len(pr), pr, INF)  # e_j + tau >= prior_j
            b.coef(rows, exc_p, 1.0)
            b.coef(rows, np.full(len(pr), tau[0]), 1.0)
            offset += scale * float(np.sort(pr)[::-1][: pk.n].sum())

    lp = b.lp(offset)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    cpu = time.process_time() - c0

    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"reference model not solved to optimality: {h.modelStatusToString(status)}")
    x = np.asarray(h.getSolution().col_value)
    info = h.getInfo()
    is_mip = bool(np.concatenate(b.integer).any())

    def take(idx):
        return np.zeros(n) if idx is None else x[idx]

    pv_out = take(pvc) if pvc is not None else (np.zeros(n) if pv is None else pv.copy())
    return ReferenceResult(
        objective_eur=float(info.objective_function_value),
        status=h.modelStatusToString(status),
        import_mw=x[imp],
        export_mw=x[exp],
        charge_mw=take(ch),
        discharge_mw=take(dis),
        soc_mwh=take(soc),
        pv_mw=pv_out,
        mip_gap=float(info.mip_gap) if is_mip else 0.0,
        is_mip=is_mip,
        build_seconds=t1 - t0,
        solve_seconds=t2 - t1,
        cpu_seconds=cpu,
        n_cols=b.n_cols,
        n_rows=b.n_rows,
    )


def evaluate(
    import_mw,
    export_mw,
    charge_mw,
    discharge_mw,
    import_cost_eur_per_mwh,
    export_value_eur_per_mwh,
    dt_h: float,
    degradation_eur_per_mwh: float = 0.0,
    peaks: Sequence[PeakTerm] = (),
    constant_eur: float = 0.0,
) -> float:
    """The objective of a given schedule, computed directly (no solver): for cross-checks."""
    imp, exp = np.asarray(import_mw, float), np.asarray(export_mw, float)
    val = float(
        np.sum(np.asarray(export_value_eur_per_mwh) * exp - np.asarray(import_cost_eur_per_mwh) * imp) * dt_h
    )
    val -= degradation_eur_per_mwh * dt_h * float(np.sum(np.asarray(charge_mw) + np.asarray(discharge_mw)))
    for pk in peaks:
        vals = [
            w * float(np.mean(imp[np.asarray(hh, dtype=np.int64)]))
            for hh, w in zip(pk.hours, pk.weights, strict=True)
        ]
        vals += list(pk.prior_mw)
        top = sorted(vals, reverse=True)[: pk.n]
        prior = sorted(pk.prior_mw, reverse=True)[: pk.n]
        val -= pk.rate_eur_per_mw / pk.n * (sum(top) - sum(prior))
    return val + constant_eur
