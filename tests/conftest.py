"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (`@pytest.mark.anyio`) run on asyncio, the loop the service runs on."""
    return "asyncio"
