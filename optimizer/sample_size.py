r"""How many scenarios the plan needs for its optimality gap to fall under a tolerance.

The Mak-Morton-Wood estimate (:func:`optimizer.run.evaluate`) measures the
gap :math:`G_N` of the plan solved on :math:`N` scenarios: on each of
:math:`m` independent sets of :math:`N` scenarios, the plan's cost less the
set's own optimum. Both parts of :math:`E[G_N]` (the plan's true gap and the
optimistic bias of the sample optimum, :math:`v^* - E[v^*_N]`) shrink like
:math:`N^{-1/2}` in general and like :math:`N^{-1}` when the optimum is unique
and the expected cost smooth around it (Shapiro, Dentcheva and Ruszczyński,
*Lectures on Stochastic Programming*, 2009, section 5.1.2). With :math:`u` the
one-sided 95% upper confidence bound of the relative gap at :math:`N_0`
(Student t over the replications; relative to the out-of-sample cost) and
:math:`\varepsilon` the tolerance (1%), the two rates extrapolate

.. math::

    u \sqrt{N_0 / N} \le \varepsilon \iff N \ge N_{\text{slow}} = \lceil N_0 (u/\varepsilon)^2 \rceil,
    \qquad
    u N_0 / N \le \varepsilon \iff N \ge N_{\text{fast}} = \lceil N_0\, u/\varepsilon \rceil.

So with 95% confidence in the measured gap, and the gap falling at one of
these rates, :math:`N_{\text{slow}}` scenarios suffice and fewer than
:math:`N_{\text{fast}}` do not. On the newsvendor the measured gaps fall
faster than :math:`N^{-1/2}` (``benchmarks/gap_scenarios.py`` measures the
gap on a ladder of counts): :math:`N_{\text{slow}}` is the safe figure,
:math:`N_{\text{fast}}` the optimistic one. Both assume the gap vanishes as
:math:`N` grows; where the replay's rule differs from the model's recourse (a
short DC's allocation, which the model chooses in hindsight) the gap has a
floor that no scenario count removes (README, "Honest about its own error").
"""

from __future__ import annotations

import math

__all__ = ["TOLERANCE", "scenarios_for_gap"]

#: The relative optimality gap the report asks the scenario count to reach.
TOLERANCE = 0.01


def scenarios_for_gap(n0: int, gap_upper_relative: float, tolerance: float = TOLERANCE) -> dict:
    r"""Scenarios needed for the relative optimality gap to fall under ``tolerance``.

    Parameters
    ----------
    n0 : int
        Scenarios the plan was solved on (and each replication drew), :math:`N_0`.
    gap_upper_relative : float
        One-sided 95% upper confidence bound of the relative gap at :math:`N_0`, :math:`u`.
    tolerance : float, default=0.01
        The relative gap wanted, :math:`\varepsilon`.

    Returns
    -------
    dict
        ``slow_rate`` (:math:`N_{\text{slow}}`, gap like :math:`N^{-1/2}`: enough),
        ``fast_rate`` (:math:`N_{\text{fast}}`, gap like :math:`N^{-1}`), both
        :math:`N_0` when ``met`` (:math:`u \le \varepsilon` already at
        :math:`N_0`), with ``tolerance`` and ``measured_at`` (:math:`N_0`).
    """
    if n0 < 1 or tolerance <= 0:
        raise ValueError(f"need n0 >= 1 and tolerance > 0, received n0={n0}, tolerance={tolerance}")
    met = gap_upper_relative <= tolerance
    ratio = gap_upper_relative / tolerance
    return {
        "tolerance": tolerance,
        "measured_at": n0,
        "met": met,
        "slow_rate": n0 if met else math.ceil(n0 * ratio**2),
        "fast_rate": n0 if met else math.ceil(n0 * ratio),
    }
