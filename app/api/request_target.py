"""Request targets must be UTF-8 once percent-decoded: a pure ASGI middleware, 400 otherwise.

Starlette percent-decodes the path and the query string replacing what is not UTF-8 with U+FFFD
(uvicorn and urllib decode with ``errors="replace"``): after ``PUT /v1/snapshots/a/%FF``,
``GET /v1/snapshots/a/%FE`` returned that snapshot, two keys colliding, and a tag or a type in a
query string could match another's events the same way. No route may see such a replacement, so
a path or a query string whose percent-decoded bytes are not UTF-8 is refused before any route
runs, with a 400 problem naming which of the two it is (built by `app.api.problems`). Lone
surrogates (``%ED%A0%80``) are not UTF-8 either.

A target in plain ASCII without ``%``, nearly every request, costs two byte checks.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import problem_response


def _is_utf8(raw: bytes) -> bool:
    if raw.isascii() and b"%" not in raw:
        return True
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def undecodable(scope: Scope) -> str | None:
    """Which part of the request's target is not UTF-8 once percent-decoded, if one is."""
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and not _is_utf8(raw_path):
        return "path"
    if not _is_utf8(scope.get("query_string", b"")):
        return "query string"
    return None


class Utf8TargetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        part = undecodable(scope) if scope["type"] == "http" else None
        if part is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            400, detail=f"the {part} is not valid UTF-8 once percent-decoded"
        )
        await response(scope, receive, send)
