"""Out-of-sample honesty: the policy replay and the optimality-gap estimate."""


import numpy as np
import pytest

from optimizer.config import load_config
from optimizer.inputs import initial_state, prepare
from optimizer.run import forecast_demand, make_problem, run, solve_problem
from optimizer.simulate import simulate_policy
from scenarios import sample_scenarios
from tests.builders import single_stage, two_echelon


def _solved(path, scenarios=60):
    config = load_config(path)
    inputs = prepare(config, path)
    on_hand, pipeline, _ = initial_state(config, path, inputs)
    table, _ = forecast_demand(config, inputs, 3)
    problem = make_problem(config, inputs, sample_scenarios(table, scenarios, seed=3), on_hand, pipeline)
    built, sol = solve_problem(problem, config)
    x = sol.x
    return problem, x[built.cols["target"]], x[built.cols["ship"]][:, :, 0, 0], sol.objective


@pytest.mark.parametrize("shortage, tolerance", [("backorder", 1e-9), ("lost_sales", 1e-3)])
def test_replay_on_the_solved_scenarios_reproduces_the_model_cost(shortage, tolerance, write_config):
    # The model's recourse is the replayed policy, so on its own scenarios the costs agree:
    # exactly with backorders; with lost sales the LP may shift a lost sale between periods
    # (its sales are variables), which the greedy replay cannot, hence a 0.1% tolerance.
    path = write_config(two_echelon(shortage=shortage, constraints={"service": {"fill_rate": 0.9}}))
    problem, target, ship0, objective = _solved(path)
    replay = simulate_policy(problem, target, ship0, problem.demand)
    assert replay.cost @ problem.probability == pytest.approx(objective, rel=tolerance)
    assert replay.dc_rationed_periods.sum() == 0  # the model never lets a DC run short


def test_replay_rations_fair_share_when_a_dc_runs_short(write_config):
    # With backorders every unit demanded is ordered from the DC, so triple demand drains it.
    path = write_config(two_echelon(shortage="backorder"))
    problem, target, ship0, _ = _solved(path)
    heavy = problem.demand * 3.0  # demand the plan was not made for
    replay = simulate_policy(problem, target, ship0, heavy)
    assert replay.dc_rationed_periods.sum() > 0
    assert replay.short_units.sum() > 0 and np.all(replay.capital >= 0)


def test_few_scenarios_are_optimistic_in_sample_and_the_gap_says_so(write_config):
    config = single_stage(scenarios={"count": 8, "seed": 5, "method": "mc"},
                          evaluation={"scenarios": 4000, "replications": 8})
    kpis = run(write_config(config)).kpis
    oos = kpis["out_of_sample"]
    assert oos["cost"]["ci95"][0] < oos["cost"]["mean"] < oos["cost"]["ci95"][1]
    # Eight scenarios: the plan looks cheaper in sample than it is.
    assert kpis["in_sample"]["cost"] < oos["cost"]["mean"]
    gap = oos["optimality_gap"]
    assert gap["solved"] == 8 and gap["gap"] > 0 and gap["gap_ci95_upper"] > gap["gap"]
    # A thousand stratified scenarios: the gap is well under 1%.
    big = run(write_config(single_stage(evaluation={"scenarios": 2000, "replications": 4}), "big.yaml")).kpis
    assert big["out_of_sample"]["optimality_gap"]["gap_ci95_upper_relative"] < 0.01
    assert gap["gap_relative"] > big["out_of_sample"]["optimality_gap"]["gap_relative"]


def _gap(write_config, count, name):
    """The MMW gap of the newsvendor plan solved on ``count`` Monte Carlo scenarios (8 replications)."""
    config = single_stage(scenarios={"count": count, "seed": 5, "method": "mc"},
                          evaluation={"scenarios": 4000, "replications": 8})
    return run(write_config(config, name)).kpis["out_of_sample"]["optimality_gap"]


def test_the_scenarios_said_to_bring_the_gap_under_one_percent_do(write_config):
    gap = _gap(write_config, 32, "n32.yaml")
    need = gap["scenarios_for_gap_under_1pct"]
    u = gap["gap_ci95_upper_relative"]
    assert u > 0.01 and not need["met"]
    # Extrapolated from the 95% bound at 32 scenarios, at the rates 1/sqrt(N) and 1/N.
    assert need["slow_rate"] == int(np.ceil(32 * (u / 0.01) ** 2))
    assert need["fast_rate"] == int(np.ceil(32 * u / 0.01))
    # Solved on the slow rate's count, the plan's gap bound is under 1%; on the fast
    # rate's it is not: the gap of this sample newsvendor falls slower than 1/N. (With
    # replication sets seeded one apart, sharing all but one Monte Carlo scenario, the bound at
    # 32 was 2.9% instead of 8.5%, too narrow, and the 278 scenarios it named kept a 3.4% bound.)
    slow = _gap(write_config, need["slow_rate"], "slow.yaml")
    assert slow["gap_ci95_upper_relative"] < 0.01 and slow["scenarios_for_gap_under_1pct"]["met"]
    fast = _gap(write_config, need["fast_rate"], "fast.yaml")
    assert fast["gap_ci95_upper_relative"] > 0.01

