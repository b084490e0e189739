"""Forecast scores the field uses: CRPS, pinball, M5 scaled pinball (SPL), coverage, PIT.

Every score works on quantiles, so it applies alike to a parametric table, an
empirical baseline or sample paths summed over stores or days.

Notation: outcome :math:`y`, predictive quantile :math:`q_u` at level :math:`u`.

* Pinball loss :math:`\\rho_u(y, q) = \\max(u (y - q), (u - 1)(y - q))`.
* CRPS :math:`= 2 \\int_0^1 \\rho_u(y, q_u) du`, by the midpoint rule on
  :math:`M` levels :math:`u_i = (i - 1/2) / M` (:func:`midpoint_levels`).
* SPL (M5 uncertainty track) of a series:
  :math:`\\frac{1}{|U|} \\sum_{u \\in U} \\frac{1}{H} \\sum_t \\rho_u(y_t, q_{u,t}) / s`
  with the nine M5 levels :math:`U` and the scale :math:`s` the mean absolute
  one-step change of the series' training sales counted from its first
  non-zero sale (:func:`spl_scale`); series with :math:`s = 0` are left out.
* Randomised PIT (for counts): :math:`F(y^-) + V (F(y) - F(y^-))`,
  :math:`V \\sim U(0, 1)`, with :math:`F` read off the quantile grid; a calibrated
  forecast gives uniform PITs even with masses at 0.
* Coverage of the central :math:`a` interval: the share of PITs in
  :math:`[(1 - a)/2, (1 + a)/2]` (with masses at 0 this is the randomised
  coverage; a closed interval :math:`[q_{(1-a)/2}, q_{(1+a)/2}]` would
  over-cover every zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .distributions import QUANTILE_LEVELS

__all__ = [
    "COVERAGE_LEVELS",
    "coverage",
    "coverage_interval",
    "crps_from_grid",
    "midpoint_levels",
    "pinball",
    "randomized_pit",
    "score",
    "spl_scale",
]

#: Central interval levels reported.
COVERAGE_LEVELS = (0.5, 0.8, 0.95)


def midpoint_levels(m: int = 200) -> np.ndarray:
    """Levels ``(i - 1/2) / m`` of the CRPS midpoint rule."""
    return (np.arange(m) + 0.5) / m


def pinball(q: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss of quantile forecasts ``q`` at ``level`` for outcomes ``y`` (elementwise)."""
    err = np.asarray(y, float) - np.asarray(q, float)
    return np.maximum(level * err, (level - 1.0) * err)


def crps_from_grid(grid: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS per column from quantiles ``grid`` (M, n) at :func:`midpoint_levels` (M)."""
    u = midpoint_levels(grid.shape[0])[:, None]
    return 2.0 * pinball(grid, np.asarray(y, float)[None, :], u).mean(axis=0)


def randomized_pit(grid: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomised PIT per column from a sorted quantile grid (M, n) at midpoint levels."""
    y = np.asarray(y, float)[None, :]
    m = grid.shape[0]
    below = (grid < y).sum(axis=0) / m
    at_or_below = (grid <= y).sum(axis=0) / m
    return below + rng.random(y.shape[1]) * (at_or_below - below)


def coverage(pit: np.ndarray, level: float) -> float:
    """Share of PITs inside the central ``level`` interval."""
    pit = np.asarray(pit, float)
    pit = pit[np.isfinite(pit)]
    lo, hi = (1 - level) / 2, (1 + level) / 2
    return float(np.mean((pit >= lo) & (pit <= hi)))


def coverage_interval(pit: np.ndarray, clusters: np.ndarray, level: float, rng: np.random.Generator, *,
                      n_boot: int = 2000, alpha: float = 0.05) -> list[float]:
    """Percentile bootstrap interval of :func:`coverage`, resampling whole clusters.

    Series of one item move together (a shared shock reaches all its stores), so
    the item, not the series, is the unit drawn with replacement: ``clusters``
    labels each PIT's item. Returns ``[lo, hi]`` at confidence ``1 - alpha``.
    """
    pit, clusters = np.asarray(pit, float).ravel(), np.asarray(clusters).ravel()
    ok = np.isfinite(pit)
    lo, hi = (1 - level) / 2, (1 + level) / 2
    codes, _ = pd.factorize(clusters[ok])
    inside = np.bincount(codes, weights=((pit[ok] >= lo) & (pit[ok] <= hi)).astype(float))
    count = np.bincount(codes).astype(float)
    draw = rng.integers(0, len(count), size=(n_boot, len(count)))
    share = inside[draw].sum(axis=1) / count[draw].sum(axis=1)
    return [float(v) for v in np.quantile(share, [alpha / 2, 1 - alpha / 2])]


def spl_scale(train: np.ndarray) -> np.ndarray:
    """M5 scale per row of ``train`` (series x periods, NaN = unknown).

    Mean absolute change between consecutive periods, counted from the
    series' first non-zero value; NaN if it never sold or has one period.
    """
    train = np.asarray(train, float)
    out = np.full(train.shape[0], np.nan)
    for s, row in enumerate(train):
        row = row[np.isfinite(row)]
        nz = np.flatnonzero(row > 0)
        if len(nz) == 0:
            continue
        d = np.abs(np.diff(row[nz[0]:]))
        if len(d):
            out[s] = d.mean()
    return out


def score(
    grid: np.ndarray,
    q9: np.ndarray,
    y: np.ndarray,
    *,
    scale: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> dict:
    """All scores of one aggregation level.

    Parameters
    ----------
    grid : ndarray (M, S, H)
        Quantiles at :func:`midpoint_levels` for series S and periods H.
    q9 : ndarray (9, S, H)
        Quantiles at the nine M5 levels.
    y : ndarray (S, H)
        Outcomes.
    scale : ndarray (S,), optional
        SPL scale per series (:func:`spl_scale`).
    weight : ndarray (S,), optional
        Series weight (recent dollar sales) for the weighted CRPS and SPL.
    rng : numpy.random.Generator, optional
        For the randomised PIT (default: seeded 0).

    Returns
    -------
    dict
        ``crps``, ``crps_weighted``, ``pinball`` by level, ``spl``, ``wspl``,
        ``coverage`` {"50", "80", "95"}, ``pit_histogram`` (10 bins, shares),
        ``n`` outcomes.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    m, n_s, n_h = grid.shape
    yf = y.reshape(-1)
    crps = crps_from_grid(grid.reshape(m, -1), yf).reshape(n_s, n_h)
    pin = np.stack([pinball(q9[k], y, lv) for k, lv in enumerate(QUANTILE_LEVELS)])  # (9, S, H)
    pit = randomized_pit(grid.reshape(m, -1), yf, rng)
    out = {
        "n": int(yf.size),
        "crps": float(crps.mean()),
        "pinball": {f"{lv:g}": float(pin[k].mean()) for k, lv in enumerate(QUANTILE_LEVELS)},
        "coverage": {f"{round(a * 100)}": coverage(pit, a) for a in COVERAGE_LEVELS},
        "pit_histogram": np.histogram(pit, bins=10, range=(0, 1))[0].astype(float) / len(pit),
    }
    if weight is not None:
        w = np.asarray(weight, float)
        out["crps_weighted"] = float(np.sum(w * crps.mean(axis=1)) / w.sum())
    if scale is not None:
        ok = np.isfinite(scale) & (scale > 0)
        per_series = pin.mean(axis=(0, 2))[ok] / scale[ok]
        out["spl"] = float(per_series.mean())
        if weight is not None:
            w = np.asarray(weight, float)[ok]
            out["wspl"] = float(np.sum(w * per_series) / w.sum())
    out["pit_histogram"] = out["pit_histogram"].tolist()
    return out
