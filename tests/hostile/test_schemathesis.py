"""Schemathesis against the service's own OpenAPI document, over ASGI.

Every operation of ``/openapi.json`` is tested with requests generated from the document, valid
ones and invalid ones (``mode = all``), in the phases examples, coverage (boundary values, every
documented and undocumented status the document suggests) and fuzzing, on three apps of the
in-memory engine:

- ``open``: no tokens configured (the default of a fresh install);
- ``guarded``: tokens configured, requests carry a token with every scope; schemathesis'
  ``ignored_auth`` check also sends each request without a token and with a forged one and
  requires 401;
- ``read_only``: tokens configured, the token has scope ``read`` only, so appends, snapshot
  writes and metrics are 403.

Every response must pass all of schemathesis' response checks: ``not_a_server_error`` (no 5xx),
``status_code_conformance`` (each status returned is documented for the operation),
``content_type_conformance``, ``response_schema_conformance``, ``response_headers_conformance``,
``negative_data_rejection`` (a request that violates the document is a 4xx),
``positive_data_acceptance`` (one that conforms is not refused as malformed),
``missing_required_header``, ``unsupported_method``, ``allow_header_conformance``,
``ignored_auth``, ``use_after_free``, ``ensure_resource_availability``.

Exceptions, each because the check does not apply, not to make it pass:

- ``open``: ``ignored_auth`` is off, and security parameters are not generated. An open service
  accepts every request whatever its ``Authorization`` header, by design (API.md: "With no
  tokens configured the service is open"), while the one committed document declares the
  security of a guarded deployment. The guarded apps run these checks.
- ``positive_data_acceptance`` forgives exactly two 422s, which depend on the store's state,
  not on the request, so that no document can foresee them (both are in API.md):
  ``/problems/event-id-reused`` (the generator reuses an event id with other content) and the
  validation error ``position_beyond_head`` (a snapshot ``position`` above the head). Every
  other refusal of a schema-valid request fails the test (`forgive_state_dependent_refusals`).
- ``GET /v1/events/stream``: ``positive_data_acceptance`` is off. Two of its documented rules
  cannot be put into parameter schemas: ``query`` is a JSON-encoded Query (a string to any
  schema), and ``query`` excludes ``type``/``tag``. A schema-valid ``?query=x`` or
  ``?query={"items":[]}&type=A`` is rightly a 422 (tests/stream/test_parameters.py). Every other
  check runs on the stream. The ASGI transport of schemathesis keeps what an event stream sent
  until the request timeout and then cancels it, so a ``live=true`` stream costs one timeout
  (``STREAM_TIMEOUT``) and no more.

Bounded and reproducible: at most ``EXAMPLES`` fuzzed examples per operation (the coverage phase
adds its deterministic boundary cases), a fixed seed (schemathesis derives one per operation
from it), and Hypothesis' example database off, so that every run generates the same requests.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.hooks import HookContext
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.schemas import BaseSchema

from app.main import create_app
from tests.support.api import make_settings

SEED = 20_260_601
EXAMPLES = 20
STREAM_PATH = "/v1/events/stream"
STREAM_TIMEOUT = 0.25
"""Seconds a generated stream request may run (a live stream is cut there, see above)."""
REQUEST_TIMEOUT = 5.0
FULL_TOKEN = "hostile-full-token"
READ_TOKEN = "hostile-read-token"
TOKENS = {
    FULL_TOKEN: ["read", "append", "snapshot", "metrics"],
    READ_TOKEN: ["read"],
}

STREAM_EXCEPTION: dict[str, Any] = {
    "include-operation-id": "stream_events",
    "checks": {"positive_data_acceptance": {"enabled": False}},
}

pytestmark = pytest.mark.filterwarnings(
    # Hypothesis' example database is off on purpose (reproducible runs); it says so.
    "ignore::hypothesis.errors.HypothesisWarning",
)


def config(**project: Any) -> SchemathesisConfig:
    generation: dict[str, Any] = {"mode": "all", "max-examples": EXAMPLES}
    generation.update(project.pop("generation", {}))
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": generation,
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": REQUEST_TIMEOUT,
            "operations": [STREAM_EXCEPTION],
            **project,
        }
    )


def load(app: FastAPI, project: SchemathesisConfig) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=project)


open_schema = load(
    create_app(make_settings()),
    config(
        generation={"with-security-parameters": False},
        checks={"ignored_auth": {"enabled": False}},
    ),
)
guarded_schema = load(
    create_app(make_settings(api_tokens=TOKENS)),
    config(auth={"openapi": {"bearerAuth": {"bearer": FULL_TOKEN}}}),
)
read_only_schema = load(
    create_app(make_settings(api_tokens=TOKENS)),
    config(auth={"openapi": {"bearerAuth": {"bearer": READ_TOKEN}}}),
)


def state_dependent_refusal(response: Response) -> bool:
    """The response is one of the two documented refusals that depend on the store's state."""
    if response.status_code != 422:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if body.get("type") == "/problems/event-id-reused":
        return True
    errors = body.get("errors")
    return (
        body.get("type") == "/problems/validation"
        and isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and e.get("type") == "position_beyond_head" for e in errors)
    )


def forgive_state_dependent_refusals(
    context: HookContext, failure: Failure, case: Any, response: Response
) -> bool:
    """A ``filter_failure`` hook: keep every failure but `state_dependent_refusal`."""
    return not (isinstance(failure, RejectedPositiveData) and state_dependent_refusal(response))


for _schema in (open_schema, guarded_schema, read_only_schema):
    _schema.hook("filter_failure")(forgive_state_dependent_refusals)

SETTINGS = hypothesis.settings(database=None, deadline=None, derandomize=False)


def call_and_validate(case: Any) -> None:
    timeout = STREAM_TIMEOUT if case.path == STREAM_PATH else REQUEST_TIMEOUT
    case.call_and_validate(timeout=timeout)


@open_schema.parametrize()
@SETTINGS
def test_open_service_conforms_to_its_document(case: Any) -> None:
    call_and_validate(case)


@guarded_schema.parametrize()
@SETTINGS
def test_guarded_service_conforms_to_its_document(case: Any) -> None:
    call_and_validate(case)


@read_only_schema.parametrize()
@SETTINGS
def test_read_only_token_conforms_to_the_document(case: Any) -> None:
    call_and_validate(case)
