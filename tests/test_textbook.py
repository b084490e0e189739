"""Known answers from inventory theory, with the project's own event timing.

Timing (README, "The model"): an order placed in period t on a lane with lead
time L arrives at the start of period t + L, before that period's demand;
holding is charged on end-of-period on hand, shortage per unit short per period.
"""

import numpy as np
import pytest
from scipy import optimize, stats

from optimizer.run import run
from tests.builders import single_stage


def test_newsvendor_critical_fractile(write_config):
    # One period, lost sales: S* = F^-1(p / (p + h)) = 50 + 8 z_{0.7955} = 56.60
    # (e.g. Snyder & Shen, Fundamentals of Supply Chain Theory, 2nd ed., eq. 3.27).
    plan = run(write_config(single_stage()))
    target = plan.stock_positions["target_position"].iloc[0]
    expected = stats.norm.ppf(0.70 / 0.88, loc=50, scale=8)
    assert expected == pytest.approx(56.60, abs=0.01)
    assert target == pytest.approx(expected, abs=1.1)
    # Tonight's order brings the empty position up to the target.
    assert plan.orders["quantity"].iloc[0] == pytest.approx(target, abs=1e-3)


def test_base_stock_lead_time_backorders(write_config):
    # Periodic review, lead time L = 4, backorders: the order placed in t arrives at
    # the start of t + 4, so it protects L + 1 = 5 periods of demand:
    # S* = 5 x 50 + z_{0.7955} x 8 x sqrt(5) = 264.77 (Snyder & Shen, section 4.3).
    config = single_stage(
        periods=20,
        network={
            "nodes": [{"id": "plant", "kind": "supplier"}, {"id": "shop", "kind": "store"}],
            "lanes": [{"source": "plant", "destination": "shop", "lead_time": 4}],
        },
        shortage="backorder",
    )
    plan = run(write_config(config))
    expected = 5 * 50 + stats.norm.ppf(0.70 / 0.88) * 8 * np.sqrt(5)
    assert expected == pytest.approx(264.77, abs=0.01)
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(expected, abs=3)


def test_fill_rate_target_sets_the_smallest_sufficient_stock(write_config):
    # No shortage cost: the target is the smallest S with E[(D - S)+] <= (1 - beta) E[D],
    # i.e. sigma x L(z) = 0.02 x 50 with L the standard normal loss function.
    config = single_stage(
        items=[{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.0}],
        constraints={"service": {"fill_rate": 0.98}},
    )
    plan = run(write_config(config))

    def loss(z):
        return stats.norm.pdf(z) - z * (1 - stats.norm.cdf(z))

    z = optimize.brentq(lambda z: 8 * loss(z) - 0.02 * 50, -3, 3)
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(50 + 8 * z, abs=0.6)
    assert plan.kpis["service"]["expected_fill_rate"] == pytest.approx(0.98, abs=1e-6)
    assert plan.kpis["service"]["shadow_price_per_point"] > 0


def test_budget_binds_and_its_shadow_price_is_the_marginal_saving(write_config):
    # Capital is end-of-period stock at cost, E[(S - D)+] for one period (unit cost 1):
    # about 7.5 at the unconstrained optimum 56.6, so a budget of 4 binds.
    items = [{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    plans = {
        b: run(write_config(single_stage(items=items, constraints={"capital": {"budget": b}}), f"b{b}.yaml"))
        for b in (3.9, 4.0, 4.1)
    }
    mid = plans[4.0].kpis
    assert mid["capital"]["used"] == pytest.approx(4.0, abs=1e-6)

    def leftover(z):  # E[(S - D)+] / sigma for S = mu + z sigma
        return z * stats.norm.cdf(z) + stats.norm.pdf(z)

    s = 50 + 8 * optimize.brentq(lambda z: 8 * leftover(z) - 4.0, -3, 3)
    assert plans[4.0].stock_positions["target_position"].iloc[0] == pytest.approx(s, abs=0.6)
    # dC/dB = (dC/dS) / (dB/dS) = [h - (h + p) P(D > S)] / P(D <= S); the shadow price is -dC/dB.
    theory = ((0.18 + 0.70) * stats.norm.sf(s, 50, 8) - 0.18) / stats.norm.cdf(s, 50, 8)
    assert mid["capital"]["shadow_price"] == pytest.approx(theory, rel=0.1)
    slope = (plans[3.9].kpis["expected_cost"] - plans[4.1].kpis["expected_cost"]) / 0.2
    assert mid["capital"]["shadow_price"] == pytest.approx(slope, rel=0.05)


@pytest.mark.parametrize(
    "distribution, quantile",
    [
        # Poisson(20): smallest integer S with F(S) >= p / (p + h) (the discrete critical fractile).
        ({"family": "poisson", "mean": 20}, stats.poisson(20).ppf(0.70 / 0.88)),
        # Empirical: the fractile of the listed values, equally likely.
        ({"family": "empirical", "values": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]}, 80.0),
    ],
)
def test_newsvendor_discrete_and_empirical_demand(distribution, quantile, write_config):
    plan = run(write_config(single_stage(demand={"distribution": distribution})))
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(quantile, abs=1e-6)


def test_sample_optimum_is_the_exact_order_statistic(write_config):
    # On S equally likely scenarios the sample newsvendor is minimised by the k-th smallest
    # demand, k = ceil(S p / (p + h)) (the sample critical fractile), to solver tolerance.
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from scenarios import sample_scenarios

    path = write_config(single_stage(scenarios={"count": 37, "seed": 11, "method": "mc"}))
    plan = run(path)
    config = load_config(path)
    table = prepare(config, path).demand_table
    demand = np.sort(sample_scenarios(table, 37, seed=11, method="mc").demand.ravel())
    k = int(np.ceil(37 * 0.70 / 0.88))
    # (the files round to 4 decimals)
    assert plan.stock_positions["target_position"].iloc[0] == pytest.approx(demand[k - 1], abs=1e-4)


def test_cycle_service_level_is_the_demand_quantile(write_config):
    # A chance constraint P(no stock-out in a period) >= alpha, solved as a MIP with one binary
    # per scenario, and no shortage cost: the least S with P(D > S) <= 1 - alpha, the
    # ceil(alpha S)-th order statistic of the sample; for N(50, 8^2) and alpha = 0.9 the normal
    # quantile 50 + 8 z_0.9 = 60.25 (e.g. Snyder & Shen, section 4.3.2, type-1 service).
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from scenarios import sample_scenarios

    config = single_stage(
        items=[{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.0}],
        scenarios={"count": 200, "seed": 1},
        constraints={"service": {"cycle_service": 0.9}},
        evaluation={"scenarios": 4000, "replications": 0},
    )
    path = write_config(config)
    plan = run(path)
    demand = np.sort(sample_scenarios(prepare(load_config(path), path).demand_table, 200, seed=1).demand.ravel())
    target = plan.stock_positions["target_position"].iloc[0]
    assert target == pytest.approx(demand[int(np.ceil(0.9 * 200)) - 1], abs=1e-4)
    # Latin hypercube: the 180th of 200 draws lies in the stratum [0.895, 0.9) of the normal,
    # 60.02..60.25.
    assert stats.norm.ppf(0.895, 50, 8) <= target <= stats.norm.ppf(0.9, 50, 8) + 1e-4
    assert plan.kpis["cycle_service"]["lowest_item_location"] == pytest.approx(0.9)
    assert plan.kpis["mip_gap"] <= 1e-4
    # Replayed on 4,000 fresh scenarios, no stock-out with probability P(D <= S) (3 standard errors).
    replayed = plan.kpis["out_of_sample"]["cycle_service"]["lowest_item_location"]
    assert replayed == pytest.approx(stats.norm.cdf(target, 50, 8), abs=3 * np.sqrt(0.9 * 0.1 / 4000))


def test_mip_duals_come_from_the_lp_with_the_integers_fixed(write_config):
    # Two items share a budget; one comes in case packs of 12, the other does not. With the
    # packs fixed, the budget's price is the continuous item's marginal saving per unit of
    # capital, [p - (h + p) F(S)] / F(S) (dC/dS over dCapital/dS), at its own stock S.
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from scenarios import sample_scenarios

    items = [{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70, "case_pack": 12},
             {"id": "gadget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    config = single_stage(items=items, scenarios={"count": 300, "seed": 2}, evaluation={"scenarios": 0},
                          constraints={"capital": {"budget": 9.0}})
    path = write_config(config)
    plan = run(path)
    sample = sample_scenarios(prepare(load_config(path), path).demand_table, 300, seed=2)
    d = sample.demand[:, sample.items.index("gadget"), 0, 0]
    s = plan.stock_positions.set_index("item")["target_position"]
    assert s["widget"] % 12 == pytest.approx(0, abs=1e-6)
    assert plan.kpis["capital"]["used"] == pytest.approx(9.0, abs=1e-6)
    F = np.mean(d < s["gadget"])
    assert plan.kpis["capital"]["shadow_price"] == pytest.approx((0.70 - 0.88 * F) / F, rel=1e-3)


def test_mip_fill_rate_price_comes_from_the_lp_with_the_integers_fixed(write_config):
    # As above with a binding network fill rate of 0.99 instead of a budget. With the packs
    # fixed, the continuous item's stock S satisfies C'(S) = mu x short'(S), so the row's price
    # per unit short is mu = ((h + p) F(S) - p) / (1 - F(S)); a point of fill rate is
    # 0.01 x the expected demand of both items more units short, at mu each.
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from scenarios import sample_scenarios

    items = [{"id": "widget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70, "case_pack": 12},
             {"id": "gadget", "unit_cost": 1.0, "holding_cost": 0.18, "shortage_cost": 0.70}]
    config = single_stage(items=items, scenarios={"count": 300, "seed": 2, "method": "mc"}, evaluation={"scenarios": 0},
                          constraints={"service": {"fill_rate": 0.99}})
    path = write_config(config)
    plan = run(path)
    sample = sample_scenarios(prepare(load_config(path), path).demand_table, 300, seed=2, method="mc")
    d = sample.demand[:, :, 0, 0]
    s = plan.stock_positions.set_index("item")["target_position"]
    assert s["widget"] % 12 == pytest.approx(0, abs=1e-6)
    assert plan.kpis["service"]["expected_fill_rate"] == pytest.approx(0.99, abs=1e-9)
    F = np.mean(d[:, sample.items.index("gadget")] < s["gadget"])
    mu = (0.88 * F - 0.70) / (1 - F)
    assert plan.kpis["service"]["shadow_price_per_point"] == pytest.approx(mu * 0.01 * d.mean(axis=0).sum(), rel=1e-6)
