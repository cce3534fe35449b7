"""Query-string models, parsed the way FastAPI parses them, without its per-request machinery.

A route that takes its query parameters as one pydantic model (``params: Annotated[Model,
Query()]``, as ``GET /v1/events`` does) keeps that declaration: FastAPI documents each field as a
parameter in the OpenAPI document from it. But FastAPI also re-derives, on every request, which
fields are lists and under which names they arrive, and solves the route's dependencies around
it: a fifth of a one-tag read went there. `QueryModel` derives that once per model, and
`app.api.direct_route` calls such routes without FastAPI's request handler.

What a request's query string becomes is exactly what FastAPI builds before it validates the
model (FastAPI's ``_request_param_model_to_args`` over Starlette's ``QueryParams``):

- the query string is decoded as Latin-1 and split with ``urllib.parse.parse_qsl`` keeping
  blank values, as Starlette does (``%``-escapes are UTF-8; `app.api.request_target` has already
  refused those that are not);
- a list field (``type``, ``tag``) gets every value of its name, in order; any other field the
  last value of its name; a name no field has is passed on as an extra (its one value, or the
  list of them when repeated), which the models forbid;
- fields come first, in the model's order, then the extras, in the order they first appear.

The model then validates that dictionary, and its errors are located under ``query`` as
FastAPI's are: every refusal (its status, problem type, detail and ``errors``) is unchanged.
`tests/api/test_query_parameters.py` checks this against FastAPI itself, on generated query
strings.

Only models whose fields arrive under one name each (their alias, or their name) are parsed
here: no ``AliasChoices`` or ``AliasPath``, no ``populate_by_name``. `QueryModel` refuses any
other model when the route is built.
"""

from __future__ import annotations

import types
from collections import abc
from typing import Any, Generic, TypeVar, Union, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_OTHER_COLLECTIONS = (tuple, set, frozenset, abc.Sequence, abc.Set, abc.Collection, abc.Iterable)


def _is_list(annotation: Any, where: str) -> bool:
    """Whether a field of this type takes every value of its name (FastAPI's "sequence")."""
    origin = get_origin(annotation)
    if origin is list:
        return True
    if origin is Union or origin is types.UnionType:
        return any(_is_list(arg, where) for arg in get_args(annotation))
    if origin in _OTHER_COLLECTIONS or annotation in (list, *_OTHER_COLLECTIONS):
        raise TypeError(f"{where}: a repeatable query parameter must be a list[...]")
    return False


class QueryModel(Generic[M]):
    """Parses query strings into ``model``; built once per route."""

    def __init__(self, model: type[M]) -> None:
        config = model.model_config
        if config.get("populate_by_name") or config.get("validate_by_name"):
            raise TypeError(f"{model.__name__}: query models are validated by alias only")
        self.model = model
        self._lists: set[str] = set()
        self._names: list[str] = []
        for name, field in model.model_fields.items():
            alias = field.validation_alias if field.validation_alias is not None else field.alias
            if alias is not None and not isinstance(alias, str):
                raise TypeError(f"{model.__name__}.{name}: one name per query parameter")
            key = alias or name
            self._names.append(key)
            if _is_list(field.annotation, f"{model.__name__}.{name}"):
                self._lists.add(key)

    def values(self, query_string: bytes) -> dict[str, Any]:
        """What FastAPI would have the model validate for ``query_string``."""
        grouped: dict[str, list[str]] = {}
        for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if key in grouped:
                grouped[key].append(value)
            else:
                grouped[key] = [value]
        values: dict[str, Any] = {}
        for key in self._names:
            if key in grouped:
                given = grouped.pop(key)
                values[key] = given if key in self._lists else given[-1]
        for key, given in grouped.items():
            values[key] = given[0] if len(given) == 1 else given
        return values

    def parse(self, query_string: bytes) -> M:
        """The model of ``query_string``; a `RequestValidationError` located under ``query``."""
        try:
            return self.model.model_validate(self.values(query_string))
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
            ) from None
