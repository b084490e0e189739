r"""What each supplier should expect: tonight's firm orders, then later buckets as quantiles.

Vendor-managed inventory needs the demand signal, not amplified orders. The
model's later orders follow the targets (:mod:`optimizer.model`): a stock
point fed by supplier :math:`v` orders in period :math:`t \ge 1` what its
subtree's stores used in period :math:`t-1`,

.. math::

    o_{in t s} = \sum_{j \in J \cap \mathrm{sub}(n)} u_{ij,t-1,s},

so their distribution follows from the scenarios. For supplier :math:`v`,
item :math:`i` and destination :math:`n` (:math:`a(n) = v`) the feed holds

* ``tonight``: :math:`o_{in0}`, firm (the same in every scenario);
* bucket :math:`b = 1, 2, \dots`: :math:`O_{inbs} = \sum_{t \in b} o_{ints}`
  over periods :math:`t = 1 + (b-1)w \,..\, bw` (``nightly.feed_bucket`` =
  :math:`w`, 7 days a week), given as the mean and the 10%, 50% and 90%
  quantiles over the solved scenarios (equally likely; ``numpy.quantile``,
  linear interpolation).

``bullwhip_ratio`` per supplier is
:math:`\mathrm{Var}_s(\sum_{t \ge 1} \sum_{i,n} o_{ints}) /
\mathrm{Var}_s(\sum_{t \le T-2} \sum_{i,j} D_{ijts})` over the stores the
supplier feeds: orders replace usage one for one, so it is 1 under
backorders and at most about 1 under lost sales (no amplification).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["supplier_feeds", "FEED_COLUMNS"]

FEED_COLUMNS = ["supplier", "item", "destination", "bucket", "first_period", "last_period", "first_date",
                "last_date", "firm", "mean", "p10", "p50", "p90"]


def supplier_feeds(problem, built, x, *, bucket: int = 7, period_dates=None) -> dict[str, dict]:
    """Per supplier id: ``{"lines": DataFrame (FEED_COLUMNS), "bullwhip_ratio": float}``.

    Parameters
    ----------
    problem, built, x
        The solved model.
    bucket : int, default=7
        Periods per later bucket.
    period_dates : sequence of dates, optional
        Dates of periods 0..T-1 (None: the feed is undated).
    """
    from optimizer.plan import order_quantities

    net = problem.network
    S, I, N, J, T = problem.shape
    orders = order_quantities(built, x)  # (I, N, T, S)
    dates = [pd.Timestamp(d).date().isoformat() for d in period_dates] if period_dates is not None else None
    spans = [(0, 0)] + [(a, min(a + bucket - 1, T - 1)) for a in range(1, T, bucket)]
    sub = net.subtree()[:, net.stores]
    out = {}
    for supplier in sorted({net.source[n] for n in range(N) if net.parent[n] < 0}):
        nodes = [n for n in range(N) if net.parent[n] < 0 and net.source[n] == supplier]
        rows = []
        for i, item in enumerate(problem.items):
            for n in nodes:
                for b, (a, z) in enumerate(spans):
                    total = orders[i, n, a:z + 1].sum(axis=0)  # (S,)
                    p10, p50, p90 = np.quantile(total, [0.1, 0.5, 0.9])
                    rows.append((supplier, item, net.nodes[n], "tonight" if b == 0 else f"bucket {b}", a, z,
                                 dates[a] if dates else None, dates[z] if dates else None,
                                 float(total[0]) if b == 0 else None, float(total @ problem.probability),
                                 p10, p50, p90))
        lines = pd.DataFrame(rows, columns=FEED_COLUMNS)
        for c in ("firm", "mean", "p10", "p50", "p90"):
            lines[c] = np.round(lines[c].astype(float), 4) + 0.0
        placed = orders[:, nodes, 1:].sum(axis=(0, 1, 2))  # (S,)
        stores = sub[nodes].any(axis=0)
        used = problem.demand[:, :, stores, : T - 1].sum(axis=(1, 2, 3))
        ratio = float(placed.var() / used.var()) if T > 1 and used.var() > 0 else None
        out[supplier] = {"lines": lines, "bullwhip_ratio": ratio}
    return out
