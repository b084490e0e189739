"""One planning run: config -> forecast -> scenarios -> model -> plan -> files.

The Python API has the verbs of the command line::

    from optimizer.run import run
    plan = run("configs/m5.yaml", out="out/")
    plan.orders, plan.stock_positions, plan.kpis
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.config import Config, load_config
from optimizer.decompose import solve_decomposed
from optimizer.engines import decomposition_options, make_engine
from optimizer.errors import InfeasibleError, InputError, SolverError, TimeLimitError
from optimizer.inputs import Inputs, initial_state, prepare
from optimizer.model import Problem, build_model, tonight_purchase_value
from optimizer.numerics import check_demand, check_size
from optimizer.outputs import csv_bytes, manifest, package_versions, sha256_file, to_json, write_outputs
from optimizer.plan import Plan, assemble_plan, capital_and_fill, plan_figures
from optimizer.progress import Progress
from optimizer.sample_size import scenarios_for_gap
from optimizer.report import forecast_frame, recent_sales, render_report
from optimizer.simulate import simulate_in_blocks, simulate_policy, stock_percentiles, summarise
from optimizer.solver import SolveStatus, solve_pyomo
from optimizer.whatif import scale_demand
from scenarios import sample_scenarios

__all__ = ["run", "validate", "forecast_demand", "solve_plan", "Solved"]


def validate(config_path) -> tuple[Config, Inputs]:
    """Check config and data without forecasting or solving (``echelon validate``)."""
    config = load_config(config_path)
    inputs = prepare(config, config_path)
    initial_state(config, config_path, inputs)
    return config, inputs


def make_forecaster(config: Config, seed: int, *, horizon: int | None = None, family: str | None = None):
    """The NGBoost forecaster the config asks for (horizon: the config's periods by default).

    With ``forecast.group_by``, one model per group (:class:`forecasts.GroupedForecaster`); with
    ``family: auto`` and no ``group_by``, the grouped forecaster of the one global group.
    """
    from forecasts import GroupedForecaster, NGBoostForecaster

    spec = config.forecast
    options = dict(spec.options)
    for name in ("n_estimators", "learning_rate"):
        if getattr(spec, name) is not None:
            options[name] = getattr(spec, name)
    options.update(horizon=horizon or config.periods, family=family or spec.family, random_state=seed)
    try:
        forecaster = NGBoostForecaster(**options)
        if spec.group_by is None and options["family"] != "auto":
            return forecaster
        return GroupedForecaster(group_by=spec.group_by, n_jobs=spec.n_jobs, engine=make_engine(config.solver),
                                 **options)
    except TypeError as exc:
        raise InputError("config", "forecast.options", str(exc), "use options NGBoostForecaster accepts") from None
    except ValueError as exc:
        raise InputError("config", "forecast", str(exc), "correct the forecast options") from None


def forecast_demand(config: Config, inputs: Inputs, seed: int):
    """The demand distribution table, what-if multipliers applied, and the dates of the periods (None if undated)."""
    if inputs.demand_table is not None:
        table, dates = inputs.demand_table, None
    else:
        fc = make_forecaster(config, seed)
        fc.fit(inputs.history, origin=inputs.as_of, calendar=inputs.calendar)
        table, dates = fc.predict(), fc.period_dates_
        if config.forecast.recalibrate:
            from scenarios.recalibration import recalibrate

            table = recalibrate(table, make_forecaster(config, seed), inputs.history, inputs.calendar,
                                config.periods, seed)
    return scale_demand(table, inputs.demand_factor, inputs.items, inputs.stores), dates


def scenario_demand(inputs: Inputs, scenario_set) -> np.ndarray:
    """Scenario demand (S, I, J) in the model's item and store order."""
    loc, itm = _positions(scenario_set.locations, inputs.stores), _positions(scenario_set.items, inputs.items)
    if loc == list(range(len(scenario_set.locations))) and itm == list(range(len(scenario_set.items))):
        return scenario_set.demand  # already in the model's order: no copy
    return np.ascontiguousarray(scenario_set.demand[:, np.asarray(itm)[:, None], np.asarray(loc)[None, :]])


def _positions(ids, wanted) -> list[int]:
    """Position of each of ``wanted`` in ``ids`` (KeyError if one is missing)."""
    pos = {x: k for k, x in enumerate(ids)}
    return [pos[x] for x in wanted]


def make_problem(config: Config, inputs: Inputs, scenario_set, on_hand, pipeline) -> Problem:
    demand = scenario_demand(inputs, scenario_set)
    c = config.constraints
    return Problem(
        items=inputs.items,
        network=inputs.network,
        demand=demand,
        probability=scenario_set.probability,
        unit_cost=inputs.unit_cost,
        holding_cost=inputs.holding_cost,
        shortage_cost=inputs.shortage_cost,
        on_hand=on_hand,
        pipeline=pipeline,
        shortage=config.shortage,
        budget=c.capital.budget if c.capital else None,
        fill_rate=c.service.fill_rate if c.service else None,
        **_rules(config, inputs),
    )


def _rules(config: Config, inputs: Inputs) -> dict:
    """Case packs, MOQs, capital measure, open-to-buy and service options as Problem fields."""
    given = {i.id: i for i in config.items}
    c = config.constraints
    rules = {}
    for name in ("case_pack", "moq"):
        values = [getattr(given.get(i), name, None) for i in inputs.items]
        if any(v is not None for v in values):
            rules[name] = np.array([0.0 if v is None else v for v in values])
    if c.capital:
        rules.update(capital_measure=c.capital.measure, open_to_buy=c.capital.open_to_buy)
    if c.service:
        rules.update(service_level=c.service.level, service_weighting=c.service.weighting,
                     cycle_service=c.service.cycle_service)
    return rules


def solve_problem(problem: Problem, config: Config, solution: bool = False, file="config"):
    """Solve the whole model, or item by item with priced linking rows (``solver.decompose``).

    A whole model too large for the machine's memory is refused (exit code 5, ``file`` named):
    the check before the forecast assumed the decomposition ``solver.decompose: auto`` may choose.

    Solved whole, the model is first tried without its two coupling rows.

    Capital and service are the only rows that tie all items and scenarios
    together, and they make the simplex several times slower. If the optimum
    without them already respects both, it is optimal with them too (a
    relaxation's optimum that is feasible is optimal) and their duals are 0;
    only otherwise is the full model solved. (Only for the average budget and
    the network fill rate in units, the two rows that check covers.)
    """
    coupled = problem.budget is not None or problem.fill_rate is not None
    checkable = problem.capital_measure == "average" and (problem.service_level, problem.service_weighting) == (
        "network", "units")
    if _decomposes(problem, config):
        sol = solve_decomposed(problem, solution=solution, **decomposition_options(config.solver))
        return sol.built, sol
    S, I, N, _, T = problem.shape
    check_size(S, I, N, T, str(file), decomposable=not problem.beyond_decomposition())
    first = 0.0
    if coupled and checkable:
        t0 = time.perf_counter()
        built, sol = _solve_once(dataclasses.replace(problem, budget=None, fill_rate=None), config)
        first = time.perf_counter() - t0
        if sol.status == SolveStatus.OPTIMAL:
            used, fill = capital_and_fill(built, sol.x)
            if (problem.budget is None or used <= problem.budget * (1 + 1e-9)) and (
                problem.fill_rate is None or fill >= problem.fill_rate - 1e-9
            ):
                built.problem = problem
                return built, sol
    built, sol = _solve_once(problem, config)
    if first:
        sol.timings_s["uncoupled_attempt"] = first
    return built, sol


def _solve_once(problem: Problem, config: Config):
    built = build_model(problem)
    t0 = time.perf_counter()
    model = built.lp.to_pyomo()
    build_s = time.perf_counter() - t0
    sol = solve_pyomo(model, built.lp.n_rows, time_limit=config.solver.time_limit, threads=config.solver.threads,
                      mip_gap=config.solver.mip_gap)
    sol.timings_s["build"] = build_s
    return built, sol


def evaluate(problem: Problem, figures, table, config: Config, inputs: Inputs, seed: int, copula=None):
    """Out-of-sample figures of a solved plan (its :class:`~optimizer.plan.PlanFigures`) and the
    optimality-gap estimate, and the replay.

    The first stage (targets, tonight's shipments) is replayed on
    ``evaluation.scenarios`` fresh scenarios (seed + seed_offset, independent
    of the ones solved, drawn through the plan's ``copula``: the plan is judged
    on the dependence it was made for). The gap follows Mak, Morton and Wood (1999): on each
    of ``replications`` independent scenario sets of the plan's size (seeded
    past the fresh ones and each other, so no two share a Monte Carlo scenario), the
    plan's replayed cost less that set's own optimum estimates the gap
    (common random numbers keep its variance small); ``gap`` is their mean,
    ``gap_ci95_upper`` its one-sided 95% upper confidence bound (Student t),
    both also relative to the out-of-sample cost; ``scenarios_for_gap_under_1pct``
    extrapolates them to the scenario count that brings the gap under 1%
    (:func:`~optimizer.sample_size.scenarios_for_gap`).

    Returns ``(figures, replay)``: the dict of ``kpis.json``'s
    ``out_of_sample`` and the :class:`~optimizer.simulate.SimulationResult`.
    """
    from scipy import stats

    ev, sc = config.evaluation, config.scenarios
    target, ship0 = figures.target, figures.ship0
    fresh = sample_scenarios(table, ev.scenarios, seed=seed + ev.seed_offset, method=sc.method, copula=copula)
    replay = simulate_in_blocks(problem, target, ship0, scenario_demand(inputs, fresh))
    del fresh
    out = summarise(replay)
    out["seed"] = seed + ev.seed_offset
    if ev.replications:
        gaps, optima = [], []
        for m in range(ev.replications):
            # Monte Carlo seeds scenario s by seed + s: each set starts past the last, so none overlap.
            rep = sample_scenarios(table, sc.count, seed=seed + ev.seed_offset + ev.scenarios + m * sc.count,
                                   method=sc.method, copula=copula)
            demand = scenario_demand(inputs, rep)
            _, sol = solve_problem(dataclasses.replace(problem, demand=demand, probability=rep.probability), config)
            if sol.status == SolveStatus.OPTIMAL:
                # The plan's cost on this sample less the sample's own optimum (>= 0 up to tolerance).
                plan_cost = float(simulate_policy(problem, target, ship0, demand).cost @ rep.probability)
                gaps.append(plan_cost - sol.objective)
                optima.append(sol.objective)
        gap = {"replications": ev.replications, "solved": len(gaps), "scenarios_each": sc.count}
        if len(gaps) >= 2:
            mean, sd = float(np.mean(gaps)), float(np.std(gaps, ddof=1))
            upper = mean + stats.t.ppf(0.95, len(gaps) - 1) * sd / np.sqrt(len(gaps))
            scale = out["cost"]["mean"] or 1.0
            gap.update(
                lower_bound=float(np.mean(optima)),
                gap=mean,
                gap_ci95_upper=float(upper),
                gap_relative=mean / scale,
                gap_ci95_upper_relative=float(upper / scale),
            )
            gap["scenarios_for_gap_under_1pct"] = scenarios_for_gap(sc.count, float(upper / scale))
        out["optimality_gap"] = gap
    return out, replay


def _decomposes(problem: Problem, config: Config, *, diagnosis: bool = False) -> bool:
    """Whether to solve item by item: always with "on"; with "auto" when several items share
    a budget or target (and always for the diagnosis's re-solves, which are many-item LPs);
    never when the problem has rows or integers the decomposition cannot price ("on" then
    raises :class:`InputError`)."""
    mode = config.solver.decompose
    beyond = problem.beyond_decomposition()
    if beyond and mode == "on":
        raise InputError("config", "solver.decompose", f"'on' cannot price {', '.join(beyond)}",
                         "set solver.decompose: auto (solves such models whole) or off")
    coupled = problem.budget is not None or problem.fill_rate is not None
    return not beyond and (mode == "on" or (mode == "auto" and (coupled or diagnosis) and len(problem.items) > 1))


def _min_capital(problem: Problem, config: Config) -> float | None:
    """Least capital of any plan (subject to the service target if the problem has one), in the
    problem's capital measure: the expected average, or the least budget of the peak or
    per-scenario rows (their elastic extra budget minimised, with the budget at 0)."""
    if problem.capital_measure != "average":
        built = build_model(dataclasses.replace(problem, budget=0.0), elastic_budget=True)
        return _solve_for(built, [(1.0, built.constants["extra_budget"])], 0.0, config)[0]
    problem = dataclasses.replace(problem, budget=None)
    if _decomposes(problem, config, diagnosis=True):
        sol = solve_decomposed(problem, objective="capital", **decomposition_options(config.solver))
        # The whole-model capital constant is carried by the item models' objective.
        return sol.objective if sol.status == SolveStatus.OPTIMAL else None
    built = build_model(problem)
    return _solve_for(built, built.constants["cap_terms"], built.constants["capital"], config)[0]


def _best_fill_rate(problem: Problem, config: Config) -> float | None:
    """Highest expected fill rate within the problem's budget (None if no plan fits it)."""
    problem = dataclasses.replace(problem, fill_rate=None)
    if _decomposes(problem, config, diagnosis=True):
        sol = solve_decomposed(problem, objective="short", **decomposition_options(config.solver))
        short = sol.objective if sol.status == SolveStatus.OPTIMAL else None
        demand = sol.figures.service_demand if sol.figures is not None else 0.0
    else:
        built = build_model(problem)
        w = problem.probability[None, None, None, :] * built.constants["service_mask"][None, :, :, None]
        short, _ = _solve_for(built, [(w, built.cols["short"])], 0.0, config)
        demand = built.constants["service_demand"]
    if short is None or demand <= 0:
        return None
    return 1.0 - short / demand


def _solve_for(built, terms, constant, config: Config) -> tuple[float | None, np.ndarray | None]:
    """The least value of ``terms + constant`` over ``built``'s plans and the plan (None, None if none)."""
    built.lp.set_objective(terms, constant=constant)
    sol = solve_pyomo(built.lp.to_pyomo(), built.lp.n_rows, time_limit=config.solver.time_limit,
                      mip_gap=config.solver.mip_gap)
    return (sol.objective, sol.x) if sol.status == SolveStatus.OPTIMAL else (None, None)


def _capacity_needs(problem: Problem, config: Config) -> dict:
    """Extra units per period each capacity needs for the targets and limits to be met: an elastic
    re-solve minimising the total extra ({} if the problem fails without capacities too)."""
    built = build_model(problem, elastic_capacity=True)
    extras = [(kind, n, e) for kind, n, _, e in built.rows["capacity"]]
    if not extras:
        return {}
    _, x = _solve_for(built, [(1.0, np.array([e for *_, e in extras]))], 0.0, config)
    caps = problem.network.capacities()
    return {} if x is None else {
        f"{kind} capacity of {problem.network.nodes[n]}": {"capacity": float(caps[kind][n]), "extra_needed": float(x[e])}
        for kind, n, e in extras if x[e] > 1e-6
    }


def _targets(problem: Problem) -> str:
    parts = [f"fill-rate target {problem.fill_rate:.4g}" if problem.fill_rate is not None else "",
             f"cycle-service target {problem.cycle_service:.4g}" if problem.cycle_service is not None else "",
             f"the capital budget {problem.budget:,.2f}" if problem.budget is not None else ""]
    return " and ".join(p for p in parts if p) or "the model's rows"


def _diagnose(problem: Problem, config: Config) -> InfeasibleError:
    """Say in the planner's terms why no plan meets the targets (exit code 3).

    In this order: capacities (an elastic re-solve says how many more units per
    period each needs), the open-to-buy limit (the least that meets the rest),
    then the budget and the fill-rate target (least budget, best fill rate).
    """
    needs = _capacity_needs(problem, config)
    if needs:
        best = _best_fill_rate(problem, config) if problem.fill_rate is not None else None
        named = "; ".join(f"the {k} ({v['capacity']:g} units{'' if k.startswith('storage') else ' a period'}) "
                          f"needs {v['extra_needed']:,.2f} more" for k, v in needs.items())
        msg = f"the {_targets(problem)} cannot be met within the capacities: {named}"
        if best is not None:
            msg += f"; the best fill rate within them is {best:.4f}"
        return InfeasibleError(msg, {"capacities": needs, "best_fill_rate_within_limits": best})
    if problem.open_to_buy is not None:
        built = build_model(dataclasses.replace(problem, open_to_buy=None))
        least, _ = _solve_for(built, *tonight_purchase_value(built), config)
        if least is not None and least > problem.open_to_buy:
            msg = (f"the {_targets(problem)} cannot be met within the open-to-buy limit {problem.open_to_buy:,.2f} "
                   f"on tonight's orders; the least that meets them is {least:,.2f}")
            return InfeasibleError(msg, {"open_to_buy": problem.open_to_buy, "least_open_to_buy_for_targets": least})
    floor = _min_capital(dataclasses.replace(problem, fill_rate=None, cycle_service=None), config)
    targeted = problem.fill_rate is not None or problem.cycle_service is not None
    least = _min_capital(problem, config) if targeted else None
    best = _best_fill_rate(problem, config) if problem.budget is not None else None
    diag = {
        "budget": problem.budget,
        "fill_rate_target": problem.fill_rate,
        "least_capital_of_any_plan": floor,
        "least_budget_for_target": least,
        "best_fill_rate_within_budget": best,
    }
    if problem.budget is not None and floor is not None and problem.budget < floor:
        msg = (f"the capital budget {problem.budget:,.2f} is below the {floor:,.2f} that today's stock and "
               "pipeline tie up whatever is ordered tonight")
        if least is not None:
            msg += f"; the least budget that also meets the fill-rate target is {least:,.2f}"
        return InfeasibleError(msg, diag)
    if problem.fill_rate is not None and least is None:
        reach = _best_fill_rate(dataclasses.replace(problem, budget=None), config)
        diag["best_fill_rate_any_budget"] = reach
        msg = f"the fill-rate target {problem.fill_rate:.4g} cannot be met at any budget"
        if reach is not None:
            msg += f"; the best reachable is {reach:.4f} (today's stock and the lead times fix the first periods)"
        return InfeasibleError(msg, diag)
    msg = f"the {_targets(dataclasses.replace(problem, budget=None))} cannot be met"
    if problem.budget is not None:
        msg += f" within the capital budget {problem.budget:,.2f}"
    if least is not None:
        msg += f"; the least budget that meets it is {least:,.2f}"
    if best is not None:
        msg += f"; the best fill rate within the budget is {best:.4f}"
    return InfeasibleError(msg, diag)


def run(config_path, out=None, *, seed: int | None = None, decompose: str | None = None,
        workers: int | None = None, frontier=None, progress: Progress | None = None,
        engine: str | None = None) -> Plan:
    """Plan from a config file; write the outputs to ``out`` when given.

    Parameters
    ----------
    config_path : str or Path
        The scenario YAML file.
    out : str or Path, optional
        Output folder, written atomically (see :mod:`optimizer.outputs`).
    seed : int, optional
        Overrides ``scenarios.seed`` (also seeds the forecaster).
    decompose : {"auto", "on", "off"}, optional
        Overrides ``solver.decompose``.
    workers : int, optional
        Overrides ``solver.workers``.
    engine : {"local", "spark"}, optional
        Overrides ``solver.engine`` (:mod:`optimizer.engines`).
    frontier : str or Path, optional
        A ``frontier.csv`` written by ``echelon frontier``, shown in ``report.html``.
    progress : Progress, optional
        Shows each stage as it runs (the command line passes one; silent by default).

    Returns
    -------
    Plan
        ``orders``, ``stock_positions`` and ``kpis``; for the report,
        ``forecast`` (demand quantiles), ``projection`` (on-hand percentiles
        of the replay) and ``sales`` (the last 28 days, with a history).

    Raises
    ------
    InputError, InfeasibleError, TimeLimitError
        Exit codes 2, 3 and 4 on the command line.
    """
    timings = {}
    progress = progress or Progress(enabled=False)
    progress.stage("load")
    t = time.perf_counter()
    frontier = None if frontier is None else read_frontier(frontier)
    config = load_config(config_path)
    if workers is not None and workers < 1:
        raise InputError("command line", "--workers", f"received {workers}", "give 1 or more processes")
    overrides = {k: v for k, v in (("decompose", decompose), ("workers", workers), ("engine", engine))
                 if v is not None}
    if overrides:
        config = config.model_copy(update={"solver": config.solver.model_copy(update=overrides)})
    where = ("command line", "--engine") if engine else (config_path, "solver.engine")
    make_engine(config.solver, *where)  # exit 2 before anything runs if pyspark is asked for and missing
    seed = config.scenarios.seed if seed is None else int(seed)
    inputs = prepare(config, config_path)
    on_hand, pipeline, state_files = initial_state(config, config_path, inputs)
    timings["load"] = time.perf_counter() - t

    progress.stage("forecast")
    t = time.perf_counter()
    table, period_dates = forecast_demand(config, inputs, seed)
    timings["forecast"] = time.perf_counter() - t

    files_read = inputs.data_files + state_files
    try:
        plan = solve_plan(config, config_path, inputs, table, period_dates, on_hand, pipeline, seed, timings,
                          progress=progress).plan
    except InfeasibleError as error:
        if out is not None:  # the diagnosis, in kpis.json (no plan files: there is no plan)
            kpis = {"status": "infeasible", "message": str(error), "diagnosis": error.diagnosis, "timings_s": timings}
            _write({"kpis.json": to_json(kpis).encode()}, config, config_path, files_read, seed, out, timings)
        raise
    if out is not None:
        progress.stage("write")
        t = time.perf_counter()
        files = {"orders.csv": csv_bytes(plan.orders), "stock_positions.csv": csv_bytes(plan.stock_positions),
                 "kpis.json": to_json(plan.kpis).encode(),
                 "report.html": report_html(plan, config_path, seed, frontier=frontier)}
        _write(files, config, config_path, files_read, seed, out, timings)
        timings["write"] = time.perf_counter() - t
    timings["total"] = sum(v for k, v in timings.items() if k != "total")
    progress.done()
    return plan


@dataclasses.dataclass
class Solved:
    """A solved plan with what produced it (for the nightly job's exceptions, feeds and approvals)."""

    plan: Plan
    problem: Problem
    built: object
    x: np.ndarray
    scenarios: object


def solve_plan(config: Config, config_path, inputs: Inputs, table, period_dates, on_hand, pipeline, seed: int,
               timings: dict, *, progress: Progress | None = None, solution: bool = False, **fixed) -> Solved:
    """Scenarios from the demand table, the model solved, the plan and its KPIs (``timings`` filled in).

    ``fixed`` (``fixed_order``, ``fixed_target``) is passed on to :class:`~optimizer.model.Problem`;
    ``progress`` shows the solve and evaluate stages. ``solution``: keep the whole model and
    its solution in :class:`Solved` also when decomposing (``built`` and ``x`` are None otherwise).

    Raises
    ------
    InfeasibleError, TimeLimitError
    """
    progress = progress or Progress(enabled=False)
    t = time.perf_counter()
    sc = config.scenarios
    from optimizer.forecast_commands import scenario_copula

    copula = scenario_copula(config, config_path)
    scenario_set = sample_scenarios(table, sc.count, seed=seed, method=sc.method, copula=copula)
    timings["scenarios"] = time.perf_counter() - t

    problem = dataclasses.replace(make_problem(config, inputs, scenario_set, on_hand, pipeline), **fixed)
    check_demand(problem.demand, inputs.items, inputs.stores, *_demand_source(config, config_path))
    progress.stage("solve")
    built, sol = solve_problem(problem, config, solution, config_path)
    timings.update({k: v for k, v in sol.timings_s.items() if k not in ("extract", "templates")})  # templates: in build
    if sol.status == SolveStatus.INFEASIBLE:
        raise _diagnose(problem, config)
    if sol.status == SolveStatus.TIME_LIMIT_NO_SOLUTION:
        raise TimeLimitError(
            f"no feasible plan within solver.time_limit={config.solver.time_limit:g} s; "
            "raise it, or use fewer scenarios or periods"
        )
    if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
        raise SolverError(f"HiGHS ended with status {sol.status.value} ({sol.message}) and no plan; nothing was "
                          "written; run `echelon validate` on the config, and rerun with --debug to report it")

    t = time.perf_counter()
    figures = sol.figures if sol.figures is not None else plan_figures(built, sol.x, sol.row_duals)
    plan = assemble_plan(problem, figures, sol.objective, period_dates)
    plan.forecast = forecast_frame(table, dict(zip(inputs.items, inputs.unit_cost)), period_dates)
    if inputs.history is not None:
        plan.sales = recent_sales(inputs.history, inputs.as_of)
    timings["extract"] = time.perf_counter() - t + sol.timings_s["extract"]
    plan.kpis = {
        "status": sol.status.value,
        **plan.kpis,
        "scenarios": {"count": sc.count, "seed": seed, "method": sc.method},
        "periods": config.periods,
        "shortage": config.shortage,
        "model": {"variables": figures.size[0], "constraints": figures.size[1]},
        "timings_s": timings,
    }
    if sol.mip_gap is not None:  # a MIP: the best plan found and how far from optimal it may be
        plan.kpis["mip_gap"] = sol.mip_gap
    if sol.decomposition is not None:  # decomposed: its rounds and how far from optimal it is proven
        plan.kpis["decomposition"] = sol.decomposition
    if config.evaluation.scenarios:
        progress.stage("evaluate")
        t = time.perf_counter()
        plan.kpis["in_sample"] = {"cost": sol.objective, "fill_rate": plan.kpis["service"]["expected_fill_rate"]}
        plan.kpis["out_of_sample"], replay = evaluate(problem, figures, table, config, inputs, seed, copula)
        plan.projection = stock_percentiles(replay, problem.items, problem.network.nodes)
        timings["evaluate"] = time.perf_counter() - t
    if period_dates is not None:
        plan.kpis["as_of"] = inputs.as_of.date().isoformat()
        plan.kpis["period_dates"] = [pd.Timestamp(d).date().isoformat() for d in period_dates]
    return Solved(plan, problem, built, sol.x, scenario_set)


def _demand_source(config: Config, config_path) -> tuple[str, str]:
    """The file and key the scenario demand comes from, for error messages."""
    if config.demand is None:
        return config.history.path, "forecast (the distributions NGBoost learnt from this history)"
    if config.demand.table is not None:
        return config.demand.table, "parameters"
    return str(config_path), "demand.distribution"


def _write(files: dict, config: Config, config_path, data_files, seed, out, timings) -> None:
    """Write ``files`` (name -> bytes) and the manifest into ``out``, atomically."""
    write_outputs(out, {**files, "manifest.json": manifest(config_path, config, seed=seed, timings=timings,
                                                           data_files=data_files)})


def read_frontier(path) -> pd.DataFrame:
    """A ``frontier.csv`` for the report, checked for the columns it draws (exit 2 if it lacks any)."""
    from optimizer.report import FRONTIER_COLUMNS

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, "--frontier", f"cannot read it as CSV ({exc})",
                         "give the frontier.csv that `echelon frontier` wrote") from None
    missing = [c for c in FRONTIER_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(path, "--frontier", f"missing columns {', '.join(missing)}",
                         "give the frontier.csv that `echelon frontier` wrote")
    return frame


def report_html(plan: Plan, config_path, seed, **tables) -> bytes:
    """``report.html`` of a written plan, its footer naming the code, config and seed.

    ``tables`` (``frontier``, ``exceptions``) are passed on to :func:`~optimizer.report.render_report`.
    """
    name = Path(config_path).name
    return render_report(
        plan, forecast=plan.forecast, projection=plan.projection, sales=plan.sales, **tables,
        title=f"Plan: {name}",
        footer=f"echelon {package_versions()['echelon']} · {name} (sha256 "
               f"{sha256_file(config_path)[:12]}) · seed {seed}",
    ).encode()
