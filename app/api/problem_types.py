"""The problem types of the API: what each means and what to do about it.

Every problem body names its ``type``, a URI relative to the service (``/problems/validation``);
the service answers that URI with a page built from this catalogue (`app.api.routes.pages`), so
that whoever meets a problem can look it up where they met it. `app.api.problems` builds the
bodies; docs/api.md lists the same types.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str
    remedy: str

    @property
    def uri(self) -> str:
        return PREFIX + self.slug


VALIDATION = ProblemType(
    "validation",
    422,
    "Invalid request",
    "The request does not have the shape the API documents: a field is missing, unknown, of "
    "the wrong type or out of range, or the body is not valid JSON. The `errors` member lists "
    "each finding with `loc` (where: body, query, path or header, then the field), `msg` and "
    "`type`. Nothing was stored.",
    "Correct the request; sent again unchanged, it gets the same answer. The OpenAPI document "
    "(/docs) shows every field.",
)
APPEND_CONDITION_FAILED = ProblemType(
    "append-condition-failed",
    409,
    "Append condition failed",
    "An event matching the append condition's query was stored after `condition.after`: the "
    "decision was made on facts that have changed since. Nothing was stored. `head` is the "
    "position of the last stored event, `conflicting_position` the first event that matched.",
    "Read the events of the decision's query again, decide again with what is new, and append "
    "with the new read's `marker` as `condition.after`.",
)
EVENT_ID_REUSED = ProblemType(
    "event-id-reused",
    422,
    "Event id reused",
    "An event id of the request is already stored, and the request is not an exact repeat of "
    "the append that stored it (the same events, with the same ids, in the same order, with the "
    "same content). Nothing was stored.",
    "Give new events new ids. To retry an append whose answer was lost, send exactly the same "
    "request again, with the same X-Correlation-ID and X-Causation-ID headers: it is answered "
    "with its original positions (200, Idempotent-Replayed: true).",
)
PAYLOAD_TOO_LARGE = ProblemType(
    "payload-too-large",
    413,
    "Payload too large",
    "The request is over a size limit of the service: its body has more bytes than "
    "EVENTSTORE_MAX_BODY_BYTES, or the append more events than EVENTSTORE_MAX_EVENTS_PER_APPEND. "
    "Nothing was stored.",
    "Send fewer or smaller events per request. Appends of separate requests are not atomic "
    "together: split only what may be stored separately.",
)
NOT_FOUND = ProblemType(
    "not-found",
    404,
    "Not found",
    "No route matches the method and path, or the snapshot asked for is not stored.",
    "Check the path against the OpenAPI document (/docs); paths have no trailing slash. A "
    "missing snapshot is not an error of the store: read from the events instead.",
)
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed",
    405,
    "Method not allowed",
    "The path exists, but not with this method.",
    "Use one of the methods the `Allow` header lists.",
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The request has a body that is not JSON by its Content-Type.",
    "Send the body as JSON with Content-Type: application/json.",
)
UNAUTHORIZED = ProblemType(
    "unauthorized",
    401,
    "Unauthorized",
    "The service has tokens configured, and the request had none, a malformed Authorization "
    "header, a token the service does not know, or an expired stream ticket.",
    "Send Authorization: Bearer <token>, with a token from the service's operator. A browser's "
    "EventSource, which cannot send headers, uses a stream ticket (POST /v1/stream-tickets).",
)
FORBIDDEN = ProblemType(
    "forbidden",
    403,
    "Forbidden",
    "The token is known, but lacks the scope this operation needs; `scope` names it (read, "
    "append, snapshot or metrics).",
    "Use a token that has that scope, or ask the operator to grant it.",
)
TOO_MANY_REQUESTS = ProblemType(
    "too-many-requests",
    429,
    "Too many requests",
    "A limit of the token or of the service was reached: open streams, or appends a second.",
    "Wait the seconds the Retry-After header says, then retry; close streams you no longer read.",
)
WRITE_REFUSED = ProblemType(
    "write-refused",
    422,
    "Write refused",
    "The database refused to store the request's rows for a reason of its own: a constraint or "
    "trigger its operator added, which the service does not know. Nothing was stored.",
    "Ask the operator of the database what it refuses; sent again unchanged, the request is "
    "refused again.",
)

EVENT_SCHEMA_VIOLATION = ProblemType(
    "event-schema-violation",
    422,
    "Event schema violation",
    "Events of the append do not satisfy the JSON Schema registered for their type. "
    "`violations` names each: `event` (its index in the request), `pointer` (where in its "
    "data, a JSON pointer) and `message`. Nothing of the append was stored.",
    "Correct the events' data; GET /v1/event-types/{type}/schema shows the schema.",
)
STORED_EVENTS_VIOLATE_SCHEMA = ProblemType(
    "stored-events-violate-schema",
    409,
    "Stored events violate the schema",
    "Events already stored do not satisfy the schema offered for their type, so it was not "
    "registered. `violations` names the first of them: `position`, `pointer` (where in its "
    "data) and `message`.",
    "Correct the schema so that it admits what was stored, or register it for the events "
    "appended from now on only (`?check_stored=false`): stored events are never changed.",
)

CATALOGUE: dict[str, ProblemType] = {
    problem.slug: problem
    for problem in (
        VALIDATION,
        APPEND_CONDITION_FAILED,
        EVENT_ID_REUSED,
        PAYLOAD_TOO_LARGE,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        UNSUPPORTED_MEDIA_TYPE,
        UNAUTHORIZED,
        FORBIDDEN,
        TOO_MANY_REQUESTS,
        WRITE_REFUSED,
        EVENT_SCHEMA_VIOLATION,
        STORED_EVENTS_VIOLATE_SCHEMA,
    )
}
