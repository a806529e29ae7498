"""The sandbox clock: `tick(now)` acts on every due timer; `ensure_ticker()` runs it in a thread.

Deadlines live in the database (see models.Conversation), so timers survive page reloads and
restarts, and any process may tick. One daemon thread per process calls `tick()` about four
times a second; it is started lazily by sandbox requests, never at import or app start-up, so
`manage.py` commands and migrations don't spawn it.
"""

import logging
import threading
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from studio.sandbox import webhooks
from studio.sandbox.models import STALE_SECONDS, Conversation, Document

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop: threading.Event | None = None


def _needs_work(conversation: Conversation, now: datetime) -> bool:
    """Cheap unlocked look, so an idle tick takes no write lock."""
    if conversation.replica_joined_at is None and conversation.joins_at <= now:
        return True
    if conversation.due_shutdown(now):
        return True
    if conversation.participants.filter(
        left_at__isnull=True, last_seen__lt=now - timedelta(seconds=STALE_SECONDS)
    ).exists():
        return True
    return bool(
        conversation.replica_joined_at
        and not conversation.greeted_at
        and conversation.present(now).exists()
    )


def _advance(conversation_id: str, now: datetime) -> None:
    with Conversation.objects.locked(conversation_id) as conversation:
        if conversation.status != Conversation.ACTIVE:
            return
        if conversation.replica_joined_at is None and conversation.joins_at <= now:
            conversation.join_replica(now)
        conversation.sweep_presence(now)
        reason = conversation.due_shutdown(now)
        if reason:
            conversation.end(reason, now)
        else:
            conversation.maybe_greet(now)


def tick(now: datetime | None = None) -> None:
    """Process every timer due at `now` (default: the real time), then send due webhooks.

    Tests pass a controlled `now` to jump ahead; webhook retries always use the real clock.
    """
    now = now or timezone.now()
    live = Conversation.objects.holding_slots().filter(joins_at__isnull=False)
    for conversation in live:
        if _needs_work(conversation, now):
            try:
                _advance(conversation.pk, now)
            except Conversation.DoesNotExist:
                continue  # hard-deleted meanwhile
    for document in Document.objects.due(now):
        document.advance(now)
    webhooks.deliver_due()


def _run(stop: threading.Event) -> None:
    failures = 0
    try:
        while not stop.wait(TICK_SECONDS):
            try:
                tick()
                failures = 0
            except Exception:
                # Never let one bad tick (a locked database, a vanished table) kill the clock;
                # log the first failure and then only now and again.
                failures += 1
                if failures == 1 or failures % 200 == 0:
                    log.exception("sandbox ticker: tick failed (%d in a row)", failures)
                connection.close()
    finally:
        connection.close()


def ensure_ticker() -> threading.Thread:
    """Start this process's ticker thread unless it is already running (idempotent)."""
    global _thread, _stop
    with _lock:
        if _thread is None or not _thread.is_alive():
            _stop = threading.Event()
            _thread = threading.Thread(
                target=_run, args=(_stop,), name="sandbox ticker", daemon=True
            )
            _thread.start()
        return _thread


def stop_ticker(timeout: float = 5.0) -> None:
    """Stop the ticker thread and wait for it (tests; a later request starts a new one)."""
    global _thread, _stop
    with _lock:
        thread, stop = _thread, _stop
        _thread = _stop = None
    if thread is not None and stop is not None:
        stop.set()
        thread.join(timeout)
