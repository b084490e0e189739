"""An empirical copula: each scenario borrows a whole error path the backtest saw (issue 3).

Model
-----
A backtest origin :math:`k` leaves, for every item, the normal scores of its
PITs over locations and periods, :math:`P_{k,i} = \\Phi^{-1}(U_{k,i,l,t})`
(an :math:`L \\times T` block). Those blocks are the *patterns* of the copula:
how the item's errors actually moved across its stores and across the days
after an origin, whole, with nothing assumed about their shape. A Gaussian
copula (:mod:`scenarios.copula`) keeps only their pooled correlations, a t
copula (:mod:`scenarios.t_copula`) adds one shared scale; on the bundled M5
backtest both leave the centre of lead-time sums too wide, because a few
items (a product gone from every store for a month, then back) are unlike
the rest, and a pooled correlation spreads their block-wise errors over all
items. Resampling the blocks keeps most items calm and a few far out, as they
were (the Schaake shuffle of hydrology, Clark et al. 2004, with forecast
errors in place of observations).

Scenario :math:`s` of item :math:`i` takes pattern :math:`p(s, i)` and blends
it with fresh noise,

.. math::

    X_{s,i} = a\\, P_{p(s,i)} + \\sqrt{1 - a^2}\\, E_{s,i},

:math:`a \\in [0, 1]` the pattern weight (1: the patterns alone; 0:
independence), chosen on the earlier origins
(:func:`scenarios.sum_calibration.calibrate_empirical`). Each cell's score is
a mixture of :math:`N(a P, 1 - a^2)` over the patterns, standard normal as far
as the patterns' scores are (they are normal scores of calibrated PITs), so
the marginals stay the forecast's to that extent. A location or a pattern
cell the copula does not know gets :math:`E` alone.

Sampling without extra random numbers: the uniform :math:`u` of the item's
first cell picks the pattern, :math:`p = \\lfloor P u \\rfloor`, and its
remainder :math:`P u - p`, uniform and independent of :math:`p`, becomes that
cell's noise; the other cells' normals are their noise as they are. A
stratified :math:`u` (Latin hypercube, Sobol') so spreads the scenarios evenly
over the patterns, and scenario ``s`` depends on its own uniforms only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .copula import check_periods, location_index

__all__ = ["EmpiricalCopula", "pit_patterns"]

_EPS = 1e-6


def pit_patterns(pits) -> np.ndarray:
    """Normal scores (P, L, T) of PIT blocks ``pits`` (a list of (I, L, T) per origin; NaN: no series)."""
    return stats.norm.ppf(np.clip(np.concatenate([np.asarray(p, float) for p in pits]), _EPS, 1 - _EPS))


@dataclass(frozen=True)
class EmpiricalCopula:
    """Empirical copula of past error paths over locations and periods.

    Attributes
    ----------
    locations : tuple of str
        Locations of the patterns' L axis.
    patterns : ndarray (P, L, T)
        Normal scores of past PIT paths, one per origin x item (NaN where the
        item had no series at the location).
    weight : float, default=1.0
        Pattern weight :math:`a` in [0, 1].
    calibration : dict, optional
        How ``weight`` was chosen (:func:`scenarios.sum_calibration.calibrate_empirical`).
    """

    locations: tuple[str, ...]
    patterns: np.ndarray
    weight: float = 1.0
    calibration: dict | None = None

    def __post_init__(self):
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"the pattern weight must be in [0, 1]; received {self.weight}")
        if self.patterns.ndim != 3 or len(self.patterns) == 0 or self.patterns.shape[1] != len(self.locations):
            raise ValueError(f"patterns must be (P >= 1, {len(self.locations)} locations, T); "
                             f"received shape {self.patterns.shape}")

    def correlate(self, z: np.ndarray, locations) -> np.ndarray:
        """Normal scores (S, I, L', T) of copula uniforms built from independent normals ``z``.

        Exact zeros in ``z`` mark absent item x location pairs; an item's first present
        cell picks its pattern (module docstring).
        """
        n_t = z.shape[-1]
        n_p, _, fitted_t = self.patterns.shape
        check_periods(fitted_t, n_t)
        n_s, n_i = z.shape[:2]
        noise = z.reshape(n_s, n_i, -1).copy()
        items, first = np.arange(n_i), np.argmax(noise[0] != 0, axis=1)  # each item's first present cell
        scaled = stats.norm.cdf(noise[:, items, first]) * n_p
        pick = np.minimum(scaled.astype(np.int64), n_p - 1)  # (S, I)
        noise[:, items, first] = stats.norm.ppf(np.clip(scaled - pick, 1e-12, 1 - 1e-12))
        noise = noise.reshape(z.shape)
        idx, known = location_index(self.locations, locations)
        block = np.full((n_p, len(locations), n_t), np.nan)
        block[:, known] = self.patterns[:, idx[known], :n_t]
        chosen = block[pick]  # (S, I, L', T)
        a = self.weight
        return np.where(np.isnan(chosen), noise, a * chosen + math.sqrt(1.0 - a * a) * noise)

    def _json_fields(self) -> dict:
        return {
            "kind": "empirical_copula",
            "locations": list(self.locations),
            "weight": self.weight,
            "patterns": [[[None if math.isnan(v) else round(float(v), 4) for v in row] for row in p]
                         for p in self.patterns],
            **({"calibration": self.calibration} if self.calibration else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self._json_fields(), indent=None)

    @classmethod
    def from_json_fields(cls, raw: dict) -> EmpiricalCopula:
        """The copula of a parsed ``copula.json`` (``None`` cells: no series there)."""
        patterns = np.array([[[math.nan if v is None else v for v in row] for row in p] for p in raw["patterns"]],
                            dtype=float)
        return cls(tuple(raw["locations"]), patterns, float(raw["weight"]), raw.get("calibration"))
