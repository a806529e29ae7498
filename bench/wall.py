"""Caption wall: 50 live conversations stream captions while three supervisors watch the wall.

    .venv/bin/python bench/wall.py [--conversations 50] [--rate 10] [--seconds 30] [--quick]
                                   [--no-browser]

Each conversation's live page (the launcher's socket, as live.js relays the room) sends
`--rate` in-room events a second: every utterance streams four chunks
(conversation.utterance.streaming) and then its final line (conversation.utterance), so at the
defaults 500 events/s come in and 100 final lines/s change a tile on the wall. Three
supervisors watch the monitoring wall: two through bench/wsclient.py's lean sockets, one in
Chromium (Playwright, Debian's /usr/bin/chromium), whose long tasks a PerformanceObserver
records while the captions flow. The studio runs as `make run` starts it (one uvicorn process,
DEBUG off, SQLite, the in-memory layer). Measured: each final line from its relay's send to
its first arrival on each wall (p50/p99, lines lost), the same to its own live page, the
server's CPU, and the wall page's long tasks.

Floor: a bare `websockets` server doing the same fan-out (each event back to its relay's own
socket, each final line to every wall) to the same number of lean sockets.
Targets: wall delivery p99 < 150 ms, nothing lost, on one process; no long task over 50 ms.
"""

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Workspace, free_port, percentile, record, session_cookie, target  # noqa: E402
from bench.wsclient import watch  # noqa: E402

P99_TARGET_MS, LONG_TASK_MS = 150, 50
CHUNKS = 4  # streaming chunks before each final line
MARK = re.compile(rb"wall-(\d+)-(\d+)-x")
WORDS = [
    "so",
    "the",
    "plan",
    "for",
    "next",
    "quarter",
    "is",
    "to",
    "move",
    "the",
    "rollout",
    "forward",
    "and",
    "keep",
    "the",
    "pricing",
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# Recorded in the page: when each message carrying a final line arrived (Date.now(), the same
# clock as the bench's time.time()), and every long task.
WALL_PROBE = """
window.__arrivals = [];
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({type: "longtask", buffered: true});
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => {
      const now = Date.now();
      for (const m of String(e.data).matchAll(/wall-(\\d+)-(\\d+)-x/g)) {
        window.__arrivals.push([Number(m[1]), Number(m[2]), now]);
      }
    });
  }
};
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10, help="events/s per conversation")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--quick", action="store_true", help="10 seconds")
    parser.add_argument("--no-browser", action="store_true", help="three lean wall sockets")
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 10
    return args


def event(n: int, k: int, tavus_id: str) -> tuple[str, int | None]:
    """Conversation n's k-th event: a streaming chunk, or every (CHUNKS + 1)th a final line,
    whose number it returns."""
    line, chunk = divmod(k, CHUNKS + 1)
    role = "replica" if line % 2 else "user"
    words = " ".join(WORDS[: 3 + (line % 10)])
    final = chunk == CHUNKS
    if final:
        speech = f"wall-{n}-{line}-x {words}."
        body = {"event_type": "conversation.utterance", "seq": line}
    else:
        speech = " ".join(words.split()[: 2 + chunk * 2])
        body = {"event_type": "conversation.utterance.streaming"}
    body.update(
        message_type="conversation",
        conversation_id=tavus_id,
        inference_id=f"inf-{n}-{line}",
        properties={"role": role, "speech": speech, **({} if final else {"final": False})},
    )
    return json.dumps({"type": "room_event", "event": body}), (line if final else None)


@dataclass
class Arrivals:
    """Final lines' send times and their arrivals, per receiver."""

    sent: dict[tuple[int, int], float] = field(default_factory=dict)  # (n, line) -> time.time()
    seen: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)

    def arrived(self, receiver: str, key: tuple[int, int], now: float) -> None:
        self.seen.setdefault(receiver, {}).setdefault(key, now)  # the first arrival counts

    def expected(self, receiver: str) -> list[tuple[int, int]]:
        """A wall gets every final line; conversation n's own page (`page-<n>`) its own."""
        if receiver.startswith("page-"):
            n = int(receiver.removeprefix("page-"))
            return [k for k in self.sent if k[0] == n]
        return list(self.sent)

    def latencies(self, receivers) -> list[float]:
        out = []
        for receiver in receivers:
            seen = self.seen.get(receiver, {})
            out += [1000 * (seen[k] - self.sent[k]) for k in self.expected(receiver) if k in seen]
        return out

    def lost(self, receivers) -> int:
        return sum(1 for r in receivers for k in self.expected(r) if k not in self.seen.get(r, {}))


# --- The floor: a bare fan-out server --------------------------------------------------------


async def floor_server(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    walls = set()

    async def handler(ws):
        if ws.request.path.startswith("/relay/"):
            async for message in ws:
                # Each event back to its own page; a final line to every wall, as a tile.
                props = json.loads(message)["event"]["properties"]
                html = f'<div id="streaming" hx-swap-oob="true">{props["speech"]}</div>'
                await ws.send(html)
                if props.get("speech", "").startswith("wall-"):
                    broadcast(walls, f'<div id="tile-captions" hx-swap-oob="true">{html}</div>')
        else:
            walls.add(ws)
            try:
                await ws.wait_closed()
            finally:
                walls.discard(ws)

    async with serve(handler, "127.0.0.1", port, max_size=None):
        await asyncio.Future()


# --- One run ---------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    arrivals: Arrivals = field(default_factory=Arrivals)
    walls: list[str] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # the server's CPU seconds while streaming
    loop_cpu: float = 0.0
    long_tasks: list[tuple[float, float]] = field(default_factory=list)  # (start, duration)
    browser_wall: str | None = None
    browser_load_ms: float = 0.0

    def wall_row(self, receivers, label) -> str:
        latencies = self.arrivals.latencies(receivers)
        expected = sum(len(self.arrivals.expected(r)) for r in receivers)
        return (
            f"| {label} | {len(receivers)} | {len(latencies):,} / {expected:,} | "
            f"{percentile(latencies, 50):.1f} | {percentile(latencies, 99):.1f} | "
            f"{self.arrivals.lost(receivers):,} |"
        )


async def stream(
    run: Run, relays: list, tavus_ids: list[str], rate: float, seconds: float, servers=()
):
    """Send every conversation's events at `rate`, in step with its own phase."""
    rng = random.Random(11)
    count = int(seconds * rate)
    phases = [rng.random() / rate for _ in relays]
    before = [s.cpu() for s in servers]
    start = time.perf_counter() + 0.2
    wall_clock = time.time() - time.perf_counter()  # time.time() = perf_counter() + this

    async def relay_task(n: int):
        relay = relays[n]
        for k in range(count):
            delay = start + phases[n] + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message, line = event(n, k, tavus_ids[n])
            if line is not None:
                run.arrivals.sent[(n, line)] = time.perf_counter() + wall_clock
            await relay.send(message)
            run.events += 1

    await asyncio.gather(*(relay_task(n) for n in range(len(relays))))
    run.seconds = time.perf_counter() - start
    if servers:
        after = [s.cpu() for s in servers]
        run.cpu = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        run.loop_cpu = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))


async def wait_for_all(run: Run, receivers, timeout: float = 5.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and run.arrivals.lost(receivers):
        await asyncio.sleep(0.1)


def lean_wall(run: Run, name: str):
    wall_clock = time.time() - time.perf_counter()

    def on_message(message: bytes, now: float) -> None:
        for match in MARK.finditer(message):
            run.arrivals.arrived(name, (int(match[1]), int(match[2])), now + wall_clock)

    return on_message


async def read_page(run: Run, relay, n: int) -> None:
    """The relay's own live page: its pushes (captions, streaming lines) come back on it."""
    with contextlib.suppress(Exception):
        async for message in relay:
            now = time.time()
            data = message.encode() if isinstance(message, str) else message
            for match in MARK.finditer(data):
                if int(match[1]) == n:
                    run.arrivals.arrived(f"page-{n}", (n, int(match[2])), now)


async def studio_run(args, server, people, conversations) -> Run:
    from websockets.asyncio.client import connect

    launcher_cookies, supervisor_cookies = people
    run = Run("studio, 1 process, in-memory layer, SQLite")
    origin = {"Origin": server.url}
    lean = 3 if args.no_browser else 2
    walls = []
    for i in range(lean):
        name = f"wall-{i}"
        headers = {**origin, "Cookie": f"sessionid={supervisor_cookies[i]}"}
        walls.append(
            await watch("127.0.0.1", server.port, "/ws/monitor/", headers, lean_wall(run, name))
        )
        run.walls.append(name)
    relays, readers = [], []
    for n, conversation in enumerate(conversations):
        cookie = launcher_cookies[n % len(launcher_cookies)]
        relay = await connect(
            f"ws://127.0.0.1:{server.port}/ws/conversations/{conversation.pk}/",
            additional_headers={**origin, "Cookie": f"sessionid={cookie}"},
            max_size=None,
        )
        relays.append(relay)
        readers.append(asyncio.create_task(read_page(run, relay, n)))
    browser = page = None
    playwright = None
    try:
        if not args.no_browser:
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.add_cookies(
                [{"name": "sessionid", "value": supervisor_cookies[lean], "url": server.url}]
            )
            await context.add_init_script(WALL_PROBE)
            page = await context.new_page()
            loaded = time.perf_counter()
            await page.goto(server.url + "/monitor/")
            await page.wait_for_selector('#monitor[data-socket="open"]', timeout=60_000)
            await page.wait_for_selector(f"#tile-{conversations[-1].pk}", timeout=60_000)
            run.browser_load_ms = 1000 * (time.perf_counter() - loaded)
            run.browser_wall = "wall-browser"
        await asyncio.sleep(1.0)  # every snapshot in
        mark = await page.evaluate("performance.now()") if page else 0.0
        tavus_ids = [c.tavus_id for c in conversations]
        await stream(run, relays, tavus_ids, args.rate, args.seconds, [server])
        await wait_for_all(run, run.walls)
        if page:
            for n, line, at in await page.evaluate("window.__arrivals"):
                run.arrivals.arrived("wall-browser", (n, line), at / 1000)
            run.long_tasks = [
                (start, duration)
                for start, duration in await page.evaluate("window.__longTasks")
                if start >= mark
            ]
    finally:
        if browser:
            await browser.close()
        if playwright:
            await playwright.stop()
        for relay in relays:
            await relay.close()
        for reader in readers:
            reader.cancel()
        for wall in walls:
            wall.close()
    return run


async def floor_run(args, port: int) -> Run:
    from websockets.asyncio.client import connect

    run = Run("floor: bare websockets fan-out")
    walls = []
    for i in range(3):
        walls.append(await watch("127.0.0.1", port, "/wall", {}, lean_wall(run, f"wall-{i}")))
        run.walls.append(f"wall-{i}")
    relays = [
        await connect(f"ws://127.0.0.1:{port}/relay/{n}", max_size=None)
        for n in range(args.conversations)
    ]
    readers = [asyncio.create_task(read_page(run, r, n)) for n, r in enumerate(relays)]
    await asyncio.sleep(0.5)
    tavus_ids = [f"floor-{n}" for n in range(args.conversations)]
    await stream(run, relays, tavus_ids, args.rate, args.seconds)
    await wait_for_all(run, run.walls)
    for relay in relays:
        await relay.close()
    for reader in readers:
        reader.cancel()
    for wall in walls:
        wall.close()
    return run


def setup(count: int):
    from django.contrib.auth.models import Group, User

    from bench.fanout import new_conversation

    operators = Group.objects.get_or_create(name="Operator")[0]
    supervisors = Group.objects.get_or_create(name="Supervisor")[0]
    launchers = []
    for n in range(10):  # ten operators with five conversations each
        user = User.objects.create_user(f"bench-operator-{n}")
        user.groups.add(operators)
        launchers.append(user)
    watching = []
    for n in range(3):
        user = User.objects.create_user(f"bench-supervisor-{n}")
        user.groups.add(supervisors)
        watching.append(user)
    conversations = [
        new_conversation(launchers[n % len(launchers)], title=f"Wall bench {n}")
        for n in range(count)
    ]
    return (
        [session_cookie(u) for u in launchers[: min(len(launchers), count)]],
        [session_cookie(u) for u in watching],
    ), conversations


def main():
    args = parse_args()
    if args.floor_server:
        asyncio.run(floor_server(args.floor_server))
        return
    import subprocess

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--floor-server", str(port)])
    try:
        time.sleep(1.0)
        floor = asyncio.run(floor_run(args, port))
    finally:
        process.terminate()
        process.wait(10)

    workspace = Workspace("wall")
    try:
        workspace.setup_django()
        people, conversations = setup(args.conversations)
        server = workspace.server()
        server.wait_ready()
        studio = asyncio.run(studio_run(args, server, people, conversations))
    finally:
        workspace.close()

    pages = [f"page-{n}" for n in range(args.conversations)]
    rows = [
        floor.wall_row(floor.walls, "floor: bare websockets fan-out, walls"),
        floor.wall_row(pages, "floor: bare websockets fan-out, each relay's own page"),
        studio.wall_row(studio.walls, "studio, walls (lean sockets)"),
    ]
    if studio.browser_wall:
        rows.append(studio.wall_row([studio.browser_wall], "studio, wall in Chromium"))
    rows.append(studio.wall_row(pages, "studio, each relay's own live page"))
    walls = studio.walls + ([studio.browser_wall] if studio.browser_wall else [])
    latencies = studio.arrivals.latencies(walls)
    p99, lost = percentile(latencies, 99), studio.arrivals.lost(walls)
    floor_p99 = percentile(floor.arrivals.latencies(floor.walls), 99)
    events_in = studio.events / max(studio.seconds, 1e-9)
    longest = max((d for _, d in studio.long_tasks), default=0.0)
    lines = [
        f"- {args.conversations} live conversations, each relaying {args.rate:g} in-room events/s "
        f"from its live page for {args.seconds:g} s ({CHUNKS} streaming chunks, then the final "
        f"line): {studio.events:,} events in at {events_in:,.0f}/s, "
        f"{len(studio.arrivals.sent):,} final lines; three supervisors on the wall"
        + ("" if args.no_browser else " (two lean sockets, one Chromium page)"),
        f"- Server: one uvicorn process as `make run` starts it; CPU "
        f"{100 * studio.cpu / max(studio.seconds, 1e-9):.0f} % of a core while streaming "
        f"(event loop {100 * studio.loop_cpu / max(studio.seconds, 1e-9):.0f} %)",
        "",
        "| delivery of each final line | receivers | delivered | p50 ms | p99 ms | lost |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
    ]
    if studio.browser_wall:
        lines.append(
            f"- Wall page in Chromium: loaded with {args.conversations} tiles in "
            f"{studio.browser_load_ms:,.0f} ms; while receiving, {len(studio.long_tasks)} long "
            f"tasks (longest {longest:.0f} ms)"
        )
    lines += [
        "",
        "| figure | floor | studio | target | |",
        "| --- | --- | --- | --- | --- |",
        target(
            f"caption wall, {args.conversations} conversations × {args.rate:g} events/s, 1 process",
            f"relay-to-wall p99 {p99:.1f} ms, lost {lost:,}, server CPU "
            f"{100 * studio.cpu / max(studio.seconds, 1e-9):.0f} %",
            f"p99 {floor_p99:.1f} ms",
            f"p99 < {P99_TARGET_MS} ms, 0 lost",
            p99 < P99_TARGET_MS and lost == 0 and len(latencies) > 0,
        ),
    ]
    if studio.browser_wall:
        lines.append(
            target(
                "wall page long tasks while receiving (Chromium)",
                f"{len(studio.long_tasks)} long tasks, longest {longest:.0f} ms",
                "–",
                f"none over {LONG_TASK_MS} ms",
                not studio.long_tasks,
            )
        )
    record(
        "Caption wall: 50 live conversations, three supervisors", lines, enabled=not args.no_record
    )


if __name__ == "__main__":
    main()
