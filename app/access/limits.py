"""Per-token limits: open streams (per token and in total) and the rate of appends.

Deliberate choices:

- Counted in the process, like the streams themselves: with several instances, each enforces
  its own limits (a balancer spreading clients evenly multiplies them by the instance count).
  The worker processes of one service share theirs (`app.access.shared_limits`).
- Streams are counted from the moment the request is accepted to the moment its response ends,
  however it ends. The total limit holds in the open mode too (every stream is ``anonymous``'s
  there); the per-token limit only for tokens.
- Appends are limited by a token bucket per token: ``rate`` requests a second on average, up to
  ``burst`` at once. A refused request says, in ``Retry-After``, when the next one will be
  accepted. The open mode has no rate limit: there is no one to tell apart.
- Refusals raise `TooManyRequests`, a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.access.tokens import ANONYMOUS, Principal
from app.errors import TooManyRequests

STREAM_RETRY_AFTER_SECONDS = 5
"""Streams end when their clients go; nothing says when. A few seconds is a fair guess."""


class Slot(Protocol):
    """One open stream's hold on the limits."""

    def release(self) -> None:
        """Give the slot back; idempotent."""


class StreamSlots:
    def __init__(self, *, total: int, per_token: int) -> None:
        self.total = total
        self.per_token = per_token
        self._open: dict[str, int] = {}
        self._count = 0

    @property
    def open_streams(self) -> int:
        return self._count

    def acquire(self, principal: Principal) -> StreamSlot:
        if self._count >= self.total:
            raise TooManyRequests(
                f"the service has {self.total} streams open, its limit; retry later",
                retry_after=STREAM_RETRY_AFTER_SECONDS,
            )
        held = self._open.get(principal.name, 0)
        if principal is not ANONYMOUS and held >= self.per_token:
            raise TooManyRequests(
                f"this token has {self.per_token} streams open, its limit; close one first",
                retry_after=STREAM_RETRY_AFTER_SECONDS,
            )
        self._open[principal.name] = held + 1
        self._count += 1
        return StreamSlot(self, principal.name)

    def _release(self, name: str) -> None:
        self._count -= 1
        left = self._open[name] - 1
        if left:
            self._open[name] = left
        else:
            del self._open[name]


@dataclass
class StreamSlot:
    """One open stream; `release` is idempotent."""

    _slots: StreamSlots
    _name: str
    _released: bool = field(default=False)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots._release(self._name)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class AppendRate:
    """A token bucket per token name: ``rate`` appends a second, ``burst`` at once."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, principal: Principal) -> None:
        now = self._clock()
        bucket = self._buckets.get(principal.name)
        if bucket is None:
            bucket = self._buckets[principal.name] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / self.rate
            raise TooManyRequests(
                f"this token is over its rate of {self.rate:g} appends a second",
                retry_after=max(1, math.ceil(wait)),
            )
        bucket.tokens -= 1.0
