"""Event data and metadata are JSON text, returned exactly as stored (as `dump_json` wrote it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain import EventInput, dump_json
from app.storage.protocol import EventStorageEngine
from tests.support.events import read

pytestmark = pytest.mark.anyio

OBJECTS: dict[str, dict[str, Any]] = {
    "empty": {},
    "unicode": {"name": "Zoë 🚀 日本語", "rtl": "שלום", "escape": 'quote " backslash \\'},
    "control characters": {"text": "line\nbreak\ttab \u0000 nul \u001f"},
    "nested": {"a": [1, {"b": [True, False, None]}], "c": {"d": {"e": {"f": []}}}},
    "big integers": {"above_64_bits": 2**64 + 1, "negative": -(2**70), "max_int64": 2**63 - 1},
    "floats": {"tenth": 0.1, "huge": 1e300, "tiny": -2.5e-300},
    "key order": {"z": 1, "a": 2, "m": {"y": 1, "b": 2}},
}
VALUES: dict[str, Any] = {
    **OBJECTS,
    "null": None,
    "true": True,
    "zero": 0,
    "big integer": 2**100,
    "string": "plain text",
    "empty string": "",
    "list": [1, "two", None, {"three": 3}],
    "empty list": [],
}


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
async def test_data_is_returned_unchanged(engine: EventStorageEngine, value: Any) -> None:
    raw = dump_json(value)
    await engine.append([EventInput(type="Happened", data=raw)])

    (event,) = (await read(engine)).events

    assert event.data == raw


@pytest.mark.parametrize("value", OBJECTS.values(), ids=OBJECTS.keys())
async def test_metadata_is_returned_unchanged(
    engine: EventStorageEngine, value: dict[str, Any]
) -> None:
    raw = dump_json(value)
    await engine.append([EventInput(type="Happened", metadata=raw)])

    (event,) = (await read(engine)).events

    assert event.metadata == raw


async def test_defaults_are_null_data_and_empty_metadata(engine: EventStorageEngine) -> None:
    await engine.append([EventInput(type="Happened")])

    (event,) = (await read(engine)).events

    assert (event.data, event.metadata) == ("null", "{}")


async def test_a_payload_with_integers_beyond_64_bits_is_written_like_any_other(
    engine: EventStorageEngine,
) -> None:
    """orjson refuses such integers, so `dump_json` writes them with the standard library: the
    same value, spelt as orjson spells every other payload (compact, characters kept)."""
    value = {"big": 2**64 + 1, "name": "Zoë 🚀", "list": [1, -(2**70)]}
    await engine.append([EventInput(type="Happened", data=dump_json(value))])

    (event,) = (await read(engine)).events

    assert json.loads(event.data) == value
    assert event.data == (
        '{"big":18446744073709551617,"name":"Zoë 🚀","list":[1,-1180591620717411303424]}'
    )
