"""Errors the command line turns into exit codes (DESIGN.md section 5).

=====  ===========================================================
code   meaning
=====  ===========================================================
0      plan written
1      internal error (a bug: the traceback is shown)
2      bad config or data (:class:`InputError`)
3      infeasible: targets cannot all be met (:class:`InfeasibleError`)
4      no feasible plan within the time limit (:class:`TimeLimitError`)
5      out of memory or disk; nothing written (:class:`ResourceError`)
=====  ===========================================================
"""

from __future__ import annotations

__all__ = ["EchelonError", "InputError", "InfeasibleError", "TimeLimitError", "SolverError", "ResourceError"]


class EchelonError(Exception):
    """A failure the user can act on; ``exit_code`` says which."""

    exit_code = 1


class InputError(EchelonError, ValueError):
    """Bad config or data: names the file, the key (or row) and the fix.

    Parameters
    ----------
    file : str
        The file at fault, as the user named it.
    key : str
        Dotted path of the key (``network.lanes[2].lead_time``) or the row.
    problem : str
        What is wrong, with the value received.
    fix : str
        What to do about it.
    """

    exit_code = 2

    def __init__(self, file, key, problem, fix):
        self.file, self.key, self.problem, self.fix = str(file), key, problem, fix
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}; {fix}")


class InfeasibleError(EchelonError):
    """The service targets cannot be met within the budget or capacities.

    ``diagnosis`` holds the figures behind the message (least budget that
    meets the targets, best fill rate the budget buys), for ``kpis.json``.
    """

    exit_code = 3

    def __init__(self, message, diagnosis=None):
        super().__init__(message)
        self.diagnosis = diagnosis or {}


class TimeLimitError(EchelonError):
    """The solver found no feasible plan within its time limit."""

    exit_code = 4


class SolverError(EchelonError):
    """HiGHS stopped without an answer the plan can use (an error or unbounded status)."""

    exit_code = 1


class ResourceError(EchelonError):
    """The machine ran out of memory or disk; the previous outputs are left as they were."""

    exit_code = 5
