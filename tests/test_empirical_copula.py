"""The empirical copula of lead-time sums (issue 3): whole PIT paths resampled, weight chosen leaving one out."""

import json

import numpy as np
import pytest
import yaml
from scipy import stats

from forecasts.distributions import DistributionTable
from forecasts.metrics import coverage
from scenarios import fit_copula, load_copula, sample_scenarios
from scenarios.empirical_copula import EmpiricalCopula, pit_patterns
from scenarios.sum_calibration import calibrate_empirical, sum_pits

LOCS = ("A", "B")


def test_scores_are_whole_patterns_picked_evenly_and_noise_keeps_marginals_normal():
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((5, 2, 7))
    z = rng.standard_normal((20000, 3, 2, 7))
    # stratified uniforms in each item's first cell (as a Latin hypercube gives)
    z[:, :, 0, 0] = stats.norm.ppf(rng.permuted(np.tile((np.arange(20000) + 0.5) / 20000, (3, 1)), axis=1).T)
    x = EmpiricalCopula(LOCS, patterns, weight=1.0).correlate(z, LOCS)
    # a = 1: every item's block is one of the patterns, whole, each picked by exactly 1/5 of the paths
    match = np.abs(x[:, :, None] - patterns[None, None]).max(axis=(3, 4)) == 0  # (S, I, P)
    assert (match.sum(axis=2) == 1).all()
    np.testing.assert_array_equal(match.sum(axis=0), 4000)
    # a = 0: the normals themselves, but the first cell's: the remainder of its pick, normal and independent
    x0 = EmpiricalCopula(LOCS, patterns, weight=0.0).correlate(z, LOCS)
    np.testing.assert_array_equal(x0.reshape(20000, 3, -1)[:, :, 1:], z.reshape(20000, 3, -1)[:, :, 1:])
    assert stats.kstest(x0[:, 1, 0, 0], "norm").pvalue > 0.01
    assert abs(np.corrcoef(x0[:, 1, 0, 0], match[:, 1].argmax(axis=1))[0, 1]) < 0.03
    # patterns whose cells are standard normal scores, blended with noise: each cell's score is normal
    normal_scores = stats.norm.ppf((np.arange(400) + 0.5) / 400)
    many = EmpiricalCopula(LOCS, rng.permuted(np.broadcast_to(normal_scores[:, None, None], (400, 2, 7)), axis=0),
                           weight=0.9).correlate(z, LOCS)
    assert stats.kstest(many[:, 1, 0, 3], "norm").pvalue > 0.01
    # a location the copula does not know is independent noise; a pattern cell without a series too
    x_new = EmpiricalCopula(LOCS, patterns, weight=1.0).correlate(z, ("A", "C"))
    np.testing.assert_array_equal(x_new[:, :, 1], x0[:, :, 1])
    holey = patterns.copy()
    holey[:, 1] = np.nan
    x_holey = EmpiricalCopula(LOCS, holey, weight=1.0).correlate(z, LOCS)
    np.testing.assert_array_equal(x_holey[:, :, 1], x0[:, :, 1])
    np.testing.assert_array_equal(x_holey[:, :, 0], x[:, :, 0])
    with pytest.raises(ValueError, match="the copula was fitted on 7 periods; the forecast has 9"):
        EmpiricalCopula(LOCS, patterns).correlate(np.ones((2, 1, 2, 9)), LOCS)
    with pytest.raises(ValueError, match=r"pattern weight must be in \[0, 1\]; received 1.5"):
        EmpiricalCopula(LOCS, patterns, weight=1.5)


def test_monte_carlo_scenario_s_depends_on_its_own_draws_only():
    table = DistributionTable.constant("poisson", {"mean": 4.0}, ["i1", "i2"], list(LOCS), 5)
    cop = EmpiricalCopula(LOCS, np.random.default_rng(1).standard_normal((6, 2, 5)), weight=0.9)
    few = sample_scenarios(table, 5, seed=7, method="mc", copula=cop).demand
    many = sample_scenarios(table, 12, seed=7, method="mc", copula=cop).demand
    np.testing.assert_array_equal(few, many[:5])


N_ITEMS, T, RHO, SHARE = 600, 7, 0.8, 0.1


def _regime_scores(seed):
    """Standard normal scores (I, L, T): most items independent; a share SHARE of them moved by one
    shock over all their stores and days, correlation RHO (every cell still N(0, 1))."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((N_ITEMS, len(LOCS), T))
    shocked = (np.arange(N_ITEMS) < SHARE * N_ITEMS)[:, None, None]
    common = rng.standard_normal((N_ITEMS, 1, 1))
    return np.where(shocked, np.sqrt(RHO) * common + np.sqrt(1 - RHO) * eps, eps)


def test_a_few_items_moving_as_a_block_calibrate_fresh_sums_where_a_pooled_gaussian_cannot():
    items = [f"i{j:03d}" for j in range(N_ITEMS)]
    table = DistributionTable.constant("normal", {"mean": 50.0, "std": 5.0}, items, list(LOCS), T)
    groups = np.kron(np.eye(N_ITEMS), np.ones((len(LOCS), 1)))  # both stores -> one DC per item
    earlier = [_regime_scores(1), _regime_scores(2)]
    pits = [stats.norm.cdf(s) for s in earlier]  # the table is the true marginal: exact PITs
    outcomes = [50 + 5 * s.reshape(-1, T) for s in earlier]
    cal = calibrate_empirical(pits, LOCS, [table, table], outcomes, (T,), groups, weights=(1.0, 0.8, 0.4, 0.0),
                              n_samples=200, seed=3)
    record = cal.calibration
    assert record["criterion"].endswith("each origin through the others' patterns")
    assert record["patterns"] == 2 * N_ITEMS and cal.patterns.shape == (2 * N_ITEMS, 2, T)
    assert cal.weight >= 0.9 and record["deviation_by_weight"]["0"] > 3 * record["deviation_by_weight"]["1"]
    gaussian = fit_copula(np.concatenate(pits), LOCS)  # the pooled correlations of the same PITs
    fresh = 50 + 5 * _regime_scores(9).reshape(-1, T)
    for g in (None, groups):
        before = sum_pits(table, fresh, gaussian, (T,), g, n_samples=200, seed=5)[T]
        after = sum_pits(table, fresh, cal, (T,), g, n_samples=200, seed=5)[T]
        assert coverage(before, 0.5) > 0.56  # pooled correlation: calm items' sums too wide
        off = {a: (abs(coverage(before, a) - a), abs(coverage(after, a) - a)) for a in (0.5, 0.8, 0.95)}
        # within 4 points (which items are shocked moves fresh coverage by 2-3 points), and better
        assert all(after <= 0.04 for _, after in off.values())
        assert sum(after for _, after in off.values()) < sum(before for before, _ in off.values()) / 2


def test_one_earlier_origin_is_chosen_in_sample_and_none_is_refused():
    table = DistributionTable.constant("normal", {"mean": 50.0, "std": 5.0}, ["i0", "i1"], list(LOCS), T)
    scores = _regime_scores(4)[:2]
    cal = calibrate_empirical([stats.norm.cdf(scores)], LOCS, [table], [50 + 5 * scores.reshape(-1, T)], (T,),
                              weights=(1.0, 0.0), n_samples=50)
    assert cal.calibration["criterion"].endswith("in sample (one origin)")
    np.testing.assert_allclose(cal.patterns, pit_patterns([stats.norm.cdf(scores)]))
    with pytest.raises(ValueError, match="needs the forecasts of at least one earlier origin"):
        calibrate_empirical([], LOCS, [], [], (T,))


def test_copula_json_keeps_the_patterns_and_echelon_run_plans_on_them(tmp_path, monkeypatch):
    import optimizer.run as run_module
    from optimizer.config import load_config
    from optimizer.errors import InputError
    from optimizer.forecast_commands import scenario_copula
    from optimizer.run import run
    from tests.builders import two_echelon

    stores = ("s1", "s2", "s3")
    patterns = np.repeat(np.linspace(-2.0, 2.0, 9)[:, None, None], 3, axis=1).repeat(8, axis=2)  # block shocks
    patterns[0, 2] = np.nan  # an item without a series at s3
    cop = EmpiricalCopula(stores, patterns, 0.95, {"weight": 0.95})
    raw = json.loads(cop.to_json())
    assert raw["kind"] == "empirical_copula" and raw["patterns"][0][2][0] is None
    (tmp_path / "copula.json").write_text(cop.to_json())
    back = load_copula(tmp_path / "copula.json")
    np.testing.assert_array_equal(back.patterns, patterns)
    assert (back.weight, back.calibration) == (0.95, {"weight": 0.95})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(two_echelon(scenarios={"count": 60, "seed": 3, "copula": "copula.json"},
                                               evaluation={"replications": 0})))
    assert isinstance(scenario_copula(load_config(path), path), EmpiricalCopula)
    independent = tmp_path / "independent.yaml"
    independent.write_text(yaml.safe_dump(two_echelon(scenarios={"count": 60, "seed": 3},
                                                      evaluation={"replications": 0})))
    drawn = []  # the real sampler, recording the copula of every scenario set the run draws

    def sampler(*args, **kwargs):
        drawn.append(kwargs.get("copula"))
        return sample_scenarios(*args, **kwargs)

    monkeypatch.setattr(run_module, "sample_scenarios", sampler)
    plans = [run(p, tmp_path / f"out{j}") for j, p in enumerate((path, independent))]
    # the plan, and its out-of-sample check, on copula scenarios; then both independent
    assert [type(c).__name__ for c in drawn] == ["EmpiricalCopula", "EmpiricalCopula", "NoneType", "NoneType"]
    # whole-network shocks over every store and day: tonight's targets change
    targets = [p.stock_positions["target_position"].to_numpy() for p in plans]
    assert not np.array_equal(*targets)
    raw["weight"] = 2
    (tmp_path / "copula.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match=r"scenarios\.copula.*pattern weight must be in \[0, 1\]; received 2"):
        scenario_copula(load_config(path), path)
