"""Item models solved as one model per root subtree have the item model's optimum (issue 8)."""

import numpy as np
import pytest

from optimizer.config import load_config
from optimizer.inputs import initial_state, prepare
from optimizer.item_models import ItemSolver, item_problem
from optimizer.run import make_problem, forecast_demand, run
from optimizer.subtrees import root_subtrees, subtree_problem
from scenarios import sample_scenarios
from tests.builders import two_echelon
from tests.test_decompose import ITEMS, STATE

# Three roots of three shapes: a DC with two stores, a DC with one, a store fed by the supplier.
NETWORK = {
    "nodes": [{"id": "vendor", "kind": "supplier"}, {"id": "dc1", "kind": "dc", "holding_cost": 0.05},
              {"id": "dc2", "kind": "dc", "holding_cost": 0.04}] + [{"id": f"s{k}", "kind": "store"} for k in range(4)],
    "lanes": [
        {"source": "vendor", "destination": "dc1", "lead_time": 2, "cost": 0.1},
        {"source": "vendor", "destination": "dc2", "lead_time": 1, "cost": 0.15},
        {"source": "dc1", "destination": "s0", "lead_time": 1, "cost": 0.2},
        {"source": "dc2", "destination": "s1", "lead_time": 1, "cost": 0.2},
        {"source": "dc1", "destination": "s2", "lead_time": 0, "cost": 0.25},
        {"source": "vendor", "destination": "s3", "lead_time": 2, "cost": 0.3},
    ],
}


def _config(**overrides):
    return two_echelon(**{"items": ITEMS, "initial_state": STATE, "network": NETWORK,
                          "scenarios": {"count": 20, "seed": 3}, **overrides})


def _problem_of(write_config, **overrides):
    path = write_config(_config(**overrides))
    config = load_config(path)
    inputs = prepare(config, path)
    on_hand, pipeline, _ = initial_state(config, path, inputs)
    table, _ = forecast_demand(config, inputs, 3)
    return make_problem(config, inputs, sample_scenarios(table, config.scenarios.count, seed=3), on_hand, pipeline)


def test_roots_and_their_subtrees(write_config):
    problem = _problem_of(write_config)
    net = problem.network
    roots = root_subtrees(net)
    assert [[net.nodes[n] for n in nodes] for nodes in roots] == [["dc1", "s0", "s2"], ["dc2", "s1"], ["s3"]]
    part = subtree_problem(problem, roots[0])
    assert part.network.nodes == ("dc1", "s0", "s2")
    assert list(part.network.parent) == [-1, 0, 0]
    stores = [list(net.nodes).index(s) for s in ("s0", "s2")]
    store_pos = [list(net.stores).index(n) for n in stores]
    np.testing.assert_array_equal(part.demand, problem.demand[:, :, store_pos])


def test_split_items_have_the_whole_item_optimum_at_any_prices(write_config):
    # Each item as three subtree models (three shapes, three templates) against its whole model:
    # the same priced optimum and the same figures, at zero and at binding prices.
    problem = _problem_of(write_config)
    problems = [item_problem(problem, i) for i in range(len(ITEMS))]
    split, whole = ItemSolver(problems, split=True), ItemSolver(problems, split=False)
    assert (len(split.templates), len(whole.templates)) == (3, 1)
    assert split.size == whole.size  # the item models' size, as reported
    for lam, mu in ((0.0, 0.0), (-0.3, -2.0), (-0.05, 0.0)):
        for a, b in zip(split.price(lam, mu), whole.price(lam, mu)):
            assert a.cost - lam * a.capital - mu * a.short == pytest.approx(b.cost - lam * b.capital - mu * b.short,
                                                                            rel=1e-9)
            assert a.figures.expected_demand == pytest.approx(b.figures.expected_demand, rel=1e-12)


def test_decomposed_plan_over_three_roots_matches_the_whole_model(write_config):
    constraints = {"capital": {"budget": 790}, "service": {"fill_rate": 0.95}}
    kpis = {mode: run(write_config(_config(constraints=constraints, solver={"decompose": mode},
                                           evaluation={"scenarios": 0}), f"{mode}.yaml")).kpis
            for mode in ("off", "on")}
    assert kpis["on"]["expected_cost"] == pytest.approx(kpis["off"]["expected_cost"], rel=1e-6)
    assert kpis["off"]["capital"]["shadow_price"] > 0  # the budget binds
    assert kpis["on"]["capital"]["shadow_price"] == pytest.approx(kpis["off"]["capital"]["shadow_price"], rel=1e-4)


def test_sample_prices_start_and_the_gap_stop_keep_the_whole_model_optimum(write_config):
    # Seven items: the rounds start at the prices of a two-item sample (budget scaled by its
    # demand at cost) and stop on the Lagrangian gap; the optimum is the whole model's either way.
    from optimizer.decompose import solve_decomposed
    from optimizer.solver import solve_pyomo
    from optimizer.model import build_model

    items = [{"id": f"i{k}", "unit_cost": 1.0 + k, "holding_cost": 0.05 + 0.02 * k, "shortage_cost": 0.5 + 0.3 * k}
             for k in range(7)]
    problem = _problem_of(write_config, items=items)
    problem.budget, problem.fill_rate = 2800.0, 0.85
    built = build_model(problem)
    whole = solve_pyomo(built.lp.to_pyomo(), built.lp.n_rows)
    started = solve_decomposed(problem, sample=2)
    cold = solve_decomposed(problem, sample=0)
    assert started.figures.capital_dual < 0  # the budget binds
    for sol in (started, cold):
        assert sol.status.value == "optimal"
        assert sol.objective == pytest.approx(whole.objective, rel=1e-6)
    rounds = [int(sol.message.split()[0]) for sol in (started, cold)]
    assert rounds[0] < rounds[1]
