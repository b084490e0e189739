r"""Ordering policies the walk-forward replay compares (:mod:`optimizer.replay`).

Each policy is a callable ``policy(state) -> Levels`` asked at every review
with the state of that moment; its forecasts come from a
:class:`ForecastFeed`, which fits on the sales up to the day before the
review and nothing later.

Planners' rules (installation level: each stock point looks at the demand
it serves and its own lead time only). For stock point :math:`n` with lead
time :math:`L_n`, orders every period (:math:`R = 1`), so the protection
interval is :math:`L_n + 1` periods (an order placed now arrives before the
demand of period :math:`L_n`; :mod:`optimizer.model`'s timing):

* base stock with normal safety stock,

  .. math:: S_n = \mu_n (L_n + 1) + z\, \sigma_n \sqrt{L_n + 1},

  with :math:`\mu_n, \sigma_n^2` the forecast mean and variance of one
  period's demand beneath :math:`n` (sum over its stores, stores taken as
  independent), averaged over the periods the levels stay in force plus the
  lead time; :math:`z = \Phi^{-1}(\beta)` from the service target
  :math:`\beta` unless tuned;
* (s, S): reorder point :math:`s_n` = the base-stock level above and an
  EOQ-sized gap, :math:`S_n = s_n + \sqrt{2 K \mu_n / h_n}`, with
  :math:`K` the fixed cost of an order line (an assumption: the data has
  none) and :math:`h_n` the holding cost per unit per period.

Echelon itself (:class:`EchelonPolicy`): at each review the stochastic model
is solved from the replay's state on scenarios of the feed's forecast
(Gaussian-copula scenarios, independent ones, or the mean forecast as one
scenario: the expected-value solution), and its target positions are the
order-up-to levels until the next review.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.replay import Levels, ReplayState
from optimizer.solver import SolveStatus

__all__ = ["ForecastFeed", "NormalSafetyStock", "EchelonPolicy"]


class ForecastFeed:
    """Forecasts at each review from the sales known then, fitted once per origin.

    Parameters
    ----------
    history : pandas.DataFrame
        The whole recorded history (read by date: rows after an origin are
        cut before any fit at that origin).
    start : pandas.Timestamp
        Date of period 0; the forecast for period ``t`` is fitted with
        origin ``start + t - 1`` days.
    make_forecaster : callable
        ``make_forecaster() -> forecaster`` with ``fit(history, origin=, calendar=)``
        and ``predict() -> DistributionTable`` (NGBoost in the backtest).
    items, stores : tuple of str
        The model's order of the item and location axes.
    calendar : pandas.DataFrame, optional
        Known-ahead calendar for the forecast periods.
    """

    def __init__(self, history, start, make_forecaster, items, stores, calendar=None):
        self.history = history
        self.start = pd.Timestamp(start)
        self.make_forecaster = make_forecaster
        self.items, self.stores = tuple(items), tuple(stores)
        self.calendar = calendar
        self._tables, self._moments = {}, {}
        self.origins_fitted = []

    def origin(self, t: int) -> pd.Timestamp:
        """Last day whose sales the forecast for period ``t`` may use."""
        return self.start + pd.Timedelta(days=int(t) - 1)

    def table_at(self, origin: pd.Timestamp):
        """The forecast fitted on the sales up to ``origin`` (inclusive), cached."""
        origin = pd.Timestamp(origin)
        if origin not in self._tables:
            if self.history is None:
                raise RuntimeError(f"no forecast at {origin.date()} was fitted before the history was dropped")
            self._tables[origin] = _fit_at(self.make_forecaster, self.history, self.calendar, origin)
            self.origins_fitted.append(origin)
        return self._tables[origin]

    def fitted_only(self) -> "ForecastFeed":
        """A copy without the history (light to send to a process): it serves the forecasts already fitted."""
        light = copy.copy(self)
        light.history = None
        return light

    def prefit(self, origins, n_jobs: int = 1) -> None:
        """Fit the forecasts at ``origins`` now, ``n_jobs`` at a time in spawned processes.

        Each fit sees only the sales up to its origin, whichever process runs
        it, so the tables are the same for any ``n_jobs``.
        """
        todo = sorted({pd.Timestamp(o) for o in origins} - set(self._tables))
        if n_jobs == 1 or len(todo) < 2:
            for origin in todo:
                self.table_at(origin)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked child of a process with OpenMP threads can hang (forecasts.grouped)
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_share, initargs=(self.make_forecaster, self.history, self.calendar)) as pool:
            for origin, table in zip(todo, pool.map(_fit_shared, todo)):
                self._tables[origin] = table
                self.origins_fitted.append(origin)

    def table(self, t: int):
        return self.table_at(self.origin(t))

    def moments(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of demand (I, J, H) in the model's order, from 200 quantiles."""
        if t not in self._moments:
            from scenarios.backtest import table_grids

            table = self.table(t)
            keys = table.series_index()
            grid, _ = table_grids(table, len(keys), table.n_periods)  # (M, series, H)
            mean = np.zeros((len(self.items), len(self.stores), table.n_periods))
            var = np.zeros_like(mean)
            i = pd.Index(self.items).get_indexer(keys.get_level_values(0))
            j = pd.Index(self.stores).get_indexer(keys.get_level_values(1))
            ok = (i >= 0) & (j >= 0)
            mean[i[ok], j[ok]] = grid.mean(axis=0)[ok]
            var[i[ok], j[ok]] = grid.var(axis=0)[ok]
            self._moments[t] = (mean, var)
        return self._moments[t]


def _fit_at(make_forecaster, history, calendar, origin):
    """Fit on the sales up to ``origin`` only and predict: the one place a forecast is made."""
    known = history[history["date"] <= origin]
    return make_forecaster().fit(known, origin=origin, calendar=calendar).predict()


_SHARED = {}


def _share(make_forecaster, history, calendar):
    """Worker initialiser: the history is sent to each process once, not with every origin."""
    _SHARED.update(make_forecaster=make_forecaster, history=history, calendar=calendar)


def _fit_shared(origin):
    return _fit_at(origin=origin, **_SHARED)


class NormalSafetyStock:
    """Installation base stock, or (s, S) with an EOQ gap, from normal safety stock.

    Parameters
    ----------
    feed : ForecastFeed
    network : optimizer.model.Network
    z : float
        Safety factor.
    review : int
        Periods the levels stay in force (the replay's review period).
    order_cost : float, optional
        Fixed cost K of an order line; given, the policy is (s, S) with gap
        :math:`\\sqrt{2 K \\mu / h}`; None: base stock.
    holding_cost : ndarray (I, N), optional
        Holding cost per unit per period (needed with ``order_cost``).
    """

    def __init__(self, feed: ForecastFeed, network, *, z: float, review: int, order_cost=None, holding_cost=None):
        if order_cost is not None and holding_cost is None:
            raise ValueError("order_cost needs holding_cost (the EOQ gap is sqrt(2 K mu / h))")
        self.feed, self.network, self.z, self.review = feed, network, float(z), int(review)
        self.order_cost, self.holding_cost = order_cost, holding_cost

    def per_period(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """mu and sigma of one period's demand beneath each stock point, (I, N) each."""
        mean, var = self.feed.moments(t)
        sub = self.network.subtree()[:, self.network.stores].astype(float)  # (N, J)
        H = mean.shape[2]
        mu, sd = np.zeros((mean.shape[0], len(sub))), np.zeros((mean.shape[0], len(sub)))
        for n, L in enumerate(self.network.lead_time):
            w = slice(0, min(self.review + int(L), H))
            mu[:, n] = np.einsum("j,ijt->it", sub[n], mean[:, :, w]).mean(axis=1)
            sd[:, n] = np.sqrt(np.einsum("j,ijt->it", sub[n], var[:, :, w]).mean(axis=1))
        return mu, sd

    def __call__(self, state: ReplayState) -> Levels:
        mu, sd = self.per_period(state.t)
        p = self.network.lead_time[None, :] + 1.0
        s = mu * p + self.z * sd * np.sqrt(p)
        if self.order_cost is None:
            return Levels.base_stock(s)
        gap = np.sqrt(2.0 * self.order_cost * mu / np.maximum(self.holding_cost, 1e-12))
        return Levels(reorder=s, up_to=s + gap)


class EchelonPolicy:
    """Echelon's stochastic model re-solved at each review from the replay's state.

    Parameters
    ----------
    feed : ForecastFeed
    config : optimizer.config.Config
        Budget, fill-rate target, periods, shortage rule and solver settings.
    inputs : optimizer.inputs.Inputs
        Network, items and costs.
    scenarios : {"copula", "independent", "point"}
        Sampled through ``copula``, sampled independently, or the mean forecast alone.
    count : int
        Scenarios sampled per review.
    seed : int
        Seed of the review at period t is ``seed + t``.
    copula : scenarios.copula.GaussianCopula, optional
        Required with ``scenarios="copula"``.

    Attributes
    ----------
    log_ : list of dict
        Per review: the period, the status, which targets were out of reach
        from the state (``fill_rate``: the plan has the best fill rate the
        budget buys, ``model_fill_rate``; ``budget``: today's stock and
        pipeline alone exceed it, so the plan ignores it), and the plan's
        expected capital.
    """

    def __init__(self, feed, config, inputs, *, scenarios: str, count: int, seed: int, copula=None):
        if scenarios not in ("copula", "independent", "point"):
            raise ValueError(f"scenarios={scenarios!r}; use 'copula', 'independent' or 'point'")
        if scenarios == "copula" and copula is None:
            raise ValueError("scenarios='copula' needs a fitted copula")
        self.feed, self.config, self.inputs = feed, config, inputs
        self.scenarios, self.count, self.seed, self.copula = scenarios, int(count), int(seed), copula
        self.log_ = []

    def _scenario_set(self, t: int):
        from scenarios import ScenarioSet, sample_scenarios

        T = self.config.periods
        if self.scenarios == "point":
            mean, _ = self.feed.moments(t)
            return ScenarioSet(mean[None, :, :, :T], np.ones(1), self.inputs.items, self.inputs.stores)
        return sample_scenarios(self.feed.table(t), self.count, seed=self.seed + t, method=self.config.scenarios.method,
                                copula=self.copula if self.scenarios == "copula" else None)

    def __call__(self, state: ReplayState) -> Levels:
        from optimizer.run import make_problem

        on_hand, pipeline = model_state(state, self.inputs.network, self.config.periods)
        problem = make_problem(self.config, self.inputs, self._scenario_set(state.t), on_hand, pipeline)
        beyond = problem.beyond_decomposition()
        if beyond:
            raise InputError("config", "solver", f"the backtest re-plans by the decomposition, which cannot price "
                             f"{', '.join(beyond)}", "backtest a copy of the config without them")
        relaxed = []
        sol = self._solve(problem)
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT) and problem.budget is not None:
            # Today's stock and pipeline alone cost more than the budget: plan without it.
            problem = dataclasses.replace(problem, budget=None)
            relaxed.append("budget")
            sol = self._solve(problem)
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
            raise RuntimeError(f"HiGHS found no plan at period {state.t} even without the budget: {sol.message}")
        f = sol.figures
        fill = 1.0 - f.service_short / f.service_demand if f.service_demand > 0 else 1.0
        if problem.fill_rate is not None and fill < problem.fill_rate - 1e-4:  # beyond the decomposition's tolerance
            relaxed.insert(0, "fill_rate")
        self.log_.append({"period": state.t, "status": sol.status.value, "relaxed": relaxed,
                          "model_fill_rate": fill, "model_capital": f.capital_used})
        return Levels.base_stock(f.target)

    def _solve(self, problem):
        """One decomposed solve with a soft fill-rate target: the best fill rate the budget buys.

        Without ``solver.time_limit``: it is wall-clock time, so on a loaded
        machine it stopped the column generation early, unconverged, and the
        replay's plans depended on the load (the decomposition's
        ``max_rounds`` still bounds it).
        """
        from optimizer.decompose import solve_decomposed

        s = self.config.solver
        return solve_decomposed(problem, threads=s.threads, workers=s.workers, elastic=True, gap=s.decompose_gap)


def model_state(state: ReplayState, network, periods: int) -> tuple[np.ndarray, np.ndarray]:
    """Today's on hand (I, N) and pipeline (I, N, periods) for :class:`optimizer.model.Problem`.

    The model has no opening backlog, so what a DC owes its stock points is
    booked as shipped tonight: it joins the child's pipeline (arriving after
    the child's lead time) and leaves the DC's on hand, then its earliest
    arrivals. Positions (on hand + in transit - owed) are kept wherever the
    DC holds or has on the way what it owes.
    """
    on_hand = state.on_hand.copy()
    pipeline = np.zeros(state.on_hand.shape + (periods,))
    H = min(periods, state.arrivals.shape[2])
    pipeline[:, :, :H] = state.arrivals[:, :, :H]
    for c in network.dc_fed:
        due = state.owed[:, c].copy()
        if not due.any():
            continue
        p = network.parent[c]
        take = np.minimum(due, np.maximum(on_hand[:, p], 0.0))
        on_hand[:, p] -= take
        left = due - take
        for a in range(periods):
            step = np.minimum(left, pipeline[:, p, a])
            pipeline[:, p, a] -= step
            left -= step
        L = min(int(network.lead_time[c]), periods - 1)
        pipeline[:, c, L] += due - left
    return on_hand, pipeline
