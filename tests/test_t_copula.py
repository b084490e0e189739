"""The t copula of lead-time sums (issue 3): t sums, heavy tails chosen on earlier origins, copula.json."""

import json
import math

import numpy as np
import pytest
import yaml
from scipy import stats

from forecasts.distributions import DistributionTable
from forecasts.metrics import coverage
from scenarios import GaussianCopula, load_copula, sample_scenarios
from scenarios.sum_calibration import calibrate_copula, sum_pits
from scenarios.t_copula import StudentTCopula

LOCS = ("A", "B")


def _equi(rho, n):
    return np.full((n, n), rho) + (1 - rho) * np.eye(n)


def test_sums_of_t_scores_are_t_and_the_marginals_stay_uniform():
    # R = I: the item's scores are one spherical t vector, so sum / sqrt(d) ~ t_nu exactly
    nu, n_t = 4.0, 7
    cop = StudentTCopula(LOCS, np.eye(2), np.eye(n_t), nu=nu)
    z = np.random.default_rng(0).standard_normal((20000, 2, 2, n_t))
    u = stats.norm.cdf(cop.correlate(z, LOCS))
    assert stats.kstest(u[:, 0, 1, 3], "uniform").pvalue > 0.01
    s = stats.t.ppf(u, nu).reshape(20000, 2, -1).sum(axis=2) / np.sqrt(2 * n_t)
    assert stats.kstest(s[:, 1], stats.t(nu).cdf).pvalue > 0.01
    assert stats.kstest(s[:, 1], "norm").pvalue < 1e-6
    # nu = inf is the Gaussian copula itself
    r_l, r_t = _equi(0.3, 2), _equi(0.5, n_t)
    np.testing.assert_array_equal(StudentTCopula(LOCS, r_l, r_t).correlate(z, LOCS),
                                  GaussianCopula(LOCS, r_l, r_t).correlate(z, LOCS))


def test_monte_carlo_scenario_s_depends_on_its_own_draws_only():
    table = DistributionTable.constant("poisson", {"mean": 4.0}, ["i1", "i2"], list(LOCS), 5)
    cop = StudentTCopula(LOCS, _equi(0.4, 2), _equi(0.5, 5), nu=3.0)
    few = sample_scenarios(table, 5, seed=7, method="mc", copula=cop).demand
    many = sample_scenarios(table, 12, seed=7, method="mc", copula=cop).demand
    np.testing.assert_array_equal(few, many[:5])


N_ITEMS, T, NU = 800, 7, 3.0


def _t_demand(seed):
    """Sales 50 + 5 Phi^-1(t_3(T)): N(50, 25) marginals, T multivariate t_3 with R_L x R_T."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_ITEMS, len(LOCS), T))
    x = np.einsum("lk,ikt,ut->ilu", np.linalg.cholesky(_equi(0.3, 2)), x, np.linalg.cholesky(_equi(0.4, T)))
    t = x / np.sqrt(rng.chisquare(NU, N_ITEMS) / NU)[:, None, None]
    return (50 + 5 * stats.norm.ppf(stats.t.cdf(t, NU))).reshape(-1, T)


def test_heavy_tailed_common_shocks_choose_their_nu_and_calibrate_fresh_sums():
    items = [f"i{j:03d}" for j in range(N_ITEMS)]
    table = DistributionTable.constant("normal", {"mean": 50.0, "std": 5.0}, items, list(LOCS), T)
    groups = np.kron(np.eye(N_ITEMS), np.ones((len(LOCS), 1)))  # both stores -> one DC per item
    gaussian = GaussianCopula(LOCS, _equi(0.3, 2), _equi(0.4, T))  # the true correlations, light tails
    # two earlier origins choose nu; the candidates bracket the truth (3)
    cal = calibrate_copula(gaussian, [table, table], [_t_demand(1), _t_demand(2)], (T,), groups,
                           scales=(1.0,), nus=(math.inf, 3.0, 1.0), n_samples=200, seed=3)
    assert isinstance(cal, StudentTCopula) and cal.nu == NU and cal.calibration["nu"] == NU
    dev = cal.calibration["deviation_by_nu_and_time_scale"]
    assert dev["3/1"] < dev["inf/1"] / 2
    fresh = _t_demand(9)  # outcomes neither candidate saw
    for g in (None, groups):
        before = sum_pits(table, fresh, gaussian, (T,), g, n_samples=200, seed=5)[T]
        after = sum_pits(table, fresh, cal, (T,), g, n_samples=200, seed=5)[T]
        assert coverage(before, 0.5) > 0.53  # Gaussian copula: the sums' centre too wide
        for a in (0.5, 0.8, 0.95):
            assert abs(coverage(after, a) - a) <= 0.03
            assert abs(coverage(after, a) - a) <= abs(coverage(before, a) - a) + 0.01


def test_copula_json_versions_the_t_copula_and_the_run_samples_through_it(tmp_path):
    from optimizer.config import load_config
    from optimizer.errors import InputError
    from optimizer.forecast_commands import scenario_copula
    from tests.builders import two_echelon

    stores = ("s1", "s2", "s3")
    t_cop = StudentTCopula(stores, _equi(0.3, 3), _equi(0.2, 8), {"nu": 5.0}, nu=5.0)
    raw = json.loads(t_cop.to_json())
    assert (raw["kind"], raw["nu"]) == ("student_t_copula", 5.0)  # older readers refuse it by kind
    gaussian = json.loads(StudentTCopula(stores, _equi(0.3, 3), _equi(0.2, 8)).to_json())
    assert gaussian["kind"] == "gaussian_copula" and "nu" not in gaussian  # nu = inf: a file old code reads
    (tmp_path / "copula.json").write_text(t_cop.to_json())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(two_echelon(scenarios={"count": 60, "seed": 3, "copula": "copula.json"})))
    used = scenario_copula(load_config(path), path)
    assert isinstance(used, StudentTCopula) and used.nu == 5.0 and used.calibration == {"nu": 5.0}
    np.testing.assert_allclose(load_copula(tmp_path / "copula.json").time_corr, _equi(0.2, 8), atol=1e-6)
    raw["nu"] = -1
    (tmp_path / "copula.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match=r"scenarios\.copula.*nu must be positive .*received -1"):
        scenario_copula(load_config(path), path)


def test_echelon_run_plans_on_the_t_copula_of_copula_json(tmp_path):
    from optimizer.run import run
    from tests.builders import two_echelon

    stores = ("s1", "s2", "s3")
    kinds = {"gaussian": StudentTCopula(stores, _equi(0.5, 3), _equi(0.5, 8)),
             "t": StudentTCopula(stores, _equi(0.5, 3), _equi(0.5, 8), nu=2.0)}
    plans = {}
    for kind, cop in kinds.items():
        (tmp_path / f"{kind}.json").write_text(cop.to_json())
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(two_echelon(scenarios={"count": 60, "seed": 3, "copula": f"{kind}.json"},
                                                 evaluation={"replications": 0})))
        plans[kind] = run(path, tmp_path / f"out_{kind}")
    assert json.loads((tmp_path / "out_t" / "manifest.json").read_text())  # written like any run
    # same correlations and marginals: only the t copula's common shocks change the targets
    gauss, heavy = (plans[k].stock_positions["target_position"].to_numpy() for k in ("gaussian", "t"))
    assert not np.array_equal(gauss, heavy)
