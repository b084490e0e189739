"""A fast base learner for NGBoost: depth-limited trees on pre-binned features.

NGBoost fits one small regression tree per distribution parameter per boosting
iteration. scikit-learn's exact ``DecisionTreeRegressor`` sorts every feature
at every node (about 1-2 s per iteration per 100,000 rows here), and
``HistGradientBoostingRegressor(max_iter=1)`` re-bins the data on every call.
Here the features are binned once (:class:`QuantileBinner`, at most 255 bins
plus one bin for missing values, stored as ``uint8``) and every tree is grown
level by level from gradient histograms (:class:`BinnedTreeRegressor`): one
``numpy.bincount`` per level over all rows and features.

Tree model: a complete binary tree of depth ``max_depth``; the split of node
``m`` sends a row left when ``x[feature_m] <= threshold_m`` (bin codes) and
is the one maximising the squared-error reduction

.. math:: G_L^2 / n_L + G_R^2 / n_R - G^2 / n

(:math:`G` the sum of the targets, :math:`n` the number of rows, both
weighted) subject to at least ``min_samples_leaf`` rows per side. A leaf
predicts the (weighted) mean target of its rows. Ties go to the lowest
feature index and bin, so fitting is deterministic.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from .row_threads import by_ranges

__all__ = ["BinnedTreeRegressor", "QuantileBinner"]

N_BINS = 256
MISSING_BIN = N_BINS - 1


def _codes_at(X: np.ndarray, feature: np.ndarray, start: int = 0) -> np.ndarray:
    """``X[start + i, feature[i]]`` for ``i < len(feature)``: one ``take`` from the flat buffer.

    ``X`` is ``uint8`` (strides in bytes are strides in elements), C- or
    F-contiguous; anything else is copied to C order first.
    """
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    row_stride, col_stride = X.strides
    flat_index = feature * col_stride
    flat_index += np.arange(start * row_stride, (start + len(feature)) * row_stride, row_stride)
    return np.take(X.ravel(order="K"), flat_index)


class QuantileBinner:
    """Map float features to ``uint8`` bin codes by training quantiles.

    Parameters
    ----------
    max_bins : int, default=255
        Bins for finite values (codes ``0..max_bins-1``); NaN gets code 255.

    Attributes
    ----------
    edges_ : list of ndarray
        Upper bin edges per feature: a value ``v`` gets code
        ``searchsorted(edges, v, side="left")``, so ``v <= edges[0]`` is bin 0.
    """

    def __init__(self, max_bins: int = 255):
        if not 2 <= max_bins <= 255:
            raise ValueError(f"max_bins must be in 2..255; received {max_bins}")
        self.max_bins = max_bins

    def fit(self, X: np.ndarray) -> "QuantileBinner":
        X = np.asarray(X, dtype=float)
        self.edges_ = []
        for col in X.T:
            finite = col[np.isfinite(col)]
            uniq = np.unique(finite)
            if len(uniq) <= self.max_bins:
                edges = uniq[:-1] if len(uniq) else uniq
            else:
                qs = np.quantile(finite, np.linspace(0, 1, self.max_bins + 1)[1:-1])
                edges = np.unique(qs)
            self.edges_.append(edges)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Bin codes of ``X``: ``uint8``, column-major (each feature's codes contiguous)."""
        X = np.asarray(X, dtype=float)
        if X.shape[1] != len(self.edges_):
            raise ValueError(
                f"X has {X.shape[1]} features; the binner was fitted on {len(self.edges_)}"
            )
        out = np.empty(X.shape, dtype=np.uint8, order="F")  # a column per feature, as trees scan
        for j, edges in enumerate(self.edges_):
            col = X[:, j]
            codes = np.searchsorted(edges, col, side="left")
            codes[np.isnan(col)] = MISSING_BIN
            out[:, j] = codes
        return out


try:  # scikit-learn's OpenMP histogram kernel (private API: fall back to numpy without it)
    from sklearn.ensemble._hist_gradient_boosting.histogram import HistogramBuilder
except ImportError:  # pragma: no cover - depends on the scikit-learn version
    HistogramBuilder = None


class _Histograms:
    """Per-node, per-feature, per-bin target sums ``g`` and row counts (or weights) ``c``.

    The root is scanned once; below it only the smaller child of each parent is
    scanned and its sibling is the parent minus it (the subtraction trick). The
    scans use scikit-learn's ``HistogramBuilder`` (the kernel of
    ``HistGradientBoostingRegressor``, OpenMP over features) on float32
    targets centred on their mean (split gains do not change with a shift of
    the targets; leaf values are computed in float64 elsewhere), or
    ``numpy.bincount`` when that kernel is missing or ``use_sklearn=False``.
    """

    def __init__(self, X, y, w, unweighted, use_sklearn=True):
        self.n, self.p = X.shape
        self.unweighted = unweighted
        wy = w * y
        self.wy, self.w = wy, w
        self.builder = None
        if use_sklearn and HistogramBuilder is not None:
            centred = (wy - w * (wy.sum() / w.sum())).astype(np.float32)
            hess = w.astype(np.float32)
            self.builder = HistogramBuilder(
                np.asfortranarray(X), N_BINS, centred, hess, unweighted,
                1,  # one thread: OpenMP spin-waits collapse on a shared, busy machine
            )
            self.shift = wy.sum() / w.sum()
        else:
            self.columns = np.ascontiguousarray(X.T)

    def _scan(self, rows, parent, n_parents):
        """(g, c) of shape (n_parents, p, N_BINS) over ``rows`` grouped by ``parent``."""
        g = np.zeros((n_parents, self.p, N_BINS))
        c = np.zeros((n_parents, self.p, N_BINS))
        if self.builder is not None:
            for k in range(n_parents):
                sel = rows[parent == k].astype(np.uint32)
                if len(sel) == 0:
                    continue
                h = np.asarray(self.builder.compute_histograms_brute(sel))
                cnt = h["count"] if self.unweighted else h["sum_hessians"]
                c[k] = cnt
                g[k] = h["sum_gradients"] + self.shift * cnt  # undo the centring
            return g, c
        offset = parent * N_BINS
        wy, w = self.wy[rows], self.w[rows]
        size = n_parents * N_BINS
        for j in range(self.p):
            idx = self.columns[j, rows] + offset
            g[:, j, :] = np.bincount(idx, weights=wy, minlength=size).reshape(n_parents, N_BINS)
            counts = (
                np.bincount(idx, minlength=size) if self.unweighted
                else np.bincount(idx, weights=w, minlength=size)
            )
            c[:, j, :] = counts.reshape(n_parents, N_BINS)
        return g, c

    def root(self):
        rows = np.arange(self.n)
        return self._scan(rows, np.zeros(self.n, dtype=np.intp), 1)

    def children(self, node, g_par, c_par):
        """Histograms of the nodes ``0..2*len(g_par)-1`` of the level below."""
        n_par = len(g_par)
        left_n = np.bincount(node, minlength=2 * n_par)[0::2]
        par_n = np.bincount(node // 2, minlength=n_par)
        scan_left = left_n <= par_n - left_n  # scan the smaller child
        child_is_scanned = np.where(node % 2 == 0, scan_left[node // 2], ~scan_left[node // 2])
        rows = np.flatnonzero(child_is_scanned)
        g_small, c_small = self._scan(rows, node[rows] // 2, n_par)
        g = np.empty((2 * n_par, self.p, N_BINS))
        c = np.empty((2 * n_par, self.p, N_BINS))
        g_big, c_big = g_par - g_small, c_par - c_small
        left = np.where(scan_left[:, None, None], g_small, g_big)
        right = np.where(scan_left[:, None, None], g_big, g_small)
        g[0::2], g[1::2] = left, right
        c[0::2] = np.where(scan_left[:, None, None], c_small, c_big)
        c[1::2] = np.where(scan_left[:, None, None], c_big, c_small)
        return g, c


class BinnedTreeRegressor(RegressorMixin, BaseEstimator):
    """Least-squares regression tree on ``uint8`` bin codes, grown from histograms.

    Parameters
    ----------
    max_depth : int, default=3
        Depth of the (complete) tree; ``2**max_depth`` leaves.
    min_samples_leaf : int, default=20
        Fewest rows on each side of a split.

    Attributes
    ----------
    features_, thresholds_ : ndarray of shape (2**max_depth - 1,)
        Split of each internal node (breadth-first order).
    values_ : ndarray of shape (2**max_depth,)
        Prediction of each leaf.
    """

    def __init__(self, max_depth: int = 3, min_samples_leaf: int = 20):
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X)
        if X.dtype != np.uint8:
            raise TypeError(
                f"BinnedTreeRegressor needs uint8 bin codes; received dtype {X.dtype}. "
                "Bin the features with QuantileBinner first"
            )
        y = np.asarray(y, dtype=float)
        n, p = X.shape
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        wy = w * y
        unweighted = sample_weight is None
        node = np.zeros(n, dtype=np.intp)
        n_internal = 2**self.max_depth - 1
        features = np.zeros(n_internal, dtype=np.intp)
        thresholds = np.full(n_internal, N_BINS - 1, dtype=np.intp)
        hist = _Histograms(X, y, w, unweighted)
        g_par = c_par = None
        for depth in range(self.max_depth):
            n_nodes = 2**depth
            if depth == 0:
                g, c = hist.root()
            else:
                g, c = hist.children(node, g_par, c_par)
            g_par, c_par = g, c
            g = g.cumsum(axis=2)
            c = c.cumsum(axis=2)
            g_tot, c_tot = g[:, :, -1:], c[:, :, -1:]
            g_right, c_right = g_tot - g, c_tot - c
            ok = (c >= self.min_samples_leaf) & (c_right >= self.min_samples_leaf)
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = g**2 / c + g_right**2 / c_right - g_tot**2 / c_tot
            gain = np.where(ok, gain, -np.inf).reshape(n_nodes, p * N_BINS)
            best = np.argmax(gain, axis=1)
            best_gain = gain[np.arange(n_nodes), best]
            valid = np.isfinite(best_gain) & (best_gain > 1e-12)
            first = n_nodes - 1  # breadth-first index of this level's first node
            feat = np.where(valid, best // N_BINS, 0)
            thr = np.where(valid, best % N_BINS, N_BINS - 1)
            features[first : first + n_nodes] = feat
            thresholds[first : first + n_nodes] = thr
            node = 2 * node + (_codes_at(X, feat[node]) > thr[node])
        n_leaves = 2**self.max_depth
        sums = np.bincount(node, weights=wy, minlength=n_leaves)
        counts = np.bincount(node, weights=w, minlength=n_leaves)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(counts > 0, sums / counts, 0.0)
        self.features_, self.thresholds_, self.values_ = features, thresholds, values
        return self

    def apply(self, X, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Leaf index (0..2**max_depth-1) of every row (of rows ``start..stop-1``)."""
        X = np.asarray(X)
        node = np.zeros((X.shape[0] if stop is None else stop) - start, dtype=np.intp)
        for depth in range(self.max_depth):
            first = 2**depth - 1
            node = 2 * node + (
                _codes_at(X, self.features_[first + node], start) > self.thresholds_[first + node]
            )
        return node

    def predict(self, X) -> np.ndarray:
        if not hasattr(self, "values_"):
            raise AttributeError(
                "This BinnedTreeRegressor instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        X = np.asarray(X)
        if not (X.flags.c_contiguous or X.flags.f_contiguous):
            X = np.ascontiguousarray(X)  # once, not in every block
        return by_ranges(lambda a, b: self.values_[self.apply(X, a, b)], X.shape[0])
