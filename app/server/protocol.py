"""`EdgeProtocol`: uvicorn's httptools protocol with the limits one client must not exceed.

uvicorn's protocols accept a head of any size and wait for a client forever: with httptools, a
150 MB header took the server 10-16 s of CPU per request for everyone (the parser appends each
piece of a header value to the bytes received so far, so the cost grows with the square of the
size), and a connection that sent nothing, or half a request line, stayed open until the client
went away. This subclass adds what is missing; the parsing, the ASGI cycle and the responses stay
uvicorn's own.

- **The head is bounded as it arrives.** While a request's line and headers are being received,
  at most `EdgeLimits.head_bytes` of them are fed to the parser; the request line is counted as
  its pieces are parsed (414 above ``max_request_line_bytes``) and the header fields as each is
  complete (431 above ``max_header_bytes``). A head that does not end within the budget is 431
  without the rest being read. A pipelined request that follows a body in the same read is
  counted from the next read on, so a head may take up to one read (256 KiB) more than the
  budget: a bound still, never the attack.
- **Every wait for the client is timed.** A fresh connection has ``header_timeout`` to send its
  first request's head (if it sent nothing, it is just closed); a later request has as long from
  its first byte; a body has ``body_timeout`` from the end of its head. Timers are armed only
  when a read leaves a head or a body incomplete, so a request that arrives in one read (nearly
  all) costs no timer. Between requests uvicorn's keep-alive timeout applies.
- **Connections are capped** (`app.server.connections`): a new connection beyond the cap evicts
  the longest idle one, or is answered 503 at once when every connection is busy.
- **Refusals are problems** (RFC 9457, built by `app.api.problems`) with ``Connection: close``,
  written before the request is read further. The connection is then half-closed and read (and
  the bytes dropped, up to `LINGER_DISCARD_BYTES`) for up to `LINGER_SECONDS` before it is
  closed: closing a socket with unread input resets it, and a reset can destroy the answer
  before the client reads it. At most `MAX_LINGERING` refused connections linger at once; the
  rest are closed at once. A refusal that follows a request still being answered (pipelined) is
  written once that answer is complete, since HTTP/1.1 answers in order.
- Invalid HTTP is a 400 problem too (uvicorn answered it in plain text).

Measured with ``scripts/bench`` (docs/reliability.md, "The HTTP edge"): what these checks cost
appends and reads, against uvicorn's own httptools and h11 protocols.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.api.problems import RETRY_AFTER_SECONDS, problem_response
from app.server.connections import ConnectionCap
from app.server.limits import MAX_LINGERING, EdgeLimits

logger = logging.getLogger(__name__)

LINGER_SECONDS = 1.0
"""How long a refused connection stays open for the client to read its answer."""
LINGER_DISCARD_BYTES = 65_536
"""How much a refused connection reads (and drops) while it lingers; then it stops reading."""
REQUEST_LINE_FRAME = len(b"  HTTP/1.1\r\n")
"""The request line's bytes beside its method and target."""
HEADER_FIELD_FRAME = len(b": \r\n")


class EdgeConfig(Config):
    """uvicorn's configuration, serving with `EdgeProtocol` under ``limits``."""

    def __init__(self, app: Any, *, limits: EdgeLimits, **options: Any) -> None:
        super().__init__(
            app, http=EdgeProtocol, ws="none", timeout_keep_alive=limits.keep_alive, **options
        )
        self.limits = limits
        self.cap = ConnectionCap(limits.max_connections, max_lingering=MAX_LINGERING)


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; the refusal is kept by the protocol."""


@lru_cache(maxsize=64)
def _refusal(status: int, detail: str, retry_after: bool) -> bytes:
    """The headers and body of a refusal (the status line and the default headers go first)."""
    headers = {"Connection": "close"}
    if retry_after:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response = problem_response(status, detail=detail, headers=headers)
    fields = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return fields + b"\r\n" + response.body


class EdgeProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, EdgeConfig):
            raise TypeError("EdgeProtocol serves under an EdgeConfig")
        self.limits = config.limits
        self.cap: ConnectionCap = config.cap
        self._in_head = True  # between requests, or receiving one's line and headers
        self._head_bytes = 0  # bytes of the current head fed to the parser
        self._line_bytes = 0
        self._field_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timing_body = False
        self._refusal: tuple[int, str] | None = None  # set by a parser callback
        self._refused = False
        self._deferred: tuple[int, str, bool] | None = None  # a refusal waiting for its turn
        self._lingering = False
        self._discarded = 0

    # --- the connection ---------------------------------------------------------------------

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        if self.cap.admit(self):
            self._arm(self.limits.header_timeout, self._head_timed_out, body=False)
        else:
            self._refuse(
                503, "the server has as many connections as it serves; retry", retry_after=True
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.cap.release(self)
        if self._lingering:
            self._lingering = False
            self.cap.lingering -= 1
        super().connection_lost(exc)

    def evict(self) -> None:
        """Closed to make room for a new connection (`ConnectionCap`): it was idle."""
        self._cancel_timer()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._refused:
            self._discard(len(data))
            return
        try:
            while data:
                if self._in_head:
                    room = self.limits.head_bytes - self._head_bytes
                    if room <= 0:
                        self._refuse(431, self._fields_too_long())
                        return
                    piece, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
                    self._head_bytes += len(piece)
                    self.parser.feed_data(piece)
                else:
                    self.parser.feed_data(data)
                    data = b""
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            status, detail = self._refusal or (400, "the request is not valid HTTP/1.1")
            self._refuse(status, detail)
            return
        self._watch()

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._line_bytes = self._field_bytes = 0

    def on_url(self, url: bytes) -> None:
        if not self._line_bytes:
            self._line_bytes = len(self.parser.get_method()) + REQUEST_LINE_FRAME
        self._line_bytes += len(url)
        if self._line_bytes > self.limits.max_request_line_bytes:
            self._refusal = (
                414,
                f"the request line is longer than {self.limits.max_request_line_bytes} bytes",
            )
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._field_bytes += len(name) + len(value) + HEADER_FIELD_FRAME
        if self._field_bytes > self.limits.max_header_bytes:
            self._refusal = (431, self._fields_too_long())
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self.cap.busy(self)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle
        if self.pipeline or cycle is None or not cycle.response_complete:
            return
        if self.transport.is_closing():
            return
        if self._deferred is not None:  # refused behind this request: its turn now
            self._unset_keepalive_if_required()
            self._answer(*self._deferred)
            self._deferred = None
        else:
            self.cap.idle(self)

    # --- timers -----------------------------------------------------------------------------

    def _watch(self) -> None:
        """After a read: time what is still on its way."""
        if not self._in_head:  # the body
            if not self._timing_body:
                self._arm(self.limits.body_timeout, self._body_timed_out, body=True)
        elif self._head_bytes:  # a head (the first one's timer runs from the connection's start)
            if self._timer is None or self._timing_body:
                self._arm(self.limits.header_timeout, self._head_timed_out, body=False)
        elif self._timer is not None:  # the request is in; the application answers it
            self._cancel_timer()

    def _arm(self, delay: float, callback: Callable[[], None], *, body: bool) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(delay, callback)
        self._timing_body = body

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timing_body = False

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._head_bytes:
            seconds = self.limits.header_timeout
            self._refuse(408, f"the request's line and headers did not arrive within {seconds:g} s")
        else:  # it never said a word
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._timer = None
        self._timing_body = False
        seconds = self.limits.body_timeout
        self._refuse(408, f"the request's body did not arrive within {seconds:g} s", current=True)

    # --- refusals ---------------------------------------------------------------------------

    def _fields_too_long(self) -> str:
        return f"the header fields are longer than {self.limits.max_header_bytes} bytes"

    def _refuse(
        self, status: int, detail: str, *, retry_after: bool = False, current: bool = False
    ) -> None:
        """Answer ``status`` and close. ``current``: the refusal is about the request whose
        cycle is in progress (its body timed out), whose application is cut off; otherwise a
        request in progress is answered first (HTTP/1.1 answers in order)."""
        if self._refused:
            return
        self._refused = True
        self._cancel_timer()
        self._unset_keepalive_if_required()
        self.cap.release(self)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        logger.info("%s - refused %d: %s", client, status, detail)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not current:
                self._deferred = (status, detail, retry_after)  # see on_response_complete
                return
            cycle.disconnected = True  # its reads end, and nothing more of it is written
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self._answer(status, detail, retry_after)

    def _answer(self, status: int, detail: str, retry_after: bool) -> None:
        """Write the refusal, then linger (see the module docstring) and close."""
        head = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        self.transport.write(b"".join(head) + _refusal(status, detail, retry_after))
        if self.cap.lingering >= self.cap.max_lingering or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.cap.lingering += 1
        self._lingering = True
        self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _discard(self, size: int) -> None:
        self._discarded += size
        if self._discarded > LINGER_DISCARD_BYTES:
            self.transport.pause_reading()
