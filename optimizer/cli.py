"""The ``echelon`` command line.

Exit codes: 0 plan written, 1 internal error, 2 bad config or data,
3 infeasible (with the diagnosis), 4 no feasible plan within the time limit,
5 out of memory or disk.
A user's mistake is one line on stderr, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings

from optimizer.errors import EchelonError
from optimizer.progress import Progress

RUN_EXAMPLES = """examples:
  echelon run configs/m5.yaml --out out/           plan on the bundled M5 data; open out/report.html
  echelon run configs/m5.yaml --out out/ --seed 7  the same with another scenario seed
  echelon run configs/examples/newsvendor.yaml --out nv/ --quiet   a one-second plan, silent
  echelon run configs/m5.yaml --out out/ --engine spark   the same plan, computed on Spark

Progress (one line per stage) goes to stderr when it is a terminal; --quiet or a
pipe turns it off. Exit codes: 0 written, 1 bug, 2 bad config or data, 3 infeasible,
4 no plan within solver.time_limit.
"""
VALIDATE_EXAMPLES = """examples:
  echelon validate configs/m5.yaml                      check config and data, print a summary
  echelon validate configs/whatif/budget_cut.yaml --resolved   the config with extends: applied
"""
FORECAST_EXAMPLES = """examples:
  echelon forecast configs/m5.yaml --out fc/                  forecast.csv: mean and quantiles
  echelon forecast configs/m5.yaml --backtest --out bt/       backtest, copula.json, plots
  echelon forecast configs/m5.yaml --backtest --origins 3 --families normal,poisson --out bt/
"""
EXPLAIN_EXAMPLES = """examples:
  echelon explain configs/m5.yaml --item FOODS_3_586 --location CA_1
  echelon explain configs/m5.yaml --item FOODS_3_586 --location CA_1 --top 6 --out why/
"""
EXAMPLES = """examples:
  echelon run configs/m5.yaml --out out/          plan tonight's orders on the bundled M5 data
  echelon run configs/m5.yaml --out out/ --seed 7  the same with another scenario seed
  echelon validate configs/m5.yaml                 check config and data without solving
  echelon forecast configs/m5.yaml --backtest --out bt/   backtest NGBoost against baselines
  echelon explain configs/m5.yaml --item FOODS_3_586 --location CA_1   why this forecast
  echelon nightly configs/m5.yaml --time-limit 600   the unattended job (run store, exceptions, feeds)
  echelon approve 12 --config configs/m5.yaml --overrides changes.csv   approve run 12 with changes
  echelon backtest configs/m5.yaml --out replay/   replay echelon and planners' policies on held-out sales
  echelon compare configs/m5.yaml configs/whatif/promotion.yaml --out cmp/   what a what-if changes
  echelon frontier configs/m5.yaml --points 6 --fill-rates 0.9,0.97 --out wc/   cost and service by budget
"""


_SHARED_OPTIONS = {
    "seed": dict(type=int, default=None, help="override scenarios.seed (in every file given)"),
    "quiet": dict(action="store_true", help="show no progress and no summary on success"),
    "debug": dict(action="store_true", help="show the full traceback on errors"),
}


def _shared(*names: str) -> argparse.ArgumentParser:
    """A parent parser with the options ``names`` (``--seed``, ``--quiet``, ``--debug``), declared once
    for every subcommand that takes them."""
    parent = argparse.ArgumentParser(add_help=False)
    for name in names:
        parent.add_argument(f"--{name}", **_SHARED_OPTIONS[name])
    return parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="echelon",
        description="Probabilistic demand forecasts driving a stochastic multi-echelon inventory plan.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser(
        "run",
        parents=[_shared("seed", "quiet", "debug")],
        help="forecast, sample scenarios, optimise and write the plan",
        description="Forecast demand, sample scenarios, solve the model and write orders.csv,\n"
        "stock_positions.csv, kpis.json, report.html and manifest.json into --out, atomically.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("config", help="scenario YAML file")
    r.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    r.add_argument(
        "--decompose", choices=("auto", "on", "off"), default=None,
        help="solve item by item with priced budget and service rows (default: solver.decompose, auto)",
    )
    r.add_argument("--workers", type=int, default=None,
                   help="processes for the item models when decomposing (default: solver.workers, 1)")
    r.add_argument("--engine", choices=("local", "spark"), default=None,
                   help="where forecast groups and item models run: local processes or Apache Spark "
                   "(default: solver.engine, local; spark needs pip install '.[spark]')")
    r.add_argument("--frontier", default=None, metavar="FRONTIER_CSV",
                   help="show this frontier.csv (written by echelon frontier) in report.html")
    v = sub.add_parser(
        "validate",
        parents=[_shared("debug")],
        help="check config and data without solving",
        description="Load the config and every file it names, and check them against the network.",
        epilog=VALIDATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("config", help="scenario YAML file")
    v.add_argument("--resolved", action="store_true",
                   help="print the config with every extends: applied and defaults filled in")
    f = sub.add_parser(
        "forecast",
        parents=[_shared("seed", "quiet", "debug")],
        help="forecast demand, or backtest the forecast against baselines",
        description="Without --backtest: fit NGBoost up to history.as_of and write forecast.csv. "
        "With --backtest: rolling-origin backtest (NGBoost and baselines), forecast_metrics.json, "
        "copula.json and plots.",
        epilog=FORECAST_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("config", help="scenario YAML file (with history:)")
    f.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    f.add_argument("--backtest", action="store_true", help="run the rolling-origin backtest")
    f.add_argument("--origins", type=int, default=4, help="backtest origins, 28 days apart (default 4)")
    f.add_argument("--families", default=None,
                   help="comma-separated NGBoost families to compare (default: all but gamma)")
    f.add_argument("--samples", type=int, default=1000, help="sample paths per model for aggregated scores")
    e = sub.add_parser(
        "explain",
        parents=[_shared("seed", "quiet", "debug")],
        help="why one item x location is forecast as it is (SHAP)",
        description="Print each period's forecast (mean, 80%% interval) and the features that moved "
        "its level and spread most; with --out, write a global importance plot.",
        epilog=EXPLAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("config", help="scenario YAML file (with history:)")
    e.add_argument("--item", required=True, help="item id")
    e.add_argument("--location", required=True, help="location (store) id")
    e.add_argument("--out", default=None, help="folder for importance.png and explanation.csv")
    e.add_argument("--top", type=int, default=4, help="drivers shown per period (default 4)")
    n = sub.add_parser(
        "nightly",
        parents=[_shared("seed", "quiet", "debug")],
        help="the unattended job: check, forecast, plan, rank exceptions, feed suppliers, record the run",
        description="Check the history's quality, forecast, plan and write nightly.out (plan, exceptions.csv, "
        "quality.csv, supplier_<id>.csv/.json) atomically, recording the run in the run store (nightly.store). "
        "Logs are JSON lines when stderr is not a terminal.",
    )
    n.add_argument("config", help="scenario YAML file (with history:)")
    n.add_argument("--as-of", default=None, help="plan as of this date, YYYY-MM-DD (default: last date in the history)")
    n.add_argument("--time-limit", type=float, default=None,
                   help="seconds for the whole job; the best plan found when the solver runs out, and it says so")
    n.add_argument("--auto-approve", action="store_true",
                   help="approve when no exception has more money at stake than nightly.auto_approve_below")
    a = sub.add_parser(
        "approve",
        parents=[_shared("debug")],
        help="approve a nightly run, with a planner's overrides re-optimised around",
        description="Approve run RUN_ID of the config's run store. --overrides FILE.csv (kind, item, location, "
        "value[, reason]; kind: order, forbid or target) fixes those in the model and re-optimises the rest "
        "within the same budget; the approved plan goes to nightly.approved.",
    )
    a.add_argument("run_id", type=int, help="run id printed by echelon nightly")
    a.add_argument("--config", required=True, help="the scenario YAML file the run used")
    a.add_argument("--overrides", default=None, help="CSV of the planner's changes")
    a.add_argument("--by", default=None, help="who approves (default: the user name)")
    b = sub.add_parser(
        "backtest",
        parents=[_shared("seed", "debug")],
        help="replay echelon and planners' policies on held-out recorded demand",
        description="Walk forward through recorded sales: re-forecast and re-plan every --review days from "
        "the simulated state, order daily, let the recorded demand happen; write backtest.json, replay.csv.gz "
        "and plots. Base stock and (s, S) are tuned to echelon's realised fill rate and capital.",
    )
    b.add_argument("config", help="scenario YAML file (with history:)")
    b.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    b.add_argument("--start", default=None, help="first replayed day, YYYY-MM-DD (default: --periods days before the end)")
    b.add_argument("--periods", type=int, default=None, help="days replayed (default 28; 7 with --fast)")
    b.add_argument("--review", type=int, default=None, help="days between re-forecasts and re-plans (default 7)")
    b.add_argument("--fast", action="store_true", help="a short replay: 3 items, 7 days, 8 scenarios, small forecaster")
    b.add_argument("--windows", type=int, default=1, help="consecutive windows of --periods days, each replayed on its "
                   "own; margins pooled with a block bootstrap over items x windows (default 1)")
    _whatif_parsers(sub)
    return p


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, received {text!r}") from None


def _whatif_parsers(sub) -> None:
    """``compare`` and ``frontier`` (optimizer/compare.py, optimizer/frontier.py)."""
    c = sub.add_parser(
        "compare",
        parents=[_shared("seed", "debug")],
        help="run several configs (a base and its what-ifs) and compare their figures",
        description="Run each config and write comparison.csv (one row per file: expected cost and its\n"
        "parts, capital, fill rate in and out of sample, orders value, shadow prices) and each plan\n"
        "into --out; print the same as a table with the differences to the first file.",
        epilog="examples:\n  echelon compare configs/m5.yaml configs/whatif/*.yaml --out cmp/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("configs", nargs="+", metavar="CONFIG", help="scenario YAML files; the first is the reference")
    c.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    f = sub.add_parser(
        "frontier",
        parents=[_shared("seed", "debug")],
        help="expected cost and fill rate as the working-capital budget varies",
        description="Solve the plan at several working-capital budgets (the config's fill-rate target\n"
        "kept), re-solving one built model warm, and write frontier.csv and frontier.png: budget,\n"
        "capital used, expected cost, fill rate in and out of sample (95% interval), shadow price.\n"
        "--fill-rates adds the least capital that meets each fill rate.",
        epilog="examples:\n  echelon frontier configs/m5.yaml --points 6 --out wc/\n"
        "  echelon frontier configs/m5.yaml --budgets 13000,15000,17000 --fill-rates 0.9,0.97 --out wc/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("config", help="scenario YAML file")
    f.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    f.add_argument("--budgets", type=_floats, default=None, metavar="B1,B2,...", help="comma-separated budgets, e.g. 12000,15000,18000")
    f.add_argument("--points", type=int, default=None, metavar="N",
                   help="N budgets from the least capital that meets the target to where nothing improves")
    f.add_argument("--fill-rates", type=_floats, default=None, metavar="F1,F2,...",
                   help="comma-separated fill rates whose least capital is wanted, e.g. 0.9,0.95,0.98")


def _summary(plan, seconds: float, out: str) -> str:
    k = plan.kpis
    lines = [
        f"plan written to {out} in {seconds:.1f} s ({k['status']})",
        f"  expected cost      {k['expected_cost']:,.2f}",
        f"  tonight's orders   {len(plan.orders)} lines, value {k['orders_value']:,.2f}",
        f"  capital used       {k['capital']['used']:,.2f}"
        + (f" of {k['capital']['budget']:,.2f}" if k["capital"]["budget"] else ""),
        f"  fill rate          {k['service']['expected_fill_rate']:.4f}"
        + (f" (target {k['service']['target']:.4f})" if k["service"]["target"] else ""),
    ]
    if k["capital"]["shadow_price"] is not None:
        lines.append(f"  shadow price       {k['capital']['shadow_price']:.4f} per unit of capital")
    if "mip_gap" in k:
        why = ("time limit reached: the best plan found, not proven optimal" if k["status"] == "time_limit"
               else "within solver.mip_gap")
        lines.append(f"  MIP gap            {k['mip_gap']:.2%} ({why})")
    gap = (k.get("out_of_sample") or {}).get("optimality_gap", {})
    if "scenarios_for_gap_under_1pct" in gap:
        need = gap["scenarios_for_gap_under_1pct"]
        lines.append(f"  optimality gap     {gap['gap_relative']:.2%} (95% bound {gap['gap_ci95_upper_relative']:.2%}) "
                     f"at {need['measured_at']} scenarios; under 1% "
                     + ("already" if need["met"] else f"from {need['fast_rate']} to {need['slow_rate']} scenarios"))
    lines.append("  seconds            " + ", ".join(f"{s} {v:.1f}" for s, v in k["timings_s"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    start = time.perf_counter()
    progress = Progress(enabled=False if getattr(args, "quiet", False) else None)
    log = (lambda *_: None) if getattr(args, "quiet", False) else progress.echo
    if not getattr(args, "debug", False):
        # The checks report bad numbers in one line; numpy's overflow warnings would add more.
        warnings.simplefilter("ignore", RuntimeWarning)
    try:
        if args.command == "run":
            from optimizer.run import run

            plan = run(args.config, out=args.out, seed=args.seed, decompose=args.decompose, workers=args.workers,
                       frontier=args.frontier, progress=progress, engine=args.engine)
            if not args.quiet:
                print(_summary(plan, time.perf_counter() - start, args.out))
        elif args.command == "validate":
            from optimizer.run import validate

            config, inputs = validate(args.config)
            if args.resolved:
                import yaml

                print(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), sort_keys=False), end="")
            print(
                f"{args.config}: valid: {len(inputs.items)} items, {len(inputs.network.nodes)} stock points "
                f"({len(inputs.stores)} stores), {config.periods} periods, {config.scenarios.count} scenarios"
            )
            from optimizer.whatif import describe

            print("".join(f"  what-if: {line}\n" for line in describe(config, args.config, inputs.items,
                                                                     inputs.stores, inputs.history)), end="")
        elif args.command == "forecast":
            from optimizer import forecast_commands as fcmd

            progress.stage("backtest" if args.backtest else "forecast")
            if args.backtest:
                families = args.families.split(",") if args.families else None
                fcmd.backtest_command(args.config, args.out, seed=args.seed, origins=args.origins,
                                      families=families, samples=args.samples, log=log)
            else:
                fcmd.forecast_command(args.config, args.out, seed=args.seed, log=log)
        elif args.command == "explain":
            from optimizer import forecast_commands as fcmd

            progress.stage("explain")
            fcmd.explain_command(args.config, args.item, args.location, args.out, seed=args.seed, top=args.top,
                                 log=progress.echo)
        elif args.command == "nightly":
            from optimizer.logs import get_logger
            from optimizer.nightly import nightly, summary

            get_logger()
            result = nightly(args.config, as_of=args.as_of, time_limit=args.time_limit,
                             auto_approve=args.auto_approve, seed=args.seed)
            if not args.quiet:
                print(summary(result, time.perf_counter() - start))
        elif args.command == "approve":
            import getpass

            from optimizer.approve import approve

            done = approve(args.config, args.run_id, args.overrides, by=args.by or getpass.getuser())
            print(f"run {done.run_id} approved by {done.kpis['approved_by']} ({len(done.overrides)} overrides): "
                  f"{len(done.orders)} order lines, value {done.orders['value'].sum():,.2f}, written to {done.out}")
        elif args.command == "backtest":
            from optimizer.policy_backtest import policy_backtest

            policy_backtest(args.config, args.out, start=args.start, periods=args.periods, fast=args.fast,
                            review=args.review, seed=args.seed, windows=args.windows)
        elif args.command == "compare":
            from optimizer.compare import compare, comparison_table

            print(comparison_table(compare(args.configs, out=args.out, seed=args.seed)))
        elif args.command == "frontier":
            from optimizer.frontier import frontier, frontier_table

            print(frontier_table(frontier(args.config, args.out, budgets=args.budgets, points=args.points,
                                          fill_rates=args.fill_rates, seed=args.seed)))
        return 0
    except EchelonError as exc:
        progress.done()
        if args.debug:
            traceback.print_exc()
        print(f"echelon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.debug:
            traceback.print_exc()
        print("echelon: error: out of memory; nothing was written and any earlier output is untouched; "
              "lower scenarios.count or periods, or run on a larger machine", file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        progress.done()
        print("echelon: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception:
        progress.done()
        traceback.print_exc()
        print("echelon: internal error (a bug): please report it with the traceback above", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
