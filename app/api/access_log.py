"""Keep stream tickets out of the logs: uvicorn's access log, and the service's own lines.

A ticket travels in the URL (``/v1/events/stream?ticket=...``), and uvicorn's access log writes
each request's path with its query string. `install` adds a filter to the ``uvicorn.access``
logger that rewrites the target of every line with `redact_tickets` before any handler sees it;
the service's own log lines that name a request's path pass it through `redact_tickets` too
(`app.api.problems`). Bearer tokens travel in a header, which no log line of the service or of
uvicorn contains.

`redact_tickets` replaces the value of every query parameter whose name, percent-decoded as many
times as it takes, mentions ``ticket`` in any case (``ticket``, ``%74icket``, ``Ticket``,
``%2574icket``, a repeated one), whether parameters are separated by ``&`` or by ``;``: the
service reads only ``ticket``, but a ticket sent under another name still works where it is
accepted, and must not be written down. Should a ticket still be there after that (carried by an
encoded separator, ``after=0%26ticket%3D...``, or in the path), the whole target is replaced by
``[redacted]``: a line that says less is better than a line that leaks.

The filter is added to the logger, not to a handler, so it stays in place when uvicorn
configures its logging (which replaces handlers but keeps filters), whether the service runs as
``python -m app`` or ``uvicorn app.main:app``. Adding it twice is harmless.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from app.access.tickets import TICKET_PARAMETER

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_PATH_ARGUMENT = 2
"""uvicorn's access line: client, method, path with query string, HTTP version, status."""
_SEPARATORS = re.compile(r"([&;])")
_CARRIED = re.compile(rf"{TICKET_PARAMETER}\s*=(?!{re.escape(REDACTED)})", re.IGNORECASE)


def _fully_unquoted(text: str) -> str:
    """``text`` percent-decoded until nothing changes (each round that changes it shortens it)."""
    while (decoded := unquote_plus(text)) != text:
        text = decoded
    return text


def redact_tickets(target: str) -> str:
    """``target`` (a path with its query string) with every ticket replaced by `REDACTED`."""
    if TICKET_PARAMETER not in _fully_unquoted(target).casefold():
        return target
    path, separator, query = target.partition("?")
    if separator:
        parts = _SEPARATORS.split(query)
        for index in range(0, len(parts), 2):  # the odd ones are separators
            name = _fully_unquoted(parts[index].partition("=")[0]).casefold()
            if TICKET_PARAMETER in name:
                parts[index] = f"{TICKET_PARAMETER}={REDACTED}"
        target = f"{path}?{''.join(parts)}"
    if _CARRIED.search(_fully_unquoted(target)):
        return REDACTED
    return target


class TicketRedaction(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARGUMENT:
            path = args[_PATH_ARGUMENT]
            if isinstance(path, str):
                redacted = redact_tickets(path)
                record.args = (*args[:_PATH_ARGUMENT], redacted, *args[_PATH_ARGUMENT + 1 :])
        return True


def install() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, TicketRedaction) for existing in logger.filters):
        logger.addFilter(TicketRedaction())
