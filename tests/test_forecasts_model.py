"""NGBoostForecaster: horizon safety, reproducibility, output contract; the base learner."""

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from forecasts import FAMILIES, NGBoostForecaster, read_calendar, read_history
from forecasts.evaluation import crps, empirical_baseline, holdout_truth
from forecasts.learners import BinnedTreeRegressor, QuantileBinner

BUNDLE = "configs/data/m5"
ORIGIN = pd.Timestamp("2016-03-27")
SMALL = dict(horizon=7, n_estimators=8, train_periods=120, minibatch_frac=0.5)


@pytest.fixture(scope="module")
def history():
    h = read_history(f"{BUNDLE}/history.csv.gz")
    items = ["FOODS_3_586", "HOBBIES_1_115", "HOUSEHOLD_1_474"]
    keep = h["item"].isin(items) & h["location"].isin(["CA_1", "CA_2", "TX_1", "WI_3"])
    keep &= h["date"] >= "2015-01-01"
    return h[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def calendar():
    return read_calendar(f"{BUNDLE}/calendar.csv.gz")


@pytest.fixture(scope="module")
def fitted(history):
    return NGBoostForecaster(**SMALL).fit(history, origin=ORIGIN)


def _perturb_after(history, origin, seed=1):
    out = history.copy()
    after = out["date"] > origin
    rng = np.random.default_rng(seed)
    out.loc[after, "quantity"] = rng.integers(0, 500, after.sum()).astype(float)
    return out


def test_sales_after_origin_change_no_feature_and_no_prediction(history, fitted):
    other = NGBoostForecaster(**SMALL).fit(_perturb_after(history, ORIGIN), origin=ORIGIN)
    pd.testing.assert_frame_equal(fitted.prediction_features(), other.prediction_features())
    pd.testing.assert_frame_equal(fitted.predict().frame, other.predict().frame)


def test_sales_before_origin_do_change_predictions(history, fitted):
    # the check above can fail: the same perturbation one week earlier moves the forecast
    other = NGBoostForecaster(**SMALL).fit(
        _perturb_after(history, ORIGIN - pd.Timedelta(days=7)), origin=ORIGIN
    )
    assert not np.allclose(fitted.predict().mean(), other.predict().mean())


def test_truncated_history_gives_the_same_forecast(history, fitted, calendar):
    # without the rows after the origin, events/SNAP come from the calendar instead
    cut = history[history["date"] <= ORIGIN]
    other = NGBoostForecaster(**SMALL).fit(cut, calendar=calendar)
    assert other.origin_ == ORIGIN
    pd.testing.assert_frame_equal(fitted.prediction_features(), other.prediction_features())
    pd.testing.assert_frame_equal(fitted.predict().frame, other.predict().frame)


def test_same_seed_same_bytes_other_seed_other_forecast(history, fitted):
    again = NGBoostForecaster(**SMALL).fit(history, origin=ORIGIN).predict().frame
    first = fitted.predict()
    assert first.frame.to_csv().encode() == again.to_csv().encode()
    other = NGBoostForecaster(**SMALL, random_state=1).fit(history, origin=ORIGIN).predict()
    assert not np.allclose(first.mean(), other.mean())


@pytest.mark.parametrize("family", ["negative_binomial", "poisson", "normal", "lognormal", "gamma"])
def test_predict_covers_every_series_and_period_with_valid_params(history, family):
    fc = NGBoostForecaster(**{**SMALL, "n_estimators": 4}, family=family).fit(history, origin=ORIGIN)
    table = fc.predict()
    frame = table.frame
    n_series = history.groupby(["item", "location"]).ngroups
    assert len(frame) == n_series * 7 and table.n_periods == 7
    assert set(frame["family"]) == {family}
    for name in FAMILIES[family]:
        assert np.isfinite(frame[name]).all()
    assert (table.mean() >= 0).all()
    assert list(fc.period_dates_) == list(pd.date_range("2016-03-28", periods=7))
    # the scenario stage can sample it
    q = table.quantiles()
    assert (q["q0.995"] >= q["q0.005"]).all()


def test_forecast_beats_a_flat_guess(history):
    # not a benchmark: the fitted means must track the series' levels
    fc = NGBoostForecaster(**{**SMALL, "n_estimators": 30}, family="negative_binomial")
    fc.fit(history, origin=ORIGIN)
    table = fc.predict()
    truth = holdout_truth(history, table, fc.period_dates_)
    flat = table.frame.assign(mean=truth.mean(), dispersion=1.0)
    from forecasts.distributions import DistributionTable

    assert crps(table, truth).mean() < crps(DistributionTable(flat), truth).mean()
    base = empirical_baseline(history, ORIGIN, 7)
    assert np.isfinite(crps(base, truth)).all()


def test_not_fitted_and_bad_params(history):
    with pytest.raises(AttributeError, match="This NGBoostForecaster instance is not fitted yet"):
        NGBoostForecaster().predict()
    with pytest.raises(ValueError, match=r"family='weibull' is not supported; use one of \["):
        NGBoostForecaster(family="weibull").fit(history)
    with pytest.raises(ValueError, match="horizon must be an integer >= 1; received 0"):
        NGBoostForecaster(horizon=0).fit(history)
    with pytest.raises(ValueError, match="exogenous column 'promo' is not in the history"):
        NGBoostForecaster(exogenous=["promo"]).fit(history)
    with pytest.raises(ValueError, match="origin=2000-01-01 is before the history starts"):
        NGBoostForecaster().fit(history, origin="2000-01-01")


def test_binned_tree_matches_sklearn_on_the_same_bins():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 5))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(np.sin(X[:, 0])) + 2 * (np.nan_to_num(X[:, 3]) > 0.5) + rng.normal(size=3000)
    codes = QuantileBinner(max_bins=64).fit(X).transform(X)
    ours = BinnedTreeRegressor(max_depth=3, min_samples_leaf=20).fit(codes, y)
    ref = DecisionTreeRegressor(max_depth=3, min_samples_leaf=20).fit(codes, y)
    np.testing.assert_allclose(ours.predict(codes), ref.predict(codes), rtol=1e-10)
