"""``echelon backtest``: echelon and planners' policies replayed on held-out recorded demand.

The walk-forward (:mod:`optimizer.replay`) starts on ``--start`` from the
config's initial-state rule applied to the sales known the day before, and
runs ``--periods`` days of recorded sales. Every ``review`` days each policy
sets new levels from a forecast fitted on the sales up to the day before
(:class:`optimizer.policies.ForecastFeed`: one NGBoost fit per review, shared
by all policies) and orders daily up to them. Policies:

* ``echelon_copula``, ``echelon_independent``, ``echelon_point``: the
  stochastic model re-solved at each review at the config's budget and
  fill-rate target (soft: the best fill rate the budget buys when out of
  reach), on Gaussian-copula scenarios (the copula fitted on PITs of
  forecasts made before the start, scored on days before the start), on
  independent scenarios, and on the mean forecast alone;
* ``base_stock`` and ``s_S`` (:class:`optimizer.policies.NormalSafetyStock`)
  with :math:`z = \\Phi^{-1}(\\beta)` as a planner would set it, and each
  tuned by bisection on :math:`z` to echelon_copula's realised network fill
  rate (``*_equal_fill``: compare cost) and to its realised average capital
  (``*_equal_capital``: compare fill rate).

Margins come with 95% bootstrap intervals over items (the tuned levels held
fixed). With ``--windows N`` each of N consecutive windows is replayed on its
own and the margins are pooled, with a block bootstrap over items x windows. Outputs, written atomically: ``backtest.json``, ``replay.csv.gz``
(per policy x item x stock point x period), ``stock_orders.png``,
``cost_vs_fill.png``, ``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import time

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.config import load_config
from optimizer.errors import InputError
from optimizer.inputs import initial_state, prepare
from optimizer.outputs import csv_bytes, manifest, png_bytes, pyplot, to_json, write_outputs
from optimizer.policies import EchelonPolicy, ForecastFeed, NormalSafetyStock
from optimizer.replay import replay, replay_figures

__all__ = ["policy_backtest", "DEFAULTS", "FAST"]

#: Default settings: the bundled data's last 28 days, weekly reviews.
DEFAULTS = {"periods": 28, "review": 7, "warmup": 7, "scenarios": None, "copula_origins": 1, "items": None,
            "order_cost": 1.0, "bootstrap": 2000, "forecast": {}, "n_jobs": 2}
#: ``--fast``: a short replay for the tests (3 items, one week, 8 scenarios, a small forecaster).
FAST = {**DEFAULTS, "periods": 7, "scenarios": 8, "items": 3, "n_jobs": 1,
        "forecast": {"n_estimators": 20, "train_periods": 120}}
MAIN = "echelon_copula"


def _subset(inputs, items):
    """Inputs restricted to ``items`` (in the given order)."""
    idx = [inputs.items.index(i) for i in items]
    history = inputs.history[inputs.history["item"].isin(items)].reset_index(drop=True)
    return dataclasses.replace(inputs, items=tuple(items), history=history, unit_cost=inputs.unit_cost[idx],
                               holding_cost=inputs.holding_cost[idx], shortage_cost=inputs.shortage_cost[idx],
                               recent_demand=inputs.recent_demand[idx])


def _top_items(history, before, count):
    """The ``count`` items with the largest sales (dollars if priced) in the 28 days to ``before``."""
    recent = history[(history["date"] <= before) & (history["date"] > before - pd.Timedelta(days=28))]
    value = recent["quantity"] * (recent["price"].fillna(0) if "price" in recent else 1.0)
    return tuple(value.groupby(recent["item"]).sum().sort_values(ascending=False, kind="mergesort").index[:count])


def recorded_demand(history, items, stores, first, periods) -> np.ndarray:
    """Recorded sales (I, J, T) of the days ``first .. first + periods - 1``."""
    days = pd.date_range(first, periods=periods)
    part = history[history["date"].isin(days)]
    wide = part.pivot_table(index=["item", "location"], columns="date", values="quantity", aggfunc="sum")
    full = pd.MultiIndex.from_product([items, stores], names=["item", "location"])
    wide = wide.reindex(index=full, columns=days)
    if wide.isna().any().any():
        (i, loc), d = wide.index[wide.isna().any(axis=1)][0], wide.columns[wide.isna().any(axis=0)][0]
        raise InputError("history", "quantity", f"no sales recorded for {i} at {loc} on {d.date()}",
                         "choose a window the history covers for every item and store")
    return wide.to_numpy(float).reshape(len(items), len(stores), periods)


def fit_walkforward_copula(feed: ForecastFeed, origins, horizon):
    """Gaussian copula on the PITs of forecasts made at ``origins``, scored on their next ``horizon`` days."""
    from forecasts.metrics import randomized_pit
    from scenarios import fit_copula
    from scenarios.backtest import table_grids

    rng = np.random.default_rng(0)
    pits = []
    for origin in origins:
        table = feed.table_at(origin)
        keys = table.series_index()
        grid, _ = table_grids(table, len(keys), table.n_periods)
        truth = recorded_demand(feed.history, feed.items, feed.stores, origin + pd.Timedelta(days=1), horizon)
        i = pd.Index(feed.items).get_indexer(keys.get_level_values(0))
        j = pd.Index(feed.stores).get_indexer(keys.get_level_values(1))
        y = truth[i, j][:, : table.n_periods]
        pit = randomized_pit(grid.reshape(grid.shape[0], -1), y.ravel(), rng).reshape(y.shape)
        out = np.full((len(feed.items), len(feed.stores), table.n_periods), np.nan)
        out[i, j] = pit
        pits.append(out)
    return fit_copula(np.concatenate(pits), feed.stores)


def _replay_echelon(kind, feed, config, inputs, count, seed, copula, demand, kw):
    """Replay echelon re-solved at each review on ``kind`` scenarios: (replay, review log, seconds)."""
    t0 = time.perf_counter()
    policy = EchelonPolicy(feed, config, inputs, scenarios=kind, count=count, seed=seed, copula=copula)
    rep = replay(policy, demand, **kw)
    return rep, policy.log_, time.perf_counter() - t0


def tune_z(run_z, key, target: float, lo: float = -3.0, hi: float = 6.0, tol: float = 1e-3):
    """Bisect the safety factor z so that ``key(run_z(z))`` (increasing in z) meets ``target``.

    Returns the figures, the replay and z of the last run, and every (z, figures) tried.
    """
    tried = []
    for z in (lo, hi):
        tried.append((z, run_z(z)[0]))
    if key(tried[0][1]) >= target or key(tried[1][1]) <= target:
        z = lo if key(tried[0][1]) >= target else hi
        return (*run_z(z), z, tried)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        fig, rep = run_z(mid)
        tried.append((mid, fig))
        lo, hi = (mid, hi) if key(fig) < target else (lo, mid)
    z = 0.5 * (lo + hi)
    return (*run_z(z), z, tried)


def _per_item(rep, scored_from):
    """Per-item totals over the scored periods: cost, units short and demanded at stores, average capital."""
    stores, w = rep.network.stores, slice(scored_from, None)
    cost = (rep.holding + rep.shortage + rep.dc_backlog + rep.transport)[:, w].sum(axis=1)
    return {"cost": cost, "short": rep.short[:, stores, w].sum(axis=(1, 2)),
            "demand": rep.demand[:, stores, w].sum(axis=(1, 2)), "capital": rep.capital[:, w].mean(axis=1)}


def bootstrap_margins(a, b, draws: int, seed: int = 0) -> dict:
    """Margins of policy ``b`` over ``a`` (per-item totals) with 95% intervals over items resampled.

    ``cost_saving`` = cost(a) - cost(b), also relative to cost(a);
    ``fill_rate_gain`` = fill(b) - fill(a); ``capital_saving`` = capital(a) - capital(b).
    """
    rng = np.random.default_rng(seed)
    n = len(a["cost"])
    idx = np.vstack([np.arange(n), rng.integers(0, n, size=(draws, n))])

    def fill(p):
        return 1 - p["short"][idx].sum(axis=1) / np.maximum(p["demand"][idx].sum(axis=1), 1e-12)

    figures = {
        "cost_saving": a["cost"][idx].sum(axis=1) - b["cost"][idx].sum(axis=1),
        "cost_saving_relative": 1 - b["cost"][idx].sum(axis=1) / a["cost"][idx].sum(axis=1),
        "fill_rate_gain": fill(b) - fill(a),
        "capital_saving": a["capital"][idx].sum(axis=1) - b["capital"][idx].sum(axis=1),
    }
    return {k: {"value": float(v[0]), "ci95": [float(np.quantile(v[1:], 0.025)), float(np.quantile(v[1:], 0.975))]}
            for k, v in figures.items()}


def _configured(config, opts):
    """The config with the backtest's forecast and scenario-count overrides (``--fast``)."""
    if opts["forecast"]:
        f = config.forecast
        n_est = opts["forecast"].get("n_estimators", f.n_estimators)
        options = {**f.options, **{k: v for k, v in opts["forecast"].items() if k != "n_estimators"}}
        config = config.model_copy(update={"forecast": f.model_copy(update={"n_estimators": n_est, "options": options})})
    if opts["scenarios"]:
        config = config.model_copy(update={"scenarios": config.scenarios.model_copy(update={"count": opts["scenarios"]})})
    return config


def _window(start, history, T: int, W: int):
    """First scored day (``start``, default the last ``T`` days), and the first replayed day
    (``W`` warm-up days before), checked against the history."""
    last = history["date"].max()
    first = last - pd.Timedelta(days=T - 1) if start is None else start
    if first + pd.Timedelta(days=T - 1) > last:
        raise InputError("command line", "--periods", f"{T} days from {first.date()} run past the history's last "
                         f"day {last.date()}", f"start on {(last - pd.Timedelta(days=T - 1)).date()} or earlier")
    begin = first - pd.Timedelta(days=W)
    earliest = history["date"].min() + pd.Timedelta(days=365)
    if begin - pd.Timedelta(days=1) < earliest:
        raise InputError("command line", "--start", f"{first.date()} leaves less than a year of history to learn from",
                         f"start on {(earliest + pd.Timedelta(days=W + 1)).date()} or later")
    return first, begin


def _echelon_variants(feed, config, inputs, copula, demand, kw, seed, n_jobs):
    """Replays of echelon on copula, independent and point scenarios, ``n_jobs`` processes at a time."""
    kinds = ("copula", "independent", "point")
    jobs = [(kind, feed.fitted_only(), config, inputs, config.scenarios.count, seed, copula, demand, kw)
            for kind in kinds]
    if n_jobs == 1:
        return dict(zip(kinds, (_replay_echelon(*job) for job in jobs)))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip(kinds, pool.map(_replay_echelon, *zip(*jobs))))


def _planners(feed, inputs, demand, kw, opts, z_planner, ref):
    """Base stock and (s, S) at the planner's z and tuned to ``ref``'s fill rate and capital.

    Returns replays, figures, notes per policy and the (z, fill rate, cost) points tried.
    """
    W = opts["warmup"]
    replays, figures, notes, curves = {}, {}, {}, {}
    for base, order_cost in (("base_stock", None), ("s_S", opts["order_cost"])):
        def run_z(z, order_cost=order_cost):
            policy = NormalSafetyStock(feed, inputs.network, z=z, review=opts["review"], order_cost=order_cost,
                                       holding_cost=inputs.holding_cost)
            rep = replay(policy, demand, **kw)
            return replay_figures(rep, W), rep

        figures[base], replays[base] = run_z(z_planner)
        notes[base] = {"z": z_planner, "tuned": "z = Phi^-1(fill-rate target), as a planner sets it"}
        for goal, key, target in (("equal_fill", lambda f: f["fill_rate"], ref["fill_rate"]),
                                  ("equal_capital", lambda f: f["capital"]["average"], ref["capital"]["average"])):
            name = f"{base}_{goal}"
            figures[name], replays[name], z, tried = tune_z(run_z, key, target)
            notes[name] = {"z": z, "tuned": f"z bisected to {MAIN}'s realised "
                           + ("network fill rate" if goal == "equal_fill" else "average capital")}
            curves.setdefault(base, []).extend((zz, f["fill_rate"], f["total_cost"]) for zz, f in tried)
    return replays, figures, notes, curves


def _comparisons(replays, W, draws):
    """Margins of echelon_copula over every other policy (bootstrap over items)."""
    return _margins({name: _per_item(r, W) for name, r in replays.items()}, draws,
                    "95% bootstrap over items, levels held fixed")


def _margins(per, draws, ci):
    """Margins of echelon_copula over every other policy from per-block totals ``per``."""
    def over(name):
        return bootstrap_margins(per[name], per[MAIN], draws)

    return {
        "reference": MAIN, "ci": ci,
        "equal_fill_rate": {b: over(f"{b}_equal_fill") for b in ("base_stock", "s_S")},
        "equal_capital": {b: over(f"{b}_equal_capital") for b in ("base_stock", "s_S")},
        "planner_z": {b: over(b) for b in ("base_stock", "s_S")},
        "copula_vs_independent": over("echelon_independent"),
        "stochastic_vs_point": over("echelon_point"),
    }


def _log_line(name, f, seconds):
    return (f"  {name:24s} fill {f['fill_rate']:.4f}  cost {f['total_cost']:10,.2f}  "
            f"capital {f['capital']['average']:10,.2f}  ({seconds:.0f} s)")


def _run_window(config, config_path, full, first, opts, seed, log) -> dict:
    """Every policy replayed on the window of ``opts["periods"]`` scored days from ``first``.

    Returns the window's replays, figures, notes, tuning curves, timings, the
    items and the settings that vary by window.
    """
    T, W = opts["periods"], opts["warmup"]
    first, begin = _window(first, full.history, T, W)
    as_of = begin - pd.Timedelta(days=1)
    at_start = config.model_copy(update={"history": config.history.model_copy(update={"as_of": as_of.date()})})
    inputs = prepare(at_start, config_path, history=full.history)
    items = tuple(sorted(_top_items(inputs.history, as_of, opts["items"]) if opts["items"] else inputs.items))
    inputs = _subset(inputs, items)
    history = full.history[full.history["item"].isin(items)].reset_index(drop=True)
    on_hand, pipeline, _ = initial_state(at_start, config_path, inputs)
    demand = recorded_demand(history, items, inputs.stores, begin, W + T)
    last_day = first + pd.Timedelta(days=T - 1)
    log(f"backtest: {len(items)} items x {len(inputs.stores)} stores, {first.date()}..{last_day.date()}, "
        f"review every {opts['review']} days after a {W}-day warm-up, {config.scenarios.count} scenarios")

    from optimizer.run import make_forecaster

    timings = {}
    feed = ForecastFeed(history, begin, functools.partial(make_forecaster, at_start, seed), items, inputs.stores,
                        inputs.calendar)
    H = config.periods
    copula_origins = [as_of - pd.Timedelta(days=H * k) for k in range(opts["copula_origins"], 0, -1)]
    reviews = range(0, W + T, opts["review"])
    t0 = time.perf_counter()
    feed.prefit(copula_origins + [feed.origin(t) for t in reviews], n_jobs=opts["n_jobs"])
    timings["forecast_fits"] = time.perf_counter() - t0
    log(f"  {len(copula_origins) + len(reviews)} forecasts fitted, {opts['n_jobs']} at a time "
        f"({timings['forecast_fits']:.0f} s)")
    copula = fit_walkforward_copula(feed, copula_origins, H)
    log(f"  copula fitted on the PITs of the forecasts at {', '.join(str(o.date()) for o in copula_origins)}")
    kw = dict(network=inputs.network, on_hand=on_hand, pipeline=pipeline, unit_cost=inputs.unit_cost,
              holding_cost=inputs.holding_cost, shortage_cost=inputs.shortage_cost, shortage=config.shortage,
              review=opts["review"])

    replays, figures, notes = {}, {}, {}
    t0 = time.perf_counter()
    for kind, (rep, reviews_log, seconds) in _echelon_variants(feed, at_start, inputs, copula, demand, kw, seed,
                                                               opts["n_jobs"]).items():
        name = f"echelon_{kind}"
        replays[name], figures[name], timings[name] = rep, replay_figures(rep, W), seconds
        notes[name] = {"reviews": reviews_log}
        log(_log_line(name, figures[name], seconds))
    timings["echelon_wall"] = time.perf_counter() - t0
    beta = config.constraints.service.fill_rate if config.constraints.service else 0.95
    t0 = time.perf_counter()
    more = _planners(feed, inputs, demand, kw, opts, float(stats.norm.ppf(min(beta, 0.9999))), figures[MAIN])
    timings["planners"] = time.perf_counter() - t0
    for part, add in zip((replays, figures, notes), more[:3]):
        part.update(add)
    for name in ("base_stock", "s_S"):
        log(_log_line(name, figures[name], timings["planners"] / 2))
    for name, f in figures.items():
        f["ordering_cost"] = opts["order_cost"] * f["order_lines"]
        f["by_review_period"] = [
            {k: g[k] for k in ("fill_rate", "total_cost", "capital")}
            for g in (replay_figures(replays[name], a, a + opts["review"]) for a in range(W, W + T, opts["review"]))
        ]
        f.update(notes.get(name, {}))
    return {"window": [str(first.date()), str(last_day.date())], "items": items, "inputs": inputs, "begin": begin,
            "replays": replays, "figures": figures, "curves": more[3], "timings": timings, "fill_rate_target": beta,
            "forecast_origins": [str(o.date()) for o in feed.origins_fitted],
            "copula_origins": [str(o.date()) for o in copula_origins]}


def _starts(start, history, T: int, windows: int) -> list:
    """First scored day of each of ``windows`` consecutive windows of ``T`` days: from ``start``,
    or ending on the history's last day."""
    last, days = history["date"].max(), pd.Timedelta(days=windows * T - 1)
    if start is None:
        start = last - days
    elif windows > 1 and start + days > last:
        raise InputError("command line", "--windows", f"{windows} windows of {T} days from {start.date()} run past "
                         f"the history's last day {last.date()}",
                         f"start on {(last - days).date()} or earlier, or give fewer windows")
    return [start + pd.Timedelta(days=k * T) for k in range(windows)]


def _pooled(runs, W: int, draws: int) -> tuple[dict, dict]:
    """Figures per policy pooled over windows, and echelon_copula's margins with a block bootstrap
    over items x windows (each window's items are blocks of their own).

    Fill rates pool the units; costs and capital are per window (means over
    the windows), counts (stock-outs, units, order lines) are sums.
    """
    n = len(runs)
    figures, per = {}, {}
    for name in runs[0]["replays"]:
        reps = [r["replays"][name] for r in runs]
        pooled = dataclasses.replace(reps[0], **{
            f.name: np.concatenate([getattr(r, f.name) for r in reps]) for f in dataclasses.fields(reps[0])
            if isinstance(getattr(reps[0], f.name), np.ndarray) and f.name != "network" and getattr(
                reps[0], f.name).ndim >= 2})
        f = replay_figures(pooled, W)
        f["total_cost"] /= n
        f["cost_breakdown"] = {k: v / n for k, v in f["cost_breakdown"].items()}
        f["capital"] = {"average": float(np.mean([r["figures"][name]["capital"]["average"] for r in runs])),
                        "peak": float(max(r["figures"][name]["capital"]["peak"] for r in runs))}
        figures[name] = {"per_window": n, **f}
        one = [_per_item(r["replays"][name], W) for r in runs]
        per[name] = {k: np.concatenate([o[k] for o in one]) / (n if k in ("cost", "capital") else 1) for k in one[0]}
    return figures, _margins(per, draws, f"95% block bootstrap over items x {n} windows, levels held fixed")


def policy_backtest(config_path, out=None, *, start=None, periods=None, fast=False, review=None, seed=None,
                    windows=1, log=print) -> dict:
    """Replay echelon and the planners' policies on recorded demand; write the outputs to ``out``.

    Parameters
    ----------
    config_path : str or Path
        A config with ``history:`` (the bundled ``configs/m5.yaml``).
    out : str or Path, optional
        Output folder (atomic).
    start : date-like, optional
        First scored day (of the first window); default: ``windows x periods``
        days before the end of the history.
    periods : int, optional
        Days scored per window (default 28; 7 with ``fast``), after a 7-day warm-up.
    fast : bool, default=False
        The short replay of :data:`FAST`.
    review : int, optional
        Days between reviews (default 7).
    seed : int, optional
        Overrides ``scenarios.seed`` (forecaster and scenarios).
    windows : int, default=1
        Consecutive windows of ``periods`` days, each replayed on its own
        (its own warm-up from the initial-state rule, forecasts fitted on the
        sales up to each of its reviews, copula fitted before its warm-up,
        planners tuned to its echelon_copula). With more than one,
        ``policies`` and ``comparisons`` are pooled over the windows (costs
        per window, margins with a block bootstrap over items x windows) and
        ``windows`` holds each window's own.

    Returns
    -------
    dict
        The contents of ``backtest.json``.
    """
    t_all = time.perf_counter()
    opts = dict(FAST if fast else DEFAULTS)
    opts["periods"] = int(periods or opts["periods"])
    opts["review"] = int(review or opts["review"])
    for flag, value in (("--periods", opts["periods"]), ("--review", opts["review"]), ("--windows", windows)):
        if value < 1:
            raise InputError("command line", flag, f"must be at least 1, received {value}", "give a positive number")
    config = load_config(config_path)
    if config.history is None:
        raise InputError(config_path, "history", "the config gives demand, not a sales history",
                         "backtest needs history: {path: ...} to replay recorded sales")
    seed = config.scenarios.seed if seed is None else int(seed)
    config = _configured(config, opts)
    T, W = opts["periods"], opts["warmup"]
    try:
        start = pd.Timestamp(start) if start is not None else None
    except ValueError:
        raise InputError("command line", "--start", f"not a date: {start!r}", "give a date as YYYY-MM-DD") from None
    full = prepare(config.model_copy(update={"history": config.history.model_copy(update={"as_of": None})}),
                   config_path)
    firsts = _starts(start, full.history, T, windows)
    for first in firsts:  # every window checked before the first is replayed
        _window(first, full.history, T, W)
    runs = [_run_window(config, config_path, full, first, opts, seed, log) for first in firsts]
    last = runs[-1]
    if windows == 1:
        policies, comparisons = last["figures"], _comparisons(last["replays"], W, opts["bootstrap"])
    else:
        policies, comparisons = _pooled(runs, W, opts["bootstrap"])
    timings = {k: float(sum(r["timings"][k] for r in runs)) for k in last["timings"]}
    timings["total"] = time.perf_counter() - t_all
    result = {
        "window": [runs[0]["window"][0], last["window"][1]],
        "items": list(last["items"]),
        "settings": {
            "periods": T, "review_days": opts["review"], "warmup_days": W, "windows": windows,
            "replay_began": str(runs[0]["begin"].date()),
            "forecast_origins": [o for r in runs for o in r["forecast_origins"]],
            "scenarios": config.scenarios.count, "scenario_method": config.scenarios.method,
            "copula_origins": [o for r in runs for o in r["copula_origins"]], "seed": seed,
            "budget": config.constraints.capital.budget if config.constraints.capital else None,
            "fill_rate_target": last["fill_rate_target"], "shortage": config.shortage,
            "order_cost_per_line": opts["order_cost"], "bootstrap_draws": opts["bootstrap"], "fast": bool(fast),
            "initial_state": "the config's initial_state rule on the day before each warm-up, the same for every policy",
            "demand": "recorded sales (censored by stock-outs: what was sold, not what was asked for)",
        },
        "policies": policies,
        "comparisons": comparisons,
        "timings_s": timings,
    }
    if windows > 1:
        result["windows"] = [{"window": r["window"], "policies": r["figures"],
                              "comparisons": _comparisons(r["replays"], W, opts["bootstrap"])} for r in runs]
    if out is not None:
        files = {"backtest.json": to_json(result).encode(),
                 "replay.csv.gz": gzip.compress(csv_bytes(pd.concat(
                     [_replay_frame(r["replays"], r["items"], r["inputs"].network, r["begin"], W) for r in runs]),
                     None), mtime=0),
                 **_plots(last["replays"], last["figures"], last["curves"], last["items"], last["begin"], W),
                 "manifest.json": manifest(config_path, config, seed=seed, timings=timings, window=result["window"])}
        write_outputs(out, files)
        log(f"written to {out} in {timings['total']:.0f} s")
    return result


def _replay_frame(replays, items, net, begin, warmup) -> pd.DataFrame:
    frames = []
    cols = ("start_on_hand", "arrivals", "orders", "shipped", "sales", "short", "end_on_hand", "in_transit")
    for name, r in replays.items():
        I, N, T = r.orders.shape
        i, n, t = np.indices((I, N, T)).reshape(3, -1)
        frames.append(pd.DataFrame({
            "policy": name, "item": np.asarray(items, object)[i], "location": np.asarray(net.nodes, object)[n],
            "period": t - warmup, "date": (begin + pd.to_timedelta(t, unit="D")).strftime("%Y-%m-%d"),
            **{c: np.round(getattr(r, c).ravel(), 4) + 0.0 for c in cols},
        }))
    return pd.concat(frames)


def _plots(replays, figures, curves, items, begin, warmup) -> dict:
    plt = pyplot()
    shown = [p for p in ("echelon_copula", "echelon_independent", "echelon_point", "base_stock_equal_fill",
                         "s_S_equal_fill") if p in replays]
    ref = replays[MAIN]
    top = np.argsort(-ref.demand.sum(axis=(1, 2)), kind="stable")[:3]
    T = ref.orders.shape[2]
    days = pd.date_range(begin, periods=T)
    fig, axes = plt.subplots(2, len(top), figsize=(4.2 * len(top), 6), sharex=True, squeeze=False)
    for c, i in enumerate(top):
        for name in shown:
            axes[0, c].plot(days, np.maximum(replays[name].end_on_hand[i], 0).sum(axis=0), label=name)
            axes[1, c].plot(days, replays[name].orders[i][replays[name].network.parent < 0].sum(axis=0), label=name)
        for ax in axes[:, c]:
            ax.axvline(days[warmup], color="k", lw=0.8, ls="--")
        axes[0, c].set_title(f"{items[i]}: network on hand")
        axes[1, c].set_title(f"{items[i]}: orders to the vendor")
        axes[1, c].tick_params(axis="x", rotation=45, labelsize=7)
    axes[0, 0].legend(fontsize=7)
    files = {"stock_orders.png": png_bytes(fig)}
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for base, pts in curves.items():
        pts = sorted(pts)
        ax.plot([p[1] for p in pts], [p[2] for p in pts], ls=":", lw=1, label=f"{base}, z varied")
    for name, f in figures.items():
        ax.scatter(f["fill_rate"], f["total_cost"], s=30)
        ax.annotate(name, (f["fill_rate"], f["total_cost"]), fontsize=7)
    ax.set_xlabel("realised network fill rate")
    ax.set_ylabel("total cost (holding, shortage, DC backlog, transport)")
    ax.legend(fontsize=7)
    files["cost_vs_fill.png"] = png_bytes(fig)
    return files
