"""The run store: every nightly run, its plan, exceptions, approvals and overrides.

An embedded SQLite database (the standard library's :mod:`sqlite3`), one file
named by ``nightly.store`` in the config. Tables (one row per ...):

================  ===================================================================
table             rows
================  ===================================================================
runs              run: as-of date, status (proposed, approved, failed), exit code,
                  message, config file and SHA-256, data SHA-256s, code version,
                  seed, timings and KPIs (JSON), output folder
orders            tonight's order line of a run (``orders.csv``)
stock_positions   item x stock point of a run (``stock_positions.csv``)
exceptions        exception of a run, ranked by money at stake (``exceptions.csv``)
quality           data-quality finding of a run and what was done (``quality.csv``)
forecasts         the demand distribution table of a run (CSV text), for approvals
approvals         approval of a run: who, when, manual or auto, KPIs of the approved plan
overrides         planner's change: kind, item, location, value, planned before, by, when
approved_orders   order line of an approved plan
================  ===================================================================

Consistency: a successful run is written in **one transaction** that first
deletes every earlier run of the same as-of date with all its rows, so a
rerun replaces, never duplicates, and a process killed before ``COMMIT``
leaves the database as the last committed run left it (SQLite's rollback
journal undoes the partial transaction when the file is next opened). A run
that fails with exit 2, 3 or 4 is recorded as one ``failed`` row and leaves
earlier results in place. Every statement is parameterised; table and column
names come from the schema below, never from data.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError

__all__ = ["RunStore", "SCHEMA"]

#: Columns of each table (after the key columns created in :data:`_DDL`).
SCHEMA = {
    "runs": ("run_id", "as_of", "started_at", "finished_at", "status", "exit_code", "message", "config_file",
             "config_sha256", "data_sha256", "code_version", "seed", "timings_json", "kpis_json", "out_dir"),
    "orders": ("run_id", "item", "source", "destination", "quantity", "value", "arrives", "arrival_date"),
    "stock_positions": ("run_id", "item", "location", "kind", "on_hand", "on_order", "committed",
                        "target_position", "expected_fill_rate"),
    "exceptions": ("run_id", "rank", "kind", "item", "location", "money_at_stake", "why"),
    "quality": ("run_id", "check_name", "severity", "action", "item", "location", "rows", "impact", "detail"),
    "forecasts": ("run_id", "table_csv"),
    "approvals": ("approval_id", "run_id", "approved_by", "approved_at", "mode", "overrides", "kpis_json",
                  "out_dir"),
    "overrides": ("approval_id", "run_id", "kind", "item", "location", "value", "planned", "reason",
                  "changed_by", "changed_at"),
    "approved_orders": ("approval_id", "item", "source", "destination", "quantity", "value", "arrives",
                        "arrival_date"),
}

_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, as_of TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'failed')),
    exit_code INTEGER NOT NULL, message TEXT, config_file TEXT, config_sha256 TEXT, data_sha256 TEXT,
    code_version TEXT, seed INTEGER, timings_json TEXT, kpis_json TEXT, out_dir TEXT);
CREATE INDEX IF NOT EXISTS runs_as_of ON runs (as_of);
CREATE TABLE IF NOT EXISTS orders (
    run_id INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE, item TEXT, source TEXT, destination TEXT,
    quantity REAL, value REAL, arrives INTEGER, arrival_date TEXT);
CREATE TABLE IF NOT EXISTS stock_positions (
    run_id INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE, item TEXT, location TEXT, kind TEXT,
    on_hand REAL, on_order REAL, committed REAL, target_position REAL, expected_fill_rate REAL);
CREATE TABLE IF NOT EXISTS exceptions (
    run_id INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE, rank INTEGER, kind TEXT, item TEXT,
    location TEXT, money_at_stake REAL, why TEXT);
CREATE TABLE IF NOT EXISTS quality (
    run_id INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE, check_name TEXT, severity TEXT, action TEXT,
    item TEXT, location TEXT, rows INTEGER, impact REAL, detail TEXT);
CREATE TABLE IF NOT EXISTS forecasts (
    run_id INTEGER PRIMARY KEY REFERENCES runs ON DELETE CASCADE, table_csv TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE, approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL, mode TEXT NOT NULL CHECK (mode IN ('manual', 'auto')), overrides INTEGER,
    kpis_json TEXT, out_dir TEXT);
CREATE TABLE IF NOT EXISTS overrides (
    approval_id INTEGER NOT NULL REFERENCES approvals ON DELETE CASCADE, run_id INTEGER NOT NULL,
    kind TEXT, item TEXT, location TEXT, value REAL, planned REAL, reason TEXT, changed_by TEXT,
    changed_at TEXT);
CREATE TABLE IF NOT EXISTS approved_orders (
    approval_id INTEGER NOT NULL REFERENCES approvals ON DELETE CASCADE, item TEXT, source TEXT,
    destination TEXT, quantity REAL, value REAL, arrives INTEGER, arrival_date TEXT);
"""


def _rows(frame: pd.DataFrame, columns, **fixed) -> list[tuple]:
    """Rows of ``frame`` in ``columns`` order, ``fixed`` values for the key columns, None for absent ones."""
    return [tuple(_plain({**rec, **fixed}.get(c)) for c in columns) for rec in frame.to_dict("records")]


def _plain(v):
    """A value SQLite stores (numpy scalars to Python, NaN to NULL)."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v


class RunStore:
    """The nightly job's SQLite database (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Database file; created with its schema if missing.
    """

    def __init__(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) and committed once.
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(_DDL)
        for table, columns in SCHEMA.items():
            have = tuple(r[1] for r in self.conn.execute(f"PRAGMA table_info({table})"))
            if have != columns:
                self.conn.close()
                raise InputError(path, f"table {table}", f"has columns {list(have)}, this version writes "
                                 f"{list(columns)}", "move the store aside (or migrate it) and rerun")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (a killed process: the journal)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _insert(self, conn, table: str, rows: list[tuple]) -> None:
        cols = SCHEMA[table]
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)

    def _insert_one(self, conn, table: str, values: dict) -> int:
        """Insert one row (its generated key left out) and return the key."""
        cols = SCHEMA[table][1:]
        cur = conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           tuple(_plain(values.get(c)) for c in cols))
        return int(cur.lastrowid)

    def record_run(self, run: dict, tables: dict[str, pd.DataFrame], forecast_csv: str, before_commit=None) -> int:
        """Replace the as-of date's earlier runs by this one, in one transaction; return its run id.

        ``run`` holds the ``runs`` columns (without ``run_id``); ``tables`` the
        frames of ``orders``, ``stock_positions``, ``exceptions`` and ``quality``.
        ``before_commit`` (no arguments) is called inside the transaction, last.
        """
        with self._transaction() as conn:
            conn.execute("DELETE FROM runs WHERE as_of = ?", (run["as_of"],))
            run_id = self._insert_one(conn, "runs", run)
            for table, frame in tables.items():
                self._insert(conn, table, _rows(frame, SCHEMA[table], run_id=run_id))
            self._insert(conn, "forecasts", [(run_id, forecast_csv)])
            if before_commit is not None:
                before_commit(run_id)
        return run_id

    def record_failure(self, run: dict) -> int:
        """Record a failed run (exit 2, 3 or 4) without touching earlier results."""
        with self._transaction() as conn:
            return self._insert_one(conn, "runs", run)

    def record_approval(self, approval: dict, overrides: pd.DataFrame, orders: pd.DataFrame) -> int:
        """Record an approval, its overrides and the approved orders; mark the run approved."""
        with self._transaction() as conn:
            approval_id = self._insert_one(conn, "approvals", approval)
            run_id = approval["run_id"]
            self._insert(conn, "overrides", _rows(overrides, SCHEMA["overrides"], approval_id=approval_id,
                                                  run_id=run_id))
            self._insert(conn, "approved_orders", _rows(orders, SCHEMA["approved_orders"], approval_id=approval_id))
            conn.execute("UPDATE runs SET status = 'approved' WHERE run_id = ?", (run_id,))
        return approval_id

    # -- reading ------------------------------------------------------------------------------
    def table(self, table: str, **where) -> pd.DataFrame:
        """Rows of ``table`` (a schema name) matching ``column=value`` filters, in insertion order."""
        if table not in SCHEMA or any(c not in SCHEMA[table] for c in where):
            raise KeyError(f"unknown table or column: {table} {sorted(where)}")
        sql = f"SELECT {', '.join(SCHEMA[table])} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c in where)
        return pd.read_sql_query(sql + " ORDER BY rowid", self.conn, params=tuple(where.values()))

    def run(self, run_id: int) -> dict:
        """One run's ``runs`` row as a dict, KPIs and timings decoded.

        Raises
        ------
        InputError
            No such run (exit 2).
        """
        rows = self.table("runs", run_id=int(run_id))
        if rows.empty:
            last = self.conn.execute("SELECT max(run_id) FROM runs").fetchone()[0]
            raise InputError(self.path, "RUN_ID", f"no run {run_id} in the store (latest: {last})",
                             "give a run id from `echelon nightly`'s output or the runs table")
        row = rows.iloc[0].to_dict()
        row["kpis"] = json.loads(row.pop("kpis_json") or "null")
        row["timings"] = json.loads(row.pop("timings_json") or "null")
        return row

    def previous_good_run(self, as_of: str) -> int | None:
        """The latest non-failed run with an earlier as-of date (the "last plan")."""
        row = self.conn.execute(
            "SELECT run_id FROM runs WHERE as_of < ? AND status != 'failed' ORDER BY as_of DESC, run_id DESC LIMIT 1",
            (as_of,),
        ).fetchone()
        return None if row is None else int(row[0])

    def forecast_csv(self, run_id: int) -> str:
        return self.conn.execute("SELECT table_csv FROM forecasts WHERE run_id = ?", (int(run_id),)).fetchone()[0]

    def dump(self) -> dict[str, list[tuple]]:
        """Every table's rows, for comparing two states of the store."""
        return {t: self.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in SCHEMA}
