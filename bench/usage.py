"""The Usage page at scale: p50/p99 server time with 100,000 conversations, against 200 ms.

    .venv/bin/python bench/usage.py [--conversations 100000] [--runs 40]

Seeds a temporary SQLite database with `manage.py seed_demo` (a year of history, no captions:
the page reads conversations only; kept in /tmp between runs and reseeded only when it holds
fewer conversations than asked for), renders the page through the Django test client (the
whole middleware + view + template path, no network) in each of its views, and appends the
figures to bench/RESULTS.md. Target: p50 < 200 ms for every view.

The page keeps the figures of periods settled over a week ago (usage.compute); the "cold" rows
drop them before every request, to show the price of the first look (no target).
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, record, verdict  # noqa: E402
from bench.history import ensure_seeded, measure, setup_django  # noqa: E402

TARGET_MS = 200
VIEWS = {
    "this month by day, by person (the default)": {},
    "this month by day, by preset": {"split": "preset"},
    "13 weeks by week, by persona": {"grain": "week", "split": "persona"},
    "12 months by month, by person (every row)": {"grain": "month"},
    "CSV, 12 months by month": {"grain": "month", "csv": True},
    # Cold: the figures kept for settled periods dropped before every request (the first
    # look after a conversation changed in them, or after an upgrade).
    "cold: this month by day": {"cold": True},
    "cold: 12 months by month": {"grain": "month", "cold": True},
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40, help="requests per view")
    parser.add_argument("--db", default="/tmp/studio-bench-usage.sqlite3")
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args()


def main():
    args = parse_args()
    setup_django(args.db)
    started = time.monotonic()
    seeded_in = ensure_seeded(args.conversations, 0)

    from django.contrib.auth.models import Group, User
    from django.test import Client

    from studio.conversations import usage
    from studio.conversations.models import Conversation, MinuteBudget

    total = Conversation.objects.count()
    user, _ = User.objects.get_or_create(username="bench-admin")
    user.groups.add(Group.objects.get_or_create(name="Admin")[0])
    # Budgets make the page (and the monitor) work out this month's use too.
    MinuteBudget.objects.get_or_create(person=None, defaults={"monthly_minutes": 100_000})
    client = Client()
    client.force_login(user)

    def get(params):
        params = dict(params)
        if params.pop("cold", False):
            usage.forget(datetime(2000, 1, 1, tzinfo=UTC))
        url = "/usage/export.csv" if params.pop("csv", False) else "/usage/"
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code)

    results = {name: measure(lambda i=0, p=p: get(p), args.runs) for name, p in VIEWS.items()}
    lines = [
        f"- Data: {total:,} conversations over a year (`--conversations {args.conversations}`)"
        + (f"; seeded in {seeded_in:.0f} s" if seeded_in else "; reused the seeded database"),
        f"- {args.runs} requests per row, server time through the Django test client",
        "",
        "| view | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
    ]
    worst = 0.0
    for name, samples in results.items():
        p50 = statistics.median(samples)
        if not name.startswith("cold"):
            worst = max(worst, p50)
        lines.append(f"| {name} | {p50:.1f} | {percentile(samples, 99):.1f} |")
    lines += [
        "",
        f"- Target: every view p50 < {TARGET_MS} ms: slowest p50 {worst:.0f} ms "
        f"({verdict(worst < TARGET_MS)}); run took {time.monotonic() - started:.0f} s",
        "- Cold rows have no target: they work out every period from the spans (one index "
        "range per period), as the first look after a change in a settled period does.",
    ]
    record("Usage page", lines, enabled=not args.no_record)
    if worst >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
