"""Everything the studio runs in the background, in one list.

Every server process starts these loops with the server (ASGI lifespan, studio/asgi.py); each
pass first takes its lease in the database (Lease.turn), so with several processes one of them
acts at a time and the others stand aside (README, "Running at scale"). A job takes its lease
itself, so running one by hand (`manage.py reconcile`) stands aside the same way. No job runs
another at the end of its pass.

- reconciler, every RECONCILE_INTERVAL s, lease `reconciler` (2 × the interval, renewed before
  each conversation): reconcile.reconcile, the studio's running conversations against Tavus's.
- artifacts, every RECONCILE_INTERVAL s, lease `artifacts` (2 × the interval):
  artifacts.watch_artifacts, asks Tavus for transcripts and recordings that never came.
- alerts, every ALERT_INTERVAL s, lease `alerts` (one interval): wall.refresh_alerts, the
  monitoring wall's time-based alerts and its board.
- search, every ALERT_INTERVAL s, lease `search-catch-up` (one interval): search.catch_up,
  indexes the live captions the per-caption throttle skipped.
- retention, every RECONCILE_INTERVAL s, lease `purge-day` (24 h, kept: at most one purge a day
  across all processes): retention.purge_once_a_day.

Not in this list, because it runs on no timer: a tool call that a tool's HTTPS endpoint answers
is handed to a small thread pool as it arrives (studio.conversations.behaviour), one call once.

Not in this list, because it is not the studio's: the sandbox's own ticker, a daemon thread per
process, started by the first sandbox request, that acts on the emulated conversations' timers
about four times a second (studio/sandbox/lifecycle.py; no lease: each conversation it advances
is locked with SELECT … FOR UPDATE). The sandbox knows nothing of the studio, and the studio
never imports it.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from studio.conversations import artifacts, reconcile, retention, search, wall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], object]  # one pass; it takes `lease` itself
    every: Callable[[], float]  # seconds between passes (settings are read at each pass)
    lease: str


JOBS = (
    Job("reconciler", reconcile.reconcile, lambda: settings.RECONCILE_INTERVAL, reconcile.LEASE),
    Job(
        "artifacts",
        artifacts.watch_artifacts,
        lambda: settings.RECONCILE_INTERVAL,
        artifacts.WATCHDOG_LEASE,
    ),
    Job("alerts", wall.refresh_alerts, lambda: settings.ALERT_INTERVAL, wall.ALERTS_LEASE),
    Job("search", search.catch_up, lambda: settings.ALERT_INTERVAL, search.CATCH_UP_LEASE),
    Job(
        "retention",
        retention.purge_once_a_day,
        lambda: settings.RECONCILE_INTERVAL,
        retention.DAILY_LEASE,
    ),
)


async def run_forever(job: Job) -> None:
    """Run `job` now and then every `job.every()` seconds, in a worker thread, until cancelled."""
    while True:
        try:
            await sync_to_async(job.run, thread_sensitive=False)()
        except Exception:
            log.exception("%s pass failed", job.name)
        await asyncio.sleep(job.every())


def start() -> list[asyncio.Task]:
    """Start every job's loop on the running event loop (the server's lifespan startup)."""
    loop = asyncio.get_running_loop()
    return [loop.create_task(run_forever(job), name=f"job {job.name}") for job in JOBS]
