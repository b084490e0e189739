"""Calibration of lead-time sums: how much of the copula's correlation to keep (issue 3).

Model
-----
Copula scenarios (:mod:`scenarios.copula`) keep every day's marginal, so the
spread of a lead-time sum :math:`S_{h} = \\sum_{t < h} D_t` (at a store, or over
a DC's stores) is set by the correlations alone. Fitted by pooling normal
scores over all series, :math:`R_T` and :math:`R_L` carry the few series whose
errors move as a block (a stock-out, a price change) into every series, and
the sums come out too wide at 50% and 80% (store 28-day sums covered 68/86/95
on the last origin of the bundled backtest). The correlations are shrunk
towards independence,

.. math::

    R_T(\\lambda_T) = \\lambda_T R_T + (1 - \\lambda_T) I, \\qquad
    R_L(\\lambda_L) = \\lambda_L R_L + (1 - \\lambda_L) I,

(correlation matrices still; :math:`\\lambda = 1` the fit, 0 independence),
with the scales chosen on the earlier origins only, by the randomised-PIT
coverage of the sums over the first ``h`` days, ``h`` in ``horizons``:

1. :math:`\\lambda_T` on the sums at item x store, which :math:`R_L` does not touch;
2. then :math:`\\lambda_L` on the sums at item x group (DC).

Each scale minimises the mean over horizons and nominal levels
:math:`a \\in \\{0.5, 0.8, 0.95\\}` of :math:`|\\mathrm{cov}_h(a) - a|`, the
coverage pooled over the earlier origins; ties keep the larger scale. Every
candidate is scored on the same uniforms (one seed: common random numbers).

A single scale cannot make a sum narrower at 50% and wider at 95% at once;
heavy tails can. So step 1 chooses the t copula's degrees of freedom
:math:`\\nu` (:mod:`scenarios.t_copula`; inf is Gaussian) jointly with
:math:`\\lambda_T`, over ``nus`` x ``scales``; ties keep the larger :math:`\\nu`.
The earlier forecasts are sampled as their 200 midpoint quantiles per day
(:meth:`forecasts.distributions.DistributionTable.empirical`), so that a
candidate costs a lookup, not a quantile function per draw.

The empirical copula (:mod:`scenarios.empirical_copula`) needs no correlation
at all: it resamples the earlier origins' PIT paths whole. Its one parameter,
the weight :math:`a` of the paths against fresh noise, is chosen by
:func:`calibrate_empirical` on the same criterion, each origin's sums drawn
through the other origins' paths only (a path scored on itself would always
choose :math:`a = 1`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forecasts.metrics import COVERAGE_LEVELS, coverage, midpoint_levels, randomized_pit

from .copula import GaussianCopula
from .empirical_copula import EmpiricalCopula, pit_patterns
from .sampling import sample_scenarios
from .t_copula import StudentTCopula

__all__ = ["NUS", "SCALES", "WEIGHTS", "calibrate_copula", "calibrate_empirical", "coverage_if_calibrated", "sum_pits"]

#: Candidate scales :math:`\lambda`, from the fitted correlation down to independence.
SCALES = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)
#: Candidate degrees of freedom of the t copula, from the Gaussian (inf) to heavy tails.
NUS = (math.inf, 10.0, 5.0, 3.0)
#: Candidate pattern weights :math:`a` of the empirical copula, from the patterns alone to independence.
WEIGHTS = (1.0, 0.95, 0.9, 0.8, 0.6, 0.3, 0.0)
_N_LEVELS = 200


def sum_pits(table, outcome: np.ndarray, copula, horizons, groups=None, *, n_samples: int = 300,
             seed: int = 0) -> dict:
    """Randomised PITs of the lead-time sums of ``outcome`` under ``table`` sampled through ``copula``.

    Parameters
    ----------
    table : forecasts.distributions.DistributionTable
    outcome : ndarray (S, H)
        Observed demand of the table's series (``table.series_index()`` order).
    copula : GaussianCopula or None
    horizons : sequence of int
        Sum the first ``h`` periods for each ``h``.
    groups : ndarray (S, K), optional
        0/1 map of series to groups (item x DC); sums are then per group.

    Returns
    -------
    dict of h -> ndarray of PITs (one per series or group).
    """
    sc = sample_scenarios(table, n_samples, seed=seed, method="lhs", copula=copula)
    paths = sc.series_paths(table.series_index())
    rng = np.random.default_rng(seed)
    u = midpoint_levels(_N_LEVELS)
    out = {}
    for h in horizons:
        p, y = paths[:, :, :h].sum(axis=2), outcome[:, :h].sum(axis=1)
        if groups is not None:
            p, y = p @ groups, y @ groups
        out[h] = randomized_pit(np.quantile(p, u, axis=0), y, rng)
    return out


def _lookup_tables(forecasts) -> list:
    """The earlier origins' forecasts as their midpoint quantiles, so that a candidate costs a lookup."""
    if not forecasts:
        raise ValueError("calibrating the copula needs the forecasts of at least one earlier origin")
    return [t.empirical(midpoint_levels(_N_LEVELS)) for t in forecasts]


def _deviation(forecasts, outcomes, copulas, horizons, groups, n_samples, seed) -> float:
    """Mean |coverage - nominal| of the sums, PITs pooled over the origins (``copulas``: one per origin)."""
    pits = [sum_pits(t, y, c, horizons, groups, n_samples=n_samples, seed=seed)
            for t, y, c in zip(forecasts, outcomes, copulas)]
    return float(np.mean([abs(coverage(np.concatenate([p[h] for p in pits]), a) - a)
                          for h in horizons for a in COVERAGE_LEVELS]))


def calibrate_copula(copula: GaussianCopula, forecasts, outcomes, horizons, groups=None, *,
                     scales=SCALES, nus=NUS, n_samples: int = 300, seed: int = 0) -> GaussianCopula:
    """``copula`` with its tails and correlations set to calibrate lead-time sums (module docstring).

    Parameters
    ----------
    copula : GaussianCopula
        As fitted (:func:`scenarios.copula.fit_copula`).
    forecasts : list of DistributionTable
        Forecasts made at the earlier origins (never the scored one).
    outcomes : list of ndarray (S, H)
        What was sold after each of those origins, in ``table.series_index()`` order.
    horizons : sequence of int
        Lead times whose sums are calibrated (e.g. 7 and the backtest horizon).
    groups : ndarray (S, K), optional
        Series to DC map; without it :math:`\\lambda_L` stays 1.
    scales : sequence of float
        Candidate :math:`\\lambda`, in [0, 1].
    nus : sequence of float, default=NUS
        Candidate degrees of freedom :math:`\\nu` (``(math.inf,)``: the Gaussian copula only).
    n_samples : int, default=300
        Latin-hypercube paths per origin and candidate.

    Returns
    -------
    GaussianCopula
        The scaled copula (a :class:`~scenarios.t_copula.StudentTCopula` when a finite
        :math:`\\nu` is chosen); ``calibration`` records the choice and each candidate's deviation.
    """
    forecasts = _lookup_tables(forecasts)

    def choose(candidates, make, groups_):
        dev = {c: _deviation(forecasts, outcomes, [make(*c)] * len(forecasts), horizons, groups_, n_samples, seed)
               for c in candidates}
        return min(dev, key=lambda c: (dev[c], *(-v for v in c))), dev

    def make(nu, lam_t, lam_l=1.0):
        scaled = copula.scaled(lam_t, lam_l)
        return scaled if math.isinf(nu) else StudentTCopula(scaled.locations, scaled.location_corr,
                                                            scaled.time_corr, nu=nu)

    (nu, lam_t), dev_t = choose([(n, lam) for n in nus for lam in scales], make, None)
    (lam_l,), dev_l = ((1.0,), {}) if groups is None else choose(
        [(lam,) for lam in scales], lambda lam: make(nu, lam_t, lam), groups)
    record = {"time_scale": lam_t, "location_scale": lam_l, "nu": None if math.isinf(nu) else nu,
              "horizons": [int(h) for h in horizons], "origins": len(forecasts),
              "criterion": "mean |coverage - nominal| of sums at 50/80/95",
              "deviation_by_nu_and_time_scale": {f"{n:g}/{lam:g}": round(v, 4) for (n, lam), v in dev_t.items()},
              "deviation_by_location_scale": {f"{lam:g}": round(v, 4) for (lam,), v in dev_l.items()}}
    return dataclasses.replace(make(nu, lam_t, lam_l), calibration=record)


def calibrate_empirical(pits, locations, forecasts, outcomes, horizons, groups=None, *,
                        weights=WEIGHTS, n_samples: int = 300, seed: int = 0) -> EmpiricalCopula:
    """The empirical copula of the earlier origins' PIT paths, its pattern weight chosen on their sums.

    Each candidate weight :math:`a` is scored leaving one origin out: origin
    :math:`k`'s sums are drawn through the patterns of the other origins only,
    so that no sum is scored on the copula that holds its own path. The
    criterion is the mean of :math:`|\\mathrm{cov}_h(a) - a|` over ``horizons``,
    the levels 50/80/95 and, with ``groups``, both item x store and item x DC
    sums; ties keep the larger weight. With a single earlier origin there is
    nothing to leave out, and the weight is chosen in sample (``criterion``
    says so).

    Parameters
    ----------
    pits : list of ndarray (I, L, T)
        Randomised PITs of the earlier origins' forecasts on the item x location grid.
    locations : sequence of str
        Names of the L axis.
    forecasts, outcomes, horizons, groups, n_samples, seed
        As :func:`calibrate_copula`.
    weights : sequence of float, default=WEIGHTS
        Candidate pattern weights in [0, 1].

    Returns
    -------
    EmpiricalCopula
        Patterns of every earlier origin, the chosen weight, and ``calibration``
        (the choice and each candidate's deviation).
    """
    forecasts = _lookup_tables(forecasts)
    locations = tuple(locations)
    k_all = range(len(pits))
    held_out = len(pits) > 1
    patterns = [pit_patterns([p for j, p in enumerate(pits) if j != k or not held_out]) for k in k_all]

    def deviation(a):
        copulas = [EmpiricalCopula(locations, patterns[k], a) for k in k_all]
        levels = (None,) if groups is None else (None, groups)
        return float(np.mean([_deviation(forecasts, outcomes, copulas, horizons, g, n_samples, seed)
                              for g in levels]))

    dev = {a: deviation(a) for a in weights}
    weight = min(dev, key=lambda a: (dev[a], -a))
    record = {"weight": weight, "patterns": int(sum(len(p) for p in pits)), "origins": len(pits),
              "horizons": [int(h) for h in horizons],
              "criterion": ("mean |coverage - nominal| of sums at 50/80/95, "
                            + ("each origin through the others' patterns" if held_out else "in sample (one origin)")),
              "deviation_by_weight": {f"{a:g}": round(v, 4) for a, v in dev.items()}}
    return EmpiricalCopula(locations, pit_patterns(pits), weight, record)


def coverage_if_calibrated(table, copula, horizons, groups=None, *, observed=None, replications: int = 100,
                           n_samples: int = 300, tolerance: float = 0.03, seed: int = 0) -> dict:
    """How near nominal the sums' coverage comes when the forecast is exactly right.

    Each of ``replications`` worlds draws one outcome path per series from the
    model itself (``table`` through ``copula``, Monte Carlo), and scores it the
    way the backtest scores what was sold: the coverage of the sums over the
    first ``h`` days, ``h`` in ``horizons``, at item x store and (with
    ``groups``) item x DC, at 50/80/95. Its misses :math:`|\\mathrm{cov} - a|`
    are the sampling noise of the coverage test for this many series: a model
    that misses by as much is not shown miscalibrated by it.

    Parameters
    ----------
    table : DistributionTable
        The forecast scored (its empirical form samples fastest).
    copula : copula or None
        The dependence its sums are drawn through.
    horizons, groups, n_samples
        As :func:`calibrate_copula`.
    observed : sequence of float, optional
        The real outcome's coverage cells in the same order (per level of
        ``groups``, per horizon, per nominal level), to place among the worlds.
    tolerance : float, default=0.03
        A cell counts as on target within this distance of nominal.

    Returns
    -------
    dict
        ``cells_within_tolerance`` (mean, median, 5% and 95% quantiles, share of
        worlds with every cell within), ``mean_miss`` (mean and 90% quantile) and,
        with ``observed``, its count, mean miss and the share of calibrated worlds
        that miss by at least as much.
    """
    truth = sample_scenarios(table, replications, seed=seed + 1_000_003, method="mc",
                             copula=copula).series_paths(table.series_index())
    levels = (None,) if groups is None else (None, groups)
    nominal = np.tile(COVERAGE_LEVELS, len(levels) * len(horizons))
    misses = []
    for r in range(replications):
        pits = [sum_pits(table, truth[r], copula, horizons, g, n_samples=n_samples, seed=seed + r) for g in levels]
        misses.append(np.abs([coverage(p[h], a) for p in pits for h in horizons for a in COVERAGE_LEVELS] - nominal))
    misses = np.array(misses)
    within, mean_miss = (misses <= tolerance + 1e-12).sum(axis=1), misses.mean(axis=1)
    out = {"replications": replications, "cells": int(misses.shape[1]), "tolerance": tolerance,
           "cells_within_tolerance": {"mean": float(within.mean()), "median": float(np.median(within)),
                                      "q05_q95": [float(v) for v in np.quantile(within, [0.05, 0.95])],
                                      "share_all_within": float(np.mean(within == misses.shape[1]))},
           "mean_miss": {"mean": float(mean_miss.mean()), "q90": float(np.quantile(mean_miss, 0.9))}}
    if observed is not None:
        miss = np.abs(np.asarray(observed, float) - nominal)
        out["observed"] = {"cells_within_tolerance": int((miss <= tolerance + 1e-12).sum()),
                           "mean_miss": float(miss.mean()),
                           "share_of_calibrated_worlds_missing_more": float(np.mean(mean_miss >= miss.mean()))}
    return out
