"""What the container image promises, read from the Dockerfile (no container runtime runs in
CI): a non-root user, the store in the /data volume, a health check, the command installed and
serving, and the operations page documenting them."""

from __future__ import annotations

import re

from tests.support.live_server import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction (continuation lines joined)."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.MULTILINE)]


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    users = instructions("USER")
    assert users
    assert users[-1] not in {"root", "0"}
    assert "useradd --system --uid 10001" in DOCKERFILE


def test_the_store_lives_in_the_data_volume() -> None:
    assert instructions("VOLUME") == ["/data"]
    assert "ENV EVENTSTORE_DATABASE_URL=sqlite:////data/eventstore.db" in DOCKERFILE
    assert "chown eventstore:eventstore /data" in DOCKERFILE


def test_it_serves_with_the_command_and_checks_its_health() -> None:
    (command,) = instructions("CMD")
    assert command == '["eventstore", "serve", "--host", "0.0.0.0"]'
    (health,) = instructions("HEALTHCHECK")
    assert "/healthz" in health


def test_the_operations_page_documents_the_image() -> None:
    operations = (REPO / "docs" / "operations.md").read_text()
    section = operations.split("## The container image", 1)[1]
    for needed in ["docker exec eventstore eventstore backup", "-v eventstore-data:/data",
                   "health check", "non-root", "docker kill -s HUP"]:  # fmt: skip
        assert needed in section
