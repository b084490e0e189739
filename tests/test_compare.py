"""echelon compare: one row per file, differences to the first, infeasible what-ifs reported, bad files caught first."""

import json

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.compare import COMPARISON_COLUMNS, compare
from tests.builders import single_stage


@pytest.fixture
def files(write_config):
    base = write_config(single_stage(scenarios={"count": 200, "seed": 1},
                                     items=[{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18,
                                             "shortage_cost": 0.70}],
                                     evaluation={"scenarios": 400, "replications": 0}), "base.yaml")
    promo = write_config("extends: base.yaml\ndemand_multiplier: 1.2\n", "promotion.yaml")
    strict = write_config("extends: base.yaml\nconstraints: {capital: {budget: 5}, service: {fill_rate: 0.99}}\n",
                          "strict.yaml")
    return base, promo, strict


def test_compare_writes_a_row_per_file_and_each_plan(files, tmp_path, capsys):
    base, promo, strict = files
    out = tmp_path / "cmp"
    assert main(["compare", str(base), str(promo), str(strict), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(out / "comparison.csv")
    assert list(frame.columns) == list(COMPARISON_COLUMNS)
    assert frame["name"].tolist() == ["base", "promotion", "strict"]
    assert frame["status"].tolist() == ["optimal", "optimal", "infeasible"]
    # 20% more demand, drawn from the same uniforms: every scenario's demand is 1.2 times the
    # base's, so the optimal plan and its cost scale by 1.2 exactly (costs are linear in units).
    ratio = frame["expected_cost"].iloc[1] / frame["expected_cost"].iloc[0]
    assert ratio == pytest.approx(1.2, rel=1e-6)
    assert frame["capital_used"].iloc[1] == pytest.approx(1.2 * frame["capital_used"].iloc[0], rel=1e-6)
    assert frame["fill_rate_in_sample"].iloc[1] == pytest.approx(frame["fill_rate_in_sample"].iloc[0], abs=1e-9)
    assert "the fill-rate target 0.99 cannot be met within the capital budget 5.00" in frame["message"].iloc[2]
    assert frame["expected_cost"].isna().iloc[2]
    # The printed table: a column per file, differences to the first in brackets.
    cost_line = next(line for line in printed.splitlines() if line.startswith("expected cost"))
    base_cost = frame["expected_cost"].iloc[0]
    assert f"({0.2 * base_cost:+,.2f})" in cost_line and cost_line.rstrip().endswith("-")
    assert "strict: the fill-rate target 0.99 cannot be met" in printed
    # Each solved plan, ready to diff.
    assert sorted(p.name for p in out.iterdir()) == ["base", "comparison.csv", "manifest.json", "promotion"]
    orders = [pd.read_csv(out / name / "orders.csv") for name in ("base", "promotion")]
    assert orders[1]["quantity"].iloc[0] == pytest.approx(1.2 * orders[0]["quantity"].iloc[0], abs=2e-4)
    kpis = json.loads((out / "promotion" / "kpis.json").read_text())
    assert kpis["expected_cost"] == pytest.approx(frame["expected_cost"].iloc[1], rel=1e-5)


def test_a_bad_file_fails_before_anything_is_solved(files, write_config, tmp_path, capsys):
    base, promo, _ = files
    typo = write_config("extends: base.yaml\ndemand_multiplier: [{factor: 1.2, item: widgt}]\n", "typo.yaml")
    calls = []
    import optimizer.run

    real = optimizer.run.run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optimizer.run, "run", lambda *a, **k: calls.append(a) or real(*a, **k))
        assert main(["compare", str(base), str(promo), str(typo), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert "typo.yaml: demand_multiplier[0].item: unknown item 'widgt'" in err
    assert calls == [] and not (tmp_path / "cmp").exists()


def test_same_stem_in_two_folders_gets_its_own_folder(write_config, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config = single_stage(scenarios={"count": 50, "seed": 1}, evaluation={"scenarios": 0})
    first = write_config(config, "a/plan.yaml")
    second = write_config(config, "b/plan.yaml")
    frame = compare([first, second])
    assert frame["name"].tolist() == ["plan", "plan-2"]
    assert frame["expected_cost"].iloc[0] == frame["expected_cost"].iloc[1]
