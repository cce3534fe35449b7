"""Examples of the OpenAPI document: one story, the course subscriptions of the DCB examples.

Swagger UI fills "Try it out" with the first example of a body, so the first ones must succeed
every time they are sent: no event ids (a second send would be a replay) and no condition (a
second send would conflict). The conditional and idempotent appends come next, as they are
used. Responses show what a client really gets, from the same story.
"""

from __future__ import annotations

from typing import Any

Example = dict[str, Any]
_COURSE = ["course:c1"]
_SUBSCRIPTION_TAGS = ["course:c1", "student:s1"]
_DECISION_QUERY = {"items": [{"types": ["CourseDefined", "StudentSubscribed"], "tags": _COURSE}]}
_RECORDED = "2026-01-01T09:30:00.123456Z"


def _event(position: int, event_type: str, data: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "position": position,
        "id": f"3f6c1a52-7b1e-4f0a-9d1e-6a0c5b9e8d{position:02d}",
        "type": event_type,
        "data": data,
        "tags": tags,
        "metadata": {},
        "recorded_at": _RECORDED,
    }


_DEFINED = _event(1, "CourseDefined", {"course_id": "c1", "capacity": 10}, _COURSE)
_SUBSCRIBED = _event(
    2, "StudentSubscribed", {"course_id": "c1", "student_id": "s1"}, _SUBSCRIPTION_TAGS
)

APPEND: dict[str, Example] = {
    "append": {
        "summary": "Append an event",
        "value": {
            "events": [
                {
                    "type": "CourseDefined",
                    "data": {"course_id": "c1", "capacity": 10},
                    "tags": _COURSE,
                }
            ]
        },
    },
    "decision": {
        "summary": "Append a decision, under the condition of the read it was based on",
        "description": "Refused with 409 if an event of the course was stored after position "
        "1, the marker of the read: send it twice to see the conflict.",
        "value": {
            "events": [
                {
                    "type": "StudentSubscribed",
                    "data": {"course_id": "c1", "student_id": "s1"},
                    "tags": _SUBSCRIPTION_TAGS,
                }
            ],
            "condition": {"fail_if_events_match": _DECISION_QUERY, "after": 1},
        },
    },
    "idempotent": {
        "summary": "Append with event ids, safe to retry",
        "description": "Sent again unchanged, it is answered 200 with its first positions.",
        "value": {
            "events": [
                {
                    "id": "8d0f5c3e-2a4b-4e6f-9a1b-3c5d7e9f1a2b",
                    "type": "StudentUnsubscribed",
                    "data": {"course_id": "c1", "student_id": "s1"},
                    "tags": _SUBSCRIPTION_TAGS,
                }
            ]
        },
    },
}

APPENDED: dict[str, Example] = {"stored": {"value": {"positions": [2], "last_position": 2}}}
REPLAYED: dict[str, Example] = {"replayed": {"value": {"positions": [3], "last_position": 3}}}

READ: dict[str, Example] = {
    "everything": {"summary": "Every event, from the start", "value": {}},
    "decision": {
        "summary": "The events a decision needs",
        "value": {"query": _DECISION_QUERY},
    },
    "next page": {
        "summary": "The next page: after the last marker",
        "value": {"query": _DECISION_QUERY, "after": 2, "limit": 100},
    },
    "from a snapshot": {
        "summary": "Only the events after a snapshot",
        "value": {
            "query": _DECISION_QUERY,
            "snapshot": {"name": "course-state", "key": "c1"},
        },
    },
    "newest first": {
        "summary": "The ten newest events",
        "value": {"backwards": True, "limit": 10},
    },
}

_PAGE = {"events": [_DEFINED, _SUBSCRIBED], "marker": 2, "head": 2, "has_more": False}
_SNAPSHOT = {
    "name": "course-state",
    "key": "c1",
    "position": 1,
    "state": {"capacity": 10, "subscribed": 0},
    "metadata": {"version": 1},
    "stored_at": _RECORDED,
}

READ_RESULTS: dict[str, Example] = {
    "events": {"summary": "A read", "value": {**_PAGE, "snapshot": None}},
    "from a snapshot": {
        "summary": "A read from a snapshot",
        "value": {
            "events": [_SUBSCRIBED],
            "marker": 2,
            "head": 2,
            "has_more": False,
            "snapshot": _SNAPSHOT,
            "snapshot_due": False,
        },
    },
}
LIST_RESULTS: dict[str, Example] = {"events": {"value": {**_PAGE, "snapshot": None}}}

SNAPSHOT_PUT: dict[str, Example] = {
    "snapshot": {
        "summary": "The state of course c1 folded up to position 1",
        "value": {"position": 1, "state": {"capacity": 10, "subscribed": 0}, "metadata": {}},
    }
}
SNAPSHOT: dict[str, Example] = {"snapshot": {"value": _SNAPSHOT}}
HEAD: dict[str, Example] = {"head": {"value": {"head": 2}}}
TICKET: dict[str, Example] = {
    "ticket": {
        "value": {"ticket": "eyJ0Ijoid3JpdGVyIiwiZSI6MTc2NzI2MDIwMH0.aGk", "expires_in": 300}
    }
}

STREAM = (
    ": ping - 2026-01-01 09:30:15.000000+00:00\n\n"
    f'id: 2\ndata: {{"position":2,"id":"{_SUBSCRIBED["id"]}","type":"StudentSubscribed",'
    '"data":{"course_id":"c1","student_id":"s1"},"tags":["course:c1","student:s1"],'
    f'"metadata":{{}},"recorded_at":"{_RECORDED}"}}\n\n'
)
"""A heartbeat, then one message: its ``data`` is an `Event` on one line."""

EVENT_TYPES: dict[str, Example] = {
    "types": {
        "value": {
            "event_types": [
                {
                    "type": "CourseDefined",
                    "count": 1,
                    "first_position": 1,
                    "last_position": 1,
                    "has_schema": True,
                },
                {
                    "type": "StudentSubscribed",
                    "count": 1,
                    "first_position": 2,
                    "last_position": 2,
                    "has_schema": False,
                },
            ]
        }
    }
}
TAGS: dict[str, Example] = {
    "tags": {
        "value": {
            "tags": [{"tag": "course:c1", "count": 2}, {"tag": "student:s1", "count": 1}],
            "has_more": False,
        }
    }
}
STATS: dict[str, Example] = {
    "stats": {
        "value": {
            "events": 2,
            "head": 2,
            "first_recorded_at": _RECORDED,
            "last_recorded_at": _RECORDED,
            "database_bytes": 4263936,
        }
    }
}
_COURSE_SCHEMA = {
    "type": "object",
    "properties": {
        "course_id": {"type": "string"},
        "capacity": {"type": "integer", "minimum": 1},
    },
    "required": ["course_id", "capacity"],
}
SCHEMA_PUT: dict[str, Example] = {
    "course": {"summary": "The data of CourseDefined", "value": _COURSE_SCHEMA}
}
EVENT_SCHEMA: dict[str, Example] = {
    "schema": {
        "value": {"type": "CourseDefined", "schema": _COURSE_SCHEMA, "registered_at": _RECORDED}
    }
}
