"""Fan-out: one relay socket streams utterances into a live conversation watched by M sockets.

    .venv/bin/python bench/fanout.py [--events 1000] [--rate 50] [--clients 1 50 200] [--quick]
                                     [--deflate default|on|off] [--layer memory|redis]

For each M the launcher's socket (the live page's relay) sends `--events` caption lines at
`--rate` per second; M supervisors' sockets watch the same conversation through the studio
(uvicorn in a subprocess as `make run` starts it, DEBUG off, a temporary SQLite database, the
in-memory channel layer). Each line carries its number, so every delivery's latency is measured
against its send time on one clock; the watchers are bench/wsclient.py's lean receivers, so the
figures are the servers', not a client library's. Floor: a bare `websockets` server that
broadcasts what its relay sends to the same M sockets — the least any fan-out server must do.
`--layer redis` (DATABASE_URL=postgres://..., REDIS_URL) runs the studio as two processes on
Redis and a fresh PostgreSQL database, the relay on the first, the watchers split across both.

permessage-deflate: every row runs as `make run` serves (its SERVE line in the Makefile), and
M = 200 runs once more with compression the other way, studio and floor alike, for its cost:
the event loop's time per delivered message, the bytes on the wire and the servers' memory.

Targets at M = 200: in memory, p99 ≤ 3× the floor's; on Redis with two processes, keeping up
(every message delivered, at the rate sent) with p99 ≤ 5× the floor's.
"""

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    WS_DEFLATE,
    Workspace,
    free_port,
    percentile,
    record,
    scale_services,
    session_cookie,
    target,
)
from bench.wsclient import watch  # noqa: E402

FLOOR_RATIO = {"memory": 3, "redis": 5}  # p99 at M = 200 at most this many times the floor's
KEEPS_UP = 0.98  # delivered msgs/s at least this share of what was sent
MARK = re.compile(rb"bench-(\d+)-x")
# What `make run` does: uvicorn's default (on) unless the Makefile says otherwise.
MAKE_RUN_DEFLATES = "false" not in " ".join(WS_DEFLATE).lower()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="events per second")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--quick", action="store_true", help="200 events per run")
    parser.add_argument(
        "--layer",
        choices=["memory", "redis"],
        default="memory",
        help="redis: two studio processes on REDIS_URL and a fresh PostgreSQL database",
    )
    parser.add_argument(
        "--deflate",
        choices=["default", "on", "off"],
        default="default",
        help="permessage-deflate for every row (default: as `make run`), and no comparison row",
    )
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-deflate", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.events = 200
    return args


# --- The floor: a bare broadcast server ------------------------------------------------------


async def floor_server(port: int, deflate: bool) -> None:
    from websockets.asyncio.server import broadcast, serve

    watchers = set()

    async def handler(ws):
        if ws.request.path == "/relay":
            async for message in ws:
                # As little as a fan-out can do: read the event, wrap its text, send to all.
                speech = json.loads(message)["event"]["properties"]["speech"]
                broadcast(watchers, f'<div id="captions" hx-swap-oob="beforeend">{speech}</div>')
        else:
            watchers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                watchers.discard(ws)

    compression = "deflate" if deflate else None
    async with serve(handler, "127.0.0.1", port, max_size=None, compression=compression):
        await asyncio.Future()


# --- One run ---------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    clients: int
    events: int
    deflate: bool
    rate: float
    sent: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    first_send: float = 0.0
    last_receive: float = 0.0
    loop_cpu: float = 0.0  # the servers' event-loop threads' CPU seconds while streaming
    wire_bytes: int = 0  # what reached the watchers while streaming
    rss_mb: float = 0.0  # the servers' memory with every watcher connected

    @property
    def expected(self) -> int:
        return self.clients * self.events

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def delivered_rate(self) -> float:
        return self.received / max(1e-9, self.last_receive - self.first_send)

    @property
    def keeps_up(self) -> bool:
        return (
            self.received == self.expected
            and self.delivered_rate >= KEEPS_UP * self.clients * self.rate
        )

    def row(self, floor: "Run | None") -> str:
        p50 = percentile(self.latencies, 50)
        ratio = f"{self.p99 / max(floor.p99, 1e-9):.1f}×" if floor else "1×"
        per_delivery = f"{1e6 * self.loop_cpu / self.received:.0f}" if self.loop_cpu else "–"
        rss = f"{self.rss_mb:.0f}" if self.rss_mb else "–"
        return (
            f"| {self.label} | {'on' if self.deflate else 'off'} | {self.clients} | "
            f"{self.received:,} / {self.expected:,} | {p50:.1f} | {self.p99:.1f} | "
            f"{self.delivered_rate:,.0f} | {ratio} | {per_delivery} | "
            f"{self.wire_bytes / max(1, self.received):.0f} | {rss} |"
        )


def utterance(i: int, tavus_id: str) -> str:
    return json.dumps(
        {
            "type": "room_event",
            "event": {
                "message_type": "conversation",
                "event_type": "conversation.utterance",
                "conversation_id": tavus_id,
                "inference_id": f"inf-{i}",
                "seq": i,
                "properties": {
                    "role": "user" if i % 2 else "replica",
                    "speech": f"bench-{i}-x That sounds right; tell me more about the timeline.",
                },
            },
        }
    )


async def run_once(
    run: Run,
    relay_url: str,
    targets: list[tuple[int, str]],
    headers,
    tavus_id: str,
    servers=(),
):
    """Connect the watchers (port, path), stream the events, wait for every delivery (or 15 s)."""
    from websockets.asyncio.client import connect

    done = asyncio.Event()

    def on_message(message: bytes, now: float) -> None:
        # A frame may carry several events (the studio batches pushes to busy groups).
        for number in {int(match[1]) for match in MARK.finditer(message)}:
            sent = run.sent.get(number)
            if sent is not None:
                run.latencies.append((now - sent) * 1000)
                run.received += 1
                run.last_receive = now
                if run.received >= run.expected:
                    done.set()

    watchers = []
    for i, (port, path) in enumerate(targets):
        watchers.append(await watch("127.0.0.1", port, path, headers(i), on_message))
    async with connect(relay_url, additional_headers=headers(-1), max_size=None) as relay:

        async def drain():  # the relay's own page gets the pushes too; read and drop them
            async for _ in relay:
                pass

        drainer = asyncio.create_task(drain())
        await asyncio.sleep(1.0)  # let every snapshot arrive first
        cpu_before = [s.cpu()[1] for s in servers]
        wire_before = sum(w.wire_bytes for w in watchers)
        start = time.perf_counter() + 0.1
        run.first_send = start
        for i in range(run.events):
            delay = start + i / run.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = utterance(i, tavus_id)
            run.sent[i] = time.perf_counter()
            await relay.send(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 15)
        run.loop_cpu = sum(s.cpu()[1] - b for s, b in zip(servers, cpu_before, strict=True))
        run.wire_bytes = sum(w.wire_bytes for w in watchers) - wire_before
        run.rss_mb = sum(s.rss_mb() for s in servers)
        drainer.cancel()
    for watcher in watchers:
        watcher.close()
    await asyncio.sleep(0.2)


# --- The benchmark ---------------------------------------------------------------------------


def setup_people(count: int):
    from django.contrib.auth.models import Group, User

    supervisors = Group.objects.get_or_create(name="Supervisor")[0]
    operators = Group.objects.get_or_create(name="Operator")[0]
    launcher = User.objects.create_user("bench-launcher")
    launcher.groups.add(operators)
    watchers = []
    for n in range(count):
        user = User.objects.create_user(f"bench-watcher-{n}")
        user.groups.add(supervisors)
        watchers.append(user)
    return launcher, [session_cookie(launcher)], [session_cookie(u) for u in watchers]


def new_conversation(launcher, title="Fan-out bench"):
    from studio.conversations.models import Conversation, hash_secret

    return Conversation.objects.create(
        launched_by=launcher,
        title=title,
        status=Conversation.ACTIVE,
        tavus_id="c" + secrets.token_hex(6),
        conversation_url="http://127.0.0.1/sandbox/rooms/bench/",
        webhook_secret_hash=hash_secret(secrets.token_urlsafe(32)),
        settings_snapshot={"properties": {"max_call_duration": 3600}},
    )


def studio_run(args, m, deflate, servers, people, label) -> Run:
    launcher, launcher_cookie, cookies = people
    conversation = new_conversation(launcher)
    path = f"/ws/conversations/{conversation.pk}/"
    relay = servers[0]
    targets = [(servers[i % len(servers)].port, path) for i in range(m)]

    def headers(i):
        # Each page's Origin is the server it loaded from (the studio checks it exactly).
        cookie = launcher_cookie if i < 0 else cookies[i]
        origin = servers[0].url if i < 0 else servers[i % len(servers)].url
        return {"Cookie": f"sessionid={cookie}", "Origin": origin}

    run = Run(label, m, args.events, deflate, args.rate)
    relay_url = f"ws://127.0.0.1:{relay.port}{path}"
    # The events carry the conversation's Tavus id: the consumer checks it.
    asyncio.run(run_once(run, relay_url, targets, headers, conversation.tavus_id, servers))
    print(run.row(None), flush=True)
    return run


def floor_run(args, m, deflate) -> Run:
    import subprocess

    port = free_port()
    command = [sys.executable, __file__, "--floor-server", str(port)]
    process = subprocess.Popen(command + ["--floor-deflate", "on" if deflate else "off"])
    try:
        time.sleep(1.0)
        run = Run("floor: bare websockets broadcast", m, args.events, deflate, args.rate)
        targets = [(port, "/watch")] * m
        relay_url = f"ws://127.0.0.1:{port}/relay"
        asyncio.run(run_once(run, relay_url, targets, lambda i: {}, "floor"))
        print(run.row(None), flush=True)
        return run
    finally:
        process.terminate()
        process.wait(10)


def main():
    args = parse_args()
    if args.floor_server:
        asyncio.run(floor_server(args.floor_server, deflate=args.floor_deflate == "on"))
        return
    deflate = {"on": True, "off": False}.get(args.deflate, MAKE_RUN_DEFLATES)
    compare = args.deflate == "default" and max(args.clients) >= 100
    # The studio's default relay limit (RELAY_MAX_PER_SECOND=100), or more for a faster stream.
    relay_limit = max(100, int(args.rate * 2))
    if args.layer == "redis":
        services = scale_services()
        if not services:
            sys.exit("--layer redis needs DATABASE_URL=postgres://... and REDIS_URL")
        workspace = Workspace("fanout", postgres_url=services[0], redis_url=services[1])
        label, processes = "studio, 2 processes, Redis + PostgreSQL", 2
    else:
        workspace = Workspace("fanout")
        label, processes = "studio, 1 process, in-memory layer, SQLite", 1
    pairs: list[tuple[Run, Run]] = []  # (floor, studio)
    try:
        workspace.setup_django()
        people = setup_people(max(args.clients))
        launcher, (launcher_cookie,), cookies = people
        people = (launcher, launcher_cookie, cookies)
        settings = [deflate, not deflate] if compare else [deflate]
        for setting in settings:
            servers = [
                workspace.server(deflate=setting, RELAY_MAX_PER_SECOND=relay_limit)
                for _ in range(processes)
            ]
            for server in servers:
                server.wait_ready()
            sizes = args.clients if setting == deflate else [max(args.clients)]
            for m in sizes:
                floor = floor_run(args, m, setting)
                pairs.append((floor, studio_run(args, m, setting, servers, people, label)))
            for server in servers:
                server.stop()
    finally:
        workspace.close()

    lines = [
        f"- {args.events:,} utterance events at {args.rate:g}/s per run from the launcher's "
        "socket; each watcher is a supervisor's socket on the conversation's live page"
        + (", split across both processes (the relay on the first)" if processes > 1 else ""),
        f"- Studio: uvicorn --ws websockets-sansio, RELAY_MAX_PER_SECOND={relay_limit}; "
        f"permessage-deflate {'on' if deflate else 'off'} as `make run` serves"
        + (", and the other way at the largest M (studio and floor alike)" if compare else ""),
        "- loop µs: the servers' event-loop threads' CPU per delivered message; wire B: bytes "
        "per delivered message on the watchers' sockets; RSS: the servers' memory with every "
        "watcher connected",
        "",
        "| server | deflate | M | delivered | p50 ms | p99 ms | delivered msgs/s "
        "| p99 / floor p99 | loop µs | wire B | RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [floor.row(None) for floor, _ in pairs]
    lines += [studio.row(floor) for floor, studio in pairs]
    floor, big = next(p for p in pairs if p[0].clients == max(args.clients))
    ratio = big.p99 / max(floor.p99, 1e-9)
    limit = FLOOR_RATIO[args.layer]
    ok = ratio <= limit and (big.keeps_up if args.layer == "redis" else True)
    where = "in memory, 1 process" if args.layer == "memory" else "Redis + PostgreSQL, 2 processes"
    goal = f"p99 ≤ {limit}× floor" + (", keeps up, 0 lost" if args.layer == "redis" else "")
    verdict_row = target(
        f"fan-out p99, {big.clients} watchers, {where}",
        f"p99 {big.p99:.1f} ms ({ratio:.1f}×), {big.delivered_rate:,.0f} of "
        f"{big.clients * args.rate:,.0f} msgs/s, lost {big.expected - big.received:,}",
        f"p99 {floor.p99:.1f} ms",
        goal,
        ok,
    )
    lines += ["", "| figure | floor | studio | target | |", "| --- | --- | --- | --- | --- |"]
    lines.append(verdict_row)
    if compare:
        other = next(s for f, s in pairs if s.deflate != deflate)
        on, off = (big, other) if big.deflate else (other, big)

        def each(run: Run) -> tuple[float, float]:
            return 1e6 * run.loop_cpu / max(1, run.received), run.wire_bytes / max(1, run.received)

        (on_us, on_bytes), (off_us, off_bytes) = each(on), each(off)
        lines.append(
            f"- permessage-deflate at M = {big.clients}: the event loop's time per delivered "
            f"message {on_us:.0f} µs with it, {off_us:.0f} µs without; {on_bytes:.0f} against "
            f"{off_bytes:.0f} bytes on the wire; the servers' memory {on.rss_mb:.0f} against "
            f"{off.rss_mb:.0f} MB; p99 {on.p99:.1f} against {off.p99:.1f} ms"
        )
    title = f"Fan-out: {label}"
    if args.deflate != "default":
        title += f", deflate {args.deflate}"
    record(title, lines, enabled=not args.no_record)


if __name__ == "__main__":
    main()
