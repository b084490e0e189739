"""``echelon forecast`` (forecast or backtest) and ``echelon explain`` (why this forecast).

Both read the config's ``history:`` and ``forecast:`` sections; outputs go to
``--out`` atomically (:func:`optimizer.outputs.write_outputs`) with a
``manifest.json``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from optimizer.config import Config, load_config
from optimizer.errors import InputError
from optimizer.outputs import csv_bytes, manifest, png_bytes, pyplot, to_json, write_outputs

__all__ = ["backtest_command", "explain_command", "forecast_command", "scenario_copula"]

BACKTEST_HORIZON = 28
LAST_SCORED = pd.Timestamp("2016-04-24")


def load_with_history(config_path):
    from optimizer.inputs import prepare

    config = load_config(config_path)
    if config.history is None:
        raise InputError(config_path, "history", "the config gives demand, not a sales history",
                         "forecast and explain need history: {path: ...}")
    inputs = prepare(config, config_path)
    return config, inputs


def forecaster_for(config: Config, horizon: int, seed: int, family: str | None = None):
    from optimizer.run import make_forecaster

    return make_forecaster(config, seed, horizon=horizon, family=family)


def scenario_copula(config: Config, config_path):
    """The copula named by ``scenarios.copula`` (None: independent sampling), for ``run``."""
    if config.scenarios.copula is None:
        return None
    from optimizer.config import resolve_path
    from scenarios import load_copula

    path = resolve_path(config_path, config.scenarios.copula)
    try:
        return load_copula(path)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(config_path, "scenarios.copula", f"cannot read {path} ({exc})",
                         "give the copula.json written by `echelon forecast --backtest`") from None


def _store_groups(config: Config) -> dict:
    """Store -> the DC that serves it (its inbound lane's source), from the network."""
    kinds = {n.id: n.kind for n in config.network.nodes}
    return {
        lane.destination: lane.source
        for lane in config.network.lanes
        if kinds[lane.destination] == "store" and kinds[lane.source] == "dc"
    }


# -- echelon forecast ---------------------------------------------------------------------
def forecast_command(config_path, out, *, seed=None, log=print) -> dict:
    """Fit on the history up to ``as_of`` and write ``forecast.csv`` (mean and M5 quantiles)."""
    config, inputs = load_with_history(config_path)
    seed = config.scenarios.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    fc = forecaster_for(config, config.periods, seed)
    fc.fit(inputs.history, origin=inputs.as_of, calendar=inputs.calendar)
    table = fc.predict()
    q = table.quantiles()
    q.insert(3, "date", fc.period_dates_[q["period"].to_numpy()].strftime("%Y-%m-%d"))
    timings = {"forecast": time.perf_counter() - t0}
    chosen = {str(g): f for g, f in getattr(fc, "families_", {}).items()}  # with family: auto, what it chose
    write_outputs(out, {"forecast.csv": csv_bytes(q),
                        "manifest.json": manifest(config_path, config, seed=seed, timings=timings, families=chosen)})
    log(f"forecast of {len(q)} item x location x periods written to {out} in {timings['forecast']:.1f} s")
    return {"rows": len(q)}


def backtest_command(config_path, out, *, seed=None, origins: int = 4, families=None,
                     samples: int = 1000, log=print) -> dict:
    """Rolling-origin backtest: ``forecast_metrics.json``, ``copula.json`` and plots in ``out``."""
    from scenarios.backtest import backtest

    config, inputs = load_with_history(config_path)
    seed = config.scenarios.seed if seed is None else int(seed)
    if origins < 2:
        raise InputError("command line", "--origins", f"needs at least 2 origins; received {origins}",
                         "use --origins 3 or more (the copula and the family choice use the earlier ones)")
    history = inputs.history
    end = history["date"].max()
    last = (inputs.as_of if inputs.as_of is not None and inputs.as_of + pd.Timedelta(days=BACKTEST_HORIZON) <= end
            else end - pd.Timedelta(days=BACKTEST_HORIZON))
    origin_list = [last - pd.Timedelta(days=BACKTEST_HORIZON * k) for k in range(origins - 1, -1, -1)]
    families = tuple(families or ("shifted_lognormal", "negative_binomial", "poisson", "normal", "lognormal"))
    log(f"backtest: origins {', '.join(str(o.date()) for o in origin_list)}; horizon {BACKTEST_HORIZON} days")
    t0 = time.perf_counter()
    calendar = inputs.calendar

    class _WithCalendar:
        def __init__(self, fc):
            self.fc = fc

        def fit(self, history, origin):
            self.fc.fit(history, origin=origin, calendar=calendar)
            return self.fc

    try:
        metrics, art = backtest(
            history,
            origins=origin_list,
            horizon=BACKTEST_HORIZON,
            make_ngboost=lambda fam: _WithCalendar(forecaster_for(config, BACKTEST_HORIZON, seed, fam)),
            baselines=_baselines(log),
            families=families,
            family_by=config.forecast.group_by,
            groups=_store_groups(config),
            n_samples=samples,
            seed=seed,
            log=log,
        )
    except ValueError as exc:
        raise InputError(config.history.path, "history", str(exc), "check the history and the origins") from None
    metrics["timings_s"]["total"] = time.perf_counter() - t0
    files = {"forecast_metrics.json": to_json(metrics).encode()}
    if art["copula"] is not None:
        files["copula.json"] = (art["copula"].to_json() + "\n").encode()
    files.update(_backtest_plots(metrics, art))
    files["manifest.json"] = manifest(config_path, config, seed=seed, timings=metrics["timings_s"])
    write_outputs(out, files)
    log(summary(metrics))
    log(f"written to {out} in {metrics['timings_s']['total']:.0f} s")
    return metrics


def _baselines(log) -> dict:
    """The backtest's baselines by name; ``ets`` only when statsmodels is installed (the ``ets`` extra)."""
    from importlib.util import find_spec

    from forecasts.baselines import MovingAverageForecaster, SeasonalNaiveForecaster
    from forecasts.ets import ETSForecaster

    models = {"seasonal_naive": lambda: SeasonalNaiveForecaster(BACKTEST_HORIZON),
              "ma_negbin": lambda: MovingAverageForecaster(BACKTEST_HORIZON),
              "ets": lambda: ETSForecaster(BACKTEST_HORIZON)}
    if find_spec("statsmodels") is None:
        del models["ets"]
        log("backtest: the ets baseline is skipped: statsmodels is not installed (pip install 'echelon[ets]')")
    return models


def summary(metrics: dict) -> str:
    """The headline table of a backtest, one line per model."""
    lt = [k for k in next(iter(metrics["models"].values()))["levels"] if "lead_time" in k]
    head = f"{'model':16s} {'CRPS':>7s} {'wCRPS':>7s} {'SPL':>7s} {'wSPL':>7s}  cov50/80/95 daily"
    head += "".join(f" | {k.replace('item_', '').replace('lead_time', 'lt')} 50/80/95" for k in lt)
    lines = [f"scored {metrics['scored_window'][0]}..{metrics['scored_window'][1]}; "
             f"family chosen: {metrics['family_selection']['chosen']}", head]

    def cov(c):
        return "/".join(f"{100 * c[k]:.0f}" for k in ("50", "80", "95"))

    for name, m in metrics["models"].items():
        line = (f"{name:16s} {m['crps']:7.3f} {m.get('crps_weighted', float('nan')):7.3f} "
                f"{m.get('spl', float('nan')):7.3f} {m.get('wspl', float('nan')):7.3f}  {cov(m['coverage']):>11s}")
        line += "".join(f" | {cov(m['levels'][k]['coverage']):>17s}" for k in lt)
        lines.append(line)
    ref = metrics.get("coverage_if_calibrated")
    if ref and "observed" in ref:
        within, seen = ref["cells_within_tolerance"], ref["observed"]
        lines.append(f"{ref['model']} lead-time sums: {seen['cells_within_tolerance']} of {ref['cells']} cells within "
                     f"{100 * ref['tolerance']:g} points of nominal (mean miss {100 * seen['mean_miss']:.1f}); were the "
                     f"forecast exactly right, {within['mean']:.1f} on average, all {ref['cells']} in "
                     f"{100 * within['share_all_within']:.0f}% of {ref['replications']} worlds, and "
                     f"{100 * seen['share_of_calibrated_worlds_missing_more']:.0f}% of them miss by more")
    return "\n".join(lines)


def _backtest_plots(metrics: dict, art: dict) -> dict:
    plt = pyplot()
    files = {}
    names = list(metrics["models"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        ax.bar(np.arange(10) / 10 + 0.05, metrics["models"][name]["pit_histogram"], width=0.09)
        ax.axhline(0.1, color="k", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("PIT (daily, item x store)")
    fig.suptitle(f"PIT histograms, {metrics['scored_window'][0]}..{metrics['scored_window'][1]}")
    files["pit_histograms.png"] = png_bytes(fig)

    levels = [k for k in metrics["models"][names[0]]["levels"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=False)
    for ax, a in zip(axes, ("50", "80", "95")):
        width = 0.8 / len(names)
        for j, name in enumerate(names):
            vals = [100 * metrics["models"][name]["levels"][lv]["coverage"][a] for lv in levels]
            ax.bar(np.arange(len(levels)) + j * width, vals, width=width, label=name)
        ax.axhline(int(a), color="k", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(levels)) + 0.4 - width / 2)
        ax.set_xticklabels([lv.replace("item_", "") for lv in levels], rotation=60, fontsize=7)
        ax.set_title(f"coverage of the central {a}% interval")
    axes[0].legend(fontsize=7)
    files["coverage.png"] = png_bytes(fig)

    sel = metrics["family_selection"]["daily_crps"]
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(list(sel), [v["crps"] for v in sel.values()])
    ax.set_ylabel("daily CRPS")
    ax.set_title(f"NGBoost family, origin {metrics['family_selection']['origin']}")
    ax.tick_params(axis="x", labelsize=7)
    files["family_crps.png"] = png_bytes(fig)

    if "scenario_count" in metrics:
        sc = metrics["scenario_count"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        for ax, lv in zip(axes, ("item_store", "item_dc")):
            for key, errs in sc["error"].items():
                if lv in errs:
                    ax.loglog(sc["counts"], errs[lv], marker="o", label=key,
                              ls="-" if key.startswith("copula") else "--")
            ax.axhline(0.05, color="k", lw=0.8, ls=":")
            ax.set_xlabel("scenarios")
            ax.set_ylabel("relative RMSE of q0.95")
            ax.set_title(f"{sc['periods']}-day demand, {lv}")
        axes[0].legend(fontsize=7)
        files["scenario_count.png"] = png_bytes(fig)
    return files


# -- echelon explain ----------------------------------------------------------------------
def explain_command(config_path, item: str, location: str, out=None, *, seed=None, top: int = 4,
                    log=print) -> pd.DataFrame:
    """Forecast of one item x location per period with the features that moved it most."""
    from forecasts.explain import explain, global_importance, plain_words

    config, inputs = load_with_history(config_path)
    seed = config.scenarios.seed if seed is None else int(seed)
    history = inputs.history
    if item not in set(history["item"]):
        raise InputError(config.history.path, "item", f"no item {item!r} in the history",
                         f"use one of {', '.join(sorted(history['item'].unique())[:5])} ...")
    if location not in set(history["location"]):
        raise InputError(config.history.path, "location", f"no location {location!r} in the history",
                         f"use one of {', '.join(sorted(history['location'].unique()))}")
    t0 = time.perf_counter()
    fc = forecaster_for(config, config.periods, seed)
    group_by = config.forecast.group_by
    if hasattr(fc, "params_for"):  # the series' group model: fitted on its group's rows, same seed
        from forecasts.grouped import fit_group

        group, groups = None, [None]
        if group_by is not None:
            values = history.loc[(history["item"] == item) & (history["location"] == location), group_by]
            if values.empty:
                raise InputError(config.history.path, "item", f"no rows of {item!r} at {location!r}",
                                 "choose an item sold at that location")
            group, groups = values.iloc[0], list(history[group_by].unique())
            history = history[history[group_by] == group]
        fc = fit_group(fc.params_for(group, groups), history, inputs.as_of, inputs.calendar)
    else:
        fc.fit(history, origin=inputs.as_of, calendar=inputs.calendar)
    rows, shap_all = explain(fc, item, location)
    log(f"{item} at {location}, forecast as of {fc.origin_.date()} ({fc.family}; "
        f"{time.perf_counter() - t0:.0f} s)")
    for r in rows.itertuples():
        log(f"{r.date}  mean {r.mean:7.2f}  80% [{r.q10:6.1f}, {r.q90:6.1f}]")
        log(f"    level:  {plain_words(r.location_drivers, top)}")
        log(f"    spread: {plain_words(r.spread_drivers, top)}")
    if out is not None:
        plt = pyplot()
        imp = global_importance(shap_all, fc.feature_names_)
        fig, axes = plt.subplots(1, 2, figsize=(11, 5))
        for ax, col, title in zip(axes, ("location", "spread"), ("level parameter", "spread parameter")):
            top_f = imp.sort_values(col).tail(15)
            ax.barh(top_f.index, top_f[col])
            ax.set_title(f"mean |SHAP|, {title}")
            ax.tick_params(axis="y", labelsize=7)
        files = {"importance.png": png_bytes(fig)}
        flat = rows.drop(columns=["location_drivers", "spread_drivers"]).assign(
            level_drivers=[plain_words(d, top) for d in rows["location_drivers"]],
            spread_drivers=[plain_words(d, top) for d in rows["spread_drivers"]],
        )
        files["explanation.csv"] = csv_bytes(flat)
        files["manifest.json"] = manifest(config_path, config, seed=seed, timings={"explain": time.perf_counter() - t0},
                                          item=item, location=location)
        write_outputs(out, files)
        log(f"importance plot and explanation.csv written to {out}")
    return rows
