"""Numbers the solver cannot be trusted with: found before the solve, reported in the planner's terms.

HiGHS works to absolute tolerances (primal and dual feasibility ``1e-7``) in
double precision, so three kinds of input give a plan that looks optimal and
is not:

* **Demand** that is not finite (a forecast or table with NaN, an overflowing
  lognormal) or above :data:`QUANTITY_LIMIT` units per item x store x period:
  there the 1e-7 tolerance is below double precision, and HiGHS reads values
  of 1e20 and more as infinite bounds.
* **Costs** spanning more than :data:`COST_RANGE` (ratio of the largest to the
  smallest non-zero holding, shortage or lane cost). The objective is scaled so
  its largest coefficient is about 1 (:func:`optimizer.solver.cost_scale`);
  a cost below ``1 / COST_RANGE`` of it is then within ten times the dual
  tolerance and HiGHS ignores it. Measured: an item with holding 1e-6 and
  shortage 2e-6 next to one with 1e6 and 3e6 got a target 0.67 units off its
  critical fractile, silently.
* **Size**: a model of ``S x I x N x T`` cells needs about
  :data:`BYTES_PER_CELL` bytes (measured: 240,000 cells, 2.0 GB peak; the bundled
  M5 run, 203,840 cells, 1.66 GB against 1.75 estimated); one that
  would not fit in the machine's memory is refused before it is built. The
  decomposed solve (``solver.decompose: on``, or ``auto`` with several items)
  never builds it: it needs :data:`BYTES_PER_CELL_DECOMPOSED` per cell (scenario
  arrays, the replay, the item data its workers keep; measured end to end, all
  processes: 269 bytes per cell at 1,000 items, 242 at 2,000) plus one item's
  model per worker.
"""

from __future__ import annotations

import os

import numpy as np

from optimizer.errors import InputError, ResourceError

__all__ = ["BYTES_PER_CELL", "BYTES_PER_CELL_DECOMPOSED", "COST_RANGE", "QUANTITY_LIMIT", "check_costs", "check_demand", "check_size"]

#: Largest quantity (units per item x node x period) the plan is computed with.
QUANTITY_LIMIT = 1e8
#: Widest ratio of the largest to the smallest non-zero cost in one model.
COST_RANGE = 1e6
#: Peak memory per scenario x item x stock point x period cell of the model.
BYTES_PER_CELL = 8_600
#: Peak memory per cell of the decomposed solve, all processes, besides one item model per worker
#: (measured: the main process's stages 108 bytes per cell at 1,000 items, ``benchmarks/stages.py``;
#: the item data workers keep, 133; rounded up).
BYTES_PER_CELL_DECOMPOSED = 400


def check_demand(demand: np.ndarray, items, stores, source: str, key: str) -> None:
    """Scenario demand ``(S, I, J, T)`` finite, >= 0 and at most :data:`QUANTITY_LIMIT`.

    ``source`` and ``key`` name where the demand came from (the config and
    ``demand.distribution``, the table file, or the history forecast).
    """
    bad = ~np.isfinite(demand) | (demand > QUANTITY_LIMIT) | (demand < 0)
    if not bad.any():
        return
    s, i, j, t = (int(v[0]) for v in np.nonzero(bad))
    value = demand[s, i, j, t]
    raise InputError(
        source, key,
        f"item {items[i]!r} at {stores[j]!r} in period {t} gives scenario demand {value:g}, "
        f"which is not a number between 0 and {QUANTITY_LIMIT:g}",
        "check that distribution's parameters (its spread, or NaN values)",
    )


def check_costs(holding: np.ndarray, shortage: np.ndarray, lane_cost: np.ndarray, items, nodes, file: str) -> None:
    """Non-zero costs within a factor :data:`COST_RANGE` of each other."""
    labels, values = [], []
    for i, item in enumerate(items):
        labels.append(f"shortage cost {shortage[i]:g} of item {item!r}")
        values.append(shortage[i])
        for n, node in enumerate(nodes):
            labels.append(f"holding cost {holding[i, n]:g} of item {item!r} at {node!r}")
            values.append(holding[i, n])
    for n, node in enumerate(nodes):
        labels.append(f"lane cost {lane_cost[n]:g} into {node!r}")
        values.append(lane_cost[n])
    values = np.abs(np.asarray(values, float))
    positive = np.flatnonzero(values > 0)
    if not len(positive):
        return
    lo, hi = positive[np.argmin(values[positive])], positive[np.argmax(values[positive])]
    if values[hi] > COST_RANGE * values[lo]:
        raise InputError(
            file, "items",
            f"costs span {values[hi] / values[lo]:.0e} (the {labels[lo]} to the {labels[hi]}), more than "
            f"{COST_RANGE:.0e}: the solver would ignore the smaller",
            f"state costs in units that keep them within {COST_RANGE:.0e} of each other, "
            "or set negligible ones to 0",
        )


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(scenarios: int, items: int, nodes: int, periods: int, file: str, *, item_workers: int = 0,
               decomposable: bool = True) -> None:
    """Refuse a model whose estimated memory exceeds the machine's (exit code 5).

    ``item_workers``: processes of the decomposed solve, each holding one item's model at a
    time (0: the whole model is built). ``decomposable``: whether the message may suggest
    ``solver.decompose: on`` instead.
    """
    cells = scenarios * items * nodes * periods
    need = cells * BYTES_PER_CELL
    if item_workers:
        need = cells * BYTES_PER_CELL_DECOMPOSED + item_workers * (cells // max(items, 1)) * BYTES_PER_CELL
    have = _physical_memory()
    if have is not None and need > have:
        raise ResourceError(
            f"{file}: the model has {scenarios:,} scenarios x {items:,} items x {nodes:,} stock points x "
            f"{periods:,} periods = {cells:,} cells, about {need / 2**30:,.0f} GiB, more than this machine's "
            f"{have / 2**30:,.0f} GiB; lower scenarios.count or periods"
            + ("" if item_workers or not decomposable
               else ", or set solver.decompose: on (item by item, never the whole model)")
        )
