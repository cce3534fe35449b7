"""The service (or the floor) under a chosen HTTP protocol, for `bench/edge.py`.

    python -m bench.edge_server --protocol {edge,httptools,h11} [--floor] --port 8001

- ``edge``: `app.server.serve`, what ``python -m app`` runs;
- ``httptools``: ``uvicorn.run`` with its own httptools protocol, no limits (the service before
  the edge);
- ``h11``: ``uvicorn.run`` with its h11 protocol and ``h11_max_incomplete_event_size`` at the
  service's header limit: the limit uvicorn offers by itself.

Settings come from the environment, as for ``python -m app``.
"""

from __future__ import annotations

import argparse

import uvicorn

from app.__main__ import tune_garbage_collector
from app.config import Settings
from app.main import create_app
from app.server.serve import serve
from bench.http_floor import create_floor

PROTOCOLS = ("edge", "httptools", "h11")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=PROTOCOLS, required=True)
    parser.add_argument("--floor", action="store_true", help="the floor, not the service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    settings = Settings(host=args.host, port=args.port)
    if args.floor:
        app = create_floor()
    else:
        app = create_app(settings)
        tune_garbage_collector()
    if args.protocol == "edge":
        serve(app, settings)
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        http=args.protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    main()
