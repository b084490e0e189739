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
    r.add_argument("--quiet", action="store_true", help="print nothing on success")
    r.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    v = sub.add_parser(
        "validate",
        help="check config and data without solving",
        description="Load the config and every file it names, and check them against the network.",
    )
    v.add_argument("config", help="scenario YAML file")
    v.add_argument("--debug", action="store_true", help="show the full traceback on errors")
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

            plan = run(args.config, out=args.out, seed=args.seed)
            if not args.quiet:
                print(_summary(plan, time.perf_counter() - start, args.out))
        elif args.command == "validate":
            from optimizer.run import validate

            config, inputs = validate(args.config)
            print(
                f"{args.config}: valid: {len(inputs.items)} items, {len(inputs.network.nodes)} stock points "
                f"({len(inputs.stores)} stores), {config.periods} periods, {config.scenarios.count} scenarios"
            )
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
