"""Calibration of lead-time sums (issue 3): the copula's correlations scaled on earlier origins only."""

import math

import numpy as np
import pandas as pd
import pytest

from forecasts.distributions import DistributionTable
from forecasts.metrics import coverage
from scenarios import GaussianCopula, load_copula
from scenarios.sum_calibration import calibrate_copula, sum_pits

ITEMS = [f"i{j:03d}" for j in range(300)]
LOCS = ["A", "B"]
T = 14


def _equi(rho, n):
    return np.full((n, n), rho) + (1 - rho) * np.eye(n)


def _demand(rho_t, rho_l, seed):
    """Sales 50 + 5 z, z ~ N(0, R_L x R_T) equicorrelated: known sum variance h + h (h - 1) rho_t."""
    z = np.random.default_rng(seed).standard_normal((len(ITEMS), len(LOCS), T))
    z = np.einsum("lk,ikt,ut->ilu", np.linalg.cholesky(_equi(rho_l, len(LOCS))), z,
                  np.linalg.cholesky(_equi(rho_t, T)))
    return 50 + 5 * z.reshape(-1, T)  # rows in (item, location) order, as table.series_index()


@pytest.fixture(scope="module")
def setup():
    table = DistributionTable.constant("normal", {"mean": 50.0, "std": 5.0}, ITEMS, LOCS, T)
    groups = np.kron(np.eye(len(ITEMS)), np.ones((len(LOCS), 1)))  # both stores -> one DC per item
    # fitted correlations twice the true ones (0.5 vs 0.2 over periods, 0.6 vs 0.3 over stores)
    fitted = GaussianCopula(tuple(LOCS), _equi(0.6, len(LOCS)), _equi(0.5, T))
    calibrated = calibrate_copula(fitted, [table], [_demand(0.2, 0.3, seed=1)], (7, T), groups,
                                  nus=(math.inf, 3.0), n_samples=200, seed=3)
    return table, groups, fitted, calibrated


def test_scales_recover_the_true_correlation(setup):
    _, _, _, calibrated = setup
    # sum variance h + h (h - 1) lambda rho_fit is right at lambda = 0.2 / 0.5 = 0.4, and 0.3 / 0.6 = 0.5
    assert calibrated.calibration["time_scale"] == pytest.approx(0.4, abs=0.2)
    assert calibrated.calibration["location_scale"] == pytest.approx(0.5, abs=0.2)
    assert calibrated.calibration["nu"] is None  # Gaussian sums: heavy tails not chosen
    assert calibrated.time_corr[0, 1] == pytest.approx(0.5 * calibrated.calibration["time_scale"])
    np.testing.assert_allclose(np.diag(calibrated.time_corr), 1.0)


def test_calibration_moves_coverage_of_fresh_sums_to_nominal(setup, tmp_path):
    table, groups, fitted, calibrated = setup
    fresh = _demand(0.2, 0.3, seed=2)  # new outcomes, not those the scales were chosen on
    for g in (None, groups):
        before = sum_pits(table, fresh, fitted, (T,), g, seed=5)[T]
        after = sum_pits(table, fresh, calibrated, (T,), g, seed=5)[T]
        assert coverage(before, 0.5) > 0.58  # fitted correlations: 14-day sums too wide
        assert coverage(after, 0.5) == pytest.approx(0.5, abs=0.05)
        assert coverage(after, 0.8) == pytest.approx(0.8, abs=0.05)
    # the run reads the calibrated matrices, and the record, from copula.json
    path = tmp_path / "copula.json"
    path.write_text(calibrated.to_json())
    back = load_copula(path)
    np.testing.assert_allclose(back.time_corr, calibrated.time_corr, atol=1e-6)
    assert back.calibration == calibrated.calibration


def test_calibration_needs_an_earlier_origin_and_keeps_locations_without_groups(setup):
    table, _, fitted, _ = setup
    with pytest.raises(ValueError, match="needs the forecasts of at least one earlier origin"):
        calibrate_copula(fitted, [], [], (7,))
    y = _demand(0.5, 0.0, seed=4)[:, :7]
    short = DistributionTable(table.frame[table.frame["period"] < 7])
    cal = calibrate_copula(fitted, [short], [y], (7,), scales=(1.0, 0.0), n_samples=100)
    assert (cal.calibration["time_scale"], cal.calibration["location_scale"]) == (1.0, 1.0)


def test_backtest_copula_never_sees_the_scored_window():
    from forecasts import NGBoostForecaster, read_history
    from forecasts.baselines import SeasonalNaiveForecaster
    from scenarios.backtest import backtest

    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "HOBBIES_1_115"]) & h["location"].isin(["CA_1", "CA_2", "TX_1"])
    h = h[keep & (h["date"] >= "2015-09-01")].reset_index(drop=True)
    changed = h.copy()
    scored = changed["date"] > pd.Timestamp("2016-03-27")
    changed.loc[scored, "quantity"] = changed.loc[scored, "quantity"] * 3 + 2

    def run(history, baselines=None):
        return backtest(
            history, origins=["2016-02-28", "2016-03-13", "2016-03-27"], horizon=14,
            make_ngboost=lambda f: NGBoostForecaster(horizon=14, family=f, n_estimators=5, train_periods=60),
            baselines=baselines or {}, families=("normal",), groups={"CA_1": "DC_CA", "CA_2": "DC_CA", "TX_1": "DC_TX"},
            n_samples=50, scenario_study=False,
        )

    (m1, a1), (m2, a2) = run(h), run(changed)
    # NGBoost's scores, sums and copula do not depend on which baselines ran beside it (ets is optional)
    m3, _ = run(h, {"seasonal_naive": lambda: SeasonalNaiveForecaster(14)})
    assert m3["models"]["ngboost"] == m1["models"]["ngboost"] and "seasonal_naive" in m3["models"]
    assert m1["models"]["ngboost"]["crps"] != m2["models"]["ngboost"]["crps"]  # the scored window did change
    assert a1["copula"].calibration == a2["copula"].calibration
    np.testing.assert_array_equal(a1["copula"].patterns, a2["copula"].patterns)
    assert m1["models"]["ngboost"]["copula_calibration"]["origins"] == 2
    t1, t2 = (m["models"]["ngboost"]["t_copula_calibration"] for m in (m1, m2))
    assert t1 == t2 and "3/0.6" in t1["deviation_by_nu_and_time_scale"]  # tails chosen there too


def test_run_reads_the_calibrated_copula_through_scenarios_copula(tmp_path):
    import yaml

    from optimizer.config import load_config
    from optimizer.forecast_commands import scenario_copula
    from tests.builders import two_echelon

    stores = ("s1", "s2", "s3")
    calibrated = GaussianCopula(stores, _equi(0.6, 3), _equi(0.5, 8)).scaled(0.4, 0.5)
    calibrated = GaussianCopula(stores, calibrated.location_corr, calibrated.time_corr, {"time_scale": 0.4})
    (tmp_path / "copula.json").write_text(calibrated.to_json())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(two_echelon(scenarios={"count": 60, "seed": 3, "copula": "copula.json"})))
    used = scenario_copula(load_config(path), path)
    np.testing.assert_allclose(used.time_corr, _equi(0.2, 8), atol=1e-6)
    np.testing.assert_allclose(used.location_corr, _equi(0.3, 3), atol=1e-6)
    assert used.calibration == {"time_scale": 0.4}


def test_coverage_of_a_calibrated_model_misses_by_its_binomial_noise():
    from scenarios.sum_calibration import coverage_if_calibrated

    # 400 independent series, scored on 7-day sums: a cell's coverage is Binomial(400, a) / 400, so
    # E|cov - a| = sqrt(2 / pi) sqrt(a (1 - a) / 400) (normal approximation): 0.0200, 0.0160, 0.0087
    items = [f"i{j:03d}" for j in range(400)]
    table = DistributionTable.constant("normal", {"mean": 50.0, "std": 5.0}, items, ["A"], 7)
    expected = np.mean([math.sqrt(2 / math.pi * a * (1 - a) / 400) for a in (0.5, 0.8, 0.95)])
    ref = coverage_if_calibrated(table, None, (7,), replications=100, n_samples=200, seed=1,
                                 observed=[0.5, 0.95, 0.95])
    assert ref["mean_miss"]["mean"] == pytest.approx(expected, rel=0.2)
    assert ref["cells"] == 3 and 0 < ref["cells_within_tolerance"]["share_all_within"] < 1
    # an observed miss of 15 points at 80% is far outside what calibrated worlds show
    assert ref["observed"]["cells_within_tolerance"] == 2
    assert ref["observed"]["share_of_calibrated_worlds_missing_more"] < 0.02
