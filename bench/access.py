"""What access control costs a request: the same reads against an open service and a guarded one.

    scripts/bench access [--seconds 5] [--repeats 5] [--concurrency 16]

Method. The service runs on the in-memory store (``memory://``, so that the request's own work
is as small as it gets and the check's share as large), pinned to CPU 0, with wrk on CPU 1 as in
`scripts/bench`. Three services, one after the other, each read with one-tag
``GET /v1/events?tag=...`` (`wrk/read.lua`) at ``--concurrency`` connections:
- ``open``: no tokens (the default; the baseline of this run);
- ``1 token``: one token in ``EVENTSTORE_API_TOKENS``, sent as ``Authorization: Bearer``;
- ``1000 tokens``: a tokens file of 1,000 tokens, the one sent being the last.
The three are measured in turns, ``--repeats`` rounds of one run each, so that drift of this
shared machine spreads over all three. Printed: the median req/s and p50 of each, and each
guarded service's median over the open one's. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from app.access.token_lines import new_token
from app.access.tokens import Scope, token_line
from bench.http import ensure_wrk, run_wrk
from bench.http_report import SERVER_CPU, Run
from tests.support.live_server import ServiceProcess, service_process

MANY_TOKENS = 1000
READ_TAGS = 100


def start(stack: ExitStack, env: dict[str, str]) -> ServiceProcess:
    base = {"EVENTSTORE_DATABASE_URL": "memory://", "EVENTSTORE_LOG_LEVEL": "warning"}
    return stack.enter_context(service_process("app", base | env, cpu=SERVER_CPU))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(ensure_wrk())

    token = new_token()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as workdir:
        tokens_file = Path(workdir) / "tokens"
        lines = [token_line(f"t{n}", new_token(), [Scope.READ]) for n in range(MANY_TOKENS - 1)]
        lines.append(token_line("last", token, [Scope.READ]))
        tokens_file.write_text("\n".join(lines) + "\n")
        targets = {
            "open": (start(stack, {}), []),
            "1 token": (
                start(stack, {"EVENTSTORE_API_TOKENS": f'{{"{token}": ["read"]}}'}),
                [f"Authorization: Bearer {token}"],
            ),
            f"{MANY_TOKENS} tokens": (
                start(stack, {"EVENTSTORE_API_TOKENS_FILE": str(tokens_file)}),
                [f"Authorization: Bearer {token}"],
            ),
        }
        runs: dict[str, list[Run]] = {name: [] for name in targets}
        for service, headers in targets.values():  # warm-up, discarded
            run_wrk(service, "read.lua", [str(READ_TAGS)], args.concurrency, 1, headers)
        for round_number in range(args.repeats):
            for name, (service, headers) in targets.items():
                run = run_wrk(
                    service, "read.lua", [str(READ_TAGS)], args.concurrency, args.seconds, headers
                )
                if run.errors:
                    raise SystemExit(f"{name}: {run.errors} errors: the token was refused?")
                runs[name].append(run)
                print(f"round {round_number + 1} {name}: {run.rate:,.0f} req/s")

    baseline = statistics.median(run.rate for run in runs["open"])
    print(f"\nGET /v1/events?tag=... on memory://, c={args.concurrency}, medians of {args.repeats}")
    print(f"{'service':<14}{'req/s':>10}{'p50 ms':>9}{'vs open':>9}")
    for name, measured in runs.items():
        rate = statistics.median(run.rate for run in measured)
        p50 = statistics.median(run.p50_ms for run in measured)
        print(f"{name:<14}{rate:>10,.0f}{p50:>9.2f}{rate / baseline:>9.2f}")


if __name__ == "__main__":
    main()
