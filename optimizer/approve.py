r"""Approving a nightly run, with the planner's overrides fixed and the rest re-optimised.

``echelon approve RUN_ID --config CONFIG [--overrides FILE.csv] [--by NAME]``.
Without overrides the run's proposed plan is approved as it is. With them,
each row of the CSV (columns ``kind, item, location, value[, reason]``)
becomes a row of the model (:class:`optimizer.model.Problem`):

=========  ============================================  =================================
kind       meaning                                       in the model
=========  ============================================  =================================
order      tonight's order into ``location`` is          :math:`o_{in0} = v`, i.e.
           ``value`` units                               :math:`\sum_{k \in sub(n)} (S_{ik} - IP^0_{ik}) = v`
forbid     no order into ``location`` tonight            :math:`o_{in0} = 0`
target     the target stock position at ``location``     :math:`S_{in} = v`
           is ``value``
=========  ============================================  =================================

and the model is solved again on the run's own scenarios (its stored forecast
table and seed, so nothing is refitted) under the same budget and fill-rate
target: everything not fixed is re-optimised around the overrides. Overrides
the budget cannot carry are infeasible (exit 3, with the diagnosis). The
approved plan is written atomically to ``nightly.approved``; the store records
who approved, when, each override with the value planned before, and the
approved orders, and marks the run approved.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd

from forecasts.distributions import DistributionTable
from optimizer.config import load_config, resolve_path
from optimizer.errors import InfeasibleError, InputError
from optimizer.nightly import checked_inputs, reconcile, utc_now, with_section
from optimizer.outputs import csv_bytes, manifest, sha256_file, to_json, write_outputs
from optimizer.run import solve_plan
from optimizer.runstore import open_store

__all__ = ["approve", "read_overrides", "Approval"]

KINDS = ("order", "forbid", "target")
OVERRIDE_COLUMNS = ["kind", "item", "location", "value", "planned", "reason"]


@dataclasses.dataclass
class Approval:
    """An approved plan: its id in the store, its tables and figures, the overrides, the folder written."""

    approval_id: int
    run_id: int
    orders: pd.DataFrame
    stock_positions: pd.DataFrame
    kpis: dict
    overrides: pd.DataFrame
    out: object


def read_overrides(path, items, nodes) -> pd.DataFrame:
    """The overrides CSV, checked against the plan's items and stock points.

    Raises
    ------
    InputError
        Unreadable file, a missing column, an unknown kind, item or location,
        a value that is not a number >= 0, or two overrides of the same order
        or target; the message names the row.
    """
    try:
        frame = pd.read_csv(path, dtype={"kind": str, "item": str, "location": str})
    except FileNotFoundError:
        raise InputError(path, "--overrides", "file not found", "check the path") from None
    except Exception as exc:  # pandas raises many kinds; all mean "unreadable"
        raise InputError(path, "", f"cannot read as CSV ({str(exc).splitlines()[0]})",
                         "give columns kind, item, location, value[, reason]") from None
    for col in ("kind", "item", "location"):
        if col not in frame.columns:
            raise InputError(path, f"column {col}", "required column is missing",
                             "give columns kind, item, location, value[, reason]")
    if "value" not in frame.columns:
        frame["value"] = np.nan
    if "reason" not in frame.columns:
        frame["reason"] = ""
    seen = {}
    for r, row in enumerate(frame.itertuples(index=False), start=2):
        if row.kind not in KINDS:
            raise InputError(path, f"row {r}, kind", f"unknown kind {row.kind!r}", f"use one of {', '.join(KINDS)}")
        if row.item not in items:
            raise InputError(path, f"row {r}, item", f"item {row.item!r} is not in the plan", "use an item of the run")
        if row.location not in nodes:
            raise InputError(path, f"row {r}, location", f"{row.location!r} is not a dc or store of the network",
                             "use the id of the stock point the order goes to, or whose target it is")
        value = 0.0 if row.kind == "forbid" else pd.to_numeric(pd.Series([row.value]), errors="coerce").iloc[0]
        if not np.isfinite(value) or value < 0:
            raise InputError(path, f"row {r}, value", f"must be a number >= 0 for {row.kind}, received {row.value!r}",
                             "give the quantity (order) or the target position (target)")
        key = ("target" if row.kind == "target" else "order", row.item, row.location)
        if key in seen:
            raise InputError(path, f"row {r}", f"a second {key[0]} override for {row.item} at {row.location} "
                             f"(first on row {seen[key]})", "keep one row per order or target")
        seen[key] = r
        frame.loc[r - 2, "value"] = value
    frame["reason"] = frame["reason"].fillna("").astype(str)
    return frame[["kind", "item", "location", "value", "reason"]].reset_index(drop=True)


def _fixed(overrides: pd.DataFrame, items, nodes) -> dict:
    """``fixed_order`` and ``fixed_target`` (I, N) arrays, NaN where free."""
    shape = (len(items), len(nodes))
    order, target = np.full(shape, np.nan), np.full(shape, np.nan)
    for o in overrides.itertuples(index=False):
        arr = target if o.kind == "target" else order
        arr[items.index(o.item), nodes.index(o.location)] = o.value
    return {"fixed_order": order, "fixed_target": target}


def _planned(overrides, orders: pd.DataFrame, positions: pd.DataFrame) -> list[float]:
    """The run's value of each overridden order or target (0 for an order it did not place)."""
    out = []
    for o in overrides.itertuples(index=False):
        if o.kind == "target":
            hit = positions[(positions["item"] == o.item) & (positions["location"] == o.location)]
            out.append(float(hit["target_position"].sum()))
        else:
            hit = orders[(orders["item"] == o.item) & (orders["destination"] == o.location)]
            out.append(float(hit["quantity"].sum()))
    return out


def approve(config_path, run_id: int, overrides_path=None, *, by: str, mode: str = "manual") -> Approval:
    """Approve run ``run_id`` of the config's store (see the module docstring).

    Raises
    ------
    InputError
        Unknown or failed run, config or data changed since the run, bad overrides (exit 2).
    InfeasibleError
        The overrides cannot be met within the budget and fill-rate target (exit 3).
    """
    config = load_config(config_path)
    with open_store(config_path, config) as store:
        reconcile(resolve_path(config_path, config.nightly.out), store)  # a run killed after its commit
        run = store.run(run_id)
        if run["status"] == "failed":
            raise InputError(store.path, "RUN_ID", f"run {run_id} failed ({run['message'].splitlines()[0]})",
                             "approve a run whose status is proposed")
        if run["config_sha256"] != sha256_file(config_path):
            raise InputError(config_path, "", f"the config changed since run {run_id} was planned",
                             "approve with the config the run used, or rerun echelon nightly")
        orders, positions = store.table("orders", run_id=run_id), store.table("stock_positions", run_id=run_id)
        overrides = pd.DataFrame(columns=OVERRIDE_COLUMNS)
        kpis = run["kpis"]
        if overrides_path is not None:
            config = with_section(config, "history", as_of=pd.Timestamp(run["as_of"]).date())
            config, inputs, _, (on_hand, pipeline, state_files) = checked_inputs(config, config_path)
            hashes = {str(p): sha256_file(p) for p in inputs.data_files + state_files}
            if hashes != json.loads(run["data_sha256"]):
                raise InputError(config_path, "history", f"the data changed since run {run_id} was planned",
                                 "rerun echelon nightly for this as-of date and approve the new run")
            items, nodes = list(inputs.items), list(inputs.network.nodes)
            overrides = read_overrides(overrides_path, items, nodes)
            overrides["planned"] = _planned(overrides, orders, positions)
            table = DistributionTable(pd.read_csv(io.StringIO(store.forecast_csv(run_id)),
                                                  dtype={"item": str, "location": str}))
            try:
                solved = solve_plan(config, config_path, inputs, table, kpis.get("period_dates"), on_hand,
                                    pipeline, int(run["seed"]), {}, **_fixed(overrides, items, nodes))
            except InfeasibleError as exc:  # the diagnosis counts the fixed orders as today's commitments
                raise InfeasibleError(f"{overrides_path}: the overrides cannot be met: {exc}; change or drop some",
                                      exc.diagnosis) from None
            orders, positions, kpis = solved.plan.orders, solved.plan.stock_positions, solved.plan.kpis
        at = utc_now()
        overrides = overrides.assign(changed_by=by, changed_at=at)[OVERRIDE_COLUMNS + ["changed_by", "changed_at"]]
        kpis = {**kpis, "run_id": int(run_id), "approved_by": by, "approved_at": at, "overrides": len(overrides)}
        out = resolve_path(config_path, config.nightly.approved)
        write_outputs(out, {
            "orders.csv": csv_bytes(orders),
            "stock_positions.csv": csv_bytes(positions),
            "kpis.json": to_json(kpis).encode(),
            "overrides.csv": csv_bytes(overrides),
            "manifest.json": manifest(config_path, run_id=int(run_id), approved_by=by, approved_at=at, mode=mode,
                                      config_sha256=run["config_sha256"]),
        })
        approval_id = store.record_approval(
            {"run_id": int(run_id), "approved_by": by, "approved_at": at, "mode": mode, "overrides": len(overrides),
             "kpis_json": to_json(kpis), "out_dir": str(out)},
            overrides, orders)
    return Approval(approval_id, int(run_id), orders, positions, kpis, overrides, out)
