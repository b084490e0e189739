"""The fast NGBoost learner against NGBoost's default one, and parallel fitting (issue 10)."""

import numpy as np
import pytest
from ngboost import NGBRegressor
from ngboost.distns import Normal, Poisson
from ngboost.manifold import manifold
from ngboost.scores import LogScore
from sklearn.tree import DecisionTreeRegressor

from forecasts.booster import FastNGBRegressor
from forecasts.closed_form import FastLogNormal, FastNormal, FastPoisson
from forecasts.learners import BinnedTreeRegressor, QuantileBinner


def few_valued_problem(n=3000, p=6, seed=0):
    """Features with at most 12 distinct values each, so binning loses nothing."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 12, size=(n, p)).astype(float) * rng.uniform(0.5, 3, size=p)
    signal = np.sin(X[:, 0]) + 0.8 * (X[:, 1] > X[:, 1].mean()) + 0.05 * X[:, 2]
    return X, signal, rng


def test_binned_tree_reproduces_sklearn_default_ngboost_tree_on_exact_bins():
    # NGBoost's default learner is DecisionTreeRegressor(criterion="friedman_mse",
    # max_depth=3) on the raw floats; ours sees bin codes. With <= 255 distinct
    # values per feature the bins are exact, so the partitions, hence the
    # predictions, must agree (to float rounding: tolerance 1e-9 relative).
    X, signal, rng = few_valued_problem()
    y = signal + rng.normal(scale=0.3, size=len(signal))
    codes = QuantileBinner().fit(X).transform(X)
    for depth, leaf in ((3, 1), (3, 20), (4, 5)):
        ours = BinnedTreeRegressor(max_depth=depth, min_samples_leaf=leaf).fit(codes, y)
        ref = DecisionTreeRegressor(
            criterion="friedman_mse", max_depth=depth, min_samples_leaf=leaf, random_state=0
        ).fit(X, y)
        np.testing.assert_allclose(ours.predict(codes), ref.predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dist", ["normal", "poisson"])
def test_ngboost_with_binned_tree_matches_default_learner(dist):
    # Same NGBoost (distribution, 60 iterations, learning rate 0.1, all rows), only
    # the base learner differs. On exact bins each tree is the same partition of the
    # training rows, so there the fitted parameters agree to 1e-6. A held-out row can
    # still differ: when a node's rows lack a value v, sklearn cuts halfway between
    # its neighbours and ours at the lower one, so v may go the other way (measured:
    # 1 held-out row in 1,000). Hence at most 1% of held-out rows may differ and the
    # mean CRPS must be within 1% (the bound).
    X, signal, rng = few_valued_problem(seed=1)
    if dist == "normal":
        Dist, y = Normal, 3 + signal + rng.normal(scale=0.5 + 0.2 * X[:, 3], size=len(signal))
    else:
        Dist, y = Poisson, rng.poisson(np.exp(0.5 + 0.5 * signal)).astype(float)
    train, test = slice(0, 2000), slice(2000, None)
    binner = QuantileBinner().fit(X[train])
    kwargs = dict(Dist=Dist, n_estimators=60, learning_rate=0.1, verbose=False, random_state=0)
    default = NGBRegressor(**kwargs).fit(X[train], y[train])
    fast = NGBRegressor(Base=BinnedTreeRegressor(max_depth=3, min_samples_leaf=1), **kwargs)
    fast.fit(binner.transform(X[train]), y[train])
    np.testing.assert_allclose(
        fast.pred_param(binner.transform(X[train])), default.pred_param(X[train]),
        rtol=1e-6, atol=1e-6,
    )
    p_default = default.pred_param(X[test])
    p_fast = fast.pred_param(binner.transform(X[test]))
    differ = ~np.isclose(p_fast, p_default, rtol=1e-6, atol=1e-6).all(axis=1)
    assert differ.mean() <= 0.01
    crps_default = _crps(dist, p_default, y[test]).mean()
    crps_fast = _crps(dist, p_fast, y[test]).mean()
    assert crps_fast <= 1.01 * crps_default


def _ngboost_pair(name, n, seed):
    """ngboost's own distribution, ours, random raw parameters (n_params, n) and targets."""
    from ngboost.distns import LogNormal

    rng = np.random.default_rng(seed)
    if name == "poisson":
        theta = rng.normal(0.5, 1.5, size=(1, n))
        return Poisson, FastPoisson, theta, rng.poisson(np.exp(theta[0])).astype(float)
    theta = np.vstack([rng.normal(1, 2, n), rng.normal(0, 0.7, n)])
    if name == "normal":
        return Normal, FastNormal, theta, rng.normal(theta[0], np.exp(theta[1]))
    y = np.exp(rng.normal(theta[0], np.exp(theta[1])))
    return LogNormal.uncensor(LogScore), FastLogNormal, theta, y


@pytest.mark.parametrize("name", ["poisson", "normal", "lognormal"])
def test_closed_form_scores_equal_ngboosts_own(name):
    # Same raw parameters: the log score, its gradient, the Fisher information and the
    # natural gradient must be ngboost's (scipy's logpmf/logpdf, numpy.linalg.solve).
    theirs, ours, theta, y = _ngboost_pair(name, 400, seed=2)
    a, b = manifold(LogScore, theirs)(theta), manifold(LogScore, ours)(theta)
    np.testing.assert_allclose(b.score(y), a.score(y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.d_score(y), a.d_score(y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.metric(), a.metric(), rtol=1e-12)
    np.testing.assert_allclose(b.grad(y), a.grad(y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.total_score(y), a.total_score(y), rtol=1e-12)
    if name == "poisson":  # natural gradient of the Poisson log score in log mu: 1 - y / mu
        np.testing.assert_allclose(b.grad(y)[:, 0], 1 - y / np.exp(theta[0]), rtol=1e-12)
        # a new target array of the same length must not reuse the cached log y!
        np.testing.assert_allclose(b.score(y + 1), a.score(y + 1), rtol=1e-12)


def test_closed_form_poisson_marginal_is_the_mle_and_rejects_non_counts():
    y = np.array([0.0, 1.0, 1.0, 5.0])
    assert FastPoisson.fit(y)[0] == pytest.approx(np.log(1.75), rel=1e-15)
    np.testing.assert_allclose(FastPoisson.fit(y), Poisson.fit(y).ravel(), rtol=1e-6)
    for bad in ([0.0, -1.0], [0.5, 2.0]):
        with pytest.raises(ValueError, match="Poisson targets must be non-negative integers"):
            FastPoisson.fit(np.array(bad))


@pytest.mark.parametrize(
    "dist, minibatch_frac, col_sample",
    [("poisson", 1.0, 1.0), ("poisson", 0.5, 1.0), ("normal", 1.0, 1.0), ("normal", 0.5, 0.5)],
)
def test_fast_booster_and_distributions_reproduce_ngboost(dist, minibatch_frac, col_sample):
    # NGBRegressor with ngboost's distribution against FastNGBRegressor with ours, the same
    # binned learner, seed and sampling: same rows drawn, same trees, same line searches.
    # Parameters agree to rounding (the Poisson's start is ngboost's numerical minimiser,
    # ours the closed-form mean: they differ by about 1e-8).
    X, signal, rng = few_valued_problem(n=2000, seed=4)
    if dist == "normal":
        Dists, y = (Normal, FastNormal), 3 + signal + rng.normal(scale=0.5 + 0.2 * X[:, 3], size=2000)
    else:
        Dists, y = (Poisson, FastPoisson), rng.poisson(np.exp(0.5 + 0.5 * signal)).astype(float)
    codes = QuantileBinner().fit(X).transform(X)
    kwargs = dict(
        Base=BinnedTreeRegressor(max_depth=3, min_samples_leaf=20), n_estimators=40,
        learning_rate=0.1, minibatch_frac=minibatch_frac, col_sample=col_sample,
        verbose=False, random_state=5,
    )
    theirs = NGBRegressor(Dist=Dists[0], **kwargs).fit(codes, y)
    ours = FastNGBRegressor(Dist=Dists[1], **kwargs).fit(codes, y)
    np.testing.assert_allclose(ours.scalings, theirs.scalings, rtol=1e-12)
    np.testing.assert_allclose(ours.pred_param(codes), theirs.pred_param(codes), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        ours.pred_param(np.ascontiguousarray(codes)), ours.pred_param(codes), rtol=0, atol=0
    )


def _crps(dist, raw, y):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from forecast_speed import crps_normal, crps_poisson

    if dist == "normal":
        return crps_normal(raw[:, 0], np.exp(raw[:, 1]), y)
    return crps_poisson(np.exp(raw[:, 0]), y)


def test_grouped_fit_same_bytes_in_one_process_or_two():
    from forecasts import read_history
    from forecasts.grouped import GroupedForecaster

    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "HOBBIES_1_115", "HOUSEHOLD_1_474"])
    keep &= h["location"].isin(["CA_1", "TX_1", "WI_3"]) & (h["date"] >= "2015-06-01")
    h = h[keep].reset_index(drop=True)
    params = dict(horizon=7, n_estimators=20, train_periods=120, min_samples_leaf=10, random_state=3)
    one = GroupedForecaster(group_by="category", n_jobs=1, **params).fit(h).predict()
    two = GroupedForecaster(group_by="category", n_jobs=2, **params).fit(h).predict()
    assert list(one.frame.columns) == list(two.frame.columns)
    for col in one.frame.columns:  # byte-identical, column by column
        a, b = one.frame[col].to_numpy(), two.frame[col].to_numpy()
        assert a.dtype == b.dtype and (a.tobytes() if a.dtype != object else list(a)) == (
            b.tobytes() if b.dtype != object else list(b)
        ), col
    assert len(one.frame) == 9 * 7 and one.frame["item"].nunique() == 3
    with pytest.raises(ValueError, match="group_by='date' changes within series"):
        GroupedForecaster(group_by="date", **params).fit(h)
