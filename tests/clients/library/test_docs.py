"""Every Python snippet of docs/clients.md and of the README runs, as written, against a real
service.

The snippets of the library's guide run in order in one namespace, as a reader would type them
into one session, against a fresh service on an empty in-memory store (the figures they print
and assert are those of an empty store); ``http://127.0.0.1:8000`` in them is replaced by the
service's address. The snippet of the generated Python client runs in a namespace of its own,
with the package generated from the committed OpenAPI document. A snippet that fails names its
line in the page; a page with fewer snippets than expected fails too, so that the test cannot
pass by finding none. The README's one snippet runs alone, on a fresh store, as a reader of the
README would.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.test_python_client import PACKAGE
from tests.clients.test_python_client import generated as generated  # the fixture, for this module
from tests.support.live_server import REPO, live_server, settings_env

PAGE = REPO / "docs" / "clients.md"
README = REPO / "README.md"
ADDRESS = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    code: str

    @property
    def generated_client(self) -> bool:
        return PACKAGE in self.code

    def run(self, namespace: dict[str, Any], base_url: str) -> None:
        code = self.code.replace(ADDRESS, base_url)
        exec(compile(code, f"{self.page}:{self.line}", "exec"), namespace)


def snippets(page: Path = PAGE) -> list[Snippet]:
    text = page.read_text()
    return [
        Snippet(page, text.count("\n", 0, match.start(1)) + 1, match.group(1))
        for match in BLOCK.finditer(text)
    ]


@pytest.fixture
def fresh_url() -> Iterator[str]:
    with live_server(settings_env("memory://")) as url:
        yield url


def test_the_page_has_its_snippets() -> None:
    found = snippets()
    assert len([s for s in found if not s.generated_client]) >= 9
    assert len([s for s in found if s.generated_client]) == 1


@pytest.fixture
def session() -> Iterator[dict[str, Any]]:
    """The namespace of a module of its own (dataclasses look their module up)."""
    module = types.ModuleType("docs_clients")
    sys.modules[module.__name__] = module
    try:
        yield module.__dict__
    finally:
        del sys.modules[module.__name__]


def test_the_library_snippets_run_in_order(fresh_url: str, session: dict[str, Any]) -> None:
    for snippet in snippets():
        if not snippet.generated_client:
            snippet.run(session, fresh_url)


def test_the_generated_client_snippet_runs(generated: Any, fresh_url: str) -> None:
    [snippet] = [s for s in snippets() if s.generated_client]
    namespace: dict[str, Any] = {"__name__": "docs_generated"}
    snippet.run(namespace, fresh_url)
    assert namespace["appended"].status_code == 201


def test_the_readme_snippet_decides_a_subscription(fresh_url: str, session: dict[str, Any]) -> None:
    [snippet] = snippets(README)
    try:
        snippet.run(session, fresh_url)
        stored = httpx.get(f"{fresh_url}/v1/events", params={"tag": "student:s1"}).json()
        assert [event["type"] for event in stored["events"]] == ["StudentSubscribedToCourse"]
        with pytest.raises(ValueError, match="course c9 is full"):  # the one seat is taken
            session["decide"](
                session["store"], session["course"], session["seats_left"], session["subscribe_s1"]
            )
    finally:
        if "store" in session:
            session["store"].close()
