"""The floor for `bench/http.py`: the service's HTTP surface with no store behind it.

It parses the same request bodies with the same pydantic models, answers with bodies of the same
shape, and stores nothing, served as `python -m app` serves the service (`app.server.serve`),
with ``EVENTSTORE_WORKERS`` processes under the same supervisor (`app.server.supervisor`). What
the service costs beyond this is the price of storing and finding events.

    python -m bench.http_floor --port 8001
"""

from __future__ import annotations

import argparse
import sys
from typing import Annotated

from fastapi import FastAPI, Query, Response

from app.api import schemas
from app.config import Settings
from app.server.serve import serve
from app.server.supervisor import Supervisor, Worker

APPENDED = b'{"positions":[1],"last_position":1}'
READ = b'{"events":[],"marker":0,"head":0,"has_more":false,"snapshot":null}'


def create_floor() -> FastAPI:
    floor = FastAPI()

    @floor.post("/v1/events", status_code=201)
    async def append_events(body: schemas.AppendRequest) -> Response:
        return Response(APPENDED, status_code=201, media_type="application/json")

    @floor.get("/v1/events")
    async def list_events(
        params: Annotated[schemas.ListEventsParams, Query()],
    ) -> Response:
        return Response(READ, media_type="application/json")

    @floor.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmark floor: parse, store nothing.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    settings = Settings(host=args.host, port=args.port)
    workers = settings.worker_processes
    if workers == 1:
        serve(create_floor(), settings)
    else:
        sys.exit(Supervisor(settings, serve_worker, workers=workers).run())


def serve_worker(worker: Worker) -> None:
    serve(create_floor(), worker.settings, sock=worker.sock, on_started=worker.ready)


if __name__ == "__main__":
    main()
