"""Base-stock exceptions at a DC: judged against its protection period's demand, not one day's (issue 7).

A DC's order-up-to level covers its own lead time and its stores' (the echelon protection
period P), so two sound policies' orders there differ by multiples of sigma_P (a service level
a little higher or lower), which one period's sigma flags as surprises. The case: three items,
N(20, 8^2) demand at each of three stores, a DC 6 periods from the vendor; the planner forbids
item b's DC order where the classical order is 2 sigma_P (within what service levels explain)
and item c's where it is 5 sigma_P. At the DC exactly one order is worth a human's time: c's.
"""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from optimizer.config import load_config
from optimizer.exceptions import FAR_SIGMAS, _subtree_demand, base_stock_orders, protection_periods, rank_exceptions
from optimizer.model import Network, Problem
from optimizer.run import solve_problem
from tests.builders import two_echelon

ITEMS = ("a", "b", "c")


def _problem(on_hand_dc, periods=10, scenarios=200):
    net = Network(nodes=("dc", "s1", "s2", "s3"), kinds=("dc", "store", "store", "store"),
                  parent=np.array([-1, 0, 0, 0]), source=("vendor", "dc", "dc", "dc"),
                  lead_time=np.array([6, 1, 1, 1]), lane_cost=np.zeros(4))
    u = np.random.default_rng(0).random((scenarios, len(ITEMS), 3, periods))
    on_hand = np.zeros((len(ITEMS), 4))
    on_hand[:, 0] = on_hand_dc
    return Problem(ITEMS, net, stats.norm(20, 8).ppf(u).clip(0), np.full(scenarios, 1 / scenarios),
                   np.ones(len(ITEMS)), np.tile([0.05, 0.1, 0.1, 0.1], (len(ITEMS), 1)), np.full(len(ITEMS), 1.0),
                   on_hand, np.zeros((len(ITEMS), 4, periods)), "backorder")


def test_dc_exceptions_are_judged_over_the_protection_period(write_config):
    config = load_config(write_config(two_echelon()))
    empty = _problem(np.zeros(len(ITEMS)))
    assert protection_periods(empty.network).tolist() == [8, 2, 2, 2]  # 6 + 1 + 1 at the DC, 1 + 1 at a store
    sigma_p = _subtree_demand(empty, protection_periods(empty.network)).std(axis=0)[:, 0]
    sigma_1 = _subtree_demand(empty, np.ones(4, int)).std(axis=0)[:, 0]
    assert sigma_p == pytest.approx(8 * np.sqrt(3 * 8), rel=0.1) and sigma_1 == pytest.approx(8 * np.sqrt(3), rel=0.1)
    # DC stock that leaves the classical order at 0 (a), 2 sigma_P (b) and 5 sigma_P (c).
    level = base_stock_orders(empty)[:, 0]
    problem = _problem(level - np.array([0.0, 2.0, 5.0]) * sigma_p)
    bs = base_stock_orders(problem)[:, 0]
    assert bs == pytest.approx([0.0, 2 * sigma_p[1], 5 * sigma_p[2]], abs=1e-6)
    fixed = np.full((len(ITEMS), 4), np.nan)
    fixed[1:, 0] = 0.0  # the planner forbids b's and c's DC orders
    problem = dataclasses.replace(problem, fixed_order=fixed)
    built, sol = solve_problem(problem, config)

    exc = rank_exceptions(problem, built, sol.x).query("kind == 'order_vs_base_stock' and location == 'dc'")
    assert exc["item"].tolist() == ["c"]
    assert exc["money_at_stake"].iloc[0] == pytest.approx(5 * sigma_p[2], abs=0.01)  # gap x unit cost 1
    assert exc["why"].iloc[0].endswith(f"(demand here over 8 periods varies by {sigma_p[2]:.1f})")
    # b's gap is one a single period's noise would call far (the rule this replaces flagged it).
    assert FAR_SIGMAS * sigma_1[1] < bs[1] < FAR_SIGMAS * sigma_p[1]
