"""End to end, forecast to written plan, on a synthetic catalogue of a given size.

    python benchmarks/end_to_end.py --items 100 --dcs 3 --stores-per-dc 10 --periods 8 --scenarios 100 \\
        [--days 84] [--train-periods 28] [--iterations 50] [--workers 2] [--gap 1e-4] [--json FILE] [--keep DIR]

Writes a synthetic daily sales history (``--items`` x stores x ``--days``:
negative-binomial sales around a per-series level with a weekly profile, and a
sell price per item) and a config for one supplier -> ``--dcs`` DCs (lead time
2) -> ``--stores-per-dc`` stores each (lead time 1), lost sales, a 95% network
fill rate and a capital budget, then runs ``echelon run`` on it (the Python
API, ``optimizer.run.run``) decomposed over items in ``--workers`` processes:
NGBoost fit on the last ``--train-periods`` days of every series (the binned
tree learner), ``--scenarios`` Latin-hypercube scenarios of ``--periods`` daily
periods, the item-by-item solve, the out-of-sample replay and the written
plan. Prints the stage times from ``kpis.json``, the wall time and peak
memory (the run's process and its largest worker), and with ``--json``
writes them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import network_arguments, report  # noqa: E402
from optimizer.run import run  # noqa: E402


def write_catalogue(folder: Path, items, dcs, stores_per_dc, days, seed=0) -> tuple[list[str], float]:
    """Write ``history.csv.gz`` into ``folder``; return the store ids and a day of demand at cost."""
    rng = np.random.default_rng(seed)
    stores = [f"S{d}_{r}" for d in range(dcs) for r in range(stores_per_dc)]
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    level = rng.gamma(2.0, 2.0, size=(items, len(stores)))
    weekly = 1.0 + 0.3 * np.sin(2 * np.pi * (np.arange(days) % 7) / 7)
    mean = level[:, :, None] * weekly[None, None, :]
    sales = rng.negative_binomial(2.0, 2.0 / (2.0 + mean))
    price = rng.uniform(1.5, 25.0, items)
    frame = pd.DataFrame({
        "item": np.repeat([f"I{i:05d}" for i in range(items)], len(stores) * days),
        "location": np.tile(np.repeat(stores, days), items),
        "date": np.tile(dates.strftime("%Y-%m-%d"), items * len(stores)),
        "quantity": sales.ravel(),
        "price": np.repeat(np.round(price, 2), len(stores) * days),
    })
    frame.to_csv(folder / "history.csv.gz", index=False)
    return stores, float((level.sum(axis=1) * price * 0.7).sum())


def write_config(folder: Path, stores, dcs, periods, scenarios, train_periods, iterations, budget,
                 evaluation_scenarios=200, gap=1e-4) -> Path:
    nodes = [{"id": "SUP", "kind": "supplier"}] + [{"id": f"DC{d}", "kind": "dc", "holding_factor": 0.8}
                                                 for d in range(dcs)]
    nodes += [{"id": s, "kind": "store"} for s in stores]
    lanes = [{"source": "SUP", "destination": f"DC{d}", "lead_time": 2, "cost": 0.05} for d in range(dcs)]
    lanes += [{"source": f"DC{s[1:].split('_')[0]}", "destination": s, "lead_time": 1, "cost": 0.1} for s in stores]
    config = {
        "periods": periods,
        "history": {"path": "history.csv.gz"},
        "forecast": {"family": "negative_binomial", "n_estimators": iterations,
                     "options": {"train_periods": train_periods}},
        "economics": {"margin": 0.3, "holding_rate": 0.25, "period_days": 1},
        "network": {"nodes": nodes, "lanes": lanes},
        "initial_state": {"cover": {"store_on_hand": 1, "dc_on_hand": 2, "in_transit": True}},
        "shortage": "lost_sales",
        "scenarios": {"count": scenarios, "seed": 1, "method": "lhs"},
        "constraints": {"service": {"fill_rate": 0.95}, "capital": {"budget": round(budget, 2)}},
        "evaluation": {"scenarios": evaluation_scenarios, "replications": 0},
        "solver": {"decompose": "on", "time_limit": 3600, "decompose_gap": gap},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def catalogue_arguments(p: argparse.ArgumentParser, items: int) -> None:
    """The synthetic catalogue's options: network sizes, history, NGBoost, budget, --keep and --json."""
    network_arguments(p, items=items)
    p.add_argument("--days", type=int, default=84, help="days of synthetic history")
    p.add_argument("--train-periods", type=int, default=28, help="days of each series NGBoost trains on")
    p.add_argument("--iterations", type=int, default=50, help="NGBoost boosting iterations")
    p.add_argument("--budget-days", type=float, default=7.0, help="capital budget in days of demand at cost")
    p.add_argument("--keep", default=None, help="folder for history, config and outputs (default: a temporary one)")
    p.add_argument("--json", default=None)


def write_inputs(a: argparse.Namespace, prefix: str, **options) -> tuple[Path, list[str], Path, float]:
    """Write the catalogue of :func:`catalogue_arguments`' options ``a`` and its config (``options``
    passed to :func:`write_config`): (folder, store ids, config path, seconds taken)."""
    folder = Path(a.keep or tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stores, daily_value = write_catalogue(folder, a.items, a.dcs, a.stores_per_dc, a.days)
    config = write_config(folder, stores, a.dcs, a.periods, a.scenarios, a.train_periods, a.iterations,
                          a.budget_days * daily_value, **options)
    return folder, stores, config, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    catalogue_arguments(p, items=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--gap", type=float, default=1e-4, help="solver.decompose_gap: the rounds stop once the plan "
                   "is proven within it of the optimum (the issue asks for 0.1%%)")
    a = p.parse_args(argv)
    folder, stores, config, write_data_s = write_inputs(a, "echelon-e2e-", gap=a.gap)
    t1 = time.perf_counter()
    plan = run(config, out=folder / "plan", workers=a.workers)
    t2 = time.perf_counter()
    k = plan.kpis
    out = {"items": a.items, "stores": len(stores), "periods": a.periods, "scenarios": a.scenarios,
           "workers": a.workers, "history_rows": a.items * len(stores) * a.days, "write_data_s": write_data_s,
           **{f"{name}_s": v for name, v in k["timings_s"].items()}, "wall_s": t2 - t1,
           "variables": k["model"]["variables"], "expected_cost": k["expected_cost"],
           "fill_rate": k["service"]["expected_fill_rate"], "capital_used": k["capital"]["used"],
           "budget": k["capital"]["budget"], "order_lines": len(plan.orders), "gap": a.gap,
           **{f"decomposition_{name}": v for name, v in k.get("decomposition", {}).items()}}
    report(out, a.json)


if __name__ == "__main__":
    main()
