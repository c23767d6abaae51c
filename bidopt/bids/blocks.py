"""Day-ahead block orders in the stochastic bidding model (MARKET_RULES 1.4, 1.6).

The case lists block *candidates* (``[[bidding.blocks]]``, ``BlockCandidate``); the bidding model
(``bidopt.bids.stochastic.BiddingModel``, hook ``build``) decides which to submit and with what
volume, and the exporter (``block_orders``) writes the submitted ones as Auction API block orders
and linked exclusive-group orders.

Model, for candidate j with periods P_j (consecutive MTUs), price b_j, side sigma_j (+1 buy,
-1 sell), and price scenarios s (prices lambda_{s,t}, probabilities pi_s):

- submit z_j in {0, 1}; volume y_j in [0, Vmax_j] for regular and curtailable blocks, one
  y_{j,t} per period for profile blocks, with y <= Vmax_j z_j and y >= lot z_j (a submitted block
  has at least one 0.1 MW lot in every period, so it survives rounding to the lot);
- acceptance in scenario s is a known constant A_{j,s} (price-taker): with
  avg_{j,s} = (1/|P_j|) sum_{t in P_j} lambda_{s,t}, a sell block is in the money when
  b_j <= avg_{j,s}, a buy block when b_j >= avg_{j,s}. At equality the exchange may do either; here
  (within 1e-9 EUR/MWh) the block counts as in the money. The simple average is used for profile
  blocks too: Nord Pool's weighting for profile blocks (volume-weighted?) is **UNVERIFIED**;
- curtailable blocks: a price-taker's in-the-money block is accepted in full. The minimum acceptance
  ratio only matters when the market itself has to curtail the block (it sets the block's price),
  which a price-taker does not model; the MAR is exported as given;
- linked blocks: a child may be submitted only with its parent (z_child <= z_parent) and is
  accepted only when its own rule holds AND its parent is accepted;
- exclusive groups: at most one block of a group is accepted per scenario: of the submitted
  in-the-money blocks, the one with the largest surplus per MWh times its number of periods
  (|b_j - avg_{j,s}| |P_j|, a volume-independent proxy for the welfare Euphemia maximises; ties go
  to the candidate listed first). With the better in-the-money blocks B_{j,s} of j's group this is
  x_{j,s} = z_j prod_{i in B_{j,s}} (1 - z_i), linearised exactly:
  x <= z_j, x <= 1 - z_i (i in B_{j,s}), x >= z_j - sum_{i in B_{j,s}} z_i; x is only made for
  in-the-money (j, s). The accepted volume y_j x_{j,s} (continuous times binary) is linearised with
  big-M = Vmax_j: u <= y, u <= Vmax x, u >= y - Vmax (1 - x), u >= 0. A child of a group block
  is accepted with volume y_child x_{parent,s} when its own rule holds (same linearisation);
- at most ``max_blocks[kind]`` blocks of each kind are submitted.

The accepted volume sum_j sigma_j * (accepted y_j) per (s, t) is what ``build`` returns; the
bidding model adds it to the curve volume that each scenario's grid position must follow.
Settlement is at the area price of each period, which the site's day-ahead value already counts.
Blocks never in the money in any scenario could never be accepted: they are not submitted.
``finish`` (used by ``bid``) adds the per-kind limits and a 0.01 EUR cost per submitted block, so
that a block the model is indifferent to is not submitted.

Candidate structure (checked by ``check_candidates``; the exporter relies on it): names unique,
``linked_to`` names another candidate without cycles; a block of an exclusive group that is linked
is the child of a block of the same group; a group block has at most one child, and that child no
children of its own (linked exclusive-group orders, MARKET_RULES 1.4); at most
``max_linked_eg_orders_per_portfolio`` (3) groups have children.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from bidopt.bids.export import snap
from bidopt.bids.orders import Block, BlockOrder, BlockPeriod, OrdersFile
from bidopt.bids.rules import ExchangeRules
from bidopt.case_tables import BlockCandidate
from bidopt.errors import InputError

KINDS = ("regular", "profile", "curtailable")
EQ_TOL = 1e-9  # EUR/MWh: a block price this close to the average price counts as in the money
SCORE_DECIMALS = 6  # surplus scores are compared rounded to this many decimals (ties: listed first)
SUBMIT_COST_EUR = 0.01  # tie-break cost per submitted block (``finish``)


@dataclass
class ResolvedBlock:
    """A candidate on a horizon and scenario set: its periods, price and acceptance constants."""

    index: int
    name: str
    side: str
    kind: str
    periods: list[int]  # MTU positions in the horizon, consecutive
    price: float  # EUR/MWh, on the tick
    max_volume_mw: float
    mar: float
    linked_to: str | None
    group: str | None
    avg: np.ndarray  # (S,) simple average price over the periods
    in_money: np.ndarray  # (S,) bool: the block's own average-price rule holds

    @property
    def sign(self) -> float:
        return 1.0 if self.side == "buy" else -1.0

    @property
    def competitor(self) -> bool:
        """A block of an exclusive group that competes in it (not a linked child)."""
        return self.group is not None and self.linked_to is None

    @property
    def score(self) -> np.ndarray:
        """Surplus per MWh times number of periods (the exclusive-group ranking), rounded."""
        surplus = self.avg - self.price if self.side == "sell" else self.price - self.avg
        return np.array([round(float(v) * len(self.periods), SCORE_DECIMALS) for v in surplus])


def in_the_money(side: str, price: float, avg) -> np.ndarray:
    """The average-price rule (equality counts as in the money)."""
    avg = np.asarray(avg, dtype=float)
    return price <= avg + EQ_TOL if side == "sell" else price >= avg - EQ_TOL


# --------------------------------------------------------------------------------------------------
# checks and resolution


def _field(i: int, name: str) -> str:
    return f"bidding.blocks.{i}.{name}"


def check_candidates(cands: list[BlockCandidate], file=None, rules: ExchangeRules | None = None) -> None:
    """Cross-candidate rules (names, links, exclusive groups); InputError naming the field."""
    rules = rules or ExchangeRules()
    by_name: dict[str, int] = {}
    for i, c in enumerate(cands):
        if c.name in by_name:
            raise InputError(file, _field(i, "name"), f"block name '{c.name}' is used twice (blocks {by_name[c.name]} and {i})")
        by_name[c.name] = i
        if c.max_volume_mw > rules.max_block_volume_mw:
            raise InputError(file, _field(i, "max_volume_mw"),
                             f"{c.max_volume_mw} MW exceeds the maximum block volume {rules.max_block_volume_mw} MW")
        if c.max_volume_mw < rules.lot_mw:
            raise InputError(file, _field(i, "max_volume_mw"), f"{c.max_volume_mw} MW is below one lot ({rules.lot_mw} MW)")
    for i, c in enumerate(cands):
        if c.linked_to is None:
            continue
        if c.linked_to == c.name:
            raise InputError(file, _field(i, "linked_to"), f"block '{c.name}' is linked to itself")
        if c.linked_to not in by_name:
            raise InputError(file, _field(i, "linked_to"),
                             f"parent '{c.linked_to}' is not a block candidate (known: {', '.join(by_name)})")
        seen, cur = {c.name}, c.linked_to
        while cur is not None:
            if cur in seen:
                raise InputError(file, _field(i, "linked_to"), f"linked blocks form a cycle through '{c.name}'")
            seen.add(cur)
            cur = cands[by_name[cur]].linked_to
    children: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        if c.linked_to is not None:
            children[c.linked_to].append(i)
    linked_groups = set()
    for i, c in enumerate(cands):
        parent = cands[by_name[c.linked_to]] if c.linked_to is not None else None
        if c.exclusive_group is not None and parent is not None and parent.exclusive_group != c.exclusive_group:
            raise InputError(file, _field(i, "exclusive_group"),
                             f"a linked block of an exclusive group is the child of a block of the same group; "
                             f"parent '{parent.name}' is in {parent.exclusive_group!r}")
        if parent is not None and parent.exclusive_group is not None:
            linked_groups.add(parent.exclusive_group)
            if children[parent.name][0] != i:
                raise InputError(file, _field(i, "linked_to"),
                                 f"exclusive-group block '{parent.name}' already has a child "
                                 f"('{cands[children[parent.name][0]].name}'); it can be the parent of one")
            if children.get(c.name):
                raise InputError(file, _field(children[c.name][0], "linked_to"),
                                 f"'{c.name}' is the child of exclusive-group block '{parent.name}' and cannot "
                                 "have children itself")
    if len(linked_groups) > rules.max_linked_eg_orders_per_portfolio:
        raise InputError(file, "bidding.blocks", f"{len(linked_groups)} exclusive groups have linked blocks; at most "
                         f"{rules.max_linked_eg_orders_per_portfolio} linked exclusive-group orders are allowed")


def resolve(cands: list[BlockCandidate], horizon, prices: np.ndarray, prob: np.ndarray, file=None,
            rules: ExchangeRules | None = None) -> list[ResolvedBlock]:
    """Periods, tick price and per-scenario acceptance of every candidate (InputError naming the field)."""
    rules = rules or ExchangeRules()
    check_candidates(cands, file, rules)
    try:
        lo, hi = rules.price_limits(horizon.first_day)
    except InputError:
        lo, hi = rules.latest_price_limits()
    local = horizon.local
    out = []
    for i, c in enumerate(cands):
        if c.mtus is not None:
            if c.mtus[-1] >= horizon.n:
                raise InputError(file, _field(i, "mtus"), f"MTU {c.mtus[-1]} is beyond the horizon ({horizon.n} MTUs)")
            periods = list(c.mtus)
        else:
            periods = [t for t in range(horizon.n) if local[t].date() == horizon.first_day
                       and c.start_hour <= local[t].hour < c.end_hour]
            if not periods:
                raise InputError(file, _field(i, "start_hour"),
                                 f"hours {c.start_hour}-{c.end_hour} hold no MTU of {horizon.first_day}")
        avg = prices[:, periods].mean(axis=1)
        if c.price_eur_per_mwh == "expected":
            price = min(max(snap(float(np.dot(prob, avg)), rules.tick_eur_per_mwh), lo), hi)
        else:
            price = snap(float(c.price_eur_per_mwh), rules.tick_eur_per_mwh)
            if not lo <= price <= hi:
                raise InputError(file, _field(i, "price_eur_per_mwh"),
                                 f"{c.price_eur_per_mwh} EUR/MWh is outside the price limits [{lo}, {hi}]")
        out.append(ResolvedBlock(i, c.name, c.side, c.kind, periods, price, float(c.max_volume_mw),
                                 float(c.minimum_acceptance_ratio), c.linked_to, c.exclusive_group, avg,
                                 in_the_money(c.side, price, avg)))
    return out


def _as_candidates(items) -> list[BlockCandidate]:
    return [c if isinstance(c, BlockCandidate) else BlockCandidate.model_validate(c) for c in items]


# --------------------------------------------------------------------------------------------------
# model


class BlockModel:
    """The block part of a bidding model: resolved candidates and their Pyomo components."""

    def __init__(self, blk: pyo.Block, bm, rules: ExchangeRules | None = None):
        self.blk, self.rules = blk, rules or ExchangeRules()
        label = bm.case.label if hasattr(bm.case, "label") else None
        self.blocks = resolve(_as_candidates(bm.block_candidates), bm.horizon, bm.prices, bm.prob, label, self.rules)
        self.by_name = {b.name: b for b in self.blocks}
        self.S, self.n = bm.prices.shape
        self._build()

    def key(self, b: ResolvedBlock, t: int) -> int:
        """The volume variable's period: each period for profile blocks, the first otherwise."""
        return t if b.kind == "profile" else b.periods[0]

    def chain_in_money(self, b: ResolvedBlock) -> np.ndarray:
        """(S,) own rule AND every ancestor's rule (for blocks outside exclusive groups)."""
        ok = b.in_money.copy()
        cur = b
        while cur.linked_to is not None:
            cur = self.by_name[cur.linked_to]
            ok &= cur.in_money
        return ok

    def group_parent(self, b: ResolvedBlock) -> ResolvedBlock | None:
        """The exclusive-group block a child is linked to (None for others)."""
        p = self.by_name[b.linked_to] if b.linked_to is not None else None
        return p if p is not None and p.competitor else None

    def better(self, b: ResolvedBlock, s: int) -> list[ResolvedBlock]:
        """In-the-money blocks of b's group ranked above b in scenario s."""
        return [o for o in self.blocks if o.competitor and o.group == b.group and o is not b and o.in_money[s]
                and (o.score[s], -o.index) > (b.score[s], -b.index)]

    def _build(self) -> None:
        cap = {b.name: b.max_volume_mw for b in self.blocks}
        self._build_submission(cap)
        self._build_exclusive_groups()
        self._build_accepted(cap)
        self._chain = {b.name: self.chain_in_money(b) for b in self.blocks}
        self._cover: dict[int, list[ResolvedBlock]] = defaultdict(list)
        for b in self.blocks:
            for t in b.periods:
                self._cover[t].append(b)

    def _build_submission(self, cap: dict[str, float]) -> None:
        """Which blocks are submitted (binary) and their volume per MTU key (MW, unsigned)."""
        blk, lot = self.blk, self.rules.lot_mw
        names = [b.name for b in self.blocks]
        blk.J = pyo.Set(initialize=names, ordered=True)
        # binaries: blocks are all-or-nothing decisions (submit or not) and exclusive groups choose one
        # block per scenario; the rest of the bidding model needs none of these.
        blk.submit = pyo.Var(blk.J, within=pyo.Binary)
        keys = sorted({(b.name, self.key(b, t)) for b in self.blocks for t in b.periods},
                      key=lambda k: (self.by_name[k[0]].index, k[1]))
        blk.JK = pyo.Set(initialize=keys, dimen=2, ordered=True)
        blk.volume = pyo.Var(blk.JK, bounds=lambda m, j, k: (0, cap[j]))  # MW, unsigned
        blk.volume_if_submitted = pyo.Constraint(blk.JK, rule=lambda m, j, k: m.volume[j, k] <= cap[j] * m.submit[j])
        blk.at_least_one_lot = pyo.Constraint(blk.JK, rule=lambda m, j, k: m.volume[j, k] >= lot * m.submit[j])
        blk.child_with_parent = pyo.Constraint(
            [b.name for b in self.blocks if b.linked_to is not None],
            rule=lambda m, j: m.submit[j] <= m.submit[self.by_name[j].linked_to])
        # never in the money (with its ancestors): it could never be accepted, so it is not submitted
        for b in self.blocks:
            gp = self.group_parent(b)
            reach = (b.in_money & gp.in_money) if gp is not None else (
                b.in_money if b.competitor else self.chain_in_money(b))
            if not reach.any():
                blk.submit[b.name].fix(0)

    def _build_exclusive_groups(self) -> list[tuple[str, int]]:
        """Exclusive groups: chosen[j, s] = 1 when j is the accepted block of its group in scenario s."""
        blk, S = self.blk, self.S
        xs = [(b.name, s) for b in self.blocks if b.competitor for s in range(S) if b.in_money[s]]
        blk.XS = pyo.Set(initialize=xs, dimen=2, ordered=True)
        blk.chosen = pyo.Var(blk.XS, within=pyo.Binary)
        blk.chosen_only_if_submitted = pyo.Constraint(blk.XS, rule=lambda m, j, s: m.chosen[j, s] <= m.submit[j])
        pairs = [(j, s, o.name) for j, s in xs for o in self.better(self.by_name[j], s)]
        blk.XB = pyo.Set(initialize=pairs, dimen=3, ordered=True)
        blk.not_if_better_submitted = pyo.Constraint(
            blk.XB, rule=lambda m, j, s, i: m.chosen[j, s] <= 1 - m.submit[i])
        blk.chosen_if_best = pyo.Constraint(
            blk.XS, rule=lambda m, j, s: m.chosen[j, s]
            >= m.submit[j] - sum(m.submit[o.name] for o in self.better(self.by_name[j], s)))
        return xs

    def _build_accepted(self, cap: dict[str, float]) -> None:
        """Accepted volume of group blocks and their children: volume * chosen (big-M = max volume)."""
        blk, S = self.blk, self.S
        prods = []
        for b in self.blocks:
            owner = b if b.competitor else self.group_parent(b)
            if owner is None:
                continue
            for s in range(S):
                if b.in_money[s] and owner.in_money[s]:
                    prods += [(b.name, s, k) for k in sorted({self.key(b, t) for t in b.periods})]
        blk.US = pyo.Set(initialize=prods, dimen=3, ordered=True)
        blk.accepted = pyo.Var(blk.US, bounds=lambda m, j, s, k: (0, cap[j]))

        def chosen(j, s):
            b = self.by_name[j]
            return blk.chosen[(b if b.competitor else self.group_parent(b)).name, s]

        blk.acc_le_volume = pyo.Constraint(blk.US, rule=lambda m, j, s, k: m.accepted[j, s, k] <= m.volume[j, k])
        blk.acc_le_chosen = pyo.Constraint(blk.US, rule=lambda m, j, s, k: m.accepted[j, s, k] <= cap[j] * chosen(j, s))
        blk.acc_ge = pyo.Constraint(
            blk.US, rule=lambda m, j, s, k: m.accepted[j, s, k] >= m.volume[j, k] - cap[j] * (1 - chosen(j, s)))
        self._prods = set(prods)

    def accepted_expr(self, b: ResolvedBlock, s: int, t: int):
        """Accepted unsigned volume of block b in scenario s and MTU t (expression or 0)."""
        k = self.key(b, t)
        if b.competitor or self.group_parent(b) is not None:
            return self.blk.accepted[b.name, s, k] if (b.name, s, k) in self._prods else 0.0
        return self.blk.volume[b.name, k] if self._chain[b.name][s] else 0.0

    def volume(self, s: int, t: int):
        """Accepted block volume (MW, + = buy) in scenario s and MTU t: the hook's function."""
        terms = [(b.sign, self.accepted_expr(b, s, t)) for b in self._cover.get(t, [])]
        terms = [(sg, e) for sg, e in terms if not (isinstance(e, float) and e == 0.0)]
        return sum(sg * e for sg, e in terms) if terms else 0.0

    # ---- results

    def submitted(self) -> list[ResolvedBlock]:
        return [b for b in self.blocks if (self.blk.submit[b.name].value or 0.0) > 0.5]

    def volumes(self, b: ResolvedBlock) -> list[float]:
        """Unsigned model volume of each period of b (MW)."""
        return [float(self.blk.volume[b.name, self.key(b, t)].value or 0.0) for t in b.periods]

    def acceptance(self) -> dict[str, np.ndarray]:
        """Per block, (S,) 1.0 where the model has it submitted and accepted, else 0.0."""
        out = {}
        for b in self.blocks:
            z = (self.blk.submit[b.name].value or 0.0) > 0.5
            acc = np.zeros(self.S)
            for s in range(self.S):
                if not z:
                    continue
                gp = b if b.competitor else self.group_parent(b)
                if gp is not None:
                    acc[s] = float(b.in_money[s] and (gp.name, s) in self.blk.XS
                                   and (self.blk.chosen[gp.name, s].value or 0.0) > 0.5)
                else:
                    acc[s] = float(self._chain[b.name][s])
            out[b.name] = acc
        return out

    def accepted_mw(self) -> np.ndarray:
        """(S, T) accepted block volume from the solved model (MW, + = buy)."""
        out = np.zeros((self.S, self.n))
        for s in range(self.S):
            for t in range(self.n):
                out[s, t] = float(pyo.value(self.volume(s, t)))
        return out


def build(blk: pyo.Block, bm):
    """The bidding model's hook: blocks on ``blk``; returns (s, t) -> accepted volume (MW, + = buy)."""
    bm.block_model = BlockModel(blk, bm)
    return bm.block_model.volume


def finish(bm, max_blocks: dict[str, int] | None = None, submit_cost_eur: float = SUBMIT_COST_EUR) -> None:
    """After building: at most ``max_blocks[kind]`` submitted blocks per kind, and a small cost per
    submitted block in the objective (so that a block the model is indifferent to is left out)."""
    bmod = getattr(bm, "block_model", None)
    if bmod is None:
        return
    blk = bmod.blk
    limits = {k: int(v) for k, v in (max_blocks or {}).items()}
    kinds = [k for k in KINDS if k in limits and any(b.kind == k for b in bmod.blocks)]
    blk.KINDS = pyo.Set(initialize=kinds, ordered=True)
    blk.max_per_kind = pyo.Constraint(
        blk.KINDS, rule=lambda m, k: sum(m.submit[b.name] for b in bmod.blocks if b.kind == k) <= limits[k])
    if submit_cost_eur:
        obj = bm.m.objective
        obj.set_value(obj.expr - submit_cost_eur * sum(blk.submit[j] for j in blk.J))


# --------------------------------------------------------------------------------------------------
# export


def block_orders(bm, orders: OrdersFile, portfolio: str, area: str, rules: ExchangeRules | None = None,
                 rounded: bool = True) -> tuple[list[BlockOrder], list[BlockOrder]]:
    """The submitted blocks as (block orders, linked exclusive-group orders) for ``orders``'
    contracts (MTU t -> ``orders.contracts[t]``). Volumes are signed (+ = buy) and, when
    ``rounded``, on the lot. Blocks outside exclusive groups go in one block order, exclusive
    groups without links in a second, and each group with linked blocks in its own linked
    exclusive-group order."""
    bmod = getattr(bm, "block_model", None)
    if bmod is None:
        return [], []
    rules = rules or ExchangeRules()
    ids = [c.contract_id for c in orders.contracts or []]
    made: dict[str, Block] = {}
    for b in bmod.submitted():
        if b.linked_to is not None and b.linked_to not in made:
            continue  # parent not exported (cannot happen: z_child <= z_parent)
        vols = [b.sign * v for v in bmod.volumes(b)]
        if rounded:
            vols = [snap(v, rules.lot_mw) for v in vols]
        if all(abs(v) < 1e-12 for v in vols):
            continue
        made[b.name] = Block(name=b.name, price=b.price, minimum_acceptance_ratio=b.mar, linked_to=b.linked_to,
                             exclusive_group=b.group,
                             periods=[BlockPeriod(contract_id=ids[t], volume=v) for t, v in zip(b.periods, vols, strict=True)])
    linked_groups = {bmod.by_name[b.linked_to].group for b in bmod.blocks
                     if b.linked_to is not None and bmod.by_name[b.linked_to].competitor}

    def family_group(b: ResolvedBlock) -> str | None:
        gp = b if b.competitor else bmod.group_parent(b)
        return gp.group if gp is not None else None

    plain, eg, leg = [], [], defaultdict(list)
    for b in bmod.blocks:
        if b.name not in made:
            continue
        g = family_group(b)
        if g is None:
            plain.append(made[b.name])
        elif g in linked_groups:
            leg[g].append(made[b.name])
        else:
            eg.append(made[b.name])

    def order(blocks):
        return BlockOrder(auction_id=orders.auction_id, portfolio=portfolio, area_code=area, blocks=blocks)

    return [order(x) for x in (plain, eg) if x], [order(x) for x in leg.values() if x]


__all__ = ["BlockCandidate", "BlockModel", "ResolvedBlock", "block_orders", "build", "check_candidates",
           "finish", "in_the_money", "resolve"]
