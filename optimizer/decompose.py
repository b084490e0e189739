r"""Solve the model item by item, with prices on the shared budget and service target.

Items interact only through two rows: the capital budget and the network
fill-rate target (DESIGN.md section 6). Dantzig-Wolfe decomposition prices
them. For item :math:`i`, each solution :math:`x_i^k` of its own model
(without the two rows) is a *proposal* with cost :math:`f_i^k`, capital
:math:`g_i^k` and weighted units short :math:`u_i^k`. The master problem
mixes proposals,

.. math::

    \min \sum_{i,k} f_i^k \theta_{ik} \quad \text{s.t.} \quad
    \sum_{i,k} g_i^k \theta_{ik} \le B - g_0, \quad
    \sum_{i,k} u_i^k \theta_{ik} \le (1 - \beta) \bar D, \quad
    \sum_k \theta_{ik} = 1 \;\; (\sigma_i), \quad \theta \ge 0,

and its duals :math:`\lambda \le 0` (capital) and :math:`\mu \le 0` (service)
price the item models: each re-solves :math:`\min f_i(x) - \lambda g_i(x) -
\mu u_i(x)`, warm from its last basis (only costs change). A proposal whose
reduced cost :math:`f - \lambda g - \mu u - \sigma_i` is negative joins the
master; when none is, the mix :math:`\sum_k \theta_{ik} x_i^k` is optimal for
the whole model (each item model is convex, so the mix is feasible), and
:math:`-\lambda` is the shadow price of capital. Items of the same shape share
one Pyomo model compiled into HiGHS, with each item's data swapped in
(:mod:`optimizer.item_models`); each re-solve starts from the item's last
basis. A round prices every item at the same prices, in parallel worker
processes (:mod:`optimizer.workers`). The rounds stop once the Lagrangian
bound proves the master within a relative ``gap`` of the optimum (3 rounds
for 1,000 items to a gap of 1e-4, ``benchmarks/README.md``); the master's
prices are kept in a box that widens as needed (:func:`_column_generation`),
and a large catalogue's first round is priced at the prices of a sample of
its items rather than at zero. Each item model is itself solved as one model
per root subtree (:mod:`optimizer.subtrees`). Each proposal keeps only the
plan's figures, linear in its solution (:class:`~optimizer.plan.PlanFigures`),
so the plan is the :math:`\theta`-mix of figures and the whole model is
never built.

Other rows that tie items are priced the same way, as a block of linking
rows :math:`\sum_i A_i x_i \le b` with duals :math:`\nu \le 0`: capacities
(one row per period and scenario), the peak and per-scenario capital
measures, open-to-buy and a value-weighted fill rate. Each proposal carries
its activity :math:`A_i x_i^k`, the master has one row per linking row, and
each item model re-solves :math:`\min f_i(x) - \lambda g_i(x) - \mu u_i(x) -
\nu^\top A_i x`. With such rows the whole model *is* built, for
:math:`A_i` (read from its rows) and for the plan: proposals then keep
their solution too, and the plan is read from the :math:`\theta`-mix of
solutions in the whole model's columns (its capacity, capital-measure,
open-to-buy and per-target figures are not linear in the solution). Each
item model keeps the capacities too (a relaxation: one item alone within the
shared capacity). Integer rules (case packs, MOQs, cycle service) break the
convexity the mix relies on, and fill rates per item or item x store are
rows of one item the master does not price:
:meth:`optimizer.model.Problem.beyond_decomposition` lists them, and
``solver.decompose: auto`` then solves the model whole while ``on`` refuses.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
from scipy import sparse

from optimizer.item_models import item_problem, select_items
from optimizer.logs import event
from optimizer.model import Built, Problem, build_model
from optimizer.plan import PlanFigures, plan_figures
from optimizer.solver import Solution, SolveStatus, solve_arrays
from optimizer.workers import ItemPool

__all__ = ["solve_decomposed", "close_pool"]

_BIG = 1e7  # cost of violating a linking row in the master (phase-one slack)
_SAMPLE = 20  # items whose decomposition gives the first prices of a larger catalogue
_SOFT = 1e4  # cost of a unit short beyond a soft fill-rate target (``elastic``), far above any p_i


def _has_linking_rows(problem: Problem) -> bool:
    """Whether rows other than the average budget and the network fill rate in units tie items."""
    return any(np.isfinite(c).any() for c in problem.network.capacities().values()) or (
        problem.budget is not None and problem.capital_measure != "average") or (
        problem.fill_rate is not None and problem.service_weighting != "units") or problem.open_to_buy is not None


def _linking_rows(whole: Built):
    """The whole model's rows, other than the average budget and the network fill rate in
    units, that tie items together: (blocks, A as CSR over the whole model's columns, rhs)."""
    pr, lp = whole.problem, whole.lp
    blocks = [block for _, _, block, _ in whole.rows["capacity"]]
    if "capital" in whole.rows and pr.capital_measure != "average":
        blocks.append(lp.constraints["capital"])
    if "service" in whole.rows and pr.service_weighting != "units":
        blocks.append(lp.constraints["service"])
    if "open_to_buy" in whole.rows:
        blocks.append(lp.constraints["open_to_buy"])
    if not blocks:
        return [], None, np.empty(0)
    offsets = np.cumsum([0] + [b.size for b in blocks])
    a = sparse.csr_matrix((np.concatenate([b.coefs for b in blocks]),
                           (np.concatenate([b.rows + o for b, o in zip(blocks, offsets)]),
                            np.concatenate([b.cols for b in blocks]))), shape=(offsets[-1], lp.n_cols))
    return blocks, a, np.concatenate([b.rhs for b in blocks])


def _item_link(a_link, whole: Built, item: Built, i: int):
    """Item ``i``'s part of the linking rows, over its own model's columns (None without any)."""
    if a_link is None:
        return None
    pairs = np.unique(np.column_stack([  # (whole column, own column); tonight's shipments repeat over scenarios
        np.concatenate([whole.cols[name][i].ravel() for name in whole.cols]),
        np.concatenate([item.cols[name][0].ravel() for name in whole.cols])]), axis=0)
    p = sparse.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(whole.lp.n_cols, item.lp.n_cols))
    return (a_link @ p).tocsr()


def _master(columns, budget_rhs, short_rhs, n_items, link_rhs=np.empty(0), slack_cost=(_BIG, _BIG)):
    """Solve the restricted master: (theta, lam, mu, sigma, nu, slacks used), or None if it fails.

    The slacks are, in order, the capital, service and linking rows' violations; ``slack_cost``
    is what a unit of the capital and service rows' slacks costs (the linking rows': :data:`_BIG`),
    and so bounds their prices: :math:`-\\lambda \\le` ``slack_cost[0]``, :math:`-\\mu \\le` ``slack_cost[1]``."""
    n = len(columns)
    item = np.array([i for i, _ in columns])
    R = len(link_rhs)
    # Rows: 0 capital, 1 service, 2 + i convexity of item i, then the R linking rows; the
    # columns after the proposals are slacks, one per capital, service and linking row.
    link = sparse.csc_matrix(np.column_stack([p.activity for _, p in columns])) if R else sparse.csc_matrix((0, n))
    rows = np.concatenate([np.zeros(n), np.ones(n), 2 + item, [0, 1], 2 + n_items + link.indices]).astype(int)
    cols = np.concatenate([np.arange(n), np.arange(n), np.arange(n), [n, n + 1],
                           np.repeat(np.arange(n), np.diff(link.indptr))])
    vals = np.concatenate([[p.capital for _, p in columns], [p.short for _, p in columns], np.ones(n), [-1.0, -1.0],
                           link.data])
    a = sparse.csc_matrix((vals, (rows, cols)), shape=(2 + n_items + R, n + 2))
    if R:
        a = sparse.hstack([a, sparse.vstack([sparse.csc_matrix((2 + n_items, R)), -sparse.identity(R)])]).tocsc()
    lo = np.concatenate([[-np.inf, -np.inf], np.ones(n_items), np.full(R, -np.inf)])
    hi = np.concatenate([[np.inf if budget_rhs is None else budget_rhs, np.inf if short_rhs is None else short_rhs],
                         np.ones(n_items), link_rhs])
    cost = np.concatenate([[p.cost for _, p in columns], slack_cost, np.full(R, _BIG)])
    sol = solve_arrays(cost, a, np.zeros(n + 2 + R), np.full(n + 2 + R, np.inf), lo, hi)
    if sol.status != SolveStatus.OPTIMAL or sol.row_duals is None:
        return None
    x, duals = sol.x, sol.row_duals
    return x[:n], duals[0], duals[1], duals[2 : 2 + n_items], duals[2 + n_items :], x[n:]


def solve_decomposed(problem: Problem, *, threads: int = 1, time_limit=None, tol: float = 1e-6, max_rounds: int = 500,
                     objective: str = "cost", workers: int = 1, solution: bool = False,
                     pool: dict | None = None, engine=None, gap: float = 1e-6,
                     sample: int = _SAMPLE, elastic: bool = False) -> Solution:
    """Solve ``problem`` by pricing its linking rows (see module docstring).

    ``objective`` is what is minimised: ``"cost"`` (the plan), or for the
    infeasibility diagnosis ``"capital"`` (expected capital) or ``"short"``
    (probability-weighted store units short over the service periods).
    ``workers`` processes solve the item models (the plan does not depend
    on it). ``engine`` (:mod:`optimizer.engines`), when given, makes the
    item pool instead (Spark: ``workers`` item groups); None: local processes.

    The rounds stop once the Lagrangian bound proves the master's objective
    within ``gap`` (relative) of the optimum (see :func:`_column_generation`).
    A catalogue of more than twice ``sample`` items is first priced at the
    prices of a sample of ``sample`` of its items (:func:`_sample_prices`)
    instead of at zero prices (``sample=0``: never).

    ``time_limit`` (seconds) bounds each item solve and, checked after each
    round, the rounds in all (building excluded): past it the current
    combination is returned with status ``TIME_LIMIT`` if it meets the
    linking rows, else ``TIME_LIMIT_NO_SOLUTION`` (exit code 4), as is an
    item solve that runs out.

    With ``elastic`` the network fill-rate target in units is soft (a
    value-weighted one, a linking row, stays hard): a unit short
    beyond it costs :data:`_SOFT` per unit in the master (above any shortage
    cost, so the fill rate comes first and cost second). When the budget
    cannot buy the target, one solve then gives the best fill rate it buys,
    instead of an infeasible solve and a second one without the target; the
    status is ``OPTIMAL`` and ``figures.service_short`` says what is reached
    (the service dual is then the penalty, not a price).

    ``pool``, a dict owned by the caller, keeps the item models (and their
    workers) and every proposal between calls that differ only in ``budget``
    and ``fill_rate`` (the points of a frontier): both are right-hand sides of
    the master, so a later call builds nothing and starts from all earlier
    proposals. Pass an empty dict on the first call, and
    :func:`close_pool` it when done.

    Returns a :class:`~optimizer.solver.Solution` whose ``figures``
    (:class:`~optimizer.plan.PlanFigures`) hold the plan, with the master's
    prices at the linking rows. With linking rows beyond the average budget
    and the network fill rate in units, or with ``solution`` (the nightly's
    exceptions and supplier feeds read the whole solution), the whole model
    is built: ``built`` is it, ``x`` the mix in its columns and ``row_duals``
    the master's prices at its rows; otherwise all three are None.
    """
    t0 = time.perf_counter()
    I = len(problem.items)
    if pool:
        whole, item_cols, blocks, link_rhs, items, columns = (pool[k] for k in (
            "whole", "item_cols", "blocks", "link_rhs", "items", "columns"))
        if whole is not None:
            whole = dataclasses.replace(whole, problem=problem)
    else:
        problems = [item_problem(problem, i) for i in range(I)]
        # Pooled: the whole model with both rows, so that later calls may set either.
        rows = dict(budget=np.inf, fill_rate=0.0) if pool is not None else {}
        whole = build_model(dataclasses.replace(problem, **rows)) if solution or _has_linking_rows(problem) else None
        if whole is not None:
            whole.problem = problem
        blocks, a_link, link_rhs = _linking_rows(whole) if whole is not None else ([], None, np.empty(0))
        links = item_cols = None
        if whole is not None:
            built = [build_model(p) for p in problems]  # for their columns' places only
            links = None if a_link is None else [_item_link(a_link, whole, item, i) for i, item in enumerate(built)]
            item_cols = [item.cols for item in built]
            del built
        make_pool = ItemPool if engine is None else engine.item_pool
        items = make_pool(problems, links=links, keep_x=whole is not None, workers=workers, threads=threads,
                          time_limit=time_limit, objective=objective)
        columns = []
        if pool is not None:
            pool.update(whole=whole, item_cols=item_cols, blocks=blocks, link_rhs=link_rhs, items=items,
                        columns=columns)
    try:
        start = (0.0, 0.0)
        if not columns and sample and I > 2 * sample and not len(link_rhs) and objective == "cost":
            start = _sample_prices(problem, sample, threads=threads, time_limit=time_limit, tol=tol,
                                   max_rounds=max_rounds, workers=workers, gap=gap, engine=engine)
        t1 = time.perf_counter()
        found = _column_generation(items, problem, link_rhs, tol, max_rounds, time_limit, columns, gap, start,
                                   _SOFT if elastic else _BIG)
    finally:
        if pool is None:
            items.close()
    t2 = time.perf_counter()
    if isinstance(found, Solution):
        return found
    columns, rounds, (theta, lam, mu, _, nu, slack), budget_row, service_row, added, out_of_time, proven = found
    if _violation(slack, soft_service=elastic) > 1e-6:
        if added and out_of_time:
            return Solution(SolveStatus.TIME_LIMIT_NO_SOLUTION, message=f"time limit after {rounds} rounds")
        return Solution(SolveStatus.INFEASIBLE, message="the budget, service target and limits cannot all be met")
    if whole is None:
        figures = _mix(columns, theta, I)
        figures.capital_dual = lam if budget_row else None
        figures.service_dual = mu if service_row else None
        figures.size = (items.size[0], items.size[1] + budget_row + service_row)
    else:
        x, duals, figures = _mixed_solution(whole, item_cols, columns, theta, blocks,
                                     (lam if budget_row else None, mu if service_row else None, nu))
    # Stopped by the time limit (or max_rounds) with proposals still improving: the master's
    # plan meets the linking rows (slack 0) and is the best found, not proven optimal.
    status = SolveStatus.TIME_LIMIT if added else SolveStatus.OPTIMAL
    sol = Solution(status, objective=float(sum(th * p.cost for (_, p), th in zip(columns, theta))),
                   message=f"{rounds} rounds, {len(columns)} proposals, {items.workers} workers, "
                           f"within {proven:.1e} of the optimum")
    sol.figures = figures
    sol.decomposition = {"rounds": rounds, "proposals": len(columns), "workers": items.workers, "proven_gap": proven}
    if whole is not None:
        sol.built, sol.x, sol.row_duals = whole, x, duals
    # "templates": seconds of Pyomo build and compile, once per shape and worker (inside "build").
    sol.timings_s = {"build": t1 - t0, "handover": 0.0, "solve": t2 - t1, "extract": time.perf_counter() - t2,
                     "templates": items.template_s}
    return sol


def _column_generation(pool, problem, link_rhs, tol, max_rounds, time_limit, columns, gap=0.0, start=(0.0, 0.0),
                       service_slack_cost=_BIG):
    r"""Rounds of pricing and master solves, or a failed Solution: (columns, rounds, last master,
    whether the budget and service rows are in the master, not yet converged, out of time, the
    relative gap to the Lagrangian bound proven at the last round).

    ``columns`` (item, Proposal) are the proposals so far, extended in place; when empty,
    every item is first priced at the prices ``start`` (lam, mu). Converged when no
    proposal has a negative reduced cost, or when the master's objective :math:`z`
    (its linking rows met) is within ``gap`` of the Lagrangian bound at the round's
    prices, :math:`z + \sum_i \min(0, \bar c_i) \le z^* \le z` with :math:`\bar c_i`
    item i's least reduced cost (every item priced at the same prices). Stops early
    (not proven optimal) after ``max_rounds`` or once ``time_limit`` has passed.

    The prices are kept in a box (the dual box of stabilised column generation, du Merle et
    al. 1999, centred at zero): the capital and service rows' slacks cost
    :math:`M = (M_\lambda, M_\mu)`, so the master's prices stay within :math:`[-M, 0]` instead
    of jumping to the phase-one price :data:`_BIG` when the first proposals cannot meet a row,
    which sends every item to an extreme solution its next solve must come back from (the
    most expensive round of a decomposition, measured in ``benchmarks/README.md``). :math:`M`
    starts at twice the ``start`` prices (or 1 per unit of capital and four times the highest
    shortage cost per unit short), and is widened fourfold, up to :data:`_BIG`, whenever no
    proposal improves while a row's slack is still used: the optimum with the slacks at zero
    is the whole model's, so the box changes only the path, never the plan's optimality.
    """
    t1 = time.perf_counter()
    nu = np.zeros(len(link_rhs))
    for i, p in enumerate(pool.price(*start, nu) if not columns else ()):
        if isinstance(p, str):
            return _failed(problem.items[i], "has no plan", p, SolveStatus.INFEASIBLE)
        columns.append((i, p))
    # A proposal's capital includes its item's constant, so the budget is the row's bound as it is.
    budget_rhs = None if problem.budget is None or problem.capital_measure != "average" else problem.budget
    service_demand = sum(p.figures.service_demand for _, p in columns[: len(problem.items)])  # one per item
    short_rhs = (None if problem.fill_rate is None or problem.service_weighting != "units"
                 else (1.0 - problem.fill_rate) * service_demand)
    soft = service_slack_cost < _BIG
    box = np.array([2.0 * abs(start[0]) or 1.0,
                    service_slack_cost if soft else 2.0 * abs(start[1]) or 4.0 * float(np.max(problem.shortage_cost))])
    rounds = 0
    while True:
        rounds += 1
        master = _master(columns, budget_rhs, short_rhs, len(problem.items), link_rhs, box)
        if master is None:
            return Solution(SolveStatus.ERROR, message="master problem failed")
        theta, lam, mu, sigma, nu, slack = master
        z = float(sum(th * p.cost for (_, p), th in zip(columns, theta)))
        added, bound = 0, z
        for i, p in enumerate(pool.price(lam, mu, nu)):
            if isinstance(p, str):
                return _failed(problem.items[i], "failed to re-solve", p, SolveStatus.ERROR)
            reduced = p.cost - lam * p.capital - mu * p.short - nu @ p.activity - sigma[i]
            bound += min(0.0, reduced)
            if reduced < -tol * max(1.0, abs(sigma[i])):
                columns.append((i, p))
                added += 1
        violation = _violation(slack, soft_service=soft)
        open_ = bool(added) and not (violation <= 1e-6 and z - bound <= gap * max(1.0, abs(z)))
        tight = [k for k in (0, 1) if slack[k] > 1e-6 and box[k] < _BIG and not (k == 1 and soft)]
        if not open_ and tight:  # the box, not the rows, holds the prices: widen it and go on
            box[tight] = np.minimum(4.0 * box[tight], _BIG)
            open_ = True
        proven = (z - bound) / max(1.0, abs(z))
        event("decomposition round", level=logging.DEBUG, round=rounds, added=added, objective=z, gap=proven,
              violation=violation, capital_price=-lam, seconds=round(time.perf_counter() - t1, 2))
        out_of_time = time_limit is not None and time.perf_counter() - t1 > time_limit  # solving, not building
        if not open_ or rounds >= max_rounds or out_of_time:
            return (columns, rounds, master, budget_rhs is not None, short_rhs is not None, open_, out_of_time,
                    proven)


def _violation(slack: np.ndarray, soft_service: bool) -> float:
    """How far the master's plan breaks its rows: the slacks of :func:`_master` summed (capital,
    service, linking rows), the service row's left out when it is soft (its slack is then a cost)."""
    return float(np.delete(slack, 1).sum() + (0.0 if soft_service else slack[1]))


def _sample_prices(problem: Problem, size: int, **options) -> tuple[float, float]:
    """Prices (lam, mu) of the budget and network fill-rate rows for ``size`` items spread
    evenly over the catalogue, with the budget scaled by their share of the expected
    demand at cost (zero prices if that sample has no plan)."""
    pick = np.unique(np.linspace(0, len(problem.items) - 1, size).round().astype(int))
    value = np.einsum("sijt,s,i->i", problem.demand, problem.probability, problem.unit_cost)
    budget = None if problem.budget is None else problem.budget * value[pick].sum() / max(value.sum(), 1e-300)
    sol = solve_decomposed(dataclasses.replace(select_items(problem, pick), budget=budget), sample=0, **options)
    if sol.status != SolveStatus.OPTIMAL:
        return 0.0, 0.0
    return sol.figures.capital_dual or 0.0, sol.figures.service_dual or 0.0


def _failed(item, what: str, status: str, otherwise: SolveStatus) -> Solution:
    """The decomposition's outcome when an item model ends with HiGHS status ``status``:
    out of time, or ``otherwise``."""
    if status == "Time limit reached":
        return Solution(SolveStatus.TIME_LIMIT_NO_SOLUTION, message=f"item {item} {what} within the time limit")
    return Solution(otherwise, message=f"item {item} {what} ({status})")


def _mix(columns, theta, I) -> PlanFigures:
    """The plan's figures: each item's proposals mixed by theta, items stacked in order."""
    per_item = [dict() for _ in range(I)]
    capital = short = demand = 0.0
    for (i, p), th in zip(columns, theta):
        if th <= 0:
            continue
        for name, v in p.figures.per_item().items():
            per_item[i][name] = per_item[i].get(name, 0.0) + th * v
        capital += th * p.capital
        short += th * p.short
    for i, p in columns[:I]:  # the first proposal of each item, in item order
        demand += p.figures.service_demand
    stacked = {name: np.concatenate([d[name] for d in per_item]) for name in per_item[0]}
    return PlanFigures(**stacked, capital_used=capital, service_short=short, service_demand=demand)


def _mixed_solution(whole: Built, item_cols, columns, theta, blocks, prices):
    """The plan's solution, row prices and figures read from the whole model at the theta-mix of the proposals' solutions
    (``item_cols[i]``: item i's columns in its own model), with the master's prices (lam, mu,
    nu) at the budget, service and linking rows."""
    x = np.zeros(whole.lp.n_cols)
    for (i, p), th in zip(columns, theta):
        if th > 0:
            for name, cols in whole.cols.items():
                x[cols[i]] += th * p.x[item_cols[i][name][0]]
    lam, mu, nu = prices
    duals = np.zeros(whole.lp.n_rows)
    if lam is not None:
        duals[whole.rows["capital"]] = lam
    if mu is not None:
        duals[whole.rows["service"]] = mu
    if blocks:
        duals[np.concatenate([np.arange(b.start, b.start + b.size) for b in blocks])] = nu
    return x, duals, plan_figures(whole, x, duals)


def close_pool(pool: dict) -> None:
    """Stop the workers a ``pool`` of :func:`solve_decomposed` keeps (idempotent)."""
    if pool:
        pool["items"].close()
