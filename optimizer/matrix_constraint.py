"""A Pyomo constraint block stored as a sparse matrix, its rows made on demand.

A block of :math:`m` linear rows over the columns :math:`x_0 .. x_{n-1}`,

.. math::

    l_i \\;\\le\\; \\sum_{p = \\mathrm{indptr}_i}^{\\mathrm{indptr}_{i+1} - 1}
    \\mathrm{data}_p \\, x_{\\mathrm{indices}_p} \\;\\le\\; u_i, \\qquad i = 0 .. m - 1,

is held as its CSR arrays (``indptr``, ``indices``, ``data``) and its row
bounds ``l``, ``u`` (``-inf``/``+inf`` for a missing side; ``l = u`` for an
equality). :class:`MatrixConstraint` is an ordinary indexed Pyomo
``Constraint`` (its ``ctype`` is ``Constraint``): a row ``m.block[i]`` has a
``body``, ``lower``, ``upper``, ``expr`` and a value, it can be deactivated or
given a new expression, and Pyomo's writers (LP, MPS, NL) and solver
interfaces read it like any other. What it saves is the construction: a row's
``LinearExpression`` is only made when something asks for it, so building the
block costs one small Python object per row instead of an expression tree of
one term per non-zero. :func:`optimizer.solver.compile_pyomo` reads the CSR
arrays back directly while a block is :meth:`~MatrixConstraint.intact`.

It is the same idea as Pyomo's own ``pyomo.core.base.matrix_constraint``,
which no longer works with Pyomo 6.10's writers and ``pprint`` (its component
is a ``Mapping`` whose ``values()`` takes no sort argument).
"""

from __future__ import annotations

import weakref

import numpy as np
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.constraint import ConstraintData, IndexedConstraint
from pyomo.core.base.set import RangeSet
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression, RangedExpression

__all__ = ["MatrixConstraint", "MatrixRowData"]


class MatrixRowData(ConstraintData):
    """Row ``i`` of a :class:`MatrixConstraint`: its expression is made from the block's arrays when asked.

    Giving the row a new expression (``set_value``) turns it into an ordinary
    ``ConstraintData`` holding that expression; the block is then no longer
    :meth:`~MatrixConstraint.intact`.
    """

    __slots__ = ()

    def __init__(self, component_ref, index):
        # ConstraintData's constructor, in line (as Pyomo's own data classes do it).
        self._component = component_ref
        self._active = True
        self._index = index
        self._expr = None

    def to_bounded_expression(self, evaluate_bounds=False):
        """``(lower, body, upper)``: floats (None where unbounded) and the row's ``LinearExpression``."""
        return self.parent_component().row(self._index)

    @property
    def expr(self):
        lb, body, ub = self.to_bounded_expression()
        if lb is not None and lb == ub:
            return EqualityExpression((body, ub))
        if lb is None:
            return InequalityExpression((body, np.inf if ub is None else ub), False)
        if ub is None:
            return InequalityExpression((lb, body), False)
        return RangedExpression((lb, body, ub), (False, False))

    @property
    def equality(self):
        lb, _, ub = self.parent_component().bounds(self._index)
        return lb is not None and lb == ub

    def set_value(self, expr):
        self.__class__ = ConstraintData
        self.set_value(expr)


class MatrixConstraint(IndexedConstraint):
    """Rows ``lower <= A x <= upper`` of a CSR matrix ``A`` over ``columns``, indexed ``0 .. m-1``.

    Parameters
    ----------
    indptr, indices, data : numpy.ndarray
        The block's rows in CSR form: row ``i``'s terms are
        ``data[indptr[i]:indptr[i+1]]`` times the columns numbered
        ``indices[indptr[i]:indptr[i+1]]``.
    lower, upper : numpy.ndarray
        Row bounds, ``-inf`` / ``+inf`` where a side is unbounded.
    columns : tuple of VarData
        The model's variables in column order (``indices`` number them).
    start : int, default=0
        The block's first row in the programme it comes from
        (:func:`optimizer.solver.compile_pyomo` reports rows by it).

    Examples
    --------
    >>> import numpy as np, pyomo.environ as pyo
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(range(2), bounds=(0, None))
    >>> m.cap = MatrixConstraint(np.array([0, 2]), np.array([0, 1]), np.array([1.0, 2.0]),
    ...                          np.array([3.0]), np.array([np.inf]), tuple(m.x.values()))
    >>> print(m.cap[0].expr)
    3.0  <=  x[0] + 2.0*x[1]
    """

    def __init__(self, indptr, indices, data, lower, upper, columns, *, start=0, **kwds):
        lower, upper = np.asarray(lower, float), np.asarray(upper, float)
        if not (len(indptr) == len(lower) + 1 == len(upper) + 1 and len(indices) == len(data)):
            raise ValueError(
                f"MatrixConstraint needs len(indptr) = rows + 1 and len(indices) = len(data); received "
                f"{len(indptr)} pointers, {len(lower)} lower and {len(upper)} upper bounds, "
                f"{len(indices)} indices and {len(data)} values")
        super().__init__(RangeSet(0, len(lower) - 1), **kwds)
        self._indptr, self._indices, self._data_values = indptr, indices, data
        self._lower, self._upper = lower, upper
        self._columns = columns
        self.start = int(start)

    def construct(self, data=None):
        if self._constructed:
            return
        self._constructed = True
        ref = weakref.ref(self)
        with PauseGC():
            self._data = {i: MatrixRowData(ref, i) for i in range(len(self._lower))}

    # -- reading ------------------------------------------------------------------------
    def bounds(self, i):
        """``(lower, None, upper)`` of row ``i``: floats, None where unbounded."""
        lb, ub = float(self._lower[i]), float(self._upper[i])
        return (None if lb == -np.inf else lb), None, (None if ub == np.inf else ub)

    def row(self, i):
        """``(lower, body, upper)`` of row ``i``, its body a new ``LinearExpression``."""
        lb, _, ub = self.bounds(i)
        lo, hi = self._indptr[i], self._indptr[i + 1]
        body = LinearExpression(
            constant=0.0,
            linear_coefs=self._data_values[lo:hi].tolist(),
            linear_vars=[self._columns[k] for k in self._indices[lo:hi].tolist()],
        )
        return lb, body, ub

    def intact(self, columns) -> bool:
        """True while every row is active, as built, over ``columns``: the arrays are then the block."""
        return (
            self._columns is columns
            and len(self._data) == len(self._lower)
            and all(d.__class__ is MatrixRowData and d._active for d in self._data.values())
        )

    def arrays(self):
        """``(indptr, indices, data, lower, upper)``: the block as built."""
        return self._indptr, self._indices, self._data_values, self._lower, self._upper
