"""`serve(app, settings)`: run an ASGI app with uvicorn behind the HTTP edge, until SIGTERM.

Deliberate choices:

- uvicorn, with its httptools protocol extended by `app.server.protocol.EdgeProtocol`, rather
  than its h11 protocol (which bounds the head, but neither the time to send it nor the
  connections, and parses in Python) or another server: the figures are in
  docs/reliability.md, "The HTTP edge". WebSocket upgrades are off: the service has none.
- **Shutdown with a deadline for the application.** On SIGTERM uvicorn stops accepting, lets
  open requests finish for ``EVENTSTORE_SHUTDOWN_GRACE_SECONDS``, then cancels what is left: a
  request cancelled so is answered 500 by uvicorn, whatever it was doing. `EdgeServer` first
  tells the application (``on_shutdown``) the moment, `ANSWER_MARGIN_SECONDS` before the end of
  the grace, by which its requests must be answered; the application abandons what its
  database has not done by then and answers 503 (`app.main.ShutdownNotice`), so nothing is left
  to cancel.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from app.config import Settings
from app.server.limits import EdgeLimits, raise_open_file_limit
from app.server.protocol import EdgeConfig

logger = logging.getLogger(__name__)

ANSWER_MARGIN_SECONDS = 0.5
"""Of the grace, what is left to write the answers after the application's deadline."""


class EdgeServer(uvicorn.Server):
    def __init__(
        self,
        config: EdgeConfig,
        *,
        on_shutdown: Callable[[float], None] | None = None,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_shutdown is not None:
            grace = self.config.timeout_graceful_shutdown or 0
            loop = asyncio.get_running_loop()
            self._on_shutdown(loop.time() + max(0.0, grace - ANSWER_MARGIN_SECONDS))
        await super().shutdown(sockets)


def serve(
    app: Any,
    settings: Settings,
    *,
    on_shutdown: Callable[[float], None] | None = None,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on ``settings.host:port`` (or on the listening socket ``sock``) until
    SIGTERM or SIGINT; ``on_shutdown`` is told the event-loop time by which the application
    must have answered every request, ``on_started`` that the server accepts connections."""
    limits = EdgeLimits.of(settings, open_files=raise_open_file_limit())
    config = EdgeConfig(
        app,
        limits=limits,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # the handlers of app.logs; uvicorn's levels only
        access_log=False,  # the request log (app.api.request_log) replaces it
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    logger.info("HTTP edge: %s", limits.describe())
    server = EdgeServer(config, on_shutdown=on_shutdown, on_started=on_started)
    server.run(sockets=None if sock is None else [sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
