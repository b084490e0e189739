"""A linear programme assembled from arrays, emitted as a Pyomo model.

Rule-by-rule Pyomo construction costs as much as the HiGHS solve (DESIGN.md
section 6). So the inventory model is written the way linopy writes models:
each variable block is an n-dimensional array of column numbers, and each
constraint block is one vectorised statement over whole arrays,

.. math::

    \\sum_k a_k \\odot x[\\mathrm{cols}_k] \\;\\{\\le, =, \\ge\\}\\; b,

where every term ``(a_k, cols_k)`` broadcasts to the block's shape and a
column number of ``-1`` means "no term here" (for example an arrival from an
order placed before the horizon). :meth:`LinearProgram.to_pyomo` then emits
one Pyomo ``Var`` per variable block and one ``Constraint`` per constraint
block, each a :class:`~optimizer.matrix_constraint.MatrixConstraint` that
keeps the block's sparse rows as arrays and makes a row's ``LinearExpression``
only when asked: the Pyomo model is the model of record, while building it and
handing it to HiGHS cost little more than the arrays themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression

from optimizer.matrix_constraint import MatrixConstraint

__all__ = ["LinearProgram", "VariableBlock", "ConstraintBlock", "column_vector"]

_SENSES = ("<=", "==", ">=")


@dataclass(frozen=True)
class VariableBlock:
    """Columns ``start .. start + size - 1`` of the programme, viewed as ``shape``."""

    name: str
    start: int
    shape: tuple[int, ...]
    lb: float | np.ndarray
    ub: float | np.ndarray
    integer: bool = False

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def cols(self) -> np.ndarray:
        """Column numbers, shaped like the block."""
        return np.arange(self.start, self.start + self.size).reshape(self.shape)


@dataclass(frozen=True)
class ConstraintBlock:
    """Rows ``start .. start + size - 1``: ``A[rows] x  sense  rhs``."""

    name: str
    start: int
    shape: tuple[int, ...]
    sense: str
    rows: np.ndarray  # COO row numbers, block-local
    cols: np.ndarray
    coefs: np.ndarray
    rhs: np.ndarray  # flat, one per row

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class LinearProgram:
    """Minimise ``c x + c0`` subject to constraint blocks and column bounds.

    Examples
    --------
    >>> lp = LinearProgram()
    >>> x = lp.add_variables("x", (2,))
    >>> _ = lp.add_constraints("cap", [(1.0, x[0]), (1.0, x[1])], ">=", 3.0)
    >>> lp.set_objective([(np.array([1.0, 2.0]), x)])
    >>> lp.n_cols, lp.n_rows
    (2, 1)
    """

    def __init__(self):
        self.variables: dict[str, VariableBlock] = {}
        self.constraints: dict[str, ConstraintBlock] = {}
        self.n_cols = 0
        self.n_rows = 0
        self._objective: list[tuple[np.ndarray, np.ndarray]] = []
        self.objective_constant = 0.0

    # -- building ------------------------------------------------------------------------
    def add_variables(self, name, shape, lb=0.0, ub=np.inf, *, integer=False) -> np.ndarray:
        """Add a block of columns; return their numbers, shaped.

        ``lb`` and ``ub`` are scalars or arrays broadcastable to ``shape``;
        ``integer=True`` makes the block's columns integer (the model a MIP).
        """
        if name in self.variables:
            raise ValueError(f"variable block {name!r} exists already")
        shape = tuple(int(s) for s in np.atleast_1d(shape))

        def _bound(b):
            b = np.asarray(b, float)
            return float(b) if b.ndim == 0 else np.broadcast_to(b, shape).ravel().copy()

        block = VariableBlock(name, self.n_cols, shape, _bound(lb), _bound(ub), bool(integer))
        self.variables[name] = block
        self.n_cols += block.size
        return block.cols

    def add_constraints(self, name, terms, sense, rhs, shape=None) -> ConstraintBlock:
        """Add one row per element of the broadcast shape of ``terms`` and ``rhs``.

        Parameters
        ----------
        name : str
            Block name (becomes the Pyomo ``Constraint`` name).
        terms : list of (coef, cols)
            ``coef`` a scalar or array, ``cols`` an int array of column
            numbers; each pair broadcasts to the block shape, and axes of
            ``cols`` beyond the block shape (given explicitly) are summed
            over. Columns of -1 and zero coefficients are dropped.
        sense : {"<=", "==", ">="}
        rhs : float or array
        shape : tuple, optional
            Block shape; by default the broadcast of every term and ``rhs``.
        """
        if name in self.constraints:
            raise ValueError(f"constraint block {name!r} exists already")
        if sense not in _SENSES:
            raise ValueError(f"sense must be one of {_SENSES}; received {sense!r}")
        terms = [(np.asarray(a, float), np.asarray(c)) for a, c in terms]
        if shape is None:
            shape = np.broadcast_shapes(np.shape(rhs), *(np.broadcast_shapes(a.shape, c.shape) for a, c in terms))
        shape = tuple(shape)
        size = int(np.prod(shape, dtype=np.int64))
        local = np.arange(size).reshape(shape)
        rows, cols, coefs = [], [], []
        for a, c in terms:
            # Axes of ``cols`` beyond the block's are summed over.
            full = shape + c.shape[len(shape):] if c.ndim > len(shape) else shape
            c_full = np.broadcast_to(c, full)
            a_full = np.broadcast_to(a, full)
            r_full = np.broadcast_to(local.reshape(shape + (1,) * (len(full) - len(shape))), full)
            keep = (c_full >= 0) & (a_full != 0)
            rows.append(r_full[keep])
            cols.append(c_full[keep])
            coefs.append(a_full[keep])
        block = ConstraintBlock(
            name,
            self.n_rows,
            shape,
            sense,
            np.concatenate(rows) if rows else np.empty(0, np.int64),
            np.concatenate(cols).astype(np.int64) if cols else np.empty(0, np.int64),
            np.concatenate(coefs) if coefs else np.empty(0),
            np.broadcast_to(np.asarray(rhs, float), shape).ravel().copy(),
        )
        self.constraints[name] = block
        self.n_rows += size
        return block

    def set_objective(self, terms, constant=0.0) -> None:
        """Objective ``sum_k coef_k * x[cols_k] + constant`` (minimised)."""
        self._objective = [(np.asarray(a, float), np.asarray(c)) for a, c in terms]
        self.objective_constant = float(constant)

    # -- views ---------------------------------------------------------------------------
    def objective_vector(self) -> np.ndarray:
        return column_vector(self.n_cols, self._objective)

    def column_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lb = np.empty(self.n_cols)
        ub = np.empty(self.n_cols)
        for b in self.variables.values():
            lb[b.start : b.start + b.size] = b.lb
            ub[b.start : b.start + b.size] = b.ub
        return lb, ub

    @property
    def is_mip(self) -> bool:
        return any(b.integer for b in self.variables.values())

    def matrix(self) -> sp.csr_matrix:
        """The constraint matrix, rows in block order (duplicates summed)."""
        rows = [b.rows + b.start for b in self.constraints.values()]
        cols = [b.cols for b in self.constraints.values()]
        vals = [b.coefs for b in self.constraints.values()]
        a = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_rows, self.n_cols),
        ).tocsr()
        a.sum_duplicates()
        return a

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.full(self.n_rows, -np.inf)
        hi = np.full(self.n_rows, np.inf)
        for b in self.constraints.values():
            s = slice(b.start, b.start + b.size)
            if b.sense in ("<=", "=="):
                hi[s] = b.rhs
            if b.sense in (">=", "=="):
                lo[s] = b.rhs
        return lo, hi

    # -- Pyomo ---------------------------------------------------------------------------
    def to_pyomo(self) -> pyo.ConcreteModel:
        """Emit the programme as a Pyomo model.

        One ``Var`` per variable block and one
        :class:`~optimizer.matrix_constraint.MatrixConstraint` per constraint
        block (an indexed Pyomo ``Constraint`` that keeps the block's CSR rows
        and makes a row's expression only when asked), each indexed by the
        flat position in its block (the block's ``shape`` says how to read
        it). The model carries ``_lp_columns``, the Pyomo variables in column
        order, so solutions map back to arrays, and ``_lp_cost``, the
        objective's expression with its cost vector and constant, which
        :func:`optimizer.solver.compile_pyomo` reads while the objective is
        unchanged.
        """
        with PauseGC():
            m = pyo.ConcreteModel(name="echelon")
            columns = []
            for b in self.variables.values():
                var = pyo.Var(pyo.RangeSet(0, b.size - 1), domain=pyo.Integers if b.integer else pyo.Reals,
                              bounds=(_scalar_bound(b.lb), _scalar_bound(b.ub)), dense=True)
                m.add_component(b.name, var)
                block = list(var.values())
                for side, bound in (("lower", b.lb), ("upper", b.ub)):
                    if np.ndim(bound):
                        for v, x in zip(block, np.where(np.isinf(bound), None, bound).tolist()):
                            setattr(v, side, x)
                columns.extend(block)
            columns = tuple(columns)
            a = self.matrix()
            lo, hi = self.row_bounds()
            for b in self.constraints.values():
                rows = slice(b.start, b.start + b.size)
                first, last = a.indptr[b.start], a.indptr[b.start + b.size]
                m.add_component(b.name, MatrixConstraint(
                    a.indptr[b.start : b.start + b.size + 1] - first, a.indices[first:last], a.data[first:last],
                    lo[rows], hi[rows], columns, start=b.start,
                ))
            c = self.objective_vector()
            nz = np.flatnonzero(c)
            m.cost = pyo.Objective(
                expr=LinearExpression(
                    constant=self.objective_constant,
                    linear_coefs=c[nz].tolist(),
                    linear_vars=[columns[k] for k in nz.tolist()],
                ),
                sense=pyo.minimize,
            )
            m._lp_columns = columns
            m._lp_cost = (m.cost.expr, c, self.objective_constant)
        return m


def column_vector(n_cols: int, terms) -> np.ndarray:
    """Dense vector over the columns of ``sum_k coef_k * x[cols_k]`` (-1 columns dropped)."""
    v = np.zeros(n_cols)
    for a, c in terms:
        c = np.asarray(c)
        a = np.broadcast_to(np.asarray(a, float), c.shape)
        keep = c >= 0
        np.add.at(v, c[keep], a[keep])
    return v


def _scalar_bound(b):
    """A block's bound for every column (None: unbounded, or set column by column)."""
    return None if np.ndim(b) or np.isinf(b) else float(b)
