"""Time each stage of the optimiser on a synthetic network of a given size.

    python benchmarks/run.py --items 100 --dcs 3 --stores-per-dc 10 --periods 8 --scenarios 100 \\
        [--decompose off|on|both] [--workers W] [--json FILE]

One supplier feeds ``--dcs`` DCs (lead time 2), each feeding ``--stores-per-dc``
stores (lead time 1); each item x store has negative-binomial demand with a
random mean; a network fill-rate target of 95% and a capital budget of
``--budget-periods`` periods of store demand at cost couple the items. The script times:

* scenarios: Latin-hypercube sampling of the demand table;
* build: the array model (``optimizer.model.build_model``, ``build_arrays_s``) plus
  its Pyomo model (``LinearProgram.to_pyomo``: variables and matrix blocks, ``build_pyomo_s``);
* handover: ``compile_pyomo`` (the matrix blocks' arrays and every variable's bounds read
  back from the Pyomo model, ``handover_compile_s``) plus loading them into highspy
  (``handover_load_s``);
* solve: HiGHS's own time;
* extract: reading the plan back;
* raw_build / raw_solve: the same programme assembled as a sparse matrix and
  passed straight to highspy (the reference for the modelling layer's cost);
* decomposed: the item-by-item solve with priced linking rows, in ``--workers``
  processes: its set-up (item arrays, one Pyomo template per shape, item data
  swapped into HiGHS) and its rounds (item re-solves and master), timed apart.

Forecasting is not timed here (explicit demand); ``benchmarks/forecast_speed.py``
times it. Figures are printed as a table and, with ``--json``, written with
the keys ``build_s, handover_s, solve_s, raw_build_s, raw_solve_s, peak_rss_mb``
(the calling process) and ``peak_rss_worker_mb`` (the largest worker process).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasts.distributions import DistributionTable  # noqa: E402
from optimizer.decompose import solve_decomposed  # noqa: E402
from optimizer.model import Network, Problem, build_model  # noqa: E402
from optimizer.plan import extract_plan  # noqa: E402
from optimizer.solver import compile_pyomo, solve_arrays  # noqa: E402
from scenarios import sample_scenarios  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished workers (the machine is shared: wall time is not)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def synthetic_problem(items, dcs, stores_per_dc, periods, scenarios, seed=0, budget_periods=6.0):
    rng = np.random.default_rng(seed)
    nodes, kinds, parent, source, lead = [], [], [], [], []
    for d in range(dcs):
        nodes.append(f"DC{d}"), kinds.append("dc"), parent.append(-1), source.append("SUP"), lead.append(2)
    for d in range(dcs):
        for r in range(stores_per_dc):
            nodes.append(f"S{d}_{r}"), kinds.append("store"), parent.append(d), source.append(f"DC{d}"), lead.append(1)
    net = Network(tuple(nodes), tuple(kinds), np.array(parent), tuple(source), np.array(lead), np.full(len(nodes), 0.05))
    item_ids = [f"I{i:05d}" for i in range(items)]
    stores = [n for n, k in zip(nodes, kinds) if k == "store"]
    mean = rng.gamma(2.0, 2.0, size=(items, len(stores)))
    rows = [
        {"item": i, "location": s, "period": t, "family": "negative_binomial", "mean": mean[a, b], "dispersion": 2.0}
        for a, i in enumerate(item_ids) for b, s in enumerate(stores) for t in range(periods)
    ]
    t0 = time.perf_counter()
    sc = sample_scenarios(DistributionTable(__import__("pandas").DataFrame(rows)), scenarios, seed=seed)
    scen_s = time.perf_counter() - t0
    loc = [sc.locations.index(s) for s in stores]
    itm = [sc.items.index(i) for i in item_ids]
    demand = sc.demand[:, itm][:, :, loc]
    unit = rng.uniform(1, 20, items)
    holding = np.repeat((0.25 / 52 * unit)[:, None], len(nodes), axis=1)
    holding[:, :dcs] *= 0.8
    shortage = 0.4 * unit
    flow = mean @ net.subtree()[:, net.stores].T.astype(float)
    on_hand = flow * 1.0
    pipeline = np.zeros((items, len(nodes), periods))
    for n in range(len(nodes)):
        pipeline[:, n, : min(lead[n], periods)] = flow[:, n, None]
    budget = float((unit[:, None] * flow[:, dcs:]).sum() * budget_periods)
    problem = Problem(tuple(item_ids), net, demand, sc.probability, unit, holding, shortage, on_hand, pipeline,
                      "lost_sales", budget=budget, fill_rate=0.95)
    return problem, scen_s


def network_arguments(p: argparse.ArgumentParser, items: int) -> None:
    """The synthetic network's sizes: --items, --dcs, --stores-per-dc, --periods, --scenarios."""
    for name, default in (("--items", items), ("--dcs", 3), ("--stores-per-dc", 10), ("--periods", 8),
                          ("--scenarios", 100)):
        p.add_argument(name, type=int, default=default)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    network_arguments(p, items=20)
    p.add_argument("--decompose", choices=("off", "on", "both"), default="both")
    p.add_argument("--workers", type=int, default=2, help="processes for the decomposed solve")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-periods", type=float, default=6.0, help="capital budget in periods of demand at cost")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    problem, scen_s = synthetic_problem(a.items, a.dcs, a.stores_per_dc, a.periods, a.scenarios, a.seed,
                                        a.budget_periods)
    out = {"items": a.items, "dcs": a.dcs, "stores_per_dc": a.stores_per_dc, "periods": a.periods,
           "scenarios": a.scenarios, "scenarios_s": scen_s}
    if a.decompose in ("off", "both"):
        gc.disable()
        t0 = time.perf_counter()
        built = build_model(problem)
        t_arrays = time.perf_counter()
        model = built.lp.to_pyomo()
        t1 = time.perf_counter()
        gc.enable()
        compiled = compile_pyomo(model)
        t2 = time.perf_counter()
        sol = solve_arrays(compiled.c, compiled.a_csc, compiled.col_lb, compiled.col_ub, compiled.row_lb,
                           compiled.row_ub, offset=compiled.offset)
        x = np.zeros(built.lp.n_cols)
        x[compiled.cols] = sol.x
        duals = np.zeros(built.lp.n_rows)
        duals[compiled.rows] = sol.row_duals
        t3 = time.perf_counter()
        extract_plan(built, x, duals, sol.objective)
        t4 = time.perf_counter()
        a_raw = built.lp.matrix().tocsc()
        lo, hi = built.lp.row_bounds()
        cl, cu = built.lp.column_bounds()
        c = built.lp.objective_vector()
        t5 = time.perf_counter()
        raw = solve_arrays(c, a_raw, cl, cu, lo, hi, offset=built.lp.objective_constant)
        del model
        out.update(
            variables=built.lp.n_cols, constraints=built.lp.n_rows, nonzeros=int(a_raw.nnz),
            build_s=t1 - t0, build_arrays_s=t_arrays - t0, build_pyomo_s=t1 - t_arrays,
            handover_s=(t2 - t1) + sol.timings_s["highs_load"], handover_compile_s=t2 - t1,
            handover_load_s=sol.timings_s["highs_load"], solve_s=sol.timings_s["solve"],
            extract_s=t4 - t3, objective=sol.objective, status=sol.status.value,
            raw_build_s=(t5 - t4) + raw.timings_s["highs_load"], raw_solve_s=raw.timings_s["solve"],
            raw_objective=raw.objective,
        )
        out["overhead_over_solve"] = (out["build_s"] + out["handover_s"]) / max(out["solve_s"], 1e-9)
        out["overhead_over_raw_build"] = (out["build_s"] + out["handover_s"]) / max(out["raw_build_s"], 1e-9)
    if a.decompose in ("on", "both"):
        t0 = time.perf_counter()
        dsol = solve_decomposed(problem, workers=a.workers)
        out.update(decomposed_s=time.perf_counter() - t0, decomposed_setup_s=dsol.timings_s.get("build"),
                   decomposed_templates_s=dsol.timings_s.get("templates"),
                   decomposed_rounds_s=dsol.timings_s.get("solve"), decomposed_objective=dsol.objective,
                   decomposed_status=dsol.status.value, decomposed_rounds=dsol.message)
        if "objective" in out and out["objective"]:
            out["decomposed_rel_diff"] = abs(dsol.objective - out["objective"]) / abs(out["objective"])
    report(out, a.json)


def report(out: dict, json_path=None) -> None:
    """Add peak memory (this process, largest worker) and CPU seconds; print; write JSON if asked."""
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["peak_rss_worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    out["cpu_s"] = cpu_seconds()
    width = max(len(k) for k in out)
    for k, v in out.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
