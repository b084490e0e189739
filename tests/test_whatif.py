"""What-if multipliers: demand_multiplier (global, per item, store, category, periods) and lead_time_add."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasts.distributions import DistributionTable
from optimizer.cli import main
from optimizer.config import load_config
from optimizer.run import run
from optimizer.whatif import demand_factors, scale_demand
from tests.builders import single_stage, two_echelon


def _targets(plan) -> dict:
    frame = plan.stock_positions
    return dict(zip(zip(frame["item"], frame["location"]), frame["target_position"]))


def test_global_multiplier_scales_the_newsvendor_target(write_config):
    # N(50, 8^2) x 1.2 is N(60, 9.6^2): the critical fractile 0.70 / 0.88 moves from 56.60 to
    # 1.2 x 56.60 = 67.92; with the base's uniforms (common random numbers) every scenario's
    # demand is exactly 1.2 times the base's, so the sample optimum is too.
    base = run(write_config(single_stage(), "base.yaml")).stock_positions["target_position"].iloc[0]
    promo = run(write_config("extends: base.yaml\ndemand_multiplier: 1.2\n", "promo.yaml"))
    target = promo.stock_positions["target_position"].iloc[0]
    assert target == pytest.approx(1.2 * base, abs=2e-4)
    assert target == pytest.approx(1.2 * stats.norm.ppf(0.70 / 0.88, 50, 8), abs=1.3)


def test_rules_select_items_stores_and_categories(write_config):
    two_stores = {
        "nodes": [{"id": "plant", "kind": "supplier"}, {"id": "s1", "kind": "store"}, {"id": "s2", "kind": "store"}],
        "lanes": [{"source": "plant", "destination": "s1", "lead_time": 0},
                  {"source": "plant", "destination": "s2", "lead_time": 0}],
    }
    items = [{"id": "apple", "category": "fruit", "unit_cost": 0.0, "holding_cost": 0.18, "shortage_cost": 0.70},
             {"id": "bread", "category": "bakery", "unit_cost": 0.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    write_config(single_stage(network=two_stores, items=items, scenarios={"count": 200, "seed": 1}), "base.yaml")
    base = _targets(run(write_config("extends: base.yaml\n", "same.yaml")))
    rules = ("extends: base.yaml\ndemand_multiplier:\n"
             "  - {factor: 1.5, category: fruit, location: s2}\n"
             "  - {factor: 0.5, item: [bread]}\n"
             "  - {factor: 2.0, item: bread, location: s1}\n")
    scaled = _targets(run(write_config(rules, "rules.yaml")))
    expected = {("apple", "s1"): 1.0, ("apple", "s2"): 1.5, ("bread", "s1"): 1.0, ("bread", "s2"): 0.5}
    for key, factor in expected.items():
        assert scaled[key] == pytest.approx(factor * base[key], abs=2e-4), key


def test_period_range_and_overlapping_rules_multiply(write_config):
    config = load_config(write_config(single_stage(periods=5, demand_multiplier=[
        {"factor": 2.0, "first_period": 1, "last_period": 2}, {"factor": 1.5, "first_period": 2}])))
    f = demand_factors(config, "config.yaml", ("widget",), ("shop",))
    assert f.shape == (1, 1, 5)
    assert f[0, 0].tolist() == [1.0, 2.0, 3.0, 1.5, 1.5]


@pytest.mark.parametrize(
    "family, params",
    [
        ("normal", {"mean": 3.0, "std": 4.0}),  # cut at 0: the cut mean scales too
        ("lognormal", {"mu": 1.0, "sigma": 0.6}),
        ("shifted_lognormal", {"mu": 1.0, "sigma": 0.6, "shift": 2.0}),
        ("gamma", {"mean": 5.0, "std": 2.0}),
        ("poisson", {"mean": 4.0}),
        ("negative_binomial", {"mean": 4.0, "dispersion": 1.5}),
        ("empirical", {"values": [0.0, 2.0, 7.0]}),
    ],
)
def test_every_family_scales_its_mean(family, params):
    table = DistributionTable.constant(family, params, ["a"], ["s"], 2)
    factor = np.array([[[1.3, 0.6]]])
    scaled = scale_demand(table, factor, ("a",), ("s",))
    assert scaled.mean() == pytest.approx(table.mean() * factor.ravel(), rel=1e-9)
    if family not in ("poisson", "negative_binomial"):  # exact scale families: every quantile scales
        u = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]])
        assert scaled.ppf(u) == pytest.approx(table.ppf(u) * factor.ravel(), rel=1e-9)


def test_lead_time_add_equals_the_longer_lane(write_config):
    write_config(two_echelon(evaluation={"scenarios": 0}), "base.yaml")
    added = run(write_config("extends: base.yaml\nnetwork:\n  lanes: [{source: vendor, destination: dc, lead_time_add: 2}]\n",
                             "delay.yaml"))
    longer = run(write_config("extends: base.yaml\nnetwork:\n  lanes: [{source: vendor, destination: dc, lead_time: 4}]\n",
                              "longer.yaml"))
    pd.testing.assert_frame_equal(added.stock_positions, longer.stock_positions)
    pd.testing.assert_frame_equal(added.orders, longer.orders)
    base = run(write_config("extends: base.yaml\n", "same.yaml"))
    assert _targets(added)[("widget", "dc")] > _targets(base)[("widget", "dc")] + 30  # two periods of ~30 more


@pytest.mark.parametrize(
    "override, expected",
    [
        ("demand_multiplier: [{factor: 1.2, item: widgt}]",
         "config.yaml: demand_multiplier[0].item: unknown item 'widgt' (did you mean 'widget'?); use one of widget"),
        ("demand_multiplier: [{factor: 1.2, location: plant}]",
         "config.yaml: demand_multiplier[0].location: unknown store 'plant'; use one of shop"),
        ("demand_multiplier: [{factor: 1.2, category: FOODS}]",
         "config.yaml: demand_multiplier[0].category: unknown category 'FOODS'; give the items a category"),
        ("demand_multiplier: 0", "config.yaml: demand_multiplier[0].factor: input should be greater than 0"),
        ("demand_multiplier: [{factor: 2, first_period: 3}]",
         "config.yaml: demand_multiplier[0].first_period: period 3 is beyond the horizon of 1 periods"),
        ("network:\n  lanes: [{source: plant, destination: shop, lead_time_add: -1}]",
         "config.yaml: network.lanes[0]: lead_time 0 + lead_time_add -1 is below 0"),
    ],
)
def test_bad_whatif_is_a_one_line_error(override, expected, write_config, tmp_path, capsys):
    write_config(single_stage(), "base.yaml")
    path = write_config(f"extends: base.yaml\n{override}\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
