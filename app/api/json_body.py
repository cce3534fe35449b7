"""Request bodies are strict JSON: `StrictJsonRoute`, the route class of every API router.

Deliberate choices:

- Bodies are parsed with orjson, which refuses what is not JSON and what the store could not keep
  unchanged: ``NaN``/``Infinity`` and numbers that overflow to infinity (the standard library
  accepts them, and they would come back as ``null``), lone surrogate escapes such as
  ``"\\ud800"`` (not encodable as UTF-8), invalid UTF-8, nesting deeper than 1024. Any of these is
  a 422 validation problem, like other malformed JSON.
- A body nesting deeper than ``MAX_DEPTH`` (254) levels is refused too: orjson reads 1024 levels
  but writes at most 254; deeper payloads went to the standard library's encoder
  (`app.domain.dump_json`), which overflowed Python's recursion limit near 1000 levels (a 500).
  One rule, what orjson writes, replaces that ragged edge. Only a body holding more than
  ``MAX_DEPTH`` brackets is checked, by writing it once in C: about 10 µs for a 100-event
  append, against the 60 µs of parsing it.
- orjson reads integers beyond 64 bits as floats, silently rounding them. A body holding a run
  of 19 or more digits is therefore parsed once more with the standard library, which keeps
  integers exact (the text has already been proven strict JSON by orjson, so both parsers agree
  on everything else). `app.domain.dump_json` writes such integers back unchanged.
- A body sent with a ``Content-Type`` other than JSON (``application/json`` or ``*/*+json``) is a
  415 problem that says so, rather than a confusing "input should be an object". The header is
  read as FastAPI reads it, with `email.message.Message`'s rules, in a few string operations
  instead of building a ``Message`` per request: a one-event append went from 2.53 to 2.48
  million instructions (`bench/request_cost.py`, callgrind). A test compares both on generated
  header values.
- The body is parsed here, before FastAPI sees it, so that malformed JSON is a 422 validation
  problem at ``["body"]`` naming the line and column (FastAPI's own says a byte offset).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from app.api.direct_route import direct_handler
from app.api.request_limits import limits_scope
from app.api.state import limits_of
from app.errors import UnsupportedMediaType

_LONG_DIGIT_RUN = re.compile(rb"\d{19,}")
MAX_DEPTH = 254
"""The deepest nesting orjson writes (`app.domain.dump_json` stores payloads with it)."""


def _refuse_deep_nesting(body: bytes, value: Any) -> None:
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        if "recursion" in str(error).lower():
            raise json.JSONDecodeError(f"nesting deeper than {MAX_DEPTH} levels", "", 0) from None


def loads_strict(body: bytes) -> Any:
    """Parse one JSON document; raise `json.JSONDecodeError` unless it is strict JSON."""
    value = orjson.loads(body)  # orjson.JSONDecodeError is a json.JSONDecodeError
    _refuse_deep_nesting(body, value)
    if _LONG_DIGIT_RUN.search(body):
        value = json.loads(body)
    return value


def is_json_content_type(content_type: str | None) -> bool:
    """Whether a body sent with ``content_type`` is JSON: ``application/json`` or
    ``application/*+json``, in any case, whatever its parameters."""
    if not content_type:
        return False
    # What email.message.Message says of the header (FastAPI's own check), in its own steps:
    # the part before the first ";", stripped, in lower case; anything but one "/" is
    # text/plain. A Starlette header value is Latin-1 text, never holding the surrogates for
    # which email.message would wrap the value first.
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.count("/") != 1:
        return False
    main, subtype = media_type.split("/")
    return main == "application" and (subtype == "json" or subtype.endswith("+json"))


class StrictJsonRequest(Request):
    def parse(self, body: bytes) -> None:
        """Parse ``body`` (this request's) once; malformed JSON is a 422 that says where."""
        try:
            self._json = loads_strict(body)
        except json.JSONDecodeError as error:
            where = f" at line {error.lineno}, column {error.colno}" if error.doc else ""
            raise RequestValidationError(
                [
                    {
                        "loc": ("body",),
                        "msg": f"invalid JSON: {error.msg}{where}",
                        "type": "json_invalid",
                    }
                ]
            ) from error

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self.parse(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = direct_handler(self.dependant) or super().get_route_handler()
        expects_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            strict = StrictJsonRequest(request.scope, request.receive)
            if expects_body:
                try:
                    body = await strict.body()
                except ClientDisconnect as exc:
                    raise HTTPException(400, "the client disconnected while sending") from exc
                if body:
                    content_type = strict.headers.get("content-type")
                    if not is_json_content_type(content_type):
                        raise UnsupportedMediaType(content_type)
                    strict.parse(body)
            with limits_scope(limits_of(request)):
                return await handler(strict)

        return strict_handler
