"""A TCP proxy in threads, standing for a load balancer in front of service replicas: it
forwards each connection to the current target port, and ``switch`` points it at another
replica, either cutting the open connections or leaving them open and silent (what a client
sees when a balancer or a network path drops its traffic without a reset).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType

HOST = "127.0.0.1"


@dataclass
class _Connection:
    client: socket.socket
    upstream: socket.socket
    silent: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        for end in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._connections: list[_Connection] = []
        self._every: list[_Connection] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            connection = _Connection(client, upstream)
            with self._lock:
                self._connections.append(connection)
                self._every.append(connection)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(connection, source, sink), daemon=True
                ).start()

    @staticmethod
    def _pump(connection: _Connection, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not connection.silent.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        connection.close()

    def switch(self, target_port: int, *, silently: bool) -> None:
        """Send new connections to ``target_port``; the open ones are cut, or (``silently``)
        stay open and carry nothing more either way."""
        self.target_port = target_port
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            if silently:
                connection.silent.set()
            else:
                connection.close()

    def close(self) -> None:
        self._listener.close()
        self._accepting.join(timeout=5)
        with self._lock:
            every, self._every, self._connections = self._every, [], []
        for connection in every:
            connection.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
