"""Multi-echelon behaviour inventory theory predicts, on a supplier -> DC -> 3 stores network."""

import numpy as np
import pytest
from scipy import stats

from optimizer.config import load_config
from optimizer.model import Network, Problem
from optimizer.run import _solve, run
from tests.builders import two_echelon


def _problem(supplier_lead_time, *, periods=12, scenarios=200, budget=None, fill_rate=None):
    """One item, N(20, 6^2) per store and period, backorders; the DC starts with 160 units."""
    net = Network(
        nodes=("dc", "s1", "s2", "s3"),
        kinds=("dc", "store", "store", "store"),
        parent=np.array([-1, 0, 0, 0]),
        source=("vendor", "dc", "dc", "dc"),
        lead_time=np.array([supplier_lead_time, 1, 1, 1]),
        lane_cost=np.zeros(4),
    )
    u = np.random.default_rng(0).random((scenarios, 1, 3, periods))
    demand = stats.norm(20, 6).ppf(u).clip(0)
    return Problem(
        ("w",), net, demand, np.full(scenarios, 1 / scenarios), np.array([1.0]),
        np.array([[0.05, 0.1, 0.1, 0.1]]), np.array([1.0]), np.array([[160.0, 0, 0, 0]]),
        np.zeros((1, 4, periods)), "backorder", budget, fill_rate,
    )


@pytest.fixture
def config(write_config):
    path = write_config(two_echelon())
    return load_config(path)


def test_longer_supplier_lead_time_raises_dc_stock(config):
    # The DC's protection interval grows with its inbound lead time (Snyder & Shen, section 6.2).
    dc_targets = []
    for lead_time in (1, 2, 4):
        built, sol = _solve(_problem(lead_time), config)
        dc_targets.append(sol.x[built.cols["target"]][0, 0])
    assert dc_targets[0] < dc_targets[1] < dc_targets[2]
    # Each extra period of lead time adds about a period of the stores' mean demand (60).
    assert dc_targets[2] - dc_targets[1] == pytest.approx(2 * 60, rel=0.15)


def test_tighter_budget_lowers_the_fill_rate_monotonically(write_config):
    fills = []
    # Unconstrained, this plan ties up about 203; the least capital of any plan is 132.
    state = {"cover": {"store_on_hand": 0, "dc_on_hand": 3, "in_transit": False}}
    for budget in (250, 200, 175, 150, 135):
        config = two_echelon(initial_state=state, constraints={"capital": {"budget": budget}}, evaluation={"scenarios": 0})
        kpis = run(write_config(config, f"b{budget}.yaml")).kpis
        assert kpis["capital"]["used"] <= budget + 1e-6
        fills.append(kpis["service"]["expected_fill_rate"])
    assert all(a >= b - 1e-9 for a, b in zip(fills, fills[1:]))
    assert fills[0] > fills[2] > fills[-1]
