"""`Supervisor`: several worker processes serving one address, for ``EVENTSTORE_WORKERS`` > 1.

Each worker is a process of its own with one thread and one event loop, serving through the
edge (`app.server.serve`) like the single process of ``EVENTSTORE_WORKERS=1``, which runs
without any of this.

Deliberate choices:

- **One listening socket per worker, with ``SO_REUSEPORT``**, so that the kernel spreads new
  connections over the workers by a hash of their addresses. With one socket shared by every
  worker, whichever worker's event loop wakes first accepts what is queued: against an idle
  service, connections opened at once often nearly all went to one worker. Measured against
  the service with two workers, idle after start, connections opened at once, seven trials (the
  split): one shared socket, 16 connections: 14/2 in five trials; 64: 58/6 at worst, 51/13 or
  worse in three. One socket each: 16: 11/5 at worst; 64: 38/26 at worst (docs/design.md,
  "Several processes per host").
  The supervisor makes the sockets (the first one picks the port when ``EVENTSTORE_PORT`` is
  0) and keeps them: a worker that is replaced takes over its predecessor's socket, so the
  connections queued on it are not lost.
- **Workers are forked**, after the modules are loaded and the start-up objects frozen out of
  garbage collection (`app.__main__`), so they share those pages and start at once; nothing
  else runs in the supervisor (no thread, no event loop) before it forks.
- **What the workers share**: the stream-ticket secret (one random secret made here when
  ``EVENTSTORE_STREAM_TICKET_SECRET`` is not set, handed over in memory, never logged), the
  limits table (`app.access.shared_limits`) and the metrics directory (`app.api.metrics`),
  which the supervisor makes and removes. Each worker has its own database connections (its
  pool, its writer) and its own connection cap (`app.server.limits`: files are per process).
- **Start-up**: the first worker starts alone, and the others once it accepts connections: it
  creates or migrates the schema, and on SQLite turns a new file to WAL, which two processes
  doing at once refused with "database is locked" (seen in a run of the tests here). The others
  then find the schema current, and start together. Each worker says when it accepts
  connections (a byte on a pipe). One that exits before that (its reason is its own last log
  lines) stops the service: every other worker is stopped and the supervisor exits 3, as
  uvicorn does when its application fails to start.
- **A worker that dies later is replaced**, and the reason logged: the others serve on, and a
  crash (the out-of-memory killer, a bug) costs only that worker's connections. The streams it
  held are cleared from the limits table first. A replacement that fails to start stops the
  service as above, so a fault that kills every worker does not loop forever.
- **A supervisor killed** (SIGKILL: it cannot act) takes its workers with it: each asked the
  kernel at its start for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), and so shuts
  down gracefully rather than serving on, orphaned, on the address.
- **Signals**: SIGTERM or SIGINT stops accepting, forwards SIGTERM to every worker, which shuts
  down gracefully within ``EVENTSTORE_SHUTDOWN_GRACE_SECONDS`` as a single process does; one
  still running `KILL_AFTER_SECONDS` after the grace is killed. The supervisor exits 0 when every
  worker ended cleanly, 1 otherwise. SIGHUP (reload the tokens) is forwarded to every worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import secrets
import selectors
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from app.access.control import SharedLimits
from app.access.shared_limits import SharedLimitsTable
from app.config import Settings

logger = logging.getLogger(__name__)

STARTUP_FAILURE = 3
"""The exit status when a worker fails to start (uvicorn's own)."""
KILL_AFTER_SECONDS = 5.0
"""Beyond the grace, how long a worker told to stop may take before it is killed."""
BACKLOG = 2048
"""Connections each listening socket queues (uvicorn's default)."""
_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


@dataclass(frozen=True)
class Worker:
    """What a worker process is given: its place, its socket, and the shared parts."""

    index: int
    sock: socket.socket
    settings: Settings
    limits: SharedLimits
    metrics_directory: Path
    ready: Callable[[], None]


RunWorker = Callable[[Worker], None]
"""Serves as ``worker`` until told to stop (in the worker's process)."""


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` with ``SO_REUSEPORT`` (``port`` 0: the
    first one's port for all)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass
class _Process:
    index: int
    pid: int
    ready_pipe: int  # read end; the worker writes one byte when it accepts connections
    ready: bool = False


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _clean_exit(status: int) -> bool:
    return os.waitstatus_to_exitcode(status) in (0, -signal.SIGTERM)


class Supervisor:
    def __init__(self, settings: Settings, run_worker: RunWorker, *, workers: int) -> None:
        self._settings = settings
        self._run_worker = run_worker
        self._count = workers
        self._processes: dict[int, _Process] = {}  # by pid
        self._signals: list[int] = []
        self._waiting: list[int] = []  # workers to start once the first accepts connections
        self._selector = selectors.DefaultSelector()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT, or until a worker fails to start; the exit status."""
        settings = self._settings
        sockets = listening_sockets(settings.host, settings.port, self._count)
        secret = settings.stream_ticket_secret or SecretStr(secrets.token_urlsafe(32))
        self._worker_settings = settings.model_copy(update={"stream_ticket_secret": secret})
        self._sockets = sockets
        self._table = SharedLimitsTable(self._count)
        self._metrics = Path(tempfile.mkdtemp(prefix="eventstore-metrics-"))
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(wake_read, selectors.EVENT_READ)
        previous = {number: signal.signal(number, self._note) for number in _HANDLED}
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        logger.info("%d worker processes, each with a listening socket of its own", self._count)
        try:
            status = self._serve(wake_read)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for number, handler in previous.items():
                signal.signal(number, handler)
            for sock in sockets:
                sock.close()
            os.close(wake_read)
            os.close(wake_write)
            self._table.close()
            shutil.rmtree(self._metrics, ignore_errors=True)
        return status

    def _note(self, number: int, _frame: FrameType | None) -> None:
        self._signals.append(number)

    def _serve(self, wake_read: int) -> int:
        self._start(0)  # alone: see the module docstring
        self._waiting = list(range(1, self._count))
        while True:
            for key, _ in self._selector.select():
                if key.fd == wake_read:
                    _drain(wake_read)
                else:
                    self._read_ready(key.fd)
            signals, self._signals = self._signals, []
            if signal.SIGTERM in signals or signal.SIGINT in signals:
                name = signal.Signals(signals[-1]).name
                logger.info("%s: stopping %d workers", name, len(self._processes))
                return self._stop()
            if signal.SIGHUP in signals:
                self._forward(signal.SIGHUP)
            failed = self._reap()
            if failed is not None:
                return failed

    def _start(self, index: int) -> None:
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(ready_read)
            self._become_worker(index, ready_write)
        os.close(ready_write)
        self._processes[pid] = _Process(index, pid, ready_read)
        self._selector.register(ready_read, selectors.EVENT_READ)

    def _become_worker(self, index: int, ready_write: int) -> None:
        """In the forked process: serve, then exit without returning to the supervisor's code."""
        status = 1
        supervisor = os.getppid()
        try:
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(number, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the tokens reloader takes it
            _stop_with(supervisor)
            self._selector.close()
            for process in self._processes.values():
                if process.ready_pipe >= 0:
                    os.close(process.ready_pipe)
            for position, sock in enumerate(self._sockets):
                if position != index:
                    sock.close()

            def ready() -> None:
                os.write(ready_write, b"!")
                os.close(ready_write)

            # uvicorn raises SIGTERM again once it has shut down: it ends here, not the process.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self._run_worker(
                Worker(
                    index=index,
                    sock=self._sockets[index],
                    settings=self._worker_settings,
                    limits=SharedLimits(self._table, index),
                    metrics_directory=self._metrics,
                    ready=ready,
                )
            )
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            logger.exception("worker %d failed", index)
        finally:
            logging.shutdown()
            os._exit(status)

    def _read_ready(self, fd: int) -> None:
        process = next(p for p in self._processes.values() if p.ready_pipe == fd)
        try:
            said = os.read(fd, 1)
        except OSError:
            said = b""
        self._selector.unregister(fd)
        os.close(fd)
        process.ready_pipe = -1
        if said:
            process.ready = True
            waiting, self._waiting = self._waiting, []
            for index in waiting:
                self._start(index)
            if all(p.ready for p in self._processes.values()):
                logger.info("%d workers accept connections", len(self._processes))

    def _reap(self) -> int | None:
        """Deal with the workers that exited; the exit status of the service if it must stop."""
        while self._processes:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            process = self._processes.pop(pid, None)
            if process is None:
                continue
            if process.ready_pipe >= 0:
                self._selector.unregister(process.ready_pipe)
                os.close(process.ready_pipe)
            if not process.ready:
                logger.error(
                    "worker %d (pid %d) failed to start (%s): stopping the service",
                    process.index,
                    pid,
                    _describe_status(status),
                )
                self._stop()
                return STARTUP_FAILURE
            logger.error(
                "worker %d (pid %d) died (%s); starting another in its place",
                process.index,
                pid,
                _describe_status(status),
            )
            self._table.clear_worker(process.index)
            self._start(process.index)
        return None

    def _forward(self, number: int) -> None:
        for process in self._processes.values():
            if process.ready or number == signal.SIGTERM:
                _signal(process.pid, number)

    def _stop(self) -> int:
        """Stop every worker (SIGTERM, then SIGKILL after the grace); the exit status."""
        for sock in self._sockets:
            sock.close()  # the workers' own copies stay open until they shut down
        self._forward(signal.SIGTERM)
        deadline = time.monotonic() + self._settings.shutdown_grace_seconds + KILL_AFTER_SECONDS
        clean = True
        while self._processes:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if time.monotonic() > deadline:
                    for process in self._processes.values():
                        logger.error("worker %d did not stop in time: killed", process.index)
                        _signal(process.pid, signal.SIGKILL)
                    deadline = float("inf")
                time.sleep(0.02)
                continue
            stopped = self._processes.pop(pid, None)
            if stopped is not None and stopped.ready and not _clean_exit(status):
                logger.error("worker %d stopped with %s", stopped.index, _describe_status(status))
                clean = False
        return 0 if clean else 1


_PR_SET_PDEATHSIG = 1


def _stop_with(supervisor: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies (killed with SIGKILL,
    it cannot stop its workers itself), so that no worker is left serving on its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("this worker will not stop by itself if the supervisor is killed")
    if os.getppid() != supervisor:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 512):
                return
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            raise
