"""Progress of a long command: one line per stage on stderr, with its clock.

On a terminal the running stage's line shows a bar that sweeps and the
seconds so far, rewritten in place a few times a second; when the stage
ends, the line is finished with the stage's time. When stderr is not a
terminal (a nightly job's log) or with ``--quiet``, nothing is written, so
logs and pipes stay clean::

    echelon  load        ■■■■■■■■■■■■■■■■■■■■    1.4 s
    echelon  forecast    ■■■■■■■■■■■■■■■■■■■■   21.3 s
    echelon  solve       ····■■■■············   12 s

Stages are named by the code that runs them (:func:`optimizer.run.run`
calls :meth:`Progress.stage` as it enters each); the clock is the wall
clock, so the figures match the ``timings_s`` of ``kpis.json`` to rounding.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["Progress"]

_WIDTH = 20  # characters of the bar
_LABEL = 10  # characters of the stage name


class Progress:
    """Stage lines on a stream (stderr by default), only when it is a terminal.

    Parameters
    ----------
    stream : file-like, optional
        Where to write; ``sys.stderr`` when None.
    enabled : bool, optional
        Force on or off; by default on exactly when ``stream.isatty()``.
    interval : float, default=0.25
        Seconds between redraws of the running stage's line.

    Examples
    --------
    >>> import io
    >>> with Progress(io.StringIO()) as progress:   # not a terminal: silent
    ...     progress.stage("load")
    ...     progress.stage("solve")
    """

    def __init__(self, stream=None, *, enabled: bool | None = None, interval: float = 0.25):
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else bool(enabled)
        self.interval = interval
        self._name = None
        self._start = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticker = None

    def stage(self, name: str) -> None:
        """Finish the running stage's line and start one for ``name``."""
        self.done()
        if not self.enabled:
            return
        self._name, self._start = name, time.perf_counter()
        self._stop.clear()
        self._draw(final=False)
        self._ticker = threading.Thread(target=self._tick, name="echelon-progress", daemon=True)
        self._ticker.start()

    def done(self) -> None:
        """Finish the running stage's line, if any."""
        if self._name is None:
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._draw(final=True)
        self._name, self._ticker = None, None

    def echo(self, message: str) -> None:
        """Print ``message`` on stdout, clearing the running stage's line first (it is redrawn)."""
        with self._lock:
            if self.enabled and self._name is not None:
                self.stream.write("\r\033[K")
                self.stream.flush()
            print(message, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.done()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw(final=False)

    def _draw(self, final: bool) -> None:
        seconds = time.perf_counter() - self._start
        if final:
            bar, clock, end = "■" * _WIDTH, f"{seconds:6.1f} s", "\n"
        else:  # a block of 4 sweeping across: work is going on, length unknown
            pos = int(seconds / self.interval) % (_WIDTH - 3)
            bar = "·" * pos + "■" * 4 + "·" * (_WIDTH - 4 - pos)
            clock, end = f"{seconds:4.0f} s  ", ""
        with self._lock:
            self.stream.write(f"\rechelon  {self._name:<{_LABEL}} {bar} {clock}{end}")
            self.stream.flush()
