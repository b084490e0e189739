"""The Spark engine (issue 8): the same forecast and plan as local processes, in Spark's local mode.

One SparkSession (``local[2]``) serves the module; ``SparkEngine`` picks it up
as the active session. Skipped when pyspark or Java is missing, except on CI
(``CI=true``), where that fails.
"""

import os
import shutil
import sys

import pandas as pd
import pytest

from optimizer.item_models import item_problem
from optimizer.workers import ItemPool
from tests.m5_small import small_config
from tests.test_workers import _three_items


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        SparkSession = None
    missing = [what for what, gone in (("pyspark (pip install '.[spark]')", SparkSession is None),
                                       ("java (a Java 17 runtime)", shutil.which("java") is None)) if gone]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{' and '.join(missing)} missing on CI; .ci/run installs them")
        pytest.skip(f"{' and '.join(missing)} missing")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("echelon-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield session
    session.stop()


def _proposals_equal(a, b):
    assert isinstance(a, type(b))
    assert (a.cost, a.capital, a.short) == (b.cost, b.capital, b.short)
    for name, v in a.figures.per_item().items():
        assert (v == b.figures.per_item()[name]).all(), name


def test_item_pool_on_spark_gives_the_local_proposals_also_when_rebuilt(spark, write_config):
    # Round by round, every item's proposal on Spark is the local pool's, to the last bit: each
    # item starts from the basis the driver sent (its own last one). Changing the pool's token
    # makes every executor miss its cache of built item models and rebuild them mid-solve:
    # the proposals stay the same, so the plan does not depend on that cache.
    from optimizer.spark_engine import SparkEngine

    problem = _three_items(write_config)
    problems = [item_problem(problem, i) for i in range(3)]
    local = ItemPool(problems)
    remote = SparkEngine().item_pool(problems, workers=2)
    try:
        assert remote.workers == 2 and remote.size == local.size
        for round_, prices in enumerate([(0.0, 0.0), (-0.3, -2.0), (-0.05, 0.0)]):
            if round_ == 2:
                remote._token = "rebuilt"
            for a, b in zip(remote.price(*prices), local.price(*prices)):
                _proposals_equal(a, b)
    finally:
        remote.close()
        local.close()


def test_spark_run_writes_the_local_plan_byte_for_byte(spark, tmp_path):
    # Forecast fitted per department (4 groups) and the decomposed solve, both on Spark.
    from optimizer.run import run

    config = small_config(tmp_path / "data", forecast={"family": "lognormal", "n_estimators": 10,
                                                       "group_by": "department"},
                          constraints={"capital": {"budget": 523}, "service": {"fill_rate": 0.85}},
                          solver={"decompose": "on"})
    plans = {engine: run(config, out=tmp_path / engine, engine=engine) for engine in ("local", "spark")}
    pd.testing.assert_frame_equal(plans["spark"].forecast, plans["local"].forecast, check_exact=True)
    for name in ("orders.csv", "stock_positions.csv", "report.html"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert plans["local"].kpis["capital"]["shadow_price"] > 0  # the budget binds: rounds moved the price


def test_spark_without_pyspark_is_a_one_line_exit_2(tmp_path, write_config, monkeypatch, capsys):
    # pyspark absent (None in sys.modules is how Python marks a module that cannot be imported).
    from optimizer.cli import main
    from tests.builders import two_echelon
    from tests.test_decompose import ITEMS, STATE

    monkeypatch.setitem(sys.modules, "pyspark", None)
    config = write_config(two_echelon(items=ITEMS, initial_state=STATE))
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("command line: --engine: 'spark' needs pyspark, which is not installed; pip install "
                        "'echelon[spark]' (from a clone: pip install '.[spark]'), or use the local engine")
    assert "Traceback" not in err and not (tmp_path / "o").exists()
    config = write_config(two_echelon(items=ITEMS, initial_state=STATE, solver={"engine": "spark"}), name="s.yaml")
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 2
    assert f"{config}: solver.engine: 'spark' needs pyspark" in capsys.readouterr().err
