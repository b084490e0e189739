"""The walk-forward replay on recorded demand (issue 6): hand trajectories, conservation, bullwhip."""

import numpy as np
import pytest

from optimizer.config import Config
from optimizer.inputs import network_arrays
from optimizer.replay import Levels, bullwhip, replay, replay_figures
from tests.builders import single_stage, two_echelon


def _fixed(up_to, reorder=None):
    """A policy that always asks for the same levels (the planner's rule in a textbook)."""
    up_to = np.asarray(up_to, float)
    levels = Levels(np.asarray(up_to if reorder is None else reorder, float), up_to)
    return lambda state: levels


def _single(lead_time=1):
    lanes = [{"source": "plant", "destination": "shop", "lead_time": lead_time, "cost": 0.5}]
    config = single_stage(network={**single_stage()["network"], "lanes": lanes})
    return network_arrays(Config.model_validate(config))


def _run_single(shortage, demand=(4, 8, 12, 3)):
    net = _single()
    return replay(_fixed([[10.0]]), np.array(demand, float)[None, None, :], network=net,
                  on_hand=np.array([[10.0]]), pipeline=np.zeros((1, 1, 1)), unit_cost=np.array([2.0]),
                  holding_cost=np.array([[0.1]]), shortage_cost=np.array([1.0]), shortage=shortage)


def test_base_stock_on_a_recorded_series_matches_the_hand_trajectory():
    # S = 10, lead time 1, lost sales, on hand 10: each period orders S - (on hand + in transit),
    # the order arrives next period before its demand.
    r = _run_single("lost_sales")
    np.testing.assert_allclose(r.orders[0, 0], [0, 4, 6, 4])
    np.testing.assert_allclose(r.arrivals[0, 0], [0, 0, 4, 6])
    np.testing.assert_allclose(r.sales[0, 0], [4, 6, 4, 3])
    np.testing.assert_allclose(r.short[0, 0], [0, 2, 8, 0])
    np.testing.assert_allclose(r.end_on_hand[0, 0], [6, 0, 0, 3])
    np.testing.assert_allclose(r.holding[0], 0.1 * np.array([6, 0, 0, 3]))
    np.testing.assert_allclose(r.transport[0], 0.5 * np.array([0, 4, 6, 4]))
    np.testing.assert_allclose(r.capital[0], 2.0 * np.array([6, 4, 6, 7]))  # on hand + in transit, at cost
    f = replay_figures(r)
    assert f["fill_rate"] == pytest.approx(1 - 10 / 27)
    assert f["total_cost"] == pytest.approx(0.9 + 10 + 7)
    assert f["stockouts"] == 2 and f["order_lines"] == 3
    assert f["capital"] == {"average": pytest.approx(46 / 4), "peak": pytest.approx(14)}
    # scored from period 2 on: the first two periods are a warm-up
    assert replay_figures(r, 2)["fill_rate"] == pytest.approx(1 - 8 / 15)


def test_backorders_order_last_period_demand_and_charge_each_period_waiting():
    r = _run_single("backorder")
    np.testing.assert_allclose(r.orders[0, 0], [0, 4, 8, 12])  # base stock passes demand on
    np.testing.assert_allclose(r.end_on_hand[0, 0], [6, -2, -10, -5])
    np.testing.assert_allclose(r.short[0, 0], [0, 2, 10, 3])  # new backorders of each period
    np.testing.assert_allclose(r.shortage[0], [0, 2, 10, 5])  # units waiting at each period's end


def test_reorder_point_waits_until_the_position_falls_to_it():
    net = _single(lead_time=0)
    r = replay(_fixed([[20.0]], reorder=[[8.0]]), np.full((1, 1, 5), 5.0), network=net,
               on_hand=np.array([[12.0]]), pipeline=np.zeros((1, 1, 1)), unit_cost=np.ones(1),
               holding_cost=np.zeros((1, 1)), shortage_cost=np.ones(1))
    # position 12, 7 (<= 8: order 13, arrives at once), 15, 10, 5 (<= 8: order 15)
    np.testing.assert_allclose(r.orders[0, 0], [0, 13, 0, 0, 15])
    np.testing.assert_allclose(r.end_on_hand[0, 0], [7, 15, 10, 5, 15])


def _two_echelon_replay(demand, seed=0, shortage="lost_sales", review=3):
    net = network_arrays(Config.model_validate(two_echelon()))
    rng = np.random.default_rng(seed)
    N = len(net.nodes)
    seen = []

    def policy(state):  # levels that change at every review; DC lean so that it rations
        seen.append(state)
        up = rng.uniform(5, 40, size=(2, N))
        up[:, 0] = rng.uniform(0, 30, size=2)
        return Levels(up - rng.uniform(0, 10, size=(2, N)), up)

    pipeline = rng.uniform(0, 10, size=(2, N, 2))
    r = replay(policy, demand, network=net, on_hand=rng.uniform(0, 20, size=(2, N)), pipeline=pipeline,
               unit_cost=np.array([2.0, 3.0]), holding_cost=np.full((2, N), 0.1), shortage_cost=np.array([1.5, 2.0]),
               shortage=shortage, review=review)
    return r, seen, net, pipeline


@pytest.mark.parametrize("shortage", ["lost_sales", "backorder"])
def test_every_stock_point_conserves_stock_each_period(shortage):
    demand = np.random.default_rng(5).poisson(10, size=(2, 3, 20)).astype(float)
    r, _, net, pipeline = _two_echelon_replay(demand, shortage=shortage)
    # start + arrivals = sales (stores) + shipments out (DCs) + end
    np.testing.assert_allclose(r.start_on_hand + r.arrivals, r.sales + r.shipped + r.end_on_hand, atol=1e-9)
    np.testing.assert_allclose(r.start_on_hand[:, :, 1:], r.end_on_hand[:, :, :-1])
    dc, stores = 0, [1, 2, 3]
    assert (r.shipped[:, dc] > 0).any() and (r.owed[:, stores] > 1e-9).any()  # the DC shipped and rationed
    # every unit sent arrives or is still on its way: the supplier ships the DC's orders,
    # the DC's shipments reach its stores (plus what was in transit at the start)
    np.testing.assert_allclose(r.arrivals[:, dc].sum() + r.in_transit[:, dc, -1].sum(),
                               pipeline[:, dc].sum() + r.orders[:, dc].sum())
    np.testing.assert_allclose(r.arrivals[:, stores].sum() + r.in_transit[:, stores, -1].sum(),
                               pipeline[:, stores].sum() + r.shipped[:, dc].sum())
    # and the DC ships what is due (owed + new orders) less what it still owes
    due = r.owed[:, stores, :-1].sum(axis=1) + r.orders[:, stores, 1:].sum(axis=1)
    np.testing.assert_allclose(r.shipped[:, dc, 1:], due - r.owed[:, stores, 1:].sum(axis=1), atol=1e-9)
    assert r.end_on_hand[:, dc].min() >= -1e-9
    if shortage == "lost_sales":
        assert r.end_on_hand.min() >= -1e-9
        np.testing.assert_allclose(r.sales + r.short, r.demand)


def test_the_policy_never_sees_demand_of_the_period_it_orders_for():
    demand = np.random.default_rng(5).poisson(10, size=(2, 3, 12)).astype(float)
    later = demand.copy()
    later[:, :, 6:] = np.random.default_rng(9).poisson(30, size=(2, 3, 6))
    a, seen_a, _, _ = _two_echelon_replay(demand)
    b, seen_b, _, _ = _two_echelon_replay(later)
    # reviews at 0, 3, 6: identical states, as period 6's demand is not known at its review
    for sa, sb in zip(seen_a[:3], seen_b[:3]):
        np.testing.assert_array_equal(sa.on_hand, sb.on_hand)
        np.testing.assert_array_equal(sa.arrivals, sb.arrivals)
    np.testing.assert_array_equal(a.orders[:, :, :7], b.orders[:, :, :7])
    assert not np.array_equal(a.orders[:, :, 7:], b.orders[:, :, 7:])  # from period 7 on it reacts


def test_bullwhip_is_order_variance_over_the_variance_of_demand_beneath():
    net = network_arrays(Config.model_validate(two_echelon()))  # dc, s1, s2, s3
    demand = np.array([[[4.0, 8, 12, 3], [1, 1, 1, 1], [0, 2, 0, 2]]])  # (1 item, 3 stores, 4 periods)
    orders = np.zeros((1, 4, 4))
    orders[0, 0] = [10, 10, 10, 10]  # the DC orders a constant: ratio 0
    orders[0, 1] = [0, 4, 6, 4]
    store = (np.var([0, 4, 6, 4]) + 0 + 0) / (np.var([4, 8, 12, 3]) + 0 + np.var([0, 2, 0, 2]))
    got = bullwhip(orders, demand, net)
    assert got == {"dc": 0.0, "store": pytest.approx(store)}
    assert got["store"] == pytest.approx(4.75 / (12.6875 + 1.0))
    orders[0, 0] = [20, 5, 25, 10]  # the DC against its stores' summed demand [5, 11, 13, 6]
    assert bullwhip(orders, demand, net)["dc"] == pytest.approx(np.var([20, 5, 25, 10]) / np.var([5, 11, 13, 6]))
    assert bullwhip(orders, np.ones((1, 3, 4)), net)["dc"] is None  # flat demand: no ratio
