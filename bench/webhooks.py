"""Webhook ingest: 5,000 Tavus webhooks (30 % duplicates) from 16 concurrent clients.

    .venv/bin/python bench/webhooks.py [--webhooks 5000] [--duplicates 0.3] [--clients 16]

The studio runs as `make run` runs it (uvicorn in a subprocess) on a temporary SQLite database
holding live conversations; the webhooks are the lifecycle Tavus sends each of them (replica
joined, shutdown, transcript, recording, perception analysis), shuffled, with 30 % sent again.
Floor: the same number of GET /healthz (a trivial endpoint that still touches the database and
the channel layer) on the same server from the same clients, a slice before each batch of
webhooks so the two meet the same load. With DATABASE_URL (PostgreSQL)
and REDIS_URL set it runs again on a fresh PostgreSQL database with two server processes,
the clients alternating between them as a load balancer would.
Target: at least half the floor's requests/s, with every webhook stored once and every
conversation's state exactly what its webhooks say.
"""

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Workspace, percentile, record, scale_services, target  # noqa: E402

TARGET_RATIO = 0.5  # webhooks/s at least this share of the floor's requests/s
KINDS = [
    ("system.replica_joined", {}),
    ("application.transcription_ready", None),  # properties built per conversation
    ("application.recording_ready", {"bucket_name": "b", "s3_key": "rec/x.mp4", "duration": 300}),
    ("application.perception_analysis", {"analysis": "The user looked engaged throughout."}),
    ("system.shutdown", {"shutdown_reason": "participant_left_timeout"}),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--live", type=int, default=25, help="conversations live at a time (the plan's slots)"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 webhooks")
    parser.add_argument(
        "--only",
        choices=["sqlite", "postgres"],
        help="run one configuration (default: SQLite, then PostgreSQL when configured)",
    )
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.webhooks = 1000
    return args


def tavus_timestamp() -> str:
    """The current time as Tavus writes it (UTC, microseconds, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lifecycle(tavus_id: str) -> list[dict]:
    """The webhooks Tavus sends for one conversation."""
    bodies = []
    for kind, properties in KINDS:
        if properties is None:
            lines = [
                {"role": "user" if i % 2 else "assistant", "content": f"Line {i} of {tavus_id}"}
                for i in range(20)
            ]
            properties = {"transcript": [{"role": "system", "content": "Be kind."}, *lines]}
        bodies.append(
            {
                "conversation_id": tavus_id,
                "event_type": kind,
                "message_type": "system" if kind.startswith("system.") else "application",
                # Now, not a fixed date: the webhook grace counts from the end, and a stale
                # shutdown would close it before the rest of the storm arrives.
                "timestamp": tavus_timestamp(),
                "properties": {"replica_id": "r79e1c033f", **properties},
            }
        )
    return bodies


def plan(total: int, duplicates: float, window: int):
    """Batches of `window` conversations: ([(tavus id, secret)], [(secret, body)]), each batch's
    webhooks shuffled with its share of the duplicates; and the number of distinct webhooks.
    A batch's conversations are created just before its webhooks are sent, so about `window`
    are live at a time, as on a plan with that many slots."""
    rng = random.Random(7)
    unique = round(total * (1 - duplicates))
    originals = []  # (batch number, secret, body)
    conversations: list[list[tuple[str, str]]] = []
    for n in range(-(-unique // len(KINDS))):
        if n % window == 0:
            conversations.append([])
        tavus_id, secret = f"c{n:07d}", secrets.token_urlsafe(24)
        conversations[-1].append((tavus_id, secret))
        originals += [(len(conversations) - 1, secret, body) for body in lifecycle(tavus_id)]
    originals = originals[:unique]
    batches = [(group, []) for group in conversations]
    for number, secret, body in originals:
        batches[number][1].append((secret, body))
    # Spread the duplicates evenly: batch i gets its share of the running total.
    given = 0
    for i, (_, hooks) in enumerate(batches):
        due = round((total - unique) * (i + 1) / len(batches)) - given
        hooks += [rng.choice(hooks) for _ in range(due)]
        given += due
        rng.shuffle(hooks)
    return batches, unique


def create_conversations(conversations: list[tuple[str, str]]) -> None:
    from django.contrib.auth.models import Group, User

    from studio.conversations.models import Conversation, hash_secret

    user = User.objects.filter(username="bench-operator").first()
    if user is None:
        user = User.objects.create_user("bench-operator")
        user.groups.add(Group.objects.get_or_create(name="Operator")[0])
    Conversation.objects.bulk_create(
        Conversation(
            launched_by=user,
            title=f"Webhook bench {tavus_id}",
            status=Conversation.ACTIVE,
            tavus_id=tavus_id,
            conversation_url=f"https://tavus.daily.co/{tavus_id}",
            webhook_secret_hash=hash_secret(secret),
            settings_snapshot={"properties": {"max_call_duration": 600}},
        )
        for tavus_id, secret in conversations
    )


class Connection:
    """One keep-alive HTTP/1.1 connection, as little client as will do: on a 2-core machine
    httpx's own CPU per request took a fifth of what the server could use."""

    def __init__(self):
        self.reader = self.writer = None

    async def request(self, method: str, url: str, body) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(parts.hostname, parts.port)
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        if data:
            head += "Content-Type: application/json\r\n"
        self.writer.write(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"{url}: response without Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def hammer(requests: list, clients: int) -> tuple[list[float], Counter, float]:
    """Send (method, url, json) requests from `clients` concurrent keep-alive connections."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies, outcomes = [], Counter()

    async def worker():
        connection = Connection()
        try:
            while not queue.empty():
                method, url, body = queue.get_nowait()
                started = time.perf_counter()
                status_code, payload = await connection.request(method, url, body)
                latencies.append((time.perf_counter() - started) * 1000)
                status = json.loads(payload).get("status", "?") if method == "POST" else ""
                outcomes[f"{status_code} {status}".strip()] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, outcomes, time.perf_counter() - started


def run_config(args, label: str, workspace: Workspace, processes: int) -> list[str]:
    workspace.setup_django()
    # The reconciler and the alert loop pass once at start-up, on the empty database, and not
    # again during the run: the bench's conversations are unknown to the sandbox, and a
    # reconciler asking it about 700 of them would be measured instead of the webhooks.
    servers = [
        workspace.server(RECONCILE_INTERVAL=3600, ALERT_INTERVAL=3600) for _ in range(processes)
    ]
    for server in servers:
        server.wait_ready()
    batches, unique = plan(args.webhooks, args.duplicates, args.live)
    urls = [s.url for s in servers]

    def cpu() -> float:
        return sum(server.cpu()[0] for server in servers)

    warm = [("GET", f"{urls[i % len(urls)]}/healthz", None) for i in range(50)]
    asyncio.run(hammer(warm, args.clients))

    def timed(requests, totals):
        cpu_before = cpu()
        latencies, outcomes, elapsed = asyncio.run(hammer(requests, args.clients))
        spent = cpu() - cpu_before
        return (totals[0] + latencies, totals[1] + outcomes, totals[2] + elapsed, totals[3] + spent)

    # The floor runs in slices, one just before each batch of webhooks and as large: on a
    # shared machine the load moves within a run, and the ratio should compare like with like.
    floor = ingest = ([], Counter(), 0.0, 0.0)
    sent = 0
    for conversations, hooks in batches:
        create_conversations(conversations)  # a launch, not timed
        floor = timed(
            [("GET", f"{urls[(sent + i) % len(urls)]}/healthz", None) for i in range(len(hooks))],
            floor,
        )
        requests = [
            ("POST", f"{urls[(sent + i) % len(urls)]}/hooks/tavus/{secret}/", body)
            for i, (secret, body) in enumerate(hooks)
        ]
        sent += len(requests)
        ingest = timed(requests, ingest)
    for server in servers:
        server.stop()

    stored, exact = check_state(batches, unique)
    rows = []
    for name, (latencies, outcomes, elapsed, spent) in (
        ("floor: GET /healthz", floor),
        ("webhooks", ingest),
    ):
        rows.append((name, len(latencies) / elapsed, latencies, outcomes, spent / len(latencies)))
    floor_rps, webhook_rps = rows[0][1], rows[1][1]
    lines = [
        "",
        f"### {label}",
        "",
        "| requests | answered | req/s | p50 ms | p99 ms | req/s ÷ floor | server CPU ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rps, latencies, outcomes, cpu_each in rows:
        answered = ", ".join(f"{k}: {v:,}" for k, v in sorted(outcomes.items()))
        lines.append(
            f"| {name} | {answered} | {rps:,.0f} | {percentile(latencies, 50):.1f} | "
            f"{percentile(latencies, 99):.1f} | {rps / floor_rps:.2f} | {1000 * cpu_each:.2f} |"
        )
    lines += [
        "",
        f"- Stored {stored:,} webhook events for {unique:,} distinct webhooks (each once: "
        f"{'yes' if stored == unique else 'NO'}); every conversation's state as its webhooks "
        f"say (status, end, reason, transcript, recording, analysis, replica joined): "
        f"{'yes' if exact else 'NO'}",
    ]
    where = "SQLite, 1 process" if processes == 1 else "PostgreSQL + Redis, 2 processes"
    lines += [
        "",
        "| figure | floor | studio | target | |",
        "| --- | --- | --- | --- | --- |",
        target(
            f"webhook ingest, {where}",
            f"{webhook_rps:,.0f} req/s ({webhook_rps / floor_rps:.2f}×); stored once and "
            f"exact: {'yes' if stored == unique and exact else 'NO'}",
            f"GET /healthz {floor_rps:,.0f} req/s",
            f"≥ {TARGET_RATIO}× floor, nothing dropped or doubled, state exact",
            webhook_rps >= TARGET_RATIO * floor_rps and stored == unique and exact,
        ),
    ]
    return lines


def check_state(batches, unique: int) -> tuple[int, bool]:
    """Events stored, and whether every conversation ended up exactly as its webhooks say."""
    from studio.conversations.models import Conversation, Event

    stored = Event.objects.filter(source=Event.WEBHOOK).count()
    sent = {}  # tavus id -> event types it was sent (duplicates collapse)
    for _, hooks in batches:
        for _, body in hooks:
            sent.setdefault(body["conversation_id"], set()).add(body["event_type"])
    # The order the studio stored them in: a join stored after the shutdown must not reopen it.
    order = {
        (e.conversation_id, e.event_type): e.pk
        for e in Event.objects.filter(source=Event.WEBHOOK).only("conversation", "event_type")
    }
    exact = True
    for c in Conversation.objects.filter(tavus_id__in=sent):
        kinds = sent[c.tavus_id]
        joined = order.get((c.pk, "system.replica_joined"))
        shutdown = order.get((c.pk, "system.shutdown"))
        expected = {
            "status": Conversation.ENDED if "system.shutdown" in kinds else Conversation.ACTIVE,
            "end_reason": "participant_left_timeout" if "system.shutdown" in kinds else "",
            "replica_joined": joined is not None and (shutdown is None or joined < shutdown),
            "transcript": 21 if "application.transcription_ready" in kinds else None,
            "recording": "application.recording_ready" in kinds,
            "analysis": "application.perception_analysis" in kinds,
        }
        got = {
            "status": c.status,
            "end_reason": c.end_reason,
            "replica_joined": c.replica_joined_at is not None,
            "transcript": None if c.transcript is None else len(c.transcript),
            "recording": c.recording is not None,
            "analysis": bool(c.perception_analysis),
        }
        if got != expected:
            print(f"state of {c.tavus_id}: {got} but its webhooks say {expected}", flush=True)
            exact = False
    return stored, exact


def main():
    args = parse_args()
    lines = [
        f"- {args.webhooks:,} webhooks, {args.duplicates:.0%} of them sent twice, from "
        f"{args.clients} concurrent keep-alive connections (a minimal asyncio HTTP/1.1 client, "
        "not httpx, to leave the server the CPU), in batches of "
        f"{args.live} conversations' lifecycles (replica joined, transcript, recording, "
        "perception, shutdown; shuffled), so about that many are live at a time; the floor is "
        "as many GET /healthz from the same clients on the same server(s), in slices run just "
        "before each batch (so both see the machine's load alike)",
    ]
    services = scale_services()
    if args.only != "postgres":
        workspace = Workspace("webhooks")
        try:
            lines += run_config(args, "SQLite, in-memory layer, 1 process", workspace, 1)
        finally:
            workspace.close()
    if args.only == "postgres" or (services and args.only is None):
        if not services:
            sys.exit("--only postgres needs DATABASE_URL=postgres://... and REDIS_URL")
        if args.only is None:
            # Django in this process is set up for SQLite now: PostgreSQL runs in a child.
            import subprocess

            command = [sys.executable, __file__, "--only", "postgres", "--no-record"]
            command += ["--webhooks", str(args.webhooks), "--clients", str(args.clients)]
            command += ["--duplicates", str(args.duplicates), "--live", str(args.live)]
            child = subprocess.run(command, capture_output=True, text=True, check=True)
            marker = "### PostgreSQL"
            lines += ["", child.stdout[child.stdout.index(marker) :].strip()]
        else:
            workspace = Workspace("webhooks", postgres_url=services[0], redis_url=services[1])
            try:
                lines += run_config(
                    args, "PostgreSQL + Redis, 2 processes (round robin)", workspace, 2
                )
            finally:
                workspace.close()
    record("Webhook ingest", lines, enabled=not args.no_record)


if __name__ == "__main__":
    main()
