"""The cap on open connections, and who makes room when it is reached.

Deliberate choices:

- **Evict the idle, not the newcomer.** When the cap is reached, a new connection closes the
  connection that has been idle the longest: one with no request in progress, either between two
  requests (keep-alive) or still sending its first request's head (including a client that sends
  nothing at all). A flood of idle or slow sockets therefore cannot lock real clients out: each
  newcomer pushes out the oldest of them, and a client whose request is being answered (a read,
  an append, an open stream) is never touched. Keep-alive clients that stay busy stay at the back
  of the line, since a connection moves to the back each time it becomes idle again.
- **When nothing is idle, answer 503 at once.** Every connection then has a request in progress:
  the newcomer is answered 503 with ``Retry-After`` as soon as it is accepted, before its request
  is read (`app.server.protocol`), and closed.
- Connections are kept in two insertion-ordered dicts, idle and busy, so that admitting,
  evicting and every change of state are O(1).
- A warning says when the cap is reached, at most once every `REPORT_SECONDS`, with how many
  connections were evicted and refused so far: an attack must not flood the log.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

logger = logging.getLogger(__name__)

REPORT_SECONDS = 10.0


class Evictable(Protocol):
    def evict(self) -> None:
        """Close the connection now: the cap needs its room."""


class ConnectionCap:
    """At most ``limit`` admitted connections; `lingering` counts refused ones being closed."""

    def __init__(self, limit: int, *, max_lingering: int) -> None:
        self.limit = limit
        self.max_lingering = max_lingering
        self._idle: dict[Evictable, None] = {}  # least recently idle first
        self._busy: dict[Evictable, None] = {}
        self.lingering = 0
        self.evicted = 0
        self.refused = 0
        self._reported_at = 0.0

    @property
    def open(self) -> int:
        return len(self._idle) + len(self._busy)

    def admit(self, connection: Evictable) -> bool:
        """Admit ``connection`` as idle, evicting the longest idle one if the cap is reached;
        False when every admitted connection is busy (the caller refuses it)."""
        if self.open >= self.limit:
            if not self._idle:
                self.refused += 1
                self._report()
                return False
            victim = next(iter(self._idle))
            del self._idle[victim]
            self.evicted += 1
            self._report()
            victim.evict()
        self._idle[connection] = None
        return True

    def busy(self, connection: Evictable) -> None:
        """``connection`` has a request in progress: it is not evicted until it is idle again."""
        if self._idle.pop(connection, False) is None:
            self._busy[connection] = None

    def idle(self, connection: Evictable) -> None:
        """``connection`` has no request in progress: it joins the back of the idle line."""
        if self._busy.pop(connection, False) is None or self._idle.pop(connection, False) is None:
            self._idle[connection] = None

    def release(self, connection: Evictable) -> None:
        """``connection`` is closed (or refused): it no longer counts."""
        self._idle.pop(connection, None)
        self._busy.pop(connection, None)

    def _report(self) -> None:
        now = time.monotonic()
        if self._reported_at and now - self._reported_at < REPORT_SECONDS:
            return
        self._reported_at = now
        logger.warning(
            "%d connections open, the most allowed; so far %d idle connections closed to make "
            "room and %d connections refused (503)",
            self.open,
            self.evicted,
            self.refused,
        )
