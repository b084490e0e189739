r"""The working-capital frontier: what each extra dollar of inventory buys.

For budgets :math:`B_1 < B_2 < \dots` the model of :mod:`optimizer.model` is
solved with the capital row :math:`\text{capital}(x) \le B_k` (and the
config's fill-rate target, if any). Its optimal cost :math:`z(B)` is
non-increasing and convex in :math:`B` (a larger budget only widens the
feasible set of a linear programme; the value function of a right-hand side
is convex), and the budget's shadow price :math:`\lambda(B) = -z'(B)` is
non-increasing: the first dollars buy the most. Between two points,

.. math::

    \lambda(B_2)\,(B_2 - B_1) \;\le\; z(B_1) - z(B_2) \;\le\; \lambda(B_1)\,(B_2 - B_1).

``--points N`` spaces :math:`N` budgets from the least capital that meets
the service target, :math:`\underline B = \min\{\text{capital}(x) :
\text{fill}(x) \ge \beta\}`, to the capital the unconstrained optimum uses,
:math:`\overline B`, beyond which nothing improves. The reverse question,
``--fill-rates``: for each :math:`\beta'`, the least capital
:math:`\underline B(\beta')` that meets it, and the cheapest plan within it.

Every point is replayed out of sample on the same fresh scenarios (common
random numbers), so points differ by their plans, not by sampling noise;
the fill rate's 95% interval is the replay's (:func:`optimizer.simulate.summarise`).

The model is built once. Points are solved item by item
(:mod:`optimizer.decompose`, whatever ``solver.decompose`` says): budget and
target are right-hand sides of the small master problem, so each point keeps
the compiled item models and every proposal of the points before it, and
re-solves warm.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from optimizer.config import load_config
from optimizer.decompose import close_pool, solve_decomposed
from optimizer.engines import decomposition_options
from optimizer.errors import InfeasibleError, InputError
from optimizer.inputs import initial_state, prepare
from optimizer.model import Problem
from optimizer.outputs import csv_bytes, manifest, png_bytes, pyplot, write_outputs
from optimizer.plan import capital_and_fill
from optimizer.simulate import simulate_policy, summarise
from optimizer.solver import SolveStatus
from scenarios import sample_scenarios

__all__ = ["frontier", "frontier_table", "plot_frontier", "FRONTIER_COLUMNS"]

#: Columns of frontier.csv, in order.
FRONTIER_COLUMNS = (
    "budget", "capital_used", "expected_cost", "fill_rate_in_sample", "fill_rate_out_of_sample",
    "fill_rate_oos_lo95", "fill_rate_oos_hi95", "shadow_price", "kind", "fill_rate_target",
    "cost_out_of_sample", "cost_oos_lo95", "cost_oos_hi95", "service_price_per_point", "status",
)

_NUDGE = 1e-7  # relative slack on a least-capital budget, so the master meets it within tolerance


def scenario_problem(config, config_path, seed: int):
    """Config -> inputs -> forecast -> scenarios -> :class:`~optimizer.model.Problem`, as ``run`` does.

    Returns the problem, the demand table, the inputs and the data files read.
    """
    from optimizer.forecast_commands import scenario_copula
    from optimizer.run import forecast_demand, make_problem

    inputs = prepare(config, config_path)
    on_hand, pipeline, state_files = initial_state(config, config_path, inputs)
    table, _ = forecast_demand(config, inputs, seed)
    sc = config.scenarios
    scenario_set = sample_scenarios(table, sc.count, seed=seed, method=sc.method,
                                    copula=scenario_copula(config, config_path))
    return make_problem(config, inputs, scenario_set, on_hand, pipeline), table, inputs, inputs.data_files + state_files


class _Frontier:
    """One built model re-solved at many budgets and targets (the module docstring)."""

    def __init__(self, problem: Problem, config, fresh_demand):
        self.problem, self.config, self.fresh = problem, config, fresh_demand
        self.pools = {"cost": {}, "capital": {}}
        self.seconds = []

    def _solve(self, objective, budget, fill_rate):
        t0 = time.perf_counter()
        sol = solve_decomposed(
            dataclasses.replace(self.problem, budget=budget, fill_rate=fill_rate), objective=objective,
            pool=self.pools[objective], solution=True, **decomposition_options(self.config.solver))
        built = sol.built
        self.seconds.append({"objective": objective, "budget": budget, "fill_rate": fill_rate,
                             "seconds": time.perf_counter() - t0, "rounds": sol.message})
        return built, sol

    def close(self) -> None:
        """Stop the item models' workers."""
        for pool in self.pools.values():
            close_pool(pool)

    def least_capital(self, fill_rate) -> float | None:
        """:math:`\\underline B(\\beta)`: the least expected capital of a plan meeting ``fill_rate`` (None: none does)."""
        _, sol = self._solve("capital", None, fill_rate)
        return sol.objective if sol.status == SolveStatus.OPTIMAL else None

    def unconstrained_capital(self) -> float | None:
        """:math:`\\overline B`: the capital the optimum without a budget uses."""
        built, sol = self._solve("cost", None, self.problem.fill_rate)
        return capital_and_fill(built, sol.x)[0] if sol.status == SolveStatus.OPTIMAL else None

    def point(self, kind: str, budget: float | None, fill_rate: float | None) -> dict:
        """One row of frontier.csv: the cheapest plan within ``budget`` meeting ``fill_rate``."""
        row = dict.fromkeys(FRONTIER_COLUMNS, np.nan)
        row.update(kind=kind, budget=budget, fill_rate_target=fill_rate)
        if budget is None:
            row["status"] = "infeasible"
            return row
        built, sol = self._solve("cost", budget, fill_rate)
        row["status"] = sol.status.value
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
            return row
        x, duals, k = sol.x, sol.row_duals, built.constants
        capital, fill = capital_and_fill(built, x)
        row.update(capital_used=capital, expected_cost=sol.objective, fill_rate_in_sample=fill,
                   shadow_price=-duals[built.rows["capital"]] + 0.0,
                   service_price_per_point=-duals[built.rows["service"]] * 0.01 * k["service_demand"] + 0.0)
        if self.fresh is not None:
            replay = summarise(simulate_policy(built.problem, x[built.cols["target"]],
                                               x[built.cols["ship"]][:, :, 0, 0], self.fresh))
            fr, cost = replay["fill_rate"], replay["cost"]
            row.update(fill_rate_out_of_sample=fr["mean"], fill_rate_oos_lo95=fr["ci95"][0],
                       fill_rate_oos_hi95=fr["ci95"][1], cost_out_of_sample=cost["mean"],
                       cost_oos_lo95=cost["ci95"][0], cost_oos_hi95=cost["ci95"][1])
        return row


def _check(values, name: str, low: float, high: float | None, fix: str) -> list[float]:
    values = [float(v) for v in values]
    for v in values:
        if not (v > low and (high is None or v <= high)):
            raise InputError("command line", name, f"{v:g} is out of range", fix)
    return values


def frontier(config_path, out=None, *, budgets=None, points: int | None = None, fill_rates=None,
             seed: int | None = None) -> pd.DataFrame:
    """Cost, capital and fill rate along the working-capital budget (``echelon frontier``).

    Parameters
    ----------
    config_path : str or Path
        The scenario YAML file; its fill-rate target holds at every budget point.
    out : str or Path, optional
        Folder for frontier.csv, frontier.png and manifest.json, written atomically.
    budgets : sequence of float, optional
        Budgets to solve at (money, as ``constraints.capital.budget``).
    points : int, optional
        Budgets evenly spaced from the least capital that meets the target to
        the capital beyond which nothing improves (>= 2).
    fill_rates : sequence of float, optional
        Fill rates in (0, 1] whose least capital is wanted (rows of kind ``fill_rate``).
    seed : int, optional
        Overrides ``scenarios.seed``.

    Returns
    -------
    pandas.DataFrame
        One row per point, columns :data:`FRONTIER_COLUMNS`: ``kind`` is ``budget``
        or ``fill_rate``; ``status`` ``infeasible`` where no plan fits (figures NaN).

    Raises
    ------
    InputError
        Bad config, data or arguments (exit code 2).
    InfeasibleError
        With ``points``: no budget meets the config's fill-rate target (exit code 3).
    """
    if budgets is None and points is None and fill_rates is None:
        raise InputError("command line", "--budgets", "nothing to compute",
                         "give --budgets B1,B2,..., --points N or --fill-rates F1,F2,...")
    budgets = _check(budgets or [], "--budgets", 0.0, None, "give budgets above 0")
    fill_rates = _check(fill_rates or [], "--fill-rates", 0.0, 1.0, "give fill rates in (0, 1]")
    if points is not None and points < 2:
        raise InputError("command line", "--points", f"{points} is too few", "give at least 2 points")
    t_start = time.perf_counter()
    config = load_config(config_path)
    seed = config.scenarios.seed if seed is None else int(seed)
    problem, table, inputs, data_files = scenario_problem(config, config_path, seed)
    from optimizer.run import scenario_demand

    ev = config.evaluation
    fresh = None
    if ev.scenarios:
        fresh_set = sample_scenarios(table, ev.scenarios, seed=seed + ev.seed_offset, method=config.scenarios.method)
        fresh = scenario_demand(inputs, fresh_set)
    timings = {"prepare": time.perf_counter() - t_start}
    solver = _Frontier(problem, config, fresh)
    try:
        if points is not None:
            low = solver.least_capital(problem.fill_rate)
            high = solver.unconstrained_capital()
            if low is None or high is None:
                raise InfeasibleError(f"the fill-rate target {problem.fill_rate:g} cannot be met at any budget; "
                                      "lower it (echelon run says the best reachable)")
            budgets += list(np.linspace(low * (1 + _NUDGE), max(high, low * (1 + _NUDGE)), points))
        rows = [solver.point("budget", b, problem.fill_rate) for b in budgets]
        for f in fill_rates:
            least = solver.least_capital(f)
            rows.append(solver.point("fill_rate", None if least is None else least * (1 + _NUDGE), f))
    finally:
        solver.close()
    frame = pd.DataFrame(rows, columns=list(FRONTIER_COLUMNS))
    frame = frame.sort_values(["kind", "budget"], kind="mergesort", na_position="last").reset_index(drop=True)
    timings["points"] = solver.seconds
    timings["total"] = time.perf_counter() - t_start
    if out is not None:
        _write(frame, config, config_path, seed, data_files, timings, out)
    return frame


def _write(frame, config, config_path, seed, data_files, timings, out) -> None:
    files = {
        "frontier.csv": csv_bytes(frame, "%.10g"),
        "frontier.png": plot_frontier(frame, target=config.constraints.service.fill_rate
                                      if config.constraints.service else None),
        "manifest.json": manifest(config_path, config, seed=seed, timings=timings, data_files=data_files),
    }
    write_outputs(out, files)


def plot_frontier(frame: pd.DataFrame, target: float | None = None) -> bytes:
    """frontier.png: cost, fill rate (in sample, out of sample with its 95% band) and shadow price by budget."""
    plt = pyplot()
    ok = frame[frame["capital_used"].notna()]
    line, asked = ok[ok["kind"] == "budget"], ok[ok["kind"] == "fill_rate"]
    fig, (ax_cost, ax_fill, ax_price) = plt.subplots(3, 1, figsize=(7.5, 8.5), sharex=True,
                                                     gridspec_kw={"height_ratios": [3, 3, 2]})
    ax_cost.plot(line["budget"], line["expected_cost"], "o-", color="C0", label="in sample (the model's)")
    ax_cost.plot(line["budget"], line["cost_out_of_sample"], "s--", color="C1", label="out of sample (replay)")
    ax_cost.fill_between(line["budget"], line["cost_oos_lo95"], line["cost_oos_hi95"], color="C1", alpha=0.2,
                         label="95% interval")
    ax_cost.set_ylabel("expected cost over the horizon")
    ax_cost.set_title("Working-capital frontier")
    ax_fill.plot(line["budget"], line["fill_rate_in_sample"], "o-", color="C0", label="in sample")
    ax_fill.plot(line["budget"], line["fill_rate_out_of_sample"], "s--", color="C1", label="out of sample")
    ax_fill.fill_between(line["budget"], line["fill_rate_oos_lo95"], line["fill_rate_oos_hi95"], color="C1",
                         alpha=0.2, label="95% interval")
    if len(asked):
        ax_fill.plot(asked["budget"], asked["fill_rate_target"], "*", color="C3", markersize=12,
                     label="least capital for a fill rate")
    if target is not None:
        ax_fill.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax_fill.set_ylabel("network fill rate")
    ax_price.plot(line["budget"], line["shadow_price"], "o-", color="C2")
    ax_price.set_yscale("symlog", linthresh=0.01)  # the first dollars above the least capital are worth most
    ax_price.set_ylabel("shadow price\n(cost saved per $)")
    ax_price.set_xlabel("working-capital budget ($, expected average stock at cost)")
    for ax in (ax_cost, ax_fill, ax_price):
        ax.grid(alpha=0.3)
    for ax in (ax_cost, ax_fill):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)


def frontier_table(frame: pd.DataFrame) -> str:
    """frontier.csv as the command line prints it: one line per point."""
    from optimizer.compare import text_table

    def money(v):
        return "-" if pd.isna(v) else f"{v:,.2f}"

    def share(v):
        return "-" if pd.isna(v) else f"{v:.4f}"

    table = [("kind", "budget", "capital used", "expected cost", "fill rate", "out of sample [95%]",
              "shadow price", "status")]
    for r in frame.itertuples(index=False):
        oos = "-" if pd.isna(r.fill_rate_out_of_sample) else (
            f"{r.fill_rate_out_of_sample:.4f} [{r.fill_rate_oos_lo95:.4f}, {r.fill_rate_oos_hi95:.4f}]")
        kind = r.kind if r.kind == "budget" else f"fill {r.fill_rate_target:g}"
        table.append((kind, money(r.budget), money(r.capital_used), money(r.expected_cost),
                      share(r.fill_rate_in_sample), oos, share(r.shadow_price), r.status))
    return text_table(table)
