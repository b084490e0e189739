"""Safety (issue 9): plain-data YAML, files inside the config's tree, numbers the solver can trust."""

import pandas as pd
import pytest
import yaml

from optimizer.config import load_config
from optimizer.errors import InputError
from tests.conftest import ROOT
from tests.hardening import run_cli, small_config


def _write(path, config):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch hacked']", "!!python/name:os.system",
                                 "!!python/object/new:subprocess.Popen [['touch', 'hacked']]"])
def test_yaml_tags_that_build_objects_are_refused_without_running(tag, tmp_path):
    path = _write(tmp_path / "config.yaml", f"periods: {tag}\n")
    with pytest.raises(InputError, match=r"config.yaml: line 1: YAML tag .* is not allowed"):
        load_config(path)
    assert not (tmp_path / "hacked").exists()


def test_a_symlink_cannot_lead_out_of_the_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "demand.csv").write_text("item,location,period,family,mean\n")
    config = _write(tmp_path / "plans" / "config.yaml", small_config(demand={"table": "link.csv"}))
    (config.parent / "link.csv").symlink_to(outside / "demand.csv")
    with pytest.raises(InputError, match=r"demand.table: .*outside/demand.csv is outside the config's folder tree"):
        load_config(config)


def test_root_widens_the_tree_for_the_file_and_its_bases(tmp_path):
    _write(tmp_path / "data" / "state.csv", "item,location,on_hand\na,s1,3\n")
    base = _write(tmp_path / "base.yaml", small_config(initial_state={"path": "data/state.csv"}))
    child = _write(tmp_path / "whatif" / "cut.yaml", "extends: ../base.yaml\nperiods: 2\n")
    with pytest.raises(InputError, match=r"cut.yaml: extends: .*base.yaml is outside the config's folder tree"):
        load_config(child)
    _write(child, "extends: ../base.yaml\nroot: ..\nperiods: 2\n")
    config = load_config(child)
    assert config.periods == 2 and config.initial_state.path == str(tmp_path / "data" / "state.csv")
    # A base may not reach above the tree its what-if allows.
    _write(base, {**small_config(), "extends": "../elsewhere.yaml"})
    with pytest.raises(InputError, match=r"base.yaml: extends: .*elsewhere.yaml is outside"):
        load_config(child)


def test_bundled_whatifs_say_how_far_they_read():
    for name in ("budget_cut", "supplier_delay"):
        text = (ROOT / "configs" / "whatif" / f"{name}.yaml").read_text()
        assert "root: .." in text
        assert load_config(ROOT / "configs" / "whatif" / f"{name}.yaml").history is not None


def test_debug_shows_the_traceback_of_a_bad_input(tmp_path):
    path = _write(tmp_path / "config.yaml", small_config(periods="three"))
    code, _, err = run_cli("--debug", "validate", path)
    assert code == 2 and "Traceback" not in err
    code, _, err = run_cli("validate", path, "--debug")
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("echelon: error: ")


def _plan(tmp_path, name, items):
    config = small_config(items=items, periods=1, scenarios={"count": 199, "seed": 1},
                          demand={"distribution": {"family": "normal", "mean": 50, "std": 8}},
                          network={"nodes": [{"id": "plant", "kind": "supplier"}, {"id": "s1", "kind": "store"}],
                                   "lanes": [{"source": "plant", "destination": "s1", "lead_time": 0}]},
                          initial_state={}, shortage="backorder", evaluation={"scenarios": 0, "replications": 0})
    path = _write(tmp_path / f"{name}.yaml", config)
    code, _, err = run_cli("run", path, "--out", tmp_path / name, "--quiet", "--decompose", "off")
    assert code == 0, err
    return pd.read_csv(tmp_path / name / "stock_positions.csv").set_index("item")["target_position"]


def test_a_plan_does_not_depend_on_the_units_costs_are_stated_in(tmp_path):
    """Costs in millionths: before the objective was scaled, HiGHS's absolute dual tolerance
    (1e-7) swallowed them (per scenario 5e-9) and the targets missed their fractiles."""
    unit = _plan(tmp_path, "unit", [{"id": "big", "unit_cost": 0, "holding_cost": 1, "shortage_cost": 3},
                                    {"id": "tiny", "unit_cost": 0, "holding_cost": 1, "shortage_cost": 2}])
    micro = _plan(tmp_path, "micro", [{"id": "big", "unit_cost": 0, "holding_cost": 1e-6, "shortage_cost": 3e-6},
                                      {"id": "tiny", "unit_cost": 0, "holding_cost": 1e-6, "shortage_cost": 2e-6}])
    mega = _plan(tmp_path, "mega", [{"id": "big", "unit_cost": 0, "holding_cost": 1e5, "shortage_cost": 3e5},
                                    {"id": "tiny", "unit_cost": 0, "holding_cost": 1e5, "shortage_cost": 2e5}])
    assert unit.to_dict() == micro.to_dict() == mega.to_dict()
    assert unit["tiny"] < unit["big"]  # critical fractiles 2/3 < 3/4


def test_costs_too_far_apart_are_reported_not_solved(tmp_path):
    path = _write(tmp_path / "config.yaml", small_config(items=[
        {"id": "a", "unit_cost": 1, "holding_cost": 1e-6, "shortage_cost": 1.0},
        {"id": "b", "unit_cost": 1, "holding_cost": 0.1, "shortage_cost": 1e6}]))
    code, _, err = run_cli("run", path, "--out", tmp_path / "out")
    assert code == 2 and "costs span 1e+12 (the holding cost 1e-06 of item 'a' at 'dc'" in err
    assert not (tmp_path / "out").exists()
