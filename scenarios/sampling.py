"""Demand scenarios drawn from a forecast's distributions.

A scenario set is a dense array ``demand[s, i, l, t]`` (scenario, item,
location, period) with ``probability[s]`` summing to one, and the same as a
long table for people (:meth:`ScenarioSet.to_frame`, a ``scenario`` column
like statsforecast's ``sample_id``).

Sampling methods, each reproducible from ``seed`` alone:

``lhs`` (default)
    Latin hypercube: every marginal is stratified into ``count`` equal-
    probability bins and each bin is hit once, so a quantile of a single
    item x location x period is estimated with far less variance than by
    plain Monte Carlo (scipy.stats.qmc.LatinHypercube, seeded).
``sobol``
    Scrambled Sobol' points (scipy.stats.qmc.Sobol); ``count`` should be a
    power of two.
``mc``
    Plain Monte Carlo, one generator per scenario seeded by
    ``seed + scenario number`` (mpi-sppy's rule), so scenario ``s`` is the
    same whatever the count or the order scenarios are built in.

Without ``copula`` every dimension is sampled independently. With a copula
(fitted to backtest residuals by ``echelon forecast --backtest``: Gaussian, t
or empirical), the uniforms are turned into normals,
correlated across periods and locations of each item, and turned back into
uniforms before the marginals' ``ppf``: the marginals stay those of the
table, lead-time sums and DC totals get the dependence the backtest saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from forecasts.distributions import DistributionTable

__all__ = ["ScenarioSet", "sample_scenarios", "METHODS"]

METHODS = ("lhs", "sobol", "mc")
# Uniforms are kept inside (0, 1) so that unbounded families stay finite.
_EPS = 1e-9


@dataclass(frozen=True)
class ScenarioSet:
    """Sampled demand paths with their probabilities.

    Attributes
    ----------
    demand : ndarray of shape (S, I, L, T)
        Demand in units per period; ``items[i]``, ``locations[l]``, period ``t``.
    probability : ndarray of shape (S,)
        Scenario probabilities (equal for sampled scenarios), summing to 1.
    items, locations : tuple of str
    """

    demand: np.ndarray
    probability: np.ndarray
    items: tuple[str, ...]
    locations: tuple[str, ...]

    @property
    def count(self) -> int:
        return self.demand.shape[0]

    @property
    def n_periods(self) -> int:
        return self.demand.shape[3]

    def series_paths(self, keys: pd.MultiIndex) -> np.ndarray:
        """Demand (S, len(keys), T) of the (item, location) series ``keys``, in their order."""
        i = pd.Index(self.items).get_indexer(keys.get_level_values(0))
        l = pd.Index(self.locations).get_indexer(keys.get_level_values(1))
        return self.demand[:, i, l, :]

    def to_frame(self) -> pd.DataFrame:
        """Long table: scenario, item, location, period, demand, probability."""
        s, i, l, t = np.indices(self.demand.shape).reshape(4, -1)
        return pd.DataFrame(
            {
                "scenario": s,
                "item": np.asarray(self.items, dtype=object)[i],
                "location": np.asarray(self.locations, dtype=object)[l],
                "period": t,
                "demand": self.demand.ravel(),
                "probability": self.probability[s],
            }
        )


#: Dimensions whose Latin-hypercube strata are drawn and combined at once.
_LHS_BLOCK = 65_536


def _latin_hypercube(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``LatinHypercube(d=dim).random(count)`` of the engine whose generator is ``rng``, the same
    numbers, in blocks of dimensions.

    scipy draws the jitters ``U`` (count, dim), then one shuffled stratum order
    ``P_k = 1..count`` per dimension ``k`` in turn, and returns ``(P - U) / count``,
    holding ``P`` as int64 and the difference besides ``U``: four arrays of the
    full size. Here the same draws, in the same order, are combined into ``U``
    a block of dimensions at a time (``tests/test_scale_equivalence.py``).
    """
    u = rng.uniform(size=(count, dim))
    for start in range(0, dim, _LHS_BLOCK):
        stop = min(start + _LHS_BLOCK, dim)
        perms = np.tile(np.arange(1, count + 1), (stop - start, 1))
        for row in perms:
            rng.shuffle(row)
        u[:, start:stop] = (perms.T - u[:, start:stop]) / count
    return u


def _uniforms(count: int, dim: int, method: str, seed: int) -> np.ndarray:
    if method == "lhs":
        # scipy's engine only for its generator (spawned from the seed's): the draws are made below
        u = _latin_hypercube(count, dim, qmc.LatinHypercube(d=dim, seed=np.random.default_rng(seed)).rng)
    elif method == "sobol":
        u = qmc.Sobol(d=dim, scramble=True, seed=np.random.default_rng(seed)).random(count)
    elif method == "mc":
        u = np.stack([np.random.default_rng(seed + s).random(dim) for s in range(count)])
    else:
        raise ValueError(f"method={method!r} is not a sampling method; use one of {METHODS}")
    return np.clip(u, _EPS, 1.0 - _EPS, out=u)


def sample_scenarios(
    table: DistributionTable, count: int, *, seed: int = 0, method: str = "lhs", copula=None
) -> ScenarioSet:
    """Draw ``count`` equally likely demand scenarios from ``table``.

    Parameters
    ----------
    table : forecasts.distributions.DistributionTable
        Demand distribution per item x location x period. Every
        (item, location) pair must cover the same periods 0..T-1.
    count : int
        Number of scenarios S (>= 1).
    seed : int, default=0
        Seed; the same table, count, seed and method give the same array.
    method : {"lhs", "sobol", "mc"}, default="lhs"
    copula : GaussianCopula, StudentTCopula or EmpiricalCopula, optional
        Dependence across periods and locations (default: independent); anything
        with ``correlate(z, locations)`` turning independent normals into normal scores.

    Returns
    -------
    ScenarioSet
        ``demand`` has zeros for item x location pairs absent from the table.
    """
    if int(count) < 1:
        raise ValueError(f"scenario count must be at least 1; received {count}")
    frame = table.frame
    u = _uniforms(int(count), len(frame), method, int(seed))
    items, locations, T = table.items, table.locations, table.n_periods
    i = pd.Index(items).get_indexer(frame["item"])
    l = pd.Index(locations).get_indexer(frame["location"])
    t = frame["period"].to_numpy()
    if copula is not None:
        z = np.zeros((int(count), len(items), len(locations), T))
        z[:, i, l, t] = stats.norm.ppf(u)
        z = copula.correlate(z, locations)
        u = np.clip(stats.norm.cdf(z[:, i, l, t]), _EPS, 1.0 - _EPS)
    values = table.ppf(u)  # (S, rows)
    del u
    shape = (int(count), len(items), len(locations), T)
    if np.array_equal((i * len(locations) + l) * T + t, np.arange(len(frame))):  # rows in the array's order
        demand = values.reshape(shape)
    else:
        demand = np.zeros(shape)
        demand[:, i, l, t] = values
    probability = np.full(int(count), 1.0 / int(count))
    return ScenarioSet(demand, probability, items, locations)
