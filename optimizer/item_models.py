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

An item whose network has several roots (stock points a supplier feeds) is
solved as one model per root subtree (:mod:`optimizer.subtrees`): its
*parts*, each a shape of its own, their solutions scattered into the item's
columns; the same optimum from models a third of the size, one template per
subtree shape instead of one per item shape.

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
from optimizer.subtrees import root_subtrees, subtree_columns, subtree_problem

__all__ = ["ItemSolver", "Proposal", "item_problem", "select_items"]


def select_items(problem: Problem, index) -> Problem:
    """``problem`` with only the items ``index`` (a slice or integer array), its rows kept."""
    return dataclasses.replace(
        problem,
        items=tuple(np.asarray(problem.items, dtype=object)[index]),
        demand=np.ascontiguousarray(problem.demand[:, index]),  # as a worker receives it: same sums, same bits
        unit_cost=problem.unit_cost[index],
        holding_cost=problem.holding_cost[index],
        shortage_cost=problem.shortage_cost[index],
        on_hand=problem.on_hand[index],
        pipeline=problem.pipeline[index],
        fixed_order=None if problem.fixed_order is None else problem.fixed_order[index],
        fixed_target=None if problem.fixed_target is None else problem.fixed_target[index],
    )


def item_problem(problem: Problem, i: int) -> Problem:
    """Item ``i`` of ``problem`` alone, without the rows that link items (its capacities kept)."""
    return dataclasses.replace(select_items(problem, slice(i, i + 1)), budget=None, fill_rate=None, open_to_buy=None)


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


class _Part:
    """One model's data (an item's, or one of its subtrees') in its template's compiled order,
    and its last basis."""

    def __init__(self, built: Built, template: ShapeTemplate, objective: str):
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

    def priced(self, lam: float, mu: float) -> np.ndarray:
        """Its costs at prices (lam, mu) of capital and units short: :math:`c - \\lambda g - \\mu u`."""
        return self.cost - lam * self.capital - mu * self.short

    def run(self, priced: np.ndarray, start=None) -> np.ndarray | str:
        """Solve with costs ``priced`` (compiled order) from the last basis (the first time from
        ``start``, else the template's): the solution in compiled order, or HiGHS's model status
        if not optimal."""
        t = self.template
        h = t.highs
        h.changeColsCost(len(t.col_index), t.col_index, priced * self.scale)
        h.changeColsBounds(len(t.col_index), t.col_index, self.col_lb, self.col_ub)
        h.changeRowsBounds(len(t.row_index), t.row_index, self.row_lb, self.row_ub)
        h.clearSolver()  # nothing of the models solved before in this instance
        start = self.basis if self.basis is not None else start if start is not None else t.start_basis
        if start is not None:
            h.setBasis(start)
        # From its own basis only the costs have changed, so the basis is still primal feasible:
        # the primal simplex re-solves in about half the time of the dual. From the reference's basis
        # (another item's bounds) the dual simplex, with Devex pricing (no steepest-edge weights to
        # compute for a basis it did not build).
        own = self.basis is not None
        h.setOptionValue("simplex_strategy", 4 if own else 1)
        h.setOptionValue("simplex_dual_edge_weight_strategy", -1 if own else 1)
        if t.time_limit is not None:  # HiGHS's clock runs over all solves of an instance (HiGHS #1331)
            h.setOptionValue("time_limit", h.getRunTime() + float(t.time_limit))
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kSolveError and start is not None:  # a warm start that failed:
            h.clearSolver()  # once more from HiGHS's own start, by the dual simplex
            h.setOptionValue("simplex_strategy", 1)
            h.run()
            status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return h.modelStatusToString(status)
        self.basis = h.getBasis()
        return np.asarray(h.getSolution().col_value, float)


class _Item:
    """One item: its parts (its whole model, or one per root subtree), each with the item
    columns its compiled columns fill, and what its figures are read with."""

    def __init__(self, built: Built, shape: dict, parts, link=None, keep_x: bool = False):
        self.parts = parts  # [(_Part, item column of each compiled column)]
        self.n_cols = built.lp.n_cols
        self.const = sum(part.const for part, _ in parts)
        self.capital_const = sum(part.capital_const for part, _ in parts)
        self.link = link  # its part of the linking rows (CSR over its programme's columns), or None
        self.keep_x = keep_x or link is not None  # proposals carry their solution
        k = built.constants
        # What plan_figures needs: the item's problem, the shape's columns, tonight's order constant.
        self.context = Built(lp=None, problem=built.problem, cols=shape["cols"], rows={}, constants={
            "order_const": k["order_const"][:, :, :1, :1].copy(),
            "capital": self.capital_const,
            "cap_terms": [],
            "service_demand": k["service_demand"],
            **shape["constants"],
        })

    def solve(self, lam: float, mu: float, nu=None) -> Proposal | str:
        """Solve at prices (lam, mu, nu), part by part; HiGHS's model status if a part is not optimal."""
        link_price = None if self.link is None else self.link.T @ nu
        x = np.zeros(self.n_cols)
        cost, capital, short = self.const, self.capital_const, 0.0
        solved = {}  # template -> the basis of this item's last part of that shape
        for part, where in self.parts:
            priced = part.priced(lam, mu)
            if link_price is not None:
                priced = priced - link_price[where]
            # A subtree's first solve starts from its sibling's optimal basis, when one of the
            # same shape is solved: the same item's demand and prices, about half the iterations
            # of the reference item's basis.
            xc = part.run(priced, start=solved.get(id(part.template)))
            if isinstance(xc, str):
                return xc
            solved[id(part.template)] = part.basis
            x[where] = xc
            # Sums, not BLAS dot products: OpenBLAS splits long dots by thread count, and Spark's
            # Python workers run one thread, so `@` would give other bits than the local engine.
            cost += float(np.sum(part.cost * xc))
            capital += float(np.sum(part.capital * xc))
            short += float(np.sum(part.short * xc))
        figures = plan_figures(self.context, x)
        figures.capital_used = capital
        return Proposal(cost, capital, short, figures, activity=np.empty(0) if self.link is None else self.link @ x,
                        x=x if self.keep_x else None)


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
        A one-item problem solved cold first, at the first prices asked for,
        whose optimal basis starts the first solve of every item of its shape
        (the same in every worker).
    threads, time_limit
        HiGHS options.
    objective : {"cost", "capital", "short"}
        What each item minimises before pricing: its cost (the plan), or for
        the infeasibility diagnosis its expected capital or weighted units short.
    split : bool, default=True
        Solve each item as one model per root subtree
        (:mod:`optimizer.subtrees`) instead of its whole model; the same optimum.
    """

    def __init__(self, problems, *, links=None, keep_x: bool = False, reference=None, threads: int = 1,
                 time_limit=None, objective: str = "cost", split: bool = True):
        self.templates: dict[str, ShapeTemplate] = {}
        shapes: dict[str, dict] = {}  # per item shape: its columns and the figures' constant terms
        self.template_s = 0.0
        self.size = (0, 0)  # columns and rows of its item models together

        def part(built):
            key = shape_key(built)
            if key not in self.templates:
                self.templates[key] = ShapeTemplate(built, threads, time_limit)
                self.template_s += self.templates[key].build_s
            return _Part(built, self.templates[key], objective)

        def item(p, link=None, count=True):
            built = build_model(p)
            if count:
                self.size = (self.size[0] + built.lp.n_cols, self.size[1] + built.lp.n_rows)
            k = built.constants
            shape = shapes.setdefault(shape_key(built), {"cols": built.cols, "constants": {
                "service_mask": k["service_mask"],
                **{name: k[name][:, :, :1, :1].copy() for name in ("order_cols", "order_coef")}}})
            roots = root_subtrees(p.network) if split else []
            if len(roots) < 2:
                whole = part(built)
                return _Item(built, shape, [(whole, whole.template.cols)], link, keep_x)
            parts = []
            for r, nodes in enumerate(roots):
                sub = build_model(subtree_problem(p, nodes))
                one = part(sub)
                if r not in shape:  # the item columns of subtree r's compiled columns, kept once per shape
                    shape[r] = subtree_columns(built, sub, nodes)[one.template.cols]
                parts.append((one, shape[r]))
            return _Item(built, shape, parts, link, keep_x)

        self._reference = None if reference is None else item(reference, count=False)
        self.items = [item(p, None if links is None else links[k]) for k, p in enumerate(problems)]

    def price(self, lam: float, mu: float, nu=None) -> list[Proposal | str]:
        """Every item's proposal at prices (lam, mu, nu), in item order (HiGHS's status where not optimal)."""
        if self._reference is not None:  # first call: the start basis of each shape the reference has,
            for part, _ in self._reference.parts:  # solved at this call's prices
                if isinstance(part.run(part.priced(lam, mu)), np.ndarray) and part.template.start_basis is None:
                    part.template.start_basis = part.basis
            self._reference = None
        return [item.solve(lam, mu, nu) for item in self.items]
