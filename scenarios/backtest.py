"""Rolling-origin backtest of forecasters and of the scenarios drawn from them.

For every origin :math:`o_1 < ... < o_K` each model is fitted on the sales up to
:math:`o_k` only and scored on :math:`o_k + 1 .. o_k + H`:

* daily item x store scores from the table's own quantiles
  (:func:`forecasts.metrics.score`);
* aggregated scores (item x DC days, weekly sums, lead-time sums over 7 and
  :math:`H` days, at item x store and item x DC) from sample paths of the table,
  drawn independently and through copulas of the model's PITs at the earlier
  origins only: ``copula``, the empirical copula of those PIT paths
  (:mod:`scenarios.empirical_copula`), its pattern weight chosen on the earlier
  origins' 7- and :math:`H`-day sums, each origin through the others' paths;
  ``copula_fitted``, the Gaussian copula fitted to them (:mod:`scenarios.copula`);
  ``copula_gaussian``, its correlation scales chosen on those sums; ``copula_t``,
  a t copula with its tails chosen too (:mod:`scenarios.t_copula`,
  :mod:`scenarios.sum_calibration`);
* NGBoost's family is chosen by daily CRPS at the last origin but one, among
  ``families`` (per group of series with ``family_by``); if the PITs of the earlier origins miss a central interval by
  more than ``recalibrate_tolerance``, the last origin's forecast is recalibrated
  by the quantile map :math:`q'_u = q_{\\hat G^{-1}(u)}`, :math:`\\hat G` the
  empirical CDF of those PITs (Kuleshov et al. 2018).

Nothing observed after an origin enters the model, copula or calibration map
used at that origin. With a recalibrated forecast, the copulas and their
parameters are fitted on the earlier origins' forecasts warped by the same map
as the last one, so that the sums are calibrated for the marginals they are
drawn from. Randomised PITs draw from a generator per model, origin and use, so
a model's scores do not depend on which other models ran.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from forecasts.baselines import sales_grid
from forecasts.distributions import QUANTILE_LEVELS, DistributionTable
from forecasts.metrics import (COVERAGE_LEVELS, coverage, coverage_interval, crps_from_grid, midpoint_levels, score,
                               spl_scale)
from scenarios.copula import fit_copula
from scenarios.sampling import sample_scenarios
from scenarios.sum_calibration import NUS, calibrate_copula, calibrate_empirical, coverage_if_calibrated

__all__ = ["ModelForecast", "aggregate", "backtest", "error_dependence", "recalibrated_table", "table_grids"]

N_LEVELS = 200


@dataclass
class ModelForecast:
    """One model's forecast at one origin, on the (series, period) grid."""

    table: DistributionTable
    grid: np.ndarray  # (M, S, H) quantiles at midpoint levels
    q9: np.ndarray  # (9, S, H)
    pit: np.ndarray = field(default=None)  # (S, H)


def table_grids(table: DistributionTable, n_series: int, horizon: int, m: int = N_LEVELS):
    """Quantiles of a table at the midpoint levels (M, S, H) and at the M5 levels (9, S, H)."""
    n = len(table.frame)
    u = midpoint_levels(m)
    grid = table.ppf(np.broadcast_to(u[:, None], (m, n))).reshape(m, n_series, horizon)
    lv = np.asarray(QUANTILE_LEVELS)
    q9 = table.ppf(np.broadcast_to(lv[:, None], (len(lv), n))).reshape(len(lv), n_series, horizon)
    return np.sort(grid, axis=0), q9


def recalibrated_table(table: DistributionTable, pits: np.ndarray, m: int = N_LEVELS) -> DistributionTable:
    """Table whose quantile at level u is the original's at the empirical PIT quantile of u."""
    pits = np.asarray(pits, float)
    pits = pits[np.isfinite(pits)]
    return table.empirical(np.clip(np.quantile(pits, midpoint_levels(m)), 1e-6, 1 - 1e-6))


def aggregate(paths: np.ndarray, groups: np.ndarray | None, block: int | None, horizon: int):
    """Sum paths (N, S, H) over series groups (S, K) and/or period blocks from the origin.

    ``block`` None keeps days; an int sums consecutive blocks of that many periods
    (``horizon`` for the whole window).
    """
    out = paths if groups is None else np.einsum("nsh,sk->nkh", paths, groups)
    if block is not None:
        n_b = horizon // block
        out = out[:, :, : n_b * block].reshape(out.shape[0], out.shape[1], n_b, block).sum(axis=3)
    return out


def _train_blocks(train: np.ndarray, groups, block):
    """Training sales (S, D) aggregated like :func:`aggregate`, blocks aligned to the origin."""
    y = np.nan_to_num(train)
    if groups is not None:
        y = y.T @ groups
        y = y.T
    if block is not None:
        n_b = y.shape[1] // block
        y = y[:, y.shape[1] - n_b * block :].reshape(y.shape[0], n_b, block).sum(axis=2)
    return y


def _sample_paths(table, n_series, horizon, count, seed, copula, method="lhs"):
    return sample_scenarios(table, count, seed=seed, method=method, copula=copula).series_paths(table.series_index())


def _pit_by_item(pit: np.ndarray, series: pd.DataFrame, locations):
    """(S, H) PITs -> (I, L, H) on the item x location grid (NaN where a pair is absent)."""
    items = sorted(series["item"].unique())
    out = np.full((len(items), len(locations), pit.shape[1]), np.nan)
    i = pd.Index(items).get_indexer(series["item"])
    l = pd.Index(locations).get_indexer(series["location"])
    out[i, l] = pit
    return out


def error_dependence(pit: np.ndarray, series: pd.DataFrame, groups: dict, horizons) -> dict:
    """How a forecast's errors moved together after one origin, from its PITs (S, H).

    With normal scores :math:`z = \\Phi^{-1}(\\mathrm{PIT})`:

    * ``sum_variance_h``: the variance over series of :math:`\\sum_{t < h} z_t / \\sqrt h`
      (1 for independent days; larger when errors persist);
    * ``store_correlation_h``: the mean, over groups (DCs) and pairs of their
      locations, of the correlation across items of those sums at the two locations
      (0 when stores err independently; it sets how wide a DC's sum is).

    The copulas assume these stay as they were at the earlier origins; the scored
    window's own values say whether they did.
    """
    z = stats.norm.ppf(np.clip(pit, 1e-6, 1 - 1e-6))
    out = {}
    for h in horizons:
        s = z[:, :h].sum(axis=1) / math.sqrt(h)
        out[f"sum_variance_{h}"] = float(np.var(s))
        wide = pd.Series(s, index=pd.MultiIndex.from_frame(series[["item", "location"]])).unstack("location")
        corr = []
        for members in pd.Series(wide.columns, index=wide.columns).groupby(lambda l: groups.get(l, l)):
            if len(members[1]) > 1:
                c = wide[members[1]].corr().to_numpy()
                corr.append(c[~np.eye(len(c), dtype=bool)].mean())
        out[f"store_correlation_{h}"] = float(np.mean(corr)) if corr else None
    return out


def backtest(
    history: pd.DataFrame,
    *,
    origins,
    horizon: int,
    make_ngboost,
    baselines: dict,
    families=("shifted_lognormal", "negative_binomial", "poisson", "normal"),
    family_by: str | None = None,
    groups: dict | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    recalibrate_tolerance: float = 0.03,
    scenario_study: bool = True,
    reference_worlds: int = 100,
    log=lambda msg: None,
):
    """Run the rolling-origin backtest.

    Parameters
    ----------
    history : pandas.DataFrame
        Validated history with a ``price`` column (weights: recent dollar sales).
    origins : list of date-like
        Forecast origins, increasing; the last one is the headline.
    horizon : int
        Periods scored after each origin (a multiple of 7 for weekly sums).
    make_ngboost : callable(family) -> forecaster
        Builds an unfitted NGBoost forecaster of the given family (a name, or with
        ``family_by`` a mapping of group value to name).
    baselines : dict of name -> callable() -> forecaster
    families : sequence of str
        NGBoost families compared (by daily CRPS at the last origin but one).
    family_by : str, optional
        History column constant per series (the forecaster's ``group_by``): the
        family is then chosen per value of it, on that group's series.
    groups : dict location -> group (e.g. store -> DC), optional
    n_samples : int
        Sample paths per model for the aggregated scores.
    reference_worlds : int, default=100
        Worlds in which NGBoost's forecast and copula are exactly right, scored like
        the real one (``coverage_if_calibrated`` in the metrics; 0 skips them).

    Returns
    -------
    metrics : dict
        JSON-ready results (``models``, ``family_selection``, ``scenarios`` ...).
    artefacts : dict
        Arrays for plots and the fitted copula (``copula``).
    """
    origins = [pd.Timestamp(o) for o in origins]

    def rng_for(*key):
        """A generator of its own per model, origin and use: one model's randomised PITs do not
        depend on which other models ran (``ets`` is optional)."""
        return np.random.default_rng([seed, *(zlib.crc32(str(k).encode()) for k in key)])

    last = origins[-1]
    series0 = None
    fc_at: dict[str, list[ModelForecast]] = {}
    truth_at, timings = [], {}

    def add(name, k, table, series):
        grid, q9 = table_grids(table, len(series), horizon)
        y = truth_at[k]
        pit = _pit_from(grid, y, rng_for("pit", name, k))
        fc_at.setdefault(name, [None] * len(origins))[k] = ModelForecast(table, grid, q9, pit)

    def _pit_from(grid, y, rng):
        from forecasts.metrics import randomized_pit

        m = grid.shape[0]
        return randomized_pit(grid.reshape(m, -1), y.reshape(-1), rng).reshape(y.shape)

    for k, origin in enumerate(origins):
        series, dates, _ = sales_grid(history, origin)
        if series0 is None:
            series0 = series
        elif not series.equals(series0):
            raise ValueError(f"the series at origin {origin.date()} differ from the first origin's")
        future = pd.date_range(origin + pd.Timedelta(days=1), periods=horizon)
        wide = history[history["date"].isin(future)].pivot_table(
            index=["item", "location"], columns="date", values="quantity"
        )
        wide = wide.reindex(pd.MultiIndex.from_frame(series)).reindex(columns=future)
        if wide.isna().any().any():
            raise ValueError(
                f"origin {origin.date()}: the history lacks sales for some of the {horizon} periods "
                "after it; choose earlier origins"
            )
        truth_at.append(wide.to_numpy(float))

    # NGBoost family: compared at the last origin but one (or the only origin), per group
    select_k = len(origins) - 2 if len(origins) > 1 else 0
    family_group = (np.full(len(series0), "all", dtype=object) if family_by is None else
              history.groupby(["item", "location"])[family_by].first()
              .reindex(pd.MultiIndex.from_frame(series0)).astype(str).to_numpy())
    selection, tables, cells = {}, {}, {}
    for family in families:
        t0 = time.perf_counter()
        tables[family] = make_ngboost(family).fit(history, origin=origins[select_k]).predict()
        timings[f"ngboost_{family}_fit"] = time.perf_counter() - t0
        grid, _ = table_grids(tables[family], len(series0), horizon)
        cells[family] = crps_from_grid(grid.reshape(grid.shape[0], -1),
                                       truth_at[select_k].ravel()).reshape(len(series0), horizon)
        selection[family] = {"crps": float(cells[family].mean()),
                             "crps_by_group": {g: float(cells[family][family_group == g].mean())
                                               for g in sorted(set(family_group))},
                             "fit_seconds": timings[f"ngboost_{family}_fit"]}
        log(f"  family {family}: CRPS {selection[family]['crps']:.4f} at {origins[select_k].date()} "
            f"({timings[f'ngboost_{family}_fit']:.0f} s)")
    by_group = {g: min(families, key=lambda f: selection[f]["crps_by_group"][g]) for g in sorted(set(family_group))}
    chosen = by_group["all"] if family_by is None else by_group
    log(f"  chosen family: {chosen}")
    if family_by is None:
        best_table = tables[chosen]
    else:
        frames = [tables[f].frame[np.isin(tables[f].frame["item"] + "|" + tables[f].frame["location"],
                                          (series0["item"] + "|" + series0["location"])[family_group == g])]
                  for g, f in by_group.items()]
        best_table = DistributionTable(pd.concat(frames, ignore_index=True))
    for k, origin in enumerate(origins):
        if k == select_k:
            add("ngboost", k, best_table, series0)
        else:
            t0 = time.perf_counter()
            add("ngboost", k, make_ngboost(chosen).fit(history, origin=origin).predict(), series0)
            timings[f"ngboost_fit_{origin.date()}"] = time.perf_counter() - t0
            log(f"  ngboost at {origin.date()}: {timings[f'ngboost_fit_{origin.date()}']:.0f} s")
        for name, make in baselines.items():
            add(name, k, make().fit(history, origin=origin).predict(), series0)

    # recalibration of the last origin's NGBoost forecast from the earlier origins' PITs
    calibration = {"tolerance": recalibrate_tolerance, "applied": False}
    K = len(origins)
    earlier_tables = {}  # model -> its forecasts at origins 0..K-2 as the copula sees them
    if K > 1:
        past = np.concatenate([fc_at["ngboost"][k].pit.ravel() for k in range(K - 1)])
        past_cov = {f"{round(a * 100)}": coverage(past, a) for a in COVERAGE_LEVELS}
        drift = max(abs(past_cov[f"{round(a * 100)}"] - a) for a in COVERAGE_LEVELS)
        calibration.update({"earlier_origins_coverage": past_cov, "max_deviation": drift})
        if drift > recalibrate_tolerance:
            calibration["applied"] = True
            fc_at["ngboost_raw"] = list(fc_at["ngboost"])
            fc_at["ngboost"] = list(fc_at["ngboost"])
            for k in range(1, K):
                pool = np.concatenate([fc_at["ngboost_raw"][j].pit.ravel() for j in range(k)])
                fc_at["ngboost"][k] = None
                add("ngboost", k, recalibrated_table(fc_at["ngboost_raw"][k].table, pool), series0)
            earlier_tables["ngboost"] = [recalibrated_table(fc_at["ngboost_raw"][k].table, past)
                                         for k in range(K - 1)]

    # scores at every origin (daily item x store) and in full at the last one
    sales_series, _, train = sales_grid(history, last)
    locations = sorted(series0["location"].unique())
    gmat = np.zeros((len(series0), 0))
    item_group_keys = []
    if groups:
        keys = sorted({(i, groups.get(l, l)) for i, l in zip(series0["item"], series0["location"])})
        index = {key: j for j, key in enumerate(keys)}
        gmat = np.zeros((len(series0), len(keys)))
        for s, (i, l) in enumerate(zip(series0["item"], series0["location"])):
            gmat[s, index[(i, groups.get(l, l))]] = 1.0
        item_group_keys = keys
    recent = history[(history["date"] > last - pd.Timedelta(days=28)) & (history["date"] <= last)]
    dollars = (recent["quantity"] * recent["price"].fillna(0)).groupby(
        [recent["item"], recent["location"]]
    ).sum()
    weight = dollars.reindex(pd.MultiIndex.from_frame(series0)).fillna(0).to_numpy() + 1e-9

    levels = {"item_store": (None, None)}
    if horizon >= 7:
        levels.update({"item_store_week": (None, 7), "item_store_lead_time_7": (None, "lt7")})
    levels[f"item_store_lead_time_{horizon}"] = (None, horizon)
    if groups:
        levels.update({"item_dc": (gmat, None)})
        if horizon >= 7:
            levels.update({"item_dc_week": (gmat, 7), "item_dc_lead_time_7": (gmat, "lt7")})
        levels[f"item_dc_lead_time_{horizon}"] = (gmat, horizon)

    def agg(paths, g, block):
        if block == "lt7":
            return aggregate(paths[:, :, :7], g, 7, 7)
        return aggregate(paths, g, block, horizon)

    def train_agg(g, block):
        if block == "lt7":
            return _train_blocks(train, g, 7)
        return _train_blocks(train, g, block)

    scales = {name: spl_scale(train_agg(g, b)) for name, (g, b) in levels.items()}
    weights = {name: (weight if g is None else weight @ g) for name, (g, b) in levels.items()}
    labels = {name: (series0["location"].to_numpy() if g is None else
                     np.array([key[1] for key in item_group_keys]))
              for name, (g, b) in levels.items()}
    item_of = {name: (series0["item"].to_numpy() if g is None else np.array([key[0] for key in item_group_keys]))
               for name, (g, b) in levels.items()}

    def level_scores(paths, name, g, b, y_daily, rng):
        u = midpoint_levels(N_LEVELS)
        p = agg(paths, g, b)
        y = agg(y_daily[None], g, b)[0]
        grid = np.quantile(p, u, axis=0)
        q9 = np.quantile(p, np.asarray(QUANTILE_LEVELS), axis=0)
        out = score(grid, q9, y, scale=scales[name], weight=weights[name], rng=rng)
        if b is not None and b != 7:  # lead-time sums: coverage per location (store or DC)
            from forecasts.metrics import randomized_pit

            pit = randomized_pit(grid.reshape(N_LEVELS, -1), y.ravel(), rng).reshape(y.shape)
            out["coverage_by_location"] = {
                loc: {f"{round(a * 100)}": coverage(pit[labels[name] == loc], a) for a in COVERAGE_LEVELS}
                for loc in sorted(set(labels[name]))
            }
            out["coverage_interval"] = {f"{round(a * 100)}": coverage_interval(pit, item_of[name], a, rng)
                                        for a in COVERAGE_LEVELS}
        return out

    metrics = {"origins": [o.date().isoformat() for o in origins], "horizon": horizon,
               "scored_window": [str((last + pd.Timedelta(days=1)).date()),
                                 str((last + pd.Timedelta(days=horizon)).date())],
               "family_selection": {"origin": origins[select_k].date().isoformat(), "chosen": chosen,
                                    "daily_crps": selection},
               "calibration": calibration, "models": {}, "scenarios": {}}
    artefacts = {"pit": {}, "copula": None, "coverage": {}}
    y_last = truth_at[-1]
    horizons, dc = sorted({min(7, horizon), horizon}), gmat if groups else None  # lead-time sums, DC map
    for name, runs in fc_at.items():
        f = runs[-1]
        rng = rng_for("score", name)
        daily = score(f.grid, f.q9, y_last, scale=scales["item_store"], weight=weight, rng=rng)
        by_origin = {}
        for k in range(K):
            r = runs[k]
            sc_k = score(r.grid, r.q9, truth_at[k], rng=rng)
            by_origin[origins[k].date().isoformat()] = {
                "crps": sc_k["crps"], "coverage": sc_k["coverage"],
                "error_dependence": error_dependence(r.pit, series0, groups or {}, horizons)}
        copula = None
        variants = {"independent": None}
        entry = {**daily, "by_origin": by_origin, "levels": {}}
        if K > 1:
            if name in earlier_tables:
                earlier = earlier_tables[name]
                earlier_pit = [_pit_from(table_grids(t, len(series0), horizon)[0], truth_at[k],
                                         rng_for("pit", name, k, "recalibrated"))
                               for k, t in enumerate(earlier)]
            else:
                earlier, earlier_pit = [r.table for r in runs[: K - 1]], [r.pit for r in runs[: K - 1]]
            blocks = [_pit_by_item(p, series0, locations) for p in earlier_pit]
            fitted = fit_copula(np.concatenate(blocks), locations)
            t0 = time.perf_counter()
            gaussian, t_copula = (calibrate_copula(fitted, earlier, truth_at[: K - 1], horizons, dc, nus=nus, seed=seed)
                                  for nus in ((math.inf,), NUS))
            copula = calibrate_empirical(blocks, locations, earlier, truth_at[: K - 1], horizons, dc, seed=seed)
            timings[f"{name}_copula_calibration"] = time.perf_counter() - t0
            variants.update(copula_fitted=fitted, copula_gaussian=gaussian, copula_t=t_copula, copula=copula)
            entry["copula_calibration"] = copula.calibration
            entry["t_copula_calibration"] = t_copula.calibration
            log(f"  {name} copula: empirical, {copula.calibration['patterns']} paths at weight "
                f"{copula.calibration['weight']:g}; t copula: nu {t_copula.calibration['nu'] or 'inf (Gaussian)'}, "
                f"time scale {t_copula.calibration['time_scale']:g}, "
                f"location scale {t_copula.calibration['location_scale']:g}")
        sampled = {}
        for variant, cop in variants.items():
            t0 = time.perf_counter()
            paths = _sample_paths(f.table, len(series0), horizon, n_samples, seed, cop)
            sampled[variant] = {
                lname: level_scores(paths, lname, g, b, y_last, rng_for("levels", name, variant))
                for lname, (g, b) in levels.items() if lname != "item_store"
            }
            timings[f"{name}_{variant}_sampling"] = time.perf_counter() - t0
        if name == "ngboost" and copula is not None and reference_worlds:
            t0 = time.perf_counter()
            observed = [sampled["copula"][f"item_{level}_lead_time_{h}"]["coverage"][f"{round(a * 100)}"]
                        for level in (("store", "dc") if groups else ("store",)) for h in horizons
                        for a in COVERAGE_LEVELS]
            metrics["coverage_if_calibrated"] = {"model": name, **coverage_if_calibrated(
                f.table.empirical(midpoint_levels(N_LEVELS)), copula, horizons, dc, observed=observed,
                replications=reference_worlds, seed=seed)}
            timings["coverage_if_calibrated"] = time.perf_counter() - t0
        main = "copula" if copula is not None else "independent"
        entry["levels"] = {"item_store": {k2: v for k2, v in daily.items()}, **sampled[main]}
        entry["levels_sampling"] = main
        metrics["models"][name] = entry
        metrics["scenarios"][name] = {
            variant: {lname: {"coverage": s["coverage"], "coverage_interval": s.get("coverage_interval"),
                              "coverage_by_location": s.get("coverage_by_location"), "crps": s["crps"]}
                      for lname, s in lv.items() if "lead_time" in lname}
            for variant, lv in sampled.items()
        }
        artefacts["pit"][name] = f.pit
        if name == "ngboost":
            artefacts["copula"] = copula
            artefacts["table"] = f.table
    if scenario_study and artefacts["copula"] is not None:
        metrics["scenario_count"] = scenario_count_study(
            artefacts["table"], artefacts["copula"], gmat if groups else None, seed=seed, log=log
        )
    metrics["timings_s"] = timings
    return metrics, artefacts


def scenario_count_study(
    table: DistributionTable,
    copula,
    groups,
    *,
    periods: int = 7,
    counts=(16, 32, 64, 128, 256, 512),
    reference_count: int = 8192,
    replications: int = 4,
    seed: int = 0,
    log=lambda msg: None,
) -> dict:
    """Error of the 95% quantile of ``periods``-day demand against scenario count and method.

    For each dependence (independent, copula) and method (mc, lhs, sobol), the
    relative RMSE over series of the 0.95 quantile of the ``periods``-day sum,
    against a ``reference_count``-scenario LHS estimate of the same dependence;
    and the fewest scenarios that reach 5% and 10%.
    """
    sub = DistributionTable(table.frame[table.frame["period"] < periods].reset_index(drop=True))
    n_s = len(sub.series_index())
    out = {"periods": periods, "quantile": 0.95, "reference_count": reference_count,
           "replications": replications, "counts": list(counts), "error": {}, "needed": {}}
    for dep, cop in (("independent", None), ("copula", copula)):
        ref = _sample_paths(sub, n_s, periods, reference_count, seed + 10_000, cop, "lhs")
        levels = {"item_store": ref.sum(axis=2)}
        if groups is not None:
            levels["item_dc"] = ref.sum(axis=2) @ groups
        q_ref = {k: np.quantile(v, 0.95, axis=0) for k, v in levels.items()}
        del ref
        for method in ("mc", "lhs", "sobol"):
            errs = {k: [] for k in q_ref}
            for n in counts:
                sq = {k: [] for k in q_ref}
                for r in range(replications):
                    p = _sample_paths(sub, n_s, periods, n, seed + 1 + 1000 * r, cop, method).sum(axis=2)
                    for k in q_ref:
                        v = p if k == "item_store" else p @ groups
                        q = np.quantile(v, 0.95, axis=0)
                        ok = q_ref[k] > 0
                        sq[k].append(np.mean((q[ok] - q_ref[k][ok]) ** 2) / np.mean(q_ref[k][ok]) ** 2)
                for k in q_ref:
                    errs[k].append(float(np.sqrt(np.mean(sq[k]))))
            out["error"][f"{dep}/{method}"] = errs
            out["needed"][f"{dep}/{method}"] = {
                k: {f"{int(tol * 100)}%": next((n for n, e in zip(counts, errs[k]) if e <= tol), None)
                    for tol in (0.10, 0.05)}
                for k in errs
            }
            log(f"  scenario count {dep}/{method}: " + ", ".join(
                f"{k} {['%.3f' % e for e in v]}" for k, v in errs.items()))
    return out
