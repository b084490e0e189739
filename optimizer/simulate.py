r"""Replay a plan's policy on demand scenarios: the honest figures of a plan.

The in-sample cost of a scenario model is biased low: its first stage was
chosen on the very scenarios it is scored on. :func:`simulate_policy` fixes
the first stage (targets :math:`S_{in}` and tonight's DC shipments) and
replays the policy of :mod:`optimizer.model` on other scenarios, with the
same event timing, period by period:

1. orders: tonight's as planned; afterwards each stock point orders back up
   to its target, i.e. what its stores used the period before;
2. a supplier ships every order; a DC ships, in topological order, what it
   owes plus the new orders of the stock points it feeds, and when it holds
   less it rations **fair share** (each gets the same fraction of what is
   due) and owes the rest: a rule that sees only the present. A capacity
   (lane, throughput, storage) first scales every item's due down by the same
   fraction to what fits, and the source owes the rest; storage counts as
   taken what is on hand and on its way, so the rule needs no forecast of sales;
3. arrivals of the period are put away, then store demand is served
   (lost sales: :math:`\min(D, \text{available})`; backorders: net stock
   goes negative);
4. holding on end-of-period on hand, shortage per unit short and per unit
   a DC owes, transport on what was shipped; capital = end-of-period on hand + in transit, at cost.

On the scenarios a plan was solved on, the replay reproduces the model's
cost (exactly with backorders; a test holds the two to that).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from optimizer.model import Problem

__all__ = ["SimulationResult", "simulate_policy", "simulate_in_blocks", "summarise", "stock_percentiles"]

#: Fewest scenarios in a block of :func:`simulate_in_blocks`.
MIN_BLOCK = 32


@dataclass
class SimulationResult:
    """Per-scenario outcomes of a replay (arrays of shape (S,) unless stated)."""

    cost: np.ndarray
    holding: np.ndarray
    shortage: np.ndarray
    dc_backlog: np.ndarray
    capacity_backlog: np.ndarray  # units a supplier held back for a capacity, at the shortage cost
    transport: np.ndarray
    short_units: np.ndarray  # store units short over the service periods
    demand_units: np.ndarray  # store demand over the service periods
    capital: np.ndarray  # average over the horizon of capital at cost
    dc_rationed_periods: np.ndarray  # periods in which some DC rationed
    series_short: np.ndarray  # (S, I, J) units short over the service periods
    series_demand: np.ndarray  # (S, I, J)
    series_stockouts: np.ndarray  # (S, I, J) service periods with a unit short
    service_periods: np.ndarray  # (J,) periods t >= L_j
    on_hand: np.ndarray  # (S, I, N, T) end-of-period on hand (negative: backorders)


def simulate_policy(problem: Problem, target: np.ndarray, ship_tonight: np.ndarray, demand: np.ndarray) -> SimulationResult:
    """Replay the order-up-to policy on ``demand`` (S, I, J, T).

    Parameters
    ----------
    problem : Problem
        Network, costs and today's state (its ``demand`` is not used).
    target : ndarray of shape (I, N)
        Target stock positions (first stage).
    ship_tonight : ndarray of shape (I, K)
        Tonight's shipments into the DC-fed stock points (``network.dc_fed`` order).
    demand : ndarray of shape (S, I, J, T)
    """
    net = problem.network
    S, I, J, T = demand.shape
    N = len(net.nodes)
    D = np.transpose(demand, (1, 2, 0, 3))  # (I, J, S, T)
    stores = net.stores
    store_pos = {n: j for j, n in enumerate(stores)}
    fed_pos = {n: k for k, n in enumerate(net.dc_fed)}
    sub = net.subtree()
    lost_sales = problem.shortage == "lost_sales"
    Lmax = int(net.lead_time.max()) if N else 0
    ip0 = problem.on_hand + problem.pipeline.sum(axis=2)
    order0 = (sub.astype(float) @ (target - ip0).T).T  # (I, N), tonight's orders

    on_hand = np.repeat(problem.on_hand[:, :, None], S, axis=2)  # (I, N, S)
    arrivals = np.zeros((I, N, S, T + Lmax + 1))
    arrivals[:, :, :, :T] += problem.pipeline[:, :, None, :]
    # Units in transit at the end of each period, for capital.
    transit = np.zeros((I, N, S, T + Lmax + 1))
    later = np.cumsum(problem.pipeline[:, :, ::-1], axis=2)[:, :, ::-1]
    transit[:, :, :, : T - 1] += later[:, :, None, 1:]
    owed = np.zeros((I, N, S))  # owed by a DC, or by a supplier through a capacity, to stock point n
    capped = set(net.shipped[len(net.dc_fed):].tolist())
    room = _room(problem, arrivals, on_hand, T)
    used_prev = np.zeros((I, J, S))
    holding = np.zeros(S)
    shortage = np.zeros(S)
    backlog_cost = np.zeros(S)
    held_back = np.zeros(S)
    transport = np.zeros(S)
    capital = np.zeros(S)
    rationed = np.zeros(S)
    series_short = np.zeros((I, J, S))
    series_dem = np.zeros((I, J, S))
    series_out = np.zeros((I, J, S))
    path = np.empty((I, N, T, S))  # scenarios last: the percentiles partition along them
    service = np.arange(T)[None, :] >= net.lead_time[stores][:, None]  # (J, T)
    store_sub = sub[:, stores].astype(float)  # (N, J)

    for t in range(T):
        if t == 0:
            orders = np.repeat(order0[:, :, None], S, axis=2)
        else:
            orders = np.einsum("nj,ijs->ins", store_sub, used_prev)
        any_rationed = np.zeros(S, dtype=bool)
        for n in range(N):  # parents before children
            if net.parent[n] < 0:  # a supplier ships every order, within the capacities
                sent = orders[:, n]
                if n in capped:
                    due = owed[:, n] + orders[:, n]
                    sent = due if t == 0 else due * room(n, t, due)[None, :]
                    owed[:, n] = due - sent
                    held_back += (problem.shortage_cost[:, None] * owed[:, n]).sum(axis=0)
                _send(arrivals, transit, sent, n, t, int(net.lead_time[n]), T)
                transport += float(net.lane_cost[n]) * sent.sum(axis=0)
            kids = np.flatnonzero(net.parent == n)
            if not len(kids):
                continue
            # A DC puts its arrivals away, then ships what it owes plus the new orders.
            on_hand[:, n] += arrivals[:, n, :, t]
            arrivals[:, n, :, t] = 0.0
            due = owed[:, kids] + orders[:, kids]  # (I, k, S)
            if t == 0:  # tonight's shipments are the plan's
                shipped = np.repeat(ship_tonight[:, [fed_pos[c] for c in kids], None], S, axis=2)
            else:  # within the capacities, then fair share when short
                fits = due * np.stack([room(c, t, due[:, k]) for k, c in enumerate(kids)])[None, :, :]
                total = fits.sum(axis=1)
                available = np.maximum(on_hand[:, n], 0.0)
                short_dc = total > available + 1e-9
                frac = np.where(short_dc, available / np.where(total > 0, total, 1.0), 1.0)
                any_rationed |= short_dc.any(axis=0)
                shipped = fits * frac[:, None, :]
            owed[:, kids] = due - shipped
            backlog_cost += (problem.shortage_cost[:, None, None] * owed[:, kids]).sum(axis=(0, 1))
            on_hand[:, n] -= shipped.sum(axis=1)
            for k, c in enumerate(kids):
                _send(arrivals, transit, shipped[:, k], c, t, int(net.lead_time[c]), T)
                transport += float(net.lane_cost[c]) * shipped[:, k].sum(axis=0)
        # Put away arrivals elsewhere, serve store demand.
        for n in range(N):
            on_hand[:, n] += arrivals[:, n, :, t]
            arrivals[:, n, :, t] = 0.0
        for n in stores:
            j = store_pos[n]
            d = D[:, j, :, t]
            if lost_sales:
                sales = np.minimum(d, np.maximum(on_hand[:, n], 0.0))
                short = d - sales
                on_hand[:, n] -= sales
                used_prev[:, j] = sales
            else:
                on_hand[:, n] -= d  # negative = backorders
                short = np.maximum(-on_hand[:, n], 0.0)
                used_prev[:, j] = d
            shortage += (problem.shortage_cost[:, None] * short).sum(axis=0)
            if service[j, t]:
                series_short[:, j] += short
                series_dem[:, j] += d
                series_out[:, j] += short > 1e-9
        path[:, :, t] = on_hand
        held = np.maximum(on_hand, 0.0)
        holding += np.einsum("ins,in->s", held, problem.holding_cost)
        capital += np.einsum("ins,i->s", held + transit[:, :, :, t], problem.unit_cost) / T
        rationed += any_rationed
    cost = holding + shortage + backlog_cost + held_back + transport
    return SimulationResult(
        cost=cost,
        holding=holding,
        shortage=shortage,
        dc_backlog=backlog_cost,
        capacity_backlog=held_back,
        transport=transport,
        short_units=series_short.sum(axis=(0, 1)),
        demand_units=series_dem.sum(axis=(0, 1)),
        capital=capital,
        dc_rationed_periods=rationed,
        series_short=np.transpose(series_short, (2, 0, 1)),
        series_demand=np.transpose(series_dem, (2, 0, 1)),
        series_stockouts=np.transpose(series_out, (2, 0, 1)),
        service_periods=service.sum(axis=1),
        on_hand=np.moveaxis(path, 3, 0),
    )


def simulate_in_blocks(problem: Problem, target: np.ndarray, ship_tonight: np.ndarray, demand: np.ndarray, *,
                       threads: int = 2, blocks: int = 8) -> SimulationResult:
    """:func:`simulate_policy` on ``blocks`` blocks of scenarios, ``threads`` at a time: the same result.

    A scenario's replay depends only on its own demand, so each block is
    replayed on its own and its figures are copied into the result's arrays
    as it finishes: besides the result, memory holds the working arrays of
    ``threads`` blocks, and NumPy's loops (which release the GIL) run on
    ``threads`` cores. Blocks have at least :data:`MIN_BLOCK` scenarios, so
    every array keeps a real scenario axis and each scenario's figures come
    out to the same bits as from one call (``tests/test_scale_equivalence.py``).
    """
    S, I, J, T = demand.shape
    size = max(MIN_BLOCK, -(-S // blocks))
    starts = list(range(0, S, size))
    if len(starts) > 1 and S - starts[-1] < MIN_BLOCK:
        starts.pop()  # the short last block joins the one before
    if len(starts) == 1:
        return simulate_policy(problem, target, ship_tonight, demand)
    # every figure is (S,) but the series_ ones, (S, I, J); the on-hand path is kept (I, N, T, S)
    out = {f.name: np.empty((S, I, J) if f.name.startswith("series_") else S) for f in fields(SimulationResult)
           if f.name not in ("service_periods", "on_hand")}
    path = np.empty((I, len(problem.network.nodes), T, S))

    def replay(a, b):
        part = simulate_policy(problem, target, ship_tonight, demand[a:b])
        for name, array in out.items():
            array[a:b] = getattr(part, name)
        path[..., a:b] = np.moveaxis(part.on_hand, 0, 3)
        return part.service_periods

    with ThreadPoolExecutor(threads) as pool:
        service_periods = list(pool.map(replay, starts, starts[1:] + [S]))[0]
    return SimulationResult(**out, service_periods=service_periods, on_hand=np.moveaxis(path, 3, 0))


def _room(problem: Problem, arrivals, on_hand, T):
    """``room(n, t, due)``: the fraction (S,) of ``due`` (I, S) that the capacities into ``n`` let ship in ``t``."""
    net = problem.network
    caps = net.capacities()
    capped = np.isfinite(np.vstack(list(caps.values()))).any(axis=0)

    def room(n, t, due):
        if not capped[n]:  # no capacity into n: all of it (what the rows below give with infinite ones)
            return np.ones(due.shape[1])
        L = int(net.lead_time[n])
        free = np.full(due.shape[1], caps["lane"][n])
        if t + L < T:  # arrivals beyond the horizon meet no capacity row
            free = np.minimum(free, caps["throughput"][n] - arrivals[:, n, :, t + L].sum(axis=0))
            coming = arrivals[:, n, :, t : t + L + 1].sum(axis=(0, 2))
            free = np.minimum(free, caps["storage"][n] - np.maximum(on_hand[:, n], 0.0).sum(axis=0) - coming)
        total = due.sum(axis=0)
        return np.where(total > free, np.maximum(free, 0.0) / np.where(total > 0, total, 1.0), 1.0)

    return room


def _send(arrivals, transit, shipped, n, t, L, T):
    """Book units shipped into ``n`` in period ``t``: arrival at t + L, in transit until then."""
    arrivals[:, n, :, t + L] += shipped
    if L:
        transit[:, n, :, t : min(t + L, T)] += shipped[:, :, None]


def _mean_ci(x: np.ndarray) -> dict:
    x = np.asarray(x, float)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "ci95": [float(x.mean() - half), float(x.mean() + half)]}


def summarise(result: SimulationResult) -> dict:
    """Means with normal 95% confidence intervals; the fill rate as a ratio estimator.

    Fill rate :math:`\\hat\\beta = 1 - \\bar u / \\bar d` (units short and demanded per
    scenario); its standard error by the delta method,
    :math:`\\mathrm{sd}(u_s - (1-\\hat\\beta) d_s) / (\\bar d \\sqrt{S})`.
    """
    u, d = result.short_units, result.demand_units
    S = len(u)
    out = {
        "scenarios": S,
        "cost": _mean_ci(result.cost),
        "cost_breakdown": {
            "holding": float(result.holding.mean()),
            "shortage": float(result.shortage.mean()),
            "dc_backlog": float(result.dc_backlog.mean()),
            "capacity_backlog": float(result.capacity_backlog.mean()),
            "transport": float(result.transport.mean()),
        },
        "capital": _mean_ci(result.capital),
        "share_of_scenarios_with_dc_rationing": float((result.dc_rationed_periods > 0).mean()),
    }
    if d.sum() > 0:
        ratio = u.sum() / d.sum()
        se = np.std(u - ratio * d, ddof=1) / (d.mean() * np.sqrt(S)) if S > 1 else float("nan")
        out["fill_rate"] = {"mean": float(1 - ratio), "ci95": [float(1 - ratio - 1.96 * se), float(1 - ratio + 1.96 * se)]}
    else:
        out["fill_rate"] = {"mean": 1.0, "ci95": [1.0, 1.0]}
    # Cycle service: per item x store, the share of service periods without a stock-out.
    per_series = 1.0 - result.series_stockouts.mean(axis=0) / np.maximum(result.service_periods, 1)[None, :]
    out["cycle_service"] = {"lowest_item_location": float(per_series.min()), "mean": float(per_series.mean())}
    return out


def stock_percentiles(result: SimulationResult, items, nodes, levels=(0.05, 0.25, 0.5, 0.75, 0.95)):
    """Percentiles over scenarios of end-of-period on hand, per item x stock point x period.

    Parameters
    ----------
    result : SimulationResult
        A replay; its ``on_hand`` has shape (S, I, N, T).
    items, nodes : sequence of str
        Ids along the item and node axes.
    levels : sequence of float
        Probabilities in (0, 1).

    Returns
    -------
    pandas.DataFrame
        ``item, location, period`` and one ``q<level>`` column per level, in
        units (negative: backorders), one row per item x node x period.
    """
    S, I, N, T = result.on_hand.shape
    q = np.quantile(result.on_hand, levels, axis=0)  # (Q, I, N, T)
    frame = pd.DataFrame({
        "item": np.repeat(np.asarray(items, dtype=object), N * T),
        "location": np.tile(np.repeat(np.asarray(nodes, dtype=object), T), I),
        "period": np.tile(np.arange(T), I * N),
    })
    for k, level in enumerate(levels):
        frame[f"q{level:g}"] = q[k].ravel()
    return frame
