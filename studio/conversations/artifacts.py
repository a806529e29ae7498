"""Artifacts Tavus sends after the end (transcript, recording, perception analysis): what is
still missing, and the watchdog that asks Tavus for what never came by webhook."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from studio.conversations import live
from studio.conversations.models import Conversation, Lease
from studio.tavus import client
from studio.tavus.events import EventError, parse_webhook

log = logging.getLogger(__name__)

# Tavus sends the transcript within seconds of the end and perception ~3 minutes later
# (tavus-api.md §5.1); its verbose GET is ready "1–2 min after". Past the grace the watchdog
# asks; past the limit the page stops waiting and says the artifact never arrived.
ARTIFACT_GRACE = timedelta(minutes=3)
ARTIFACT_LIMIT = timedelta(minutes=30)
# Perception models that mean "no perception" (anything else named means raven is on).
NO_PERCEPTION = {"", "off", "none", "basic"}
WATCHDOG_LEASE = "artifacts"


def expects_perception(conversation: Conversation) -> bool | None:
    """Whether the launch settings turned raven perception on; None when they don't say."""
    snapshot = (
        conversation.settings_snapshot if isinstance(conversation.settings_snapshot, dict) else {}
    )
    layers = snapshot.get("layers") if isinstance(snapshot.get("layers"), dict) else {}
    perception = layers.get("perception") if isinstance(layers.get("perception"), dict) else {}
    for value in (
        conversation.perception_model or None,
        snapshot.get("perception_model"),
        perception.get("perception_model"),
        conversation.properties.get("perception_model"),
    ):
        if isinstance(value, str):
            return value.strip().lower() not in NO_PERCEPTION
    return None


def missing_artifacts(conversation: Conversation) -> list[str]:
    """What Tavus should have sent after the end and hasn't, for an ended conversation."""
    if conversation.status != Conversation.ENDED or not conversation.tavus_id:
        return []
    missing = list(conversation.expected_artifacts())
    if expects_perception(conversation) and not conversation.perception_analysis:
        missing.append("perception analysis")
    return missing


def artifact_states(conversation: Conversation, now=None) -> list[dict]:
    """For the page: each missing artifact, still awaited or given up on."""
    now = now or timezone.now()
    missing = missing_artifacts(conversation)
    received = conversation.end_received_at
    if not missing or not received:
        return []
    waiting = now < received + ARTIFACT_LIMIT
    return [{"name": name, "waiting": waiting} for name in missing]


def apply_tavus_events(conversation: Conversation, items: list) -> set[str]:
    """Apply Tavus's stored events exactly as the webhook receiver applies a delivery."""
    changed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            # The verbose GET's items may leave out the conversation id the envelope carries.
            event = parse_webhook({"conversation_id": conversation.tavus_id, **item})
        except EventError as exc:
            log.warning(
                "watchdog: skipped an unreadable event of %s: %s", conversation.tavus_id, exc
            )
            continue
        if event.conversation_id != conversation.tavus_id:
            continue
        changed |= conversation.receive_webhook(event) or set()
    return changed


def watch_artifacts(now=None) -> dict:
    """Back-fill artifacts missing a few minutes after the end from Tavus's verbose GET.

    A background job (every RECONCILE_INTERVAL s). Returns counts for its log."""
    now = now or timezone.now()
    summary = {"checked": 0, "backfilled": 0, "errors": 0}
    with Lease.turn(WATCHDOG_LEASE, 2 * settings.RECONCILE_INTERVAL, now) as mine:
        if mine:
            _watch(now, summary)
    return summary


def _watch(now, summary: dict) -> None:
    window = (
        Conversation.objects.filter(
            status=Conversation.ENDED,
            test_mode=False,
            tavus_id__isnull=False,
            # The studio's own clock (see Conversation.end_received_at).
            end_received_at__lte=now - ARTIFACT_GRACE,
            end_received_at__gt=now - ARTIFACT_LIMIT,
        )
        .filter(
            Q(transcript__isnull=True)
            | Q(recording__isnull=True, recording_started_at__isnull=False)
            | Q(perception_analysis="")
        )
        .order_by("end_received_at")
    )
    # A list, not an iterator: SQLite would see our own writes mid-iteration.
    for conversation in list(window):
        missing = missing_artifacts(conversation)
        if not missing:
            continue
        summary["checked"] += 1
        try:
            remote = client.get_conversation(conversation.tavus_id, verbose=True)
        except client.TavusError as exc:
            summary["errors"] += 1
            log.warning(
                "watchdog: could not fetch %s for its %s: %s",
                conversation.tavus_id,
                ", ".join(missing),
                exc.message,
            )
            continue
        if apply_tavus_events(conversation, remote.events):
            summary["backfilled"] += 1
            log.info(
                "watchdog: back-filled %s from Tavus (was missing %s)",
                conversation.tavus_id,
                ", ".join(missing),
            )
            live.publish_status(conversation)
