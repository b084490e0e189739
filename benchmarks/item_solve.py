"""CPU seconds of the decomposition's item models, split into root subtrees or whole.

    python benchmarks/item_solve.py --items 8 [--dcs 3 --stores-per-dc 10 --periods 8 --scenarios 100]

Builds the items of ``benchmarks/run.py``'s synthetic network as one
:class:`~optimizer.item_models.ItemSolver` in this process, once with each item
split into its root subtrees (one DC and its stores) and once whole, and prints
for each: set-up CPU seconds (item arrays, templates, data), template seconds,
the first round at zero prices (the reference item's cold solve, then each item
from its basis), a second round at binding prices (warm re-solves), the sum of
the priced objectives of both rounds (equal for both ways) and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import network_arguments, synthetic_problem  # noqa: E402
from optimizer.item_models import ItemSolver, item_problem  # noqa: E402


def one(items, dcs, stores_per_dc, periods, scenarios, split: bool) -> None:
    """Time one way, in this process (called in a fresh process per way, for its own peak RSS)."""
    problem, _ = synthetic_problem(items, dcs, stores_per_dc, periods, scenarios)
    problems = [item_problem(problem, i) for i in range(items)]
    cpu = [resource.getrusage(resource.RUSAGE_SELF)]
    solver = ItemSolver(problems, reference=problems[0], split=split)
    cpu.append(resource.getrusage(resource.RUSAGE_SELF))
    objective = 0.0
    for lam, mu in ((0.0, 0.0), (-0.01, -1.0)):
        objective += sum(p.cost - lam * p.capital - mu * p.short for p in solver.price(lam, mu))
        cpu.append(resource.getrusage(resource.RUSAGE_SELF))
    s = [r.ru_utime + r.ru_stime for r in cpu]
    print(f"{'split' if split else 'whole':<6} templates={len(solver.templates)} setup_cpu_s={s[1] - s[0]:.2f} "
          f"template_s={solver.template_s:.2f} round0_cpu_s={s[2] - s[1]:.2f} round1_cpu_s={s[3] - s[2]:.2f} "
          f"objective={objective:.9f} peak_rss_mb={cpu[-1].ru_maxrss / 1024:.0f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    network_arguments(p, items=8)
    p.add_argument("--only", choices=("split", "whole"), default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sizes = (a.items, a.dcs, a.stores_per_dc, a.periods, a.scenarios)
    if a.only:
        one(*sizes, split=a.only == "split")
        return
    for way in ("split", "whole"):
        subprocess.run([sys.executable, __file__, *map(str, sum(([f"--{k}", v] for k, v in zip(
            ("items", "dcs", "stores-per-dc", "periods", "scenarios"), sizes)), [])), "--only", way], check=True)


if __name__ == "__main__":
    main()
