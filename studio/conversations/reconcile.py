"""The reconciler: keeps the studio's idea of what is running equal to Tavus's.

Tavus bills from creation until the end, and a plan has few slots, so a conversation the studio
lost track of costs money. Every action taken lands on the conversation's timeline with the
reason. Safe with several server processes: a lease lets one run at a time.
"""

import logging
import re

from django.conf import settings
from django.utils import timezone

from studio.conversations import live
from studio.conversations.artifacts import apply_tavus_events
from studio.conversations.models import HOLDER, Conversation, Event, Lease
from studio.tavus import client

log = logging.getLogger(__name__)
TAG = re.compile(r"\[studio:(\d+)\]")
LEASE = "reconciler"


def _note(conversation: Conversation, key: str, label: str, now) -> None:
    conversation.record_event(
        source=Event.STUDIO,
        event_type="studio.reconciler",
        dedupe_key=f"reconcile:{key}",
        payload={"label": label},
        occurred_at=now,
    )


def _active_at_tavus() -> dict[str, client.Conversation]:
    found, page = {}, 1
    while True:
        result = client.list_conversations(status="active", page=page, limit=100)
        found.update({c.conversation_id: c for c in result.items})
        if not result.items or len(found) >= result.total_count:
            return found
        page += 1


def _backfill(conversation: Conversation) -> set[str]:
    """Apply the events Tavus kept (verbose GET) that our webhook receiver never saw."""
    remote = client.get_conversation(conversation.tavus_id, verbose=True)
    changed = apply_tavus_events(conversation, remote.events)
    ended = remote.status == "ended" and conversation.is_live
    if ended and conversation.mark_ended(remote.shutdown_reason or "ended"):
        changed.add("status")
    return changed


def _end(conversation: Conversation, key: str, label: str, now) -> None:
    client.end_conversation(conversation.tavus_id)
    conversation.mark_end_requested(None)
    _note(conversation, key, label, now)


def _check(conversation: Conversation, active: dict, now) -> None:
    c = conversation
    age = (now - c.created_at).total_seconds()
    if not c.tavus_id:
        # A launch whose answer we never got: find it at Tavus by the tag in its name.
        match = next(
            (
                t
                for t in active.values()
                if (m := TAG.search(t.conversation_name or "")) and int(m[1]) == c.pk
            ),
            None,
        )
        if match:
            c.mark_launched(match)
            if c.end_requested_at:
                _end(c, "adopt-end", "Found at Tavus and ended, as requested", now)
            else:
                _note(c, "adopt", "Found at Tavus: the launch had worked", now)
        elif age > settings.RECONCILE_UNKNOWN_GIVE_UP_SECONDS:
            c.mark_failed("Tavus never started this conversation.")
            _note(c, "gave-up", "Not found at Tavus: marked as not started", now)
        return
    if c.tavus_id not in active:
        _backfill(c)
        if c.is_live and age > 120:
            # Tavus no longer lists it as active, and kept no shutdown event.
            c.mark_ended("ended")
            _note(c, "gone", "Tavus no longer reports it as running", now)
        return
    nobody = settings.END_IF_NOBODY_JOINS_SECONDS
    if nobody and not c.person_joined_at and age > nobody and not c.end_requested_at:
        _end(
            c,
            "nobody",
            f"Ended by the studio: nobody joined within {nobody // 60 or 1} "
            f"minute{'s' if nobody >= 120 else ''}",
            now,
        )
        return
    gone = settings.PAGE_GONE_SECONDS
    page_gone = c.page_seen_at is None or (now - c.page_seen_at).total_seconds() > gone
    if (
        c.person_joined_at
        and c.people_in_room == 0
        and page_gone
        and age > gone
        and not c.end_requested_at
    ):
        _end(c, "page-gone", "Ended by the studio: the live page closed and the room is empty", now)


def reconcile(now=None) -> int:
    """One pass. Returns how many conversations it looked at (-1 when another process ran).

    Run by the `reconciler` job and by `manage.py reconcile`, under the same lease."""
    now = now or timezone.now()
    with Lease.turn(LEASE, settings.RECONCILE_INTERVAL * 2, now) as mine:
        return _pass(now) if mine else -1


def _pass(now) -> int:
    try:
        active = _active_at_tavus()
    except client.TavusError as exc:
        log.warning("reconciler: Tavus unavailable (%s); will try again", exc.message)
        return 0
    known = set()
    conversations = list(Conversation.objects.live())
    for conversation in conversations:
        # Renew the lease as the pass goes: a long pass (many conversations, a slow Tavus)
        # would otherwise outlive it and let another process start an overlapping one.
        renew_at = max(now, timezone.now())
        if not Lease.acquire(LEASE, HOLDER, settings.RECONCILE_INTERVAL * 2, renew_at):
            log.warning("reconciler: another process took over mid-pass; stopping")
            return -1
        known.add(conversation.tavus_id)
        before = (conversation.status, conversation.end_requested_at)
        try:
            _check(conversation, active, now)
        except client.TavusError as exc:
            log.warning("reconciler: conversation %s: %s", conversation.pk, exc.message)
        conversation.refresh_from_db()
        if (conversation.status, conversation.end_requested_at) != before:
            live.publish_status(conversation)
    # Running at Tavus but over for the studio: stop the billing.
    for tavus_id in set(active) - known:
        local = Conversation.objects.filter(tavus_id=tavus_id).first()
        if local is not None and not local.is_live:
            try:
                client.end_conversation(tavus_id)
                _note(
                    local,
                    "still-running",
                    "Still running at Tavus after it ended here: ended it",
                    now,
                )
            except client.TavusError as exc:
                log.warning("reconciler: could not end %s: %s", tavus_id, exc.message)
    return len(conversations)
