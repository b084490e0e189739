"""Baselines: hand-computed forecasts, horizon safety; NGBoost explanations and the new family."""

import numpy as np
import pandas as pd
import pytest

from forecasts import NGBoostForecaster, read_history
from forecasts.baselines import MovingAverageForecaster, SeasonalNaiveForecaster

ORIGIN = pd.Timestamp("2016-03-27")


def _series(values, start="2016-01-04"):
    dates = pd.date_range(start, periods=len(values))
    return pd.DataFrame({"item": "a", "location": "x", "date": dates, "quantity": np.asarray(values, float)})


def test_seasonal_naive_point_plus_same_weekday_errors_by_hand():
    # three weeks: 0..6, 1..7, 3..9 (week 3 = week 2 + 2 except day 0)
    w1 = np.arange(7.0)
    w2 = w1 + 1
    w3 = w2 + 2
    w3[0] = w2[0]
    h = _series(np.r_[w1, w2, w3])
    fc = SeasonalNaiveForecaster(horizon=8, window=14).fit(h)
    frame = fc.predict().frame
    # period 0 (same weekday as day 0 of each week): point w3[0]=1; errors 1-1=0 and 1-0=1
    np.testing.assert_allclose(frame.loc[0, "values"], [1.0, 2.0])
    # period 1: point 4; errors 2 and 1 -> 5, 6
    np.testing.assert_allclose(frame.loc[1, "values"], [5.0, 6.0])
    # period 7: two weeks ahead: point w3[0]=1, 2-week errors at that weekday: 1-0=1 -> 2
    np.testing.assert_allclose(frame.loc[7, "values"], [2.0])
    assert list(fc.period_dates_) == list(pd.date_range(h["date"].max() + pd.Timedelta(days=1), periods=8))


def test_moving_average_negative_binomial_moments():
    y = np.r_[np.zeros(30), [0, 4] * 14]
    fc = MovingAverageForecaster(horizon=3, window=28).fit(_series(y))
    row = fc.predict().frame.iloc[0]
    m, v = 2.0, 4.0  # mean 2, variance 4
    assert row["mean"] == pytest.approx(m)
    assert row["dispersion"] == pytest.approx(m**2 / (v - m))
    flat = MovingAverageForecaster(horizon=2).fit(_series(np.full(40, 3.0))).predict().frame
    assert (flat["dispersion"] >= 1e5).all()  # not over-dispersed: Poisson limit


@pytest.mark.parametrize("model", [SeasonalNaiveForecaster(horizon=14), MovingAverageForecaster(horizon=14)])
def test_baselines_use_nothing_after_the_origin(model):
    rng = np.random.default_rng(0)
    h = _series(rng.poisson(3, 200))
    later = h.copy()
    after = later["date"] > ORIGIN
    later.loc[after, "quantity"] = 1000.0
    a = model.fit(h, origin=ORIGIN).predict().frame
    b = type(model)(horizon=14).fit(later, origin=ORIGIN).predict().frame
    pd.testing.assert_frame_equal(a.drop(columns="values", errors="ignore"), b.drop(columns="values", errors="ignore"))
    if "values" in a:
        for x, y in zip(a["values"], b["values"]):
            np.testing.assert_array_equal(x, y)


def test_not_fitted_baseline():
    with pytest.raises(AttributeError, match="This SeasonalNaiveForecaster instance is not fitted yet"):
        SeasonalNaiveForecaster().predict()


@pytest.fixture(scope="module")
def small_fit():
    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "HOBBIES_1_115"]) & h["location"].isin(["CA_1", "TX_1"])
    h = h[keep & (h["date"] >= "2015-01-01")].reset_index(drop=True)
    fc = NGBoostForecaster(horizon=7, family="shifted_lognormal", n_estimators=10, train_periods=120)
    return h, fc.fit(h, origin=ORIGIN)


def test_shifted_lognormal_forecast_is_seeded_and_horizon_safe(small_fit):
    h, fc = small_fit
    again = NGBoostForecaster(horizon=7, family="shifted_lognormal", n_estimators=10, train_periods=120)
    later = h.copy()
    later.loc[later["date"] > ORIGIN, "quantity"] = 999.0
    b = again.fit(later, origin=ORIGIN).predict().frame
    a = fc.predict().frame
    assert a.to_csv().encode() == b.to_csv().encode()
    assert set(a["family"]) == {"shifted_lognormal"} and (a["shift"] == 1.0).all()


def test_shap_values_add_up_to_the_parameters_and_read_as_words(small_fit):
    from forecasts.explain import explain, plain_words, shap_values

    _, fc = small_fit
    X = fc.prediction_features()
    values, base = shap_values(fc, X)
    raw = fc.model_.pred_param(fc.binner_.transform(X.to_numpy()))
    np.testing.assert_allclose(values.sum(axis=2).T + base, raw, atol=1e-9)
    rows, _ = explain(fc, "FOODS_3_586", "CA_1")
    assert len(rows) == 7 and (rows["q10"] <= rows["q90"]).all()
    words = plain_words(rows["location_drivers"].iloc[0], 3)
    assert words.count("%") == 3 and "=" in words
    assert plain_words([("event_name_1=SuperBowl", 31.2, True), ("price", -12.0, True)]) == (
        "event_name_1=SuperBowl +31%, price -12%"
    )
