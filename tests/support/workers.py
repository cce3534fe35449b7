"""Which worker process of a service holds a connection, found from /proc (the API says nothing
of its processes), and blocking keep-alive connections whose owner a test can choose."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

HOST = "127.0.0.1"


def worker_pids(supervisor: int) -> list[int]:
    """The processes the supervisor ``supervisor`` runs now."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_for_workers(supervisor: int, count: int, *, seconds: float = 20.0) -> list[int]:
    """The supervisor's ``count`` worker processes, once it runs that many."""
    deadline = time.monotonic() + seconds
    while True:
        pids = worker_pids(supervisor)
        if len(pids) == count:
            return pids
        assert time.monotonic() < deadline, f"workers: {pids}, not {count}"
        time.sleep(0.05)


def serving_workers(supervisor: int, port: int, count: int) -> list[int]:
    """The supervisor's ``count`` workers, once each has answered a request."""
    pids = wait_for_workers(supervisor, count)
    for pid in pids:
        connection_to(port, pid, pids).close()
    return pids


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def owners(server_port: int, client_ports: list[int], pids: list[int]) -> list[int | None]:
    """The process among ``pids`` that holds the server side of the connection from each of
    ``client_ports`` (None: none of them)."""
    inodes: dict[int, int] = {}  # client port -> inode of the server's side
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if inode and int(local.split(":")[1], 16) == server_port:
            inodes[int(remote.split(":")[1], 16)] = inode
    holders = {inode: pid for pid in pids for inode in _socket_inodes(pid)}
    return [holders.get(inodes.get(port, -1)) for port in client_ports]


def owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process among ``pids`` that holds the connection from ``client_port``."""
    return owners(server_port, [client_port], pids)[0]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One blocking keep-alive connection to ``HOST:port``; `close_all` closes every one still
    open (a test's fixture calls it)."""

    _open: ClassVar[list[Connection]] = []

    def __init__(self, port: int, sock: socket.socket | None = None) -> None:
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=30) if sock is None else sock
        self._buffer = b""
        Connection._open.append(self)

    @classmethod
    def at_once(cls, port: int, count: int) -> list[Connection]:
        """``count`` connections opened together (every SYN sent before any is accepted), as
        a client pool does when it starts."""
        sockets = [socket.socket() for _ in range(count)]
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex((HOST, port))
        _, writable, _ = select.select([], sockets, [], 30)
        assert len(writable) == count, f"{len(writable)} of {count} connected"
        for sock in sockets:
            sock.settimeout(30)
        return [cls(port, sock) for sock in sockets]

    @classmethod
    def close_all(cls) -> None:
        for connection in cls._open:
            connection.sock.close()
        cls._open.clear()

    @property
    def client_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def close(self) -> None:
        self.sock.close()

    def send(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(raw)}"]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + raw)

    def head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._buffer:
            data = self.sock.recv(65536)
            assert data, "the connection was closed"
            self._buffer += data
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0][9:12]), headers

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> Answer:
        """Send a request and read its whole answer (Content-Length framing)."""
        self.send(method, target, headers, body)
        status, fields = self.head()
        length = int(fields.get("content-length", "0"))
        while len(self._buffer) < length:
            data = self.sock.recv(65536)
            assert data, "the connection was closed"
            self._buffer += data
        answer, self._buffer = self._buffer[:length], self._buffer[length:]
        return Answer(status, fields, answer)


def connection_to(port: int, pid: int, pids: list[int], *, attempts: int = 200) -> Connection:
    """A connection served by the worker ``pid`` (the kernel spreads them by address: new ones
    are opened until one lands there)."""
    for _ in range(attempts):
        connection = Connection(port)
        assert connection.request("GET", "/healthz").status == 200
        if owner(port, connection.client_port, pids) == pid:
            return connection
        connection.close()
    raise AssertionError(f"no connection reached worker {pid} in {attempts} attempts")
