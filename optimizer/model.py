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

Capital can instead be measured at its **peak**, :math:`\sum_s \pi_s V_{ts}
\le B` for every :math:`t`, or **per scenario**, :math:`\frac1T \sum_t V_{ts}
\le B` for every :math:`s`, with :math:`V_{ts} = \sum_{i,n} c_i (OH_{ints} +
\text{in transit})`; the budget's price is minus the sum of those rows'
duals. **Open-to-buy**: :math:`\sum_i \sum_{n: a(n)\ \text{supplier}} c_i
o_{in0} \le OTB`. The fill rate can hold per item or per item x store (one
row each, :math:`\sum_{j,t \ge L_j} \sigma \le (1-\beta) \sum D` over that
set), or network-wide weighted by value (each item's terms times :math:`c_i`).

Capacities (optional, shared by all items; rows for every :math:`t, s`)

.. math::

    \text{lane into } n:\ \sum_i y_{ints} \le C^{\text{lane}}_n, \qquad
    \text{throughput}:\ \sum_i x_{ints} \le C^{\text{thr}}_n, \qquad
    \text{storage}:\ \sum_i (OH_{in,t-1,s} + x_{ints}) \le C^{\text{sto}}_n,

throughput and storage for :math:`t \ge L_n` (earlier arrivals are today's
pipeline). A stock point with a capacity receives shipments :math:`y` like a
DC-fed one, also when a supplier feeds it: the supplier ships what fits and
owes the rest, :math:`B_{int} = B_{in,t-1} + o_{int} - y_{int}`, and a unit it
holds back costs :math:`p_i` per period like a DC's backlog (a cheaper charge,
the holding cost, let the LP hold back in hindsight what it would not need
before the horizon's end). Tonight's orders still ship in full, so a capacity also caps
tonight's order. The dual of a capacity, summed over its rows, is the value
of one more unit of capacity in every period.

Integer rules on tonight's order lines :math:`o_{in0}` (a MIP; see
:func:`_integer_rules`): case packs :math:`o_{in0} = q_i k_{in}`, minimum
order quantities :math:`o_{in0} \in \{0\} \cup [m_i, U_{in}]`, and the
cycle-service chance constraint, one binary per item x store x period x
scenario. A MIP's duals are those of the LP with the integers fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.lp import LinearProgram

__all__ = ["Network", "Problem", "build_model", "tonight_purchase_value"]


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
    lane_capacity, storage, throughput : ndarray of float, optional
        Per node, shared by all items (``inf``: none; None: none anywhere):
        units shipped on the inbound lane per period, units on hand after a
        period's arrivals, units arriving per period.
    """

    nodes: tuple[str, ...]
    kinds: tuple[str, ...]
    parent: np.ndarray
    source: tuple[str, ...]
    lead_time: np.ndarray
    lane_cost: np.ndarray
    lane_capacity: np.ndarray | None = None
    storage: np.ndarray | None = None
    throughput: np.ndarray | None = None

    @property
    def stores(self) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.kinds) == "store")

    @property
    def dc_fed(self) -> np.ndarray:
        return np.flatnonzero(self.parent >= 0)

    def capacities(self) -> dict[str, np.ndarray]:
        """``{"lane": ..., "storage": ..., "throughput": ...}``, each (N,) with ``inf`` for none."""
        n = len(self.nodes)
        return {kind: np.full(n, np.inf) if cap is None else np.asarray(cap, float)
                for kind, cap in (("lane", self.lane_capacity), ("storage", self.storage),
                                  ("throughput", self.throughput))}

    @property
    def shipped(self) -> np.ndarray:
        """Stock points whose inbound units are shipment variables: the DC-fed ones, then those
        a supplier feeds through a capacity (lane, storage or throughput)."""
        capped = np.isfinite(np.vstack(list(self.capacities().values()))).any(axis=0)
        return np.concatenate([self.dc_fed, np.flatnonzero(capped & (self.parent < 0))])

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
    case_pack: np.ndarray | None = None  # (I,) units per pack; <= 1: none
    moq: np.ndarray | None = None  # (I,) minimum order quantity; 0: none
    capital_measure: str = "average"  # or "peak", "per_scenario"
    open_to_buy: float | None = None
    service_level: str = "network"  # or "item", "item_location"
    service_weighting: str = "units"  # or "value"
    cycle_service: float | None = None
    fixed_order: np.ndarray | None = None  # (I, N) tonight's order into n fixed where finite (NaN: free)
    fixed_target: np.ndarray | None = None  # (I, N) target S_in fixed where finite (NaN: free)

    @property
    def shape(self):
        S, I, J, T = self.demand.shape
        return S, I, len(self.network.nodes), J, T

    @property
    def integer(self) -> bool:
        """Whether the model has integer columns (case packs, MOQs, cycle service)."""
        packs = self.case_pack is not None and bool(np.any(self.case_pack > 1))
        moqs = self.moq is not None and bool(np.any(self.moq > 0))
        return packs or moqs or self.cycle_service is not None

    def beyond_decomposition(self) -> list[str]:
        """What :mod:`optimizer.decompose` cannot solve: it needs convex (LP) item models, and
        prices only rows that tie items together, not fill-rate rows of single items."""
        out = []
        if self.integer:
            out.append("integer orders or cycle service (a MIP)")
        if self.fill_rate is not None and self.service_level != "network":
            out.append(f"fill rates per {self.service_level}")
        return out


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


def build_model(problem: Problem, *, elastic_capacity: bool = False, elastic_budget: bool = False) -> Built:
    """Assemble the linear programme of the module docstring from arrays.

    With ``elastic_capacity`` every capacity gets a variable extra capacity
    :math:`e \\ge 0` (units per period, the same in every period and scenario),
    for the infeasibility diagnosis to minimise. With ``elastic_budget`` the
    budget's rows of the configured capital measure get a variable extra
    budget :math:`b \\ge 0` (column ``built.constants["extra_budget"]``), so that
    with ``problem.budget = 0`` the least :math:`b` is the least budget, in
    that measure, of any plan that meets the other rows.
    """
    S, I, N, J, T = problem.shape
    net = problem.network
    pi = problem.probability
    D = problem.demand  # (S, I, J, T)
    Dn = np.transpose(D, (1, 2, 3, 0))  # (I, J, T, S)
    stores = net.stores
    store_pos = np.full(N, -1)
    store_pos[stores] = np.arange(J)
    sub = net.subtree()
    fed = net.shipped  # DC-fed first (their order is network.dc_fed's), then capacity-bound
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
        """(const (I,T,S), cols (I,T,S,w), coefs (I,T,S,w)) of units sent into n in period t:
        shipments (DC-fed or capacity-bound), or else the orders a supplier ships in full."""
        if fed_pos[n] >= 0:
            k = fed_pos[n]
            return np.zeros((I, T, S)), ship[:, k, :, :, None], np.ones((I, T, S, 1))
        return order_const[:, n], order_cols[:, n], order_coef[:, n]

    def arrivals(n):
        """(const (I,T,S), terms) of units arriving at n at the start of period t."""
        L = int(net.lead_time[n])
        const_in, cols_in, coef_in = inbound_terms(n)
        arr_const = problem.pipeline[:, n, :, None] + _shift_const(const_in, L)
        return arr_const, [(coef_in_shifted(coef_in, L), _shift(cols_in, L, axis=1))]

    # DC balances and what DCs owe their children.
    children = {n: np.flatnonzero(net.parent == n) for n in range(N)}
    for n in range(N):
        arr_const, arr_terms = arrivals(n)
        oh = on_hand[:, n]  # (I, T, S)
        oh_prev = _shift(oh, 1, axis=1)
        rhs = arr_const.copy()
        rhs[:, 0, :] += problem.on_hand[:, n, None]
        terms = [(1.0, oh), (-1.0, oh_prev)] + [(-a, c) for a, c in arr_terms]
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
    capacity_rows = _capacity_rows(lp, problem, on_hand, ship, fed_pos, arrivals, elastic_capacity)
    # Objective and capital: coefficients accumulated over columns, plus constants.
    w = pi[None, None, None, :]  # over (I, ., T, S)
    obj_terms = [(w * problem.holding_cost[:, :, None, None], on_hand)]
    obj_terms.append((w * problem.shortage_cost[:, None, None, None], short))
    # What a DC owes its stores, or a supplier holds back for a capacity, costs the item's
    # shortage cost per unit per period, so no source holds back what it could ship
    # (withholding would park cheap stock at the DC, or skip transport and holding near the
    # horizon's end: at the holding cost a first version held back 15% of a DC's supply).
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

    rows = {"capacity": capacity_rows}
    extra_budget = lp.add_variables("extra_budget", ()) if elastic_budget and problem.budget is not None else None
    stretch = [] if extra_budget is None else [(-1.0, extra_budget)]
    if problem.budget is not None and problem.capital_measure == "average":
        rows["capital"] = lp.add_constraints(
            "capital", [(a, c) for a, c in cap_terms] + stretch, "<=", problem.budget - cap_const, shape=()
        ).start
    elif problem.budget is not None:
        rows["capital"] = _capital_rows(lp, problem, on_hand, inbound_terms, stretch)
    service_mask = np.arange(T)[None, :] >= net.lead_time[stores][:, None]  # (J, T)
    expected_demand = float(np.einsum("sijt,s,jt->", D, pi, service_mask))
    service_demand = None
    if problem.fill_rate is not None:
        rows["service"], service_demand = _fill_rate_rows(lp, problem, short, service_mask)
    if problem.integer:
        _integer_rules(lp, problem, order_const, order_cols, order_coef, short, service_mask)
    built = Built(
        lp=lp,
        problem=problem,
        cols={"target": target, "ship": ship, "on_hand": on_hand, "short": short, "owed": backlog},
        rows=rows,
        constants={
            "capital": cap_const,
            "transport": transport_const,
            "service_demand": expected_demand,
            "service_row_demand": service_demand,
            "service_mask": service_mask,
            "order_const": order_const,
            "order_cols": order_cols,
            "order_coef": order_coef,
            "ip0": ip0,
            "cap_terms": cap_terms,
            "extra_budget": extra_budget,
        },
    )
    if problem.open_to_buy is not None:  # tonight's purchases within the open-to-buy limit
        terms, spent = tonight_purchase_value(built)
        rows["open_to_buy"] = lp.add_constraints("open_to_buy", terms, "<=", problem.open_to_buy - spent, shape=()).start
    return built


def _items_last(a: np.ndarray) -> np.ndarray:
    """(I, T, S, ...) -> (T, S, I, ...): rows over periods and scenarios, items summed."""
    return np.moveaxis(np.asarray(a), 0, 2)


def _capacity_rows(lp: LinearProgram, problem: Problem, on_hand, ship, fed_pos, arrivals, elastic=False) -> list:
    """Capacities shared by all items, one row per period and scenario.

    Lane: units shipped into n in period t. Throughput: units arriving at n
    at the start of t. Storage: on hand after those arrivals, before demand
    (the most a node holds in a period). Throughput and storage rows start
    at :math:`t = L_n`; earlier arrivals are fixed by today's pipeline.

    Returns ``[(kind, node, block, extra), ...]`` for reading the duals
    (``extra``: the column of the elastic extra capacity, or None).
    """
    S, I, N, J, T = problem.shape
    net = problem.network
    out = []
    for kind, cap in net.capacities().items():
        for n in np.flatnonzero(np.isfinite(cap)):
            name = f"{kind}_capacity_{n}"
            extra = lp.add_variables(f"extra_{name}", ()) if elastic else None
            stretch = [(-1.0, extra)] if elastic else []
            if kind == "lane":
                block = lp.add_constraints(name, [(1.0, _items_last(ship[:, fed_pos[n]]))] + stretch, "<=", cap[n],
                                           shape=(T, S))
                out.append((kind, int(n), block, extra))
                continue
            L = int(net.lead_time[n])
            if L >= T:
                continue
            const, terms = arrivals(n)
            if kind == "storage":
                const = const.copy()
                const[:, 0, :] += problem.on_hand[:, n, None]
                terms = terms + [(1.0, _shift(on_hand[:, n], 1, axis=1))]
            terms = [(_items_last(np.broadcast_to(a, c.shape))[L:], _items_last(c)[L:]) for a, c in terms]
            block = lp.add_constraints(name, terms + stretch, "<=", cap[n] - const.sum(axis=0)[L:], shape=(T - L, S))
            out.append((kind, int(n), block, extra))
    return out


def _capital_rows(lp: LinearProgram, problem: Problem, on_hand, inbound_terms, stretch=()) -> slice:
    r"""Budget rows for the ``peak`` and ``per_scenario`` capital measures.

    With :math:`V_{ts} = \sum_{i,n} c_i (OH_{ints} + \text{in transit to } n
    \text{ at end of } t)`: peak is :math:`\sum_s \pi_s V_{ts} \le B` for
    every period :math:`t`; per_scenario is :math:`\frac1T \sum_t V_{ts} \le B`
    for every scenario :math:`s`. ``stretch`` (terms added to every row) holds
    the elastic extra budget. Returns the rows (their duals sum to the
    budget's price).
    """
    S, I, N, J, T = problem.shape
    net, c = problem.network, problem.unit_cost
    const = np.repeat(np.einsum("i,int->t", c, _in_transit_pipeline(problem.pipeline))[:, None], S, axis=1)
    terms = [(c[None, None, :, None], np.moveaxis(on_hand, (2, 3), (0, 1)))]  # (T, S, I, N)
    for n in range(N):
        const_in, cols_in, coef_in = inbound_terms(n)
        for lag in range(int(net.lead_time[n])):  # sent in t - lag, in transit at the end of t
            coef = c[:, None, None, None] * coef_in_shifted(coef_in, lag)
            terms.append((_items_last(coef), _items_last(_shift(cols_in, lag, axis=1))))
            const = const + np.einsum("i,its->ts", c, _shift_const(const_in, lag))
    peak = problem.capital_measure == "peak"
    weight = np.broadcast_to(problem.probability[None, :] if peak else np.full((T, 1), 1.0 / T), (T, S))
    weighted = []
    for a, cols in terms:
        a = np.broadcast_to(a * weight[:, :, None, None], cols.shape)
        weighted.append((a, cols) if peak else (np.swapaxes(a, 0, 1), np.swapaxes(cols, 0, 1)))
    rhs = problem.budget - (weight * const).sum(axis=1 if peak else 0)
    block = lp.add_constraints("capital", weighted + list(stretch), "<=", rhs, shape=(T,) if peak else (S,))
    return slice(block.start, block.start + block.size)


def _fill_rate_rows(lp: LinearProgram, problem: Problem, short, service_mask) -> tuple[int, np.ndarray]:
    r"""Fill-rate rows at the configured level: :math:`\sum w\,\sigma \le (1-\beta) \sum w\,D`
    over the service periods, summed over the network (weights :math:`w_i = 1`, or
    :math:`c_i` by value), per item, or per item x store.

    Returns the first row and the expected (weighted) demand of each row, shaped like the block.
    """
    S, I, N, J, T = problem.shape
    pi, D = problem.probability, problem.demand
    wmask = pi[None, None, None, :] * service_mask[None, :, :, None]
    level = problem.service_level
    if level == "network" and problem.service_weighting == "units":
        coef, demand, shape = wmask, np.array(float(np.einsum("sijt,s,jt->", D, pi, service_mask))), ()
    elif level == "network":
        c = problem.unit_cost
        coef = wmask * c[:, None, None, None]
        demand, shape = np.array(float(np.einsum("sijt,s,jt,i->", D, pi, service_mask, c))), ()
    else:
        per_series = np.einsum("sijt,s,jt->ij", D, pi, service_mask)
        coef = wmask
        demand, shape = (per_series.sum(axis=1), (I,)) if level == "item" else (per_series, (I, J))
    block = lp.add_constraints("service", [(coef, short)], "<=", (1.0 - problem.fill_rate) * demand, shape=shape)
    return block.start, demand


def tonight_purchase_value(built: Built) -> tuple[list, float]:
    r"""Tonight's orders from suppliers at unit cost, :math:`\sum_{i, n: a(n)\ \text{supplier}} c_i o_{in0}`,
    as (terms, constant)."""
    k, pr = built.constants, built.problem
    sup = np.flatnonzero(pr.network.parent < 0)
    c = pr.unit_cost[:, None, None]
    terms = [(c * k["order_coef"][:, sup, 0, 0, :], k["order_cols"][:, sup, 0, 0, :])]
    return terms, float(np.sum(c[:, :, 0] * k["order_const"][:, sup, 0, 0]))


def _integer_rules(lp: LinearProgram, problem: Problem, order_const, order_cols, order_coef, short, service_mask):
    r"""Case packs and minimum order quantities on tonight's order lines; cycle service.

    Tonight's order line of item :math:`i` into :math:`n` is :math:`o_{in0}`.
    Case pack :math:`q_i`: :math:`o_{in0} = q_i k_{in}`, :math:`k_{in} \in \mathbb{Z}_{\ge 0}`.
    MOQ :math:`m_i`: :math:`m_i z_{in} \le o_{in0} \le U_{in} z_{in}`, :math:`z_{in} \in \{0, 1\}`,
    with :math:`U_{in}` the subtree's largest demand over the horizon in any scenario plus
    :math:`q_i + m_i` (a line never needs more than can be sold within the horizon).
    Cycle service :math:`\alpha`: a binary :math:`\zeta_{ijts}` per service period marks a
    stock-out, :math:`\sigma_{ijts} \le M_{ijts} \zeta_{ijts}` (:math:`M` the period's demand
    under lost sales, the demand so far under backorders), and per item x store
    :math:`\sum_{t \ge L_j} \sum_s \pi_s \zeta_{ijts} \le (1 - \alpha) |\{t \ge L_j\}|`: the
    probability of a stock-out in a period, averaged over the service periods, at most
    :math:`1 - \alpha`.
    """
    S, I, N, J, T = problem.shape
    net = problem.network
    const = order_const[:, :, 0, 0]

    def line(rows):
        return (order_coef[rows, :, 0, 0, :], order_cols[rows, :, 0, 0, :])

    packs = np.ones(I) if problem.case_pack is None else np.asarray(problem.case_pack, float)
    moq = np.zeros(I) if problem.moq is None else np.asarray(problem.moq, float)
    P = np.flatnonzero(packs > 1)
    if len(P):
        k = lp.add_variables("packs", (len(P), N), integer=True)
        lp.add_constraints("case_pack", [line(P), (-packs[P, None], k)], "==", -const[P], shape=(len(P), N))
    M = np.flatnonzero(moq > 0)
    if len(M):
        z = lp.add_variables("order_placed", (len(M), N), ub=1.0, integer=True)
        reach = np.einsum("nj,sijt->sin", net.subtree()[:, net.stores].astype(float), problem.demand).max(axis=0)
        upper = reach[M] + packs[M, None] + moq[M, None]
        lp.add_constraints("moq_low", [line(M), (-moq[M, None], z)], ">=", -const[M], shape=(len(M), N))
        lp.add_constraints("moq_high", [line(M), (-upper, z)], "<=", -const[M], shape=(len(M), N))
    if problem.cycle_service is not None:
        window = np.broadcast_to(service_mask[None, :, :, None], (I, J, T, S))
        Dn = np.transpose(problem.demand, (1, 2, 3, 0))
        big = Dn if problem.shortage == "lost_sales" else np.cumsum(Dn, axis=2)
        zeta = lp.add_variables("stock_out", (I, J, T, S), ub=window.astype(float), integer=True)
        lp.add_constraints("stock_out_indicator", [(1.0, short), (-big, zeta)], "<=", np.where(window, 0.0, big))
        periods = service_mask.sum(axis=1)[None, :]
        lp.add_constraints("cycle_service", [(problem.probability[None, None, None, :] * window, zeta)], "<=",
                           (1.0 - problem.cycle_service) * periods, shape=(I, J))


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
