"""Copula scenarios: fitted correlation, unchanged marginals, reproducibility; a small backtest."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasts.distributions import DistributionTable
from scenarios import GaussianCopula, fit_copula, load_copula, sample_scenarios


def _pits(rho_t, rho_l, n=3000, L=3, T=5, seed=0):
    rt = rho_t ** np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    rl = np.full((L, L), rho_l) + (1 - rho_l) * np.eye(L)
    z = np.random.default_rng(seed).standard_normal((n, L, T))
    z = np.einsum("lk,nkt,ut->nlu", np.linalg.cholesky(rl), z, np.linalg.cholesky(rt))
    return stats.norm.cdf(z), rt, rl


def test_fit_recovers_period_and_location_correlation():
    pit, rt, rl = _pits(0.6, 0.4)
    cop = fit_copula(pit, ["A", "B", "C"], shrinkage=0.0)
    np.testing.assert_allclose(cop.time_corr, rt, atol=0.03)
    np.testing.assert_allclose(cop.location_corr, rl, atol=0.03)


def test_copula_keeps_the_marginals_and_widens_lead_time_sums(tmp_path):
    table = DistributionTable.constant("poisson", {"mean": 4.0}, ["i1", "i2"], ["A", "B", "C"], 5)
    pit, _, _ = _pits(0.6, 0.4)
    cop = fit_copula(pit, ["A", "B", "C"])
    ind = sample_scenarios(table, 2048, seed=3, method="lhs").demand
    cor = sample_scenarios(table, 2048, seed=3, method="lhs", copula=cop).demand
    # marginal mean and variance unchanged (Poisson(4)), sums over periods and stores wider
    assert cor.mean() == pytest.approx(4.0, rel=0.02)
    assert cor[:, 0, 0, 0].var() == pytest.approx(4.0, rel=0.1)
    assert cor.sum(axis=3).var(axis=0).mean() > 1.5 * ind.sum(axis=3).var(axis=0).mean()
    dc = cor.sum(axis=(2, 3)).var(axis=0).mean()
    assert dc > 1.5 * ind.sum(axis=(2, 3)).var(axis=0).mean()
    # reproducible, and a round trip through the file gives the same scenarios
    again = sample_scenarios(table, 2048, seed=3, method="lhs", copula=cop).demand
    np.testing.assert_array_equal(cor, again)
    path = tmp_path / "copula.json"
    path.write_text(cop.to_json())
    back = sample_scenarios(table, 64, seed=3, method="sobol", copula=load_copula(path)).demand
    np.testing.assert_allclose(back, sample_scenarios(table, 64, seed=3, method="sobol", copula=cop).demand,
                               atol=1e-3)


def test_without_copula_sampling_is_unchanged_and_too_long_horizons_are_refused():
    table = DistributionTable.constant("normal", {"mean": 10.0, "std": 2.0}, ["i"], ["A"], 4)
    ident = GaussianCopula(("A",), np.eye(1), np.eye(4))
    np.testing.assert_allclose(
        sample_scenarios(table, 16, seed=1).demand,
        sample_scenarios(table, 16, seed=1, copula=ident).demand, atol=1e-6,
    )
    short = GaussianCopula(("A",), np.eye(1), np.eye(2))
    with pytest.raises(ValueError, match="the copula was fitted on 2 periods; the forecast has 4"):
        sample_scenarios(table, 4, copula=short)


def test_small_backtest_reports_every_model_level_and_the_copula():
    from forecasts import NGBoostForecaster, read_history
    from forecasts.baselines import MovingAverageForecaster, SeasonalNaiveForecaster
    from scenarios.backtest import backtest

    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "HOBBIES_1_115"]) & h["location"].isin(["CA_1", "CA_2", "TX_1"])
    h = h[keep & (h["date"] >= "2015-03-01")].reset_index(drop=True)
    metrics, art = backtest(
        h, origins=["2016-02-28", "2016-03-13", "2016-03-27"], horizon=14,
        make_ngboost=lambda f: NGBoostForecaster(horizon=14, family=f, n_estimators=5, train_periods=60),
        baselines={"seasonal_naive": lambda: SeasonalNaiveForecaster(14),
                   "ma_negbin": lambda: MovingAverageForecaster(14)},
        families=("normal", "poisson"), groups={"CA_1": "DC_CA", "CA_2": "DC_CA", "TX_1": "DC_TX"},
        n_samples=100, scenario_study=False,
    )
    assert metrics["scored_window"] == ["2016-03-28", "2016-04-10"]
    assert metrics["family_selection"]["origin"] == "2016-03-13"
    assert {"ngboost", "seasonal_naive", "ma_negbin"} <= set(metrics["models"])
    m = metrics["models"]["ngboost"]
    assert {"crps", "crps_weighted", "spl", "wspl", "coverage", "pinball", "pit_histogram"} <= set(m)
    assert set(m["levels"]) == {"item_store", "item_store_week", "item_store_lead_time_7",
                                "item_store_lead_time_14", "item_dc", "item_dc_week",
                                "item_dc_lead_time_7", "item_dc_lead_time_14"}
    assert set(metrics["scenarios"]["ngboost"]) == {"independent", "copula_fitted", "copula_gaussian", "copula_t",
                                                    "copula"}
    assert set(m["levels"]["item_dc_lead_time_14"]["coverage_by_location"]) == {"DC_CA", "DC_TX"}
    lo, hi = metrics["scenarios"]["ngboost"]["copula"]["item_dc_lead_time_14"]["coverage_interval"]["80"]
    assert 0 <= lo <= hi <= 1  # two items: the bootstrap over items is wide
    assert {"sum_variance_14", "store_correlation_14"} <= set(m["by_origin"]["2016-03-27"]["error_dependence"])
    ref = metrics["coverage_if_calibrated"]  # 12 cells: 2 levels x 2 horizons x 3 nominal levels
    assert ref["model"] == "ngboost" and ref["cells"] == 12 and ref["observed"]["cells_within_tolerance"] <= 12
    from optimizer.forecast_commands import summary

    assert re.match(r"ngboost lead-time sums: \d+ of 12 cells within 3 points of nominal \(mean miss [\d.]+\); "
                    r"were the forecast exactly right, [\d.]+ on average, all 12 in \d+% of 100 worlds",
                    summary(metrics).splitlines()[-1])
    # the main copula: the earlier origins' PIT paths (2 origins x 2 items over 3 stores and 14 days)
    assert art["copula"].patterns.shape == (4, 3, 14)
    assert m["copula_calibration"]["criterion"].endswith("each origin through the others' patterns")
    assert m["t_copula_calibration"]["origins"] == 2


def test_error_dependence_measures_persistence_and_store_co_movement():
    from scenarios.backtest import error_dependence

    rng = np.random.default_rng(0)
    items = [f"i{j}" for j in range(400)]
    series = pd.DataFrame({"item": np.repeat(items, 2), "location": np.tile(["s1", "s2"], 400)})
    common = rng.standard_normal((400, 1, 1))  # one error per item, every day and both stores
    z = np.broadcast_to(common, (400, 2, 7)).reshape(800, 7)
    dep = error_dependence(stats.norm.cdf(z), series, {"s1": "DC", "s2": "DC"}, (7,))
    assert dep["sum_variance_7"] == pytest.approx(7.0, rel=0.15)  # (7 z)^2 / 7
    assert dep["store_correlation_7"] == pytest.approx(1.0, abs=1e-6)
    fresh = error_dependence(stats.norm.cdf(rng.standard_normal((800, 7))), series, {"s1": "DC", "s2": "DC"}, (7,))
    assert fresh["sum_variance_7"] == pytest.approx(1.0, abs=0.15)
    assert abs(fresh["store_correlation_7"]) < 0.15
    assert error_dependence(stats.norm.cdf(z), series, {}, (7,))["store_correlation_7"] is None  # no DC of 2
