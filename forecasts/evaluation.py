"""Scoring forecast tables against what was sold: CRPS and baselines.

CRPS of a predictive distribution :math:`F` for an outcome :math:`y` (units):

.. math::

    \\mathrm{CRPS}(F, y) = \\int (F(z) - 1\\{y \\le z\\})^2 dz
                        = 2 \\int_0^1 \\rho_u(y - F^{-1}(u))\\, du,

with the pinball loss :math:`\\rho_u(e) = \\max(u e, (u - 1) e)`. It is
computed here from the table's own quantiles (:meth:`DistributionTable.ppf`,
so normal forecasts are scored after their cut at 0, as the scenario stage
uses them) at the midpoints :math:`u_i = (i - 1/2) / M` of ``M`` equal
slices: deterministic, and exact to :math:`O(1/M)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .distributions import DistributionTable

__all__ = ["crps", "empirical_baseline", "holdout_truth"]


def crps(table: DistributionTable, actual: np.ndarray, n_levels: int = 200) -> np.ndarray:
    """CRPS of every row of ``table`` against ``actual`` (same row order).

    Parameters
    ----------
    table : DistributionTable
        Forecasts, rows sorted by item, location, period.
    actual : array of shape (n_rows,)
        Units sold in the same rows.
    n_levels : int, default=200
        Quantile levels M of the midpoint rule.
    """
    actual = np.asarray(actual, dtype=float)
    if actual.shape != (len(table.frame),):
        raise ValueError(
            f"actual must have one value per table row ({len(table.frame)}); "
            f"received shape {actual.shape}"
        )
    u = (np.arange(n_levels) + 0.5) / n_levels
    q = table.ppf(np.broadcast_to(u[:, None], (n_levels, len(actual))))
    err = actual[None, :] - q
    loss = np.where(err >= 0, u[:, None] * err, (u[:, None] - 1.0) * err)
    return 2.0 * loss.mean(axis=0)


def holdout_truth(history: pd.DataFrame, table: DistributionTable, dates) -> np.ndarray:
    """Sales of the table's rows: ``dates[period]`` per item x location (NaN if unknown)."""
    keys = table.frame[["item", "location", "period"]].copy()
    keys["date"] = pd.DatetimeIndex(dates)[keys["period"].to_numpy()]
    merged = keys.merge(
        history[["item", "location", "date", "quantity"]],
        on=["item", "location", "date"],
        how="left",
    )
    return merged["quantity"].to_numpy(float)


def empirical_baseline(
    history: pd.DataFrame, origin, horizon: int, window: int = 28, seasonal: bool = False
) -> DistributionTable:
    """Empirical-quantile baseline at ``origin``.

    ``seasonal=False``: every period gets the last ``window`` days' sales as
    equally likely values. ``seasonal=True`` (seasonal naive with empirical
    quantiles): period ``p`` gets the sales of the last ``window // 7`` days
    with the same weekday.
    """
    origin = pd.Timestamp(origin)
    past = history[(history["date"] <= origin) & (history["date"] > origin - pd.Timedelta(days=window))]
    rows = []
    for (item, location), part in past.groupby(["item", "location"], sort=True):
        values = part["quantity"].to_numpy(float)
        weekdays = part["date"].dt.dayofweek.to_numpy()
        for p in range(horizon):
            if seasonal:
                day = (origin + pd.Timedelta(days=p + 1)).dayofweek
                v = values[weekdays == day]
            else:
                v = values
            rows.append(
                {"item": item, "location": location, "period": p, "family": "empirical",
                 "values": v if len(v) else np.zeros(1)}
            )
    return DistributionTable(pd.DataFrame(rows))
