"""How the service's log lines look: text, or one JSON object per line.

``EVENTSTORE_LOG_FORMAT=json`` writes every line, the service's, uvicorn's and the request
log's (`app.api.request_log`), as one JSON object: ``time`` (RFC 3339 UTC), ``level``,
``logger``, ``message``, then the record's structured ``fields`` when it has them (the request
log's: request id, route, status, duration, token name, positions), then ``exception`` with the
traceback of an error. ``text`` writes the same lines as text: the request log's message holds
its fields. Set up by `configure` (called by `python -m app` before it serves), which also
keeps uvicorn from installing its own handlers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

TEXT_FORMAT = "%(levelname)s:     %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")[
                :-6
            ]
            + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(log_format: str, level: str) -> None:
    """The root handler in ``log_format``; our loggers at ``level``, libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("app").setLevel(level.upper())
