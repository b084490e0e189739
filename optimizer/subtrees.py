r"""An item's model split into the independent subtrees of its network.

A supplier always ships (DESIGN.md section 4), so the stock points a
supplier feeds directly, the *roots* :math:`r` (DCs, or stores fed by a
supplier), share no row of an item's model: every balance, backlog and
capacity row of stock point :math:`n` involves only :math:`n`, its children
and the stores below it, and the rows that tie stock points across roots
(the capital budget, the network fill rate, peak or per-scenario capital,
open-to-buy) are the decomposition's priced linking rows. With the prices
:math:`(\lambda, \mu, \nu)` in its objective, item :math:`i`'s model is
therefore the sum of one model per root subtree :math:`\mathrm{sub}(r)`,

.. math::

    \min_x \sum_r (c_{ir} - \lambda g_{ir} - \mu u_{ir} - A_{ir}^\top \nu)^\top x_r
    \quad \text{s.t.} \quad \ell_{ir} \le A_r x_r \le L_{ir}, \quad
    l_{ir} \le x_r \le v_{ir} \quad (\text{every root } r),

and solving the subtrees one by one gives the item's optimum. A dual
simplex's work grows faster than linearly with the model's rows, so three
subtrees of a third of the size solve faster than the item's whole model
(``benchmarks/README.md``). Subtrees of the same size (a DC with as many
stores, the same lead times) have the same constraint matrix and share one
compiled template (:mod:`optimizer.item_models`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optimizer.model import Built, Network, Problem

__all__ = ["root_subtrees", "subtree_problem", "subtree_columns"]


def root_subtrees(network: Network) -> list[np.ndarray]:
    """The stock points at or below each root (a stock point a supplier feeds), in node order."""
    sub = network.subtree()
    return [np.flatnonzero(sub[r]) for r in np.flatnonzero(network.parent < 0)]


def _restrict(network: Network, nodes: np.ndarray) -> Network:
    """``network`` with only ``nodes`` (a union of whole subtrees, in node order)."""
    where = np.full(len(network.nodes), -1)
    where[nodes] = np.arange(len(nodes))
    parent = np.where(network.parent[nodes] >= 0, where[np.maximum(network.parent[nodes], 0)], -1)

    def pick(v):
        return None if v is None else np.asarray(v)[nodes]

    return dataclasses.replace(
        network, nodes=tuple(network.nodes[n] for n in nodes), kinds=tuple(network.kinds[n] for n in nodes),
        parent=parent, source=tuple(network.source[n] for n in nodes), lead_time=pick(network.lead_time),
        lane_cost=pick(network.lane_cost), lane_capacity=pick(network.lane_capacity),
        storage=pick(network.storage), throughput=pick(network.throughput))


def subtree_problem(problem: Problem, nodes: np.ndarray) -> Problem:
    """``problem`` over the stock points ``nodes`` only (see :func:`root_subtrees`).

    Without its budget, fill rate and open-to-buy (rows that tie stock points
    across subtrees): meant for the one-item problems of the decomposition.
    """
    stores = np.flatnonzero(np.isin(problem.network.stores, nodes))  # positions among the stores

    def pick(v):
        return None if v is None else v[:, nodes]

    return dataclasses.replace(
        problem, network=_restrict(problem.network, nodes), demand=problem.demand[:, :, stores],
        holding_cost=pick(problem.holding_cost), on_hand=pick(problem.on_hand), pipeline=pick(problem.pipeline),
        fixed_order=pick(problem.fixed_order), fixed_target=pick(problem.fixed_target),
        budget=None, fill_rate=None, open_to_buy=None)


def subtree_columns(whole: Built, part: Built, nodes: np.ndarray) -> np.ndarray:
    """``out[k]``: the column of ``whole`` (an item's model) that is column ``k`` of ``part``,
    its model over the subtree ``nodes``."""
    net = whole.problem.network
    fed_pos = np.full(len(net.nodes), -1)
    fed_pos[net.shipped] = np.arange(len(net.shipped))
    axis = {  # the second axis of each block of columns, restricted to the subtree
        "target": nodes, "on_hand": nodes, "ship": fed_pos[nodes[part.problem.network.shipped]],
        "owed": fed_pos[nodes[part.problem.network.shipped]],
        "short": np.flatnonzero(np.isin(net.stores, nodes)),
    }
    out = np.full(part.lp.n_cols, -1)
    for name, keep in axis.items():
        out[part.cols[name].ravel()] = whole.cols[name][:, keep].ravel()
    if (out < 0).any():
        raise RuntimeError("a subtree's model has columns its item's model lacks")
    return out
