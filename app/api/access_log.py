"""Keep stream tickets out of uvicorn's access log.

A ticket travels in the URL (``/v1/events/stream?ticket=...``), and uvicorn's access log writes
each request's path with its query string. `install` adds a filter to the ``uvicorn.access``
logger that replaces the value of every ``ticket`` parameter (however its name is
percent-encoded, even twice over) with ``[redacted]`` before any handler sees the line. Bearer
tokens travel in a header, which no log line of the service or of uvicorn contains.

The filter is added to the logger, not to a handler, so it stays in place when uvicorn
configures its logging (which replaces handlers but keeps filters), whether the service runs as
``python -m app`` or ``uvicorn app.main:app``. Adding it twice is harmless.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

from app.api.guard import TICKET_PARAMETER

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_MAX_DECODINGS = 4
_PATH_ARGUMENT = 2
"""uvicorn's access line: client, method, path with query string, HTTP version, status."""


def _fully_unquoted(name: str) -> str:
    """A parameter name decoded until nothing changes: a client that encoded it twice is
    refused, but the ticket it sent is still good and must not reach the log."""
    for _ in range(_MAX_DECODINGS):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name


def redact_tickets(path_with_query: str) -> str:
    path, separator, query = path_with_query.partition("?")
    if not separator:
        return path_with_query
    parts = query.split("&")
    for index, part in enumerate(parts):
        if _fully_unquoted(part.partition("=")[0]) == TICKET_PARAMETER:
            parts[index] = f"{TICKET_PARAMETER}={REDACTED}"
    return f"{path}?{'&'.join(parts)}"


class TicketRedaction(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARGUMENT:
            path = args[_PATH_ARGUMENT]
            if isinstance(path, str) and "?" in path:
                redacted = redact_tickets(path)
                record.args = (*args[:_PATH_ARGUMENT], redacted, *args[_PATH_ARGUMENT + 1 :])
        return True


def install() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, TicketRedaction) for existing in logger.filters):
        logger.addFilter(TicketRedaction())
