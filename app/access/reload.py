"""Tokens reloaded without a restart: on SIGHUP, and when the tokens file changes.

Deliberate choices:

- Reloading swaps the token registry of the running `AccessControl` (and of its ticket issuer)
  in one assignment: requests already authorized go on, open connections and streams are not
  touched, and the next request is checked against the new tokens. A stream ticket is checked
  against the tokens of the moment it is used, so a token removed takes its tickets with it.
- A file that cannot be used (unreadable, a malformed line, a name twice) changes nothing: the
  tokens in use stay, and a warning says why (`TokenConfigError` never shows a token). Each
  version of the file is reported once, not at every look.
- The file is looked at every ``EVENTSTORE_API_TOKENS_RELOAD_SECONDS`` (2 s; 0: only on SIGHUP):
  its modification time, size and inode, so an edit in place and a rename over it (what editors
  and configuration tools do) are both seen. A ``stat`` every two seconds costs nothing.
- SIGHUP is handled only when the server asks for it (`python -m app`): tests that build many
  apps in one process must not take the process's signals.
- ``EVENTSTORE_API_TOKENS`` comes from the environment, which a running process cannot be given
  anew: those tokens are read again with the file, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from app.access.control import AccessControl
from app.access.tokens import TokenConfigError, TokenRegistry
from app.config import Settings

logger = logging.getLogger(__name__)

FileVersion = tuple[int, int, int] | None


def version_of(path: Path) -> FileVersion:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class TokenReloader:
    def __init__(self, access: AccessControl, settings: Settings) -> None:
        self._access = access
        self._settings = settings
        self._file = settings.api_tokens_file
        self._seen: FileVersion = version_of(self._file) if self._file is not None else None
        self._task: asyncio.Task[None] | None = None
        self._hangup = False

    def reload(self, reason: str) -> bool:
        """Read the tokens again; whether they were replaced."""
        settings = self._settings
        if self._file is None:
            logger.warning("%s: no tokens file is configured, nothing to reload", reason)
            return False
        self._seen = version_of(self._file)  # this version is dealt with, whatever comes of it
        try:
            registry = TokenRegistry.load(settings.api_tokens, self._file)
        except TokenConfigError as error:
            logger.warning("tokens not reloaded (%s), the tokens in use stay: %s", reason, error)
            return False
        self._access.use(registry)
        names = ", ".join(registry.names) or "none: the API is open"
        logger.info("tokens reloaded from %s (%s): %s", self._file, reason, names)
        return True

    def start(self, *, hangup: bool) -> None:
        if hangup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload, "SIGHUP")
            self._hangup = True
        seconds = self._settings.api_tokens_reload_seconds
        if self._file is not None and seconds > 0:
            self._task = asyncio.create_task(self._watch(self._file, seconds))

    async def close(self) -> None:
        if self._hangup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._hangup = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self, path: Path, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            version = version_of(path)
            if version != self._seen:
                self.reload(f"{path} changed" if version else f"{path} is gone")
