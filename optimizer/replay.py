r"""Walk-forward replay of an ordering policy on recorded demand.

:mod:`optimizer.simulate` replays a plan on sampled scenarios; this module
replays a *policy* on the one path that really happened: the recorded sales
of held-out days. The event timing is the model's (:mod:`optimizer.model`),
period by period :math:`t = 0..T-1`:

0. on a review period (:math:`t \in \{0, R, 2R, ...\}`) the policy sets its
   levels from what is known then: the state and the sales up to the day
   before period :math:`t`; nothing of period :math:`t` or later;
1. orders, stores first, so a DC sees its stores' orders of the same period.
   Stock point :math:`n` has inventory position

   .. math:: IP_{nt} = OH_{nt} + \text{in transit}_{nt} + B_{nt}
             - \sum_{m: a(m) = n} (B_{mt} + o_{mt}),

   (on hand, in transit to it, what its DC owes it, less what it owes and
   its children's new orders) and orders
   :math:`o_{nt} = S_n - IP_{nt}` if :math:`IP_{nt} \le s_n`, else 0: an
   (s, S) rule with reorder point :math:`s_n` and order-up-to level
   :math:`S_n` (base stock: :math:`s = S`);
2. a supplier ships every order; a DC puts its arrivals away, then ships
   what it owes plus its children's new orders, fair share when it holds
   less, and owes the rest (:mod:`optimizer.simulate`'s rule); an order
   placed in period :math:`t` on a lane of lead time :math:`L` arrives at the
   start of :math:`t + L`;
3. arrivals are put away, then the recorded demand :math:`D_{ijt}` happens:
   lost sales sell :math:`\min(D, OH)`; backorders sell :math:`D` and on hand
   goes negative;
4. holding :math:`h_{in}` on end-of-period on hand, shortage :math:`p_i` per
   unit lost (lost sales) or per unit on backorder at the end of the period,
   :math:`p_i` per unit a DC owes, lane cost per unit shipped; capital is
   end-of-period on hand plus in transit at unit cost.

Every stock point conserves stock each period:
start on hand + arrivals = sales (stores) or shipments out (DCs) + end on hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.model import Network

__all__ = ["Levels", "ReplayState", "Replay", "replay", "bullwhip", "replay_figures"]


@dataclass
class Levels:
    """Reorder points ``s`` and order-up-to levels ``S``, (I, N) each (base stock: s = S)."""

    reorder: np.ndarray
    up_to: np.ndarray

    @classmethod
    def base_stock(cls, target: np.ndarray) -> "Levels":
        return cls(np.asarray(target, float), np.asarray(target, float))


@dataclass
class ReplayState:
    """What a policy may see at a review: the state at the start of period ``t``.

    Attributes
    ----------
    t : int
        Period about to start (its demand is not known).
    on_hand : ndarray (I, N)
        On hand now (negative at a store = backorders).
    arrivals : ndarray (I, N, H)
        Units in transit arriving at the start of periods t, t+1, ... (H >= max lead time).
    owed : ndarray (I, N)
        Units the DC feeding each stock point owes it (0 for supplier-fed points).
    """

    t: int
    on_hand: np.ndarray
    arrivals: np.ndarray
    owed: np.ndarray


@dataclass
class Replay:
    """A replay's record per item x stock point x period, arrays (I, N, T).

    ``sales`` are store sales (0 at DCs), ``shipped`` units sent out by a DC
    (0 at stores), ``short`` units of a store's demand not served from stock
    in the period (lost, or newly backordered), ``demand`` store demand.
    Costs per item x period are (I, T); ``levels`` the (s, S) in force,
    ``reviews`` the periods at which the policy was asked.
    """

    network: Network
    start_on_hand: np.ndarray
    arrivals: np.ndarray
    orders: np.ndarray
    shipped: np.ndarray
    sales: np.ndarray
    short: np.ndarray
    demand: np.ndarray
    end_on_hand: np.ndarray
    in_transit: np.ndarray
    owed: np.ndarray
    holding: np.ndarray
    shortage: np.ndarray
    dc_backlog: np.ndarray
    transport: np.ndarray
    capital: np.ndarray
    up_to: np.ndarray
    reorder: np.ndarray
    reviews: list


def replay(policy, demand: np.ndarray, *, network: Network, on_hand: np.ndarray, pipeline: np.ndarray,
           unit_cost: np.ndarray, holding_cost: np.ndarray, shortage_cost: np.ndarray,
           shortage: str = "lost_sales", review: int = 1) -> Replay:
    """Replay ``policy`` on recorded store demand ``demand`` (I, J, T).

    Parameters
    ----------
    policy : callable
        ``policy(state: ReplayState) -> Levels``, called at periods 0, review, 2 review, ...
    demand : ndarray (I, J, T)
        Recorded demand per item x store (``network.stores`` order) x period.
    network : optimizer.model.Network
    on_hand : ndarray (I, N)
        On hand at the start of period 0.
    pipeline : ndarray (I, N, P)
        Units in transit arriving at the start of periods 0..P-1.
    unit_cost, holding_cost, shortage_cost : ndarray
        (I,), (I, N) per period, (I,) per unit short.
    shortage : {"lost_sales", "backorder"}
    review : int, default=1
        Periods between two calls of the policy.
    """
    if review < 1:
        raise ValueError(f"review must be at least 1 period; received {review}")
    net = network
    I, J, T = demand.shape
    N = len(net.nodes)
    stores = net.stores
    lost_sales = shortage == "lost_sales"
    H = T + int(net.lead_time.max(initial=0)) + pipeline.shape[2] + 1
    arrive = np.zeros((I, N, H))
    arrive[:, :, : pipeline.shape[2]] = pipeline
    oh = np.array(on_hand, float)
    owed = np.zeros((I, N))
    kids = [np.flatnonzero(net.parent == n) for n in range(N)]
    rec = {k: np.zeros((I, N, T)) for k in ("start_on_hand", "arrivals", "orders", "shipped", "sales", "short",
                                             "demand", "end_on_hand", "in_transit", "owed", "up_to", "reorder")}
    costs = {k: np.zeros((I, T)) for k in ("holding", "shortage", "dc_backlog", "transport", "capital")}
    reviews = []
    levels = None
    for t in range(T):
        if t % review == 0:
            state = ReplayState(t, oh.copy(), arrive[:, :, t:].copy(), owed.copy())
            levels = policy(state)
            reviews.append(t)
        rec["up_to"][:, :, t], rec["reorder"][:, :, t] = levels.up_to, levels.reorder
        rec["start_on_hand"][:, :, t] = oh
        # 1. orders, children before parents
        orders = np.zeros((I, N))
        transit = arrive[:, :, t:].sum(axis=2)
        for n in range(N - 1, -1, -1):
            ip = oh[:, n] + transit[:, n] + owed[:, n]
            if len(kids[n]):
                ip -= (owed[:, kids[n]] + orders[:, kids[n]]).sum(axis=1)
            orders[:, n] = np.where(ip <= levels.reorder[:, n], np.maximum(levels.up_to[:, n] - ip, 0.0), 0.0)
        rec["orders"][:, :, t] = orders
        # 2. shipments, parents before children
        for n in range(N):
            if net.parent[n] < 0:
                arrive[:, n, t + int(net.lead_time[n])] += orders[:, n]
                costs["transport"][:, t] += net.lane_cost[n] * orders[:, n]
            if not len(kids[n]):
                continue
            oh[:, n] += arrive[:, n, t]
            rec["arrivals"][:, n, t] = arrive[:, n, t]
            arrive[:, n, t] = 0.0
            due = owed[:, kids[n]] + orders[:, kids[n]]
            total = due.sum(axis=1)
            available = np.maximum(oh[:, n], 0.0)
            frac = np.where(total > available + 1e-9, available / np.where(total > 0, total, 1.0), 1.0)
            sent = due * frac[:, None]
            owed[:, kids[n]] = due - sent
            oh[:, n] -= sent.sum(axis=1)
            rec["shipped"][:, n, t] = sent.sum(axis=1)
            for k, c in enumerate(kids[n]):
                arrive[:, c, t + int(net.lead_time[c])] += sent[:, k]
                costs["transport"][:, t] += net.lane_cost[c] * sent[:, k]
        # 3. arrivals at the other stock points, then demand
        rest = np.array([not len(kids[n]) for n in range(N)])
        rec["arrivals"][:, rest, t] = arrive[:, rest, t]
        oh[:, rest] += arrive[:, rest, t]
        arrive[:, rest, t] = 0.0
        d = demand[:, :, t]
        avail = np.maximum(oh[:, stores], 0.0)
        sold = np.minimum(d, avail) if lost_sales else d
        rec["short"][:, stores, t] = np.maximum(d - avail, 0.0)
        rec["sales"][:, stores, t] = sold
        rec["demand"][:, stores, t] = d
        oh[:, stores] -= sold
        # 4. costs
        rec["end_on_hand"][:, :, t] = oh
        rec["in_transit"][:, :, t] = arrive[:, :, t + 1:].sum(axis=2)
        rec["owed"][:, :, t] = owed
        unmet = rec["short"][:, stores, t] if lost_sales else np.maximum(-oh[:, stores], 0.0)
        costs["holding"][:, t] = (holding_cost * np.maximum(oh, 0.0)).sum(axis=1)
        costs["shortage"][:, t] = shortage_cost * unmet.sum(axis=1)
        costs["dc_backlog"][:, t] = shortage_cost * owed.sum(axis=1)
        costs["capital"][:, t] = unit_cost * (np.maximum(oh, 0.0) + rec["in_transit"][:, :, t]).sum(axis=1)
    return Replay(network=net, reviews=reviews, **rec, **costs)


def bullwhip(orders: np.ndarray, demand: np.ndarray, network: Network) -> dict:
    r"""Variance of orders over variance of the demand beneath, per echelon.

    For stock point :math:`n` and item :math:`i`, the demand beneath is the
    recorded demand of the stores in its subtree,
    :math:`d_{int} = \sum_{j \in \mathrm{sub}(n)} D_{ijt}`. Per echelon (kind
    of stock point) the ratio pools item x stock point variances over time,

    .. math:: \mathrm{BW} = \frac{\sum_{i,n} \mathrm{Var}_t(o_{int})}{\sum_{i,n} \mathrm{Var}_t(d_{int})},

    so series with no demand do not divide by zero (Chen et al. 2000 define
    the ratio per stage; 1 means orders pass demand on unamplified).

    Parameters
    ----------
    orders : ndarray (I, N, T)
    demand : ndarray (I, J, T)
        Store demand in ``network.stores`` order.
    """
    sub = network.subtree()[:, network.stores].astype(float)  # (N, J)
    beneath = np.einsum("nj,ijt->int", sub, demand)
    out = {}
    for kind in sorted(set(network.kinds)):
        n = np.asarray(network.kinds) == kind
        var_d = beneath[:, n].var(axis=2).sum()
        out[kind] = float(orders[:, n].var(axis=2).sum() / var_d) if var_d > 0 else None
    return out


def replay_figures(r: Replay, scored_from: int = 0, scored_to: int | None = None) -> dict:
    """Realised fill rate (per store and network), cost and its parts, capital, stock-outs, bullwhip.

    Only periods ``scored_from .. scored_to - 1`` count (those before: a warm-up from the
    common starting state).
    """
    net = r.network
    stores = net.stores
    w = slice(scored_from, scored_to)
    d = r.demand[:, stores, w].sum(axis=(0, 2))
    s = r.short[:, stores, w].sum(axis=(0, 2))
    capital = r.capital[:, w].sum(axis=0)  # (T,)
    parts = {k: float(getattr(r, k)[:, w].sum()) for k in ("holding", "shortage", "dc_backlog", "transport")}
    return {
        "fill_rate": float(1 - s.sum() / d.sum()) if d.sum() > 0 else 1.0,
        "fill_rate_by_store": {net.nodes[n]: float(1 - s[j] / d[j]) if d[j] > 0 else 1.0 for j, n in enumerate(stores)},
        "total_cost": float(sum(parts.values())),
        "cost_breakdown": parts,
        "capital": {"average": float(capital.mean()), "peak": float(capital.max())},
        "stockouts": int((r.short[:, stores, w] > 1e-9).sum()),
        "units_short": float(s.sum()),
        "demand": float(d.sum()),
        "order_lines": int((r.orders[:, :, w] > 1e-9).sum()),
        "bullwhip": bullwhip(r.orders[:, :, w], r.demand[:, stores, w], net),
    }
