"""Frontier points re-solved warm on one built model against rebuilding the model per point.

    python benchmarks/frontier.py configs/m5.yaml --budgets 12500,13500,15000,17000 [--rebuild 2]

Forecasts and samples once, then solves the same budgets twice:
(1) warm, as ``echelon frontier`` does: the item models are built and compiled
once and every point keeps the proposals of the points before it;
(2) rebuilt, as running ``echelon run`` once per budget would (less its
forecast): each point builds and compiles its item models afresh and starts
column generation from nothing. Prints seconds and column-generation rounds
per point, and checks that both give the same cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from optimizer.config import load_config
from optimizer.decompose import solve_decomposed
from optimizer.frontier import scenario_problem


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--budgets", required=True, help="comma-separated budgets")
    p.add_argument("--rebuild", type=int, default=None,
                   help="rebuild only the N budgets after the first (default all; the first warm point is cold)")
    args = p.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    config = load_config(args.config)
    t0 = time.perf_counter()
    problem = scenario_problem(config, args.config, config.scenarios.seed)[0]
    print(f"forecast and scenarios: {time.perf_counter() - t0:.1f} s")
    kw = {"threads": config.solver.threads, "time_limit": config.solver.time_limit}
    rows = {}
    pool = {}
    for b in budgets:
        t = time.perf_counter()
        _, sol = solve_decomposed(dataclasses.replace(problem, budget=b), pool=pool, **kw)
        rows[b] = {"warm_s": time.perf_counter() - t, "warm_cost": sol.objective, "warm_rounds": sol.message,
                   "warm_build_s": sol.timings_s["build"]}
        print(f"warm    budget {b:>10,.0f}: {rows[b]['warm_s']:7.1f} s ({sol.message}), cost {sol.objective:,.4f}",
              flush=True)
    for b in budgets[1:][: args.rebuild]:
        t = time.perf_counter()
        _, sol = solve_decomposed(dataclasses.replace(problem, budget=b), **kw)
        rows[b].update(rebuild_s=time.perf_counter() - t, rebuild_cost=sol.objective, rebuild_rounds=sol.message,
                       rebuild_build_s=sol.timings_s["build"])
        print(f"rebuilt budget {b:>10,.0f}: {rows[b]['rebuild_s']:7.1f} s ({sol.message}), cost {sol.objective:,.4f}",
              flush=True)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
