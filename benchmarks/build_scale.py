"""CPU seconds of the whole model's Pyomo build and hand-over against the raw highspy path, no solve.

    python benchmarks/build_scale.py --items 10 20 55 [--dcs 3 --stores-per-dc 10 --periods 8 --scenarios 50]

For each item count: the synthetic network of ``benchmarks/run.py``, its array
model and Pyomo model built (``build``: ``build_model`` + ``to_pyomo``), the
model compiled and loaded into a HiGHS instance (``handover``), and the same
matrix assembled from the arrays and loaded into another (``raw``); nothing is
solved, so sizes where the solve would take hours (55 items: 2.6 million
variables, the size DESIGN.md section 6 quotes) can be measured. Figures are
CPU seconds of this process, comparable on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import synthetic_problem  # noqa: E402

from optimizer.model import build_model  # noqa: E402
from optimizer.solver import compile_pyomo, load_arrays, new_highs  # noqa: E402


def measure(items: int, a) -> dict:
    problem, _ = synthetic_problem(items, a.dcs, a.stores_per_dc, a.periods, a.scenarios)
    cpu = time.process_time
    gc.disable()
    t0 = cpu()
    built = build_model(problem)
    model = built.lp.to_pyomo()
    t1 = cpu()
    gc.enable()
    k = compile_pyomo(model)
    load_arrays(new_highs(None, 1), k.c, k.a_csc, k.col_lb, k.col_ub, k.row_lb, k.row_ub, offset=k.offset)
    t2 = cpu()
    lp = built.lp
    load_arrays(new_highs(None, 1), lp.objective_vector(), lp.matrix().tocsc(), *lp.column_bounds(),
                *lp.row_bounds(), offset=lp.objective_constant)
    t3 = cpu()
    return {"items": items, "variables": lp.n_cols, "build_cpu_s": t1 - t0, "handover_cpu_s": t2 - t1,
            "raw_cpu_s": t3 - t2, "ratio": (t2 - t0) / (t3 - t2)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, nargs="+", default=[10, 20])
    for name, default in (("--dcs", 3), ("--stores-per-dc", 10), ("--periods", 8), ("--scenarios", 50)):
        p.add_argument(name, type=int, default=default)
    a = p.parse_args(argv)
    print(f"{'items':>6} {'variables':>10} {'build':>7} {'handover':>9} {'raw':>6} {'ratio':>6}  (CPU s)")
    for n in a.items:
        r = measure(n, a)
        print(f"{r['items']:>6} {r['variables']:>10,} {r['build_cpu_s']:>7.2f} {r['handover_cpu_s']:>9.2f} "
              f"{r['raw_cpu_s']:>6.2f} {r['ratio']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
