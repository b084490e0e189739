"""Classical baseline forecasters with NGBoost's interface (``fit(history, origin, calendar)``,
``predict() -> DistributionTable``, ``period_dates_``).

Seasonal naive with empirical error quantiles (``SeasonalNaiveForecaster``)
    For target :math:`t = o + h` and :math:`k = \\lceil h / 7 \\rceil`, the point
    forecast is the sale :math:`y_{t - 7k}` (the latest same weekday at or before
    the origin); the distribution is that point plus the series' own past
    :math:`k`-week seasonal-naive errors :math:`e_d = y_d - y_{d - 7k}` on the same
    weekday over the last ``window`` periods (52 values for a year), cut at 0:
    an ``empirical`` row.

Moving average with a negative binomial (``MovingAverageForecaster``)
    The M5 "kernel"-style benchmark: mean :math:`m` and variance :math:`v` of the last
    ``window`` periods; demand is NB(mean :math:`m`, dispersion
    :math:`k = m^2 / (v - m)`) when over-dispersed (:math:`v > m`), else
    Poisson(:math:`m`) (dispersion capped at 1e6). The same for every step.

Only sales at or before the origin enter either model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .distributions import DistributionTable
from .history import KEYS, validate_history

__all__ = ["MovingAverageForecaster", "SeasonalNaiveForecaster", "sales_grid"]

SEASON = 7


def sales_grid(history: pd.DataFrame, origin: pd.Timestamp):
    """Dense (series, day) sales up to ``origin`` (NaN where no row): series, dates, array."""
    past = history[history["date"] <= origin]
    series = past[list(KEYS)].drop_duplicates().sort_values(list(KEYS)).reset_index(drop=True)
    dates = pd.date_range(past["date"].min(), origin, freq="D")
    s = pd.MultiIndex.from_frame(series).get_indexer(pd.MultiIndex.from_frame(past[list(KEYS)]))
    d = ((past["date"] - dates[0]) / pd.Timedelta(days=1)).to_numpy().astype(np.int64)
    y = np.full((len(series), len(dates)), np.nan)
    y[s, d] = past["quantity"].to_numpy(float)
    return series, dates, y


class _Baseline:
    def __init__(self, horizon: int = 14, *, window: int = 364):
        self.horizon = horizon
        self.window = window

    def fit(self, history: pd.DataFrame, origin=None, calendar=None):
        """Keep the sales up to ``origin`` (default: the last date); ``calendar`` is unused."""
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1; received {self.horizon!r}")
        history = validate_history(history)
        origin = pd.Timestamp(history["date"].max() if origin is None else origin)
        self.series_, dates, self.sales_ = sales_grid(history, origin)
        self.origin_ = origin
        self.period_dates_ = pd.date_range(origin + pd.Timedelta(days=1), periods=self.horizon)
        return self

    def _check_fitted(self):
        if not hasattr(self, "sales_"):
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _keys(self):
        n_h = self.horizon
        return {
            "item": np.repeat(self.series_["item"].to_numpy(), n_h),
            "location": np.repeat(self.series_["location"].to_numpy(), n_h),
            "period": np.tile(np.arange(n_h), len(self.series_)),
        }


class SeasonalNaiveForecaster(_Baseline):
    """Seasonal naive (weekly) with empirical quantiles of past same-weekday errors.

    Parameters
    ----------
    horizon : int, default=14
    window : int, default=364
        Periods of past errors used (52 same-weekday errors per step).
    """

    def predict(self) -> DistributionTable:
        self._check_fitted()
        y = self.sales_
        n_d = y.shape[1]
        o = n_d - 1
        values = []
        for s in range(y.shape[0]):
            for h in range(1, self.horizon + 1):
                k = -(-h // SEASON)
                t = o + h
                point = y[s, t - SEASON * k]
                d = np.arange(t - SEASON * k, max(o - self.window, SEASON * k - 1), -SEASON)
                d = d[(d >= SEASON * k) & (d <= o)]
                err = y[s, d] - y[s, d - SEASON * k]
                err = err[np.isfinite(err)]
                if not np.isfinite(point):
                    point = 0.0
                v = np.maximum(point + err, 0.0) if len(err) else np.array([point])
                values.append(np.sort(v))
        frame = pd.DataFrame({**self._keys(), "family": "empirical"})
        frame["values"] = values
        return DistributionTable(frame)


class MovingAverageForecaster(_Baseline):
    """Moving-average negative binomial (Poisson when not over-dispersed).

    Parameters
    ----------
    horizon : int, default=14
    window : int, default=28
        Periods the mean and variance are taken over.
    """

    def __init__(self, horizon: int = 14, *, window: int = 28):
        super().__init__(horizon, window=window)

    def predict(self) -> DistributionTable:
        self._check_fitted()
        recent = self.sales_[:, -self.window :]
        m = np.nan_to_num(np.nanmean(np.where(np.isfinite(recent), recent, np.nan), axis=1))
        v = np.nan_to_num(np.nanvar(recent, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(v > m, m**2 / (v - m), 1e6)
        k = np.clip(np.nan_to_num(k, nan=1e6), 1e-3, 1e6)
        m = np.maximum(m, 1e-6)
        n_h = self.horizon
        frame = pd.DataFrame(
            {**self._keys(), "family": "negative_binomial",
             "mean": np.repeat(m, n_h), "dispersion": np.repeat(k, n_h)}
        )
        return DistributionTable(frame)
