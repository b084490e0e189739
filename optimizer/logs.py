"""Log lines of the unattended commands: JSON lines when stderr is not a terminal.

A nightly job's stderr goes to a file or a log collector, so each event is
one JSON object per line (``time`` in UTC, ``level``, ``event`` and the
event's fields); at a terminal the same events read as plain text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

__all__ = ["get_logger", "event"]

_NAME = "echelon"


class _JsonLines(logging.Formatter):
    def format(self, record):
        stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps({"time": stamp, "level": record.levelname.lower(), "event": record.getMessage(),
                           **getattr(record, "fields", {})}, default=str)


class _Plain(logging.Formatter):
    def format(self, record):
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        return f"echelon: {record.levelname.lower()}: {record.getMessage()}" + (f" ({fields})" if fields else "")


def get_logger(stream=None) -> logging.Logger:
    """The ``echelon`` logger writing to ``stream`` (default stderr), JSON lines unless it is a terminal."""
    stream = sys.stderr if stream is None else stream
    log = logging.getLogger(_NAME)
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Plain() if getattr(stream, "isatty", lambda: False)() else _JsonLines())
    log.addHandler(handler)
    # Library warnings (pandas, numpy) become log lines too, so the stream stays JSON lines.
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.handlers = [handler]
    warnings_log.propagate = False
    return log


def event(message: str, /, level: int = logging.INFO, **fields) -> None:
    """Log ``message`` with ``fields`` on the ``echelon`` logger (silent until :func:`get_logger`)."""
    logging.getLogger(_NAME).log(level, message, extra={"fields": fields})
