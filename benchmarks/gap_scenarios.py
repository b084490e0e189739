"""The optimality gap measured on a ladder of scenario counts, against what one count extrapolates.

    python benchmarks/gap_scenarios.py CONFIG [--counts 16,32,...] [--replications 8] [--methods mc,lhs]

For each sampling method and count N, runs ``echelon run``'s plan and evaluation with the
config's scenario count set to N (replay and Mak-Morton-Wood replications as the config's
``evaluation`` says, replications overridden) and prints the gap's mean and 95% bound,
relative to the out-of-sample cost, and the counts that ``kpis.json`` extrapolates from
that N (``scenarios_for_gap_under_1pct``: gap ~ 1/N and ~ 1/sqrt(N)). The last line per
method is the least-squares slope of log(mean gap) on log(N): -0.5 is the slow rate, -1
the fast one. CPU seconds per count, so a loaded machine still gives comparable figures.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml

from optimizer.run import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--counts", default="16,32,64,128,256,512,1024,2048")
    p.add_argument("--replications", type=int, default=8)
    p.add_argument("--methods", default="mc,lhs")
    args = p.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())
    counts = [int(c) for c in args.counts.split(",")]
    print("method  N      gap     bound95  slow_rate  fast_rate  cpu_s")
    for method in args.methods.split(","):
        gaps = []
        for n in counts:
            config = dict(base, scenarios=dict(base.get("scenarios", {}), count=n, method=method),
                          evaluation=dict(base.get("evaluation", {}), replications=args.replications))
            path = Path(args.config).parent / f".gap_{os.getpid()}_{method}{n}.yaml"  # its data paths hold
            path.write_text(yaml.safe_dump(config))
            t = time.process_time()
            try:
                gap = run(path).kpis["out_of_sample"]["optimality_gap"]
            finally:
                path.unlink()
            need = gap["scenarios_for_gap_under_1pct"]
            gaps.append(gap["gap_relative"])
            print(f"{method:6s}  {n:<5d}  {gap['gap_relative']:.4%}  {gap['gap_ci95_upper_relative']:.4%}  "
                  f"{need['slow_rate']:>9d}  {need['fast_rate']:>9d}  {time.process_time() - t:.1f}", flush=True)
        ok = np.array(gaps) > 0
        slope = np.polyfit(np.log(np.array(counts)[ok]), np.log(np.array(gaps)[ok]), 1)[0]
        print(f"{method:6s}  slope of log gap on log N: {slope:.2f} (over {ok.sum()} counts with a positive gap)")


if __name__ == "__main__":
    main()
