"""The limits of the HTTP edge, from the settings and the process's open-file limit.

Deliberate choices:

- The open-file limit is raised to its hard limit at start-up (`raise_open_file_limit`): the soft
  limit of many systems is 1,024, and every connection is a file. A hard limit the process may
  not reach (``RLIM_INFINITY`` for root) is replaced by Linux's usual ``fs.nr_open``.
- The connections served are capped below that limit (`EdgeLimits.of`): a reserve of files stays
  for everything else the process opens (the database's files and connections, the listening
  socket, the event loop's own, logs), and for connections being refused. Without it, a flood of
  idle sockets used up every file and the server could no longer accept anyone, ``/healthz``
  included: the event loop's accept failed with ``EMFILE`` and reset every new connection.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from app.config import Settings

logger = logging.getLogger(__name__)

NR_OPEN = 1_048_576
"""Linux's default ``fs.nr_open``: the most files a process may have, whatever its limits."""
RESERVED_FILES = 100
"""Files kept for everything but connections: standard streams, the event loop, the listening
socket, SQLite's files (a writer and four readers, each with its WAL), logs."""
MAX_LINGERING = 64
"""Most refused connections at once that still get their answer before they are closed; beyond
it a refused connection is closed at once. Also reserved from the open-file limit."""


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NR_OPEN if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            logger.warning(
                "could not raise the open-file limit from %d to %d: %s", soft, target, error
            )
            return soft
        return target
    return soft if soft != resource.RLIM_INFINITY else NR_OPEN


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """What one connection and one request may take from the server."""

    max_request_line_bytes: int
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    keep_alive: int
    max_connections: int
    open_files: int

    @classmethod
    def of(cls, settings: Settings, *, open_files: int) -> EdgeLimits:
        reserve = RESERVED_FILES + MAX_LINGERING + 2 * settings.db_pool_size
        return cls(
            max_request_line_bytes=settings.max_request_line_bytes,
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            keep_alive=settings.keep_alive_seconds,
            max_connections=max(1, min(settings.max_connections, open_files - reserve)),
            open_files=open_files,
        )

    @property
    def head_bytes(self) -> int:
        """The most bytes of one request's head fed to the parser: the line, the fields and the
        blank line, with room for the spaces the parser tolerates."""
        return self.max_request_line_bytes + self.max_header_bytes + 1024

    def describe(self) -> str:
        return (
            f"at most {self.max_connections} connections (open-file limit {self.open_files}); "
            f"request line {self.max_request_line_bytes} B, header fields "
            f"{self.max_header_bytes} B; {self.header_timeout:g} s for a request's head, "
            f"{self.body_timeout:g} s for its body; idle {self.keep_alive} s between requests"
        )
