"""Run stores for the tests: an SQLite file reached by URL, and a real PostgreSQL server when one is given.

``ECHELON_TEST_PG_URL`` (set by ``.ci/run``, which starts a server with ``.ci/postgres``) is the
URL of a server where the tests may create databases; each test gets a fresh one, dropped after.
Without it the PostgreSQL cases are skipped.
"""

import os
import uuid

import pytest
import sqlalchemy as sa

PG_ENV = "ECHELON_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def fresh_store_url(backend: str, folder) -> str:
    """A URL of an empty store: ``folder``/runs.sqlite, or a new database on the test server."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'runs.sqlite'}"
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: no PostgreSQL server to test against (.ci/run starts one)")
    name = f"echelon_test_{uuid.uuid4().hex[:12]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    return sa.make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_store(url: str) -> None:
    """Drop a test database created by :func:`fresh_store_url` (SQLite files go with their folder)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _admin(os.environ[PG_ENV], f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    """A fresh run store's URL on each backend."""
    url = fresh_store_url(request.param, tmp_path)
    yield url
    drop_store(url)
