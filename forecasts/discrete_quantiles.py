r"""Quantiles of the Poisson and negative binomial for many uniforms per row, from one CDF table per row.

scipy's ``poisson.ppf`` and ``nbinom.ppf`` invert each uniform on its own by root finding
(about 5 microseconds a value for the negative binomial): 24 million values for 100
scenarios of 1,000 items x 30 stores x 8 periods take two minutes. Every scenario of a
row (item x location x period) shares its distribution, so :func:`discrete_ppf` tabulates
the row's CDF once, up to the largest uniform it is asked for, and looks every uniform up
in it:

.. math::

    F(k) = \sum_{m \le k} f(m), \qquad f(0) = e^{-\mu} \text{ (Poisson)}, \;
    p^{n} \text{ (negative binomial)},

    f(m + 1) = f(m)\,\frac{\mu}{m + 1} \text{ (Poisson)}, \;
    f(m)\,\frac{m + n}{m + 1}\,(1 - p) \text{ (negative binomial)},

and the quantile of :math:`q` is the least :math:`k` with :math:`F(k) \ge q`, the definition
scipy computes. The recurrence is accurate to about :math:`k` rounding errors, so a value
is kept only if :math:`F(k - 1) < q - \tau` and :math:`F(k) \ge q + \tau` with
:math:`\tau = 10^{-10}`: there every correct CDF gives the same :math:`k`. The few values
within :math:`\tau` of a step (and rows whose table would exceed :data:`MAX_TABLE`
entries, or whose :math:`f(0)` underflows) are computed by scipy, so the result is scipy's,
value for value (``tests/test_discrete_quantiles.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["discrete_ppf", "MAX_TABLE", "ROWS_PER_BLOCK"]

#: Most CDF entries tabulated per row; rows needing more are left to scipy.
MAX_TABLE = 4096
#: Rows tabulated together (a block's table is at most ROWS_PER_BLOCK x MAX_TABLE floats).
ROWS_PER_BLOCK = 4096
_TOL = 1e-10


def _first_and_ratio(family: str, params: dict[str, np.ndarray]):
    """:math:`f(0)` per row and the ratio :math:`f(m + 1) / f(m)` as a function of ``m``."""
    mean = params["mean"]
    if family == "poisson":
        return np.exp(-mean), lambda m: mean / (m + 1)
    n = params["dispersion"]
    p, miss = n / (n + mean), mean / (n + mean)
    return p**n, lambda m: (m + n) / (m + 1) * miss


def _table(first: np.ndarray, ratio, need: np.ndarray) -> np.ndarray:
    """CDF columns ``F(0..K-1)`` (rows, K) until every row reaches ``need`` or K = MAX_TABLE."""
    pmf = first.copy()
    columns = [pmf.copy()]
    while len(columns) < MAX_TABLE and (columns[-1] < need).any():
        pmf *= ratio(len(columns) - 1)
        columns.append(columns[-1] + pmf)
    return np.stack(columns, axis=1)


def discrete_ppf(family: str, params: dict[str, np.ndarray], u: np.ndarray, exact) -> np.ndarray:
    """Quantiles ``(S, R)`` of uniforms ``u`` ``(S, R)``, column ``r`` under row ``r``'s distribution.

    Parameters
    ----------
    family : {"poisson", "negative_binomial"}
    params : dict of ndarray (R,)
        ``mean`` (both) and ``dispersion`` (negative binomial: ``n``, with
        :math:`p = n / (n + \\text{mean})`).
    u : ndarray of shape (S, R)
        Uniforms in (0, 1).
    exact : callable
        ``exact(rows, values)``: scipy's quantiles of ``values`` (1-D) under the rows ``rows``
        (1-D, same length), for the values the table cannot decide.

    Returns
    -------
    ndarray of shape (S, R)
        Quantiles as floats.
    """
    S, R = u.shape
    out = np.empty((S, R))
    undecided = np.zeros((S, R), dtype=bool)
    for start in range(0, R, ROWS_PER_BLOCK):
        cols = slice(start, min(start + ROWS_PER_BLOCK, R))
        block = {k: v[cols] for k, v in params.items()}
        q = u[:, cols]
        first, ratio = _first_and_ratio(family, block)
        table = _table(first, ratio, q.max(axis=0) + _TOL)
        c, K = table.shape
        # One sorted array for the block: row r's table shifted by 2r, so one searchsorted finds
        # every value's count of CDF entries below it (rounding of the shift is caught below).
        shift = 2.0 * np.arange(c)
        k = np.searchsorted((table + shift[:, None]).ravel(), (q + shift).ravel()).reshape(q.shape)
        k -= np.arange(c) * K
        k = np.clip(k, 0, K - 1)
        rows = np.broadcast_to(np.arange(c), q.shape)
        below = np.where(k > 0, table[rows, np.maximum(k - 1, 0)], -np.inf)
        at = table[rows, k]
        out[:, cols] = k
        undecided[:, cols] = ~((below < q - _TOL) & (at >= q + _TOL))
    s, r = np.nonzero(undecided)
    if len(s):
        out[s, r] = exact(r, u[s, r])
    return out
