"""The limits of `app.access.limits` held for the whole service when several worker processes
serve it: one table in shared memory, which every worker reads and writes under one lock.

Deliberate choices:

- **Shared memory and a kernel lock.** The supervisor makes the table (an anonymous memory file,
  ``memfd_create``, mapped by every worker it forks), so nothing is left on disk and nothing
  needs a server of its own. Every check and change takes a POSIX record lock (``lockf``) on
  that file: the kernel releases it if its holder dies, so a worker killed in the middle cannot
  wedge the others (a semaphore would stay taken). It is held for a few microseconds, never
  across an ``await``, by a process with one thread: taking it on the event loop is safe.
- **A row per token name, a column per worker.** A row holds the token's append bucket (tokens
  left, time of the last update: ``time.monotonic``, one clock for every process of the host)
  and how many streams each worker has open for it; the header holds each worker's total of
  open streams. A worker that dies cannot release what it held, so the supervisor clears its
  column (`SharedLimitsTable.clear_worker`) before a replacement takes its place.
- Rows are found by a 64-bit hash of the token name with linear probing, and never removed:
  names come only from the configured tokens (a ticket carries its token's name), so they are
  few. Each process remembers where each name's row is. If the table were ever full (more than
  `ROWS` - 1 names over the service's life), further names share its first row, and so share
  one bucket and one stream count: stricter, never looser.
- Cost, counted with callgrind (``python -m bench.per_request``): an append's rate check
  12,700 instructions, against 4,200 for the in-process bucket of a single process (the two
  ``fcntl`` calls and the packing); opening and closing a stream 29,700 against 6,200 (the
  total is summed over the workers' columns). A few microseconds per append.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.access.limits import STREAM_RETRY_AFTER_SECONDS
from app.access.tokens import ANONYMOUS, Principal
from app.errors import TooManyRequests

ROWS = 16_384
"""Rows of the table: token names it can tell apart (the memory is only used as rows are)."""
_KEY = struct.Struct("<Q")
_BUCKET = struct.Struct("<dd")  # tokens left, updated (monotonic seconds)
_COUNT = struct.Struct("<q")
_ROW_HEAD = _KEY.size + _BUCKET.size


def _key(name: str) -> int:
    """A nonzero 64-bit key for ``name`` (0 marks an empty row)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return _KEY.unpack(digest)[0] or 1


class SharedLimitsTable:
    """The table of ``workers`` columns; made by the supervisor before it forks the workers."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._counts = struct.Struct(f"<{workers}i")
        self._row_size = -(-(_ROW_HEAD + self._counts.size) // 8) * 8
        self._rows_at = _COUNT.size * workers
        size = self._rows_at + self._row_size * ROWS
        self._fd = os.memfd_create("eventstore-limits", os.MFD_CLOEXEC)
        os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._where: dict[str, int] = {}  # name -> its row's offset, in this process

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def lock(self) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN)

    # --- under the lock ---------------------------------------------------------------------

    def row(self, name: str, *, burst: float, now: float) -> int:
        """The offset of ``name``'s row, made (with a full bucket) if it has none yet."""
        offset = self._where.get(name)
        if offset is not None:
            return offset
        key = _key(name)
        start = key % (ROWS - 1) + 1  # row 0 is where names go when the table is full
        for probe in range(ROWS - 1):
            offset = self._rows_at + self._row_size * ((start - 1 + probe) % (ROWS - 1) + 1)
            found = _KEY.unpack_from(self._map, offset)[0]
            if found == key:
                break
            if found == 0:
                _KEY.pack_into(self._map, offset, key)
                _BUCKET.pack_into(self._map, offset + _KEY.size, burst, now)
                break
        else:
            offset = self._rows_at
        self._where[name] = offset
        return offset

    def bucket(self, offset: int) -> tuple[float, float]:
        tokens, updated = _BUCKET.unpack_from(self._map, offset + _KEY.size)
        return tokens, updated

    def set_bucket(self, offset: int, tokens: float, updated: float) -> None:
        _BUCKET.pack_into(self._map, offset + _KEY.size, tokens, updated)

    def streams_of(self, offset: int) -> int:
        return sum(self._counts.unpack_from(self._map, offset + _ROW_HEAD))

    def add_stream(self, offset: int, worker: int, change: int) -> None:
        at = offset + _ROW_HEAD + 4 * worker
        (held,) = struct.unpack_from("<i", self._map, at)
        struct.pack_into("<i", self._map, at, held + change)
        at = _COUNT.size * worker
        (total,) = _COUNT.unpack_from(self._map, at)
        _COUNT.pack_into(self._map, at, total + change)

    def total_streams(self) -> int:
        return sum(_COUNT.unpack_from(self._map, _COUNT.size * w)[0] for w in range(self.workers))

    # --- the supervisor ---------------------------------------------------------------------

    def clear_worker(self, worker: int) -> None:
        """Forget the streams ``worker`` held: it died without releasing them."""
        self.lock()
        try:
            _COUNT.pack_into(self._map, _COUNT.size * worker, 0)
            for row in range(ROWS):
                offset = self._rows_at + self._row_size * row
                if _KEY.unpack_from(self._map, offset)[0] or row == 0:
                    struct.pack_into("<i", self._map, offset + _ROW_HEAD + 4 * worker, 0)
        finally:
            self.unlock()


class SharedStreamSlots:
    """`app.access.limits.StreamSlots` for the whole service, as worker ``worker``."""

    def __init__(self, table: SharedLimitsTable, worker: int, *, total: int, per_token: int):
        self.total = total
        self.per_token = per_token
        self._table = table
        self._worker = worker

    @property
    def open_streams(self) -> int:
        """Open in the whole service."""
        table = self._table
        table.lock()
        try:
            return table.total_streams()
        finally:
            table.unlock()

    def acquire(self, principal: Principal) -> SharedStreamSlot:
        table = self._table
        table.lock()
        try:
            if table.total_streams() >= self.total:
                raise TooManyRequests(
                    f"the service has {self.total} streams open, its limit; retry later",
                    retry_after=STREAM_RETRY_AFTER_SECONDS,
                )
            row = table.row(principal.name, burst=0.0, now=0.0)
            if principal is not ANONYMOUS and table.streams_of(row) >= self.per_token:
                raise TooManyRequests(
                    f"this token has {self.per_token} streams open, its limit; close one first",
                    retry_after=STREAM_RETRY_AFTER_SECONDS,
                )
            table.add_stream(row, self._worker, 1)
        finally:
            table.unlock()
        return SharedStreamSlot(self, row)

    def _release(self, row: int) -> None:
        table = self._table
        table.lock()
        try:
            table.add_stream(row, self._worker, -1)
        finally:
            table.unlock()


@dataclass
class SharedStreamSlot:
    """One open stream; `release` is idempotent."""

    _slots: SharedStreamSlots
    _row: int
    _released: bool = field(default=False)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots._release(self._row)


class SharedAppendRate:
    """`app.access.limits.AppendRate` for the whole service: one bucket per token name."""

    def __init__(
        self,
        table: SharedLimitsTable,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._table = table
        self._clock = clock

    def take(self, principal: Principal) -> None:
        table = self._table
        burst = float(self.burst)
        table.lock()
        try:
            now = self._clock()
            row = table.row(principal.name, burst=burst, now=now)
            tokens, updated = table.bucket(row)
            if updated == 0.0:  # the row was made by a stream: its bucket starts full now
                tokens = burst
            tokens = min(burst, tokens + max(0.0, now - updated) * self.rate)
            if tokens < 1.0:
                table.set_bucket(row, tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise TooManyRequests(
                    f"this token is over its rate of {self.rate:g} appends a second",
                    retry_after=max(1, math.ceil(wait)),
                )
            table.set_bucket(row, tokens - 1.0, now)
        finally:
            table.unlock()
