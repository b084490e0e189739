"""Column-generation rounds against linking rows: a shared lane capacity, decomposed and whole.

    python benchmarks/capacity_rounds.py --items 4 --scenarios 5,10,20 --capacity 40 [--time-limit 600]

Supplier -> DC -> 3 stores (tests/builders.py's two-echelon network, 8 periods), ``--items``
items of Poisson demand (means 3-6 per store and period) sharing a vendor -> DC lane of
``--capacity`` units a period, fill rate 0.9. The capacity is one linking row per period and
scenario. For each scenario count, solves the model decomposed (``solve_decomposed``, one
worker) and whole, and prints rounds, proposals, CPU seconds and both objectives.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/builders.py's network

from optimizer.config import load_config
from optimizer.decompose import solve_decomposed
from optimizer.inputs import initial_state, prepare
from optimizer.run import make_problem, _solve_once, forecast_demand
from scenarios import sample_scenarios
from tests.builders import two_echelon  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=4)
    p.add_argument("--scenarios", default="5,10,20")
    p.add_argument("--capacity", type=float, default=40.0)
    p.add_argument("--time-limit", type=float, default=600.0)
    args = p.parse_args()
    items = [{"id": f"w{k}", "unit_cost": 2.0 + k % 3, "holding_cost": 0.1, "shortage_cost": 1.5}
             for k in range(args.items)]
    rows = [f"w{k},{s},{t},poisson,{3 + k % 4}" for k in range(args.items) for s in ("s1", "s2", "s3") for t in range(8)]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "demand.csv").write_text("item,location,period,family,mean\n" + "\n".join(rows) + "\n")
        for count in (int(c) for c in args.scenarios.split(",")):
            config = two_echelon(items=items, demand={"table": "demand.csv"}, scenarios={"count": count, "seed": 3},
                                 evaluation={"scenarios": 0}, constraints={"service": {"fill_rate": 0.9}})
            config["network"]["lanes"][0]["capacity"] = args.capacity
            path = Path(tmp) / "config.yaml"
            path.write_text(yaml.safe_dump(config))
            cfg = load_config(path)
            inputs = prepare(cfg, path)
            on_hand, pipeline, _ = initial_state(cfg, path, inputs)
            table, _ = forecast_demand(cfg, inputs, 3)
            problem = make_problem(cfg, inputs, sample_scenarios(table, count, seed=3), on_hand, pipeline)
            t = time.process_time()
            dec = solve_decomposed(problem, time_limit=args.time_limit)
            t_dec = time.process_time() - t
            t = time.process_time()
            _, whole = _solve_once(problem, cfg)
            t_whole = time.process_time() - t
            print(f"items {args.items}, scenarios {count}, linking rows {8 * count}: decomposed {dec.status.value} "
                  f"({dec.message}) {t_dec:.1f} CPU s, objective {dec.objective:.4f}; whole {whole.status.value} "
                  f"{t_whole:.1f} CPU s, objective {whole.objective:.4f}", flush=True)


if __name__ == "__main__":
    main()
