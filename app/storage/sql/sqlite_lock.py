"""The SQLite writer lock across processes: a blocking ``flock`` on a file beside the store.

Several service processes may share one store file. SQLite serializes their writers itself, but
a writer that finds the write lock taken waits in SQLite's busy handler, which sleeps and looks
again (1, 2, 5, 10 ... up to 100 ms between looks), so it learns late that the lock was free:
with two processes appending, p99 went from 14 ms to 540 ms. So every write transaction of the
service first takes an exclusive ``flock`` on ``<store>-writer.lock`` and only then begins
``BEGIN IMMEDIATE``, which then finds SQLite's lock free. The kernel wakes a process blocked in
``flock`` the moment the holder releases it: no sleeping, no polling. (Not a POSIX lock on the
store itself: SQLite's own POSIX locks on that file would be released by ours, and ours by its.)

``flock`` cannot be interrupted, while a write must give up at its busy timeout and, at
shutdown, within a bounded time once abandoned (`runner.Commit`). So the blocking call runs in
a helper thread (one per store, started at the first contention), and the writer thread waits
for it on a condition, in slices of at most `GIVE_UP_SLICE` to notice abandonment:

- Uncontended, the writer takes the lock itself with ``LOCK_NB``: two system calls a batch.
- Contended, it asks the helper, which blocks in ``flock`` and, once it holds the lock, hands
  it to the writer if the writer still wants it, or releases it at once if the writer gave up
  meanwhile (timed out or abandoned): a lock arriving too late is never kept.
- A writer that wants the lock while the helper is still blocked for an earlier one that gave
  up takes that pending acquisition over instead of starting another.

**The writer's turn.** The group committer takes its batch only once the lock is this
process's (`SqliteRunner.writer_turn`, `group_commit.py`), so that every append that queued
while another process wrote goes into one commit: taken before the lock, the batch held only
what had queued until then, and the rest waited for a whole further round (two processes at 16
connections: 3.9 appends a batch against 8.0 for one process). The turn is taken on the event
loop with ``LOCK_NB`` when the lock is free, else in the writer thread as above; the writer's
next transaction then uses it (`hold`) and releases it as usual, and its busy timeout counts
from the turn's start. A turn no transaction used is released by `end_turn`.

``flock`` locks belong to the open file, so one descriptor per process (per runner) is all the
lock needs; the kernel drops it when the process dies (kill -9 included), so no stale lock
survives a crash. For the same reason the file is opened in `SqliteRunner.start`, in the process
that serves: a descriptor inherited across ``fork`` would share its lock with the parent. The
lock file is empty and is never removed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable

from app.errors import StorageUnavailable
from app.storage.sql.runner import Abandoned

logger = logging.getLogger(__name__)

GIVE_UP_SLICE = 0.05
"""The longest a writer waiting for the lock goes without noticing that it was abandoned."""

LOCKED = "SQLite: another process holds the store's write lock; nothing was stored, retry"


def lock_path(database_path: str) -> str:
    return f"{database_path}-writer.lock"


class WriterLock:
    """One process's side of the cross-process writer lock; used by one writer thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._changed = threading.Condition(threading.Lock())
        self._wanted = False  # the writer waits for the helper's acquisition
        self._held = False  # the writer holds the lock
        self._pending = False  # the helper is asked to, or blocked in, flock
        self._turn: float | None = None  # held for the writer's next transaction: its deadline
        self._closed = False
        self._helper: threading.Thread | None = None
        self.contended = 0
        """Acquisitions that had to wait for another process (for tests and figures)."""

    def open(self) -> None:
        """Open (creating) the lock file; raises OSError when it cannot be."""
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def hold(self, deadline: float, abandoned: Callable[[], bool]) -> float:
        """In the writer thread, for one transaction: use the turn taken for it, or else take
        the lock, waiting until the ``time.monotonic`` ``deadline``: raise StorageUnavailable
        past it, `Abandoned` as soon as ``abandoned()`` (checked every `GIVE_UP_SLICE`) is
        true, holding nothing in either case. Returns the deadline that bounds the
        transaction's waits: the turn's, or ``deadline``."""
        with self._changed:
            if self._turn is not None:
                deadline, self._turn = self._turn, None
                return deadline
            self._acquire(deadline, abandoned)
            return deadline

    def try_take_turn(self, deadline: float) -> bool:
        """On the event loop: take the writer's turn if the lock is free this moment, without
        waiting (``LOCK_NB``); whether this process now has a turn."""
        with self._changed:
            if self._turn is not None:  # one that no transaction used yet
                self._turn = deadline
                return True
            if self._held or self._pending or not self._try_flock():
                return False
            self._held = True
            self._turn = deadline
            return True

    def take_turn(self, deadline: float, abandoned: Callable[[], bool]) -> None:
        """In the writer thread: wait for the writer's turn as `hold` waits for the lock."""
        with self._changed:
            if self._turn is None:
                self._acquire(deadline, abandoned)
            self._turn = deadline

    def end_turn(self) -> None:
        """Release a turn that no transaction used; nothing if there is none."""
        with self._changed:
            if self._turn is not None:
                self._turn = None
                self._release()

    def _try_flock(self) -> bool:
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _acquire(self, deadline: float, abandoned: Callable[[], bool]) -> None:
        """Take the lock as `hold` does, under ``_changed``."""
        assert self._fd is not None
        assert not self._closed
        assert not self._held
        if not self._pending:
            if self._try_flock():
                self._held = True
                return
            self._pending = True
            self._start_helper()
            self._changed.notify_all()
        self.contended += 1
        self._wanted = True
        try:
            while not self._held:
                if abandoned():
                    raise Abandoned
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StorageUnavailable(LOCKED)
                self._changed.wait(min(left, GIVE_UP_SLICE))
        finally:
            self._wanted = False

    def release(self) -> None:
        with self._changed:
            self._release()

    def _release(self) -> None:
        if self._held:
            self._held = False
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file; a helper still blocked closes it when its ``flock`` returns."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            if self._fd is not None and not self._pending:
                os.close(self._fd)  # else the helper does, once its flock returns: the number
                self._fd = None  # must not be reused by another file while it is blocked on it

    def _start_helper(self) -> None:
        if self._helper is None:
            self._helper = threading.Thread(
                target=self._acquire_for_writer, name="sqlite-writer-lock", daemon=True
            )
            self._helper.start()

    def _acquire_for_writer(self) -> None:
        """The helper thread: block in ``flock`` whenever asked; hand the lock over or drop it."""
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if self._closed and not self._pending:
                    if self._fd is not None:  # closed while this thread was in flock
                        os.close(self._fd)
                        self._fd = None
                    return
                fd = self._fd
                assert fd is not None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as error:  # not expected; the writer times out and answers 503
                logger.warning("SQLite writer lock %s: %r", self.path, error)
                time.sleep(GIVE_UP_SLICE)
                with self._changed:
                    self._pending = False
                continue
            with self._changed:
                self._pending = False
                if self._closed:
                    os.close(fd)  # releases the lock
                    self._fd = None
                    return
                if self._wanted:
                    self._held = True
                    self._changed.notify_all()
                else:  # arrived too late: the writer gave up
                    fcntl.flock(fd, fcntl.LOCK_UN)
