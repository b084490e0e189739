r"""The stochastic multi-echelon inventory model (DESIGN.md section 4).

Sets and data
-------------
:math:`i \in I` items; :math:`n \in N` stock points (DCs and stores), each
with one inbound lane from its source :math:`a(n)` (a supplier, or a DC) of
lead time :math:`L_n` periods and transport cost :math:`k_n` per unit;
:math:`J \subseteq N` stores; :math:`\mathrm{sub}(n)` the stock points at or
below :math:`n`; :math:`t = 0..T-1` periods (0 is tonight's);
:math:`s = 1..S` scenarios of probability :math:`\pi_s` with store demand
:math:`D_{ijts}`. :math:`c_i` unit cost, :math:`h_{in}` holding cost per unit
per period, :math:`p_i` shortage cost per unit short per period.
:math:`OH^0_{in}` on hand today, :math:`P_{int}` units already in transit
arriving at the start of period :math:`t`, :math:`IP^0_{in} = OH^0_{in} +
\sum_t P_{int}` today's position.

Event timing (the one convention used everywhere)
-------------------------------------------------
In period :math:`t`: (1) every stock point places its order, stores first,
so a DC sees its stores' orders of the same period; (2) an order placed in
period :math:`t` on a lane with lead time :math:`L` arrives at the start of
period :math:`t+L`, before that period's demand (a DC ships to a store from
what it holds after its own arrivals of the period); (3) store demand
happens; (4) holding is charged on end-of-period on hand, and shortage on
the units short in the period (lost sales: demand not served; backorders:
end-of-period backorders, so a unit waiting two periods costs twice).

First stage (the same in every scenario): the target stock position
:math:`S_{in} \ge 0` (order-up-to level: on hand plus on order, less what a DC
owes its stores) and tonight's DC-to-store shipments :math:`y_{in0}`.

Policy, not clairvoyance
------------------------
Later decisions follow the targets: every stock point orders back up to
:math:`S_{in}` each period, so its order replaces what its subtree used

.. math::

    o_{in0} = \sum_{k \in \mathrm{sub}(n)} (S_{ik} - IP^0_{ik}) \ge 0, \qquad
    o_{int s} = \sum_{j \in J \cap \mathrm{sub}(n)} u_{ij,t-1,s} \quad (t \ge 1),

with :math:`u` the units a store used: its sales :math:`D - \ell` under lost
sales, its demand :math:`D` under backorders. No order depends on demand
not yet seen. A supplier always ships. A DC ships, at most what it holds,
what it owes plus the new orders of the stock points it feeds,
:math:`y_{ints} \ge 0`, and owes the rest,
:math:`B_{int} = B_{in,t-1} + o_{int} - y_{int} \ge 0`. Tonight's orders are
shipped in full (:math:`B_{in0} = 0`): a target above what the DC can ship
tonight would only park a backlog there. What a DC owes costs the item's
shortage cost :math:`p_i` per unit per period, like a store's backorder;
without it the LP would hold back stock it could ship, to keep it at the
cheaper DC or past the horizon (a first version did, and inflated store
targets to feed the backlog).

The one place the model can use hindsight: when a DC is short, which stock
point it serves first is chosen per scenario. Owing costs :math:`p_i`, so
the model keeps DCs from running short; the out-of-sample replay
(:mod:`optimizer.simulate`) rations fair share, sees only the present, and
reports the honest cost next to the in-sample one.

Balances (all :math:`i, t, s`; :math:`x` arrivals)

.. math::

    x_{int s} &= P_{int} + \begin{cases} o_{in,t-L_n,s} & a(n)\ \text{supplier} \\
                                           y_{in,t-L_n,s} & a(n)\ \text{DC}\end{cases} \\
    OH_{ints} &= OH_{in,t-1,s} + x_{ints} - \sum_{m: a(m)=n} y_{imts}
        \quad (n\ \text{DC}) \\
    OH_{ijts} &= OH_{ij,t-1,s} + x_{ijts} - (D_{ijts} - \ell_{ijts}),
        \quad 0 \le \ell_{ijts} \le D_{ijts} \quad (\text{lost sales}) \\
    OH_{ijts} - BO_{ijts} &= OH_{ij,t-1,s} - BO_{ij,t-1,s} + x_{ijts} - D_{ijts}
        \quad (\text{backorders})

Objective (expected cost per horizon; purchase cost is decision-neutral
because end-of-horizon stock is valued at cost and a lost unit is a unit not
bought, so :math:`p_i` is the lost margin)

.. math::

    \min \sum_s \pi_s \sum_{t} \Big[ \sum_{i,n} h_{in} OH_{ints}
      + \sum_{i,j} p_i\, \sigma_{ijts} + \sum_{i,n} p_i B_{ints}
      + \sum_{i,n} k_n\, (\text{shipped into } n)_{its} \Big]

with :math:`\sigma = \ell` (lost sales) or :math:`BO` (backorders).

Constraints (optional)

.. math::

    \text{capital:}\quad \frac{1}{T} \sum_s \pi_s \sum_{t,i,n} c_i
        \big(OH_{ints} + \text{in transit to } n \text{ at end of } t\big) \le B

    \text{service:}\quad \sum_s \pi_s \sum_{i,j,t \ge L_j} \sigma_{ijts}
        \le (1 - \beta) \sum_s \pi_s \sum_{i,j,t \ge L_j} D_{ijts}

Service counts the periods :math:`t \ge L_j` that tonight's decisions can
reach; earlier periods are fixed by today's stock. The duals of these rows
are the shadow price of capital and the cost of a point of fill rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.lp import LinearProgram

__all__ = ["Network", "Problem", "build_model"]


@dataclass(frozen=True)
class Network:
    """Stock points in topological order (every source before what it feeds).

    Attributes
    ----------
    nodes : tuple of str
        Stock point ids (DCs and stores), sources first.
    kinds : tuple of str
        "dc" or "store" per node.
    parent : ndarray of int
        Index in ``nodes`` of the DC that feeds the node, -1 for a supplier.
    source : tuple of str
        Id of the source node (supplier or DC) per node.
    lead_time : ndarray of int
        Lead time of the inbound lane, periods.
    lane_cost : ndarray of float
        Transport cost per unit on the inbound lane.
    """

    nodes: tuple[str, ...]
    kinds: tuple[str, ...]
    parent: np.ndarray
    source: tuple[str, ...]
    lead_time: np.ndarray
    lane_cost: np.ndarray

    @property
    def stores(self) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.kinds) == "store")

    @property
    def dc_fed(self) -> np.ndarray:
        return np.flatnonzero(self.parent >= 0)

    def subtree(self) -> np.ndarray:
        """``sub[n, k]`` is True where stock point k is at or below n."""
        n = len(self.nodes)
        sub = np.eye(n, dtype=bool)
        for k in range(n - 1, -1, -1):  # children come after parents
            p = self.parent[k]
            if p >= 0:
                sub[p] |= sub[k]
        return sub


@dataclass
class Problem:
    """Everything the model needs, as plain arrays (no Pyomo).

    Shapes: I items, N stock points, J stores (``network.stores`` order),
    T periods, S scenarios.
    """

    items: tuple[str, ...]
    network: Network
    demand: np.ndarray  # (S, I, J, T)
    probability: np.ndarray  # (S,)
    unit_cost: np.ndarray  # (I,)
    holding_cost: np.ndarray  # (I, N)
    shortage_cost: np.ndarray  # (I,)
    on_hand: np.ndarray  # (I, N) today
    pipeline: np.ndarray  # (I, N, T) arrivals already in transit
    shortage: str = "lost_sales"
    budget: float | None = None
    fill_rate: float | None = None
    labels: dict = field(default_factory=dict)
    fixed_order: np.ndarray | None = None  # (I, N) tonight's order into n fixed where finite (NaN: free)
    fixed_target: np.ndarray | None = None  # (I, N) target S_in fixed where finite (NaN: free)

    @property
    def shape(self):
        S, I, J, T = self.demand.shape
        return S, I, len(self.network.nodes), J, T


@dataclass
class Built:
    """The programme plus the handles needed to read a solution."""

    lp: LinearProgram
    problem: Problem
    cols: dict
    rows: dict
    # Constant parts of expressions, for cost and capital reporting.
    constants: dict


def _shift(cols: np.ndarray, lag: int, axis: int) -> np.ndarray:
    """``out[..., t, ...] = cols[..., t - lag, ...]``, -1 where t - lag < 0."""
    out = np.full_like(cols, -1)
    if lag == 0:
        return cols.copy()
    T = cols.shape[axis]
    if lag >= T:
        return out
    src = [slice(None)] * cols.ndim
    dst = [slice(None)] * cols.ndim
    src[axis] = slice(0, T - lag)
    dst[axis] = slice(lag, T)
    out[tuple(dst)] = cols[tuple(src)]
    return out


def build_model(problem: Problem) -> Built:
    """Assemble the linear programme of the module docstring from arrays."""
    S, I, N, J, T = problem.shape
    net = problem.network
    pi = problem.probability
    D = problem.demand  # (S, I, J, T)
    Dn = np.transpose(D, (1, 2, 3, 0))  # (I, J, T, S)
    stores = net.stores
    store_pos = np.full(N, -1)
    store_pos[stores] = np.arange(J)
    sub = net.subtree()
    fed = net.dc_fed
    K = len(fed)
    fed_pos = np.full(N, -1)
    fed_pos[fed] = np.arange(K)
    lost_sales = problem.shortage == "lost_sales"
    ip0 = problem.on_hand + problem.pipeline.sum(axis=2)  # (I, N)

    lp = LinearProgram()
    target = lp.add_variables("target_position", (I, N))
    ship0 = lp.add_variables("ship_tonight", (I, K))
    ship_later = lp.add_variables("ship", (I, K, T - 1, S)) if T > 1 else np.empty((I, K, 0, S), int)
    on_hand = lp.add_variables("on_hand", (I, N, T, S))
    short = lp.add_variables("short", (I, J, T, S), ub=Dn if lost_sales else np.inf)
    # Tonight's orders into DC-fed points are shipped in full (owed 0 at t = 0): a target
    # above what the DC can ship tonight would only park a backlog at the DC.
    owed_ub = np.full((I, K, T, S), np.inf)
    owed_ub[:, :, 0, :] = 0.0
    backlog = lp.add_variables("owed", (I, K, T, S), ub=owed_ub)
    ship = np.concatenate([np.broadcast_to(ship0[:, :, None, None], (I, K, 1, S)), ship_later], axis=2)

    # Usage u_{ijts} = const + coef * short (lost sales: D - l; backorders: D).
    # Orders o_{n,t} for t >= 1 sum the usage of the stores below n at t-1:
    # rows of terms (coef, cols) over the stores, plus a constant.
    store_sub = sub[:, stores]  # (N, J)
    order_const = np.zeros((I, N, T, S))
    order_const[:, :, 1:, :] = np.einsum("nj,ijts->ints", store_sub.astype(float), Dn[:, :, :-1, :])
    order_const[:, :, 0, :] = (-(sub.astype(float) @ ip0.T).T)[:, :, None]  # - sum_sub IP0
    # Terms: target (t = 0), -short (t >= 1, lost sales), as a column array with a trailing
    # axis over contributing variables (padded with -1).
    width = max(N, J)
    order_cols = np.full((I, N, T, S, width), -1, dtype=np.int64)
    order_coef = np.zeros((I, N, T, S, width))
    for n in range(N):
        members = np.flatnonzero(sub[n])
        order_cols[:, n, 0, :, : len(members)] = target[:, members][:, None, :]
        order_coef[:, n, 0, :, : len(members)] = 1.0
        if lost_sales:
            js = np.flatnonzero(store_sub[n])
            cols = np.transpose(short[:, js, :-1, :], (0, 2, 3, 1))  # (I, T-1, S, |js|)
            order_cols[:, n, 1:, :, : len(js)] = cols
            order_coef[:, n, 1:, :, : len(js)] = -1.0

    # Tonight's orders are non-negative: targets at or above today's positions (per subtree).
    lp.add_constraints(
        "order_tonight_nonnegative",
        [(order_coef[:, :, 0, 0, :], order_cols[:, :, 0, 0, :])],
        ">=",
        -order_const[:, :, 0, 0],
        shape=(I, N),
    )
    # A planner's overrides (optimizer/approve.py): o_{in0} = q or S_{in} = v where given.
    if problem.fixed_order is not None and np.isfinite(problem.fixed_order).any():
        ii, nn = np.nonzero(np.isfinite(problem.fixed_order))
        lp.add_constraints("fixed_order", [(order_coef[ii, nn, 0, 0, :], order_cols[ii, nn, 0, 0, :])], "==",
                           problem.fixed_order[ii, nn] - order_const[ii, nn, 0, 0], shape=(len(ii),))
    if problem.fixed_target is not None and np.isfinite(problem.fixed_target).any():
        ii, nn = np.nonzero(np.isfinite(problem.fixed_target))
        lp.add_constraints("fixed_target", [(1.0, target[ii, nn])], "==", problem.fixed_target[ii, nn],
                           shape=(len(ii),))

    # Inbound flow to each node per period: shipments (DC-fed) or orders (supplier-fed).
    # Arrivals at t are inbound flow at t - L plus the pipeline.
    def inbound_terms(n):
        """(const (I,T,S), cols (I,T,S,w), coefs (I,T,S,w)) of units sent into n in period t."""
        if net.parent[n] >= 0:
            k = fed_pos[n]
            return np.zeros((I, T, S)), ship[:, k, :, :, None], np.ones((I, T, S, 1))
        return order_const[:, n], order_cols[:, n], order_coef[:, n]

    # DC balances and what DCs owe their children.
    children = {n: np.flatnonzero(net.parent == n) for n in range(N)}
    for n in range(N):
        L = int(net.lead_time[n])
        const_in, cols_in, coef_in = inbound_terms(n)
        arr_const = problem.pipeline[:, n, :, None] + _shift_const(const_in, L)
        arr_cols = _shift(cols_in, L, axis=1)
        oh = on_hand[:, n]  # (I, T, S)
        oh_prev = _shift(oh, 1, axis=1)
        rhs = arr_const.copy()
        rhs[:, 0, :] += problem.on_hand[:, n, None]
        terms = [(1.0, oh), (-1.0, oh_prev), (-coef_in_shifted(coef_in, L), arr_cols)]
        if net.kinds[n] == "dc":
            kids = fed_pos[children[n]]
            terms.append((1.0, np.transpose(ship[:, kids], (0, 2, 3, 1))))  # summed over children
            lp.add_constraints(f"balance_{n}", terms, "==", rhs, shape=(I, T, S))
        else:
            j = store_pos[n]
            if lost_sales:
                # OH - OH_prev - arrivals - short = -D
                terms.append((-1.0, short[:, j]))
            else:
                terms.append((-1.0, short[:, j]))
                terms.append((1.0, _shift(short[:, j], 1, axis=1)))
            lp.add_constraints(f"balance_{n}", terms, "==", rhs - Dn[:, j], shape=(I, T, S))
    # Owed by a DC to node n: B_t - B_{t-1} - o_t + y_t = 0, B >= 0.
    for k, n in enumerate(fed):
        b = backlog[:, k]
        lp.add_constraints(
            f"owed_{n}",
            [(1.0, b), (-1.0, _shift(b, 1, axis=1)), (-order_coef[:, n], order_cols[:, n]), (1.0, ship[:, k])],
            "==",
            order_const[:, n],
            shape=(I, T, S),
        )
    # Objective and capital: coefficients accumulated over columns, plus constants.
    w = pi[None, None, None, :]  # over (I, ., T, S)
    obj_terms = [(w * problem.holding_cost[:, :, None, None], on_hand)]
    obj_terms.append((w * problem.shortage_cost[:, None, None, None], short))
    # What a DC owes its stores costs the item's shortage cost per unit per period, so a DC
    # never holds back stock it could ship (withholding would park cheap stock at the DC).
    obj_terms.append((w * problem.shortage_cost[:, None, None, None], backlog))
    obj_const = 0.0
    cap_terms = [(w * problem.unit_cost[:, None, None, None] / T, on_hand)]
    cap_const = float(np.einsum("i,int->", problem.unit_cost, _in_transit_pipeline(problem.pipeline)) / T)
    transport_const = 0.0
    for n in range(N):
        L = int(net.lead_time[n])
        const_in, cols_in, coef_in = inbound_terms(n)
        wt = pi[None, None, :, None]
        cost = float(net.lane_cost[n])
        if cost:
            obj_terms.append((wt * coef_in * cost, cols_in))
            transport_const += float(np.einsum("its,s->", const_in, pi) * cost)
        if L:
            periods_in_transit = np.minimum(L, T - np.arange(T)).astype(float)  # end-of-period counts
            f = problem.unit_cost[:, None, None, None] * periods_in_transit[None, :, None, None] / T
            cap_terms.append((wt * coef_in * f, cols_in))
            cap_const += float(np.einsum("its,t,s,i->", const_in, periods_in_transit, pi, problem.unit_cost) / T)
    obj_const += transport_const
    lp.set_objective(obj_terms, constant=obj_const)

    rows = {}
    if problem.budget is not None:
        rows["capital"] = lp.add_constraints(
            "capital", [(a, c) for a, c in cap_terms], "<=", problem.budget - cap_const, shape=()
        ).start
    service_mask = np.arange(T)[None, :] >= net.lead_time[stores][:, None]  # (J, T)
    expected_demand = float(np.einsum("sijt,s,jt->", D, pi, service_mask))
    if problem.fill_rate is not None:
        wmask = (pi[None, None, None, :] * service_mask[None, :, :, None])
        rows["service"] = lp.add_constraints(
            "service", [(wmask, short)], "<=", (1.0 - problem.fill_rate) * expected_demand, shape=()
        ).start
    return Built(
        lp=lp,
        problem=problem,
        cols={"target": target, "ship": ship, "on_hand": on_hand, "short": short, "owed": backlog},
        rows=rows,
        constants={
            "capital": cap_const,
            "transport": transport_const,
            "service_demand": expected_demand,
            "service_mask": service_mask,
            "order_const": order_const,
            "order_cols": order_cols,
            "order_coef": order_coef,
            "ip0": ip0,
            "cap_terms": cap_terms,
        },
    )


def _shift_const(a: np.ndarray, lag: int) -> np.ndarray:
    """``out[:, t] = a[:, t - lag]``, 0 before the horizon (axis 1 is time)."""
    out = np.zeros_like(a)
    if lag < a.shape[1]:
        out[:, lag:] = a[:, : a.shape[1] - lag]
    return out


def coef_in_shifted(coef: np.ndarray, lag: int) -> np.ndarray:
    """Coefficients shifted like their columns (axis 1 is time)."""
    out = np.zeros_like(coef)
    if lag < coef.shape[1]:
        out[:, lag:] = coef[:, : coef.shape[1] - lag]
    return out


def _in_transit_pipeline(pipeline: np.ndarray) -> np.ndarray:
    """Units of today's pipeline still in transit at the end of each period, (I, N, T)."""
    # A unit arriving at the start of period a is in transit at the end of periods t < a.
    T = pipeline.shape[2]
    later = np.cumsum(pipeline[:, :, ::-1], axis=2)[:, :, ::-1]  # arrivals at >= t
    out = np.zeros_like(pipeline)
    out[:, :, : T - 1] = later[:, :, 1:]
    return out
