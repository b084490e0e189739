"""A rolling week of `echelon nightly` on the bundled data: one run per as-of date, as cron would start them.

    python benchmarks/rolling_week.py --first 2016-04-18 --days 7 --work /tmp/week

Writes WORK/nightly.yaml (extends the config, store and folders in WORK), runs
``echelon nightly WORK/nightly.yaml --as-of DATE`` for each date in turn as a
subprocess, and prints per night: exit code, plan status, wall and CPU seconds
(the job and its worker processes), order lines and value, exceptions by kind
and data-quality warnings; then the store's ``runs`` table and its row counts.
The last night's summary (what the planner reads) is WORK/morning.txt, every
night's JSON log WORK/nightly.jsonl.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("order_vs_base_stock", "order_vs_last_plan", "forecast_spread", "near_stockout", "data_quality")


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def night(config: Path, as_of: str, work: Path) -> dict:
    """One `echelon nightly` run as a subprocess: its figures."""
    cpu, wall = _cpu_children(), time.perf_counter()
    with open(work / "nightly.jsonl", "a") as log:
        proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "nightly", str(config), "--as-of", as_of],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    row = {"as_of": as_of, "exit": proc.returncode, "wall_s": time.perf_counter() - wall,
           "cpu_s": _cpu_children() - cpu}
    (work / "morning.txt").write_text(proc.stdout)
    if proc.returncode == 0:
        out = work / "tonight"
        kpis = json.loads((out / "kpis.json").read_text())
        exc = pd.read_csv(out / "exceptions.csv")
        row.update(run_id=kpis["run_id"], status=kpis["status"], lines=len(pd.read_csv(out / "orders.csv")),
                   value=round(kpis["orders_value"], 2), fill=round(kpis["service"]["expected_fill_rate"], 4),
                   exceptions=len(exc), quality=len(pd.read_csv(out / "quality.csv")),
                   **{k: int((exc["kind"] == k).sum()) for k in KINDS})
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "m5.yaml"))
    parser.add_argument("--first", default="2016-04-18", help="first as-of date")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--work", required=True, help="folder for the store, the output folders and the logs")
    parser.add_argument("--store", default="runs.sqlite", help="nightly.store: a file in WORK or a database URL")
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    config = work / "nightly.yaml"
    config.write_text(yaml.safe_dump({
        "root": "/", "extends": str(Path(args.config).resolve()),
        "nightly": {"store": args.store, "out": "tonight", "approved": "approved"},
    }, sort_keys=False))
    rows = []
    for day in pd.date_range(args.first, periods=args.days):
        rows.append(night(config, day.date().isoformat(), work))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.to_string(index=False))
    print(f"\nwall {table['wall_s'].sum():.0f} s, CPU {table['cpu_s'].sum():.0f} s over {len(rows)} nights")

    sys.path.insert(0, str(ROOT))
    from optimizer.config import load_config
    from optimizer.runstore import SCHEMA, open_store

    with open_store(config, load_config(config)) as store:
        runs = store.table("runs")
        runs["total_s"] = [round(json.loads(t or "{}").get("total", float("nan")), 1) for t in runs["timings_json"]]
        print("\nruns table:\n" + runs[["run_id", "as_of", "status", "exit_code", "code_version", "seed",
                                        "total_s"]].to_string(index=False))
        print("rows per table: " + ", ".join(f"{t} {len(store.table(t))}" for t in SCHEMA))


if __name__ == "__main__":
    main()
