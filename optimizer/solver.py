"""Hand a Pyomo model to HiGHS in memory and bring the solution back.

The hand-over (:func:`compile_pyomo`) reads the model's constraint matrix as
SciPy arrays: from its :class:`~optimizer.matrix_constraint.MatrixConstraint`
blocks while they are as built, otherwise through Pyomo's standard-form
compiler, which walks every expression once. The arrays go straight into
``highspy`` (no LP file, no persistent interface). Column
values and row duals come back as arrays in the :class:`~optimizer.lp.LinearProgram`'s
own order, so the model code reads results by block.

Dual convention: ``row_duals[r]`` is :math:`\\partial z^* / \\partial b_r`,
the change of the optimal (minimised) cost per unit increase of the
right-hand side of row ``r``. A binding ``<=`` budget row has a dual <= 0.

A model with integer columns (case packs, minimum order quantities, cycle
service) is solved as a MIP to the relative gap ``mip_gap`` or the time
limit, whichever comes first, and the best plan found is returned with its
gap. HiGHS starts from every integer column at 0 (for case packs and MOQs: no
order line tonight), which it completes with an LP when that is feasible, so a
time limit returns a plan even before its own heuristics find one. Its duals are those of the LP with every integer column fixed at the
plan's value (the usual prices of a MIP: they hold while the integer
decisions stay as they are).
"""

from __future__ import annotations

import enum
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.matrix_constraint import MatrixConstraint

__all__ = ["SolveStatus", "Solution", "cost_scale", "solve_pyomo", "solve_arrays"]


class SolveStatus(str, enum.Enum):
    """Outcome of a solve, in the terms the exit codes use (DESIGN.md section 5)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"  # a feasible plan was found, not proven optimal
    TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
    ERROR = "error"


@dataclass
class Solution:
    """What the solver returned, as arrays over the programme's columns and rows."""

    status: SolveStatus
    objective: float = float("nan")
    x: np.ndarray | None = None
    row_duals: np.ndarray | None = None
    mip_gap: float | None = None  # relative gap of the best plan found (MIP only)
    message: str = ""
    timings_s: dict = field(default_factory=dict)
    figures: object = None  # the plan's figures when solved by decomposition (x is then None)
    built: object = None  # the whole model, when the decomposition built it (x is then in its columns)
    decomposition: dict | None = None  # rounds, proposals, workers and the proven gap of a decomposed solve


@contextmanager
def _quiet_stdout():
    """Silence C-level writes to stdout (HiGHS prints a banner when created)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def new_highs(time_limit: float | None, threads: int, mip_gap: float | None = None) -> highspy.Highs:
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # One thread and a fixed seed: the same model gives the same plan, byte for byte.
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    return h


def cost_scale(c) -> float:
    """The power of two that brings the largest ``|c|`` into [1, 2).

    HiGHS's dual tolerance (1e-7) is absolute: costs weighted by scenario
    probabilities (a holding cost of 1e-6 over 200 scenarios is 5e-9 per
    column) would sit below it and be ignored. Scaling by a power of two is
    exact, so the plan does not depend on the units the costs are stated in.
    """
    top = float(np.max(np.abs(c))) if np.size(c) else 0.0
    return 1.0 if top == 0.0 or not np.isfinite(top) else float(2.0 ** -np.floor(np.log2(top)))


def load_arrays(h, c, a_csc, col_lb, col_ub, row_lb, row_ub, *, offset=0.0, integrality=None) -> None:
    """Pass ``min c x + offset``, ``row_lb <= A x <= row_ub``, ``col_lb <= x <= col_ub`` to ``h``.

    ``integrality`` (bool per column, optional) marks the integer columns.
    """
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = int(a_csc.shape[1])
    lp.num_row_ = int(a_csc.shape[0])
    lp.col_cost_ = np.asarray(c, float)
    lp.offset_ = float(offset)
    lp.col_lower_ = np.where(np.isinf(col_lb), -inf, col_lb)
    lp.col_upper_ = np.where(np.isinf(col_ub), inf, col_ub)
    lp.row_lower_ = np.where(np.isinf(row_lb), -inf, row_lb)
    lp.row_upper_ = np.where(np.isinf(row_ub), inf, row_ub)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a_csc.indptr
    lp.a_matrix_.index_ = a_csc.indices
    lp.a_matrix_.value_ = a_csc.data
    if integrality is not None and np.any(integrality):
        lp.integrality_ = [highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                           for k in integrality]
    h.passModel(lp)


def solve_arrays(c, a_csc, col_lb, col_ub, row_lb, row_ub, *, offset=0.0, time_limit=None, threads=1,
                 integrality=None, mip_gap=None):
    """Solve ``min c x + offset`` s.t. ``row_lb <= A x <= row_ub``, ``col_lb <= x <= col_ub``.

    With ``integrality`` (bool per column) the problem is a MIP, solved to
    the relative gap ``mip_gap`` (HiGHS's default 1e-4 when None); the
    solution then carries the gap, and its duals are the LP's with the
    integer columns fixed at the plan's values (see the module docstring).

    Returns a :class:`Solution` whose arrays are in the order given.
    """
    t0 = time.perf_counter()
    mip = integrality is not None and bool(np.any(integrality))
    h = new_highs(time_limit, threads, mip_gap if mip else None)
    load_arrays(h, c, a_csc, col_lb, col_ub, row_lb, row_ub, offset=offset, integrality=integrality)
    if mip:  # start from the integers at 0 (see the module docstring)
        idx = np.flatnonzero(integrality).astype(np.int32)
        h.setSolution(len(idx), idx, np.zeros(len(idx)))
    t1 = time.perf_counter()
    h.run()
    sol = _read(h)
    if mip and sol.x is not None:
        gap = float(h.getInfo().mip_gap)
        sol.mip_gap = gap if np.isfinite(gap) else None
        fixed = _fixed_integer_lp(h, sol.x, np.asarray(integrality, bool))
        if fixed.x is not None:  # always, for a feasible plan; without it the plan keeps no duals
            sol.x, sol.row_duals, sol.objective = fixed.x, fixed.row_duals, fixed.objective
        else:
            sol.row_duals = None
    sol.timings_s = {"highs_load": t1 - t0, "solve": time.perf_counter() - t1}
    return sol


def _fixed_integer_lp(h, x, integer) -> Solution:
    """Re-solve ``h``'s model as an LP with its integer columns fixed at ``x`` (for duals)."""
    idx = np.flatnonzero(integer).astype(np.int32)
    value = np.round(x[idx])
    h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kContinuous))
    h.changeColsBounds(len(idx), idx, value, value)
    h.setOptionValue("time_limit", highspy.kHighsInf)
    h.run()
    return _read(h)


def _read(h) -> Solution:
    """The status, objective, values and duals HiGHS holds after ``run``."""
    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == highspy.HighsModelStatus.kOptimal:
        out = SolveStatus.OPTIMAL
    elif status == highspy.HighsModelStatus.kInfeasible:
        out = SolveStatus.INFEASIBLE
    elif status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        out = SolveStatus.UNBOUNDED if status == highspy.HighsModelStatus.kUnbounded else SolveStatus.INFEASIBLE
    elif status == highspy.HighsModelStatus.kTimeLimit:
        out = SolveStatus.TIME_LIMIT if has_solution else SolveStatus.TIME_LIMIT_NO_SOLUTION
    else:
        out = SolveStatus.ERROR
    sol = Solution(out, message=h.modelStatusToString(status))
    if out in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
        s = h.getSolution()
        sol.objective = float(info.objective_function_value)
        sol.x = np.asarray(s.col_value, float)
        sol.row_duals = np.asarray(s.row_dual, float) if s.dual_valid else None
    return sol


@dataclass
class Compiled:
    """A Pyomo model as arrays, with the map back to the programme's columns and rows.

    Compiled column ``k`` is programme column ``cols[k]``; compiled row ``r``
    is programme row ``rows[r]`` (Pyomo's standard-form compiler drops empty
    columns and rows; a column or row a user added to the model is ``-1``).
    """

    c: np.ndarray
    a_csc: object
    col_lb: np.ndarray
    col_ub: np.ndarray
    row_lb: np.ndarray
    row_ub: np.ndarray
    offset: float
    cols: np.ndarray
    rows: np.ndarray
    integrality: np.ndarray


def compile_pyomo(model: pyo.ConcreteModel) -> Compiled:
    """The arrays of ``model`` (no file written), in the programme's column and row order.

    A model made by :meth:`optimizer.lp.LinearProgram.to_pyomo` whose
    constraint blocks are intact and whose objective is the one built is read
    from its blocks' arrays and its variables' current bounds, fixings and
    domains (:func:`_read_matrix_model`); any other model (a constraint or
    objective a user added or changed) goes through Pyomo's standard-form
    compiler, which walks every expression.
    """
    return _read_matrix_model(model) or _standard_form(model)


def _read_matrix_model(model) -> Compiled | None:
    """``model``'s arrays read from its :class:`MatrixConstraint` blocks, or None if it has other parts.

    Every variable is read once: its bounds (domain included), whether it is
    fixed (a fixed column gets ``lb = ub = value``) and whether its domain is
    integer. Columns and rows stay in programme order, empty ones included.
    """
    columns = getattr(model, "_lp_columns", None)
    cost = getattr(model, "_lp_cost", None)
    if columns is None or cost is None:
        return None
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1 or objectives[0].expr is not cost[0] or objectives[0].sense != pyo.minimize:
        return None
    blocks = list(model.component_objects(pyo.Constraint, active=True, descend_into=True))
    if not all(isinstance(b, MatrixConstraint) and b.intact(columns) for b in blocks):
        return None
    parts = [b.arrays() for b in blocks]
    a = sp.vstack([sp.csr_matrix((d, i, p), shape=(len(lo), len(columns))) for p, i, d, lo, _ in parts]
                  + [sp.csr_matrix((0, len(columns)))], format="csr")
    col_lb = _bound_array([v.lb for v in columns], -np.inf)
    col_ub = _bound_array([v.ub for v in columns], np.inf)
    for k in np.flatnonzero(np.fromiter((v.fixed for v in columns), dtype=bool, count=len(columns))):
        col_lb[k] = col_ub[k] = columns[k].value
    return Compiled(
        c=np.asarray(cost[1], float),
        a_csc=a.tocsc(),
        col_lb=col_lb,
        col_ub=col_ub,
        row_lb=np.concatenate([lo for *_, lo, _ in parts] or [np.empty(0)]),
        row_ub=np.concatenate([hi for *_, hi in parts] or [np.empty(0)]),
        offset=float(cost[2]),
        cols=np.arange(len(columns)),
        rows=np.concatenate([np.arange(b.start, b.start + len(b)) for b in blocks] or [np.empty(0, np.int64)]),
        integrality=np.fromiter((v.is_integer() for v in columns), dtype=bool, count=len(columns)),
    )


def _bound_array(bounds: list, missing: float) -> np.ndarray:
    """Pyomo bounds (floats, None where unbounded) as an array, ``missing`` for None."""
    a = np.array(bounds, dtype=float).reshape(len(bounds))  # None -> nan
    a[np.isnan(a)] = missing
    return a


def _standard_form(model) -> Compiled:
    """Walk ``model`` once with Pyomo's standard-form compiler."""
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    col_pos = {id(v): k for k, v in enumerate(model._lp_columns)}
    cols = np.fromiter((col_pos.get(id(v), -1) for v in info.columns), dtype=np.int64, count=len(info.columns))
    rows = np.fromiter((r.constraint.index() + r.constraint.parent_component().start
                        if isinstance(r.constraint.parent_component(), MatrixConstraint) else -1
                        for r in info.rows), dtype=np.int64, count=len(info.rows))
    kinds = np.fromiter((r.bound_type for r in info.rows), dtype=np.int8, count=len(info.rows))
    rhs = np.asarray(info.rhs, float)
    c = np.asarray(info.c.toarray()).ravel() if info.c.shape[0] else np.zeros(len(cols))
    return Compiled(
        c=c,
        a_csc=info.A.tocsc(),
        col_lb=_bound_array([v.lb for v in info.columns], -np.inf),
        col_ub=_bound_array([v.ub for v in info.columns], np.inf),
        row_lb=np.where(kinds <= 0, rhs, -np.inf),
        row_ub=np.where(kinds >= 0, rhs, np.inf),
        offset=float(np.sum(info.c_offset)) if np.size(info.c_offset) else 0.0,
        cols=cols,
        rows=rows,
        integrality=np.fromiter((v.is_integer() for v in info.columns), dtype=bool, count=len(info.columns)),
    )


def solve_pyomo(model: pyo.ConcreteModel, n_rows: int, *, time_limit=None, threads=1, mip_gap=None) -> Solution:
    """Compile ``model`` to standard form, solve it with HiGHS, map results back.

    Parameters
    ----------
    model : pyomo.environ.ConcreteModel
        A linear model made by :meth:`optimizer.lp.LinearProgram.to_pyomo`
        (it carries ``_lp_columns``; constraint blocks are indexed 0..n-1 in
        row order).
    n_rows : int
        Rows of the originating programme, for the size of ``row_duals``.
    """
    t0 = time.perf_counter()
    k = compile_pyomo(model)
    t1 = time.perf_counter()
    scale = cost_scale(k.c)
    sol = solve_arrays(
        k.c * scale, k.a_csc, k.col_lb, k.col_ub, k.row_lb, k.row_ub,
        offset=k.offset * scale, time_limit=time_limit, threads=threads, integrality=k.integrality, mip_gap=mip_gap,
    )
    sol.objective /= scale
    t2 = time.perf_counter()
    if sol.x is not None:
        x = np.zeros(len(model._lp_columns))
        x[k.cols[k.cols >= 0]] = sol.x[k.cols >= 0]
        for j in np.setdiff1d(np.arange(len(x)), k.cols):  # left out by Pyomo's compiler: fixed, or in no row
            x[j] = model._lp_columns[j].value if model._lp_columns[j].fixed else 0.0
        sol.x = x
    if sol.row_duals is not None:
        duals = np.zeros(n_rows)
        duals[k.rows[k.rows >= 0]] = sol.row_duals[k.rows >= 0] / scale
        sol.row_duals = duals
    sol.timings_s = {
        "compile": t1 - t0,
        "handover": sol.timings_s["highs_load"],
        "solve": sol.timings_s["solve"],
        "extract": time.perf_counter() - t2,
    }
    return sol
