"""The tabulated Poisson and negative-binomial quantiles are scipy's, value for value (issue 8)."""

import numpy as np
import pandas as pd
import pytest

from forecasts import discrete_quantiles
from forecasts.distributions import DistributionTable, _frozen


def _table(family, mean, dispersion):
    R = len(mean)
    return DistributionTable(pd.DataFrame({
        "item": [f"I{r:05d}" for r in range(R)], "location": "L", "period": 0, "family": family,
        "mean": mean, "dispersion": dispersion,
    }))


def _uniforms_at_steps(frozen, rng, S, R):
    """Uniforms, three rows of them exactly on a CDF step and one float either side of it, and
    how many columns have such a step."""
    u = np.clip(rng.random((S, R)), 1e-9, 1 - 1e-9)
    step = frozen.cdf(np.floor(frozen.ppf(rng.random(R))))
    inside = (step > 1e-9) & (step < 1 - 1e-9)
    for s, value in enumerate((step, np.nextafter(step, 1.0), np.nextafter(step, 0.0))):
        u[s, inside] = value[inside]
    return u, int(inside.sum())


@pytest.mark.parametrize("family", ["negative_binomial", "poisson"])
def test_quantiles_equal_scipys_also_on_cdf_steps(family):
    rng = np.random.default_rng(8)
    R = 3000
    mean = rng.gamma(1.0, 8.0, R)
    mean[:20] = 0.0  # all mass at 0
    mean[20:24] = 1500.0  # tables longer than MAX_TABLE for the small dispersions: left to scipy
    table = _table(family, mean, rng.uniform(0.05, 50.0, R))
    frozen = _frozen(family, table.frame)
    u, _ = _uniforms_at_steps(frozen, rng, 40, R)
    with np.errstate(all="ignore"):
        expected = np.maximum(frozen.ppf(u), 0.0)
    np.testing.assert_array_equal(table.ppf(u), expected)


def test_values_near_a_step_are_left_to_scipy():
    """Only values within the tolerance of a CDF step (or past the table) reach the exact path."""
    rng = np.random.default_rng(3)
    R = 500
    table = _table("negative_binomial", rng.gamma(2.0, 2.0, R), np.full(R, 2.0))
    frozen = _frozen("negative_binomial", table.frame)
    u, steps = _uniforms_at_steps(frozen, rng, 10, R)
    asked = []

    def exact(rows, values):
        asked.append(len(values))
        return _frozen("negative_binomial", table.frame.iloc[rows]).ppf(values)

    params = {"mean": table.frame["mean"].to_numpy(), "dispersion": table.frame["dispersion"].to_numpy()}
    got = discrete_quantiles.discrete_ppf("negative_binomial", params, u, exact)
    np.testing.assert_array_equal(got, frozen.ppf(u))
    assert 3 * steps - 10 <= asked[0] <= 3 * steps + 10  # the values on and beside the steps, hardly any other

