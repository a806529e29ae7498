"""Fan-out: one relay socket streams utterances into a live conversation watched by M sockets.

    .venv/bin/python bench/fanout.py [--events 1000] [--rate 50] [--clients 1 50 200] [--quick]
                                     [--no-deflate] [--layer memory|redis]

For each M the launcher's socket (the live page's relay) sends `--events` caption lines at
`--rate` per second; M supervisors' sockets watch the same conversation through the studio
(uvicorn in a subprocess as `make run` starts it, DEBUG off, a temporary SQLite database, the
in-memory channel layer). Each line carries its number, so every delivery's latency is measured
against its send time on one clock; the watchers are bench/wsclient.py's lean receivers, so the
figures are the servers', not a client library's. Floor: a bare `websockets` server that
broadcasts what its relay sends to the same M sockets — the least any fan-out server must do.
`--layer redis` (DATABASE_URL=postgres://..., REDIS_URL) runs the studio as two processes on
Redis and a fresh PostgreSQL database, the relay on the first, the watchers split across both.
Targets: p99 < 100 ms at M = 200 on the in-memory layer, and p99 < 3× the floor's.
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
    Workspace,
    free_port,
    percentile,
    record,
    scale_services,
    session_cookie,
    verdict,
)
from bench.wsclient import watch  # noqa: E402

P99_TARGET_MS, FLOOR_RATIO_TARGET = 100, 3
MARK = re.compile(rb"bench-(\d+)-x")


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
        "--no-deflate",
        action="store_true",
        help="both servers without permessage-deflate (UVICORN_WS_PER_MESSAGE_DEFLATE=false)",
    )
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
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
    sent: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    first_send: float = 0.0
    last_receive: float = 0.0

    @property
    def expected(self) -> int:
        return self.clients * self.events

    def row(self, floor: "Run | None") -> str:
        p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
        span = max(1e-9, self.last_receive - self.first_send)
        ratio = f"{p99 / max(percentile(floor.latencies, 99), 1e-9):.1f}×" if floor else "1×"
        return (
            f"| {self.label} | {self.clients} | {self.received:,} / {self.expected:,} | "
            f"{p50:.1f} | {p99:.1f} | {self.received / span:,.0f} | {ratio} |"
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
    run: Run, relay_url: str, targets: list[tuple[int, str]], headers, rate: float, tavus_id: str
):
    """Connect the watchers (port, path), stream the events, wait for every delivery (or 15 s)."""
    from websockets.asyncio.client import connect

    done = asyncio.Event()

    def on_message(message: bytes, now: float) -> None:
        # A frame may carry several events (the studio batches pushes to big groups).
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
        start = time.perf_counter() + 0.1
        run.first_send = start
        for i in range(run.events):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = utterance(i, tavus_id)
            run.sent[i] = time.perf_counter()
            await relay.send(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 15)
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


def new_conversation(launcher):
    from studio.conversations.models import Conversation, hash_secret

    return Conversation.objects.create(
        launched_by=launcher,
        title="Fan-out bench",
        status=Conversation.ACTIVE,
        tavus_id="c" + secrets.token_hex(6),
        conversation_url="http://127.0.0.1/sandbox/rooms/bench/",
        webhook_secret_hash=hash_secret(secrets.token_urlsafe(32)),
        settings_snapshot={"properties": {"max_call_duration": 3600}},
    )


def studio_runs(args, servers, launcher, launcher_cookie, cookies, label) -> list[Run]:
    runs = []
    for m in args.clients:
        conversation = new_conversation(launcher)
        path = f"/ws/conversations/{conversation.pk}/"
        relay = servers[0]
        targets = [(servers[i % len(servers)].port, path) for i in range(m)]

        def headers(i):
            # Each page's Origin is the server it loaded from (the studio checks it exactly).
            cookie = launcher_cookie if i < 0 else cookies[i]
            origin = servers[0].url if i < 0 else servers[i % len(servers)].url
            return {"Cookie": f"sessionid={cookie}", "Origin": origin}

        run = Run(label, m, args.events)
        relay_url = f"ws://127.0.0.1:{relay.port}{path}"
        # The events carry the conversation's Tavus id: the consumer checks it.
        asyncio.run(run_once(run, relay_url, targets, headers, args.rate, conversation.tavus_id))
        runs.append(run)
        print(runs[-1].row(None), flush=True)
    return runs


def floor_runs(args) -> list[Run]:
    import subprocess

    port = free_port()
    command = [sys.executable, __file__, "--floor-server", str(port)]
    process = subprocess.Popen(command + (["--no-deflate"] if args.no_deflate else []))
    try:
        time.sleep(1.0)
        runs = []
        for m in args.clients:
            run = Run("floor: bare websockets broadcast", m, args.events)
            targets = [(port, "/watch")] * m
            relay_url = f"ws://127.0.0.1:{port}/relay"
            asyncio.run(run_once(run, relay_url, targets, lambda i: {}, args.rate, "floor"))
            runs.append(run)
            print(run.row(None), flush=True)
        return runs
    finally:
        process.terminate()
        process.wait(10)


def main():
    args = parse_args()
    if args.floor_server:
        asyncio.run(floor_server(args.floor_server, deflate=not args.no_deflate))
        return
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
    try:
        workspace.setup_django()
        launcher, (launcher_cookie,), cookies = setup_people(max(args.clients))
        servers = [workspace.server(RELAY_MAX_PER_SECOND=relay_limit) for _ in range(processes)]
        for server in servers:
            server.wait_ready()
        floor = floor_runs(args)
        studio = studio_runs(args, servers, launcher, launcher_cookie, cookies, label)
    finally:
        workspace.close()

    lines = [
        f"- {args.events:,} utterance events at {args.rate:g}/s per run from the launcher's "
        "socket; each watcher is a supervisor's socket on the conversation's live page"
        + (", split across both processes (the relay on the first)" if processes > 1 else ""),
        f"- Studio: uvicorn --ws websockets-sansio, RELAY_MAX_PER_SECOND={relay_limit}; "
        + (
            "permessage-deflate OFF on both servers (`UVICORN_WS_PER_MESSAGE_DEFLATE=false`)"
            if args.no_deflate
            else "permessage-deflate on for both servers (what browsers negotiate by default)"
        ),
        "",
        "| server | M | delivered | p50 ms | p99 ms | delivered msgs/s | p99 / floor p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [run.row(None) for run in floor]
    lines += [run.row(base) for run, base in zip(studio, floor, strict=True)]
    big, base = studio[-1], floor[-1]
    p99, floor_p99 = percentile(big.latencies, 99), percentile(base.latencies, 99)
    target = P99_TARGET_MS if processes == 1 else None
    lines += [
        "",
        f"- Targets at M = {big.clients}: p99 {p99:.0f} ms"
        + (f" (< {target}: {verdict(p99 < target)})" if target else " (no target on Redis)")
        + f", {p99 / max(floor_p99, 1e-9):.1f}× the floor's p99 (< {FLOOR_RATIO_TARGET}×: "
        f"{verdict(p99 < FLOOR_RATIO_TARGET * floor_p99)}); "
        f"lost {big.expected - big.received:,} of {big.expected:,}",
    ]
    if args.no_deflate:
        label += ", no deflate"
    record(f"Fan-out: {label}", lines, enabled=not args.no_record)


if __name__ == "__main__":
    main()
