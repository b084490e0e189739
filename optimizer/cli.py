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
  echelon compare configs/m5.yaml configs/whatif/promotion.yaml --out cmp/   what a what-if changes
  echelon frontier configs/m5.yaml --points 6 --fill-rates 0.9,0.97 --out wc/   cost and service by budget
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
        "compare", help="run several configs (a base and its what-ifs) and compare their figures",
        description="Run each config and write comparison.csv (one row per file: expected cost and its\n"
        "parts, capital, fill rate in and out of sample, orders value, shadow prices) and each plan\n"
        "into --out; print the same as a table with the differences to the first file.",
        epilog="examples:\n  echelon compare configs/m5.yaml configs/whatif/*.yaml --out cmp/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("configs", nargs="+", metavar="CONFIG", help="scenario YAML files; the first is the reference")
    c.add_argument("--out", required=True, help="output folder (replaced atomically if it holds an earlier run)")
    c.add_argument("--seed", type=int, default=None, help="override scenarios.seed in every file")
    c.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    f = sub.add_parser(
        "frontier", help="expected cost and fill rate as the working-capital budget varies",
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
    f.add_argument("--seed", type=int, default=None, help="override scenarios.seed")
    f.add_argument("--debug", action="store_true", help="show the full traceback on errors")


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

            plan = run(args.config, out=args.out, seed=args.seed, decompose=args.decompose)
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

            if args.backtest:
                families = args.families.split(",") if args.families else None
                fcmd.backtest_command(args.config, args.out, seed=args.seed, origins=args.origins,
                                      families=families, samples=args.samples)
            else:
                fcmd.forecast_command(args.config, args.out, seed=args.seed)
        elif args.command == "explain":
            from optimizer import forecast_commands as fcmd

            fcmd.explain_command(args.config, args.item, args.location, args.out, seed=args.seed, top=args.top)
        elif args.command == "compare":
            from optimizer.compare import compare, comparison_table

            print(comparison_table(compare(args.configs, out=args.out, seed=args.seed)))
        elif args.command == "frontier":
            from optimizer.frontier import frontier, frontier_table

            print(frontier_table(frontier(args.config, args.out, budgets=args.budgets, points=args.points,
                                          fill_rates=args.fill_rates, seed=args.seed)))
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
