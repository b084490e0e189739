"""Supplier feeds against the scenarios, and exceptions' known answers (issue 7)."""

import numpy as np
import pandas as pd
import pytest

from optimizer.exceptions import COLUMNS, base_stock_orders, rank_exceptions
from optimizer.inputs import initial_state
from optimizer.run import solve_plan, validate
from optimizer.supplier_feed import supplier_feeds
from tests.builders import single_stage, two_echelon


def solved(path, **fixed):
    config, inputs = validate(path)
    on_hand, pipeline, _ = initial_state(config, path, inputs)
    return solve_plan(config, path, inputs, inputs.demand_table, None, on_hand, pipeline, config.scenarios.seed,
                      {}, **fixed)


def test_feed_quantiles_are_those_of_the_stores_demand_a_period_earlier(write_config):
    # Backorders: a DC fed by the vendor orders in period t >= 1 exactly what its stores were asked for in t - 1.
    path = write_config(two_echelon(shortage="backorder", evaluation={"scenarios": 0}))
    s = solved(path)
    feed = supplier_feeds(s.problem, s.built, s.x, bucket=3)["vendor"]
    lines = feed["lines"]
    assert lines["bucket"].tolist() == ["tonight", "bucket 1", "bucket 2", "bucket 3"]
    assert lines[["first_period", "last_period"]].values.tolist() == [[0, 0], [1, 3], [4, 6], [7, 7]]
    tonight = s.plan.orders.query("destination == 'dc'")["quantity"].sum()
    assert lines["firm"].iloc[0] == pytest.approx(tonight, abs=1e-4)
    D = s.scenarios.demand[:, 0]  # (S, J, T): the solved scenarios
    for line in lines.iloc[1:].itertuples():
        total = D[:, :, line.first_period - 1: line.last_period].sum(axis=(1, 2))
        assert [line.p10, line.p50, line.p90] == pytest.approx(np.quantile(total, [0.1, 0.5, 0.9]), abs=1e-3)
        assert line.mean == pytest.approx(total.mean(), abs=1e-3) and np.isnan(line.firm)
    assert feed["bullwhip_ratio"] == pytest.approx(1.0, rel=1e-9)  # orders replace demand one for one


def test_base_stock_order_is_the_critical_fractile(write_config):
    # Newsvendor N(50, 8^2), h = 0.18, p = 0.70: S = 50 + 8 z(0.7955) = 56.60.
    s = solved(write_config(single_stage(evaluation={"scenarios": 0})))
    assert base_stock_orders(s.problem)[0, 0] == pytest.approx(56.60, abs=0.15)
    assert s.plan.orders["quantity"].iloc[0] == pytest.approx(56.60, abs=0.15)
    # The plan is the base-stock order: no exception about it.
    assert rank_exceptions(s.problem, s.built, s.x).empty


def test_base_stock_at_the_plans_prices_is_the_lagrangian_newsvendor(write_config):
    # A binding budget on E[(S - D)+] c: the optimum is the fractile p / (p + h + lambda c) with lambda
    # the budget's shadow price, so the base-stock order at the plan's prices is the plan's order.
    items = [{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    s = solved(write_config(single_stage(items=items, evaluation={"scenarios": 0},
                                         constraints={"capital": {"budget": 3.0}})))
    lam = s.plan.kpis["capital"]["shadow_price"]
    assert lam > 0.1 and s.plan.orders["quantity"].iloc[0] < 54
    assert base_stock_orders(s.problem, lam)[0, 0] == pytest.approx(s.plan.orders["quantity"].iloc[0], abs=0.1)
    assert rank_exceptions(s.problem, s.built, s.x, kpis=s.plan.kpis).empty
    assert base_stock_orders(s.problem)[0, 0] == pytest.approx(56.60, abs=0.15)  # at list prices: unconstrained


def test_exceptions_say_why_and_rank_by_money(write_config):
    items = [{"id": "widget", "unit_cost": 2.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    lanes = [{"source": "plant", "destination": "shop", "lead_time": 1}]
    config = single_stage(periods=3, items=items, evaluation={"scenarios": 0}, scenarios={"count": 400, "seed": 1},
                          network={**single_stage()["network"], "lanes": lanes})
    s = solved(write_config(config), fixed_order=np.array([[250.0]]))  # a planner's order, far above
    assert s.plan.orders["quantity"].iloc[0] == pytest.approx(250.0)
    last = pd.DataFrame({"item": ["widget"], "destination": ["shop"], "quantity": [60.0]})
    exc = rank_exceptions(s.problem, s.built, s.x, last_orders=last)
    assert list(exc.columns) == COLUMNS
    by_kind = exc.set_index("kind")
    bs = base_stock_orders(s.problem)[0, 0]  # two periods of protection, nothing on hand
    assert bs == pytest.approx(100 + 8 * np.sqrt(2) * 0.8266, abs=1.0)
    assert by_kind.loc["order_vs_base_stock", "money_at_stake"] == pytest.approx((250 - bs) * 2.0, abs=0.01)
    assert by_kind.loc["order_vs_last_plan", "money_at_stake"] == pytest.approx(190 * 2.0)
    assert "far above the last plan's 60" in by_kind.loc["order_vs_last_plan", "why"]
    # Nothing on hand or arriving before tonight's order lands: certain to run short in period 0.
    assert by_kind.loc["near_stockout", "money_at_stake"] == pytest.approx(50 * 0.70, rel=0.01)
    assert by_kind.loc["near_stockout", "why"].startswith("100% chance of running out before tonight's order")
    assert exc["rank"].tolist() == [1, 2, 3] and exc["money_at_stake"].is_monotonic_decreasing
