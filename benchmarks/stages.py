"""Time every stage of ``echelon run`` other than the item solves, on a synthetic catalogue.

    python benchmarks/stages.py --items 1000 [--dcs 3 --stores-per-dc 10 --periods 8 --scenarios 100] \\
        [--days 84] [--train-periods 28] [--iterations 50] [--eval-scenarios 200] [--seed 1] \\
        [--profile STAGE ... [--profile-top 25]] [--json FILE] [--keep DIR]

Writes the synthetic history and config of ``benchmarks/end_to_end.py`` at
``--items`` items (one supplier -> ``--dcs`` DCs -> ``--stores-per-dc`` stores
each, negative-binomial sales, 95% fill-rate target, a capital budget) and
runs the stages of :func:`optimizer.run.run` one by one, calling the functions
it calls:

* ``load``: ``load_config``, ``prepare`` (history read and checked) and ``initial_state``;
* ``forecast``: ``forecast_demand`` (NGBoost fit and predict);
* ``scenarios``: ``sample_scenarios`` (``--scenarios`` Latin-hypercube paths);
* ``assemble``: ``make_problem`` and ``check_demand`` (the problem handed to the solve);
* ``extract``: ``assemble_plan``, ``forecast_frame`` and ``recent_sales``;
* ``evaluate``: ``evaluate`` (replay on ``--eval-scenarios`` fresh scenarios) and
  ``stock_percentiles``;
* ``write``: ``csv_bytes``, ``to_json``, ``report_html`` and the atomic write.

The solve is not run: the stages after it need a plan of the right shape, and
this script uses a **base-stock plan** instead (not timed): each stock point's
target position is the 95% quantile over the solved scenarios of its subtree's
store demand over its lead time plus one period, tonight's orders bring every
position up to it, a DC ships its stores' orders fair share within its stock,
and the plan's figures (expected shortages, capital, cost) come from replaying
it on the solved scenarios (:func:`optimizer.simulate.simulate_policy`).

For each stage it prints wall and CPU seconds (this process and its finished
child processes) and the peak resident memory of this process while the
stage ran (sampled every 20 ms), and with ``--json`` writes them
(``<stage>_s``, ``<stage>_cpu_s``, ``<stage>_rss_mb``). ``--profile STAGE``
runs those stages under cProfile and prints their top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.end_to_end import catalogue_arguments, write_inputs  # noqa: E402
from benchmarks.run import cpu_seconds, report  # noqa: E402
from optimizer.config import load_config  # noqa: E402
from optimizer.forecast_commands import scenario_copula  # noqa: E402
from optimizer.inputs import initial_state, prepare  # noqa: E402
from optimizer.numerics import check_demand  # noqa: E402
from optimizer.outputs import csv_bytes, to_json  # noqa: E402
from optimizer.plan import PlanFigures, assemble_plan  # noqa: E402
from optimizer.report import forecast_frame, recent_sales  # noqa: E402
from optimizer.run import _demand_source, _write, evaluate, forecast_demand, make_problem, report_html  # noqa: E402
from optimizer.simulate import simulate_policy, stock_percentiles  # noqa: E402
from scenarios import sample_scenarios  # noqa: E402

STAGES = ("load", "forecast", "scenarios", "assemble", "extract", "evaluate", "write")


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Timer:
    """Wall, CPU seconds and sampled peak RSS of each stage, into ``figures``."""

    def __init__(self, profile=(), top: int = 25):
        self.figures: dict = {}
        self.profile, self.top = set(profile), top

    @contextmanager
    def stage(self, name: str):
        peak = [_rss_mb()]
        done = threading.Event()

        def sample():
            while not done.wait(0.02):
                peak[0] = max(peak[0], _rss_mb())

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        profiler = cProfile.Profile() if name in self.profile else None
        c0, t0 = cpu_seconds(), time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            yield
        finally:
            if profiler:
                profiler.disable()
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            done.set()
            watcher.join()
            peak[0] = max(peak[0], _rss_mb())
            self.figures.update({f"{name}_s": wall, f"{name}_cpu_s": cpu, f"{name}_rss_mb": peak[0]})
            print(f"{name:<10} wall {wall:8.2f} s  cpu {cpu:8.2f} s  peak rss {peak[0]:8.0f} MB", flush=True)
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(self.top)


def base_stock_figures(problem, quantile: float = 0.95) -> tuple[PlanFigures, float]:
    r"""A base-stock plan's figures and cost on the problem's own scenarios (the stand-in for a solve).

    Target position of stock point :math:`n` (item :math:`i`): the ``quantile`` over scenarios of
    :math:`\sum_{j \in \mathrm{sub}(n)} \sum_{t \le L_n} D_{sijt}`. Tonight's orders are
    :math:`o_n = \sum_{m \in \mathrm{sub}(n)} (S_m - IP_m)` (the replay's rule); a DC ships its
    stores' orders, fair share when its on hand is short.
    """
    net, demand, pi = problem.network, problem.demand, problem.probability
    S, I, J, T = demand.shape
    sub = net.subtree()[:, net.stores].astype(float)  # (N, J)
    target = np.empty((I, len(net.nodes)))
    for n, L in enumerate(np.minimum(net.lead_time, T - 1)):  # store demand of the subtree over L_n + 1 periods
        reach = demand[:, :, :, : L + 1].sum(axis=3) @ sub[n]  # (S, I)
        target[:, n] = np.quantile(reach, quantile, axis=0)
    ip0 = problem.on_hand + problem.pipeline.sum(axis=2)
    order0 = (net.subtree().astype(float) @ (target - ip0).T).T
    ship0 = np.zeros((I, len(net.dc_fed)))
    for k, n in enumerate(net.dc_fed):
        ship0[:, k] = np.maximum(order0[:, n], 0.0)
    for d in np.flatnonzero(np.asarray(net.kinds) == "dc"):
        kids = [k for k, n in enumerate(net.dc_fed) if net.parent[n] == d]
        due = ship0[:, kids].sum(axis=1)
        frac = np.where(due > problem.on_hand[:, d], problem.on_hand[:, d] / np.where(due > 0, due, 1.0), 1.0)
        ship0[:, kids] *= frac[:, None]
    replay = simulate_policy(problem, target, ship0, demand)
    zeros_i, zeros_in = np.zeros(I), np.zeros_like(target)
    figures = PlanFigures(
        target=target, ship0=ship0, orders0=order0,
        expected_short=np.einsum("sij,s->ij", replay.series_short, pi),
        expected_demand=np.einsum("sij,s->ij", replay.series_demand, pi),
        dc_shipped=zeros_in, dc_due=zeros_in, holding=zeros_i, shortage=zeros_i, dc_backlog=zeros_i,
        held_back=zeros_i, capital_used=float(replay.capital @ pi), service_short=float(replay.short_units @ pi),
        service_demand=float(replay.demand_units @ pi), size=(0, 0),
    )
    return figures, float(replay.cost @ pi)


def run_stages(config_path: Path, out: Path, timer: Timer, seed: int | None = None) -> dict:
    """The non-solve stages of :func:`optimizer.run.run` on ``config_path``, timed by ``timer``."""
    with timer.stage("load"):
        config = load_config(config_path)
        seed = config.scenarios.seed if seed is None else seed
        inputs = prepare(config, config_path)
        on_hand, pipeline, _ = initial_state(config, config_path, inputs)
    with timer.stage("forecast"):
        table, period_dates = forecast_demand(config, inputs, seed)
    with timer.stage("scenarios"):
        sc = config.scenarios
        scenario_set = sample_scenarios(table, sc.count, seed=seed, method=sc.method,
                                        copula=scenario_copula(config, config_path))
    with timer.stage("assemble"):
        problem = make_problem(config, inputs, scenario_set, on_hand, pipeline)
        check_demand(problem.demand, inputs.items, inputs.stores, *_demand_source(config, config_path))
    del scenario_set  # run keeps only the problem's copy past the solve
    t0 = time.perf_counter()
    figures, objective = base_stock_figures(problem)
    plan_s = time.perf_counter() - t0
    with timer.stage("extract"):
        plan = assemble_plan(problem, figures, objective, period_dates)
        plan.forecast = forecast_frame(table, dict(zip(inputs.items, inputs.unit_cost)), period_dates)
        plan.sales = recent_sales(inputs.history, inputs.as_of)
        plan.kpis.update(status="optimal", timings_s={})
    with timer.stage("evaluate"):
        plan.kpis["out_of_sample"], replay = evaluate(problem, figures, table, config, inputs, seed)
        plan.projection = stock_percentiles(replay, problem.items, problem.network.nodes)
    del replay
    with timer.stage("write"):
        files = {"orders.csv": csv_bytes(plan.orders), "stock_positions.csv": csv_bytes(plan.stock_positions),
                 "kpis.json": to_json(plan.kpis).encode(), "report.html": report_html(plan, config_path, seed)}
        _write(files, config, config_path, inputs.data_files, seed, out, {})
    return {"base_stock_plan_s": plan_s, "order_lines": len(plan.orders),
            "history_rows": len(inputs.history), "series": len(inputs.items) * len(inputs.stores),
            "fill_rate_out_of_sample": plan.kpis["out_of_sample"]["fill_rate"]["mean"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    catalogue_arguments(p, items=1000)
    p.add_argument("--eval-scenarios", type=int, default=200, help="fresh scenarios of the out-of-sample replay")
    p.add_argument("--seed", type=int, default=None, help="run seed (default: the config's, 1)")
    p.add_argument("--profile", choices=STAGES, nargs="+", default=(), help="run these stages under cProfile")
    p.add_argument("--profile-top", type=int, default=25)
    a = p.parse_args(argv)
    folder, stores, config, write_data_s = write_inputs(a, "echelon-stages-",
                                                        evaluation_scenarios=a.eval_scenarios)
    timer = Timer(a.profile, a.profile_top)
    extra = run_stages(config, folder / "plan", timer, a.seed)
    out = {"items": a.items, "stores": len(stores), "periods": a.periods, "scenarios": a.scenarios,
           "eval_scenarios": a.eval_scenarios, "write_data_s": write_data_s, **extra, **timer.figures,
           "stages_s": sum(timer.figures[f"{s}_s"] for s in STAGES),
           "stages_cpu_s": sum(timer.figures[f"{s}_cpu_s"] for s in STAGES),
           "load_average": os.getloadavg()[0]}
    report(out, a.json)


if __name__ == "__main__":
    main()
