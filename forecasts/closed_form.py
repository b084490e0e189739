"""NGBoost's Poisson, Normal and LogNormal with vectorised, closed-form log scores (issue 10).

NGBoost's own distributions build a frozen ``scipy.stats`` object every time a
parameter vector becomes a distribution (about ten times per boosting
iteration: once for the gradient, the rest in the line search), score it
through scipy's generic ``logpmf``/``logpdf``, and solve the natural gradient
as ``n`` linear systems with ``numpy.linalg.solve``. Profiled on 100,000 M5 rows
with the binned tree learner, that was over 80% of a Poisson fit. The classes
here are the same distributions, parameters and log score, written in closed
form on whole arrays:

==============  ===========================  ============================  ========================
distribution    parameters theta             log score  L(theta; y)        Fisher information
==============  ===========================  ============================  ========================
Poisson         :math:`\\log\\mu`             :math:`\\mu - y\\log\\mu       :math:`\\mu`
                                             + \\log y!`
Normal          :math:`m, \\log s`            :math:`\\log s + z^2/2 +      :math:`1/s^2,\\ 2`
                                             \\log\\sqrt{2\\pi}`,
                                             :math:`z = (y - m)/s`
LogNormal       :math:`m, \\log s` of         Normal's at :math:`\\log y`,  :math:`1/s^2 + 10^{-5},\\ 2`
                :math:`\\log Y`               plus :math:`\\log y`           (ngboost's regulariser)
==============  ===========================  ============================  ========================

with gradients :math:`\\partial L/\\partial\\log\\mu = \\mu - y` (Poisson) and
:math:`\\partial L/\\partial m = (m - y)/s^2`, :math:`\\partial L/\\partial
\\log s = 1 - (m - y)^2/s^2` (Normal; LogNormal at :math:`\\log y`). Every
Fisher information here is diagonal, so the natural gradient
:math:`I^{-1}\\nabla L` is the gradient divided elementwise by the diagonal
(:class:`DiagonalFisher`).

The marginal fits that start the boosting are the closed-form maximum
likelihood estimates: :math:`\\log\\bar y` for the Poisson (ngboost runs a
bounded numerical minimiser to the same point) and the mean and standard
deviation of :math:`y` (of :math:`\\log y`) for the Normal (LogNormal), as in
ngboost. Fitted with the same learner, seed and iterations, the boosted
parameters match ngboost's own classes to rounding
(``tests/test_forecasts_speed.py``).
"""

from __future__ import annotations

import weakref

import numpy as np
from ngboost.distns import LogNormal, Normal, Poisson
from ngboost.scores import LogScore
from scipy import special, stats

__all__ = ["DiagonalFisher", "FastLogNormal", "FastNormal", "FastPoisson", "log_factorial"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class DiagonalFisher:
    """Mixin for a score whose Fisher information is diagonal: natural gradient by division.

    Listed before ``LogScore`` (ngboost finds a distribution's implementation
    of a score by the last base class). Subclasses define ``fisher_diagonal()``, an ``(n, n_params)`` array of the
    diagonal of the Fisher information :math:`I(\\theta)`; then
    :math:`\\tilde\\nabla L = \\nabla L / \\operatorname{diag} I`, row by row,
    the same as ngboost's ``numpy.linalg.solve`` of the diagonal systems.
    """

    def grad(self, Y, natural=True):
        grad = self.d_score(Y)
        return grad / self.fisher_diagonal() if natural else grad

    def metric(self):
        diag = self.fisher_diagonal()
        n, p = diag.shape
        FI = np.zeros((n, p, p))
        FI[:, np.arange(p), np.arange(p)] = diag
        return FI


def log_factorial(y: np.ndarray, _last: list = [None, None]) -> np.ndarray:
    """``log y!`` of counts ``y``, remembered for the last array it was asked about.

    NGBoost scores the same target array about ten times per iteration (the
    gradient and every step of the line search) and ``gammaln`` is the most
    expensive term of the Poisson score; the array is held by a weak reference,
    so a new or freed target array is always recomputed.
    """
    ref, value = _last
    if ref is None or ref() is not y:
        value = special.gammaln(np.asarray(y, dtype=float) + 1.0)
        _last[:] = [weakref.ref(y), value]
    return value


class FastPoissonLogScore(DiagonalFisher, LogScore):
    def score(self, Y):
        return self.mu - Y * self.logmu + log_factorial(Y)

    def d_score(self, Y):
        return (self.mu - Y)[:, None]

    def fisher_diagonal(self):
        return self.mu[:, None]


class FastPoisson(Poisson):
    """``ngboost.distns.Poisson`` with the closed-form score of the module docstring.

    Parameters
    ----------
    params : ndarray of shape (1, n)
        ``params[0] = log(mu)``.
    """

    scores = [FastPoissonLogScore]

    # pylint: disable=super-init-not-called
    def __init__(self, params):
        self._params = params
        self.logmu = params[0]
        self.mu = np.exp(self.logmu)

    @property
    def dist(self):
        """Frozen ``scipy.stats.poisson`` (built only when asked for, e.g. by ``pred_dist``)."""
        return stats.poisson(mu=self.mu)

    def fit(Y):  # noqa: N805  (ngboost calls Dist.fit(Y) on the class)
        """Maximum likelihood: ``log(mean(Y))``, for non-negative integer counts ``Y``."""
        y = np.asarray(Y, dtype=float)
        if (y < 0).any() or (np.mod(y, 1) != 0).any():
            raise ValueError("Poisson targets must be non-negative integers")
        return np.array([np.log(max(y.mean(), 1e-12))])


class FastNormalLogScore(DiagonalFisher, LogScore):
    def score(self, Y):
        z = (Y - self.loc) / self.scale
        return np.log(self.scale) + 0.5 * z * z + _LOG_SQRT_2PI

    def d_score(self, Y):
        r = self.loc - Y
        return np.column_stack([r / self.var, 1.0 - r * r / self.var])

    def fisher_diagonal(self):
        return np.column_stack([1.0 / self.var, np.full(len(self.var), 2.0)])


class FastNormal(Normal):
    """``ngboost.distns.Normal`` (parameters ``loc, log scale``) with a closed-form score."""

    scores = [FastNormalLogScore]

    # pylint: disable=super-init-not-called
    def __init__(self, params):
        self._params = params
        self.loc = params[0]
        self.scale = np.exp(params[1])
        self.var = self.scale**2

    @property
    def dist(self):
        """Frozen ``scipy.stats.norm`` (built only when asked for)."""
        return stats.norm(loc=self.loc, scale=self.scale)


class FastLogNormalLogScore(DiagonalFisher, LogScore):
    def score(self, Y):
        log_y = np.log(Y)
        z = (log_y - self.loc) / self.scale
        return log_y + np.log(self.scale) + 0.5 * z * z + _LOG_SQRT_2PI

    def d_score(self, Y):
        r = self.loc - np.log(Y)
        s2 = self.scale**2
        return np.column_stack([r / s2, 1.0 - r * r / s2])

    def fisher_diagonal(self):
        return np.column_stack([1.0 / self.scale**2 + self.eps, np.full(len(self.scale), 2.0)])


class FastLogNormal(LogNormal):
    """``ngboost.distns.LogNormal`` (``loc, log scale`` of ``log Y``) with a closed-form score.

    Uncensored targets only (ngboost's own class also scores right-censored
    survival data, through scipy).
    """

    scores = [FastLogNormalLogScore]

    # pylint: disable=super-init-not-called
    def __init__(self, params):
        self._params = params
        self.loc = params[0]
        self.scale = np.exp(params[1])
        self.eps = 1e-5

    @property
    def dist(self):
        """Frozen ``scipy.stats.lognorm`` (built only when asked for)."""
        return stats.lognorm(s=self.scale, scale=np.exp(self.loc))
