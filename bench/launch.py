"""Launch overhead: the studio's own time per launch, the Tavus call left out.

    .venv/bin/python bench/launch.py [--launches 200]

Each launch is the real POST /launch/<preset>/ an operator's "Launch conversation" button
sends, through the Django test client (middleware, form, the Conversation row, the callback
URL, marking it launched, the audit entry, the live-page and monitor broadcast, the redirect),
against the sandbox over real HTTP (uvicorn in a subprocess on the same temporary database).
`studio.tavus.client.create_conversation` is wrapped and timed on its own; the studio's time is
the view's minus that. Each conversation is ended at the sandbox after its launch (not timed),
and its webhooks (shutdown, transcript) land before the next launch. Floor: GET /healthz through the
same test client (the least a request costs). Target: p50 under 25 ms.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Workspace, percentile, record, target, verdict  # noqa: E402

TARGET_P50_MS = 25


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=200)
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args()


def setup():
    from django.contrib.auth.models import Group, User

    from studio.library.models import Persona, Replica
    from studio.presets.models import Preset

    # Mirrors of the sandbox's stock replica and persona, as Library → Sync leaves them.
    face = Replica.objects.create(
        replica_id="r79e1c033f", name="Anna", status="ready", replica_type="system"
    )
    persona = Persona.objects.create(
        persona_id="p9a95912",
        name="Demo Persona",
        persona_type="system",
        default_replica_id=face.replica_id,
        system_prompt="You are a friendly demo.",
    )
    operator = User.objects.create_user("bench-operator")
    operator.groups.add(Group.objects.get_or_create(name="Operator")[0])
    preset = Preset.objects.create(
        name="Interview practice",
        persona=persona,
        conversation_name="Interview practice",
        custom_greeting="Hello! Ready when you are.",
        language="english",
        max_call_minutes=10,
        participant_left_timeout=30,
        participant_absent_timeout=600,
        created_by=operator,
        updated_by=operator,
    )
    return operator, preset


def main():
    args = parse_args()
    workspace = Workspace("launch")
    try:
        workspace.setup_django()
        # The sandbox replica never joins during the run: no lifecycle work competes with it.
        sandbox = workspace.server(
            SANDBOX_CONCURRENCY_LIMIT=1000,
            SANDBOX_JOIN_DELAY=3600,
            RECONCILE_INTERVAL=3600,
            ALERT_INTERVAL=3600,
        ).wait_ready()
        figures = measure(args, sandbox.url)
    finally:
        workspace.close()
    report(args, *figures)


def measure(args, sandbox_url: str):
    import secrets

    from django.conf import settings
    from django.test import Client

    from studio.conversations.models import Conversation
    from studio.sandbox.models import WebhookDelivery
    from studio.tavus import client as tavus

    settings.TAVUS_API_KEY, settings.TAVUS_MODE = "", "sandbox"
    settings.TAVUS_API_BASE = sandbox_url + "/sandbox"
    settings.STUDIO_PUBLIC_URL = sandbox_url  # the server is a whole studio: webhooks land there
    operator, preset = setup()
    browser = Client()
    browser.force_login(operator)

    tavus_ms: list[float] = []
    real_create = tavus.create_conversation

    def timed_create(body):
        started = time.perf_counter()
        try:
            return real_create(body)
        finally:
            tavus_ms.append((time.perf_counter() - started) * 1000)

    tavus.create_conversation = timed_create

    def floor() -> float:
        started = time.perf_counter()
        assert browser.get("/healthz").status_code == 200
        return (time.perf_counter() - started) * 1000

    def launch() -> tuple[float, float]:
        data = {"launch_key": secrets.token_urlsafe(24)}
        started = time.perf_counter()
        response = browser.post(f"/launch/{preset.pk}/", data)
        total = (time.perf_counter() - started) * 1000
        assert response.status_code == 302, (response.status_code, response.content[:500])
        conversation = Conversation.objects.latest("pk")
        assert conversation.status == Conversation.ACTIVE, conversation.failure_reason
        # Not timed: end it, and let the server take the sandbox's shutdown webhook before the
        # next launch, so a plan's worth of conversations is live, not 200, and no webhook
        # work overlaps a measured launch.
        tavus.end_conversation(conversation.tavus_id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            conversation.refresh_from_db(fields=["status"])
            pending = WebhookDelivery.objects.filter(
                delivered_at__isnull=True, gave_up_at__isnull=True
            )
            if not conversation.is_live and not pending.exists():
                break
            time.sleep(0.02)
        return total, tavus_ms[-1]

    for _ in range(5):  # warm up: templates, first connections
        launch()
        floor()
    floor_ms = [floor() for _ in range(args.launches)]
    totals, calls = zip(*(launch() for _ in range(args.launches)), strict=True)
    own = [t - c for t, c in zip(totals, calls, strict=True)]
    return floor_ms, list(totals), list(calls), own


def report(args, floor_ms, totals, calls, own):
    floor_p50 = statistics.median(floor_ms)
    rows = [
        ("floor: GET /healthz", floor_ms),
        ("launch, whole view", totals),
        ("the Tavus (sandbox) call in it", calls),
        ("the studio's own time", own),
    ]
    lines = [
        f"- {args.launches} launches of one preset by an operator (POST /launch/<preset>/ through "
        "the Django test client, DEBUG off), each ended at the sandbox afterwards (not timed)",
        "",
        "| measurement | p50 ms | p99 ms | p50 / floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, samples in rows:
        p50 = statistics.median(samples)
        lines.append(
            f"| {name} | {p50:.1f} | {percentile(samples, 99):.1f} | {p50 / floor_p50:.1f}× |"
        )
    p50 = statistics.median(own)
    lines += [
        "",
        f"- Target: the studio's own time p50 {p50:.1f} ms (< {TARGET_P50_MS}: "
        f"{verdict(p50 < TARGET_P50_MS)})",
    ]
    target(
        "launch, the studio's own time",
        f"p50 {p50:.1f} ms ({p50 / floor_p50:.1f}×)",
        f"GET /healthz p50 {floor_p50:.1f} ms",
        f"p50 < {TARGET_P50_MS} ms",
        p50 < TARGET_P50_MS,
    )
    record("Launch overhead", lines, enabled=not args.no_record)


if __name__ == "__main__":
    main()
