"""Real rules with known answers: capacities, case packs, MOQs, open-to-buy, capital measures, service levels.

Each check is a one-period newsvendor on the scenarios the model solves (its sample cost
C(S) = mean(h (S - D)+ + p (D - S)+) is known exactly), so the answer is exact, not approximate.
Timing as in the README: lead time 0, the order arrives before the period's demand.
"""

import numpy as np
import pandas as pd
import pytest

from optimizer.config import load_config
from optimizer.errors import InfeasibleError, InputError
from optimizer.inputs import prepare
from optimizer.run import run
from scenarios import sample_scenarios
from tests.builders import single_stage

H, P = 0.18, 0.70
ITEM = {"id": "widget", "unit_cost": 1.0, "holding_cost": H, "shortage_cost": P}
QUIET = {"scenarios": 0}  # no out-of-sample replay: these tests check the solve
SAMPLE = {"count": 200, "seed": 5, "method": "mc"}


def _newsvendor(write_config, name="c.yaml", *, network=None, items=(ITEM,), **overrides):
    """Run a one-period newsvendor; return the plan and its sample demand (S, I)."""
    config = single_stage(items=list(items), scenarios=SAMPLE, evaluation=QUIET, **overrides)
    if network is not None:
        config["network"] = network
    path = write_config(config, name)
    cfg = load_config(path)
    sample = sample_scenarios(prepare(cfg, path).demand_table, SAMPLE["count"], seed=SAMPLE["seed"],
                              method=SAMPLE["method"])
    return run(path), sample.demand[:, [sample.items.index(i["id"]) for i in items], 0, 0]


def _cost(S, d):
    """Sample newsvendor cost of stocking S against demands d."""
    return np.mean(H * np.maximum(S - d, 0) + P * np.maximum(d - S, 0))


def _marginal_value(S, d):
    """-dC/dS: the saving of one more unit at S (no demand equals S in a continuous sample)."""
    return P - (H + P) * np.mean(d < S)


@pytest.mark.parametrize("where", ["lane", "storage", "throughput"])
def test_a_binding_capacity_caps_the_stock_and_is_priced_at_the_marginal_saving(where, write_config):
    lane = {"source": "plant", "destination": "shop", "lead_time": 0}
    shop = {"id": "shop", "kind": "store"}
    if where == "lane":
        lane["capacity"] = 40
    else:
        shop[where] = 40
    network = {"nodes": [{"id": "plant", "kind": "supplier"}, shop], "lanes": [lane]}
    plan, d = _newsvendor(write_config, network=network)
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(40, abs=1e-6)
    (cap,) = plan.kpis["capacities"]
    assert (cap["kind"], cap["node"], cap["most_used"]) == (where, "shop", pytest.approx(40))
    # The value of one more unit of capacity is the newsvendor's marginal saving at S = 40.
    assert cap["shadow_price"] == pytest.approx(_marginal_value(40, d[:, 0]), abs=1e-9)


def test_items_sharing_a_lane_get_equal_marginal_savings(write_config):
    # Two items share a lane of 90 units (each alone would stock about 57): the optimum
    # splits it so each item's marginal saving equals the lane's price (KKT).
    items = [ITEM, dict(ITEM, id="gadget", shortage_cost=1.4)]
    network = {"nodes": [{"id": "plant", "kind": "supplier"}, {"id": "shop", "kind": "store"}],
               "lanes": [{"source": "plant", "destination": "shop", "lead_time": 0, "capacity": 90}]}
    plan, d = _newsvendor(write_config, network=network, items=items)
    s = plan.stock_positions.set_index("item")["target_position"]
    assert s.sum() == pytest.approx(90, abs=1e-3)
    assert s["gadget"] > s["widget"]  # the dearer shortage gets more of the lane
    price = plan.kpis["capacities"][0]["shadow_price"]
    savings = [P - (H + P) * np.mean(d[:, 0] < s["widget"]), 1.4 - (H + 1.4) * np.mean(d[:, 1] < s["gadget"])]
    # Each item sits at a sample point (a kink), so its saving brackets the price within one scenario's step.
    assert savings == pytest.approx([price, price], abs=(H + 1.4) / SAMPLE["count"] + 1e-9)


def test_case_pack_gives_the_best_multiple_by_enumeration(write_config):
    plan, d = _newsvendor(write_config, items=[dict(ITEM, case_pack=12)])
    multiples = np.arange(0, 121, 12)
    best = multiples[np.argmin([_cost(m, d[:, 0]) for m in multiples])]
    assert plan.orders["quantity"].iloc[0] == pytest.approx(best, abs=1e-6)
    assert plan.kpis["expected_cost"] == pytest.approx(_cost(best, d[:, 0]), abs=1e-9)
    assert plan.kpis["mip_gap"] <= 1e-4


def test_minimum_order_quantity_orders_nothing_or_at_least_the_moq(write_config):
    # Below the MOQ the best order is the MOQ (the sample cost is convex, so S = 70 beats any
    # S > 70) unless ordering nothing is cheaper: here 70 costs less than 35 short on average.
    plan, d = _newsvendor(write_config, items=[dict(ITEM, moq=70)])
    assert _cost(70, d[:, 0]) < _cost(0, d[:, 0])
    assert plan.orders["quantity"].iloc[0] == pytest.approx(70, abs=1e-6)
    plan, _ = _newsvendor(write_config, "big.yaml", items=[dict(ITEM, moq=400)])
    assert plan.orders.empty  # 400 units cost more to hold than the shortages they would save


def test_open_to_buy_limits_tonights_order_value(write_config):
    # Unit cost 2: an open-to-buy of 90 buys 45 units; its price is the saving per unit / 2.
    plan, d = _newsvendor(write_config, items=[dict(ITEM, unit_cost=2.0)],
                          constraints={"capital": {"open_to_buy": 90}})
    assert plan.orders["value"].iloc[0] == pytest.approx(90, abs=1e-6)
    otb = plan.kpis["open_to_buy"]
    assert otb["used"] == pytest.approx(90, abs=1e-6)
    assert otb["shadow_price"] == pytest.approx(_marginal_value(45, d[:, 0]) / 2, abs=1e-9)


def test_per_scenario_capital_holds_in_the_lowest_demand_scenario(write_config):
    # Capital is end-of-period stock (S - D_s)+ at cost 1; every scenario's within 4 means
    # S <= 4 + min_s D_s, against the expected average's looser E(S - D)+ <= 4.
    plan, d = _newsvendor(write_config, constraints={"capital": {"budget": 4, "measure": "per_scenario"}})
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(4 + d.min(), abs=1e-4)
    assert plan.kpis["capital"]["used"] == pytest.approx(4, abs=1e-6)
    average, _ = _newsvendor(write_config, "avg.yaml", constraints={"capital": {"budget": 4}})
    assert average.kpis["expected_cost"] < plan.kpis["expected_cost"]


def test_peak_capital_binds_in_the_fullest_period(write_config):
    # Three periods, lead time 1, backorders: capital at the end of period 0 includes tonight's
    # order in transit. The peak measure bounds every period's expected capital, so its plan
    # costs at least the average measure's, and its largest period sits at the budget.
    network = {"nodes": [{"id": "plant", "kind": "supplier"}, {"id": "shop", "kind": "store"}],
               "lanes": [{"source": "plant", "destination": "shop", "lead_time": 1}]}
    kpis = {}
    for measure, budget in (("average", 60), ("peak", 60), ("peak", 59.9), ("peak", 60.1)):
        plan, _ = _newsvendor(write_config, f"{measure}{budget}.yaml", network=network, periods=3,
                              shortage="backorder", constraints={"capital": {"budget": budget, "measure": measure}})
        kpis[measure, budget] = plan.kpis
    peak = kpis["peak", 60]
    assert peak["capital"]["used"] == pytest.approx(60, abs=1e-6)
    assert peak["capital"]["expected_average"] < 60
    assert peak["expected_cost"] > kpis["average", 60]["expected_cost"] + 1e-6
    # The budget's price (the sum of its per-period rows' duals) is the finite-difference saving.
    slope = (kpis["peak", 59.9]["expected_cost"] - kpis["peak", 60.1]["expected_cost"]) / 0.2
    assert peak["capital"]["shadow_price"] == pytest.approx(slope, rel=0.02)


def _two_items(write_config, name, service):
    """A cheap fast item and a dear slow one in one store, one fill-rate target."""
    items = [dict(ITEM, unit_cost=1.0), dict(ITEM, id="gadget", unit_cost=10.0, holding_cost=1.8)]
    table = write_config("item,location,period,family,mean,std\n"
                         "widget,shop,0,normal,50,8\ngadget,shop,0,normal,20,6\n", "demand.csv")
    plan, d = _newsvendor(write_config, name, items=items, demand={"table": str(table)},
                          constraints={"service": service})
    return plan.kpis, plan.stock_positions.set_index("item")["expected_fill_rate"], d


def test_fill_rate_per_item_holds_for_each_and_prices_each(write_config):
    network, _, _ = _two_items(write_config, "n.yaml", {"fill_rate": 0.95})
    per_item, fills, _ = _two_items(write_config, "i.yaml", {"fill_rate": 0.95, "level": "item"})
    # Network-wide the optimum serves the cheap item better and lets the dear one fall short.
    assert network["service"]["expected_fill_rate"] == pytest.approx(0.95, abs=1e-6)
    assert per_item["service"]["expected_fill_rate"] >= 0.95
    assert fills.min() >= 0.95 - 1e-4
    assert per_item["expected_cost"] > network["expected_cost"]
    binding = {t["item"]: t["shadow_price_per_point"] for t in per_item["service"]["binding_targets"]}
    assert "gadget" in binding and binding["gadget"] > 0


def test_network_fill_rate_weighted_by_value(write_config):
    kpis, fills, d = _two_items(write_config, "v.yaml", {"fill_rate": 0.95, "weighting": "value"})
    # Expected demand at cost, unit costs 1 and 10 (the files round fills to 4 decimals).
    value = d.mean(axis=0) * [1.0, 10.0]
    assert value @ [fills["widget"], fills["gadget"]] / value.sum() == pytest.approx(0.95, abs=1e-4)
    assert kpis["service"]["expected_fill_rate"] != pytest.approx(0.95, abs=1e-3)  # in units it is not 0.95
    assert kpis["service"]["weighting"] == "value" and kpis["service"]["shadow_price_per_point"] > 0


def test_decompose_on_refuses_what_it_cannot_price(write_config):
    items = [dict(ITEM, case_pack=6)]
    path = write_config(single_stage(items=items, solver={"decompose": "on"}, evaluation=QUIET))
    with pytest.raises(InputError, match=r"solver.decompose: 'on' cannot price integer orders or cycle service "
                                         r"\(a MIP\); set solver.decompose: auto \(solves such models whole\) or off"):
        run(path)


def test_decomposition_prices_capacities_open_to_buy_and_peak_capital(write_config):
    # Three items with different margins share the vendor lane (110 a period) and the DC's
    # storage (150), under a peak budget, an open-to-buy and a value-weighted fill rate:
    # item by item, with every linking row priced, gives the whole model's cost and prices.
    from tests.builders import two_echelon

    items = [{"id": f"w{k}", "unit_cost": 1.0 + k, "holding_cost": 0.1, "shortage_cost": 0.8 + 0.5 * k}
             for k in range(3)]
    config = two_echelon(items=items, shortage="backorder", evaluation=QUIET, scenarios={"count": 30, "seed": 3},
                         initial_state={"cover": {"store_on_hand": 1, "dc_on_hand": 0.5}}, constraints={
                             "capital": {"budget": 590, "measure": "peak", "open_to_buy": 60},
                             "service": {"fill_rate": 0.975, "weighting": "value"}})
    config["network"]["lanes"][0]["capacity"] = 110
    config["network"]["nodes"][1]["storage"] = 150
    path = write_config(config)
    whole, priced = (run(path, decompose=mode).kpis for mode in ("off", "on"))
    assert priced["expected_cost"] == pytest.approx(whole["expected_cost"], rel=1e-9)
    pairs = [(whole[k]["shadow_price"], priced[k]["shadow_price"]) for k in ("capital", "open_to_buy")]
    pairs += [(a["shadow_price"], b["shadow_price"]) for a, b in zip(whole["capacities"], priced["capacities"])]
    pairs.append((whole["service"]["shadow_price_per_point"], priced["service"]["shadow_price_per_point"]))
    assert [b for _, b in pairs] == pytest.approx([a for a, _ in pairs], rel=2e-3, abs=1e-9)
    assert [a > 0 for a, _ in pairs] == [True, False, True, False, True]  # budget, lane, fill rate bind
    # Each worker holds its items' parts of the linking rows: the same plan for 2 workers.
    two = run(path, decompose="on", workers=2).kpis
    for key in ("expected_cost", "capital", "service", "capacities", "open_to_buy", "cost_breakdown"):
        assert two[key] == priced[key], key


def test_capacity_conflict_names_the_capacity_and_the_extra_it_needs(write_config):
    network = {"nodes": [{"id": "plant", "kind": "supplier"}, {"id": "shop", "kind": "store", "storage": 40}],
               "lanes": [{"source": "plant", "destination": "shop", "lead_time": 0}]}
    with pytest.raises(InfeasibleError) as info:
        _newsvendor(write_config, network=network, constraints={"service": {"fill_rate": 0.98}})
    # Fill rate 0.98 needs the smallest S with mean (D - S)+ <= 0.02 x mean D: storage 40 falls short.
    _, d = _newsvendor(write_config, "free.yaml")
    grid = np.linspace(40, 80, 40001)
    need = grid[np.argmax([np.mean(np.maximum(d[:, 0] - s, 0)) <= 0.02 * d[:, 0].mean() for s in grid])]
    (found,) = info.value.diagnosis["capacities"].values()
    assert found["extra_needed"] == pytest.approx(need - 40, abs=2e-3)
    assert str(info.value).startswith("the fill-rate target 0.98 cannot be met within the capacities: "
                                      "the storage capacity of shop (40 units) needs")
    assert info.value.diagnosis["best_fill_rate_within_limits"] < 0.98


def test_replay_reproduces_the_model_under_capacities(write_config):
    # Backorders, supplier -> DC (lane 32 a period against mean demand 30, storage 200) -> 3
    # stores (one lane of 12 a period): on the scenarios it was solved on, replaying the policy with its rule (ship what
    # fits, owe the rest) costs exactly what the model says; the capacity costs something.
    import dataclasses

    from optimizer.inputs import initial_state
    from optimizer.plan import extract_plan
    from optimizer.run import make_problem, scenario_demand, solve_problem
    from optimizer.simulate import simulate_policy
    from tests.builders import two_echelon

    config = two_echelon(shortage="backorder", evaluation=QUIET)
    config["network"]["lanes"][0]["capacity"] = 32
    config["network"]["lanes"][3]["capacity"] = 12  # DC -> s3, mean demand 10
    config["network"]["nodes"][1]["storage"] = 200
    path = write_config(config)
    cfg = load_config(path)
    inputs = prepare(cfg, path)
    on_hand, pipeline, _ = initial_state(cfg, path, inputs)
    sample = sample_scenarios(inputs.demand_table, cfg.scenarios.count, seed=cfg.scenarios.seed)
    problem = make_problem(cfg, inputs, sample, on_hand, pipeline)
    built, sol = solve_problem(problem, cfg)
    x = sol.x
    replay = simulate_policy(problem, x[built.cols["target"]], x[built.cols["ship"]][:, :, 0, 0], scenario_demand(inputs, sample))
    assert replay.cost @ sample.probability == pytest.approx(sol.objective, rel=1e-9)
    assert replay.capacity_backlog @ sample.probability > 0
    free = dataclasses.replace(problem, network=dataclasses.replace(problem.network, lane_capacity=None, storage=None))
    assert {c["node"] for c in extract_plan(built, x, sol.row_duals, sol.objective).kpis["capacities"]} == {"dc", "s3"}
    assert solve_problem(free, cfg)[1].objective < sol.objective - 1.0


@pytest.mark.parametrize("section, value, message", [
    ("capital", {"measure": "peak"}, "constraints.capital: give budget, open_to_buy or both; correct the value"),
    ("service", {"level": "item"}, "constraints.service: give fill_rate, cycle_service or both; correct the value"),
])
def test_a_limit_without_a_figure_is_a_one_line_error(section, value, message, write_config):
    path = write_config(single_stage(constraints={section: value}))
    with pytest.raises(InputError) as info:
        run(path)
    assert str(info.value) == f"{path}: {message}"


def test_a_case_pack_and_moq_mip_stopped_by_its_time_limit_writes_the_best_plan_found(write_config, tmp_path, capsys):
    # Thirty items in packs of 5-11 with MOQs of 20-29 share a budget: HiGHS takes minutes to
    # prove this knapsack optimal. Stopped after a second, the run writes the best plan found
    # (exit 0, the README's contract), says so, and its gap, and the plan obeys packs and MOQs.
    import json

    from optimizer.cli import main

    items = [dict(ITEM, id=f"w{k}", unit_cost=1.0 + 0.37 * (k % 7), case_pack=5 + k % 7, moq=20 + 3 * (k % 4))
             for k in range(30)]
    path = write_config(single_stage(items=items, scenarios={"count": 100, "seed": 3}, evaluation=QUIET,
                                     constraints={"capital": {"budget": 60}}, solver={"time_limit": 1}))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    summary = capsys.readouterr().out.splitlines()
    kpis = json.loads((tmp_path / "out" / "kpis.json").read_text())
    assert kpis["status"] == "time_limit" and 1e-4 < kpis["mip_gap"] <= 1
    assert kpis["capital"]["used"] <= 60 + 1e-6 and kpis["capital"]["shadow_price"] is not None
    orders = pd.read_csv(tmp_path / "out" / "orders.csv").merge(pd.DataFrame(items), left_on="item", right_on="id")
    packs = orders["quantity"] / orders["case_pack"]
    assert np.allclose(packs, np.round(packs), atol=1e-6) and (orders["quantity"] >= orders["moq"] - 1e-6).all()
    # The summary says it is the best plan found, not proven optimal, and how far from optimal it may be.
    assert summary[0].endswith("(time_limit)")
    assert (f"  MIP gap            {kpis['mip_gap']:.2%} (time limit reached: the best plan found, not proven "
            "optimal)") in summary


@pytest.mark.parametrize("measure", ["average", "peak", "per_scenario"])
def test_least_budget_for_the_target_is_exact_in_each_capital_measure(measure, write_config):
    # Two periods, lead time 0, lost sales, demand N(50, 8^2) then N(30, 6^2), unit cost 1. A
    # constant target S leaves (S - D_ts)+ at the end of period t, and the least capital that
    # meets fill rate 0.95 is that of the least S with sum_t mean (D_t - S)+ = 0.05 sum_t mean D_t:
    # its mean over periods and scenarios (average), the larger period's mean (peak, period 1),
    # or the largest scenario's mean over periods (per_scenario).
    from scipy.optimize import brentq

    table = write_config("item,location,period,family,mean,std\nwidget,shop,0,normal,50,8\n"
                         "widget,shop,1,normal,30,6\n", "demand.csv")
    config = single_stage(periods=2, demand={"table": str(table)}, items=[ITEM], scenarios=SAMPLE, evaluation=QUIET,
                          constraints={"capital": {"budget": 1.0, "measure": measure}, "service": {"fill_rate": 0.95}})
    path = write_config(config)
    sample = sample_scenarios(prepare(load_config(path), path).demand_table, SAMPLE["count"], seed=SAMPLE["seed"],
                              method=SAMPLE["method"])
    d = sample.demand[:, 0, 0, :]  # (S, T)
    S = brentq(lambda s: np.maximum(d - s, 0).mean(axis=0).sum() - 0.05 * d.mean(axis=0).sum(), 0, 200, xtol=1e-12)
    left = np.maximum(S - d, 0)
    known = {"average": left.mean(), "peak": left.mean(axis=0).max(), "per_scenario": left.mean(axis=1).max()}[measure]
    with pytest.raises(InfeasibleError) as info:
        run(path)
    assert info.value.diagnosis["least_budget_for_target"] == pytest.approx(known, abs=1e-6)
    assert f"; the least budget that meets it is {known:,.2f}" in str(info.value)
    # That budget is enough: the plan meets the target with the budget all but used.
    config["constraints"]["capital"]["budget"] = float(known) + 1e-6
    plan = run(write_config(config, "enough.yaml"))
    assert plan.kpis["service"]["expected_fill_rate"] >= 0.95 - 1e-9
    assert plan.kpis["capital"]["used"] == pytest.approx(known, abs=1e-5)
