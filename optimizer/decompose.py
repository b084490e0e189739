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
:math:`-\lambda` is the shadow price of capital. Each item model is built in
Pyomo and compiled into HiGHS once; only its costs change between rounds,
so each re-solve starts from the last basis. Items are solved one after
another; with 28 items and two linking rows this takes a few dozen rounds.

Other rows that tie items are priced the same way, as a block of linking
rows :math:`\sum_i A_i x_i \le b` with duals :math:`\nu \le 0`: capacities
(one row per period and scenario), the peak and per-scenario capital
measures, open-to-buy and a value-weighted fill rate. Each proposal carries
its activity :math:`A_i x_i^k`, the master has one row per linking row, and
each item model re-solves :math:`\min f_i(x) - \lambda g_i(x) - \mu u_i(x) -
\nu^\top A_i x`; :math:`A_i` is read from the whole model's rows. Each item
model keeps the capacities too (a relaxation: one item alone within the
shared capacity). Integer rules (case packs, MOQs, cycle service) break the
convexity the mix relies on, and fill rates per item or item x store are
rows of one item the master does not price:
:meth:`optimizer.model.Problem.beyond_decomposition` lists them, and
``solver.decompose: auto`` then solves the model whole while ``on`` refuses.
"""

from __future__ import annotations

import dataclasses
import time

import highspy
import numpy as np
from scipy import sparse

from optimizer.lp import column_vector
from optimizer.model import Built, Problem, build_model
from optimizer.solver import Solution, SolveStatus, _highs, compile_pyomo, cost_scale, load_arrays, solve_arrays

__all__ = ["solve_decomposed"]

_BIG = 1e7  # cost of violating a linking row in the master (phase-one slack)


def _item_problem(problem: Problem, i: int) -> Problem:
    one = slice(i, i + 1)
    return dataclasses.replace(
        problem,
        items=problem.items[one],
        demand=problem.demand[:, one],
        unit_cost=problem.unit_cost[one],
        holding_cost=problem.holding_cost[one],
        shortage_cost=problem.shortage_cost[one],
        on_hand=problem.on_hand[one],
        pipeline=problem.pipeline[one],
        fixed_order=None if problem.fixed_order is None else problem.fixed_order[one],
        fixed_target=None if problem.fixed_target is None else problem.fixed_target[one],
        budget=None,
        fill_rate=None,
        open_to_buy=None,
    )


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


class _ItemModel:
    """One item's Pyomo model, compiled once into HiGHS and re-solved as its prices change."""

    def __init__(self, built: Built, threads: int, time_limit, objective: str = "cost", link=None):
        lp = built.lp
        self.link = link  # its part of the linking rows (CSR, rows x its columns), or None
        self.block_cols = built.cols  # kept; the programme's arrays are let go once compiled
        self.n_cols = lp.n_cols
        self.cost = lp.objective_vector()
        self.const = lp.objective_constant
        k = built.constants
        self.capital = column_vector(lp.n_cols, k["cap_terms"])
        self.capital_const = k["capital"]
        w = built.problem.probability[None, None, None, :] * k["service_mask"][None, :, :, None]
        self.short = column_vector(lp.n_cols, [(w, built.cols["short"])])
        if objective == "capital":  # the least capital (diagnosis)
            self.cost, self.const = self.capital.copy(), self.capital_const
        elif objective == "short":  # the fewest units short (diagnosis)
            self.cost, self.const = self.short.copy(), 0.0
        compiled = compile_pyomo(lp.to_pyomo())
        self.cols = compiled.cols  # compiled column k is programme column cols[k]
        a = compiled.a_csc
        self.highs = _highs(time_limit, threads)
        self.scale = cost_scale(self.cost)
        load_arrays(self.highs, self.cost[self.cols] * self.scale, a, compiled.col_lb, compiled.col_ub,
                    compiled.row_lb, compiled.row_ub)
        self.index = np.arange(a.shape[1], dtype=np.int32)

    def priced(self, lam: float, mu: float, nu) -> np.ndarray:
        """Its costs at prices lam (budget), mu (fill rate) and nu (linking rows)."""
        priced = self.cost - lam * self.capital - mu * self.short
        return priced if self.link is None else priced - self.link.T @ nu

    def solve(self, lam: float, mu: float, nu=None) -> np.ndarray | None:
        """The item's plan at prices (lam, mu, nu), as a vector over the programme's columns."""
        priced = self.priced(lam, mu, nu)
        self.highs.changeColsCost(len(self.index), self.index, priced[self.cols] * self.scale)
        self.highs.run()
        self.status = self.highs.getModelStatus()
        if self.status != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.zeros(self.n_cols)
        x[self.cols] = np.asarray(self.highs.getSolution().col_value, float)
        return x


def _failed(model: _ItemModel, message: str, otherwise: SolveStatus) -> Solution:
    """An item model's failed solve: out of time, or ``otherwise``."""
    if model.status == highspy.HighsModelStatus.kTimeLimit:
        return Solution(SolveStatus.TIME_LIMIT_NO_SOLUTION, message=f"{message} within the time limit")
    return Solution(otherwise, message=f"{message} ({model.highs.modelStatusToString(model.status)})")


def _master(columns, budget_rhs, short_rhs, n_items, link_rhs=np.empty(0)):
    """Solve the restricted master: (theta, lam, mu, sigma, nu, slack used), or None if it fails."""
    n = len(columns)
    item = np.array([c[0] for c in columns])
    R = len(link_rhs)
    # Rows: 0 capital, 1 service, 2 + i convexity of item i, then the R linking rows; the
    # columns after the proposals are slacks, one per capital, service and linking row.
    link = sparse.csc_matrix(np.column_stack([c[4] for c in columns])) if R else sparse.csc_matrix((0, n))
    rows = np.concatenate([np.zeros(n), np.ones(n), 2 + item, [0, 1], 2 + n_items + link.indices]).astype(int)
    cols = np.concatenate([np.arange(n), np.arange(n), np.arange(n), [n, n + 1],
                           np.repeat(np.arange(n), np.diff(link.indptr))])
    vals = np.concatenate([[c[2] for c in columns], [c[3] for c in columns], np.ones(n), [-1.0, -1.0], link.data])
    a = sparse.csc_matrix((vals, (rows, cols)), shape=(2 + n_items + R, n + 2))
    if R:
        a = sparse.hstack([a, sparse.vstack([sparse.csc_matrix((2 + n_items, R)), -sparse.identity(R)])]).tocsc()
    lo = np.concatenate([[-np.inf, -np.inf], np.ones(n_items), np.full(R, -np.inf)])
    hi = np.concatenate([[np.inf if budget_rhs is None else budget_rhs, np.inf if short_rhs is None else short_rhs],
                         np.ones(n_items), link_rhs])
    cost = np.concatenate([[c[1] for c in columns], [_BIG, _BIG], np.full(R, _BIG)])
    sol = solve_arrays(cost, a, np.zeros(n + 2 + R), np.full(n + 2 + R, np.inf), lo, hi)
    if sol.status != SolveStatus.OPTIMAL or sol.row_duals is None:
        return None
    x, duals = sol.x, sol.row_duals
    return x[:n], duals[0], duals[1], duals[2 : 2 + n_items], duals[2 + n_items :], x[n:].sum()


def solve_decomposed(problem: Problem, *, threads: int = 1, time_limit=None, tol: float = 1e-6, max_rounds: int = 500,
                     objective: str = "cost", pool: dict | None = None):
    """Solve ``problem`` by pricing its budget and service rows (see module docstring).

    ``objective`` is what is minimised: ``"cost"`` (the plan), or for the
    infeasibility diagnosis ``"capital"`` (expected capital) or ``"short"``
    (probability-weighted store units short over the service periods).

    ``time_limit`` bounds each HiGHS solve and, checked after each round, the
    rounds in all (building excluded): past it the current combination is
    returned with status ``TIME_LIMIT`` if it meets the linking rows, else
    ``TIME_LIMIT_NO_SOLUTION`` (exit code 4), as is an item solve that runs out.

    ``pool``, a dict owned by the caller, keeps the compiled item models and
    every proposal between calls that differ only in ``budget`` and
    ``fill_rate`` (the points of a frontier): both are right-hand sides of
    the master, so a later call builds nothing and starts from all earlier
    proposals. Pass an empty dict on the first call.

    Returns ``(built, solution)`` like the monolithic path: ``built`` is the
    whole model's programme (built for its indices, not solved) and the
    solution's ``x`` is in its column order; ``row_duals`` holds the master's
    prices at the capital and service rows (0 elsewhere).

    ``time_limit`` (seconds) bounds each item solve and the whole: rounds
    stop once it has passed, and if the master's mix already meets both
    linking rows it is returned as the best plan found (``TIME_LIMIT``),
    otherwise ``TIME_LIMIT_NO_SOLUTION``.
    """
    t0 = time.perf_counter()
    I = len(problem.items)
    if pool:
        whole, items = dataclasses.replace(pool["whole"], problem=problem), pool["items"]
        blocks, a_link, link_rhs = pool["link"]
    else:
        # Pooled: both linking rows, so that later calls may set either.
        rows = dict(budget=np.inf, fill_rate=0.0) if pool is not None else {}
        whole = build_model(dataclasses.replace(problem, **rows))
        whole.problem = problem
        blocks, a_link, link_rhs = _linking_rows(whole)
        items = []
        for i in range(I):
            item = build_model(_item_problem(problem, i))
            items.append(_ItemModel(item, threads, time_limit, objective, _item_link(a_link, whole, item, i)))
        if pool is not None:
            pool.update(whole=whole, items=items, link=(blocks, a_link, link_rhs), columns=[], solutions=[])
    t1 = time.perf_counter()
    cap_const = sum(m.capital_const for m in items)
    budget_rhs = None if problem.budget is None or problem.capital_measure != "average" else problem.budget - cap_const
    short_rhs = (None if problem.fill_rate is None or problem.service_weighting != "units"
                 else (1.0 - problem.fill_rate) * whole.constants["service_demand"])
    columns, solutions = (pool["columns"], pool["solutions"]) if pool is not None else ([], [])

    def propose(i, x):
        m = items[i]
        activity = np.empty(0) if m.link is None else m.link @ x
        columns.append((i, float(m.cost @ x + m.const), float(m.capital @ x), float(m.short @ x), activity))
        solutions.append(x)

    lam = mu = 0.0
    nu = np.zeros(len(link_rhs))
    for i, m in enumerate(items if not columns else ()):
        x = m.solve(0.0, 0.0, nu)
        if x is None:
            return whole, _failed(m, f"item {problem.items[i]} has no plan", SolveStatus.INFEASIBLE)
        propose(i, x)
    rounds = 0
    while True:
        rounds += 1
        master = _master(columns, budget_rhs, short_rhs, I, link_rhs)
        if master is None:
            return whole, Solution(SolveStatus.ERROR, message="master problem failed")
        theta, lam, mu, sigma, nu, slack = master
        added = 0
        for i, m in enumerate(items):
            x = m.solve(lam, mu, nu)
            if x is None:
                return whole, _failed(m, f"item {problem.items[i]} failed to re-solve", SolveStatus.ERROR)
            reduced = m.priced(lam, mu, nu) @ x + m.const - sigma[i]
            if reduced < -tol * max(1.0, abs(sigma[i])):
                propose(i, x)
                added += 1
        out_of_time = time_limit is not None and time.perf_counter() - t1 > time_limit  # solving, not building
        if not added or rounds >= max_rounds or out_of_time:
            break
    t2 = time.perf_counter()
    if slack > 1e-6:
        if added and out_of_time:
            return whole, Solution(SolveStatus.TIME_LIMIT_NO_SOLUTION, message=f"time limit after {rounds} rounds")
        return whole, Solution(SolveStatus.INFEASIBLE, message="the budget, service target and limits cannot all be met")
    x = np.zeros(whole.lp.n_cols)
    for (i, *_), xi, th in zip(columns, solutions, theta):
        if th <= 0:
            continue
        sub = items[i].block_cols
        for name, cols in whole.cols.items():
            x[cols[i]] += th * xi[sub[name][0]]
    duals = np.zeros(whole.lp.n_rows)
    if budget_rhs is not None:
        duals[whole.rows["capital"]] = lam
    if short_rhs is not None:
        duals[whole.rows["service"]] = mu
    if blocks:
        duals[np.concatenate([np.arange(b.start, b.start + b.size) for b in blocks])] = nu
    objective = float(sum(th * c[1] for c, th in zip(columns, theta)))
    # Stopped by the time limit (or max_rounds) with proposals still improving: the master's
    # plan meets both rows (slack 0) and is the best found, not proven optimal.
    status = SolveStatus.TIME_LIMIT if added else SolveStatus.OPTIMAL
    sol = Solution(status, objective=objective, x=x, row_duals=duals, message=f"{rounds} rounds, {len(columns)} proposals")
    sol.timings_s = {"build": t1 - t0, "handover": 0.0, "solve": t2 - t1, "extract": time.perf_counter() - t2}
    return whole, sol
