"""The negative binomial NGBoost distribution: likelihood, gradient, Fisher information."""

import numpy as np
import pytest
from ngboost.manifold import manifold
from ngboost.scores import LogScore
from scipy import stats

from forecasts.negative_binomial import NegativeBinomial, nb_fisher_dispersion

NB = manifold(LogScore, NegativeBinomial)
CASES = [(0.3, 0.5), (2.0, 3.0), (15.0, 0.2), (80.0, 10.0), (1.0, 5000.0)]


def _dist(mu, k, n=1):
    return NB(np.array([[np.log(mu)] * n, [np.log(k)] * n], dtype=float))


@pytest.mark.parametrize("mu, k", CASES)
def test_logpmf_matches_scipy(mu, k):
    y = np.arange(0, 200)
    d = _dist(mu, k, len(y))
    expected = stats.nbinom(n=k, p=k / (k + mu)).logpmf(y)
    np.testing.assert_allclose(d.logpmf(y), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mu, k", CASES[:4])
def test_moments(mu, k):
    y = np.arange(0, 20000)
    p = np.exp(_dist(mu, k, len(y)).logpmf(y))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert (p * y).sum() == pytest.approx(mu, rel=1e-8)
    assert (p * (y - mu) ** 2).sum() == pytest.approx(mu + mu**2 / k, rel=1e-6)
    d = _dist(mu, k)
    assert d.mean()[0] == pytest.approx(mu) and d.var()[0] == pytest.approx(mu + mu**2 / k)


@pytest.mark.parametrize("mu, k", CASES)
def test_gradient_matches_finite_differences(mu, k):
    y = np.array([0, 1, 3, 7, 20, 150], dtype=float)
    theta = np.array([[np.log(mu)] * len(y), [np.log(k)] * len(y)])
    grad = NB(theta).d_score(y)
    eps = 1e-6
    for j in range(2):
        up, down = theta.copy(), theta.copy()
        up[j] += eps
        down[j] -= eps
        numeric = (NB(up).score(y) - NB(down).score(y)) / (2 * eps)
        # gammaln(y + k) - gammaln(k) loses ~1e-16 * gammaln(k) to cancellation at large k
        atol = 1e-6 + 1e-16 * abs(np.log(k)) * k / eps
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("mu, k", CASES[:4])
def test_fisher_information_is_expected_outer_product_of_scores(mu, k):
    # exact expectation over the pmf (truncated where the tail is negligible)
    y = np.arange(0, 40000, dtype=float)
    d = _dist(mu, k, len(y))
    p = np.exp(d.logpmf(y))
    g = d.d_score(y)
    expected = np.einsum("n,ni,nj->ij", p, g, g)
    fi = _dist(mu, k).metric()[0]
    assert fi[0, 1] == 0.0 and expected[0, 1] == pytest.approx(0.0, abs=1e-7 * expected[0, 0])
    assert fi[0, 0] == pytest.approx(expected[0, 0], rel=1e-8)
    assert nb_fisher_dispersion(mu, k) == pytest.approx(expected[1, 1], rel=1e-4)


def test_fisher_floor_near_poisson():
    fi = _dist(1.0, 5000.0).metric()[0]
    assert nb_fisher_dispersion(1.0, 5000.0) < 1e-6
    assert fi[1, 1] == NegativeBinomial.scores[0].fisher_floor


def test_marginal_fit_by_moments():
    y = stats.nbinom(n=2.0, p=2.0 / (2.0 + 4.0)).rvs(200000, random_state=0)
    log_mu, log_k = NegativeBinomial.fit(y)
    assert np.exp(log_mu) == pytest.approx(4.0, rel=0.01)
    assert np.exp(log_k) == pytest.approx(2.0, rel=0.05)
