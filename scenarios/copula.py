"""A Gaussian copula over periods and locations, fitted to backtest residuals.

Model
-----
For one item, let :math:`U_{l,t}` be the PIT of location :math:`l`'s demand in
period :math:`t` under its forecast marginal and :math:`Z = \\Phi^{-1}(U)`.
The copula takes :math:`\\mathrm{vec}(Z) \\sim N(0, R_L \\otimes R_T)`: a
location correlation :math:`R_L` (stores that move together, which sets DC
risk pooling) times a period correlation :math:`R_T` (autocorrelated errors,
which set the variance of lead-time demand). Items are independent.

Fit (:func:`fit_copula`): normal scores of backtest PITs at past origins,
``z[n, l, t]`` (n = origin x item); :math:`R_T` is the correlation of the
period vectors pooled over n and l, :math:`R_L` that of the location vectors
pooled over n and t, each shrunk towards the identity by ``shrinkage`` (a
Kronecker product of correlation matrices is a correlation matrix).

Shrinkage towards independence (:meth:`GaussianCopula.scaled`):
:math:`R(\\lambda) = \\lambda R + (1 - \\lambda) I`, the scale of each matrix chosen
on the earlier origins' lead-time sums (:mod:`scenarios.sum_calibration`).

A t copula (heavy-tailed sums, :mod:`scenarios.t_copula`) is a subclass with a
degrees-of-freedom field; the empirical copula (:mod:`scenarios.empirical_copula`)
resamples whole PIT paths instead; :func:`load_copula` reads any of the three.

Sampling: independent standard normals (from the run's LHS, Sobol or Monte
Carlo uniforms) are multiplied by the Cholesky factors,
:math:`Z = A_L \\, E \\, A_T^\\top`, and mapped back with :math:`\\Phi`; the
marginals are untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats

__all__ = ["GaussianCopula", "fit_copula", "load_copula"]

_EPS = 1e-6


def _corr(x: np.ndarray) -> np.ndarray:
    """Correlation of the columns of ``x`` (rows with a NaN dropped)."""
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) < 3:
        return np.eye(x.shape[1])
    c = np.corrcoef(x, rowvar=False)
    return np.nan_to_num(c, nan=0.0)


def _regularise(c: np.ndarray, shrinkage: float) -> np.ndarray:
    c = (1 - shrinkage) * c + shrinkage * np.eye(len(c))
    w, v = np.linalg.eigh((c + c.T) / 2)
    c = (v * np.maximum(w, 1e-6)) @ v.T
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


def check_periods(fitted: int, n_t: int) -> None:
    """Refuse a forecast of more periods than a copula was fitted on."""
    if n_t > fitted:
        raise ValueError(f"the copula was fitted on {fitted} periods; the forecast has {n_t}. "
                         "Refit it with a backtest horizon of at least the planning periods")


def location_index(fitted, locations) -> tuple[np.ndarray, np.ndarray]:
    """Position in a copula's ``fitted`` locations of each of ``locations`` (-1: unknown to it),
    and the positions in ``locations`` of those it knows."""
    idx = np.array([fitted.index(l) if l in fitted else -1 for l in locations])
    return idx, np.flatnonzero(idx >= 0)


@dataclass(frozen=True)
class GaussianCopula:
    """Separable Gaussian copula over locations and periods.

    Attributes
    ----------
    locations : tuple of str
        Locations of the rows/columns of ``location_corr``.
    location_corr : ndarray (L, L)
    time_corr : ndarray (T, T)
        Correlation between forecast periods 0..T-1 (steps 1..T after the origin).
    calibration : dict, optional
        How the correlations were scaled (:func:`scenarios.sum_calibration.calibrate_copula`).
    """

    locations: tuple[str, ...]
    location_corr: np.ndarray
    time_corr: np.ndarray
    calibration: dict | None = None

    def scaled(self, time_scale: float = 1.0, location_scale: float = 1.0) -> GaussianCopula:
        """The copula with each correlation shrunk towards the identity: :math:`\\lambda R + (1 - \\lambda) I`."""
        def shrink(c, lam):
            return lam * c + (1.0 - lam) * np.eye(len(c))

        return replace(self, location_corr=shrink(self.location_corr, location_scale),
                       time_corr=shrink(self.time_corr, time_scale), calibration=None)

    def correlate(self, z: np.ndarray, locations) -> np.ndarray:
        """Apply the copula to independent normals ``z`` of shape (S, I, L', T).

        Locations of ``locations`` (the L' axis) unknown to the copula stay independent.
        """
        n_t = z.shape[-1]
        check_periods(len(self.time_corr), n_t)
        a_t = np.linalg.cholesky(self.time_corr[:n_t, :n_t])
        idx, known = location_index(self.locations, locations)
        r_l = np.eye(len(locations))
        r_l[np.ix_(known, known)] = self.location_corr[np.ix_(idx[known], idx[known])]
        a_l = np.linalg.cholesky(r_l)
        return np.einsum("lk,sikt,ut->silu", a_l, z, a_t)

    def _json_fields(self) -> dict:
        return {
            "kind": "gaussian_copula",
            "locations": list(self.locations),
            "location_corr": np.round(self.location_corr, 6).tolist(),
            "time_corr": np.round(self.time_corr, 6).tolist(),
            **({"calibration": self.calibration} if self.calibration else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self._json_fields(), indent=1)


def load_copula(path):
    """Read a copula written by ``to_json`` (``echelon forecast --backtest``): Gaussian, t (with ``nu``)
    or empirical (with its patterns)."""
    from .empirical_copula import EmpiricalCopula
    from .t_copula import StudentTCopula

    raw = json.loads(Path(path).read_text())
    kinds = {"gaussian_copula": GaussianCopula, "student_t_copula": StudentTCopula,
             "empirical_copula": EmpiricalCopula}
    if raw.get("kind") not in kinds:
        raise ValueError(f"{path} is not a copula file (kind={raw.get('kind')!r}; expected one of {list(kinds)})")
    if raw["kind"] == "empirical_copula":
        return EmpiricalCopula.from_json_fields(raw)
    extra = {"nu": float(raw["nu"])} if raw["kind"] == "student_t_copula" else {}
    return kinds[raw["kind"]](
        tuple(raw["locations"]), np.asarray(raw["location_corr"]), np.asarray(raw["time_corr"]),
        raw.get("calibration"), **extra,
    )


def fit_copula(pit: np.ndarray, locations, shrinkage: float = 0.05) -> GaussianCopula:
    """Fit the copula to PITs ``pit[n, l, t]`` (n: origin x item; NaN = missing).

    Parameters
    ----------
    pit : ndarray (N, L, T)
        Randomised PITs of past forecasts (:func:`forecasts.metrics.randomized_pit`).
    locations : sequence of str
        Names of the L axis.
    shrinkage : float, default=0.05
        Weight of the identity in each correlation matrix.
    """
    z = stats.norm.ppf(np.clip(np.asarray(pit, float), _EPS, 1 - _EPS))
    n, n_l, n_t = z.shape
    r_t = _corr(z.transpose(0, 1, 2).reshape(n * n_l, n_t))
    r_l = _corr(z.transpose(0, 2, 1).reshape(n * n_t, n_l))
    return GaussianCopula(tuple(locations), _regularise(r_l, shrinkage), _regularise(r_t, shrinkage))
