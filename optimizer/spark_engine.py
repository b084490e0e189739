r"""The grouped forecast fit and the decomposition's rounds on Apache Spark.

Both are maps over groups, and each map is one Spark job: a DataFrame with
one row per group (``key``, ``payload``: the group's work, pickled), grouped
by ``key`` and passed through ``applyInPandas``, whose function does the work
and returns its pickled result; the driver puts the results back in key
order (:func:`grouped_map`).

*Forecast* (:meth:`SparkEngine.map`): a group is a value of
``forecast.group_by``; its payload is the fit function with the group's
history rows, and its result the fitted model.

*Decomposition* (:class:`SparkItemPool`): items are dealt round-robin to
:math:`G` item groups (item :math:`i` to group :math:`i \bmod G`). The item
problems go to the executors once, as a broadcast variable. Each round sends
one row per group: the prices :math:`(\lambda, \mu, \nu)` and the last
optimal basis of each of its items; each returns its items' proposals (the
plan's figures, :class:`~optimizer.item_models.Proposal`) and their new
bases. So every item's solve starts from the basis it starts from on the
local engine (its own last one, or the reference item's), whichever Python
worker runs it, and the plan is the same bytes. A Python worker keeps the
item models it built (an :class:`~optimizer.item_models.ItemSolver`: one
Pyomo model per shape compiled into HiGHS) for the pool and group, so a
group that lands on the same worker in a later round builds nothing; one
that lands elsewhere is rebuilt there, a cost but no change to the plan.

Results travel as pickles between the driver and its own executors, as they
do between :mod:`optimizer.workers`' processes; nothing is stored.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import uuid
from collections import OrderedDict

import highspy
import numpy as np
import pandas as pd

from optimizer.item_models import ItemSolver, Proposal

__all__ = ["SparkEngine", "SparkItemPool", "grouped_map"]

_SCHEMA_IN = "key long, payload binary"
_SCHEMA_OUT = "key long, result binary"
_CACHE: OrderedDict = OrderedDict()  # (pool token, group) -> ItemSolver, in this Python worker
_CACHE_SIZE = 16  # item groups a Python worker keeps built, least recently used dropped first


def grouped_map(spark, function, payloads: list[bytes]) -> list[bytes]:
    """``[function(p) for p in payloads]`` as one ``applyInPandas`` job, one group per payload.

    ``function`` (bytes -> bytes) runs on the executors. One shuffle
    partition per group (and no coalescing) lets the groups run in parallel.
    """
    spark.conf.set("spark.sql.shuffle.partitions", str(max(1, len(payloads))))
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    frame = spark.createDataFrame([(k, p) for k, p in enumerate(payloads)], _SCHEMA_IN)

    def apply(group: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"key": group["key"], "result": [function(bytes(p)) for p in group["payload"]]})

    rows = frame.groupBy("key").applyInPandas(apply, _SCHEMA_OUT).collect()
    return [bytes(r.result) for r in sorted(rows, key=lambda r: r.key)]


def _call(payload: bytes) -> bytes:
    """Run a pickled ``(function, arguments)``; its result, pickled."""
    function, arguments = pickle.loads(payload)
    return pickle.dumps(function(*arguments), protocol=pickle.HIGHEST_PROTOCOL)


def _encode(basis) -> tuple | None:
    """A HiGHS basis as two int8 arrays (column and row statuses), or None."""
    if basis is None:
        return None
    return tuple(np.array([int(s) for s in v], dtype=np.int8) for v in (basis.col_status, basis.row_status))


def _decode(code):
    """The ``highspy.HighsBasis`` of :func:`_encode`'s arrays, or None."""
    if code is None:
        return None
    basis = highspy.HighsBasis()
    basis.col_status, basis.row_status = ([highspy.HighsBasisStatus(int(s)) for s in v] for v in code)
    basis.valid = True
    return basis


def _serve_group(data, payload: bytes) -> bytes:
    """One item group's answer on an executor: its models' size when built, or its proposals.

    ``data`` is the pool's broadcast (token, problems per group, links per
    group, reference problem, options); ``payload`` the pickled (token,
    group, prices or None, bases).
    """
    token, group, prices, bases = pickle.loads(payload)
    solver = _CACHE.get((token, group))
    if solver is None:
        _, problems, links, reference, options = data.value
        solver = ItemSolver(problems[group], links=links[group], reference=reference, **options)
        _CACHE[(token, group)] = solver
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end((token, group))
    if prices is None:
        return pickle.dumps((solver.template_s, solver.size))
    for item, codes in zip(solver.items, bases):  # an item's bases: one per part (its subtrees)
        for (part, _), code in zip(item.parts, codes or [None] * len(item.parts)):
            part.basis = _decode(code)
    proposals = solver.price(*prices)
    return pickle.dumps((proposals, [[_encode(part.basis) for part, _ in item.parts] for item in solver.items]),
                        protocol=pickle.HIGHEST_PROTOCOL)


class SparkItemPool:
    """The item models of a problem, priced on Spark (the interface of :class:`~optimizer.workers.ItemPool`).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    problems : list of Problem
        One-item problems, in item order.
    groups : int
        Item groups (at most one per item); each round runs one Spark task per group.
    links : list of scipy.sparse matrix, optional
        Each item's part of the linking rows.
    **options
        Passed to :class:`~optimizer.item_models.ItemSolver` (keep_x, threads,
        time_limit, objective).

    Attributes
    ----------
    workers : int
        Item groups.
    template_s : float
        Seconds building shape templates when the pool was made (summed over groups).
    size : tuple of int
        Columns and rows of the item models together.
    """

    def __init__(self, spark, problems, *, groups: int, links=None, **options):
        self.n_items = len(problems)
        self.workers = g = max(1, min(int(groups), self.n_items))
        self._spark = spark
        self._token = uuid.uuid4().hex
        self._data = spark.sparkContext.broadcast((
            self._token, [problems[k::g] for k in range(g)],
            [None if links is None else links[k::g] for k in range(g)], problems[0], options))
        self._bases = [None] * self.n_items
        answers = self._round(None)
        self.template_s = sum(s for s, _ in answers)
        self.size = tuple(int(sum(size[k] for _, size in answers)) for k in range(2))

    def _round(self, prices) -> list:
        g = self.workers
        payloads = [pickle.dumps((self._token, k, prices, self._bases[k::g]), protocol=pickle.HIGHEST_PROTOCOL)
                    for k in range(g)]
        return [pickle.loads(r) for r in grouped_map(self._spark, functools.partial(_serve_group, self._data),
                                                     payloads)]

    def price(self, lam: float, mu: float, nu=None) -> list[Proposal | str]:
        """Every item's proposal at prices (lam, mu) and nu (linking rows), in item order."""
        g = self.workers
        out = [None] * self.n_items
        for k, (proposals, bases) in enumerate(self._round((lam, mu, nu))):
            out[k::g] = proposals
            self._bases[k::g] = bases
        return out

    def close(self) -> None:
        """Release the broadcast problems (idempotent)."""
        if self._data is not None:
            self._data.unpersist()
            self._data = None


class SparkEngine:
    """Runs the grouped forecast fit and the decomposition on Spark (see module docstring).

    Parameters
    ----------
    master : str, optional
        Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``,
        ``k8s://...``); default: the ``--master`` of ``PYSPARK_SUBMIT_ARGS``
        or ``spark-defaults.conf``, else ``local[*]``. A running session is
        used as it is.
    """

    def __init__(self, master: str | None = None):
        self.master = master

    @property
    def session(self):
        """The active SparkSession, or a new one on ``master``."""
        from pyspark.sql import SparkSession

        local = self.master.startswith("local") if self.master else "PYSPARK_SUBMIT_ARGS" not in os.environ
        if local:  # Python workers run this interpreter (pyspark's default: `python3` on PATH)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("echelon").config("spark.ui.showConsoleProgress", "false")
        if self.master is not None:
            builder = builder.master(self.master)
        return builder.getOrCreate()

    def map(self, function, arguments) -> list:
        """``[function(*a) for a in arguments]``, one Spark group per ``a``, in order."""
        payloads = [pickle.dumps((function, tuple(a)), protocol=pickle.HIGHEST_PROTOCOL) for a in arguments]
        return [pickle.loads(r) for r in grouped_map(self.session, _call, payloads)]

    def item_pool(self, problems, *, workers: int = 1, **options) -> SparkItemPool:
        """A :class:`SparkItemPool`: ``workers`` item groups, or Spark's default parallelism when 1."""
        spark = self.session
        groups = workers if workers > 1 else spark.sparkContext.defaultParallelism
        return SparkItemPool(spark, problems, groups=groups, **options)
