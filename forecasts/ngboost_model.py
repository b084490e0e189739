"""NGBoost demand forecaster: one global model for every item x location.

Model
-----
For series :math:`s`, origin :math:`o` and step :math:`h = 1..H`, demand in
period :math:`t = o + h` (units per period) is

.. math:: Y_{s,t} \\mid x_{s,o,h} \\sim \\mathcal{D}(\\theta(x_{s,o,h})),

where :math:`x` are the horizon-safe features of :mod:`forecasts.features`
(no sales after :math:`o`), :math:`\\mathcal{D}` a distribution family and
:math:`\\theta` its parameters, each a sum of ``n_estimators`` depth-3 trees
fitted by natural-gradient boosting on the log score (NGBoost, Duan et al.
2020). The trees are :class:`forecasts.learners.BinnedTreeRegressor` on
features binned once into ``uint8`` codes, the booster is
:class:`forecasts.booster.FastNGBRegressor` and the Poisson, Normal and
LogNormal are the closed-form classes of :mod:`forecasts.closed_form` (the
same models as ngboost's, fitted faster; issue 10).

Families (``family=``) and what the :class:`~forecasts.distributions.DistributionTable` gets:

=====================  ============================  ==================================
family                 NGBoost distribution          table parameters
=====================  ============================  ==================================
``negative_binomial``  :mod:`forecasts.negative_      mean, dispersion (exact)
                       binomial` (log mu, log k)
``poisson``            ``Poisson`` (log mu)          mean (exact)
``normal``             ``Normal`` (mean, log std)    mean, std (exact)
``lognormal``          ``LogNormal`` of Y + c         mu, sigma matched to the mean and
                                                      variance of Y (= X - c)
``gamma``              ``Gamma`` of Y + c             mean, std of Y (= X - c)
``shifted_lognormal``  ``LogNormal`` of Y + c         mu, sigma of X and shift c: the
                                                      fitted law itself, Y = max(X - c, 0),
                                                      with its mass at 0
=====================  ============================  ==================================

Lognormal and gamma have no mass at 0 and half the M5 values are 0, so they
are fitted to :math:`X = Y + c` (``continuous_offset=c``, default 1) and
reported with the mean and variance of :math:`Y = X - c` (a moment match:
the table has no shift parameter).

Defaults and their measured cost (bundled M5 data: 280 series, 535,640 rows,
2 cores; held-out window 2016-03-28..2016-04-24, origin 2016-03-27,
horizon 28, CRPS per series-day in units from 200 quantiles of the emitted
table, see :mod:`forecasts.evaluation`; 7,840 series-days):

=====================  ===============================  ===========
family / baseline      CRPS (seeds 0, 1, 2)             days at 0
=====================  ===============================  ===========
``lognormal``          **1.717**, 1.720, 1.726          0.316
``normal``             1.743                            0.427
``negative_binomial``  1.750, 1.738, 1.757              0.267
``poisson``            1.798                            0.373
``gamma``              1.913                            0.313
empirical, last 28 d   1.817                            0.262
seasonal naive, 8 wk   1.997                            0.275
=====================  ===============================  ===========

("days at 0": mean CRPS on the series-days that sold 0.) So the default is
``family="lognormal"``, lowest on every seed, though the negative binomial
scores better on zero days; the totals are dominated by the few high-volume
series.

- ``train_periods=728`` (two years of targets, 203,840 rows, one random
  ``h`` per series x target), ``n_estimators=150``, ``learning_rate=0.1``,
  ``minibatch_frac=0.5``, ``max_depth=3``, ``min_samples_leaf=50``. Tried:
  ``minibatch_frac=0.3`` with 150 or 250 iterations was worse for the
  negative binomial (CRPS 1.78 and 1.78 against 1.75).
- Measured on the full history, origin 2016-04-24, horizon 14: ``fit`` 16.6
  CPU seconds with the closed-form distributions and the copy-free booster
  (23.1 s wall before them, 29.5 s before the histogram kernel; history checks
  and features about 4 s), ``predict`` 0.5 s. A depth-3 tree costs about
  0.014 s per 100,000 rows x 33 features against about 0.5 s for NGBoost's
  default ``DecisionTreeRegressor`` (``benchmarks/forecast_speed.py``, issue 10).
"""

from __future__ import annotations

import numbers
from os import PathLike

import numpy as np
import pandas as pd
from ngboost.distns import Gamma
from ngboost.scores import LogScore

from . import row_threads
from .booster import FastNGBRegressor
from .closed_form import FastLogNormal, FastNormal, FastPoisson
from .distributions import DistributionTable
from .features import _SalesStats, build_panel, origin_features, training_rows
from .history import REQUIRED_COLUMNS, read_calendar, validate_history
from .learners import BinnedTreeRegressor, QuantileBinner
from .negative_binomial import NegativeBinomial

__all__ = ["FAMILY_DISTRIBUTIONS", "NGBoostForecaster"]

#: NGBoost distribution fitted for each family name.
FAMILY_DISTRIBUTIONS = {
    "negative_binomial": NegativeBinomial,
    "poisson": FastPoisson,
    "normal": FastNormal,
    "lognormal": FastLogNormal,
    "gamma": Gamma,
    "shifted_lognormal": FastLogNormal,
}
_SHIFTED = ("lognormal", "gamma", "shifted_lognormal")


def _table_params(family: str, raw: np.ndarray, offset: float) -> dict[str, np.ndarray]:
    """Table parameters from NGBoost's raw parameters ``raw`` (n, n_params)."""
    if family == "negative_binomial":
        dist = NegativeBinomial(raw.T)
        return {"mean": dist.mu, "dispersion": dist.k}
    if family == "poisson":
        return {"mean": np.exp(raw[:, 0])}
    if family == "normal":
        return {"mean": raw[:, 0], "std": np.exp(raw[:, 1])}
    if family == "shifted_lognormal":
        return {"mu": raw[:, 0], "sigma": np.exp(raw[:, 1]), "shift": np.full(len(raw), offset)}
    if family == "lognormal":
        m, s2 = raw[:, 0], np.exp(2 * raw[:, 1])
        mean_x = np.exp(m + s2 / 2)
        var = np.expm1(s2) * np.exp(2 * m + s2)
    else:  # gamma: shape alpha, rate beta
        alpha, beta = np.exp(raw[:, 0]), np.exp(raw[:, 1])
        mean_x, var = alpha / beta, alpha / beta**2
    mean = np.maximum(mean_x - offset, 1e-6)
    var = np.maximum(var, 1e-12)
    if family == "gamma":
        return {"mean": mean, "std": np.sqrt(var)}
    sigma2 = np.log1p(var / mean**2)
    return {"mu": np.log(mean) - sigma2 / 2, "sigma": np.sqrt(sigma2)}


class NGBoostForecaster:
    """Probabilistic demand forecasts from a global NGBoost model.

    Parameters
    ----------
    horizon : int, default=14
        Periods H to forecast: ``origin + 1 .. origin + H``.
    family : {"negative_binomial", "poisson", "normal", "lognormal", "gamma", \
"shifted_lognormal"}, default="lognormal"
        Distribution of demand (see the module docstring).
    n_estimators : int, default=150
        Boosting iterations.
    learning_rate : float, default=0.1
        Step applied to each iteration's (line-searched) natural gradient.
    exogenous : list of str, optional
        History columns to use as inputs; default: every column besides
        ``item, location, date, quantity``.
    random_state : int, default=0
        Seed of the training design (``h`` draws) and of NGBoost's row subsamples.
    train_periods : int, default=728
        Target periods before the origin used for training.
    minibatch_frac : float, default=0.5
        Share of training rows each iteration's trees see.
    max_depth : int, default=3
        Depth of the trees.
    min_samples_leaf : int, default=50
        Fewest training rows on each side of a split.
    carry_forward : tuple of str, default=("price",)
        Exogenous columns not known in advance: their value at the origin is
        used for every step (other exogenous columns are read at the target).
    continuous_offset : float, default=1.0
        ``c`` for ``lognormal`` and ``gamma``, fitted to ``quantity + c``.

    Attributes
    ----------
    origin_ : pandas.Timestamp
        Last date whose sales were used.
    period_dates_ : pandas.DatetimeIndex
        Dates of periods ``0..horizon-1`` (``origin + 1 .. origin + horizon``).
    series_ : pandas.DataFrame
        ``item, location`` of every series forecast.
    feature_names_ : list of str
        Model inputs, in column order.
    model_ : forecasts.booster.FastNGBRegressor
        The fitted booster (an ``ngboost.NGBRegressor``; inputs: :attr:`binner_` codes).
    binner_ : forecasts.learners.QuantileBinner
        Feature binning fitted on the training rows.
    n_training_rows_ : int
        Rows the booster was fitted on.
    background_codes_ : ndarray of uint8
        Up to 5,000 training rows' bin codes (the background of SHAP explanations).

    Examples
    --------
    >>> from forecasts import read_history, NGBoostForecaster
    >>> history = read_history("configs/data/m5/history.csv.gz")  # doctest: +SKIP
    >>> table = NGBoostForecaster(horizon=14).fit(history).predict()  # doctest: +SKIP
    """

    def __init__(
        self,
        horizon: int = 14,
        family: str = "lognormal",
        n_estimators: int = 150,
        learning_rate: float = 0.1,
        exogenous: list[str] | None = None,
        random_state: int = 0,
        *,
        train_periods: int = 728,
        minibatch_frac: float = 0.5,
        max_depth: int = 3,
        min_samples_leaf: int = 50,
        carry_forward: tuple[str, ...] = ("price",),
        continuous_offset: float = 1.0,
    ):
        self.horizon = horizon
        self.family = family
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.exogenous = exogenous
        self.random_state = random_state
        self.train_periods = train_periods
        self.minibatch_frac = minibatch_frac
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.carry_forward = carry_forward
        self.continuous_offset = continuous_offset

    # -- checks --------------------------------------------------------------------------
    def _check_params(self) -> None:
        def positive_int(name, value, upper=None):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; received {value!r}")
            if upper is not None and value > upper:
                raise ValueError(f"{name} must be at most {upper}; received {value!r}")

        positive_int("horizon", self.horizon, upper=360)
        positive_int("n_estimators", self.n_estimators)
        positive_int("train_periods", self.train_periods)
        positive_int("max_depth", self.max_depth, upper=8)
        positive_int("min_samples_leaf", self.min_samples_leaf)
        if self.family not in FAMILY_DISTRIBUTIONS:
            raise ValueError(
                f"family={self.family!r} is not supported; use one of "
                f"{sorted(FAMILY_DISTRIBUTIONS)}"
            )
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1]; received {self.learning_rate!r}")
        if not 0 < self.minibatch_frac <= 1:
            raise ValueError(
                f"minibatch_frac must be in (0, 1]; received {self.minibatch_frac!r}"
            )
        if self.family in _SHIFTED and not self.continuous_offset > 0:
            raise ValueError(
                f"family={self.family!r} needs continuous_offset > 0 (it has no mass at 0); "
                f"received {self.continuous_offset!r}"
            )

    def _exogenous_columns(self, history: pd.DataFrame) -> list[str]:
        extra = [c for c in history.columns if c not in REQUIRED_COLUMNS]
        if self.exogenous is None:
            return extra
        missing = [c for c in self.exogenous if c not in extra]
        if missing:
            raise ValueError(
                f"exogenous column {missing[0]!r} is not in the history; its columns besides "
                f"{', '.join(REQUIRED_COLUMNS)} are {extra}. Fix the name or set exogenous=None"
            )
        return list(self.exogenous)

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self,
        history: pd.DataFrame,
        origin=None,
        calendar: pd.DataFrame | str | PathLike | None = None,
    ) -> "NGBoostForecaster":
        """Fit the model on the sales up to ``origin``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long history (see :func:`forecasts.read_history`). Sales after
            ``origin`` are ignored; exogenous values after it are used.
        origin : date-like, optional
            Last date whose sales may be used (inclusive); default: the last
            date of the history.
        calendar : pandas.DataFrame or path, optional
            Known-in-advance values (events, SNAP) for dates after the history,
            joined on ``date`` and shared series attributes such as ``state``.

        Returns
        -------
        self
        """
        self._check_params()
        history = validate_history(history)
        if origin is None:
            origin = history["date"].max()
        origin = pd.Timestamp(origin)
        if isinstance(calendar, (str, PathLike)):
            calendar = read_calendar(calendar)
        exogenous = self._exogenous_columns(history)
        panel = build_panel(history, origin, self.horizon, exogenous, calendar)
        stats = _SalesStats(panel.quantity)
        rng = np.random.default_rng(self.random_state)
        s, o, h = training_rows(panel, self.horizon, self.train_periods, rng)
        if len(s) == 0:
            raise ValueError(
                f"no training rows: the history before origin={origin.date()} is too short "
                f"for horizon={self.horizon} (need more than {28 + self.horizon} periods)"
            )
        X = origin_features(panel, s, o, h, self.carry_forward, stats)
        y = panel.quantity[s, o + h]
        if self.family in _SHIFTED:
            y = y + self.continuous_offset
        self.binner_ = QuantileBinner().fit(X.to_numpy())
        codes = self.binner_.transform(X.to_numpy())
        self.model_ = FastNGBRegressor(
            Dist=FAMILY_DISTRIBUTIONS[self.family],
            Score=LogScore,
            Base=BinnedTreeRegressor(
                max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf
            ),
            natural_gradient=True,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            minibatch_frac=self.minibatch_frac,
            verbose=False,
            random_state=self.random_state,
            n_jobs=row_threads.THREADS,  # a parameter's tree per thread: the same trees (ngboost seeds them first)
        )
        self.model_.fit(codes, y)
        keep = np.random.default_rng(self.random_state).choice(
            len(codes), size=min(len(codes), 5000), replace=False
        )
        self.background_codes_ = codes[np.sort(keep)]
        self.panel_ = panel
        self.stats_ = stats
        self.origin_ = origin
        step = panel.dates[1] - panel.dates[0] if len(panel.dates) > 1 else pd.Timedelta(days=1)
        self.period_dates_ = pd.DatetimeIndex(
            [origin + k * step for k in range(1, self.horizon + 1)]
        )
        self.series_ = panel.series.copy()
        self.feature_names_ = list(X.columns)
        self.n_training_rows_ = len(y)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def prediction_features(self) -> pd.DataFrame:
        """Features of every series x step at the origin (rows in table order)."""
        self._check_fitted()
        n_s, n_h = len(self.series_), self.horizon
        s = np.repeat(np.arange(n_s), n_h)
        h = np.tile(np.arange(1, n_h + 1), n_s)
        o = np.full(len(s), self.panel_.origin)
        return origin_features(self.panel_, s, o, h, self.carry_forward, self.stats_)

    def predict(self) -> DistributionTable:
        """Demand distribution of every series for periods ``0..horizon-1``.

        Returns
        -------
        DistributionTable
            One row per item x location x period (period ``p`` is date
            ``period_dates_[p]``) with ``family`` and its parameters.
        """
        X = self.prediction_features()
        raw = self.model_.pred_param(self.binner_.transform(X.to_numpy()))
        params = _table_params(self.family, raw, self.continuous_offset)
        n_h = self.horizon
        frame = pd.DataFrame(
            {
                "item": np.repeat(self.series_["item"].to_numpy(), n_h),
                "location": np.repeat(self.series_["location"].to_numpy(), n_h),
                "period": np.tile(np.arange(n_h), len(self.series_)),
                "family": self.family,
                **params,
            }
        )
        return DistributionTable(frame)
