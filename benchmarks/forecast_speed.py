"""NGBoost fitting speed: the default learner against ours on the same rows (issue 10).

Rows are sampled from the bundled M5 history (``configs/data/m5/history.csv.gz``)
with the model's real features (:mod:`forecasts.features`: the training design
of :class:`forecasts.NGBoostForecaster` over the whole history, horizon 14).
``--rows`` of them train both models and ``--test-rows`` other ones score them.

* default: ``NGBRegressor(Dist=D, n_estimators=I, learning_rate=0.1)``, i.e.
  scikit-learn's ``DecisionTreeRegressor(criterion="friedman_mse", max_depth=3)``
  on the float features (NaN included), every row every iteration.
* fast: NGBoost's algorithm with the same distribution, iterations and
  learning rate, no early stopping, made cheap in three places:
  :class:`forecasts.booster.FastNGBRegressor` (``NGBRegressor`` without the
  per-iteration copies of its sampling), the closed-form distributions of
  :mod:`forecasts.closed_form` (the same Poisson and Normal, scored without
  scipy), and :class:`forecasts.learners.BinnedTreeRegressor` (``max_depth=3``,
  ``min_samples_leaf=50``) on features binned once by
  :class:`forecasts.learners.QuantileBinner` (the binning is in ``fit_s_fast``).
  Rows per iteration (``minibatch_frac``): half for the Poisson, all for the
  Normal (:data:`FAST_MINIBATCH`, measured).

CRPS is the exact mean CRPS of the fitted distribution on the held-out rows
(closed form for the Normal, a sum over the integers for the Poisson).

Usage::

    python benchmarks/forecast_speed.py --rows 100000 --json out/forecast_speed.json
    python benchmarks/forecast_speed.py --rows 20000 --dist poisson normal --json f.json

The JSON holds, per distribution, ``rows``, ``iterations``, ``fit_s_default``,
``fit_s_fast``, ``crps_default``, ``crps_fast`` (and ``ratio`` =
fit_s_fast / fit_s_default; ``cpu_s_default``, ``cpu_s_fast`` and ``cpu_ratio``,
the same in process CPU seconds, less sensitive to other jobs on the machine);
with one ``--dist`` they are also at the top level.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ngboost import NGBRegressor  # noqa: E402
from ngboost.distns import Normal, Poisson  # noqa: E402

from forecasts import read_history  # noqa: E402
from forecasts.booster import FastNGBRegressor  # noqa: E402
from forecasts.closed_form import FastNormal, FastPoisson  # noqa: E402
from forecasts.features import _SalesStats, build_panel, origin_features, training_rows  # noqa: E402
from forecasts.history import REQUIRED_COLUMNS  # noqa: E402
from forecasts.learners import BinnedTreeRegressor, QuantileBinner  # noqa: E402

HISTORY = ROOT / "configs" / "data" / "m5" / "history.csv.gz"
DISTS = {"normal": Normal, "poisson": Poisson}
FAST_DISTS = {"normal": FastNormal, "poisson": FastPoisson}
#: Share of rows each iteration of the fast fit sees. Measured at 100,000 rows, 100
#: iterations (held-out CRPS, all rows -> half): Poisson 1.7469 -> 1.7352, Normal
#: 1.6903 -> 1.8343; so half for the Poisson only.
FAST_MINIBATCH = {"normal": 1.0, "poisson": 0.5}
#: Our learner keeps NGBoostForecaster's leaf size: with 1 row per leaf allowed, a leaf can
#: isolate one outlier and blow up the Normal scale (CRPS 5e25 on held-out rows, measured).
MIN_SAMPLES_LEAF = 50


def history_rows(seed: int = 0, horizon: int = 14) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every training row of the bundled history: features ``X`` (float), target ``y``."""
    history = read_history(HISTORY)
    exogenous = [c for c in history.columns if c not in REQUIRED_COLUMNS]
    origin = history["date"].max()
    panel = build_panel(history, origin, horizon, exogenous)
    stats_ = _SalesStats(panel.quantity)
    s, o, h = training_rows(panel, horizon, 10_000, np.random.default_rng(seed))
    X = origin_features(panel, s, o, h, ("price",), stats_)
    y = panel.quantity[s, o + h]
    return X.to_numpy(dtype=float), y.astype(float), list(X.columns)


def crps_normal(loc: np.ndarray, scale: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of N(loc, scale^2) at y (Gneiting and Raftery 2007)."""
    z = (y - loc) / scale
    return scale * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def crps_poisson(mu: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of Poisson(mu) at integer y: sum over k >= 0 of (F(k) - 1{y <= k})^2."""
    top = int(max(y.max(), stats.poisson.ppf(1 - 1e-12, mu.max()))) + 1
    k = np.arange(top + 1)
    out = np.zeros(len(y))
    for lo in range(0, len(y), 5000):  # chunks keep the (rows x k) grid small
        sl = slice(lo, lo + 5000)
        F = stats.poisson.cdf(k[None, :], mu[sl, None])
        out[sl] = ((F - (y[sl, None] <= k[None, :])) ** 2).sum(axis=1)
    return out


def mean_crps(dist: str, model: NGBRegressor, X: np.ndarray, y: np.ndarray) -> float:
    raw = model.pred_param(X)
    if dist == "normal":
        return float(crps_normal(raw[:, 0], np.exp(raw[:, 1]), y).mean())
    return float(crps_poisson(np.exp(raw[:, 0]), y).mean())


class Timer:
    """Wall seconds (``wall``) and this process's CPU seconds (``cpu``) of a ``with`` block.

    On a shared machine the wall time of a fit depends on the other jobs; the CPU
    time much less so.
    """

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def fit_default(dist, X, y, iterations, learning_rate, seed):
    model = NGBRegressor(
        Dist=DISTS[dist], n_estimators=iterations, learning_rate=learning_rate,
        verbose=False, random_state=seed,
    )
    with Timer() as t:
        model.fit(X, y)
    return model, t


def fit_fast(dist, X, y, iterations, learning_rate, seed):
    with Timer() as t:
        binner, model = _fit_fast(dist, X, y, iterations, learning_rate, seed)
    return model, binner, t


def _fit_fast(dist, X, y, iterations, learning_rate, seed):
    binner = QuantileBinner().fit(X)
    codes = binner.transform(X)
    model = FastNGBRegressor(
        Dist=FAST_DISTS[dist],
        Base=BinnedTreeRegressor(max_depth=3, min_samples_leaf=MIN_SAMPLES_LEAF),
        n_estimators=iterations, learning_rate=learning_rate, minibatch_frac=FAST_MINIBATCH[dist],
        verbose=False, random_state=seed,
    )
    model.fit(codes, y)
    return binner, model


def run(rows, test_rows, iterations, learning_rate, dists, seed, skip_default=False):
    X_all, y_all, names = history_rows(seed)
    if rows + test_rows > len(y_all):
        raise SystemExit(
            f"--rows {rows} + --test-rows {test_rows} exceeds the {len(y_all)} rows of the history"
        )
    pick = np.random.default_rng(seed).permutation(len(y_all))
    train, test = pick[:rows], pick[rows : rows + test_rows]
    X, y, Xt, yt = X_all[train], y_all[train], X_all[test], y_all[test]
    results = {}
    for dist in dists:
        model, binner, fast = fit_fast(dist, X, y, iterations, learning_rate, seed)
        r = {
            "rows": rows, "features": len(names), "test_rows": test_rows, "iterations": iterations,
            "learning_rate": learning_rate, "minibatch_frac_fast": FAST_MINIBATCH[dist],
            "fit_s_fast": round(fast.wall, 2), "cpu_s_fast": round(fast.cpu, 2),
            "crps_fast": round(mean_crps(dist, model, binner.transform(Xt), yt), 5),
        }
        print(f"[{dist}] fast: {r['fit_s_fast']} s ({r['cpu_s_fast']} s CPU), CRPS {r['crps_fast']}",
              flush=True)
        if not skip_default:
            model, default = fit_default(dist, X, y, iterations, learning_rate, seed)
            r["fit_s_default"] = round(default.wall, 2)
            r["cpu_s_default"] = round(default.cpu, 2)
            r["crps_default"] = round(mean_crps(dist, model, Xt, yt), 5)
            r["ratio"] = round(fast.wall / default.wall, 4)
            r["cpu_ratio"] = round(fast.cpu / default.cpu, 4)
            r["crps_ratio"] = round(r["crps_fast"] / r["crps_default"], 4)
            print(f"[{dist}] default: {r['fit_s_default']} s ({r['cpu_s_default']} s CPU), "
                  f"CRPS {r['crps_default']}", flush=True)
        results[dist] = r
    return results


def backtest(groupings, n_jobs, seed, horizon=28, origin="2016-03-27"):
    """Global model against one model per group on the held-out 28 days of the history.

    Fits :class:`forecasts.grouped.GroupedForecaster` (default forecaster
    parameters) on the whole bundled history up to ``origin`` and scores the
    next ``horizon`` days with :func:`forecasts.evaluation.crps` (per series-day).
    """
    from forecasts.evaluation import crps, holdout_truth
    from forecasts.grouped import GroupedForecaster

    history = read_history(HISTORY)
    calendar = ROOT / "configs" / "data" / "m5" / "calendar.csv.gz"
    out = {}
    for group_by in groupings:
        key = "global" if group_by in (None, "none") else group_by
        with Timer() as t:
            model = GroupedForecaster(
                group_by=None if key == "global" else key, n_jobs=n_jobs, horizon=horizon,
                random_state=seed,
            ).fit(history, origin=origin, calendar=calendar)
        table = model.predict()
        truth = holdout_truth(history, table, model.period_dates_)
        score = float(np.nanmean(crps(table, truth)))
        out[key] = {"groups": len(model.groups_), "n_jobs": n_jobs, "fit_s": round(t.wall, 2),
                    "crps": round(score, 4)}
        print(f"[backtest] {key}: {out[key]}", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--test-rows", type=int, default=50_000)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--dist", nargs="+", choices=sorted(DISTS), default=["normal"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-default", action="store_true", help="time only the fast learner")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--backtest", nargs="+", metavar="GROUP_BY",
        help="instead: backtest one model per group (history column, or 'none' for global)",
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for --backtest")
    args = parser.parse_args(argv)
    if args.backtest:
        out = {"machine": {"cpus": os.cpu_count()}, "date": time.strftime("%Y-%m-%d"),
               "backtest": backtest(args.backtest, args.n_jobs, args.seed)}
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2) + "\n")
        return out
    results = run(
        args.rows, args.test_rows, args.iterations, args.learning_rate, args.dist, args.seed,
        args.skip_default,
    )
    print("\n| dist | rows | iterations | fit_s_default | fit_s_fast | ratio | cpu_ratio | crps_default "
          "| crps_fast |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for dist, r in results.items():
        print(
            f"| {dist} | {r['rows']:,} | {r['iterations']} | {r.get('fit_s_default', '-')} | "
            f"{r['fit_s_fast']} | {r.get('ratio', '-')} | {r.get('cpu_ratio', '-')} | "
            f"{r.get('crps_default', '-')} | "
            f"{r['crps_fast']} |"
        )
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }
    if len(results) == 1:
        out.update(next(iter(results.values())))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
