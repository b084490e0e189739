"""The nightly job: history checked, forecast, plan, exceptions, supplier feeds, all recorded.

``echelon nightly CONFIG [--as-of DATE] [--time-limit S] [--auto-approve]``:

1. read the raw history up to the as-of date (default: its last date) and
   run the data-quality checks (:mod:`optimizer.quality`); fatal findings stop
   the run (exit 2, the list on stderr), warnings go into the run;
2. forecast, sample scenarios, solve (:func:`optimizer.run.solve_plan`);
   ``--time-limit`` bounds the whole job: the solver gets what is left and
   returns the best plan found when it runs out (status ``time_limit``);
3. rank the exceptions (:mod:`optimizer.exceptions`) against the last plan and
   the classical base-stock orders; build the supplier feeds
   (:mod:`optimizer.supplier_feed`);
4. in **one** run-store transaction (:mod:`optimizer.runstore`): replace the
   as-of date's earlier run, insert this one, and, still inside it, write every
   file of the output folder ``nightly.out`` into a temporary folder beside it
   (:func:`optimizer.outputs.stage_outputs`); commit; then rename the folder
   into place (:func:`optimizer.outputs.publish_outputs`). A process killed
   before the commit leaves the store and the folder as the last good run
   left them. Killed after the commit and before the renames, the run is in
   the store and its complete folder beside ``nightly.out``: the next
   ``echelon nightly`` or ``echelon approve`` of the config puts it in place
   first (:func:`reconcile`), so the folder never names a run the store lacks
   and a committed run's files are never lost.
5. with ``--auto-approve``, approve the plan when no exception has more money
   at stake than ``nightly.auto_approve_below``; otherwise its orders are a
   proposal until ``echelon approve``.

Test hook: with the environment variable ``ECHELON_TEST_PAUSE=POINT:FILE``
(POINT one of ``forecast``, ``solve``, ``write``, ``commit``: after the
store's commit, before the renames), the job creates FILE and
sleeps when it reaches POINT, so a test can ``kill -9`` it exactly there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import os
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from optimizer.config import Config, load_config, resolve_path
from optimizer.errors import EchelonError, InputError, TimeLimitError
from optimizer.exceptions import rank_exceptions
from optimizer.inputs import initial_state, prepare, read_input_csv
from optimizer.logs import event
from optimizer.outputs import (csv_bytes, manifest, publish_outputs, recover_outputs, sha256_file, stage_outputs,
                               to_json)
from optimizer.quality import check_history, check_state, findings_frame
from optimizer.run import forecast_demand, report_html, solve_plan
from optimizer.runstore import open_store
from optimizer.supplier_feed import supplier_feeds

__all__ = ["nightly", "NightlyResult", "PAUSE_ENV", "reconcile"]

PAUSE_ENV = "ECHELON_TEST_PAUSE"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def checkpoint(point: str) -> None:
    """Pause here when ``ECHELON_TEST_PAUSE`` names this point (tests only; see the module docstring)."""
    spec = os.environ.get(PAUSE_ENV, "")
    name, _, marker = spec.partition(":")
    if name == point and marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(3600)


@dataclasses.dataclass
class NightlyResult:
    """What one nightly run produced (its files are in ``out``)."""

    run_id: int
    as_of: str
    status: str  # "proposed" or "approved"
    plan: object
    exceptions: pd.DataFrame
    quality: pd.DataFrame
    feeds: dict
    out: Path
    timings: dict


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    version = metadata.version("echelon")
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, timeout=5,
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def with_section(config: Config, section: str, **values) -> Config:
    return config.model_copy(update={section: getattr(config, section).model_copy(update=values)})


def read_raw_history(config: Config, config_path) -> tuple[pd.DataFrame, Path]:
    """The history file as written (nothing parsed but item and location as text)."""
    path = resolve_path(config_path, config.history.path)
    if not path.is_file():
        raise InputError(config_path, "history.path", f"file not found: {path}", "fix the path")
    try:
        return pd.read_csv(path, dtype={"item": str, "location": str}), path
    except Exception as exc:  # pandas raises many kinds; all mean "unreadable"
        raise InputError(path, "", f"cannot read as CSV ({str(exc).splitlines()[0]})",
                         "give a comma-separated file with a header row") from None


def checked_inputs(config: Config, config_path):
    """History read and checked (:mod:`optimizer.quality`), inputs prepared: (config, inputs, findings, state)."""
    raw, hpath = read_raw_history(config, config_path)
    missing = [c for c in ("item", "location", "date", "quantity") if c not in raw.columns]
    if missing:
        raise InputError(hpath, f"column {missing[0]}", "required column is missing",
                         "give columns item, location, date, quantity")
    stores = tuple(n.id for n in config.network.nodes if n.kind == "store")
    priced = tuple(i.id for i in config.items) if config.economics is None else None
    clean, findings = check_history(raw, stores, config.history.as_of, items=priced, file=hpath)
    if config.history.as_of is None:
        config = with_section(config, "history", as_of=clean["date"].max().date())
    inputs = prepare(config, config_path, history=clean)
    state = None
    if config.initial_state.path is not None:
        path = resolve_path(config_path, config.initial_state.path)
        state, more = check_state(read_input_csv(path, "initial_state.path", str(config_path)), inputs.items,
                                  inputs.network.nodes, file=path)
        findings += more
    on_hand, pipeline, state_files = initial_state(config, config_path, inputs, state)
    return config, inputs, findings_frame(findings), (on_hand, pipeline, state_files)


def _run_row(config_path, as_of, seed, started) -> dict:
    return {"as_of": as_of, "started_at": started, "config_file": str(config_path),
            "config_sha256": sha256_file(config_path), "code_version": code_version(), "seed": seed}


def nightly(config_path, *, as_of=None, time_limit: float | None = None, auto_approve: bool = False,
            seed: int | None = None) -> NightlyResult:
    """Run the nightly job (see the module docstring) and return what it produced.

    Parameters
    ----------
    config_path : str or Path
        Scenario YAML with ``history:`` (and optionally ``nightly:``).
    as_of : date-like, optional
        Plan as of this date (overrides ``history.as_of``; default: the last date in the history).
    time_limit : float, optional
        Seconds for the whole job; the solver gets what is left when it starts.
    auto_approve : bool, default=False
        Approve when no exception has more money at stake than ``nightly.auto_approve_below``.
    seed : int, optional
        Overrides ``scenarios.seed``.

    Raises
    ------
    InputError, QualityError, InfeasibleError, TimeLimitError
        Exit codes 2, 2, 3 and 4; the failure is recorded in the run store.
    """
    start, started = time.perf_counter(), utc_now()
    config = load_config(config_path)
    if config.history is None:
        raise InputError(config_path, "history", "the nightly job forecasts from a sales history",
                         "add history: {path: ...} (explicit demand: is for echelon run)")
    if as_of is not None:
        config = with_section(config, "history", as_of=pd.Timestamp(as_of).date())
    seed = config.scenarios.seed if seed is None else int(seed)
    for node in config.network.nodes:
        if not _SAFE_ID.match(node.id):
            raise InputError(config_path, "network.nodes", f"id {node.id!r} cannot name a file",
                             "use letters, digits, '_', '.' and '-' in node ids")
    out = resolve_path(config_path, config.nightly.out)
    store = open_store(config_path, config)
    try:
        reconcile(out, store)
    except BaseException:
        store.close()
        raise
    row = _run_row(config_path, str(config.history.as_of or ""), seed, started)
    try:
        return _nightly(config, config_path, store, out, row, start, time_limit, auto_approve)
    except EchelonError as exc:
        store.record_failure({**row, "as_of": row["as_of"] or "unknown", "status": "failed",
                              "exit_code": exc.exit_code, "message": str(exc), "finished_at": utc_now()})
        event("run failed", level=40, exit_code=exc.exit_code, message=str(exc).splitlines()[0])
        raise
    finally:
        store.close()


def _nightly(config, config_path, store, out, row, start, time_limit, auto_approve) -> NightlyResult:
    timings = {}
    seed = row["seed"]
    config, inputs, quality, (on_hand, pipeline, state_files) = checked_inputs(config, config_path)
    as_of = inputs.as_of.date().isoformat()
    row["as_of"] = as_of
    timings["load"] = time.perf_counter() - start
    event("history checked", as_of=as_of, warnings=len(quality), seconds=round(timings["load"], 2))

    checkpoint("forecast")
    t = time.perf_counter()
    table, period_dates = forecast_demand(config, inputs, seed)
    timings["forecast"] = time.perf_counter() - t
    event("forecast", series=len(inputs.items) * len(inputs.stores), seconds=round(timings["forecast"], 2))

    checkpoint("solve")
    if time_limit is not None:
        left = time_limit - (time.perf_counter() - start)
        if left <= 0:
            raise TimeLimitError(f"the time limit of {time_limit:g} s ran out before the solve "
                                 f"(forecast took {timings['forecast']:.0f} s); raise --time-limit")
        config = with_section(config, "solver", time_limit=left)
    solved = solve_plan(config, config_path, inputs, table, period_dates, on_hand, pipeline, seed, timings,
                        solution=True)
    plan = solved.plan
    if plan.kpis["status"] == "time_limit":
        event("time limit reached: this is the best plan found, not proven optimal", level=30,
              time_limit_s=config.solver.time_limit)
    event("plan", status=plan.kpis["status"], lines=len(plan.orders), value=round(plan.kpis["orders_value"], 2),
          expected_cost=round(plan.kpis["expected_cost"], 2))

    last = store.previous_good_run(as_of)
    exceptions = rank_exceptions(solved.problem, solved.built, solved.x, findings=quality, kpis=plan.kpis,
                                 last_orders=None if last is None else store.table("orders", run_id=last))
    feeds = supplier_feeds(solved.problem, solved.built, solved.x, bucket=config.nightly.feed_bucket,
                           period_dates=period_dates)
    data_files = inputs.data_files + state_files
    plan.kpis.update(quality={c: int((quality["check_name"] == c).sum()) for c in sorted(set(quality["check_name"]))},
                     exceptions=len(exceptions))
    row.update(data_sha256=to_json({str(p): sha256_file(p) for p in data_files}), status="proposed", exit_code=0,
               kpis_json=to_json(plan.kpis), out_dir=str(out))

    t = time.perf_counter()
    tables = {"orders": plan.orders, "stock_positions": plan.stock_positions, "exceptions": exceptions,
              "quality": quality}
    timings["total"] = time.perf_counter() - start
    row.update(timings_json=to_json(timings), finished_at=utc_now())
    with store.recording(row, tables, table.frame.to_csv(index=False, lineterminator="\n")) as (run_id, commit):
        files = nightly_files(plan, exceptions, quality, feeds, run_id, as_of)
        files["report.html"] = report_html(plan, config_path, seed, exceptions=exceptions)
        files["manifest.json"] = manifest(config_path, config, seed=seed, timings=timings, data_files=data_files,
                                          run_id=run_id, as_of=as_of, code_version=row["code_version"])
        staged = stage_outputs(out, files)
        checkpoint("write")
        commit()
        checkpoint("commit")
        publish_outputs(staged, out)
    timings["write"] = time.perf_counter() - t
    event("run recorded", run_id=run_id, exceptions=len(exceptions), out=str(out),
          seconds=round(time.perf_counter() - start, 2))
    status = "proposed"
    if auto_approve:
        top = float(exceptions["money_at_stake"].max()) if len(exceptions) else 0.0
        if top <= config.nightly.auto_approve_below:
            from optimizer.approve import approve

            approve(config_path, run_id, None, by="auto", mode="auto")
            status = "approved"
        else:
            event("not auto-approved", largest_money_at_stake=top, threshold=config.nightly.auto_approve_below)
    return NightlyResult(run_id, as_of, status, plan, exceptions, quality, feeds, out, timings)


def reconcile(out, store) -> None:
    """Make the output folder ``out`` agree with the run store after a killed run.

    A run killed after its commit and before its folder's renames left its
    complete folder beside ``out`` (``.NAME.tmp-PID-*``): it is put in place
    when the store holds its run id and that id is newer than the one ``out``
    holds. What a run killed earlier left is removed, and an earlier folder
    moved aside is put back (:func:`optimizer.outputs.recover_outputs`).
    """
    committed = store.run_ids()
    try:
        current = json.loads((Path(out) / "manifest.json").read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        current = -1
    recover_outputs(out, keep=lambda m: m.get("run_id") in committed and m["run_id"] > current)


def nightly_files(plan, exceptions, quality, feeds, run_id, as_of) -> dict[str, bytes]:
    """The output folder's files but the manifest: plan, exceptions, quality, supplier feeds."""
    files = {
        "orders.csv": csv_bytes(plan.orders),
        "stock_positions.csv": csv_bytes(plan.stock_positions),
        "kpis.json": to_json({**plan.kpis, "run_id": run_id}).encode(),
        "exceptions.csv": csv_bytes(exceptions),
        "quality.csv": csv_bytes(quality),
    }
    for supplier, feed in feeds.items():
        files[f"supplier_{supplier}.csv"] = csv_bytes(feed["lines"])
        files[f"supplier_{supplier}.json"] = to_json({
            "supplier": supplier, "run_id": run_id, "as_of": as_of, "bullwhip_ratio": feed["bullwhip_ratio"],
            "lines": feed["lines"].to_dict("records"),
        }).encode()
    return files


def summary(result: NightlyResult, seconds: float) -> str:
    """What the command prints: the run, its plan, the top exceptions, the quality warnings."""
    k = result.plan.kpis
    lines = [
        f"run {result.run_id} as of {result.as_of}: {result.status} ({k['status']}), written to {result.out} "
        f"in {seconds:.1f} s",
        *(["  time limit reached: this is the best plan found, not proven optimal"] if k["status"] == "time_limit"
          else []),
        f"  tonight's orders   {len(result.plan.orders)} lines, value {k['orders_value']:,.2f}",
        f"  fill rate          {k['service']['expected_fill_rate']:.4f}, capital used {k['capital']['used']:,.2f}",
        f"  data quality       {len(result.quality)} warning(s)"
        + "".join(f", {n} {c}" for c, n in result.quality["check_name"].value_counts().sort_index().items()),
        f"  exceptions         {len(result.exceptions)}, by money at stake:",
    ]
    for r in result.exceptions.head(5).itertuples(index=False):
        lines.append(f"    {r.rank}. {r.money_at_stake:>10,.2f}  {r.kind:<20} {r.item} @ {r.location}: {r.why}")
    lines.append("  supplier feeds     " + ", ".join(f"supplier_{s}.csv" for s in result.feeds))
    if result.status == "proposed":
        lines.append(f"  approve with       echelon approve {result.run_id} --config CONFIG [--overrides FILE.csv]")
    return "\n".join(lines)
