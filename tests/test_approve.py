"""echelon approve: overrides fixed in the model, the rest re-optimised within the budget (issue 7)."""

import json

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.nightly import nightly
from optimizer.runstore import RunStore
from tests.m5_small import small_config

BUDGET = 700.0


@pytest.fixture(scope="module")
def proposed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("approve")
    config = small_config(folder, constraints={"service": {"fill_rate": 0.85}, "capital": {"budget": BUDGET}})
    result = nightly(config, as_of="2016-04-20")
    assert result.plan.kpis["capital"]["used"] == pytest.approx(BUDGET)  # the budget binds
    return config, result


def test_overrides_are_honoured_and_the_rest_reoptimised_within_budget(proposed, capsys):
    config, run = proposed
    orders, positions = run.plan.orders, run.plan.stock_positions
    big = orders.query("item == 'FOODS_3_586' and destination == 'DC'")["quantity"].iloc[0]
    forbid = orders.query("source == 'DC'").iloc[0]
    target = positions.query("item == 'HOUSEHOLD_1_474' and location == 'CA_2'")["target_position"].iloc[0]
    overrides = config.parent / "changes.csv"
    pd.DataFrame([
        {"kind": "order", "item": "FOODS_3_586", "location": "DC", "value": big + 15, "reason": "promotion"},
        {"kind": "forbid", "item": forbid["item"], "location": forbid["destination"], "value": None, "reason": ""},
        {"kind": "target", "item": "HOUSEHOLD_1_474", "location": "CA_2", "value": target + 3, "reason": "display"},
    ]).to_csv(overrides, index=False)
    assert main(["approve", str(run.run_id), "--config", str(config), "--overrides", str(overrides),
                 "--by", "ana"]) == 0
    assert f"run {run.run_id} approved by ana (3 overrides)" in capsys.readouterr().out

    out = config.parent / "approved"
    new = pd.read_csv(out / "orders.csv")
    assert new.query("item == 'FOODS_3_586' and destination == 'DC'")["quantity"].iloc[0] == pytest.approx(big + 15)
    assert new.query(f"item == '{forbid['item']}' and destination == '{forbid['destination']}'").empty
    pos = pd.read_csv(out / "stock_positions.csv")
    assert pos.query("item == 'HOUSEHOLD_1_474' and location == 'CA_2'")["target_position"].iloc[0] == \
        pytest.approx(target + 3)
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["capital"]["used"] <= BUDGET + 1e-6  # within the same budget
    assert kpis["service"]["expected_fill_rate"] >= 0.85 - 1e-9
    assert kpis["expected_cost"] >= run.plan.kpis["expected_cost"] - 1e-6  # a restriction costs, never saves
    # The rest was re-optimised: 15 more units of FOODS_3_586 are paid for by cutting other targets.
    merged = positions.merge(pos, on=["item", "location"], suffixes=("_before", "_after"))
    others = merged[merged["item"] != "FOODS_3_586"]
    assert (others["target_position_after"] < others["target_position_before"] - 1e-3).any()

    with RunStore(config.parent / "runs.sqlite") as store:
        assert store.run(run.run_id)["status"] == "approved"
        approval = store.table("approvals", run_id=run.run_id).iloc[-1]
        assert (approval["approved_by"], approval["mode"], approval["overrides"]) == ("ana", "manual", 3)
        rows = store.table("overrides", approval_id=int(approval["approval_id"]))
        assert rows["kind"].tolist() == ["order", "forbid", "target"] and set(rows["changed_by"]) == {"ana"}
        assert rows["planned"].tolist() == pytest.approx([big, forbid["quantity"], target])
        assert len(store.table("approved_orders", approval_id=int(approval["approval_id"]))) == len(new)


@pytest.mark.parametrize("row, message", [
    ({"kind": "more", "item": "FOODS_3_586", "location": "DC", "value": 1}, "row 2, kind: unknown kind 'more'; use one of order, forbid, target"),
    ({"kind": "order", "item": "FOODS_3_586", "location": "VENDOR", "value": 1}, "row 2, location: 'VENDOR' is not a dc or store"),
    ({"kind": "target", "item": "FOODS_3_586", "location": "DC", "value": -1}, "row 2, value: must be a number >= 0 for target, received -1"),
])
def test_a_bad_override_is_one_line_exit_2(proposed, capsys, row, message):
    config, run = proposed
    path = config.parent / "bad.csv"
    pd.DataFrame([row]).to_csv(path, index=False)
    assert main(["approve", str(run.run_id), "--config", str(config), "--overrides", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"echelon: error: {path}: {message}") and err.count("\n") == 1


def test_approving_without_changes_keeps_the_proposal(proposed):
    from optimizer.approve import approve

    config, run = proposed
    done = approve(config, run.run_id, None, by="auto", mode="auto")
    assert done.orders.drop(columns="run_id").equals(run.plan.orders) and done.overrides.empty


def test_auto_approve_below_the_threshold_only(tmp_path):
    config = small_config(tmp_path, nightly={"auto_approve_below": 1e9})
    run = nightly(config, as_of="2016-04-20", auto_approve=True)
    assert run.status == "approved" and (tmp_path / "approved" / "orders.csv").is_file()
    strict = small_config(tmp_path / "strict", nightly={"auto_approve_below": 0.0})
    held = nightly(strict, as_of="2016-04-20", auto_approve=True)
    assert held.status == "proposed" and held.exceptions["money_at_stake"].max() > 0
    with RunStore(tmp_path / "runs.sqlite") as store:
        assert store.table("approvals")[["approved_by", "mode"]].values.tolist() == [["auto", "auto"]]


def test_overrides_the_budget_cannot_carry_exit_3(proposed, capsys):
    config, run = proposed
    path = config.parent / "too_much.csv"
    pd.DataFrame([{"kind": "order", "item": "FOODS_3_586", "location": "DC", "value": 5000}]).to_csv(path, index=False)
    with RunStore(config.parent / "runs.sqlite") as store:
        before = store.dump()
    assert main(["approve", str(run.run_id), "--config", str(config), "--overrides", str(path)]) == 3
    assert capsys.readouterr().err.startswith(f"echelon: error: {path}: the overrides cannot be met: the capital budget")
    with RunStore(config.parent / "runs.sqlite") as store:
        assert store.dump() == before  # nothing recorded


def test_an_override_at_the_planned_value_reproduces_the_proposal(proposed):
    # The approval re-solves from the stored forecast and the run's seed: the same scenarios, the same optimum.
    from optimizer.approve import approve

    config, run = proposed
    line = run.plan.orders.query("destination == 'DC'").iloc[0]
    path = config.parent / "same.csv"
    pd.DataFrame([{"kind": "order", "item": line["item"], "location": "DC", "value": line["quantity"]}]).to_csv(
        path, index=False)
    done = approve(config, run.run_id, path, by="ana")
    assert done.kpis["expected_cost"] == pytest.approx(run.plan.kpis["expected_cost"], rel=1e-6)
    assert done.kpis["capital"]["used"] == pytest.approx(BUDGET)


HOSTILE = "x'); DROP TABLE runs; --"


def test_planner_supplied_ids_are_data_never_sql(proposed, capsys):
    # Issue 9: the run store's queries are parameterised. An id written to break out of a
    # quoted SQL string is refused as an unknown item, and a hostile approver's name is
    # stored verbatim; the store's tables survive both.
    config, run = proposed
    path = config.parent / "hostile.csv"
    pd.DataFrame([{"kind": "order", "item": HOSTILE, "location": "DC", "value": 1}]).to_csv(path, index=False)
    with RunStore(config.parent / "runs.sqlite") as store:
        before = store.dump()
    assert main(["approve", str(run.run_id), "--config", str(config), "--overrides", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"echelon: error: {path}: row 2, item:") and err.count("\n") == 1
    with RunStore(config.parent / "runs.sqlite") as store:
        assert store.dump() == before
    assert main(["approve", str(run.run_id), "--config", str(config), "--by", HOSTILE]) == 0
    with RunStore(config.parent / "runs.sqlite") as store:
        assert store.table("approvals")["approved_by"].tolist()[-1] == HOSTILE
        assert len(store.table("runs", run_id=run.run_id)) == 1
