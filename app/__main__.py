"""``python -m app``: serve the API with uvicorn behind the HTTP edge (`app.server`).

Options ``--host`` and ``--port`` override ``EVENTSTORE_HOST`` / ``EVENTSTORE_PORT``; every other
setting is an ``EVENTSTORE_*`` environment variable (see `app.config.Settings`). The start-up
line names the database (password masked); the application then says who may call it. An
invalid configuration is reported by field and message only, never with its value: the value
may be a token.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url

from app import logs
from app.access.control import AccessControl
from app.access.tokens import TokenConfigError
from app.api.metrics import use_multiprocess_files
from app.config import Settings
from app.main import ShutdownNotice, create_app
from app.server.serve import serve
from app.server.supervisor import Supervisor, Worker

logger = logging.getLogger("app")

GC_YOUNG_THRESHOLD = 100_000
"""Allocations between young collections (CPython's default: 700)."""


def mask_password(url: str) -> str:
    """``postgresql+asyncpg://user:secret@host/db`` -> ``postgresql+asyncpg://user:***@host/db``."""
    return make_url(url).render_as_string(hide_password=True)


def _expected(field: str) -> str:
    """What the setting ``field`` takes, from its description, with its default as an example."""
    info = Settings.model_fields.get(field)
    if info is None:
        return ""
    expected = f" (expected: {info.description}"
    default = info.get_default(call_default_factory=True)
    if default not in (None, [], {}) and info.repr:
        expected += f" Default: {json.dumps(default, default=str)}."
    return expected + ")"


def variable(field: str) -> str:
    return f"EVENTSTORE_{field.upper()}"


def describe(error: ValidationError) -> str:
    """Each invalid setting, why, and what it takes; never the value given (pydantic's message
    shows it, and the value may be a token). The keys of ``api_tokens`` are tokens: an error
    there names the setting only."""
    described = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        where = variable(field)
        if field != "api_tokens":
            where += "".join(f"[{part!r}]" for part in item["loc"][1:])
        described.append(f"{where}: {item['msg']}{_expected(field)}")
    return "; ".join(described)


def describe_unparsable(error: SettingsError) -> str:
    """A setting that must be JSON and is not: pydantic-settings names only the field."""
    found = re.search(r'field "(\w+)"', str(error))
    if found is None:
        return str(error)
    field = found.group(1)
    return f"{variable(field)} must be JSON{_expected(field)}"


def parse_args(settings: Settings, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Serve the DCB event store. Every setting is also an EVENTSTORE_* "
        "environment variable.",
    )
    parser.add_argument("--host", default=settings.host, help=f"default {settings.host}")
    parser.add_argument("--port", type=int, default=settings.port, help=f"default {settings.port}")
    return parser.parse_args(argv)


def tune_garbage_collector() -> None:
    """Fewer, cheaper full collections. Each open stream keeps a few dozen coroutines and tasks
    alive, and with the default thresholds CPython's full collection walked all of them every
    couple of seconds: with 1,000 idle streams, a 200-290 ms pause that delayed every delivery
    (measured: p99 287 ms; 100 ms with these thresholds). Objects made during start-up are
    frozen out of collection altogether."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 50)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        args = parse_args(Settings(), argv)
        settings = Settings(host=args.host, port=args.port)  # validated like the environment
    except ValidationError as exc:
        raise SystemExit(f"python -m app: invalid configuration: {describe(exc)}") from exc
    except SettingsError as exc:  # a variable that is not JSON where JSON is expected
        raise SystemExit(
            f"python -m app: invalid configuration: {describe_unparsable(exc)}"
        ) from exc
    try:
        AccessControl.from_settings(settings)  # the tokens, checked before serving
    except TokenConfigError as exc:
        raise SystemExit(f"python -m app: invalid tokens: {exc}") from exc
    # Our own loggers at the configured level; libraries' chatter (alembic's INFO) stays quiet.
    logs.configure(settings.log_format, settings.log_level)
    workers = settings.worker_processes
    logger.info(
        "event store on http://%s:%d, database %s, %s",
        settings.host,
        settings.port,
        mask_password(settings.database_url),
        "one process" if workers == 1 else f"{workers} worker processes",
    )
    tune_garbage_collector()
    if workers == 1:
        shutdown = ShutdownNotice()
        app = create_app(settings, shutdown=shutdown, reload_on_hangup=True)
        serve(app, settings, on_shutdown=shutdown)
    else:
        sys.exit(Supervisor(settings, serve_worker, workers=workers).run())


def serve_worker(worker: Worker) -> None:
    """One worker among several (in its own process, forked by the supervisor)."""
    use_multiprocess_files(worker.metrics_directory)
    shutdown = ShutdownNotice()
    app = create_app(
        worker.settings,
        shutdown=shutdown,
        reload_on_hangup=True,
        shared_limits=worker.limits,
        metrics_directory=worker.metrics_directory,
    )
    serve(app, worker.settings, on_shutdown=shutdown, sock=worker.sock, on_started=worker.ready)


if __name__ == "__main__":
    main()
