"""The live page's updates: each change rendered once from the page's own partials, for the
conversation's group and (through the wall) the monitoring walls; and the in-room events
relayed from the room, stored and applied.

Everything here is sync; consumers call it through database_sync_to_async. Functions that work
out a change return its pushes (studio.conversations.push) and send nothing: the caller does.
"""

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from studio.conversations import behaviour, push, wall
from studio.conversations.models import Conversation, Event, Utterance
from studio.conversations.push import Pushes
from studio.tavus.events import UTTERANCE

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
    "conversation.perception_tool_call",
    "conversation.perception_analysis",
}


def render_part(name: str, conversation: Conversation, **context) -> str:
    return render_to_string(
        f"{PAGE}#{name}", {"conversation": conversation, "oob": True, **context}
    )


def status_html(conversation: Conversation) -> str:
    return render_part("status", conversation, timeline=timeline(conversation))


def snapshot_html(conversation: Conversation) -> str:
    """Everything a (re)connecting page needs, so a dropped socket loses nothing."""
    return (
        status_html(conversation)
        + render_part("captions", conversation, utterances=list(conversation.utterances.all()))
        + behaviour.card_html(conversation)
    )


def status_pushes(conversation: Conversation, *, wall_too=True, launched=False) -> Pushes:
    """A state change: the live page's status panel and the wall's tile (and board, for a
    launch or an end). wall_too=False for what only the live page shows (a transcript or
    recording arriving)."""
    pushes = [(push.conversation_group(conversation.pk), status_html(conversation))]
    if wall_too:
        pushes += wall.tile_pushes(conversation, launched=launched)
    return pushes


# A conversation's status panel and wall tile, rendered at most this often when its changes
# come in a burst (push.throttled): Tavus sends five webhooks or so around an ending, and
# retries in storms. A single change is not delayed.
STATUS_EVERY = 0.5  # seconds


def publish_status(conversation: Conversation, *, wall_too=True, launched=False) -> None:
    """Send a state change to the live pages (and, wall_too, the walls), rendered from the
    conversation as stored: now, or for a burst of changes once more at the end of it."""
    if launched:
        push.send(status_pushes(conversation, launched=True))
        return
    parts = ("page", "wall") if wall_too else ("page",)
    push.send(
        push.throttled(
            f"status-{conversation.pk}", _status_render(conversation.pk), STATUS_EVERY, parts
        )
    )


def _status_render(pk: int) -> push.Render:
    def render(parts: frozenset[str]) -> Pushes:
        conversations = Conversation.objects.all()
        if "wall" in parts:
            conversations = conversations.select_related("launched_by")  # the tile names them
        try:
            current = conversations.get(pk=pk)  # get(), not first(): no date ordering to build
        except Conversation.DoesNotExist:
            return []
        return status_pushes(current, wall_too="wall" in parts)

    return render


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
    # Tool answers and objectives' yeses have their own card (studio.conversations.behaviour).
    studio_events = c.events.filter(source=Event.STUDIO).exclude(
        event_type__in=(behaviour.ENDPOINT, *behaviour.COMMANDS)
    )
    for event in studio_events.select_related("actor"):
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
    # The end comes last whatever its time: Tavus stamps the shutdown by its own clock (to the
    # second in some payloads), which can fall a moment before the studio's note of the request.
    end = steps.pop()
    steps.sort(key=lambda s: (s["at"] is None, s["at"] or timezone.now()))
    return [*steps, end]


def ingest_room_event(conversation: Conversation, event) -> Pushes:
    """Store and apply one validated in-room event; return what to fan out (maybe nothing)."""
    kind = event.event_type
    page = push.conversation_group(conversation.pk)
    if kind == UTTERANCE:
        if not event.speech:
            return []
        role = event.role or "user"
        try:
            # Insert first: a caption is nearly always new, and a read before each one was a
            # query per caption for the rare twin the unique constraint refuses anyway.
            with transaction.atomic():
                utterance = Utterance.objects.create(
                    conversation=conversation,
                    dedupe_key=event.dedupe_key[:200],
                    role=role,
                    text=event.speech,
                    seq=event.seq,
                    inference_id=event.inference_id or "",
                    said_by=steered_by(conversation, event.speech) if role == "user" else "",
                )
        except IntegrityError:
            return []
        html = render_part("caption", conversation, utterance=utterance) + render_part(
            "streaming", conversation, role=utterance.role, speech=""
        )
        return [(page, html), *wall.captions_pushes(conversation)]
    if kind == "conversation.utterance.streaming":
        role = event.role or "replica"
        if already_captioned(conversation, event, role):
            # Tavus sends the whole line when the replica starts to speak, then streams the
            # same words: showing both would show the line twice until it finishes.
            return []
        speech = "" if event.final else event.speech
        return [(page, render_part("streaming", conversation, role=role, speech=speech))]
    if kind in SPEAKING_EVENTS:
        role, on = SPEAKING_EVENTS[kind]
        role = role or event.role or "replica"
        html = render_part("speaking", conversation, role=role, on=on)
        return [(page, html), *wall.speaking_pushes(conversation, role, on)]
    if kind in behaviour.ROOM_EVENTS:  # objectives, guardrails, tool calls
        stored = conversation.record_event(
            source=Event.ROOM, event_type=kind, dedupe_key=event.dedupe_key, payload=event.raw
        )
        return behaviour.received(conversation, stored, event) if stored else []
    if kind in STORED_ROOM_EVENTS:
        stored = conversation.record_event(
            source=Event.ROOM, event_type=kind, dedupe_key=event.dedupe_key, payload=event.raw
        )
        if stored and kind in ("conversation.joined", "conversation.left") and event.role == "user":
            # Tavus's own word on who came and went (the sandbox's room sends it; a real room's
            # pages report people themselves). Only a staff page's relay gets here.
            props = event.properties
            who = props.get("participant_id")
            joined = kind == "conversation.joined"
            name = props.get("name") or ""
            if isinstance(who, str) and conversation.note_presence(who, present=joined, name=name):
                return status_pushes(conversation)
    return []


def steered_by(conversation: Conversation, speech: str) -> str:
    """The supervisor whose "Answer as if the person said…" these words are, or "": the n-th
    line with the same words answers the n-th command that sent them."""
    words = speech.strip()
    senders = [name for text, name in conversation.respond_commands() if text == words]
    if not senders:
        return ""
    claimed = conversation.utterances.filter(role="user", text=speech).exclude(said_by="")
    count = claimed.count()
    return senders[count] if count < len(senders) else ""


def already_captioned(conversation: Conversation, event, role: str) -> bool:
    """Whether this streaming line's whole utterance is on the page already (one lookup on
    the utterance's unique key, the key parse_room_event gives it)."""
    if not event.inference_id:
        return False
    key = f"{event.conversation_id}:{event.inference_id}:{role}:{UTTERANCE}"
    return Utterance.objects.filter(conversation=conversation, dedupe_key=key[:200]).exists()


def note_recording_started(conversation: Conversation) -> Pushes:
    if conversation.recording_started_at or not conversation.is_live:
        return []
    conversation._set(recording_started_at=timezone.now())
    return status_pushes(conversation)
