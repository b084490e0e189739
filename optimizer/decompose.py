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
processes (:mod:`optimizer.workers`); with two linking rows the rounds number
a few dozen. Each proposal keeps only the plan's figures, linear in its
solution (:class:`~optimizer.plan.PlanFigures`), so the plan is the
:math:`\theta`-mix of figures and the whole model is never built.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from optimizer.item_models import item_problem
from optimizer.model import Problem
from optimizer.plan import PlanFigures
from optimizer.solver import Solution, SolveStatus, solve_arrays
from optimizer.workers import ItemPool

__all__ = ["solve_decomposed"]

_BIG = 1e7  # cost of violating a linking row in the master (phase-one slack)


def _master(columns, budget_rhs, short_rhs, n_items):
    """Solve the restricted master: (theta, lam, mu, sigma, slack used), or None if it fails."""
    n = len(columns)
    item = np.array([i for i, _ in columns])
    # Rows: 0 capital, 1 service, 2 + i convexity of item i; the last two columns are slacks.
    rows = np.concatenate([np.zeros(n), np.ones(n), 2 + item, [0, 1]]).astype(int)
    cols = np.concatenate([np.arange(n), np.arange(n), np.arange(n), [n, n + 1]])
    vals = np.concatenate([[p.capital for _, p in columns], [p.short for _, p in columns], np.ones(n), [-1.0, -1.0]])
    a = sparse.csc_matrix((vals, (rows, cols)), shape=(2 + n_items, n + 2))
    lo = np.concatenate([[-np.inf, -np.inf], np.ones(n_items)])
    hi = np.concatenate([[np.inf if budget_rhs is None else budget_rhs, np.inf if short_rhs is None else short_rhs],
                         np.ones(n_items)])
    cost = np.concatenate([[p.cost for _, p in columns], [_BIG, _BIG]])
    sol = solve_arrays(cost, a, np.zeros(n + 2), np.full(n + 2, np.inf), lo, hi)
    if sol.status != SolveStatus.OPTIMAL or sol.row_duals is None:
        return None
    x, duals = sol.x, sol.row_duals
    return x[:n], duals[0], duals[1], duals[2:], x[n:].sum()


def solve_decomposed(problem: Problem, *, threads: int = 1, time_limit=None, tol: float = 1e-6, max_rounds: int = 500,
                     objective: str = "cost", workers: int = 1) -> Solution:
    """Solve ``problem`` by pricing its budget and service rows (see module docstring).

    ``objective`` is what is minimised: ``"cost"`` (the plan), or for the
    infeasibility diagnosis ``"capital"`` (expected capital) or ``"short"``
    (probability-weighted store units short over the service periods).
    ``workers`` processes solve the item models (the plan does not depend
    on it). ``time_limit`` bounds each item solve, like each solve of the
    whole model.

    Returns a :class:`~optimizer.solver.Solution` without ``x``: its
    ``figures`` (:class:`~optimizer.plan.PlanFigures`) hold the plan, and
    the master's prices at the capital and service rows.
    """
    t0 = time.perf_counter()
    I = len(problem.items)
    pool = ItemPool([item_problem(problem, i) for i in range(I)], workers=workers, threads=threads,
                    time_limit=time_limit, objective=objective)
    try:
        t1 = time.perf_counter()
        found = _column_generation(pool, problem, I, tol, max_rounds)
    finally:
        pool.close()
    t2 = time.perf_counter()
    if isinstance(found, Solution):
        return found
    columns, rounds, (theta, lam, mu, _, slack), stopped = found
    if slack > 1e-6:
        return Solution(SolveStatus.INFEASIBLE, message="budget and service target cannot both be met")
    figures = _mix(columns, theta, I)
    figures.capital_dual = lam if problem.budget is not None else None
    figures.service_dual = mu if problem.fill_rate is not None else None
    figures.size = _whole_size(problem)
    status = SolveStatus.TIME_LIMIT if stopped else SolveStatus.OPTIMAL
    sol = Solution(status, objective=float(sum(th * p.cost for (_, p), th in zip(columns, theta))),
                   message=f"{rounds} rounds, {len(columns)} proposals, {pool.workers} workers")
    sol.figures = figures
    # "templates": seconds of Pyomo build and compile, once per shape and worker (inside "build").
    sol.timings_s = {"build": t1 - t0, "handover": 0.0, "solve": t2 - t1, "extract": time.perf_counter() - t2,
                     "templates": pool.template_s}
    return sol


def _column_generation(pool, problem, I, tol, max_rounds):
    """Rounds of pricing and master solves: (columns, rounds, last master, stopped early), or a failed Solution.

    Stops early (not proven optimal) after ``max_rounds``.
    """
    columns = []  # (item, Proposal)
    for i, p in enumerate(pool.price(0.0, 0.0)):
        if isinstance(p, str):
            return _failed(problem.items[i], p)
        columns.append((i, p))
    service_demand = sum(p.figures.service_demand for _, p in columns)
    short_rhs = None if problem.fill_rate is None else (1.0 - problem.fill_rate) * service_demand
    rounds = 0
    while True:
        rounds += 1
        master = _master(columns, problem.budget, short_rhs, I)
        if master is None:
            return Solution(SolveStatus.ERROR, message="master problem failed")
        _, lam, mu, sigma, _ = master
        added = 0
        for i, p in enumerate(pool.price(lam, mu)):
            if isinstance(p, str):
                return _failed(problem.items[i], p)
            reduced = p.cost - lam * p.capital - mu * p.short - sigma[i]
            if reduced < -tol * max(1.0, abs(sigma[i])):
                columns.append((i, p))
                added += 1
        stopped = rounds >= max_rounds
        if not added or stopped:
            return columns, rounds, master, bool(added)


def _failed(item, status: str) -> Solution:
    """The decomposition's outcome when an item model ends with HiGHS status ``status``."""
    out = {"Infeasible": SolveStatus.INFEASIBLE, "Time limit reached": SolveStatus.TIME_LIMIT_NO_SOLUTION}
    return Solution(out.get(status, SolveStatus.ERROR), message=f"item {item}: {status}")


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


def _whole_size(problem: Problem) -> tuple[int, int]:
    """Columns and rows of the whole model (what ``--decompose off`` would build)."""
    S, I, N, J, T = problem.shape
    K = len(problem.network.dc_fed)
    cols = I * (N + K + K * (T - 1) * S + N * T * S + J * T * S + K * T * S)
    rows = I * (N + N * T * S + K * T * S) + (problem.budget is not None) + (problem.fill_rate is not None)
    return cols, rows
