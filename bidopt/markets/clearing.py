"""Price-taker clearing of day-ahead orders at given (realised) area prices.

Written from the exchange rules (MARKET_RULES 1.3, 1.4), independently of the bidding model, so
backtests and tests can check what the exported orders actually do:

- curve orders (``clear_curve``): the volume is the curve's piecewise-linear interpolation at the
  price, flat beyond the first and last points (Nord Pool interpolates between points; curves
  always span the price limits, so "flat outside" only matters for hand-made curves);
- block orders (``clear_blocks``), with the price taken as given (the orders do not move it):
  a block's own rule compares its price with the average area price over its periods: a sell
  block (volumes < 0) is in the money when price <= average, a buy block when price >= average.
  At equality the exchange may do either; here (within ``tol``) it counts as in the money.
  The simple average is used by default; ``weighting="volume"`` weights by |volume| (Nord Pool's
  weighting for profile blocks is **UNVERIFIED**);
  a block with ``linkedTo`` (a child) is accepted only when its own rule holds and its parent is
  accepted; of the blocks of an exclusive group that are not children, at most one is accepted:
  the in-the-money one with the largest surplus per MWh times number of periods (a
  volume-independent proxy for the welfare Euphemia maximises; ties go to the block listed first);
  an accepted block is accepted in full (ratio 1): a minimum acceptance ratio below 1 only
  matters when the market has to curtail the block at its own price, which a price-taker never
  sees. Paradoxically rejected blocks are not simulated.
- ``cleared_position``: the net cleared volume (MW, + = buy) per contract of a whole orders file.

Orders are read by their fields only (``price``/``volume`` of curve points, ``name``, ``price``,
``periods``, ``linked_to``, ``exclusive_group`` of blocks: the Auction API shapes of
``bidopt.bids.orders``), so the market rule does not depend on the bidding layer. Volumes in MW,
prices in EUR/MWh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol


class CurvePoint(Protocol):
    price: float
    volume: float


class Period(Protocol):
    contract_id: str
    volume: float


class Block(Protocol):
    name: str
    price: float
    periods: Sequence[Period]
    linked_to: str | None
    exclusive_group: str | None


TOL = 1e-9  # EUR/MWh: a block price this close to the average price counts as in the money
SCORE_DECIMALS = 6  # surplus scores are compared rounded to this many decimals


def clear_curve(curve_points: Sequence[CurvePoint | tuple[float, float]], price: float) -> float:
    """Volume (MW, + = buy) of a curve at ``price``: linear between points, flat outside."""
    pts = sorted((float(p.price), float(p.volume)) if hasattr(p, "price") else (float(p[0]), float(p[1]))
                 for p in curve_points)
    if not pts:
        raise ValueError("a curve needs at least one point")
    if price <= pts[0][0]:
        return pts[0][1]
    if price >= pts[-1][0]:
        return pts[-1][1]
    for (p0, v0), (p1, v1) in zip(pts, pts[1:], strict=False):
        if p0 <= price <= p1:
            if p1 == p0:
                return v1
            return v0 + (v1 - v0) * (price - p0) / (p1 - p0)
    return pts[-1][1]  # pragma: no cover - unreachable for sorted points


def block_average(block: Block, contract_mtu: Mapping[str, int], prices: Sequence[float],
                  weighting: Literal["simple", "volume"] = "simple") -> float:
    """Average area price over the block's periods (simple, or weighted by |volume|)."""
    ps = [float(prices[contract_mtu[p.contract_id]]) for p in block.periods]
    if weighting == "volume":
        w = [abs(p.volume) for p in block.periods]
        if sum(w) > 0:
            return sum(a * b for a, b in zip(ps, w, strict=True)) / sum(w)
    return sum(ps) / len(ps)


def is_sell(block: Block) -> bool:
    """A block selling in total (negative net volume); mixed-sign blocks go by their total."""
    return sum(p.volume for p in block.periods) < 0


def clear_blocks(blocks: Sequence[Block], contract_mtu: Mapping[str, int], prices: Sequence[float],
                 weighting: Literal["simple", "volume"] = "simple", tol: float = TOL) -> dict[str, float]:
    """Accepted ratio of every block (block name -> 0.0 or 1.0) at the MTU ``prices``
    (``prices[contract_mtu[contractId]]``), for blocks of one portfolio and area.

    Raises ValueError for a ``linkedTo`` naming no block of the list, or a link cycle.
    """
    by_name = {b.name: b for b in blocks}
    own: dict[str, bool] = {}
    score: dict[str, float] = {}
    for b in blocks:
        avg = block_average(b, contract_mtu, prices, weighting)
        if is_sell(b):
            own[b.name] = b.price <= avg + tol
            surplus = avg - b.price
        else:
            own[b.name] = b.price >= avg - tol
            surplus = b.price - avg
        score[b.name] = round(surplus * len(b.periods), SCORE_DECIMALS)
    # exclusive groups: among the in-the-money blocks that are not children, the best surplus wins
    winner: dict[str, str | None] = {}
    groups: dict[str, list[tuple[int, Block]]] = defaultdict(list)
    for i, b in enumerate(blocks):
        if b.exclusive_group is not None and b.linked_to is None:
            groups[b.exclusive_group].append((i, b))
    for g, members in groups.items():
        best = None
        for i, b in members:
            if not own[b.name]:
                continue
            if best is None or score[b.name] > score[best[1].name] or (
                    score[b.name] == score[best[1].name] and i < best[0]):
                best = (i, b)
        winner[g] = best[1].name if best else None

    accepted: dict[str, bool] = {}

    def decide(name: str, path: tuple[str, ...] = ()) -> bool:
        if name in accepted:
            return accepted[name]
        if name in path:
            raise ValueError(f"linked blocks form a cycle: {' -> '.join(path + (name,))}")
        b = by_name[name]
        if b.linked_to is not None:
            if b.linked_to not in by_name:
                raise ValueError(f"block '{name}' is linked to '{b.linked_to}', which is not among the blocks")
            ok = own[name] and decide(b.linked_to, path + (name,))
        elif b.exclusive_group is not None:
            ok = winner[b.exclusive_group] == name
        else:
            ok = own[name]
        accepted[name] = ok
        return ok

    return {b.name: 1.0 if decide(b.name) else 0.0 for b in blocks}


def cleared_position(orders: Any, prices_by_contract: Mapping[str, float],
                     weighting: Literal["simple", "volume"] = "simple") -> dict[str, float]:
    """Net cleared volume per contract (MW, + = buy) of all curve, block and linked
    exclusive-group orders in ``orders`` (an ``OrdersFile``) at the given area prices (contract id -> EUR/MWh).

    Every contract with a price is in the result (0 where nothing clears); a contract an order
    uses without a price raises KeyError.
    """
    out = {cid: 0.0 for cid in prices_by_contract}
    for co in orders.curve_orders:
        for c in co.curves:
            out[c.contract_id] += clear_curve(c.curve_points, prices_by_contract[c.contract_id])
    contract_mtu = {cid: k for k, cid in enumerate(prices_by_contract)}
    prices = list(prices_by_contract.values())
    families: dict[tuple[str, str], list[Block]] = defaultdict(list)
    for o in [*orders.block_orders, *orders.linked_exclusive_group_orders]:
        families[(o.portfolio, o.area_code)].extend(o.blocks)
    for blocks in families.values():
        ratio = clear_blocks(blocks, contract_mtu, prices, weighting)
        for b in blocks:
            for p in b.periods:
                out[p.contract_id] += ratio[b.name] * p.volume
    return out


__all__ = ["block_average", "clear_blocks", "clear_curve", "cleared_position", "is_sell"]
