"""Browsers on other origins: CORS for the configured ones, a log line for the others.

Deliberate choices:

- CORS only with ``EVENTSTORE_CORS_ORIGINS``, outermost, so that even a problem answer carries
  the headers a browser needs to read it. Credentials are allowed, so origins are always named,
  never ``*`` (`app.config`).
- A page on an origin that is not allowed fails in the browser with a CORS error the service
  never sees. So the first request from each such origin is logged at info level, once: the
  operator learns which origin to add. Same-origin requests (a page the service serves itself
  sends ``Origin`` on POST) are not refusals. At most `MAX_REMEMBERED` origins are remembered,
  so that a client inventing origins cannot grow the process; past that, nothing more is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 1000
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Last-Event-ID",
    "X-Correlation-ID",
    "X-Causation-ID",
]
EXPOSED_HEADERS = ["Idempotent-Replayed", "Retry-After", "WWW-Authenticate", "X-Request-ID"]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RefusedOriginLog:
    def __init__(self, app: ASGIApp, *, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)
        self.logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(self.logged) < MAX_REMEMBERED:
            origin = _header(scope, b"origin")
            if origin is not None and origin not in self.allowed and origin not in self.logged:
                own = f"{scope.get('scheme', 'http')}://{_header(scope, b'host') or ''}"
                if origin != own:
                    self.logged.add(origin)
                    logger.info(
                        "a browser page on origin %r called the service; that origin is not in "
                        "EVENTSTORE_CORS_ORIGINS, so the browser keeps the answers from the page "
                        "(logged once per origin)",
                        origin[:200],
                    )
        await self.app(scope, receive, send)


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """Add CORS for ``origins`` and the log of the others (call after every other middleware:
    these become the outermost)."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )
    app.add_middleware(RefusedOriginLog, allowed=origins)
