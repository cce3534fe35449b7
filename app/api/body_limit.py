"""A pure ASGI middleware that refuses request bodies over ``max_body_bytes`` with a 413 problem.

Deliberate choices:

- A declared ``Content-Length`` above the limit is refused at once, before the application
  runs or a byte of the body is read.
- Otherwise the bytes are counted as they are received, whatever the framing (chunked or not,
  or a ``Content-Length`` that lies): the message that crosses the limit raises
  `PayloadTooLarge` from ``receive``, so at most the limit plus one network chunk is ever held.
  The route class reads the body first (`app.api.json_body`), so the error reaches the problem
  handlers like any other; should it escape them, this middleware answers the 413 itself,
  unless a response has already started.
- The response itself comes from `app.api.problems`, the one place that builds problems.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_for
from app.errors import PayloadTooLarge


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is over the limit of {self.max_body_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge as exc:
            if response_started:
                raise
            await self._refuse(scope, receive, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: PayloadTooLarge) -> None:
        response = problem_for(Request(scope), exc)
        await response(scope, receive, send)
