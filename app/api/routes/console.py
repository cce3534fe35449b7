"""The console: ``/console``, a page to browse, query and tail the store, from files the service
ships (`app/console/`): plain HTML, CSS and JavaScript modules, no build step and nothing from
another host.

Deliberate choices:

- The page uses the public API only, as any client: reads with queries, discovery, snapshots,
  and the stream through a stream ticket. It never writes events: scope ``read`` is enough.
- A Content-Security-Policy keeps the page to the service: scripts and styles from its own
  files only (no inline script, no ``eval``), requests to the service only. Stored data is
  shown as text (the page builds its elements from text nodes, never from HTML), and the
  policy is the second line: a stored ``<script>`` could not run even if it reached the DOM.
- The page asks for a token when the service answers 401 and keeps it in the tab's session
  storage only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.api.guard import OPEN, GuardedRoute

CONSOLE = Path(__file__).resolve().parents[2] / "console"
ASSETS = "/console/assets"
POLICY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def mount_console(app: FastAPI) -> None:
    """Serve the console's files (call once per app)."""
    app.mount(ASSETS, StaticFiles(directory=CONSOLE), name="console-assets")


@router.get("/console", openapi_extra=OPEN)
async def console() -> FileResponse:
    return FileResponse(CONSOLE / "index.html", headers=POLICY, media_type="text/html")
