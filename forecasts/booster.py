"""NGBoost's regressor without the copies of its row and column sampling (issue 10).

:class:`FastNGBRegressor` is ``ngboost.NGBRegressor`` (the same natural-gradient
boosting, line search, distributions, random stream and fitted attributes) with
one method replaced: ``sample``, which draws each iteration's rows and columns.
NGBoost's version copies the whole design matrix twice per iteration
(``X[idxs, :][:, col_idx]``) even when every row and column is used, and the
fitting loop then indexes ``X[:, col_idx]`` with an index array, a third copy,
to update the parameters of all rows. Here, with every column in use, the
column index is ``slice(None)`` (so that indexing is a view), and with every row
in use the batch is ``X`` itself; a row subsample (``minibatch_frac < 1``) is
the one NGBoost draws, from the same generator, copied once and in column-major
order (the order :class:`forecasts.learners.BinnedTreeRegressor` scans).
The fitted model, its predictions and its pickles are NGBoost's: fitted with
the same data, learner and seed, the parameters equal ``NGBRegressor``'s
exactly (``tests/test_forecasts_speed.py``).
"""

from __future__ import annotations

import numpy as np
from ngboost import NGBRegressor

__all__ = ["FastNGBRegressor"]


class FastNGBRegressor(NGBRegressor):
    """``ngboost.NGBRegressor`` whose per-iteration sampling copies only what it draws.

    Parameters and attributes are ``NGBRegressor``'s. ``col_idxs`` holds
    ``slice(None)`` for iterations that used every column.
    """

    def sample(self, X, Y, sample_weight, params):
        n, p = X.shape
        idxs = np.arange(n)
        if self.minibatch_frac != 1.0:
            # NGBoost draws rows with choice(arange(n), size, replace=False); so does this
            idxs = self._rng.choice(idxs, int(self.minibatch_frac * n), replace=False)
        col_idx = slice(None)
        if self.col_sample != 1.0:
            size = max(1, int(self.col_sample * p)) if self.col_sample > 0.0 else 0
            col_idx = self._rng.choice(np.arange(p), size, replace=False)
        if len(idxs) == n:
            X_batch, Y_batch, w_batch, P_batch = X, Y, sample_weight, params
        else:
            # X.T.take(...).T: the batch comes out in column-major order, as the
            # binned trees scan it, in one copy
            X_batch = X.T.take(idxs, axis=1).T
            Y_batch, P_batch = Y[idxs], params[idxs]
            w_batch = None if sample_weight is None else sample_weight[idxs]
        if not isinstance(col_idx, slice):
            X_batch = X_batch[:, col_idx]
        return idxs, col_idx, X_batch, Y_batch, w_batch, P_batch
