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
"""

from __future__ import annotations

import dataclasses
import time

import highspy
import numpy as np
from scipy import sparse

from optimizer.lp import column_vector
from optimizer.model import Built, Problem, build_model
from optimizer.solver import Solution, SolveStatus, _highs, compile_pyomo, load_arrays, solve_arrays

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
        budget=None,
        fill_rate=None,
    )


class _ItemModel:
    """One item's Pyomo model, compiled once into HiGHS and re-solved as its prices change."""

    def __init__(self, built: Built, threads: int, time_limit, objective: str = "cost"):
        lp = built.lp
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
        load_arrays(self.highs, self.cost[self.cols], a, compiled.col_lb, compiled.col_ub,
                    compiled.row_lb, compiled.row_ub)
        self.index = np.arange(a.shape[1], dtype=np.int32)

    def solve(self, lam: float, mu: float) -> np.ndarray | None:
        """The item's plan at prices (lam, mu), as a vector over the programme's columns."""
        priced = self.cost - lam * self.capital - mu * self.short
        self.highs.changeColsCost(len(self.index), self.index, priced[self.cols])
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.zeros(self.n_cols)
        x[self.cols] = np.asarray(self.highs.getSolution().col_value, float)
        return x


def _master(columns, budget_rhs, short_rhs, n_items):
    """Solve the restricted master: (theta, lam, mu, sigma, slack used), or None if it fails."""
    n = len(columns)
    item = np.array([c[0] for c in columns])
    # Rows: 0 capital, 1 service, 2 + i convexity of item i; the last two columns are slacks.
    rows = np.concatenate([np.zeros(n), np.ones(n), 2 + item, [0, 1]]).astype(int)
    cols = np.concatenate([np.arange(n), np.arange(n), np.arange(n), [n, n + 1]])
    vals = np.concatenate([[c[2] for c in columns], [c[3] for c in columns], np.ones(n), [-1.0, -1.0]])
    a = sparse.csc_matrix((vals, (rows, cols)), shape=(2 + n_items, n + 2))
    lo = np.concatenate([[-np.inf, -np.inf], np.ones(n_items)])
    hi = np.concatenate([[np.inf if budget_rhs is None else budget_rhs, np.inf if short_rhs is None else short_rhs],
                         np.ones(n_items)])
    cost = np.concatenate([[c[1] for c in columns], [_BIG, _BIG]])
    sol = solve_arrays(cost, a, np.zeros(n + 2), np.full(n + 2, np.inf), lo, hi)
    if sol.status != SolveStatus.OPTIMAL or sol.row_duals is None:
        return None
    x, duals = sol.x, sol.row_duals
    return x[:n], duals[0], duals[1], duals[2:], x[n:].sum()


def solve_decomposed(problem: Problem, *, threads: int = 1, time_limit=None, tol: float = 1e-6, max_rounds: int = 500,
                     objective: str = "cost", pool: dict | None = None):
    """Solve ``problem`` by pricing its budget and service rows (see module docstring).

    ``objective`` is what is minimised: ``"cost"`` (the plan), or for the
    infeasibility diagnosis ``"capital"`` (expected capital) or ``"short"``
    (probability-weighted store units short over the service periods).

    ``pool``, a dict owned by the caller, keeps the compiled item models and
    every proposal between calls that differ only in ``budget`` and
    ``fill_rate`` (the points of a frontier): both are right-hand sides of
    the master, so a later call builds nothing and starts from all earlier
    proposals. Pass an empty dict on the first call.

    Returns ``(built, solution)`` like the monolithic path: ``built`` is the
    whole model's programme (built for its indices, not solved) and the
    solution's ``x`` is in its column order; ``row_duals`` holds the master's
    prices at the capital and service rows (0 elsewhere).
    """
    t0 = time.perf_counter()
    I = len(problem.items)
    if pool:
        whole, items = dataclasses.replace(pool["whole"], problem=problem), pool["items"]
    else:
        # Pooled: both linking rows, so that later calls may set either.
        rows = dict(budget=np.inf, fill_rate=0.0) if pool is not None else {}
        whole = build_model(dataclasses.replace(problem, **rows))
        whole.problem = problem
        items = [_ItemModel(build_model(_item_problem(problem, i)), threads, time_limit, objective) for i in range(I)]
        if pool is not None:
            pool.update(whole=whole, items=items, columns=[], solutions=[])
    t1 = time.perf_counter()
    cap_const = sum(m.capital_const for m in items)
    budget_rhs = None if problem.budget is None else problem.budget - cap_const
    short_rhs = None if problem.fill_rate is None else (1.0 - problem.fill_rate) * whole.constants["service_demand"]
    columns, solutions = (pool["columns"], pool["solutions"]) if pool is not None else ([], [])

    def propose(i, x):
        m = items[i]
        columns.append((i, float(m.cost @ x + m.const), float(m.capital @ x), float(m.short @ x)))
        solutions.append(x)

    lam = mu = 0.0
    for i, m in enumerate(items if not columns else ()):
        x = m.solve(0.0, 0.0)
        if x is None:
            return whole, Solution(SolveStatus.INFEASIBLE, message=f"item {problem.items[i]} has no plan")
        propose(i, x)
    rounds = 0
    while True:
        rounds += 1
        master = _master(columns, budget_rhs, short_rhs, I)
        if master is None:
            return whole, Solution(SolveStatus.ERROR, message="master problem failed")
        theta, lam, mu, sigma, slack = master
        added = 0
        for i, m in enumerate(items):
            x = m.solve(lam, mu)
            if x is None:
                return whole, Solution(SolveStatus.ERROR, message=f"item {problem.items[i]} failed to re-solve")
            reduced = (m.cost - lam * m.capital - mu * m.short) @ x + m.const - sigma[i]
            if reduced < -tol * max(1.0, abs(sigma[i])):
                propose(i, x)
                added += 1
        if not added or rounds >= max_rounds:
            break
    t2 = time.perf_counter()
    if slack > 1e-6:
        return whole, Solution(SolveStatus.INFEASIBLE, message="budget and service target cannot both be met")
    x = np.zeros(whole.lp.n_cols)
    for (i, *_), xi, th in zip(columns, solutions, theta):
        if th <= 0:
            continue
        sub = items[i].block_cols
        for name, cols in whole.cols.items():
            x[cols[i]] += th * xi[sub[name][0]]
    duals = np.zeros(whole.lp.n_rows)
    if "capital" in whole.rows:
        duals[whole.rows["capital"]] = lam
    if "service" in whole.rows:
        duals[whole.rows["service"]] = mu
    objective = float(sum(th * c[1] for c, th in zip(columns, theta)))
    status = SolveStatus.OPTIMAL if rounds < max_rounds else SolveStatus.TIME_LIMIT
    sol = Solution(status, objective=objective, x=x, row_duals=duals, message=f"{rounds} rounds, {len(columns)} proposals")
    sol.timings_s = {"build": t1 - t0, "handover": 0.0, "solve": t2 - t1, "extract": time.perf_counter() - t2}
    return whole, sol
