"""Elementwise work on long arrays split into row blocks run in threads (issue 8).

NumPy and scipy.special release the GIL inside their loops, so an elementwise
function of a few arrays runs on both cores when its rows are cut into one block
per thread and the blocks' results are joined. Every row's value is computed by
the same operations as on the whole array, so the result is the same bytes for
any number of threads. NGBoost's negative-binomial score, gradient and Fisher
information (:mod:`forecasts.negative_binomial`) use it: on 840,000 training rows
they were about half of a fit; so do the binned trees' predictions
(:class:`forecasts.learners.BinnedTreeRegressor`), which route every row once per
tree and parameter each iteration.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["by_ranges", "by_rows", "set_threads"]

#: Threads of :func:`by_rows` (1: none).
THREADS = 2
#: Fewest rows worth splitting.
MIN_ROWS = 100_000


def set_threads(n: int) -> None:
    """Use ``n`` threads (a process that already runs beside others, e.g. a forecast group's, sets 1)."""
    global THREADS
    THREADS = int(n)


def by_ranges(fn, n: int) -> np.ndarray:
    """``fn(start, stop)`` over :data:`THREADS` row ranges covering ``0..n``, results concatenated
    along the first axis (one call ``fn(0, n)`` below :data:`MIN_ROWS` rows or with one thread)."""
    if THREADS < 2 or n < MIN_ROWS:
        return fn(0, n)
    bounds = np.linspace(0, n, THREADS + 1).astype(int)
    with ThreadPoolExecutor(THREADS) as pool:
        return np.concatenate(list(pool.map(fn, bounds[:-1], bounds[1:])))


def by_rows(fn, *arrays: np.ndarray) -> np.ndarray:
    """``fn(*arrays)`` for an elementwise ``fn`` of arrays with equal first axes, in row blocks
    (:func:`by_ranges`)."""
    return by_ranges(lambda a, b: fn(*(x[a:b] for x in arrays)), len(arrays[0]))
