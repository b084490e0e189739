"""What running on Spark costs against local processes, on one config, and whether the plan is the same.

    python benchmarks/spark_overhead.py configs/m5.yaml [--master local[2]] [--workers 2] [--out DIR]
                                        [--time-limit S]

Runs ``echelon run CONFIG`` (the Python API) with ``engine="local"`` and then
``engine="spark"`` (a SparkSession on ``--master``, started before the
timed run and reported apart), each written to ``DIR/local`` and
``DIR/spark``. Prints per engine the wall seconds of the forecast and of the
solve (from ``kpis.json``'s ``timings_s``), the total, and the CPU seconds of
this process, its finished children, and its live descendants (the Spark
JVM and its Python workers, read from ``/proc``); then whether
``orders.csv``, ``stock_positions.csv`` and ``report.html`` are the same bytes.

A decomposition stopped by ``solver.time_limit`` writes the best plan of the
rounds done so far, which depends on speed, not on the engine: ``--time-limit``
runs a what-if of CONFIG (``DIR/config.yaml``) with that limit instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from optimizer.run import run

TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier]
        found += kids
        frontier = kids
    return found


def cpu_seconds() -> float:
    """User + system seconds of this process, its reaped children and its live descendants."""
    total = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                for f in ("ru_utime", "ru_stime"))
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / TICK  # utime, stime, cutime, cstime
    return total


def _timed(config, out, engine, workers):
    wall, cpu = time.perf_counter(), cpu_seconds()
    plan = run(config, out=out, engine=engine, workers=workers)
    t = plan.kpis["timings_s"]
    return {"forecast": t["forecast"], "solve": t.get("solve", 0.0), "wall": time.perf_counter() - wall,
            "cpu": cpu_seconds() - cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--master", default="local[2]", help="Spark master URL (default local[2])")
    p.add_argument("--workers", type=int, default=None, help="solver.workers for both engines")
    p.add_argument("--out", default="spark_overhead", help="folder for the two plans")
    p.add_argument("--time-limit", type=float, default=None, help="solver.time_limit for both runs")
    args = p.parse_args()
    out = Path(args.out)
    config = args.config
    if args.time_limit is not None:
        out.mkdir(parents=True, exist_ok=True)
        config = out / "config.yaml"
        base = Path(args.config).resolve()
        config.write_text(f"root: {os.path.relpath(base.parent, out.resolve())}\n"
                          f"extends: {os.path.relpath(base, out.resolve())}\n"
                          f"solver: {{time_limit: {args.time_limit}}}\n")
    rows = {"local": _timed(config, out / "local", "local", args.workers)}
    t0 = time.perf_counter()
    from optimizer.spark_engine import SparkEngine

    spark = SparkEngine(args.master).session
    spark.sparkContext.setLogLevel("ERROR")
    start = time.perf_counter() - t0
    rows["spark"] = _timed(config, out / "spark", "spark", args.workers)
    print(f"Spark session start ({args.master}): {start:.1f} s wall (not in the figures below)")
    print(f"{'engine':<8}{'forecast s':>12}{'solve s':>10}{'total wall s':>14}{'cpu s':>10}")
    for name, r in rows.items():
        print(f"{name:<8}{r['forecast']:>12.1f}{r['solve']:>10.1f}{r['wall']:>14.1f}{r['cpu']:>10.1f}")
    print("spark / local: " + ", ".join(f"{k} {rows['spark'][k] / rows['local'][k]:.2f}"
                                        for k in ("forecast", "solve", "wall", "cpu")))
    for name in ("orders.csv", "stock_positions.csv", "report.html"):
        same = (out / "local" / name).read_bytes() == (out / "spark" / name).read_bytes()
        print(f"{name}: {'same bytes' if same else 'DIFFERENT'}")
    spark.stop()


if __name__ == "__main__":
    main()
