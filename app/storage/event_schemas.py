"""JSON Schemas of event data: what makes a schema acceptable, and what an event's data must do.

Shared by every engine, so that they agree to the letter (like `idempotency.py`): an engine
keeps the registered schemas and calls `check_schema` before registering one, and
`violations` for the events it is about to store or already holds.

Deliberate choices:

- **Draft 2020-12, with jsonschema-rs.** A compiled validator checks an event's data in about a
  microsecond (measured: 0.8 µs for a two-property object); validators are compiled once per
  schema text and cached (`validator_of`). A schema that names another draft in ``$schema`` is
  refused: one dialect, the one documented.
- **Nothing is fetched.** A ``$ref`` to anything outside the schema itself is refused when the
  schema is registered (a retriever that refuses): a store must not reach out to the network
  because a client asked it to (and the schema would change behind its back).
- **Violations never echo the data**: the validator's messages name the offending value as
  ``[value]``; the pointer says where it is.
- Data and schemas holding integers beyond 64 bits are read exactly (jsonschema-rs reads
  Python's integers of any size; orjson would read them as floats): a bound of 2**70 refuses
  2**70 + 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson

from app.domain import EventInput, RawJson, Violation
from app.errors import InvalidSchema, SchemaViolation

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
MASK = "[value]"
_LONG_INTEGER = re.compile(r"\d{19,}")
"""orjson reads integers beyond 64 bits as floats: data holding one is read exactly instead."""
MAX_VIOLATIONS = 100
"""The most violations reported for one request: enough to fix, bounded in size."""


def _refuse_retrieval(uri: str) -> Any:
    """jsonschema-rs's retriever: refuses every document (its message ends up in the detail of
    the `InvalidSchema` that `validator_of` raises)."""
    raise LookupError(f"references to other documents are not allowed: {uri}")


def _pointer(path: Iterable[str | int]) -> str:
    """A JSON pointer (RFC 6901) of a path."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


@lru_cache(maxsize=1024)
def validator_of(schema: RawJson) -> jsonschema_rs.Draft202012Validator:
    """The compiled validator of a schema (its JSON text, as stored); raises `InvalidSchema`."""
    try:
        document = _parsed(schema)
    except ValueError as error:  # orjson's and the standard library's JSONDecodeError
        raise InvalidSchema("", f"not JSON: {error}") from error
    if not isinstance(document, dict | bool):
        raise InvalidSchema("", "a JSON Schema is an object (or true or false)")
    if isinstance(document, dict) and document.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise InvalidSchema("/$schema", f"only Draft 2020-12 is supported ({DRAFT_2020_12})")
    try:
        jsonschema_rs.meta.validate(document)
    except jsonschema_rs.ValidationError as error:  # the schema breaks the meta-schema
        raise InvalidSchema(_pointer(error.instance_path), error.message) from error
    try:
        return jsonschema_rs.Draft202012Validator(document, retriever=_refuse_retrieval, mask=MASK)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as error:
        reason = str(error).splitlines()[0]
        raise InvalidSchema("", f"a reference cannot be resolved: {reason}") from error


def check_schema(schema: RawJson) -> None:
    """Raise `InvalidSchema`, saying where and why, unless ``schema`` can be registered."""
    validator_of(schema)


def violations(
    schema: RawJson, data: Iterable[tuple[int, RawJson]], *, limit: int = MAX_VIOLATIONS
) -> list[Violation]:
    """Every violation of ``schema`` by the ``(event, data)`` given, at most ``limit``."""
    validator = validator_of(schema)
    found: list[Violation] = []
    for event, raw in data:
        instance = _parsed(raw)
        if validator.is_valid(instance):
            continue
        for error in validator.iter_errors(instance):
            found.append(Violation(event, _pointer(error.instance_path), error.message))
            if len(found) >= limit:
                return found
    return found


def _parsed(raw: RawJson) -> Any:
    return json.loads(raw) if _LONG_INTEGER.search(raw) else orjson.loads(raw)


def request_violations(
    events: Sequence[EventInput], schema_of: Mapping[str, RawJson]
) -> list[Violation]:
    """The violations of an append's events, each named by its index in the request, against
    ``schema_of`` (event type -> schema; types without one are not checked)."""
    if not schema_of:
        return []
    checked = [(index, event) for index, event in enumerate(events) if event.type in schema_of]
    found: list[Violation] = []
    for index, event in checked:
        schema = schema_of[event.type]
        if validator_of(schema).is_valid(_parsed(event.data)):
            continue  # the common case, without building the list of errors
        found += violations(schema, [(index, event.data)], limit=MAX_VIOLATIONS - len(found))
        if len(found) >= MAX_VIOLATIONS:
            break
    return found


def refuse_violations(events: Sequence[EventInput], schema_of: Mapping[str, RawJson]) -> None:
    """Raise `SchemaViolation` if an event of the append breaks its type's schema."""
    found = request_violations(events, schema_of)
    if found:
        raise SchemaViolation(found)
