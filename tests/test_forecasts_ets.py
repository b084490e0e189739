"""ETS baseline: known level and noise give the right mean and interval width; counts keep
their mass at 0; nothing after the origin is used; it is scored like every other model."""

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("statsmodels")

from forecasts.ets import ETSForecaster  # noqa: E402

ORIGIN = pd.Timestamp("2016-03-27")
Z90 = stats.norm.ppf(0.9)


def _series(values, end=ORIGIN):
    dates = pd.date_range(end=end, periods=len(values))
    return pd.DataFrame({"item": "a", "location": "x", "date": dates, "quantity": np.asarray(values, float)})


@pytest.mark.parametrize(
    "level, sd, spread",
    [(40.0, 10.0, 10.0),   # variance 100 > mean 40: the NB keeps the noise's spread
     (100.0, 3.0, 10.0)],  # less spread than a Poisson count: a Poisson, sd sqrt(100)
)
def test_level_and_noise_give_the_mean_and_the_80_percent_interval(level, sd, spread):
    y = level + sd * np.random.default_rng(1).standard_normal(364)
    fc = ETSForecaster(horizon=14).fit(_series(y))
    table = fc.predict()
    q = table.quantiles(levels=(0.1, 0.9))
    # the level to 0.15 sd; each weekday's effect is a mean of 52 noisy days: 0.14 sd standard error
    assert abs(q["mean"].mean() - level) < 0.15 * sd
    np.testing.assert_allclose(q["mean"], level, atol=0.5 * sd)
    width = q["q0.9"] - q["q0.1"]
    # 25.6 units; the quantiles of a count are whole units (4%), the spread is estimated (4% s.e.)
    np.testing.assert_allclose(width, 2 * Z90 * spread, rtol=0.15)
    assert (fc.var_[:, 7:] >= fc.var_[:, :-7] - 1e-9).all()  # a weekday a week later: no less spread


def test_weekly_intermittent_series_keeps_its_weekdays_and_its_mass_at_zero():
    weekend = np.tile([0, 0, 0, 0, 0, 1, 1], 52).astype(bool)
    y = np.random.default_rng(2).poisson(np.where(weekend, 3.0, 0.3))
    table = ETSForecaster(horizon=7).fit(_series(y)).predict()  # 52 whole weeks: period p is day p of a week
    mean = table.mean()
    np.testing.assert_allclose(mean[:5], 0.3, atol=0.25)
    np.testing.assert_allclose(mean[5:], 3.0, atol=0.6)
    # a count law: P(demand = 0) on a quiet day at least 0.6 (the Poisson's is exp(-0.3) = 0.74;
    # a Gaussian with the same moments, cut at 0, gives about 0.4)
    p0 = (table.ppf(np.full((1, 7), 0.6)) == 0)[0]
    assert p0[:5].all() and not p0[5:].any()


def test_nothing_after_the_origin_is_used():
    h = _series(np.random.default_rng(0).poisson(3, 200), end=ORIGIN + pd.Timedelta(days=20))
    later = h.copy()
    later.loc[later["date"] > ORIGIN, "quantity"] = 1000.0
    a = ETSForecaster(horizon=14).fit(h, origin=ORIGIN).predict().frame
    b = ETSForecaster(horizon=14).fit(later, origin=ORIGIN).predict().frame
    pd.testing.assert_frame_equal(a, b)


def test_a_short_or_constant_series():
    with pytest.raises(ValueError, match="the ETS baseline needs at least 28 days of sales up to 2016-03-27; "
                                         "item 'a' at 'x' has 20; choose a later origin"):
        ETSForecaster().fit(_series(np.ones(20)))
    flat = ETSForecaster(horizon=3).fit(_series(np.zeros(60))).predict()
    assert (flat.quantiles()["q0.995"] == 0).all()


def test_without_statsmodels_the_backtest_skips_ets_and_says_how_to_install(monkeypatch):
    from optimizer.forecast_commands import _baselines

    monkeypatch.setitem(sys.modules, "statsmodels", None)
    said = []
    assert set(_baselines(said.append)) == {"seasonal_naive", "ma_negbin"}
    assert said == ["backtest: the ets baseline is skipped: statsmodels is not installed "
                    "(pip install 'echelon[ets]')"]
    with pytest.raises(ImportError, match=r"ETSForecaster needs statsmodels.*pip install 'echelon\[ets\]'"):
        ETSForecaster().fit(_series(np.ones(40)))


def test_backtest_scores_ets_with_the_same_keys_as_every_model():
    from forecasts import NGBoostForecaster, read_history
    from forecasts.baselines import MovingAverageForecaster
    from scenarios.backtest import backtest

    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "HOBBIES_1_115"]) & h["location"].isin(["CA_1", "TX_1"])
    h = h[keep & (h["date"] >= "2015-03-01")].reset_index(drop=True)
    metrics, _ = backtest(
        h, origins=["2016-03-13", "2016-03-27"], horizon=14,
        make_ngboost=lambda f: NGBoostForecaster(horizon=14, family=f, n_estimators=5, train_periods=60),
        baselines={"ma_negbin": lambda: MovingAverageForecaster(14), "ets": lambda: ETSForecaster(14)},
        families=("poisson",), groups={"CA_1": "DC_CA", "TX_1": "DC_TX"}, n_samples=100, scenario_study=False,
    )

    def keys(d):
        return {k: keys(v) for k, v in d.items() if k != "coverage_by_location"} if isinstance(d, dict) else None

    ets, ma = metrics["models"]["ets"], metrics["models"]["ma_negbin"]
    assert keys(ets) == keys(ma)
    assert 0 < ets["crps"] < 10 and 0 < ets["spl"] < 2
