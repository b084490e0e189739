"""The nightly job on a slice of the bundled M5 data (issue 7): store, rolling week, reruns, logs, exit codes."""

import json
import sqlite3

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.exceptions import COLUMNS
from optimizer.nightly import nightly
from optimizer.runstore import SCHEMA, RunStore
from tests.m5_small import small_config
from tests.stores import BACKENDS, drop_store, fresh_store_url

WEEK = [d.date().isoformat() for d in pd.date_range("2016-04-14", "2016-04-20")]


def _folder(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rolling_week_history_and_idempotent_rerun(tmp_path, backend):
    url = fresh_store_url(backend, tmp_path)  # nightly.store as a URL: SQLite, and PostgreSQL when CI gives one
    config = small_config(tmp_path, nightly={"store": url, "out": "nightly"})
    try:
        _rolling_week(config, url)
    finally:
        drop_store(url)


def _rolling_week(config, url):
    tmp_path = config.parent
    results = [nightly(config, as_of=day) for day in WEEK]
    store = RunStore(url)
    runs = store.table("runs")
    assert runs["as_of"].tolist() == WEEK
    assert set(runs["status"]) == {"proposed"} and set(runs["exit_code"]) == {0}
    assert runs["config_sha256"].nunique() == 1 and runs["code_version"].str.startswith("0.1.0").all()
    for r in results:
        orders = store.table("orders", run_id=r.run_id)
        assert len(orders) == len(r.plan.orders) > 0
        assert len(store.table("stock_positions", run_id=r.run_id)) == 4 * 3  # items x (DC + 2 stores)
        kpis = json.loads(runs.loc[runs["run_id"] == r.run_id, "kpis_json"].iloc[0])
        assert kpis["expected_cost"] == pytest.approx(r.plan.kpis["expected_cost"])
    # Each day's plan is compared with the day before's: the first has no last plan to differ from.
    assert "order_vs_last_plan" not in set(results[0].exceptions["kind"])
    # The folder holds the last run; kpis.json and manifest.json name it.
    out = tmp_path / "nightly"
    assert json.loads((out / "manifest.json").read_text())["run_id"] == results[-1].run_id
    assert (out / "orders.csv").read_bytes() == results[-1].plan.orders.to_csv(
        index=False, lineterminator="\n", float_format="%.4f").encode()
    before_files, before_rows = _folder(out), store.table("orders", run_id=results[-1].run_id)
    store.close()

    again = nightly(config, as_of=WEEK[-1])  # rerun of the last day replaces it
    with RunStore(url) as store:
        runs = store.table("runs")
        assert runs["as_of"].tolist() == WEEK  # still one run per date
        assert results[-1].run_id not in set(runs["run_id"]) and again.run_id in set(runs["run_id"])
        rows = store.table("orders", run_id=again.run_id)
        pd.testing.assert_frame_equal(rows.drop(columns="run_id"), before_rows.drop(columns="run_id"))
        n_orders = sum(len(store.table("orders", run_id=r)) for r in runs["run_id"])
        assert n_orders == len(store.table("orders"))  # nothing left of the replaced run
    after = _folder(out)
    for name in ("orders.csv", "stock_positions.csv", "exceptions.csv", "quality.csv", "supplier_VENDOR.csv"):
        assert after[name] == before_files[name], name


def test_store_schema_is_the_documented_one(tmp_path):
    RunStore(tmp_path / "s.sqlite").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    for table, columns in SCHEMA.items():
        got = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        assert got == columns, table
    assert COLUMNS == ["rank", "kind", "item", "location", "money_at_stake", "why"]


def test_outputs_exceptions_and_feeds(tmp_path):
    config = small_config(tmp_path)
    r = nightly(config, as_of="2016-04-20")
    out = tmp_path / "nightly"
    assert sorted(p.name for p in out.iterdir()) == [
        "exceptions.csv", "kpis.json", "manifest.json", "orders.csv", "quality.csv", "report.html",
        "stock_positions.csv", "supplier_VENDOR.csv", "supplier_VENDOR.json"]
    exc = pd.read_csv(out / "exceptions.csv")
    assert list(exc.columns) == COLUMNS and exc["rank"].tolist() == list(range(1, len(exc) + 1))
    assert exc["money_at_stake"].is_monotonic_decreasing and exc["why"].str.len().min() > 20
    feed = json.loads((out / "supplier_VENDOR.json").read_text())
    assert feed["run_id"] == r.run_id and feed["as_of"] == "2016-04-20"
    tonight = pd.DataFrame(feed["lines"]).query("bucket == 'tonight'").set_index("item")["firm"]
    dc = r.plan.orders.query("destination == 'DC'").set_index("item")["quantity"]
    pd.testing.assert_series_equal(tonight.loc[dc.index], dc, check_names=False)


def test_fatal_quality_exits_2_with_the_list_as_json_logs(tmp_path, capsys):
    history = pd.read_csv(small_config(tmp_path / "good").parent / "history.csv").astype({"quantity": object})
    history.loc[3, "quantity"] = "lots"
    history.loc[7, "quantity"] = -2
    config = small_config(tmp_path, history=history)
    assert main(["nightly", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    log = json.loads(err[0])  # stderr is not a terminal here: JSON lines
    assert log["event"] == "run failed" and log["level"] == "error" and log["exit_code"] == 2
    assert err[1] == (f"echelon: error: {tmp_path / 'history.csv'}: 2 fatal data-quality problem(s), nothing "
                      "planned; correct the history file and rerun:")
    assert err[2].startswith("  - non_numeric: 1 quantities are empty or not numbers: line 5 (")
    assert err[3].startswith("  - negative: 1 negative quantities (returns?): line 9 (")
    assert not (tmp_path / "nightly").exists()
    with RunStore(tmp_path / "runs.sqlite") as store:
        runs = store.table("runs")
    assert runs[["status", "exit_code"]].values.tolist() == [["failed", 2]]


def test_time_limit_spent_before_the_solve_exits_4(tmp_path, capsys):
    config = small_config(tmp_path)
    assert main(["nightly", str(config), "--time-limit", "0.01"]) == 4
    assert "the time limit of 0.01 s ran out before the solve" in capsys.readouterr().err
    assert not (tmp_path / "nightly").exists()


def test_a_config_without_history_is_refused(tmp_path, write_config):
    from tests.builders import single_stage

    path = write_config(single_stage())
    with pytest.raises(Exception, match="the nightly job forecasts from a sales history; add history:"):
        nightly(path)


def test_an_unreachable_database_is_exit_2_with_the_key(tmp_path, capsys):
    config = small_config(tmp_path, nightly={"store": "postgresql+psycopg://planner:pw@127.0.0.1:9/echelon"})
    assert main(["nightly", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"echelon: error: {config}: nightly.store: cannot open the run store "
                          "postgresql+psycopg://planner:***@127.0.0.1:9/echelon (")
    assert err.rstrip().endswith("; check that the database is reachable and the URL right")
    assert not (tmp_path / "nightly").exists() and not list(tmp_path.glob("postgresql*"))


def test_a_store_of_another_schema_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    conn.execute("CREATE TABLE quality (run_id INTEGER, check_name TEXT)")
    conn.close()
    with pytest.raises(Exception, match=r"old.sqlite: table quality: has columns \['run_id', 'check_name'\], "
                                        r"this version writes .*; move the store aside"):
        RunStore(tmp_path / "old.sqlite")
