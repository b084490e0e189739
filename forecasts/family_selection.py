"""The distribution family chosen by held-out CRPS (``family="auto"``, issue 3).

For sales up to the origin :math:`o` and a horizon :math:`H`, every candidate
family :math:`\\mathcal{D}` is fitted on the sales up to :math:`o - H` only and
scored on the :math:`H` days :math:`o - H + 1 .. o` by its mean CRPS over the
series x days observed there,

.. math::

    \\mathrm{CRPS}_{\\mathcal{D}} = \\frac{1}{|\\Omega|} \\sum_{(s, t) \\in \\Omega}
    \\int \\big(F_{s,t}(x) - \\mathbf{1}\\{y_{s,t} \\le x\\}\\big)^2 \\, dx,

estimated from :math:`M` midpoint quantiles
(:func:`forecasts.metrics.crps_from_grid`). The family of lowest score (the
first candidate on a tie) is then fitted on the sales up to :math:`o`. Nothing
after :math:`o` enters the choice, and the choice costs one extra fit per
candidate. Half the bundled M5 values are 0, so the choice is between a point
mass at 0 and a spread over counts, made per group of series when the
forecaster is grouped (:class:`forecasts.GroupedForecaster`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .history import KEYS
from .metrics import crps_from_grid, midpoint_levels
from .ngboost_model import NGBoostForecaster

__all__ = ["AUTO", "CANDIDATES", "fit_auto", "held_out_crps"]

#: The family value that asks for the choice by held-out CRPS.
AUTO = "auto"
#: Families compared by :func:`held_out_crps` (in tie-breaking order).
CANDIDATES = ("shifted_lognormal", "negative_binomial", "poisson", "normal", "lognormal")


def held_out_crps(params: dict, history: pd.DataFrame, origin=None, calendar=None,
                  families=CANDIDATES, m: int = 200) -> dict:
    """Mean CRPS of each family over the ``horizon`` days up to ``origin``.

    Parameters
    ----------
    params : dict
        :class:`~forecasts.NGBoostForecaster` parameters (``horizon`` sets
        :math:`H`; ``family`` is replaced by each candidate).
    history : pandas.DataFrame
        Validated history.
    origin : date-like, optional
        The forecast origin :math:`o` (default: the last date of ``history``).
    families : sequence of str
        Candidates, each a :data:`~forecasts.ngboost_model.FAMILY_DISTRIBUTIONS` key.
    m : int, default=200
        Quantile levels of the CRPS estimate.

    Returns
    -------
    dict
        Family -> mean CRPS, in the order of ``families``.
    """
    origin = pd.Timestamp(history["date"].max() if origin is None else origin)
    horizon = params.get("horizon", 14)
    cut = origin - pd.Timedelta(days=horizon)
    sales = history[history["date"] <= origin].set_index([*KEYS[:2], "date"])["quantity"]
    u = midpoint_levels(m)
    out = {}
    for family in families:
        fc = NGBoostForecaster(**dict(params, family=family)).fit(history, origin=cut, calendar=calendar)
        table = fc.predict()
        frame = table.frame
        dates = fc.period_dates_[frame["period"].to_numpy()]
        y = sales.reindex(pd.MultiIndex.from_arrays([frame["item"], frame["location"], dates])).to_numpy(float)
        grid = np.sort(table.ppf(np.broadcast_to(u[:, None], (m, len(frame)))), axis=0)
        seen = np.isfinite(y)
        if not seen.any():
            raise ValueError(
                f"family='auto' needs sales on the {horizon} days up to {origin.date()} to score the "
                f"families; the history has none there; name a family instead"
            )
        out[family] = float(crps_from_grid(grid[:, seen], y[seen]).mean())
    return out


def fit_auto(params: dict, history: pd.DataFrame, origin=None, calendar=None,
             families=CANDIDATES) -> NGBoostForecaster:
    """Fit the family of lowest :func:`held_out_crps` on the sales up to ``origin``.

    The fitted forecaster's ``family_crps_`` holds every candidate's score.
    """
    crps = held_out_crps(params, history, origin, calendar, families)
    best = min(crps, key=crps.get)
    fc = NGBoostForecaster(**dict(params, family=best)).fit(history, origin=origin, calendar=calendar)
    fc.family_crps_ = crps
    return fc
