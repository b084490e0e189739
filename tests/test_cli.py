"""The command line's contracts: outputs, exit codes, one-line errors, determinism."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from optimizer.cli import main
from tests.builders import single_stage, two_echelon


def _run(capsys, *args):
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_the_contract_files(write_config, tmp_path, capsys):
    config = write_config(two_echelon(constraints={"service": {"fill_rate": 0.9}, "capital": {"budget": 400}}))
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "run", config, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["kpis.json", "manifest.json", "orders.csv", "report.html",
                                                     "stock_positions.csv"]
    orders = pd.read_csv(out / "orders.csv")
    assert list(orders.columns) == ["item", "source", "destination", "quantity", "value", "arrives"]
    assert (orders["quantity"] > 0).all()
    positions = pd.read_csv(out / "stock_positions.csv")
    assert list(positions.columns)[:3] == ["item", "location", "kind"]
    for column in ("on_hand", "on_order", "target_position", "expected_fill_rate"):
        assert column in positions.columns
    # The position after tonight's orders is the target (DCs net of what they owe stores).
    position = positions["on_hand"] + positions["on_order"] - positions["committed"]
    assert (position - positions["target_position"]).abs().max() < 2e-3
    kpis = json.loads((out / "kpis.json").read_text())
    for key in ("status", "expected_cost", "cost_breakdown", "capital", "service", "scenarios", "timings_s"):
        assert key in kpis
    assert set(kpis["capital"]) >= {"budget", "used", "shadow_price"}
    assert set(kpis["service"]) >= {"target", "expected_fill_rate"}
    assert kpis["capital"]["used"] <= 400 + 1e-6
    assert kpis["service"]["expected_fill_rate"] >= 0.9 - 1e-6
    parts = kpis["cost_breakdown"]
    assert parts["holding"] + parts["shortage"] + parts["transport"] == pytest.approx(kpis["expected_cost"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and len(manifest["config_sha256"]) == 64
    assert {"pyomo", "highspy", "ngboost", "numpy"} <= set(manifest["packages"])
    assert "plan written" in stdout


def test_same_config_and_seed_give_byte_identical_plans(write_config, tmp_path, capsys):
    config = write_config(two_echelon(constraints={"service": {"fill_rate": 0.9}}))
    for name in ("a", "b"):
        assert _run(capsys, "run", config, "--out", tmp_path / name)[0] == 0
    for name in ("orders.csv", "stock_positions.csv", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert _run(capsys, "run", config, "--out", tmp_path / "c", "--seed", 99)[0] == 0
    assert (tmp_path / "a" / "stock_positions.csv").read_bytes() != (tmp_path / "c" / "stock_positions.csv").read_bytes()


def test_rerun_replaces_an_earlier_output_folder_but_never_a_foreign_one(write_config, tmp_path, capsys):
    config = write_config(single_stage())
    out = tmp_path / "out"
    assert _run(capsys, "run", config, "--out", out)[0] == 0
    assert _run(capsys, "run", config, "--out", out)[0] == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code, _, err = _run(capsys, "run", config, "--out", foreign)
    assert code == 2 and "not an echelon output folder" in err
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def _lanes(*lanes):
    return {
        "nodes": [
            {"id": "plant", "kind": "supplier"},
            {"id": "dc1", "kind": "dc"},
            {"id": "dc2", "kind": "dc"},
            {"id": "shop", "kind": "store"},
        ],
        "lanes": [dict(zip(("source", "destination", "lead_time"), lane)) for lane in lanes],
    }


BAD = {
    "unknown key": (
        single_stage(shortage_policy="lost_sales"),
        "config.yaml: shortage_policy: unknown key",
    ),
    "unknown nested key": (
        single_stage(scenarios={"count": 10, "sede": 1}),
        "config.yaml: scenarios.sede: unknown key; did you mean 'seed'?",
    ),
    "negative lead time": (
        single_stage(network=_lanes(("plant", "dc1", 1), ("dc1", "dc2", 1), ("dc2", "shop", -1))),
        "config.yaml: network.lanes[2].lead_time: input should be greater than or equal to 0, received -1",
    ),
    "lane to an unknown node": (
        single_stage(network=_lanes(("plant", "dc1", 1), ("dc1", "dc2", 1), ("dc2", "shopp", 0))),
        "config.yaml: network.lanes[2].destination: unknown node 'shopp' (did you mean 'shop'?)",
    ),
    "cycle": (
        single_stage(network=_lanes(("dc2", "dc1", 1), ("dc1", "dc2", 1), ("dc2", "shop", 0))),
        "config.yaml: network.lanes: the lanes form a cycle",
    ),
    "missing history file": (
        {k: v for k, v in single_stage(history={"path": "nowhere.csv"}).items() if k != "demand"}
        | {"economics": {"margin": 0.3, "holding_rate": 0.2}},
        "config.yaml: history.path: file not found:",
    ),
    "missing parameter": (
        single_stage(demand={"distribution": {"family": "normal", "mean": 50}}),
        "config.yaml: demand.distribution: family normal needs mean, std; missing std",
    ),
    "yaml syntax": ("periods: [1\n", "config.yaml: line 2: YAML syntax error"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, write_config, tmp_path, capsys):
    config, expected = BAD[case]
    path = write_config(config)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "run", path, "--out", out)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("echelon: error: ") and str(path) in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_missing_config_file_names_it(tmp_path, capsys):
    code, _, err = _run(capsys, "validate", tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml: config file not found; check the path" in err


def test_budget_that_cannot_meet_the_service_target_exits_3(write_config, tmp_path, capsys):
    items = [{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    config = write_config(
        single_stage(items=items, constraints={"capital": {"budget": 2.0}, "service": {"fill_rate": 0.99}})
    )
    code, _, err = _run(capsys, "run", config, "--out", tmp_path / "out")
    assert code == 3
    assert "cannot be met within the capital budget 2.00" in err
    assert "the least budget that meets it is" in err and "the best fill rate within the budget is" in err
    # The diagnosis is written to kpis.json; there is no plan to write.
    kpis = json.loads((tmp_path / "out" / "kpis.json").read_text())
    assert kpis["status"] == "infeasible" and kpis["diagnosis"]["least_budget_for_target"] > 2.0
    assert not (tmp_path / "out" / "orders.csv").exists()


def test_validate_checks_without_solving(write_config, capsys):
    code, out, _ = _run(capsys, "validate", write_config(two_echelon()))
    assert code == 0 and "valid: 1 items, 4 stock points (3 stores), 8 periods" in out


@pytest.mark.skipif(shutil.which("echelon") is None, reason="the package is not installed")
def test_installed_console_script(write_config, tmp_path):
    result = subprocess.run(
        ["echelon", "run", str(write_config(single_stage())), "--out", str(tmp_path / "o"), "--quiet"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "orders.csv").is_file()
