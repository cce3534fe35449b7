"""Pages for people: ``/`` (where to go), ``/docs`` and ``/redoc`` (the interactive API docs),
and ``/problems/{type}`` (what a problem means and what to do).

Deliberate choices:

- Swagger UI and ReDoc are served from files the service ships: the fastapi-offline package
  bundles both (Swagger UI under Apache-2.0, ReDoc under MIT, their licences in the package), and
  FastAPI's own page builders point at them. No page loads anything from another host, so the
  docs work where no CDN can be reached.
- The docs pages carry a Content-Security-Policy that lets them load and call nothing but the
  service itself: ReDoc's footer would otherwise fetch Redocly's logo from a CDN (it hides the
  image when that fails), telling a third party who reads the docs.
- ``/`` answers a browser (``Accept: text/html``) with a page of links and anything else with
  the same links as JSON.
- Problem pages are built from `app.api.problem_types`, escaped, with no script: the ``type`` of
  every problem body resolves to the page that explains it. ``/problems`` lists them all. A
  client that asks for JSON gets the entry as JSON.
- Every page is open, like ``/healthz``: there is nothing in them a token guards.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from app.api.encoding import json_response
from app.api.guard import OPEN, GuardedRoute
from app.api.problem_types import CATALOGUE, PREFIX, ProblemType

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

ASSETS = "/docs/assets"
"""Where the bundled Swagger UI and ReDoc files are served."""
OPENAPI_URL = "/openapi.json"
SWAGGER_PARAMETERS = {"persistAuthorization": True, "displayRequestDuration": True}
DOCS_POLICY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'self'"
}
"""FastAPI's pages start Swagger UI and ReDoc with an inline script: 'unsafe-inline' it is."""

_STYLE = (
    "body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2.5rem auto;"
    "padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .25rem}"
    "h2{font-size:1.1rem;margin-top:1.6rem}li{margin:.3rem 0}"
)

LINKS = {
    "console": "/console",
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": OPENAPI_URL,
    "problems": "/problems",
    "health": "/healthz",
}


def mount_assets(app: FastAPI) -> None:
    """Serve the bundled Swagger UI and ReDoc files (call once per app)."""
    directory = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(directory)), name="docs-assets")


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{body}</html>"
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/", openapi_extra=OPEN)
async def index(request: Request) -> Response:
    title = request.app.title
    if not _wants_html(request):
        return json_response({"service": title, "version": request.app.version, **LINKS})
    return _page(
        title,
        f"<h1>{html.escape(title)}</h1><p>{html.escape(request.app.description)}</p><ul>"
        '<li><a href="/console">Console</a>: browse, query and tail the store</li>'
        '<li><a href="/docs">Interactive API docs</a> (Swagger UI: try every operation)</li>'
        '<li><a href="/redoc">API reference</a> (ReDoc)</li>'
        f'<li><a href="{OPENAPI_URL}">OpenAPI document</a> (for client generators)</li>'
        '<li><a href="/problems">Problem types</a>: what each error means</li>'
        '<li><a href="/healthz">Health</a> and <a href="/readyz">readiness</a></li></ul>',
    )


@router.get("/docs", openapi_extra=OPEN)
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    page.headers.update(DOCS_POLICY)
    return page


@router.get("/redoc", openapi_extra=OPEN)
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(DOCS_POLICY)
    return page


def _problem_entry(problem: ProblemType) -> str:
    return (
        f'<li><a href="{problem.uri}"><code>{problem.uri}</code></a> '
        f"({problem.status}) {html.escape(problem.title)}</li>"
    )


@router.get("/problems", openapi_extra=OPEN)
async def problem_index(request: Request) -> Response:
    if not _wants_html(request):
        return json_response([_problem_json(problem) for problem in CATALOGUE.values()])
    entries = "".join(_problem_entry(problem) for problem in CATALOGUE.values())
    return _page(
        "Problem types",
        "<h1>Problem types</h1><p>Every error is an RFC 9457 problem "
        "(<code>application/problem+json</code>) whose <code>type</code> is one of these; "
        "a status without a type of its own (400, 500, 503) says <code>about:blank</code>.</p>"
        f"<ul>{entries}</ul>",
    )


def _problem_json(problem: ProblemType) -> dict[str, object]:
    return {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "meaning": problem.meaning,
        "remedy": problem.remedy,
    }


@router.get(PREFIX + "{slug}", openapi_extra=OPEN)
async def problem_page(slug: Annotated[str, Path()], request: Request) -> Response:
    problem = CATALOGUE.get(slug)
    if problem is None:
        raise HTTPException(404, f"no problem type {slug!r}; /problems lists them")
    if not _wants_html(request):
        return json_response(_problem_json(problem))
    return _page(
        f"{problem.title} ({problem.status})",
        f"<h1>{html.escape(problem.title)}</h1>"
        f"<p><code>type: {problem.uri}</code> · HTTP {problem.status}</p>"
        f"<h2>What it means</h2><p>{html.escape(problem.meaning)}</p>"
        f"<h2>What to do</h2><p>{html.escape(problem.remedy)}</p>"
        '<p><a href="/problems">All problem types</a> · <a href="/docs">API docs</a></p>',
    )
