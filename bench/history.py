"""History list and transcript search at scale: p50/p99 server time against a bare-query floor.

    .venv/bin/python bench/history.py [--conversations 100000] [--utterances-per 20] [--runs 60]

Seeds a temporary SQLite database (kept in /tmp between runs, reseeded only when it holds fewer
conversations than asked for), renders the pages through the Django test client (the whole
middleware + view + template path, no network), and appends the figures to bench/RESULTS.md.
Targets: list p50 < 100 ms, search p50 < 300 ms.
"""

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST_TARGET_MS, SEARCH_TARGET_MS = 100, 300
# Searches people make: common and rare words, names, a quoted phrase, a miss.
PHRASES = [
    "pricing",
    "refund policy",
    "Zephyr",
    "Priya budget",
    '"shipping delays"',
    "roadmap",
    "Nimbus rollout",
    "vacation",
    "security review",
    "lighthouse",
    "thanks",
    "Mistral weeks",
]
# What people click on the list: the first page, deep pages, filters, other sorts.
LIST_URLS = [
    "/history/",
    "/history/?page=2",
    "/history/?page=40",
    "/history/?status=ended",
    "/history/?recording=yes",
    "/history/?end_reason=max_call_duration&page=3",
    "/history/?sort=oldest",
    "/history/?sort=longest",
    "/history/?persona=p9a95912",
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument(
        "--utterances-per", type=int, default=20, help="caption lines per conversation on average"
    )
    parser.add_argument("--runs", type=int, default=60, help="requests per measurement")
    parser.add_argument("--db", default="/tmp/studio-bench-history.sqlite3")
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args()


def setup_django(db_path: str):
    # DEBUG stays on while settings load (plain static storage, no collectstatic needed), then
    # goes off before anything renders, so templates and queries run as in production.
    os.environ.update(
        DATABASE_URL=f"sqlite:///{db_path}",
        DEBUG="true",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="studio.settings",
    )
    import django
    from django.conf import settings

    warnings.filterwarnings("ignore", "No directory at")  # whitenoise: no collectstatic here

    django.setup()
    settings.DEBUG = False


def ensure_seeded(conversations: int, per: int) -> float | None:
    from django.core.management import call_command
    from django.db import OperationalError, connection

    from studio.conversations.models import Conversation

    try:
        call_command("migrate", verbosity=0)
    except OperationalError:
        # Kept in /tmp between runs, the database may have been migrated by another checkout
        # whose migrations differ from these: start it afresh.
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{connection.settings_dict['NAME']}{suffix}").unlink(missing_ok=True)
        call_command("migrate", verbosity=0)
    have = Conversation.objects.count()
    if have >= conversations:
        return None
    started = time.monotonic()
    call_command("seed_demo", conversations=conversations - have, utterances_per=per, batch=2000)
    return time.monotonic() - started


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))
    return ordered[index]


def measure(fn, runs: int) -> list[float]:
    fn()  # warm up (template compile, first connection)
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main():
    args = parse_args()
    setup_django(args.db)
    seeded_in = ensure_seeded(args.conversations, args.utterances_per)

    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client

    from studio.conversations import search
    from studio.conversations.models import Conversation, Utterance

    totals = Conversation.objects.count(), Utterance.objects.count()
    user, _ = User.objects.get_or_create(username="bench-supervisor")
    user.groups.add(Group.objects.get(name="Supervisor"))
    client = Client()
    client.force_login(user)
    operator = User.objects.filter(groups__name="Operator").order_by("pk").first()
    operator_client = Client()
    operator_client.force_login(operator)
    rng = random.Random(1)

    def floor(i=0):
        # What any list page must at least do: read 50 rows in date order.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, created_at, title, status, ended_at FROM conversations_conversation "
                "ORDER BY created_at DESC LIMIT 50 OFFSET %s",
                [rng.randrange(0, 2000)],
            )
            cursor.fetchall()

    def get(url, **params):
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code)
        return response

    results = {
        "floor (bare SELECT … LIMIT 50)": measure(floor, args.runs),
        "list, first page": measure(lambda i=0: get("/history/"), args.runs),
        "list, an operator's own, first page": measure(
            lambda i=0: operator_client.get("/history/"), args.runs
        ),
        "list, mixed pages/filters/sorts": measure(
            lambda i=0: get(LIST_URLS[i % len(LIST_URLS)]), args.runs
        ),
        "search, mixed phrases": measure(
            lambda i=0: get("/history/", q=PHRASES[i % len(PHRASES)]), args.runs
        ),
    }
    hits = {p: search.search(Conversation.objects.all(), p).count() for p in PHRASES}

    floor_p50 = statistics.median(results["floor (bare SELECT … LIMIT 50)"])
    machine = (
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}"
    )
    lines = [
        f"## History list and search — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {machine}",
        f"- Data: {totals[0]:,} conversations, {totals[1]:,} caption lines "
        f"(`--conversations {args.conversations} --utterances-per {args.utterances_per}`)"
        + (f"; seeded in {seeded_in:.0f} s" if seeded_in else "; reused the seeded database"),
        f"- {args.runs} requests per row, server time through the Django test client",
        "",
        "| measurement | p50 ms | p99 ms | p50 / floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, samples in results.items():
        p50, p99 = statistics.median(samples), percentile(samples, 99)
        lines.append(f"| {name} | {p50:.1f} | {p99:.1f} | {p50 / floor_p50:.0f}× |")
    list_p50 = statistics.median(results["list, first page"])
    search_p50 = statistics.median(results["search, mixed phrases"])
    lines += [
        "",
        f"- Targets: list p50 {list_p50:.0f} ms (< {LIST_TARGET_MS}: "
        f"{'met' if list_p50 < LIST_TARGET_MS else 'MISSED'}), search p50 {search_p50:.0f} ms "
        f"(< {SEARCH_TARGET_MS}: {'met' if search_p50 < SEARCH_TARGET_MS else 'MISSED'})",
        "- The floor is the database read alone; the rest of a list page (~20 ms) is Django's "
        "request path (session, user, role), the filter form and rendering 50 rows.",
        "- Matches per phrase: " + ", ".join(f"{p} {n:,}" for p, n in hits.items()),
        "",
    ]
    from bench.common import target

    floor_ms = f"SELECT … LIMIT 50 p50 {floor_p50:.1f} ms"
    target(
        "history list, first page",
        f"p50 {list_p50:.0f} ms",
        floor_ms,
        f"p50 < {LIST_TARGET_MS} ms",
        list_p50 < LIST_TARGET_MS,
    )
    target(
        "transcript search",
        f"p50 {search_p50:.0f} ms",
        floor_ms,
        f"p50 < {SEARCH_TARGET_MS} ms",
        search_p50 < SEARCH_TARGET_MS,
    )
    report = "\n".join(lines)
    print(report)
    if not args.no_record:
        results_md = ROOT / "bench" / "RESULTS.md"
        header = "" if results_md.exists() else "# Benchmark results\n\n"
        with open(results_md, "a", encoding="utf-8") as out:
            out.write(header + report + "\n")


if __name__ == "__main__":
    main()
