"""The working-capital frontier: monotone, convex, equal to fresh solves, and re-solved without rebuilding."""

import dataclasses

import pandas as pd
import pytest
import yaml

import optimizer.decompose
from optimizer.cli import main
from optimizer.config import load_config
from optimizer.frontier import FRONTIER_COLUMNS, frontier, scenario_problem
from optimizer.run import _min_capital, run
from tests.builders import two_echelon

ITEMS = [
    {"id": "a", "unit_cost": 2.0, "holding_cost": 0.1, "shortage_cost": 1.5},
    {"id": "b", "unit_cost": 5.0, "holding_cost": 0.2, "shortage_cost": 2.5},
]


def _config(**overrides) -> dict:
    """Two items, supplier -> DC -> 3 stores, 5 periods, 30 scenarios: a frontier in a few seconds."""
    return two_echelon(
        items=ITEMS, periods=5, scenarios={"count": 30, "seed": 3},
        initial_state={"cover": {"store_on_hand": 0, "dc_on_hand": 3, "in_transit": False}},
        constraints={"service": {"fill_rate": 0.9}}, evaluation={"scenarios": 300, "replications": 0},
        **overrides,
    )


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    path = tmp_path_factory.mktemp("frontier") / "config.yaml"
    path.write_text(yaml.safe_dump(_config()))
    builds = []
    real = optimizer.decompose.build_model

    def counting(problem):  # the real build, counted
        builds.append(len(problem.items))
        return real(problem)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optimizer.decompose, "build_model", counting)
        frame = frontier(path, points=6, fill_rates=[0.95, 0.99])
    return path, frame, builds


def test_cost_falls_and_fill_rate_rises_as_the_budget_grows(points):
    _, frame, _ = points
    line = frame[frame["kind"] == "budget"].reset_index(drop=True)
    assert list(frame.columns) == list(FRONTIER_COLUMNS) and (frame["status"] == "optimal").all()
    assert (line["capital_used"] <= line["budget"] * (1 + 1e-6)).all()
    cost, fill, price = line["expected_cost"], line["fill_rate_in_sample"], line["shadow_price"]
    assert (cost.diff().dropna() <= 1e-6 * cost.iloc[0]).all()
    assert cost.iloc[0] > cost.iloc[-1] * 1.2  # the budget binds at the low end
    assert (fill.diff().dropna() >= -1e-6).all() and (fill >= 0.9 - 1e-6).all()
    # Out of sample, within sampling error: each point's upper bound reaches the last one's lower.
    assert (line["fill_rate_oos_hi95"].iloc[1:].to_numpy() >= line["fill_rate_oos_lo95"].iloc[:-1].to_numpy()).all()
    assert (line["fill_rate_oos_lo95"] <= line["fill_rate_out_of_sample"]).all()
    assert (line["fill_rate_out_of_sample"] <= line["fill_rate_oos_hi95"]).all()
    # z(B) is convex: the shadow price -z'(B) falls, and it bounds every step of the cost,
    # price(B2) (B2 - B1) <= z(B1) - z(B2) <= price(B1) (B2 - B1).
    assert (price.diff().dropna() <= 1e-6).all()
    assert price.iloc[-1] == pytest.approx(0.0, abs=1e-6)  # beyond the last point nothing improves
    step, saved = line["budget"].diff().iloc[1:].to_numpy(), -cost.diff().iloc[1:].to_numpy()
    tol = 1e-5 * cost.iloc[0]
    assert (price.iloc[1:].to_numpy() * step <= saved + tol).all()
    assert (saved <= price.iloc[:-1].to_numpy() * step + tol).all()


def test_points_equal_fresh_whole_model_solves(points, write_config):
    path, frame, _ = points
    line = frame[frame["kind"] == "budget"].reset_index(drop=True)
    for k in (1, 3):
        budget = float(line["budget"].iloc[k])
        config = _config(solver={"decompose": "off"})
        config["constraints"]["capital"] = {"budget": budget}
        kpis = run(write_config(config, f"fresh{k}.yaml")).kpis
        assert line["expected_cost"].iloc[k] == pytest.approx(kpis["expected_cost"], rel=1e-5)
        assert line["shadow_price"].iloc[k] == pytest.approx(kpis["capital"]["shadow_price"], rel=1e-3, abs=1e-6)
        assert line["fill_rate_out_of_sample"].iloc[k] == pytest.approx(
            kpis["out_of_sample"]["fill_rate"]["mean"], abs=1e-4)


def test_least_capital_for_a_fill_rate_is_the_whole_models(points):
    path, frame, _ = points
    config = load_config(path).model_copy(update={"solver": load_config(path).solver.model_copy(
        update={"decompose": "off"})})
    problem = scenario_problem(config, path, config.scenarios.seed)[0]
    asked = frame[frame["kind"] == "fill_rate"].set_index("fill_rate_target")
    for fill_rate in (0.95, 0.99):
        least = _min_capital(dataclasses.replace(problem, fill_rate=fill_rate), config)
        assert asked.loc[fill_rate, "capital_used"] == pytest.approx(least, rel=1e-5)
        assert asked.loc[fill_rate, "fill_rate_in_sample"] == pytest.approx(fill_rate, abs=1e-6)
    assert asked.loc[0.99, "capital_used"] > asked.loc[0.95, "capital_used"]


def test_the_model_is_built_once_for_all_points(points):
    _, frame, builds = points
    # Two built models (least capital; cost), each the whole model's indices + one per item,
    # however many budget and fill-rate points were solved (8 here).
    assert len(frame) == 8
    assert builds == [2, 1, 1, 2, 1, 1]


def test_command_line_writes_the_frontier_and_marks_infeasible_budgets(write_config, tmp_path, capsys):
    path = write_config(_config())
    out = tmp_path / "wc"
    assert main(["frontier", str(path), "--budgets", "100,650", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "shadow price" in printed and "infeasible" in printed
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv", "frontier.png", "manifest.json"]
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = pd.read_csv(out / "frontier.csv")
    assert frame["status"].tolist() == ["infeasible", "optimal"] and frame["budget"].tolist() == [100, 650]
    assert frame["expected_cost"].isna().tolist() == [True, False]


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "command line: --budgets: nothing to compute; give --budgets B1,B2,..., --points N or --fill-rates"),
        (["--fill-rates", "0.9,1.5"], "command line: --fill-rates: 1.5 is out of range; give fill rates in (0, 1]"),
        (["--budgets", "-5"], "command line: --budgets: -5 is out of range; give budgets above 0"),
        (["--points", "1"], "command line: --points: 1 is too few; give at least 2 points"),
    ],
)
def test_bad_frontier_arguments_are_one_line_errors(args, expected, write_config, tmp_path, capsys):
    path = write_config(_config())
    assert main(["frontier", str(path), "--out", str(tmp_path / "wc"), *args]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "wc").exists()
