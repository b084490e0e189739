r"""Item sub-models built once per shape and re-solved with each item's data.

The decomposition (:mod:`optimizer.decompose`) solves one model per item.
Items of one network, horizon, scenario count and shortage rule have the
same constraint matrix :math:`A`; only their data differ: the costs
:math:`c_i`, the capital :math:`g_i` and service :math:`u_i` weights, the
column bounds :math:`[l_i, v_i]` (a store sells at most its demand) and the
row bounds :math:`[r_i, R_i]` (demand, stock and pipeline). So a *shape* is
the matrix, keyed by a hash of its coefficients: its Pyomo model is built and
compiled once (:class:`ShapeTemplate`), loaded into one HiGHS instance, and
each item is solved by changing that instance's data,

.. math::

    \min_x (c_i - \lambda g_i - \mu u_i)^\top x \quad \text{s.t.} \quad
    r_i \le A x \le R_i, \quad l_i \le x \le v_i,

warm from the item's own last basis (kept as a ``HighsBasis``, a few hundred
kilobytes), so later solves of an item take a few hundred simplex iterations.
An item's first solve starts from the optimal basis of a *reference* item
(the catalogue's first), solved cold once per worker: five times fewer
iterations than a cold start on the benchmark's items (7,000 against
36,000), half the time. An item's solve depends only on its own data, its
basis and the reference, never on which items shared its instance before,
so any split of items over workers gives the same plans. Each item's costs
are scaled by a power of two (:func:`~optimizer.solver.cost_scale`), as in
the whole model's solve.

Where other rows link items (capacities, peak or per-scenario capital,
open-to-buy, a value-weighted fill rate), an item is given its part
:math:`A_i` of them, over its own columns: its costs are then priced by
:math:`\nu^\top A_i` too, and its proposal carries its activity
:math:`A_i x` and its solution :math:`x` (the plan is then read from the
whole model, :mod:`optimizer.decompose`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import highspy
import numpy as np

from optimizer.lp import column_vector
from optimizer.model import Built, Problem, build_model
from optimizer.plan import PlanFigures, plan_figures
from optimizer.solver import compile_pyomo, cost_scale, load_arrays, new_highs

__all__ = ["ItemSolver", "Proposal", "item_problem"]


def item_problem(problem: Problem, i: int) -> Problem:
    """Item ``i`` of ``problem`` alone, without the rows that link items (its capacities kept)."""
    one = slice(i, i + 1)
    return dataclasses.replace(
        problem,
        items=problem.items[one],
        demand=np.ascontiguousarray(problem.demand[:, one]),  # as a worker receives it: same sums, same bits
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


@dataclasses.dataclass
class Proposal:
    """One solution of an item model: cost :math:`f`, capital :math:`g`, units short :math:`u`, figures,
    and with linking rows its activity :math:`A_i x` on them and its solution :math:`x`."""

    cost: float
    capital: float
    short: float
    figures: PlanFigures
    activity: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    x: np.ndarray | None = None


def shape_key(built: Built) -> str:
    """Hash of the constraint matrix (block structure, rows, columns, coefficients)."""
    h = hashlib.sha1(str(built.lp.n_cols).encode())
    for b in built.lp.constraints.values():
        h.update(f"{b.name}{b.shape}{b.sense}".encode())
        for a in (b.rows, b.cols, b.coefs):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class ShapeTemplate:
    """The Pyomo model of one shape, compiled once and loaded into one HiGHS instance."""

    def __init__(self, built: Built, threads: int, time_limit):
        t0 = time.perf_counter()
        compiled = compile_pyomo(built.lp.to_pyomo())
        self.build_s = time.perf_counter() - t0
        self.cols, self.rows = compiled.cols, compiled.rows  # compiled -> programme order
        lo, hi = built.lp.row_bounds()
        if not (np.array_equal(lo[self.rows], compiled.row_lb) and np.array_equal(hi[self.rows], compiled.row_ub)):
            raise RuntimeError("Pyomo's standard form changed the rows' orientation; item data cannot be swapped in")
        self.n_cols = built.lp.n_cols
        self.block_cols = built.cols
        k = built.constants
        # What plan_figures reads that is the same for every item of the shape.
        self.order_terms = {name: k[name][:, :, :1, :1] for name in ("order_cols", "order_coef")}
        self.service_mask = k["service_mask"]
        self.highs = new_highs(None, threads)
        self.time_limit = time_limit
        load_arrays(self.highs, np.zeros(len(self.cols)), compiled.a_csc, compiled.col_lb, compiled.col_ub,
                    compiled.row_lb, compiled.row_ub)
        self.start_basis = None  # the reference item's optimal basis, where items start
        self.col_index = np.arange(len(self.cols), dtype=np.int32)
        self.row_index = np.arange(len(self.rows), dtype=np.int32)
        self._shared: dict[str, np.ndarray] = {}

    def shared(self, name: str, v: np.ndarray) -> np.ndarray:
        """``v``, or the first item's equal vector of that name (kept once per shape)."""
        first = self._shared.setdefault(name, v)
        return first if np.array_equal(first, v) else v


class _Item:
    """One item's data in its template's compiled order, and its last basis."""

    def __init__(self, built: Built, template: ShapeTemplate, objective: str, link=None, keep_x: bool = False):
        lp, k, cols = built.lp, built.constants, template.cols
        cost, const = lp.objective_vector(), lp.objective_constant
        capital = column_vector(lp.n_cols, k["cap_terms"])
        w = built.problem.probability[None, None, None, :] * k["service_mask"][None, :, :, None]
        short = column_vector(lp.n_cols, [(w, built.cols["short"])])
        self.capital_const = k["capital"]
        if objective == "capital":  # the least capital (diagnosis)
            cost, const = capital, self.capital_const
        elif objective == "short":  # the fewest units short (diagnosis)
            cost, const = short, 0.0
        self.cost, self.const = cost[cols], const
        self.scale = cost_scale(cost)
        self.link = link  # its part of the linking rows (CSR over its programme's columns), or None
        self.keep_x = keep_x or link is not None  # proposals carry their solution
        col_lb, col_ub = lp.column_bounds()  # HiGHS's infinity is IEEE infinity
        row_lb, row_ub = lp.row_bounds()
        # Vectors equal for every item of the shape are kept once.
        self.capital, self.short, self.col_lb, self.col_ub = (
            template.shared(name, v[cols]) for name, v in
            (("capital", capital), ("short", short), ("col_lb", col_lb), ("col_ub", col_ub)))
        self.row_lb, self.row_ub = (template.shared(name, v[template.rows])
                                    for name, v in (("row_lb", row_lb), ("row_ub", row_ub)))
        self.template = template
        self.basis = None
        # What plan_figures needs: the item's problem, the shape's columns, tonight's order constant.
        self.context = Built(lp=None, problem=built.problem, cols=template.block_cols, rows={}, constants={
            "service_mask": template.service_mask,
            "order_const": k["order_const"][:, :, :1, :1].copy(),
            "capital": self.capital_const,
            "cap_terms": [],
            "service_demand": float(np.einsum("sijt,s,jt->", built.problem.demand, built.problem.probability,
                                              template.service_mask)),
            **template.order_terms,
        })

    def solve(self, lam: float, mu: float, nu=None) -> Proposal | str:
        """Solve at prices (lam, mu, nu) from the item's last basis; HiGHS's model status if not optimal."""
        t = self.template
        h = t.highs
        priced = self.cost - lam * self.capital - mu * self.short
        if self.link is not None:
            priced = priced - (self.link.T @ nu)[t.cols]
        h.changeColsCost(len(t.col_index), t.col_index, priced * self.scale)
        h.changeColsBounds(len(t.col_index), t.col_index, self.col_lb, self.col_ub)
        h.changeRowsBounds(len(t.row_index), t.row_index, self.row_lb, self.row_ub)
        h.clearSolver()  # nothing of the items solved before in this instance
        start = self.basis if self.basis is not None else t.start_basis
        if start is not None:
            h.setBasis(start)
        if t.time_limit is not None:  # HiGHS's clock runs over all solves of an instance (HiGHS #1331)
            h.setOptionValue("time_limit", h.getRunTime() + float(t.time_limit))
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return h.modelStatusToString(status)
        self.basis = h.getBasis()
        xc = np.asarray(h.getSolution().col_value, float)
        x = np.zeros(t.n_cols)
        x[t.cols] = xc
        figures = plan_figures(self.context, x)
        # Sums, not BLAS dot products: OpenBLAS splits long dots by thread count, and Spark's
        # Python workers run one thread, so `@` would give other bits than the local engine.
        capital = float(np.sum(self.capital * xc)) + self.capital_const
        figures.capital_used = capital
        return Proposal(float(np.sum(self.cost * xc)) + self.const, capital, float(np.sum(self.short * xc)), figures,
                        activity=np.empty(0) if self.link is None else self.link @ x, x=x if self.keep_x else None)


class ItemSolver:
    """Item models of some items of a problem, one template per shape (see module docstring).

    Parameters
    ----------
    problems : list of Problem
        One-item problems (:func:`item_problem`).
    links : list of scipy.sparse matrix, optional
        Each item's part of the linking rows, over its model's columns.
    keep_x : bool, default=False
        Proposals carry their solution (always with ``links``).
    reference : Problem, optional
        A one-item problem solved cold first, whose optimal basis starts the
        first solve of every item of its shape (the same in every worker).
    threads, time_limit
        HiGHS options.
    objective : {"cost", "capital", "short"}
        What each item minimises before pricing: its cost (the plan), or for
        the infeasibility diagnosis its expected capital or weighted units short.
    """

    def __init__(self, problems, *, links=None, keep_x: bool = False, reference=None, threads: int = 1,
                 time_limit=None, objective: str = "cost"):
        self.templates: dict[str, ShapeTemplate] = {}
        self.template_s = 0.0
        self.size = (0, 0)  # columns and rows of its item models together

        def item(p, link=None, count=True):
            built = build_model(p)
            key = shape_key(built)
            if key not in self.templates:
                self.templates[key] = ShapeTemplate(built, threads, time_limit)
                self.template_s += self.templates[key].build_s
            if count:
                self.size = (self.size[0] + built.lp.n_cols, self.size[1] + built.lp.n_rows)
            return _Item(built, self.templates[key], objective, link, keep_x)

        self._reference = None if reference is None else item(reference, count=False)
        self.items = [item(p, None if links is None else links[k]) for k, p in enumerate(problems)]

    def price(self, lam: float, mu: float, nu=None) -> list[Proposal | str]:
        """Every item's proposal at prices (lam, mu, nu), in item order (HiGHS's status where not optimal)."""
        if self._reference is not None:  # first call: the start basis of the reference's shape
            if isinstance(self._reference.solve(0.0, 0.0), Proposal):
                self._reference.template.start_basis = self._reference.basis
            self._reference = None
        return [item.solve(lam, mu, nu) for item in self.items]
