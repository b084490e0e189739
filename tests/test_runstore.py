"""The run store on SQLite (by URL) and on a real PostgreSQL server (issue 7): the same schema, one-transaction
replacement of a rerun, failures and approvals recorded, parameterised queries, and a writer killed with
SIGKILL inside its transaction leaving the store exactly as it was."""

import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from optimizer.errors import InputError
from optimizer.runstore import SCHEMA, RunStore
from tests.m5_small import ROOT
from tests.processes import kill_9_when_marked
from tests.stores import store_url  # noqa: F401  (fixture)


def _run(as_of, **more):
    return {"as_of": as_of, "started_at": "2026-11-27T01:30:00+00:00", "finished_at": "2026-11-27T01:36:00+00:00",
            "status": "proposed", "exit_code": 0, "config_file": "nightly.yaml", "config_sha256": "ab" * 32,
            "data_sha256": "{}", "code_version": "0.1.0", "seed": 20160424, "kpis_json": '{"expected_cost": 1.5}',
            "timings_json": '{"total": 2.0}', "out_dir": "tonight", **more}


def _tables(quantity):
    orders = pd.DataFrame({"item": ["b", "a"], "source": ["VENDOR", "DC"], "destination": ["DC", "CA_1"],
                           "quantity": [quantity, 2.5], "value": [quantity * 2, 5.0], "arrives": [2, 1],
                           "arrival_date": ["2016-04-23", None]})
    positions = pd.DataFrame({"item": ["a"], "location": ["CA_1"], "kind": ["store"], "on_hand": [1.0],
                              "on_order": [2.5], "committed": [0.0], "target_position": [3.5],
                              "expected_fill_rate": [float("nan")]})
    exceptions = pd.DataFrame({"rank": [1], "kind": ["near_stockout"], "item": ["a"], "location": ["CA_1"],
                               "money_at_stake": [4.2], "why": ["40% chance of running out"]})
    quality = pd.DataFrame(columns=SCHEMA["quality"][1:])
    return {"orders": orders, "stock_positions": positions, "exceptions": exceptions, "quality": quality}


def test_schema_is_the_documented_one_on_every_backend(store_url):
    RunStore(store_url).close()
    engine = sa.create_engine(store_url)
    inspector = sa.inspect(engine)
    assert sorted(inspector.get_table_names()) == sorted(SCHEMA)
    for table, columns in SCHEMA.items():
        assert tuple(c["name"] for c in inspector.get_columns(table)) == columns, table
    assert [i["name"] for i in inspector.get_indexes("runs")] == ["runs_as_of"]
    with engine.begin() as conn:  # the status is checked by the database, not only by the code
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("INSERT INTO runs (as_of, started_at, status, exit_code) VALUES ('d', 't', 'x', 0)"))
    engine.dispose()


def test_a_rerun_replaces_its_date_in_one_transaction(store_url):
    with RunStore(store_url) as store:
        first = store.record_run(_run("2016-04-23"), _tables(10.0), "item,mean\na,1\n")
        second = store.record_run(_run("2016-04-24"), _tables(11.0), "item,mean\na,2\n")
        again = store.record_run(_run("2016-04-24"), _tables(12.0), "item,mean\na,3\n")
        assert first < second < again  # ids grow: a replaced run's id is never reused
        runs = store.table("runs")
        assert runs[["run_id", "as_of"]].values.tolist() == [[first, "2016-04-23"], [again, "2016-04-24"]]
        orders = store.table("orders")
        assert set(orders["run_id"]) == {first, again}  # nothing left of the replaced run
        mine = store.table("orders", run_id=again)
        # Rows come back in the order written, values as written (NULL as None/NaN).
        assert mine[["item", "quantity", "arrival_date"]].values.tolist() == [["b", 12.0, "2016-04-23"],
                                                                             ["a", 2.5, None]]
        assert pd.isna(store.table("stock_positions", run_id=again)["expected_fill_rate"].iloc[0])
        assert store.forecast_csv(again) == "item,mean\na,3\n"
        assert store.previous_good_run("2016-04-24") == first and store.previous_good_run("2016-04-23") is None
        assert store.run(again)["kpis"] == {"expected_cost": 1.5} and store.run(again)["seed"] == 20160424
        with pytest.raises(InputError, match=rf"RUN_ID: no run 999 in the store \(latest: {again}\); give a run id"):
            store.run(999)


def test_failures_and_approvals_are_recorded_beside_the_good_runs(store_url):
    with RunStore(store_url) as store:
        good = store.record_run(_run("2016-04-23"), _tables(10.0), "csv")
        before = store.dump()
        failed = store.record_failure(_run("2016-04-24", status="failed", exit_code=2, message="bad history"))
        assert {t: rows for t, rows in store.dump().items() if t != "runs"} == \
            {t: rows for t, rows in before.items() if t != "runs"}
        assert store.previous_good_run("2016-04-25") == good and store.run(failed)["status"] == "failed"
        overrides = pd.DataFrame([{"kind": "forbid", "item": "a", "location": "CA_1", "value": 0.0, "planned": 2.5,
                                   "reason": "", "changed_by": "ana", "changed_at": "2026-11-27T08:00:00+00:00"}])
        approval = store.record_approval({"run_id": good, "approved_by": "ana", "approved_at": "2026-11-27T08:00:00",
                                          "mode": "manual", "overrides": 1, "kpis_json": "{}", "out_dir": "approved"},
                                         overrides, _tables(10.0)["orders"].iloc[:1])
        assert store.run(good)["status"] == "approved"
        assert store.table("overrides", approval_id=approval)[["kind", "planned", "changed_by"]].values.tolist() == \
            [["forbid", 2.5, "ana"]]
        assert len(store.table("approved_orders", approval_id=approval)) == 1


def test_values_are_parameters_never_sql(store_url):
    evil = "x'); DROP TABLE runs; --"
    with RunStore(store_url) as store:
        tables = _tables(1.0)
        tables["orders"]["item"] = evil
        run_id = store.record_run(_run(evil), tables, evil)
        assert store.table("orders", item=evil)["run_id"].tolist() == [run_id, run_id]
        assert store.table("runs", as_of=evil)["run_id"].tolist() == [run_id]


_WRITER = """
import sys, time, pathlib
sys.path.insert(0, sys.argv[3])
from tests.test_runstore import _run, _tables
from optimizer.runstore import RunStore
store = RunStore(sys.argv[1])
with store.recording(_run("2016-04-23"), _tables(99.0), "replaced?") as (run_id, commit):
    pathlib.Path(sys.argv[2]).write_text(str(run_id))
    time.sleep(3600)
"""


def test_a_writer_killed_inside_its_transaction_leaves_the_store_as_it_was(store_url, tmp_path):
    with RunStore(store_url) as store:
        good = store.record_run(_run("2016-04-23"), _tables(10.0), "csv")
        before = store.dump()
    marker = tmp_path / "inside"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, store_url, str(marker), str(ROOT)])
    # The rerun deletes the date's run and inserts its own, uncommitted, then makes the marker.
    kill_9_when_marked(proc, marker, "its transaction", timeout=60)
    with RunStore(store_url) as store:
        assert store.dump() == before
        rerun = store.record_run(_run("2016-04-23"), _tables(11.0), "csv")  # and the next writer gets through
        assert store.table("runs")["run_id"].tolist() == [rerun] and rerun > good


def test_a_store_written_before_rows_kept_their_order_gains_the_column(tmp_path):
    path = tmp_path / "old.sqlite"
    RunStore(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE orders DROP COLUMN line"))
    engine.dispose()
    with RunStore(path) as store:
        run_id = store.record_run(_run("2016-04-23"), _tables(1.0), "csv")
        assert store.table("orders", run_id=run_id)["item"].tolist() == ["b", "a"]


def test_a_store_of_another_schema_is_refused(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE quality (run_id INTEGER, check_name TEXT)"))
    engine.dispose()
    with pytest.raises(InputError, match=r"table quality: has columns \['run_id', 'check_name'\], this version "
                                         r"writes .*; move the store aside \(or migrate it\) and rerun"):
        RunStore(store_url)


def test_a_url_without_its_driver_or_server_is_exit_2_and_hides_the_password(tmp_path):
    with pytest.raises(InputError, match=r"nightly.store: no driver for mysql\+nosuchdriver .*; install it"):
        RunStore("mysql+nosuchdriver://u@h/db", config_file=tmp_path / "c.yaml")
    with pytest.raises(InputError) as err:
        RunStore("postgresql+psycopg://planner:s3cret@127.0.0.1:9/echelon", config_file=tmp_path / "c.yaml")
    assert "cannot open the run store postgresql+psycopg://planner:***@127.0.0.1:9/echelon (" in str(err.value)
    assert "s3cret" not in str(err.value)
