"""Routes called without FastAPI's request handler, when FastAPI would have nothing to solve.

Most of the service's routes take the `Request` and, at most, one model of query parameters
(`app.api.state` explains why they declare no dependencies), and answer with a `Response` they
build themselves. For such a route FastAPI's request handler still solves the dependencies
on every request (exit stacks, the endpoint's context for error messages, the query model's
fields re-derived from the model, see `app.api.query_parameters`) only to call the endpoint with
the request and the parsed model and hand back the response it made. `direct_handler` builds a
handler that does just that, once, when the route is built; the route class
(`app.api.json_body.StrictJsonRoute`) uses it for every route that qualifies and FastAPI's own
handler for the others (bodies, path or header parameters, anything else).

The declaration is unchanged, so FastAPI still writes the OpenAPI document from it: the
parameters of the model, each with its schema, exactly as before. The route runs inside the
same middleware and the same ``request_response`` wrapper as before; errors raised by the
endpoint or by the query model reach the same problem handlers. An endpoint that returned
anything but a `Response` would be a programming error here (FastAPI would have serialised it):
the handler raises `TypeError`, which the tests of every route would show.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from inspect import iscoroutinefunction
from typing import Any

from fastapi import Request, Response, params
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from app.api.query_parameters import QueryModel

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _query_model(dependant: Dependant) -> tuple[str, QueryModel[BaseModel]] | None:
    """The endpoint's argument name and the parser of its one query model, if it has one."""
    (field,) = dependant.query_params
    info = field.field_info
    model = info.annotation
    if type(info) is not params.Query or not isinstance(model, type):
        return None
    if not issubclass(model, BaseModel):
        return None
    return field.name, QueryModel(model)


def direct_handler(dependant: Dependant) -> Handler | None:
    """A handler calling the endpoint of ``dependant`` directly, or None when FastAPI has more
    to do than pass the request and one query model (see the module docstring)."""
    endpoint = dependant.call
    if (
        endpoint is None
        or not iscoroutinefunction(endpoint)
        or dependant.path_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.dependencies
        or len(dependant.query_params) > 1
        or dependant.websocket_param_name is not None
        or dependant.http_connection_param_name is not None
        or dependant.response_param_name is not None
        or dependant.background_tasks_param_name is not None
        or dependant.security_scopes_param_name is not None
    ):
        return None
    query = _query_model(dependant) if dependant.query_params else None
    if dependant.query_params and query is None:
        return None
    request_name = dependant.request_param_name

    async def handler(request: Request) -> Response:
        arguments: dict[str, Any] = {}
        if query is not None:
            name, parser = query
            arguments[name] = parser.parse(request.scope["query_string"])
        if request_name is not None:
            arguments[request_name] = request
        response = await endpoint(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{endpoint.__qualname__} must return a Response")
        return response

    return handler
