r"""Exceptions for the planner: what in tonight's plan needs a human, ranked by money at stake.

One row per exception, columns ``rank, kind, item, location, money_at_stake,
why`` (``why`` in words, with the figures). Kinds and their money at stake,
with :math:`c_i` unit cost, :math:`p_i` shortage cost, :math:`D` the solved
scenarios' demand:

``order_vs_last_plan``
    Tonight's order into a stock point against the last plan's (the latest
    earlier as-of date in the run store): :math:`|q - q^{last}|\,c_i`.
``order_vs_base_stock``
    Against the classical echelon base-stock order
    :math:`\max(0, S^{bs}_{in} - \sum_{k \in sub(n)} IP^0_{ik})`, where
    :math:`S^{bs}_{in}` is the critical-fractile :math:`p'_i/(p'_i+h'_{in})`
    quantile of the subtree's demand over the echelon protection period
    (:math:`L_n` plus the longest lead time below :math:`n`, plus one
    period): :math:`|q - q^{bs}|\,c_i`. The costs are the plan's Lagrangian
    ones, so a binding budget or fill-rate target is not itself an exception:
    :math:`h' = h + \lambda c_i / T` with :math:`\lambda` the capital's shadow
    price (the capital row averages stock over :math:`T` periods) and
    :math:`p' = p + \mu` with :math:`\mu` the service row's price per unit short.

    Either is raised only when the two orders are *far* apart: the gap is
    over half the larger one and over three standard deviations of the
    subtree's demand over the period that sets the comparison. Against the
    last plan that is one period (orders replace what was sold, so daily
    noise is not an exception). Against the base-stock order it is the
    protection period :math:`P_n`: the two are order-up-to levels less the
    same echelon position, and order-up-to levels differ by
    :math:`\Delta z\,\sigma_{P_n}` whenever the service levels behind them do
    (a DC's :math:`\sigma_{P_n}` spans its own and its stores' lead times, so
    one period's noise would flag the structure of every DC's target rather
    than the night's surprises). A gap beyond :math:`3\sigma_{P_n}` is more
    than any service level between the median and 99.9% explains.
``forecast_spread``
    An item x store whose horizon demand has a coefficient of variation
    above Tukey's fence (Q3 + 1.5 IQR) of all series:
    :math:`(q_{0.9} - q_{0.1})\,c_i` of the horizon demand.
``near_stockout``
    A store that runs out with probability of at least 20% before tonight's
    order can arrive (periods :math:`0..L_j-1`, served from today's on hand
    and pipeline only): expected units short :math:`\times p_i`.
``data_quality``
    A warning of :mod:`optimizer.quality` on a series: its ``impact`` (units
    per period the recent sales may misstate demand) over the horizon at
    cost, :math:`\text{impact} \times T \times c_i`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "rank_exceptions", "base_stock_orders", "protection_periods"]

#: Columns of exceptions.csv (the report renders exactly these).
COLUMNS = ["rank", "kind", "item", "location", "money_at_stake", "why"]
#: "Far apart": gap over this share of the larger order ...
FAR_SHARE = 0.5
#: ... and over this many standard deviations of one period's subtree demand.
FAR_SIGMAS = 3.0
#: Near stock-out: probability of running out before tonight's order arrives.
STOCKOUT_RISK = 0.2


def _orders_tonight(built, x) -> np.ndarray:
    from optimizer.plan import order_quantities

    return order_quantities(built, x)[:, :, 0, 0]


def _subtree_demand(problem, periods: np.ndarray) -> np.ndarray:
    """(S, I, N): each node's subtree demand summed over its first ``periods[n]`` periods."""
    D = problem.demand  # (S, I, J, T)
    net = problem.network
    sub = net.subtree()[:, net.stores]  # (N, J)
    cum = np.cumsum(D, axis=3)  # (S, I, J, T)
    T = D.shape[3]
    out = np.zeros(D.shape[:2] + (len(net.nodes),))
    for n in range(len(net.nodes)):
        upto = min(int(periods[n]), T)
        if upto > 0:
            out[:, :, n] = cum[:, :, sub[n], upto - 1].sum(axis=2)
    return out


def _far(q, ref, sigma) -> np.ndarray:
    gap = np.abs(q - ref)
    return (gap > FAR_SHARE * np.maximum(q, ref)) & (gap > FAR_SIGMAS * sigma) & (gap >= 1.0)


def _order_rows(problem, tonight, ref, sigma, kind, label, periods) -> list[tuple]:
    """Rows where tonight's order is far from ``ref``; ``sigma`` is the demand's spread over ``periods[n]``."""
    net = problem.network
    rows = []
    for i, n in zip(*np.nonzero(_far(tonight, ref, sigma))):
        q, r = tonight[i, n], ref[i, n]
        word = "above" if q > r else "below"
        over = "one period" if periods[n] == 1 else f"{periods[n]} periods"
        rows.append((kind, problem.items[i], net.nodes[n], abs(q - r) * problem.unit_cost[i],
                     f"tonight's order from {net.source[n]} is {q:.0f} units, far {word} {label} {r:.0f} "
                     f"(demand here over {over} varies by {sigma[i, n]:.1f})"))
    return rows


def protection_periods(network) -> np.ndarray:
    """(N,) echelon protection period of each node: its lead time, the longest lead time below it, plus one."""
    N = len(network.nodes)
    below = np.zeros(N, int)  # longest lead time from a node's children down to a store
    for k in range(N - 1, -1, -1):
        p = network.parent[k]
        if p >= 0:
            below[p] = max(below[p], network.lead_time[k] + below[k])
    return network.lead_time + below + 1


def base_stock_orders(problem, capital_price: float = 0.0, short_price: float = 0.0,
                      demand: np.ndarray | None = None) -> np.ndarray:
    r"""Classical echelon base-stock orders for tonight (I, N) (see the module docstring).

    ``capital_price`` is :math:`\lambda` (cost saved per unit of capital),
    ``short_price`` :math:`\mu` (cost per expected unit short in the service row);
    ``demand`` (S, I, N), the subtree demand over each node's protection period, if already summed.
    """
    net = problem.network
    N = len(net.nodes)
    if demand is None:
        demand = _subtree_demand(problem, protection_periods(net))  # (S, I, N)
    T = problem.demand.shape[3]
    h = problem.holding_cost + capital_price * problem.unit_cost[:, None] / T
    p = problem.shortage_cost[:, None] + short_price
    fractile = p / (p + h)  # (I, N)
    level = np.empty_like(fractile)
    for i in range(level.shape[0]):
        for n in range(N):
            level[i, n] = np.quantile(demand[:, i, n], fractile[i, n])
    ip0 = problem.on_hand + problem.pipeline.sum(axis=2)
    echelon_position = ip0 @ net.subtree().T.astype(float)  # (I, N)
    return np.maximum(level - echelon_position, 0.0)


def _prices(built, kpis) -> tuple[float, float]:
    """(capital price per unit of capital, service price per expected unit short) of a plan's KPIs."""
    if not kpis:
        return 0.0, 0.0
    lam = kpis["capital"]["shadow_price"] or 0.0
    per_point = kpis["service"]["shadow_price_per_point"] or 0.0
    demand = built.constants["service_demand"]
    return float(lam), float(per_point / (0.01 * demand)) if demand > 0 else 0.0


def rank_exceptions(problem, built, x, *, last_orders: pd.DataFrame | None = None,
                    findings: pd.DataFrame | None = None, kpis: dict | None = None) -> pd.DataFrame:
    """Tonight's exceptions, ranked by money at stake (see the module docstring).

    Parameters
    ----------
    problem, built, x
        The solved model (:class:`optimizer.run.Solved`'s fields).
    last_orders : pandas.DataFrame, optional
        The last plan's orders (item, destination, quantity); None: no earlier plan.
    findings : pandas.DataFrame, optional
        :func:`optimizer.quality.findings_frame` of this run.
    kpis : dict, optional
        The plan's KPIs; their shadow prices price the base-stock comparison.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, rank 1 the most money at stake.
    """
    net = problem.network
    S, I, N, J, T = problem.shape
    tonight = _orders_tonight(built, x)
    one, protection = np.ones(N, int), protection_periods(net)
    sigma = _subtree_demand(problem, one).std(axis=0)  # (I, N)
    over_protection = _subtree_demand(problem, protection)
    rows = _order_rows(problem, tonight, base_stock_orders(problem, *_prices(built, kpis), demand=over_protection),
                       over_protection.std(axis=0), "order_vs_base_stock", "the classical base-stock order", protection)
    if last_orders is not None:
        last = np.zeros((I, N))
        item_pos = {it: k for k, it in enumerate(problem.items)}
        node_pos = {nd: k for k, nd in enumerate(net.nodes)}
        for r in last_orders.itertuples(index=False):
            if r.item in item_pos and r.destination in node_pos:
                last[item_pos[r.item], node_pos[r.destination]] += r.quantity
        rows += _order_rows(problem, tonight, last, sigma, "order_vs_last_plan", "the last plan's", one)

    horizon = problem.demand.sum(axis=3)  # (S, I, J)
    mean, sd = horizon.mean(axis=0), horizon.std(axis=0)
    cv = np.divide(sd, mean, out=np.zeros_like(sd), where=mean > 0)
    q1, q3 = np.quantile(cv[mean > 0], [0.25, 0.75]) if (mean > 0).any() else (0.0, 0.0)
    fence = q3 + 1.5 * (q3 - q1)
    lo, hi = np.quantile(horizon, [0.1, 0.9], axis=0)
    stores = [net.nodes[n] for n in net.stores]
    for i, j in zip(*np.nonzero((cv > fence) & (mean > 0))):
        rows.append(("forecast_spread", problem.items[i], stores[j], (hi[i, j] - lo[i, j]) * problem.unit_cost[i],
                     f"unusually uncertain forecast: {T}-period demand 80% interval {lo[i, j]:.0f}-{hi[i, j]:.0f} "
                     f"units (coefficient of variation {cv[i, j]:.2f}, usual at most {fence:.2f})"))

    for j, n in enumerate(net.stores):
        L = min(int(net.lead_time[n]), T)
        if L == 0:
            continue
        available = problem.on_hand[:, n] + problem.pipeline[:, n, :L].sum(axis=1)  # (I,)
        short = np.maximum(problem.demand[:, :, j, :L].sum(axis=2) - available[None, :], 0.0)  # (S, I)
        risk = (short > 1e-9).mean(axis=0)
        for i in np.flatnonzero(risk >= STOCKOUT_RISK):
            rows.append(("near_stockout", problem.items[i], net.nodes[n], short[:, i].mean() * problem.shortage_cost[i],
                         f"{risk[i]:.0%} chance of running out before tonight's order arrives in {L} period(s): "
                         f"{available[i]:.0f} units on hand and arriving, {short[:, i].mean():.1f} expected short"))

    if findings is not None and len(findings):
        item_pos = {it: k for k, it in enumerate(problem.items)}
        for f in findings[findings["severity"] == "warning"].itertuples(index=False):
            i = item_pos.get(f.item)
            money = f.impact * T * problem.unit_cost[i] if i is not None else 0.0
            rows.append(("data_quality", f.item, f.location, money, f"{f.check_name} ({f.action}): {f.detail}"))

    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out["money_at_stake"] = np.round(out["money_at_stake"].astype(float), 2) + 0.0
    out = out.sort_values(["money_at_stake", "kind", "item", "location"], ascending=[False, True, True, True],
                          kind="mergesort", na_position="last").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
