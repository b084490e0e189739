"""Item models built once per shape, and priced in worker processes (issue 8)."""

import pytest

from optimizer.config import load_config
from optimizer.inputs import initial_state, prepare
from optimizer.item_models import ItemSolver, item_problem
from optimizer.model import build_model
from optimizer.run import forecast_demand, make_problem
from optimizer.solver import solve_pyomo
from scenarios import sample_scenarios
from tests.builders import two_echelon
from tests.test_decompose import ITEMS, STATE


def _three_items(write_config):
    path = write_config(two_echelon(items=ITEMS, initial_state=STATE, constraints={"capital": {"budget": 650}}))
    config = load_config(path)
    inputs = prepare(config, path)
    on_hand, pipeline, _ = initial_state(config, path, inputs)
    table, _ = forecast_demand(config, inputs, 3)
    scenario_set = sample_scenarios(table, config.scenarios.count, seed=3)
    return make_problem(config, inputs, scenario_set, on_hand, pipeline)


def test_one_template_serves_every_item_with_its_own_data(write_config):
    # Three items with different costs share one Pyomo model; each item solved in it with
    # its data swapped in, at any prices, has the optimum of its own model built and solved
    # alone with the priced objective f - lam g - mu u.
    problem = _three_items(write_config)
    problems = [item_problem(problem, i) for i in range(3)]
    solver = ItemSolver(problems)
    assert len(solver.templates) == 1
    for lam, mu in ((0.0, 0.0), (-0.3, -2.0), (-0.05, 0.0)):
        for p, one in zip(solver.price(lam, mu), problems):
            built = build_model(one)
            k = built.constants
            w = one.probability[None, None, None, :] * k["service_mask"][None, :, :, None]
            terms = built.lp._objective + [(-lam * a, c) for a, c in k["cap_terms"]] + [(-mu * w, built.cols["short"])]
            built.lp.set_objective(terms, constant=built.lp.objective_constant - lam * k["capital"])
            alone = solve_pyomo(built.lp.to_pyomo(), built.lp.n_rows)
            assert p.cost - lam * p.capital - mu * p.short == pytest.approx(alone.objective, rel=1e-9)


def test_plan_is_byte_identical_for_one_or_two_workers(write_config, tmp_path):
    from optimizer.cli import main

    config = write_config(two_echelon(items=ITEMS, initial_state=STATE, evaluation={"scenarios": 0},
                                      scenarios={"count": 20, "seed": 3},
                                      constraints={"capital": {"budget": 650}, "service": {"fill_rate": 0.95}}))
    for w in (1, 2):
        assert main(["run", str(config), "--out", str(tmp_path / f"w{w}"), "--decompose", "on",
                     "--workers", str(w), "--quiet"]) == 0
    for name in ("orders.csv", "stock_positions.csv"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_workers_below_one_is_a_one_line_error(write_config, tmp_path, capsys):
    from optimizer.cli import main

    config = write_config(two_echelon(items=ITEMS, initial_state=STATE))
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("command line: --workers: received 0; give 1 or more processes")
    assert not (tmp_path / "o").exists()


def test_decomposition_out_of_time_exits_4(write_config, tmp_path, capsys):
    # An item model that cannot finish within solver.time_limit is exit 4, nothing written.
    from optimizer.cli import main

    config = write_config(two_echelon(items=ITEMS, initial_state=STATE, constraints={"capital": {"budget": 650}},
                                      solver={"decompose": "on", "time_limit": 1e-9}))
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 4
    assert "no feasible plan within solver.time_limit=1e-09 s" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_kept_whole_solution_gives_the_figures_mix(write_config):
    # The nightly keeps the whole model's solution (solution=True): the plan read from the mix of
    # the proposals' solutions in the whole model's columns is the mix of their figures.
    from optimizer.decompose import solve_decomposed

    problem = _three_items(write_config)
    figures = solve_decomposed(problem)
    whole = solve_decomposed(problem, solution=True)
    assert figures.x is None and figures.built is None
    assert whole.x.shape == (whole.built.lp.n_cols,)
    assert whole.objective == pytest.approx(figures.objective, rel=1e-12)
    assert whole.figures.size == figures.figures.size  # counted from the item models, without the whole
    for name in ("target", "orders0", "ship0", "expected_short", "holding", "dc_backlog"):
        assert getattr(whole.figures, name) == pytest.approx(getattr(figures.figures, name), abs=1e-9), name
    assert whole.figures.capital_used == pytest.approx(figures.figures.capital_used, rel=1e-9)
    assert whole.figures.capital_used <= problem.budget * (1 + 1e-9)
    assert whole.figures.capital_dual == pytest.approx(figures.figures.capital_dual, rel=1e-12)
    assert figures.figures.capital_dual < 0  # the budget binds


def test_a_worker_killed_mid_solve_is_exit_5_not_a_traceback(write_config):
    # Issue 9, "memory error in a worker": the OOM killer ends a worker with SIGKILL. The
    # pool must say so as a ResourceError (exit code 5, nothing written), not hang or crash.
    from optimizer.errors import ResourceError
    from optimizer.workers import ItemPool

    problem = _three_items(write_config)
    pool = ItemPool([item_problem(problem, i) for i in range(3)], workers=2)
    try:
        assert all(p is not None for p in pool.price(0.0, 0.0))
        pool._procs[1].kill()
        with pytest.raises(ResourceError, match=r"item worker 1 of 2 died \(exit code -9\), most likely out of memory"):
            pool.price(0.0, 0.0)
        assert ResourceError.exit_code == 5
    finally:
        pool.close()
    assert pool._procs == []


class _DiesWhileStarting:
    """Unpickled in a spawned worker, it ends the process before the worker's loop runs."""

    def __reduce__(self):
        import os

        return os._exit, (3,)


def test_a_worker_that_exits_while_starting_is_not_called_out_of_memory():
    # Only a worker killed by a signal (SIGKILL from the OOM killer) is a ResourceError (exit 5);
    # one that exits while it starts (a script without a main guard, a crash) says so, exit 1.
    from optimizer.errors import EchelonError, ResourceError
    from optimizer.workers import ItemPool

    with pytest.raises(EchelonError, match=r"item worker 0 of 2 exited \(exit code 3\) before it answered") as err:
        ItemPool([_DiesWhileStarting(), _DiesWhileStarting()], workers=2)
    assert not isinstance(err.value, ResourceError) and err.value.exit_code == 1
