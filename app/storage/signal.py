"""Wake-ups for readers waiting on new commits.

`notify(head)` is for commits whose position is known (made by this process, or read from the
database). `poke()` is for a hint that something may have been committed elsewhere, without a
trustworthy position (a PostgreSQL notification, a reconnected listener): it marks the head
stale and wakes the waiters, and the engine re-reads the head from the database. A poke is
remembered until the engine has looked, so a hint that arrives while nobody waits is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib


class CommitSignal:
    """Remembers the highest committed position seen and wakes everyone waiting past it."""

    def __init__(self, head: int = 0) -> None:
        self.head = head
        self.stale = False
        """Set by `poke`: the database may hold commits past ``head``; cleared by whoever
        re-reads the head."""
        self._changed = asyncio.Event()

    def notify(self, head: int) -> None:
        if head > self.head:
            self.head = head
            self._wake()

    def poke(self) -> None:
        """Another process may have committed: wake the waiters so that they look."""
        self.stale = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, after: int, timeout: float) -> int:
        """Return the head as soon as it passes ``after`` or the signal is poked, or after
        ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.head <= after and not self.stale:
                    await self._changed.wait()
        return self.head
