"""Live push: render each change once from the live page's own partials and fan the bytes out.

Everything here is sync; consumers call it through database_sync_to_async.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string
from django.utils import timezone

from studio.conversations import monitor
from studio.conversations.models import Conversation, Event, Utterance

log = logging.getLogger(__name__)
PAGE = "conversations/live.html"

SPEAKING_EVENTS = {
    "conversation.started_speaking": (None, True),
    "conversation.stopped_speaking": (None, False),
    "conversation.replica.started_speaking": ("replica", True),
    "conversation.replica.stopped_speaking": ("replica", False),
    "conversation.user.started_speaking": ("user", True),
    "conversation.user.stopped_speaking": ("user", False),
}
# In-room events worth keeping on the conversation's timeline (streaming chunks are not).
STORED_ROOM_EVENTS = {
    "conversation.joined",
    "conversation.left",
    "conversation.replica_interrupted",
    "conversation.tool_call",
    "conversation.perception_tool_call",
    "conversation.perception_analysis",
}


def group_name(pk: int) -> str:
    return f"conversation-{pk}"


def render_part(name: str, conversation: Conversation, **context) -> str:
    return render_to_string(
        f"{PAGE}#{name}", {"conversation": conversation, "oob": True, **context}
    )


def status_html(conversation: Conversation) -> str:
    return render_part("status", conversation, timeline=timeline(conversation))


def snapshot_html(conversation: Conversation) -> str:
    """Everything a (re)connecting page needs, so a dropped socket loses nothing."""
    return status_html(conversation) + render_part(
        "captions", conversation, utterances=list(conversation.utterances.all())
    )


def broadcast(conversation: Conversation, html: str) -> None:
    if not html:
        return
    layer = get_channel_layer()
    message = {"type": "push", "html": html}
    async_to_sync(layer.group_send)(group_name(conversation.pk), message)


def publish_status(conversation: Conversation, *, wall=True, launched=False) -> None:
    """A state change: the live page's status panel and the monitor's tile (and board, for
    a launch or an end). wall=False for what only the live page shows (a transcript or
    recording arriving)."""
    broadcast(conversation, status_html(conversation))
    if wall:
        monitor.publish_tile(conversation, launched=launched)


def timeline(conversation: Conversation) -> list[dict]:
    """The status steps: created → replica joined → person joined → ended."""
    c = conversation
    steps = [{"label": "Launched", "at": c.created_at, "state": "done"}]
    if c.status == Conversation.FAILED:
        steps.append(
            {"label": f"Failed to start: {c.failure_reason}", "at": c.ended_at, "state": "bad"}
        )
        return steps
    if c.status == Conversation.UNKNOWN:
        steps.append(
            {
                "label": "No answer from Tavus yet — checking whether it started",
                "at": None,
                "state": "pending",
            }
        )
    steps.append(
        {
            "label": "Replica joined",
            "at": c.replica_joined_at,
            "state": "done" if c.replica_joined_at else "pending",
        }
    )
    steps.append(
        {
            "label": "Person joined",
            "at": c.person_joined_at,
            "state": "done" if c.person_joined_at else "pending",
        }
    )
    if c.recording_started_at:
        steps.append({"label": "Recording started", "at": c.recording_started_at, "state": "done"})
    for event in c.events.filter(source=Event.STUDIO).select_related("actor"):
        steps.append(
            {
                "label": event.payload.get("label", event.event_type),
                "at": event.occurred_at,
                "state": "done",
            }
        )
    if c.end_requested_at and c.is_live:
        steps.append({"label": "Ending…", "at": c.end_requested_at, "state": "pending"})
    if c.status == Conversation.ENDED:
        steps.append({"label": f"Ended: {c.end_reason_text}", "at": c.ended_at, "state": "done"})
    else:
        steps.append({"label": "Ended", "at": None, "state": "pending"})
    steps.sort(key=lambda s: (s["at"] is None, s["at"] or timezone.now()))
    return steps


def ingest_room_event(conversation: Conversation, event) -> str:
    """Store and apply one validated in-room event; return the HTML to fan out (maybe '')."""
    kind = event.event_type
    if kind == "conversation.utterance":
        if not event.speech:
            return ""
        utterance, created = Utterance.objects.get_or_create(
            conversation=conversation,
            dedupe_key=event.dedupe_key[:200],
            defaults={
                "role": event.role or "user",
                "text": event.speech,
                "seq": event.seq,
                "inference_id": event.inference_id or "",
            },
        )
        if not created:
            return ""
        monitor.publish_captions(conversation)
        return render_part("caption", conversation, utterance=utterance) + render_part(
            "streaming", conversation, role=utterance.role, speech=""
        )
    if kind == "conversation.utterance.streaming":
        role = event.role or "replica"
        return render_part(
            "streaming", conversation, role=role, speech="" if event.final else event.speech
        )
    if kind in SPEAKING_EVENTS:
        role, on = SPEAKING_EVENTS[kind]
        role = role or event.role or "replica"
        monitor.publish_speaking(conversation, role, on)
        return render_part("speaking", conversation, role=role, on=on)
    if kind in STORED_ROOM_EVENTS:
        stored = conversation.record_event(
            source=Event.ROOM, event_type=kind, dedupe_key=event.dedupe_key, payload=event.raw
        )
        if stored and conversation.apply_room_event(event):
            monitor.publish_tile(conversation)
            return status_html(conversation)
    return ""


def note_recording_started(conversation: Conversation) -> str:
    if conversation.recording_started_at or not conversation.is_live:
        return ""
    conversation._set(recording_started_at=timezone.now())
    monitor.publish_tile(conversation)
    return status_html(conversation)
