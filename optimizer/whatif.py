r"""What-if adjustments of demand: the ``demand_multiplier`` rules of a config.

A planner thinks in multipliers: 20% more demand for a promotion, 10% less
in one store. Each rule :math:`r` of ``demand_multiplier`` has a factor
:math:`m_r > 0` and selects items, stores, categories and a period range
(everything when a selector is left out). The factor on item :math:`i`,
store :math:`j`, period :math:`t` is the product of the factors of the rules
that select it,

.. math::

    f_{ijt} = \prod_{r \,:\, (i, j, t) \in r} m_r ,

and the demand distribution of that series and period becomes the
distribution of :math:`f_{ijt} D_{ijt}`. Families closed under scaling are
scaled exactly: normal and gamma (mean and std times :math:`f`), lognormal
(:math:`\mu + \ln f`), shifted lognormal (:math:`\mu + \ln f`, shift times
:math:`f`), empirical (values times :math:`f`). Poisson and negative
binomial demand are counts: :math:`f` multiplies the mean (more customers,
the same dispersion :math:`k`), which keeps them counts.

The scaled table is what the scenarios are drawn from, so a what-if and its
base use the same uniforms (common random numbers): their difference is the
multiplier's effect, not sampling noise. Today's stock (the ``cover`` rule)
is left as it was: it is read from past demand.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from forecasts.distributions import DistributionTable
from optimizer.config import Config
from optimizer.errors import InputError

__all__ = ["demand_factors", "describe", "rule_masks", "scale_demand"]


def _categories(config: Config, items, history: pd.DataFrame | None) -> dict:
    """Item -> category, from ``items[].category`` or else the history's ``category`` column."""
    out = {}
    if history is not None and "category" in history:
        pairs = history[["item", "category"]].dropna().drop_duplicates("item")
        out.update(zip(pairs["item"].astype(str), pairs["category"].astype(str)))
    out.update({i.id: i.category for i in config.items if i.category is not None})
    return {i: out.get(i) for i in items}


def _selected(config_file, key: str, wanted, known, what: str) -> np.ndarray:
    """Boolean mask over ``known`` of the ids a rule names (all when ``wanted`` is None)."""
    known = list(known)
    if wanted is None:
        return np.ones(len(known), bool)
    for name in wanted:
        if name not in known:
            choices = sorted({k for k in known if k is not None})
            close = difflib.get_close_matches(name, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            fix = (f"use one of {', '.join(choices[:12])}{' ...' if len(choices) > 12 else ''}" if choices
                   else f"give the items a {what} (items: [{{id: ..., {what}: ...}}])")
            raise InputError(config_file, key, f"unknown {what} {name!r}{hint}", fix)
    return np.isin(np.array(known, dtype=object), list(wanted))


def demand_factors(config: Config, config_file, items, stores, history=None) -> np.ndarray | None:
    """The multiplier :math:`f_{ijt}` of every item x store x period, (I, J, T); None without rules.

    Raises
    ------
    InputError
        A rule names an item, store or category the plan does not have, or
        a period range outside the horizon.
    """
    masks = rule_masks(config, config_file, items, stores, history)
    if not masks:
        return None
    factor = np.ones((len(items), len(stores), config.periods))
    for rule, (i, j, t) in zip(config.demand_multiplier, masks):
        factor[np.ix_(i, j, t)] *= rule.factor
    return factor


def rule_masks(config: Config, config_file, items, stores, history=None) -> list:
    """Per ``demand_multiplier`` rule, the boolean masks (items, stores, periods) it selects."""
    T = config.periods
    categories = _categories(config, items, history)
    masks = []
    for k, rule in enumerate(config.demand_multiplier):
        key = f"demand_multiplier[{k}]"
        i = _selected(config_file, f"{key}.item", rule.item, items, "item")
        i &= _selected(config_file, f"{key}.category", rule.category, [categories[x] for x in items], "category")
        j = _selected(config_file, f"{key}.location", rule.location, stores, "store")
        if rule.first_period >= T:
            raise InputError(config_file, f"{key}.first_period", f"period {rule.first_period} is beyond the "
                             f"horizon of {T} periods", f"use a period from 0 to {T - 1}")
        last = T - 1 if rule.last_period is None else min(rule.last_period, T - 1)
        t = np.zeros(T, bool)
        t[rule.first_period : last + 1] = True
        masks.append((i, j, t))
    return masks


def describe(config: Config, config_file, items, stores, history=None) -> list[str]:
    """One line per what-if adjustment, saying what it selected (``echelon validate`` prints them)."""
    lines = []
    for k, (rule, (i, j, t)) in enumerate(zip(config.demand_multiplier,
                                              rule_masks(config, config_file, items, stores, history))):
        lines.append(f"demand_multiplier[{k}]: demand x{rule.factor:g} on {i.sum()} items x {j.sum()} stores "
                     f"x {t.sum()} periods" + (" (selects nothing: check the selectors)" if not i.any() else ""))
    for lane in config.network.lanes:
        if lane.lead_time_add:
            lines.append(f"lane {lane.source} -> {lane.destination}: lead time {lane.lead_time} "
                         f"{lane.lead_time_add:+d} = {lane.lead_time + lane.lead_time_add} periods")
    return lines


def scale_demand(table: DistributionTable, factor: np.ndarray | None, items, stores) -> DistributionTable:
    """``table`` with each row's demand multiplied by ``factor[item, store, period]`` (module docstring).

    ``items`` and ``stores`` give the order of ``factor``'s first two axes;
    rows of locations outside ``stores`` are left as they are.
    """
    if factor is None:
        return table
    frame = table.frame.copy()
    i = pd.Index(items).get_indexer(frame["item"].astype(str))
    j = pd.Index(stores).get_indexer(frame["location"].astype(str))
    f = np.ones(len(frame))
    inside = (i >= 0) & (j >= 0)
    f[inside] = factor[i[inside], j[inside], frame["period"].to_numpy()[inside]]
    family = frame["family"].to_numpy()
    for name in ("mean", "std", "shift"):
        if name in frame:
            frame[name] = frame[name] * f
    if "mu" in frame:
        frame["mu"] = frame["mu"] + np.log(f)
    if "values" in frame:
        empirical = np.flatnonzero(family == "empirical")
        frame["values"] = frame["values"].astype(object)
        for r in empirical:
            frame.at[r, "values"] = np.asarray(frame.at[r, "values"], float) * f[r]
    return DistributionTable(frame)
