"""Item-by-item solve with priced linking rows equals the whole model (DESIGN.md section 6)."""

import json

import pytest

from optimizer.run import run
from tests.builders import two_echelon

ITEMS = [
    {"id": "a", "unit_cost": 2.0, "holding_cost": 0.1, "shortage_cost": 1.5},
    {"id": "b", "unit_cost": 5.0, "holding_cost": 0.2, "shortage_cost": 2.5},
    {"id": "c", "unit_cost": 1.0, "holding_cost": 0.05, "shortage_cost": 0.4},
]
STATE = {"cover": {"store_on_hand": 0, "dc_on_hand": 3, "in_transit": False}}


@pytest.mark.parametrize(
    "constraints",
    [
        {"capital": {"budget": 700}},
        {"service": {"fill_rate": 0.97}},
        {"capital": {"budget": 650}, "service": {"fill_rate": 0.95}},
    ],
    ids=["budget", "fill-rate", "both"],
)
def test_decomposed_plan_matches_the_whole_model(constraints, write_config):
    kpis = {}
    for mode in ("off", "on"):
        config = two_echelon(items=ITEMS, initial_state=STATE, constraints=constraints,
                             solver={"decompose": mode}, evaluation={"scenarios": 0})
        kpis[mode] = run(write_config(config, f"{mode}.yaml")).kpis
    whole, parts = kpis["off"], kpis["on"]
    assert parts["expected_cost"] == pytest.approx(whole["expected_cost"], rel=1e-3)
    assert parts["model"] == whole["model"]  # the size of the model, counted without building it
    assert parts["capital"]["used"] == pytest.approx(whole["capital"]["used"], rel=1e-3)
    assert parts["service"]["expected_fill_rate"] == pytest.approx(whole["service"]["expected_fill_rate"], abs=1e-4)
    for row, key in (("capital", "shadow_price"), ("service", "shadow_price_per_point")):
        if whole[row][key] is not None:
            assert whole[row][key] > 0
            assert parts[row][key] == pytest.approx(whole[row][key], rel=1e-3)


def test_decomposed_diagnosis_matches_the_whole_model(write_config):
    # Exit 3's figures (least budget for the target, best fill rate within the budget,
    # least capital of any plan) come from item-by-item re-solves when decomposing.
    from optimizer.errors import InfeasibleError

    found = {}
    for mode in ("off", "on"):
        config = two_echelon(items=ITEMS, initial_state=STATE, solver={"decompose": mode},
                             constraints={"capital": {"budget": 600}, "service": {"fill_rate": 0.99}})
        with pytest.raises(InfeasibleError) as info:
            run(write_config(config, f"{mode}.yaml"))
        found[mode] = info.value
    assert "the least budget that meets it is 729.61" in str(found["on"])
    assert str(found["on"]) == str(found["off"])
    for key, value in found["off"].diagnosis.items():
        assert found["on"].diagnosis[key] == pytest.approx(value, rel=1e-6)


def test_command_line_decompose_flag_overrides_the_config(write_config, tmp_path, capsys):
    from optimizer.cli import main

    config = write_config(two_echelon(items=ITEMS, initial_state=STATE, constraints={"capital": {"budget": 700}},
                                      solver={"decompose": "off"}, evaluation={"scenarios": 0}))
    for mode in ("off", "on"):
        assert main(["run", str(config), "--out", str(tmp_path / mode), "--decompose", mode, "--quiet"]) == 0
    costs = [json.loads((tmp_path / m / "kpis.json").read_text())["expected_cost"] for m in ("off", "on")]
    assert costs[1] == pytest.approx(costs[0], rel=1e-3)
