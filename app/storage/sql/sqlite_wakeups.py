"""Wake-ups between processes sharing one SQLite store: local datagram sockets, never data.

A stream in one process follows commits made by another through this `CommitFeed`
(`runner.py`): each process binds a Unix datagram socket in ``<store>-wakeups/`` beside the
store file, named after its pid and a random suffix, and after each of its commits sends the
last position committed (decimal text) to every other socket there. A process receiving one
pokes its engine, which re-reads the head; the engine's poll of the head, about once a second,
still covers whatever is lost. Deliberate choices:

- **Sockets, not polling.** Measured (`bench/sqlite_processes.py`: from an append returning in
  process A to the engine of process B returning the new head), the sockets wake B in
  0.7-1.0 ms at the median (p99 1.4-6.6 ms), and an idle process spends on them one ``stat``
  every `CHECK_SECONDS`. Polling ``PRAGMA data_version`` every millisecond woke in 0.8-1.1 ms
  at the median but cost an idle process 4-5% of a core (every 5 ms: 1-2.8 ms, 2.2-2.5%), in
  every process, all the time. inotify on the WAL is no commit signal: it fires
  on every page written, before the commit is visible, and on checkpoints.
- **Announcing never blocks nor fails an append.** `announce` sends with ``MSG_DONTWAIT`` from
  the event loop: a peer whose queue is full already has a wake-up waiting, so the datagram is
  dropped; any other error is logged at debug level. The peers are the directory's entries,
  listed again only when the directory changed (its mtime, or a change in the last second,
  finer than the clock that stamps it).
- **Stale sockets are removed by the senders**: a socket file nobody is bound to any more (a
  process killed with -9 leaves its file) refuses the datagram, and the sender removes it.
- **Long paths**: a socket's address is limited to about 100 bytes, so the sockets are addressed
  through ``/proc/self/fd/<directory>/`` where Linux offers it.
- **The directory** is created with mode 0700: only the store's owner may wake its processes.
  When it cannot be created or bound (a read-only folder, another owner's directory), the feed
  logs one warning and stays silent, trying again quietly at every check: streams meanwhile see
  other processes' commits through the poll, about a second late.
- **Supervised**: every `CHECK_SECONDS` the feed checks that its socket file is still its own (an
  operator may clean the folder); if not, it binds a new one and wakes the engine with no
  position, since commits announced meanwhile went nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
"""How often a feed checks that its socket is still in the directory."""
RECENT_NS = 1_000_000_000
"""A directory changed this recently may have changed again within the same mtime tick."""
SUFFIX = ".sock"

Wake = Callable[[int | None], None]


def wakeup_directory(database_path: str) -> str:
    return f"{database_path}-wakeups"


class SqliteCommitFeed:
    """`app.storage.sql.runner.CommitFeed` over datagram sockets in a directory beside the store."""

    def __init__(self, database_path: str) -> None:
        self.directory = wakeup_directory(database_path)
        self._wake: Wake | None = None
        self._dir_fd: int | None = None
        self._base = ""  # how socket names in the directory are addressed
        self._sock: socket.socket | None = None
        self._name = ""
        self._inode = 0
        self._peers: list[str] = []
        self._listed_mtime = -1
        self._check: asyncio.TimerHandle | None = None
        self.sent = 0
        """Datagrams sent so far (for tests and figures)."""

    @property
    def listening(self) -> bool:
        return self._sock is not None

    @property
    def name(self) -> str:
        """This process's socket in the directory ("" when not listening)."""
        return self._name

    async def start(self, wake: Wake) -> None:
        self._wake = wake
        try:
            self._open()
        except OSError as error:
            self._close_socket()
            logger.warning(
                "SQLite wake-ups: cannot listen in %s (%s); streams see commits of other "
                "processes on this store by the poll of the head, about a second late",
                self.directory,
                error,
            )
        self._schedule_check()

    async def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        self._close_socket()
        self._wake = None

    def announce(self, position: int) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            peers = self._current_peers()
        except OSError as error:
            logger.debug("SQLite wake-ups: cannot list %s: %r", self.directory, error)
            return
        payload = str(position).encode()
        for peer in peers:
            address = self._base + peer
            try:
                sock.sendto(payload, socket.MSG_DONTWAIT, address)
                self.sent += 1
            except BlockingIOError:
                pass  # its queue is full: it has a wake-up waiting already
            except ConnectionRefusedError:  # nobody bound to it: its process is gone
                self._remove_stale(peer)
            except FileNotFoundError:
                self._listed_mtime = -1
            except OSError as error:
                logger.debug("SQLite wake-ups: sending to %s: %r", peer, error)

    # --- the socket ---

    def _open(self) -> None:
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.directory, 0o700)
        self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        proc = f"/proc/self/fd/{self._dir_fd}/"
        self._base = proc if os.path.isdir(proc) else self.directory + "/"
        self._bind()

    def _bind(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            name = f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
            sock.bind(self._base + name)
        except BaseException:
            sock.close()
            raise
        self._sock, self._name = sock, name
        self._inode = os.stat(name, dir_fd=self._dir_fd).st_ino
        self._listed_mtime = -1
        asyncio.get_running_loop().add_reader(sock.fileno(), self._receive)

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(self._name, dir_fd=self._dir_fd)
        self._name = ""
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def _receive(self) -> None:
        sock = self._sock
        if sock is None:
            return
        highest: int | None = -1
        while True:
            try:
                payload = sock.recv(32)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                logger.debug("SQLite wake-ups: receiving: %r", error)
                break
            text = payload.decode("ascii", "replace")
            if highest is not None:
                highest = max(highest, int(text)) if text.isdecimal() else None
        if highest != -1 and self._wake is not None:
            self._wake(highest)

    def _current_peers(self) -> list[str]:
        assert self._dir_fd is not None
        mtime = os.fstat(self._dir_fd).st_mtime_ns
        if mtime != self._listed_mtime or time.time_ns() - mtime < RECENT_NS:
            self._peers = [
                name
                for name in os.listdir(self._base)
                if name.endswith(SUFFIX) and name != self._name
            ]
            self._listed_mtime = mtime
        return self._peers

    def _remove_stale(self, peer: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(peer, dir_fd=self._dir_fd)
        self._listed_mtime = -1

    # --- supervision ---

    def _schedule_check(self) -> None:
        self._check = asyncio.get_running_loop().call_later(CHECK_SECONDS, self._check_socket)

    def _check_socket(self) -> None:
        listening = self._sock is not None
        if listening:
            try:
                if os.stat(self._name, dir_fd=self._dir_fd).st_ino == self._inode:
                    self._schedule_check()
                    return
            except OSError:
                pass
            logger.warning(
                "SQLite wake-ups: the socket in %s was removed; listening anew", self.directory
            )
        self._close_socket()
        try:
            self._open()
        except OSError as error:
            self._close_socket()
            if listening:  # said once; tried again at every check, quietly
                logger.warning("SQLite wake-ups: cannot listen in %s (%s)", self.directory, error)
        else:
            if self._wake is not None:
                self._wake(None)  # announcements meanwhile went nowhere
        self._schedule_check()
