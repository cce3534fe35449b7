"""Fixtures of the browser tests: the browser, and two static sites (two origins) to load pages
from. Each test module decides which origin its service allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chromium import find_chromium
from tests.support.site import StaticSite, serve_site


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


@pytest.fixture(scope="module")
def allowed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """The origin the service under test allows (``EVENTSTORE_CORS_ORIGINS``)."""
    yield from serve_site(tmp_path_factory.mktemp("sites") / "allowed")


@pytest.fixture(scope="module")
def other_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """An origin the service does not allow."""
    yield from serve_site(tmp_path_factory.mktemp("sites") / "other")
