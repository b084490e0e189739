"""Forecast scores against hand-computed values (issue 3)."""

import numpy as np
import pandas as pd
import pytest

from forecasts.distributions import QUANTILE_LEVELS, DistributionTable
from forecasts.metrics import (
    coverage,
    coverage_interval,
    crps_from_grid,
    midpoint_levels,
    pinball,
    randomized_pit,
    score,
    spl_scale,
)


def test_pinball_by_hand():
    # y=10, q=8: under-forecast by 2 -> u * 2; q=13: over by 3 -> (1 - u) * 3
    assert pinball(8.0, 10.0, 0.9) == pytest.approx(1.8)
    assert pinball(13.0, 10.0, 0.9) == pytest.approx(0.3)
    assert pinball(13.0, 10.0, 0.5) == pytest.approx(1.5)


def test_crps_of_a_point_forecast_is_the_absolute_error():
    grid = np.full((200, 2), 4.0)
    np.testing.assert_allclose(crps_from_grid(grid, np.array([4.0, 7.5])), [0.0, 3.5])


def test_crps_of_a_uniform_forecast_matches_the_closed_form():
    # F = U(0, 1), y = 0.3: CRPS = y^2 - y + 1/3 = 0.1433...
    u = midpoint_levels(2000)
    grid = u[:, None]
    assert crps_from_grid(grid, np.array([0.3]))[0] == pytest.approx(0.3**2 - 0.3 + 1 / 3, abs=1e-6)


def test_crps_of_the_table_agrees_with_the_existing_evaluation():
    from forecasts.evaluation import crps

    table = DistributionTable.constant("poisson", {"mean": 2.0}, ["a"], ["x"], 3)
    y = np.array([0.0, 2.0, 5.0])
    grid = table.ppf(np.broadcast_to(midpoint_levels()[:, None], (200, 3)))
    np.testing.assert_allclose(crps_from_grid(grid, y), crps(table, y))


def test_randomized_pit_spreads_a_mass_at_zero():
    # half the mass at 0: a zero gets a PIT uniform on [0, 0.5]
    grid = np.r_[np.zeros(100), np.ones(100)][:, None].repeat(4000, axis=1)
    pit = randomized_pit(grid, np.zeros(4000), np.random.default_rng(0))
    assert pit.min() >= 0 and pit.max() <= 0.5
    assert pit.mean() == pytest.approx(0.25, abs=0.01)
    assert randomized_pit(grid[:, :1], np.array([3.0]), np.random.default_rng(0))[0] == 1.0


def test_coverage_counts_pits_inside_the_central_interval():
    pit = np.array([0.05, 0.2, 0.5, 0.74, 0.76, 0.99])
    assert coverage(pit, 0.5) == pytest.approx(2 / 6)  # 0.25 <= p <= 0.75: 0.5, 0.74
    assert coverage(pit, 0.95) == pytest.approx(5 / 6)


def test_coverage_interval_resamples_whole_items():
    rng = np.random.default_rng(0)
    # two items, each all inside or all outside the 50% interval: the share is 0, 1/2 or 1 per draw
    pit = np.array([0.5, 0.5, 0.5, 0.99, 0.99, 0.99])
    items = np.array(["a", "a", "a", "b", "b", "b"])
    assert coverage_interval(pit, items, 0.5, rng) == [0.0, 1.0]
    # 400 items of 3 series, one in two inside: about +-1.96 sqrt(1/4 / 400) around 0.5
    inside = np.repeat(np.arange(400) % 2 == 0, 3)
    lo, hi = coverage_interval(np.where(inside, 0.5, 0.99), np.repeat(np.arange(400), 3), 0.5, rng)
    assert lo == pytest.approx(0.5 - 0.049, abs=0.01) and hi == pytest.approx(0.5 + 0.049, abs=0.01)


def test_spl_scale_counts_from_the_first_sale():
    train = np.array([[0, 0, 0, 2, 0, 3, 3], [0, 0, 0, 0, 0, 0, 0], [1, np.nan, 2, 2, 2, 2, 2]], float)
    # series 0: changes after the first sale 2,0,3,3 -> |−2|,|3|,|0| -> 5/3
    np.testing.assert_allclose(spl_scale(train)[[0, 2]], [5 / 3, 1 / 5])
    assert np.isnan(spl_scale(train)[1])


def test_score_spl_and_weights_by_hand():
    # two series, one period, median-only check through the nine M5 levels
    y = np.array([[4.0], [10.0]])
    q9 = np.broadcast_to(np.array([[4.0], [8.0]])[None], (9, 2, 1)).copy()
    grid = np.broadcast_to(q9[:1], (200, 2, 1)).copy()
    out = score(grid, q9, y, scale=np.array([1.0, 2.0]), weight=np.array([1.0, 3.0]))
    # series 0 exact: SPL 0; series 1: under by 2 -> mean over levels of u * 2 = 2 * mean(u) = 1.0, / scale 2
    expected_1 = 2 * np.mean(QUANTILE_LEVELS) / 2
    assert out["spl"] == pytest.approx(expected_1 / 2)
    assert out["wspl"] == pytest.approx(3 * expected_1 / 4)
    assert out["crps"] == pytest.approx((0 + 2.0) / 2)
    assert out["crps_weighted"] == pytest.approx(3 * 2.0 / 4)
    assert out["pinball"]["0.5"] == pytest.approx(0.5)
    assert set(out["coverage"]) == {"50", "80", "95"}


def test_shifted_lognormal_has_its_mass_at_zero_and_the_right_mean():
    frame = pd.DataFrame({"item": ["a"], "location": ["x"], "period": [0], "family": ["shifted_lognormal"],
                          "mu": [0.2], "sigma": [0.9], "shift": [1.0]})
    table = DistributionTable(frame)
    from scipy import stats

    x = stats.lognorm(s=0.9, scale=np.exp(0.2))
    p0 = x.cdf(1.0)
    q = table.ppf(np.array([[p0 - 0.01], [p0 + 0.01]]))
    assert q[0, 0] == 0.0 and q[1, 0] > 0
    draws = np.maximum(x.rvs(400_000, random_state=0) - 1.0, 0)
    assert table.mean()[0] == pytest.approx(draws.mean(), rel=0.01)
