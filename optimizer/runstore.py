"""The run store: every nightly run, its plan, exceptions, approvals and overrides.

A database reached through SQLAlchemy Core: an embedded SQLite file by
default (``nightly.store: runs.sqlite``, a path relative to the config), or
any SQLAlchemy URL (``postgresql+psycopg://planner@db/echelon``; tested on
SQLite and PostgreSQL). Tables (one row per ...):

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
journal undoes the partial transaction when the file is next opened; a
PostgreSQL server aborts the transaction of a connection that drops). Writers
are serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL locks ``runs`` in
``EXCLUSIVE`` mode, which readers pass), so two reruns of one date cannot
both insert. Run ids only grow (SQLite ``AUTOINCREMENT``, a PostgreSQL
sequence): a replaced run's id is never reused. A run that fails with exit 2,
3 or 4 is recorded as one ``failed`` row and leaves earlier results in place.
Every statement is parameterised; table and column names come from the schema
below, never from data. Rows are read back in the order written (by run or
approval id, then ``line``, each row's position in its table), the same on
every database.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from optimizer.config import resolve_path
from optimizer.errors import InputError

__all__ = ["RunStore", "SCHEMA", "open_store", "is_url"]

_meta = sa.MetaData()


def _runs_fk():
    return sa.ForeignKey("runs.run_id", ondelete="CASCADE")


def _approvals_fk():
    return sa.ForeignKey("approvals.approval_id", ondelete="CASCADE")


def _line():
    """Position of the row in its run's (or approval's) table, as written: rows are read back in this order."""
    return sa.Column("line", sa.Integer)


def _order_lines(name: str, key: sa.Column) -> sa.Table:
    return sa.Table(name, _meta, key, sa.Column("item", sa.Text), sa.Column("source", sa.Text),
                    sa.Column("destination", sa.Text), sa.Column("quantity", sa.Float), sa.Column("value", sa.Float),
                    sa.Column("arrives", sa.Integer), sa.Column("arrival_date", sa.Text), _line())


_TABLES = (
    sa.Table(
        "runs", _meta,
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("as_of", sa.Text, nullable=False), sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text), sa.Column("status", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False), sa.Column("message", sa.Text),
        sa.Column("config_file", sa.Text), sa.Column("config_sha256", sa.Text), sa.Column("data_sha256", sa.Text),
        sa.Column("code_version", sa.Text), sa.Column("seed", sa.BigInteger), sa.Column("timings_json", sa.Text),
        sa.Column("kpis_json", sa.Text), sa.Column("out_dir", sa.Text),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'failed')", name="runs_status"),
        sa.Index("runs_as_of", "as_of"),
        sqlite_autoincrement=True,
    ),
    _order_lines("orders", sa.Column("run_id", sa.Integer, _runs_fk(), nullable=False)),
    sa.Table(
        "stock_positions", _meta, sa.Column("run_id", sa.Integer, _runs_fk(), nullable=False),
        sa.Column("item", sa.Text), sa.Column("location", sa.Text), sa.Column("kind", sa.Text),
        *(sa.Column(c, sa.Float) for c in ("on_hand", "on_order", "committed", "target_position",
                                            "expected_fill_rate")), _line(),
    ),
    sa.Table(
        "exceptions", _meta, sa.Column("run_id", sa.Integer, _runs_fk(), nullable=False),
        sa.Column("rank", sa.Integer), sa.Column("kind", sa.Text), sa.Column("item", sa.Text),
        sa.Column("location", sa.Text), sa.Column("money_at_stake", sa.Float), sa.Column("why", sa.Text),
    ),
    sa.Table(
        "quality", _meta, sa.Column("run_id", sa.Integer, _runs_fk(), nullable=False),
        sa.Column("check_name", sa.Text), sa.Column("severity", sa.Text), sa.Column("action", sa.Text),
        sa.Column("item", sa.Text), sa.Column("location", sa.Text), sa.Column("rows", sa.Integer),
        sa.Column("impact", sa.Float), sa.Column("detail", sa.Text), _line(),
    ),
    sa.Table(
        "forecasts", _meta, sa.Column("run_id", sa.Integer, _runs_fk(), primary_key=True, autoincrement=False),
        sa.Column("table_csv", sa.Text, nullable=False),
    ),
    sa.Table(
        "approvals", _meta,
        sa.Column("approval_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, _runs_fk(), nullable=False),
        sa.Column("approved_by", sa.Text, nullable=False), sa.Column("approved_at", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False), sa.Column("overrides", sa.Integer),
        sa.Column("kpis_json", sa.Text), sa.Column("out_dir", sa.Text),
        sa.CheckConstraint("mode IN ('manual', 'auto')", name="approvals_mode"),
        sqlite_autoincrement=True,
    ),
    sa.Table(
        "overrides", _meta, sa.Column("approval_id", sa.Integer, _approvals_fk(), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False), sa.Column("kind", sa.Text), sa.Column("item", sa.Text),
        sa.Column("location", sa.Text), sa.Column("value", sa.Float), sa.Column("planned", sa.Float),
        sa.Column("reason", sa.Text), sa.Column("changed_by", sa.Text), sa.Column("changed_at", sa.Text), _line(),
    ),
    _order_lines("approved_orders", sa.Column("approval_id", sa.Integer, _approvals_fk(), nullable=False)),
)

_T = {t.name: t for t in _TABLES}
#: Columns of each table, in order.
SCHEMA = {t.name: tuple(c.name for c in t.columns) for t in _TABLES}


def is_url(store: str) -> bool:
    """Whether ``nightly.store`` is a database URL (``scheme://...``) rather than a file path."""
    return "://" in str(store)


def open_store(config_path, config) -> "RunStore":
    """The run store a config names (``nightly.store``: a URL, or a path relative to the config)."""
    store = config.nightly.store
    return RunStore(store if is_url(store) else resolve_path(config_path, store), config_file=config_path)


def _rows(frame: pd.DataFrame, columns, **fixed) -> list[dict]:
    """Rows of ``frame`` as dicts of ``columns``, ``fixed`` values for the key columns, the row's position
    as ``line``, None for absent ones."""
    return [{c: _plain({**rec, **fixed, "line": k}.get(c)) for c in columns}
            for k, rec in enumerate(frame.to_dict("records"))]


def _plain(v):
    """A value every database driver stores (numpy scalars to Python, NaN to NULL)."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v


def _engine(target, config_file) -> tuple[sa.Engine, str]:
    """An engine for a URL or an SQLite file path, and the name errors show (password hidden)."""
    if not is_url(target):
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        url = sa.URL.create("sqlite", database=str(path))
        name = str(path)
    else:
        try:
            url = sa.make_url(str(target))
        except sa.exc.ArgumentError:
            raise InputError(config_file, "nightly.store", f"{target.split('://')[0]}://... is not a database URL",
                             "give dialect+driver://user@host/database or a file path such as runs.sqlite") from None
        name = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url, connect_args={"timeout": 60} if url.get_backend_name() == "sqlite" else {})
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise InputError(config_file, "nightly.store", f"no driver for {url.drivername} ({exc})",
                         "install it (PostgreSQL: pip install 'echelon[postgres]') or use an SQLite file") from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine, name


def _sqlite_transactions(engine: sa.Engine) -> None:
    """SQLite: foreign keys on, full sync, and SQLAlchemy's BEGIN emitted by us (pysqlite's own is
    late), ``BEGIN IMMEDIATE`` for writers (SQLAlchemy's documented pysqlite recipe)."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        dbapi_conn.execute("PRAGMA synchronous = FULL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")


class RunStore:
    """The nightly job's database (see the module docstring).

    Parameters
    ----------
    target : str or Path
        An SQLite file (created with its schema if missing) or an SQLAlchemy URL
        (its tables created if missing).
    config_file : str or Path, optional
        The config that named the store, for error messages.

    Raises
    ------
    InputError
        A malformed URL, a driver not installed, a server that cannot be reached,
        or tables of another schema (exit 2).
    """

    def __init__(self, target, *, config_file=None):
        self.engine, self.path = _engine(target, config_file or target)
        try:
            _meta.create_all(self.engine)
            inspector = sa.inspect(self.engine)
            for table, columns in SCHEMA.items():
                have = tuple(c["name"] for c in inspector.get_columns(table))
                if have + ("line",) == columns:  # a store written before rows kept their order: add it
                    with self.engine.begin() as conn:
                        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN line INTEGER"))
                elif have != columns:
                    raise InputError(self.path, f"table {table}", f"has columns {list(have)}, this version writes "
                                     f"{list(columns)}", "move the store aside (or migrate it) and rerun")
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise InputError(config_file or self.path, "nightly.store", f"cannot open the run store {self.path} "
                             f"({reason})", "check that the database is reachable and the URL right") from None
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        """One writing transaction: ``(connection, commit)``; committed at the end of the block, or earlier
        by calling ``commit()``; rolled back on any error before that (a killed process: the journal, or
        the server dropping the connection)."""
        with self.engine.connect().execution_options(writer=True) as conn:
            trans = conn.begin()
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE runs IN EXCLUSIVE MODE")
            try:
                yield conn, trans.commit
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
            if trans.is_active:
                trans.commit()

    @staticmethod
    def _insert(conn, table: str, rows: list[dict]) -> None:
        if rows:
            conn.execute(_T[table].insert(), rows)

    @staticmethod
    def _insert_one(conn, table: str, values: dict) -> int:
        """Insert one row (its generated key left out) and return the key."""
        row = {c: _plain(values.get(c)) for c in SCHEMA[table][1:]}
        return int(conn.execute(_T[table].insert().values(row)).inserted_primary_key[0])

    @contextmanager
    def recording(self, run: dict, tables: dict[str, pd.DataFrame], forecast_csv: str):
        """Replace the as-of date's earlier runs by this one, in one transaction: yields ``(run_id, commit)``.

        ``run`` holds the ``runs`` columns (without ``run_id``); ``tables`` the
        frames of ``orders``, ``stock_positions``, ``exceptions`` and ``quality``.
        The block runs inside the transaction; it is committed when the block
        ends or when it calls ``commit()``, and rolled back if it raises first.
        """
        with self.transaction() as (conn, commit):
            conn.execute(_T["runs"].delete().where(_T["runs"].c.as_of == run["as_of"]))
            run_id = self._insert_one(conn, "runs", run)
            for table, frame in tables.items():
                self._insert(conn, table, _rows(frame, SCHEMA[table], run_id=run_id))
            self._insert(conn, "forecasts", [{"run_id": run_id, "table_csv": forecast_csv}])
            yield run_id, commit

    def record_run(self, run: dict, tables: dict[str, pd.DataFrame], forecast_csv: str) -> int:
        """:meth:`recording` with nothing else in the transaction; return the run id."""
        with self.recording(run, tables, forecast_csv) as (run_id, _):
            return run_id

    def record_failure(self, run: dict) -> int:
        """Record a failed run (exit 2, 3 or 4) without touching earlier results."""
        with self.transaction() as (conn, _):
            return self._insert_one(conn, "runs", run)

    def record_approval(self, approval: dict, overrides: pd.DataFrame, orders: pd.DataFrame) -> int:
        """Record an approval, its overrides and the approved orders; mark the run approved."""
        with self.transaction() as (conn, _):
            approval_id = self._insert_one(conn, "approvals", approval)
            run_id = approval["run_id"]
            self._insert(conn, "overrides", _rows(overrides, SCHEMA["overrides"], approval_id=approval_id,
                                                  run_id=run_id))
            self._insert(conn, "approved_orders", _rows(orders, SCHEMA["approved_orders"], approval_id=approval_id))
            runs = _T["runs"]
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(status="approved"))
        return approval_id

    # -- reading ------------------------------------------------------------------------------
    def _fetch(self, query) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]

    @staticmethod
    def _select(table: str, **where):
        t = _T[table]
        first = [t.c[SCHEMA[table][0]]] + ([t.c.line] if "line" in t.c else [])
        query = sa.select(*t.columns).order_by(*(c.asc().nulls_first() for c in first + list(t.columns)))
        return query.where(*(t.c[c] == v for c, v in where.items()))

    def table(self, table: str, **where) -> pd.DataFrame:
        """Rows of ``table`` (a schema name) matching ``column=value`` filters, in the order written
        (without ``line``)."""
        if table not in SCHEMA or any(c not in SCHEMA[table] for c in where):
            raise KeyError(f"unknown table or column: {table} {sorted(where)}")
        frame = pd.DataFrame.from_records(self._fetch(self._select(table, **where)), columns=list(SCHEMA[table]),
                                          coerce_float=True)
        return frame.drop(columns="line", errors="ignore")

    def run(self, run_id: int) -> dict:
        """One run's ``runs`` row as a dict, KPIs and timings decoded.

        Raises
        ------
        InputError
            No such run (exit 2).
        """
        rows = self.table("runs", run_id=int(run_id))
        if rows.empty:
            last = self._fetch(sa.select(sa.func.max(_T["runs"].c.run_id)))[0][0]
            raise InputError(self.path, "RUN_ID", f"no run {run_id} in the store (latest: {last})",
                             "give a run id from `echelon nightly`'s output or the runs table")
        row = rows.iloc[0].to_dict()
        row["kpis"] = json.loads(row.pop("kpis_json") or "null")
        row["timings"] = json.loads(row.pop("timings_json") or "null")
        return row

    def run_ids(self) -> set[int]:
        """Ids of every run the store holds (committed)."""
        return {int(r[0]) for r in self._fetch(sa.select(_T["runs"].c.run_id))}

    def previous_good_run(self, as_of: str) -> int | None:
        """The latest non-failed run with an earlier as-of date (the "last plan")."""
        runs = _T["runs"]
        rows = self._fetch(sa.select(runs.c.run_id).where(runs.c.as_of < as_of, runs.c.status != "failed")
                           .order_by(runs.c.as_of.desc(), runs.c.run_id.desc()).limit(1))
        return int(rows[0][0]) if rows else None

    def forecast_csv(self, run_id: int) -> str:
        t = _T["forecasts"]
        return self._fetch(sa.select(t.c.table_csv).where(t.c.run_id == int(run_id)))[0][0]

    def dump(self) -> dict[str, list[tuple]]:
        """Every table's rows, for comparing two states of the store."""
        return {t: self._fetch(self._select(t)) for t in SCHEMA}
