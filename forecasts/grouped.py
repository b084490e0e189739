"""NGBoost fitted by group of series, the groups in parallel processes (issue 10).

:class:`GroupedForecaster` splits the series (item x location) by a history
column that is constant within a series (``category``, ``department``,
``state``, ``location``, ...), fits one :class:`~forecasts.NGBoostForecaster`
per group with the same parameters and seed, and joins their tables. With
``group_by=None`` it fits the one global model.

Determinism: a group's model depends only on its own rows and the seed, and
the tables are joined in group order whatever order the processes finish in,
so ``n_jobs=1`` and ``n_jobs=2`` give byte-identical forecasts
(``tests/test_forecasts_speed.py`` checks it).
"""

from __future__ import annotations

import multiprocessing
import numbers
from concurrent.futures import ProcessPoolExecutor
from os import PathLike

import pandas as pd

from .distributions import DistributionTable
from .family_selection import AUTO, fit_auto
from .history import KEYS, read_calendar, validate_history
from .ngboost_model import NGBoostForecaster
from .row_threads import set_threads

__all__ = ["GroupedForecaster", "family_per_group", "fit_group", "split_by"]


def split_by(history: pd.DataFrame, group_by: str | None) -> dict:
    """The history's rows per group value (sorted; ``{None: history}`` without ``group_by``).

    Raises ValueError when ``group_by`` is not a column or changes within an
    item x location.
    """
    if group_by is None:
        return {None: history}
    if group_by not in history.columns:
        raise ValueError(
            f"group_by={group_by!r} is not a history column; use one of "
            f"{list(history.columns)} or None for one global model"
        )
    per_series = history.groupby(list(KEYS[:2]))[group_by].nunique(dropna=False)
    if (per_series > 1).any():
        item, location = per_series.index[per_series.to_numpy() > 1][0]
        raise ValueError(
            f"group_by={group_by!r} changes within series item={item!r}, "
            f"location={location!r}; group by a column constant per item x location"
        )
    return {
        key: part.reset_index(drop=True)
        for key, part in history.groupby(group_by, sort=True, dropna=False)
    }


def family_per_group(family, groups) -> dict:
    """The family of each group: ``family`` itself, or its entry in a mapping.

    A mapping takes group values (as strings) to families, and ``"default"`` to the
    family of groups it does not name. Raises ValueError for a key that is not a
    group or a group left without a family.
    """
    if not isinstance(family, dict):
        return {g: family for g in groups}
    names = {str(g): g for g in groups}
    unknown = sorted(set(family) - set(names) - {"default"})
    if unknown:
        raise ValueError(
            f"family names group {unknown[0]!r}, which is not a group; the groups are "
            f"{sorted(names)} (and 'default' for the rest)"
        )
    missing = [k for k in sorted(names) if k not in family and "default" not in family]
    if missing:
        raise ValueError(
            f"family has no entry for group {missing[0]!r}; add it or a 'default' entry"
        )
    return {names[k]: family.get(k, family.get("default")) for k in names}


def fit_group(params: dict, history: pd.DataFrame, origin, calendar) -> NGBoostForecaster:
    """One group's fitted model; ``family="auto"`` chooses it by held-out CRPS (:func:`fit_auto`)."""
    if params.get("family") == AUTO:
        return fit_auto(params, history, origin, calendar)
    return NGBoostForecaster(**params).fit(history, origin=origin, calendar=calendar)


class GroupedForecaster:
    """One NGBoost model per group of series, fitted in parallel processes.

    Parameters
    ----------
    group_by : str or None, default="category"
        History column, constant within each item x location, whose values
        define the groups; ``None`` fits one global model.
    n_jobs : int, default=1
        Processes fitting groups at once (1: in this process).
    engine : object, optional
        Fits the groups instead of local processes: any object whose
        ``map(function, arguments)`` returns ``[function(*a) for a in
        arguments]`` in order (:class:`optimizer.spark_engine.SparkEngine`).
    **params
        Parameters of every group's :class:`~forecasts.NGBoostForecaster`
        (``horizon``, ``family``, ``random_state``, ...); ``family`` may also map
        group values to families, ``"default"`` to the rest (:func:`family_per_group`);
        ``"auto"`` chooses a group's family by held-out CRPS
        (:mod:`forecasts.family_selection`).

    Attributes
    ----------
    groups_ : list
        Group values, in the order the tables are joined.
    models_ : dict
        Fitted :class:`~forecasts.NGBoostForecaster` per group value.
    families_ : dict
        The family fitted per group value.
    """

    def __init__(self, group_by: str | None = "category", n_jobs: int = 1, engine=None, **params):
        self.group_by = group_by
        self.n_jobs = n_jobs
        self.engine = engine
        self.params = params

    def fit(
        self,
        history: pd.DataFrame,
        origin=None,
        calendar: pd.DataFrame | str | PathLike | None = None,
    ) -> "GroupedForecaster":
        """Fit every group's model on its series (see :meth:`NGBoostForecaster.fit`)."""
        if not isinstance(self.n_jobs, numbers.Integral) or self.n_jobs < 1:
            raise ValueError(f"n_jobs must be an integer >= 1; received {self.n_jobs!r}")
        history = validate_history(history)
        if isinstance(calendar, (str, PathLike)):
            calendar = read_calendar(calendar)
        parts = split_by(history, self.group_by)
        groups = list(parts)
        params = {g: self.params_for(g, groups) for g in groups}
        if self.engine is not None:
            models = self.engine.map(fit_group, [(params[g], parts[g], origin, calendar) for g in groups])
        elif self.n_jobs == 1 or len(groups) == 1:
            models = [fit_group(params[g], parts[g], origin, calendar) for g in groups]
        else:
            # spawn, not fork: a forked child of a process that has started OpenMP
            # threads (the histogram kernel) can hang.
            context = multiprocessing.get_context("spawn")
            workers = min(self.n_jobs, len(groups))
            # each process one thread: the processes already fill the cores
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=set_threads,
                                     initargs=(1,)) as pool:
                futures = [
                    pool.submit(fit_group, params[g], parts[g], origin, calendar) for g in groups
                ]
                models = [f.result() for f in futures]
        self.groups_ = groups
        self.models_ = dict(zip(groups, models))
        self.families_ = {g: m.family for g, m in self.models_.items()}
        first = models[0]
        self.origin_ = first.origin_
        self.period_dates_ = first.period_dates_
        return self

    def params_for(self, group, groups) -> dict:
        """The :class:`~forecasts.NGBoostForecaster` parameters of ``group`` (one of ``groups``).

        A family map may name groups this history lacks (the config's map is checked against the
        whole history, and a subset of it, a few items say, is fitted with the same map).
        """
        if "family" not in self.params:
            return dict(self.params)
        family = self.params["family"]
        if isinstance(family, dict):
            present = {str(g) for g in groups} | {"default"}
            family = {k: v for k, v in family.items() if k in present}
        return dict(self.params, family=family_per_group(family, groups)[group])

    def predict(self) -> DistributionTable:
        """Every group's table joined into one (sorted by item, location, period)."""
        if not hasattr(self, "models_"):
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        frames = [self.models_[g].predict().frame for g in self.groups_]
        return DistributionTable(pd.concat(frames, ignore_index=True))
