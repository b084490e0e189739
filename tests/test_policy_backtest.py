"""``echelon backtest`` (issue 6): policies on recorded M5 sales, no look-ahead, the command's contract."""

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasts import DistributionTable, NGBoostForecaster, read_history
from optimizer.cli import main
from optimizer.config import Config
from optimizer.inputs import Inputs, network_arrays
from optimizer.policies import EchelonPolicy, ForecastFeed, NormalSafetyStock, model_state
from optimizer.policy_backtest import recorded_demand
from optimizer.replay import ReplayState, replay
from tests.builders import single_stage, two_echelon

ITEMS = ("FOODS_3_586", "HOBBIES_1_115", "HOUSEHOLD_1_474")
STORES = ("CA_1", "CA_2")
BEGIN = pd.Timestamp("2016-03-21")


def _config(**overrides) -> Config:
    """VENDOR -> DC_CA -> CA_1, CA_2 (the bundled lanes), budget and fill-rate target."""
    config = {
        "periods": 14,
        "network": {
            "nodes": [{"id": "VENDOR", "kind": "supplier"}, {"id": "DC_CA", "kind": "dc", "holding_factor": 0.8},
                      {"id": "CA_1", "kind": "store"}, {"id": "CA_2", "kind": "store"}],
            "lanes": [{"source": "VENDOR", "destination": "DC_CA", "lead_time": 3, "cost": 0.05},
                      {"source": "DC_CA", "destination": "CA_1", "lead_time": 1, "cost": 0.1},
                      {"source": "DC_CA", "destination": "CA_2", "lead_time": 1, "cost": 0.1}],
        },
        "history": {"path": "unused.csv"},
        "economics": {"margin": 0.3, "holding_rate": 0.25},
        "scenarios": {"count": 8, "seed": 4},
        "constraints": {"service": {"fill_rate": 0.95}},
        "evaluation": {"scenarios": 0, "replications": 0},
    }
    config.update(overrides)
    return Config.model_validate(config)


def _inputs(config: Config) -> Inputs:
    net = network_arrays(config)
    unit = np.array([1.5, 5.0, 3.0])
    return Inputs(net, ITEMS, STORES, None, None, None, None, unit, 0.25 / 365 * unit[:, None] * np.ones(3),
                  unit * 0.3 / 0.7, np.zeros((3, 2)), [])


@pytest.fixture(scope="module")
def history():
    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(ITEMS) & h["location"].isin(STORES) & (h["date"] >= "2015-01-01")
    return h[keep].reset_index(drop=True)


def _small_ngboost():
    return NGBoostForecaster(horizon=14, n_estimators=8, train_periods=120, random_state=0)


def _walk(history, policy_of, periods=15):
    """Replay, from a stock of 5 units everywhere, the policy built on a feed of ``history``."""
    config = _config()
    inputs = _inputs(config)
    feed = ForecastFeed(history, BEGIN, _small_ngboost, ITEMS, STORES)
    policy = policy_of(feed, config, inputs)
    demand = recorded_demand(history, ITEMS, STORES, BEGIN, periods)
    levels = []

    def asked(state):
        levels.append(policy(state))
        return levels[-1]

    r = replay(asked, demand, network=inputs.network, on_hand=np.full((3, 3), 5.0), pipeline=np.zeros((3, 3, 3)),
               unit_cost=inputs.unit_cost, holding_cost=inputs.holding_cost, shortage_cost=inputs.shortage_cost,
               review=7)
    return r, levels


POLICIES = {
    "base_stock": lambda feed, config, inputs: NormalSafetyStock(feed, inputs.network, z=1.64, review=7),
    "echelon_independent": lambda feed, config, inputs: EchelonPolicy(
        feed, config, inputs, scenarios="independent", count=8, seed=4),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_sales_after_the_planning_day_change_nothing_planned_before(history, name):
    # Sales from period 7 (2016-03-28) on are replaced: the reviews at 0 and 7 (forecasts up to
    # 03-20 and 03-27) must set the same levels and every order up to period 7 must be the same.
    cut = BEGIN + pd.Timedelta(days=7)
    other = history.copy()
    after = other["date"] >= cut
    other.loc[after, "quantity"] = np.random.default_rng(1).integers(0, 60, after.sum()).astype(float)
    a, levels_a = _walk(history, POLICIES[name])
    b, levels_b = _walk(other, POLICIES[name])
    for la, lb in zip(levels_a[:2], levels_b[:2]):
        np.testing.assert_array_equal(la.up_to, lb.up_to)
    np.testing.assert_array_equal(a.orders[:, :, :8], b.orders[:, :, :8])
    # the test can fail: the review at 14 knows the changed sales, and the levels move
    assert not np.allclose(levels_a[2].up_to, levels_b[2].up_to)
    np.testing.assert_allclose(a.start_on_hand + a.arrivals, a.sales + a.shipped + a.end_on_hand, atol=1e-9)


class _Normal:
    """Known forecast for the textbook check: N(10, 2^2) per store and period."""

    def fit(self, history, origin=None, calendar=None):
        return self

    def predict(self):
        return DistributionTable.constant("normal", {"mean": 10.0, "std": 2.0}, ITEMS, STORES, 14)


def test_normal_safety_stock_levels_are_the_textbook_ones(history):
    config = _config()
    inputs = _inputs(config)
    feed = ForecastFeed(history, BEGIN, _Normal, ITEMS, STORES)
    state = ReplayState(0, np.zeros((3, 3)), np.zeros((3, 3, 4)), np.zeros((3, 3)))
    z = stats.norm.ppf(0.95)
    base = NormalSafetyStock(feed, inputs.network, z=z, review=7)(state)
    # store: L = 1, protection 2 periods; DC: L = 3, two stores, protection 4 periods
    store = 10 * 2 + z * 2 * np.sqrt(2)
    dc = 20 * 4 + z * np.sqrt(8) * np.sqrt(4)
    np.testing.assert_allclose(base.up_to, np.tile([dc, store, store], (3, 1)), rtol=5e-3)
    np.testing.assert_array_equal(base.reorder, base.up_to)
    ss = NormalSafetyStock(feed, inputs.network, z=z, review=7, order_cost=2.0,
                           holding_cost=inputs.holding_cost)(state)
    np.testing.assert_allclose(ss.reorder, base.up_to)
    eoq = np.sqrt(2 * 2.0 * np.array([20.0, 10, 10])[None, :] / inputs.holding_cost)
    np.testing.assert_allclose(ss.up_to - ss.reorder, eoq, rtol=5e-3)


def test_what_a_dc_owes_is_booked_as_shipped_tonight_with_positions_kept():
    net = network_arrays(Config.model_validate(two_echelon()))  # dc -> s1 (L 1), s2 (L 1), s3 (L 0)
    owed = np.array([[0.0, 4.0, 0.0, 3.0]])
    arrivals = np.array([[[0.0, 5.0, 2.0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]])
    state = ReplayState(3, np.array([[1.0, 2.0, 0.0, 0.0]]), arrivals, owed)
    on_hand, pipeline = model_state(state, net, periods=4)
    position = on_hand + pipeline.sum(axis=2)
    before = state.on_hand + arrivals.sum(axis=2) + owed
    before[:, 0] -= owed.sum()
    np.testing.assert_allclose(position, before)
    # the DC's 1 on hand and then its earliest arrivals (5 at period 1, 1 of the 2 at period 2) pay the 7 owed
    assert on_hand[0, 0] == 0.0
    np.testing.assert_allclose(pipeline[0, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(pipeline[0, 1], [0, 4, 0, 0])  # s1: arrives after its 1-day lead time
    np.testing.assert_allclose(pipeline[0, 3], [3, 0, 0, 0])  # s3: lead time 0


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bt") / "out"
    code = main(["backtest", "configs/m5.yaml", "--fast", "--out", str(out)])
    return code, out


def test_fast_backtest_writes_the_contract(fast_run):
    code, out = fast_run
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["backtest.json", "cost_vs_fill.png", "manifest.json",
                                                     "replay.csv.gz", "stock_orders.png"]
    result = json.loads((out / "backtest.json").read_text())
    assert result["window"] == ["2016-04-18", "2016-04-24"] and len(result["items"]) == 3
    names = {"echelon_copula", "echelon_independent", "echelon_point", "base_stock", "s_S"}
    names |= {f"{b}_{g}" for b in ("base_stock", "s_S") for g in ("equal_fill", "equal_capital")}
    assert set(result["policies"]) == names
    ref = result["policies"]["echelon_copula"]
    for key in ("fill_rate", "fill_rate_by_store", "total_cost", "cost_breakdown", "capital", "stockouts", "bullwhip"):
        assert key in ref
    assert set(ref["bullwhip"]) == {"dc", "store"} and set(ref["capital"]) == {"average", "peak"}
    assert len(ref["fill_rate_by_store"]) == 10
    # tuned to the reference: the same realised fill rate, the same average capital
    assert abs(result["policies"]["base_stock_equal_fill"]["fill_rate"] - ref["fill_rate"]) < 2e-3
    assert result["policies"]["base_stock_equal_capital"]["capital"]["average"] == pytest.approx(
        ref["capital"]["average"], rel=2e-3)
    margin = result["comparisons"]["equal_fill_rate"]["base_stock"]["cost_saving"]
    assert margin["ci95"][0] <= margin["value"] <= margin["ci95"][1]
    # the recorded sales were replayed, and every stock point conserved stock
    rows = pd.read_csv(io.BytesIO(gzip.decompress((out / "replay.csv.gz").read_bytes())))
    np.testing.assert_allclose(rows["start_on_hand"] + rows["arrivals"],
                               rows["sales"] + rows["shipped"] + rows["end_on_hand"], atol=1e-3)
    one = rows[(rows["policy"] == "base_stock") & (rows["period"] >= 0) & rows["location"].str.match(r"^[A-Z]{2}_\d$")]
    sold = one["sales"] + one["short"]
    recorded = read_history("configs/data/m5/history.csv.gz")
    recorded = recorded[recorded["date"] >= "2016-04-18"].set_index(["item", "location", "date"])["quantity"]
    keys = pd.MultiIndex.from_arrays([one["item"], one["location"], pd.to_datetime(one["date"])])
    np.testing.assert_allclose(sold.to_numpy(), recorded.reindex(keys).to_numpy(), atol=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--start", "2016-13-01"], "command line: --start: not a date: '2016-13-01'; give a date as YYYY-MM-DD"),
    (["--start", "2016-04-20", "--periods", "28"],
     "command line: --periods: 28 days from 2016-04-20 run past the history's last day 2016-04-24; "
     "start on 2016-03-28 or earlier"),
])
def test_bad_window_is_one_line_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["backtest", "configs/m5.yaml", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"echelon: error: {message}"
    assert not out.exists()


def test_a_config_without_history_is_one_line_exit_2(write_config, tmp_path, capsys):
    config = write_config(single_stage())
    code = main(["backtest", str(config), "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"echelon: error: {config}: history: the config gives demand, not a sales history; "
        "backtest needs history: {path: ...} to replay recorded sales")


def _constant_levels_run(history, first, W=2, T=7):
    """Every policy name replayed with constant base-stock levels (a different level per name)."""
    from optimizer.policy_backtest import MAIN
    from optimizer.replay import Levels, replay_figures

    inputs = _inputs(_config())
    demand = recorded_demand(history, ITEMS, STORES, first, W + T)
    names = [MAIN, "echelon_independent", "echelon_point"] + [
        f"{b}{g}" for b in ("base_stock", "s_S") for g in ("", "_equal_fill", "_equal_capital")]
    replays = {}
    for k, name in enumerate(names):
        level = np.array([[40.0, 8.0, 8.0]]) * (0.5 + 0.1 * k)
        replays[name] = replay(lambda state, level=level: Levels.base_stock(np.repeat(level, 3, axis=0)), demand,
                               network=inputs.network, on_hand=np.full((3, 3), 5.0), pipeline=np.zeros((3, 3, 3)),
                               unit_cost=inputs.unit_cost, holding_cost=inputs.holding_cost,
                               shortage_cost=inputs.shortage_cost, review=7)
    return {"replays": replays, "figures": {n: replay_figures(r, W) for n, r in replays.items()}}


def test_windows_pool_units_average_costs_and_resample_items_by_window(history):
    from optimizer.policy_backtest import _comparisons, _pooled

    runs = [_constant_levels_run(history, BEGIN), _constant_levels_run(history, BEGIN + pd.Timedelta(days=14))]
    pooled, margins = _pooled(runs, 2, 200)
    a, b = (r["figures"]["base_stock"] for r in runs)
    f = pooled["base_stock"]
    assert f["fill_rate"] == pytest.approx(1 - (a["units_short"] + b["units_short"]) / (a["demand"] + b["demand"]))
    assert f["total_cost"] == pytest.approx((a["total_cost"] + b["total_cost"]) / 2)
    assert f["capital"]["average"] == pytest.approx((a["capital"]["average"] + b["capital"]["average"]) / 2)
    assert f["stockouts"] == a["stockouts"] + b["stockouts"]
    one = [_comparisons(r["replays"], 2, 200)["equal_fill_rate"]["base_stock"]["cost_saving"]["value"] for r in runs]
    assert margins["equal_fill_rate"]["base_stock"]["cost_saving"]["value"] == pytest.approx(np.mean(one))
    assert margins["ci"] == "95% block bootstrap over items x 2 windows, levels held fixed"


def test_windows_past_the_history_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["backtest", "configs/m5.yaml", "--out", str(out), "--start", "2016-03-28", "--windows", "2"])
    assert code == 2 and capsys.readouterr().err.strip() == (
        "echelon: error: command line: --windows: 2 windows of 28 days from 2016-03-28 run past the history's "
        "last day 2016-04-24; start on 2016-02-29 or earlier, or give fewer windows")
    assert not out.exists()
