"""Wake-ups for readers waiting on new commits within this process."""

from __future__ import annotations

import asyncio
import contextlib


class CommitSignal:
    """Remembers the highest committed position seen and wakes everyone waiting past it."""

    def __init__(self, head: int = 0) -> None:
        self.head = head
        self._changed = asyncio.Event()

    def notify(self, head: int) -> None:
        if head > self.head:
            self.head = head
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait(self, after: int, timeout: float) -> int:
        """Return the head as soon as it passes ``after``, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.head <= after:
                    await self._changed.wait()
        return self.head
