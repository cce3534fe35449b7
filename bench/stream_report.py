"""The report of the stream benchmark (`bench/stream.py`): the tables, the floor's figures beside
the service's, and the goals."""

from __future__ import annotations

import argparse

from bench.stream_figures import Results, Usage, percentile

SERVER_CPU = 0
CLIENT_CPU = 1

GOAL_RATES = {100: 100.0, 1000: 10.0}  # subscribers -> appended events/s
GOAL_P99_MS = 250.0
GOAL_KIB_PER_STREAM = 64.0
GOAL_CATCH_UP = 50_000.0


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def ratio(value: float, floor: float | None) -> str:
    return f"{value / floor:.2f}" if floor else "-"


CPU_HEADER = f"{'srv':>6}{'cli':>5}{'oth':>5}"


def cpu_columns(cpu: Usage) -> str:
    return f"{cpu.server:>6.0%}{cpu.client:>5.0%}{cpu.others:>5.0%}"


def report(results: Results, args: argparse.Namespace) -> None:
    store = (
        "PostgreSQL (its own CPU counts under oth)"
        if args.postgres
        else "SQLite (defaults: WAL, synchronous=FULL)"
    )
    print(
        f"\nStream benchmark: {store}; server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; "
        f"messages of ~{results.message_bytes} bytes. floor = bare sse-starlette "
        "(bench/stream_floor.py), floor+join = the floor sending up to 500 pending "
        "messages per send.\nCPU per wall second (100% = one core): srv = the server, cli = "
        "this client, oth = all other processes on the machine; us/msg = server CPU per message "
        "delivered."
    )
    floors = {(p.subscribers, p.kind): p for p in results.phases if p.target == "floor"}
    joined = {(p.subscribers, p.kind): p for p in results.phases if p.target == "floor+join"}

    print(
        f"\nLive fan-out, paced ({args.seconds:g} s each). Latency from the append's response "
        "(commit acknowledged) to receipt; 'p99 send' from the append's request."
    )
    print(
        f"{'target':<8}{'subs':>5}{'goal/s':>7}{'appended/s':>11}{'delivered/s':>12}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'p99 send':>9}{'lost':>5}{'dup':>4}{'bad':>4}"
        f"{'us/msg':>7}{CPU_HEADER}  goal"
    )
    for phase in (p for p in results.phases if p.kind == "paced"):
        counted = phase.tally
        p99 = percentile(phase.commit_ms, 0.99)
        goal_rate = GOAL_RATES.get(phase.subscribers)
        goal = ""
        if goal_rate is not None and phase.target == "service":
            met = (
                phase.append_rate >= 0.98 * goal_rate
                and phase.goal_rate >= goal_rate
                and phase.delivered_rate >= 0.98 * goal_rate * phase.subscribers
                and counted.lost + counted.dup + counted.extra + counted.disorder + phase.bad == 0
                and phase.complete
                and p99 <= GOAL_P99_MS
            )
            goal = (
                f"{phase.subscribers} at {goal_rate:g}/s, all delivered, "
                f"p99 <= {GOAL_P99_MS:g} ms: {verdict(met)}"
            )
        print(
            f"{phase.target:<8}{phase.subscribers:>5}{phase.goal_rate:>7.0f}"
            f"{phase.append_rate:>11.1f}{phase.delivered_rate:>12.0f}"
            f"{percentile(phase.commit_ms, 0.5):>8.1f}{p99:>8.1f}"
            f"{percentile(phase.commit_ms, 1.0):>8.1f}{percentile(phase.send_ms, 0.99):>9.1f}"
            f"{counted.lost:>5}{counted.dup:>4}{phase.bad:>4}{phase.server_us:>7.0f}"
            f"{cpu_columns(phase.cpu)}  {goal}"
        )

    print(
        "\nBurst: N events appended at once (appends of 1,000 back to back), until every "
        "stream has them all; ratios = service / floor"
    )
    print(
        f"{'target':<11}{'subs':>5}{'events':>8}{'seconds':>9}{'delivered/s':>12}{'lost':>5}"
        f"{'dup':>4}{'us/msg':>7}{CPU_HEADER}{'rate ratio':>11}{'us ratio':>9}"
    )
    for phase in (p for p in results.phases if p.kind == "burst"):
        floor = floors.get((phase.subscribers, "burst"))
        rate_ratio = us_ratio = ""
        if floor is not None and phase.target == "service":
            rate_ratio = ratio(phase.delivered_rate, floor.delivered_rate)
            us_ratio = ratio(phase.server_us, floor.server_us)
        print(
            f"{phase.target:<11}{phase.subscribers:>5}{phase.events:>8}{phase.seconds:>9.2f}"
            f"{phase.delivered_rate:>12.0f}{phase.tally.lost:>5}{phase.tally.dup:>4}"
            f"{phase.server_us:>7.0f}{cpu_columns(phase.cpu)}{rate_ratio:>11}{us_ratio:>9}"
        )

    floor_memory = {m.subscribers: m for m in results.memory if m.target == "floor"}
    print(
        "\nServer memory (VmRSS): before = after a warm-up stream, open = the streams open and "
        "idle, after = at the end; per stream = (open - before) / streams"
    )
    print(
        f"{'target':<11}{'subs':>5}{'before MiB':>11}{'open MiB':>10}{'after MiB':>10}"
        f"{'KiB/stream':>11}{'service/floor':>14}  goal"
    )
    for memory in (m for m in results.memory if m.target != "floor+join"):
        floor_mem = floor_memory.get(memory.subscribers)
        shown = goal = ""
        if memory.target == "service":
            if floor_mem is not None and memory.subscribers >= 100:
                shown = ratio(memory.per_stream_kib, floor_mem.per_stream_kib)
            if memory.subscribers >= 100:
                met = memory.per_stream_kib <= GOAL_KIB_PER_STREAM
                goal = f"<= {GOAL_KIB_PER_STREAM:g} KiB: {verdict(met)}"
        print(
            f"{memory.target:<11}{memory.subscribers:>5}{memory.before_kib / 1024:>11.1f}"
            f"{memory.open_kib / 1024:>10.1f}{memory.end_kib / 1024:>10.1f}"
            f"{memory.per_stream_kib:>11.1f}{shown:>14}  {goal}"
        )

    caught = results.catch_up
    if caught is not None:
        floor_one = floors.get((1, "burst"))
        joined_one = joined.get((1, "burst"))
        met = caught.complete and caught.rate >= GOAL_CATCH_UP
        print(
            f"\nCatch-up: one stream ?after=0&live=false over {results.fill_events:,} events "
            f"(store filled in-process through the storage engine in {results.fill_seconds:.1f} s,"
            " synchronous=NORMAL for the fill only); ratios = rate / the 1-stream burst of floor"
            " and floor+join"
        )
        print(
            f"{'events':>10}{'seconds':>9}{'events/s':>10}{'complete':>10}{'us/msg':>7}"
            f"{CPU_HEADER}{'vs floor':>9}{'vs join':>8}  goal"
        )
        print(
            f"{caught.events:>10}{caught.seconds:>9.2f}{caught.rate:>10.0f}"
            f"{'yes' if caught.complete else 'NO':>10}{caught.server_us:>7.0f}"
            f"{cpu_columns(caught.cpu)}"
            f"{ratio(caught.rate, floor_one.delivered_rate if floor_one else None):>9}"
            f"{ratio(caught.rate, joined_one.delivered_rate if joined_one else None):>8}"
            f"  >= {GOAL_CATCH_UP:,.0f}/s: {verdict(met)}"
        )

    print(
        "\nOne core's worth (1e6 / us per message): what the server would deliver with a whole "
        "core to itself, whatever else ran on the machine"
    )
    for phase in (p for p in results.phases if p.target == "service"):
        per_core = 1e6 / phase.server_us
        print(
            f"  service {phase.subscribers:>5} streams {phase.kind:<6}{per_core:>9,.0f} messages/s"
            f" = {per_core / phase.subscribers:>8,.1f} events/s to each stream"
        )
    if caught is not None and caught.server_us:
        print(
            f"  catch-up, 1 stream     {1e6 / caught.server_us:>9,.0f} events/s"
            f" (goal {GOAL_CATCH_UP:,.0f}/s)"
        )
