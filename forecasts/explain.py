"""Why a forecast is what it is: SHAP values of NGBoost's parameter models.

NGBoost's parameter :math:`j` (e.g. log mean, log dispersion) is
:math:`\\theta_j(x) = \\theta_{j,0} - \\eta \\sum_i s_{ij} f_{ij}(x)` over the
boosting iterations :math:`i` (trees :math:`f_{ij}`, line-search scalings
:math:`s_{ij}`, learning rate :math:`\\eta`). Each parameter is handed to
``shap.TreeExplainer`` as one tree ensemble (shap's custom-tree dictionary
format, leaves scaled by :math:`-\\eta s_{ij}`, node weights counted on the
training rows), so exact TreeSHAP values :math:`\\phi` add up to
:math:`\\theta_j(x) - E[\\theta_j]`.

Plain words: for parameters on a log scale (log mean, log of the lognormal's
scale, log std, log dispersion), a contribution :math:`\\phi` multiplies the
quantity by :math:`e^{\\phi}`, reported as :math:`100 (e^{\\phi} - 1)\\%`;
the normal's mean is additive (units).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["explain", "global_importance", "parameter_explainers", "plain_words", "shap_values"]

#: (level parameter, spread parameter) names and whether each is on a log scale.
_PARAMS = {
    "negative_binomial": (("mean", True), ("dispersion k (higher = narrower)", True)),
    "poisson": (("mean", True), None),
    "normal": (("mean (units)", False), ("std", True)),
    "lognormal": (("scale", True), ("sigma", True)),
    "shifted_lognormal": (("scale", True), ("sigma", True)),
    "gamma": (("shape", True), ("rate", True)),
}


def _tree_dict(tree, weights: np.ndarray, scale: float) -> dict:
    """shap's custom-tree dict for a complete BinnedTreeRegressor of depth d."""
    d = tree.max_depth
    n_internal = 2**d - 1
    n_nodes = 2 ** (d + 1) - 1
    left = np.full(n_nodes, -1)
    right = np.full(n_nodes, -1)
    left[:n_internal] = 2 * np.arange(n_internal) + 1
    right[:n_internal] = 2 * np.arange(n_internal) + 2
    features = np.full(n_nodes, -2)
    features[:n_internal] = tree.features_
    thresholds = np.full(n_nodes, -2.0)
    thresholds[:n_internal] = tree.thresholds_ + 0.5  # codes are integers: x <= thr + 0.5
    values = np.zeros(n_nodes)
    values[n_internal:] = tree.values_ * scale
    for m in range(n_internal - 1, -1, -1):  # internal values: weighted means of children
        wl, wr = weights[2 * m + 1], weights[2 * m + 2]
        values[m] = (wl * values[2 * m + 1] + wr * values[2 * m + 2]) / max(wl + wr, 1e-12)
    return {
        "children_left": left,
        "children_right": right,
        "children_default": left.copy(),
        "features": features,
        "thresholds": thresholds,
        "values": values[:, None],
        "node_sample_weight": weights.astype(float),
    }


def _node_weights(tree, codes: np.ndarray) -> np.ndarray:
    d = tree.max_depth
    weights = np.zeros(2 ** (d + 1) - 1)
    rows = np.arange(len(codes))
    node = np.zeros(len(codes), dtype=np.intp)
    weights[0] = len(codes)
    for depth in range(d):
        first = 2**depth - 1
        feat = tree.features_[first + node]
        thr = tree.thresholds_[first + node]
        node = 2 * node + (codes[rows, feat] > thr)
        weights[2 ** (depth + 1) - 1 : 2 ** (depth + 2) - 1] += np.bincount(node, minlength=2 ** (depth + 1))
    # leaves no background row reaches get a negligible weight (shap needs every leaf covered)
    n_internal = 2**d - 1
    weights[n_internal:] = np.maximum(weights[n_internal:], 1e-9)
    for m in range(n_internal - 1, -1, -1):
        weights[m] = weights[2 * m + 1] + weights[2 * m + 2]
    return weights


def parameter_explainers(forecaster, background: np.ndarray) -> list:
    """One ``shap.TreeExplainer`` per NGBoost parameter (``background``: training bin codes)."""
    import shap

    model = forecaster.model_
    out = []
    for j in range(model.Manifold.n_params):
        trees = []
        for models, s in zip(model.base_models, model.scalings):
            tree = models[j]
            trees.append(_tree_dict(tree, _node_weights(tree, background), -model.learning_rate * s))
        spec = {"trees": trees, "base_offset": float(model.init_params[j]), "tree_output": "raw_value",
                "objective": "squared_error", "input_dtype": np.float64, "internal_dtype": np.float64}
        out.append(shap.TreeExplainer(spec, feature_perturbation="tree_path_dependent"))
    return out


def shap_values(forecaster, X: pd.DataFrame | None = None, background_rows: int = 5000):
    """SHAP values (n_params, rows, features) of the prediction rows (default: all of them).

    Returns the values and the expected value per parameter.
    """
    forecaster._check_fitted()
    if X is None:
        X = forecaster.prediction_features()
    codes = forecaster.binner_.transform(X.to_numpy()).astype(np.float64)
    background = forecaster.background_codes_[:background_rows]
    explainers = parameter_explainers(forecaster, background)
    values = np.stack([e.shap_values(codes, check_additivity=False) for e in explainers])
    return values, np.array([float(np.ravel(e.expected_value)[0]) for e in explainers])


def _value_text(name: str, value: float, categories: dict) -> str:
    if not np.isfinite(value):
        return f"{name}=none"
    if name in categories:
        cats = categories[name]
        return f"{name}={cats[int(value)]}" if 0 <= int(value) < len(cats) else name
    if name in ("weekday",):
        return "weekday=" + ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][int(value)]
    return f"{name}={value:.3g}"


def _drivers(phi: np.ndarray, x: pd.Series, log_scale: bool, categories: dict) -> list:
    order = np.argsort(-np.abs(phi))
    out = []
    for k in order:
        if phi[k] == 0:
            break
        effect = 100 * np.expm1(phi[k]) if log_scale else phi[k]
        out.append((_value_text(x.index[k], float(x.iloc[k]), categories), float(effect), log_scale))
    return out


def plain_words(drivers: list, top: int = 4) -> str:
    """'event_name_1=SuperBowl +31%, price_over_28_ago=0.88 -12%' from a drivers list."""
    parts = []
    for text, effect, pct in drivers[:top]:
        parts.append(f"{text} {effect:+.0f}%" if pct else f"{text} {effect:+.2f}")
    return ", ".join(parts) if parts else "(no feature moved it)"


def explain(forecaster, item: str, location: str):
    """Per period: mean, 80% interval and the drivers of level and spread for one series.

    Returns
    -------
    rows : pandas.DataFrame
        ``period, date, mean, q10, q90, location_drivers, spread_drivers`` (drivers:
        lists of ``(feature=value, effect, is_percent)``, largest first).
    all_values : ndarray (n_params, rows, features)
        SHAP values of every prediction row (for global importance).
    """
    X = forecaster.prediction_features()
    series = forecaster.series_
    match = np.flatnonzero((series["item"] == item).to_numpy() & (series["location"] == location).to_numpy())
    if len(match) == 0:
        raise ValueError(f"no series item={item!r}, location={location!r} in the forecast")
    values, _ = shap_values(forecaster, X)
    H = forecaster.horizon
    idx = match[0] * H + np.arange(H)
    table = forecaster.predict()
    frame = table.frame
    sel = np.flatnonzero((frame["item"] == item).to_numpy() & (frame["location"] == location).to_numpy())
    q = table.quantiles(levels=(0.1, 0.9))
    params = _PARAMS.get(forecaster.family, (("level", True), ("spread", True)))
    cats = forecaster.panel_.categories
    rows = []
    for p, (r, t) in enumerate(zip(idx, sel)):
        x = X.iloc[r]
        rows.append({
            "period": p,
            "date": forecaster.period_dates_[p].date().isoformat(),
            "mean": float(q["mean"].iloc[t]),
            "q10": float(q["q0.1"].iloc[t]),
            "q90": float(q["q0.9"].iloc[t]),
            "location_drivers": _drivers(values[0, r], x, params[0][1], cats),
            "spread_drivers": _drivers(values[1, r], x, params[1][1], cats) if len(values) > 1 and params[1]
            else [],
        })
    return pd.DataFrame(rows), values


def global_importance(values: np.ndarray, names) -> pd.DataFrame:
    """Mean |SHAP| per feature for the level (``location``) and ``spread`` parameters."""
    out = pd.DataFrame({"location": np.abs(values[0]).mean(axis=0)}, index=list(names))
    out["spread"] = np.abs(values[1]).mean(axis=0) if len(values) > 1 else 0.0
    return out
