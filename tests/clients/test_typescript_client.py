"""A TypeScript program written with a client generated from the committed OpenAPI document
works against a running server, with no work-around: openapi-typescript's types for
openapi-fetch with the generators' default flags, compiled by ``tsc --strict``.

The program (`tests/clients/typescript/decision.ts`) runs the course-subscription decision of
the DCB examples with its 409 retry; it type-checks only if optional fields are optional and a
problem can be told apart by its ``status`` (``error.conflicting_position`` after
``error.status === 409``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.live_server import REPO, live_server
from tests.support.node import node_packages, run

PROGRAM = Path(__file__).parent / "typescript"
DOCUMENT = REPO / "openapi" / "openapi.json"
TOKEN = "writer-token-0123456789"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, its client types generated and compiled; the folder to run it in."""
    modules = node_packages(PROGRAM)
    where = tmp_path_factory.mktemp("typescript")
    for name in ("decision.ts", "tsconfig.json", "package.json"):
        shutil.copy(PROGRAM / name, where / name)
    (where / "node_modules").symlink_to(modules, target_is_directory=True)
    run([str(modules / ".bin" / "openapi-typescript"), str(DOCUMENT), "-o", "api.d.ts"], where)
    run([str(modules / ".bin" / "tsc"), "-p", ".", "--outDir", "dist"], where)
    return where


def decide(folder: Path, *arguments: str) -> dict[str, list[object]]:
    printed = run(["node", "dist/decision.js", *arguments], folder)
    result: dict[str, list[object]] = json.loads(printed)
    return result


@pytest.mark.parametrize("guarded", [False, True], ids=["open", "with-a-token"])
def test_the_decision_with_its_retry_in_typescript(
    compiled: Path, tmp_path: Path, guarded: bool
) -> None:
    env = {"EVENTSTORE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    if guarded:
        env["EVENTSTORE_API_TOKENS"] = json.dumps({TOKEN: ["read", "append"]})
    with live_server(env) as base_url:
        result = decide(compiled, base_url, *([TOKEN] if guarded else []))

    assert result["outcomes"] == [
        "subscribed",
        'Course "c1" is already fully booked',
        "Student already subscribed to this course",
    ]
    assert result["conflicts"] == [2, 2]  # conflicting_position and head of the one 409
