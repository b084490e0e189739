"""Quantile recalibration of the run's forecast by the PITs of an earlier forecast (issue 3).

The backtest found NGBoost's daily intervals too narrow (the earlier origins'
PITs covered 39/72/90% at 50/80/95%). ``forecast: {recalibrate: true}`` corrects
the run's forecast the way the backtest does, from data the run has:

1. the same forecaster is fitted at origin :math:`o' =` the history's date
   ``H`` periods before the as-of date (``H`` = the run's periods) and predicts
   :math:`o' + 1 .. o' + H`, days whose sales are known;
2. their randomised PITs :math:`u_i = F_i(y_i^-) + V_i (F_i(y_i) - F_i(y_i^-))`,
   :math:`V_i` uniform (a count inside a mass counts by its share), have
   empirical CDF :math:`G`;
3. the run's forecast quantile at level :math:`u` becomes the original's at
   :math:`G^{-1}(u)`: :math:`q'(u) = q(G^{-1}(u))` (Kuleshov et al. 2018), kept
   as an ``empirical`` table of 200 midpoint quantiles per row
   (:func:`scenarios.backtest.recalibrated_table`).

It costs one more forecaster fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasts.distributions import DistributionTable
from forecasts.evaluation import holdout_truth
from forecasts.metrics import midpoint_levels, randomized_pit

from .backtest import N_LEVELS, recalibrated_table

__all__ = ["earlier_pits", "recalibrate"]


def earlier_pits(forecaster, history: pd.DataFrame, calendar, horizon: int, seed: int) -> np.ndarray:
    """Randomised PITs of ``forecaster`` fitted ``horizon`` dates before the history's end."""
    dates = np.sort(history["date"].unique())
    if len(dates) <= horizon:
        raise ValueError(f"recalibration needs more than {horizon} dates of history; received {len(dates)}")
    forecaster.fit(history, origin=pd.Timestamp(dates[-1 - horizon]), calendar=calendar)
    table = forecaster.predict()
    truth = holdout_truth(history, table, forecaster.period_dates_)
    u = midpoint_levels(N_LEVELS)
    grid = np.sort(table.ppf(np.broadcast_to(u[:, None], (len(u), len(truth)))), axis=0)
    return randomized_pit(grid, truth, np.random.default_rng(seed))


def recalibrate(table: DistributionTable, forecaster, history, calendar, horizon: int, seed: int):
    """``table`` recalibrated by :func:`earlier_pits` (see the module docstring)."""
    return recalibrated_table(table, earlier_pits(forecaster, history, calendar, horizon, seed))
