"""Speed changes of issue 8 that must not change a number: NGBoost's negative-binomial terms in
threads, the feature's trailing price maximum without pandas' per-series rolling."""

import numpy as np
import pandas as pd
import pytest

from forecasts.features import _trailing_max


def test_negative_binomial_fit_same_parameters_in_one_thread_or_two(monkeypatch):
    """The score, gradient and Fisher information split into row blocks in threads
    (forecasts.row_threads), the trees' predictions in row blocks and a parameter's tree per thread,
    give NGBoost the same bytes as one thread."""
    from forecasts import row_threads
    from forecasts.booster import FastNGBRegressor
    from forecasts.learners import BinnedTreeRegressor
    from forecasts.negative_binomial import NegativeBinomial

    rng = np.random.default_rng(0)
    X = rng.integers(0, 16, size=(4000, 5)).astype(np.uint8)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + 1.0 + X[:, 0]))
    monkeypatch.setattr(row_threads, "MIN_ROWS", 100)
    fitted = {}
    for threads in (1, 2):
        monkeypatch.setattr(row_threads, "THREADS", threads)
        model = FastNGBRegressor(Dist=NegativeBinomial, Base=BinnedTreeRegressor(max_depth=3, min_samples_leaf=20),
                                 n_estimators=15, minibatch_frac=0.5, verbose=False, random_state=0,
                                 n_jobs=threads).fit(X, y)
        fitted[threads] = model.pred_param(X)
    assert fitted[1].tobytes() == fitted[2].tobytes()


@pytest.mark.parametrize("width", [1, 3, 7, 364])
def test_trailing_max_is_pandas_rolling_max(width):
    rng = np.random.default_rng(1)
    a = rng.random((40, 400))
    a[rng.random(a.shape) < 0.3] = np.nan
    a[:3] = np.nan  # series without a price yet
    expected = pd.DataFrame(a.T).rolling(width, min_periods=1).max().to_numpy().T
    np.testing.assert_array_equal(_trailing_max(a, width), expected)


@pytest.mark.parametrize("shortage, storage", [("lost_sales", 40.0), ("backorders", None)])
def test_replay_in_blocks_of_scenarios_is_the_whole_replay(shortage, storage):
    """65 scenarios in blocks of 32 and 33 on two threads: every figure the same bits as one call
    (also with a DC storage capacity, whose rationing sums over items per scenario)."""
    import dataclasses

    from benchmarks.run import synthetic_problem
    from benchmarks.stages import base_stock_figures
    from optimizer.simulate import simulate_in_blocks, simulate_policy

    problem, _ = synthetic_problem(6, 2, 3, 6, 65, seed=5)
    caps = None if storage is None else np.where(np.asarray(problem.network.kinds) == "dc", storage, np.inf)
    problem = dataclasses.replace(problem, shortage=shortage,
                                  network=dataclasses.replace(problem.network, storage=caps))
    plan, _ = base_stock_figures(problem)
    whole = simulate_policy(problem, plan.target, plan.ship0, problem.demand)
    blocks = simulate_in_blocks(problem, plan.target, plan.ship0, problem.demand, threads=2, blocks=2)
    for field in dataclasses.fields(whole):
        assert getattr(blocks, field.name).tobytes() == getattr(whole, field.name).tobytes(), field.name
    if storage is not None:
        assert whole.dc_rationed_periods.any()  # the capacity binds somewhere


def test_latin_hypercube_in_blocks_is_scipys(monkeypatch):
    """The scenario uniforms, drawn a block of dimensions at a time, are scipy's LatinHypercube's."""
    from scipy.stats import qmc

    from scenarios import sampling

    monkeypatch.setattr(sampling, "_LHS_BLOCK", 7)
    for count, dim, seed in ((1, 5, 0), (40, 23, 3), (13, 7, 11)):
        expected = qmc.LatinHypercube(d=dim, seed=np.random.default_rng(seed)).random(count)
        got = sampling._uniforms(count, dim, "lhs", seed)
        assert got.tobytes() == np.clip(expected, sampling._EPS, 1 - sampling._EPS).tobytes()
