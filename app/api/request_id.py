"""The request id that ties a client, the request log and every other line logged about a
request together.

It is the client's ``X-Request-ID`` when that is a plain identifier (`REQUEST_ID`: up to 128
letters, digits and ``._:-``, enough for UUIDs and trace ids, and nothing that could forge a
log line or a header), otherwise a new random one. `app.api.request_log` accepts or makes it
before anything else runs, keeps it in the request's scope and returns it in the response's
``X-Request-ID``; `request_id_of` reads it back for the service's other log lines
(`app.api.problems`). An unusable one is not echoed anywhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.types import Scope

HEADER = b"x-request-id"
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_KEY = "eventstore.request_id"


def accept(scope: Scope) -> str:
    """The request's id (the client's if usable, see above, or a new one), kept in ``scope``."""
    scope[_KEY] = request_id = _offered(scope.get("headers", ())) or uuid.uuid4().hex
    return request_id


def _offered(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == HEADER:
            text = value.decode("latin-1")
            return text if REQUEST_ID.fullmatch(text) else None
    return None


def request_id_of(connection: HTTPConnection) -> str | None:
    value = connection.scope.get(_KEY)
    return value if isinstance(value, str) else None
