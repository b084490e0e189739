"""Negative binomial distribution for NGBoost (ngboost 0.6 has none).

Model
-----
Demand :math:`Y \\in \\{0, 1, 2, ...\\}` (units per period) with mean
:math:`\\mu > 0` and dispersion :math:`k > 0`:

.. math::

    P(Y = y) = \\frac{\\Gamma(y + k)}{\\Gamma(k)\\, y!}
               \\left(\\frac{k}{k + \\mu}\\right)^k
               \\left(\\frac{\\mu}{k + \\mu}\\right)^y,
    \\qquad E[Y] = \\mu, \\quad Var[Y] = \\mu + \\mu^2 / k,

i.e. ``scipy.stats.nbinom(n=k, p=k / (k + mu))``. As :math:`k \\to \\infty`
it tends to Poisson(:math:`\\mu`). NGBoost's parameters are
:math:`\\theta = (\\log \\mu, \\log k)`.

Log score :math:`L = -\\log P(Y=y)` and its gradient:

.. math::

    \\partial L / \\partial \\theta_0 &= k (\\mu - y) / (k + \\mu) \\\\
    \\partial L / \\partial \\theta_1 &= -k \\left[\\psi(y + k) - \\psi(k)
        + \\log\\frac{k}{k + \\mu} + \\frac{\\mu - y}{k + \\mu}\\right]

Fisher information (:math:`\\mu` and :math:`k` are orthogonal, so it is diagonal):

.. math::

    I_{00} = \\frac{\\mu k}{k + \\mu}, \\qquad
    I_{11} = k^2 \\left[\\sum_{j \\ge 0} \\frac{P(Y > j)}{(k + j)^2}
             - \\frac{\\mu}{k (k + \\mu)}\\right]

using :math:`\\psi'(k) - E[\\psi'(Y + k)] = E\\sum_{j<Y} (k + j)^{-2}
= \\sum_j P(Y > j) (k + j)^{-2}`; the series is summed until its remainder is
below 1e-6 relative (no sampling; see :func:`nb_fisher_dispersion`).
"""

from __future__ import annotations

import numpy as np
from ngboost.distns.distn import RegressionDistn
from ngboost.scores import LogScore
from scipy import special, stats

from .closed_form import DiagonalFisher, log_factorial
from .row_threads import by_rows

__all__ = ["NegativeBinomial", "NegativeBinomialLogScore", "nb_fisher_dispersion"]

#: Bounds on log mean and log dispersion, to keep line searches finite.
_LOG_MU_BOUNDS = (-12.0, 12.0)
_LOG_K_BOUNDS = (-8.0, 12.0)


def nb_fisher_dispersion(
    mu: np.ndarray, k: np.ndarray, rtol: float = 1e-6, max_terms: int = 100_000
) -> np.ndarray:
    """Fisher information of :math:`\\log k` for NB(mean ``mu``, dispersion ``k``).

    Computes :math:`k^2 S - k\\mu/(k+\\mu)` with
    :math:`S = \\sum_{j \\ge 0} P(Y>j)/(k+j)^2`, the pmf by the recursion
    :math:`p_{j+1} = p_j (j + k) / (j + 1) \\cdot \\mu / (k + \\mu)`. A row
    stops once the remaining terms, bounded by :math:`P(Y > j) / (k + j)`
    (the survival function decreases and :math:`\\sum_{i>j} (k+i)^{-2} \\le
    1 / (k + j)`), are below ``rtol`` times its partial sum; so the error of
    :math:`S` is below ``rtol`` relative. Rows still running are compacted every
    16 terms, so the cost is about the sum of the rows' own series lengths.
    """
    mu = np.asarray(mu, dtype=float)
    k = np.asarray(k, dtype=float)
    shape = np.broadcast(mu, k).shape
    mu, k = np.broadcast_to(mu, shape).ravel(), np.broadcast_to(k, shape).ravel()
    q = mu / (k + mu)
    series = np.empty(len(mu))
    # working copies of the rows still summing
    rows = np.arange(len(mu))
    kw, qw = k.copy(), q.copy()
    pmf = np.exp(kw * np.log1p(-qw))  # P(Y = 0) = (k / (k + mu))**k
    sf = 1.0 - pmf  # P(Y > 0)
    total = np.maximum(sf, 0.0) / kw**2
    j = 0
    while rows.size:
        for _ in range(16):
            pmf *= (j + kw) / (j + 1.0) * qw
            sf -= pmf
            j += 1
            total += np.maximum(sf, 0.0) / (kw + j) ** 2
        done = (np.maximum(sf, 0.0) / (kw + j) <= rtol * total) | (j >= max_terms)
        if done.any():
            series[rows[done]] = total[done]
            keep = ~done
            rows, kw, qw, pmf, sf, total = (
                rows[keep], kw[keep], qw[keep], pmf[keep], sf[keep], total[keep]
            )
    out = k**2 * series - k * mu / (k + mu)
    return np.maximum(out, 1e-12).reshape(shape)


def _logpmf(y, k, logk, logmu, log_y_factorial):
    log_k_plus_mu = np.logaddexp(logk, logmu)
    return (
        special.gammaln(y + k)
        - special.gammaln(k)
        - log_y_factorial
        + k * (logk - log_k_plus_mu)
        + y * (logmu - log_k_plus_mu)
    )


def _d_score(y, mu, k):
    D = np.empty((len(y), 2))
    D[:, 0] = k * (mu - y) / (k + mu)
    D[:, 1] = -k * (
        special.digamma(y + k) - special.digamma(k) + np.log(k / (k + mu)) + (mu - y) / (k + mu)
    )
    return D


class NegativeBinomialLogScore(DiagonalFisher, LogScore):
    """Log score of :class:`NegativeBinomial` with analytic gradient and Fisher information."""

    def score(self, Y):
        return -self.logpmf(Y)

    def d_score(self, Y):
        return by_rows(_d_score, np.asarray(Y, dtype=float), self.mu, self.k)

    #: Floor on the Fisher information of log k (see :meth:`metric`).
    fisher_floor = 1e-2

    def fisher_diagonal(self):
        """Fisher information (diagonal), the log-k entry floored at :attr:`fisher_floor`.

        Near the Poisson limit (k >> mu) the information about log k vanishes
        like (mu / k)**2 / 2 and an unfloored natural gradient step in log k
        would be unbounded; the floor caps it at 1 / fisher_floor times the
        ordinary gradient.
        """
        return np.column_stack([
            self.mu * self.k / (self.k + self.mu),
            np.maximum(by_rows(nb_fisher_dispersion, self.mu, self.k), self.fisher_floor),
        ])


class NegativeBinomial(RegressionDistn):
    """Negative binomial NGBoost distribution, parameters ``(log mean, log dispersion)``.

    See the module docstring for the model, score, gradient and Fisher information.

    Parameters
    ----------
    params : ndarray of shape (2, n)
        ``params[0] = log(mu)``, ``params[1] = log(k)``; clipped to
        ``[-12, 12]`` and ``[-8, 12]`` so that line searches stay finite.
    """

    n_params = 2
    scores = [NegativeBinomialLogScore]

    # pylint: disable=super-init-not-called
    def __init__(self, params):
        self._params = params
        self.logmu = np.clip(params[0], *_LOG_MU_BOUNDS)
        self.logk = np.clip(params[1], *_LOG_K_BOUNDS)
        self.mu = np.exp(self.logmu)
        self.k = np.exp(self.logk)

    def logpmf(self, Y):
        """Log probability of counts ``Y`` (vectorised over rows; ``log y!`` kept for the same ``Y``)."""
        y = np.asarray(Y, dtype=float)
        return by_rows(_logpmf, y, self.k, self.logk, self.logmu, log_factorial(Y))

    @property
    def dist(self):
        """Frozen ``scipy.stats.nbinom`` with the same parameters."""
        return stats.nbinom(n=self.k, p=self.k / (self.k + self.mu))

    def fit(Y):  # noqa: N805  (ngboost calls Dist.fit(Y) on the class)
        """Marginal fit by moments: ``mu = mean(Y)``, ``k = mu^2 / max(var - mu, eps)``."""
        y = np.asarray(Y, dtype=float)
        mu = max(float(np.mean(y)), 1e-6)
        excess = float(np.var(y)) - mu
        k = mu**2 / excess if excess > 1e-9 else np.exp(_LOG_K_BOUNDS[1])
        return np.array([np.log(mu), np.clip(np.log(k), *_LOG_K_BOUNDS)])

    def sample(self, m):
        return np.array([self.dist.rvs() for _ in range(m)])

    def mean(self):
        return self.mu

    def var(self):
        return self.mu + self.mu**2 / self.k

    def ppf(self, q):
        return self.dist.ppf(q)

    def cdf(self, y):
        return self.dist.cdf(y)

    @property
    def params(self):
        return {"mean": self.mu, "dispersion": self.k}
