"""Where the parallel work of a run happens: local processes, or Apache Spark.

Two stages of a run split into independent pieces of work, and an *engine*
runs them:

- the forecast, fitted per group of series (``forecast.group_by``,
  :class:`forecasts.GroupedForecaster`): the engine's ``map(function,
  arguments)`` returns ``[function(*a) for a in arguments]``, in order;
- the decomposition's rounds (:func:`optimizer.decompose.solve_decomposed`):
  the engine's ``item_pool(problems, workers=..., **options)`` returns a pool
  with the interface of :class:`optimizer.workers.ItemPool` (``price``,
  ``close``, ``size``, ``template_s``, ``workers``), which prices every item
  model each round.

``solver.engine: local`` (the default) is ``None`` here: the forecast groups
run in ``forecast.n_jobs`` spawned processes and the items in
``solver.workers`` (:mod:`optimizer.workers`). ``spark`` is
:class:`optimizer.spark_engine.SparkEngine`, which runs both as
``applyInPandas`` jobs grouped by item group. The plan is the same bytes on
either engine (``tests/test_spark_engine.py``).
"""

from __future__ import annotations

import importlib.util

from optimizer.errors import InputError

__all__ = ["make_engine", "decomposition_options"]


def make_engine(solver, file="config", key="solver.engine"):
    """The engine of a ``solver:`` config block: None (local processes) or a SparkEngine.

    Raises :class:`~optimizer.errors.InputError` (exit code 2), naming ``file``
    and ``key``, when Spark is asked for and pyspark is not installed.
    """
    if solver.engine == "local":
        return None
    if importlib.util.find_spec("pyspark") is None:
        raise InputError(file, key, "'spark' needs pyspark, which is not installed",
                         "pip install 'echelon[spark]' (from a clone: pip install '.[spark]'), or use the local engine")
    from optimizer.spark_engine import SparkEngine

    return SparkEngine(master=solver.spark_master)


def decomposition_options(solver) -> dict:
    """The keyword arguments of :func:`optimizer.decompose.solve_decomposed` a ``solver:`` config
    block sets: HiGHS threads and time limit, worker processes, the engine and the stopping gap."""
    return dict(threads=solver.threads, time_limit=solver.time_limit, workers=solver.workers,
                engine=make_engine(solver), gap=solver.decompose_gap)
