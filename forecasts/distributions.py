"""Demand distributions as plain tables: the hand-off from forecasts to scenarios.

Every forecast, whether learned by NGBoost or written by a planner in a config,
ends as a :class:`DistributionTable`: one row per item x location x period with
a distribution family and its parameters. Its :meth:`DistributionTable.ppf`
turns uniforms into demand, which is all the scenario stage needs.

Families and their parameters (units: demand units per period)

========================  ====================  =====================================
family                    parameters            scipy equivalent
========================  ====================  =====================================
``normal``                mean, std             ``norm(loc=mean, scale=std)``
``lognormal``             mu, sigma (of log)    ``lognorm(s=sigma, scale=exp(mu))``
``poisson``               mean                  ``poisson(mu=mean)``
``negative_binomial``     mean, dispersion k    ``nbinom(n=k, p=k / (k + mean))``;
                                                variance = mean + mean**2 / k
``gamma``                 mean, std             ``gamma(a=(mean/std)**2,
                                                scale=std**2/mean)``
``shifted_lognormal``     mu, sigma, shift      ``max(X - shift, 0)`` with
                                                ``X ~ lognorm(s=sigma,
                                                scale=exp(mu))``: mass
                                                ``P(X <= shift)`` at 0
``empirical``             values                equally likely sample values
========================  ====================  =====================================

Demand cannot be negative: a normal distribution's quantiles are cut at 0
(the mass below 0 becomes demand 0), as a planner would read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .discrete_quantiles import discrete_ppf

__all__ = ["FAMILIES", "DistributionTable", "QUANTILE_LEVELS"]

#: Parameters each family takes, in order.
FAMILIES: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "lognormal": ("mu", "sigma"),
    "poisson": ("mean",),
    "negative_binomial": ("mean", "dispersion"),
    "gamma": ("mean", "std"),
    "shifted_lognormal": ("mu", "sigma", "shift"),
    "empirical": ("values",),
}

#: Quantile levels every forecast table reports (the nine M5 levels).
QUANTILE_LEVELS = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)

_KEYS = ("item", "location", "period")


def _empirical_ppf(values: pd.Series, u: np.ndarray) -> np.ndarray:
    """Inverted-CDF quantiles of each row's sample values at ``u`` (n_samples, rows).

    Sorted values :math:`x_{(1)} \\le ... \\le x_{(m)}` give :math:`x_{(\\lceil u m \\rceil)}`;
    rows with samples of one size are looked up at once.
    """
    sizes = values.map(len).to_numpy()
    if len(sizes) and (sizes == sizes[0]).all():
        x = np.sort(np.stack(values.to_numpy()).astype(float), axis=1)  # (rows, m)
        k = np.clip(np.ceil(u * sizes[0]).astype(int) - 1, 0, sizes[0] - 1)
        return x[np.arange(x.shape[0]), k]
    return np.stack([np.quantile(np.asarray(v, float), u[:, j], method="inverted_cdf")
                     for j, v in enumerate(values)], axis=1)


def _frozen(family: str, params: pd.DataFrame):
    """Vectorised scipy distribution for rows of one family."""
    if family == "normal":
        return stats.norm(loc=params["mean"].to_numpy(float), scale=params["std"].to_numpy(float))
    if family in ("lognormal", "shifted_lognormal"):
        return stats.lognorm(
            s=params["sigma"].to_numpy(float), scale=np.exp(params["mu"].to_numpy(float))
        )
    if family == "poisson":
        return stats.poisson(mu=params["mean"].to_numpy(float))
    if family == "negative_binomial":
        k = params["dispersion"].to_numpy(float)
        mean = params["mean"].to_numpy(float)
        return stats.nbinom(n=k, p=k / (k + mean))
    if family == "gamma":
        mean = params["mean"].to_numpy(float)
        std = params["std"].to_numpy(float)
        return stats.gamma(a=(mean / std) ** 2, scale=std**2 / mean)
    raise ValueError(f"family={family!r} has no parametric form; expected one of {sorted(FAMILIES)}")


def _check_params(family: str, params: pd.DataFrame) -> None:
    """Raise ValueError naming the first parameter value that is out of range."""
    checks = {
        "normal": [("mean", "finite"), ("std", "positive")],
        "lognormal": [("mu", "finite"), ("sigma", "positive")],
        "poisson": [("mean", "non-negative")],
        "negative_binomial": [("mean", "non-negative"), ("dispersion", "positive")],
        "gamma": [("mean", "positive"), ("std", "positive")],
        "shifted_lognormal": [("mu", "finite"), ("sigma", "positive"), ("shift", "non-negative")],
    }
    for name, rule in checks.get(family, []):
        v = params[name].to_numpy(float)
        bad = ~np.isfinite(v)
        if rule == "positive":
            bad |= v <= 0
        elif rule == "non-negative":
            bad |= v < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            where = " ".join(f"{key}={params[key].iloc[k]}" for key in _KEYS if key in params)
            need = rule if rule == "finite" else f"{rule} and finite"
            raise ValueError(
                f"{family} demand ({where}) needs {name} {need}; received {name}={float(v[k]):g}"
            )


def _shifted_lognormal_mean(params: pd.DataFrame) -> np.ndarray:
    """E[max(X - c, 0)] for X lognormal(mu, sigma): a call option's value (Black's formula)."""
    mu, sigma = params["mu"].to_numpy(float), params["sigma"].to_numpy(float)
    c = params["shift"].to_numpy(float)
    mean_x = np.exp(mu + sigma**2 / 2)
    with np.errstate(divide="ignore"):
        d1 = (mu - np.log(c) + sigma**2) / sigma
    return mean_x * stats.norm.cdf(d1) - c * stats.norm.cdf(d1 - sigma)


def _parametric_ppf(family: str, params: pd.DataFrame, u: np.ndarray) -> np.ndarray:
    """Quantiles (S, rows) of uniforms ``u`` under the rows ``params`` of one parametric family."""
    if family in ("poisson", "negative_binomial"):  # one CDF table per row, not a root per value
        arrays = {name: params[name].to_numpy(float) for name in FAMILIES[family]}
        return discrete_ppf(family, arrays, u, lambda rows, values: _frozen(family, params.iloc[rows]).ppf(values))
    out = _frozen(family, params).ppf(u)
    if family == "shifted_lognormal":
        out -= params["shift"].to_numpy(float)
    return out


@dataclass(frozen=True)
class DistributionTable:
    """Demand distribution per item x location x period.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per ``(item, location, period)``, sorted by those keys, with
        a ``family`` column and the parameter columns of :data:`FAMILIES`
        (a column is NaN where a family does not use it; ``values`` holds a
        1-D array for ``empirical`` rows). ``period`` counts from 0 (tonight).

    Attributes
    ----------
    items, locations : tuple of str
        Sorted ids present in the table.
    n_periods : int
        Number of periods T (periods are 0..T-1 for every series).
    """

    frame: pd.DataFrame
    items: tuple[str, ...] = field(init=False)
    locations: tuple[str, ...] = field(init=False)
    n_periods: int = field(init=False)

    def __post_init__(self):
        frame = self.frame.sort_values(list(_KEYS), kind="mergesort").reset_index(drop=True)
        unknown = set(frame["family"]) - set(FAMILIES)
        if unknown:
            raise ValueError(
                f"unknown demand family {sorted(unknown)[0]!r}; use one of {sorted(FAMILIES)}"
            )
        items = tuple(sorted(frame["item"].unique()))
        locations = tuple(sorted(frame["location"].unique()))
        periods = np.sort(frame["period"].unique())
        n_periods = len(periods)
        if not np.array_equal(periods, np.arange(n_periods)):
            raise ValueError(f"periods must run 0..T-1 without gaps; received {periods.tolist()}")
        for family, part in frame.groupby("family", sort=True):
            if family != "empirical":
                _check_params(family, part)
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "locations", locations)
        object.__setattr__(self, "n_periods", n_periods)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def constant(cls, family: str, params: dict, items, locations, n_periods: int):
        """The same distribution for every item x location x period."""
        rows = [
            {"item": i, "location": loc, "period": t, "family": family, **params}
            for i in items
            for loc in locations
            for t in range(n_periods)
        ]
        return cls(pd.DataFrame(rows))

    # -- queries ------------------------------------------------------------------------
    def series_index(self) -> pd.MultiIndex:
        """The (item, location) pairs, in the order of :meth:`ppf`'s middle axis."""
        keys = self.frame[["item", "location"]].drop_duplicates()
        return pd.MultiIndex.from_frame(keys)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Demand quantiles for uniforms.

        Parameters
        ----------
        u : ndarray of shape (n_samples, n_rows)
            Uniforms in (0, 1), one column per row of :attr:`frame`.

        Returns
        -------
        ndarray of shape (n_samples, n_rows)
            Demand, clipped at 0 for families with support below 0.
        """
        u = np.asarray(u, dtype=float)
        if u.ndim != 2 or u.shape[1] != len(self.frame):
            raise ValueError(
                f"u must have shape (n_samples, {len(self.frame)}); received {u.shape}"
            )
        out = np.empty_like(u)
        for family, idx in self.frame.groupby("family", sort=True).indices.items():
            part = self.frame.iloc[idx]
            if family == "empirical":
                out[:, idx] = _empirical_ppf(part["values"], u[:, idx])
            elif len(idx) == u.shape[1]:  # the whole table: no copy of u
                out = _parametric_ppf(family, part, u)
            else:
                out[:, idx] = _parametric_ppf(family, part, u[:, idx])
        return np.maximum(out, 0.0, out=out)

    def mean(self) -> np.ndarray:
        """Expected demand per row (normal rows: mean of the demand cut at 0)."""
        out = np.empty(len(self.frame))
        for family, idx in self.frame.groupby("family", sort=True).indices.items():
            part = self.frame.iloc[idx]
            if family == "empirical":
                out[idx] = [np.mean(np.asarray(v, float)) for v in part["values"]]
            elif family == "normal":
                m, s = part["mean"].to_numpy(float), part["std"].to_numpy(float)
                z = m / s
                out[idx] = m * stats.norm.cdf(z) + s * stats.norm.pdf(z)
            elif family == "shifted_lognormal":
                out[idx] = _shifted_lognormal_mean(part)
            else:
                out[idx] = _frozen(family, part).mean()
        return out

    def empirical(self, levels) -> DistributionTable:
        """The table as ``empirical`` rows: each row's quantiles at ``levels`` (sorted), equally likely.

        At the midpoint levels :math:`(k - 1/2)/m` this is the :math:`m`-point
        equal-probability discretisation of every row, whose ``ppf`` is a lookup.
        """
        levels = np.asarray(levels, float)
        values = self.ppf(np.broadcast_to(levels[:, None], (len(levels), len(self.frame))))
        frame = self.frame[list(_KEYS)].copy()
        frame["family"] = "empirical"
        frame["values"] = list(np.sort(values, axis=0).T)
        return DistributionTable(frame)

    def quantiles(self, levels=QUANTILE_LEVELS) -> pd.DataFrame:
        """Keys, mean and one ``q<level>`` column per level (for reports and backtests)."""
        levels = np.asarray(levels, float)
        u = np.broadcast_to(levels[:, None], (len(levels), len(self.frame)))
        q = self.ppf(u)
        out = self.frame[list(_KEYS)].copy()
        out["mean"] = self.mean()
        for k, level in enumerate(levels):
            out[f"q{level:g}"] = q[k]
        return out
