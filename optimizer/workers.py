"""Item models spread over worker processes, priced together each round.

A round of the decomposition prices every item at the same (lambda, mu), so
a round parallelises over items. :class:`ItemPool` deals the items out
round-robin (item ``i`` to worker ``i mod W``); each worker is a spawned
process holding an :class:`~optimizer.item_models.ItemSolver` for its items
(their templates, data and bases stay in that process for the whole solve)
and answers each round with its items' proposals, which the pool puts back
in item order. Every worker also gets the first item as the reference whose
basis starts its items' first solves. With ``workers=1`` the solver runs in the calling process.
An item's solve depends only on its own data and basis, so the plan is the
same, byte for byte, for any number of workers.
"""

from __future__ import annotations

import multiprocessing
import traceback

from optimizer.errors import EchelonError, ResourceError
from optimizer.item_models import ItemSolver, Proposal

__all__ = ["ItemPool"]


def _serve(conn, problems, links, reference, options) -> None:
    """A worker's loop: build the item models, then answer price requests until told to stop."""
    try:
        solver = ItemSolver(problems, links=links, reference=reference, **options)
        conn.send(("ok", (solver.template_s, solver.size)))
        while (prices := conn.recv()) is not None:
            conn.send(("ok", solver.price(*prices)))
    except MemoryError:  # the parent raises ResourceError (exit code 5)
        conn.send(("memory", ""))
    except Exception:  # reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class ItemPool:
    """The item models of a problem, in ``workers`` processes.

    Parameters
    ----------
    problems : list of Problem
        One-item problems, in item order.
    links : list of scipy.sparse matrix, optional
        Each item's part of the linking rows (see :class:`~optimizer.item_models.ItemSolver`).
    workers : int, default=1
        Processes; 1 solves in the calling process.
    **options
        Passed to :class:`~optimizer.item_models.ItemSolver` (threads,
        time_limit, objective).

    Attributes
    ----------
    template_s : float
        Seconds spent building and compiling shape templates (summed over
        workers).
    size : tuple of int
        Columns and rows of the item models together.
    """

    def __init__(self, problems, *, links=None, workers: int = 1, **options):
        self.n_items = len(problems)
        self.workers = max(1, min(int(workers), self.n_items))
        self._local = None
        self._conns, self._procs = [], []
        if self.workers == 1:
            self._local = ItemSolver(problems, links=links, reference=problems[0], **options)
            self.template_s, self.size = self._local.template_s, self._local.size
            return
        ctx = multiprocessing.get_context("spawn")  # no HiGHS state copied by fork
        for w in range(self.workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, problems[w :: self.workers],
                                                          None if links is None else links[w :: self.workers],
                                                          problems[0], options),
                               daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        answers = self._receive()
        self.template_s = sum(s for s, _ in answers)
        self.size = tuple(int(sum(size[k] for _, size in answers)) for k in range(2))

    def _receive(self) -> list:
        answers = []
        for w, conn in enumerate(self._conns):
            try:
                status, value = conn.recv()
            except (EOFError, ConnectionResetError):  # the process is gone
                self._procs[w].join(timeout=10)
                code = self._procs[w].exitcode
                self.close()
                if code is not None and code < 0:  # killed by a signal, most often SIGKILL from the OOM killer
                    raise ResourceError(f"item worker {w} of {self.workers} died (exit code {code}), most likely out "
                                        "of memory; nothing was written; lower solver.workers or scenarios.count, "
                                        "or run on a larger machine") from None
                raise EchelonError(f"item worker {w} of {self.workers} exited (exit code {code}) before it answered: "
                                   "it could not start or it crashed; nothing was written; a script that runs "
                                   "echelon with solver.workers > 1 must start it under "
                                   "`if __name__ == \"__main__\":` (worker processes are spawned)") from None
            if status == "memory":
                self.close()
                raise ResourceError(f"item worker {w} of {self.workers} ran out of memory; nothing was written; "
                                    "lower solver.workers or scenarios.count, or run on a larger machine")
            if status == "error":
                self.close()
                raise RuntimeError(f"an item worker failed:\n{value}")
            answers.append(value)
        return answers

    def price(self, lam: float, mu: float, nu=None) -> list[Proposal | str]:
        """Every item's proposal at prices (lam, mu) and nu (linking rows), in item order."""
        if self._local is not None:
            return self._local.price(lam, mu, nu)
        for conn in self._conns:
            conn.send((lam, mu, nu))
        out = [None] * self.n_items
        for w, proposals in enumerate(self._receive()):
            out[w :: self.workers] = proposals
        return out

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        self._conns, self._procs = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
