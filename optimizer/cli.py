"""The ``echelon`` command line.

Exit codes: 0 plan written, 1 internal error, 2 bad config or data,
3 infeasible (with the diagnosis), 4 no feasible plan within the time limit.
A user's mistake is one line on stderr, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from optimizer.errors import EchelonError

EXAMPLES = """examples:
  echelon run configs/m5.yaml --out out/          plan tonight's orders on the bundled M5 data
  echelon run configs/m5.yaml --out out/ --seed 7  the same with another scenario seed
  echelon validate configs/m5.yaml                 check config and data without solving
  echelon forecast configs/m5.yaml --backtest --out bt/   backtest NGBoost against baselines
  echelon explain configs/m5.yaml --item FOODS_3_586 --location CA_1   why this forecast
"""


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
        help="forecast, sample scenarios, optimise and write the plan",
        description="Forecast demand, sample scenarios, solve the model and write orders.csv, "
        "stock_positions.csv, kpis.json and manifest.json into --out, atomically.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("config", help="scenario YAML file")
    r.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    r.add_argument("--seed", type=int, default=None, help="override scenarios.seed")
    r.add_argument(
        "--decompose", choices=("auto", "on", "off"), default=None,
        help="solve item by item with priced budget and service rows (default: solver.decompose, auto)",
    )
    r.add_argument("--workers", type=int, default=None,
                   help="processes for the item models when decomposing (default: solver.workers, 1)")
    r.add_argument("--quiet", action="store_true", help="print nothing on success")
    r.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    v = sub.add_parser(
        "validate",
        help="check config and data without solving",
        description="Load the config and every file it names, and check them against the network.",
    )
    v.add_argument("config", help="scenario YAML file")
    v.add_argument("--resolved", action="store_true",
                   help="print the config with every extends: applied and defaults filled in")
    v.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    f = sub.add_parser(
        "forecast",
        help="forecast demand, or backtest the forecast against baselines",
        description="Without --backtest: fit NGBoost up to history.as_of and write forecast.csv. "
        "With --backtest: rolling-origin backtest (NGBoost and baselines), forecast_metrics.json, "
        "copula.json and plots.",
    )
    f.add_argument("config", help="scenario YAML file (with history:)")
    f.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    f.add_argument("--backtest", action="store_true", help="run the rolling-origin backtest")
    f.add_argument("--origins", type=int, default=4, help="backtest origins, 28 days apart (default 4)")
    f.add_argument("--families", default=None,
                   help="comma-separated NGBoost families to compare (default: all but gamma)")
    f.add_argument("--samples", type=int, default=1000, help="sample paths per model for aggregated scores")
    f.add_argument("--seed", type=int, default=None, help="override scenarios.seed")
    f.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    e = sub.add_parser(
        "explain",
        help="why one item x location is forecast as it is (SHAP)",
        description="Print each period's forecast (mean, 80%% interval) and the features that moved "
        "its level and spread most; with --out, write a global importance plot.",
    )
    e.add_argument("config", help="scenario YAML file (with history:)")
    e.add_argument("--item", required=True, help="item id")
    e.add_argument("--location", required=True, help="location (store) id")
    e.add_argument("--out", default=None, help="folder for importance.png and explanation.csv")
    e.add_argument("--top", type=int, default=4, help="drivers shown per period (default 4)")
    e.add_argument("--seed", type=int, default=None, help="override scenarios.seed")
    e.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    return p


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
    lines.append("  seconds            " + ", ".join(f"{s} {v:.1f}" for s, v in k["timings_s"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    start = time.perf_counter()
    try:
        if args.command == "run":
            from optimizer.run import run

            plan = run(args.config, out=args.out, seed=args.seed, decompose=args.decompose, workers=args.workers)
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
        elif args.command == "forecast":
            from optimizer import forecast_commands as fcmd

            if args.backtest:
                families = args.families.split(",") if args.families else None
                fcmd.backtest_command(args.config, args.out, seed=args.seed, origins=args.origins,
                                      families=families, samples=args.samples)
            else:
                fcmd.forecast_command(args.config, args.out, seed=args.seed)
        elif args.command == "explain":
            from optimizer import forecast_commands as fcmd

            fcmd.explain_command(args.config, args.item, args.location, args.out, seed=args.seed, top=args.top)
        return 0
    except EchelonError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"echelon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("echelon: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("echelon: internal error (a bug): please report it with the traceback above", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
