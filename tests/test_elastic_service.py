"""A soft fill-rate target in the decomposition: one solve gives the best fill rate the budget buys."""

import dataclasses

import pytest

from optimizer.config import load_config
from optimizer.decompose import solve_decomposed
from optimizer.run import _best_fill_rate
from optimizer.solver import SolveStatus
from tests.test_decompose import ITEMS, STATE
from tests.test_workers import _three_items
from tests.builders import two_echelon


def _fill(sol):
    return 1.0 - sol.figures.service_short / sol.figures.service_demand


def test_out_of_reach_target_gives_the_best_fill_the_budget_buys(write_config):
    problem = _three_items(write_config)  # budget 650, binding
    config = load_config(write_config(two_echelon(items=ITEMS, initial_state=STATE)))
    best = _best_fill_rate(problem, config)  # the highest fill rate within the budget, solved for directly
    assert 0.5 < best < 0.99
    beyond = dataclasses.replace(problem, fill_rate=best + 0.01)
    assert solve_decomposed(beyond).status == SolveStatus.INFEASIBLE
    soft = solve_decomposed(beyond, elastic=True)
    assert soft.status == SolveStatus.OPTIMAL
    assert _fill(soft) == pytest.approx(best, abs=1e-6)
    assert soft.figures.capital_used <= problem.budget * (1 + 1e-9)


def test_reachable_target_gives_the_same_plan_soft_or_hard(write_config):
    problem = dataclasses.replace(_three_items(write_config), fill_rate=0.6)
    hard, soft = solve_decomposed(problem), solve_decomposed(problem, elastic=True)
    assert hard.status == soft.status == SolveStatus.OPTIMAL
    assert soft.objective == pytest.approx(hard.objective, rel=1e-9)
    assert _fill(soft) >= 0.6 - 1e-9
    assert soft.figures.target == pytest.approx(hard.figures.target, abs=1e-6)
