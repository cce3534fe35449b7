"""The one home of code shared by the test suites (and used by the benchmarks).

- `engines`: storage engines and databases by name; the skip-or-fail rule for PostgreSQL.
- `postgres`: an empty PostgreSQL database (`recreate_schema`).
- `live_server`: a real service process on a free port.
- `api`: an app over ASGI (`api_client`, `running_app`), problem assertions, request builders.
- `events`: domain-level builders for the storage tests (`new_event`, `query`, `read`).
- `sse`: the SSE parser and stream clients (httpx, raw socket, raw protocol).
- `raw_http`: keep-alive HTTP/1.1 and chunked bodies over raw asyncio sockets.
- `streams`: appending over HTTP and checking what a stream delivered.
- `tickets`: bearer headers, stream tickets, stream requests that may be refused.
- `oracle`: the decision oracle of the race tests.
- `crash`: the crash harness (`scripts/crashtest`), kill -9 under load.
- `chromium`, `site`: headless Chromium and the static sites its pages come from.
- `generated_docs`: the documents generated from the code (`scripts/export-docs`).
"""
